//! A container's life over time: restart policies, `system boot`, signals, every state as
//! `ps` shows it, and the soaks (200 cycles, a five-minute crash loop).

use std::fs;
use std::time::{Duration, Instant};

use crate::containers::{IMAGE, state_file, state_with_busybox, wait_for};
use crate::images::State;
use crate::support::{stderr, stdout};

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
    let completions = state.dir.path().join("completions");
    let man = state.dir.path().join("man1");
    let dirs = [units.to_str().expect("utf-8"), completions.to_str().expect("utf-8"), man.to_str().expect("utf-8")];
    state.ok(&["system", "install", "--unit-dir", dirs[0], "--completion-dir", dirs[1], "--man-dir", dirs[2], "--api"]);
    let unit = fs::read_to_string(units.join("berth-boot.service")).expect("unit");
    assert!(unit.contains("system boot") && unit.contains("WantedBy=multi-user.target"), "{unit}");
    let socket = fs::read_to_string(units.join("berth-api.socket")).expect("the API's socket unit");
    assert!(socket.contains("ListenStream=/run/berth/docker.sock") && socket.contains("SocketMode=0660"), "{socket}");
    let service = fs::read_to_string(units.join("berth-api.service")).expect("the API's service unit");
    assert!(
        service.contains("system service --socket /run/berth/docker.sock") && service.contains("KillMode=process"),
        "{service}"
    );
    let script = fs::read_to_string(completions.join("berth")).expect("completion script");
    assert!(script.contains("complete -F _berth"), "bash's completion of berth");
    let page = fs::read_to_string(man.join("berth-up.1")).expect("berth-up.1");
    assert!(page.starts_with(".ie") || page.contains(".TH berth-up 1"), "a roff page: {page}");
    assert!(page.contains("force\\-recreate"), "the page lists up's flags");
    assert!(man.join("berth-image-ls.1").exists() && man.join("berth.1").exists());
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

/// The robustness case: a container that fails at once, under `restart: always`, for
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

/// A container that turns unhealthy is restarted by its shim when asked
/// (`--restart-on-unhealthy`, the `autoheal=true` label, `x-berth-restart-on-unhealthy` in a
/// project), whatever its restart policy; one not asked stays unhealthy.
#[test]
fn unhealthy_containers_restart_when_asked() {
    let state = state_with_busybox();
    let script = "touch /tmp/ok; (sleep 1; rm /tmp/ok) & trap 'exit 0' TERM; while true; do sleep 0.1; done";
    let health = ["--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms", "--health-retries", "1"];
    for (name, how) in
        [("flagged", &["--restart-on-unhealthy"][..]), ("labelled", &["-l", "autoheal=true"]), ("left", &[])]
    {
        state.ok(&[&["run", "-d", "--name", name][..], how, &health, &[IMAGE, "sh", "-c", script]].concat());
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        format!(
            "name: heal\nservices:\n  app:\n    image: {IMAGE}\n    command: [sh, -c, \"{script}\"]\n    \
             x-berth-restart-on-unhealthy: true\n    healthcheck: {{test: test -f /tmp/ok, interval: 200ms, retries: 1}}\n"
        ),
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let restarts = |name: &str| {
        let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
        inspect[0]["RestartCount"].as_u64().unwrap_or(0)
    };
    for name in ["flagged", "labelled", "heal-app-1"] {
        wait_for(&format!("{name} restarted"), || restarts(name) >= 1);
    }
    let health_of = |name: &str| {
        let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
        inspect[0]["State"]["Health"]["Status"].as_str().unwrap_or_default().to_string()
    };
    wait_for("left unhealthy", || health_of("left") == "unhealthy");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(restarts("left"), 0, "a container not asked is left unhealthy");
    state.ok(&["-f", f, "down", "-t", "0"]);
    state.ok(&["rm", "-f", "flagged", "labelled", "left"]);
}
