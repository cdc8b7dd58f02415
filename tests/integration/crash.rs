//! Crashes, full disks and hostile input, done as an adversarial user does them: a shim's PID
//! taken by another process, a shim killed under a running container, recreations that must
//! keep anonymous volumes, a state directory on a full file system, an alias bomb, two
//! services on one host port, two engines choosing subnets at once, commands killed half-way,
//! inherited descriptors, an exec that cannot happen and a closed pipe.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::containers::{IMAGE, code, state_file, state_with_busybox, wait_for};
use crate::images::State;
use crate::support::{BERTH, stderr, stdout};

fn gone(pid: i64) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

fn kill9(pid: i64) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
}

/// Starts a process with PID `pid` (the kernel gives the next one after `ns_last_pid`), or
/// None when another process of the host took it first every time.
fn squat(pid: i64) -> Option<std::process::Child> {
    for _ in 0..50 {
        fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).expect("write ns_last_pid (root)");
        let child = Command::new("sleep").arg("1000").spawn().expect("sleep");
        if i64::from(child.id()) == pid {
            return Some(child);
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[test]
fn a_reused_shim_pid_does_not_hide_a_crash() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "v", "--restart", "always", IMAGE, "sleep", "100000"]);
    let s = state_file(&state, "v");
    let (shim, init) = (s["shim_pid"].as_i64().expect("shim"), s["pid"].as_i64().expect("pid"));
    kill9(shim);
    kill9(init);
    wait_for("the shim's PID to be free", || !Path::new(&format!("/proc/{shim}")).exists());
    let mut squatter = squat(shim).expect("a process at the shim's old PID");
    let ps = state.ok(&["ps", "-a"]);
    assert!(ps.contains("Dead") && !ps.contains("Up "), "another process at the shim's PID is no shim:\n{ps}");
    let booted = state.berth(&["system", "boot"]);
    assert!(booted.status.success(), "{}", stderr(&booted));
    let ps = state.ok(&["ps"]);
    assert!(ps.contains(" v") && ps.contains("Up "), "system boot restarts the always container:\n{ps}");
    let now = state_file(&state, "v");
    assert_ne!(now["shim_pid"].as_i64(), Some(shim));
    assert!(squatter.try_wait().expect("wait").is_none(), "the process at the old PID is left alone");
    state.ok(&["stop", "-t", "0", "v"]);
    let _ = squatter.kill();
    let _ = squatter.wait();
}

#[test]
fn what_a_killed_shim_left_running_is_killed_before_the_next_start() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    state.ok(&["run", "-d", "--name", "db", IMAGE, "sh", "-c", "while true; do sleep 0.1; done"]);
    let s = state_file(&state, "db");
    let (shim, init) = (s["shim_pid"].as_i64().expect("shim"), s["pid"].as_i64().expect("pid"));
    kill9(shim);
    wait_for("the shim to die", || gone(shim));
    assert!(!gone(init), "the container's process outlives its shim");
    assert!(state.ok(&["ps", "-a"]).contains("Dead"));
    state.ok(&["start", "db"]);
    wait_for("the orphaned process to go", || gone(init));
    let again = state_file(&state, "db");
    assert_ne!(again["pid"].as_i64(), Some(init));
    assert!(state.ok(&["ps"]).contains("Up "));

    // The same through `up -d` in a project.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        "name: orphans\nservices:\n  db:\n    image: busybox:latest\n    command: [\"sleep\", \"1000\"]\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let s = state_file(&state, "orphans-db-1");
    let (shim, init) = (s["shim_pid"].as_i64().expect("shim"), s["pid"].as_i64().expect("pid"));
    kill9(shim);
    wait_for("the shim to die", || gone(shim));
    state.ok(&["-f", f, "up", "-d"]);
    wait_for("the orphaned process to go", || gone(init));
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn anonymous_volumes_survive_every_kind_of_recreation() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let write = |v: &str| {
        let text = format!(
            "name: anonvols\nservices:\n  app:\n    image: busybox:latest\n    command: [\"sleep\", \"1000\"]\n    environment:\n      V: \"{v}\"\n    volumes: [\"/data\"]\n"
        );
        fs::write(&file, text).expect("write")
    };
    write("1");
    let f = file.to_str().expect("utf-8");
    let read = || stdout(&state.berth(&["-f", f, "exec", "-T", "app", "cat", "/data/f"]));
    state.ok(&["-f", f, "up", "-d"]);
    state.ok(&["-f", f, "exec", "-T", "app", "sh", "-c", "echo kept > /data/f"]);

    let progress = stderr(&state.berth(&["-f", f, "up", "-d", "--force-recreate"]));
    assert!(progress.contains("Recreate"), "{progress}");
    assert_eq!(read(), "kept\n", "after --force-recreate");

    write("2");
    assert!(stderr(&state.berth(&["-f", f, "up", "-d"])).contains("Recreate"));
    assert_eq!(read(), "kept\n", "after a configuration change");

    // A new image under the same name.
    state.ok(&["commit", "anonvols-app-1", "busybox:latest"]);
    assert!(stderr(&state.berth(&["-f", f, "up", "-d"])).contains("Recreate"));
    assert_eq!(read(), "kept\n", "after an image change");

    // -V renews them.
    state.ok(&["-f", f, "up", "-d", "--force-recreate", "-V"]);
    assert_eq!(read(), "", "-V gives a new, empty volume");
    state.ok(&["-f", f, "down", "-t", "0", "-v"]);
}

