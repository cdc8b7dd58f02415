//! Times as berth writes them: RFC 3339 in UTC, to the second for image records, to the
//! nanosecond for container starts and ends, health checks and log entries (fixed width, so
//! that they also compare as strings).

use std::time::{SystemTime, UNIX_EPOCH};

fn since_epoch() -> std::time::Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Now, in seconds since the epoch.
pub fn unix_seconds() -> u64 {
    since_epoch().as_secs()
}

/// Now, to the second: `2026-01-02T15:04:05Z`.
pub fn now() -> String {
    rfc3339(since_epoch().as_secs() as i64)
}

/// Now, to the nanosecond: `2026-01-02T15:04:05.123456789Z`.
pub fn now_nanos() -> String {
    let now = since_epoch();
    with_nanos(now.as_secs() as i64, now.subsec_nanos())
}

/// `secs` since the epoch in the nanosecond form, with `nanos` as its fraction.
pub fn with_nanos(secs: i64, nanos: u32) -> String {
    format!("{}.{nanos:09}Z", rfc3339(secs).trim_end_matches('Z'))
}

/// `secs` since the epoch as RFC 3339 in UTC, without a date library.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_290_800), "2024-03-01T11:00:00Z");
        assert_eq!(with_nanos(86_400, 5), "1970-01-02T00:00:00.000000005Z");
        assert_eq!(now().len(), 20);
        assert_eq!(now_nanos().len(), 30);
    }
}
