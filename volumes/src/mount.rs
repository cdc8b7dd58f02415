//! What a container mounts: a bind of a host path, a named (or anonymous) volume, or a tmpfs;
//! parsed from `-v` and `--mount`, checked, and turned into the runtime's mount entries.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Result, VolumeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountKind,
    /// A bind's host path (absolute), or a volume's name (none: an anonymous volume, named
    /// when the container is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    /// `rprivate` (default), `private`, `rshared`, `shared`, `rslave`, `slave`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// A missing bind source is created (the short syntax always does, as Docker).
    #[serde(default)]
    pub create_host_path: bool,
    /// Do not seed an empty volume with the image's content.
    #[serde(default)]
    pub nocopy: bool,
    /// Mount only this directory of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_mode: Option<u32>,
}

impl Mount {
    pub fn new(kind: MountKind, source: Option<String>, target: &str) -> Mount {
        Mount {
            kind,
            source,
            target: target.to_string(),
            read_only: false,
            propagation: None,
            create_host_path: false,
            nocopy: false,
            subpath: None,
            tmpfs_size: None,
            tmpfs_mode: None,
        }
    }
}

const PROPAGATIONS: [&str; 6] = ["rprivate", "private", "rshared", "shared", "rslave", "slave"];

fn looks_like_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// Resolves a bind source: `~` to `home`, relative to `base`.
pub fn host_path(source: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    if let (Some(rest), Some(home)) = (source.strip_prefix('~'), home) {
        return home.join(rest.trim_start_matches('/'));
    }
    let p = Path::new(source);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// Parses `-v`: `NAME:/target[:opts]`, `/host:/target[:opts]`, `/target` (anonymous); the
/// options are `ro`, `rw`, `z`, `Z`, `nocopy` and a propagation. Relative host paths resolve
/// against `base`.
pub fn parse_volume_flag(spec: &str, base: &Path, home: Option<&Path>) -> Result<Mount> {
    let bad = |why: &str| VolumeError::Mount(format!("invalid volume {spec:?}: {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, options] => (Some(*source), *target, *options),
        _ => return Err(bad("use SOURCE:TARGET[:OPTIONS]")),
    };
    let mut m = match source.filter(|s| !s.is_empty()) {
        Some(s) if looks_like_path(s) => {
            let mut m = Mount::new(MountKind::Bind, Some(host_path(s, base, home).display().to_string()), target);
            m.create_host_path = true;
            m
        }
        Some(name) => Mount::new(MountKind::Volume, Some(name.to_string()), target),
        None => Mount::new(MountKind::Volume, None, target),
    };
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "readonly" => m.read_only = true,
            "rw" => m.read_only = false,
            "z" | "Z" => check_selinux_label(o).map_err(|e| bad(&e))?,
            "nocopy" if m.kind == MountKind::Volume => m.nocopy = true,
            p if PROPAGATIONS.contains(&p) && m.kind == MountKind::Bind => m.propagation = Some(p.to_string()),
            other => return Err(bad(&format!("unknown option {other:?}"))),
        }
    }
    check(&m)?;
    Ok(m)
}

/// Parses `--mount type=bind|volume|tmpfs,source=...,target=...,readonly,...`.
pub fn parse_mount_flag(spec: &str, base: &Path) -> Result<Mount> {
    let bad = |why: String| VolumeError::Mount(format!("invalid mount {spec:?}: {why}"));
    let mut kind = MountKind::Volume;
    let mut fields: Vec<(String, String)> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=').unwrap_or((field, "true"));
        if k == "type" {
            kind = match v {
                "bind" => MountKind::Bind,
                "volume" => MountKind::Volume,
                "tmpfs" => MountKind::Tmpfs,
                other => return Err(bad(format!("unknown type {other:?}: use bind, volume or tmpfs"))),
            };
        } else {
            fields.push((k.to_string(), v.to_string()));
        }
    }
    let mut m = Mount::new(kind, None, "");
    let flag = |v: &str| v == "true" || v == "1";
    for (k, v) in fields {
        match k.as_str() {
            "source" | "src" => {
                m.source = Some(match kind {
                    MountKind::Bind => host_path(&v, base, None).display().to_string(),
                    _ => v,
                })
            }
            "target" | "destination" | "dst" => m.target = v,
            "readonly" | "ro" => m.read_only = flag(&v),
            "bind-propagation" => m.propagation = Some(v),
            "bind-create-host-path" => m.create_host_path = flag(&v),
            "volume-nocopy" => m.nocopy = flag(&v),
            "volume-subpath" => m.subpath = Some(v),
            "tmpfs-size" => m.tmpfs_size = Some(v.parse().map_err(|_| bad(format!("invalid tmpfs-size {v:?}")))?),
            "tmpfs-mode" => {
                m.tmpfs_mode = Some(u32::from_str_radix(&v, 8).map_err(|_| bad(format!("invalid tmpfs-mode {v:?}")))?)
            }
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    check(&m)?;
    Ok(m)
}

/// SELinux relabelling (`:z`, `:Z`): nothing to do on a host without SELinux, as with Docker;
/// berth does not relabel yet, so on a host that enforces SELinux it is refused rather than
/// left undone.
pub fn check_selinux_label(label: &str) -> Result<(), String> {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(format!("SELinux relabelling ({label}) is not supported by berth on a host with SELinux enabled"));
    }
    Ok(())
}

