//! A service of the file as the engine's container settings: [`create_options`] maps the typed
//! `Service` to `CreateOptions`, so the Compose semantics of a container live in one place.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use berth_compose::Project;
use berth_compose::model::Service;
use berth_network::ports::{self, PortBinding, Protocol};
use berth_volumes::mount::{Mount, MountKind};

use super::*;
use crate::container::create::{self, CreateOptions, HealthOverride};
use crate::container::store::Container;
use crate::container::{HostConfig, LogConfig, NetworkMode, NetworkSettings, RestartPolicy};
use crate::labels;
use crate::network::EndpointRequest;
use crate::store::Store;

pub(super) fn network_name(project: &Project, key: &str) -> String {
    project.networks.get(key).and_then(|n| n.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

pub(super) fn volume_name(project: &Project, key: &str) -> Option<String> {
    project.volumes.get(key).map(|v| v.name.clone().unwrap_or_else(|| format!("{}_{key}", project.name)))
}

fn restart_policy(name: &str, service: &Service) -> Result<RestartPolicy> {
    if let Some(r) = service.restart.as_deref() {
        return RestartPolicy::parse(r).ok_or_else(|| {
            service_error(
                name,
                format!("invalid restart policy {r:?}: use no, always, on-failure[:N] or unless-stopped"),
            )
        });
    }
    Ok(match service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        Some(p) => match p.condition.as_deref() {
            Some("none") => RestartPolicy::No,
            Some("on-failure") => RestartPolicy::OnFailure { max_retries: p.max_attempts.map(|n| n as u32) },
            _ => RestartPolicy::Always,
        },
        None => RestartPolicy::No,
    })
}

fn millis(d: &Option<berth_compose::model::types::Duration>) -> Option<u64> {
    d.as_ref().map(|d| d.0.as_millis() as u64)
}

/// The published ports of a service.
pub(super) fn port_bindings(name: &str, service: &Service) -> Result<Vec<PortBinding>> {
    let mut out = Vec::new();
    for p in &service.ports {
        let protocol: Protocol = p.protocol.as_deref().unwrap_or("tcp").parse().map_err(|e| service_error(name, e))?;
        let host_ip = host_ip(name, p.host_ip.as_deref())?;
        // No published port: the host picks one when the container is created.
        let host = match p.published.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(published) => {
                let (a, b) = published.split_once('-').unwrap_or((published, published));
                match (a.parse().ok(), b.parse().ok()) {
                    (Some(h0), Some(h1)) => Some((h0, h1)),
                    _ => return Err(service_error(name, format!("invalid published port {published:?}"))),
                }
            }
        };
        out.extend(ports::bindings(host_ip, host, (p.target, p.target), protocol).map_err(|e| service_error(name, e))?);
    }
    Ok(out)
}

fn host_ip(name: &str, ip: Option<&str>) -> Result<Option<Ipv4Addr>> {
    match ip.filter(|i| !i.is_empty()) {
        None => Ok(None),
        Some(ip) => ip
            .parse()
            .map(Some)
            .map_err(|_| service_error(name, format!("host_ip {ip:?} is not an IPv4 address (IPv6 is not supported)"))),
    }
}

/// A service's own `volumes:` as mounts (`volumes_from` needs the containers, and is added by
/// [`create_options`]).
pub(super) fn mounts_of(project: &Project, name: &str, service: &Service) -> Result<Vec<Mount>> {
    let err = |e: String| service_error(name, e);
    let mut mounts = Vec::new();
    for v in &service.volumes {
        let kind = match v.kind.as_str() {
            "bind" => MountKind::Bind,
            "volume" => MountKind::Volume,
            "tmpfs" => MountKind::Tmpfs,
            other => return Err(err(format!("volume type {other:?} is not supported"))),
        };
        let source = match kind {
            MountKind::Volume => match v.source.as_deref() {
                Some(key) => Some(
                    volume_name(project, key)
                        .ok_or_else(|| err(format!("volume {key} is not declared in the top-level volumes")))?,
                ),
                None => None,
            },
            MountKind::Bind => v.source.clone(),
            MountKind::Tmpfs => None,
        };
        let mut m = Mount::new(kind, source, &v.target);
        m.read_only = v.read_only;
        if let Some(b) = &v.bind {
            m.propagation = b.propagation.clone();
            m.create_host_path = b.create_host_path;
            if let Some(label) = &b.selinux {
                berth_volumes::mount::check_selinux_label(label).map_err(err)?;
            }
        }
        if let Some(o) = &v.volume {
            m.nocopy = o.nocopy;
            m.subpath = o.subpath.clone();
        }
        if let Some(t) = &v.tmpfs {
            m.tmpfs_size = t.size.as_ref().map(|s| s.0);
            m.tmpfs_mode = t.mode.as_ref().map(|m| m.0);
        }
        mounts.push(m);
    }
    Ok(mounts)
}

