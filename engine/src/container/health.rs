//! Healthchecks, as the shim runs them: the decision after each check is a pure function of
//! the configuration, the health so far and the result.

use super::{Health, HealthConfig, HealthResult, HealthStatus};

/// How many results are kept, as Docker keeps them.
const KEPT: usize = 5;

/// Records `result` of a check that started `since_start_ms` after the container started.
pub fn record(config: &HealthConfig, health: &mut Health, result: HealthResult, since_start_ms: u64) {
    let passed = result.exit_code == 0;
    health.log.push(result);
    if health.log.len() > KEPT {
        health.log.remove(0);
    }
    if passed {
        health.status = HealthStatus::Healthy;
        health.failing_streak = 0;
        return;
    }
    // Failures during the start period do not count, unless the container was healthy already.
    if since_start_ms < config.start_period_ms && health.status == HealthStatus::Starting {
        return;
    }
    health.failing_streak += 1;
    if health.failing_streak >= config.retries.max(1) {
        health.status = HealthStatus::Unhealthy;
    }
}

/// The wait before the next check: `start_interval` while starting within the start period.
pub fn next_interval_ms(config: &HealthConfig, health: &Health, since_start_ms: u64) -> u64 {
    if health.status == HealthStatus::Starting && since_start_ms < config.start_period_ms {
        config.start_interval_ms
    } else {
        config.interval_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult { start: String::new(), end: String::new(), exit_code: code, output: String::new() }
    }

    #[test]
    fn becomes_healthy_then_unhealthy_after_retries() {
        let config =
            HealthConfig { retries: 2, start_period_ms: 1000, ..HealthConfig::new(vec!["CMD".into(), "true".into()]) };
        let mut h = Health::default();
        record(&config, &mut h, result(1), 100);
        assert_eq!(
            (h.status, h.failing_streak),
            (HealthStatus::Starting, 0),
            "failures in the start period do not count"
        );
        record(&config, &mut h, result(0), 500);
        assert_eq!(h.status, HealthStatus::Healthy);
        record(&config, &mut h, result(1), 600);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 1), "once healthy, failures count at once");
        record(&config, &mut h, result(1), 5000);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        for _ in 0..10 {
            record(&config, &mut h, result(1), 9000);
        }
        assert_eq!(h.log.len(), 5);
        record(&config, &mut h, result(0), 9999);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
    }

    #[test]
    fn intervals() {
        let config =
            HealthConfig { start_period_ms: 10_000, start_interval_ms: 500, ..HealthConfig::new(vec!["NONE".into()]) };
        assert_eq!(next_interval_ms(&config, &Health::default(), 100), 500);
        assert_eq!(next_interval_ms(&config, &Health::default(), 20_000), 30_000);
        let healthy = Health { status: HealthStatus::Healthy, ..Health::default() };
        assert_eq!(next_interval_ms(&config, &healthy, 100), 30_000);
        assert_eq!(
            HealthConfig::new(vec!["CMD-SHELL".into(), "echo hi".into()]).command(),
            ["/bin/sh", "-c", "echo hi"]
        );
    }
}
