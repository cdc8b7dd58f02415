//! `info` (and `system info`): the host as berth sees it, in Docker's words and with Docker's
//! JSON field names, and the host's quirks berth works around as warnings.

use std::process::ExitCode;

use berth_engine::container::{Status, remove};

use crate::engine;

/// The container runtime berth links, as `info` names it.
const RUNTIME: &str = "libcontainer (youki) 0.7";

pub fn info(format: Option<&str>) -> anyhow::Result<ExitCode> {
    let facts = facts()?;
    match format {
        None | Some("pretty") => print!("{}", pretty(&facts)),
        Some("json") => println!("{facts}"),
        Some(template) => println!("{}", crate::format::render(template, &facts)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// What `info --format json` prints.
pub(crate) fn facts() -> anyhow::Result<serde_json::Value> {
    let store = engine::store()?;
    let config = engine::config()?;
    let containers = store.list_containers()?;
    let count =
        |f: &dyn Fn(&berth_engine::container::store::Container) -> bool| containers.iter().filter(|c| f(c)).count();
    let running = count(&|c| remove::is_live(c) && c.state.status != Status::Paused);
    let paused = count(&|c| c.state.status == Status::Paused);
    let images: std::collections::BTreeSet<_> = store.images()?.into_values().map(|r| r.id).collect();
    let uname = nix::sys::utsname::uname().ok();
    let text = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" };
    Ok(serde_json::json!({
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images.len(),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", backing_filesystem(&store.root)]],
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "DefaultRuntime": RUNTIME,
        "KernelVersion": text(uname.as_ref().map(|u| u.release())),
        "OperatingSystem": os_release(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total(),
        "Name": text(uname.as_ref().map(|u| u.nodename())),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "DockerRootDir": store.root,
        "RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": index_configs(&config.registries),
            // Docker's own mirrors are Docker Hub's; berth's, per registry, are in IndexConfigs.
            "Mirrors": config.registries.mirrors.get("docker.io").cloned().unwrap_or_default(),
        },
        "Warnings": warnings(cgroup_version),
    }))
}

/// Docker's `IndexConfigs`: each registry berth's configuration names, with its mirrors and
/// whether it is reached over TLS.
fn index_configs(r: &berth_engine::registry::config::Registries) -> serde_json::Map<String, serde_json::Value> {
    let names: std::collections::BTreeSet<&String> = r.insecure.iter().chain(r.mirrors.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let index = serde_json::json!({
                "Name": name, "Mirrors": r.mirrors.get(name).cloned().unwrap_or_default(),
                "Secure": !r.insecure.contains(name), "Official": name == "docker.io",
            });
            (name.clone(), index)
        })
        .collect()
}

/// Docker's layout of `docker info`'s server half.
fn pretty(f: &serde_json::Value) -> String {
    let s = |k: &str| match &f[k] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::from("Server:\n");
    out += &format!(
        " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n",
        s("Containers"),
        s("ContainersRunning"),
        s("ContainersPaused"),
        s("ContainersStopped")
    );
    out += &format!(" Images: {}\n Server Version: berth {}\n", s("Images"), s("ServerVersion"));
    out += &format!(
        " Storage Driver: overlay2\n  Backing Filesystem: {}\n",
        f["DriverStatus"][0][1].as_str().unwrap_or("")
    );
    out += &format!(" Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: {}\n", s("CgroupVersion"));
    out += &format!(
        " Runtime: {RUNTIME}\n Kernel Version: {}\n Operating System: {}\n",
        s("KernelVersion"),
        s("OperatingSystem")
    );
    out += &format!(" OSType: linux\n Architecture: {}\n CPUs: {}\n", s("Architecture"), s("NCPU"));
    let mem = f["MemTotal"].as_u64().unwrap_or(0);
    out += &format!(" Total Memory: {:.2}GiB\n Name: {}\n", mem as f64 / f64::from(1u32 << 30), s("Name"));
    out += &format!(" Berth Root Dir: {}\n", s("DockerRootDir"));
    out += " Insecure Registries:\n  127.0.0.0/8\n";
    let indexes = f["RegistryConfig"]["IndexConfigs"].as_object().cloned().unwrap_or_default();
    for (name, _) in indexes.iter().filter(|(_, i)| i["Secure"] == false) {
        out += &format!("  {name}\n");
    }
    let mirrored: Vec<_> =
        indexes.iter().filter(|(_, i)| i["Mirrors"].as_array().is_some_and(|m| !m.is_empty())).collect();
    if !mirrored.is_empty() {
        out += " Registry Mirrors:\n";
        for (registry, index) in mirrored {
            for m in index["Mirrors"].as_array().into_iter().flatten() {
                out += &format!("  {} (for {registry})\n", m.as_str().unwrap_or(""));
            }
        }
    }
    for w in f["Warnings"].as_array().into_iter().flatten() {
        out += &format!("\nWARNING: {}", w.as_str().unwrap_or(""));
    }
    if f["Warnings"].as_array().is_some_and(|w| !w.is_empty()) {
        out.push('\n');
    }
    out
}

/// The quirks of this host that berth works around.
fn warnings(cgroup_version: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if cgroup_version == "1" && mounts.lines().any(|l| l.split_whitespace().nth(2) == Some("cgroup2")) {
        out.push(
            "cgroups are hybrid (controllers on v1, a cgroup2 hierarchy beside them): berth uses the v1 controllers"
                .to_string(),
        );
    }
    if !berth_engine::container::spec::has_capability("CAP_SYS_RESOURCE") {
        out.push("no CAP_SYS_RESOURCE: ulimits above the host's hard limits cannot be given to containers".to_string());
    }
    let init = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if init.trim() != "systemd" {
        out.push(format!(
            "PID 1 is {:?}, not systemd: `berth system install` writes a unit that nothing will start; run `berth system boot` at boot another way",
            init.trim()
        ));
    }
    out
}

/// Docker's name for the file system under the state root (`extfs` for ext2/3/4).
fn backing_filesystem(root: &std::path::Path) -> String {
    let magic = nix::sys::statfs::statfs(root).map(|s| s.filesystem_type().0 as u64).unwrap_or(0);
    match magic {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x2FC1_2FC1 => "zfs",
        _ => "unknown",
    }
    .to_string()
}

fn os_release() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The host's memory in bytes, from /proc/meminfo.
fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
