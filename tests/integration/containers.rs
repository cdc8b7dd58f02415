//! Containers, run as a user runs them: real namespaces, an overlay root over the image's
//! snapshots, the shim, logs, exit codes, stop and restart, and the crashes of the CLI and
//! of a shim. The busybox image is imported offline.

use crate::images::State;
use crate::registry::busybox_layer;
use crate::support::{stderr, stdout};
use std::collections::BTreeMap;
use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "local/busybox:test";

pub fn state_with_busybox() -> State {
    crate::support::require_root();
    let state = State::new();
    let (_, gz) = busybox_layer().finish();
    let rootfs = state.dir.path().join("busybox.tar.gz");
    fs::write(&rootfs, gz).expect("write");
    state.ok(&["import", rootfs.to_str().expect("utf-8"), IMAGE, "--change", r#"CMD ["sh"]"#]);
    state
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The recorded state of a container, straight from its state file.
pub fn state_file(state: &State, name: &str) -> serde_json::Value {
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
    let id = inspect[0]["Id"].as_str().expect("id").to_string();
    serde_json::from_slice(&fs::read(state.root().join("containers").join(id).join("state.json")).expect("state.json"))
        .expect("json")
}

pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_foreground_run_shows_output_and_returns_the_exit_code() {
    let state = state_with_busybox();
    let out = state.berth(&["run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err"));
    assert_eq!(state.ok(&["ps", "-aq"]), "", "--rm removed the container");
    // (PID 1 of a PID namespace cannot be killed from inside it, so a child is killed; the
    // `exit $?` keeps the shell from exec-ing the child in its place.)
    let killed = state.berth(&["run", "--rm", IMAGE, "sh", "-c", "sh -c 'kill -9 $$'; exit $?"]);
    assert_eq!(code(&killed), 137, "a signal n gives 128 + n");
}

#[test]
fn the_container_is_isolated() {
    let state = state_with_busybox();
    let script = "echo pid=$$; hostname; grep -E 'CapBnd|NoNewPrivs' /proc/self/status; cat /proc/net/dev | tail -n +3 | cut -d: -f1; \
                  cat /etc/hostname; (echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo writable || echo read-only";
    let out = state.berth(&["run", "--rm", "--hostname", "box", IMAGE, "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("pid=1\n"), "the command is PID 1 of its own namespace: {text}");
    assert!(text.contains("box\n"), "its own hostname: {text}");
    assert!(text.contains("CapBnd:\t00000000a80425fb"), "Docker's default capabilities: {text}");
    assert!(text.contains("NoNewPrivs:\t1"), "no_new_privs: {text}");
    let interfaces: Vec<&str> = text.lines().filter(|l| l.trim() == "lo").collect();
    assert_eq!(interfaces.len(), 1, "its own network namespace, with only lo: {text}");
    assert!(text.contains("read-only"), "/proc/sys is read-only: {text}");
    let filtered = stdout(&state.berth(&["run", "--rm", IMAGE, "grep", "^Seccomp:", "/proc/self/status"]));
    assert_eq!(filtered, "Seccomp:\t2\n", "a seccomp filter is in place");
    // A process joining the container is filtered as its first one (libcontainer 0.7 alone
    // would leave it unfiltered).
    state.ok(&["run", "-d", "--name", "filtered", IMAGE, "sleep", "60"]);
    let joined = state.ok(&["exec", "filtered", "grep", "^Seccomp:", "/proc/self/status"]);
    assert_eq!(joined, "Seccomp:\t2\n", "exec'd processes are filtered too");
    state.ok(&["rm", "-f", "filtered"]);
    let privileged =
        stdout(&state.berth(&["run", "--rm", "--privileged", IMAGE, "grep", "^Seccomp:", "/proc/self/status"]));
    assert_eq!(privileged, "Seccomp:\t0\n", "none when privileged");
}

#[test]
fn environment_working_directory_and_user() {
    let state = state_with_busybox();
    let out = state.berth(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        IMAGE,
        "sh",
        "-c",
        "echo $A; pwd; id -u; id -g",
    ]);
    assert_eq!(stdout(&out), "1\n/tmp\n65534\n65534\n", "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", "-u", "nosuchuser", IMAGE, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("nosuchuser"), "{}", stderr(&out));
}

#[test]
fn commands_that_cannot_run_exit_like_docker() {
    let state = state_with_busybox();
    let out = state.berth(&["run", "--rm", IMAGE, "nosuchcommand"]);
    assert_eq!(code(&out), 127);
    assert!(stderr(&out).contains("executable file not found"), "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
}

#[test]
fn detached_containers_list_log_stop_and_remove() {
    let state = state_with_busybox();
    let id = state.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    assert_eq!(id.trim().len(), 64);
    wait_for("the first log line", || state.ok(&["logs", "web"]).contains("ready"));
    let ps = state.ok(&["ps"]);
    assert!(
        ps.lines().next().expect("header").starts_with("CONTAINER ID") && ps.contains("web") && ps.contains("Up "),
        "{ps}"
    );
    let refused = state.berth(&["rm", "web"]);
    assert!(!refused.status.success() && stderr(&refused).contains("is running"), "{}", stderr(&refused));
    assert_eq!(state.ok(&["stop", "web"]), "web\n");
    assert!(state.ok(&["logs", "web"]).contains("got TERM"));
    assert!(state.ok(&["ps", "-a"]).contains("Exited (0)"));
    assert_eq!(state.ok(&["wait", "web"]), "0\n");
    state.ok(&["rm", "web"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "");
}

#[test]
fn stop_kills_after_the_grace_period() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "stubborn", IMAGE, "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]);
    let start = Instant::now();
    state.ok(&["stop", "-t", "1", "stubborn"]);
    assert!(start.elapsed() >= Duration::from_millis(900), "the grace period was honoured");
    assert_eq!(state.ok(&["wait", "stubborn"]), "137\n");
}

#[test]
fn a_killed_cli_loses_nothing() {
    let state = state_with_busybox();
    let mut cli = std::process::Command::new(crate::support::BERTH)
        .args(["run", "--name", "survivor", IMAGE, "sh", "-c", "sleep 1; echo done; exit 4"])
        .env_clear()
        .env("BERTH_ROOT", state.root())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth runs");
    wait_for("the container to start", || state.ok(&["ps"]).contains("survivor"));
    cli.kill().expect("kill -9 the CLI");
    let _ = cli.wait();
    assert_eq!(state.ok(&["wait", "survivor"]), "4\n", "the exit code is kept");
    assert_eq!(state.ok(&["logs", "survivor"]), "done\n", "the output is kept");
}

#[test]
fn a_killed_shim_is_reported_and_cleaned_up() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "orphan", IMAGE, "sh", "-c", "while true; do sleep 0.1; done"]);
    let recorded = state_file(&state, "orphan");
    let (shim, pid) = (recorded["shim_pid"].as_i64().expect("shim pid"), recorded["pid"].as_i64().expect("pid"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shim as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the shim");
    wait_for("the shim to die", || !std::path::Path::new(&format!("/proc/{shim}")).exists());
    assert!(state.ok(&["ps", "-a"]).contains("Dead"), "a container without its shim is dead");
    state.ok(&["rm", "-f", "orphan"]);
    wait_for("the container process to go", || {
        fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.split(' ').nth(2) == Some("Z"))
    });
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&state.root().display().to_string()), "no mount is left");
}

#[test]
fn limits_and_privileges() {
    let state = state_with_busybox();
    let id = state.ok(&["run", "-d", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", IMAGE, "sleep", "30"]);
    let id = id.trim();
    // cgroups v1 on this kind of host, v2 elsewhere: read whichever holds the container.
    let read = |v1: &str, v2: &str| {
        fs::read_to_string(format!("/sys/fs/cgroup/{v1}"))
            .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup/{v2}")))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(
        read(&format!("memory/berth/{id}/memory.limit_in_bytes"), &format!("berth/{id}/memory.max")),
        "67108864"
    );
    assert_eq!(read(&format!("pids/berth/{id}/pids.max"), &format!("berth/{id}/pids.max")), "50");
    let quota = read(&format!("cpu/berth/{id}/cpu.cfs_quota_us"), &format!("berth/{id}/cpu.max"));
    assert!(quota.starts_with("50000"), "{quota}");
    state.ok(&["rm", "-f", id]);

    let out = state.berth(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        IMAGE,
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo rw || echo ro; touch /scratch/y && echo tmpfs-ok",
    ]);
    assert_eq!(stdout(&out), "ro\ntmpfs-ok\n", "{}", stderr(&out));
    let caps = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend([IMAGE, "grep", "CapBnd", "/proc/self/status"]);
        stdout(&state.berth(&args))
    };
    assert!(caps(&["--cap-drop", "ALL"]).contains("0000000000000000"));
    assert!(caps(&["--cap-add", "NET_ADMIN"]).contains("00000000a80435fb"), "NET_ADMIN is bit 12");
    // Privileged gets every capability this host's root has (here root lacks CAP_SYS_RESOURCE).
    let host = fs::read_to_string("/proc/self/status").expect("status");
    let host_bounding = host.lines().find(|l| l.starts_with("CapBnd")).expect("CapBnd").to_string();
    assert_eq!(caps(&["--privileged"]).trim(), host_bounding);
}

#[test]
fn logs_rotate_by_size_and_read_across_files() {
    let state = state_with_busybox();
    let script = "i=0; while [ $i -lt 300 ]; do echo \"line $i and some padding\"; i=$((i+1)); done";
    let out = state.berth(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).ends_with("line 299 and some padding\n"), "the foreground run follows the rotations");
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "chatty"])).expect("json");
    let log = std::path::PathBuf::from(inspect[0]["LogPath"].as_str().expect("log path"));
    let files: Vec<_> = (0..5)
        .map(|n| if n == 0 { log.clone() } else { log.with_extension(format!("json.{n}")) })
        .filter(|p| p.exists())
        .collect();
    assert_eq!(files.len(), 3, "max-file bounds the files: {files:?}");
    for f in &files {
        assert!(fs::metadata(f).expect("meta").len() <= 2048, "max-size bounds each file");
    }
    let logs = state.ok(&["logs", "chatty"]);
    assert!(logs.ends_with("line 299 and some padding\n"), "the newest lines are kept");
    assert!(!logs.contains("line 0 "), "the oldest lines rotated away");
    assert_eq!(state.ok(&["logs", "-n", "2", "chatty"]), "line 298 and some padding\nline 299 and some padding\n");
    let bad = state.berth(&["run", "--rm", "--log-opt", "colour=blue", IMAGE, "true"]);
    assert!(!bad.status.success() && stderr(&bad).contains("unknown option \"colour\" of the json-file driver"));
}