/// The container settings of replica `number` of service `name`. `existing` maps service names
/// to their containers' names (for `links`, `network_mode: service:`, `volumes_from`).
pub fn create_options(
    project: &Project,
    name: &str,
    service: &Service,
    number: u64,
    existing: &BTreeMap<String, Vec<Container>>,
) -> Result<CreateOptions> {
    let err = |e: String| service_error(name, e);
    let (network, requests) = network_of(project, name, service, existing)?;
    let mut mounts = mounts_of(project, name, service)?;
    mounts.extend(volumes_from(name, service, existing)?);
    let mut ulimits = BTreeMap::new();
    for (n, u) in &service.ulimits {
        let (soft, hard) = match u {
            berth_compose::model::Ulimit::Single(v) => (*v, *v),
            berth_compose::model::Ulimit::Pair { soft, hard } => (*soft, *hard),
        };
        let (k, v) = crate::container::parse_ulimit(&format!("{n}={soft}:{hard}")).map_err(err)?;
        ulimits.insert(k, v);
    }
    Ok(CreateOptions {
        name: Some(container_name(project, name, service, number)),
        env: service.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect(),
        working_dir: service.working_dir.clone(),
        user: service.user.clone(),
        entrypoint: service.entrypoint.clone(),
        args: service.command.clone().unwrap_or_default(),
        hostname: service.hostname.clone(),
        labels: labels_of(project, name, service, number)?,
        restart: restart_policy(name, service)?,
        auto_remove: false,
        restart_on_unhealthy: service.extensions.get("x-berth-restart-on-unhealthy")
            == Some(&serde_json::Value::Bool(true)),
        open_stdin: service.stdin_open,
        stdin_once: false,
        tty: service.tty,
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service.stop_grace_period.as_ref().map(|d| d.0.as_secs()),
        host: HostConfig {
            pid_mode: joined(name, service.pid.as_deref(), existing)?,
            ipc_mode: joined(name, service.ipc.as_deref(), existing)?,
            security_opt: service
                .security_opt
                .iter()
                .map(|o| crate::container::seccomp::inline(o, &project.working_dir).map_err(|e| service_error(name, e)))
                .collect::<Result<_>>()?,
            ..host_of(name, service, ulimits)?
        },
        log: log_of(name, service)?,
        health: health_of(service),
        network,
        networks: requests,
        mounts,
        files: super::files::files_of(project, name, service)?,
        post_start: service.post_start.iter().map(hook).collect(),
        pre_stop: service.pre_stop.iter().map(hook).collect(),
    })
}

fn hook(h: &berth_compose::model::Hook) -> crate::container::options::Hook {
    crate::container::options::Hook {
        command: h.command.clone(),
        user: h.user.clone(),
        working_dir: h.working_dir.clone(),
        env: h.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect(),
        privileged: h.privileged,
    }
}