/// Checks a mount before anything is created: an absolute target, a known propagation, a
/// bind source that exists (or may be created), a valid volume name.
pub fn check(m: &Mount) -> Result<()> {
    let bad = |why: String| VolumeError::Mount(format!("mount {}: {why}", m.target));
    if m.target.is_empty() {
        return Err(VolumeError::Mount("a mount needs a target".into()));
    }
    if !m.target.starts_with('/') {
        return Err(bad("the target must be an absolute path".into()));
    }
    check_target(&m.target, m.kind, m.source.as_deref(), Path::new("/sys")).map_err(bad)?;
    if let Some(p) = &m.propagation {
        if !PROPAGATIONS.contains(&p.as_str()) {
            return Err(bad(format!("unknown propagation {p:?}: use one of {}", PROPAGATIONS.join(", "))));
        }
    }
    if let Some(sub) = &m.subpath {
        if Path::new(sub).is_absolute() || Path::new(sub).components().any(|c| c == std::path::Component::ParentDir) {
            return Err(bad(format!("subpath {sub:?} must stay inside the volume")));
        }
    }
    match m.kind {
        MountKind::Bind => {
            let source = m.source.as_deref().ok_or_else(|| bad("a bind mount needs a source".into()))?;
            if !Path::new(source).is_absolute() {
                return Err(bad(format!("the bind source {source:?} must be an absolute path")));
            }
            if !m.create_host_path && std::fs::symlink_metadata(source).is_err() {
                return Err(bad(format!(
                    "the bind source {source} does not exist (set bind.create_host_path to create it)"
                )));
            }
        }
        MountKind::Volume => {
            if let Some(name) = &m.source {
                if !crate::store::valid_name(name) {
                    return Err(VolumeError::BadName(name.clone()));
                }
            }
        }
        MountKind::Tmpfs => {
            if m.source.is_some() {
                return Err(bad("a tmpfs mount takes no source".into()));
            }
        }
    }
    Ok(())
}

