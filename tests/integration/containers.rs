//! Containers, run as a user runs them: real namespaces, an overlay root over the image's
//! snapshots, the shim, logs, exit codes, stop and restart, and the crashes of the CLI and
//! of a shim. The busybox image is imported offline.

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::images::State;
use crate::registry::busybox_layer;
use crate::support::{stderr, stdout};

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
fn on_failure_restarts_up_to_its_limit() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "flaky", "--restart", "on-failure:2", IMAGE, "sh", "-c", "echo attempt; exit 1"]);
    wait_for("the container to give up", || state.ok(&["ps", "-a"]).contains("Exited (1)"));
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "flaky"])).expect("json");
    assert_eq!(inspect[0]["RestartCount"], 2);
    assert_eq!(state.ok(&["logs", "flaky"]).matches("attempt").count(), 3);
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
    assert!(!bad.status.success() && stderr(&bad).contains("unknown log option"));
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
fn system_boot_brings_back_what_the_policy_says() {
    let state = state_with_busybox();
    for (name, policy) in
        [("always", "always"), ("never", "no"), ("by-hand", "unless-stopped"), ("unless", "unless-stopped")]
    {
        state.ok(&["run", "-d", "--name", name, "--restart", policy, IMAGE, "sleep", "100"]);
    }
    state.ok(&["stop", "-t", "0", "by-hand"]);
    // A host crash: every shim and container process killed at once.
    for name in ["always", "never", "unless"] {
        let s = state_file(&state, name);
        for key in ["shim_pid", "pid"] {
            let pid = s[key].as_i64().expect("a pid") as i32;
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    wait_for("the crash to be seen", || state.ok(&["ps", "-a"]).matches("Dead").count() == 3);
    let booted = stderr(&state.berth(&["system", "boot"]));
    let started: Vec<&str> =
        booted.lines().filter(|l| l.ends_with("Started")).filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(started.len(), 2, "{booted}");
    assert!(
        started.contains(&"always") && started.contains(&"unless"),
        "always and unless-stopped come back; no and stopped-by-hand do not: {booted}"
    );
    let ps = state.ok(&["ps"]);
    assert!(ps.contains("always") && ps.contains("unless") && !ps.contains("never") && !ps.contains("by-hand"), "{ps}");
    assert!(!stderr(&state.berth(&["system", "boot"])).contains("Started"), "running containers are left alone");

    let units = state.dir.path().join("units");
    state.ok(&["system", "install", "--unit-dir", units.to_str().expect("utf-8")]);
    let unit = fs::read_to_string(units.join("berth-boot.service")).expect("unit");
    assert!(unit.contains("system boot") && unit.contains("WantedBy=multi-user.target"), "{unit}");
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
fn always_restarts_until_stopped_by_hand() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "echo run; sleep 0.2; exit 0",
    ]);
    let restarts = |s: &State| -> i64 {
        let inspect: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "phoenix"])).expect("json");
        inspect[0]["RestartCount"].as_i64().unwrap_or(0)
    };
    wait_for("two restarts after clean exits", || restarts(&state) >= 2);
    wait_for("a running phase", || state.ok(&["ps"]).contains("phoenix"));
    state.ok(&["stop", "-t", "1", "phoenix"]);
    let after = restarts(&state);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(restarts(&state), after, "a stop by hand ends the restarts");
    assert!(state.ok(&["ps", "-a"]).contains("Exited"));
    assert!(state.ok(&["logs", "phoenix"]).matches("run").count() >= 3, "logs -f and logs span every run");
}

