//! Terminals and attached streams: `run -t`/`-it` from a real pseudo-terminal (raw mode, the
//! window size followed, the exit code), `run -dit` then `attach` and the detach keys,
//! `exec -it`, and `attach` without a terminal (standard output and error kept apart).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::containers::{IMAGE, state_with_busybox, wait_for};
use crate::images::State;
use crate::support::BERTH;

/// `berth ARGS` on the slave end of a new pseudo-terminal, as a user at a terminal runs it.
pub(crate) struct AtTerminal {
    child: Child,
    master: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl AtTerminal {
    fn start(state: &State, args: &[&str]) -> AtTerminal {
        let root = state.root();
        AtTerminal::program(BERTH.as_ref(), &[("BERTH_ROOT", root.as_os_str())], args)
    }

    /// `program ARGS` with exactly the environment `env` (and a PATH), on a new terminal.
    pub(crate) fn program(program: &std::path::Path, env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> AtTerminal {
        let size = nix::pty::Winsize { ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(Some(&size), None).expect("a pseudo-terminal");
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(slave(&pty.slave)).stdout(slave(&pty.slave)).stderr(slave(&pty.slave));
        // SAFETY: setsid(2) and ioctl(2) are async-signal-safe; the child gets the terminal as
        // its controlling one, as a shell would give it.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("berth runs");
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().expect("dup"), Arc::clone(&seen));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        AtTerminal { child, master, seen }
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("lock")).into_owned()
    }

    /// Waits until the terminal has shown `what`.
    pub(crate) fn expect(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(what) {
            assert!(Instant::now() < deadline, "timed out waiting for {what:?}; the terminal shows {:?}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    /// Resizes the terminal and tells the foreground program, as a terminal emulator does.
    fn resize(&mut self, rows: u16, cols: u16) {
        let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&self.master, size).expect("resize");
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGWINCH).expect("SIGWINCH");
    }

    /// Waits for the end; the exit code and everything the terminal showed.
    pub(crate) fn wait_for_exit_and_text(self) -> (i32, String) {
        let seen = Arc::clone(&self.seen);
        let code = self.wait();
        // The reader thread may still be taking the last bytes.
        std::thread::sleep(Duration::from_millis(100));
        let text = String::from_utf8_lossy(&seen.lock().expect("lock")).into_owned();
        (code, text)
    }

    pub(crate) fn wait(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "berth did not end; the terminal shows {:?}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AtTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn run_it_gives_a_terminal_that_follows_the_window() {
    let state = state_with_busybox();
    let mut t = AtTerminal::start(&state, &["run", "-it", "--name", "shell", IMAGE, "sh"]);
    t.expect("/ # ");
    t.send("tty; echo term=$TERM; stty size\r");
    t.expect("30 100");
    assert!(t.text().contains("/dev/pts/0") && t.text().contains("term=xterm"), "{}", t.text());
    t.resize(40, 120);
    t.send("stty size\r");
    t.expect("40 120");
    // Raw mode: Ctrl-C goes to the container's shell (which just gives a new prompt), not to berth.
    t.send("sleep 30\r");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x03");
    t.send("echo after-$((40+2))\r");
    t.expect("after-42");
    t.send("exit 5\r");
    assert_eq!(t.wait(), 5, "the shell's exit code");
    let logs = state.ok(&["logs", "shell"]);
    assert!(logs.contains("after-42"), "the terminal's output is in the log: {logs}");
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "shell"])).expect("json");
    assert_eq!(inspect[0]["Config"]["Tty"], true, "{inspect}");
}

