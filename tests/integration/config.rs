//! `berth config` as a user runs it: errors, lists and flags.

use std::path::Path;

use crate::support::{berth, stderr, stdout};

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("berth-config-").tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    berth(dir, args, &[("HOME", "/home/tester"), ("PATH", "/usr/bin:/bin")])
}
