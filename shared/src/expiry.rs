//! Expiry countdowns shared by every function that warns before something expires (ACM
//! certificates, imported KMS key material): whole days left, and the threshold rule that decides
//! on which days to alert. Pure, with the time passed in (seconds since the epoch, UTC).

use crate::alert::Severity;
use crate::config::{ConfigError, Env};

pub const SECONDS_PER_DAY: i64 = 86_400;
pub const DEFAULT_THRESHOLDS: [u32; 6] = [45, 30, 14, 7, 3, 1];

/// Alert thresholds in days, largest first, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds(Vec<u32>);

impl Default for Thresholds {
    fn default() -> Self {
        Self(DEFAULT_THRESHOLDS.to_vec())
    }
}

impl Thresholds {
    pub fn new(days: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut days: Vec<u32> = days.into_iter().collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        (!days.is_empty()).then_some(Self(days))
    }

    /// `ALERT_THRESHOLDS_DAYS`: comma-separated days, each 1 to 1000 (default `45,30,14,7,3,1`).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        const NAME: &str = "ALERT_THRESHOLDS_DAYS";
        let Some(raw) = env.optional(NAME) else {
            return Ok(Self::default());
        };
        let invalid = |reason: String| ConfigError::Invalid { name: NAME, reason };
        let days = raw
            .split(',')
            .map(|part| match part.trim().parse::<u32>() {
                Ok(day) if (1..=1000).contains(&day) => Ok(day),
                _ => Err(invalid(format!(
                    "{part:?} is not a number of days from 1 to 1000"
                ))),
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Self::new(days).ok_or_else(|| invalid("no thresholds given".into()))
    }

    pub fn largest(&self) -> i64 {
        i64::from(self.0[0])
    }

    pub fn smallest(&self) -> i64 {
        i64::from(self.0[self.0.len() - 1])
    }

    pub fn days(&self) -> &[u32] {
        &self.0
    }

    /// Alert today: on a threshold day, and every day below the smallest.
    pub fn alerts_on(&self, days_left: i64) -> bool {
        days_left < self.smallest() || self.0.iter().any(|&t| i64::from(t) == days_left)
    }
}

/// Whole days left before `not_after`, rounded down: 0 means it expires within 24 hours.
pub fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(SECONDS_PER_DAY)
}

/// Severity by days left: it rises as expiry nears. Something that renews by itself is only
/// informational while more than 30 days remain; something that does not is a warning from the
/// first alert on.
pub fn countdown_severity(days_left: i64, renews_itself: bool) -> Severity {
    match days_left {
        d if d <= 3 => Severity::Critical,
        d if d <= 7 => Severity::Error,
        d if d <= 30 => Severity::Warning,
        _ if !renews_itself => Severity::Warning,
        _ => Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T12:00:00Z.
    const NOW: i64 = 1_795_348_800;
    const DAY: i64 = SECONDS_PER_DAY;

    #[test]
    fn days_left_round_down_to_whole_days() {
        assert_eq!(days_left(NOW + 10 * DAY, NOW), 10);
        assert_eq!(days_left(NOW + 10 * DAY - 1, NOW), 9);
        assert_eq!(days_left(NOW + 1, NOW), 0);
        assert_eq!(days_left(NOW, NOW), 0);
        assert_eq!(days_left(NOW - 1, NOW), -1);
        assert_eq!(days_left(NOW - DAY, NOW), -1);
        assert_eq!(days_left(NOW - DAY - 1, NOW), -2);
    }

    #[test]
    fn days_across_a_leap_day_are_calendar_exact() {
        // 2028-02-28T12:00Z to 2028-03-01T12:00Z is two days (29 February between).
        let feb_28 = 1_835_352_000;
        assert_eq!(crate::time::rfc3339_epoch(feb_28), "2028-02-28T12:00:00Z");
        assert_eq!(days_left(feb_28 + 2 * DAY, feb_28), 2);
        assert_eq!(crate::time::date(feb_28 + DAY), "2028-02-29");
    }

    #[test]
    fn thresholds_parse_sort_and_validate() {
        assert_eq!(
            Thresholds::from_env(&Env::default()).unwrap().days(),
            [45, 30, 14, 7, 3, 1]
        );
        let env = Env::from_pairs([("ALERT_THRESHOLDS_DAYS", "7, 30,7,1")]);
        assert_eq!(Thresholds::from_env(&env).unwrap().days(), [30, 7, 1]);
        for bad in ["0", "abc", "30,,7", "1001"] {
            let env = Env::from_pairs([("ALERT_THRESHOLDS_DAYS", bad)]);
            assert!(
                matches!(
                    Thresholds::from_env(&env),
                    Err(ConfigError::Invalid {
                        name: "ALERT_THRESHOLDS_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(Thresholds::new([]), None);
    }

    #[test]
    fn alerts_fall_on_threshold_days_and_every_day_below_the_smallest() {
        let thresholds = Thresholds::default();
        let alerting: Vec<i64> = (-3..=60).filter(|&d| thresholds.alerts_on(d)).collect();
        assert_eq!(alerting, [-3, -2, -1, 0, 1, 3, 7, 14, 30, 45]);
        let custom = Thresholds::new([10, 5]).unwrap();
        assert!(custom.alerts_on(10) && !custom.alerts_on(9) && !custom.alerts_on(11));
        assert!(custom.alerts_on(5) && custom.alerts_on(4) && custom.alerts_on(0));
        assert!(!custom.alerts_on(6));
    }
}
