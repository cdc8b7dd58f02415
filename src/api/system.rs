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

fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id").map(|s| s.trim().to_string()).unwrap_or_default()
}
