//! The access key lifecycle as a pure decision over one user's keys, with the time passed in.
//!
//! 1. **Rotate**: the user's only active key is older than the rotation age (or a person forced
//!    it): create a new key and store it; the old key stays active.
//! 2. **Deactivate** the older of two active keys once the newer one is older than the install
//!    grace period, unless the older one was used after the newer one was created: then it is
//!    still in use somewhere, and the owner is warned on every run instead.
//! 3. **Delete** an inactive key once the recovery grace period has passed since it was
//!    deactivated (recorded on the user, so it survives between runs), and only while the user
//!    has an active key.
//! 4. **Warn** once, on the run that first falls within the warning period before each action.
//!
//! One action per user per run: each run re-reads the state, so overlapping or repeated runs
//! converge instead of compounding.

use super::{AccessKey, KeyUse};
use crate::config::{ConfigError, Env};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub rotation_age: i64,
    pub install_grace: i64,
    pub recovery_grace: i64,
    /// How far ahead of each action the owner is warned; 0 disables warnings.
    pub warn_ahead: i64,
    /// How often the rotator runs (its schedule), so each warning is sent on exactly one run.
    pub run_interval: i64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            rotation_age: 90 * DAY,
            install_grace: 7 * DAY,
            recovery_grace: 7 * DAY,
            warn_ahead: 7 * DAY,
            run_interval: DAY,
        }
    }
}

impl Lifecycle {
    /// `KEY_ROTATION_AGE` (90d), `KEY_INSTALL_GRACE` (7d), `KEY_RECOVERY_GRACE` (7d),
    /// `KEY_WARN_AHEAD` (7d), `SCHEDULE_INTERVAL` (1d).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        const MAX: i64 = 3650 * DAY;
        let lifecycle = Self {
            rotation_age: env.duration_or("KEY_ROTATION_AGE", defaults.rotation_age, MAX)?,
            install_grace: env.duration_or("KEY_INSTALL_GRACE", defaults.install_grace, MAX)?,
            recovery_grace: env.duration_or("KEY_RECOVERY_GRACE", defaults.recovery_grace, MAX)?,
            warn_ahead: env.duration_or("KEY_WARN_AHEAD", defaults.warn_ahead, MAX)?,
            run_interval: env.duration_or("SCHEDULE_INTERVAL", defaults.run_interval, MAX)?,
        };
        if lifecycle.rotation_age == 0 {
            return Err(ConfigError::Invalid {
                name: "KEY_ROTATION_AGE",
                reason: "must be longer than 0".into(),
            });
        }
        if lifecycle.run_interval == 0 {
            return Err(ConfigError::Invalid {
                name: "SCHEDULE_INTERVAL",
                reason: "must be longer than 0".into(),
            });
        }
        Ok(lifecycle)
    }

    /// The warning about `action` on `key` due at `due`, if this run is the one to send it.
    fn upcoming(&self, action: &'static str, key: &str, due: i64, now: i64) -> Option<Upcoming> {
        self.warns_now(due, now).then(|| Upcoming {
            action,
            key: key.to_owned(),
            due,
        })
    }

    /// Whether this run is the one to warn about an action due at `due`.
    fn warns_now(&self, due: i64, now: i64) -> bool {
        self.warn_ahead > 0
            && now >= due - self.warn_ahead
            && now < due - self.warn_ahead + self.run_interval
    }
}

/// Everything the decision needs about one user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserKeys {
    pub user: String,
    pub keys: Vec<AccessKey>,
    /// When each inactive key was deactivated, as recorded on the user.
    pub deactivated_at: Vec<(String, i64)>,
    pub exempt: bool,
    /// The user's creation record ([`super::creation::ROTATOR_RECORD`]), present while a rotation
    /// is between creating a key and having stored it.
    pub creation_record: Option<String>,
    /// The key id the user's secret holds; read only while there is a creation record.
    pub stored_key: Option<String>,
}

