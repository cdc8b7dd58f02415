//! The container options checked before anything is created: `security_opt` entries, kernel
//! parameters (`sysctls`, with Docker's rules for which a container may set), host devices,
//! block I/O limits, device rules and lifecycle hooks; `HostConfig::check` checks them all,
//! with the namespaces and limits, when a container is created.

use serde::{Deserialize, Serialize};

/// A lifecycle hook (`post_start`, `pre_stop`): a command run in the container, as `exec`
/// runs it, after it starts or before it is stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `KEY=VALUE`, on top of the container's environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Every capability, as `exec --privileged`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

/// A file the engine writes for the container at its creation and mounts read-only at
/// `target` (a Compose secret or config), owned and moded as asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFile {
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Block I/O weights and throttles (`blkio_config`), by device path on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<(String, u16)>,
    /// Bytes (or operations) a second, read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_bps: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_bps: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_iops: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_iops: Vec<(String, u64)>,
}

impl Blkio {
    /// The runtime spec's `blockIO`, each device by its numbers; a device that is not a block
    /// device of this host, or a weight this host's I/O scheduler cannot take, is an error.
    pub fn spec(&self) -> Result<serde_json::Value, String> {
        let numbers = |path: &str| -> Result<(u64, u64), String> {
            let node = Device { source: path.into(), target: path.into(), permissions: "r".into() }.node()?;
            if node.kind != "b" {
                return Err(format!("blkio_config: {path} is not a block device"));
            }
            Ok((node.major, node.minor))
        };
        let weights = self.weight.is_some() || !self.weight_device.is_empty();
        let controller = std::path::Path::new("/sys/fs/cgroup/blkio");
        let v2 = std::path::Path::new("/sys/fs/cgroup/io.weight").exists();
        if weights && !v2 && !controller.join("blkio.weight").exists() && !controller.join("blkio.bfq.weight").exists()
        {
            return Err("blkio_config weights: this host's I/O scheduler takes no weights (no blkio.weight)".into());
        }
        let throttle = |list: &[(String, u64)]| -> Result<Vec<serde_json::Value>, String> {
            list.iter()
                .map(|(p, rate)| {
                    numbers(p).map(|(major, minor)| serde_json::json!({"major": major, "minor": minor, "rate": rate}))
                })
                .collect()
        };
        let weight_device: Vec<serde_json::Value> = self
            .weight_device
            .iter()
            .map(|(p, w)| {
                numbers(p).map(|(major, minor)| serde_json::json!({"major": major, "minor": minor, "weight": w}))
            })
            .collect::<Result<_, _>>()?;
        let mut out = serde_json::json!({
            "weightDevice": weight_device,
            "throttleReadBpsDevice": throttle(&self.read_bps)?,
            "throttleWriteBpsDevice": throttle(&self.write_bps)?,
            "throttleReadIOPSDevice": throttle(&self.read_iops)?,
            "throttleWriteIOPSDevice": throttle(&self.write_iops)?,
        });
        if let Some(w) = self.weight {
            out["weight"] = w.into();
        }
        Ok(out)
    }
}

/// A `device_cgroup_rules` entry (`c 1:3 rwm`, `b *:* m`) as the runtime spec's device rule.
pub fn device_rule(text: &str) -> Result<serde_json::Value, String> {
    let bad = || format!("invalid device cgroup rule {text:?}: use TYPE MAJOR:MINOR ACCESS, like \"c 1:3 rwm\"");
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [kind, numbers, access] = parts[..] else { return Err(bad()) };
    if !matches!(kind, "a" | "b" | "c") || access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>, String> {
        if n == "*" { Ok(None) } else { n.parse().map(Some).map_err(|_| bad()) }
    };
    Ok(
        serde_json::json!({"allow": true, "type": kind, "major": number(major)?, "minor": number(minor)?, "access": access}),
    )
}

/// A device node of the host: its kind (`c` or `b`), numbers and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
}

/// A host device node given to the container (`devices`, `--device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub source: String,
    pub target: String,
    /// Any of `r`, `w` and `m` (mknod), as the device cgroup takes them.
    pub permissions: String,
}

