//! The organization mode's plain data and pure decisions: the work item a queue message carries,
//! the plan of items for a run, why an account failed, and how long to wait before trying again.

use crate::alert::Kind;
use crate::alert::{Alert, Fact, Severity};
use crate::identifiers::{self, IdentifierError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A scheduled job the organization mode fans out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobName {
    #[serde(rename = "acm-certificate-expiry")]
    CertificateScan,
    #[serde(rename = "iam-access-key-rotator")]
    KeySweep,
    #[serde(rename = "kms-key-rotation")]
    KmsScan,
}

impl JobName {
    pub const ALL: [JobName; 3] = [Self::CertificateScan, Self::KeySweep, Self::KmsScan];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CertificateScan => "acm-certificate-expiry",
            Self::KeySweep => "iam-access-key-rotator",
            Self::KmsScan => "kms-key-rotation",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|job| job.as_str() == name)
    }

    /// IAM is global: the key sweep runs once per account, in one region (where its key secrets
    /// are stored); certificates and KMS keys live in each region.
    pub fn is_regional(self) -> bool {
        !matches!(self, Self::KeySweep)
    }
}

/// One queue message: run `job` in `account` and `region`, for the run `run`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkItem {
    pub run: String,
    pub job: JobName,
    pub account: String,
    pub region: String,
}

impl WorkItem {
    /// A work queue message's item, every field read strictly (they go into role ARNs,
    /// endpoints, log lines and alerts): the error names the field and quotes it bounded.
    pub fn read(body: &str) -> Result<Self, IdentifierError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|_| IdentifierError::Invalid {
                field: "the message body".into(),
                expected: "a JSON work item",
                echo: identifiers::echo(body),
            })?;
        let field = |name: &str, expected: &'static str| {
            identifiers::text(value.get(name), name, expected).map(str::to_owned)
        };
        let job = field("job", "a job name")?;
        let item = Self {
            run: field("run", RUN_ID)?,
            job: JobName::parse(&job).ok_or_else(|| IdentifierError::Invalid {
                field: "job".into(),
                expected: "a job name",
                echo: identifiers::echo(&job),
            })?,
            account: field("account", "a 12-digit AWS account id")?,
            region: field("region", "an AWS region name")?,
        };
        item.check()?;
        Ok(item)
    }

    /// The item's identifiers are what they must be: the account, the region, and the run's id
    /// as the enumerator makes it (a time and a request id).
    pub fn check(&self) -> Result<(), IdentifierError> {
        identifiers::account_id(&self.account, "account")?;
        identifiers::region(&self.region, "region")?;
        let run_id = (1..=128).contains(&self.run.len())
            && self
                .run
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/._+-".contains(&b));
        if !run_id {
            return Err(IdentifierError::Invalid {
                field: "run".into(),
                expected: RUN_ID,
                echo: identifiers::echo(&self.run),
            });
        }
        Ok(())
    }
}

const RUN_ID: &str = "a run id";

/// An account to cover, and the regions it has enabled when that is known (`None`: not known,
/// every configured region is tried and a disabled one fails with its cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub account: String,
    pub enabled_regions: Option<Vec<String>>,
}

/// The work items of a run: every member times every job, regional jobs once per configured
/// region the member has enabled, the key sweep once, in the first configured region the member
/// has enabled (its home region, where its key secrets are kept). Sorted, without duplicates.
pub fn plan(run: &str, members: &[Member], regions: &[String], jobs: &[JobName]) -> Vec<WorkItem> {
    let mut items = Vec::new();
    for member in members {
        let enabled = |region: &String| {
            member
                .enabled_regions
                .as_ref()
                .is_none_or(|enabled| enabled.contains(region))
        };
        for &job in jobs {
            let mut job_regions: Vec<&String> = regions.iter().filter(|r| enabled(r)).collect();
            if !job.is_regional() {
                job_regions.truncate(1);
            }
            items.extend(job_regions.into_iter().map(|region| WorkItem {
                run: run.to_owned(),
                job,
                account: member.account.clone(),
                region: region.clone(),
            }));
        }
    }
    items.sort();
    items.dedup();
    items
}

