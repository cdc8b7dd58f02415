//! `POST /containers/create`: Docker's Config, HostConfig and NetworkingConfig become the flags
//! of `berth run`, so that a container made through the API is made exactly as one made on the
//! command line, by the same parsers. A field berth cannot apply is refused by name when it is
//! set; one Docker does not know is refused too; fields left at their zero value are fine.

use clap::Parser;
use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::http::{ApiError, Call, Reply};
use crate::engine;

/// Fields Docker defines that berth does not apply: refused when set.
const UNSUPPORTED: &[&str] = &[
    "ArgsEscaped",
    "Volumes",
    "NetworkDisabled",
    "OnBuild",
    "Shell",
    "ContainerIDFile",
    "VolumeDriver",
    "VolumesFrom",
    "Cgroup",
    "StorageOpt",
    "UsernsMode",
    "Runtime",
    "Isolation",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "CpusetMems",
    "DeviceRequests",
    "KernelMemory",
    "KernelMemoryTCP",
    "CpuCount",
    "CpuPercent",
    "IOMaximumIOps",
    "IOMaximumBandwidth",
    "MaskedPaths",
    "ReadonlyPaths",
    "BlkioWeight",
    "PublishAllPorts",
    "MacAddress",
];

/// Fields that carry nothing for berth to do: how the client will attach is its own business.
const INFORMATIONAL: &[&str] = &["AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts"];

#[derive(Parser)]
#[command(no_binary_name = true)]
struct Flags {
    #[command(flatten)]
    run: crate::cli::RunArgs,
}

pub fn create(service: &super::Service, call: &Call) -> Result<Reply, ApiError> {
    let Value::Object(body) = call.json::<Value>()? else {
        return Err(ApiError::bad("the request body must be a JSON object"));
    };
    let mut words = Words::default();
    if let Some(name) = call.query("name").filter(|n| !n.is_empty()) {
        words.flag("name", name.trim_start_matches('/'));
    }
    let console = body.get("HostConfig").and_then(|h| h.get("ConsoleSize")).and_then(console_size);
    let image = translate(body, &mut words)?;
    let store = engine::store()?;
    let (_, record) = store.find_image(&image)?;
    let Flags { run } = Flags::try_parse_from(words.0).map_err(|e| ApiError::bad(e.to_string()))?;
    let mut opts = crate::commands::containers::run::create_options(&store, &run)?;
    opts.host.console_size = console.filter(|_| opts.tty);
    let config = berth_engine::container::create::create(&store, &image, &record, opts)?;
    if let Ok(c) = store.load_container(&config.id) {
        service.events.post(&c, "create");
    }
    Ok(Reply::Json(StatusCode::CREATED, json!({"Id": config.id, "Warnings": []})))
}

/// `ConsoleSize` (rows, columns), when both are set.
fn console_size(v: &Value) -> Option<[u16; 2]> {
    let size: Vec<u16> =
        v.as_array()?.iter().filter_map(|n| n.as_u64()).filter_map(|n| u16::try_from(n).ok()).collect();
    match size.as_slice() {
        [rows, cols] if *rows > 0 && *cols > 0 => Some([*rows, *cols]),
        _ => None,
    }
}

/// The command line being built.
#[derive(Default)]
struct Words(Vec<String>);

impl Words {
    fn flag(&mut self, name: &str, value: impl std::fmt::Display) {
        self.0.push(format!("--{name}={value}"));
    }

    fn switch(&mut self, name: &str, on: bool) {
        if on {
            self.0.push(format!("--{name}"));
        }
    }
}

