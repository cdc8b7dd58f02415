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
            state.ok(&["run", "--name", "noted", "--log-driver", "journald", IMAGE, "sh", "-c", "echo hello"]);
            let got = received(|b| journal.socket.recv(b), 1);
            assert_eq!(got.len(), 1, "{got:?}");
            for field in ["MESSAGE=hello\n", "PRIORITY=6\n", "CONTAINER_NAME=noted\n", "IMAGE_NAME="] {
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