/// Why an (account, region) could not be covered, for the person who must fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// `sts:AssumeRole` was refused: the member role is missing or does not trust the worker.
    RoleNotAssumable,
    /// The member role was assumed but lacks a permission the job needs.
    AccessDenied,
    /// The region is not enabled in the account (opt-in region).
    RegionDisabled,
    /// AWS kept throttling after the SDK's retries.
    Throttled,
    /// Anything else (a network failure, an unexpected answer).
    Failed,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleNotAssumable => "role-not-assumable",
            Self::AccessDenied => "access-denied",
            Self::RegionDisabled => "region-disabled",
            Self::Throttled => "throttled",
            Self::Failed => "failed",
        }
    }

    /// What a person does about it.
    pub fn remedy(self, role_name: &str) -> String {
        match self {
            Self::RoleNotAssumable => format!(
                "Deploy the member role {role_name} to this account (infra/member-role.yaml; StackSets skip the management account, which needs a stack of its own) and check that it trusts this function's role."
            ),
            Self::AccessDenied => format!(
                "Update the member role {role_name} in this account to the current infra/member-role.yaml, and check that no service control policy denies the job's actions."
            ),
            Self::RegionDisabled => "Enable the region in this account, or leave it out of ORG_REGIONS.".into(),
            Self::Throttled => "AWS throttled the job past its retries; lower the work queue's maximum concurrency, or run the job less often.".into(),
            Self::Failed => "See the error; the item is in the dead-letter queue and can be redriven once the cause is fixed.".into(),
        }
    }
}

/// Classifies an error by the AWS error codes its text carries (the SDK prints the code). The
/// role assumption is classified by the worker itself, which knows that call failed.
pub fn classify(error_text: &str, assuming_role: bool) -> Cause {
    let has = |codes: &[&str]| codes.iter().any(|code| error_text.contains(code));
    if has(&[
        "Throttling",
        "TooManyRequests",
        "RequestLimitExceeded",
        "Rate exceeded",
    ]) {
        Cause::Throttled
    } else if has(&[
        "RegionDisabled",
        "OptInRequired",
        "not enabled for this account",
    ]) {
        Cause::RegionDisabled
    } else if assuming_role {
        if has(&[
            "AccessDenied",
            "not authorized",
            "NoSuchEntity",
            "InvalidIdentityToken",
        ]) {
            Cause::RoleNotAssumable
        } else {
            Cause::Failed
        }
    } else if has(&[
        "AccessDenied",
        "UnauthorizedOperation",
        "not authorized",
        "AuthorizationError",
    ]) {
        Cause::AccessDenied
    } else if has(&["UnrecognizedClient", "InvalidClientTokenId"]) {
        // Credentials from an enabled region are refused in a region the account has not enabled.
        Cause::RegionDisabled
    } else {
        Cause::Failed
    }
}

/// How long a failed item stays invisible before its next attempt: `base` doubled per attempt
/// already made, capped at SQS's 12-hour visibility limit, plus up to a quarter more (`jitter` in
/// 0..1) so that accounts failing together do not retry together.
pub fn retry_delay(attempts_made: u32, base: Duration, jitter: f64) -> Duration {
    const MAX: Duration = Duration::from_secs(12 * 60 * 60);
    let doublings = attempts_made.saturating_sub(1).min(20);
    let delay = base.saturating_mul(1 << doublings).min(MAX);
    delay
        .saturating_add(delay.mul_f64(jitter.clamp(0.0, 1.0) / 4.0))
        .min(MAX)
}

/// The alert for an item that failed its last attempt: it names the account, the region, the
/// cause and the remedy. The error text is the SDK's (codes and messages, never a credential).
pub fn failure_alert(
    item: &WorkItem,
    cause: Cause,
    attempts: u32,
    error: &str,
    role_name: &str,
    source: &str,
    now: i64,
) -> Alert {
    Alert {
        severity: Severity::Error,
        kind: Kind::OrganizationAccountFailed,
        resource: item.account.clone(),
        // Published through the account's scoped alerts, which put the account and region first.
        title: format!("{} could not run: {}", item.job.as_str(), cause.as_str()),
        summary: format!(
            "The organization run {} could not cover account {} in {} after {attempts} attempt(s); nothing in that account and region was checked by {}. Other accounts are not affected.",
            item.run, item.account, item.region, item.job.as_str()
        ),
        action: Some(cause.remedy(role_name)),
        facts: vec![
            Fact::new("job", "Job", item.job.as_str()),
            Fact::new("cause", "Cause", cause.as_str()),
            Fact::new("attempts", "Attempts", attempts.to_string()),
            Fact::new("run", "Run", item.run.clone()),
            Fact::new("error", "Error", error.chars().take(1_000).collect::<String>()),
        ],
        attributes: [("cause", cause.as_str().to_owned())].into_iter().collect(),
        source: source.to_owned(),
        time: crate::time::rfc3339_epoch(now),
    }
}

