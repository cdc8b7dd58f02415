//! The project reconciler (DESIGN.md §4): a loaded Compose project against the containers,
//! networks and volumes that carry its labels. `up` creates what is missing, recreates what
//! changed (config hash or image), keeps the rest, and starts services in dependency order
//! with everything independent in parallel, honouring `depends_on` conditions; `down` stops in
//! reverse order within one grace period and removes what `up` made.
//!
//! Services become containers through [`create_options`], a pure mapping from the typed
//! `Service` to the engine's `CreateOptions`, so the Compose semantics live in one place.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_compose::model::Service;
use berth_compose::{Graph, Project};
use berth_network::ports::{self, PortBinding, Protocol};
use berth_volumes::mount::{Mount, MountKind};

use crate::container::create::{self, CreateOptions, HealthOverride};
use crate::container::store::Container;
use crate::container::{HealthStatus, HostConfig, LogConfig, NetworkMode, NetworkSettings, RestartPolicy, Status};
use crate::labels;
use crate::network::{self, EndpointRequest, NetworkOptions};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    #[error("volume {volume}: {message}")]
    Volume { volume: String, message: String },
    #[error("{0}")]
    Dependency(String),
    /// Two services ask for the same thing of the host (a published port).
    #[error("{0}")]
    Conflict(String),
    #[error("image {image} of service {service} is not here; pull it first (berth pull)")]
    NoImage { service: String, image: String },
    #[error(transparent)]
    Cycle(#[from] berth_compose::Cycle),
    #[error(transparent)]
    Other(#[from] Box<dyn std::error::Error + Send + Sync>),
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> ProjectError {
    ProjectError::Other(Box::new(e))
}

fn service_error(service: &str, e: impl std::fmt::Display) -> ProjectError {
    ProjectError::Service { service: service.to_string(), message: e.to_string() }
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// What the reconciler tells the user, as Docker Compose's progress lines do.
pub trait Report: Sync {
    /// `kind` is `Network`, `Volume` or `Container`; `status` is `Created`, `Started`...
    fn event(&self, kind: &str, name: &str, status: &str);
    fn warn(&self, message: &str);
}

/// Held by `up` and `down` while they change a project, so that two at once take turns.
pub fn lock(store: &Store, project: &str) -> Result<crate::fsutil::Lock> {
    let path = store.root.join("projects").join(format!("{project}.lock"));
    crate::fsutil::Lock::acquire(&path).map_err(other)
}

/// The project's containers (one-off `run` containers included when `oneoff`).
pub fn containers(store: &Store, project: &str, oneoff: bool) -> Result<Vec<Container>> {
    let mut all: Vec<Container> = store
        .list_containers()
        .map_err(other)?
        .into_iter()
        .filter(|c| c.config.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .filter(|c| oneoff || c.config.labels.get(labels::ONEOFF).map(String::as_str) != Some("True"))
        .collect();
    all.sort_by_key(|c| (service_of(c).to_string(), number_of(c)));
    Ok(all)
}

pub fn project_of(c: &Container) -> &str {
    c.config.labels.get(labels::PROJECT).map(String::as_str).unwrap_or("")
}

pub fn service_of(c: &Container) -> &str {
    c.config.labels.get(labels::SERVICE).map(String::as_str).unwrap_or("")
}

pub fn number_of(c: &Container) -> u64 {
    c.config.labels.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// How many containers a service wants: `--scale`, else `scale`/`deploy.replicas`, else 1.
pub fn replicas(service: &Service, name: &str, scale: &BTreeMap<String, u64>) -> u64 {
    scale.get(name).copied().or(service.scale).or_else(|| service.deploy.as_ref().and_then(|d| d.replicas)).unwrap_or(1)
}

pub fn container_name(project: &Project, name: &str, service: &Service, number: u64) -> String {
    match &service.container_name {
        Some(n) => n.clone(),
        None => format!("{}-{name}-{number}", project.name),
    }
}

/// The resolved names of the project's networks, by their key in the file.
/// The image a service runs: its `image`, or for one built from a `build` section without an
/// image name, `<project>-<service>` as Docker Compose names it.
pub fn image_of(project: &Project, name: &str, service: &Service) -> Option<String> {
    service.image.clone().or_else(|| service.build.as_ref().map(|_| format!("{}-{name}", project.name)))
}

fn network_name(project: &Project, key: &str) -> String {
    project.networks.get(key).and_then(|n| n.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

fn volume_name(project: &Project, key: &str) -> Option<String> {
    project.volumes.get(key).map(|v| v.name.clone().unwrap_or_else(|| format!("{}_{key}", project.name)))
}

fn restart_policy(service: &Service) -> RestartPolicy {
    if let Some(r) = service.restart.as_deref() {
        return RestartPolicy::parse(r).unwrap_or_default();
    }
    match service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        Some(p) => match p.condition.as_deref() {
            Some("none") => RestartPolicy::No,
            Some("on-failure") => RestartPolicy::OnFailure { max_retries: p.max_attempts.map(|n| n as u32) },
            _ => RestartPolicy::Always,
        },
        None => RestartPolicy::No,
    }
}

fn millis(d: &Option<berth_compose::model::types::Duration>) -> Option<u64> {
    d.as_ref().map(|d| d.0.as_millis() as u64)
}

/// The published ports of a service.
fn port_bindings(name: &str, service: &Service) -> Result<Vec<PortBinding>> {
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
fn mounts_of(project: &Project, name: &str, service: &Service) -> Result<Vec<Mount>> {
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

/// Checks what can be checked before anything is pulled or created: the selected services'
/// mounts and published ports, and the definitions of the volumes they use. A mistake in the
/// file names the service or volume it is in, and leaves nothing half made.
pub fn check(store: &Store, project: &Project, services: &[String]) -> Result<()> {
    for name in services {
        if let Some(provider) = &project.services[name].provider {
            let kind = provider.get("type").and_then(|t| t.as_str()).unwrap_or("?");
            return Err(service_error(
                name,
                format!(
                    "provider services (type {kind}) run a Docker Compose provider plugin, which berth does not support"
                ),
            ));
        }
    }
    let published = check_definitions(project, services)?;
    check_host_ports(store, project, &published)
}

/// The part of [`check`] that needs only the project: mounts, ports (two services publishing
/// one host port are refused, naming both) and volume definitions. Returns what each service
/// publishes.
fn check_definitions<'a>(project: &Project, services: &'a [String]) -> Result<Vec<(&'a str, PortBinding)>> {
    let mut published: Vec<(&str, PortBinding)> = Vec::new();
    for name in services {
        for b in port_bindings(name, &project.services[name])? {
            if let Some((other, _)) = published.iter().find(|(_, p)| ports::overlaps(p, &b)) {
                return Err(ProjectError::Conflict(format!(
                    "services {other} and {name} both publish host port {}/{}{}",
                    b.host_port,
                    b.protocol,
                    b.host_ip.map_or(String::new(), |ip| format!(" on {ip}"))
                )));
            }
            published.push((name, b));
        }
    }
    for name in services {
        let service = &project.services[name];
        for m in mounts_of(project, name, service)? {
            berth_volumes::mount::check(&m).map_err(|e| service_error(name, e))?;
        }
        for key in service.volumes.iter().filter(|v| v.kind == "volume").filter_map(|v| v.source.as_ref()) {
            let Some(definition) = project.volumes.get(key).filter(|v| !v.external) else { continue };
            let volume = volume_name(project, key).unwrap_or_default();
            let driver = definition.driver.as_deref().unwrap_or("local");
            berth_volumes::store::check_options(&volume, driver, &definition.driver_opts)
                .map_err(|e| ProjectError::Volume { volume: key.clone(), message: e.to_string() })?;
        }
    }
    Ok(published)
}

/// Checks, before anything is created, that the fixed host ports services publish are free:
/// not published by a running container other than the service's own (which `up` keeps or
/// replaces), and not held by a program on the host.
fn check_host_ports(store: &Store, project: &Project, published: &[(&str, PortBinding)]) -> Result<()> {
    let fixed: Vec<&(&str, PortBinding)> = published.iter().filter(|(_, b)| b.host_port != 0).collect();
    if fixed.is_empty() {
        return Ok(());
    }
    let live: Vec<Container> =
        store.list_containers().map_err(other)?.into_iter().filter(crate::container::remove::is_live).collect();
    for (name, b) in fixed {
        let owner = live.iter().find(|c| c.config.network.ports.iter().any(|p| ports::overlaps(p, b)));
        match owner {
            Some(c) if project_of(c) == project.name && service_of(c) == *name => continue,
            Some(c) => {
                return Err(service_error(
                    name,
                    format!(
                        "cannot publish port {}/{}: container {} already publishes it",
                        b.host_port, b.protocol, c.config.name
                    ),
                ));
            }
            None => ports::check_free(b).map_err(|e| service_error(name, e))?,
        }
    }
    Ok(())
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
    let mut labels = service.labels.clone();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(labels::SERVICE.into(), name.into());
    labels.insert(labels::NUMBER.into(), number.to_string());
    labels.insert(labels::ONEOFF.into(), "False".into());
    labels.insert(labels::CONFIG_HASH.into(), berth_compose::hash::service_hash(service));
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

    let first_container = |svc: &str| -> Result<Container> {
        existing
            .get(svc)
            .and_then(|v| v.first().cloned())
            .ok_or_else(|| err(format!("service {svc} has no container yet")))
    };
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
        Some(mode) if mode.starts_with("service:") => NetworkMode::Container(first_container(&mode[8..])?.config.id),
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

    let mut mounts = mounts_of(project, name, service)?;
    for from in &service.volumes_from {
        let (source, mode) = from.split_once(':').unwrap_or((from, "rw"));
        let source = source.strip_prefix("container:").map(str::to_string);
        let c = match source {
            Some(c) => {
                first_by_name(existing, &c).cloned().ok_or_else(|| err(format!("volumes_from: no container {c}")))?
            }
            None => first_container(from.split(':').next().unwrap_or(from))?,
        };
        for m in &c.config.mounts {
            let mut m = m.clone();
            m.read_only = m.read_only || mode == "ro";
            mounts.push(m);
        }
    }

    let mut log = LogConfig::default();
    if let Some(logging) = &service.logging {
        if let Some(size) = logging.options.get("max-size") {
            log.max_size = Some(berth_compose::model::types::ByteSize::parse(size).map_err(err)?.0);
        }
        if let Some(n) = logging.options.get("max-file") {
            log.max_file = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| err(format!("invalid max-file {n:?}")))?;
        }
    }
    let health = match &service.healthcheck {
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
    };
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
        labels,
        restart: restart_policy(service),
        auto_remove: false,
        open_stdin: service.stdin_open,
        stdin_once: false,
        tty: service.tty,
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service.stop_grace_period.as_ref().map(|d| d.0.as_secs()),
        host: HostConfig {
            memory: service.mem_limit.as_ref().map(|m| m.0),
            cpus: service.cpus,
            pids_limit: service.pids_limit,
            read_only: service.read_only,
            tmpfs: service.tmpfs.clone(),
            cap_add: service.cap_add.clone(),
            cap_drop: service.cap_drop.clone(),
            privileged: service.privileged,
            init: service.init.unwrap_or(false),
            ulimits,
        },
        log,
        health,
        network,
        networks: requests,
        mounts,
    })
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
    create::create(store, &image, &record, options).map_err(|e| service_error(name, e))
}

fn first_by_name<'a>(existing: &'a BTreeMap<String, Vec<Container>>, name: &str) -> Option<&'a Container> {
    existing.values().flatten().find(|c| c.config.name == name)
}

/// The services `up` works on: the ones named (all when none) and, unless `no_deps`, what
/// they depend on.
pub fn selected(project: &Project, services: &[String], no_deps: bool) -> Result<Vec<String>> {
    for s in services {
        if !project.services.contains_key(s) {
            return Err(service_error(s, "no such service in the project"));
        }
    }
    if services.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    let mut out: Vec<String> = services.to_vec();
    let mut i = 0;
    while i < out.len() && !no_deps {
        if let Some(s) = project.services.get(&out[i]) {
            for dep in s.depends_on.keys() {
                if project.services.contains_key(dep) && !out.contains(dep) {
                    out.push(dep.clone());
                }
            }
        }
        i += 1;
    }
    out.sort();
    Ok(out)
}

/// Creates the networks and volumes the services use (external ones must exist).
pub fn ensure_resources(store: &Store, project: &Project, services: &[String], report: &dyn Report) -> Result<()> {
    let mut networks: Vec<&String> = Vec::new();
    let mut volumes: Vec<&String> = Vec::new();
    for name in services {
        let s = &project.services[name];
        if s.network_mode.is_none() {
            if s.networks.is_empty() && project.networks.contains_key("default") {
                networks.extend(project.networks.keys().filter(|k| *k == "default"));
            }
            networks.extend(s.networks.keys());
        }
        volumes.extend(s.volumes.iter().filter(|v| v.kind == "volume").filter_map(|v| v.source.as_ref()));
    }
    networks.sort();
    networks.dedup();
    volumes.sort();
    volumes.dedup();
    for key in networks {
        let Some(n) = project.networks.get(key) else { continue };
        let name = network_name(project, key);
        match network::find(store, &name) {
            Ok(_) => continue,
            Err(network::NetworkError::NotFound(_)) if n.external => {
                return Err(service_error(
                    key,
                    format!("external network {name} not found; create it with berth network create"),
                ));
            }
            Err(network::NetworkError::NotFound(_)) => {}
            Err(e) => return Err(other(e)),
        }
        let pool = n.ipam.as_ref().and_then(|i| i.config.first());
        let parse = |text: Option<&String>, what: &str| -> Result<Option<berth_network::ipam::Subnet>> {
            text.map(|t| t.parse().map_err(|e| service_error(key, format!("{what}: {e}")))).transpose()
        };
        let mut labels = n.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::NETWORK.into(), key.clone());
        let opts = NetworkOptions {
            name: name.clone(),
            driver: n.driver.clone(),
            subnet: parse(pool.and_then(|p| p.subnet.as_ref()), "subnet")?,
            gateway: match pool.and_then(|p| p.gateway.as_deref()) {
                Some(g) => Some(g.parse().map_err(|_| service_error(key, format!("invalid gateway {g:?}")))?),
                None => None,
            },
            ip_range: parse(pool.and_then(|p| p.ip_range.as_ref()), "ip_range")?,
            internal: n.internal,
            attachable: n.attachable,
            enable_ipv6: n.enable_ipv6.unwrap_or(false),
            labels,
            options: n.driver_opts.clone(),
        };
        network::create(store, opts).map_err(|e| service_error(key, e))?;
        report.event("Network", &name, "Created");
    }
    for key in volumes {
        let Some(v) = project.volumes.get(key) else { continue };
        let name = volume_name(project, key).unwrap_or_default();
        let vs = crate::volume::volumes(store);
        if vs.get(&name).map_err(other)?.is_some() {
            continue;
        }
        if v.external {
            return Err(ProjectError::Volume {
                volume: key.clone(),
                message: format!("external volume {name} not found; create it with berth volume create"),
            });
        }
        let mut labels = v.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::VOLUME.into(), key.clone());
        crate::volume::create(store, &name, v.driver.as_deref(), labels, v.driver_opts.clone())
            .map_err(|e| ProjectError::Volume { volume: key.clone(), message: e.to_string() })?;
        report.event("Volume", &name, "Created");
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_deps: bool,
    pub remove_orphans: bool,
    pub scale: BTreeMap<String, u64>,
    /// Recreate anonymous volumes instead of keeping their data (`-V`).
    pub renew_anon_volumes: bool,
    /// Grace period for containers `up` stops (recreation, scaling down).
    pub timeout: Option<u64>,
}

/// Creates, recreates and removes containers until every selected service has its replicas
/// with the current configuration. Returns the services worked on, in start order.
pub fn converge(store: &Store, project: &Project, opts: &UpOptions, report: &dyn Report) -> Result<Vec<String>> {
    let services = selected(project, &opts.services, opts.no_deps)?;
    let order: Vec<String> = Graph::new(project).start_order()?.into_iter().filter(|s| services.contains(s)).collect();
    let current = containers(store, &project.name, false)?;
    let orphans: Vec<&Container> = current.iter().filter(|c| !project.services.contains_key(service_of(c))).collect();
    if !orphans.is_empty() {
        if opts.remove_orphans {
            for c in orphans {
                remove_container(store, c, opts.timeout.unwrap_or(10), report)?;
            }
        } else {
            let names: Vec<&str> = orphans.iter().map(|c| c.config.name.as_str()).collect();
            report.warn(&format!(
                "Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            ));
        }
    }
    ensure_resources(store, project, &services, report)?;
    let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers(store, &project.name, false)? {
        by_service.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let outcome = converge_services(store, project, opts, &order, by_service, report);
    // The DNS server learns the new names once, before anything starts (and after a failure
    // half-way, so that the containers made so far are known when they start later).
    crate::network::sync_dns(store).map_err(other)?;
    outcome.map(|()| order)
}

/// Creates and recreates the containers of the services in `order`, from `by_service` (the
/// project's containers by service).
fn converge_services(
    store: &Store,
    project: &Project,
    opts: &UpOptions,
    order: &[String],
    mut by_service: BTreeMap<String, Vec<Container>>,
    report: &dyn Report,
) -> Result<()> {
    for name in order {
        let service = &project.services[name];
        let image = image_of(project, name, service)
            .ok_or_else(|| service_error(name, "has neither an image nor a build section"))?;
        let (_, record) = store
            .find_image(&image)
            .map_err(|_| ProjectError::NoImage { service: name.clone(), image: image.clone() })?;
        let hash = berth_compose::hash::service_hash(service);
        let want = replicas(service, name, &opts.scale);
        let have = by_service.insert(name.clone(), Vec::new()).unwrap_or_default();
        let mut kept = Vec::new();
        // Anonymous volumes of recreated containers, by replica number and target: the
        // replacement gets them back, as Docker Compose does (`-V` renews them instead).
        let mut carried: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
        for c in &have {
            let n = number_of(c);
            let stale = c.config.labels.get(labels::CONFIG_HASH) != Some(&hash) || c.config.image_id != record.id;
            if n > want {
                remove_container(store, c, opts.timeout.unwrap_or(c.config.stop_timeout), report)?;
            } else if opts.force_recreate || (stale && !opts.no_recreate) {
                report.event("Container", &c.config.name, "Recreate");
                remove_container(store, c, opts.timeout.unwrap_or(c.config.stop_timeout), report)?;
                if opts.renew_anon_volumes {
                    remove_anonymous_volumes(store, c);
                } else {
                    carried.insert(n, anonymous_volumes(store, c));
                }
            } else {
                kept.push(c.clone());
            }
        }
        kept.sort_by_key(number_of);
        by_service.insert(name.clone(), kept);
        for n in 1..=want {
            if by_service[name].iter().any(|c| number_of(c) == n) {
                continue;
            }
            let mut options = create_options(project, name, service, n, &by_service)?;
            if let Some(volumes) = carried.get(&n) {
                reuse_anonymous_volumes(&mut options.mounts, volumes);
            }
            let config = create::create_record(store, &image, &record, options).map_err(|e| service_error(name, e))?;
            report.event("Container", &config.name, "Created");
            let dir = store.container_dir(&config.id);
            let replicas = by_service.get_mut(name).expect("inserted above");
            replicas.push(Container { config, state: Default::default(), dir });
            replicas.sort_by_key(number_of);
        }
    }
    Ok(())
}

/// A container's anonymous volumes: mount target to volume name.
fn anonymous_volumes(store: &Store, c: &Container) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in c.config.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        let Some(name) = &m.source else { continue };
        let anonymous = crate::volume::volumes(store)
            .get(name)
            .ok()
            .flatten()
            .is_some_and(|v| v.labels.contains_key(crate::volume::ANONYMOUS));
        if anonymous {
            out.insert(m.target.trim_end_matches('/').to_string(), name.clone());
        }
    }
    out
}

fn remove_anonymous_volumes(store: &Store, c: &Container) {
    for name in anonymous_volumes(store, c).values() {
        let _ = crate::volume::remove(store, name);
    }
}

/// Gives the anonymous volume mounts of a replacement container the volumes its predecessor
/// had at the same targets.
fn reuse_anonymous_volumes(mounts: &mut [crate::volume::Mount], volumes: &BTreeMap<String, String>) {
    for m in mounts.iter_mut().filter(|m| m.kind == MountKind::Volume && m.source.is_none()) {
        if let Some(name) = volumes.get(m.target.trim_end_matches('/')) {
            m.source = Some(name.clone());
        }
    }
}

/// Stops and removes one container of the project. The DNS records are left to the caller,
/// who syncs them once (`network::sync_dns`) after removing many.
fn remove_container(store: &Store, c: &Container, timeout: u64, report: &dyn Report) -> Result<()> {
    let c = store.load_container(&c.config.id).map_err(other)?;
    if crate::container::remove::is_live(&c) {
        report.event("Container", &c.config.name, "Stopping");
        crate::container::remove::stop(store, &c, timeout).map_err(other)?;
        report.event("Container", &c.config.name, "Stopped");
    }
    report.event("Container", &c.config.name, "Removing");
    let stopped = store.load_container(&c.config.id).map_err(other)?;
    crate::container::remove::remove_record(store, &stopped, true).map_err(other)?;
    report.event("Container", &c.config.name, "Removed");
    Ok(())
}

/// How a service's start went, for its dependents.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Started,
    Failed(String),
}

struct Board {
    outcomes: std::sync::Mutex<BTreeMap<String, Outcome>>,
    changed: std::sync::Condvar,
}

impl Board {
    fn set(&self, service: &str, outcome: Outcome) {
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).insert(service.to_string(), outcome);
        self.changed.notify_all();
    }

    fn wait(&self, service: &str) -> Outcome {
        let mut map = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = map.get(service) {
                return o.clone();
            }
            map = self.changed.wait(map).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Waits until `dep`'s containers (`cs`, as listed before the start) meet `condition`. They
/// have started already (the board said so): only health and completion are waited for,
/// reading their records alone.
fn wait_condition(store: &Store, dep: &str, cs: &[Container], condition: &str) -> Result<(), String> {
    if cs.is_empty() {
        return Err(format!("service {dep:?} has no container"));
    }
    if condition == "service_started" {
        return Ok(());
    }
    loop {
        let mut met = true;
        for c in cs {
            let c = store.load_container(&c.config.id).map_err(|e| e.to_string())?;
            met &= condition_met(&c, dep, condition)?;
        }
        if met {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether one container of service `dep` meets `condition` (healthy, or completed), or why it
/// never will.
fn condition_met(c: &Container, dep: &str, condition: &str) -> Result<bool, String> {
    let s = &c.state;
    match condition {
        "service_healthy" => {
            let health = s.health.as_ref().map(|h| h.status);
            if c.config.healthcheck.is_none() {
                return Err(format!(
                    "dependency failed to start: container {} has no healthcheck configured",
                    c.config.name
                ));
            }
            if health == Some(HealthStatus::Unhealthy) {
                return Err(format!("dependency failed to start: container {} is unhealthy", c.config.name));
            }
            if matches!(s.status, Status::Exited | Status::Dead) {
                return Err(format!(
                    "dependency failed to start: container {} exited ({})",
                    c.config.name,
                    s.exit_code.unwrap_or(-1)
                ));
            }
            Ok(health == Some(HealthStatus::Healthy))
        }
        "service_completed_successfully" => match s.status {
            Status::Exited | Status::Dead => {
                let code = s.exit_code.unwrap_or(-1);
                if code != 0 {
                    return Err(format!("service {dep:?} didn't complete successfully: exit {code}"));
                }
                Ok(true)
            }
            _ => Ok(false),
        },
        _ => Ok(s.started_at.is_some() || matches!(s.status, Status::Running | Status::Restarting)),
    }
}

/// Starts the services' containers: every service as soon as its dependencies meet their
/// conditions, independent ones in parallel. A failed required dependency fails its dependents
/// with Docker Compose's message; an optional one is reported and skipped.
pub fn start(store: &Store, project: &Project, services: &[String], exe: &Path, report: &dyn Report) -> Result<()> {
    let board = Board { outcomes: std::sync::Mutex::new(BTreeMap::new()), changed: std::sync::Condvar::new() };
    // Services outside the selection count as started (`--no-deps`).
    for name in project.services.keys().filter(|s| !services.contains(s)) {
        board.set(name, Outcome::Started);
    }
    let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers(store, &project.name, false)? {
        by_service.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let errors: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for name in services {
            let (board, errors, by_service) = (&board, &errors, &by_service);
            scope.spawn(move || {
                let outcome = start_service(store, project, name, exe, board, by_service, report);
                if let Outcome::Failed(e) = &outcome {
                    errors.lock().unwrap_or_else(|e| e.into_inner()).push(e.clone());
                }
                board.set(name, outcome);
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    match errors.into_iter().next() {
        Some(e) => Err(ProjectError::Dependency(e)),
        None => Ok(()),
    }
}

fn start_service(
    store: &Store,
    project: &Project,
    name: &str,
    exe: &Path,
    board: &Board,
    by_service: &BTreeMap<String, Vec<Container>>,
    report: &dyn Report,
) -> Outcome {
    let service = &project.services[name];
    let of = |s: &str| by_service.get(s).map(Vec::as_slice).unwrap_or_default();
    for (dep, d) in &service.depends_on {
        if !project.services.contains_key(dep) {
            continue;
        }
        let waited = match board.wait(dep) {
            Outcome::Failed(e) => Err(e),
            Outcome::Started => {
                let waits = d.condition != "service_started";
                for c in of(dep).iter().filter(|_| waits) {
                    report.event("Container", &c.config.name, "Waiting");
                }
                let r = wait_condition(store, dep, of(dep), &d.condition);
                for c in of(dep).iter().filter(|_| waits && r.is_ok()) {
                    let word = if d.condition == "service_healthy" { "Healthy" } else { "Exited" };
                    report.event("Container", &c.config.name, word);
                }
                r
            }
        };
        if let Err(e) = waited {
            if d.required {
                return Outcome::Failed(e);
            }
            report.warn(&format!("optional dependency {dep} of {name} failed: {e}"));
        }
    }
    for c in of(name) {
        if crate::container::remove::is_live(c) {
            report.event("Container", &c.config.name, "Running");
            continue;
        }
        if let Err(e) = launch_reported(store, c, exe, report) {
            return Outcome::Failed(e);
        }
    }
    Outcome::Started
}

/// Starts one stopped container, with its progress lines; one that another command's shim
/// has just started counts as started.
fn launch_reported(store: &Store, c: &Container, exe: &Path, report: &dyn Report) -> Result<(), String> {
    use crate::container::launch::{self, LaunchError};
    report.event("Container", &c.config.name, "Starting");
    match launch::launch(store, &c.config.id, exe) {
        Ok(_) | Err(LaunchError::AlreadyStarted(_)) => {
            report.event("Container", &c.config.name, "Started");
            Ok(())
        }
        Err(e) => Err(format!("cannot start container {}: {e}", c.config.name)),
    }
}

/// After a reboot (`berth system boot`): starts the containers whose restart policy says so.
/// A project's services come back in dependency order, read from their `depends_on` labels (no
/// Compose file needed): each once what it depends on has started, turned healthy or completed
/// as the file said, independent ones in parallel. Containers outside projects start at once.
/// Returns why each container or service that could not start did not.
pub fn boot(store: &Store, exe: &Path, report: &dyn Report) -> Result<Vec<String>> {
    use crate::container::{boot::should_start_at_boot, remove};
    let chosen: Vec<Container> = store
        .list_containers()
        .map_err(other)?
        .into_iter()
        .filter(|c| !remove::is_live(c) && should_start_at_boot(c))
        .collect();
    // (project, service) -> containers; outside projects, the container's own name.
    let mut groups: BTreeMap<(String, String), Vec<Container>> = BTreeMap::new();
    for c in chosen {
        let key = match c.config.labels.get(labels::PROJECT) {
            Some(p) => (p.clone(), service_of(&c).to_string()),
            None => (String::new(), c.config.name.clone()),
        };
        groups.entry(key).or_default().push(c);
    }
    let board = Board { outcomes: std::sync::Mutex::new(BTreeMap::new()), changed: std::sync::Condvar::new() };
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for ((project, service), cs) in &groups {
            let (board, failures, groups) = (&board, &failures, &groups);
            scope.spawn(move || {
                let key = format!("{project}/{service}");
                let fail = |why: String| {
                    failures.lock().unwrap_or_else(|e| e.into_inner()).push(why.clone());
                    board.set(&key, Outcome::Failed(why));
                };
                let deps = cs[0].config.labels.get(labels::DEPENDS_ON).cloned().unwrap_or_default();
                for dep in deps.split(',').filter(|d| !d.is_empty()) {
                    let mut parts = dep.split(':');
                    let (name, condition) = (parts.next().unwrap_or(""), parts.next().unwrap_or("service_started"));
                    // Only what this boot starts is waited for; a dependency left down stays so.
                    let Some(dep_containers) = groups.get(&(project.clone(), name.to_string())) else {
                        continue;
                    };
                    if let Outcome::Failed(e) = board.wait(&format!("{project}/{name}")) {
                        return fail(format!("service {service}: {e}"));
                    }
                    report.event("Container", name, "Waiting");
                    if let Err(e) = wait_condition(store, name, dep_containers, condition) {
                        return fail(format!("service {service}: {e}"));
                    }
                }
                let mut outcome = Outcome::Started;
                for c in cs {
                    remove::clean_leftovers(store, c);
                    if let Err(why) = launch_reported(store, c, exe, report) {
                        failures.lock().unwrap_or_else(|e| e.into_inner()).push(why.clone());
                        outcome = Outcome::Failed(why);
                    }
                }
                board.set(&key, outcome);
            });
        }
    });
    Ok(failures.into_inner().unwrap_or_default())
}

/// Waits until every container of the services runs (and is healthy where it has a
/// healthcheck), or has completed successfully; fails on one that exited badly or turned
/// unhealthy, or at the deadline.
pub fn wait_ready(store: &Store, project: &str, services: &[String], timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut ready = true;
        for c in containers(store, project, false)?.iter().filter(|c| services.iter().any(|s| s == service_of(c))) {
            let health = c.state.health.as_ref().map(|h| h.status);
            match c.state.status {
                Status::Exited | Status::Dead if c.state.exit_code == Some(0) => {}
                Status::Exited | Status::Dead => {
                    return Err(ProjectError::Dependency(format!(
                        "container {} exited ({})",
                        c.config.name,
                        c.state.exit_code.unwrap_or(-1)
                    )));
                }
                _ if health == Some(HealthStatus::Unhealthy) => {
                    return Err(ProjectError::Dependency(format!("container {} is unhealthy", c.config.name)));
                }
                Status::Running => ready &= c.config.healthcheck.is_none() || health == Some(HealthStatus::Healthy),
                _ => ready = false,
            }
        }
        if ready {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(ProjectError::Dependency("timed out waiting for the services to be ready".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops containers dependents first, within one grace period in all: each level waits for its
/// containers only until a deadline shared by every level, after which what is left is killed.
pub fn stop_containers(
    store: &Store,
    project: Option<&Project>,
    cs: &[Container],
    timeout: Option<u64>,
    report: &dyn Report,
) -> Result<()> {
    let levels: Vec<Vec<String>> = match project {
        Some(p) => Graph::new(p).levels()?.into_iter().rev().collect(),
        None => vec![cs.iter().map(|c| service_of(c).to_string()).collect()],
    };
    // One grace period for the whole stop, however many levels: each container gets its own
    // (or `timeout`), cut to what is left of the longest.
    let own = |c: &Container| timeout.unwrap_or(c.config.stop_timeout);
    let live = cs.iter().filter(|c| crate::container::remove::is_live(c));
    let deadline = Instant::now() + Duration::from_secs(live.map(own).max().unwrap_or(0));
    let mut level_sets: Vec<Vec<&Container>> =
        levels.iter().map(|l| cs.iter().filter(|c| l.iter().any(|s| s == service_of(c))).collect()).collect();
    // Containers of services the project no longer has (orphans) go first.
    level_sets.insert(0, cs.iter().filter(|c| !levels.iter().flatten().any(|s| s == service_of(c))).collect());
    for set in level_sets {
        std::thread::scope(|scope| {
            for c in set.iter().filter(|c| crate::container::remove::is_live(c)) {
                scope.spawn(move || {
                    report.event("Container", &c.config.name, "Stopping");
                    let left = deadline.saturating_duration_since(Instant::now()).as_millis().div_ceil(1000);
                    let left = (left as u64).min(own(c));
                    if let Err(e) = crate::container::remove::stop(store, c, left) {
                        report.warn(&format!("cannot stop {}: {e}", c.config.name));
                    }
                    report.event("Container", &c.config.name, "Stopped");
                });
            }
        });
    }
    Ok(())
}

/// Removes stopped containers (and with `volumes` their anonymous volumes) a few at a time:
/// most of a removal is waiting for the kernel (unmounting, deleting links and files).
fn remove_in_parallel(store: &Store, cs: &[Container], volumes: bool, report: &dyn Report) -> Result<()> {
    const AT_ONCE: usize = 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(cs.len()) {
            scope.spawn(|| {
                while let Some(c) = cs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let outcome = remove_container(store, c, 0, report);
                    if volumes {
                        remove_anonymous_volumes(store, c);
                    }
                    if let Err(e) = outcome {
                        first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    }
                }
            });
        }
    });
    first_error.into_inner().unwrap_or_else(|e| e.into_inner()).map_or(Ok(()), Err)
}

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<u64>,
}

/// Stops and removes the project's containers, then its networks, and with `volumes` its
/// volumes (named and anonymous). Without a project file, works from the labels alone.
pub fn down(
    store: &Store,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    report: &dyn Report,
) -> Result<()> {
    let all = containers(store, name, true)?;
    let (mine, orphans): (Vec<Container>, Vec<Container>) =
        all.into_iter().partition(|c| project.is_none_or(|p| p.services.contains_key(service_of(c))));
    let mut targets = mine;
    if opts.remove_orphans {
        targets.extend(orphans);
    } else if !orphans.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|c| c.config.name.as_str()).collect();
        report.warn(&format!(
            "Found orphan containers ({}) for this project; --remove-orphans removes them",
            names.join(", ")
        ));
    }
    stop_containers(store, project, &targets, opts.timeout, report)?;
    let removed = remove_in_parallel(store, &targets, opts.volumes, report);
    crate::network::sync_dns(store).map_err(other)?;
    removed?;
    for n in network::list(store).map_err(other)? {
        if n.labels.get(labels::PROJECT).map(String::as_str) != Some(name) {
            continue;
        }
        report.event("Network", &n.name, "Removing");
        match network::remove(store, &n) {
            Ok(()) => report.event("Network", &n.name, "Removed"),
            Err(e) => report.warn(&e.to_string()),
        }
    }
    if opts.volumes {
        for v in crate::volume::volumes(store).list().map_err(other)? {
            if v.labels.get(labels::PROJECT).map(String::as_str) != Some(name) {
                continue;
            }
            match crate::volume::remove(store, &v.name) {
                Ok(()) => report.event("Volume", &v.name, "Removed"),
                Err(e) => report.warn(&e.to_string()),
            }
        }
    }
    Ok(())
}

/// The projects on this host, from the labels of their containers: name, status summary,
/// config files.
pub fn list_projects(store: &Store) -> Result<Vec<(String, String, String)>> {
    let mut by: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in store.list_containers().map_err(other)? {
        let Some(p) = c.config.labels.get(labels::PROJECT) else { continue };
        let entry = by.entry(p.clone()).or_default();
        *entry.0.entry(c.state.status.to_string()).or_default() += 1;
        entry.1 = c.config.labels.get(labels::CONFIG_FILES).cloned().unwrap_or_default();
    }
    Ok(by
        .into_iter()
        .map(|(name, (counts, files))| {
            let status: Vec<String> = counts.iter().map(|(s, n)| format!("{s}({n})")).collect();
            (name, status.join(", "), files)
        })
        .collect())
}
