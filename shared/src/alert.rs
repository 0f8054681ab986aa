//! One alert type for every function, published to one SNS topic.
//!
//! A person reads the subject and the text (email, chat, SMS); a machine (SQS, Lambda, HTTPS)
//! receives a JSON document and can filter on message attributes (`severity`, `kind`,
//! `resource`, `source`, plus any the alert adds). Rendering is a pure function; publishing is a
//! thin adapter behind [`AlertSink`]. An alert never carries a secret value: callers put
//! identifiers, never credentials, into it.

use crate::config::{ConfigError, Env};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;

/// SNS requires subjects under 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// SNS allows at most 10 message attributes per message.
pub const MAX_ATTRIBUTES: usize = 10;
/// SNS takes at most 256 KiB a message, and a message carries the summary once per protocol
/// (nine copies, seven of them JSON-escaped): a longer summary is cut, at a line, to this.
pub const MAX_SUMMARY_CHARS: usize = 16_000;
/// Version of the JSON document machines receive; bumped on an incompatible change.
pub const SCHEMA: &str = "credential-alert/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something happened as planned (a rotation, a renewal); nothing to do.
    Info,
    /// A person should act soon.
    Warning,
    /// Something failed; it will not fix itself.
    Error,
    /// An outage is imminent or has begun.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// Where the runbook lives, from the repository's root: each kind has a heading there, and each
/// alert links to it (`runbook`).
pub const RUNBOOK_PAGE: &str = "docs/alerts.md";

/// Declares [`Kind`], its names and the list of all of them from one table, so that the list the
/// runbook is checked against is the enum itself.
macro_rules! alert_kinds {
    ($($variant:ident => $name:literal,)+) => {
        /// What happened, as a stable machine name (`kind`): what subscribers filter on and the
        /// anchor of the alert's runbook entry. Every alert any function sends has one of these.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant,)+
        }

        impl Kind {
            /// Every kind, in the order of the table.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }
        }
    };
}

alert_kinds! {
    RotationFailed => "rotation-failed",
    CertificateExpiring => "certificate-expiring",
    CertificateExpired => "certificate-expired",
    CertificateRevoked => "certificate-revoked",
    CertificateRenewalActionRequired => "certificate-renewal-action-required",
    CertificateAvailable => "certificate-available",
    AcmHealthEvent => "acm-health-event",
    CertificateScanDigest => "certificate-scan-digest",
    AccessKeyRotated => "access-key-rotated",
    AccessKeyDeactivated => "access-key-deactivated",
    AccessKeyDeleted => "access-key-deleted",
    AccessKeyDeactivationRecorded => "access-key-deactivation-recorded",
    AccessKeyUnstoredDeleted => "access-key-unstored-deleted",
    AccessKeyStillInUse => "access-key-still-in-use",
    AccessKeyRotationWaiting => "access-key-rotation-waiting",
    AccessKeyRotationRefused => "access-key-rotation-refused",
    AccessKeyRotationFailed => "access-key-rotation-failed",
    AccessKeyActionUpcoming => "access-key-action-upcoming",
    AccessKeyOverdue => "access-key-overdue",
    AccessKeySweepSummary => "access-key-sweep-summary",
    KmsRotationDisabled => "kms-rotation-disabled",
    KmsRotationPeriodTooLong => "kms-rotation-period-too-long",
    KmsRotationOverdue => "kms-rotation-overdue",
    KmsMaterialAwaitingRotation => "kms-material-awaiting-rotation",
    KmsMaterialExpiring => "kms-material-expiring",
    KmsKeyUnusable => "kms-key-unusable",
    KmsKeyDeletionInUse => "kms-key-deletion-in-use",
    KmsKeyPendingDeletion => "kms-key-pending-deletion",
    KmsKeyScanDigest => "kms-key-scan-digest",
    KmsKeyRotated => "kms-key-rotated",
    KmsMaterialExpired => "kms-material-expired",
    KmsKeyDeleted => "kms-key-deleted",
    KmsRotationDisabledByCall => "kms-rotation-disabled-by-call",
    KmsDeletionScheduledByCall => "kms-deletion-scheduled-by-call",
    KmsKeyDisabledByCall => "kms-key-disabled-by-call",
    KmsRotationPeriodSetTooLong => "kms-rotation-period-set-too-long",
    KmsAliasRotated => "kms-alias-rotated",
    OrganizationAccountFailed => "organization-account-failed",
    OrganizationRunFailed => "organization-run-failed",
    OrganizationRunDigest => "organization-run-digest",
}

