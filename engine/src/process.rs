//! Starting the long-lived helpers (a container's shim, the DNS server) so that they outlive the
//! command that starts them and take nothing of it along.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `cmd` start in a process group of its own, so that the terminal's signals (Ctrl-C to
/// the command) do not reach it and it outlives the command. Nothing runs between the fork and
/// the `execve`, so the standard library starts it with `posix_spawn` (a vfork): a command with
/// hundreds of threads (`up` of a large project) does not copy its page tables for every shim.
/// The helper lets go of what else it inherited itself, first thing: [`close_inherited`].
pub fn detach(cmd: &mut Command) {
    cmd.process_group(0);
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
