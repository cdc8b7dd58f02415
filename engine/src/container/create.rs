//! Making a container's configuration from an image and the user's overrides, as `docker
//! create` merges them.

use std::collections::BTreeMap;

use super::store::ContainerError;
use super::{ContainerConfig, RestartPolicy, new_id, spec};
use crate::image::ops::ImageError;
use crate::store::{ImageRecord, Store};

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    /// `KEY=VALUE` (or `KEY`, taken from the caller's environment by the CLI).
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub args: Vec<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    /// Restart when the healthcheck turns unhealthy (also asked by the `autoheal=true` label).
    pub restart_on_unhealthy: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub tty: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub host: super::HostConfig,
    pub log: super::LogConfig,
    pub health: HealthOverride,
    /// The network mode, ports and resolver settings; endpoints are filled from `networks`.
    pub network: super::NetworkSettings,
    /// The networks to join (bridge mode), addresses chosen at creation.
    pub networks: Vec<crate::network::EndpointRequest>,
    pub mounts: Vec<berth_volumes::mount::Mount>,
    pub post_start: Vec<super::options::Hook>,
    pub pre_stop: Vec<super::options::Hook>,
    /// Secrets and configs: written into the container's directory, mounted read-only.
    pub files: Vec<super::options::ContainerFile>,
}

/// The `--health-*` flags (or a Compose `healthcheck`): each replaces the image's value.
#[derive(Debug, Clone, Default)]
pub struct HealthOverride {
    /// `["CMD", ...]`, `["CMD-SHELL", cmd]` or `["NONE"]`.
    pub test: Option<Vec<String>>,
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub start_period_ms: Option<u64>,
    pub start_interval_ms: Option<u64>,
    pub retries: Option<u32>,
    pub disable: bool,
}

/// The image's HEALTHCHECK (durations in nanoseconds, as Docker writes them) under the overrides.
fn healthcheck(image: Option<&serde_json::Value>, o: &HealthOverride) -> Option<super::HealthConfig> {
    if o.disable {
        return None;
    }
    let ms = |key: &str| image.and_then(|h| h[key].as_u64()).filter(|n| *n > 0).map(|ns| ns / 1_000_000);
    let image_test: Option<Vec<String>> = image
        .and_then(|h| h["Test"].as_array())
        .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect());
    let test = o.test.clone().or(image_test)?;
    if test.is_empty() || test[0] == "NONE" {
        return None;
    }
    let mut h = super::HealthConfig::new(test);
    h.interval_ms = o.interval_ms.or(ms("Interval")).unwrap_or(h.interval_ms);
    h.timeout_ms = o.timeout_ms.or(ms("Timeout")).unwrap_or(h.timeout_ms);
    h.start_period_ms = o.start_period_ms.or(ms("StartPeriod")).unwrap_or(h.start_period_ms);
    h.start_interval_ms = o.start_interval_ms.or(ms("StartInterval")).unwrap_or(h.start_interval_ms);
    h.retries = o
        .retries
        .or(image.and_then(|h| h["Retries"].as_u64()).filter(|n| *n > 0).map(|n| n as u32))
        .unwrap_or(h.retries);
    Some(h)
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Volume(#[from] berth_volumes::VolumeError),
    /// Options that contradict each other or Docker's rules (a sysctl of the host's).
    #[error("{0}")]
    Invalid(String),
}

/// The label of the autoheal container's users: restart this container when it turns unhealthy.
pub const AUTOHEAL: &str = "autoheal";

/// Records a new container of image `image` (named `image_name` by the user), and gives the
/// DNS server its names.
pub fn create(
    store: &Store,
    image_name: &str,
    record: &ImageRecord,
    opts: CreateOptions,
) -> Result<ContainerConfig, CreateError> {
    let config = create_record(store, image_name, record, opts)?;
    if config.network.mode == super::NetworkMode::Bridge {
        crate::network::sync_dns(store)?;
    }
    Ok(config)
}

