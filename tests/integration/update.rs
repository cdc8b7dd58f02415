//! `update` of a running container: its cgroups take the new limits at once, its shim the
//! new restart policy, and the record keeps both for the next start.

use crate::containers::{IMAGE, state_with_busybox, wait_for};
use crate::support::{cgroup_file, stderr};

fn read(id: &str, v1: &str, v2: &str) -> String {
    let file = cgroup_file(id, v1).or_else(|| cgroup_file(id, v2)).expect("the cgroup file");
    std::fs::read_to_string(file).expect("read").trim().to_string()
}

#[test]
fn update_changes_a_running_containers_limits_and_restart_policy() {
    let state = state_with_busybox();
    let id = state.ok(&["run", "-d", "--name", "tuned", "-m", "64m", IMAGE, "sleep", "600"]);
    let id = id.trim();
    assert_eq!(read(id, "memory.limit_in_bytes", "memory.max"), (64u64 << 20).to_string());
    let args = ["update", "-m", "128m", "--cpus", "0.5", "--pids-limit", "20", "--restart", "always", "tuned"];
    assert_eq!(state.ok(&args), "tuned\n");
    assert_eq!(read(id, "memory.limit_in_bytes", "memory.max"), (128u64 << 20).to_string());
    match cgroup_file(id, "cpu.cfs_quota_us") {
        Some(f) => assert_eq!(std::fs::read_to_string(f).expect("read").trim(), "50000"),
        None => assert_eq!(read(id, "cpu.max", "cpu.max"), "50000 100000"),
    }
    assert_eq!(read(id, "pids.max", "pids.max"), "20");
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "tuned"])).expect("json");
    assert_eq!(inspect[0]["HostConfig"]["Memory"], 128u64 << 20, "the record keeps it");
    assert_eq!(inspect[0]["HostConfig"]["RestartPolicy"]["Name"], "always");
    // The shim took the new policy: the container comes back after its process is killed.
    let pid = inspect[0]["State"]["Pid"].as_i64().expect("a pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).expect("kill");
    wait_for("the restart", || {
        let i: serde_json::Value = serde_json::from_str(&state.ok(&["inspect", "tuned"])).expect("json");
        i[0]["RestartCount"].as_u64().unwrap_or(0) >= 1 && i[0]["State"]["Running"] == true
    });
    // Bad values are refused by name, and change nothing.
    let out = state.berth(&["update", "-m", "1m", "tuned"]);
    assert!(!out.status.success() && stderr(&out).contains("minimum memory limit"), "{}", stderr(&out));
    let out = state.berth(&["update", "--cpus", "99", "tuned"]);
    assert!(!out.status.success() && stderr(&out).contains("range of CPUs"), "{}", stderr(&out));
    let out = state.berth(&["update", "tuned"]);
    assert!(!out.status.success() && stderr(&out).contains("nothing to update"), "{}", stderr(&out));
    assert_eq!(read(id, "memory.limit_in_bytes", "memory.max"), (128u64 << 20).to_string());
    state.ok(&["rm", "-f", "tuned"]);
}
