//! A container as Docker's API and `inspect` show it: the inspect object, and the shorter row
//! of a container list (`GET /containers/json`).

use berth_engine::container::store::Container;
use berth_engine::container::{NetworkMode, Status};
use berth_engine::store::Store;
use serde_json::{Value, json};

/// The object `inspect` prints and `GET /containers/{id}/json` answers.
pub(crate) fn inspect(store: &Store, c: &Container) -> Value {
    let (path, args) = c.config.args.split_first().map_or((String::new(), &[][..]), |(p, a)| (p.clone(), a));
    let mut object = serde_json::json!({
            "Id": c.config.id,
            "Name": format!("/{}", c.config.name),
            "Created": c.config.created,
            "Image": c.config.image_id.to_string(),
            "State": {
                "Status": c.state.status.to_string(),
                "Running": c.state.status == Status::Running,
                "Restarting": c.state.status == Status::Restarting,
                "Dead": c.state.status == Status::Dead,
                "Pid": c.state.pid.unwrap_or(0),
                "ExitCode": c.state.exit_code.unwrap_or(0),
                "Error": c.state.error.clone().unwrap_or_default(),
                "StartedAt": c.state.started_at,
                "FinishedAt": c.state.finished_at,
                "LogLinesLost": c.state.log_lines_lost,
                "Health": c.state.health.as_ref().map(|h| serde_json::json!({
                    "Status": h.status.to_string(),
                    "FailingStreak": h.failing_streak,
                    "Log": h.log.iter().map(|r| serde_json::json!({"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output})).collect::<Vec<_>>(),
                })),
            },
            "RestartCount": c.state.restart_count,
            "Config": {
                "Hostname": c.config.hostname, "User": c.config.user.clone().unwrap_or_default(), "Env": c.config.env,
                "Cmd": c.config.args, "Image": c.config.image, "WorkingDir": c.config.working_dir,
                "Labels": c.config.labels, "StopSignal": c.config.stop_signal, "StopTimeout": c.config.stop_timeout,
                "Tty": c.config.tty, "OpenStdin": c.config.open_stdin, "StdinOnce": c.config.stdin_once,
                "AttachStdin": c.config.open_stdin && c.config.stdin_once,
                "Healthcheck": c.config.healthcheck.as_ref().map(|h| serde_json::json!({
                    "Test": h.test, "Interval": h.interval_ms * 1_000_000, "Timeout": h.timeout_ms * 1_000_000,
                    "StartPeriod": h.start_period_ms * 1_000_000, "StartInterval": h.start_interval_ms * 1_000_000, "Retries": h.retries,
                })),
            },
            "HostConfig": host_config(&c.config),
            "LogPath": store.container_dir(&c.config.id).log(),
            "Mounts": c.config.mounts.iter().map(|m| serde_json::json!({
                "Type": m.kind, "Name": m.source.clone().filter(|_| m.kind == berth_engine::volume::MountKind::Volume),
                "Source": m.source, "Destination": m.target, "RW": !m.read_only,
            })).collect::<Vec<_>>(),
            "NetworkSettings": {
                "Networks": c.config.network.endpoints.iter().map(|e| (e.network.clone(), serde_json::json!({
                    "NetworkID": e.network_id, "IPAddress": e.ip.to_string(), "IPPrefixLen": e.prefix,
                    "Gateway": e.gateway.to_string(), "MacAddress": e.mac, "Aliases": e.aliases,
                }))).collect::<serde_json::Map<_, _>>(),
            },
    });
    if let Some(map) = object.as_object_mut() {
        map.insert("Path".into(), path.into());
        map.insert("Args".into(), json!(args));
        map["Config"]["ExposedPorts"] = exposed_ports(c);
        map["Config"]["Entrypoint"] = Value::Null;
        map["NetworkSettings"]["Ports"] = ports(c);
        map["NetworkSettings"]["IPAddress"] =
            json!(c.config.network.endpoints.first().map(|e| e.ip.to_string()).unwrap_or_default());
        map["HostConfig"]["NetworkMode"] = json!(network_mode(c));
        map["HostConfig"]["PortBindings"] = port_bindings(c);
        map["HostConfig"]["Binds"] = json!(binds(c));
    }
    object
}

/// Docker's name of the container's network mode.
pub(crate) fn network_mode(c: &Container) -> String {
    match &c.config.network.mode {
        NetworkMode::Bridge => c.config.network.endpoints.first().map_or("bridge".into(), |e| e.network.clone()),
        NetworkMode::Host => "host".into(),
        NetworkMode::None => "none".into(),
        NetworkMode::Container(id) => format!("container:{id}"),
    }
}

/// `{"80/tcp": {}}` for every port exposed or published.
fn exposed_ports(c: &Container) -> Value {
    let net = &c.config.network;
    let mut map = serde_json::Map::new();
    for p in &net.exposed {
        let key = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
        map.insert(key, json!({}));
    }
    for b in &net.ports {
        map.insert(format!("{}/{}", b.container_port, b.protocol), json!({}));
    }
    Value::Object(map)
}

/// `NetworkSettings.Ports`: every exposed port, with the host's bindings of the published
/// ones (null for the others), as Docker shows them.
fn ports(c: &Container) -> Value {
    let mut map = match exposed_ports(c) {
        Value::Object(m) => m.into_iter().map(|(k, _)| (k, Value::Null)).collect::<serde_json::Map<_, _>>(),
        _ => serde_json::Map::new(),
    };
    for (key, bindings) in bindings_by_port(c) {
        map.insert(key, bindings);
    }
    Value::Object(map)
}

fn port_bindings(c: &Container) -> Value {
    Value::Object(bindings_by_port(c).into_iter().collect())
}

fn bindings_by_port(c: &Container) -> std::collections::BTreeMap<String, Value> {
    let mut out: std::collections::BTreeMap<String, Value> = Default::default();
    for b in &c.config.network.ports {
        let entry = out.entry(format!("{}/{}", b.container_port, b.protocol)).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            let ip = b.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
            list.push(json!({"HostIp": ip, "HostPort": b.host_port.to_string()}));
        }
    }
    out
}

/// `HostConfig.Binds`: the bind mounts and named volumes as `SOURCE:TARGET[:ro]`.
fn binds(c: &Container) -> Vec<String> {
    use berth_engine::volume::MountKind;
    c.config
        .mounts
        .iter()
        .filter(|m| matches!(m.kind, MountKind::Bind | MountKind::Volume))
        .filter_map(|m| {
            let source = m.source.as_ref()?;
            Some(format!("{source}:{}{}", m.target, if m.read_only { ":ro" } else { "" }))
        })
        .collect()
}

/// A row of `GET /containers/json`, in Docker's shape.
pub(crate) fn list_row(c: &Container) -> Value {
    let created = crate::output::parse_rfc3339(&c.config.created).unwrap_or(0);
    let ports: Vec<Value> = c
        .config
        .network
        .ports
        .iter()
        .map(|b| {
            json!({"IP": b.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
                "PrivatePort": b.container_port, "PublicPort": b.host_port, "Type": b.protocol.to_string()})
        })
        .collect();
    json!({
        "Id": c.config.id,
        "Names": [format!("/{}", c.config.name)],
        "Image": c.config.image,
        "ImageID": c.config.image_id.to_string(),
        "Command": c.config.args.join(" "),
        "Created": created,
        "Ports": ports,
        "Labels": c.config.labels,
        "State": c.state.status.to_string(),
        "Status": crate::commands::ps::status_text(c),
        "HostConfig": {"NetworkMode": network_mode(c)},
        "NetworkSettings": {"Networks": c.config.network.endpoints.iter().map(|e| (e.network.clone(), json!({
            "NetworkID": e.network_id, "IPAddress": e.ip.to_string(), "IPPrefixLen": e.prefix,
            "Gateway": e.gateway.to_string(), "MacAddress": e.mac, "Aliases": e.aliases,
        }))).collect::<serde_json::Map<_, _>>()},
        "Mounts": c.config.mounts.iter().map(|m| json!({
            "Type": m.kind, "Name": m.source.clone().filter(|_| m.kind == berth_engine::volume::MountKind::Volume),
            "Source": m.source, "Destination": m.target, "RW": !m.read_only,
        })).collect::<Vec<_>>(),
    })
}

/// A container's `HostConfig` under Docker's names, with Docker's values for what is unset.
pub(crate) fn host_config(c: &berth_engine::container::ContainerConfig) -> serde_json::Value {
    let h = &c.host;
    let tmpfs: serde_json::Map<String, serde_json::Value> = h
        .tmpfs
        .iter()
        .map(|t| t.split_once(':').unwrap_or((t, "")))
        .map(|(path, opts)| (path.to_string(), opts.into()))
        .collect();
    serde_json::json!({
        "RestartPolicy": restart_policy(&c.restart), "AutoRemove": c.auto_remove,
        "Memory": h.memory.unwrap_or(0), "MemoryReservation": h.memory_reservation.unwrap_or(0),
        "MemorySwap": h.memory_swap.unwrap_or(0), "MemorySwappiness": h.memory_swappiness,
        "OomKillDisable": h.oom_kill_disable, "OomScoreAdj": h.oom_score_adj.unwrap_or(0),
        "NanoCpus": h.cpus.map_or(0, |c| (c * 1e9) as i64), "CpuShares": h.cpu_shares.unwrap_or(0),
        "CpuQuota": h.cpu_quota.unwrap_or(0), "CpuPeriod": h.cpu_period.unwrap_or(0),
        "CpuRealtimeRuntime": h.cpu_rt_runtime.unwrap_or(0), "CpuRealtimePeriod": h.cpu_rt_period.unwrap_or(0),
        "CpusetCpus": h.cpuset_cpus.clone().unwrap_or_default(), "PidsLimit": h.pids_limit,
        "ShmSize": h.shm_size.unwrap_or(64 << 20), "Sysctls": h.sysctls, "GroupAdd": h.group_add,
        "PidMode": h.pid_mode.clone().unwrap_or_default(),
        "IpcMode": h.ipc_mode.clone().unwrap_or_else(|| "private".into()),
        "UTSMode": h.uts_mode.clone().unwrap_or_default(), "SecurityOpt": h.security_opt,
        "CgroupnsMode": h.cgroupns_mode.clone().unwrap_or_else(|| "host".into()),
        "CgroupParent": h.cgroup_parent.clone().unwrap_or_default(),
        "Annotations": h.annotations, "DeviceCgroupRules": h.device_cgroup_rules,
        "BlkioWeight": h.blkio.as_ref().and_then(|b| b.weight).unwrap_or(0),
        "Devices": h.devices.iter().map(|d| serde_json::json!({
            "PathOnHost": d.source, "PathInContainer": d.target, "CgroupPermissions": d.permissions,
        })).collect::<Vec<_>>(),
        "ReadonlyRootfs": h.read_only, "Tmpfs": tmpfs, "CapAdd": h.cap_add, "CapDrop": h.cap_drop,
        "Privileged": h.privileged, "Init": h.init,
        "LogConfig": {"Type": c.log.driver.name(), "Config": log_options(&c.log)},
        "Ulimits": h.ulimits.iter().map(|(n, (soft, hard))| serde_json::json!({"Name": n, "Soft": soft, "Hard": hard}))
            .collect::<Vec<_>>(),
    })
}

fn restart_policy(p: &berth_engine::container::RestartPolicy) -> serde_json::Value {
    use berth_engine::container::RestartPolicy;
    let (name, retries) = match p {
        RestartPolicy::No => ("no", 0),
        RestartPolicy::Always => ("always", 0),
        RestartPolicy::UnlessStopped => ("unless-stopped", 0),
        RestartPolicy::OnFailure { max_retries } => ("on-failure", max_retries.unwrap_or(0)),
    };
    serde_json::json!({"Name": name, "MaximumRetryCount": retries})
}

/// The options of a container's log as given, as Docker shows them (the rotation alone for a
/// container made before berth kept them).
fn log_options(log: &berth_engine::container::LogConfig) -> serde_json::Value {
    if !log.options.is_empty() {
        return serde_json::json!(log.options);
    }
    let mut options = serde_json::Map::new();
    if let Some(size) = log.max_size {
        options.insert("max-size".into(), size.to_string().into());
        options.insert("max-file".into(), log.max_file.to_string().into());
    }
    serde_json::Value::Object(options)
}