impl Device {
    /// `SOURCE[:TARGET][:PERMISSIONS]`, as Docker reads `--device`.
    pub fn parse(text: &str) -> Result<Device, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let perms = |p: &str| !p.is_empty() && !p.starts_with('/') && p.chars().all(|c| "rwm".contains(c));
        let (source, target, permissions) = match parts[..] {
            [s] => (s, s, "rwm"),
            [s, p] if perms(p) => (s, s, p),
            [s, t] => (s, t, "rwm"),
            [s, t, p] => (s, t, p),
            _ => return Err(format!("invalid device {text:?}: use SOURCE[:TARGET][:PERMISSIONS]")),
        };
        let device = Device { source: source.into(), target: target.into(), permissions: permissions.into() };
        device.check_form()?;
        Ok(device)
    }

    fn check_form(&self) -> Result<(), String> {
        if !self.source.starts_with('/') || !self.target.starts_with('/') {
            return Err(format!("device {}: both paths must be absolute", self.source));
        }
        if self.permissions.is_empty() || !self.permissions.chars().all(|c| "rwm".contains(c)) {
            return Err(format!(
                "device {}: permissions {:?} are not a set of r, w and m",
                self.source, self.permissions
            ));
        }
        Ok(())
    }

    /// The host's node.
    pub fn node(&self) -> Result<Node, String> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        self.check_form()?;
        let meta = std::fs::metadata(&self.source)
            .map_err(|e| format!("device {}: no such device on this host ({e})", self.source))?;
        let kind = match meta.file_type() {
            t if t.is_char_device() => "c",
            t if t.is_block_device() => "b",
            _ => {
                return Err(format!(
                    "device {}: not a device node (berth passes single nodes, not directories)",
                    self.source
                ));
            }
        };
        let rdev = meta.rdev();
        Ok(Node {
            kind,
            major: nix::sys::stat::major(rdev),
            minor: nix::sys::stat::minor(rdev),
            mode: meta.mode() & 0o7777,
        })
    }
}

/// One `security_opt` entry (`--security-opt`), in Docker's spellings (`key=value` or
/// `key:value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[:true|false]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined`: no system call filter.
    SeccompUnconfined,
    /// `seccomp=PATH`: a profile file, read into [`SecurityOpt::SeccompProfile`] when the
    /// container is created (`seccomp::inline`).
    SeccompFile(String),
    /// `seccomp={...}`: a profile in Docker's format, as `docker run` sends it.
    SeccompProfile(String),
    /// `systempaths=unconfined`: /proc and /sys without masked or read-only paths.
    SystemPathsUnconfined,
    /// `label=...` or `apparmor=...`: a confinement this host does not have.
    NoEffect(String),
}

impl SecurityOpt {
    pub fn parse(text: &str) -> Result<SecurityOpt, String> {
        let (key, value) = match text.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (text, None),
        };
        let bad = |why: &str| Err(format!("invalid security option {text:?}: {why}"));
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => Ok(SecurityOpt::NoNewPrivileges(true)),
            ("no-new-privileges", Some("false")) => Ok(SecurityOpt::NoNewPrivileges(false)),
            ("no-new-privileges", _) => bad("use no-new-privileges, no-new-privileges:true or :false"),
            ("seccomp", Some("unconfined")) => Ok(SecurityOpt::SeccompUnconfined),
            ("seccomp", Some(p)) if p.trim_start().starts_with('{') => {
                super::seccomp::check(p, "given inline")?;
                Ok(SecurityOpt::SeccompProfile(p.to_string()))
            }
            ("seccomp", Some(path)) if !path.is_empty() => Ok(SecurityOpt::SeccompFile(path.to_string())),
            ("systempaths", Some("unconfined")) => Ok(SecurityOpt::SystemPathsUnconfined),
            ("label" | "apparmor", Some(_)) => Ok(SecurityOpt::NoEffect(key.to_string())),
            _ => bad(
                "use no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json, systempaths=unconfined, label=... or apparmor=...",
            ),
        }
    }

    /// What to tell the user once: an option accepted without effect here.
    pub fn warning(&self) -> Option<String> {
        match self {
            SecurityOpt::NoEffect(key) if key == "label" => {
                Some("security_opt label: this host has no SELinux; the option has no effect".into())
            }
            SecurityOpt::NoEffect(_) => {
                Some("security_opt apparmor: this host has no AppArmor; the option has no effect".into())
            }
            _ => None,
        }
    }
}

