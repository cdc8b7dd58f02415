//! Build script of the binary: link it as a position-dependent executable.
//!
//! Every container has a `berth shim` process of its own. A position-independent binary has its
//! pointer tables (`.data.rel.ro`, about 750 KB here) rewritten by the loader in every process,
//! which makes them private memory of each shim; linked at a fixed address they stay clean pages
//! of the file, shared by all shims. (Bench: `bench/containers.sh`, private memory of a shim.)

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