#[test]
fn exec_runs_in_the_container() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "host", "-e", "FOO=bar", IMAGE, "sleep", "60"]);
    let out = state.berth(&[
        "exec",
        "-w",
        "/tmp",
        "-e",
        "EXTRA=1",
        "host",
        "sh",
        "-c",
        "echo $FOO $EXTRA; pwd; echo $$; exit 7",
    ]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_eq!(stdout(&out), "bar 1\n/tmp\n2\n", "its environment, its directory, its PID namespace");
    assert_eq!(code(&state.berth(&["exec", "host", "nosuchcommand"])), 127);
    let out = state.berth(&["exec", "-u", "nobody", "host", "id", "-u"]);
    assert_eq!(stdout(&out), "65534\n");
    state.ok(&["stop", "-t", "0", "host"]);
    let out = state.berth(&["exec", "host", "true"]);
    assert!(!out.status.success() && stderr(&out).contains("not running"), "{}", stderr(&out));
}

#[test]
fn healthchecks_report_starting_healthy_and_unhealthy() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        IMAGE,
        "sleep",
        "60",
    ]);
    assert!(state.ok(&["ps"]).contains("(health: starting)"));
    wait_for("unhealthy", || state.ok(&["ps"]).contains("(unhealthy)"));
    state.ok(&["exec", "checked", "touch", "/tmp/ok"]);
    wait_for("healthy", || state.ok(&["ps"]).contains("(healthy)"));
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "checked"])).expect("json");
    assert_eq!(inspect[0]["State"]["Health"]["Status"], "healthy");
    assert_eq!(inspect[0]["State"]["Health"]["Log"].as_array().map(|l| l.is_empty()), Some(false));

    state.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        IMAGE,
        "sleep",
        "60",
    ]);
    wait_for("a timed-out check", || {
        state.ok(&["ps"]).contains("(unhealthy)") && state.ok(&["inspect", "slow"]).contains("exceeded timeout")
    });
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let state = state_with_busybox();
    let id = state.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        IMAGE,
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
    ]);
    // Read the counter from the host, through the container's writable layer: this works
    // while the container is frozen.
    let file = state.root().join("containers").join(id.trim()).join("upper/tmp/n");
    let count = || fs::read_to_string(&file).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0);
    wait_for("the counter to run", || count() > 0);
    state.ok(&["pause", "counter"]);
    assert!(state.ok(&["ps"]).contains("Paused"));
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "nothing runs while paused");
    state.ok(&["unpause", "counter"]);
    wait_for("the counter to move again", || count() > frozen);
    state.ok(&["pause", "counter"]);
    state.ok(&["stop", "-t", "1", "counter"]);
    assert!(state.ok(&["ps", "-a"]).contains("Exited"), "a paused container can be stopped");
}

