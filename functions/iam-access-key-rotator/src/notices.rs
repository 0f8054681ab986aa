//! What the rotator tells people: one alert per action, one warning ahead of each action, one
//! summary per run. Pure. Key ids appear by their last four characters only.

use crate::announce::Intent;
use shared::alert::Kind;
use shared::alert::{Alert, Fact, Severity};
use shared::findings::{Problem, ResourceType};
use shared::iam::key_suffix;
use shared::iam::policy::{Blocked, Lifecycle, Upcoming};
use shared::iam::AccessKey;
use shared::time::{date, rfc3339_epoch};
use std::collections::BTreeMap;

/// What happened to one user in this run (or, in a dry run, what would have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exempt,
    NoKeys,
    Unchanged,
    /// Another run rotated the user at the same moment.
    SkippedConcurrentRun,
    Rotated {
        old: String,
        new: Option<String>,
        secret: String,
        deactivate_from: i64,
    },
    Deactivated {
        old: String,
        delete_from: i64,
    },
    Deleted {
        key: String,
    },
    DeactivationRecorded {
        key: String,
        delete_from: i64,
    },
    /// A key an interrupted rotation created and never stored was deleted.
    UnstoredKeyDeleted {
        key: String,
    },
    Blocked {
        blocked: Blocked,
        secret: String,
    },
    Failed {
        action: &'static str,
        error: String,
    },
}

