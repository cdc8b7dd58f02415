//! Containers: what is stored about one (`ContainerConfig`, fixed at creation), what it is
//! doing (`ContainerState`, rewritten atomically at every transition), and the shim that runs
//! it. A container is metadata; its running process belongs to its shim.
//!
//! The layout of `<root>/containers/<id>/` is `dir.rs`'s: `ContainerDir` names every file
//! in it, and nothing else joins paths there.

pub mod attach;
pub mod boot;
pub mod cgroup;
pub mod commit;
pub mod control;
pub mod copy;
pub mod copy_stream;
pub mod create;
pub mod dir;
pub mod exec;
mod executor;
pub mod export;
pub mod health;
pub mod joins;
pub mod launch;
pub mod logdriver;
pub mod logs;
pub mod options;
pub mod remove;
pub mod restart;
pub mod rootfs;
pub mod seccomp;
pub mod shim;
pub mod spec;
pub mod stats;
pub mod store;
pub mod update;
pub mod user;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
pub use options::SecurityOpt;

/// Everything fixed when a container is created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: Digest,
    /// The image's layers, bottom first (their snapshots are the overlay's lower directories).
    pub layers: Vec<Digest>,
    /// The command line: entrypoint and command merged as Docker does.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// `user[:group]`, names or numbers, resolved inside the image when the container starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub hostname: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Remove the container when it exits (`--rm`).
    #[serde(default)]
    pub auto_remove: bool,
    /// Restart the container when its healthcheck turns unhealthy (`--restart-on-unhealthy`,
    /// the `autoheal=true` label, `x-berth-restart-on-unhealthy`), whatever its restart policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart_on_unhealthy: bool,
    /// Keep the container's standard input open for attached clients (`-i`, `stdin_open`).
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the standard input when the first attached client's input ends (a foreground
    /// `run -i`), so that the container sees the end of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin_once: bool,
    /// Give the container a terminal for its standard streams (`-t`, `tty`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    /// The signal `stop` sends first.
    #[serde(default = "default_stop_signal")]
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: u64,
    pub created: String,
    #[serde(default)]
    pub host: HostConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(default)]
    pub network: NetworkSettings,
    /// Binds, volumes and tmpfs mounts (anonymous volumes named at creation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<berth_volumes::mount::Mount>,
    /// Commands a project runs in the container after it starts and before it stops it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<options::Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<options::Hook>,
}

/// How a container is networked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "target", rename_all = "lowercase")]
pub enum NetworkMode {
    /// A namespace of its own with endpoints on berth networks.
    Bridge,
    /// The host's namespace.
    Host,
    /// A namespace of its own with only a loopback.
    #[default]
    None,
    /// The namespace of another container (by ID).
    Container(String),
}

/// The network side of a container: its endpoints (addresses fixed at creation, so that they
/// survive restarts), published ports and resolver settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkSettings {
    #[serde(flatten)]
    pub mode: NetworkMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<berth_network::ports::PortBinding>,
    /// Ports the image or the service expose without publishing (`80/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// `name:address` lines for /etc/hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// `links`: an alias this container resolves, to the linked container's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
}

/// A container's place on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The network's name and ID.
    pub network: String,
    pub network_id: String,
    pub ip: std::net::Ipv4Addr,
    pub prefix: u8,
    pub gateway: std::net::Ipv4Addr,
    pub mac: String,
    /// Other names this container answers to on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The interface's name inside the container (`eth0`...).
    pub ifname: String,
    /// The host end of the veth pair.
    pub host_ifname: String,
    /// An internal network gives no default route.
    #[serde(default)]
    pub internal: bool,
    /// Higher first: the default route goes through the first non-internal endpoint.
    #[serde(default)]
    pub priority: i64,
}

/// A healthcheck, with Docker's defaults filled in. Durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD", arg...]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub start_interval_ms: u64,
    pub retries: u32,
}

