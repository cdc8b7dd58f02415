//! The OCI runtime spec of a container: Docker's defaults (capabilities, masked and read-only
//! paths, the minimal /dev, namespaces) with the container's own process, user and root.

use std::path::Path;

use libcontainer::oci_spec::runtime::Spec;

use super::dir::{ContainerDir, EtcFile};
use super::joins::Joins;
use super::user::User;
use super::{ContainerConfig, SecurityOpt};

/// Where `--init` puts the init in the container, as Docker does.
pub const INIT_IN_CONTAINER: &str = "/dev/init";

/// The init `--init` uses: a static tini from the host (Debian's `tini` package), or the one
/// `BERTH_INIT` names.
pub fn init_binary() -> std::path::PathBuf {
    std::env::var_os("BERTH_INIT").map(std::path::PathBuf::from).unwrap_or_else(|| "/usr/bin/tini-static".into())
}

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths hidden from the container, as Docker hides them.
const MASKED: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// The `PATH` a process gets when neither the image nor the user sets one (Docker's).
pub use super::rootfs::DEFAULT_PATH;

/// The environment of a process in the container: `env` (`KEY=VALUE`, later entries win), with
/// `PATH`, `HOSTNAME` and `HOME` filled in as Docker fills them when unset.
pub fn process_env<'a>(
    env: impl IntoIterator<Item = &'a String>,
    hostname: &str,
    user: &User,
    tty: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in env {
        let key = e.split('=').next().unwrap_or(e);
        out.retain(|x| x.split('=').next() != Some(key));
        out.push(e.clone());
    }
    let has = |out: &[String], key: &str| out.iter().any(|e| e.split('=').next() == Some(key));
    if !has(&out, "PATH") {
        out.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !has(&out, "HOSTNAME") {
        out.push(format!("HOSTNAME={hostname}"));
    }
    if !has(&out, "HOME") {
        out.push(format!("HOME={}", user.home));
    }
    // As Docker: a process given a terminal is told what kind.
    if tty && !has(&out, "TERM") {
        out.push("TERM=xterm".into());
    }
    out
}

