//! Secrets and configs as a Docker Compose user writes them: files, environment variables and
//! inline content, read-only in the container at their targets with the owner and mode asked,
//! readable by root alone on the host, and a changed one recreating the container.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::containers::{code, state_with_busybox};
use crate::support::stderr;

#[test]
fn secrets_and_configs_are_mounted_read_only() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("db_password.txt"), "s3cret\n").expect("write");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    fs::write(
        &file,
        format!(
            r#"name: sec
services:
  app:
    image: {image}
    command: [sleep, "300"]
    stop_grace_period: 1s
    secrets:
      - db_password
      - {{source: api_token, target: token, uid: "1000", gid: "1000", mode: 0400}}
    configs:
      - app_conf
      - {{source: inline, target: /etc/inline.conf}}
secrets:
  db_password: {{file: ./db_password.txt}}
  api_token: {{environment: BERTH_TEST_API_TOKEN}}
configs:
  app_conf: {{file: ./db_password.txt}}
  inline: {{content: "listen 80"}}
"#
        ),
    )
    .expect("write");
    let up = |extra: &[&str]| {
        let mut args = vec!["-f", f, "up", "-d"];
        args.extend_from_slice(extra);
        state.command(&args).env("BERTH_TEST_API_TOKEN", "tok-123").output().expect("berth runs")
    };
    let out = up(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inside = |cmd: &str| state.ok(&["-f", f, "exec", "app", "sh", "-c", cmd]);
    assert_eq!(inside("cat /run/secrets/db_password /run/secrets/token /app_conf"), "s3cret\ntok-123s3cret\n");
    assert_eq!(inside("cat /etc/inline.conf"), "listen 80");
    assert_eq!(
        inside("stat -c '%u:%g %a' /run/secrets/db_password /run/secrets/token /etc/inline.conf"),
        "0:0 444\n1000:1000 400\n0:0 444\n"
    );
    let out = state.berth(&["-f", f, "exec", "app", "sh", "-c", "echo x > /run/secrets/db_password"]);
    assert_ne!(code(&out), 0, "secrets are read-only");

    // On the host, the contents are in the container's directory, which only root reaches.
    let id = state.ok(&["-f", f, "ps", "-q", "app"]).trim().to_string();
    let container_dir = state.root().join("containers").join(&id);
    let containers = state.root().join("containers");
    let mode = fs::metadata(&containers).expect("stat").mode();
    assert_eq!(mode & 0o077, 0, "only root reaches the containers' directories");
    assert_eq!(fs::read_dir(container_dir.join("files")).expect("files").count(), 4);

    // Unchanged, up keeps the container; a changed secret replaces it.
    assert!(up(&[]).status.success());
    assert_eq!(state.ok(&["-f", f, "ps", "-q", "app"]).trim(), id, "nothing changed: kept");
    fs::write(dir.path().join("db_password.txt"), "rotated\n").expect("write");
    let out = up(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(state.ok(&["-f", f, "ps", "-q", "app"]).trim(), id, "a changed secret recreates the container");
    assert_eq!(inside("cat /run/secrets/db_password"), "rotated\n");
    // Mounted, never written into the container's layer: a commit carries none of them.
    state.ok(&["-f", f, "exec", "app", "touch", "/written"]);
    let diff = state.ok(&["diff", "sec-app-1"]);
    assert!(diff.contains("A /written\n"), "{diff}");
    for file in ["db_password", "inline.conf", "app_conf"] {
        assert!(!diff.contains(file), "{file} is no change of the container's: {diff}");
    }
    state.ok(&["commit", "sec-app-1", "sec-committed:1"]);
    let script = "ls /written; cat /run/secrets/* /etc/inline.conf /app_conf 2>/dev/null; true";
    let seen = state.ok(&["run", "--rm", "sec-committed:1", "sh", "-c", script]);
    // At most the empty mount points are left, never a content.
    assert_eq!(seen, "/written\n", "the committed layer holds no secret or config");
    state.ok(&["-f", f, "down", "-t", "0"]);

    // An unset variable, an external secret: refused by name before anything exists.
    let out = state.berth(&["-f", f, "up", "-d"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("BERTH_TEST_API_TOKEN is not set"), "{}", stderr(&out));
    // The variable may come from .env, as Docker Compose reads it.
    fs::write(dir.path().join(".env"), "BERTH_TEST_API_TOKEN=from-dotenv\n").expect("write");
    state.ok(&["-f", f, "up", "-d"]);
    assert_eq!(inside("cat /run/secrets/token"), "from-dotenv");
    state.ok(&["-f", f, "down", "-t", "0"]);
    fs::remove_file(dir.path().join(".env")).expect("remove");
    let text =
        fs::read_to_string(&file).expect("read").replace("{environment: BERTH_TEST_API_TOKEN}", "{external: true}");
    fs::write(&file, text).expect("write");
    let out = state.berth(&["-f", f, "up", "-d"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("secret \"api_token\" is external"), "{}", stderr(&out));
    for (from, to, says) in [
        ("{external: true}", "{file: ./missing.txt}", "missing.txt"),
        (
            "{source: api_token, target: token, uid: \"1000\", gid: \"1000\", mode: 0400}",
            "{source: app_conf, mode: nine}",
            "mode",
        ),
    ] {
        let text = fs::read_to_string(&file).expect("read").replace(from, to);
        fs::write(&file, text).expect("write");
        let out = state.berth(&["-f", f, "up", "-d"]);
        assert_ne!(code(&out), 0, "{to}");
        assert!(stderr(&out).contains(says), "{to}: {}", stderr(&out));
    }
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");
}