/// Kernel parameters a container may set: those of the namespaces it has of its own, as
/// Docker allows (`net.*` with a network namespace of its own, IPC's with its own IPC).
pub fn check_sysctl(key: &str, own_network: bool, own_ipc: bool) -> Result<(), String> {
    const IPC: [&str; 6] =
        ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax"];
    let ipc = IPC.contains(&key)
        || key == "kernel.shmmni"
        || key == "kernel.shm_rmid_forced"
        || key.starts_with("fs.mqueue.");
    if ipc {
        return if own_ipc {
            Ok(())
        } else {
            Err(format!("sysctl {key:?} is not allowed with the host's or another container's IPC namespace"))
        };
    }
    if key.starts_with("net.") {
        return if own_network {
            Ok(())
        } else {
            Err(format!("sysctl {key:?} is not allowed with the host's network namespace"))
        };
    }
    Err(format!(
        "sysctl {key:?} is not namespaced: a container may set only net.*, kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.*"
    ))
}

impl super::HostConfig {
    /// The container whose PID namespace this one joins (`pid: container:ID`).
    pub fn pid_donor(&self) -> Option<&str> {
        self.pid_mode.as_deref()?.strip_prefix("container:")
    }

    /// The container whose IPC namespace (and `/dev/shm`) this one joins (`ipc: container:ID`).
    pub fn ipc_donor(&self) -> Option<&str> {
        self.ipc_mode.as_deref()?.strip_prefix("container:")
    }

    /// The parsed `security_opt` entries (checked at creation, so none fails here).
    pub fn security(&self) -> Vec<SecurityOpt> {
        self.security_opt.iter().filter_map(|o| SecurityOpt::parse(o).ok()).collect()
    }

