//! Security Hub findings (opt-in, `SECURITY_HUB_FINDINGS`): one finding per resource and problem
//! in the AWS Security Finding Format, where security teams already work (aggregated across
//! accounts and regions, exported to their SIEM).
//!
//! Each scan owns the findings of one check in one account and region (its [`Scope`]). The plan
//! is pure: a problem found today is imported as `FAILED`/`ACTIVE` under a stable id (so the next
//! scan updates the same finding, keeping when it was first seen); an open finding whose problem
//! is gone (fixed, or the resource deleted) is imported again as `PASSED`/`ARCHIVED` with its
//! workflow `RESOLVED`, never left open. A resource the scan could not read keeps its finding as
//! it is: not knowing is not the same as fixed. Sending is the [`aws`] adapter's.

pub mod aws;

use crate::alert::{Alert, Kind, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// The ASFF version every finding declares.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// `BatchImportFindings` takes at most 100 findings a call.
pub const MAX_BATCH: usize = 100;
/// ASFF's limits on a finding's id, title and description.
pub const MAX_ID_CHARS: usize = 512;
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Security Hub cuts `Remediation.Recommendation.Text` at 512 characters.
pub const MAX_REMEDIATION_CHARS: usize = 512;
/// Every generator id starts with this, so one filter finds all of this project's findings.
pub const GENERATOR_PREFIX: &str = "credential-rotation";
/// The finding type of every check: credentials past their lifetime are a best-practice gap.
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// The resource types of ASFF's `Resources[].Type` that the checks report on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceType {
    AcmCertificate,
    IamAccessKey,
    KmsKey,
    SecretsManagerSecret,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcmCertificate => "AwsCertificateManagerCertificate",
            Self::IamAccessKey => "AwsIamAccessKey",
            Self::KmsKey => "AwsKmsKey",
            Self::SecretsManagerSecret => "AwsSecretsManagerSecret",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::AcmCertificate,
            Self::IamAccessKey,
            Self::KmsKey,
            Self::SecretsManagerSecret,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

/// What a check found wrong with one resource today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The problem's stable name (the alert's kind, e.g. `certificate-expiring`): one finding per
    /// resource and problem.
    pub kind: Kind,
    pub resource_type: ResourceType,
    /// The resource's ARN (an access key's id: access keys have no ARN).
    pub resource_id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub remediation: Option<String>,
}

impl Problem {
    /// The problem an alert describes: the same words a person reads in the alert.
    pub fn from_alert(alert: &Alert, resource_type: ResourceType) -> Self {
        Self {
            kind: alert.kind,
            resource_type,
            resource_id: alert.resource.clone(),
            title: alert.title.clone(),
            description: alert.summary.clone(),
            severity: alert.severity,
            remediation: alert.action.clone(),
        }
    }
}

/// The findings one scan owns: one check's, in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub region: String,
    /// The check's stable name, e.g. `certificate-expiry`.
    pub check: &'static str,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>, check: &'static str) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
            check,
        }
    }

    pub fn partition(&self) -> &'static str {
        crate::aws::partition(&self.region)
    }

    pub fn generator_id(&self) -> String {
        format!("{GENERATOR_PREFIX}/{}", self.check)
    }

    /// The account's own product ARN: findings a customer imports about its own account.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition(),
            self.region,
            self.account,
            self.account
        )
    }

    /// The same id for the same problem of the same resource on every scan. A resource id too
    /// long for ASFF's 512 characters is replaced by its FNV-1a hash (still stable, and unique
    /// enough within one account's resources of one check).
    pub fn finding_id(&self, kind: &str, resource_id: &str) -> String {
        let prefix = format!(
            "{}/{}/{}/{kind}",
            self.generator_id(),
            self.region,
            self.account
        );
        let id = format!("{prefix}/{resource_id}");
        if id.chars().count() <= MAX_ID_CHARS {
            return id;
        }
        format!("{prefix}/fnv1a-{:016x}", fnv1a(resource_id.as_bytes()))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compliance {
    Failed,
    Passed,
}

impl Compliance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "FAILED",
            Self::Passed => "PASSED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    Active,
    Archived,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Archived => "ARCHIVED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    New,
    Resolved,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Resolved => "RESOLVED",
        }
    }
}

/// ASFF's severity label of an alert's severity.
pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "INFORMATIONAL",
        Severity::Warning => "MEDIUM",
        Severity::Error => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// One finding, in ASFF's terms, as sent to Security Hub or read back from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub account: String,
    pub region: String,
    /// ISO 8601 (RFC 3339, UTC): when the problem was first seen.
    pub created_at: String,
    /// When this scan last saw it (or saw it gone).
    pub updated_at: String,
    pub title: String,
    pub description: String,
    /// ASFF severity label (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`).
    pub severity: String,
    /// Our own severity word, as `Severity.Original` (what the alert said).
    pub severity_original: String,
    pub remediation: Option<String>,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub compliance: Compliance,
    pub record_state: RecordState,
    pub workflow: Workflow,
}