/// A state directory on a tmpfs of `mb` megabytes.
fn state_on_small_disk(mb: u32) -> State {
    let state = State::new();
    fs::create_dir_all(state.root()).expect("root");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs", state.root().to_str().expect("utf-8")])
        .status()
        .expect("mount");
    assert!(status.success(), "mount a tmpfs (root)");
    state
}

fn import_busybox(state: &State) {
    let (_, gz) = crate::registry::busybox_layer().finish();
    let rootfs = state.dir.path().join("busybox.tar.gz");
    fs::write(&rootfs, gz).expect("write");
    state.ok(&["import", rootfs.to_str().expect("utf-8"), IMAGE, "--change", r#"CMD ["sh"]"#]);
}

fn free_space(state: &State) -> u64 {
    let s = nix::sys::statvfs::statvfs(&state.root()).expect("statvfs");
    s.blocks_available() * s.fragment_size()
}

/// Empties every container log under a directory when dropped.
struct FreeOnDrop(PathBuf);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        for entry in fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = fs::write(entry.path().join("log.json"), "");
        }
    }
}

#[test]
fn a_full_disk_loses_log_lines_but_not_the_container() {
    let state = state_on_small_disk(30);
    // Dropped before the state: even when an assertion fails, the disk gets room again first,
    // so that the state's clean-up can record what it removes.
    let _room = FreeOnDrop(state.root().join("containers"));
    import_busybox(&state);
    // Room to give back later without touching the log (which would take the notice with it).
    let ballast = state.root().join("ballast");
    fs::write(&ballast, vec![1u8; 8 << 20]).expect("write the ballast");
    state.ok(&["run", "-d", "--name", "victim", IMAGE, "sleep", "1000"]);
    // A burst that fills the disk, then a line now and then.
    let script =
        "i=0; while [ $i -lt 700000 ]; do echo line $i; i=$((i+1)); done; while true; do echo tick; sleep 0.2; done";
    state.ok(&["run", "-d", "--name", "hog", IMAGE, "sh", "-c", script]);
    wait_for("the disk to fill", || free_space(&state) < 64 * 1024);
    let shim = state_file(&state, "hog")["shim_pid"].as_i64().expect("shim");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!gone(shim), "the shim survives a full disk");
    // Commands work on the full disk: reading ones write nothing, and rm -f removes.
    let ps = state.ok(&["ps"]);
    assert!(ps.contains("hog") && ps.contains("Up "), "{ps}");
    assert!(state.ok(&["logs", "-n", "3", "hog"]).contains("line "));
    let inspect = || -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "hog"])).expect("json");
        v[0]["State"].clone()
    };
    wait_for("inspect to count lost lines", || inspect()["LogLinesLost"].as_u64().expect("a count") > 0);
    assert_eq!(inspect()["Running"], true);
    let id_of = |name: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
        v[0]["Id"].as_str().expect("id").to_string()
    };
    let victim_id = id_of("victim");
    state.ok(&["rm", "-f", "victim"]);
    assert!(!state.root().join("containers").join(&victim_id).exists(), "rm -f leaves nothing");

    // Space again: the log says what was lost and the record catches up.
    // Once the burst is over (only the ticks are lost now), room comes back.
    wait_for("the end of the burst", || {
        // A busy shim may not answer in time, and inspect then shows the older record: only two
        // answers that agree, a second apart, say the burst is over.
        let before = inspect()["LogLinesLost"].as_u64().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(1000));
        let after = inspect()["LogLinesLost"].as_u64().unwrap_or(0);
        after >= before && after - before < 50
    });
    fs::remove_file(&ballast).expect("remove the ballast");
    // The notice is on the container's standard error, which `logs` keeps apart.
    wait_for("the notice in the log", || stderr(&state.berth(&["logs", "hog"])).contains("lines of output were lost"));
    wait_for("the loss in the record", || state_file(&state, "hog")["log_lines_lost"].as_u64().unwrap_or(0) > 0);
    state.ok(&["stop", "-t", "1", "hog"]);
    wait_for("the exit in the record", || state_file(&state, "hog")["status"] == "exited");
    assert_eq!(state_file(&state, "hog")["exit_code"], 137);
    assert!(state.ok(&["ps", "-a"]).contains("Exited (137)"));

    // A failed write is not reported as a failed read.
    let big = state.dir.path().join("big.tar");
    let mut builder = tar::Builder::new(Vec::new());
    let data = vec![7u8; 40 << 20];
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    builder.append_data(&mut header, "big", data.as_slice()).expect("tar");
    fs::write(&big, builder.into_inner().expect("tar")).expect("write");
    let out = state.berth(&["import", big.to_str().expect("utf-8"), "big:1"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.contains("cannot store") && err.contains("No space left on device") && !err.contains("cannot read"),
        "{err}"
    );
    state.ok(&["rm", "-f", "hog"]);
}