/// What the service asks of the host: resources (`deploy.resources` over the attributes of
/// the same meaning, as Docker Compose takes them), namespaces and privileges.
fn host_of(name: &str, service: &Service, ulimits: BTreeMap<String, (u64, u64)>) -> Result<HostConfig> {
    let resources = service.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    let reservations = resources.and_then(|r| r.reservations.as_ref());
    let positive =
        |n: i64, what: &str| u64::try_from(n).map_err(|_| service_error(name, format!("{what} must not be negative")));
    Ok(HostConfig {
        console_size: None,
        memory: limits.and_then(|l| l.memory).or(service.mem_limit).map(|m| m.0),
        cpus: limits.and_then(|l| l.cpus).or(service.cpus),
        pids_limit: limits.and_then(|l| l.pids).or(service.pids_limit),
        memory_reservation: reservations.and_then(|r| r.memory).or(service.mem_reservation).map(|m| m.0),
        memory_swap: service.memswap_limit.map(|m| m.0 as i64),
        memory_swappiness: service.mem_swappiness.map(|s| positive(s, "mem_swappiness")).transpose()?,
        oom_kill_disable: service.oom_kill_disable.unwrap_or(false),
        oom_score_adj: service.oom_score_adj.map(|a| a.clamp(-1001, 1001) as i32),
        cpu_shares: service.cpu_shares.map(|s| positive(s, "cpu_shares")).transpose()?,
        cpu_quota: service.cpu_quota,
        cpu_period: service.cpu_period.map(|p| positive(p, "cpu_period")).transpose()?,
        cpu_rt_runtime: service.cpu_rt_runtime.map(|p| positive(p, "cpu_rt_runtime")).transpose()?,
        cpu_rt_period: service.cpu_rt_period.map(|p| positive(p, "cpu_rt_period")).transpose()?,
        cpuset_cpus: service.cpuset.clone(),
        shm_size: service.shm_size.map(|s| s.0),
        sysctls: service.sysctls.clone(),
        group_add: service.group_add.clone(),
        // Made below, where the project's containers are known.
        pid_mode: None,
        ipc_mode: None,
        uts_mode: service.uts.clone(),
        cgroupns_mode: service.cgroup.clone(),
        cgroup_parent: service.cgroup_parent.clone(),
        annotations: service.annotations.clone(),
        device_cgroup_rules: service.device_cgroup_rules.clone(),
        blkio: service.blkio_config.as_ref().map(|b| {
            let limits =
                |l: &[berth_compose::model::BlkioLimit]| l.iter().map(|l| (l.path.clone(), l.rate.0)).collect();
            crate::container::options::Blkio {
                weight: b.weight,
                weight_device: b.weight_device.iter().map(|w| (w.path.clone(), w.weight)).collect(),
                read_bps: limits(&b.device_read_bps),
                write_bps: limits(&b.device_write_bps),
                read_iops: limits(&b.device_read_iops),
                write_iops: limits(&b.device_write_iops),
            }
        }),
        devices: service
            .devices
            .iter()
            .map(|d| crate::container::options::Device {
                source: d.source.clone(),
                target: if d.target.is_empty() { d.source.clone() } else { d.target.clone() },
                permissions: if d.permissions.is_empty() { "rwm".into() } else { d.permissions.clone() },
            })
            .collect(),
        // Made below, where the project's directory is known.
        security_opt: Vec::new(),
        read_only: service.read_only,
        tmpfs: service.tmpfs.clone(),
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        privileged: service.privileged,
        init: service.init.unwrap_or(false),
        ulimits,
    })
}

/// The labels Docker Compose puts on a service's containers, over the service's own.
fn labels_of(project: &Project, name: &str, service: &Service, number: u64) -> Result<BTreeMap<String, String>> {
    let mut labels = service.labels.clone();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(labels::SERVICE.into(), name.into());
    labels.insert(labels::NUMBER.into(), number.to_string());
    labels.insert(labels::ONEOFF.into(), "False".into());
    labels.insert(labels::CONFIG_HASH.into(), super::files::config_hash(project, name, service)?);
    labels.insert(labels::WORKING_DIR.into(), project.working_dir.display().to_string());
    labels.insert(
        labels::CONFIG_FILES.into(),
        project.compose_files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(","),
    );
    labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    if let Some(image) = image_of(project, name, service) {
        labels.insert(labels::IMAGE.into(), image);
    }
    let deps: Vec<String> =
        service.depends_on.iter().map(|(d, dep)| format!("{d}:{}:{}", dep.condition, dep.restart)).collect();
    labels.insert(labels::DEPENDS_ON.into(), deps.join(","));
    Ok(labels)
}