#[test]
fn init_forwards_signals_and_reaps() {
    let state = state_with_busybox();
    let out = state.berth(&[
        "run",
        "--rm",
        "--init",
        IMAGE,
        "sh",
        "-c",
        "echo $$; (sleep 0.1 &); sleep 0.3; ps -o stat | grep -c Z || true",
    ]);
    assert_eq!(stdout(&out), "2\n0\n", "the command is PID 2 under the init, and no zombie is left: {}", stderr(&out));
    // `sleep` as PID 1 ignores SIGTERM; under the init it gets it and stops at once.
    state.ok(&["run", "-d", "--init", "--name", "sleeper", IMAGE, "sleep", "100"]);
    let start = Instant::now();
    state.ok(&["stop", "-t", "5", "sleeper"]);
    assert!(start.elapsed() < Duration::from_secs(3), "stopped by the forwarded SIGTERM, not the grace period");
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

#[test]
fn two_hundred_cycles_leave_nothing_behind() {
    if !crate::support::slow_tests("two hundred create/start/remove cycles") {
        return;
    }
    let state = state_with_busybox();
    state.ok(&["network", "create", "cycles"]);
    let mut ids = Vec::new();
    let mut veths = Vec::new();
    for cycle in 0..200 {
        let id = state.ok(&["create", "--network", "cycles", IMAGE, "sleep", "600"]).trim().to_string();
        state.ok(&["start", &id]);
        let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", &id])).expect("json");
        assert_eq!(inspect[0]["State"]["Status"], "running", "cycle {cycle}");
        let dir = state.root().join("containers").join(&id);
        let config: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).expect("config")).expect("json");
        for e in config["network"]["endpoints"].as_array().expect("endpoints") {
            veths.push(e["host_ifname"].as_str().expect("a veth name").to_string());
        }
        state.ok(&["stop", "-t", "0", &id]);
        state.ok(&["rm", &id]);
        ids.push(id);
    }
    state.ok(&["network", "rm", "cycles"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "", "no container is listed");
    let dirs: Vec<_> = fs::read_dir(state.root().join("containers"))
        .expect("containers")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    assert!(dirs.is_empty(), "no state is left: {dirs:?}");
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&state.root().display().to_string()), "no mount is left");
    // The cgroups of every hierarchy, v1 and v2.
    let mut cgroups = Vec::new();
    for hierarchy in fs::read_dir("/sys/fs/cgroup").expect("cgroups").flatten() {
        for id in &ids {
            let dir = hierarchy.path().join("berth").join(id);
            if dir.exists() {
                cgroups.push(dir);
            }
        }
    }
    assert!(cgroups.is_empty(), "no cgroup is left: {cgroups:?}");
    // No process: neither a shim nor a container process names one of these containers.
    let processes: Vec<String> = fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| ids.iter().any(|id| c.contains(id.as_str())))
        .collect();
    assert!(processes.is_empty(), "no process is left: {processes:?}");
    // The kernel deletes veth pairs with their namespace, in its own time.
    wait_for("the veth pairs to go", || {
        let links = String::from_utf8_lossy(
            &std::process::Command::new("ip").args(["-o", "link"]).output().expect("ip").stdout,
        )
        .into_owned();
        veths.iter().all(|v| !links.contains(v.as_str()))
    });
}