/// Turns the request into flags; returns the image. Every field is used, allowed as
/// informational, or refused.
fn translate(mut body: Map<String, Value>, w: &mut Words) -> Result<String, ApiError> {
    let host = take_object(&mut body, "HostConfig")?;
    let networking = take_object(&mut body, "NetworkingConfig")?;
    let image = match body.remove("Image") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(ApiError::bad("config error: no image given (Image)")),
    };
    let mut c = Fields::new(body, "");
    c.string("Hostname", |v| w.flag("hostname", v));
    c.string("Domainname", |v| w.flag("domainname", v));
    c.string("User", |v| w.flag("user", v));
    c.string("WorkingDir", |v| w.flag("workdir", v));
    c.string("StopSignal", |v| w.flag("stop-signal", v));
    c.number("StopTimeout", |v| w.flag("stop-timeout", v));
    c.boolean("Tty", |on| w.switch("tty", on));
    c.boolean("OpenStdin", |on| w.switch("interactive", on));
    c.boolean("StdinOnce", |_| {});
    c.strings("Env", |v| {
        if v.contains('=') {
            w.flag("env", v)
        }
    });
    c.map("Labels", |k, v| w.flag("label", format!("{k}={v}")));
    let entrypoint = c.take_strings("Entrypoint")?;
    let cmd = c.take_strings("Cmd")?;
    if let Some(health) = c.take("Healthcheck") {
        healthcheck(&health, w)?;
    }
    c.finish()?;
    host_config(host, w)?;
    networking_config(networking, w)?;
    // The image, then the command: an entrypoint of several words runs its first as the
    // entrypoint and the rest before the command, which is the same process.
    let mut tail = Vec::new();
    match entrypoint {
        Some(e) if e.is_empty() => w.flag("entrypoint", ""),
        Some(e) => {
            w.flag("entrypoint", &e[0]);
            tail.extend(e[1..].iter().cloned());
        }
        None => {}
    }
    tail.extend(cmd.unwrap_or_default());
    w.0.push(image.clone());
    w.0.extend(tail);
    Ok(image)
}

fn take_object(body: &mut Map<String, Value>, key: &str) -> Result<Map<String, Value>, ApiError> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ApiError::bad(format!("{key} must be an object, not {other}"))),
    }
}

