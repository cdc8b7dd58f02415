//! Stopping and removing containers from the CLI's side: through the shim while it runs, and
//! by cleaning up directly what a dead shim left behind.

use std::time::Duration;

use super::control::{self, Request};
use super::store::{Container, ContainerError, process_alive};
use super::{Status, rootfs};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("container {0} is running; stop it first, or remove it with -f")]
    Running(String),
    #[error("cannot reach the shim of container {name}")]
    Shim {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// Whether the container has a shim to talk to.
pub fn is_live(c: &Container) -> bool {
    matches!(c.state.status, Status::Running | Status::Restarting | Status::Paused)
        && c.state.shim_pid.is_some_and(process_alive)
}

/// Asks the shim to stop the container (stop signal, then SIGKILL after `timeout`), and waits.
pub fn stop(store: &Store, c: &Container, timeout: u64) -> Result<Option<i32>, RemoveError> {
    if !is_live(c) {
        return Ok(c.state.exit_code);
    }
    let reply = control::send(
        &store.container_dir(&c.config.id),
        &Request::Stop(timeout),
        Some(Duration::from_secs(timeout + 30)),
    )
    .map_err(|source| RemoveError::Shim { name: c.config.name.clone(), source })?;
    Ok(control::exit_code(&reply))
}

/// Sends `signal` to the container's process.
pub fn kill(store: &Store, c: &Container, signal: i32) -> Result<(), RemoveError> {
    if !is_live(c) {
        return Err(RemoveError::Container(ContainerError::NotFound(format!("{} (it is not running)", c.config.name))));
    }
    control::send(&store.container_dir(&c.config.id), &Request::Kill(signal), Some(Duration::from_secs(10)))
        .map_err(|source| RemoveError::Shim { name: c.config.name.clone(), source })?;
    Ok(())
}

/// Pauses or resumes the container's processes.
pub fn pause(store: &Store, c: &Container, pause: bool) -> Result<(), RemoveError> {
    if !is_live(c) {
        return Err(RemoveError::Container(ContainerError::NotFound(format!("{} (it is not running)", c.config.name))));
    }
    let request = if pause { Request::Pause } else { Request::Resume };
    let reply = control::send(&store.container_dir(&c.config.id), &request, Some(Duration::from_secs(10)))
        .map_err(|source| RemoveError::Shim { name: c.config.name.clone(), source })?;
    match reply.strip_prefix("error: ") {
        Some(message) => {
            Err(RemoveError::Shim { name: c.config.name.clone(), source: std::io::Error::other(message.to_string()) })
        }
        None => Ok(()),
    }
}

/// Removes a container; a running one only with `force` (it is killed first).
pub fn remove(store: &Store, c: &Container, force: bool) -> Result<(), RemoveError> {
    if is_live(c) {
        if !force {
            return Err(RemoveError::Running(c.config.name.clone()));
        }
        stop(store, c, 0)?;
        // The shim records the exit and then ends; give it a moment to let go of the directory.
        for _ in 0..200 {
            if !c.state.shim_pid.is_some_and(process_alive) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    clean_leftovers(store, c);
    store.remove_container_dir(&c.config.id)?;
    Ok(())
}

/// What a dead shim may have left: the container's process, the runtime's state and cgroups,
/// the root mount. Harmless when there is nothing.
pub fn clean_leftovers(store: &Store, c: &Container) {
    let dir = store.container_dir(&c.config.id);
    if let Some(pid) = c.state.pid.filter(|p| process_alive(*p)) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        // Its cgroups can only go once it is gone.
        for _ in 0..100 {
            if !process_alive(pid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    super::shim::delete_runtime_state(&dir.join("runtime").join(&c.config.id));
    let _ = rootfs::unmount(&dir.join("bundle").join("rootfs"));
}
