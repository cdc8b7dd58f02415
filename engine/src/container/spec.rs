//! The OCI runtime spec of a container: Docker's defaults (capabilities, masked and read-only
//! paths, the minimal /dev, namespaces) with the container's own process, user and root.

use std::path::Path;

use libcontainer::oci_spec::runtime::Spec;

use super::ContainerConfig;
use super::user::User;

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

/// The spec for `config`, running as `user`, with its root at `rootfs` and its /etc files in
/// `dir`.
pub fn build(config: &ContainerConfig, user: &User, rootfs: &Path, dir: &Path) -> Result<Spec, serde_json::Error> {
    let mut env = config.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", config.hostname));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let caps = DEFAULT_CAPABILITIES.to_vec();
    let etc = |name: &str| {
        serde_json::json!({
            "destination": format!("/etc/{name}"), "type": "bind", "source": dir.join(name), "options": ["rbind", "rprivate"]
        })
    };
    let value = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": config.args,
            "env": env,
            "cwd": if config.working_dir.is_empty() { "/" } else { config.working_dir.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true,
        },
        "root": {"path": rootfs, "readonly": false},
        "hostname": config.hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
            etc("hosts"),
            etc("hostname"),
            etc("resolv.conf"),
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
            "cgroupsPath": format!("/berth/{}", config.id),
            "maskedPaths": MASKED,
            "readonlyPaths": READ_ONLY,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        },
    });
    serde_json::from_value(value)
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
    fn the_spec_is_valid() {
        let config = ContainerConfig { id: "abc".into(), args: v(&["sh"]), hostname: "h".into(), ..Default::default() };
        let spec = build(&config, &User::default(), Path::new("/r"), Path::new("/d")).expect("valid spec");
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
