//! Every action announced, even when the run that took it stops before announcing it. Pure.
//!
//! Before an action, the rotator records on the user what it is about to do (the [`ANNOUNCING`]
//! tag, written with the action's own record where it has one, so that a rotation costs no extra
//! call); it announces the action as soon as it has taken effect, and only then removes the tag.
//! A run that finds the tag left behind (the process died, or the alert could not be sent)
//! checks the user's live state: if the action took effect, it announces it late, once, before
//! doing anything else for that user; if not, nothing happened and the tag goes.
//!
//! One window is left, as with any notification service without deduplication: if the process
//! dies after the alert was sent and before the tag is removed (or the removal fails), the next
//! run announces the action again. Both alerts carry the same `announcement` attribute, so a
//! subscription filter or a reader can tell the repeat.

use crate::handler::DEACTIVATED_TAG_PREFIX;
use crate::notices::Outcome;
use shared::iam::creation::ROTATOR_RECORD;
use shared::iam::key_suffix;
use shared::iam::policy::{Lifecycle, Plan, UserKeys};

/// The user tag naming the action a run is taking and has not announced yet:
/// `<action> <key id>` (the key rotated away from, deactivated or deleted).
pub const ANNOUNCING: &str = "credential-rotation/announcing";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Rotate { old: String },
    Deactivate { key: String },
    Delete { key: String },
    DeleteUnstored { key: String },
    RecordDeactivation { key: String },
}

impl Intent {
    /// What a plan is about to do that a person must hear of; `None` for plans that change
    /// nothing anyone needs to know (clearing a record, waiting, nothing).
    pub fn of_plan(plan: &Plan) -> Option<Self> {
        let key = |key: &String| key.clone();
        Some(match plan {
            Plan::Rotate { current } => Self::Rotate { old: key(current) },
            Plan::Deactivate { old, .. } => Self::Deactivate { key: key(old) },
            Plan::Delete { key: k } => Self::Delete { key: key(k) },
            Plan::DeleteUnstored { key: k } => Self::DeleteUnstored { key: key(k) },
            Plan::RecordDeactivation { key: k } => Self::RecordDeactivation { key: key(k) },
            Plan::Exempt
            | Plan::NoKeys
            | Plan::Nothing
            | Plan::Blocked(_)
            | Plan::ClearCreationRecord => return None,
        })
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Rotate { old } => ("rotate", old),
            Self::Deactivate { key } => ("deactivate", key),
            Self::Delete { key } => ("delete", key),
            Self::DeleteUnstored { key } => ("delete-unstored", key),
            Self::RecordDeactivation { key } => ("record-deactivation", key),
        }
    }

    /// The tag's value (a tag value may hold letters, digits, spaces and `_.:/=+-@`).
    pub fn tag_value(&self) -> String {
        let (action, key) = self.parts();
        format!("{action} {key}")
    }

    /// A tag value this rotator wrote; anything else is not ours to act on.
    pub fn parse(value: &str) -> Option<Self> {
        let (action, key) = value.split_once(' ')?;
        let valid_key =
            (16..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid_key {
            return None;
        }
        let key = key.to_owned();
        Some(match action {
            "rotate" => Self::Rotate { old: key },
            "deactivate" => Self::Deactivate { key },
            "delete" => Self::Delete { key },
            "delete-unstored" => Self::DeleteUnstored { key },
            "record-deactivation" => Self::RecordDeactivation { key },
            _ => return None,
        })
    }

    /// The attribute that is the same on every alert about this action, in whichever run (key
    /// ids by their last four characters, as everywhere in alerts).
    pub fn announcement_id(&self, user: &str) -> String {
        let (action, key) = self.parts();
        format!("{user}/{action}/{}", key_suffix(key))
    }

    /// The user tags that stay until the action is announced, and go with [`ANNOUNCING`] once it
    /// is: the creation record (a rotation's, or the one whose unstored key was deleted) and a
    /// deleted key's deactivation record.
    pub fn records_kept_until_announced(&self) -> Vec<String> {
        match self {
            Self::Rotate { .. } | Self::DeleteUnstored { .. } => vec![ROTATOR_RECORD.to_owned()],
            Self::Delete { key } => vec![format!("{DEACTIVATED_TAG_PREFIX}{key}")],
            Self::Deactivate { .. } | Self::RecordDeactivation { .. } => Vec::new(),
        }
    }
}