/// The spec for `config`, running as `user`, with its root at `rootfs`, its /etc files in
/// `dir`, and what it `joins`.
pub fn build(
    config: &ContainerConfig,
    user: &User,
    rootfs: &Path,
    dir: &ContainerDir,
    joins: &Joins,
    volumes: &[berth_volumes::mount::RuntimeMount],
) -> Result<Spec, serde_json::Error> {
    let env = process_env(&config.env, &config.hostname, user, config.tty);
    let (caps, missing) = within(capabilities(&config.host), host_bounding_set());
    if !missing.is_empty() {
        tracing::warn!("this host does not have {}; container {} runs without", missing.join(", "), config.name);
    }
    let host = &config.host;
    let security = host.security();
    let devices = devices(host);
    let no_new_privileges = security
        .iter()
        .rev()
        .find_map(|o| if let SecurityOpt::NoNewPrivileges(on) = o { Some(*on) } else { None })
        .unwrap_or(!host.privileged);
    let system_paths = !host.privileged && !security.contains(&SecurityOpt::SystemPathsUnconfined);
    let etc = |file: EtcFile| {
        let name = file.file_name();
        serde_json::json!({
            "destination": format!("/etc/{name}"), "type": "bind", "source": dir.etc(file), "options": ["rbind", "rprivate"]
        })
    };
    let value = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": config.tty,
            "consoleSize": host.console_size.filter(|_| config.tty).map(|[rows, cols]| serde_json::json!({"height": rows, "width": cols})),
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": if config.host.init {
                [INIT_IN_CONTAINER.to_string(), "--".to_string()].into_iter().chain(config.args.iter().cloned()).collect::<Vec<_>>()
            } else {
                config.args.clone()
            },
            "env": env,
            "cwd": if config.working_dir.is_empty() { "/" } else { config.working_dir.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            // Unset rather than false: libcontainer loads the seccomp filter while it still has
            // the capabilities to only when the field is absent.
            "noNewPrivileges": no_new_privileges.then_some(true),
            "oomScoreAdj": host.oom_score_adj,
            "rlimits": host.ulimits.iter().map(|(name, (soft, hard))| serde_json::json!({
                "type": format!("RLIMIT_{}", name.to_ascii_uppercase()), "soft": soft, "hard": hard,
            })).collect::<Vec<_>>(),
        },
        "root": {"path": rootfs, "readonly": host.read_only},
        "annotations": host.annotations,
        "hostname": config.hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            // The container's own cgroups, read-only, so that runtimes (the JVM, Go, Node, .NET)
            // read their limits: on cgroup v1 its own subtree of each controller, on v2 its
            // cgroup namespace's root.
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", if host.privileged { "rw" } else { "ro" }]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            etc(EtcFile::Hosts),
            etc(EtcFile::Hostname),
            etc(EtcFile::ResolvConf),
        ],
        "linux": {
            "namespaces": super::joins::namespaces(config, joins),
            "cgroupsPath": config.cgroups_path(),
            "maskedPaths": if system_paths { &MASKED[..] } else { &[][..] },
            "readonlyPaths": read_only_paths(system_paths, host.privileged),
            "resources": resources(host, &devices),
            "sysctl": host.sysctls,
            "devices": devices.iter().map(|(d, n)| serde_json::json!({
                "path": d.target, "type": n.kind, "major": n.major, "minor": n.minor, "fileMode": n.mode, "uid": 0, "gid": 0,
            })).collect::<Vec<_>>(),
        },
    });
    let mut value = value;
    if host.uts_mode.is_some() {
        // The host's UTS namespace: setting a name would rename the host.
        if let Some(v) = value.as_object_mut() {
            v.remove("hostname");
        }
    }
    let profile = security.iter().find_map(|o| if let SecurityOpt::SeccompProfile(p) = o { Some(p) } else { None });
    let filter = match profile {
        Some(text) if !host.privileged => Some(profile_filter(text, &caps).map_err(serde::de::Error::custom)?),
        _ => seccomp(host, &caps),
    };
    if let Some(filter) = filter.filter(|_| !security.contains(&SecurityOpt::SeccompUnconfined)) {
        value["linux"]["seccomp"] = filter;
    }
    if let Some(mounts) = value["mounts"].as_array_mut() {
        mounts.extend(super::joins::shm_mount(host, joins));
        if host.init {
            // The host's static tini, read-only: the container can run it, never change it.
            mounts.push(serde_json::json!({
                "destination": INIT_IN_CONTAINER, "type": "bind", "source": init_binary(),
                "options": ["bind", "ro", "nosuid", "nodev"],
            }));
        }
        for t in &host.tmpfs {
            let (path, options) = t.split_once(':').unwrap_or((t, ""));
            let mut opts = vec!["nosuid".to_string(), "nodev".to_string(), "noexec".to_string()];
            opts.extend(options.split(',').filter(|o| !o.is_empty()).map(str::to_string));
            mounts.push(serde_json::json!({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": opts}));
        }
        for m in volumes {
            mounts.push(serde_json::to_value(m)?);
        }
    }
    serde_json::from_value(value)
}

/// The host's device nodes the container gets, with their numbers (checked at creation; one
/// gone since is left out, with a warning).
fn devices(host: &super::HostConfig) -> Vec<(&super::options::Device, super::options::Node)> {
    let found = host.devices.iter().map(|d| (d, d.node()));
    found
        .filter_map(|(d, node)| {
            node.inspect_err(|e| tracing::warn!("{e}; the container starts without it")).ok().map(|n| (d, n))
        })
        .collect()
}

/// The paths remounted read-only: Docker's under /proc (unless `systempaths=unconfined`), and
/// /sys/fs/cgroup with each controller mounted below it (the runtime applies the mount's `ro`
/// to the tmpfs of cgroup v1 only, and a remount is not recursive).
fn read_only_paths(system_paths: bool, privileged: bool) -> Vec<String> {
    let mut paths: Vec<String> = if system_paths { READ_ONLY.iter().map(|p| p.to_string()).collect() } else { vec![] };
    if !privileged {
        paths.push("/sys/fs/cgroup".into());
        let controllers = std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten();
        for entry in controllers.filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
            paths.push(format!("/sys/fs/cgroup/{}", entry.file_name().to_string_lossy()));
        }
    }
    paths
}

/// Every capability the kernel knows, by name (`CAP_SYS_ADMIN`).
pub fn all_capabilities() -> Vec<String> {
    ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect()
}

/// Every capability this host has to give (`exec --privileged`): all but those berth itself
/// lacks.
pub fn host_capabilities() -> Vec<String> {
    within(all_capabilities(), host_bounding_set()).0
}

/// Docker's default set, with `--cap-add`/`--cap-drop` (names with or without `CAP_`, or
/// `ALL`) applied; everything for `--privileged`.
pub fn capabilities(host: &super::HostConfig) -> Vec<String> {
    let norm = |c: &String| {
        let up = c.trim().to_ascii_uppercase();
        if up == "ALL" || up.starts_with("CAP_") { up } else { format!("CAP_{up}") }
    };
    if host.privileged {
        return all_capabilities();
    }
    let add: Vec<String> = host.cap_add.iter().map(norm).collect();
    let drop: Vec<String> = host.cap_drop.iter().map(norm).collect();
    let mut caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        all_capabilities()
    } else {
        DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    };
    caps.extend(add.into_iter().filter(|c| c != "ALL"));
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    caps.retain(|c| !drop.contains(c));
    caps.sort();
    caps.dedup();
    caps
}

