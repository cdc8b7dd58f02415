//! What a container takes from other containers instead of making its own: the PID and IPC
//! namespaces of `pid`/`ipc: container:ID` (a project's `service:NAME` becomes that), and the
//! `/dev/shm` that goes with an IPC namespace.
//!
//! A container whose IPC namespace others may join (`ipc: shareable`) has its `/dev/shm`
//! mounted on the host, at [`ContainerDir::shm`], by its shim before the shim takes a mount
//! namespace of its own; the shims of the containers joining it keep that directory in theirs
//! and bind it, as Docker binds the donor's `mounts/shm`. A donor's namespaces are found
//! through its running process, checked to be the donor's (its cgroup) at each start, since a
//! recorded PID may belong to another process by now.

use std::io;
use std::path::PathBuf;

use nix::mount::MsFlags;

use super::dir::ContainerDir;
use super::{ContainerConfig, HostConfig, Status};
use crate::store::Store;

/// What a container takes from outside instead of making its own: namespace files to join
/// (none: a new namespace, unless the container uses the host's) and the `/dev/shm` to bind.
#[derive(Debug, Default, PartialEq)]
pub struct Joins {
    pub net: Option<PathBuf>,
    pub pid: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
    /// The shareable `/dev/shm` on the host: the container's own (`ipc: shareable`) or the one
    /// of the container whose IPC namespace it joins.
    pub shm: Option<PathBuf>,
}

impl Joins {
    /// What `config` joins now: `net` as the network found it, and the PID and IPC namespaces
    /// of its donors, which must be running.
    pub fn of(store: &Store, config: &ContainerConfig, net: Option<PathBuf>) -> Result<Joins, String> {
        let host = &config.host;
        let mut joins = Joins { net, ..Joins::default() };
        if let Some(donor) = host.pid_donor() {
            joins.pid = Some(namespace_of(store, donor, "pid")?);
        }
        if let Some(donor) = host.ipc_donor() {
            joins.ipc = Some(namespace_of(store, donor, "ipc")?);
            joins.shm = Some(mounted_shm(&store.container_dir(donor))?);
        } else if host.ipc_mode.as_deref() == Some("shareable") {
            joins.shm = Some(mounted_shm(&store.container_dir(&config.id))?);
        }
        Ok(joins)
    }
}

/// Whether the container joins another's PID or IPC namespace, which a restart must find again.
pub fn joins_another(host: &HostConfig) -> bool {
    host.pid_donor().is_some() || host.ipc_donor().is_some()
}

/// `/proc/PID/ns/<kind>` of container `id`'s process, once that process is known to be it.
fn namespace_of(store: &Store, id: &str, kind: &str) -> Result<PathBuf, String> {
    let donor = store.load_container(id).map_err(|e| format!("cannot find the container to join: {e}"))?;
    let name = &donor.config.name;
    let not_running = || format!("cannot join the {kind} namespace of {name}: it is not running");
    let pid = donor.state.pid.filter(|_| matches!(donor.state.status, Status::Running | Status::Paused));
    let pid = pid.ok_or_else(not_running)?;
    let found = super::rootfs::live_namespace(pid, &donor.config.cgroups_path(), kind)
        .map_err(|e| format!("{}: {e}", not_running()))?;
    found.ok_or_else(not_running)
}

/// The shareable `/dev/shm` of the container of `dir`, if it is mounted.
fn mounted_shm(dir: &ContainerDir) -> Result<PathBuf, String> {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    let path = dir.shm();
    match rustix::fs::statfs(&path) {
        Ok(fs) if fs.f_type as u64 == TMPFS_MAGIC => Ok(path),
        _ => Err(format!("the shareable /dev/shm at {} is not mounted", path.display())),
    }
}

/// Mounts the shareable `/dev/shm` of a container (`ipc: shareable`) at `dir`'s, afresh.
pub fn mount_shm(dir: &ContainerDir, host: &HostConfig) -> io::Result<()> {
    let path = dir.shm();
    std::fs::create_dir_all(&path)?;
    super::rootfs::unmount(&path)?;
    let data = format!("mode=1777,{}", shm_size_option(host));
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    nix::mount::mount(Some("shm"), &path, Some("tmpfs"), flags, Some(data.as_str())).map_err(io::Error::from)
}

/// Takes down the shareable `/dev/shm` of the container of `dir`, if it has one.
pub fn unmount_shm(dir: &ContainerDir) -> io::Result<()> {
    let path = dir.shm();
    if !path.exists() {
        return Ok(());
    }
    super::rootfs::unmount(&path)?;
    let _ = std::fs::remove_dir(&path);
    Ok(())
}

/// The container directories whose mounts a shim keeps in its own mount namespace beyond
/// its container's: the donor of the IPC namespace (its `/dev/shm`).
pub fn kept_dirs(store: &Store, host: &HostConfig) -> Vec<PathBuf> {
    host.ipc_donor().map(|d| store.container_dir(d).path().to_path_buf()).into_iter().collect()
}

