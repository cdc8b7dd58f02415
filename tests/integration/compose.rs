//! `up`, `down` and the project commands against the quickstart example and small files:
//! dependency order with health gating, recreation only on change, volumes that outlive
//! `down`, and nothing left behind.

use std::fs;
use std::path::Path;

use crate::containers::{code, state_with_busybox};
use crate::images::State;
use crate::support::{stderr, stdout};

pub fn with_latest_tag() -> State {
    let state = state_with_busybox();
    state.ok(&["tag", crate::containers::IMAGE, "busybox:latest"]);
    state
}

fn up(state: &State, file: &Path, extra: &[&str]) -> String {
    let f = file.to_str().expect("utf-8");
    let mut args = vec!["-f", f, "up", "-d"];
    args.extend_from_slice(extra);
    let out = state.berth(&args);
    assert!(out.status.success(), "up failed:\n{}", stderr(&out));
    stderr(&out)
}

/// Asserts that the progress line `container status` of `first` comes before that of `then`.
pub fn assert_before(progress: &str, first: (&str, &str), then: (&str, &str)) {
    let pos = |(container, status): (&str, &str)| {
        let line = format!("{container:<30} {status}");
        progress.find(&line).unwrap_or_else(|| panic!("{line} in:\n{progress}"))
    };
    assert!(pos(first) < pos(then), "{first:?} before {then:?} in:\n{progress}");
}

