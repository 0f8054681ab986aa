//! The organization digest: one alert per run, built from the messages on the results queue (the
//! run's manifest, which the enumerator sends after queueing, and each item's outcome, which the
//! workers send), once every item has reported or the deadline has passed.

use serde::{Deserialize, Serialize};
use shared::alert::Kind;
use shared::alert::{Alert, Fact, Severity};
use shared::organization::work::{ItemResult, Outcome};
use std::collections::BTreeMap;

/// What a run planned, sent to the results queue after its items were queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunManifest {
    pub run: String,
    /// Epoch seconds when the run started.
    pub started: i64,
    /// Work items queued.
    pub planned: usize,
    pub accounts: usize,
    pub inactive_accounts: usize,
}

/// A message of the results queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResultsMessage {
    Manifest { manifest: RunManifest },
    Item(ItemResult),
}

impl ResultsMessage {
    pub fn run(&self) -> &str {
        match self {
            Self::Manifest { manifest } => &manifest.run,
            Self::Item(result) => &result.item.run,
        }
    }
}

/// Whether a run's digest is due: every planned item has reported, or the deadline has passed
/// (the missing ones are then counted as such).
pub fn is_due(
    manifest: &RunManifest,
    results: &[&ItemResult],
    now: i64,
    deadline_seconds: i64,
) -> bool {
    distinct_items(results) >= manifest.planned || now >= manifest.started + deadline_seconds
}

