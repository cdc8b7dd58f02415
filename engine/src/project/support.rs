//! What berth does with each attribute of a service: it takes effect, the loader consumed it,
//! it is refused by name with the reason, or (only where it means nothing on one host) it is
//! accepted with one warning. No attribute is silently ignored: `up`, `create` and `run`
//! check every selected service against this table before anything is created, and a test
//! fails when the model has an attribute the table lacks (and `docs/compatibility.md` is
//! checked against it).

use berth_compose::model::Service;

/// What berth does with one attribute.
#[derive(Debug, Clone, Copy)]
pub enum Support {
    /// It takes effect as it does on Docker Engine.
    Runs,
    /// The loader resolves it into other attributes (`extends`, `env_file`...).
    Loaded,
    /// Only some values take effect: the function refuses the others, naming them, and
    /// says what it accepts without effect.
    Checked(fn(&Service) -> Result<Vec<String>, String>),
    /// It has no meaning on a single host: accepted, with this warning.
    Warns(&'static str),
    /// Refused before anything is created, for this reason.
    Refused(&'static str),
}

/// Every attribute of a service, by its name in the Compose specification.
pub const SERVICE: &[(&str, Support)] = &[
    ("annotations", Support::Runs),
    ("attach", Support::Runs),
    ("blkio_config", Support::Runs),
    ("build", Support::Runs),
    ("cap_add", Support::Runs),
    ("cap_drop", Support::Runs),
    ("cgroup", Support::Runs),
    ("cgroup_parent", Support::Runs),
    ("command", Support::Runs),
    ("configs", Support::Runs),
    ("container_name", Support::Runs),
    ("cpu_count", Support::Warns("it applies to Windows containers only")),
    ("cpu_percent", Support::Warns("it applies to Windows containers only")),
    ("cpu_period", Support::Runs),
    ("cpu_quota", Support::Runs),
    ("cpu_rt_period", Support::Runs),
    ("cpu_rt_runtime", Support::Runs),
    ("cpu_shares", Support::Runs),
    ("cpus", Support::Runs),
    ("cpuset", Support::Runs),
    ("credential_spec", Support::Warns("it applies to Windows containers only")),
    ("depends_on", Support::Runs),
    ("deploy", Support::Checked(deploy)),
    ("develop", Support::Runs),
    ("device_cgroup_rules", Support::Runs),
    ("devices", Support::Runs),
    ("dns", Support::Runs),
    ("dns_opt", Support::Runs),
    ("dns_search", Support::Runs),
    ("domainname", Support::Runs),
    ("entrypoint", Support::Runs),
    ("env_file", Support::Loaded),
    ("environment", Support::Runs),
    ("expose", Support::Runs),
    ("extends", Support::Loaded),
    ("external_links", Support::Refused("berth links only to services of the same project")),
    ("extra_hosts", Support::Runs),
    ("gpus", Support::Refused("this host has no GPU runtime")),
    ("group_add", Support::Runs),
    ("healthcheck", Support::Runs),
    ("hostname", Support::Runs),
    ("image", Support::Runs),
    ("init", Support::Runs),
    ("ipc", Support::Checked(ipc)),
    ("isolation", Support::Warns("it applies to Windows containers only")),
    ("label_file", Support::Loaded),
    ("labels", Support::Runs),
    ("links", Support::Runs),
    ("logging", Support::Checked(logging)),
    ("mac_address", Support::Runs),
    ("mem_limit", Support::Runs),
    ("mem_reservation", Support::Runs),
    ("mem_swappiness", Support::Runs),
    ("memswap_limit", Support::Runs),
    ("models", Support::Refused("berth has no model runner")),
    ("network_mode", Support::Runs),
    ("networks", Support::Runs),
    ("oom_kill_disable", Support::Runs),
    ("oom_score_adj", Support::Runs),
    ("pid", Support::Checked(pid)),
    ("pids_limit", Support::Runs),
    ("platform", Support::Checked(platform)),
    ("ports", Support::Runs),
    ("post_start", Support::Checked(hooks)),
    ("pre_stop", Support::Checked(hooks)),
    ("privileged", Support::Runs),
    ("profiles", Support::Runs),
    (
        "provider",
        Support::Refused("provider services run a Docker Compose provider plugin, which berth does not support"),
    ),
    ("pull_policy", Support::Checked(pull_policy)),
    ("read_only", Support::Runs),
    ("restart", Support::Runs),
    ("runtime", Support::Refused("berth runs every container with its own runtime")),
    ("scale", Support::Runs),
    ("secrets", Support::Runs),
    ("security_opt", Support::Checked(security_opt)),
    ("shm_size", Support::Runs),
    ("stdin_open", Support::Runs),
    ("stop_grace_period", Support::Runs),
    ("stop_signal", Support::Runs),
    ("storage_opt", Support::Refused("berth's overlay storage takes no per-container options")),
    ("sysctls", Support::Runs),
    ("tmpfs", Support::Runs),
    ("tty", Support::Runs),
    ("ulimits", Support::Runs),
    ("use_api_socket", Support::Refused("berth serves no Docker API socket to mount yet")),
    ("user", Support::Runs),
    ("userns_mode", Support::Checked(userns_mode)),
    ("uts", Support::Checked(uts)),
    ("volumes", Support::Runs),
    ("volumes_from", Support::Runs),
    ("working_dir", Support::Runs),
];

/// The attributes of `deploy` that mean something only to a swarm of hosts (`mode`,
/// `replicas`, `resources` and `restart_policy` take effect).
const SWARM_ONLY: [&str; 5] = ["labels", "placement", "update_config", "rollback_config", "endpoint_mode"];

/// Checks service `service` against the table: the first refusal as an error naming the
/// attribute, else the warnings for what it sets that means nothing on one host.
pub fn check(service: &Service) -> Result<Vec<String>, String> {
    let serde_json::Value::Object(set) = serde_json::to_value(service).unwrap_or_default() else {
        return Ok(Vec::new());
    };
    let mut warnings = Vec::new();
    for key in set.keys().filter(|k| !k.starts_with("__")) {
        match SERVICE.iter().find(|(name, _)| name == key).map(|(_, s)| *s) {
            Some(Support::Runs | Support::Loaded) => {}
            Some(Support::Checked(check)) => warnings.extend(check(service).map_err(|e| format!("{key}: {e}"))?),
            Some(Support::Warns(why)) => warnings.push(format!("{key} is ignored: {why}")),
            Some(Support::Refused(why)) => return Err(format!("{key} is not supported: {why}")),
            None => return Err(format!("{key} is not supported by berth")),
        }
    }
    Ok(warnings)
}

fn deploy(service: &Service) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let Some(d) = &service.deploy else { return Ok(warnings) };
    if let Some(mode) = d.mode.as_deref().filter(|m| !matches!(*m, "replicated" | "global")) {
        return Err(format!("unknown mode {mode:?}: use replicated or global"));
    }
    let resources = d.resources.iter().flat_map(|r| [("limits", &r.limits), ("reservations", &r.reservations)]);
    for (which, r) in resources {
        let Some(r) = r else { continue };
        if !r.devices.is_empty() {
            return Err(format!("resources.{which}.devices: this host has no device runtime (GPUs and the like)"));
        }
        if !r.generic_resources.is_empty() {
            return Err(format!("resources.{which}.generic_resources: these are a swarm's, not a single host's"));
        }
        if which == "reservations" && (r.cpus.is_some() || r.pids.is_some()) {
            warnings.push("deploy.resources.reservations: only memory is reserved on a single host".into());
        }
    }
    let set = serde_json::to_value(d).unwrap_or_default();
    for key in SWARM_ONLY.iter().filter(|k| set.get(**k).is_some()) {
        warnings.push(format!("deploy.{key} is ignored: it means something only to a swarm of hosts"));
    }
    Ok(warnings)
}

/// Hooks run as `exec` runs commands.
fn hooks(service: &Service) -> Result<Vec<String>, String> {
    let mut all = service.post_start.iter().chain(&service.pre_stop);
    if all.any(|h| h.command.is_empty()) {
        return Err("a hook needs a command".into());
    }
    Ok(Vec::new())
}

/// The json-file driver (and `local`, kept in the same store) with its rotation options;
/// the options that shape entries berth does not shape yet warn.
fn logging(service: &Service) -> Result<Vec<String>, String> {
    let Some(logging) = &service.logging else { return Ok(Vec::new()) };
    crate::container::logdriver::config(logging.driver.as_deref(), &logging.options).map(|(_, warnings)| warnings)
}

/// always, missing (if_not_present), never, build, daily, weekly or every_<duration>.
fn pull_policy(service: &Service) -> Result<Vec<String>, String> {
    let policy = service.pull_policy.as_deref().unwrap_or("missing");
    super::plan::should_pull(policy, false, None, 0).map(|_| Vec::new())
}

/// Whether `mode` names another service's or container's namespace (`service:db`).
fn joins(mode: &str) -> bool {
    ["service:", "container:"].iter().any(|p| mode.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// `host`, another service's or container's, or a namespace of the container's own.
fn pid(service: &Service) -> Result<Vec<String>, String> {
    match service.pid.as_deref() {
        None | Some("host") => Ok(Vec::new()),
        Some(m) if joins(m) => Ok(Vec::new()),
        Some(other) => Err(format!("{other:?}: use host, service:NAME or container:NAME")),
    }
}

fn ipc(service: &Service) -> Result<Vec<String>, String> {
    match service.ipc.as_deref() {
        None | Some("host" | "private" | "shareable" | "none") => Ok(Vec::new()),
        Some(m) if joins(m) => Ok(Vec::new()),
        Some(other) => Err(format!("{other:?}: use host, private, shareable, none, service:NAME or container:NAME")),
    }
}

fn uts(service: &Service) -> Result<Vec<String>, String> {
    match service.uts.as_deref() {
        None | Some("host") => Ok(Vec::new()),
        Some(other) => Err(format!("{other:?}: the only value is host")),
    }
}

/// Containers run without a user namespace, which is what `host` asks.
fn userns_mode(service: &Service) -> Result<Vec<String>, String> {
    match service.userns_mode.as_deref() {
        None | Some("host") => Ok(Vec::new()),
        Some(other) => Err(format!("{other:?}: berth runs containers without user namespaces (host) yet")),
    }
}

/// This host's platform (`linux/amd64`), the one berth runs.
fn platform(service: &Service) -> Result<Vec<String>, String> {
    let Some(p) = service.platform.as_deref() else { return Ok(Vec::new()) };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut parts = p.split('/');
    let (os, want) = (parts.next().unwrap_or(""), parts.next().unwrap_or(arch));
    if os == "linux" && want == arch {
        return Ok(Vec::new());
    }
    Err(format!("{p:?}: this host runs linux/{arch} only (berth does not emulate other platforms)"))
}

fn security_opt(service: &Service) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for opt in &service.security_opt {
        if let Some(w) = crate::container::SecurityOpt::parse(opt)?.warning() {
            warnings.push(w);
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of a struct's fields as serde sees them: its `deserialize_struct` call, caught.
    fn fields<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
        struct Catch(std::cell::Cell<&'static [&'static str]>);
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        impl<'de> serde::Deserializer<'de> for &Catch {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.set(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
                unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
            }
        }
        let catch = Catch(std::cell::Cell::new(&[]));
        let _ = T::deserialize(&catch);
        catch.0.get()
    }

    #[test]
    fn every_attribute_of_the_model_has_a_row() {
        let names: Vec<&str> = SERVICE.iter().map(|(n, _)| *n).collect();
        let model: Vec<&str> = fields::<Service>().iter().copied().filter(|f| !f.starts_with("__")).collect();
        assert!(model.len() > 80, "the model's fields were not found: {model:?}");
        let missing: Vec<&&str> = model.iter().filter(|f| !names.contains(f)).collect();
        assert!(missing.is_empty(), "attributes without a row in SERVICE: {missing:?}");
        let extra: Vec<&&str> = names.iter().filter(|n| !model.contains(n)).collect();
        assert!(extra.is_empty(), "rows for attributes the model lacks: {extra:?}");
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "keep the table sorted");
    }

    #[test]
    fn the_compatibility_page_says_what_the_table_says() {
        let page = include_str!("../../../docs/compatibility.md");
        let rows: Vec<(&str, &str)> = page
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| {
                let (name, rest) = l.split_once("` | ")?;
                Some((name, rest.split(" |").next()?))
            })
            .collect();
        let want: Vec<(&str, &str)> = SERVICE
            .iter()
            .map(|(name, s)| {
                let word = match s {
                    Support::Runs => "runs",
                    Support::Loaded => "loader",
                    Support::Checked(_) => "some values",
                    Support::Warns(_) => "warns",
                    Support::Refused(_) => "refused",
                };
                (*name, word)
            })
            .collect();
        assert_eq!(rows, want, "docs/compatibility.md and SERVICE disagree");
    }

