//! Time as plain data: functions take `now` as an argument; only `main`/handlers read the clock.

use aws_sdk_sns::primitives::{DateTime, DateTimeFormat};
use std::time::SystemTime;

/// RFC 3339 in UTC, e.g. `2026-11-22T09:30:00Z`, for alerts and reports.
pub fn rfc3339(at: SystemTime) -> String {
    // Formatting a SystemTime-derived DateTime cannot fail for dates this side of year 10000;
    // fall back to seconds since the epoch rather than panic.
    let at = DateTime::from(at);
    at.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{}s since 1970-01-01T00:00:00Z", at.secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_rfc3339() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(at), "2026-11-18T11:06:40Z");
    }
}
