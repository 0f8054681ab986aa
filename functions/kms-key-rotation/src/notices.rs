//! The alerts a scan and a manual rotation send. Pure.
//!
//! A scan sends one alert per key only for what threatens an outage (imported material expiring on
//! a threshold day, a key that cannot be used, a key pending deletion), and one digest that lists
//! every finding, every rotation enabled (or, in dry run, that would be), and every exemption
//! with its reason.

use shared::alert::Kind;
use shared::alert::{facts, Alert, Fact, Severity};
use shared::kms::policy::{Assessment, Enforcement, Exemption, Finding, KeyClass};
use shared::kms::KeyView;
use std::collections::BTreeMap;

/// Lines of each list of the digest (findings, changes, exemptions); the rest are counted, and
/// every key's evidence record is in the log.
pub const MAX_DIGEST_LINES: usize = 30;

/// The first lines of a list, and a count of the rest.
fn capped(mut lines: Vec<String>, what: &str) -> Vec<String> {
    if lines.len() > MAX_DIGEST_LINES {
        let more = lines.len() - MAX_DIGEST_LINES;
        lines.truncate(MAX_DIGEST_LINES);
        lines.push(format!(
            "- and {more} more {what}; every key's evidence record is in the function's log"
        ));
    }
    lines
}

fn in_days(days: i64) -> String {
    match days {
        d if d < 0 => "has expired".into(),
        0 => "expires today".into(),
        1 => "expires in 1 day".into(),
        d => format!("expires in {d} days"),
    }
}

/// `alias/name (key id)`, or the key id alone when it has no alias.
fn named(key: &ListedKey) -> String {
    match key.aliases.first() {
        Some(alias) => format!("{alias} ({})", key.id),
        None => key.id.clone(),
    }
}

fn base(severity: Severity, kind: Kind, resource: &str, source: &str, now: i64) -> Alert {
    let mut alert = Alert {
        severity,
        kind,
        resource: resource.to_owned(),
        title: String::new(),
        summary: String::new(),
        action: None,
        facts: Vec::new(),
        attributes: BTreeMap::new(),
        source: source.to_owned(),
        time: shared::time::rfc3339_epoch(now),
    };
    alert.attributes.insert("trigger", "scan".into());
    alert
}

/// The alert of one finding that alerts today.
pub fn key_alert(key: &ListedKey, finding: &Finding, source: &str, now: i64) -> Alert {
    let name = key.display_name();
    let mut alert = base(finding.severity(), finding.kind(), &key.arn, source, now);
    alert.title = match finding {
        Finding::MaterialExpiring {
            valid_to,
            days_left,
            ..
        } => format!(
            "KMS key {name}: imported key material {} ({})",
            in_days(*days_left),
            shared::time::date(*valid_to)
        ),
        Finding::KeyUnusable { state } => format!("KMS key {name} is unusable ({state})"),
        Finding::PendingDeletionInUse { .. } => {
            format!("KMS key {name} is pending deletion but still in use")
        }
        Finding::PendingDeletion {
            deletion_date: Some(date),
        } => format!(
            "KMS key {name} will be deleted on {}",
            shared::time::date(*date)
        ),
        _ => format!("KMS key {name}: {}", finding.kind()),
    };
    alert.summary = format!("Key {name} ({}) {}.", key.id, finding.explanation());
    alert.action = Some(finding.action(&key.id));
    let days_left = match finding {
        Finding::MaterialExpiring { days_left, .. } => Some(days_left.to_string()),
        Finding::PendingDeletionInUse {
            deletion_date: Some(date),
            ..
        }
        | Finding::PendingDeletion {
            deletion_date: Some(date),
        } => Some(shared::expiry::days_left(*date, now).to_string()),
        _ => None,
    };
    alert.facts = facts(&[
        ("key_id", "Key id", Some(key.id.clone())),
        (
            "aliases",
            "Aliases",
            (!key.aliases.is_empty()).then(|| key.aliases.join(", ")),
        ),
        ("class", "Class", Some(key.class.label().to_owned())),
        ("state", "State", Some(key.state.clone())),
        ("days_left", "Days left", days_left.clone()),
        (
            "material_valid_to",
            "Material valid to",
            key.material_valid_to.clone(),
        ),
        ("deletion_date", "Deletion date", key.deletion_date.clone()),
        ("grants", "Grants", key.grants.map(|g| g.to_string())),
    ]);
    alert
        .attributes
        .insert("class", key.class.label().to_owned());
    if let Some(days) = days_left {
        alert.attributes.insert("days_left", days);
    }
    alert
}