impl Outcome {
    /// Whether this outcome is a change made (or, in a dry run, one that would be made): what a
    /// person must be told of exactly once.
    pub fn took_effect(&self) -> bool {
        matches!(
            self,
            Self::Rotated { .. }
                | Self::Deactivated { .. }
                | Self::Deleted { .. }
                | Self::DeactivationRecorded { .. }
                | Self::UnstoredKeyDeleted { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Exempt => "exempt",
            Self::NoKeys => "no-keys",
            Self::Unchanged => "unchanged",
            Self::SkippedConcurrentRun => "skipped",
            Self::Rotated { .. } => "rotated",
            Self::Deactivated { .. } => "deactivated",
            Self::Deleted { .. } => "deleted",
            Self::DeactivationRecorded { .. } => "deactivation-recorded",
            Self::UnstoredKeyDeleted { .. } => "unstored-key-deleted",
            Self::Blocked { .. } => "blocked",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Who the alert is about and how the run was started.
pub struct Context<'a> {
    pub user: &'a str,
    pub user_arn: &'a str,
    pub owner: Option<&'a str>,
    pub forced: bool,
    pub dry_run: bool,
    pub source: &'a str,
    pub now: i64,
}

impl Context<'_> {
    fn alert(
        &self,
        severity: Severity,
        kind: Kind,
        title: String,
        summary: String,
        action: Option<String>,
        facts: Vec<Fact>,
    ) -> Alert {
        let title = if self.dry_run {
            format!("[DRY RUN] {title}")
        } else {
            title
        };
        let mut all_facts = vec![Fact::new("user", "IAM user", self.user)];
        if let Some(owner) = self.owner {
            all_facts.push(Fact::new("owner", "Owner", owner));
        }
        all_facts.extend(facts);
        if self.dry_run {
            all_facts.push(Fact::new("dry_run", "Dry run", "yes: nothing was changed"));
        }
        let mut attributes = BTreeMap::from([
            ("user", self.user.to_owned()),
            ("dry_run", self.dry_run.to_string()),
            (
                "trigger",
                if self.forced { "force" } else { "schedule" }.to_owned(),
            ),
        ]);
        if let Some(owner) = self.owner {
            attributes.insert("owner", owner.to_owned());
        }
        Alert {
            severity,
            kind,
            resource: self.user_arn.to_owned(),
            title,
            summary,
            action,
            facts: all_facts,
            attributes,
            source: self.source.to_owned(),
            time: rfc3339_epoch(self.now),
        }
    }
}

fn would(dry_run: bool, done: &str, planned: &str) -> String {
    if dry_run {
        planned.to_owned()
    } else {
        done.to_owned()
    }
}

/// The alert for what happened to a user; `None` for the quiet outcomes.
pub fn outcome_alert(context: &Context<'_>, outcome: &Outcome) -> Option<Alert> {
    let user = context.user;
    let dry = context.dry_run;
    Some(match outcome {
        Outcome::Exempt | Outcome::NoKeys | Outcome::Unchanged | Outcome::SkippedConcurrentRun => return None,
        Outcome::Rotated { old, new, secret, deactivate_from } => {
            let new_key = new.as_deref().map_or_else(|| "a new key".to_owned(), |n| format!("new key {}", key_suffix(n)));
            context.alert(
                Severity::Info,
                Kind::AccessKeyRotated,
                format!("Access key of {user} {}", would(dry, "rotated", "would be rotated")),
                format!(
                    "{} stored in secret {secret} before anything else. The old key {} stays active; it will be deactivated from {} if nothing uses it after the new key was created.",
                    would(dry, &format!("The {new_key} was created and"), "A new key would be created and"),
                    key_suffix(old),
                    date(*deactivate_from)
                ),
                Some(format!("Switch every application using {user}'s key to the value in secret {secret} before {}.", date(*deactivate_from))),
                vec![
                    Fact::new("old_key", "Old key", key_suffix(old)),
                    Fact::new("new_key", "New key", new.as_deref().map_or_else(|| "(not created: dry run)".to_owned(), key_suffix)),
                    Fact::new("secret", "Secret", secret.clone()),
                    Fact::new("next_step", "Next step", format!("deactivate the old key from {}", rfc3339_epoch(*deactivate_from))),
                ],
            )
        }
        Outcome::Deactivated { old, delete_from } => context.alert(
            Severity::Info,
            Kind::AccessKeyDeactivated,
            format!("Old access key {} of {user} {}", key_suffix(old), would(dry, "deactivated", "would be deactivated")),
            format!("Nothing used it since the new key was created. It will be deleted from {}.", date(*delete_from)),
            Some(format!("If something fails to authenticate as {user}, reactivate the key ending {} in IAM before {} and move that application to the new key.", key_suffix(old), date(*delete_from))),
            vec![Fact::new("key", "Key", key_suffix(old)), Fact::new("next_step", "Next step", format!("delete it from {}", rfc3339_epoch(*delete_from)))],
        ),
        Outcome::Deleted { key } => context.alert(
            Severity::Info,
            Kind::AccessKeyDeleted,
            format!("Inactive access key {} of {user} {}", key_suffix(key), would(dry, "deleted", "would be deleted")),
            "Its recovery grace period is over; the user's active key is unaffected.".into(),
            None,
            vec![Fact::new("key", "Key", key_suffix(key))],
        ),
        Outcome::DeactivationRecorded { key, delete_from } => context.alert(
            Severity::Info,
            Kind::AccessKeyDeactivationRecorded,
            format!("Inactive access key {} of {user} will be deleted from {}", key_suffix(key), date(*delete_from)),
            "It was deactivated outside this rotator (or a run stopped before recording it); its recovery grace period starts now.".into(),
            None,
            vec![Fact::new("key", "Key", key_suffix(key))],
        ),
        Outcome::UnstoredKeyDeleted { key } => context.alert(
            Severity::Warning,
            Kind::AccessKeyUnstoredDeleted,
            format!("Unusable access key {} of {user} {}", key_suffix(key), would(dry, "deleted", "would be deleted")),
            "An earlier run created it and was interrupted before storing it, so its secret exists nowhere and nothing can use it. The user's stored key is unaffected; the rotation happens again on the next run.".into(),
            None,
            vec![Fact::new("key", "Key", key_suffix(key))],
        ),
        Outcome::Blocked { blocked, secret } => match blocked {
            Blocked::OldKeyInUse { old, new, last_use } => context.alert(
                Severity::Warning,
                Kind::AccessKeyStillInUse,
                format!("Old access key {} of {user} is still in use", key_suffix(old)),
                format!(
                    "It was last used on {} by {} in {}, after the new key {} was created, so it stays active. This warning repeats every run until nothing uses it.",
                    rfc3339_epoch(last_use.at),
                    last_use.service.as_deref().unwrap_or("an unknown service"),
                    last_use.region.as_deref().unwrap_or("an unknown region"),
                    key_suffix(new)
                ),
                Some(format!("Find what still uses the key ending {} (CloudTrail shows calls by access key) and switch it to the value in secret {secret}.", key_suffix(old))),
                vec![
                    Fact::new("old_key", "Old key", key_suffix(old)),
                    Fact::new("new_key", "New key", key_suffix(new)),
                    Fact::new("last_used", "Last used", rfc3339_epoch(last_use.at)),
                    Fact::new("last_used_by", "Used by", format!("{} in {}", last_use.service.as_deref().unwrap_or("?"), last_use.region.as_deref().unwrap_or("?"))),
                ],
            ),
            Blocked::SlotHeldByInactiveKey { key, free_at } => context.alert(
                Severity::Warning,
                Kind::AccessKeyRotationWaiting,
                format!("Rotation of {user}'s access key is waiting for a free slot"),
                format!("A user has at most two keys, and the inactive key {} is within its recovery grace period until {}. It will be deleted then and the rotation will follow.", key_suffix(key), date(*free_at)),
                None,
                vec![Fact::new("inactive_key", "Inactive key", key_suffix(key))],
            ),
            Blocked::TwoActiveKeys => context.alert(
                Severity::Warning,
                Kind::AccessKeyRotationRefused,
                format!("Forced rotation of {user} refused: the user has two active keys"),
                "A third key cannot exist, and an active key is never deleted to make room. The older key is deactivated once the newer one has passed its install grace period.".into(),
                Some("Wait for the running rotation to finish, or deactivate the key no longer used, then force again.".into()),
                vec![],
            ),
        },
        Outcome::Failed { action, error } => context.alert(
            Severity::Error,
            Kind::AccessKeyRotationFailed,
            format!("Access key {action} failed for {user}"),
            format!("{error}. A new key that is not stored is deleted (now, or by the next run when it could not be told whether it was stored); the stored key keeps working."),
            Some("Fix the cause; the next run tries again.".into()),
            vec![Fact::new("action", "Action", *action), Fact::new("error", "Error", error.clone())],
        ),
    })
}

/// An action's alert sent by a later run than the one that took it (which stopped before it
/// could announce it): said so, with the same `announcement` attribute as an on-time one.
pub fn announced_late(mut alert: Alert, intent: &Intent, user: &str) -> Alert {
    alert
        .attributes
        .insert("announcement", intent.announcement_id(user));
    alert.attributes.insert("late", "true".into());
    alert.facts.push(Fact::new(
        "announced_late",
        "Announced late",
        "yes: the run that did this stopped before it could say so",
    ));
    alert
}

/// The warning ahead of an action.
pub fn upcoming_alert(context: &Context<'_>, upcoming: &Upcoming) -> Alert {
    let verb = match upcoming.action {
        "rotate" => "rotated",
        "deactivate" => "deactivated",
        _ => "deleted",
    };
    context.alert(
        Severity::Warning,
        Kind::AccessKeyActionUpcoming,
        format!("Access key {} of {} will be {verb} on {}", key_suffix(&upcoming.key), context.user, date(upcoming.due)),
        format!("The rotator will {} it from {}.", upcoming.action, rfc3339_epoch(upcoming.due)),
        Some("Nothing, if applications read the key from its secret; otherwise prepare to switch them.".into()),
        vec![Fact::new("key", "Key", key_suffix(&upcoming.key)), Fact::new("action", "Action", upcoming.action)],
    )
}

/// One summary per run.
pub fn summary_alert(
    counts: &BTreeMap<&'static str, usize>,
    users: usize,
    dry_run: bool,
    forced: bool,
    scope: &str,
    source: &str,
    now: i64,
) -> Alert {
    let failed = counts.get("failed").copied().unwrap_or(0);
    let count = |label: &str| counts.get(label).copied().unwrap_or(0);
    let title = format!(
        "{}Access key {}: {users} users, {} rotated, {} deactivated, {} deleted{}",
        if dry_run { "[DRY RUN] " } else { "" },
        if forced { "forced rotation" } else { "sweep" },
        count("rotated"),
        count("deactivated"),
        count("deleted"),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    Alert {
        severity: if failed > 0 {
            Severity::Error
        } else {
            Severity::Info
        },
        kind: Kind::AccessKeySweepSummary,
        resource: scope.to_owned(),
        summary: format!(
            "Users seen: {users}. Per outcome: {}.",
            counts
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        title,
        action: (failed > 0).then(|| "See the failure alerts sent in this run.".to_owned()),
        facts: counts
            .iter()
            .map(|(k, v)| Fact::new(k, k, v.to_string()))
            .collect(),
        attributes: BTreeMap::from([("dry_run", dry_run.to_string())]),
        source: source.to_owned(),
        time: rfc3339_epoch(now),
    }
}

/// The Security Hub problems of one user after this run: each active key past the rotation age
/// that the run neither replaced nor retired (a dry run, a blocked or failed rotation). A key
/// whose successor is still within its install grace is on schedule, not a problem; an exempt
/// user has none.
pub fn key_problems(
    context: &Context<'_>,
    keys: &[AccessKey],
    outcome: &Outcome,
    lifecycle: &Lifecycle,
) -> Vec<Problem> {
    let now = context.now;
    let retired_now = |id: &str| match outcome {
        _ if context.dry_run => false,
        Outcome::Rotated { old, .. } | Outcome::Deactivated { old, .. } => old == id,
        Outcome::Deleted { key } => key == id,
        _ => false,
    };
    if matches!(outcome, Outcome::Exempt) {
        return Vec::new();
    }
    let successor_installing = |key: &AccessKey| {
        keys.iter().any(|other| {
            other.active
                && other.created > key.created
                && now - other.created < lifecycle.install_grace + lifecycle.run_interval
        })
    };
    let (severity, remedy) = match outcome {
        Outcome::Failed { .. } | Outcome::Blocked { .. } => (
            if matches!(outcome, Outcome::Failed { .. }) {
                Severity::Error
            } else {
                Severity::Warning
            },
            outcome_alert(context, outcome).and_then(|alert| alert.action),
        ),
        _ if context.dry_run => (
            Severity::Warning,
            Some(format!(
                "The rotator runs as a dry run: set DRY_RUN=false to let it rotate the key, or rotate it now with {{\"force_users\": [\"{}\"]}}.",
                context.user
            )),
        ),
        _ => (
            Severity::Warning,
            Some("The rotator rotates it on its next run; if it does not, read the function's logs for this user.".to_owned()),
        ),
    };
    keys.iter()
        .filter(|key| key.active && now - key.created >= lifecycle.rotation_age)
        .filter(|key| !retired_now(&key.id) && !successor_installing(key))
        .map(|key| {
            let age_days = shared::expiry::days_left(now, key.created);
            Problem {
                kind: Kind::AccessKeyOverdue,
                resource_type: ResourceType::IamAccessKey,
                resource_id: key.id.clone(),
                title: format!(
                    "Access key {} of IAM user {} is {age_days} days old",
                    key_suffix(&key.id),
                    context.user
                ),
                description: format!(
                    "The key is active and older than the rotation age of {} days. This run: {}.",
                    lifecycle.rotation_age / 86_400,
                    outcome.label()
                ),
                severity,
                remediation: remedy.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::iam::KeyUse;

    const NOW: i64 = 1_795_348_800;

    fn context(dry_run: bool) -> Context<'static> {
        Context {
            user: "alice",
            user_arn: "arn:aws:iam::123456789012:user/alice",
            owner: Some("team-a"),
            forced: false,
            dry_run,
            source: "rotator",
            now: NOW,
        }
    }

    #[test]
    fn a_rotation_alert_names_the_secret_and_the_next_step_without_full_key_ids() {
        let outcome = Outcome::Rotated {
            old: "AKIAOLDKEY000000ABCD".into(),
            new: Some("AKIANEWKEY000000WXYZ".into()),
            secret: "iam-user-keys/alice".into(),
            deactivate_from: NOW + 7 * 86_400,
        };
        let alert = outcome_alert(&context(false), &outcome).unwrap();
        assert_eq!(alert.kind, "access-key-rotated");
        assert_eq!(alert.title, "Access key of alice rotated");
        assert!(alert
            .summary
            .contains("new key …WXYZ was created and stored in secret iam-user-keys/alice"));
        assert!(alert.summary.contains("deactivated from 2026-11-29"));
        let rendered = alert.render();
        assert!(
            !rendered.message.contains("AKIANEWKEY") && !rendered.message.contains("AKIAOLDKEY")
        );
        assert_eq!(alert.attributes["owner"], "team-a");
        assert_eq!(alert.attributes["user"], "alice");
        assert_eq!(alert.attributes["trigger"], "schedule");
    }

    #[test]
    fn dry_run_alerts_say_what_would_happen() {
        let outcome = Outcome::Rotated {
            old: "AKIAOLD".into(),
            new: None,
            secret: "s".into(),
            deactivate_from: NOW,
        };
        let alert = outcome_alert(&context(true), &outcome).unwrap();
        assert_eq!(
            alert.title,
            "[DRY RUN] Access key of alice would be rotated"
        );
        assert_eq!(alert.attributes["dry_run"], "true");
        assert!(alert.facts.iter().any(|f| f.key == "dry_run"));
    }

    #[test]
    fn a_key_still_in_use_warns_with_service_and_region() {
        let blocked = Blocked::OldKeyInUse {
            old: "AKIAOLD0000000001234".into(),
            new: "AKIANEW0000000005678".into(),
            last_use: KeyUse {
                at: NOW - 3600,
                service: Some("s3".into()),
                region: Some("eu-west-1".into()),
            },
        };
        let alert = outcome_alert(
            &context(false),
            &Outcome::Blocked {
                blocked,
                secret: "iam-user-keys/alice".into(),
            },
        )
        .unwrap();
        assert_eq!(
            (alert.severity, alert.kind.as_str()),
            (Severity::Warning, "access-key-still-in-use")
        );
        assert!(alert.summary.contains("by s3 in eu-west-1"));
        assert!(alert.action.unwrap().contains("iam-user-keys/alice"));
    }

    #[test]
    fn quiet_outcomes_send_nothing_and_the_summary_counts_everything() {
        for quiet in [
            Outcome::Exempt,
            Outcome::NoKeys,
            Outcome::Unchanged,
            Outcome::SkippedConcurrentRun,
        ] {
            assert_eq!(outcome_alert(&context(false), &quiet), None);
        }
        let counts = BTreeMap::from([("rotated", 2), ("unchanged", 5), ("failed", 1)]);
        let summary = summary_alert(&counts, 8, false, false, "iam-users:/", "rotator", NOW);
        assert_eq!(
            summary.title,
            "Access key sweep: 8 users, 2 rotated, 0 deactivated, 0 deleted, 1 failed"
        );
        assert_eq!(summary.severity, Severity::Error);
        let upcoming = upcoming_alert(
            &context(false),
            &Upcoming {
                action: "rotate",
                key: "AKIAXXXX00000000QRST".into(),
                due: NOW + 7 * 86_400,
            },
        );
        assert_eq!(
            upcoming.title,
            "Access key …QRST of alice will be rotated on 2026-11-29"
        );
    }

    fn key(id: &str, active: bool, age_days: i64) -> AccessKey {
        AccessKey {
            id: id.into(),
            active,
            created: NOW - age_days * 86_400,
            last_used: None,
        }
    }

    fn overdue(
        context: &Context<'_>,
        keys: &[AccessKey],
        outcome: &Outcome,
    ) -> Vec<(String, Severity)> {
        key_problems(context, keys, outcome, &Lifecycle::default())
            .into_iter()
            .map(|p| (p.resource_id, p.severity))
            .collect()
    }

    #[test]
    fn keys_past_the_rotation_age_that_the_run_did_not_replace_are_findings() {
        let old = key("AKIAXXXX0000000OLD01", true, 120);
        let young = key("AKIAXXXX000000YOUNG1", true, 3);
        let rotated = Outcome::Rotated {
            old: old.id.clone(),
            new: Some("AKIAXXXX0000000NEW01".into()),
            secret: "iam-user-keys/alice".into(),
            deactivate_from: NOW + 7 * 86_400,
        };
        let warning = vec![(old.id.clone(), Severity::Warning)];
        // Rotated for real: on schedule. In a dry run: still old.
        assert_eq!(
            overdue(&context(false), std::slice::from_ref(&old), &rotated),
            []
        );
        assert_eq!(
            overdue(&context(true), std::slice::from_ref(&old), &rotated),
            warning
        );
        // A successor within its install grace: on schedule; past it and still active: overdue.
        assert_eq!(
            overdue(
                &context(false),
                &[old.clone(), young.clone()],
                &Outcome::Unchanged
            ),
            []
        );
        let settled = key("AKIAXXXX00000SETTLED", true, 30);
        assert_eq!(
            overdue(
                &context(false),
                &[old.clone(), settled],
                &Outcome::Unchanged
            ),
            warning
        );
        // Deactivated by this run, inactive, young or exempt: nothing.
        let deactivated = Outcome::Deactivated {
            old: old.id.clone(),
            delete_from: NOW + 7 * 86_400,
        };
        assert_eq!(
            overdue(&context(false), std::slice::from_ref(&old), &deactivated),
            []
        );
        assert_eq!(
            overdue(
                &context(false),
                &[key("AKIAXXXX00000000OFF1", false, 200)],
                &Outcome::Unchanged
            ),
            []
        );
        assert_eq!(overdue(&context(false), &[young], &Outcome::Unchanged), []);
        assert_eq!(
            overdue(
                &context(false),
                std::slice::from_ref(&old),
                &Outcome::Exempt
            ),
            []
        );
        // A failed rotation is an error, with the failure's remedy.
        let failed = Outcome::Failed {
            action: "rotation",
            error: "AccessDenied".into(),
        };
        assert_eq!(
            overdue(&context(false), std::slice::from_ref(&old), &failed),
            [(old.id.clone(), Severity::Error)]
        );
        let problem = &key_problems(&context(false), &[old], &failed, &Lifecycle::default())[0];
        assert_eq!(problem.kind, "access-key-overdue");
        assert_eq!(problem.resource_type, ResourceType::IamAccessKey);
        assert_eq!(
            problem.title,
            "Access key …LD01 of IAM user alice is 120 days old"
        );
        assert_eq!(
            problem.remediation.as_deref(),
            Some("Fix the cause; the next run tries again.")
        );
    }
}
