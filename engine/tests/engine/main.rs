//! Tests of the engine library that touch the file system as root. One test binary for the
//! package; each area is a module.

mod properties;
mod unpack;

/// Privileged tests need root: run without it, they fail loudly rather than pass.
pub fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "this test needs root (CI runs the suite as root)");
}