/// What one (account, region, job) came to, sent to the results queue for the run's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    #[serde(flatten)]
    pub item: WorkItem,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The job ran.
    Done(Tally),
    /// The job failed its last attempt; the item went to the dead-letter queue.
    Failed { cause: Cause, attempts: u32 },
}

/// What a job run in one account and region reports for the digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Items per standing or outcome (certificates per standing, users per action, keys per
    /// class), as the job's own report names them.
    pub counts: BTreeMap<String, usize>,
    pub alerts_sent: usize,
}

impl Tally {
    /// From a job's report: its counts by name, and the alerts it sent.
    pub fn new<'a>(
        counts: impl IntoIterator<Item = (&'a &'static str, &'a usize)>,
        alerts_sent: usize,
    ) -> Self {
        Self {
            counts: counts
                .into_iter()
                .map(|(name, count)| ((*name).to_owned(), *count))
                .collect(),
            alerts_sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(account: &str, enabled: Option<&[&str]>) -> Member {
        Member {
            account: account.into(),
            enabled_regions: enabled.map(|r| r.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn regions() -> Vec<String> {
        vec!["eu-west-1".into(), "us-east-1".into()]
    }

    #[test]
    fn regional_jobs_cover_every_enabled_region_and_the_key_sweep_only_the_home_region() {
        let items = plan(
            "run-1",
            &[
                member("111111111111", None),
                member("222222222222", Some(&["us-east-1"])),
            ],
            &regions(),
            &[JobName::CertificateScan, JobName::KeySweep],
        );
        let summary: Vec<(&str, JobName, &str)> = items
            .iter()
            .map(|i| (i.account.as_str(), i.job, i.region.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("111111111111", JobName::CertificateScan, "eu-west-1"),
                ("111111111111", JobName::CertificateScan, "us-east-1"),
                ("222222222222", JobName::CertificateScan, "us-east-1"),
                ("111111111111", JobName::KeySweep, "eu-west-1"),
                ("222222222222", JobName::KeySweep, "us-east-1"),
            ]
        );
        assert!(items.iter().all(|i| i.run == "run-1"));
    }

    #[test]
    fn no_regions_or_no_members_plan_nothing_and_duplicates_collapse() {
        assert!(plan("r", &[member("111111111111", None)], &[], &JobName::ALL).is_empty());
        assert!(plan("r", &[], &regions(), &JobName::ALL).is_empty());
        let twice = [member("111111111111", None), member("111111111111", None)];
        assert_eq!(plan("r", &twice, &regions(), &[JobName::KmsScan]).len(), 2);
    }

    #[test]
    fn work_items_and_results_have_a_stable_wire_form() {
        let item = WorkItem {
            run: "2026-12-02T02:00:00Z".into(),
            job: JobName::KeySweep,
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let text = serde_json::to_string(&item).unwrap();
        assert_eq!(
            text,
            r#"{"run":"2026-12-02T02:00:00Z","job":"iam-access-key-rotator","account":"111111111111","region":"eu-west-1"}"#
        );
        assert_eq!(serde_json::from_str::<WorkItem>(&text).unwrap(), item);
        let failed = ItemResult {
            item: item.clone(),
            outcome: Outcome::Failed {
                cause: Cause::RoleNotAssumable,
                attempts: 3,
            },
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert!(
            text.contains(r#""outcome":"failed","cause":"role-not-assumable","attempts":3"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ItemResult>(&text).unwrap(), failed);
        assert!(serde_json::from_str::<WorkItem>(
            r#"{"run":"r","job":"rm -rf","account":"1","region":"x"}"#
        )
        .is_err());
        for job in JobName::ALL {
            assert_eq!(JobName::parse(job.as_str()), Some(job));
        }
        assert_eq!(JobName::parse("generic-secret-rotation"), None);
    }

    #[test]
    fn a_failed_item_alerts_with_the_account_region_cause_and_remedy() {
        let item = WorkItem {
            run: "run-7".into(),
            job: JobName::CertificateScan,
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let alert = failure_alert(
            &item,
            Cause::RoleNotAssumable,
            3,
            "AccessDenied: nope",
            "member",
            "enumerator",
            0,
        );
        assert_eq!(alert.kind, "organization-account-failed");
        assert_eq!(alert.severity, Severity::Error);
        assert_eq!(
            alert.title,
            "acm-certificate-expiry could not run: role-not-assumable"
        );
        assert!(alert.summary.contains("111111111111") && alert.summary.contains("eu-west-1"));
        assert!(alert
            .action
            .as_deref()
            .is_some_and(|a| a.contains("member")));
        assert_eq!(
            alert.attributes.get("cause").map(String::as_str),
            Some("role-not-assumable")
        );
        assert!(alert
            .facts
            .iter()
            .any(|f| f.key == "error" && f.value == "AccessDenied: nope"));
    }

    #[test]
    fn errors_are_classified_by_the_codes_they_carry() {
        let cases = [
            ("AccessDenied: User is not authorized to perform: sts:AssumeRole", true, Cause::RoleNotAssumable),
            ("dispatch failure: connection refused", true, Cause::Failed),
            ("ThrottlingException: Rate exceeded", true, Cause::Throttled),
            ("RegionDisabledException: STS is not activated in this region", true, Cause::RegionDisabled),
            ("AccessDeniedException: not authorized to perform acm:ListCertificates", false, Cause::AccessDenied),
            ("UnrecognizedClientException: The security token included in the request is invalid", false, Cause::RegionDisabled),
            ("TooManyRequestsException", false, Cause::Throttled),
            ("service error: InternalFailure", false, Cause::Failed),
        ];
        for (text, assuming, cause) in cases {
            assert_eq!(classify(text, assuming), cause, "{text}");
        }
        for cause in [Cause::RoleNotAssumable, Cause::AccessDenied] {
            assert!(cause
                .remedy("credential-rotation-member")
                .contains("credential-rotation-member"));
        }
    }

    #[test]
    fn retries_back_off_exponentially_with_bounded_jitter_up_to_twelve_hours() {
        let base = Duration::from_secs(60);
        assert_eq!(retry_delay(0, base, 0.0), base);
        assert_eq!(retry_delay(1, base, 0.0), base);
        assert_eq!(retry_delay(2, base, 0.0), base * 2);
        assert_eq!(retry_delay(4, base, 0.0), base * 8);
        assert_eq!(retry_delay(2, base, 1.0), base * 2 + base / 2);
        assert_eq!(retry_delay(2, base, 7.0), base * 2 + base / 2);
        assert_eq!(retry_delay(60, base, 0.5), Duration::from_secs(43_200));
    }

    #[test]
    fn work_items_are_read_strictly_field_by_field() {
        let good = serde_json::json!({"run": "2026-12-07T08:00:00Z/abc-123", "job": "kms-key-rotation", "account": "111122223333", "region": "eu-west-1"});
        let item = WorkItem::read(&good.to_string()).unwrap();
        assert_eq!(
            (item.job, item.account.as_str()),
            (JobName::KmsScan, "111122223333")
        );
        let huge = "1".repeat(1_000_000);
        for (field, value, message) in [
            (
                "account",
                serde_json::json!(huge),
                "account is not a 12-digit AWS account id",
            ),
            (
                "account",
                serde_json::json!(111122223333u64),
                "account is a number",
            ),
            ("account", serde_json::Value::Null, "account is missing"),
            (
                "region",
                serde_json::json!(["eu-west-1"]),
                "region is an array",
            ),
            (
                "region",
                serde_json::json!({"name": "eu-west-1"}),
                "region is an object",
            ),
            (
                "region",
                serde_json::json!("arn:aws:s3:::bucket"),
                "region is not an AWS region name",
            ),
            (
                "job",
                serde_json::json!("reboot-everything"),
                "job is not a job name",
            ),
            (
                "run",
                serde_json::json!("run\nwith a newline"),
                "run is not a run id",
            ),
        ] {
            let mut body = good.clone();
            body[field] = value;
            let error = WorkItem::read(&body.to_string()).unwrap_err().to_string();
            assert!(error.starts_with(message) && error.len() < 300, "{error}");
        }
        let error = WorkItem::read(&huge).unwrap_err().to_string();
        assert!(error.starts_with("the message body is not a JSON work item") && error.len() < 300);
    }
}