impl Kind {
    /// The kind's runbook entry: [`RUNBOOK_PAGE`] and the kind as its anchor.
    pub fn runbook(self) -> String {
        format!("{RUNBOOK_PAGE}#{}", self.as_str())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Kind> for &str {
    fn eq(&self, other: &Kind) -> bool {
        *self == other.as_str()
    }
}

/// One labelled fact about the alert's subject, shown to people as `label: value` and to machines
/// as `"key": "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

impl Fact {
    pub fn new(key: &'static str, label: &'static str, value: impl Into<String>) -> Self {
        Self {
            key,
            label,
            value: value.into(),
        }
    }
}

/// The facts whose value is known, in order.
pub fn facts(pairs: &[(&'static str, &'static str, Option<String>)]) -> Vec<Fact> {
    pairs
        .iter()
        .filter_map(|(key, label, value)| value.clone().map(|v| Fact::new(key, label, v)))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub severity: Severity,
    /// What happened, e.g. [`Kind::RotationFailed`].
    pub kind: Kind,
    /// The ARN (or id) of the thing the alert is about.
    pub resource: String,
    /// One line for a person, e.g. "Rotation of secret prod/api-token failed at setSecret".
    pub title: String,
    pub summary: String,
    /// What a person must do, if anything.
    pub action: Option<String>,
    pub facts: Vec<Fact>,
    /// Extra filterable attributes (e.g. `owner`).
    pub attributes: BTreeMap<&'static str, String>,
    /// The function that raised it.
    pub source: String,
    /// RFC 3339, UTC.
    pub time: String,
}

/// What goes to SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAlert {
    pub subject: String,
    /// The `Message` for `MessageStructure=json`: a text per protocol.
    pub message: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Serialize)]
struct AlertDocument<'a> {
    schema: &'static str,
    severity: Severity,
    kind: Kind,
    /// The kind's entry in the alert runbook, e.g. `docs/alerts.md#rotation-failed`.
    runbook: String,
    resource: &'a str,
    title: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    details: serde_json::Map<String, serde_json::Value>,
    attributes: &'a BTreeMap<&'static str, String>,
    source: &'a str,
    time: &'a str,
}

#[derive(Serialize)]
struct ProtocolMessages<'a> {
    default: &'a str,
    email: &'a str,
    sms: &'a str,
    sqs: &'a str,
    lambda: &'a str,
    http: &'a str,
    https: &'a str,
    #[serde(rename = "email-json")]
    email_json: &'a str,
    firehose: &'a str,
}