impl Finding {
    /// A problem found today, keeping `first_seen` when a finding for it is already open.
    fn failed(scope: &Scope, problem: Problem, first_seen: Option<String>, now: &str) -> Self {
        Self {
            id: scope.finding_id(problem.kind.as_str(), &problem.resource_id),
            product_arn: scope.product_arn(),
            generator_id: scope.generator_id(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            created_at: first_seen.unwrap_or_else(|| now.to_owned()),
            updated_at: now.to_owned(),
            title: bounded(&problem.title, MAX_TITLE_CHARS),
            description: bounded(&problem.description, MAX_DESCRIPTION_CHARS),
            severity: severity_label(problem.severity).to_owned(),
            severity_original: problem.severity.as_str().to_owned(),
            remediation: problem
                .remediation
                .map(|text| bounded(&text, MAX_REMEDIATION_CHARS)),
            resource_type: problem.resource_type,
            resource_id: problem.resource_id,
            compliance: Compliance::Failed,
            record_state: RecordState::Active,
            workflow: Workflow::New,
        }
    }

    /// The same finding, its problem gone: passed, archived, resolved.
    fn resolved(self, now: &str) -> Self {
        let date: String = now.chars().take(10).collect();
        Self {
            updated_at: now.to_owned(),
            description: bounded(
                &format!("Resolved: no longer found on {date}. {}", self.description),
                MAX_DESCRIPTION_CHARS,
            ),
            severity: severity_label(Severity::Info).to_owned(),
            severity_original: Severity::Info.as_str().to_owned(),
            compliance: Compliance::Passed,
            record_state: RecordState::Archived,
            workflow: Workflow::Resolved,
            ..self
        }
    }

    /// Whether this scan owns the finding: the same product, generator, account and region.
    /// Security Hub's own filters should already have kept only these; checking again costs
    /// nothing and keeps a scan from archiving another check's findings.
    pub fn belongs_to(&self, scope: &Scope) -> bool {
        self.product_arn == scope.product_arn()
            && self.generator_id == scope.generator_id()
            && self.account == scope.account
            && self.region == scope.region
    }
}

/// `text` within ASFF's `limit`, cut on a character boundary with a marker.
fn bounded(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let kept: String = text.chars().take(limit - 1).collect();
    format!("{kept}…")
}

/// What one scan sends, and how it changes the scope's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub imports: Vec<Finding>,
    /// New problems (no open finding yet).
    pub opened: usize,
    /// Problems already open, updated.
    pub updated: usize,
    /// Open findings whose problem is gone, archived.
    pub resolved: usize,
    /// Open findings kept as they are because their resource could not be read.
    pub kept_unread: usize,
}

/// The findings to import for a scan of `scope` that found `problems`, given the scope's open
/// findings. `unread`: resource ids the scan could not assess (their findings stay as they are);
/// `only`: when the scan looked at some resources only (one event, one rotation), the resource
/// ids it looked at (open findings of other resources stay as they are).
pub fn plan(
    scope: &Scope,
    problems: Vec<Problem>,
    open: Vec<Finding>,
    unread: &BTreeSet<String>,
    only: Option<&BTreeSet<String>>,
    now: &str,
) -> Plan {
    let mut open: BTreeMap<String, Finding> = open
        .into_iter()
        .filter(|f| f.belongs_to(scope) && f.record_state == RecordState::Active)
        .map(|f| (f.id.clone(), f))
        .collect();
    let mut plan = Plan::default();
    // One finding per resource and problem: the same problem reported twice in one scan is
    // one finding (the last report's words).
    let mut by_id: BTreeMap<String, Problem> = BTreeMap::new();
    for problem in problems {
        by_id.insert(
            scope.finding_id(problem.kind.as_str(), &problem.resource_id),
            problem,
        );
    }
    for (id, problem) in by_id {
        let first_seen = open.remove(&id).map(|f| f.created_at);
        if first_seen.is_some() {
            plan.updated += 1;
        } else {
            plan.opened += 1;
        }
        plan.imports
            .push(Finding::failed(scope, problem, first_seen, now));
    }
    for finding in open.into_values() {
        if only.is_some_and(|looked_at| !looked_at.contains(&finding.resource_id)) {
            continue;
        }
        if unread.contains(&finding.resource_id) {
            plan.kept_unread += 1;
            continue;
        }
        plan.resolved += 1;
        plan.imports.push(finding.resolved(now));
    }
    plan
}

/// What publishing a scan's findings did, for the scan's report and summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FindingsReport {
    pub opened: usize,
    pub updated: usize,
    pub resolved: usize,
    /// Findings Security Hub refused after every retry (logged with its reason).
    pub failed: usize,
    /// Why nothing could be published (the open findings could not be read), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests;
