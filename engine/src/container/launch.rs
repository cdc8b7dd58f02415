//! Starting a container's shim from the CLI: fork+exec of `berth shim ID` in a session of its
//! own, so that it outlives the command; the shim answers on a pipe once the container has
//! started (or failed to), and writes the final exit code there when it ends.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot start the shim of container {id}")]
    Spawn {
        id: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{message}")]
    Failed { code: i32, message: String },
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Container(#[from] super::store::ContainerError),
    #[error("the shim of container {id} ended before the container started; see {log}")]
    Silent { id: String, log: String },
    /// Another shim (of a command that was killed half-way, say) started the container.
    #[error("container {0} was started by another command")]
    AlreadyStarted(String),
}

/// The shim's line to the CLI, which stays open until the container ends for good.
pub struct Started {
    pub pid: i32,
    pub pipe: BufReader<std::process::ChildStdout>,
    /// The connection to the container's streams, when the launch asked for one.
    pub attached: Option<std::os::unix::net::UnixStream>,
}

/// Starts the shim of container `id` with the binary `exe`, and waits until the container
/// runs (or failed to start).
pub fn launch(store: &Store, id: &str, exe: &Path) -> Result<Started, LaunchError> {
    launch_attached(store, id, exe, None)
}

/// As [`launch`]; with `attach`, the caller is attached to the container's streams from
/// before it starts (a foreground `run -i` or `-t`), through [`Started::attached`].
pub fn launch_attached(
    store: &Store,
    id: &str,
    exe: &Path,
    attach: Option<super::attach::Streams>,
) -> Result<Started, LaunchError> {
    // Overlaps the kernel's wait before the container's first cgroup migration with the
    // network set-up and the shim's start (see cgroup.rs).
    super::cgroup::prime_migration();
    let dir = store.container_dir(id);
    let mut container = store.load_container(id)?;
    // A shim that just reported its container's exit may still be letting go of the network;
    // one whose starter was killed may still be starting the container.
    if !super::remove::is_live(&container) {
        super::remove::wait_for_shim_exit(&container, std::time::Duration::from_secs(5));
        container = wait_for_starting_shim(store, id)?;
    }
    crate::network::attach(store, &container.config)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.shim_log())
        .map_err(|source| LaunchError::Spawn { id: id.to_string(), source })?;
    let mut cmd = Command::new(exe);
    cmd.arg("shim").arg(id);
    // An attached connection is the shim's standard input when it starts.
    let (attached, input) = match attach {
        Some(streams) => {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .map_err(|source| LaunchError::Spawn { id: id.to_string(), source })?;
            cmd.arg("--attach").arg(streams.words());
            (Some(ours), Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        }
        None => (None, Stdio::null()),
    };
    cmd.env("BERTH_ROOT", &store.root).stdin(input).stdout(Stdio::piped()).stderr(log);
    // One shim runs per container for as long as it lives, so its memory counts.
    cmd.envs(crate::process::LEAN_ALLOCATOR);
    let mut child =
        crate::process::spawn_detached(&mut cmd).map_err(|source| LaunchError::Spawn { id: id.to_string(), source })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    // The shim is in a process group of its own now and outlives this process: not reaped
    // here (a long-lived launcher, the API service, reaps it with process::reap_detached).
    drop(child);
    let mut pipe = BufReader::new(stdout);
    let mut line = String::new();
    let _ = pipe.read_line(&mut line);
    let line = line.trim_end();
    if let Some(pid) = line.strip_prefix("started ") {
        return Ok(Started { pid: pid.parse().unwrap_or(0), pipe, attached });
    }
    if let Some(message) = line.strip_prefix("busy ") {
        // Another shim took the lock between the look above and this one's start (a killed
        // command's, still starting): its start is this launch's.
        let c = wait_for_starting_shim(store, id)?;
        let message = c.state.error.clone().unwrap_or_else(|| message.to_string());
        return Err(LaunchError::Failed { code: 125, message });
    }
    if let Some(rest) = line.strip_prefix("failed ") {
        let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
        // The shim closes the pipe when it is done (with `--rm`, after removing the container).
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
        return Err(LaunchError::Failed { code: code.parse().unwrap_or(125), message: message.to_string() });
    }
    Err(LaunchError::Silent { id: id.to_string(), log: dir.shim_log().display().to_string() })
}

/// Reads the shim's final `exited CODE` line (foreground `run`), then waits for the shim to
/// finish (with `--rm`, the container is gone when this returns).
/// Waits (up to 10 s) while a shim that is starting the container, left by a killed command,
/// holds its lock: `AlreadyStarted` if that shim starts it, else the container's record once
/// the shim is gone.
fn wait_for_starting_shim(store: &Store, id: &str) -> Result<super::store::Container, LaunchError> {
    let dir = store.container_dir(id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let container = store.load_container(id)?;
        if !super::store::shim_running(&dir) || std::time::Instant::now() >= deadline {
            return Ok(container);
        }
        if super::remove::is_live(&container) {
            return Err(LaunchError::AlreadyStarted(container.config.name));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn wait_exit(started: &mut Started) -> Option<i32> {
    let mut line = String::new();
    started.pipe.read_line(&mut line).ok()?;
    let _ = std::io::copy(&mut started.pipe, &mut std::io::sink());
    line.trim_end().strip_prefix("exited ").and_then(|c| c.parse().ok())
}
