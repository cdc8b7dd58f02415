//! The restart policy's decisions, as pure functions: whether a container that exited starts
//! again, and after how long.

use std::time::Duration;

use super::RestartPolicy;

/// Docker's restart back-off: 100 ms doubling up to a minute, reset after 10 s of running.
pub fn backoff(restarts_in_a_row: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << restarts_in_a_row.min(20));
    Duration::from_millis(ms.min(60_000))
}

/// Whether `policy` restarts a container that exited with `code`.
pub fn should_restart(policy: RestartPolicy, code: i32, stopped_by_user: bool, restart_count: u32) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => code != 0 && max_retries.is_none_or(|max| restart_count < max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(10), Duration::from_secs(60));
        assert_eq!(backoff(99), Duration::from_secs(60));
    }

    #[test]
    fn restart_decisions() {
        use RestartPolicy::*;
        assert!(!should_restart(No, 1, false, 0));
        assert!(should_restart(Always, 0, false, 5));
        assert!(!should_restart(Always, 0, true, 0));
        assert!(should_restart(OnFailure { max_retries: Some(2) }, 1, false, 1));
        assert!(!should_restart(OnFailure { max_retries: Some(2) }, 1, false, 2));
        assert!(!should_restart(OnFailure { max_retries: None }, 0, false, 0));
    }
}