/// Every capability, in the kernel's bit order (the index is the bit number).
const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// One of this process's capability sets (`CapBnd`, `CapEff`...) from /proc/self/status.
pub fn own_capabilities(set: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix(set)?.strip_prefix(':'))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Whether this process has capability `cap` (`CAP_SYS_RESOURCE`) in effect.
pub fn has_capability(cap: &str) -> bool {
    let bit = ALL_CAPABILITIES.iter().position(|c| *c == cap);
    matches!((bit, own_capabilities("CapEff")), (Some(bit), Some(set)) if set & (1 << bit) != 0)
}

/// The bounding set of this process (the shim): a container cannot get more. Hosts differ: on
/// some, root itself lacks a capability (CAP_SYS_RESOURCE here).
pub fn host_bounding_set() -> u64 {
    own_capabilities("CapBnd").unwrap_or(u64::MAX)
}

/// Keeps the capabilities in `caps` that `bounding` has; returns them and the ones dropped.
pub fn within(caps: Vec<String>, bounding: u64) -> (Vec<String>, Vec<String>) {
    caps.into_iter()
        .partition(|c| ALL_CAPABILITIES.iter().position(|a| a == c).is_none_or(|bit| bounding & (1 << bit) != 0))
}

/// System calls a container may not make, as in Docker's default profile: they reach kernel
/// state that is not namespaced (modules, keyrings, clocks, swap, kexec...). Those a granted
/// capability stands for are allowed with it, as Docker does.
const DENIED: [&str; 30] = [
    "acct",
    "add_key",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "nfsservctl",
    "query_module",
    "reboot",
    "request_key",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// Allowed only with CAP_SYS_ADMIN (or, for some, the capability named).
const ADMIN: [&str; 11] = [
    "mount",
    "umount2",
    "pivot_root",
    "setns",
    "unshare",
    "name_to_handle_at",
    "open_by_handle_at",
    "bpf",
    "perf_event_open",
    "quotactl",
    "lookup_dcookie",
];

/// The filter of a profile in Docker's format, for this host and the container's capabilities.
fn profile_filter(text: &str, caps: &[String]) -> Result<serde_json::Value, String> {
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let kernel = super::seccomp::kernel_version(&release).unwrap_or((0, 0));
    super::seccomp::filter(text, &super::seccomp::Host { arch: std::env::consts::ARCH, caps, kernel })
}

/// The default seccomp filter: allow by default, refuse the calls above with EPERM. None for a
/// privileged container.
fn seccomp(host: &super::HostConfig, caps: &[String]) -> Option<serde_json::Value> {
    if host.privileged {
        return None;
    }
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut denied: Vec<&str> = DENIED.to_vec();
    if has("CAP_SYS_BOOT") {
        denied.retain(|s| *s != "reboot");
    }
    if has("CAP_SYS_TIME") {
        denied.retain(|s| !matches!(*s, "clock_adjtime" | "clock_settime" | "settimeofday" | "stime"));
    }
    if has("CAP_SYS_MODULE") {
        denied.retain(|s| {
            !matches!(*s, "create_module" | "delete_module" | "finit_module" | "init_module" | "query_module")
        });
    }
    if !has("CAP_SYS_ADMIN") {
        denied.extend(ADMIN);
    }
    let architectures: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        _ => &[],
    };
    Some(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": architectures,
        "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
}

/// The cgroup limits, in the runtime spec's terms (libcontainer writes them for cgroup v1 and
/// v2 alike).
fn resources(
    host: &super::HostConfig,
    devices: &[(&super::options::Device, super::options::Node)],
) -> serde_json::Value {
    let mut rules = vec![serde_json::json!({"allow": host.privileged, "access": "rwm"})];
    for (d, n) in devices {
        let rule = serde_json::json!({"allow": true, "type": n.kind, "major": n.major, "minor": n.minor, "access": d.permissions});
        rules.push(rule);
    }
    rules.extend(host.device_cgroup_rules.iter().filter_map(|r| super::options::device_rule(r).ok()));
    let mut r = serde_json::json!({"devices": rules});
    if let Some(b) = host.blkio.as_ref().and_then(|b| b.spec().ok()) {
        r["blockIO"] = b;
    }
    let memory = serde_json::json!({
        "limit": host.memory,
        "reservation": host.memory_reservation,
        "swap": host.memory_swap,
        "swappiness": host.memory_swappiness,
        "disableOOMKiller": host.oom_kill_disable.then_some(true),
    });
    r["memory"] = without_nulls(memory);
    let (quota, period) = match host.cpus {
        Some(cpus) => (Some((cpus * 100_000.0) as i64), Some(100_000)),
        None => (host.cpu_quota, host.cpu_period),
    };
    let cpu = serde_json::json!({
        "shares": host.cpu_shares, "quota": quota, "period": period, "cpus": host.cpuset_cpus,
        "realtimeRuntime": host.cpu_rt_runtime, "realtimePeriod": host.cpu_rt_period,
    });
    r["cpu"] = without_nulls(cpu);
    if let Some(p) = host.pids_limit {
        r["pids"] = serde_json::json!({"limit": p});
    }
    if let Some(o) = r.as_object_mut() {
        o.retain(|_, v| v.as_object().is_none_or(|m| !m.is_empty()));
    }
    r
}

fn without_nulls(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !x.is_null());
    }
    v
}

