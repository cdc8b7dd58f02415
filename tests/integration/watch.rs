//! `watch` and the `develop.watch` rules, against a real project: sync, restart, initial
//! sync, and rebuild.

use std::fs;

use crate::compose::{project, with_latest_tag};
use crate::support::stdout;

/// Kills the `watch` process when the test ends, however it ends.
struct Watching(std::process::Child);

impl Watching {
    /// `berth -f FILE watch` in the background.
    fn start(state: &crate::images::State, file: &str) -> Watching {
        let child = state
            .command(&["-f", file, "watch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("berth runs");
        Watching(child)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_syncs_edits_and_restarts() {
    let state = with_latest_tag();
    let (dir, f) = project(
        "name: watched
services:
  web:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"date +%s%N > /tmp/started; exec sleep 600\"]
    stop_grace_period: 1s
    develop:
      watch:
        - path: ./site
          action: sync
          target: /srv/site
          ignore: [\"*.tmp\"]
        - path: ./conf
          action: restart
        - path: ./seed
          action: sync
          target: /srv/seed
          initial_sync: true
",
    );
    fs::create_dir_all(dir.path().join("seed")).expect("mkdir");
    fs::write(dir.path().join("seed/hello"), "hi\n").expect("write");
    let site = dir.path().join("site");
    fs::create_dir_all(site.join("old")).expect("mkdir");
    fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
    let _watching = Watching::start(&state, &f);
    let exec = |cmd: &str| stdout(&state.berth(&["-f", &f, "exec", "web", "sh", "-c", cmd]));
    crate::containers::wait_for("the service", || exec("echo up") == "up\n");
    let started = exec("cat /tmp/started");
    // initial_sync: what is on the host already is in the container, without an edit.
    crate::containers::wait_for("the initial sync", || exec("cat /srv/seed/hello 2>/dev/null") == "hi\n");
    // The watcher is set up after the service starts; edit until the first sync shows.
    crate::containers::wait_for("the first sync", || {
        fs::write(site.join("index.html"), "v1\n").expect("write");
        exec("cat /srv/site/index.html 2>/dev/null") == "v1\n"
    });
    // A new directory with a file in it, an ignored file, a deletion.
    fs::create_dir_all(site.join("new/deep")).expect("mkdir");
    fs::write(site.join("new/deep/page.html"), "deep\n").expect("write");
    fs::write(site.join("scratch.tmp"), "ignored\n").expect("write");
    fs::remove_dir(site.join("old")).expect("rmdir");
    crate::containers::wait_for("the second sync", || exec("cat /srv/site/new/deep/page.html 2>/dev/null") == "deep\n");
    assert_eq!(exec("ls /srv/site"), "index.html\nnew\n", "old removed, scratch.tmp ignored");
    assert_eq!(exec("cat /tmp/started"), started, "a sync does not restart");
    // A change under the restart rule restarts the container.
    fs::write(dir.path().join("conf/app.conf"), "x=1\n").expect("write");
    crate::containers::wait_for("the restart", || {
        let now = exec("cat /tmp/started 2>/dev/null");
        !now.is_empty() && now != started
    });
    state.ok(&["-f", &f, "down", "-t", "0"]);
}

#[test]
fn watch_rebuilds_the_image_and_recreates_the_service() {
    let state = with_latest_tag();
    let (dir, f) = project(
        "name: rebuilt
services:
  app:
    build: ./app
    image: local/rebuilt:dev
    stop_grace_period: 1s
    develop:
      watch:
        - path: ./app
          action: rebuild
",
    );
    let app = dir.path().join("app");
    fs::create_dir_all(&app).expect("mkdir");
    fs::write(app.join("Dockerfile"), "FROM busybox:latest\nCOPY version /version\nCMD [\"sleep\", \"600\"]\n")
        .expect("write");
    fs::write(app.join("version"), "v1\n").expect("write");
    let _watching = Watching::start(&state, &f);
    let version = || stdout(&state.berth(&["-f", &f, "exec", "app", "cat", "/version"]));
    crate::containers::wait_for("the service", || version() == "v1\n");
    let first = state.ok(&["-f", &f, "ps", "-q", "app"]);
    // The watcher is set up after the service starts; edit until the rebuilt image runs.
    crate::containers::wait_for("the rebuild", || {
        fs::write(app.join("version"), "v2\n").expect("write");
        version() == "v2\n"
    });
    assert_ne!(state.ok(&["-f", &f, "ps", "-q", "app"]), first, "a new container of the new image");
    state.ok(&["-f", &f, "down", "-t", "0"]);
    state.ok(&["rmi", "local/rebuilt:dev"]);
}
