//! `berth update`: a container's memory, CPU and process limits and its restart policy,
//! changed while it runs, as `docker update` changes them. The record is rewritten first (so
//! the next start keeps the new values), then the limits are written into the running
//! container's cgroups (v1 or v2 files, whichever each hierarchy has), and its shim is told
//! to read the record again for the restart policy.

use std::path::Path;
use std::time::Duration;

use super::control::{self, Request};
use super::store::{Container, is_live};
use super::{RestartPolicy, cgroup};
use crate::store::Store;

/// What to change; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    /// `-1` or `0`: no limit.
    pub pids_limit: Option<i64>,
    pub restart: Option<RestartPolicy>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("invalid update of {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot write {file} of container {name}")]
    Cgroup {
        name: String,
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] super::store::ContainerError),
}

/// The CFS period berth's CPU limits use, in microseconds.
const PERIOD_US: u64 = 100_000;

/// The cgroup files that carry an update, by file name, with their values: the v1 and the
/// v2 name of each limit (a hierarchy has one of them).
pub fn limit_files(u: &Update) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = u.memory {
        out.push(("memory.limit_in_bytes", m.to_string()));
        out.push(("memory.max", m.to_string()));
    }
    if let Some(cpus) = u.cpus {
        let quota = (cpus * PERIOD_US as f64).round() as u64;
        out.push(("cpu.cfs_period_us", PERIOD_US.to_string()));
        out.push(("cpu.cfs_quota_us", quota.to_string()));
        out.push(("cpu.max", format!("{quota} {PERIOD_US}")));
    }
    if let Some(p) = u.pids_limit {
        let value = if p > 0 { p.to_string() } else { "max".into() };
        out.push(("pids.max", value));
    }
    out
}

/// Applies `u` to container `c`: its record, the cgroups of a running container, and its
/// shim's restart policy.
pub fn update(store: &Store, c: &Container, u: &Update) -> Result<(), UpdateError> {
    let name = c.config.name.clone();
    let invalid = |message: &str| UpdateError::Invalid { name: name.clone(), message: message.into() };
    if u.memory.is_some_and(|m| m < 6 << 20) {
        return Err(invalid("the minimum memory limit allowed is 6MB"));
    }
    let host = std::thread::available_parallelism().map_or(1, |n| n.get());
    if u.cpus.is_some_and(|n| !(0.01..=host as f64).contains(&n)) {
        return Err(invalid(&format!("the range of CPUs is from 0.01 to {host}.00, as there are only {host} CPUs")));
    }
    let mut config = c.config.clone();
    config.host.memory = u.memory.or(config.host.memory);
    config.host.cpus = u.cpus.or(config.host.cpus);
    if let Some(p) = u.pids_limit {
        config.host.pids_limit = (p > 0).then_some(p);
    }
    config.restart = u.restart.unwrap_or(config.restart);
    store.save_config(&config)?;
    // The runtime spec is written at the first start and used by every restart after it.
    let spec = store.container_dir(&c.config.id).spec();
    if spec.exists() {
        let failed = |source| UpdateError::Cgroup { name: name.clone(), file: spec.display().to_string(), source };
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&spec).map_err(failed)?).map_err(|e| failed(e.into()))?;
        patch_spec(&mut doc, u);
        crate::fsutil::write_atomic(&spec, &serde_json::to_vec(&doc).expect("a spec serialises")).map_err(failed)?;
    }
    if !is_live(c) {
        return Ok(());
    }
    for dir in cgroup::container_cgroups(&c.config.cgroups_path()) {
        for (file, value) in limit_files(u) {
            write(&dir, file, &value).map_err(|source| UpdateError::Cgroup {
                name: name.clone(),
                file: dir.join(file).display().to_string(),
                source,
            })?;
        }
    }
    // The shim keeps the policy it started with until it reads the record again.
    let _ = control::send(&store.container_dir(&c.config.id), &Request::Reload, Some(Duration::from_secs(5)));
    Ok(())
}

/// Puts the update's limits into a runtime spec's `linux.resources`.
fn patch_spec(spec: &mut serde_json::Value, u: &Update) {
    let resources = &mut spec["linux"]["resources"];
    if let Some(m) = u.memory {
        resources["memory"]["limit"] = m.into();
    }
    if let Some(cpus) = u.cpus {
        resources["cpu"]["quota"] = ((cpus * PERIOD_US as f64).round() as i64).into();
        resources["cpu"]["period"] = PERIOD_US.into();
    }
    if let Some(p) = u.pids_limit {
        resources["pids"]["limit"] = (if p > 0 { p } else { -1 }).into();
    }
}

/// Writes `value` into `dir/file` where the hierarchy has that file. A v1 memory limit above
/// the memory-and-swap limit is refused by the kernel; that one is raised with it.
fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    let path = dir.join(file);
    if !path.exists() {
        return Ok(());
    }
    match std::fs::write(&path, value) {
        Err(e) if file == "memory.limit_in_bytes" && dir.join("memory.memsw.limit_in_bytes").exists() => {
            std::fs::write(dir.join("memory.memsw.limit_in_bytes"), value).map_err(|_| e)?;
            std::fs::write(&path, value)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_as_the_cgroup_files_of_both_versions_take_them() {
        let u = Update { memory: Some(64 << 20), cpus: Some(0.5), pids_limit: Some(0), restart: None };
        let files = limit_files(&u);
        let get = |name: &str| files.iter().find(|(f, _)| *f == name).map(|(_, v)| v.as_str());
        assert_eq!(get("memory.limit_in_bytes"), Some("67108864"));
        assert_eq!(get("memory.max"), Some("67108864"));
        assert_eq!(get("cpu.cfs_quota_us"), Some("50000"));
        assert_eq!(get("cpu.max"), Some("50000 100000"));
        assert_eq!(get("pids.max"), Some("max"), "0 is no limit");
        assert!(limit_files(&Update::default()).is_empty());
        let mut spec = serde_json::json!({"linux": {"resources": {"memory": {"limit": 1}, "devices": []}}});
        patch_spec(&mut spec, &u);
        let r = &spec["linux"]["resources"];
        assert_eq!((r["memory"]["limit"].as_u64(), r["cpu"]["quota"].as_i64()), (Some(64 << 20), Some(50000)));
        assert_eq!((r["pids"]["limit"].as_i64(), r["devices"].is_array()), (Some(-1), true), "the rest kept");
    }
}