/// Docker's merge of the image's entrypoint and command with the user's: `--entrypoint`
/// replaces the image's and drops its command; arguments replace the image's command.
pub fn command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    entrypoint: Option<&[String]>,
    args: &[String],
) -> Vec<String> {
    let (entry, cmd): (Vec<String>, Vec<String>) = match entrypoint {
        Some(e) => (e.to_vec(), args.to_vec()),
        None => (
            image_entrypoint.unwrap_or_default().to_vec(),
            if args.is_empty() { image_cmd.unwrap_or_default().to_vec() } else { args.to_vec() },
        ),
    };
    entry.into_iter().chain(cmd).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_command_merge_like_docker() {
        let (ep, cmd) = (v(&["/entry"]), v(&["default"]));
        assert_eq!(command(Some(&ep), Some(&cmd), None, &[]), v(&["/entry", "default"]));
        assert_eq!(command(Some(&ep), Some(&cmd), None, &v(&["mine"])), v(&["/entry", "mine"]));
        assert_eq!(command(Some(&ep), Some(&cmd), Some(&v(&["sh"])), &[]), v(&["sh"]));
        assert_eq!(command(None, Some(&cmd), None, &[]), v(&["default"]));
        assert_eq!(command(None, None, Some(&[]), &v(&["x"])), v(&["x"]));
    }

    #[test]
    fn capability_changes() {
        use crate::container::HostConfig;
        let caps = |add: &[&str], drop: &[&str]| {
            capabilities(&HostConfig { cap_add: v(add), cap_drop: v(drop), ..Default::default() })
        };
        assert_eq!(caps(&[], &[]).len(), 14);
        assert!(caps(&["net_admin"], &[]).contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps(&[], &["CHOWN"]).contains(&"CAP_CHOWN".to_string()));
        assert_eq!(caps(&[], &["ALL"]), Vec::<String>::new());
        assert_eq!(caps(&["ALL"], &[]).len(), 41);
        assert_eq!(capabilities(&HostConfig { privileged: true, ..Default::default() }).len(), 41);
        let (kept, dropped) = within(caps(&["ALL"], &[]), !(1 << 24));
        assert_eq!((kept.len(), dropped), (40, vec!["CAP_SYS_RESOURCE".to_string()]));
    }

    #[test]
    fn the_seccomp_filter_follows_the_capabilities() {
        use crate::container::HostConfig;
        let names = |host: &HostConfig| -> Vec<String> {
            let caps = capabilities(host);
            seccomp(host, &caps).map_or_else(Vec::new, |f| {
                f["syscalls"][0]["names"]
                    .as_array()
                    .expect("names")
                    .iter()
                    .map(|n| n.as_str().unwrap_or_default().to_string())
                    .collect()
            })
        };
        let default = names(&HostConfig::default());
        assert!(default.contains(&"kexec_load".to_string()) && default.contains(&"mount".to_string()));
        let admin = names(&HostConfig { cap_add: v(&["SYS_ADMIN"]), ..Default::default() });
        assert!(admin.contains(&"kexec_load".to_string()) && !admin.contains(&"mount".to_string()));
        assert!(names(&HostConfig { privileged: true, ..Default::default() }).is_empty());
    }

    #[test]
    fn process_environment_defaults() {
        let user = User { home: "/home/app".into(), ..User::default() };
        let env = process_env(&v(&["A=1", "PATH=/bin", "A=2"]), "box", &user, false);
        assert_eq!(env, v(&["PATH=/bin", "A=2", "HOSTNAME=box", "HOME=/home/app"]));
        assert_eq!(process_env(&[], "h", &user, false)[0], format!("PATH={DEFAULT_PATH}"));
        assert!(process_env(&[], "h", &user, true).contains(&"TERM=xterm".to_string()));
        assert!(!process_env(&v(&["TERM=vt100"]), "h", &user, true).contains(&"TERM=xterm".to_string()));
    }

    #[test]
    fn the_spec_is_valid() {
        let config = ContainerConfig { id: "abc".into(), args: v(&["sh"]), hostname: "h".into(), ..Default::default() };
        let spec =
            build(&config, &User::default(), Path::new("/r"), &ContainerDir::new("/d".into()), &Joins::default(), &[])
                .expect("valid spec");
        assert_eq!(spec.hostname().as_deref(), Some("h"));
        let caps = spec
            .process()
            .as_ref()
            .and_then(|p| p.capabilities().as_ref())
            .and_then(|c| c.bounding().clone())
            .expect("caps");
        assert_eq!(caps.len(), 14);
    }
}
