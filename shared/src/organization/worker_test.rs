use super::member::{MemberAccess, MemberRole, RoleAssumer};
use super::work::{Cause, ItemResult, Outcome, Tally, WorkItem};
use super::worker::{is_sqs_event, AccountJob, ScopedAlerts, WorkQueues, Worker, WorkerSettings};
use super::JobName;
use crate::alert::Kind;
use crate::alert::{Alert, AlertError, AlertSink, Severity};
use aws_config::{Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Role assumption refused for account 999999999999, as STS refuses a missing role.
struct Roles;

impl RoleAssumer for Roles {
    async fn assume(
        &self,
        role_arn: &str,
        _: Option<&str>,
        _: &str,
    ) -> Result<Credentials, String> {
        if role_arn.contains("999999999999") {
            return Err(
                "service error: AccessDenied: User is not authorized to perform: sts:AssumeRole"
                    .into(),
            );
        }
        Ok(Credentials::new(
            role_arn,
            "member-secret",
            None,
            None,
            "test",
        ))
    }
}

/// Scans nothing: alerts once, and fails with AccessDenied in region ap-south-2.
struct Job;

impl AccountJob for Job {
    const JOB: JobName = JobName::CertificateScan;

    async fn run<A: AlertSink>(
        &self,
        member: &SdkConfig,
        _: &WorkItem,
        alerts: ScopedAlerts<'_, A>,
        _: SystemTime,
        _: &str,
    ) -> Result<Tally, String> {
        if member.region().map(|r| r.as_ref()) == Some("ap-south-2") {
            return Err(
                "AccessDeniedException: not authorized to perform acm:ListCertificates".into(),
            );
        }
        alerts.publish(&alert()).await.map_err(|e| e.to_string())?;
        Ok(Tally {
            counts: [("healthy".to_owned(), 2)].into_iter().collect(),
            alerts_sent: 1,
        })
    }
}

fn alert() -> Alert {
    Alert {
        severity: Severity::Warning,
        kind: Kind::CertificateExpiring,
        resource: "arn:aws:acm:eu-west-1:111111111111:certificate/1".into(),
        title: "t".into(),
        summary: "s".into(),
        action: None,
        facts: Vec::new(),
        attributes: Default::default(),
        source: "f".into(),
        time: "2026-12-02T00:00:00Z".into(),
    }
}

#[derive(Default)]
struct Recorded {
    alerts: Mutex<Vec<Alert>>,
    delays: Mutex<Vec<(String, Duration)>>,
    results: Mutex<Vec<ItemResult>>,
}

impl AlertSink for &Recorded {
    async fn publish(&self, alert: &Alert) -> Result<(), AlertError> {
        self.alerts.lock().unwrap().push(alert.clone());
        Ok(())
    }
}

impl WorkQueues for &Recorded {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), String> {
        self.delays
            .lock()
            .unwrap()
            .push((receipt_handle.to_owned(), delay));
        Ok(())
    }
    async fn report(&self, result: &ItemResult) -> Result<(), String> {
        self.results.lock().unwrap().push(result.clone());
        Ok(())
    }
}

fn worker(recorded: &Recorded) -> Worker<Job, Roles, &Recorded, &Recorded> {
    let settings = WorkerSettings {
        role_name: "credential-rotation-member".into(),
        external_id: None,
        work_queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/work".into(),
        results_queue_url: None,
        max_attempts: 3,
        retry_base: Duration::from_secs(60),
    };
    let hub = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .build();
    let access = MemberAccess::new(
        Roles,
        MemberRole {
            name: settings.role_name.clone(),
            external_id: None,
        },
        "worker",
        hub,
    );
    Worker::new(Job, access, recorded, recorded, settings)
}

fn record(id: &str, body: Value, receive_count: u32) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("receipt-{id}"),
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
        "awsRegion": "us-east-1"
    })
}

fn item(account: &str, region: &str) -> Value {
    json!({"run": "run-1", "job": "acm-certificate-expiry", "account": account, "region": region})
}

fn event(records: Vec<Value>) -> Value {
    json!({"Records": records})
}

