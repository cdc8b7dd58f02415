//! Bringing containers back after a reboot (`berth system boot`): which ones their restart
//! policy says to start, decided from the state they were left in.

use super::store::Container;
use super::{RestartPolicy, Status};

/// Whether `berth system boot` starts this container: `always`; `unless-stopped` unless
/// stopped by hand; `on-failure` if it had failed (a container that was running when the host
/// went down did not exit cleanly, so it counts as failed).
pub fn should_start_at_boot(c: &Container) -> bool {
    let s = &c.state;
    let was_running = matches!(s.status, Status::Running | Status::Restarting | Status::Paused | Status::Dead);
    match c.config.restart {
        RestartPolicy::No => false,
        RestartPolicy::Always => !s.stopped_by_user || was_running,
        RestartPolicy::UnlessStopped => !s.stopped_by_user,
        RestartPolicy::OnFailure { .. } => !s.stopped_by_user && (was_running || s.exit_code.is_some_and(|c| c != 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{ContainerConfig, ContainerState};

    fn starts(restart: RestartPolicy, status: Status, stopped_by_user: bool, exit_code: Option<i32>) -> bool {
        should_start_at_boot(&Container {
            config: ContainerConfig { restart, ..Default::default() },
            state: ContainerState { status, stopped_by_user, exit_code, ..Default::default() },
            dir: Default::default(),
        })
    }

    #[test]
    fn policies_at_boot() {
        use RestartPolicy::*;
        let on_failure = OnFailure { max_retries: None };
        assert!(starts(Always, Status::Dead, false, None));
        assert!(starts(Always, Status::Exited, false, Some(0)));
        assert!(!starts(Always, Status::Exited, true, Some(0)));
        assert!(starts(UnlessStopped, Status::Dead, false, None));
        assert!(!starts(UnlessStopped, Status::Exited, true, Some(137)));
        assert!(starts(on_failure, Status::Exited, false, Some(1)));
        assert!(!starts(on_failure, Status::Exited, false, Some(0)));
        assert!(!starts(No, Status::Dead, false, None));
    }
}
