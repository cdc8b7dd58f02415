//! A container's root file system: an overlay of its image's snapshots (read-only lower
//! directories, shared) under its own upper directory.

use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

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

/// Unmounts `target` if it is a mount point; a path that is not mounted is fine.
pub fn unmount(target: &Path) -> io::Result<()> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(io::Error::other(format!("cannot unmount {}: {e}", target.display()))),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's, or /proc says so).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let wanted = path.display().to_string();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
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
    use rustix::fs::OFlags;
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
