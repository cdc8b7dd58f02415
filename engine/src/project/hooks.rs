//! Lifecycle hooks, as Docker Compose runs them: each `post_start` command right after the
//! container starts (one that fails fails the start, and says so), each `pre_stop` command
//! before the stop signal on `stop`, `down` and recreation (one that fails is reported and the
//! stop goes on). A hook runs as `berth exec` runs a command: a process in the running
//! container, with the hook's user, working directory and environment (and every capability
//! for a `privileged` one, as `exec --privileged`).

use std::process::{Command, Stdio};

use crate::container::options::Hook;
use crate::container::store::Container;
use crate::store::Store;

/// Runs `hooks` (`which` names them in errors) in container `c`, in order, until one fails.
pub fn run(store: &Store, c: &Container, which: &str, hooks: &[Hook]) -> Result<(), String> {
    if hooks.is_empty() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the berth binary: {e}"))?;
    for hook in hooks {
        let mut cmd = Command::new(&exe);
        cmd.env("BERTH_ROOT", &store.root).arg("exec").arg("-T");
        if let Some(user) = &hook.user {
            cmd.arg("-u").arg(user);
        }
        if let Some(dir) = &hook.working_dir {
            cmd.arg("-w").arg(dir);
        }
        for e in &hook.env {
            cmd.arg("-e").arg(e);
        }
        if hook.privileged {
            cmd.arg("--privileged");
        }
        // The container's ID: never a service's name, whatever directory this runs in.
        cmd.arg(&c.config.id).args(&hook.command);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run the {which} hook of {}: {e}", c.config.name))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim().lines().last().unwrap_or("");
            let code = out.status.code().unwrap_or(-1);
            return Err(format!("{which} hook of container {} exited with status {code}: {said}", c.config.name));
        }
    }
    Ok(())
}