/// HostConfig's fields as flags.
fn host_config(body: Map<String, Value>, w: &mut Words) -> Result<(), ApiError> {
    let mut h = Fields::new(body, "HostConfig.");
    h.strings("Binds", |v| w.flag("volume", v));
    h.string("NetworkMode", |v| {
        if v != "default" {
            w.flag("network", v)
        }
    });
    if let Some(Value::Object(ports)) = h.take("PortBindings") {
        for (port, bindings) in ports {
            for b in bindings.as_array().into_iter().flatten() {
                let ip = b["HostIp"].as_str().unwrap_or("");
                let host_port = b["HostPort"].as_str().unwrap_or("");
                let port = port.trim_end_matches("/tcp");
                let spec = match (ip, host_port) {
                    ("", "") => port.to_string(),
                    ("", hp) => format!("{hp}:{port}"),
                    (ip, hp) => format!("{ip}:{hp}:{port}"),
                };
                w.flag("publish", spec);
            }
        }
    }
    if let Some(policy) = h.take("RestartPolicy").as_ref().and_then(restart_policy).filter(|p| p != "no") {
        w.flag("restart", policy);
    }

    h.boolean("AutoRemove", |on| w.switch("rm", on));
    h.number("Memory", |v| w.flag("memory", v));
    h.number("MemoryReservation", |v| w.flag("memory-reservation", v));
    h.signed("MemorySwap", |v| w.flag("memory-swap", v));
    // -1 is "the host's", as unset.
    h.signed("MemorySwappiness", |v| {
        if v >= 0 {
            w.flag("memory-swappiness", v)
        }
    });
    h.number("NanoCpus", |v| w.flag("cpus", v as f64 / 1e9));
    h.number("CpuShares", |v| w.flag("cpu-shares", v));
    h.signed("CpuQuota", |v| w.flag("cpu-quota", v));
    h.number("CpuPeriod", |v| w.flag("cpu-period", v));
    h.number("CpuRealtimeRuntime", |v| w.flag("cpu-rt-runtime", v));
    h.number("CpuRealtimePeriod", |v| w.flag("cpu-rt-period", v));
    h.string("CpusetCpus", |v| w.flag("cpuset-cpus", v));
    h.signed("PidsLimit", |v| {
        if v > 0 {
            w.flag("pids-limit", v)
        }
    });
    h.number("ShmSize", |v| w.flag("shm-size", v));
    h.signed("OomScoreAdj", |v| w.flag("oom-score-adj", v));
    h.boolean("OomKillDisable", |on| w.switch("oom-kill-disable", on));
    h.map("Sysctls", |k, v| w.flag("sysctl", format!("{k}={v}")));
    h.map("Annotations", |k, v| w.flag("annotation", format!("{k}={v}")));
    h.map("Tmpfs", |k, v| w.flag("tmpfs", if v.is_empty() { k.to_string() } else { format!("{k}:{v}") }));
    h.strings("GroupAdd", |v| w.flag("group-add", v));
    h.string("PidMode", |v| w.flag("pid", v));
    h.string("IpcMode", |v| {
        if v != "private" && v != "shareable" {
            w.flag("ipc", v)
        }
    });
    h.string("UTSMode", |v| w.flag("uts", v));
    h.string("CgroupnsMode", |v| w.flag("cgroupns", v));
    h.string("CgroupParent", |v| w.flag("cgroup-parent", v));
    h.strings("SecurityOpt", |v| w.flag("security-opt", v));
    h.strings("DeviceCgroupRules", |v| w.flag("device-cgroup-rule", v));
    h.strings("CapAdd", |v| w.flag("cap-add", v));
    h.strings("CapDrop", |v| w.flag("cap-drop", v));
    h.strings("Dns", |v| w.flag("dns", v));
    h.strings("DnsSearch", |v| w.flag("dns-search", v));
    h.strings("DnsOptions", |v| w.flag("dns-option", v));
    h.strings("ExtraHosts", |v| w.flag("add-host", v));
    h.strings("Links", |v| w.flag("link", v.trim_start_matches('/')));
    h.boolean("ReadonlyRootfs", |on| w.switch("read-only", on));
    h.boolean("Privileged", |on| w.switch("privileged", on));
    h.boolean("Init", |on| w.switch("init", on));
    let _ = h.take("ConsoleSize"); // applied after the flags
    for d in h.take("Devices").and_then(|d| d.as_array().cloned()).unwrap_or_default() {
        let (host, inside, perms) =
            (d["PathOnHost"].as_str(), d["PathInContainer"].as_str(), d["CgroupPermissions"].as_str());
        let host = host.ok_or_else(|| ApiError::bad("HostConfig.Devices: PathOnHost is missing"))?;
        w.flag("device", format!("{host}:{}:{}", inside.unwrap_or(host), perms.unwrap_or("rwm")));
    }
    for u in h.take("Ulimits").and_then(|u| u.as_array().cloned()).unwrap_or_default() {
        w.flag("ulimit", format!("{}={}:{}", u["Name"].as_str().unwrap_or(""), u["Soft"], u["Hard"]));
    }
    if let Some(Value::Object(log)) = h.take("LogConfig") {
        if let Some(kind) = log.get("Type").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            w.flag("log-driver", kind);
        }
        for (k, v) in log.get("Config").and_then(Value::as_object).into_iter().flatten() {
            w.flag("log-opt", format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    for m in h.take("Mounts").and_then(|m| m.as_array().cloned()).unwrap_or_default() {
        w.flag("mount", mount_spec(&m)?);
    }
    h.finish()
}

/// Docker's `RestartPolicy` object as `--restart`'s word (`on-failure:3`); none when it
/// names no policy.
pub fn restart_policy(policy: &Value) -> Option<String> {
    let name = policy["Name"].as_str().filter(|n| !n.is_empty())?;
    Some(match policy["MaximumRetryCount"].as_u64() {
        Some(n) if n > 0 && name == "on-failure" => format!("on-failure:{n}"),
        _ => name.to_string(),
    })
}

/// A `Mounts` entry as `--mount`'s words.
fn mount_spec(m: &Value) -> Result<String, ApiError> {
    let kind = m["Type"].as_str().unwrap_or("volume");
    let mut parts = vec![format!("type={kind}")];
    if let Some(source) = m["Source"].as_str().filter(|s| !s.is_empty()) {
        parts.push(format!("source={source}"));
    }
    let target = m["Target"].as_str().ok_or_else(|| ApiError::bad("HostConfig.Mounts: Target is missing"))?;
    parts.push(format!("target={target}"));
    if m["ReadOnly"].as_bool() == Some(true) {
        parts.push("readonly".into());
    }
    if let Some(size) = m["TmpfsOptions"]["SizeBytes"].as_u64() {
        parts.push(format!("tmpfs-size={size}"));
    }
    if m["VolumeOptions"]["NoCopy"].as_bool() == Some(true) {
        parts.push("volume-nocopy".into());
    }
    Ok(parts.join(","))
}

/// NetworkingConfig: the first network's aliases and address (the others are connected
/// after creation by Docker's clients too).
fn networking_config(body: Map<String, Value>, w: &mut Words) -> Result<(), ApiError> {
    let mut n = Fields::new(body, "NetworkingConfig.");
    if let Some(Value::Object(endpoints)) = n.take("EndpointsConfig") {
        for (network, e) in endpoints.iter().take(1) {
            if !w.0.iter().any(|f| f.starts_with("--network=")) {
                w.flag("network", network);
            }
            for alias in e["Aliases"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                w.flag("network-alias", alias);
            }
            if let Some(ip) = e["IPAMConfig"]["IPv4Address"].as_str().filter(|s| !s.is_empty()) {
                w.flag("ip", ip);
            }
            if let Some(mac) = e["MacAddress"].as_str().filter(|s| !s.is_empty()) {
                w.flag("mac-address", mac);
            }
        }
        if endpoints.len() > 1 {
            return Err(ApiError::bad(
                "NetworkingConfig.EndpointsConfig: give one network at creation and connect the others after",
            ));
        }
    }
    n.finish()
}

/// `Healthcheck`: its test and times (nanoseconds) as `--health-*` flags.
fn healthcheck(h: &Value, w: &mut Words) -> Result<(), ApiError> {
    let test: Vec<&str> = h["Test"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    match test.as_slice() {
        [] => {}
        ["NONE"] => w.switch("no-healthcheck", true),
        ["CMD-SHELL", command] => w.flag("health-cmd", command),
        ["CMD", args @ ..] if !args.is_empty() => w.flag("health-cmd", shell_words(args)),
        other => return Err(ApiError::bad(format!("Healthcheck.Test: invalid test {other:?}"))),
    }
    for (key, flag) in [
        ("Interval", "health-interval"),
        ("Timeout", "health-timeout"),
        ("StartPeriod", "health-start-period"),
        ("StartInterval", "health-start-interval"),
    ] {
        if let Some(ns) = h[key].as_u64().filter(|n| *n > 0) {
            w.flag(flag, format!("{}ms", ns / 1_000_000));
        }
    }
    if let Some(n) = h["Retries"].as_u64().filter(|n| *n > 0) {
        w.flag("health-retries", n);
    }
    Ok(())
}

/// Words quoted for `sh -c`, so that `CMD` tests run as the same argument vector.
fn shell_words(args: &[&str]) -> String {
    args.iter().map(|a| format!("'{}'", a.replace('\'', r"'\''"))).collect::<Vec<_>>().join(" ")
}

/// The fields of one object, taken one by one; what is left must be zero.
struct Fields {
    map: Map<String, Value>,
    prefix: &'static str,
    error: Option<ApiError>,
}

impl Fields {
    fn new(map: Map<String, Value>, prefix: &'static str) -> Fields {
        Fields { map, prefix, error: None }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    fn wrong(&mut self, key: &str, what: &str, v: &Value) {
        self.error.get_or_insert_with(|| ApiError::bad(format!("{}{key}: expected {what}, got {v}", self.prefix)));
    }

    fn string(&mut self, key: &str, f: impl FnOnce(&str)) {
        match self.take(key) {
            Some(Value::String(s)) if !s.is_empty() => f(&s),
            Some(Value::String(_)) | None => {}
            Some(v) => self.wrong(key, "a string", &v),
        }
    }

    fn boolean(&mut self, key: &str, f: impl FnOnce(bool)) {
        match self.take(key) {
            Some(Value::Bool(b)) => f(b),
            None => {}
            Some(v) => self.wrong(key, "true or false", &v),
        }
    }

    fn number(&mut self, key: &str, f: impl FnOnce(u64)) {
        match self.take(key) {
            Some(Value::Number(n)) if n.as_u64() == Some(0) => {}
            Some(Value::Number(n)) if n.as_u64().is_some() => f(n.as_u64().unwrap_or(0)),
            None => {}
            Some(v) => self.wrong(key, "a positive number", &v),
        }
    }

    fn signed(&mut self, key: &str, f: impl FnOnce(i64)) {
        match self.take(key) {
            Some(Value::Number(n)) if n.as_i64() == Some(0) => {}
            Some(Value::Number(n)) if n.as_i64().is_some() => f(n.as_i64().unwrap_or(0)),
            None => {}
            Some(v) => self.wrong(key, "a number", &v),
        }
    }

    fn strings(&mut self, key: &str, mut f: impl FnMut(&str)) {
        match self.take(key) {
            Some(Value::Array(items)) => {
                for item in items {
                    match item.as_str() {
                        Some(s) => f(s),
                        None => self.wrong(key, "a list of strings", &item),
                    }
                }
            }
            None => {}
            Some(v) => self.wrong(key, "a list of strings", &v),
        }
    }

    fn map(&mut self, key: &str, mut f: impl FnMut(&str, &str)) {
        match self.take(key) {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    f(&k, v.as_str().unwrap_or(""));
                }
            }
            None => {}
            Some(v) => self.wrong(key, "an object", &v),
        }
    }

    /// A list of strings, or one string (Docker's `Cmd` and `Entrypoint` take both).
    fn take_strings(&mut self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s])),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ApiError::bad(format!("{}{key}: expected strings", self.prefix)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(ApiError::bad(format!("{}{key}: expected a list of strings, got {v}", self.prefix))),
        }
    }

    /// Ends the object: an error found on the way, or a field left that is set.
    fn finish(mut self) -> Result<(), ApiError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for (key, value) in &self.map {
            if INFORMATIONAL.contains(&key.as_str()) || is_zero(value) {
                continue;
            }
            if UNSUPPORTED.contains(&key.as_str()) {
                return Err(ApiError::bad(format!("{}{key} is not supported by berth", self.prefix)));
            }
            return Err(ApiError::bad(format!("unknown field {}{key} in the request body", self.prefix)));
        }
        Ok(())
    }
}