#[test]
fn restart_and_top() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "again", IMAGE, "sh", "-c", "sleep 100 & sleep 100"]);
    let started = |s: &State| -> String {
        let inspect: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "again"])).expect("json");
        inspect[0]["State"]["StartedAt"].as_str().unwrap_or_default().to_string()
    };
    wait_for("both sleeps", || state.ok(&["top", "again"]).matches("sleep 100").count() == 2);
    let top = state.ok(&["top", "again"]);
    // (The shell execs its last command, so the two sleeps are all there is.)
    assert!(top.starts_with("UID") && top.lines().count() == 3, "two sleeps: {top}");
    let before = started(&state);
    std::thread::sleep(Duration::from_millis(1100));
    state.ok(&["restart", "-t", "0", "again"]);
    assert!(state.ok(&["ps"]).contains("again"), "running again");
    assert_ne!(started(&state), before, "a new run");
}

#[test]
fn an_image_in_use_is_not_removed_without_force() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "user", IMAGE, "sleep", "100"]);
    let out = state.berth(&["rmi", IMAGE]);
    assert!(!out.status.success() && stderr(&out).contains("used by container(s) user"), "{}", stderr(&out));
    state.ok(&["rmi", "-f", IMAGE]);
    assert!(!state.ok(&["images"]).contains("local/busybox"));
    // The container keeps its layers and can still be restarted.
    state.ok(&["restart", "-t", "0", "user"]);
    assert!(state.ok(&["ps"]).contains("user"));
}

