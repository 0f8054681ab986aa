//! Configuration comes from the environment, read once at start-up into an [`Env`] snapshot and
//! validated there, so a bad setting stops the function at init with a message naming the
//! variable, instead of failing every invocation later.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A snapshot of the environment. Plain data, so every settings parser is unit-testable
/// without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// Reads the process environment. Variables whose name or value is not UTF-8 are skipped
    /// (none of ours can be), rather than panicking as `std::env::vars` would.
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The value, with an empty or all-blank value treated as unset (CloudFormation parameters
    /// left empty arrive as empty strings).
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value exactly as set, spaces and emptiness included; `None` only when unset.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name })
    }

    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or(default).to_owned()
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case).
    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected true or false, got {other:?}"),
            }),
        }
    }

    /// A number within `min..=max`.
    pub fn number_or<T>(
        &self,
        name: &'static str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(raw) = self.optional(name) else {
            return Ok(default);
        };
        let value: T = raw.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("expected a whole number, got {raw:?}"),
        })?;
        if value < min || value > max {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("{value} is outside {min}..={max}"),
            });
        }
        Ok(value)
    }

    /// A duration in seconds, written `90d`, `12h`, `30m` or `45s` (a bare number is days),
    /// within `0..=max_seconds`.
    pub fn duration_or(
        &self,
        name: &'static str,
        default_seconds: i64,
        max_seconds: i64,
    ) -> Result<i64, ConfigError> {
        let Some(raw) = self.optional(name) else {
            return Ok(default_seconds);
        };
        let invalid = || ConfigError::Invalid {
            name,
            reason: format!("expected a duration such as 90d, 12h, 30m or 45s, got {raw:?}"),
        };
        let (number, unit) = match raw.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c.to_ascii_lowercase()),
            _ => (raw, 'd'),
        };
        let per_unit = match unit {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let value: i64 = number.trim().parse().map_err(|_| invalid())?;
        let seconds = value
            .checked_mul(per_unit)
            .filter(|s| (0..=max_seconds).contains(s))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("{raw} is outside 0 to {} days", max_seconds / 86_400),
            })?;
        Ok(seconds)
    }

    /// A resource tag written `key=value`; `none` or an empty value disables it.
    pub fn tag_or(
        &self,
        name: &'static str,
        default: &str,
    ) -> Result<Option<(String, String)>, ConfigError> {
        match self.string_or(name, default).as_str() {
            "" | "none" => Ok(None),
            tag => {
                let (key, value) = tag.split_once('=').ok_or(ConfigError::Invalid {
                    name,
                    reason: format!("expected key=value, got {tag:?}"),
                })?;
                let (key, value) = (key.trim(), value.trim());
                if key.is_empty() {
                    return Err(ConfigError::Invalid {
                        name,
                        reason: format!("the tag key is empty in {tag:?}"),
                    });
                }
                Ok(Some((key.to_owned(), value.to_owned())))
            }
        }
    }

    /// A comma-separated list, each entry trimmed, empty entries dropped; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An ARN of the given service, e.g. `sns` for a topic.
    pub fn arn(&self, name: &'static str, service: &str) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        let parts: Vec<&str> = value.split(':').collect();
        let well_formed =
            parts.len() >= 6 && parts[0] == "arn" && parts[2] == service && !parts[5].is_empty();
        if !well_formed {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("expected an ARN of the form arn:<partition>:{service}:<region>:<account>:<name>, got {value:?}"),
            });
        }
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn empty_values_count_as_unset() {
        let e = env(&[("A", ""), ("B", "  ")]);
        assert_eq!(e.optional("A"), None);
        assert_eq!(e.required("B"), Err(ConfigError::Missing { name: "B" }));
        assert_eq!(e.string_or("A", "dflt"), "dflt");
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let e = env(&[("L", " a, b ,,c "), ("E", " , ")]);
        assert_eq!(e.list("L"), ["a", "b", "c"]);
        assert!(e.list("E").is_empty());
        assert!(e.list("UNSET").is_empty());
    }

    #[test]
    fn tags_are_key_equals_value_or_disabled() {
        let e = env(&[
            ("T", " team = sre "),
            ("N", "none"),
            ("B", "novalue"),
            ("K", "=x"),
        ]);
        assert_eq!(
            e.tag_or("T", "a=b"),
            Ok(Some(("team".into(), "sre".into())))
        );
        assert_eq!(e.tag_or("UNSET", "a=b"), Ok(Some(("a".into(), "b".into()))));
        assert_eq!(e.tag_or("N", "a=b"), Ok(None));
        assert!(matches!(
            e.tag_or("B", "a=b"),
            Err(ConfigError::Invalid { name: "B", .. })
        ));
        assert!(matches!(
            e.tag_or("K", "a=b"),
            Err(ConfigError::Invalid { name: "K", .. })
        ));
    }

    #[test]
    fn booleans_accept_common_spellings_and_reject_others() {
        let e = env(&[("T", "TRUE"), ("F", "0"), ("Y", "yes"), ("X", "maybe")]);
        assert_eq!(e.bool_or("T", false), Ok(true));
        assert_eq!(e.bool_or("F", true), Ok(false));
        assert_eq!(e.bool_or("Y", false), Ok(true));
        assert_eq!(e.bool_or("MISSING", true), Ok(true));
        let err = e.bool_or("X", true).unwrap_err();
        assert!(
            err.to_string().contains("X") && err.to_string().contains("maybe"),
            "{err}"
        );
    }

    #[test]
    fn numbers_are_parsed_and_range_checked() {
        let e = env(&[("N", "32"), ("BIG", "5000"), ("BAD", "3x")]);
        assert_eq!(e.number_or("N", 1usize, 1, 4096), Ok(32));
        assert_eq!(e.number_or("MISSING", 7usize, 1, 4096), Ok(7));
        assert!(matches!(
            e.number_or("BIG", 1usize, 1, 4096),
            Err(ConfigError::Invalid { name: "BIG", .. })
        ));
        assert!(matches!(
            e.number_or("BAD", 1usize, 1, 4096),
            Err(ConfigError::Invalid { name: "BAD", .. })
        ));
    }

    #[test]
    fn durations_take_units_and_default_to_days() {
        let e = env(&[
            ("D", "90d"),
            ("H", "12h"),
            ("M", "30m"),
            ("S", "45s"),
            ("BARE", "7"),
            ("BAD", "7w"),
            ("NEG", "-1d"),
            ("BIG", "5000d"),
        ]);
        assert_eq!(e.duration_or("D", 0, 3650 * 86_400), Ok(90 * 86_400));
        assert_eq!(e.duration_or("H", 0, 3650 * 86_400), Ok(12 * 3_600));
        assert_eq!(e.duration_or("M", 0, 3650 * 86_400), Ok(1_800));
        assert_eq!(e.duration_or("S", 0, 3650 * 86_400), Ok(45));
        assert_eq!(e.duration_or("BARE", 0, 3650 * 86_400), Ok(7 * 86_400));
        assert_eq!(e.duration_or("MISSING", 99, 3650 * 86_400), Ok(99));
        for bad in ["BAD", "NEG", "BIG"] {
            assert!(
                matches!(
                    e.duration_or(bad, 0, 3650 * 86_400),
                    Err(ConfigError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn arns_are_checked_for_their_service() {
        let e = env(&[
            ("OK", "arn:aws:sns:eu-west-1:123456789012:alerts"),
            ("WRONG", "arn:aws:sqs:eu-west-1:123456789012:alerts"),
            ("JUNK", "alerts"),
        ]);
        assert_eq!(
            e.arn("OK", "sns").as_deref(),
            Ok("arn:aws:sns:eu-west-1:123456789012:alerts")
        );
        assert!(matches!(
            e.arn("WRONG", "sns"),
            Err(ConfigError::Invalid { name: "WRONG", .. })
        ));
        assert!(matches!(
            e.arn("JUNK", "sns"),
            Err(ConfigError::Invalid { name: "JUNK", .. })
        ));
        assert_eq!(
            e.arn("MISSING", "sns"),
            Err(ConfigError::Missing { name: "MISSING" })
        );
    }
}