/// Private memory (Private_Clean + Private_Dirty) of a process, in kB.
fn private_kb(pid: i64) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .expect("smaps_rollup")
        .lines()
        .filter(|l| l.starts_with("Private_Clean") || l.starts_with("Private_Dirty"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// The issue's robustness case: a container that fails at once, under `restart: always`, for
/// five minutes. The back-off doubles to a minute, the shim's memory stays flat, the logs
/// rotate, and a neighbour is not disturbed.
#[test]
fn a_crash_loop_for_five_minutes_backs_off_and_stays_small() {
    if !crate::support::slow_tests("the five-minute crash loop") {
        return;
    }
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "neighbour", IMAGE, "sleep", "900"]);
    let neighbour = state_file(&state, "neighbour");
    let script =
        "date +%s.%N; i=0; while [ $i -lt 40 ]; do echo \"noise $i to fill the log\"; i=$((i+1)); done; exit 1";
    state.ok(&[
        "run",
        "-d",
        "--name",
        "looper",
        "--restart",
        "always",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=2",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let shim = state_file(&state, "looper")["shim_pid"].as_i64().expect("shim pid");
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let early_kb = private_kb(shim);
    std::thread::sleep(Duration::from_secs(300).saturating_sub(start.elapsed()));
    let late_kb = private_kb(shim);
    let recorded = state_file(&state, "looper");
    assert_eq!(recorded["shim_pid"].as_i64(), Some(shim), "one shim for the whole loop");
    // Starts after 0.1 0.2 0.4 ... 51.2 s, then every minute: 13 or 14 runs in five minutes.
    let restarts = recorded["restart_count"].as_u64().expect("restart count");
    assert!((11..=14).contains(&restarts), "restarts in five minutes: {restarts}");
    assert!(
        late_kb <= early_kb + 128,
        "the shim's memory stays flat: {early_kb} kB after 30 s, {late_kb} kB at the end"
    );
    // Logs rotate: two files of at most 4 KiB, and the newest run is in them.
    let dir = fs::read_dir(state.root().join("containers"))
        .expect("containers")
        .flatten()
        .map(|e| e.path())
        .find(|p| fs::read(p.join("config.json")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("\"looper\"")))
        .expect("the looper's directory");
    let files: Vec<_> = fs::read_dir(&dir)
        .expect("container dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("log.json"))
        .collect();
    assert!(files.len() <= 2, "max-file bounds the log files: {}", files.len());
    for f in &files {
        assert!(f.metadata().expect("meta").len() <= 4096, "max-size bounds each file");
    }
    let logs = state.ok(&["logs", "looper"]);
    assert!(logs.ends_with("noise 39 to fill the log\n"), "the last run's output is readable");
    // The runs still in the log (the last ones) are a minute apart: the back-off's ceiling.
    let stamps: Vec<f64> = {
        let mut all = Vec::new();
        for f in files.iter().map(|f| f.path()) {
            for line in fs::read_to_string(f).expect("log").lines() {
                let entry: serde_json::Value = serde_json::from_str(line).expect("json line");
                if let Ok(t) = entry["log"].as_str().unwrap_or_default().trim().parse::<f64>() {
                    all.push(t);
                }
            }
        }
        all.sort_by(f64::total_cmp);
        all
    };
    for pair in stamps.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((55.0..=65.0).contains(&gap), "late runs are a minute apart: {stamps:?}");
    }
    // The neighbour ran on undisturbed.
    let after = state_file(&state, "neighbour");
    assert_eq!(after["pid"], neighbour["pid"]);
    assert_eq!(after["restart_count"], 0);
    assert_eq!(state.ok(&["exec", "neighbour", "echo", "fine"]), "fine\n");
    state.ok(&["rm", "-f", "looper", "neighbour"]);
}

/// `ps --format json` lines of every container, by name.
fn ps_json(state: &State) -> std::collections::BTreeMap<String, serde_json::Value> {
    state
        .ok(&["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|v| (v["Names"].as_str().expect("name").to_string(), v))
        .collect()
}

#[test]
fn every_state_shows_in_ps() {
    let state = state_with_busybox();
    let status = |name: &str| ps_json(&state)[name]["State"].as_str().expect("state").to_string();
    state.ok(&["create", "--name", "life", IMAGE, "sleep", "600"]);
    assert_eq!(status("life"), "created");
    assert!(ps_json(&state)["life"]["Status"] == "Created");
    state.ok(&["start", "life"]);
    assert_eq!(status("life"), "running");
    state.ok(&["pause", "life"]);
    assert_eq!(status("life"), "paused");
    assert!(state.ok(&["ps"]).contains("Up (Paused)"));
    state.ok(&["unpause", "life"]);
    assert_eq!(status("life"), "running");
    state.ok(&["kill", "life"]);
    wait_for("the exit", || status("life") == "exited");
    assert_eq!(ps_json(&state)["life"]["ExitCode"], 137);
    assert!(state.ok(&["ps", "-a"]).contains("Exited (137)"));

    state.ok(&["run", "-d", "--name", "bouncer", "--restart", "always", IMAGE, "sh", "-c", "sleep 0.3; exit 3"]);
    wait_for("a restart back-off", || status("bouncer") == "restarting");
    assert!(state.ok(&["ps"]).contains("Restarting (3)"), "{}", state.ok(&["ps"]));
    state.ok(&["rm", "-f", "bouncer"]);

    state.ok(&["run", "-d", "--name", "orphaned", IMAGE, "sleep", "600"]);
    let shim = state_file(&state, "orphaned")["shim_pid"].as_i64().expect("shim pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shim as i32), nix::sys::signal::Signal::SIGKILL).expect("kill");
    wait_for("the dead shim to be seen", || status("orphaned") == "dead");
    state.ok(&["rm", "-f", "orphaned", "life"]);
}

#[test]
fn kill_sends_the_signal_and_logs_follow_across_restarts() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "-d",
        "--name",
        "listener",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got USR1' USR1; echo ready; while true; do sleep 0.05; done",
    ]);
    wait_for("the trap", || state.ok(&["logs", "listener"]).contains("ready"));
    state.ok(&["kill", "-s", "USR1", "listener"]);
    wait_for("the signal to arrive", || state.ok(&["logs", "listener"]).contains("got USR1"));
    assert!(state.ok(&["ps"]).contains("listener"), "USR1 does not stop it");
    let refused = state.berth(&["kill", "-s", "SIGNOPE", "listener"]);
    assert!(!refused.status.success(), "an unknown signal is refused");
    state.ok(&["rm", "-f", "listener"]);

    state.ok(&[
        "run",
        "-d",
        "--name",
        "phases",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "echo phase; sleep 0.2; exit 1",
    ]);
    let mut follow = std::process::Command::new(crate::support::BERTH)
        .args(["logs", "-f", "phases"])
        .env_clear()
        .env("BERTH_ROOT", state.root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("logs -f runs");
    let mut reader = std::io::BufReader::new(follow.stdout.take().expect("stdout"));
    let mut seen = 0;
    let mut line = String::new();
    while seen < 3 {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut reader, &mut line).expect("read") > 0, "logs -f ended early");
        if line == "phase\n" {
            seen += 1;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    state.ok(&["rm", "-f", "phases"]);
}