/// As [`create`], leaving the DNS server's records to the caller (`network::sync_dns`), who
/// creates many containers at once.
pub fn create_record(
    store: &Store,
    image_name: &str,
    record: &ImageRecord,
    mut opts: CreateOptions,
) -> Result<ContainerConfig, CreateError> {
    opts.host.check(opts.network.mode != super::NetworkMode::Host).map_err(CreateError::Invalid)?;
    join_by_id(store, &mut opts.host)?;
    if let Some(adj) = opts.host.oom_score_adj {
        let own: i32 =
            std::fs::read_to_string("/proc/self/oom_score_adj").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if adj < own && !spec::has_capability("CAP_SYS_RESOURCE") {
            return Err(CreateError::Invalid(format!(
                "oom_score_adj {adj} is below berth's own ({own}): lowering it needs CAP_SYS_RESOURCE, which this host's root lacks"
            )));
        }
    }
    if opts.host.realtime().is_some() && super::cgroup::realtime_hierarchy().is_none() {
        return Err(CreateError::Invalid(
            "cpu_rt_runtime needs real-time group scheduling (cgroup v1's cpu.rt_runtime_us), which this host lacks"
                .into(),
        ));
    }
    if opts.host.uts_mode.is_some() && opts.hostname.is_some() {
        return Err(CreateError::Invalid("a hostname cannot be set with the host's UTS namespace (uts: host)".into()));
    }
    let image = store.config_of(record)?;
    let run = &image.config;
    let id = new_id();
    let args = spec::command(run.entrypoint.as_deref(), run.cmd.as_deref(), opts.entrypoint.as_deref(), &opts.args);
    let mut env: Vec<String> = run.env.clone().unwrap_or_default();
    for e in &opts.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    let mut labels = run.labels.clone().unwrap_or_default();
    labels.retain(|k, _| !crate::labels::reserved(k));
    labels.extend(opts.labels.clone());
    let autoheal = labels.get(AUTOHEAL).is_some_and(|v| v == "true");
    let mut config = ContainerConfig {
        id: id.clone(),
        // Chosen below, among the names taken, when the user gave none.
        name: opts.name.unwrap_or_default(),
        image: image_name.to_string(),
        image_id: record.id.clone(),
        layers: image.rootfs.diff_ids.clone(),
        args,
        env,
        working_dir: opts
            .working_dir
            .or_else(|| run.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
        user: opts.user.or_else(|| run.user.clone()).filter(|u| !u.is_empty()),
        // With the host's UTS namespace the container has the host's name (and /etc/hostname
        // says so).
        hostname: match opts.host.uts_mode {
            Some(_) => nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            None => opts.hostname.unwrap_or_else(|| id[..12].to_string()),
        },
        labels,
        restart: opts.restart,
        auto_remove: opts.auto_remove,
        restart_on_unhealthy: opts.restart_on_unhealthy || autoheal,
        open_stdin: opts.open_stdin,
        stdin_once: opts.stdin_once,
        tty: opts.tty,
        stop_signal: opts.stop_signal.or_else(|| run.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into()),
        stop_timeout: opts.stop_timeout.unwrap_or(10),
        created: crate::time::now_nanos(),
        host: opts.host,
        log: opts.log,
        healthcheck: healthcheck(run.healthcheck.as_ref(), &opts.health),
        network: opts.network,
        mounts: crate::volume::prepare(store, &opts.mounts)?,
        post_start: opts.post_start,
        pre_stop: opts.pre_stop,
    };
    if config.network.exposed.is_empty() {
        config.network.exposed =
            image.config.exposed_ports.clone().map(|p| p.into_keys().collect()).unwrap_or_default();
    }
    for b in config.network.ports.iter_mut().filter(|b| b.host_port == 0) {
        b.host_port = berth_network::ports::pick_port(b).map_err(crate::network::NetworkError::from)?;
    }
    let dir = store.container_dir(&config.id);
    for (n, f) in opts.files.iter().enumerate() {
        let path = dir.file(n).display().to_string();
        let mut mount = berth_volumes::mount::Mount::new(berth_volumes::mount::MountKind::Bind, Some(path), &f.target);
        mount.read_only = true;
        config.mounts.push(mount);
    }
    let bridged = config.network.mode == super::NetworkMode::Bridge;
    // Addresses are chosen and recorded under one lock: two containers never share one.
    let _lock = bridged.then(|| crate::network::lock(store)).transpose()?;
    store.create_container(&mut config, |all, config| -> Result<(), CreateError> {
        if config.name.is_empty() {
            config.name = generated_name(all, &config.id);
        }
        if bridged {
            config.network.endpoints = crate::network::allocate(store, &config.id, &opts.networks, all)?;
        }
        Ok(())
    })?;
    if let Err(e) = write_files(&dir, &opts.files) {
        let _ = store.remove_container_dir(&config.id);
        return Err(CreateError::Invalid(format!("cannot write the container's secrets and configs: {e}")));
    }
    Ok(config)
}

/// Writes the secrets' and configs' contents, only root able to reach them on the host
/// (the container's directory is root's alone).
fn write_files(dir: &super::dir::ContainerDir, files: &[super::options::ContainerFile]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (n, f) in files.iter().enumerate() {
        let path = dir.file(n);
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, &f.content)?;
        std::os::unix::fs::chown(&path, Some(f.uid), Some(f.gid))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))?;
    }
    Ok(())
}

const ADJECTIVES: [&str; 16] = [
    "brave", "calm", "eager", "fair", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "proud", "quiet",
    "sharp", "tidy", "witty",
];
const NOUNS: [&str; 16] = [
    "anchor", "beacon", "buoy", "cabin", "current", "dock", "harbor", "hull", "jetty", "keel", "mast", "pier", "quay",
    "rudder", "tide", "wharf",
];

/// A readable name like Docker's (`brave_harbor`), unique among the containers, from the ID.
/// `pid` and `ipc` of `container:NAME` made `container:ID`, as Docker records them, once the
/// container is found; the IPC namespace only of a container that shares it (Docker's rule).
fn join_by_id(store: &Store, host: &mut super::HostConfig) -> Result<(), CreateError> {
    for (kind, mode) in [("pid", &mut host.pid_mode), ("ipc", &mut host.ipc_mode)] {
        let Some(name) = mode.as_deref().and_then(|m| m.strip_prefix("container:")) else { continue };
        let donor = store
            .find_container(name)
            .map_err(|e| CreateError::Invalid(format!("cannot join the {kind} namespace of {name:?}: {e}")))?;
        if kind == "ipc" && donor.config.host.ipc_mode.as_deref() != Some("shareable") {
            return Err(CreateError::Invalid(format!(
                "cannot join the IPC namespace of {}: it is private (give it ipc: shareable)",
                donor.config.name
            )));
        }
        *mode = Some(format!("container:{}", donor.config.id));
    }
    Ok(())
}

fn generated_name(all: &[ContainerConfig], id: &str) -> String {
    let taken = |name: &str| all.iter().any(|c| c.name == name);
    let bytes = id.as_bytes();
    let base = format!("{}_{}", ADJECTIVES[(bytes[0] % 16) as usize], NOUNS[(bytes[1] % 16) as usize]);
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}{n}")).find(|n| !taken(n)).unwrap_or_else(|| id[..12].to_string())
}