/// The container's `/dev/shm`: none with `ipc: none`, the shareable one bound, else a tmpfs of
/// its own.
pub fn shm_mount(host: &HostConfig, joins: &Joins) -> Option<serde_json::Value> {
    let options = ["nosuid", "noexec", "nodev", "mode=1777"];
    match (&joins.shm, host.ipc_mode.as_deref()) {
        (_, Some("none")) => None,
        (Some(shared), _) => Some(serde_json::json!({
            "destination": "/dev/shm", "type": "bind", "source": shared, "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        })),
        (None, _) => Some(serde_json::json!({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": options.iter().map(|o| o.to_string()).chain([shm_size_option(host)]).collect::<Vec<_>>(),
        })),
    }
}

/// The `size=` option of a container's `/dev/shm` (Docker's 64 MiB unless `shm_size`).
pub fn shm_size_option(host: &HostConfig) -> String {
    format!("size={}", host.shm_size.unwrap_or(64 << 20))
}

pub fn namespaces(config: &ContainerConfig, joins: &Joins) -> serde_json::Value {
    let host = &config.host;
    let kinds =
        [("pid", &host.pid_mode, &joins.pid), ("ipc", &host.ipc_mode, &joins.ipc), ("uts", &host.uts_mode, &None)];
    let mut list: Vec<serde_json::Value> = kinds
        .into_iter()
        .filter(|(_, mode, _)| mode.as_deref() != Some("host"))
        .map(|(kind, _, path)| match path {
            Some(path) => serde_json::json!({"type": kind, "path": path}),
            None => serde_json::json!({"type": kind}),
        })
        .chain(host.cgroupns_mode.as_deref().filter(|m| *m == "private").map(|_| serde_json::json!({"type": "cgroup"})))
        .chain([serde_json::json!({"type": "mount"})])
        .collect();
    match (&joins.net, &config.network.mode) {
        (_, super::NetworkMode::Host) => {}
        (Some(path), _) => list.push(serde_json::json!({"type": "network", "path": path})),
        (None, _) => list.push(serde_json::json!({"type": "network"})),
    }
    serde_json::Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pid: Option<&str>, ipc: Option<&str>) -> ContainerConfig {
        let host = HostConfig { pid_mode: pid.map(Into::into), ipc_mode: ipc.map(Into::into), ..HostConfig::default() };
        ContainerConfig { id: "abc".into(), host, ..ContainerConfig::default() }
    }

    fn kinds(list: &serde_json::Value) -> Vec<String> {
        list.as_array().expect("a list").iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn joined_namespaces_are_named_by_their_files_and_the_rest_are_new() {
        let joins = Joins {
            net: Some("/n".into()),
            pid: Some("/proc/7/ns/pid".into()),
            ipc: Some("/proc/7/ns/ipc".into()),
            shm: None,
        };
        let got = kinds(&namespaces(&config(Some("container:d"), Some("container:d")), &joins));
        let want = [
            r#"{"type":"pid","path":"/proc/7/ns/pid"}"#,
            r#"{"type":"ipc","path":"/proc/7/ns/ipc"}"#,
            r#"{"type":"uts"}"#,
            r#"{"type":"mount"}"#,
            r#"{"type":"network","path":"/n"}"#,
        ];
        assert_eq!(got, want);
        let got = kinds(&namespaces(&config(Some("host"), Some("host")), &Joins::default()));
        assert_eq!(got, [r#"{"type":"uts"}"#, r#"{"type":"mount"}"#, r#"{"type":"network"}"#]);
    }

    #[test]
    fn dev_shm_is_private_bound_when_shared_and_absent_with_ipc_none() {
        let own = shm_mount(&config(None, None).host, &Joins::default()).expect("a /dev/shm");
        assert_eq!(own["type"], "tmpfs");
        assert!(own["options"].as_array().expect("options").contains(&"size=67108864".into()));
        let joins = Joins { shm: Some("/var/lib/berth/containers/d/shm".into()), ..Joins::default() };
        let bound = shm_mount(&config(None, Some("container:d")).host, &joins).expect("a /dev/shm");
        assert_eq!(
            (bound["type"].as_str(), bound["source"].as_str()),
            (Some("bind"), Some("/var/lib/berth/containers/d/shm"))
        );
        assert_eq!(shm_mount(&config(None, Some("none")).host, &Joins::default()), None);
    }

    #[test]
    fn only_donors_make_a_restart_look_again() {
        assert!(joins_another(&config(Some("container:d"), None).host));
        assert!(joins_another(&config(None, Some("container:d")).host));
        assert!(!joins_another(&config(Some("host"), Some("shareable")).host));
    }
}
