//! What must not be readable, or steerable, by those berth does not trust: other local users
//! (the state directory is root's), and images (labels in Compose's and berth's namespaces).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::containers::{IMAGE, state_with_busybox};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn the_state_directory_and_container_records_are_roots_alone() {
    let state = state_with_busybox();
    state.ok(&["run", "-d", "--name", "secret", "-e", "DB_PASSWORD=hunter2", IMAGE, "sh", "-c", "echo hi; sleep 100"]);
    let id = state.ok(&["inspect", "-f", "{{.Id}}", "secret"]).trim().to_string();
    let dir = state.root().join("containers").join(&id);
    assert_eq!(mode(&state.root()), 0o710, "the state root, as Docker's");
    assert_eq!(mode(&state.root().join("containers")), 0o700);
    for file in ["config.json", "state.json", "log.json", "shim.sock"] {
        let m = mode(&dir.join(file));
        assert_eq!(m & 0o077, 0, "{file} is {m:o}: others read it");
    }
    // What the container itself reads stays readable to its users.
    assert_eq!(mode(&dir.join("hosts")), 0o644);
    state.ok(&["rm", "-f", "secret"]);
}

#[test]
fn an_image_cannot_make_a_container_a_member_of_a_project() {
    let state = state_with_busybox();
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {IMAGE}\nLABEL com.docker.compose.project=victim com.docker.compose.service=db com.docker.compose.depends_on=x:service_started:false berth.build=x own=kept\n"
        ),
    )
    .expect("write");
    state.ok(&["build", "-t", "local/labelled:1", dir.path().to_str().expect("utf-8")]);
    state.ok(&["run", "-d", "--name", "plain", "local/labelled:1", "sleep", "100"]);
    let labels: serde_json::Value =
        serde_json::from_str(&state.ok(&["inspect", "-f", "{{json .Config.Labels}}", "plain"])).expect("json");
    assert_eq!(labels["own"], "kept", "{labels}");
    let keys: Vec<&String> = labels.as_object().expect("labels").keys().collect();
    assert!(keys.iter().all(|k| !k.starts_with("com.docker.compose.") && !k.starts_with("berth.")), "{keys:?}");
    assert!(!state.ok(&["ls", "-a"]).contains("victim"), "no project victim");
    let down = state.berth(&["-p", "victim", "down"]);
    assert!(down.status.success());
    assert!(state.ok(&["ps"]).contains("plain"), "down of another project leaves it alone");
    state.ok(&["rm", "-f", "plain"]);
}

#[test]
fn mounts_over_proc_sys_and_dev_are_refused_before_anything_is_created() {
    let state = state_with_busybox();
    let src = tempfile::tempdir().expect("tmp");
    let src = src.path().to_str().expect("utf-8").to_string();
    // A volume whose /dev would send the runtime's /dev/null masks to the host's core_pattern.
    state.ok(&["volume", "create", "devices"]);
    state.ok(&["run", "--rm", "-v", "devices:/d", IMAGE, "ln", "-s", "/proc/sys/kernel/core_pattern", "/d/null"]);
    let core_pattern = fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern");
    for (mount, words) in [
        (format!("{src}:/proc"), "/proc"),
        (format!("{src}:/proc/sys/y"), "/proc/sys/y"),
        (format!("{src}:/sys/kernel/y"), "sysfs has no /sys/kernel/y"),
        ("devices:/dev".to_string(), "the container's /dev"),
    ] {
        let out = state.berth(&["run", "--rm", "--name", "victim", "-v", &mount, IMAGE, "true"]);
        assert_eq!(crate::containers::code(&out), 125, "-v {mount}: {}", crate::support::stderr(&out));
        let e = crate::support::stderr(&out);
        assert!(e.contains(&format!("mount {}", mount.split(':').nth(1).expect("target"))), "names the mount: {e}");
        assert!(e.contains(words), "-v {mount}: {e}");
        assert_eq!(state.ok(&["ps", "-aq"]), "", "-v {mount}: nothing is created");
    }
    assert_eq!(fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern"), core_pattern);
    // What lxcfs users bind stays allowed.
    let meminfo = format!("{src}/meminfo");
    fs::write(&meminfo, "MemTotal: 1 kB\n").expect("write");
    let out =
        state.ok(&["run", "--rm", "-v", &format!("{meminfo}:/proc/meminfo:ro"), IMAGE, "head", "-1", "/proc/meminfo"]);
    assert_eq!(out.trim(), "MemTotal: 1 kB");
    state.ok(&["volume", "rm", "devices"]);
}
