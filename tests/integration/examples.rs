//! The examples, run as their READMEs say: the debootstrap dev stack (PostgreSQL, Redis, a
//! Python app reading both, nginx in front) comes up in health order, answers through nginx,
//! and keeps its database across `down` and `up`. (The quickstart is in `compose.rs`.)

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use crate::compose::assert_before;
use crate::images::State;
use crate::support::{BERTH, stderr, stdout};

/// A page through nginx, retried while the stack settles.
fn get(port: u16) -> String {
    let once = || -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        reply.starts_with("HTTP/1.1 200").then(|| reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string()))?
    };
    for _ in 0..100 {
        if let Some(page) = once() {
            return page;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the dev stack does not answer on 127.0.0.1:{port}");
}

#[test]
fn the_dev_stack_comes_up_in_order_and_keeps_its_data() {
    let state = State::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/devstack");
    // The image: debootstrap the first time (about a minute), the cached tarball afterwards.
    let built = Command::new("bash")
        .arg(dir.join("build-image.sh"))
        .env("BERTH", BERTH)
        .env("BERTH_ROOT", state.root())
        .output()
        .expect("bash runs");
    assert!(built.status.success(), "build-image.sh: {}", stderr(&built));

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let env = state.dir.path().join("devstack.env");
    std::fs::write(&env, format!("DEVSTACK_PORT={port}\n")).expect("write");
    let file = dir.join("compose.yaml");
    let (f, e) = (file.to_str().expect("utf-8"), env.to_str().expect("utf-8"));
    let up = state.berth(&["-f", f, "--env-file", e, "up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let progress = stderr(&up);
    assert_before(&progress, ("devstack-db-1", "Healthy"), ("devstack-app-1", "Starting"));
    assert_before(&progress, ("devstack-cache-1", "Healthy"), ("devstack-app-1", "Starting"));
    assert_before(&progress, ("devstack-app-1", "Healthy"), ("devstack-web-1", "Starting"));

    assert_eq!(get(port), "visits stored in postgres: 1; counted by redis: 1\n");
    assert_eq!(get(port), "visits stored in postgres: 2; counted by redis: 2\n");
    let logs = state.ok(&["-f", f, "--env-file", e, "logs", "app"]);
    assert!(logs.contains("\"GET / HTTP/1.0\" 200"), "{logs}");

    // The database's volume outlives down; Redis keeps nothing (--save '').
    state.ok(&["-f", f, "--env-file", e, "down"]);
    let up = state.berth(&["-f", f, "--env-file", e, "up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(get(port), "visits stored in postgres: 3; counted by redis: 1\n");
    let ps = stdout(&state.berth(&["-f", f, "--env-file", e, "ps"]));
    assert_eq!(ps.matches("(healthy)").count(), 4, "{ps}");
    state.ok(&["-f", f, "--env-file", e, "down", "-v", "-t", "2"]);
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "");
}