    /// Checks what the options say against each other and against Docker's rules, before the
    /// container is created; `own_network` is whether it has a network namespace of its own.
    pub fn check(&self, own_network: bool) -> Result<(), String> {
        for o in &self.security_opt {
            if let SecurityOpt::SeccompFile(path) = SecurityOpt::parse(o)? {
                return Err(format!(
                    "the seccomp profile {path} was not read (it is read when the container is created)"
                ));
            }
        }
        let modes = [
            ("pid", &self.pid_mode),
            ("ipc", &self.ipc_mode),
            ("uts", &self.uts_mode),
            ("cgroup", &self.cgroupns_mode),
        ];
        for mode in modes {
            if let (name, Some(m)) = mode {
                let allowed: &[&str] = match name {
                    "ipc" => &["host", "private", "shareable", "none", "container:NAME"],
                    "pid" => &["host", "container:NAME"],
                    "cgroup" => &["host", "private"],
                    _ => &["host"],
                };
                let joins = m.strip_prefix("container:").is_some_and(|c| !c.is_empty());
                let ok = allowed.contains(&m.as_str()) || (joins && allowed.contains(&"container:NAME"));
                if !ok {
                    return Err(format!("invalid {name} mode {m:?}: use {}", allowed.join(" or ")));
                }
            }
        }
        if let Some(parent) = &self.cgroup_parent {
            if parent.trim_matches('/').is_empty() || parent.split('/').any(|c| c == "..") {
                return Err(format!("invalid cgroup_parent {parent:?}: name a cgroup below the root, without `..`"));
            }
        }
        for d in &self.devices {
            d.node()?;
        }
        for r in &self.device_cgroup_rules {
            device_rule(r)?;
        }
        if let Some(b) = &self.blkio {
            b.spec()?;
        }
        // Another container's namespace is that container's to set.
        let own_ipc = self.ipc_mode.as_deref() != Some("host") && self.ipc_donor().is_none();
        for key in self.sysctls.keys() {
            check_sysctl(key, own_network, own_ipc)?;
        }
        if let (Some(runtime), Some(period)) = (self.cpu_rt_runtime, self.cpu_rt_period) {
            if runtime > period {
                return Err("cpu_rt_runtime must not be more than cpu_rt_period".into());
            }
        }
        if self.cpus.is_some() && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return Err("cpus cannot be set together with cpu_quota or cpu_period (Docker refuses them too)".into());
        }
        if let (Some(swap), Some(memory)) = (self.memory_swap, self.memory) {
            if swap != -1 && (swap as u64) < memory {
                return Err("memswap_limit must be at least mem_limit (it counts memory and swap together)".into());
            }
        }
        if self.memory_swap.is_some() && self.memory.is_none() {
            return Err("memswap_limit needs mem_limit".into());
        }
        if self.memory_swappiness.is_some_and(|s| s > 100) {
            return Err("mem_swappiness must be between 0 and 100".into());
        }
        if self.oom_score_adj.is_some_and(|a| !(-1000..=1000).contains(&a)) {
            return Err("oom_score_adj must be between -1000 and 1000".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_options_in_dockers_spellings() {
        assert_eq!(SecurityOpt::parse("no-new-privileges"), Ok(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(SecurityOpt::parse("no-new-privileges:true"), Ok(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(SecurityOpt::parse("no-new-privileges=false"), Ok(SecurityOpt::NoNewPrivileges(false)));
        assert_eq!(SecurityOpt::parse("seccomp=unconfined"), Ok(SecurityOpt::SeccompUnconfined));
        assert_eq!(SecurityOpt::parse("seccomp:unconfined"), Ok(SecurityOpt::SeccompUnconfined));
        assert_eq!(SecurityOpt::parse("systempaths=unconfined"), Ok(SecurityOpt::SystemPathsUnconfined));
        assert!(SecurityOpt::parse("label=disable").expect("accepted").warning().is_some());
        assert_eq!(SecurityOpt::parse("seccomp=/etc/p.json"), Ok(SecurityOpt::SeccompFile("/etc/p.json".into())));
        let inline = r#"seccomp={"defaultAction": "SCMP_ACT_ALLOW"}"#;
        assert!(matches!(SecurityOpt::parse(inline), Ok(SecurityOpt::SeccompProfile(_))));
        assert!(SecurityOpt::parse(r#"seccomp={"defaultAction": 1}"#).is_err());
        assert!(SecurityOpt::parse("no-new-privileges:maybe").is_err());
        assert!(SecurityOpt::parse("nonsense").is_err());
    }

    #[test]
    fn devices_in_dockers_spellings() {
        let d = |s| Device::parse(s);
        let full = Device { source: "/dev/fuse".into(), target: "/dev/fuse".into(), permissions: "rwm".into() };
        assert_eq!(d("/dev/fuse"), Ok(full.clone()));
        assert_eq!(d("/dev/fuse:/dev/f"), Ok(Device { target: "/dev/f".into(), ..full.clone() }));
        assert_eq!(d("/dev/fuse:r"), Ok(Device { permissions: "r".into(), ..full.clone() }));
        assert_eq!(d("/dev/fuse:/dev/f:rw"), Ok(Device { target: "/dev/f".into(), permissions: "rw".into(), ..full }));
        assert!(d("/dev/fuse:/dev/f:rwx").is_err());
        assert!(d("fuse").is_err());
        assert!(d("/a:/b:r:w").is_err());
        assert_eq!(d("/dev/null").and_then(|d| d.node()).map(|n| (n.kind, n.major, n.minor)), Ok(("c", 1, 3)));
        assert!(d("/dev/no-such-device").and_then(|d| d.node()).expect_err("missing").contains("no such device"));
        assert!(d("/etc/passwd").and_then(|d| d.node()).expect_err("a file").contains("not a device"));
    }

    #[test]
    fn device_cgroup_rules_and_block_devices() {
        let rule = device_rule("c 1:3 rwm").expect("a rule");
        assert_eq!(rule, serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}));
        let any = device_rule("b *:* m").expect("a rule");
        assert_eq!((any["major"].is_null(), any["minor"].is_null()), (true, true));
        for bad in ["c 1:3", "x 1:3 r", "c 1-3 r", "c 1:3 rwx", "c a:3 r"] {
            assert!(device_rule(bad).is_err(), "{bad}");
        }
        let not_block = Blkio { read_bps: vec![("/dev/null".into(), 1024)], ..Blkio::default() };
        assert!(not_block.spec().expect_err("refused").contains("not a block device"));
        assert_eq!(Blkio::default().spec().expect("empty")["throttleReadBpsDevice"], serde_json::json!([]));
    }

    #[test]
    fn only_namespaced_sysctls() {
        assert_eq!(check_sysctl("net.ipv4.ip_unprivileged_port_start", true, true), Ok(()));
        assert!(check_sysctl("net.ipv4.ip_forward", false, true).is_err(), "network_mode: host");
        assert_eq!(check_sysctl("kernel.shmmax", true, true), Ok(()));
        assert_eq!(check_sysctl("fs.mqueue.msg_max", true, true), Ok(()));
        assert!(check_sysctl("kernel.sem", true, false).is_err(), "ipc: host");
        assert!(check_sysctl("kernel.pid_max", true, true).is_err());
        assert!(check_sysctl("vm.swappiness", true, true).is_err());
    }
}