/// Whether a value is JSON's zero: what a client sends for a field it leaves unset.
pub fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty() || a.iter().all(is_zero),
        Value::Object(o) => o.values().all(is_zero),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(body: Value) -> Result<Vec<String>, ApiError> {
        let mut w = Words::default();
        translate(body.as_object().cloned().unwrap_or_default(), &mut w)?;
        Ok(w.0)
    }

    #[test]
    fn a_docker_cli_request_becomes_run_flags() {
        let body = json!({
            "Image": "busybox", "Cmd": ["sh", "-c", "echo hi"], "Env": ["A=1", "B"], "Tty": false,
            "AttachStdout": true, "ExposedPorts": {"80/tcp": {}}, "Labels": {"k": "v"}, "Volumes": {},
            "HostConfig": {"Binds": ["/tmp:/data:ro"], "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": false,
                "Memory": 0, "KernelMemory": 0, "ConsoleSize": [24, 80], "NetworkMode": "default", "Isolation": ""},
            "NetworkingConfig": {"EndpointsConfig": {"net1": {"Aliases": ["web"]}}},
        });
        let w = words(body).expect("valid");
        assert_eq!(
            w,
            [
                "--env=A=1",
                "--label=k=v",
                "--volume=/tmp:/data:ro",
                "--publish=8080:80",
                "--restart=on-failure:3",
                "--network=net1",
                "--network-alias=web",
                "busybox",
                "sh",
                "-c",
                "echo hi",
            ]
        );
        let parsed = Flags::try_parse_from(w).expect("the flags parse");
        assert_eq!(parsed.run.command, ["sh", "-c", "echo hi"]);
    }

    #[test]
    fn set_fields_berth_cannot_apply_are_refused_by_name() {
        let err = words(json!({"Image": "busybox", "HostConfig": {"KernelMemory": 1024}})).expect_err("refused");
        assert_eq!(err.message, "HostConfig.KernelMemory is not supported by berth");
        let err = words(json!({"Image": "busybox", "Colour": "blue"})).expect_err("refused");
        assert_eq!(err.message, "unknown field Colour in the request body");
        let err = words(json!({"Image": "busybox", "Tty": "yes"})).expect_err("refused");
        assert!(err.message.starts_with("Tty: expected true or false"), "{}", err.message);
        assert!(words(json!({"Cmd": ["true"]})).is_err(), "an image is needed");
    }

    #[test]
    fn entrypoints_and_health_tests() {
        let w = words(json!({"Image": "i", "Entrypoint": ["/bin/sh", "-c"], "Cmd": "echo",
            "Healthcheck": {"Test": ["CMD", "true", "it's"], "Interval": 2_000_000_000u64, "Retries": 2}}))
        .expect("valid");
        assert_eq!(
            w,
            [
                "--health-cmd='true' 'it'\\''s'",
                "--health-interval=2000ms",
                "--health-retries=2",
                "--entrypoint=/bin/sh",
                "i",
                "-c",
                "echo"
            ]
        );
        assert_eq!(words(json!({"Image": "i", "Entrypoint": []})).expect("valid"), ["--entrypoint=", "i"]);
    }
}
