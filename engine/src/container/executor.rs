//! The workload executor: the last step inside the container before `execve`.

use std::ffi::CString;
use std::io::Write;

use libcontainer::oci_spec::runtime::{LinuxSeccomp, Spec};
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};

/// `execvp` of the process's command, after restoring the signal dispositions the shim (a
/// Rust program) changed: Rust ignores SIGPIPE, and ignored signals survive `execve`, so
/// without this `yes | head` would misbehave inside the container.
///
/// A process joining a running container (`exec`, healthchecks) also gets the container's
/// seccomp filter here: libcontainer 0.7 builds a joining process's spec without the
/// container's `linux.seccomp`, where runc (and so Docker) applies it to every process.
#[derive(Clone, Default)]
pub struct BerthExecutor {
    seccomp: Option<LinuxSeccomp>,
}

impl BerthExecutor {
    /// The executor of a process joining a container whose runtime spec is `spec`.
    pub fn joining(spec: &Spec) -> BerthExecutor {
        BerthExecutor { seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()) }
    }
}

impl Executor for BerthExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(filter) = &self.seccomp {
            // Last, so that nothing the runtime still does is filtered; the process has no new
            // privileges by then (berth's default), or the load needs CAP_SYS_ADMIN.
            if let Err(e) = libcontainer::seccomp::initialize_seccomp(filter) {
                let _ = writeln!(std::io::stderr(), "berth: cannot load the container's seccomp filter: {e}");
                // SAFETY: as below, ends this forked single-threaded process at once.
                unsafe { nix::libc::_exit(126) }
            }
        }
        // SAFETY: restoring the default disposition of SIGPIPE touches no memory; this process
        // is single-threaded and about to exec.
        unsafe {
            let _ = nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
        }
        // The runtime leaves a terminal's size unset (0x0); set it from the process description
        // before the program can ask for it.
        if let Some(size) =
            spec.process().as_ref().filter(|p| p.terminal() == Some(true)).and_then(|p| p.console_size())
        {
            let size = rustix::termios::Winsize {
                ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
                ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            let _ = rustix::termios::tcsetwinsize(std::io::stdin(), size);
        }
        let args = spec.process().as_ref().and_then(|p| p.args().as_ref()).ok_or(ExecutorError::InvalidArg)?;
        let argv: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| ExecutorError::InvalidArg)?;
        let Some(program) = argv.first() else { return Err(ExecutorError::InvalidArg) };
        // execvp returns only when it failed. The runtime would exit 255 without a word; say
        // why on the container's standard error and exit as Docker does: 127 for a command not
        // found, 126 for one that cannot run (E2BIG for an environment too large, say).
        let errno = match nix::unistd::execvp(program, &argv) {
            Err(errno) => errno,
            Ok(never) => match never {},
        };
        let _ = writeln!(std::io::stderr(), "berth: cannot run {:?}: {}", args[0], errno.desc());
        let code = if errno == nix::errno::Errno::ENOENT { 127 } else { 126 };
        // SAFETY: _exit ends this forked, single-threaded process at once, without running the
        // exit handlers of the shim it was forked from.
        unsafe { nix::libc::_exit(code) }
    }

    /// Nothing to check: the shim (and `exec`) checks the command in the container's root
    /// before starting it, and answers with Docker's exit codes; a command that cannot run
    /// even so gets them from [`BerthExecutor::exec`].
    fn validate(&self, _spec: &Spec) -> Result<(), ExecutorValidationError> {
        Ok(())
    }
}