#[test]
fn detached_terminals_attach_and_detach_with_the_keys() {
    let state = state_with_busybox();
    state.ok(&["run", "-dit", "--name", "bg", IMAGE, "sh"]);
    let mut t = AtTerminal::start(&state, &["attach", "bg"]);
    t.send("echo attached-$((1+1))\r");
    t.expect("attached-2");
    t.send("\x10\x11");
    assert_eq!(t.wait(), 0, "detaching is no failure");
    assert!(state.ok(&["ps"]).contains("bg"), "the container runs on after a detach");
    let mut again = AtTerminal::start(&state, &["attach", "bg"]);
    again.send("echo second-$((2+2))\r");
    again.expect("second-4");
    again.send("exit 9\r");
    assert_eq!(again.wait(), 9, "attach returns the container's exit code");
    assert!(state.ok(&["ps", "-a"]).contains("Exited (9)"));
}

#[test]
fn exec_it_gives_the_process_a_terminal_of_its_own() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "host", IMAGE, "sleep", "300"]);
    let mut t = AtTerminal::start(
        &state,
        &["exec", "-it", "host", "sh", "-c", "tty; stty size; echo term=$TERM; read x; echo got-$x; exit 7"],
    );
    t.expect("30 100");
    t.send("typed\r");
    t.expect("got-typed");
    assert!(t.text().contains("/dev/pts/") && t.text().contains("term=xterm"), "{}", t.text());
    assert_eq!(t.wait(), 7);
    let leftovers: Vec<String> = std::fs::read_dir(state.root().join("containers"))
        .expect("containers")
        .map(|d| d.expect("entry").path())
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).expect("container dir"))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("exec-"))
        .collect();
    assert!(leftovers.is_empty(), "exec's process file and socket are removed: {leftovers:?}");
    // --privileged with a terminal: every capability of the host, and the container's filter.
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let host = status.lines().find_map(|l| l.strip_prefix("CapBnd:\t")).expect("CapBnd").to_string();
    let t = AtTerminal::start(
        &state,
        &["exec", "-t", "--privileged", "host", "grep", "-E", "CapEff|Seccomp:", "/proc/self/status"],
    );
    let (code, text) = t.wait_for_exit_and_text();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("CapEff:\t{host}")) && text.contains("Seccomp:\t2"), "{text}");
    state.ok(&["rm", "-f", "host"]);
}

#[test]
fn attach_without_a_terminal_keeps_the_streams_apart() {
    let state = state_with_busybox();
    state.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "echoer",
        IMAGE,
        "sh",
        "-c",
        "while read l; do echo out:$l; echo err:$l >&2; done; echo input-ended",
    ]);
    let mut attach = Command::new(BERTH)
        .args(["attach", "echoer"])
        .env_clear()
        .env("BERTH_ROOT", state.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth runs");
    attach.stdin.take().expect("stdin").write_all(b"one\ntwo\n").expect("write");
    wait_for("the input to be read", || state.ok(&["logs", "echoer"]).contains("out:two"));
    // Without --rm or `run`'s stdin_once, the input stays open when an attached client's
    // ends: the loop is still reading.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!state.ok(&["logs", "echoer"]).contains("input-ended"));
    state.ok(&["stop", "-t", "0", "echoer"]);
    let out = attach.wait_with_output().expect("attach ends with the container");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out:one\nout:two\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err:one\nerr:two\n");
    assert_eq!(out.status.code(), Some(137), "the container's exit code");
}