/// What the scan did about one key's enforcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforced {
    Enabled {
        period_days: u32,
    },
    WouldEnable {
        period_days: u32,
    },
    /// Beyond the scan's cap of changes; the next scan continues.
    Deferred,
    Failed {
        error: String,
    },
}

/// What the digest counts of every key assessed, listed or not.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyTally {
    pub assessed: usize,
    pub compliant: usize,
    /// Keys whose state could be read only in part: unproven, so never counted compliant.
    pub partly_read: usize,
}

impl KeyTally {
    pub fn add(&mut self, assessment: &Assessment) {
        self.assessed += 1;
        self.compliant += usize::from(assessment.evidence.compliant);
        self.partly_read += usize::from(!assessment.evidence.complete);
    }
}

/// Whether the digest or the enforcement needs a key once it is tallied: a key with a finding,
/// an exemption or rotation to enforce. A scan keeps only these, whatever the account's size.
pub fn listed_in_digest(assessment: &Assessment) -> bool {
    !assessment.findings.is_empty()
        || assessment.exemption.is_some()
        || assessment.enforcement.is_some()
}

/// What the digest, the enforcement, the alerts and the findings read of a key the scan keeps.
/// Not the key's whole view and assessment: a scan may keep thousands (a large account's keys
/// without rotation), and the pair takes about 930 bytes before its strings.
#[derive(Debug, Clone)]
pub struct ListedKey {
    pub id: String,
    pub arn: String,
    pub state: String,
    pub aliases: Vec<String>,
    pub grants: Option<usize>,
    pub class: KeyClass,
    pub findings: Vec<Finding>,
    pub exemption: Option<Exemption>,
    pub enforcement: Option<Enforcement>,
    /// As in the key's evidence record (RFC 3339).
    pub material_valid_to: Option<String>,
    pub deletion_date: Option<String>,
}

impl ListedKey {
    pub fn new(view: KeyView, assessment: Assessment) -> Self {
        let KeyView {
            key,
            aliases,
            grants,
            ..
        } = view;
        let Assessment {
            class,
            findings,
            exemption,
            enforcement,
            evidence,
            ..
        } = assessment;
        Self {
            id: key.id,
            arn: key.arn,
            state: key.state,
            aliases,
            grants,
            class,
            findings,
            exemption,
            enforcement,
            material_valid_to: evidence.material_valid_to,
            deletion_date: evidence.deletion_date,
        }
    }

    /// The name a person recognises: its first alias, else its id.
    pub fn display_name(&self) -> &str {
        self.aliases.first().map_or(&self.id, String::as_str)
    }

    pub fn severity(&self) -> Option<Severity> {
        self.findings.iter().map(Finding::severity).max()
    }
}

pub struct DigestInput<'a> {
    /// The keys [`listed_in_digest`] keeps (more are ignored where they have nothing to list).
    pub listed: &'a [ListedKey],
    pub tally: KeyTally,
    pub enforced: &'a BTreeMap<String, Enforced>,
    pub counts: &'a BTreeMap<&'static str, usize>,
    pub region: &'a str,
    pub dry_run: bool,
    /// Keys left out of the scan (described with an error).
    pub unread: usize,
}

