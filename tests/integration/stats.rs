//! `stats` against a real container whose memory use is known, its figures checked against
//! the cgroup files the kernel keeps; `system df` against objects of known sizes.

use std::path::{Path, PathBuf};

use crate::containers::{IMAGE, state_with_busybox, wait_for};
use crate::support::stderr;

/// The directory of a container's cgroup in the hierarchy that has `file`.
fn cgroup_with(id: &str, file: &str) -> Option<PathBuf> {
    crate::support::cgroup_file(id, file).and_then(|f| f.parent().map(Path::to_path_buf))
}

fn read_number(dir: &Path, file: &str) -> u64 {
    std::fs::read_to_string(dir.join(file)).expect("cgroup file").trim().parse().expect("a number")
}

fn stat(dir: &Path, key: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("memory.stat")).expect("memory.stat");
    text.lines().find_map(|l| l.strip_prefix(&format!("{key} "))).map_or(0, |n| n.trim().parse().expect("a number"))
}

/// `12.5MiB` as bytes.
fn mib(text: &str) -> f64 {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).expect("a unit"));
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().expect("a number") * scale / (1024.0 * 1024.0)
}

#[test]
fn stats_reports_what_the_cgroups_hold() {
    let state = state_with_busybox();
    // 48 MiB in /dev/shm are charged to the container and are no file cache it may drop.
    let fill = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; touch /tmp/done; exec sleep 600";
    let id = state.ok(&["run", "-d", "--name", "hog", "-m", "256m", IMAGE, "sh", "-c", fill]);
    let id = id.trim();
    wait_for("the memory to be filled", || state.berth(&["exec", "hog", "ls", "/tmp/done"]).status.success());
    let out = state.berth(&["stats", "--no-stream", "--format", "json", "hog"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let usage = row["MemUsage"].as_str().expect("MemUsage");
    let (used, limit) = usage.split_once(" / ").expect("USAGE / LIMIT");
    assert_eq!(limit, "256MiB", "{row}");
    let used = mib(used);
    assert!((48.0..64.0).contains(&used), "48 MiB and a little: {row}");
    match cgroup_with(id, "memory.usage_in_bytes") {
        Some(dir) => {
            let kernel = (read_number(&dir, "memory.usage_in_bytes") - stat(&dir, "total_inactive_file")) as f64;
            assert!((kernel / 1048576.0 - used).abs() < 2.0, "as the cgroup says ({kernel} bytes): {row}");
        }
        None => {
            let dir = cgroup_with(id, "memory.current").expect("a memory cgroup");
            let kernel = (read_number(&dir, "memory.current") - stat(&dir, "inactive_file")) as f64;
            assert!((kernel / 1048576.0 - used).abs() < 2.0, "as the cgroup says ({kernel} bytes): {row}");
        }
    }
    let pids = cgroup_with(id, "pids.current").map(|d| read_number(&d, "pids.current")).expect("a pids cgroup");
    assert_eq!(row["PIDs"], pids.to_string(), "{row}");
    assert_eq!(row["Name"], "hog");
    assert_eq!(row["ID"], &id[..12]);
    assert!(row["CPUPerc"].as_str().is_some_and(|c| c.ends_with('%')), "{row}");
    let table = state.ok(&["stats", "--no-stream"]);
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("CONTAINER ID") && header.contains("MEM USAGE / LIMIT") && header.ends_with("PIDS"));
    assert!(table.contains("hog"), "{table}");
    let names = state.ok(&["stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}"]);
    assert!(names.lines().any(|l| l.starts_with("hog: ")), "{names}");
    let custom = state.ok(&["stats", "--no-stream", "--format", "table {{.Name}}\\t{{.MemPerc}}"]);
    assert!(custom.starts_with("NAME      MEM %\n") && custom.contains("hog"), "{custom}");
    state.ok(&["rm", "-f", "hog"]);
    let out = state.berth(&["stats", "--no-stream", "--format", "{{.Name"]);
    assert!(!out.status.success() && stderr(&out).contains("template"), "{}", stderr(&out));
}

#[test]
fn system_df_counts_what_is_used_and_what_could_go() {
    let state = state_with_busybox();
    state.ok(&["volume", "create", "dfvol"]);
    state.ok(&["volume", "create", "spare"]);
    let write =
        "dd if=/dev/zero of=/data/x bs=1k count=100 2>/dev/null; dd if=/dev/zero of=/y bs=1k count=50 2>/dev/null";
    state.ok(&["run", "--name", "writer", "-v", "dfvol:/data", IMAGE, "sh", "-c", write]);
    let out = state.ok(&["system", "df", "--format", "json"]);
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let row = |kind: &str| rows.iter().find(|r| r["Type"] == kind).cloned().expect(kind);
    let (images, containers, volumes) = (row("Images"), row("Containers"), row("Local Volumes"));
    assert_eq!((images["TotalCount"].as_str(), images["Active"].as_str()), (Some("1"), Some("1")), "{out}");
    // The stopped container's 50 kB are all it wrote to its own layer, and all reclaimable.
    assert_eq!(containers["Active"], "0", "{out}");
    assert_eq!(containers["Size"], "51.2kB", "{out}");
    assert_eq!(containers["Reclaimable"], "51.2kB (100%)", "{out}");
    // dfvol is mounted by a container (stopped still counts), spare by none.
    assert_eq!((volumes["TotalCount"].as_str(), volumes["Active"].as_str()), (Some("2"), Some("1")), "{out}");
    assert_eq!(volumes["Size"], "102.4kB", "{out}");
    assert_eq!(volumes["Reclaimable"], "0B (0%)", "spare is empty: {out}");
    let table = state.ok(&["system", "df"]);
    assert!(table.starts_with("TYPE") && table.contains("Build Cache"), "{table}");
    state.ok(&["rm", "writer"]);
    state.ok(&["volume", "rm", "dfvol", "spare"]);
}