#[test]
fn attach_refuses_a_stopped_container() {
    let state = state_with_busybox();
    state.ok(&["create", "--name", "idle", IMAGE, "true"]);
    let out = state.berth(&["attach", "idle"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(crate::support::stderr(&out).contains("idle") && crate::support::stderr(&out).contains("not running"));
}

#[test]
fn compose_tty_and_stdin_open_services_can_be_attached() {
    let state = state_with_busybox();
    let file = state.dir.path().join("compose.yaml");
    std::fs::write(
        &file,
        format!("name: ttyproj\nservices:\n  shell:\n    image: {IMAGE}\n    command: sh\n    tty: true\n    stdin_open: true\n"),
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "ttyproj-shell-1"])).expect("json");
    assert_eq!(inspect[0]["Config"]["Tty"], true);
    assert_eq!(inspect[0]["Config"]["OpenStdin"], true);
    let mut t = AtTerminal::start(&state, &["-f", f, "attach", "shell"]);
    t.send("echo from-compose-$((3*3))\r");
    t.expect("from-compose-9");
    t.send("\x10\x11");
    assert_eq!(t.wait(), 0);
    assert!(state.ok(&["-f", f, "ps"]).contains("ttyproj-shell-1"), "still running after the detach");
    // As with Docker Compose, exec at a terminal gets one unless -T.
    let t = AtTerminal::start(&state, &["-f", f, "exec", "shell", "tty"]);
    assert_eq!(t.wait_for_exit_and_text().0, 0);
    let t = AtTerminal::start(&state, &["-f", f, "exec", "-T", "shell", "tty"]);
    let (code, text) = t.wait_for_exit_and_text();
    assert!(code != 0 && text.contains("not a tty"), "{text}");
    state.ok(&["-f", f, "down", "-t", "0"]);
}

/// What a terminal of the test's size shows once `bytes` were written to it.
fn screen(bytes: &str) -> String {
    let mut parser = vt100::Parser::new(30, 100, 0);
    parser.process(bytes.as_bytes());
    parser.screen().contents()
}

#[test]
fn up_at_a_terminal_redraws_a_block_of_progress() {
    let state = state_with_busybox();
    let file = state.dir.path().join("compose.yaml");
    let yaml = format!(
        "name: blockproj\nservices:\n  db:\n    image: {IMAGE}\n    command: [sleep, '600']\n  web:\n    image: {IMAGE}\n    command: [sleep, '600']\n    depends_on: [db]\n"
    );
    std::fs::write(&file, yaml).expect("write");
    let f = file.to_str().expect("utf-8");
    let (code, text) = AtTerminal::start(&state, &["-f", f, "up", "-d"]).wait_for_exit_and_text();
    assert_eq!(code, 0, "{text}");
    let shown = screen(&text);
    assert!(shown.contains("[+] Running 3/3"), "a network and two containers: {shown}");
    let web: Vec<&str> = shown.lines().filter(|l| l.contains("Container blockproj-web-1")).collect();
    assert_eq!(web.len(), 1, "one line per object, redrawn in place: {shown}");
    assert!(web[0].starts_with(" ✔ ") && web[0].contains("Started") && web[0].trim_end().ends_with('s'), "{shown}");
    assert!(text.contains("\x1b["), "the block is redrawn with cursor movements");
    // Plain lines when asked, even at a terminal.
    state.ok(&["-f", f, "down", "-t", "0"]);
    let (_, text) = AtTerminal::start(&state, &["-f", f, "--progress", "plain", "up", "-d"]).wait_for_exit_and_text();
    assert!(!text.contains("[+] Running") && text.contains("Container blockproj-db-1"), "{text}");
    let out = state.berth(&["-f", f, "--progress", "json", "down", "-t", "0"]);
    let events: Vec<serde_json::Value> =
        crate::support::stderr(&out).lines().map(|l| serde_json::from_str(l).expect("a JSON event")).collect();
    assert!(events.iter().any(|e| e["id"] == "Container blockproj-web-1" && e["status"] == "Removed"), "{events:?}");
}

#[test]
fn stats_at_a_terminal_redraws_its_table() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "watched", IMAGE, "sleep", "600"]);
    let t = AtTerminal::start(&state, &["stats"]);
    // Two readings drawn: the screen is cleared before each.
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.text().matches("CONTAINER ID").count() < 2 {
        assert!(Instant::now() < deadline, "stats drew {:?}", t.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let shown = screen(&t.text());
    assert_eq!(shown.matches("CONTAINER ID").count(), 1, "one table on the screen: {shown}");
    let row = shown.lines().find(|l| l.contains("watched")).unwrap_or_else(|| panic!("no row: {shown}"));
    assert!(row.contains('%') && row.contains(" / "), "{row}");
    drop(t);
    state.ok(&["rm", "-f", "watched"]);
}