#[test]
fn ulimits_within_the_hosts_limits() {
    let state = state_with_busybox();
    let out = state.berth(&["run", "--rm", "--ulimit", "nofile=512:1024", IMAGE, "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(stdout(&out), "512\n1024\n", "{}", stderr(&out));
    let host_hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(u64::MAX);
    let has_sys_resource = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string())))
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|caps| caps & (1 << 24) != 0);
    if host_hard != u64::MAX && !has_sys_resource {
        let above = format!("nofile={}", host_hard + 1);
        let out = state.berth(&["run", "--rm", "--ulimit", &above, IMAGE, "true"]);
        assert!(!out.status.success() && stderr(&out).contains("above this host's"), "{}", stderr(&out));
    }
    let out = state.berth(&["run", "--rm", "--ulimit", "bogus=1", IMAGE, "true"]);
    assert!(stderr(&out).contains("unknown ulimit"));
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "--name",
        "changed",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /hello; rm /etc/group; mkdir -p /data; echo x > /data/x",
    ]);
    let diff = state.ok(&["diff", "changed"]);
    assert_eq!(diff, "A /data\nA /data/x\nC /etc\nD /etc/group\nA /hello\n", "as docker diff shows them");
    // export: the image's files with the container's changes, as one archive.
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("changed.tar");
    state.ok(&["export", "-o", archive.to_str().expect("utf-8"), "changed"]);
    let mut entries = BTreeMap::new();
    for entry in tar::Archive::new(std::fs::File::open(&archive).expect("archive")).entries().expect("tar") {
        let mut entry = entry.expect("entry");
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut entry, &mut text);
        entries.insert(entry.path().expect("path").to_string_lossy().into_owned(), text);
    }
    assert_eq!(entries.get("hello").map(String::as_str), Some("hi\n"), "the container's files");
    assert_eq!(entries.get("data/x").map(String::as_str), Some("x\n"));
    assert!(entries.contains_key("bin/sh") && entries.contains_key("etc/"), "the image's files");
    assert!(!entries.contains_key("etc/group"), "a deleted file is not exported");
    let piped = state.berth(&["export", "changed"]);
    assert_eq!(piped.stdout, std::fs::read(&archive).expect("read"), "the same archive on standard output");
    let id = state.ok(&["commit", "-m", "my change", "changed", "local/committed:1"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let inspect: serde_json::Value =
        serde_json::from_str(&state.ok(&["image", "inspect", "local/committed:1"])).expect("json");
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().map(Vec::len), Some(2), "one new layer on the image's");
    let out = state.berth(&[
        "run",
        "--rm",
        "local/committed:1",
        "sh",
        "-c",
        "cat /hello /data/x; ls /etc/group 2>/dev/null || echo gone",
    ]);
    assert_eq!(stdout(&out), "hi\nx\ngone\n", "files added and removed carry over: {}", stderr(&out));
    // A running container is paused while committed, then runs on.
    state.ok(&["run", "-d", "--name", "live", IMAGE, "sh", "-c", "echo live > /live; sleep 100"]);
    wait_for("the write", || state.berth(&["exec", "live", "cat", "/live"]).status.success());
    state.ok(&["commit", "live", "local/committed:2"]);
    assert!(state.ok(&["ps"]).contains("live") && !state.ok(&["ps"]).contains("Paused"));
    assert_eq!(stdout(&state.berth(&["run", "--rm", "local/committed:2", "cat", "/live"])), "live\n");
}

