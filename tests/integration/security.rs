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

/// A build context whose links point at the host, and stages whose links point at the host's
/// files: nothing of the host's gets into the image.
#[test]
fn builds_never_read_the_hosts_files_through_links() {
    let state = state_with_busybox();
    let host_file = "/etc/debian_version";
    let secret = fs::read_to_string(host_file).expect("the host is Debian");
    let ctx = tempfile::tempdir().expect("tmp");
    std::os::unix::fs::symlink("/etc", ctx.path().join("etc-link")).expect("link");
    std::os::unix::fs::symlink(host_file, ctx.path().join("file-link")).expect("link");
    // A `.dockerignore` that links to a file outside is resolved inside the context (where
    // there is none), so the outside file's pattern does not apply.
    let outside = tempfile::NamedTempFile::new().expect("tmp");
    fs::write(outside.path(), "kept.txt\n").expect("write");
    std::os::unix::fs::symlink(outside.path(), ctx.path().join(".dockerignore")).expect("link");
    fs::write(ctx.path().join("kept.txt"), "kept\n").expect("write");
    let build = |dockerfile: &str| {
        fs::write(ctx.path().join("Dockerfile"), dockerfile).expect("write");
        state.berth(&["build", "-q", "-t", "local/attack:1", ctx.path().to_str().expect("utf-8")])
    };
    let leaked = |state: &crate::images::State| {
        let out = state.berth(&["run", "--rm", "local/attack:1", "sh", "-c", "cat /x /x/* 2>/dev/null; true"]);
        crate::support::stdout(&out).contains(secret.trim())
    };
    let out = build(&format!("FROM {IMAGE}\nCOPY kept.txt /kept.txt\n"));
    assert!(out.status.success(), "the outside .dockerignore is not read: {}", crate::support::stderr(&out));
    state.ok(&["rmi", "local/attack:1"]);
    for dockerfile in [
        format!("FROM {IMAGE}\nCOPY etc-link/debian_version /x\n"),
        format!("FROM {IMAGE}\nCOPY file-link /x\n"),
        format!("FROM {IMAGE}\nCOPY etc-link /x\n"),
        format!("FROM {IMAGE}\nADD file-link /x\n"),
        format!("FROM {IMAGE} AS stage\nRUN ln -s {host_file} /link\nFROM {IMAGE}\nCOPY --from=stage /link /x\n"),
        format!("FROM {IMAGE} AS stage\nRUN ln -s /etc /dir\nFROM {IMAGE}\nCOPY --from=stage /dir/debian_version /x\n"),
    ] {
        let out = build(&dockerfile);
        if out.status.success() {
            assert!(!leaked(&state), "{dockerfile}: the host's {host_file} is in the image");
            state.ok(&["rmi", "local/attack:1"]);
        }
    }
}

/// CVE-2025-52881's class: what a container asks to be written under /proc (sysctls,
/// oom_score_adj) lands in its own procfs and process, never the host's.
#[test]
fn proc_writes_go_to_the_containers_own_procfs() {
    let state = state_with_busybox();
    let read = |p: &str| fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let port_start = read("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    let args = ["run", "-d", "--name", "procs", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80"];
    state.ok(&[&args[..], &["--oom-score-adj", "500", IMAGE, "sleep", "100"]].concat());
    let inside = state.ok(&["exec", "procs", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]);
    assert_eq!(inside, "80\n");
    assert_eq!(read("/proc/sys/net/ipv4/ip_unprivileged_port_start"), port_start, "the host's value is untouched");
    let pid = state.ok(&["inspect", "-f", "{{.State.Pid}}", "procs"]).trim().to_string();
    assert_eq!(read(&format!("/proc/{pid}/oom_score_adj")).trim(), "500", "the container's command has its score");
    let status = read(&format!("/proc/{pid}/status"));
    let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:")).expect("PPid").trim().to_string();
    assert_eq!(read(&format!("/proc/{ppid}/oom_score_adj")).trim(), "0", "the shim keeps its own score");
    state.ok(&["rm", "-f", "procs"]);
}

/// CVE-2024-21626's class: a process berth starts in a container (the command, `exec`, a
/// healthcheck) holds only fds 0-2 of its own (3 is `ls`'s handle on the directory).
#[test]
fn exec_and_healthchecks_inherit_no_descriptors() {
    let state = state_with_busybox();
    let health = "ls /proc/self/fd > /tmp/health-fds";
    state.ok(&["run", "-d", "--name", "fds", "--health-cmd", health, "--health-interval", "1s", IMAGE, "sleep", "100"]);
    let exec = state.ok(&["exec", "fds", "ls", "/proc/self/fd"]);
    assert_eq!(exec.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "exec: {exec}");
    let exec_t = state.ok(&["exec", "-i", "fds", "ls", "/proc/self/fd"]);
    assert_eq!(exec_t.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "exec -i: {exec_t}");
    crate::containers::wait_for("a healthcheck", || {
        state.berth(&["exec", "fds", "test", "-s", "/tmp/health-fds"]).status.success()
    });
    let checked = state.ok(&["exec", "fds", "cat", "/tmp/health-fds"]);
    assert_eq!(checked.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "healthcheck: {checked}");
    state.ok(&["rm", "-f", "fds"]);
}