impl Alert {
    /// `[SEVERITY] title`, cut to SNS's limit on a character boundary, ASCII only, one line.
    pub fn subject(&self) -> String {
        let full = format!(
            "[{}] {}",
            self.severity.as_str().to_ascii_uppercase(),
            self.title
        );
        let ascii: String = full
            .chars()
            .flat_map(|c| match c {
                c if c.is_ascii_graphic() || c == ' ' => vec![c],
                '…' => vec!['.', '.', '.'],
                '‘' | '’' => vec!['\''],
                '“' | '”' => vec!['"'],
                '–' | '—' => vec!['-'],
                c if c.is_whitespace() => vec![' '],
                _ => vec!['?'],
            })
            .collect();
        if ascii.len() <= MAX_SUBJECT_CHARS {
            return ascii;
        }
        format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3])
    }

    /// The summary within [`MAX_SUMMARY_CHARS`], cut after the last whole line that fits.
    pub fn bounded_summary(&self) -> std::borrow::Cow<'_, str> {
        if self.summary.chars().count() <= MAX_SUMMARY_CHARS {
            return std::borrow::Cow::Borrowed(&self.summary);
        }
        let mut kept = String::new();
        let mut left_out = 0;
        for line in self.summary.lines() {
            if left_out == 0
                && kept.chars().count() + line.chars().count() < MAX_SUMMARY_CHARS - 100
            {
                kept.push_str(line);
                kept.push('\n');
            } else if kept.is_empty() {
                // One line longer than the budget: keep its start.
                kept.push_str(&crate::text::excerpt(line, MAX_SUMMARY_CHARS - 100));
                kept.push('\n');
            } else {
                left_out += 1;
            }
        }
        kept.push_str(&format!(
            "... {left_out} more line(s) left out: the message would exceed SNS's size limit."
        ));
        std::borrow::Cow::Owned(kept)
    }

    /// The text a person reads.
    pub fn text(&self) -> String {
        let mut text = format!("{}\n\n{}\n", self.title, self.bounded_summary());
        if let Some(action) = &self.action {
            text.push_str(&format!("\nWhat to do: {action}\n"));
        }
        text.push_str("\nDetails\n");
        text.push_str(&format!("  Severity: {}\n", self.severity.as_str()));
        for fact in &self.facts {
            text.push_str(&format!("  {}: {}\n", fact.label, fact.value));
        }
        text.push_str(&format!(
            "  Resource: {}\n  Raised by: {}\n  Time: {}\n  Runbook: {}\n",
            self.resource,
            self.source,
            self.time,
            self.kind.runbook()
        ));
        text
    }

    /// The JSON document a machine reads.
    pub fn document(&self) -> String {
        let details = self
            .facts
            .iter()
            .map(|fact| {
                (
                    fact.key.to_owned(),
                    serde_json::Value::String(fact.value.clone()),
                )
            })
            .collect();
        let summary = self.bounded_summary();
        let document = AlertDocument {
            schema: SCHEMA,
            severity: self.severity,
            kind: self.kind,
            runbook: self.kind.runbook(),
            resource: &self.resource,
            title: &self.title,
            summary: &summary,
            action: self.action.as_deref(),
            details,
            attributes: &self.attributes,
            source: &self.source,
            time: &self.time,
        };
        json_string(&document)
    }

    /// The message attributes subscribers filter on. The standard four come first; extras are
    /// kept while SNS's limit allows, and empty values are dropped (SNS rejects them).
    pub fn message_attributes(&self) -> Vec<(String, String)> {
        let standard = [
            ("severity", self.severity.as_str().to_owned()),
            ("kind", self.kind.as_str().to_owned()),
            ("resource", self.resource.clone()),
            ("source", self.source.clone()),
        ];
        standard
            .into_iter()
            .chain(self.attributes.iter().map(|(k, v)| (*k, v.clone())))
            .filter(|(_, value)| !value.is_empty())
            .take(MAX_ATTRIBUTES)
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    pub fn render(&self) -> RenderedAlert {
        let subject = self.subject();
        let text = self.text();
        let document = self.document();
        let messages = ProtocolMessages {
            default: &text,
            email: &text,
            sms: &subject,
            sqs: &document,
            lambda: &document,
            http: &document,
            https: &document,
            email_json: &document,
            firehose: &document,
        };
        let message = json_string(&messages);
        RenderedAlert {
            subject,
            message,
            attributes: self.message_attributes(),
        }
    }
}

/// Serialising these plain structs (strings and maps with string keys) cannot fail.
fn json_string(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|error| format!("{{\"error\":\"alert serialisation failed: {error}\"}}"))
}

#[derive(Debug, thiserror::Error)]
#[error("publishing alert {kind} for {resource} failed: {message}")]
pub struct AlertError {
    pub kind: Kind,
    pub resource: String,
    pub message: String,
}

/// Where alerts go. Production: [`SnsAlerts`].
pub trait AlertSink: Send + Sync {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), AlertError>> + Send;
}

