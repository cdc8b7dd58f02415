//! Logging drivers against sockets the tests serve: syslog over UDP and a Unix datagram
//! socket, journald's native protocol on its socket (made for the test where the host has no
//! journal), and `none`.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use crate::containers::{IMAGE, code, state_with_busybox};
use crate::support::stderr;

/// The datagrams a socket gets within a few seconds, until `count` have come.
fn received(recv: impl Fn(&mut [u8]) -> std::io::Result<usize>, count: usize) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < count {
        match recv(&mut buf) {
            Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    got.sort();
    got
}

#[test]
fn syslog_sends_each_line_and_the_log_is_kept_too() {
    let state = state_with_busybox();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    udp.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let address = format!("syslog-address=udp://{}", udp.local_addr().expect("addr"));
    let flags = ["--log-driver", "syslog", "--log-opt", &address, "--log-opt", "tag={{.Name}}"];
    let run = [&["run", "--name", "talker"][..], &flags, &[IMAGE, "sh", "-c", "echo out; echo err >&2"]].concat();
    state.ok(&run);
    let got = received(|b| udp.recv(b), 2);
    assert_eq!(got.len(), 2, "{got:?}");
    // daemon (3) * 8 + err (3), and + info (6); RFC 3164, tagged with the container's name.
    assert!(got[0].starts_with("<27>") && got[0].contains(" talker[") && got[0].ends_with("]: err"), "{got:?}");
    assert!(got[1].starts_with("<30>") && got[1].ends_with("]: out"), "{got:?}");
    assert_eq!(state.ok(&["logs", "talker"]), "out\n", "the container's own log is kept as well");

    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("log.sock");
    let unix = UnixDatagram::bind(&path).expect("bind");
    unix.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let address = format!("syslog-address=unixgram://{}", path.display());
    let flags = ["--log-driver", "syslog", "--log-opt", &address, "--log-opt", "syslog-format=rfc5424"];
    let opts = ["--log-opt", "syslog-facility=local0"];
    state.ok(&[&["run", "--rm"][..], &flags, &opts, &[IMAGE, "echo", "five-four-two-four"]].concat());
    let got = received(|b| unix.recv(b), 1);
    assert!(got.len() == 1 && got[0].starts_with("<134>1 ") && got[0].ends_with(" - five-four-two-four"), "{got:?}");

    let out =
        state.berth(&["run", "--rm", "--log-driver", "syslog", "--log-opt", "syslog-address=udp://", IMAGE, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("invalid syslog-address"), "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", "--log-driver", "fluentd", IMAGE, "true"]);
    assert!(stderr(&out).contains("driver \"fluentd\" is not supported"), "{}", stderr(&out));
    state.ok(&["rm", "talker"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created by the refusals");
}

/// The journal's socket, served by the test where the host has none, removed afterwards.
struct Journal {
    socket: UnixDatagram,
    made: Vec<&'static str>,
}

impl Journal {
    fn serve() -> Option<Journal> {
        let path = Path::new("/run/systemd/journal/socket");
        if path.exists() {
            return None;
        }
        let mut made = Vec::new();
        for dir in ["/run/systemd", "/run/systemd/journal"] {
            if !Path::new(dir).exists() {
                std::fs::create_dir(dir).expect("mkdir");
                made.push(dir);
            }
        }
        let socket = UnixDatagram::bind(path).expect("bind the journal's socket");
        socket.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        Some(Journal { socket, made })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = std::fs::remove_file("/run/systemd/journal/socket");
        for dir in self.made.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[test]
fn journald_gets_entries_with_dockers_fields_and_none_keeps_nothing() {
    let state = state_with_busybox();
    match Journal::serve() {
        None => eprintln!("skipped the journald part: this host runs a journal of its own"),
        Some(journal) => {
            let attrs = ["--label", "com.example.tier=front", "--log-opt", "labels=com.example.tier"];
            let run = [&["run", "--name", "noted", "--log-driver", "journald"][..], &attrs, &[IMAGE, "echo", "hello"]];
            state.ok(&run.concat());
            let got = received(|b| journal.socket.recv(b), 1);
            assert_eq!(got.len(), 1, "{got:?}");
            let fields = [
                "MESSAGE=hello\n",
                "PRIORITY=6\n",
                "CONTAINER_NAME=noted\n",
                "IMAGE_NAME=",
                "COM_EXAMPLE_TIER=front\n",
            ];
            for field in fields {
                assert!(got[0].contains(field), "{field}: {got:?}");
            }
            state.ok(&["rm", "noted"]);
        }
    }
    // Without a journal the driver is refused before anything exists.
    if !Path::new("/run/systemd/journal/socket").exists() {
        let out = state.berth(&["run", "--rm", "--log-driver", "journald", IMAGE, "true"]);
        assert!(stderr(&out).contains("this host has no journal"), "{}", stderr(&out));
    }

    state.ok(&["run", "--name", "quiet", "--log-driver", "none", IMAGE, "echo", "unkept"]);
    let out = state.berth(&["logs", "quiet"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("configured logging driver does not support reading"), "{}", stderr(&out));
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "quiet"])).expect("json");
    let id = inspect[0]["Id"].as_str().expect("an Id");
    let log = state.root().join("containers").join(id).join("log.json");
    assert_eq!(std::fs::read_to_string(log).unwrap_or_default(), "", "nothing kept");
    state.ok(&["rm", "quiet"]);
}

/// The files of container `name`'s log directory whose names start with `log.json`, once
/// no plain rotated file but the newest is left (compression runs beside the container).
fn log_files(state: &crate::images::State, name: &str, compressed: bool) -> Vec<String> {
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", name])).expect("json");
    let dir = state.root().join("containers").join(inspect[0]["Id"].as_str().expect("an Id"));
    let list = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("container dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("log.json"))
            .collect();
        names.sort();
        names
    };
    for _ in 0..100 {
        let names = list();
        if !compressed || !names.iter().any(|n| n == "log.json.2") {
            return names;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    list()
}

#[test]
fn file_drivers_carry_the_attributes_asked_for_and_compress_what_they_rotate() {
    let state = state_with_busybox();
    let count = "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done";
    let opts = [
        "--label",
        "tier=front",
        "-e",
        "APP_MODE=prod two",
        "--log-opt",
        "labels=tier",
        "--log-opt",
        "env=APP_MODE",
        "--log-opt",
        "tag={{.Name}}",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=4",
        "--log-opt",
        "compress=true",
    ];
    state.ok(&[&["run", "--name", "chatty"][..], &opts, &[IMAGE, "sh", "-c", count]].concat());
    let files = log_files(&state, "chatty", true);
    assert_eq!(files, ["log.json", "log.json.1", "log.json.2.gz", "log.json.3.gz"], "the older rotated files gzipped");
    let details = state.ok(&["logs", "--details", "chatty"]);
    let last = details.lines().last().unwrap_or_default();
    assert_eq!(last, "APP_MODE=prod+two,tag=chatty,tier=front line 299", "Docker's --details: {details}");
    let plain = state.ok(&["logs", "chatty"]);
    let numbers: Vec<u32> = plain.lines().map(|l| l.trim_start_matches("line ").parse().expect("a line")).collect();
    assert!(numbers.len() > 10, "lines from the compressed files too: {plain}");
    assert_eq!(numbers, (numbers[0]..300).collect::<Vec<_>>(), "in order, none lost between the kept files");
    let tail = state.ok(&["logs", "-n", "3", "chatty"]);
    assert_eq!(tail, "line 297\nline 298\nline 299\n");
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "chatty"])).expect("json");
    assert_eq!(inspect[0]["HostConfig"]["LogConfig"]["Config"]["compress"], "true", "the options as given");

    // `local` compresses by default; compress without rotation is refused, as Docker refuses it.
    let local = ["--log-driver", "local", "--log-opt", "max-size=1k"];
    state.ok(&[&["run", "--name", "local"][..], &local, &[IMAGE, "sh", "-c", count]].concat());
    let files = log_files(&state, "local", true);
    assert!(files.contains(&"log.json.2.gz".to_string()) && files.len() == 5, "five files by default: {files:?}");
    assert!(state.ok(&["logs", "local"]).ends_with("line 299\n"));
    let out = state.berth(&["run", "--rm", "--log-opt", "compress=true", IMAGE, "true"]);
    assert!(stderr(&out).contains("compress cannot be true when max-file is less than 2"), "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", "--log-opt", "env-regex=(", IMAGE, "true"]);
    assert!(stderr(&out).contains("invalid env-regex"), "{}", stderr(&out));
    state.ok(&["rm", "chatty", "local"]);
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created by the refusals");
}