#[test]
fn an_alias_bomb_is_refused_at_once_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = String::from("x-a0: &a0 [lol]\n");
    for level in 1..=9 {
        let below = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("x-a{level}: &a{level} [{below}]\n"));
    }
    text.push_str("services:\n  s:\n    image: busybox\n    labels: *a9\n");
    assert!(text.len() < 1024);
    fs::write(dir.path().join("compose.yaml"), text).expect("write");
    let started = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v 4000000; exec {BERTH} config"))
        .current_dir(dir.path())
        .env("MIMALLOC_ARENA_RESERVE", "65536")
        .output()
        .expect("sh");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("excessive aliasing"), "{}", stderr(&out));
}

#[test]
fn one_host_port_for_two_services_is_refused_before_anything_exists() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let port = free_port();
    for (a, b) in [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1")] {
        let text = format!(
            "services:\n  one:\n    image: busybox:latest\n    command: [\"sleep\", \"100\"]\n    ports: [\"{a}:{port}:80\"]\n  two:\n    image: busybox:latest\n    command: [\"sleep\", \"100\"]\n    ports: [\"{b}:{port}:80\"]\n"
        );
        fs::write(&file, text).expect("write");
        let out = state.berth(&["-f", file.to_str().expect("utf-8"), "up", "-d"]);
        assert_eq!(code(&out), 1);
        assert!(stderr(&out).contains("services one and two both publish host port"), "{}", stderr(&out));
        assert_eq!(state.ok(&["ps", "-aq"]), "", "no container");
        assert!(!state.ok(&["network", "ls"]).contains("_default"), "no network");
    }
    // A port a program of the host holds is found before anything is created, too.
    let held = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = held.local_addr().expect("addr").port();
    let text = format!(
        "services:\n  web:\n    image: busybox:latest\n    command: [\"sleep\", \"100\"]\n    ports: [\"127.0.0.1:{port}:80\"]\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {{}}\n"
    );
    fs::write(&file, text).expect("write");
    let out = state.berth(&["-f", file.to_str().expect("utf-8"), "up", "-d"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "", "no volume");
    assert!(!state.ok(&["network", "ls"]).contains("_default"), "no network");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind").local_addr().expect("addr").port()
}