/// SQS delivers at least once: a worker may report an item twice.
fn distinct_items(results: &[&ItemResult]) -> usize {
    results
        .iter()
        .map(|r| &r.item)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// The digest of a run: per account, each job's counts per region; the items that failed with
/// their cause; how many never reported.
pub fn digest_alert(
    manifest: &RunManifest,
    results: &[&ItemResult],
    source: &str,
    now: i64,
) -> Alert {
    // The last outcome of each item (a retried item may have reported more than once).
    let mut latest: BTreeMap<_, &ItemResult> = BTreeMap::new();
    for result in results {
        latest.insert(&result.item, *result);
    }
    let mut lines_by_account: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let (mut done, mut failed, mut alerts_sent) = (0, 0, 0);
    let mut failed_accounts = std::collections::BTreeSet::new();
    for (item, result) in &latest {
        let line = match &result.outcome {
            Outcome::Done(tally) => {
                done += 1;
                alerts_sent += tally.alerts_sent;
                let counts: Vec<String> = tally
                    .counts
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(name, n)| format!("{name} {n}"))
                    .collect();
                let counts = if counts.is_empty() {
                    "nothing found".to_owned()
                } else {
                    counts.join(", ")
                };
                format!("  {} in {}: {counts}", item.job.as_str(), item.region)
            }
            Outcome::Failed { cause, attempts } => {
                failed += 1;
                failed_accounts.insert(item.account.as_str());
                format!(
                    "  {} in {}: FAILED ({}) after {attempts} attempt(s)",
                    item.job.as_str(),
                    item.region,
                    cause.as_str()
                )
            }
        };
        lines_by_account
            .entry(item.account.as_str())
            .or_default()
            .push(line);
    }
    let missing = manifest.planned.saturating_sub(latest.len());
    let mut summary = format!(
        "Run {} covered {} active account(s) ({} inactive left out): {} of {} item(s) done, {failed} failed, {missing} without a result.",
        manifest.run, manifest.accounts, manifest.inactive_accounts, done, manifest.planned
    );
    for (account, lines) in &lines_by_account {
        summary.push_str(&format!("\n- {account}\n{}", lines.join("\n")));
    }
    let severity = if failed > 0 || missing > 0 {
        Severity::Error
    } else {
        Severity::Info
    };
    let action = (failed > 0 || missing > 0).then(|| {
        let mut action = String::new();
        if failed > 0 {
            action.push_str(&format!(
                "The failed items each sent an organization-account-failed alert with the remedy and are in their job's dead-letter queue; redrive them once fixed (accounts: {}).",
                failed_accounts.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        if missing > 0 {
            if !action.is_empty() {
                action.push(' ');
            }
            action.push_str("Items without a result were still retrying at the deadline or their result was lost; see the workers' logs and dead-letter queues.");
        }
        action
    });
    Alert {
        severity,
        kind: Kind::OrganizationRunDigest,
        resource: manifest.run.clone(),
        title: format!(
            "Organization run: {} account(s), {failed} item(s) failed, {missing} without a result",
            manifest.accounts
        ),
        summary,
        action,
        facts: vec![
            Fact::new("accounts", "Accounts", manifest.accounts.to_string()),
            Fact::new("planned", "Items planned", manifest.planned.to_string()),
            Fact::new("done", "Items done", done.to_string()),
            Fact::new("failed", "Items failed", failed.to_string()),
            Fact::new("missing", "Items without a result", missing.to_string()),
            Fact::new(
                "alerts_sent",
                "Alerts sent by the jobs",
                alerts_sent.to_string(),
            ),
        ],
        attributes: Default::default(),
        source: source.to_owned(),
        time: shared::time::rfc3339_epoch(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::organization::work::{Cause, Tally, WorkItem};
    use shared::organization::JobName;

    fn result(account: &str, region: &str, job: JobName, outcome: Outcome) -> ItemResult {
        ItemResult {
            item: WorkItem {
                run: "run-1".into(),
                job,
                account: account.into(),
                region: region.into(),
            },
            outcome,
        }
    }

    fn done(counts: &[(&str, usize)], alerts_sent: usize) -> Outcome {
        Outcome::Done(Tally {
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            alerts_sent,
        })
    }

    fn manifest(planned: usize) -> RunManifest {
        RunManifest {
            run: "run-1".into(),
            started: 1_000,
            planned,
            accounts: 2,
            inactive_accounts: 1,
        }
    }

    #[test]
    fn the_digest_lists_each_account_its_jobs_counts_and_failures_exactly() {
        let results = [
            result(
                "222222222222",
                "eu-west-1",
                JobName::CertificateScan,
                Outcome::Failed {
                    cause: Cause::RoleNotAssumable,
                    attempts: 3,
                },
            ),
            result(
                "111111111111",
                "us-east-1",
                JobName::CertificateScan,
                done(&[("expiring", 1), ("healthy", 2), ("expired", 0)], 2),
            ),
            result("111111111111", "us-east-1", JobName::KeySweep, done(&[], 1)),
            // Reported twice (at-least-once delivery): counted once.
            result("111111111111", "us-east-1", JobName::KeySweep, done(&[], 1)),
        ];
        let view: Vec<&ItemResult> = results.iter().collect();
        let alert = digest_alert(&manifest(4), &view, "enumerator", 0);
        assert_eq!(alert.kind, "organization-run-digest");
        assert_eq!(alert.severity, Severity::Error);
        assert_eq!(
            alert.title,
            "Organization run: 2 account(s), 1 item(s) failed, 1 without a result"
        );
        assert_eq!(
            alert.summary,
            "Run run-1 covered 2 active account(s) (1 inactive left out): 2 of 4 item(s) done, 1 failed, 1 without a result.\n\
             - 111111111111\n  acm-certificate-expiry in us-east-1: expiring 1, healthy 2\n  iam-access-key-rotator in us-east-1: nothing found\n\
             - 222222222222\n  acm-certificate-expiry in eu-west-1: FAILED (role-not-assumable) after 3 attempt(s)"
        );
        assert!(alert
            .action
            .as_deref()
            .is_some_and(|a| a.contains("222222222222") && a.contains("without a result")));
        let fact = |key: &str| {
            alert
                .facts
                .iter()
                .find(|f| f.key == key)
                .map(|f| f.value.as_str())
        };
        assert_eq!(
            (
                fact("done"),
                fact("failed"),
                fact("missing"),
                fact("alerts_sent")
            ),
            (Some("2"), Some("1"), Some("1"), Some("3"))
        );
    }

    #[test]
    fn a_clean_run_is_informational_and_due_once_every_item_reported_or_at_the_deadline() {
        let results = [result(
            "111111111111",
            "us-east-1",
            JobName::KmsScan,
            done(&[("compliant", 3)], 1),
        )];
        let view: Vec<&ItemResult> = results.iter().collect();
        let alert = digest_alert(&manifest(1), &view, "enumerator", 0);
        assert_eq!((alert.severity, alert.action), (Severity::Info, None));
        assert!(is_due(&manifest(1), &view, 1_000, 3_600));
        assert!(!is_due(&manifest(2), &view, 1_000, 3_600));
        assert!(
            !is_due(&manifest(2), &[view[0], view[0]], 4_599, 3_600),
            "a duplicate is not a second item"
        );
        assert!(is_due(&manifest(2), &view, 4_600, 3_600));
    }

    #[test]
    fn results_queue_messages_are_manifests_or_item_results() {
        let manifest_text = serde_json::to_string(&ResultsMessage::Manifest {
            manifest: manifest(3),
        })
        .unwrap();
        let parsed: ResultsMessage = serde_json::from_str(&manifest_text).unwrap();
        assert!(matches!(&parsed, ResultsMessage::Manifest { manifest } if manifest.planned == 3));
        let item = result("111111111111", "us-east-1", JobName::KmsScan, done(&[], 0));
        let parsed: ResultsMessage =
            serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
        assert_eq!(parsed, ResultsMessage::Item(item));
        assert_eq!(parsed.run(), "run-1");
        assert!(serde_json::from_str::<ResultsMessage>(r#"{"something":"else"}"#).is_err());
    }
}
