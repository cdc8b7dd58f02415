//! Stopping and removing containers from the CLI's side: through the shim while it runs, and
//! by cleaning up directly what a dead shim left behind.

use std::path::Path;
use std::time::Duration;

use super::control::{self, Request};
use super::rootfs;
use super::store::{Container, ContainerError};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("container {0} is running; stop it first, or remove it with -f")]
    Running(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("cannot reach the shim of container {name}")]
    Shim {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
}

pub use super::store::is_live;

/// Sends `request` to the shim of the running container `c`; an `error: ...` reply is an error.
fn ask(store: &Store, c: &Container, request: Request, timeout: Duration) -> Result<String, RemoveError> {
    if !is_live(c) {
        return Err(RemoveError::NotRunning(c.config.name.clone()));
    }
    let shim_error = |source| RemoveError::Shim { name: c.config.name.clone(), source };
    let reply = control::send(&store.container_dir(&c.config.id), &request, Some(timeout)).map_err(shim_error)?;
    match reply.strip_prefix("error: ") {
        Some(message) => Err(shim_error(std::io::Error::other(message.to_string()))),
        None => Ok(reply),
    }
}

/// The state as the running shim knows it, which is newer than the record when the record
/// cannot be written (a full disk); the record for a container without a shim.
pub fn current_state(store: &Store, c: &Container) -> super::ContainerState {
    if !is_live(c) {
        return c.state.clone();
    }
    control::send(&store.container_dir(&c.config.id), &Request::State, Some(Duration::from_secs(2)))
        .ok()
        .and_then(|reply| serde_json::from_str(&reply).ok())
        .unwrap_or_else(|| c.state.clone())
}

/// Asks the shim to stop the container (stop signal, then SIGKILL after `timeout`), and waits.
pub fn stop(store: &Store, c: &Container, timeout: u64) -> Result<Option<i32>, RemoveError> {
    if !is_live(c) {
        return Ok(c.state.exit_code);
    }
    let reply = ask(store, c, Request::Stop(timeout), Duration::from_secs(timeout + 30))?;
    Ok(control::exit_code(&reply))
}

/// Sends `signal` to the container's process. SIGKILL, which nothing can catch, is waited
/// for, as Docker waits: when this returns the container has stopped and its shim is gone, so
/// a `start` right after starts it again.
pub fn kill(store: &Store, c: &Container, signal: i32) -> Result<(), RemoveError> {
    ask(store, c, Request::Kill(signal), Duration::from_secs(10))?;
    if signal == nix::sys::signal::Signal::SIGKILL as i32 {
        // The shim answers a waiter when the container exits, or ends (closing the socket).
        let _ = control::send(&store.container_dir(&c.config.id), &Request::Wait, Some(Duration::from_secs(10)));
        wait_for_shim_exit(c, Duration::from_secs(5));
    }
    Ok(())
}

/// Pauses or resumes the container's processes.
pub fn pause(store: &Store, c: &Container, pause: bool) -> Result<(), RemoveError> {
    let request = if pause { Request::Pause } else { Request::Resume };
    ask(store, c, request, Duration::from_secs(10)).map(drop)
}

/// Waits (up to `limit`) for the shim that was running `c` to end, after a stop: it records the
/// exit, answers, and only then lets go of the container.
pub fn wait_for_shim_exit(c: &Container, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while c.shim_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes a container; a running one only with `force` (it is killed first).
pub fn remove(store: &Store, c: &Container, force: bool) -> Result<(), RemoveError> {
    remove_record(store, c, force)?;
    sync_dns_after(store, &c.config);
    Ok(())
}

/// As [`remove`], leaving the DNS records to the caller (`network::sync_dns`), who removes
/// many containers at once.
pub fn remove_record(store: &Store, c: &Container, force: bool) -> Result<(), RemoveError> {
    if is_live(c) {
        if !force {
            return Err(RemoveError::Running(c.config.name.clone()));
        }
        stop(store, c, 0)?;
        // The shim records the exit and then ends; give it a moment to let go of the directory.
        wait_for_shim_exit(c, Duration::from_secs(2));
    }
    clean_leftovers(store, c);
    crate::network::release(store, &c.config)?;
    store.remove_container_dir(&c.config.id)?;
    crate::network::remove_links(&c.config);
    Ok(())
}

/// Removes what is left of a stopped container: its network endpoints, its directory, its DNS
/// names.
pub fn discard(store: &Store, config: &super::ContainerConfig) -> Result<(), RemoveError> {
    crate::network::release(store, config)?;
    store.remove_container_dir(&config.id)?;
    sync_dns_after(store, config);
    Ok(())
}

/// The DNS records are made again from the state at every change; failing to write them after
/// a removal (a full disk) must not keep the container from going.
fn sync_dns_after(store: &Store, config: &super::ContainerConfig) {
    if let Err(e) = crate::network::sync_dns(store) {
        tracing::warn!("cannot update the DNS records after removing {}: {e}", config.name);
    }
}

/// What a dead shim may have left: the container's processes (found by its cgroup, never by
/// a recorded PID, which may belong to another process by now), the runtime's state and
/// cgroups, the root mount. Harmless when there is nothing.
pub fn clean_leftovers(store: &Store, c: &Container) {
    let dir = store.container_dir(&c.config.id);
    // Its cgroups can only go once its processes are gone.
    super::cgroup::kill_leftovers(&c.config.cgroups_path());
    delete_runtime_state(&dir.runtime_state(&c.config.id));
    let _ = rootfs::unmount(&dir.rootfs());
    let _ = super::joins::unmount_shm(&dir);
}

/// Deletes libcontainer's state of a container (and with it the container's cgroups), if any.
pub fn delete_runtime_state(dir: &Path) {
    // libcontainer's own record of the container.
    if !dir.join("state.json").exists() {
        return;
    }
    match libcontainer::container::Container::load(dir.to_path_buf()) {
        Ok(mut container) => {
            if let Err(e) = container.delete(true) {
                tracing::warn!("cannot delete the runtime state in {}: {e}", dir.display());
            }
        }
        Err(e) => tracing::warn!("cannot read the runtime state in {}: {e}", dir.display()),
    }
}