/// CVE-2025-31133 and CVE-2025-52565's classes: an image whose /dev plants `null` and
/// `console` links and a `pts/0` link to the host's files. With and without a terminal the
/// container gets a /dev of its own, and the host's files are untouched.
#[test]
fn an_images_planted_dev_links_reach_nothing_of_the_host() {
    use crate::registry::busybox_layer;
    let state = state_with_busybox();
    let layer = busybox_layer()
        .dir("dev/")
        .symlink("dev/null", "/proc/sys/kernel/core_pattern")
        .symlink("dev/console", "/proc/sysrq-trigger")
        .dir("dev/pts/")
        .symlink("dev/pts/0", "/proc/sys/kernel/core_pattern");
    let (_, gz) = layer.finish();
    let tarball = state.dir.path().join("planted.tar.gz");
    fs::write(&tarball, gz).expect("write");
    state.ok(&["import", tarball.to_str().expect("utf-8"), "local/planted:1"]);
    let core_pattern = fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern");
    let script = "ls -l /dev/null | cut -c1; echo x > /dev/null && echo wrote-null; \
                  (echo x > /proc/sys/kernel/core_pattern) 2>/dev/null && echo writable || echo read-only";
    for tty in [false, true] {
        let mut args = vec!["run", "--rm"];
        if tty {
            args.push("-t");
        }
        args.extend(["local/planted:1", "sh", "-c", script]);
        let out = state.berth(&args);
        let text = crate::support::stdout(&out);
        if out.status.success() {
            assert!(text.starts_with('c'), "tty {tty}: /dev/null is the device: {text}");
            assert!(text.contains("wrote-null") && text.contains("read-only"), "tty {tty}: {text}");
        }
        assert_eq!(fs::read_to_string("/proc/sys/kernel/core_pattern").expect("read"), core_pattern, "tty {tty}");
    }
}

/// The CVE-2026-41579 class (an image's `/dev` a link that makes the runtime's set-up work on
/// the host's paths) and CVE-2024-21626 (a working directory through a leaked descriptor).
#[test]
fn a_dev_link_out_of_the_root_and_a_workdir_through_proc_self_fd_reach_nothing() {
    use crate::registry::busybox_layer;
    let state = state_with_busybox();
    let targets = ["/tmp/berth-dev-escape-abs", "/tmp/berth-dev-escape-rel"];
    for (name, link, target) in [
        ("local/devlink:abs", targets[0].to_string(), targets[0]),
        ("local/devlink:rel", format!("../../../../../..{}", targets[1]), targets[1]),
    ] {
        let _ = fs::remove_dir_all(target);
        let (_, gz) = busybox_layer().symlink("dev", &link).finish();
        let tarball = state.dir.path().join("devlink.tar.gz");
        fs::write(&tarball, gz).expect("write");
        state.ok(&["import", tarball.to_str().expect("utf-8"), name]);
        let out = state.berth(&["run", "--rm", name, "true"]);
        assert!(!std::path::Path::new(target).exists(), "{name}: the runtime made {target} on the host");
        if out.status.success() {
            let dev = state.ok(&["run", "--rm", name, "sh", "-c", "ls -l /dev/null | cut -c1"]);
            assert_eq!(dev.trim(), "c", "{name}: /dev is the container's own");
        }
    }
    let out = state.berth(&["run", "--rm", "-w", "/proc/self/fd/7", IMAGE, "sh", "-c", "pwd; ls .. | head -3"]);
    assert!(!out.status.success(), "a working directory through a descriptor: {}", crate::support::stdout(&out));
}

/// CVE-2019-5736's class: while `exec` and healthchecks set up a process inside the
/// container, that process is berth's binary; a process of the container watching for it
/// must not reach its `/proc/<pid>/exe` (the runtime makes it non-dumpable, and containers
/// lack CAP_SYS_PTRACE), and berth's binary is unchanged afterwards.
#[test]
fn a_container_cannot_reach_berths_binary_through_proc_exe() {
    let state = state_with_busybox();
    let binary = fs::read(crate::support::BERTH).expect("berth's binary");
    let watch = "while true; do for p in /proc/[0-9]*; do \
                 l=$(readlink $p/exe 2>/dev/null) && case \"$l\" in *berth*) echo \"$p $l\" >> /tmp/seen;; esac; \
                 head -c 1 $p/exe >/dev/null 2>&1 && case \"$l\" in *berth*) echo \"read $p\" >> /tmp/seen;; esac; \
                 done; done";
    let health = ["--health-cmd", "true", "--health-interval", "1s"];
    state.ok(&[&["run", "-d", "--name", "watcher"][..], &health, &[IMAGE, "sh", "-c", watch]].concat());
    for _ in 0..40 {
        state.ok(&["exec", "watcher", "true"]);
    }
    let seen = state.berth(&["exec", "watcher", "cat", "/tmp/seen"]);
    assert!(!seen.status.success(), "the container saw berth's binary: {}", crate::support::stdout(&seen));
    assert!(fs::read(crate::support::BERTH).expect("berth's binary") == binary, "berth's binary changed");
    state.ok(&["rm", "-f", "watcher"]);
}