/// What a run that stopped before announcing did, judged from the user's live state: the outcome
/// to announce now, or `None` when the action did not take effect (nothing to announce).
/// `secret` is the user's key secret.
pub fn unannounced_outcome(
    intent: &Intent,
    state: &UserKeys,
    secret: &str,
    lifecycle: &Lifecycle,
    now: i64,
) -> Option<Outcome> {
    let key = |id: &str| state.keys.iter().find(|k| k.id == id);
    let deactivated_at = |id: &str| {
        state
            .deactivated_at
            .iter()
            .find(|(key, _)| key == id)
            .map(|(_, at)| *at)
    };
    match intent {
        // Took effect when the secret holds a key other than the one rotated away from.
        Intent::Rotate { old } => {
            let stored = state.stored_key.as_deref().filter(|s| s != old)?;
            let new = key(stored)?;
            Some(Outcome::Rotated {
                old: old.clone(),
                new: Some(new.id.clone()),
                secret: secret.to_owned(),
                deactivate_from: new.created + lifecycle.install_grace,
            })
        }
        Intent::Deactivate { key: id } => {
            key(id).filter(|k| !k.active)?;
            Some(Outcome::Deactivated {
                old: id.clone(),
                delete_from: deactivated_at(id).unwrap_or(now) + lifecycle.recovery_grace,
            })
        }
        Intent::Delete { key: id } => key(id)
            .is_none()
            .then(|| Outcome::Deleted { key: id.clone() }),
        Intent::DeleteUnstored { key: id } => key(id)
            .is_none()
            .then(|| Outcome::UnstoredKeyDeleted { key: id.clone() }),
        Intent::RecordDeactivation { key: id } => {
            deactivated_at(id).map(|at| Outcome::DeactivationRecorded {
                key: id.clone(),
                delete_from: at + lifecycle.recovery_grace,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::iam::AccessKey;

    const OLD: &str = "AKIAOLDOLDOLDOLD0001";
    const NEW: &str = "AKIANEWNEWNEWNEW0002";

    fn key(id: &str, active: bool, created: i64) -> AccessKey {
        AccessKey {
            id: id.into(),
            active,
            created,
            last_used: None,
        }
    }

    fn lifecycle() -> Lifecycle {
        Lifecycle {
            install_grace: 100,
            recovery_grace: 1_000,
            ..Lifecycle::default()
        }
    }

    #[test]
    fn intents_round_trip_through_their_tag_and_nothing_else_is_read() {
        for intent in [
            Intent::Rotate { old: OLD.into() },
            Intent::Deactivate { key: OLD.into() },
            Intent::Delete { key: OLD.into() },
            Intent::DeleteUnstored { key: NEW.into() },
            Intent::RecordDeactivation { key: OLD.into() },
        ] {
            let value = intent.tag_value();
            assert!(value.len() <= 256, "{value}");
            assert_eq!(Intent::parse(&value), Some(intent));
        }
        for foreign in [
            "",
            "rotate",
            "rotate ",
            "reboot AKIAOLDOLDOLDOLD0001",
            "delete short",
            "delete AKIA/../x0000000000",
        ] {
            assert_eq!(Intent::parse(foreign), None, "{foreign}");
        }
        assert_eq!(
            Intent::of_plan(&Plan::Deactivate {
                old: OLD.into(),
                new: NEW.into()
            }),
            Some(Intent::Deactivate { key: OLD.into() })
        );
        assert_eq!(Intent::of_plan(&Plan::ClearCreationRecord), None);
        assert_eq!(Intent::of_plan(&Plan::Nothing), None);
    }

    #[test]
    fn an_action_that_took_effect_is_announced_late_and_one_that_did_not_is_not() {
        let life = lifecycle();
        let rotated = UserKeys {
            keys: vec![key(OLD, true, 10), key(NEW, true, 500)],
            stored_key: Some(NEW.into()),
            creation_record: Some(OLD.into()),
            ..UserKeys::default()
        };
        let rotate = Intent::Rotate { old: OLD.into() };
        assert_eq!(
            unannounced_outcome(&rotate, &rotated, "keys/u", &life, 900),
            Some(Outcome::Rotated {
                old: OLD.into(),
                new: Some(NEW.into()),
                secret: "keys/u".into(),
                deactivate_from: 600
            })
        );
        // Created but never stored, or never created: no rotation to announce.
        let unstored = UserKeys {
            stored_key: Some(OLD.into()),
            ..rotated.clone()
        };
        assert_eq!(
            unannounced_outcome(&rotate, &unstored, "s", &life, 900),
            None
        );
        let first = UserKeys {
            keys: vec![key(OLD, true, 10)],
            stored_key: None,
            ..UserKeys::default()
        };
        assert_eq!(unannounced_outcome(&rotate, &first, "s", &life, 900), None);

        let deactivate = Intent::Deactivate { key: OLD.into() };
        let inactive = UserKeys {
            keys: vec![key(OLD, false, 10), key(NEW, true, 500)],
            deactivated_at: vec![(OLD.into(), 700)],
            ..UserKeys::default()
        };
        assert_eq!(
            unannounced_outcome(&deactivate, &inactive, "s", &life, 900),
            Some(Outcome::Deactivated {
                old: OLD.into(),
                delete_from: 1_700
            })
        );
        let unrecorded = UserKeys {
            deactivated_at: vec![],
            ..inactive.clone()
        };
        assert_eq!(
            unannounced_outcome(&deactivate, &unrecorded, "s", &life, 900),
            Some(Outcome::Deactivated {
                old: OLD.into(),
                delete_from: 1_900
            })
        );
        assert_eq!(
            unannounced_outcome(&deactivate, &rotated, "s", &life, 900),
            None
        );

        let record = Intent::RecordDeactivation { key: OLD.into() };
        assert_eq!(
            unannounced_outcome(&record, &inactive, "s", &life, 900),
            Some(Outcome::DeactivationRecorded {
                key: OLD.into(),
                delete_from: 1_700
            })
        );
        assert_eq!(
            unannounced_outcome(&record, &unrecorded, "s", &life, 900),
            None
        );

        let after_delete = UserKeys {
            keys: vec![key(NEW, true, 500)],
            ..UserKeys::default()
        };
        assert_eq!(
            unannounced_outcome(
                &Intent::Delete { key: OLD.into() },
                &after_delete,
                "s",
                &life,
                900
            ),
            Some(Outcome::Deleted { key: OLD.into() })
        );
        assert_eq!(
            unannounced_outcome(
                &Intent::Delete { key: OLD.into() },
                &inactive,
                "s",
                &life,
                900
            ),
            None
        );
        assert_eq!(
            unannounced_outcome(
                &Intent::DeleteUnstored { key: NEW.into() },
                &first,
                "s",
                &life,
                900
            ),
            Some(Outcome::UnstoredKeyDeleted { key: NEW.into() })
        );
        assert_eq!(
            unannounced_outcome(
                &Intent::DeleteUnstored { key: NEW.into() },
                &rotated,
                "s",
                &life,
                900
            ),
            None
        );
    }

    #[test]
    fn the_records_an_announcement_keeps_are_its_actions_own() {
        assert_eq!(
            Intent::Rotate { old: OLD.into() }.records_kept_until_announced(),
            [ROTATOR_RECORD]
        );
        assert_eq!(
            Intent::Delete { key: OLD.into() }.records_kept_until_announced(),
            [format!("{DEACTIVATED_TAG_PREFIX}{OLD}")]
        );
        assert!(Intent::Deactivate { key: OLD.into() }
            .records_kept_until_announced()
            .is_empty());
        assert_eq!(
            Intent::Rotate { old: OLD.into() }.announcement_id("alice"),
            "alice/rotate/…0001"
        );
    }
}