/// The scan's one digest: every finding, change and exemption.
pub fn digest_alert(input: &DigestInput<'_>, source: &str, now: i64) -> Alert {
    let mut with_findings: Vec<&ListedKey> = input
        .listed
        .iter()
        .filter(|key| !key.findings.is_empty())
        .collect();
    with_findings.sort_by_key(|key| (std::cmp::Reverse(key.severity()), key.id.clone()));
    let partly_read = input.tally.partly_read;
    let severity = with_findings
        .iter()
        .filter_map(|key| key.severity())
        .max()
        .unwrap_or(Severity::Info)
        .max(if input.unread > 0 || partly_read > 0 {
            Severity::Warning
        } else {
            Severity::Info
        });

    let lines = capped(
        with_findings
            .iter()
            .map(|key| {
                let findings: Vec<String> = key.findings.iter().map(Finding::explanation).collect();
                format!(
                    "- {} [{}]: {}",
                    named(key),
                    key.severity().unwrap_or(Severity::Info).as_str(),
                    findings.join("; ")
                )
            })
            .collect(),
        "key(s)",
    );

    let mut changes = Vec::new();
    for (key_id, enforced) in input.enforced {
        changes.push(match enforced {
            Enforced::Enabled { period_days } => {
                format!("- {key_id}: automatic rotation enabled, every {period_days} days")
            }
            Enforced::WouldEnable { period_days } => format!(
                "- {key_id}: would enable automatic rotation every {period_days} days (dry run)"
            ),
            Enforced::Deferred => format!("- {key_id}: rotation to be enabled by the next scan (this scan's cap of changes was reached)"),
            Enforced::Failed { error } => format!("- {key_id}: enabling rotation FAILED: {error}"),
        });
    }
    let changes = capped(changes, "change(s)");
    let exempt: Vec<String> = input
        .listed
        .iter()
        .filter_map(|key| {
            let exemption = key.exemption.as_ref()?;
            Some(format!(
                "- {}: exempt, reason: {}",
                named(key),
                exemption.reason.as_deref().unwrap_or("none given")
            ))
        })
        .collect();
    let exempt = capped(exempt, "exempt key(s)");

    let keys = input.tally.assessed + input.unread;
    let attention = keys.saturating_sub(input.tally.compliant);
    let mut alert = base(severity, Kind::KmsKeyScanDigest, input.region, source, now);
    alert.title = if attention == 0 {
        format!(
            "KMS key scan of {}: all {keys} key(s) compliant",
            input.region
        )
    } else {
        format!(
            "KMS key scan of {}: {attention} of {keys} key(s) need attention",
            input.region
        )
    };
    let mut summary = String::new();
    if lines.is_empty() {
        summary.push_str("No key is outside its cryptoperiod, close to losing imported material, or pending deletion.\n");
    } else {
        summary.push_str(&format!("Findings:\n{}\n", lines.join("\n")));
    }
    if !changes.is_empty() {
        summary.push_str(&format!(
            "\nRotation enforcement:\n{}\n",
            changes.join("\n")
        ));
    }
    if !exempt.is_empty() {
        summary.push_str(&format!("\nExempt keys:\n{}\n", exempt.join("\n")));
    }
    if input.unread > 0 {
        summary.push_str(&format!(
            "\n{} key(s) could not be read and are missing from this scan; see the function's log.\n",
            input.unread
        ));
    }
    if partly_read > 0 {
        summary.push_str(&format!(
            "\n{partly_read} key(s) could be read only in part (rotation status, history or grants); their evidence is incomplete and they are not counted compliant; see the function's log.\n"
        ));
    }
    alert.summary = summary.trim_end().to_owned();
    if attention > 0 {
        alert.action = Some(if input.dry_run {
            "Act on each key above; the separate alerts for expiring material and deletions say what to do. Set DRY_RUN=false to let the scan enable rotation where it is off or too long.".into()
        } else {
            "Act on each key above; the separate alerts for expiring material and deletions say what to do.".into()
        });
    }
    alert.facts = input
        .counts
        .iter()
        .map(|(class, n)| Fact::new(class, class, n.to_string()))
        .collect();
    alert
        .attributes
        .insert("dry_run", input.dry_run.to_string());
    alert
}

/// The alert of a completed manual rotation: the alias moved to a new key.
pub struct AliasRotated<'a> {
    pub alias: &'a str,
    pub previous_key: &'a str,
    pub new_key: &'a str,
    pub new_key_arn: &'a str,
    pub resumed: bool,
    /// The copied key policy names the previous key: it may need editing.
    pub policy_names_previous_key: bool,
}

