//! A container's root file system: an overlay of its image's snapshots (read-only lower
//! directories, shared) under its own upper directory.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{Mode, OFlags};

use super::store::Container;
use super::{ContainerConfig, Status};
use crate::store::Store;

/// Mounts the overlay at `target`. `lowers` are the layer directories bottom first, as an image
/// lists them; overlayfs wants the topmost first.
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    std::fs::create_dir_all(upper)?;
    std::fs::create_dir_all(work)?;
    std::fs::create_dir_all(target)?;
    let lowerdir: Vec<String> = lowers.iter().rev().map(|p| p.display().to_string()).collect();
    // A single-layer image still needs two lower entries or an upper; with an upper, one is fine.
    let data = format!("lowerdir={},upperdir={},workdir={}", lowerdir.join(":"), upper.display(), work.display());
    if data.len() >= 4096 {
        return Err(io::Error::other(format!(
            "the image has too many layers ({}) for one overlay mount on this state directory",
            lowers.len()
        )));
    }
    nix::mount::mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
        .map_err(|e| io::Error::other(format!("cannot mount the overlay root file system: {e}")))
}

/// The mount points every container's root needs (its /proc, /dev and /sys, and the /etc
/// files berth binds), in one directory under every container's layers. An image that has
/// them shows its own; one that lacks them gets them from here instead of each container
/// making them in its upper directory: seven files fewer to create and delete a container.
const INIT_DIRS: [&str; 4] = ["etc", "proc", "dev", "sys"];
const INIT_FILES: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// Whether a file in an overlay layer is overlayfs's mark of a deleted one (a 0/0
/// character device).
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether a directory in an overlay layer hides what the layers below hold there.
pub fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 1];
    rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut value).is_ok_and(|n| n == 1 && value[0] == b'y')
}

/// The lower directories of container `config`'s root, bottom first: the shared init layer,
/// then its image's layers.
pub fn lowers(store: &Store, config: &ContainerConfig) -> io::Result<Vec<PathBuf>> {
    let mut lowers = vec![init_layer(&store.root)?];
    lowers.extend(config.layers.iter().map(|d| store.snapshot_fs(d)));
    Ok(lowers)
}

/// The init layer, made once (in a temporary directory renamed into place, so that two
/// shims making it at once both find it whole).
fn init_layer(root: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let layer = root.join("init-layer");
    if layer.is_dir() {
        return Ok(layer);
    }
    let temp = crate::fsutil::temp_name(&layer);
    let made = (|| -> io::Result<()> {
        for d in std::iter::once("").chain(INIT_DIRS) {
            std::fs::create_dir_all(temp.join(d))?;
            std::fs::set_permissions(temp.join(d), std::fs::Permissions::from_mode(0o755))?;
        }
        for f in INIT_FILES {
            std::fs::write(temp.join(f), b"")?;
            std::fs::set_permissions(temp.join(f), std::fs::Permissions::from_mode(0o644))?;
        }
        std::fs::rename(&temp, &layer)
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&temp);
        if !layer.is_dir() {
            return Err(io::Error::other(format!("cannot make {}: {e}", layer.display())));
        }
    }
    Ok(layer)
}

/// Unmounts `target` if it is a mount point; a path that is not mounted is fine.
pub fn unmount(target: &Path) -> io::Result<()> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(io::Error::other(format!("cannot unmount {}: {e}", target.display()))),
    }
}

/// A container's root file system as its processes see it, held open: the root of its
/// running process (with its volumes and binds), else the root its shim keeps mounted in the
/// shim's own mount namespace (between restarts), else the overlay mounted here for as long as
/// this value lives. `path()` names it through this process's descriptor, so what is found
/// through it is in the container whatever happens to the record meanwhile.
pub struct MountedRoot {
    fd: OwnedFd,
    mounted_here: Option<PathBuf>,
}