impl HostConfig {
    /// The real-time CPU budget the container asks for, if any (Docker's default period: 1 s).
    pub fn realtime(&self) -> Option<cgroup::Realtime> {
        let runtime = self.cpu_rt_runtime.filter(|r| *r > 0)?;
        Some(cgroup::Realtime { runtime, period: self.cpu_rt_period.unwrap_or(1_000_000) })
    }
}

impl ContainerConfig {
    /// The container's cgroup in every hierarchy (under `cgroup_parent`, else `/berth`).
    pub fn cgroups_path(&self) -> String {
        cgroup::cgroups_path(self.host.cgroup_parent.as_deref(), &self.id)
    }
}

impl HealthConfig {
    /// Docker's defaults: every 30 s, 30 s timeout, 3 retries, 5 s during the start period.
    pub fn new(test: Vec<String>) -> HealthConfig {
        HealthConfig {
            test,
            interval_ms: 30_000,
            timeout_ms: 30_000,
            start_period_ms: 0,
            start_interval_ms: 5_000,
            retries: 3,
        }
    }

    /// The command line the check runs.
    pub fn command(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), self.test[1..].join(" ")],
            Some("CMD") => self.test[1..].to_vec(),
            _ => self.test.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

/// The health of a running container and its last checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// The logging driver, and the rotation of the container's own log (`max-size`,
/// `max-file`, `compress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    #[serde(default, skip_serializing_if = "logdriver::LogDriver::is_json_file")]
    pub driver: logdriver::LogDriver,
    /// Rotate when the log reaches this many bytes; no rotation without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// How many files to keep, the current one included.
    pub max_file: u32,
    /// Rotated files but the newest are gzipped (`compress`; the `local` driver's default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compress: bool,
    /// The options as given (`--log-opt`, `logging.options`), as `inspect` shows them; what
    /// each entry carries besides its line is read from them (see [`logdriver::attributes`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            driver: logdriver::LogDriver::JsonFile,
            max_size: None,
            max_file: 1,
            compress: false,
            options: BTreeMap::new(),
        }
    }
}

/// Limits and privileges: what `docker run` calls the host config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostConfig {
    /// The terminal's size (rows, columns) from the first byte on, for a container with `tty`
    /// (Docker's `ConsoleSize`): a program that asks at once gets it, not 0x0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// CPUs, as a fraction (`1.5`): a CFS quota over a 100 ms period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(default)]
    pub read_only: bool,
    /// tmpfs mounts: `PATH[:OPTIONS]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Capabilities added to or dropped from Docker's default set (`ALL` allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    /// Run a minimal init as PID 1 (`--init`): it reaps zombies and forwards signals.
    #[serde(default)]
    pub init: bool,
    /// `RLIMIT_*` names (`nofile`, `nproc`...) to soft and hard limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, (u64, u64)>,
    /// A soft memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// Memory and swap together in bytes; -1 for unlimited swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_kill_disable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// The CPU weight (1024 is everyone's share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// A CFS quota and period in microseconds, as set apart from `cpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    /// Real-time CPU time in µs per real-time period (cgroup v1's real-time group scheduling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_runtime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_period: Option<u64>,
    /// The CPUs the container may run on (`0-2,4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// The size of /dev/shm in bytes (Docker's default 64 MiB when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// Kernel parameters of the container's own namespaces.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// More groups for the process: numbers, or names in the image's /etc/group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `host` shares the host's PID, IPC or UTS namespace; otherwise the container has its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uts_mode: Option<String>,
    /// The cgroup the container's goes under (`cgroup_parent`), instead of `/berth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    /// `private` gives the container a cgroup namespace of its own; `host` (the default here,
    /// as Docker's on cgroup v1) shows it its cgroups at their host paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroupns_mode: Option<String>,
    /// OCI annotations on the container's runtime spec.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Block I/O weights and throttles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio: Option<options::Blkio>,
    /// More device cgroup rules (`c 1:3 rwm`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// Host device nodes the container gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<options::Device>,
    /// `security_opt` entries, checked by [`SecurityOpt::parse`] when the container is created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
}