#[test]
fn cp_in_and_out_and_never_through_a_containers_link() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /app/sub; echo in-app > /app/sub/f; ln -s / /evil; sleep 100",
    ]);
    wait_for("the setup", || state.berth(&["exec", "box", "test", "-L", "/evil"]).status.success());
    let host = state.dir.path().join("host");
    fs::create_dir_all(&host).expect("mkdir");

    state.ok(&["cp", "box:/app", host.to_str().expect("utf-8")]);
    assert_eq!(fs::read_to_string(host.join("app/sub/f")).expect("copied out"), "in-app\n");

    fs::write(host.join("note"), "from host").expect("write");
    state.ok(&["cp", host.join("note").to_str().expect("utf-8"), "box:/app/"]);
    assert_eq!(stdout(&state.berth(&["exec", "box", "cat", "/app/note"])), "from host");

    // /evil points at / inside the container: writing through it must land in the container's
    // /etc, not the host's.
    let marker = format!("berth-cp-test-{}", std::process::id());
    fs::write(host.join(&marker), "x").expect("write");
    state.ok(&["cp", host.join(&marker).to_str().expect("utf-8"), "box:/evil/etc/"]);
    assert!(!std::path::Path::new("/etc").join(&marker).exists(), "nothing was written to the host's /etc");
    assert!(state.berth(&["exec", "box", "test", "-f", &format!("/etc/{marker}")]).status.success());
    // And reading through it reads the container's file, not the host's.
    state.ok(&["cp", "box:/evil/etc/passwd", host.join("passwd").to_str().expect("utf-8")]);
    assert!(fs::read_to_string(host.join("passwd")).expect("read").starts_with("root:x:0:0:root:/root:/bin/sh"));

    // A stopped container's files can be copied too (its root is mounted for the copy).
    state.ok(&["stop", "-t", "0", "box"]);
    state.ok(&["cp", "box:/app/note", host.join("again").to_str().expect("utf-8")]);
    assert_eq!(fs::read_to_string(host.join("again")).expect("read"), "from host");
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&state.root().display().to_string()), "the temporary mount is gone");
}

#[test]
fn logs_since_and_until() {
    let state = state_with_busybox();
    state.ok(&["run", "--name", "timed", IMAGE, "sh", "-c", "echo early; sleep 1.2; echo late"]);
    let all = state.ok(&["logs", "-t", "timed"]);
    let late_time =
        all.lines().find(|l| l.ends_with(" late")).and_then(|l| l.split(' ').next()).expect("a timestamp").to_string();
    assert_eq!(state.ok(&["logs", "--since", &late_time, "timed"]), "late\n");
    assert_eq!(state.ok(&["logs", "--until", "2000-01-01T00:00:00Z", "timed"]), "");
    assert_eq!(state.ok(&["logs", "--since", "1h", "timed"]), "early\nlate\n");
    assert!(!state.berth(&["logs", "--since", "yesterday-ish", "timed"]).status.success());
}

#[test]
fn run_i_feeds_standard_input() {
    let state = state_with_busybox();
    let out = crate::support::berth_with_stdin(
        state.dir.path(),
        &["run", "-i", "--rm", IMAGE, "sh", "-c", "wc -l"],
        &[("BERTH_ROOT", state.root().to_str().expect("utf-8")), ("PATH", "/usr/bin:/bin")],
        "one\ntwo\nthree\n",
    );
    assert_eq!(stdout(&out).trim(), "3", "{}", stderr(&out));
    let out = crate::support::berth_with_stdin(
        state.dir.path(),
        &["run", "--rm", IMAGE, "sh", "-c", "wc -l"],
        &[("BERTH_ROOT", state.root().to_str().expect("utf-8")), ("PATH", "/usr/bin:/bin")],
        "one\n",
    );
    assert_eq!(stdout(&out).trim(), "0", "without -i the container reads nothing");
}