#[tokio::test]
async fn a_done_item_alerts_with_account_and_region_and_reports_its_tally() {
    let recorded = Recorded::default();
    let answer = worker(&recorded)
        .handle(
            event(vec![record("m1", item("111111111111", "eu-west-1"), 1)]),
            "worker",
        )
        .await
        .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let alerts = recorded.alerts.lock().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].title, "[111111111111 eu-west-1] t");
    let attributes = alerts[0].message_attributes();
    assert!(
        attributes.contains(&("account".into(), "111111111111".into())),
        "{attributes:?}"
    );
    assert!(
        attributes.contains(&("region".into(), "eu-west-1".into())),
        "{attributes:?}"
    );
    let results = recorded.results.lock().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].item.account, "111111111111");
    assert!(
        matches!(&results[0].outcome, Outcome::Done(tally) if tally.counts.get("healthy") == Some(&2))
    );
    assert!(recorded.delays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failure_before_the_last_attempt_backs_off_silently_and_the_last_alerts_and_reports() {
    let recorded = Recorded::default();
    let worker = worker(&recorded);
    let refused = item("999999999999", "eu-west-1");
    let answer = worker
        .handle(event(vec![record("m1", refused.clone(), 2)]), "worker")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    let delays = recorded.delays.lock().unwrap().clone();
    assert_eq!(delays.len(), 1);
    assert_eq!(delays[0].0, "receipt-m1");
    assert!(
        (Duration::from_secs(120)..=Duration::from_secs(150)).contains(&delays[0].1),
        "{delays:?}"
    );
    assert!(recorded.alerts.lock().unwrap().is_empty());
    assert!(recorded.results.lock().unwrap().is_empty());

    let answer = worker
        .handle(event(vec![record("m1", refused, 3)]), "worker")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    assert_eq!(
        recorded.delays.lock().unwrap()[1..],
        [("receipt-m1".to_owned(), Duration::ZERO)],
        "after the last attempt the item is visible at once, for the dead-letter queue"
    );
    let alerts = recorded.alerts.lock().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "organization-account-failed");
    assert!(alerts[0]
        .message_attributes()
        .contains(&("account".into(), "999999999999".into())));
    assert!(alerts[0]
        .message_attributes()
        .contains(&("cause".into(), "role-not-assumable".into())));
    let results = recorded.results.lock().unwrap();
    assert!(matches!(
        results[0].outcome,
        Outcome::Failed {
            cause: Cause::RoleNotAssumable,
            attempts: 3
        }
    ));
}

#[tokio::test]
async fn one_account_failing_never_fails_another_in_the_same_batch() {
    let recorded = Recorded::default();
    let answer = worker(&recorded)
        .handle(
            event(vec![
                record("denied", item("111111111111", "ap-south-2"), 3),
                record("fine", item("222222222222", "eu-west-1"), 1),
                record("garbage", json!("not a work item"), 1),
                record("bad-region", item("111111111111", "eu-west-1.example.com"), 1),
                record("other-job", json!({"run": "r", "job": "kms-key-rotation", "account": "111111111111", "region": "eu-west-1"}), 1),
            ]),
            "worker",
        )
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "denied"}, {"itemIdentifier": "garbage"}, {"itemIdentifier": "bad-region"}, {"itemIdentifier": "other-job"}]})
    );
    let results = recorded.results.lock().unwrap();
    let outcomes: Vec<(&str, bool)> = results
        .iter()
        .map(|r| {
            (
                r.item.account.as_str(),
                matches!(r.outcome, Outcome::Done(_)),
            )
        })
        .collect();
    assert_eq!(outcomes, [("111111111111", false), ("222222222222", true)]);
    assert!(matches!(
        results[0].outcome,
        Outcome::Failed {
            cause: Cause::AccessDenied,
            ..
        }
    ));
}

#[tokio::test]
async fn events_that_are_not_sqs_are_recognised_and_malformed_ones_refused() {
    assert!(is_sqs_event(&event(vec![record(
        "m",
        item("111111111111", "eu-west-1"),
        1
    )])));
    assert!(!is_sqs_event(
        &json!({"source": "aws.events", "detail-type": "Scheduled Event"})
    ));
    assert!(!is_sqs_event(
        &json!({"Records": [{"eventSource": "aws:sns"}]})
    ));
    let recorded = Recorded::default();
    assert!(worker(&recorded)
        .handle(json!({"Records": "no"}), "worker")
        .await
        .is_err());
}
