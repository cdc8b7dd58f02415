//! `/version` and `/info`: what the docker CLI asks first.

use hyper::StatusCode;

use super::http::{ApiError, MAX_VERSION, MIN_VERSION, Reply, version_text};

pub fn version() -> Result<Reply, ApiError> {
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname.as_ref().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Ok(Reply::Json(
        StatusCode::OK,
        serde_json::json!({
            "Platform": {"Name": "berth"},
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": version_text(MAX_VERSION),
                    "MinAPIVersion": version_text(MIN_VERSION),
                    "Os": "linux",
                    "Arch": arch,
                    "KernelVersion": kernel,
                },
            }],
            "Version": version,
            "ApiVersion": version_text(MAX_VERSION),
            "MinAPIVersion": version_text(MIN_VERSION),
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": kernel,
        }),
    ))
}

pub fn info() -> Result<Reply, ApiError> {
    let mut facts = crate::commands::info::facts()?;
    if let Some(map) = facts.as_object_mut() {
        // The docker CLI reads these to decide what to show; berth has no swarm.
        map.insert("Swarm".into(), serde_json::json!({"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": ""}));
        map.insert("ID".into(), serde_json::json!(machine_id()));
        map.entry("SecurityOptions").or_insert(serde_json::json!(["name=seccomp,profile=builtin"]));
    }
    Ok(Reply::Json(StatusCode::OK, facts))
}

/// `GET /system/df`: images, containers with their sizes, volumes with their use, and the
/// build cache, in Docker's shape.
pub fn df() -> Result<Reply, ApiError> {
    use berth_engine::usage;
    let store = crate::engine::store()?;
    let images = super::images::rows(&[])?;
    let containers = store.list_containers()?;
    let layers: u64 = {
        let rows = store.image_rows()?;
        let layers: std::collections::BTreeSet<_> =
            rows.iter().flat_map(|r| r.config.rootfs.diff_ids.clone()).collect();
        layers.iter().map(|d| store.snapshot_size(d)).sum()
    };
    let container_rows: Vec<serde_json::Value> = containers
        .iter()
        .map(|c| {
            let mut row = crate::commands::containers::object::list_row(c);
            row["SizeRw"] = serde_json::json!(usage::container_size(&store, c));
            row
        })
        .collect();
    let vs = berth_engine::volume::volumes(&store);
    let volumes: Vec<serde_json::Value> = vs
        .list()?
        .iter()
        .map(|v| {
            let users = containers.iter().filter(|c| berth_engine::volume::mounts(&c.config, &v.name)).count();
            serde_json::json!({
                "Name": v.name, "Driver": v.driver, "Mountpoint": vs.data(&v.name), "CreatedAt": v.created,
                "Labels": v.labels, "Scope": "local", "Options": v.options,
                "UsageData": {"Size": usage::volume_size(&vs, v), "RefCount": users},
            })
        })
        .collect();
    let cache: Vec<serde_json::Value> = store
        .build_cache_records()
        .iter()
        .map(|r| {
            let at = berth_engine::time::rfc3339(r.modified);
            serde_json::json!({"ID": r.key, "Type": "regular", "Size": r.size, "CreatedAt": at, "LastUsedAt": at,
                "UsageCount": 1, "InUse": false, "Shared": false, "Description": "berth build step"})
        })
        .collect();
    Ok(Reply::Json(
        StatusCode::OK,
        serde_json::json!({"LayersSize": layers, "Images": images, "Containers": container_rows, "Volumes": volumes, "BuildCache": cache}),
    ))
}

fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id").map(|s| s.trim().to_string()).unwrap_or_default()
}