impl MountedRoot {
    /// The root of container `c`, reached without a mount when it runs.
    pub fn of(store: &Store, c: &Container) -> io::Result<MountedRoot> {
        let dir = &store.container_dir(&c.config.id);
        if let Some(root) = MountedRoot::running(c)? {
            return Ok(root);
        }
        if let Some(shim) = c.state.shim_pid.filter(|_| super::store::shim_running(dir)) {
            if let Some(fd) = live_dir(shim, None, &format!("root{}", dir.rootfs().display()))? {
                if nix::sys::statfs::fstatfs(&fd)
                    .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC)
                {
                    return Ok(MountedRoot { fd, mounted_here: None });
                }
            }
        }
        let target = dir.rootfs();
        mount_overlay(&lowers(store, &c.config)?, &dir.upper(), &dir.work(), &target)?;
        let fd = rustix::fs::open(&target, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty());
        let root = MountedRoot { fd: fd.inspect_err(|_| drop(unmount(&target)))?, mounted_here: Some(target) };
        Ok(root)
    }

    /// The root of the container's running process, if it runs: `/proc/PID/root` of the
    /// recorded process, once that process is known to be the container's (its cgroup) and
    /// to have lived on past the opening (a recorded PID can belong to another process later).
    pub fn running(c: &Container) -> io::Result<Option<MountedRoot>> {
        let Some(pid) = c.state.pid.filter(|_| matches!(c.state.status, Status::Running | Status::Paused)) else {
            return Ok(None);
        };
        MountedRoot::process(pid, &c.config.cgroups_path())
    }

    /// The root of process `pid` of the container of cgroup `cgroup`, if that process is the
    /// container's.
    pub fn process(pid: i32, cgroup: &str) -> io::Result<Option<MountedRoot>> {
        Ok(live_dir(pid, Some(cgroup), "root")?.map(|fd| MountedRoot { fd, mounted_here: None }))
    }

    /// The root as a path of this process (`/proc/self/fd/N`).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}

impl Drop for MountedRoot {
    fn drop(&mut self) {
        if let Some(target) = self.mounted_here.take() {
            let _ = unmount(&target);
        }
    }
}

/// `/proc/PID/ns/<kind>` of process `pid` of the container of cgroup `cgroup`, if that
/// process is the container's and alive.
pub fn live_namespace(pid: i32, cgroup: &str, kind: &str) -> io::Result<Option<PathBuf>> {
    Ok(live_dir(pid, Some(cgroup), "ns")?.map(|_| PathBuf::from(format!("/proc/{pid}/ns/{kind}"))))
}

/// `/proc/PID/<below>` opened as a directory, if process `pid` exists, is in cgroup `cgroup`
/// (when given) and is still alive after the opening, so that the directory is that process's.
fn live_dir(pid: i32, cgroup: Option<&str>, below: &str) -> io::Result<Option<OwnedFd>> {
    let Some(raw) = rustix::process::Pid::from_raw(pid) else { return Ok(None) };
    let Ok(pidfd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) else { return Ok(None) };
    if let Some(cgroup) = cgroup {
        let Ok(groups) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else { return Ok(None) };
        let ours = groups.lines().any(|l| l.rsplit(':').next().is_some_and(|p| p == cgroup));
        if !ours {
            return Ok(None);
        }
    }
    let path = format!("/proc/{pid}/{below}");
    let Ok(fd) = rustix::fs::open(path.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    else {
        return Ok(None);
    };
    // A pidfd becomes readable when its process has ended.
    let mut poll = [nix::poll::PollFd::new(pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
    let ended = nix::poll::poll(&mut poll, nix::poll::PollTimeout::ZERO)? > 0;
    Ok((!ended).then_some(fd))
}

/// The `PATH` of a container whose image sets none, as Docker's.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a container's process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Setup(String),
    /// Docker's exit codes for a command that cannot run: 127 not found, 126 not executable.
    #[error("{message}")]
    Command { code: i32, message: String },
}

/// Docker's exit codes for a command that cannot run, checked before the container is
/// created: 127 when it is not found (in the image's PATH), 126 when it is not executable.
pub fn check_command(rootfs: &Path, args: &[String], env: &[String]) -> Result<(), StartError> {
    let Some(cmd) = args.first() else {
        return Err(StartError::Command { code: 127, message: "no command given, and the image has none".into() });
    };
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let candidates: Vec<String> =
        if cmd.contains('/') { vec![cmd.clone()] } else { path.split(':').map(|d| format!("{d}/{cmd}")).collect() };
    let root = crate::fsutil::InRoot::open(rootfs)
        .map_err(|e| StartError::Setup(format!("cannot open the root file system: {e}")))?;
    let mut found_not_exec = None;
    for c in &candidates {
        if let Ok(fd) = root.open_at(c, OFlags::PATH) {
            let stat = rustix::fs::fstat(&fd).ok();
            let is_file = stat
                .is_some_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::RegularFile);
            let exec = stat.is_some_and(|s| s.st_mode & 0o111 != 0);
            if is_file && exec {
                return Ok(());
            }
            found_not_exec.get_or_insert(c.clone());
        }
    }
    Err(match found_not_exec {
        Some(c) => StartError::Command {
            code: 126,
            message: format!("{c:?} cannot be executed: permission denied or not a file"),
        },
        None => StartError::Command { code: 127, message: format!("{cmd:?}: executable file not found in $PATH") },
    })
}