impl UserKeys {
    fn deactivation_of(&self, key: &str) -> Option<i64> {
        self.deactivated_at
            .iter()
            .find(|(id, _)| id == key)
            .map(|(_, at)| *at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Exempt,
    NoKeys,
    Nothing,
    /// Create a new key and store it; the current one stays active.
    Rotate {
        current: String,
    },
    Deactivate {
        old: String,
        new: String,
    },
    Delete {
        key: String,
    },
    /// An inactive key with no recorded deactivation (deactivated by hand, or a run stopped
    /// between deactivating and recording): record now, and delete after the recovery grace.
    RecordDeactivation {
        key: String,
    },
    Blocked(Blocked),
    /// A key an interrupted rotation created and never stored: nobody can use it, and it holds
    /// one of the user's two slots. Delete it, and the creation record.
    DeleteUnstored {
        key: String,
    },
    /// A creation record whose key was stored after all (the run stopped before removing it).
    ClearCreationRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The older key was used after the newer one was created: something still uses it.
    OldKeyInUse {
        old: String,
        new: String,
        last_use: KeyUse,
    },
    /// Rotation is due but the user's second slot holds an inactive key still within its
    /// recovery grace; it is deleted when that ends, then the rotation happens.
    SlotHeldByInactiveKey { key: String, free_at: i64 },
    /// Forced rotation of a user with two active keys: one must be retired first.
    TwoActiveKeys,
}

/// An action coming within the warning period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub action: &'static str,
    pub key: String,
    pub due: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub plan: Plan,
    pub upcoming: Option<Upcoming>,
}

impl Decision {
    fn plan(plan: Plan) -> Self {
        Self {
            plan,
            upcoming: None,
        }
    }
}

/// Of two active keys, the one to retire: the one the secret does not hold, or else the older.
pub fn retiring_key<'a>(keys: &'a [AccessKey], stored: Option<&str>) -> Option<&'a str> {
    let mut active: Vec<&AccessKey> = keys.iter().filter(|k| k.active).collect();
    // Oldest first, the stored key last whatever its age.
    active.sort_by_key(|k| (Some(k.id.as_str()) == stored, k.created));
    active.first().map(|k| k.id.as_str())
}