pub fn alias_rotated_alert(rotated: &AliasRotated<'_>, source: &str, now: i64) -> Alert {
    let mut alert = base(
        Severity::Info,
        Kind::KmsAliasRotated,
        rotated.new_key_arn,
        source,
        now,
    );
    alert.attributes.insert("trigger", "request".into());
    alert.title = format!("KMS alias {} now points at a new key", rotated.alias);
    let mut summary = format!(
        "{} was moved from key {} to its successor {}, made with the same key spec, usage, description, key policy and tags. The previous key stays enabled so that it can still decrypt and verify what it protected; it is tagged with its successor and nothing was scheduled for deletion.",
        rotated.alias, rotated.previous_key, rotated.new_key
    );
    if rotated.resumed {
        summary.push_str(" This completed a rotation that an earlier attempt had begun.");
    }
    alert.summary = summary;
    let mut action = "Callers that name the alias use the new key from now on. Asymmetric decrypt and verify, and HMAC verification, must name the key that made the ciphertext, signature or MAC, not the alias. Anything that stores the previous key's id or ARN, and grants on it, still use the previous key.".to_owned();
    if rotated.policy_names_previous_key {
        action.push_str(" The copied key policy names the previous key: review it on the new key.");
    }
    alert.action = Some(action);
    alert.facts = vec![
        Fact::new("alias", "Alias", rotated.alias),
        Fact::new("previous_key_id", "Previous key", rotated.previous_key),
        Fact::new("new_key_id", "New key", rotated.new_key),
    ];
    alert
}

/// The counts by class and by enforcement outcome of a scan.
pub fn enforced_counts(enforced: &BTreeMap<String, Enforced>) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for outcome in enforced.values() {
        let name = match outcome {
            Enforced::Enabled { .. } => "rotation_enabled",
            Enforced::WouldEnable { .. } => "rotation_would_enable",
            Enforced::Deferred => "rotation_deferred",
            Enforced::Failed { .. } => "rotation_enable_failed",
        };
        *counts.entry(name).or_default() += 1;
    }
    counts
}

