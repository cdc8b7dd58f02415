//! What a service asks of the host, checked where it lands: inside the container (/dev/shm,
//! /proc/sys, groups, the OOM score, the process namespace) and in the host's cgroup files;
//! and the attributes berth does not run, refused by name before anything exists.

use std::fs;
use std::path::PathBuf;

use crate::containers::{code, state_with_busybox};
use crate::support::stderr;

/// The cgroup v1 directory of controller `controller` for container `id`, if this host has one.
fn cgroup_v1(controller: &str, id: &str) -> Option<PathBuf> {
    let dir = PathBuf::from("/sys/fs/cgroup").join(controller).join("berth").join(id);
    dir.is_dir().then_some(dir)
}

fn read(dir: &std::path::Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display())).trim().to_string()
}

#[test]
fn a_services_resources_namespaces_and_privileges_take_effect() {
    let state = state_with_busybox();
    state.ok(&["tag", crate::containers::IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        r#"name: res
services:
  app:
    image: busybox:latest
    command: ["sleep", "300"]
    shm_size: 256m
    sysctls:
      net.ipv4.ip_unprivileged_port_start: "80"
    mem_limit: 512m
    deploy: {resources: {limits: {memory: 64M, cpus: "0.5", pids: 50}, reservations: {memory: 32M}}}
    cpu_shares: 512
    cpuset: "0"
    pid: host
    group_add: ["100", "wheel"]
    oom_score_adj: 500
    security_opt: ["no-new-privileges:true"]
"#,
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    // The image has no group named wheel: refused at the start, naming it.
    let out = state.berth(&["-f", f, "up", "-d"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("wheel"), "{}", stderr(&out));
    state.ok(&["-f", f, "down"]);
    fs::write(&file, fs::read_to_string(&file).expect("read").replace(r#", "wheel""#, "")).expect("write");
    state.ok(&["-f", f, "up", "-d"]);

    let inside = |cmd: &str| state.ok(&["-f", f, "exec", "app", "sh", "-c", cmd]).trim().to_string();
    assert_eq!(inside("df -k /dev/shm | tail -1 | awk '{print $2}'"), "262144", "shm_size");
    assert_eq!(inside("cat /proc/sys/net/ipv4/ip_unprivileged_port_start"), "80", "sysctls");
    assert!(inside("id -G").split(' ').any(|g| g == "100"), "group_add");
    assert_eq!(inside("grep NoNewPrivs /proc/self/status | tr -d '\t '"), "NoNewPrivs:1");
    let own = std::process::id().to_string();
    assert_eq!(inside(&format!("test -d /proc/{own} && echo seen")), "seen", "pid: host shows the host's processes");

    let id = state.ok(&["-f", f, "ps", "-q", "app"]).trim().to_string();
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", &id])).expect("json");
    let host = &inspect[0]["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20, "deploy.resources.limits win over mem_limit: {host}");
    assert_eq!(host["NanoCpus"], 500_000_000i64);
    assert_eq!(host["PidsLimit"], 50);
    assert_eq!(host["MemoryReservation"], 32 << 20);
    assert_eq!(host["ShmSize"], 256 << 20);
    assert_eq!(host["PidMode"], "host");
    assert_eq!(host["OomScoreAdj"], 500);
    assert_eq!(host["Sysctls"]["net.ipv4.ip_unprivileged_port_start"], "80");
    let pid = inspect[0]["State"]["Pid"].as_i64().expect("a pid");
    assert_eq!(read(std::path::Path::new(&format!("/proc/{pid}")), "oom_score_adj"), "500", "oom_score_adj");

    if let Some(memory) = cgroup_v1("memory", &id) {
        assert_eq!(read(&memory, "memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
        let cpu = cgroup_v1("cpu", &id).expect("a cpu cgroup");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cgroup_v1("pids", &id).expect("a pids cgroup"), "pids.max"), "50");
        assert_eq!(read(&cgroup_v1("cpuset", &id).expect("a cpuset cgroup"), "cpuset.cpus"), "0");
        // The container reads its own limits at /sys/fs/cgroup, and cannot change them.
        assert_eq!(inside("cat /sys/fs/cgroup/memory/memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(inside("cat /sys/fs/cgroup/pids/pids.max"), "50");
        assert_eq!(
            inside("echo 1 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo written || echo refused"),
            "refused"
        );
    } else {
        eprintln!("skipped the cgroup file checks: this host has no cgroup v1 memory controller");
    }
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn run_flags_set_the_same() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let out = state.ok(&[
        "run",
        "--rm",
        "--shm-size",
        "128m",
        "--sysctl",
        "kernel.shmmax=1000000",
        "--group-add",
        "42",
        "--oom-score-adj",
        "300",
        "--uts",
        "host",
        "--security-opt",
        "no-new-privileges:false",
        "--security-opt",
        "seccomp=unconfined",
        image,
        "sh",
        "-c",
        "df -k /dev/shm | tail -1 | awk '{print $2}'; cat /proc/sys/kernel/shmmax; id -G; \
         cat /proc/self/oom_score_adj; hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t '",
    ]);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(out, format!("131072\n1000000\n0 42\n300\n{}NoNewPrivs:0\nSeccomp:0\n", host));
    // A default container keeps its filter and no new privileges.
    let out = state.ok(&[
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t '",
    ]);
    assert_eq!(out, "NoNewPrivs:1\nSeccomp:2\n");
}

#[test]
fn what_berth_does_not_run_is_refused_by_name_before_anything_exists() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    for (flags, says) in [
        (&["--sysctl", "kernel.pid_max=5"][..], "not namespaced"),
        (&["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"][..], "host's network namespace"),
        (&["--security-opt", "seccomp=/nonexistent.json"][..], "cannot read the profile /nonexistent.json"),
        (&["--pid", "container:nosuch"][..], "cannot join the pid namespace of \"nosuch\""),
        (&["--ipc", "container:"][..], "invalid ipc mode"),
        (&["--cpus", "1", "--cpu-quota", "50000"][..], "cpu_quota"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[image, "true"]);
        let out = state.berth(&args);
        assert_ne!(code(&out), 0, "{flags:?}");
        assert!(stderr(&out).contains(says), "{flags:?}: {}", stderr(&out));
    }
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    for (attribute, says) in [
        ("storage_opt: {size: 1G}\n", "service app: storage_opt is not supported: berth's overlay storage"),
        ("post_start: [{command: []}]\n", "post_start: a hook needs a command"),
        ("runtime: runsc\n", "runtime is not supported"),
        ("ipc: bogus\n", "ipc: \"bogus\""),
    ] {
        fs::write(&file, format!("name: refused\nservices:\n  app:\n    image: {image}\n    {attribute}"))
            .expect("write");
        let out = state.berth(&["-f", f, "up", "-d"]);
        assert_ne!(code(&out), 0, "{attribute}");
        assert!(stderr(&out).contains(says), "{attribute}: {}", stderr(&out));
    }
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");
    assert!(!state.ok(&["network", "ls"]).contains("refused"), "no project network was made");
}

#[test]
fn devices_and_annotations() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let out = state.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/myzero:r",
        "--annotation",
        "org.example.team=infra",
        image,
        "sh",
        "-c",
        "head -c 3 /dev/myzero | wc -c",
    ]);
    assert_eq!(out.trim(), "3", "the device node is there and opens");
    let out = state.berth(&["run", "--rm", "--device", "/dev/no-such-device", image, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("/dev/no-such-device: no such device on this host"), "{}", stderr(&out));

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    fs::write(
        &file,
        format!(
            "name: dev\nservices:\n  app:\n    image: {image}\n    command: [sleep, '300']\n    devices: ['/dev/zero:/dev/z']\n    annotations: {{org.example.team: infra}}\n"
        ),
    )
    .expect("write");
    state.ok(&["-f", f, "up", "-d"]);
    assert_eq!(state.ok(&["-f", f, "exec", "app", "sh", "-c", "head -c 5 /dev/z | wc -c"]).trim(), "5");
    let id = state.ok(&["-f", f, "ps", "-q", "app"]).trim().to_string();
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", &id])).expect("json");
    let host = &inspect[0]["HostConfig"];
    assert_eq!(host["Annotations"]["org.example.team"], "infra");
    assert_eq!(host["Devices"][0]["PathInContainer"], "/dev/z");
    let spec = fs::read_to_string(state.root().join("containers").join(&id).join("bundle/config.json")).expect("spec");
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("json");
    assert_eq!(spec["annotations"]["org.example.team"], "infra", "the runtime spec carries the annotation");
    state.ok(&["-f", f, "down", "-t", "0"]);
}

#[test]
fn post_start_and_pre_stop_hooks_run_in_the_container() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let shared = tempfile::tempdir().expect("tmp");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    let project = |post: &str| {
        format!(
            "name: hooks\nservices:\n  app:\n    image: {image}\n    command: [sleep, '300']\n    volumes: ['{}:/shared']\n    \
             post_start:\n      - command: {post}\n        environment: {{WHO: hook}}\n    \
             pre_stop:\n      - command: [sh, -c, 'echo stopping $$WHO > /shared/pre']\n        user: nobody\n        environment: {{WHO: pre}}\n",
            shared.path().display()
        )
    };
    fs::write(&file, project(r#"[sh, -c, 'echo started $$WHO > /tmp/hook']"#)).expect("write");
    state.ok(&["-f", f, "up", "-d"]);
    assert_eq!(state.ok(&["-f", f, "exec", "app", "cat", "/tmp/hook"]), "started hook\n", "post_start ran");
    fs::set_permissions(shared.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    state.ok(&["-f", f, "down", "-t", "0"]);
    assert_eq!(fs::read_to_string(shared.path().join("pre")).expect("pre_stop ran"), "stopping pre\n");
    let meta = fs::metadata(shared.path().join("pre")).expect("stat");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534, "as the hook's user");

    // A privileged hook has every capability (as exec --privileged); the container keeps its own.
    let privileged = format!(
        "name: hooks\nservices:\n  app:\n    image: {image}\n    command: [sleep, '300']\n    post_start:\n      \
         - command: [sh, -c, 'grep CapEff /proc/self/status > /tmp/hook']\n        privileged: true\n"
    );
    fs::write(&file, privileged).expect("write");
    let status = fs::read_to_string("/proc/self/status").expect("status");
    let host = status.lines().find_map(|l| l.strip_prefix("CapBnd:\t")).expect("CapBnd").to_string();
    let all = format!("CapEff:\t{host}\n");
    state.ok(&["-f", f, "up", "-d"]);
    assert_eq!(state.ok(&["-f", f, "exec", "app", "cat", "/tmp/hook"]), all, "every capability of the host");
    let own = state.ok(&["-f", f, "exec", "app", "grep", "CapEff", "/proc/1/status"]);
    assert_eq!(own, "CapEff:\t00000000a80425fb\n", "the container keeps Docker's set");
    let tty = state.ok(&["-f", f, "exec", "--privileged", "app", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(tty, all, "exec --privileged");
    state.ok(&["-f", f, "down", "-t", "0"]);

    // A post_start hook that fails fails the start, and says which.
    fs::write(&file, project("[sh, -c, 'exit 3']")).expect("write");
    let out = state.berth(&["-f", f, "up", "-d"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("post_start hook of container hooks-app-1 exited with status 3"), "{}", stderr(&out));
    state.ok(&["-f", f, "down", "-t", "0"]);
}

/// A loop device of this host (`/dev/loop0`) and its numbers, if it has one: a block device
/// that opens without touching a disk (the VM refuses even root a read of its disk).
fn block_device() -> Option<(String, String)> {
    let entries = fs::read_dir("/sys/block").ok()?.flatten();
    entries
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("loop"))
        .filter(|n| std::path::Path::new(&format!("/dev/{n}")).exists())
        .find_map(|n| {
            Some((format!("/dev/{n}"), fs::read_to_string(format!("/sys/block/{n}/dev")).ok()?.trim().to_string()))
        })
}

#[test]
fn block_io_throttles_and_device_rules() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let Some((device, numbers)) = block_device() else {
        eprintln!("skipped: this host has no block device to throttle");
        return;
    };
    let (major, minor) = numbers.split_once(':').expect("major:minor");
    // The device cgroup lets the container at the disk only with the rule.
    let open = format!("mknod /dev/disk b {major} {minor} && (exec 3</dev/disk && echo opened) 2>&1");
    let out = crate::support::stdout(&state.berth(&["run", "--rm", image, "sh", "-c", &open]));
    assert!(out.contains("Operation not permitted"), "no rule, no access: {out}");
    let rule = format!("b {major}:{minor} r");
    assert_eq!(state.ok(&["run", "--rm", "--device-cgroup-rule", &rule, image, "sh", "-c", &open]).trim(), "opened");

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    let project = |blkio: &str| {
        format!(
            "name: bio\nservices:\n  app:\n    image: {image}\n    command: [sleep, '300']\n    blkio_config: {blkio}\n"
        )
    };
    fs::write(
        &file,
        project(&format!(
            "{{device_read_bps: [{{path: {device}, rate: 1mb}}], device_write_iops: [{{path: {device}, rate: 100}}]}}"
        )),
    )
    .expect("write");
    state.ok(&["-f", f, "up", "-d"]);
    let id = state.ok(&["-f", f, "ps", "-q", "app"]).trim().to_string();
    if let Some(blkio) = cgroup_v1("blkio", &id) {
        assert_eq!(read(&blkio, "blkio.throttle.read_bps_device"), format!("{numbers} 1048576"));
        assert_eq!(read(&blkio, "blkio.throttle.write_iops_device"), format!("{numbers} 100"));
    }
    state.ok(&["-f", f, "down", "-t", "0"]);
    // A weight on a host whose I/O scheduler takes none is refused before anything exists.
    if !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        && !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists()
    {
        fs::write(&file, project("{weight: 300}")).expect("write");
        let out = state.berth(&["-f", f, "up", "-d"]);
        assert_ne!(code(&out), 0);
        assert!(stderr(&out).contains("takes no weights"), "{}", stderr(&out));
        assert_eq!(state.ok(&["ps", "-aq"]), "");
    }
}

/// `pid` and `ipc` of `service:NAME` (Docker Compose makes them `container:ID`) and the flags of
/// `run`: the joiner sees the donor's processes, shares its IPC namespace and its `/dev/shm`;
/// `ipc: none` has no `/dev/shm`; a private IPC namespace or a stopped donor cannot be joined;
/// the shareable `/dev/shm` is gone from the host with its container.
#[test]
fn containers_join_each_others_pid_and_ipc_namespaces() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        format!(
            r#"name: joins
services:
  db:
    image: {image}
    command: ["sh", "-c", "echo hello > /dev/shm/from-db; exec sleep 300"]
    ipc: shareable
  app:
    image: {image}
    command: ["sleep", "301"]
    pid: service:db
    ipc: service:db
  lone:
    image: {image}
    command: ["sleep", "302"]
    ipc: none
"#
        ),
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let inside = |svc: &str, cmd: &str| state.ok(&["-f", f, "exec", svc, "sh", "-c", cmd]).trim().to_string();
    let ns = |svc: &str, kind: &str| inside(svc, &format!("readlink /proc/self/ns/{kind}"));
    assert_eq!(ns("app", "pid"), ns("db", "pid"), "app is in db's PID namespace");
    assert_eq!(ns("app", "ipc"), ns("db", "ipc"), "app is in db's IPC namespace");
    assert_ne!(ns("lone", "ipc"), ns("db", "ipc"));
    assert!(inside("app", "ps -o args").contains("sleep 300"), "app sees db's processes");
    assert_eq!(inside("app", "cat /dev/shm/from-db"), "hello", "app has db's /dev/shm");
    assert_eq!(inside("lone", "test -e /dev/shm && echo there || echo none"), "none", "ipc: none");
    let inspect = state.ok(&["-f", f, "ps", "-q", "db"]);
    let db = inspect.trim();
    let app_inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "joins-app-1"])).expect("json");
    assert_eq!(app_inspect[0]["HostConfig"]["PidMode"].as_str(), Some(format!("container:{db}").as_str()));

    // The same with run's flags, by name.
    let seen = state.ok(&["run", "--rm", "--pid", "container:joins-db-1", image, "ps", "-o", "args"]);
    assert!(seen.contains("sleep 300"), "{seen}");
    let out = state.berth(&["run", "--rm", "--ipc", "container:joins-app-1", image, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("it is private (give it ipc: shareable)"), "{}", stderr(&out));
    state.ok(&["create", "--name", "asleep", "--ipc", "shareable", image, "sleep", "1"]);
    let out = state.berth(&["run", "--rm", "--ipc", "container:asleep", image, "true"]);
    assert!(stderr(&out).contains("cannot join the ipc namespace of asleep: it is not running"), "{}", stderr(&out));

    let shm = format!("/containers/{db}/shm ");
    let mounted = || fs::read_to_string("/proc/self/mountinfo").expect("mountinfo").contains(&shm);
    assert!(mounted(), "the shareable /dev/shm is on the host");
    state.ok(&["rm", "-f", "asleep"]);
    state.ok(&["-f", f, "down", "-t", "0"]);
    assert!(!mounted(), "the shareable /dev/shm went with its container");
}

const PROFILE: &str = r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    {"names": ["chmod", "fchmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
     "includes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]
}"#;

/// `security_opt: [seccomp=FILE]` in Docker's format: read (relative to the project) when the
/// container is created and kept, rules by capability; a missing or malformed file refused by
/// name before anything exists.
#[test]
fn a_seccomp_profile_in_dockers_format() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("profile.json"), PROFILE).expect("write");
    let file = dir.path().join("compose.yaml");
    let service = |name: &str, extra: &str| {
        format!(
            "  {name}:\n    image: {image}\n    command: [\"sleep\", \"300\"]\n    security_opt: [\"seccomp:./profile.json\"]\n{extra}"
        )
    };
    let compose =
        format!("name: sec\nservices:\n{}{}", service("plain", ""), service("admin", "    cap_add: [SYS_ADMIN]\n"));
    fs::write(&file, compose).expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let try_in = |svc: &str, cmd: &str| {
        state
            .ok(&["-f", f, "exec", svc, "sh", "-c", &format!("{cmd} 2>&1 && echo done || echo refused")])
            .trim()
            .to_string()
    };
    assert!(try_in("plain", "mkdir /tmp/d").ends_with("refused"), "mkdir is filtered");
    assert!(try_in("plain", "mkdir /tmp/d").contains("Operation not permitted"));
    assert_eq!(try_in("plain", "touch /tmp/f && chmod 600 /tmp/f"), "done", "chmod's rule is for CAP_SYS_ADMIN");
    assert!(try_in("admin", "touch /tmp/f && chmod 600 /tmp/f").ends_with("refused"), "with CAP_SYS_ADMIN it is");
    assert_eq!(try_in("plain", "grep ^Seccomp: /proc/self/status"), "Seccomp:\t2\ndone");
    state.ok(&["-f", f, "down", "-t", "0"]);

    // run's flag; the content is kept, so the file may go once the container exists.
    let path = dir.path().join("profile.json");
    let flag = format!("seccomp={}", path.display());
    state.ok(&["create", "--name", "kept", "--security-opt", &flag, image, "mkdir", "/x"]);
    fs::remove_file(&path).expect("remove");
    state.ok(&["start", "kept"]);
    assert_eq!(state.ok(&["wait", "kept"]).trim(), "1", "mkdir was refused");
    state.ok(&["rm", "kept"]);

    let out = state.berth(&["-f", f, "up", "-d"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("profile.json") && stderr(&out).contains("service "), "{}", stderr(&out));
    assert!(!state.ok(&["network", "ls"]).contains("sec_default"), "nothing was made");
    fs::write(&path, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n}").expect("write");
    let out = state.berth(&["run", "--rm", "--security-opt", &flag, image, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("profile.json") && stderr(&out).contains("line 3"), "{}", stderr(&out));
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");
}

/// A cgroup of the test's own under every hierarchy's root, removed (with whatever berth left
/// in it) when dropped.
struct ParentCgroup(&'static str);

impl Drop for ParentCgroup {
    fn drop(&mut self) {
        let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else { return };
        for h in hierarchies.flatten() {
            let dir = h.path().join(self.0);
            if let Ok(children) = fs::read_dir(&dir) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = fs::remove_dir(child.path());
                }
            }
            let _ = fs::remove_dir(&dir);
        }
    }
}

/// `cgroup_parent` (and `--cgroup-parent`): the container's cgroup goes under it, with its
/// limits, as Docker's cgroupfs driver places it; `top` finds its processes there.
#[test]
fn cgroup_parent_places_the_containers_cgroup() {
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let parent = ParentCgroup("berth-test-jobs");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        format!(
            "name: parent\nservices:\n  job:\n    image: {image}\n    command: [sleep, '300']\n    \
             cgroup_parent: /{}\n    mem_limit: 64m\n",
            parent.0
        ),
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "parent-job-1"])).expect("json");
    let id = inspect[0]["Id"].as_str().expect("an Id").to_string();
    let memory = PathBuf::from("/sys/fs/cgroup/memory").join(parent.0).join(&id);
    assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864", "the limit is on the cgroup under the parent");
    assert!(cgroup_v1("memory", &id).is_none(), "nothing under /berth");
    assert!(state.ok(&["-f", f, "top", "job"]).contains("sleep 300"), "top finds its processes");
    assert_eq!(inspect[0]["HostConfig"]["CgroupParent"], format!("/{}", parent.0));
    state.ok(&["-f", f, "down", "-t", "0"]);
    assert!(!memory.exists(), "the container's cgroup goes with it");

    let flag = format!("{}/run", parent.0);
    let out = state.ok(&["run", "--rm", "--cgroup-parent", &flag, image, "cat", "/proc/self/cgroup"]);
    assert!(out.contains(&format!(":/{flag}/")), "{out}");
    let out = state.berth(&["run", "--rm", "--cgroup-parent", "../escape", image, "true"]);
    assert!(stderr(&out).contains("invalid cgroup_parent"), "{}", stderr(&out));
}

/// `cpu_rt_runtime` and `cpu_rt_period` on cgroup v1: the container's cgroup gets them, and
/// its parent the budget for them (a new cgroup has none); more than the host has is refused.
#[test]
fn real_time_cpu_budgets() {
    let Some(cpu) = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("cpu.rt_runtime_us").is_file())
    else {
        eprintln!("skipped: this host has no real-time group scheduling (cgroup v1's cpu.rt_runtime_us)");
        return;
    };
    /// Gives the budget back to the root when the test ends.
    struct Restore(PathBuf);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = fs::write(self.0.join("berth/cpu.rt_runtime_us"), "0");
        }
    }
    let _restore = Restore(cpu.clone());
    let state = state_with_busybox();
    let image = crate::containers::IMAGE;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        format!(
            "name: rt\nservices:\n  audio:\n    image: {image}\n    command: [sleep, '300']\n    \
             cpu_rt_runtime: 20000\n    cpu_rt_period: 500000\n"
        ),
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "rt-audio-1"])).expect("json");
    let id = inspect[0]["Id"].as_str().expect("an Id").to_string();
    let own = cpu.join("berth").join(&id);
    assert_eq!((read(&own, "cpu.rt_runtime_us"), read(&own, "cpu.rt_period_us")), ("20000".into(), "500000".into()));
    let parent: u64 = read(&cpu.join("berth"), "cpu.rt_runtime_us").parse().expect("a number");
    assert!(parent >= 40_000, "the parent holds 20 ms of each 0.5 s, {parent} µs of its second");
    let inside = state.ok(&["-f", f, "exec", "audio", "cat", "/sys/fs/cgroup/cpu/cpu.rt_runtime_us"]);
    assert_eq!(inside.trim(), "20000", "the container reads its budget");
    assert_eq!(inspect[0]["HostConfig"]["CpuRealtimeRuntime"], 20000);
    state.ok(&["-f", f, "down", "-t", "0"]);

    let out = state.berth(&["run", "--rm", "--cpu-rt-runtime", "990000", image, "true"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("real-time budget"), "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", "--cpu-rt-runtime", "2000", "--cpu-rt-period", "1000", image, "true"]);
    assert!(stderr(&out).contains("must not be more than cpu_rt_period"), "{}", stderr(&out));
}
