//! Time as plain data: functions take `now` as an argument; only `main`/handlers read the clock.

use aws_sdk_sns::primitives::{DateTime, DateTimeFormat};
use std::time::SystemTime;

/// RFC 3339 in UTC, e.g. `2026-11-22T09:30:00Z`, for alerts and reports.
pub fn rfc3339(at: SystemTime) -> String {
    format(DateTime::from(at))
}

/// [`rfc3339`] of a time given in seconds since the epoch.
pub fn rfc3339_epoch(epoch_seconds: i64) -> String {
    format(DateTime::from_secs(epoch_seconds))
}

fn format(at: DateTime) -> String {
    // Formatting fails only for dates past year 9999; fall back to seconds rather than panic.
    at.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{}s since 1970-01-01T00:00:00Z", at.secs()))
}

/// Seconds since the Unix epoch (negative before it), the unit every pure decision uses.
pub fn epoch_seconds(at: SystemTime) -> i64 {
    DateTime::from(at).secs()
}

/// The UTC calendar date, `YYYY-MM-DD`, of an epoch time.
pub fn date(epoch_seconds: i64) -> String {
    rfc3339_epoch(epoch_seconds).chars().take(10).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_rfc3339() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(at), "2026-11-18T11:06:40Z");
        assert_eq!(epoch_seconds(at), 1_795_000_000);
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_795_000_000), "2026-11-18");
        // 2028-02-29T23:59:59Z, a leap day, and the second after it.
        assert_eq!(date(1_835_481_599), "2028-02-29");
        assert_eq!(date(1_835_481_600), "2028-03-01");
    }
}
