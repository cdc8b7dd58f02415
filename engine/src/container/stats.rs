//! A container's resource use as `docker stats` reports it, read from its cgroups (v1 or v2,
//! whichever hierarchy holds each controller) and from the host side of its network links.
//!
//! Memory is the usage less the inactive file cache (what the kernel may drop at once), as
//! Docker computes it; the limit is the cgroup's, or the host's memory when there is none.
//! Network counters are those of the host ends of the container's veth pairs, turned around:
//! what the host end sends, the container receives.

use std::path::Path;
use std::time::Instant;

use super::cgroup;
use super::store::Container;

/// One reading of a container's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used by the container's processes, in nanoseconds.
    pub cpu_ns: u64,
    pub memory: u64,
    pub memory_limit: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
    pub net_rx: u64,
    pub net_tx: u64,
}

/// Reads `c`'s counters now; the instant goes with them for the CPU share.
pub fn sample(c: &Container) -> (Sample, Instant) {
    let mut s = Sample::default();
    let (mut usage, mut inactive, mut limit): (Option<u64>, u64, Option<u64>) = (None, 0, None);
    let mut cpuacct = false;
    for dir in cgroup::container_cgroups(&c.config.cgroups_path()) {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        // v1's cpuacct where it is mounted (a hybrid host's cgroup2 keeps a cpu.stat too).
        if let Some(ns) = read("cpuacct.usage").and_then(|t| t.trim().parse().ok()) {
            (s.cpu_ns, cpuacct) = (ns, true);
        } else if let Some(usec) = read("cpu.stat").and_then(|t| stat_field(&t, "usage_usec")).filter(|_| !cpuacct) {
            s.cpu_ns = usec * 1000;
        }
        if let Some(bytes) = read("memory.usage_in_bytes").and_then(|t| t.trim().parse().ok()) {
            usage = Some(bytes);
            inactive = read("memory.stat").and_then(|t| stat_field(&t, "total_inactive_file")).unwrap_or(0);
            limit = read("memory.limit_in_bytes").and_then(|t| parse_limit(&t));
        } else if let Some(bytes) = read("memory.current").and_then(|t| t.trim().parse().ok()) {
            usage = Some(bytes);
            inactive = read("memory.stat").and_then(|t| stat_field(&t, "inactive_file")).unwrap_or(0);
            limit = read("memory.max").and_then(|t| parse_limit(&t));
        }
        if let Some(text) =
            read("blkio.throttle.io_service_bytes_recursive").or_else(|| read("blkio.throttle.io_service_bytes"))
        {
            (s.block_read, s.block_write) = blkio_v1(&text);
        } else if let Some(text) = read("io.stat") {
            (s.block_read, s.block_write) = io_v2(&text);
        }
        if let Some(n) = read("pids.current").and_then(|t| t.trim().parse().ok()) {
            s.pids = n;
        }
    }
    s.memory = usage.unwrap_or(0).saturating_sub(inactive);
    s.memory_limit = limit.filter(|l| *l < host_memory()).unwrap_or_else(host_memory);
    for e in &c.config.network.endpoints {
        let counter = |name: &str| -> u64 {
            let path = Path::new("/sys/class/net").join(&e.host_ifname).join("statistics").join(name);
            std::fs::read_to_string(path).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
        };
        s.net_rx += counter("tx_bytes");
        s.net_tx += counter("rx_bytes");
    }
    (s, Instant::now())
}

/// The CPU share between two samples, in percent of one CPU (so up to 100 times the CPUs),
/// as Docker shows it.
pub fn cpu_percent(before: (&Sample, Instant), after: (&Sample, Instant)) -> f64 {
    let wall = after.1.saturating_duration_since(before.1).as_nanos() as f64;
    if wall == 0.0 {
        return 0.0;
    }
    after.0.cpu_ns.saturating_sub(before.0.cpu_ns) as f64 / wall * 100.0
}

/// The host's memory in bytes (`MemTotal`).
pub fn host_memory() -> u64 {
    static TOTAL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        stat_field(&info.replace(':', ""), "MemTotal").map_or(u64::MAX, |kb| kb * 1024)
    })
}

/// The number after `key` on the line that starts with it (`memory.stat`, `cpu.stat`).
fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some(key)).then(|| words.next()?.parse().ok()).flatten()
    })
}

/// A memory limit: `max` (v2) or a number; v1 writes "no limit" as a huge number.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Bytes read and written in cgroup v1's `blkio.throttle.io_service_bytes`: `MAJ:MIN Read N`.
fn blkio_v1(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, n] = words[..] {
            let n: u64 = n.parse().unwrap_or(0);
            match op {
                "Read" => out.0 += n,
                "Write" => out.1 += n,
                _ => {}
            }
        }
    }
    out
}

/// Bytes read and written in cgroup v2's `io.stat`: `MAJ:MIN rbytes=N wbytes=N ...`.
fn io_v2(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for word in text.split_whitespace() {
        if let Some(n) = word.strip_prefix("rbytes=") {
            out.0 += n.parse().unwrap_or(0);
        } else if let Some(n) = word.strip_prefix("wbytes=") {
            out.1 += n.parse().unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_files_of_both_versions() {
        let v1 = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Read 1000\nTotal 13288\n";
        assert_eq!(blkio_v1(v1), (5096, 8192));
        let v2 = "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1000 wbytes=0\n";
        assert_eq!(io_v2(v2), (5096, 8192));
        let memory_stat_v2 = "anon 1000\nfile 5000\ninactive_file 3000\nactive_file 2000\n";
        assert_eq!(stat_field(memory_stat_v2, "inactive_file"), Some(3000));
        let memory_stat_v1 = "cache 5000\ninactive_file 1\ntotal_inactive_file 3000\n";
        assert_eq!(stat_field(memory_stat_v1, "total_inactive_file"), Some(3000));
        assert_eq!(stat_field("usage_usec 1234\nuser_usec 1000\n", "usage_usec"), Some(1234));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("268435456\n"), Some(256 << 20));
    }

    #[test]
    fn cpu_share_over_the_wall_time() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_secs(1);
        let (a, b) =
            (Sample { cpu_ns: 0, ..Default::default() }, Sample { cpu_ns: 1_500_000_000, ..Default::default() });
        assert!((cpu_percent((&a, t0), (&b, t1)) - 150.0).abs() < 1e-9, "one and a half CPUs");
        assert_eq!(cpu_percent((&a, t0), (&b, t0)), 0.0);
    }
}