    fn service(yaml: serde_json::Value) -> Service {
        serde_json::from_value(yaml).expect("a service")
    }

    #[test]
    fn refusals_name_the_attribute_and_warnings_come_once() {
        let s = service(serde_json::json!({"image": "x", "runtime": "runsc"}));
        let e = check(&s).expect_err("refused");
        assert!(e.starts_with("runtime is not supported: "), "{e}");
        let s = service(serde_json::json!({"image": "x", "pid": "container:"}));
        assert!(check(&s).expect_err("refused").starts_with("pid: \"container:\""));
        let s = service(serde_json::json!({"image": "x", "ipc": "service"}));
        assert!(check(&s).expect_err("refused").starts_with("ipc: \"service\""));
        let s = service(serde_json::json!({"image": "x", "pid": "host", "ipc": "shareable", "uts": "host"}));
        assert_eq!(check(&s), Ok(vec![]));
        let s = service(serde_json::json!({"image": "x", "pid": "service:db", "ipc": "container:other"}));
        assert_eq!(check(&s), Ok(vec![]));
        let s = service(serde_json::json!({
            "image": "x", "cpu_count": 2,
            "deploy": {"placement": {"constraints": ["node.role==manager"]}, "resources": {"limits": {"memory": 1024}}},
        }));
        let w = check(&s).expect("accepted");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("cpu_count is ignored") && w[1].starts_with("deploy.placement is ignored"), "{w:?}");
        let s = service(serde_json::json!({"image": "x", "deploy": {"resources": {"reservations": {
            "devices": [{"capabilities": ["gpu"]}]}}}}));
        assert!(check(&s).expect_err("refused").contains("resources.reservations.devices"));
    }

    #[test]
    fn logging_drivers_and_options() {
        let with = |logging: serde_json::Value| check(&service(serde_json::json!({"image": "x", "logging": logging})));
        assert_eq!(
            with(serde_json::json!({"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}})),
            Ok(vec![])
        );
        assert_eq!(with(serde_json::json!({"options": {"tag": "x", "labels": "a"}})), Ok(vec![]));
        assert_eq!(with(serde_json::json!({"driver": "local"})), Ok(vec![]));
        let warned = with(serde_json::json!({"driver": "local", "options": {"mode": "non-blocking"}}));
        assert!(warned.expect("accepted")[0].contains("logging option mode changes nothing"));
        assert!(
            with(serde_json::json!({"driver": "fluentd"}))
                .expect_err("refused")
                .starts_with("logging: driver \"fluentd\"")
        );
        assert!(with(serde_json::json!({"options": {"max-sise": "1m"}})).is_err());
    }

    #[test]
    fn platforms_other_than_the_hosts_are_refused() {
        let arch = if cfg!(target_arch = "x86_64") { "amd64" } else { "arm64" };
        for ok in [format!("linux/{arch}"), "linux".to_string()] {
            assert_eq!(platform(&service(serde_json::json!({"platform": ok}))), Ok(vec![]));
        }
        assert!(platform(&service(serde_json::json!({"platform": "windows/amd64"}))).is_err());
        assert!(platform(&service(serde_json::json!({"platform": "linux/s390x"}))).is_err());
    }
}
