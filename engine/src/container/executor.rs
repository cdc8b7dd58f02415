//! The workload executor: the last step inside the container before `execve`.

use libcontainer::oci_spec::runtime::Spec;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError, default::DefaultExecutor};

/// libcontainer's default executor, after restoring the signal dispositions the shim (a Rust
/// program) changed: Rust ignores SIGPIPE, and ignored signals survive `execve`, so without this
/// `yes | head` would misbehave inside the container.
#[derive(Clone)]
pub struct BerthExecutor;

impl Executor for BerthExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        // SAFETY: restoring the default disposition of SIGPIPE touches no memory; this process
        // is single-threaded and about to exec.
        unsafe {
            let _ = nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}
