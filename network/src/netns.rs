//! Persistent network namespaces: a new namespace bind-mounted on a file, so that it outlives
//! the processes in it. A container keeps its namespace (and so its addresses) across restarts
//! of its process; removing the container unmounts and deletes the file.
//!
//! Namespaces are per thread in Linux, so every operation that enters one runs on a thread of
//! its own, which ends with it: the calling thread never changes namespace.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use crate::{NetError, Result};

/// The filesystem type of a namespace file (`NSFS_MAGIC`).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Whether `path` is a mounted network namespace (after a reboot the file is still there, but
/// empty).
pub fn exists(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC)
}

/// Creates a namespace and mounts it on `path` (created if missing); an existing namespace
/// there is kept. `link::create_netns` also brings its loopback up.
pub fn create(path: &Path) -> Result<()> {
    if exists(path) {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(NetError::io(format!("cannot create {}", path.display())))?;
    let target = path.to_path_buf();
    let mounted = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| NetError::io("cannot create a network namespace")(e.into()))?;
        without_ipv6()?;
        nix::mount::mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| NetError::io(format!("cannot mount a network namespace on {}", target.display()))(e.into()))
    })
    .join()
    .unwrap_or_else(|_| Err(NetError::Invalid("the namespace thread panicked".into())));
    if let Err(e) = mounted {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Makes the interfaces created from now on in this thread's (new) namespace come without
/// IPv6, as Docker's are on a network without IPv6 (berth has no IPv6 networks yet): no
/// link-local address, no duplicate address detection or multicast listener reports, which a
/// bridge floods to every other container on it, a cost that grows with the square of their
/// number. The loopback, there already, keeps `::1`; a container's own
/// `net.ipv6.conf.all.disable_ipv6=0` sysctl turns IPv6 on again for all of them. A kernel
/// without IPv6 has nothing to turn off.
fn without_ipv6() -> Result<()> {
    let path = "/proc/sys/net/ipv6/conf/default/disable_ipv6";
    match std::fs::write(path, "1") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetError::io(format!("cannot set {path}"))(e)),
        _ => Ok(()),
    }
}

/// Unmounts and deletes the namespace file; a missing one is not an error. The namespace
/// itself ends with its last process, taking its interfaces (and their veth peers) with it.
pub fn remove(path: &Path) -> Result<()> {
    if exists(path) {
        nix::mount::umount2(path, MntFlags::MNT_DETACH)
            .map_err(|e| NetError::io(format!("cannot unmount {}", path.display()))(e.into()))?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(NetError::io(format!("cannot remove {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Runs `f` on a new thread that has entered the namespace at `path`.
pub fn run_in<T: Send + 'static>(path: &Path, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let file = std::fs::File::open(path).map_err(NetError::io(format!("cannot open {}", path.display())))?;
    let shown: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
            .map_err(|e| NetError::io(format!("cannot enter {}", shown.display()))(e.into()))?;
        f()
    })
    .join()
    .unwrap_or_else(|_| Err(NetError::Invalid("the namespace thread panicked".into())))
}