fn ids(state: &State, file: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-aq"]).lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn quickstart_comes_up_in_order_and_goes_away() {
    let _port = crate::support::QUICKSTART_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let state = with_latest_tag();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/compose.yaml");
    let progress = up(&state, &file, &[]);
    assert_before(&progress, ("quickstart-seed-1", "Exited"), ("quickstart-web-1", "Starting"));
    assert_before(&progress, ("quickstart-web-1", "Healthy"), ("quickstart-worker-1", "Starting"));
    let ps = state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-a"]);
    assert!(ps.contains("(healthy)") && ps.contains("127.0.0.1:8080->8080/tcp"), "{ps}");
    // The worker reaches the web server by name.
    crate::containers::wait_for("the worker's fetch", || {
        state.ok(&["-f", file.to_str().expect("utf-8"), "logs", "worker"]).contains("worker-1  | hello from berth")
    });

    // Nothing changed: nothing is recreated.
    let before = ids(&state, &file);
    let again = up(&state, &file, &[]);
    assert!(!again.contains("Recreate") && !again.contains("Created"), "{again}");
    assert_eq!(ids(&state, &file), before);

    // A changed service is recreated, the others are kept.
    let dir = tempfile::tempdir().expect("tmp");
    let changed = dir.path().join("compose.yaml");
    let text = fs::read_to_string(&file).expect("read").replace("sleep 5", "sleep 4");
    fs::write(&changed, text).expect("write");
    let progress = up(&state, &changed, &["--remove-orphans"]);
    assert!(progress.contains("quickstart-worker-1            Recreate"), "{progress}");
    assert!(!progress.contains("quickstart-web-1               Recreate"), "{progress}");

    // down keeps the named volume; down -v removes it.
    let down = state.berth(&["-f", changed.to_str().expect("utf-8"), "down", "-t", "1"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    assert!(state.ok(&["volume", "ls", "-q"]).contains("quickstart_site"));
    assert!(!state.ok(&["network", "ls"]).contains("quickstart_default"));
    let progress = up(&state, &changed, &["--wait"]);
    assert!(progress.contains("Started"), "{progress}");
    let page = state.ok(&["-f", changed.to_str().expect("utf-8"), "logs", "seed"]);
    assert_eq!(page, "", "the seed writes nothing to its output");
    let down = state.berth(&["-f", changed.to_str().expect("utf-8"), "down", "-v", "-t", "0"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(stdout(&state.berth(&["ls", "-q"])), "");
}

#[test]
fn a_failed_dependency_stops_its_dependents() {
    let state = with_latest_tag();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        "name: failing\nservices:\n  migrate:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"exit 3\"]\n  app:\n    image: busybox:latest\n    command: [\"sleep\", \"600\"]\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n",
    )
    .expect("write");
    let out = state.berth(&["-f", file.to_str().expect("utf-8"), "up", "-d"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("service \"migrate\" didn't complete successfully: exit 3"), "{}", stderr(&out));
    let ps = state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-a"]);
    assert!(ps.lines().any(|l| l.starts_with("failing-app-1") && l.contains("Created")), "app never started: {ps}");
    state.ok(&["-f", file.to_str().expect("utf-8"), "down"]);
}

/// A project file in a fresh directory, and the `-f` argument for it.
pub fn project(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(&file, text).expect("write");
    let f = file.to_str().expect("utf-8").to_string();
    (dir, f)
}

const SERVICES: &str = "name: cmds
services:
  db:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"touch /ready; exec sleep 600\"]
    healthcheck:
      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]
      interval: 1s
      retries: 10
  app:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
    ports: [\"80\"]
    depends_on:
      db:
        condition: service_healthy
  worker:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
    deploy:
      replicas: 2
";

#[test]
fn project_container_commands_act_on_services() {
    let state = with_latest_tag();
    let (_dir, f) = project(SERVICES);
    let f = f.as_str();
    state.ok(&["-f", f, "up", "-d", "--wait"]);
    assert_eq!(state.ok(&["-f", f, "ps", "--services"]), "app\ndb\nworker\n");
    let running = state.ok(&["-f", f, "ps", "--status", "running", "-q"]);
    assert_eq!(running.lines().count(), 4, "{running}");

    // exec picks the replica; its exit code is the command's.
    assert_eq!(state.ok(&["-f", f, "exec", "--index", "2", "worker", "hostname"]).trim().len(), 12);
    let out = state.berth(&["-f", f, "exec", "-T", "app", "sh", "-c", "exit 5"]);
    assert_eq!(code(&out), 5);
    let out = state.berth(&["-f", f, "exec", "--index", "3", "worker", "true"]);
    assert!(stderr(&out).contains("service \"worker\" is not running"), "{}", stderr(&out));

    // port, top, images, version.
    let port = state.ok(&["-f", f, "port", "app", "80"]);
    assert!(port.starts_with("0.0.0.0:"), "{port}");
    assert!(state.ok(&["-f", f, "top", "db"]).contains("sleep 600"));
    let images = state.ok(&["-f", f, "images"]);
    assert!(images.contains("cmds-worker-2") && images.contains("busybox"), "{images}");
    assert!(state.ok(&["version", "--short"]).trim() == env!("CARGO_PKG_VERSION"));

    // pause and unpause, kill, wait, rm.
    let paused = state.berth(&["-f", f, "pause", "worker"]);
    assert!(stderr(&paused).contains("cmds-worker-1                  Paused"), "{}", stderr(&paused));
    assert_eq!(state.ok(&["-f", f, "ps", "--status", "paused", "-q"]).lines().count(), 2);
    state.ok(&["-f", f, "unpause", "worker"]);
    let killed = state.berth(&["-f", f, "kill", "-s", "KILL", "app"]);
    assert!(stderr(&killed).contains("cmds-app-1"), "{}", stderr(&killed));
    assert_eq!(state.ok(&["-f", f, "wait", "app"]), "137\n");
    let removed = state.berth(&["-f", f, "rm", "-f"]);
    assert!(stderr(&removed).contains("cmds-app-1") && stderr(&removed).contains("Removed"), "{}", stderr(&removed));
    assert!(!stderr(&removed).contains("cmds-db-1"), "running containers stay without -s");
    assert_eq!(state.ok(&["-f", f, "ps", "-a", "-q"]).lines().count(), 3);

    // scale up and down.
    state.ok(&["-f", f, "scale", "worker=3"]);
    assert_eq!(state.ok(&["-f", f, "ps", "-q", "worker"]).lines().count(), 3);
    state.ok(&["-f", f, "up", "-d", "-t", "0", "--scale", "worker=1", "worker"]);
    assert_eq!(state.ok(&["-f", f, "ps", "-a", "-q", "worker"]).lines().count(), 1);

    // A name that is not a service is a container, as outside a project.
    let name = state.ok(&["-f", f, "ps", "-q", "worker"]).trim().to_string();
    assert_eq!(state.ok(&["exec", &name, "echo", "by id"]), "by id\n");
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn a_project_is_read_once_per_command_and_start_takes_no_services() {
    let state = with_latest_tag();
    let text =
        "version: \"3\"\nname: once\nservices:\n  web:\n    image: busybox:latest\n    command: [\"sleep\", \"600\"]\n";
    let (_dir, f) = project(text);
    state.ok(&["-f", &f, "up", "-d"]);
    // `kill web` asks whether `web` is a service, then for its containers: one load, one warning.
    let out = state.berth(&["-f", &f, "kill", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("`version` is obsolete").count(), 1, "{}", stderr(&out));
    // `start` without services starts them all, as Docker Compose's.
    state.ok(&["-f", &f, "start"]);
    assert_eq!(state.ok(&["-f", &f, "ps", "-q"]).lines().count(), 1);
    // From standard input, which can be read only once.
    let out = state.berth_with_input(&["-f", "-", "kill", "web"], text);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("once-web-1") && stderr(&out).contains("Killed"), "{}", stderr(&out));
    state.ok(&["-f", &f, "down", "-t", "0"]);
}

#[test]
fn run_makes_a_one_off_container_after_its_dependencies() {
    let state = with_latest_tag();
    let (_dir, f) = project(SERVICES);
    let f = f.as_str();
    let out = state.berth(&["-f", f, "run", "--rm", "app", "sh", "-c", "echo one-off; exit 7"]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_eq!(stdout(&out), "one-off\n");
    assert!(stderr(&out).contains("cmds-db-1"), "the dependency was started: {}", stderr(&out));
    let ps = state.ok(&["-f", f, "ps", "-a"]);
    assert!(ps.contains("cmds-db-1") && !ps.contains("run"), "--rm removed the one-off: {ps}");
    // Without --rm the one-off stays, named after the service, and is no replica.
    state.ok(&["-f", f, "run", "--no-deps", "-e", "GREETING=hi", "worker", "sh", "-c", "echo $GREETING"]);
    let all = state.ok(&["ps", "-a", "--format", "json"]);
    assert!(all.contains("cmds-worker-run-"), "{all}");
    assert!(!state.ok(&["-f", f, "ps", "-a"]).contains("worker"), "one-off containers are not the service's");
    // -p publishes on the one-off container; the service's own ports only with --service-ports.
    let port = std::net::TcpListener::bind("0.0.0.0:0").expect("bind").local_addr().expect("addr").port();
    let name = state.ok(&["-f", f, "run", "-d", "--no-deps", "-p", &format!("{port}:81"), "app", "sleep", "60"]);
    let published = state.ok(&["port", name.trim()]);
    assert_eq!(published, format!("81/tcp -> 0.0.0.0:{port}\n"), "the service's port 80 is not published");
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn independent_services_start_together_and_orphans_are_named() {
    let state = with_latest_tag();
    let (dir, f) = project(
        "name: par
services:
  slow:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"sleep 2; touch /ready; exec sleep 600\"]
    healthcheck:
      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]
      interval: 500ms
      retries: 20
  gated:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
    depends_on:
      slow:
        condition: service_healthy
  free:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
    stop_grace_period: 1s
",
    );
    let progress = up(&state, Path::new(&f), &[]);
    assert_before(&progress, ("par-free-1", "Started"), ("par-slow-1", "Healthy"));
    assert_before(&progress, ("par-slow-1", "Healthy"), ("par-gated-1", "Started"));

    // A service taken out of the file is an orphan: named, then removed on request.
    fs::write(
        dir.path().join("compose.yaml"),
        fs::read_to_string(&f).expect("read").replace("  free:\n", "  freed:\n"),
    )
    .expect("write");
    let progress = up(&state, Path::new(&f), &[]);
    assert!(progress.contains("Found orphan containers (par-free-1)"), "{progress}");
    let progress = up(&state, Path::new(&f), &["--remove-orphans"]);
    assert!(progress.contains("par-free-1") && progress.contains("Removed"), "{progress}");
    assert!(!state.ok(&["ps", "-a"]).contains("par-free-1"));
    state.ok(&["-f", &f, "down", "-t", "0"]);
}

#[test]
fn abort_flags_and_exit_codes() {
    let state = with_latest_tag();
    let (_dir, f) = project(
        "name: abort
services:
  job:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"echo working; sleep 1; exit 3\"]
  server:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"echo serving; exec sleep 600\"]
    stop_grace_period: 1s
    attach: false
",
    );
    let out = state.berth(&["-f", &f, "up", "--exit-code-from", "job"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stdout(&out).contains("job-1  | working"), "prefixed as Docker Compose prefixes: {}", stdout(&out));
    assert!(!stdout(&out).contains("serving"), "attach: false keeps the output out: {}", stdout(&out));
    // `--attach` names what is shown, over `attach: false`.
    let out = state.berth(&["-f", &f, "up", "--exit-code-from", "job", "--attach", "job", "--attach", "server"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let server = stdout(&out).lines().any(|l| l.starts_with("server-1") && l.ends_with("| serving"));
    assert!(server, "{}", stdout(&out));
    assert_eq!(stdout(&out).matches("working").count(), 1, "the run before is not shown again: {}", stdout(&out));
    assert_eq!(state.ok(&["-f", &f, "ps", "-q"]), "", "the stack was stopped");
    let out = state.berth(&["-f", &f, "up", "--abort-on-container-failure"]);
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(state.ok(&["-f", &f, "ps", "-q"]), "");
    state.ok(&["-f", &f, "down", "-t", "0"]);
}

#[test]
fn a_killed_up_is_finished_by_the_next() {
    let state = with_latest_tag();
    let (_dir, f) = project(SERVICES);
    // Killed while `app` waits for `db` to become healthy.
    let mut child = std::process::Command::new(crate::support::BERTH)
        .args(["-f", &f, "up", "-d"])
        .env("BERTH_ROOT", state.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth runs");
    crate::containers::wait_for("db to start", || state.ok(&["-f", &f, "ps", "-q", "db"]).lines().count() == 1);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    state.ok(&["-f", &f, "up", "-d", "--wait"]);
    let ps = state.ok(&["-f", &f, "ps", "-a", "--format", "json"]);
    let lines: Vec<serde_json::Value> = ps.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let mut names: Vec<&str> = lines.iter().map(|l| l["Name"].as_str().expect("name")).collect();
    names.sort();
    assert_eq!(names, ["cmds-app-1", "cmds-db-1", "cmds-worker-1", "cmds-worker-2"]);
    assert!(lines.iter().all(|l| l["State"] == "running"), "{ps}");
    assert_eq!(state.ok(&["network", "ls", "-q"]).lines().count(), 1, "one network, not two");
    state.ok(&["-f", &f, "down", "-t", "0"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    assert_eq!(state.ok(&["network", "ls", "-q"]), "");
}

#[test]
fn system_boot_brings_a_project_back_in_dependency_order() {
    let state = with_latest_tag();
    let (_dir, f) = project(
        "name: booted
services:
  db:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"sleep 1; touch /ready; exec sleep 600\"]
    restart: always
    healthcheck:
      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]
      interval: 300ms
      retries: 20
  app:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
    restart: always
    depends_on:
      db:
        condition: service_healthy
  once:
    image: busybox:latest
    command: [\"sleep\", \"600\"]
",
    );
    state.ok(&["-f", &f, "up", "-d", "--wait"]);
    // A host crash: every shim and container process killed at once.
    for name in ["booted-db-1", "booted-app-1", "booted-once-1"] {
        let s = crate::containers::state_file(&state, name);
        for key in ["shim_pid", "pid"] {
            let pid = s[key].as_i64().expect("a pid") as i32;
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    crate::containers::wait_for("the crash to be seen", || state.ok(&["ps", "-a"]).matches("Dead").count() == 3);
    // No Compose file is needed: the labels say what depends on what.
    let out = state.berth(&["system", "boot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = stderr(&out);
    assert_before(&progress, ("booted-db-1", "Started"), ("booted-app-1", "Starting"));
    assert!(!progress.contains("booted-once-1"), "restart: no stays down: {progress}");
    // app started only once db was healthy again.
    let db = crate::containers::state_file(&state, "booted-db-1");
    let app = crate::containers::state_file(&state, "booted-app-1");
    let db_started = db["started_at"].as_str().expect("started").to_string();
    let healthy_at = db["health"]["log"]
        .as_array()
        .and_then(|log| {
            log.iter().find(|r| r["exit_code"] == 0 && r["start"].as_str().is_some_and(|t| t >= db_started.as_str()))
        })
        .and_then(|r| r["end"].as_str())
        .expect("a passing check")
        .to_string();
    let app_started = app["started_at"].as_str().expect("started").to_string();
    assert!(healthy_at <= app_started, "db healthy at {healthy_at}, app started at {app_started}");
    state.ok(&["-f", &f, "down", "-t", "0"]);
}

#[test]
fn events_cp_create_logs_since_and_down_rmi() {
    let state = with_latest_tag();
    let (dir, f) = project(
        "name: ev
services:
  box:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"echo first; sleep 600\"]
    stop_grace_period: 1s
    healthcheck:
      test: [\"CMD\", \"true\"]
      interval: 500ms
",
    );
    // create: containers, no start.
    let created = state.berth(&["-f", &f, "create", "box"]);
    assert!(stderr(&created).contains("ev-box-1") && stderr(&created).contains("Created"), "{}", stderr(&created));
    assert_eq!(state.ok(&["-f", &f, "ps", "-q"]), "", "nothing runs");

    // events: start, health, die, destroy, as JSON lines.
    let mut events = std::process::Command::new(crate::support::BERTH)
        .args(["-f", &f, "events", "--json"])
        .env("BERTH_ROOT", state.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth runs");
    // And as Docker's templates read them, filtered.
    let mut deaths = std::process::Command::new(crate::support::BERTH)
        .args(["-f", &f, "events", "--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.name}}"])
        .env("BERTH_ROOT", state.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    state.ok(&["-f", &f, "up", "-d", "--wait"]);

    // cp both ways through the service's name.
    let host = dir.path().join("note.txt");
    fs::write(&host, "from the host\n").expect("write");
    state.ok(&["-f", &f, "cp", host.to_str().expect("utf-8"), "box:/tmp/note.txt"]);
    assert_eq!(state.ok(&["-f", &f, "exec", "box", "cat", "/tmp/note.txt"]), "from the host\n");
    let back = dir.path().join("back.txt");
    state.ok(&["-f", &f, "cp", "box:/tmp/note.txt", back.to_str().expect("utf-8")]);
    assert_eq!(fs::read_to_string(&back).expect("copied out"), "from the host\n");

    // logs --since: a time after the first line hides it.
    crate::containers::wait_for("the first line", || state.ok(&["-f", &f, "logs", "box"]).contains("first"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(state.ok(&["-f", &f, "logs", "--since", "1s", "box"]), "");
    assert!(state.ok(&["-f", &f, "logs", "--since", "1h", "box"]).contains("first"));

    // down --rmi all takes the image once no container uses it.
    let down = state.berth(&["-f", &f, "down", "--rmi", "all"]);
    assert!(stderr(&down).contains("Image busybox:latest") && stderr(&down).contains("Removed"), "{}", stderr(&down));
    assert!(!state.ok(&["images"]).contains("latest"), "{}", state.ok(&["images"]));

    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = events.kill();
    let out = events.wait_with_output().expect("events output");
    let actions: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["action"].as_str().unwrap_or("").to_string()
        })
        .collect();
    for wanted in ["start", "health_status: healthy", "die", "destroy"] {
        assert!(actions.iter().any(|a| a == wanted), "{wanted} in {actions:?}");
    }
    let _ = deaths.kill();
    let deaths = stdout(&deaths.wait_with_output().expect("events output"));
    assert_eq!(deaths, "die ev-box-1\n", "only the death, through the template");
}

/// `depends_on: {db: {restart: true}}`: when `restart db` or an `up` that recreates db takes it
/// down, the dependent goes down too and starts again once db meets its condition; a
/// dependent without the flag is left running.
#[test]
fn dependents_with_restart_true_follow_their_dependency() {
    let state = crate::containers::state_with_busybox();
    state.ok(&["tag", crate::containers::IMAGE, "busybox:latest"]);
    let text = |generation: &str| {
        format!(
            "name: deps
services:
  db:
    image: busybox:latest
    command: [sh, -c, 'touch /ready; exec sleep 600']
    environment: {{GEN: '{generation}'}}
    healthcheck: {{test: [CMD, test, -f, /ready], interval: 200ms, retries: 20}}
  api:
    image: busybox:latest
    command: [sleep, '601']
    depends_on: {{db: {{condition: service_healthy, restart: true}}}}
  worker:
    image: busybox:latest
    command: [sleep, '602']
    depends_on: {{db: {{condition: service_started}}}}
"
        )
    };
    let (dir, f) = project(&text("1"));
    state.ok(&["-f", &f, "up", "-d"]);
    let started = |name: &str| {
        let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
        (inspect[0]["Id"].as_str().unwrap_or_default().to_string(), inspect[0]["State"]["StartedAt"].to_string())
    };
    let (api, worker) = (started("deps-api-1"), started("deps-worker-1"));
    state.ok(&["-f", &f, "restart", "db"]);
    let (db_again, api_again) = (started("deps-db-1"), started("deps-api-1"));
    assert_ne!(api_again.1, api.1, "api was restarted with db");
    assert!(api_again.1 > db_again.1, "after db: {api_again:?} {db_again:?}");
    assert_eq!(started("deps-worker-1"), worker, "worker has no restart: true");

    fs::write(dir.path().join("compose.yaml"), text("2")).expect("write");
    state.ok(&["-f", &f, "up", "-d"]);
    let (db_new, api_new) = (started("deps-db-1"), started("deps-api-1"));
    assert_ne!(db_new.0, db_again.0, "db was recreated");
    assert_eq!(api_new.0, api.0, "api is the same container");
    assert!(api_new.1 > db_new.1, "restarted after the new db: {api_new:?} {db_new:?}");
    assert_eq!(started("deps-worker-1"), worker);
    state.ok(&["-f", &f, "down", "-t", "0"]);
}