pub fn decide(user: &UserKeys, lifecycle: &Lifecycle, now: i64, forced: bool) -> Decision {
    if user.exempt {
        return Decision::plan(Plan::Exempt);
    }
    if let Some(record) = &user.creation_record {
        let held: Vec<&str> = user.stored_key.iter().map(String::as_str).collect();
        return Decision::plan(
            match super::creation::unstored_keys(&user.keys, Some(record), &held).first() {
                Some(key) => Plan::DeleteUnstored {
                    key: key.id.clone(),
                },
                None => Plan::ClearCreationRecord,
            },
        );
    }
    if user.keys.is_empty() {
        return Decision::plan(Plan::NoKeys);
    }
    let mut active: Vec<&AccessKey> = user.keys.iter().filter(|k| k.active).collect();
    // Newest first, and the key the secret holds counts as the newest: it is never retired.
    let stored = user.stored_key.as_deref();
    active.sort_by_key(|k| std::cmp::Reverse((Some(k.id.as_str()) == stored, k.created)));
    let mut inactive: Vec<&AccessKey> = user.keys.iter().filter(|k| !k.active).collect();
    inactive.sort_by_key(|k| k.created);

    let mut upcoming = None;
    let mut slot_held_until = None;
    for key in &inactive {
        let Some(deactivated) = user.deactivation_of(&key.id) else {
            return Decision::plan(Plan::RecordDeactivation {
                key: key.id.clone(),
            });
        };
        let deletable = deactivated + lifecycle.recovery_grace;
        if !active.is_empty() && now >= deletable {
            return Decision::plan(Plan::Delete {
                key: key.id.clone(),
            });
        }
        upcoming = lifecycle
            .upcoming("delete", &key.id, deletable, now)
            .or(upcoming);
        slot_held_until = Some(deletable);
    }

    let plan = match active.as_slice() {
        [] => Plan::Nothing,
        [new, old, ..] => {
            let due = new.created + lifecycle.install_grace;
            match &old.last_used {
                Some(last_use) if now >= due && last_use.at > new.created => {
                    Plan::Blocked(Blocked::OldKeyInUse {
                        old: old.id.clone(),
                        new: new.id.clone(),
                        last_use: last_use.clone(),
                    })
                }
                _ if now >= due => Plan::Deactivate {
                    old: old.id.clone(),
                    new: new.id.clone(),
                },
                _ if forced => Plan::Blocked(Blocked::TwoActiveKeys),
                _ => {
                    upcoming = lifecycle
                        .upcoming("deactivate", &old.id, due, now)
                        .or(upcoming);
                    Plan::Nothing
                }
            }
        }
        [current] => {
            let due = current.created + lifecycle.rotation_age;
            match slot_held_until {
                Some(free_at) if forced || now >= due => {
                    Plan::Blocked(Blocked::SlotHeldByInactiveKey {
                        key: inactive[0].id.clone(),
                        free_at,
                    })
                }
                None if forced || now >= due => Plan::Rotate {
                    current: current.id.clone(),
                },
                _ => {
                    upcoming = lifecycle
                        .upcoming("rotate", &current.id, due, now)
                        .or(upcoming);
                    Plan::Nothing
                }
            }
        }
    };
    Decision { plan, upcoming }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_348_800;

    fn lifecycle() -> Lifecycle {
        Lifecycle::default()
    }

    fn key(id: &str, active: bool, age_days: i64) -> AccessKey {
        AccessKey {
            id: id.into(),
            active,
            created: NOW - age_days * DAY,
            last_used: None,
        }
    }

    fn used(mut key: AccessKey, days_ago: i64) -> AccessKey {
        key.last_used = Some(KeyUse {
            at: NOW - days_ago * DAY,
            service: Some("s3".into()),
            region: Some("eu-west-1".into()),
        });
        key
    }

    fn user(keys: Vec<AccessKey>) -> UserKeys {
        UserKeys {
            user: "alice".into(),
            keys,
            ..UserKeys::default()
        }
    }

    fn plan(user: &UserKeys) -> Plan {
        decide(user, &lifecycle(), NOW, false).plan
    }

    #[test]
    fn exempt_users_and_users_without_keys_are_not_touched() {
        let exempt = UserKeys {
            exempt: true,
            ..user(vec![key("OLD", true, 400)])
        };
        assert_eq!(plan(&exempt), Plan::Exempt);
        assert_eq!(decide(&exempt, &lifecycle(), NOW, true).plan, Plan::Exempt);
        assert_eq!(plan(&user(vec![])), Plan::NoKeys);
    }

    #[test]
    fn one_active_key_rotates_at_the_rotation_age_and_not_before() {
        assert_eq!(plan(&user(vec![key("K", true, 89)])), Plan::Nothing);
        assert_eq!(
            plan(&user(vec![key("K", true, 90)])),
            Plan::Rotate {
                current: "K".into()
            }
        );
        assert_eq!(
            plan(&user(vec![key("K", true, 400)])),
            Plan::Rotate {
                current: "K".into()
            }
        );
        let just_before = UserKeys {
            keys: vec![AccessKey {
                created: NOW - 90 * DAY + 1,
                ..key("K", true, 0)
            }],
            ..user(vec![])
        };
        assert_eq!(plan(&just_before), Plan::Nothing);
    }

    #[test]
    fn a_never_used_expired_key_is_rotated_not_deleted() {
        // The reference sample deletes such a key before creating its successor.
        assert_eq!(
            plan(&user(vec![key("K", true, 200)])),
            Plan::Rotate {
                current: "K".into()
            }
        );
    }

    #[test]
    fn forcing_rotates_a_young_key() {
        let young = user(vec![key("K", true, 1)]);
        assert_eq!(
            decide(&young, &lifecycle(), NOW, true).plan,
            Plan::Rotate {
                current: "K".into()
            }
        );
    }

    #[test]
    fn the_old_key_is_deactivated_after_the_install_grace_unless_still_used() {
        let fresh = user(vec![key("NEW", true, 6), key("OLD", true, 96)]);
        assert_eq!(plan(&fresh), Plan::Nothing);
        let installed = user(vec![key("NEW", true, 7), key("OLD", true, 97)]);
        assert_eq!(
            plan(&installed),
            Plan::Deactivate {
                old: "OLD".into(),
                new: "NEW".into()
            }
        );
        // Used before the new key existed: fine to deactivate.
        let used_before = user(vec![key("NEW", true, 7), used(key("OLD", true, 97), 8)]);
        assert_eq!(
            plan(&used_before),
            Plan::Deactivate {
                old: "OLD".into(),
                new: "NEW".into()
            }
        );
        // Used after: still in use somewhere.
        let still_used = user(vec![key("NEW", true, 8), used(key("OLD", true, 98), 1)]);
        assert!(
            matches!(plan(&still_used), Plan::Blocked(Blocked::OldKeyInUse { ref old, ref last_use, .. }) if old == "OLD" && last_use.service.as_deref() == Some("s3"))
        );
        // Before the grace period it is not even looked at.
        let early_use = user(vec![key("NEW", true, 3), used(key("OLD", true, 93), 1)]);
        assert_eq!(plan(&early_use), Plan::Nothing);
    }

    #[test]
    fn two_old_active_keys_retire_the_older_first() {
        // Both past the rotation age: rotating needs a free slot, and an active key is never
        // deleted to make one.
        let both_old = user(vec![key("A", true, 200), key("B", true, 300)]);
        assert_eq!(
            plan(&both_old),
            Plan::Deactivate {
                old: "B".into(),
                new: "A".into()
            }
        );
        let forced_fresh = user(vec![key("NEW", true, 1), key("OLD", true, 91)]);
        assert_eq!(
            decide(&forced_fresh, &lifecycle(), NOW, true).plan,
            Plan::Blocked(Blocked::TwoActiveKeys)
        );
    }

    #[test]
    fn an_inactive_key_is_deleted_after_the_recovery_grace_from_its_recorded_deactivation() {
        let mut u = user(vec![key("NEW", true, 20), key("OLD", false, 110)]);
        assert_eq!(plan(&u), Plan::RecordDeactivation { key: "OLD".into() });
        u.deactivated_at = vec![("OLD".into(), NOW - 6 * DAY)];
        assert_eq!(plan(&u), Plan::Nothing);
        u.deactivated_at = vec![("OLD".into(), NOW - 7 * DAY)];
        assert_eq!(plan(&u), Plan::Delete { key: "OLD".into() });
    }

    #[test]
    fn the_key_the_secret_holds_is_never_the_one_deactivated() {
        // Created in the same second: age cannot tell them apart, the secret can.
        let keys = vec![key("A", true, 10), key("B", true, 10)];
        for stored in ["A", "B"] {
            let u = UserKeys {
                stored_key: Some(stored.into()),
                ..user(keys.clone())
            };
            let other = if stored == "A" { "B" } else { "A" };
            assert_eq!(
                decide(&u, &lifecycle(), NOW + 30 * DAY, false).plan,
                Plan::Deactivate {
                    old: other.into(),
                    new: stored.into()
                }
            );
            assert_eq!(retiring_key(&u.keys, Some(stored)), Some(other));
        }
        // Even when the stored key is the older one.
        let u = UserKeys {
            stored_key: Some("OLD".into()),
            ..user(vec![key("OLD", true, 100), key("NEW", true, 10)])
        };
        assert!(matches!(plan(&u), Plan::Deactivate { old, .. } if old == "NEW"));
        assert_eq!(retiring_key(&u.keys, None), Some("OLD"));
    }

    #[test]
    fn an_interrupted_rotation_is_finished_before_anything_else() {
        let interrupted = |stored: &str| UserKeys {
            creation_record: Some("OLD".into()),
            stored_key: Some(stored.into()),
            ..user(vec![key("OLD", true, 400), key("NEW", true, 0)])
        };
        assert_eq!(
            plan(&interrupted("OLD")),
            Plan::DeleteUnstored { key: "NEW".into() }
        );
        assert_eq!(
            decide(&interrupted("OLD"), &lifecycle(), NOW, true).plan,
            Plan::DeleteUnstored { key: "NEW".into() }
        );
        assert_eq!(plan(&interrupted("NEW")), Plan::ClearCreationRecord);
        // Crashed before creating anything: only the record is left.
        let before_create = UserKeys {
            creation_record: Some("OLD".into()),
            stored_key: Some("OLD".into()),
            ..user(vec![key("OLD", true, 400)])
        };
        assert_eq!(plan(&before_create), Plan::ClearCreationRecord);
        // Without a record a second active key is someone's, never deleted.
        let no_record = user(vec![key("OLD", true, 400), key("NEW", true, 0)]);
        assert!(!matches!(plan(&no_record), Plan::DeleteUnstored { .. }));
    }

    #[test]
    fn an_inactive_key_is_never_deleted_while_it_is_the_users_only_key() {
        let only = UserKeys {
            deactivated_at: vec![("K".into(), NOW - 100 * DAY)],
            ..user(vec![key("K", false, 200)])
        };
        assert_eq!(plan(&only), Plan::Nothing);
    }

    #[test]
    fn rotation_waits_for_an_inactive_key_in_recovery_to_free_the_slot() {
        let u = UserKeys {
            deactivated_at: vec![("J".into(), NOW - 2 * DAY)],
            ..user(vec![key("K", true, 120), key("J", false, 10)])
        };
        assert_eq!(
            plan(&u),
            Plan::Blocked(Blocked::SlotHeldByInactiveKey {
                key: "J".into(),
                free_at: NOW + 5 * DAY
            })
        );
        // Once its recovery grace ends it is deleted, and the next run rotates.
        let later = UserKeys {
            deactivated_at: vec![("J".into(), NOW - 7 * DAY)],
            ..u.clone()
        };
        assert_eq!(plan(&later), Plan::Delete { key: "J".into() });
        assert_eq!(
            plan(&user(vec![key("K", true, 120)])),
            Plan::Rotate {
                current: "K".into()
            }
        );
    }

    #[test]
    fn warnings_come_once_on_the_run_entering_the_warning_period() {
        let l = lifecycle();
        let at = |age_seconds: i64| {
            decide(
                &user(vec![AccessKey {
                    created: NOW - age_seconds,
                    ..key("K", true, 0)
                }]),
                &l,
                NOW,
                false,
            )
            .upcoming
        };
        assert_eq!(at(83 * DAY - 1), None);
        assert_eq!(
            at(83 * DAY),
            Some(Upcoming {
                action: "rotate",
                key: "K".into(),
                due: NOW + 7 * DAY
            })
        );
        assert_eq!(at(84 * DAY - 1).map(|u| u.action), Some("rotate"));
        assert_eq!(at(84 * DAY), None);

        let deactivation = decide(
            &user(vec![key("NEW", true, 0), key("OLD", true, 90)]),
            &l,
            NOW,
            false,
        );
        assert_eq!(
            deactivation.upcoming,
            Some(Upcoming {
                action: "deactivate",
                key: "OLD".into(),
                due: NOW + 7 * DAY
            })
        );

        let deletion = UserKeys {
            deactivated_at: vec![("OLD".into(), NOW)],
            ..user(vec![key("NEW", true, 8), key("OLD", false, 98)])
        };
        assert_eq!(
            decide(&deletion, &l, NOW, false).upcoming,
            Some(Upcoming {
                action: "delete",
                key: "OLD".into(),
                due: NOW + 7 * DAY
            })
        );

        let silent = Lifecycle { warn_ahead: 0, ..l };
        assert_eq!(
            decide(&user(vec![key("K", true, 83)]), &silent, NOW, false).upcoming,
            None
        );
    }

    #[test]
    fn settings_parse_with_units_and_reject_zero_ages() {
        let env = Env::from_pairs([
            ("KEY_ROTATION_AGE", "30d"),
            ("KEY_INSTALL_GRACE", "12h"),
            ("KEY_WARN_AHEAD", "0"),
        ]);
        let l = Lifecycle::from_env(&env).unwrap();
        assert_eq!(
            (
                l.rotation_age,
                l.install_grace,
                l.recovery_grace,
                l.warn_ahead
            ),
            (30 * DAY, 12 * 3600, 7 * DAY, 0)
        );
        assert_eq!(
            Lifecycle::from_env(&Env::default()).unwrap(),
            Lifecycle::default()
        );
        let zero = Env::from_pairs([("KEY_ROTATION_AGE", "0d")]);
        assert!(matches!(
            Lifecycle::from_env(&zero),
            Err(ConfigError::Invalid {
                name: "KEY_ROTATION_AGE",
                ..
            })
        ));
    }
}
