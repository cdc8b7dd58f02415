//! Starting the long-lived helpers (a container's shim, the DNS server) so that they outlive the
//! command that starts them and take nothing of it along.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// `close_range(2)` flag: mark the descriptors close-on-exec instead of closing them now.
const CLOSE_RANGE_CLOEXEC: nix::libc::c_uint = 1 << 2;

/// Makes `cmd` start in a session of its own (the terminal's signals and the command's exit do
/// not reach it) with only its standard streams: every other descriptor this process holds,
/// including those it inherited without close-on-exec (a caller's `flock`, a pipe), is closed
/// at the `execve`. A helper that kept them would hold the caller's lock or pipe for its life.
pub fn detach(cmd: &mut Command) {
    // SAFETY: setsid(2) and close_range(2) are async-signal-safe system calls that touch no
    // memory of the parent. They run after the standard streams are set up as 0, 1 and 2, so
    // those stay; the descriptor std uses to report a failed exec is close-on-exec already.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // Older kernels lack close_range; the exec then keeps what it would have.
            let _ = nix::libc::syscall(nix::libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
}
