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
