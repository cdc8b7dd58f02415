//! Running the binary under test.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// `berth ARGS` in `dir` with exactly the environment `env` (plus nothing inherited).
pub fn berth(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BERTH);
    cmd.args(args).current_dir(dir).env_clear().stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the berth binary runs")
}

/// Fails the test at once, saying why, unless it runs as root: the privileged tests make
/// namespaces, mounts, bridges and cgroups, and would otherwise fail later with a cause far
/// from the reason.
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root: it runs containers (sudo cargo test)");
}

/// Whether the long soaks run (`BERTH_SLOW_TESTS=1`, which CI sets); a soak that does not says
/// so on its output.
pub fn slow_tests(name: &str) -> bool {
    let on = std::env::var("BERTH_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped {name}: a long soak, run with BERTH_SLOW_TESTS=1");
    }
    on
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `berth ARGS` with `input` on standard input.
pub fn berth_with_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(BERTH);
    cmd.args(args).current_dir(dir).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the berth binary runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("berth finishes")
}

/// `file` in the cgroup of berth container `id`, in the hierarchy (v1 or v2) that has it.
pub fn cgroup_file(id: &str, file: &str) -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    mounts
        .lines()
        .filter(|l| l.contains(" - cgroup"))
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| Path::new(m).join("berth").join(id).join(file))
        .find(|f| f.exists())
}

/// Held by the tests that publish the quickstart's port (127.0.0.1:8080), one at a time.
pub static QUICKSTART_PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());