#[test]
fn two_state_roots_creating_networks_at_once_never_share_a_subnet() {
    let (a, b) = (State::new(), State::new());
    for round in 0..20 {
        let name = format!("n{round}");
        let spawn = |s: &State| {
            s.command(&["network", "create", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("berth")
        };
        let (pa, pb) = (spawn(&a), spawn(&b));
        for p in [pa, pb] {
            let out = p.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let subnet = |s: &State| {
            let v: serde_json::Value = serde_json::from_str(&s.ok(&["network", "inspect", &name])).expect("json");
            v[0]["IPAM"]["Config"][0]["Subnet"].as_str().expect("subnet").to_string()
        };
        let (sa, sb) = (subnet(&a), subnet(&b));
        assert_ne!(sa, sb, "round {round}: both chose {sa}");
        a.ok(&["network", "rm", &name]);
        b.ok(&["network", "rm", &name]);
    }
}

#[test]
fn a_kill_at_any_moment_of_creation_leaves_no_litter() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let mut text = String::from("services:\n");
    for n in 0..4 {
        text.push_str(&format!(
            "  s{n}:\n    image: busybox:latest\n    command: [\"sleep\", \"100\"]\n    volumes: [\"/v\"]\n"
        ));
    }
    fs::write(&file, text).expect("write");
    let f = file.to_str().expect("utf-8");
    for round in 0..30u64 {
        let mut up = state
            .command(&["-f", f, "up", "-d", "--no-start", "--force-recreate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("berth");
        std::thread::sleep(Duration::from_millis(5 + (round * 7) % 60));
        let _ = up.kill();
        let _ = up.wait();
    }
    // The next creation clears what the killed ones left.
    state.ok(&["-f", f, "up", "-d", "--no-start", "--force-recreate"]);
    let listed = state.ok(&["ps", "-aq"]);
    for entry in fs::read_dir(state.root().join("containers")).expect("containers").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".lock" {
            continue;
        }
        assert!(!name.starts_with('.'), "a half-made or half-removed record is left: {name}");
        assert!(listed.contains(&name[..12]), "{name} is not listed:\n{listed}");
    }
    state.ok(&["-f", f, "down", "-t", "0", "-v"]);
    let left: Vec<String> = fs::read_dir(state.root().join("containers"))
        .expect("containers")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Every process that has `path` open.
fn holders(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in fs::read_dir("/proc").expect("proc").flatten() {
        for fd in fs::read_dir(p.path().join("fd")).into_iter().flatten().flatten() {
            if fs::read_link(fd.path()).is_ok_and(|t| t == path) {
                out.push(format!(
                    "{} {}",
                    p.file_name().to_string_lossy(),
                    fs::read_to_string(p.path().join("cmdline")).unwrap_or_default()
                ));
            }
        }
    }
    out
}

#[test]
fn helpers_take_none_of_their_callers_descriptors() {
    let state = state_with_busybox();
    let marker: PathBuf = state.dir.path().join("held");
    fs::write(&marker, "").expect("write");
    let file = fs::File::open(&marker).expect("open");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // The caller's descriptor 7 is inheritable, as a shell's `exec 7<file` makes it.
    let mut cmd = state.command(&["run", "-d", "--name", "fds", IMAGE, "sleep", "100"]);
    // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || nix::unistd::dup2(fd, 7).map(drop).map_err(std::io::Error::from));
    }
    let out = cmd.output().expect("berth");
    assert!(out.status.success(), "{}", stderr(&out));
    drop(file);
    let held = holders(&marker);
    assert!(held.is_empty(), "the shim and the DNS server keep the caller's descriptor: {held:?}");
    let shim = state_file(&state, "fds")["shim_pid"].as_i64().expect("shim");
    let fds: Vec<String> = fs::read_dir(format!("/proc/{shim}/fd"))
        .expect("fds")
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    assert!(fds.iter().all(|t| !t.contains("held")), "{fds:?}");
}

#[test]
fn an_exec_that_fails_says_why_and_exits_126() {
    let state = state_with_busybox();
    let dir = tempfile::tempdir().expect("tmp");
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    // One variable over the kernel's 128 KiB limit for a single string: E2BIG at execve.
    let text = format!(
        "services:\n  big:\n    image: busybox:latest\n    command: [\"true\"]\n    environment:\n      BIG: {}\n",
        "a".repeat(200_000)
    );
    fs::write(dir.path().join("compose.yaml"), text).expect("write");
    let f = dir.path().join("compose.yaml");
    let out = state.berth(&["-f", f.to_str().expect("utf-8"), "run", "--rm", "-T", "big"]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Argument list too long")
            || stderr(&out).contains("Argument list too long"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    state.ok(&["-f", f.to_str().expect("utf-8"), "down"]);
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "--name",
        "talker",
        IMAGE,
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done",
    ]);
    for command in ["ps -a --format json", "logs talker", "inspect talker", "images"] {
        let script = format!("{BERTH} {command} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}");
        let out = Command::new("bash").arg("-c").arg(&script).env("BERTH_ROOT", state.root()).output().expect("bash");
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{command}: {err}");
        let status: i32 = stdout(&out).trim().parse().expect("a status");
        assert!(status == 0 || status == 141, "{command}: exit {status}");
    }
}

#[test]
fn two_ups_of_one_project_take_turns() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let mut text = String::from("name: turns\nservices:\n");
    for n in 0..3 {
        text.push_str(&format!("  s{n}:\n    image: busybox:latest\n    command: [\"sleep\", \"100\"]\n"));
    }
    fs::write(&file, text).expect("write");
    let f = file.to_str().expect("utf-8");
    let spawn =
        || state.command(&["-f", f, "up", "-d"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("berth");
    let (a, b) = (spawn(), spawn());
    for up in [a, b] {
        let out = up.wait_with_output().expect("wait");
        assert!(out.status.success(), "both succeed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(state.ok(&["-f", f, "ps", "-q"]).lines().count(), 3, "one container per service");
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn an_unreadable_record_stops_the_image_collection() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "keeper", IMAGE, "sleep", "300"]);
    state.ok(&["create", "--name", "broken", IMAGE, "true"]);
    let broken = fs::read_dir(state.root().join("containers"))
        .expect("containers")
        .map(|e| e.expect("entry").path())
        .find(|d| fs::read_to_string(d.join("config.json")).is_ok_and(|t| t.contains("\"name\": \"broken\"")))
        .expect("broken's directory")
        .join("state.json");
    // Untagged, the image's layers are kept for the containers alone.
    state.ok(&["rmi", "-f", IMAGE]);
    let saved = fs::read(&broken).expect("state");
    fs::write(&broken, "{damaged").expect("damage the record");
    let snapshots = state.snapshots();
    assert!(!snapshots.is_empty());
    // Which layers the containers use cannot be told: the collection removes nothing.
    let out = state.berth(&["image", "prune", "-f"]);
    assert!(stderr(&out).contains("cannot tell what is in use"), "{}", stderr(&out));
    assert_eq!(state.snapshots(), snapshots, "no layer was removed");
    fs::write(&broken, saved).expect("repair the record");
    state.ok(&["restart", "-t", "0", "keeper"]);
    state.ok(&["rm", "-f", "keeper", "broken"]);
}
