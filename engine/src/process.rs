//! Starting the long-lived helpers (a container's shim, the DNS server) so that they outlive the
//! command that starts them and take nothing of it along.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Starts `cmd` in a process group of its own, so that the terminal's signals (Ctrl-C to
/// the command) do not reach it and it outlives the command. Nothing runs between the fork and
/// the `execve`, so the standard library starts it with `posix_spawn` (a vfork): a command with
/// hundreds of threads (`up` of a large project) does not copy its page tables for every shim.
/// The helper lets go of what else it inherited itself, first thing: [`close_inherited`].
///
/// The helper stays this process's child: a short-lived command leaves it to init, and a
/// long-lived one (the API service) reaps it with [`reap_detached`].
pub fn spawn_detached(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    cmd.process_group(0);
    let child = cmd.spawn()?;
    DETACHED.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
    Ok(child)
}

/// mimalloc's settings for a process that lives long and mostly waits (a shim, the API
/// service): commit memory only when used and return it at once (a shim's private memory
/// falls from 7 MB to 1.1 MB, measured with bench/containers.sh). mimalloc reads them when the
/// process starts.
pub const LEAN_ALLOCATOR: [(&str, &str); 3] =
    [("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ARENA_RESERVE", "1024")];

/// Helpers started by [`spawn_detached`] not known to have ended.
static DETACHED: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Collects the exit of every helper started by [`spawn_detached`] that has ended, so that
/// none stays a zombie of a long-lived process; the others are left running.
pub fn reap_detached() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let mut pids = DETACHED.lock().unwrap_or_else(|e| e.into_inner());
    pids.retain(|&pid| {
        matches!(
            waitpid(nix::unistd::Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::StillAlive)
        )
    });
}

/// Closes every descriptor beyond the standard streams that this process inherited without
/// close-on-exec (a caller's `flock`, a pipe): a helper that kept them would hold the caller's
/// lock or pipe for its life. Call it before opening anything.
pub fn close_inherited() {
    // Older kernels lack close_range; the helper then keeps what it was given.
    // SAFETY: close_range(2) takes plain integers; nothing in this process uses the
    // descriptors it closes (this runs before the helper opens any).
    let _ = unsafe { nix::libc::syscall(nix::libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
}