/// The first container of service `svc` among those recorded.
fn first_container(name: &str, svc: &str, existing: &BTreeMap<String, Vec<Container>>) -> Result<Container> {
    existing
        .get(svc)
        .and_then(|v| v.first().cloned())
        .ok_or_else(|| service_error(name, format!("service {svc} has no container yet")))
}

/// A namespace mode with `service:NAME` made `container:ID` of the service's first container,
/// as Docker Compose makes it.
fn joined(name: &str, mode: Option<&str>, existing: &BTreeMap<String, Vec<Container>>) -> Result<Option<String>> {
    Ok(match mode {
        Some(m) if m.starts_with("service:") => {
            Some(format!("container:{}", first_container(name, &m["service:".len()..], existing)?.config.id))
        }
        other => other.map(str::to_string),
    })
}

/// The service's network settings and the endpoints it asks of its networks.
fn network_of(
    project: &Project,
    name: &str,
    service: &Service,
    existing: &BTreeMap<String, Vec<Container>>,
) -> Result<(NetworkSettings, Vec<EndpointRequest>)> {
    let err = |e: String| service_error(name, e);
    let mut network = NetworkSettings {
        ports: port_bindings(name, service)?,
        exposed: service.expose.iter().map(|e| if e.contains('/') { e.clone() } else { format!("{e}/tcp") }).collect(),
        dns: service.dns.clone(),
        dns_search: service.dns_search.clone(),
        dns_options: service.dns_opt.clone(),
        extra_hosts: service.extra_hosts.clone(),
        domainname: service.domainname.clone(),
        ..Default::default()
    };
    for link in &service.links {
        let (svc, alias) = link.split_once(':').unwrap_or((link, link));
        let target = container_name(
            project,
            svc,
            project.services.get(svc).ok_or_else(|| err(format!("links: no service {svc}")))?,
            1,
        );
        network.links.insert(alias.to_string(), target);
    }
    let mut requests = Vec::new();
    network.mode = match service.network_mode.as_deref() {
        Some("host") => NetworkMode::Host,
        Some("none") => NetworkMode::None,
        Some(mode) if mode.starts_with("service:") => {
            NetworkMode::Container(first_container(name, &mode[8..], existing)?.config.id)
        }
        Some(mode) if mode.starts_with("container:") => NetworkMode::Container(mode[10..].to_string()),
        Some(other) => return Err(err(format!("network_mode {other:?} is not supported"))),
        None => {
            let mut keys: Vec<(&String, Option<&berth_compose::model::ServiceNetwork>)> =
                service.networks.iter().map(|(k, v)| (k, v.as_ref())).collect();
            if keys.is_empty() {
                if let Some((key, _)) = project.networks.get_key_value("default") {
                    keys.push((key, None));
                }
            }
            for (key, opts) in keys {
                let ipv4_address = match opts.and_then(|o| o.ipv4_address.as_deref()) {
                    Some(ip) => Some(ip.parse().map_err(|_| err(format!("invalid ipv4_address {ip:?}")))?),
                    None => None,
                };
                requests.push(EndpointRequest {
                    network: network_name(project, key),
                    aliases: opts.map(|o| o.aliases.clone()).unwrap_or_default(),
                    ipv4_address,
                    mac_address: opts.and_then(|o| o.mac_address.clone()).or_else(|| service.mac_address.clone()),
                    priority: opts.and_then(|o| o.priority).unwrap_or(0),
                });
            }
            NetworkMode::Bridge
        }
    };
    if network.mode != NetworkMode::Bridge {
        network.ports.clear();
    }
    Ok((network, requests))
}

/// The mounts `volumes_from` takes from other services' (or containers') first container.
fn volumes_from(name: &str, service: &Service, existing: &BTreeMap<String, Vec<Container>>) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    for from in &service.volumes_from {
        let (source, mode) = from.split_once(':').unwrap_or((from, "rw"));
        let source = source.strip_prefix("container:").map(str::to_string);
        let c = match source {
            Some(c) => first_by_name(existing, &c)
                .cloned()
                .ok_or_else(|| service_error(name, format!("volumes_from: no container {c}")))?,
            None => first_container(name, from.split(':').next().unwrap_or(from), existing)?,
        };
        for m in &c.config.mounts {
            let mut m = m.clone();
            m.read_only = m.read_only || mode == "ro";
            mounts.push(m);
        }
    }
    Ok(mounts)
}

