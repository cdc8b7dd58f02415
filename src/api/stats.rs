//! `GET /containers/{id}/stats`: a container's counters in Docker's shape, once or once a
//! second, with the previous reading beside each so that clients compute the CPU share.

use std::time::Duration;

use berth_engine::container::remove;
use berth_engine::container::stats::{self, Sample};
use serde_json::{Value, json};

use super::http::{ApiError, Call, Reply, streamed};
use crate::engine;

pub fn stats(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let c = store.find_container(id)?;
    // Docker's default is a stream; `stream=0` is one reading (with one before it a moment
    // earlier, unless `one-shot`).
    let stream = call.query("stream").is_none_or(|v| matches!(v, "1" | "true" | "True"));
    let one_shot = call.flag("one-shot");
    Ok(streamed("application/json", move |tx| {
        let mut before = (Sample::default(), host_cpu_ns(), String::from("0001-01-01T00:00:00Z"));
        if !stream && !one_shot {
            before = reading(&c);
            std::thread::sleep(Duration::from_millis(500));
        }
        loop {
            let now = reading(&c);
            let live = store.load_container(&c.config.id).is_ok_and(|n| remove::is_live(&n));
            let object = if live { document(&c, &now, &before) } else { document(&c, &Default::default(), &before) };
            if !tx.json(&object) || !stream || !live {
                return;
            }
            before = now;
            std::thread::sleep(Duration::from_secs(1));
        }
    }))
}

type Reading = (Sample, u64, String);

fn reading(c: &berth_engine::container::store::Container) -> Reading {
    (stats::sample(c).0, host_cpu_ns(), berth_engine::time::now_nanos())
}

fn cpu(r: &Reading) -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({"cpu_usage": {"total_usage": r.0.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "system_cpu_usage": r.1, "online_cpus": cpus, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}})
}

fn document(c: &berth_engine::container::store::Container, now: &Reading, before: &Reading) -> Value {
    let s = &now.0;
    let blkio = |op: &str, value: u64| json!({"major": 0, "minor": 0, "op": op, "value": value});
    json!({
        "read": now.2, "preread": before.2, "id": c.config.id, "name": format!("/{}", c.config.name),
        "pids_stats": {"current": s.pids},
        "blkio_stats": {"io_service_bytes_recursive": [blkio("Read", s.block_read), blkio("Write", s.block_write)]},
        "cpu_stats": cpu(now), "precpu_stats": cpu(before),
        // The usage is already less the inactive file cache, as Docker's clients would make it.
        "memory_stats": {"usage": s.memory, "limit": s.memory_limit, "stats": {}},
        "networks": {"eth0": {"rx_bytes": s.net_rx, "tx_bytes": s.net_tx, "rx_packets": 0, "tx_packets": 0,
            "rx_errors": 0, "tx_errors": 0, "rx_dropped": 0, "tx_dropped": 0}},
    })
}

/// The host's CPU time, all CPUs, in nanoseconds (`/proc/stat`'s first line).
fn host_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| l.split_whitespace().skip(1).take(8).filter_map(|n| n.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let hz =
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|h| *h > 0).unwrap_or(100) as u64;
    ticks * (1_000_000_000 / hz)
}