pub fn enforcement_period(enforcement: Enforcement) -> u32 {
    match enforcement {
        Enforcement::EnableRotation { period } => period.days(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Env;
    use shared::kms::policy::{assess, Policy};
    use shared::kms::{KeyMetadata, RotationStatus};

    const NOW: i64 = 1_795_348_800;
    const DAY: i64 = 86_400;

    fn view(id: &str, state: &str, alias: Option<&str>) -> KeyView {
        KeyView {
            key: KeyMetadata {
                id: id.into(),
                arn: format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"),
                state: state.into(),
                origin: "AWS_KMS".into(),
                spec: "SYMMETRIC_DEFAULT".into(),
                usage: "ENCRYPT_DECRYPT".into(),
                created: NOW - 10 * DAY,
                deletion_date: (state == "PendingDeletion").then_some(NOW + 6 * DAY + 60),
                ..KeyMetadata::default()
            },
            aliases: alias.map(|a| vec![a.to_owned()]).unwrap_or_default(),
            rotation: Some(RotationStatus::default()),
            grants: Some(0),
            ..KeyView::default()
        }
    }

    fn digest(
        keys: &[(KeyView, Assessment)],
        enforced: &BTreeMap<String, Enforced>,
        dry_run: bool,
        unread: usize,
    ) -> Alert {
        let counts = BTreeMap::from([("automatic", keys.len())]);
        let mut tally = KeyTally::default();
        for (_, assessment) in keys {
            tally.add(assessment);
        }
        let listed: Vec<ListedKey> = keys
            .iter()
            .cloned()
            .map(|(v, a)| ListedKey::new(v, a))
            .collect();
        digest_alert(
            &DigestInput {
                listed: &listed,
                tally,
                enforced,
                counts: &counts,
                region: "eu-west-1",
                dry_run,
                unread,
            },
            "kms-key-rotation",
            NOW,
        )
    }

    fn assessed(views: Vec<KeyView>) -> Vec<(KeyView, Assessment)> {
        let policy = Policy::from_env(&Env::default()).unwrap();
        views
            .into_iter()
            .map(|v| {
                let a = assess(&v, &policy, NOW);
                (v, a)
            })
            .collect()
    }

    #[test]
    fn a_key_pending_deletion_in_use_pages_with_the_date_and_what_to_do() {
        let keys = assessed(vec![view("k-1", "PendingDeletion", Some("alias/orders"))]);
        let key = keys
            .into_iter()
            .next()
            .map(|(v, a)| ListedKey::new(v, a))
            .unwrap();
        let alert = key_alert(&key, &key.findings[0], "kms-key-rotation", NOW);
        assert_eq!(
            alert.subject(),
            "[CRITICAL] KMS key alias/orders is pending deletion but still in use"
        );
        assert_eq!(alert.attributes["days_left"], "6");
        assert_eq!(alert.attributes["trigger"], "scan");
        assert!(alert
            .action
            .as_deref()
            .unwrap()
            .contains("cancel-key-deletion --key-id k-1"));
        assert!(alert.text().contains("Aliases: alias/orders"));
    }

    #[test]
    fn the_digest_lists_findings_changes_and_exemptions() {
        let mut exempt = view("k-3", "Enabled", None);
        exempt.tags.insert("key-rotation".into(), "exempt".into());
        exempt
            .tags
            .insert("key-rotation-exempt-reason".into(), "ticket CHG-7".into());
        let keys = assessed(vec![
            view("k-1", "Enabled", Some("alias/app")),
            view("k-2", "Enabled", None),
            exempt,
        ]);
        let enforced = BTreeMap::from([
            ("k-1".to_owned(), Enforced::Enabled { period_days: 365 }),
            (
                "k-2".to_owned(),
                Enforced::Failed {
                    error: "AccessDenied".into(),
                },
            ),
        ]);
        let digest = digest(&keys, &enforced, false, 1);
        assert_eq!(
            digest.subject(),
            "[WARNING] KMS key scan of eu-west-1: 3 of 4 key(s) need attention"
        );
        assert!(digest
            .summary
            .contains("- alias/app (k-1) [warning]: has automatic rotation turned off"));
        assert!(digest
            .summary
            .contains("- k-1: automatic rotation enabled, every 365 days"));
        assert!(digest
            .summary
            .contains("- k-2: enabling rotation FAILED: AccessDenied"));
        assert!(digest
            .summary
            .contains("- k-3: exempt, reason: ticket CHG-7"));
        assert!(digest.summary.contains("1 key(s) could not be read"));
        assert_eq!(digest.attributes["dry_run"], "false");
    }

    #[test]
    fn an_all_compliant_scan_still_sends_its_digest_as_info() {
        let mut compliant = view("k-1", "Enabled", None);
        compliant.rotation = Some(RotationStatus {
            enabled: true,
            period_days: Some(365),
            ..RotationStatus::default()
        });
        let keys = assessed(vec![compliant]);
        let digest = digest(&keys, &BTreeMap::new(), true, 0);
        assert_eq!(digest.severity, Severity::Info);
        assert_eq!(
            digest.title,
            "KMS key scan of eu-west-1: all 1 key(s) compliant"
        );
        assert_eq!(digest.action, None);
    }

    #[test]
    fn digests_of_large_accounts_stay_readable() {
        let views: Vec<KeyView> = (0..MAX_DIGEST_LINES + 7)
            .map(|i| view(&format!("k-{i:03}"), "Enabled", None))
            .collect();
        let keys = assessed(views);
        let digest = digest(&keys, &BTreeMap::new(), true, 0);
        assert_eq!(
            digest
                .summary
                .lines()
                .filter(|l| l.starts_with("- k-"))
                .count(),
            MAX_DIGEST_LINES
        );
        assert!(digest
            .summary
            .contains("- and 7 more key(s); every key's evidence record"));
        assert!(digest.action.unwrap().contains("DRY_RUN=false"));
    }
}