/// Some alerts of a batch could not be published: the invocation must fail, so the function's
/// error alarm tells someone.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{failed} of {total} alerts could not be published; the first error: {first}")]
pub struct UnpublishedAlerts {
    pub failed: usize,
    pub total: usize,
    pub first: String,
}

/// What publishing a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub sent: usize,
    failures: Vec<String>,
}

impl Published {
    /// Two batches' outcome as one.
    pub fn and(mut self, other: Published) -> Published {
        self.sent += other.sent;
        self.failures.extend(other.failures);
        self
    }

    pub fn into_result(self) -> Result<(), UnpublishedAlerts> {
        match self.failures.first() {
            None => Ok(()),
            Some(first) => Err(UnpublishedAlerts {
                failed: self.failures.len(),
                total: self.sent + self.failures.len(),
                first: first.clone(),
            }),
        }
    }
}

/// Publishes every alert, going on after a failure (a broken alert must not hide the others).
pub async fn publish_all(sink: &impl AlertSink, alerts: &[Alert]) -> Published {
    let mut failures = Vec::new();
    for alert in alerts {
        if let Err(error) = sink.publish(alert).await {
            tracing::error!(%error, "alert not published");
            failures.push(error.to_string());
        }
    }
    Published {
        sent: alerts.len() - failures.len(),
        failures,
    }
}

/// `ALERT_TOPIC_ARN`: the SNS topic every alert is published to. Required: a failure nobody is
/// told about is the defect this project exists to fix.
pub fn topic_arn_from_env(env: &Env) -> Result<String, ConfigError> {
    env.arn("ALERT_TOPIC_ARN", "sns")
}

pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, alert: &Alert) -> Result<(), AlertError> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let rendered = alert.render();
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(rendered.subject)
            .message_structure("json")
            .message(rendered.message);
        for (name, value) in rendered.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|error| AlertError {
                    kind: alert.kind,
                    resource: alert.resource.clone(),
                    message: error.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        request.send().await.map_err(|error| AlertError {
            kind: alert.kind,
            resource: alert.resource.clone(),
            message: aws_sdk_sns::error::DisplayErrorContext(&error).to_string(),
        })?;
        tracing::info!(kind = alert.kind.as_str(), severity = alert.severity.as_str(), resource = %alert.resource, "alert published");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Alert {
        Alert {
            severity: Severity::Error,
            kind: Kind::RotationFailed,
            resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf".into(),
            title: "Rotation of secret prod/api failed at setSecret".into(),
            summary: "The pending value was not accepted.".into(),
            action: Some("Fix it, then rotate again.".into()),
            facts: vec![
                Fact::new("step", "Step", "setSecret"),
                Fact::new("error", "Error", "boom"),
            ],
            attributes: BTreeMap::from([("owner", "team-a".to_owned())]),
            source: "generic-secret-rotation".into(),
            time: "2026-11-22T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_long_summary_is_cut_at_a_line_so_the_message_fits_sns() {
        let mut alert = sample();
        alert.summary = (0..2000)
            .map(|i| format!("- key {i:04}: {}", "x".repeat(200)))
            .collect::<Vec<_>>()
            .join("\n");
        let rendered = alert.render();
        assert!(
            rendered.message.len() < 256 * 1024,
            "{}",
            rendered.message.len()
        );
        let summary = alert.bounded_summary();
        assert!(summary.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(summary.starts_with("- key 0000: "));
        assert!(
            summary.ends_with("more line(s) left out: the message would exceed SNS's size limit.")
        );
        alert.summary = "y".repeat(100_000);
        assert!(alert.bounded_summary().starts_with("yyy"));
        alert.summary = "short".into();
        assert_eq!(alert.bounded_summary(), "short");
    }

    #[test]
    fn subject_is_tagged_with_severity_and_fits_sns() {
        assert_eq!(
            sample().subject(),
            "[ERROR] Rotation of secret prod/api failed at setSecret"
        );
        let long = Alert {
            title: "é".repeat(30) + &"x".repeat(200) + "\nnext",
            ..sample()
        };
        let subject = long.subject();
        assert!(subject.len() <= MAX_SUBJECT_CHARS, "{}", subject.len());
        assert!(subject.is_ascii() && !subject.contains('\n') && subject.ends_with("..."));
        assert!(subject.starts_with("[ERROR] ??"));
        let typographic = Alert {
            title: "Key …ABCD of “alice” — rotated".into(),
            ..sample()
        };
        assert_eq!(
            typographic.subject(),
            "[ERROR] Key ...ABCD of \"alice\" - rotated"
        );
    }

    #[test]
    fn text_reads_well_for_a_person() {
        let text = sample().text();
        assert!(text.starts_with("Rotation of secret prod/api failed at setSecret\n\nThe pending value was not accepted.\n"));
        assert!(text.contains("\nWhat to do: Fix it, then rotate again.\n"));
        assert!(text.contains("  Step: setSecret\n  Error: boom\n"));
        assert!(
            text.contains("  Raised by: generic-secret-rotation\n  Time: 2026-11-22T10:00:00Z\n  Runbook: docs/alerts.md#rotation-failed\n")
        );
    }

    #[test]
    fn every_kind_has_a_distinct_name_that_serves_as_its_runbook_anchor() {
        let names: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            let name = kind.as_str();
            // A Markdown heading's anchor is the heading lower-cased with spaces as dashes: a
            // lower-case, dashed name is its own anchor.
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name}"
            );
            assert_eq!(kind.runbook(), format!("docs/alerts.md#{name}"));
        }
    }

    #[test]
    fn each_protocol_gets_its_form() {
        let rendered = sample().render();
        let messages: serde_json::Value = serde_json::from_str(&rendered.message).unwrap();
        assert_eq!(messages["default"], messages["email"]);
        assert_eq!(messages["sms"], rendered.subject.as_str());
        let document: serde_json::Value =
            serde_json::from_str(messages["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(document["schema"], SCHEMA);
        assert_eq!(document["severity"], "error");
        assert_eq!(document["kind"], "rotation-failed");
        assert_eq!(document["runbook"], "docs/alerts.md#rotation-failed");
        assert_eq!(document["details"]["step"], "setSecret");
        assert_eq!(document["attributes"]["owner"], "team-a");
        assert_eq!(messages["lambda"], messages["sqs"]);
        assert_eq!(messages["https"], messages["sqs"]);
    }

    #[test]
    fn attributes_are_filterable_and_within_limits() {
        let attributes = sample().message_attributes();
        assert_eq!(
            attributes,
            vec![
                ("severity".to_owned(), "error".to_owned()),
                ("kind".to_owned(), "rotation-failed".to_owned()),
                ("resource".to_owned(), sample().resource),
                ("source".to_owned(), "generic-secret-rotation".to_owned()),
                ("owner".to_owned(), "team-a".to_owned()),
            ]
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let crowded = Alert {
            attributes: names
                .iter()
                .map(|n| (*n, "v".to_owned()))
                .chain([("empty", String::new())])
                .collect(),
            ..sample()
        };
        let attributes = crowded.message_attributes();
        assert_eq!(attributes.len(), MAX_ATTRIBUTES);
        assert!(attributes.iter().all(|(_, v)| !v.is_empty()));
    }

    #[test]
    fn a_batch_with_failures_is_an_error_naming_the_first() {
        let published = Published {
            sent: 2,
            failures: vec!["throttled".into(), "denied".into()],
        };
        assert_eq!(
            published.into_result(),
            Err(UnpublishedAlerts {
                failed: 2,
                total: 4,
                first: "throttled".into()
            })
        );
        assert_eq!(
            Published {
                sent: 3,
                failures: vec![]
            }
            .into_result(),
            Ok(())
        );
    }

    #[test]
    fn the_topic_arn_is_required_and_checked() {
        assert!(topic_arn_from_env(&Env::default()).is_err());
        let env = Env::from_pairs([(
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts",
        )]);
        assert_eq!(
            topic_arn_from_env(&env).unwrap(),
            "arn:aws:sns:us-east-1:123456789012:alerts"
        );
    }
}
