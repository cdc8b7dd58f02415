//! The commands operators script: `--format` Go templates and `--filter` on the listings,
//! the prune commands (what is in use stays), and `info`.

use std::fs;

use crate::containers::{IMAGE, state_with_busybox};
use crate::support::{stderr, stdout};

#[test]
fn templates_and_filters_on_the_listings() {
    let state = state_with_busybox();
    state.ok(&["volume", "create", "--label", "keep=yes", "kept"]);
    state.ok(&["volume", "create", "loose"]);
    state.ok(&["network", "create", "--label", "tier=front", "frontnet"]);
    state.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "a.b=c",
        "-v",
        "kept:/data",
        "--network",
        "frontnet",
        IMAGE,
        "sleep",
        "600",
    ]);
    state.ok(&["run", "--name", "once", IMAGE, "true"]);

    let lines = state.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Networks}} {{.Mounts}}"]);
    assert!(lines.contains("web running frontnet kept\n") && lines.contains("once exited"), "{lines}");
    assert_eq!(state.ok(&["ps", "--format", r#"{{.Names}} {{.Label "a.b"}}"#]).trim(), "web c");
    let table = state.ok(&["ps", "--format", "table {{.Names}}\\t{{.Labels}}"]);
    assert_eq!(table.lines().next(), Some("NAMES     LABELS"), "{table}");
    assert!(table.contains("web       a.b=c"), "{table}");
    let inspect = [
        "inspect",
        "-f",
        r#"{{index .Config.Labels "a.b"}} {{range .Mounts}}{{.Destination}}{{end}} {{json .State.Running}} {{upper .Name}}"#,
        "web",
    ];
    assert_eq!(state.ok(&inspect).trim(), "c /data true /WEB");

    let images = state.ok(&["images", "--filter", "reference=local/busy*", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), IMAGE);
    assert_eq!(state.ok(&["images", "--filter", "reference=nothing*", "-q"]), "");
    assert_eq!(state.ok(&["images", "--filter", "dangling=true", "-q"]), "", "berth keeps no nameless image");

    let nets = state.ok(&["network", "ls", "--filter", "label=tier=front", "--format", "{{.Name}} {{.Labels}}"]);
    assert_eq!(nets.trim(), "frontnet tier=front");
    let vols = state.ok(&["volume", "ls", "--filter", "dangling=true", "--format", "{{.Name}}"]);
    assert_eq!(vols.trim(), "loose", "kept is mounted by web");
    assert_eq!(state.ok(&["volume", "ls", "-q", "--filter", "label=keep"]).trim(), "kept");

    let bad = state.berth(&["images", "--filter", "colour=red"]);
    assert!(!bad.status.success() && stderr(&bad).contains("\"colour\""), "{}", stderr(&bad));
    let bad = state.berth(&["ps", "--format", "{{.Nope}}"]);
    assert!(!bad.status.success() && stderr(&bad).contains("Nope"), "{}", stderr(&bad));
}

#[test]
fn prune_keeps_what_is_in_use_and_removes_the_rest() {
    let state = state_with_busybox();
    state.ok(&["network", "create", "used"]);
    state.ok(&["network", "create", "unused"]);
    state.ok(&["volume", "create", "named"]);
    state.ok(&["run", "-d", "--name", "runner", "--network", "used", "-v", "named:/n", IMAGE, "sleep", "600"]);
    state.ok(&["run", "--name", "stopped", "-v", "/anon", IMAGE, "true"]);
    state.ok(&["run", "--name", "labelled", "-l", "keep=1", IMAGE, "true"]);
    let context = state.dir.path().join("ctx");
    fs::create_dir_all(&context).expect("context");
    fs::write(context.join("Dockerfile"), format!("FROM {IMAGE}\nRUN echo built > /built\n")).expect("Dockerfile");
    state.ok(&["build", "-t", "built:1", context.to_str().expect("utf-8")]);
    let names = || state.ok(&["ps", "-a", "--format", "{{.Names}}"]);

    // Declined (and no answer at all): nothing goes, and the exit code says so.
    let out = state.berth_with_input(&["container", "prune"], "n\n");
    assert!(!out.status.success() && stdout(&out).contains("WARNING! This will remove all stopped containers."));
    assert!(names().contains("stopped"));
    assert!(!state.berth(&["system", "prune"]).status.success());

    // A label filter spares the others.
    let out = state.berth_with_input(&["container", "prune", "--filter", "label=keep"], "y\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!names().contains("labelled") && names().contains("stopped"), "{}", names());

    let cache = || state.ok(&["system", "df", "--format", "{{if eq .Type \"Build Cache\"}}{{.TotalCount}}{{end}}"]);
    assert_ne!(cache().trim(), "0", "the build left cache records");
    let out = state.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Containers:") && out.contains("\nunused\n"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(names().trim(), "runner", "the running container stays");
    let nets = state.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.contains("used") && !nets.contains("unused"), "{nets}");
    assert_eq!(state.ok(&["volume", "ls", "-q"]).trim(), "named", "the anonymous volume went, the named one stays");
    assert_eq!(cache().trim(), "0", "the build cache is pruned");
    assert!(state.ok(&["images", "-q"]).lines().count() == 2, "images stay without -a");

    // -a: every image no container uses goes; the one runner uses stays.
    let out = state.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: docker.io/library/built:1"), "{out}");
    assert_eq!(state.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).trim(), IMAGE);
    state.ok(&["rm", "-f", "runner"]);
}

#[test]
fn info_describes_the_host() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "up", IMAGE, "sleep", "600"]);
    let facts: serde_json::Value = serde_json::from_str(&state.ok(&["info", "--format", "json"])).expect("json");
    assert_eq!(facts["ContainersRunning"], 1);
    assert_eq!(facts["Images"], 1);
    assert!(["1", "2"].contains(&facts["CgroupVersion"].as_str().unwrap_or("")), "{facts}");
    assert!(facts["NCPU"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(state.ok(&["system", "info", "--format", "{{.OSType}}/{{.Driver}}"]).trim(), "linux/overlay2");
    let pretty = state.ok(&["info"]);
    assert!(pretty.contains(" Containers: 1\n  Running: 1\n") && pretty.contains("Kernel Version:"), "{pretty}");
    state.ok(&["rm", "-f", "up"]);
}

#[test]
fn viz_draws_the_project() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let yaml = "name: pic\nservices:\n  db:\n    image: postgres:16\n  web:\n    image: web:1\n    ports: ['8080:80']\n    depends_on:\n      db: {condition: service_healthy}\n";
    fs::write(&file, yaml).expect("write");
    let f = file.to_str().expect("utf-8");
    let run = |args: &[&str]| stdout(&crate::support::berth(dir.path(), &[&["-f", f, "viz"], args].concat(), &[]));
    let tree = run(&["--image", "--ports"]);
    assert!(tree.starts_with("pic\n├── level 1\n│   └── db\n"), "{tree}");
    assert!(tree.contains("waits for db: service_healthy") && tree.contains("ports: 8080:80/tcp"), "{tree}");
    let dot = run(&["--format", "dot"]);
    assert!(dot.contains("\"web\" -> \"db\" [label=\"service_healthy\"];"), "{dot}");
    assert!(run(&["--format", "mermaid"]).contains("web -->|service_healthy| db"));
}

#[test]
fn attached_up_prefixes_as_compose_and_ctrl_c_exits_130() {
    let state = state_with_busybox();
    let file = state.dir.path().join("compose.yaml");
    let yaml = format!(
        "name: intr\nservices:\n  talker:\n    image: {IMAGE}\n    command: [sh, -c, 'echo said; exec sleep 600']\n    stop_grace_period: 1s\n"
    );
    fs::write(&file, yaml).expect("write");
    let f = file.to_str().expect("utf-8");
    let child = state
        .command(&["-f", f, "up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("berth runs");
    crate::containers::wait_for("the service's line", || state.ok(&["-f", f, "logs", "talker"]).contains("said"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("Ctrl-C");
    let out = child.wait_with_output().expect("berth ends");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stdout(&out).contains("talker-1  | said\n"), "Docker Compose's prefix: {}", stdout(&out));
    assert!(stderr(&out).contains("Gracefully stopping"), "{}", stderr(&out));
    state.ok(&["-f", f, "down", "-t", "0"]);
}