/// The `logging:` section as the container's log configuration (see `logdriver::config`).
fn log_of(name: &str, service: &Service) -> Result<LogConfig> {
    let Some(logging) = &service.logging else { return Ok(LogConfig::default()) };
    let (log, _) = crate::container::logdriver::config(logging.driver.as_deref(), &logging.options)
        .map_err(|e| service_error(name, format!("logging: {e}")))?;
    Ok(log)
}

fn health_of(service: &Service) -> HealthOverride {
    match &service.healthcheck {
        Some(h) => HealthOverride {
            test: (!h.test.is_empty()).then(|| h.test.clone()),
            interval_ms: millis(&h.interval),
            timeout_ms: millis(&h.timeout),
            start_period_ms: millis(&h.start_period),
            start_interval_ms: millis(&h.start_interval),
            retries: h.retries.map(|r| r as u32),
            disable: h.disable,
        },
        None => HealthOverride::default(),
    }
}

/// What `run SERVICE` changes in the service's container: a one-off container is named
/// `<project>-<service>-run-<id>`, never restarted, publishes no ports unless asked.
#[derive(Debug, Clone, Default)]
pub struct OneOff {
    pub command: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub remove: bool,
    pub service_ports: bool,
    /// Ports published on the one-off container (`-p`), with or without the service's.
    pub publish: Vec<PortBinding>,
    pub interactive: bool,
    /// Close the standard input when the attached command's ends (a foreground run).
    pub stdin_once: bool,
    pub tty: bool,
}

/// Creates a one-off container of `service` (its networks and volumes made first).
pub fn create_one_off(
    store: &Store,
    project: &Project,
    name: &str,
    run: OneOff,
    report: &dyn Report,
) -> Result<crate::container::ContainerConfig> {
    let service = project.services.get(name).ok_or_else(|| service_error(name, "no such service in the project"))?;
    check_definitions(project, &[name.to_string()])?;
    ensure_resources(store, project, &[name.to_string()], report)?;
    let image = image_of(project, name, service)
        .ok_or_else(|| service_error(name, "has neither an image nor a build section"))?;
    let (_, record) =
        store.find_image(&image).map_err(|_| ProjectError::NoImage { service: name.into(), image: image.clone() })?;
    let mut existing: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers(store, &project.name, false)? {
        existing.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let mut options = create_options(project, name, service, 1, &existing)?;
    let suffix: String = crate::container::new_id().chars().take(12).collect();
    options.name = Some(run.name.unwrap_or_else(|| format!("{}-{name}-run-{suffix}", project.name)));
    options.labels.insert(labels::ONEOFF.into(), "True".into());
    options.labels.remove(labels::NUMBER);
    if !run.command.is_empty() {
        options.args = run.command;
    }
    if run.entrypoint.is_some() {
        options.entrypoint = run.entrypoint;
        if options.args == service.command.clone().unwrap_or_default() {
            options.args.clear(); // A new entrypoint drops the service's command, as in Compose.
        }
    }
    options.env.extend(run.env);
    options.working_dir = run.working_dir.or(options.working_dir);
    options.user = run.user.or(options.user);
    options.restart = RestartPolicy::No;
    options.auto_remove = run.remove;
    options.open_stdin = run.interactive;
    options.stdin_once = run.stdin_once;
    options.tty = run.tty;
    if !run.service_ports {
        options.network.ports.clear();
    }
    options.network.ports.extend(run.publish);
    create::create(store, &image, &record, options)
        .map_err(|e| failed(format!("cannot create a container of service {name}"), e))
}

fn first_by_name<'a>(existing: &'a BTreeMap<String, Vec<Container>>, name: &str) -> Option<&'a Container> {
    existing.values().flatten().find(|c| c.config.name == name)
}