/// The resource limits `--ulimit` may set, by the kernel's names.
const ULIMITS: [(&str, rustix::process::Resource); 16] = {
    use rustix::process::Resource as R;
    [
        ("core", R::Core),
        ("cpu", R::Cpu),
        ("data", R::Data),
        ("fsize", R::Fsize),
        ("locks", R::Locks),
        ("memlock", R::Memlock),
        ("msgqueue", R::Msgqueue),
        ("nice", R::Nice),
        ("nofile", R::Nofile),
        ("nproc", R::Nproc),
        ("rss", R::Rss),
        ("rtprio", R::Rtprio),
        ("rttime", R::Rttime),
        ("sigpending", R::Sigpending),
        ("stack", R::Stack),
        ("as", R::As),
    ]
};

/// Parses `name=soft[:hard]` and checks it against this host's hard limits: without
/// CAP_SYS_RESOURCE (as on this project's hosts) a limit cannot be raised above them, and the
/// runtime would fail late with an obscure error.
pub fn parse_ulimit(spec: &str) -> Result<(String, (u64, u64)), String> {
    let (name, values) =
        spec.split_once('=').ok_or_else(|| format!("invalid ulimit {spec:?}: use name=soft[:hard]"))?;
    let Some((_, resource)) = ULIMITS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
        return Err(format!("unknown ulimit {name:?}: use one of {}", names.join(", ")));
    };
    let number = |v: &str| -> Result<u64, String> {
        if v == "-1" || v == "unlimited" {
            Ok(u64::MAX)
        } else {
            v.parse().map_err(|_| format!("invalid ulimit value {v:?} in {spec:?}"))
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => (number(values)?, number(values)?),
    };
    if soft > hard {
        return Err(format!("ulimit {name}: the soft limit {soft} is above the hard limit {hard}"));
    }
    let host_hard = rustix::process::getrlimit(*resource).maximum.unwrap_or(u64::MAX);
    if hard > host_hard && !spec::has_capability("CAP_SYS_RESOURCE") {
        let shown = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
        return Err(format!(
            "ulimit {name}: the hard limit {} is above this host's {} and berth cannot raise it (no CAP_SYS_RESOURCE)",
            shown(hard),
            shown(host_hard)
        ));
    }
    Ok((name.to_string(), (soft, hard)))
}

fn default_stop_signal() -> String {
    "SIGTERM".into()
}

fn default_stop_timeout() -> u64 {
    10
}

/// Docker's restart policies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_retries: Option<u32>,
    },
}

impl RestartPolicy {
    /// Parses `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Option<RestartPolicy> {
        match s.split_once(':') {
            Some(("on-failure", n)) => n.parse().ok().map(|n| RestartPolicy::OnFailure { max_retries: Some(n) }),
            None => match s {
                "no" | "" => Some(RestartPolicy::No),
                "always" => Some(RestartPolicy::Always),
                "unless-stopped" => Some(RestartPolicy::UnlessStopped),
                "on-failure" => Some(RestartPolicy::OnFailure { max_retries: None }),
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        };
        f.write_str(s)
    }
}

/// What a container is doing; rewritten atomically at every transition by its shim (or, for
/// a shim that died, by the next command that notices).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    /// The container's init process, while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The shim's process, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shim_pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub restart_count: u32,
    /// Why the container could not start, or why its shim is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stopped by hand (`stop`, `kill`): restart policies other than `always` do not restart it.
    #[serde(default)]
    pub stopped_by_user: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Lines of output the shim could not store in the log (a full disk), since it started.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub log_lines_lost: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The exit code Docker reports for a wait status: the code, or 128 + the signal number.
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// A new random container ID: 64 hex digits, as Docker's.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes)).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&t.to_le_bytes());
        bytes[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(RestartPolicy::parse("always"), Some(RestartPolicy::Always));
        assert_eq!(RestartPolicy::parse("on-failure:3"), Some(RestartPolicy::OnFailure { max_retries: Some(3) }));
        assert_eq!(RestartPolicy::parse("sometimes"), None);
        assert_eq!(new_id().len(), 64);
    }
}