/// The files under /proc a bind may replace: what lxcfs serves, as runc allows them.
const PROC_FILES: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Refuses the targets the runtime would refuse late, or that would let the mount's content
/// steer what the runtime does on the host's behalf: /proc and what is under it (but the
/// lxcfs files), /sys and what its sysfs (the host's, at `sys`) lacks, and /dev from anything
/// but the host's /dev or a tmpfs (the runtime bind-mounts `/dev/null` over the masked paths;
/// a planted `/dev/null` link would point that at the host's files, CVE-2025-31133).
pub fn check_target(
    target: &str,
    kind: MountKind,
    source: Option<&str>,
    sys: &Path,
) -> std::result::Result<(), String> {
    let mut clean = PathBuf::from("/");
    for c in Path::new(target).components() {
        match c {
            std::path::Component::Normal(part) => clean.push(part),
            std::path::Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    let clean = clean.to_string_lossy();
    if clean == "/" {
        return Err("nothing can be mounted over the container's root".into());
    }
    if clean == "/proc" || clean.starts_with("/proc/") {
        if kind == MountKind::Bind && PROC_FILES.contains(&clean.as_ref()) {
            return Ok(());
        }
        return Err(format!(
            "berth mounts nothing over /proc or under it but the files lxcfs serves ({}): the container's procfs is \
             the kernel's",
            PROC_FILES.join(", ")
        ));
    }
    if clean == "/sys" {
        return Err("berth mounts nothing over /sys: the container's sysfs is the kernel's (read-only)".into());
    }
    if let Some(rest) = clean.strip_prefix("/sys/") {
        if std::fs::symlink_metadata(sys.join(rest)).is_err() {
            return Err(format!(
                "sysfs has no {clean}, and nothing can be created in it (only a path sysfs has can be mounted over)"
            ));
        }
    }
    if clean == "/dev" && kind != MountKind::Tmpfs && !(kind == MountKind::Bind && source == Some("/dev")) {
        return Err("only the host's /dev (a bind of /dev) or a tmpfs can replace the container's /dev: the runtime \
                    mounts /dev/null over the masked paths, and another /dev could point it at the host's files"
            .into());
    }
    Ok(())
}

/// One entry of the runtime spec's `mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// The runtime's mount for `m`, whose data is at `source` (a host directory), or a tmpfs with
/// `tmpfs_options` for tmpfs mounts and tmpfs-backed volumes.
pub fn runtime_mount(m: &Mount, source: Option<&Path>, tmpfs_options: &[String]) -> RuntimeMount {
    match source {
        Some(path) => {
            let mut options = vec!["rbind".to_string(), m.propagation.clone().unwrap_or_else(|| "rprivate".into())];
            if m.read_only {
                options.push("ro".into());
            }
            RuntimeMount {
                destination: m.target.clone(),
                kind: "bind".into(),
                source: path.display().to_string(),
                options,
            }
        }
        None => {
            let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
            if let Some(size) = m.tmpfs_size {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = m.tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
            options.extend(tmpfs_options.iter().cloned());
            if m.read_only {
                options.push("ro".into());
            }
            RuntimeMount { destination: m.target.clone(), kind: "tmpfs".into(), source: "tmpfs".into(), options }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_over_proc_sys_and_dev() {
        use super::MountKind::{Bind, Tmpfs, Volume};
        let sys = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(sys.path().join("fs/cgroup")).expect("mkdir");
        let check = |target: &str, kind, source: Option<&str>| super::check_target(target, kind, source, sys.path());
        for bad in ["/proc", "/proc/", "/proc/sys/kernel", "/proc/self/fd", "/tmp/../proc/sys", "/", "/sys"] {
            assert!(check(bad, Bind, Some("/x")).is_err(), "{bad}");
        }
        assert!(check("/proc/meminfo", Bind, Some("/var/lib/lxcfs/proc/meminfo")).is_ok(), "lxcfs");
        assert!(check("/proc/meminfo", Volume, Some("v")).is_err(), "only binds of lxcfs files");
        assert!(check("/sys/fs/cgroup", Bind, Some("/sys/fs/cgroup")).is_ok(), "a path sysfs has");
        let e = check("/sys/kernel/y", Bind, Some("/x")).expect_err("sysfs lacks it");
        assert!(e.contains("/sys/kernel/y"), "{e}");
        assert!(check("/dev", Volume, Some("devices")).is_err(), "a volume's /dev");
        assert!(check("/dev/", Bind, Some("/srv/dev")).is_err(), "another directory's /dev");
        assert!(check("/dev", Bind, Some("/dev")).is_ok(), "the host's /dev");
        assert!(check("/dev", Tmpfs, None).is_ok());
        assert!(check("/dev/shm", Volume, Some("shm")).is_ok() && check("/data", Volume, Some("d")).is_ok());
    }

    use super::*;

    fn v(spec: &str) -> Result<Mount> {
        parse_volume_flag(spec, Path::new("/project"), Some(Path::new("/home/u")))
    }

    #[test]
    fn volume_flags() {
        let m = v("data:/var/lib/db").expect("named");
        assert_eq!((m.kind, m.source.as_deref(), m.target.as_str()), (MountKind::Volume, Some("data"), "/var/lib/db"));
        let m = v("./site:/srv:ro").expect("relative bind");
        assert_eq!((m.kind, m.source.as_deref(), m.read_only), (MountKind::Bind, Some("/project/./site"), true));
        assert!(m.create_host_path, "the short syntax creates a missing source");
        let m = v("~/conf:/etc/app:rw,z").expect("home");
        assert_eq!(m.source.as_deref(), Some("/home/u/conf"));
        let m = v("/cache").expect("anonymous");
        assert_eq!((m.kind, m.source), (MountKind::Volume, None));
        assert!(v("data:/x:nocopy").expect("nocopy").nocopy);
        assert_eq!(v("/tmp:/x:rshared").expect("propagation").propagation.as_deref(), Some("rshared"));
    }

    #[test]
    fn bad_volume_flags() {
        for (spec, needle) in [
            ("data:relative", "absolute"),
            ("data:/x:bogus", "unknown option"),
            ("b@d:/x", "invalid volume name"),
            ("a:b:c:d", "SOURCE:TARGET"),
        ] {
            let e = v(spec).expect_err(spec).to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn mount_flags() {
        let m = parse_mount_flag("type=tmpfs,target=/run,tmpfs-size=1048576,tmpfs-mode=1770", Path::new("/"))
            .expect("tmpfs");
        assert_eq!((m.kind, m.tmpfs_size, m.tmpfs_mode), (MountKind::Tmpfs, Some(1_048_576), Some(0o1770)));
        let rm = runtime_mount(&m, None, &[]);
        assert_eq!(rm.options, ["nosuid", "nodev", "size=1048576", "mode=1770"]);
        let e =
            parse_mount_flag("type=bind,source=/definitely/not/here,target=/x", Path::new("/")).expect_err("missing");
        assert!(e.to_string().contains("does not exist"), "{e}");
        let ok =
            parse_mount_flag("type=bind,source=/definitely/not/here,target=/x,bind-create-host-path", Path::new("/"));
        assert!(ok.is_ok());
        let m = parse_mount_flag("type=volume,source=data,target=/d,readonly,volume-subpath=sub", Path::new("/"))
            .expect("volume");
        let rm = runtime_mount(&m, Some(Path::new("/v/data/_data/sub")), &[]);
        assert_eq!(rm.options, ["rbind", "rprivate", "ro"]);
        assert!(parse_mount_flag("type=volume,source=data,target=/d,volume-subpath=../up", Path::new("/")).is_err());
    }
}
