//! The Security Hub adapter: reads a scope's open findings (`GetFindings`), imports findings in
//! batches of 100 (`BatchImportFindings`) with retries of what it refuses, and marks archived
//! findings' workflow `RESOLVED` (`BatchUpdateFindings`: `BatchImportFindings` may set a workflow
//! only when it creates a finding).

use super::{
    plan, Compliance, Finding, FindingsReport, Problem, RecordState, ResourceType, Scope, Workflow,
    FINDING_TYPE, MAX_BATCH, SCHEMA_VERSION,
};
use crate::config::{ConfigError, Env};
use aws_sdk_securityhub::types::{
    self as sdk, AwsSecurityFindingFilters, AwsSecurityFindingIdentifier, StringFilter,
    StringFilterComparison,
};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

/// Attempts at importing a finding Security Hub refused (or whose batch failed as a whole).
const IMPORT_ATTEMPTS: u32 = 3;
/// The pause before the second attempt, doubled before each later one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
#[error("Security Hub {operation} failed: {reason}")]
pub struct FindingsError {
    pub operation: &'static str,
    pub reason: String,
}

/// `SECURITY_HUB_FINDINGS` (false): whether scans and rotations publish findings.
pub fn enabled_from_env(env: &Env) -> Result<bool, ConfigError> {
    env.bool_or("SECURITY_HUB_FINDINGS", false)
}

/// A finding Security Hub did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub id: String,
    pub reason: String,
}

/// Where findings go; production: [`SecurityHub`].
pub trait FindingStore: Send + Sync {
    /// The scope's `ACTIVE` findings (of one resource, when given).
    fn open_findings(
        &self,
        scope: &Scope,
        resource: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Finding>, FindingsError>> + Send;
    /// One `BatchImportFindings` call of at most [`MAX_BATCH`] findings: the ones refused.
    fn import(
        &self,
        findings: &[Finding],
    ) -> impl Future<Output = Result<Vec<Refused>, FindingsError>> + Send;
    /// Sets the workflow of these (archived) findings to `RESOLVED`.
    fn resolve_workflow(
        &self,
        findings: &[Finding],
    ) -> impl Future<Output = Result<(), FindingsError>> + Send;
}

/// Publishes one scan's findings: reads the scope's open findings, plans (see
/// [`super::plan`]), imports in batches with retries, then resolves the archived ones' workflow.
/// Never fails the scan: a failure is logged and reported (alerts still reach people).
pub async fn publish<F: FindingStore>(
    store: &F,
    scope: &Scope,
    problems: Vec<Problem>,
    unread: &BTreeSet<String>,
    only: Option<&BTreeSet<String>>,
    now: &str,
) -> FindingsReport {
    let single = only
        .filter(|ids| ids.len() == 1)
        .and_then(|ids| ids.first());
    let open = match store.open_findings(scope, single.map(String::as_str)).await {
        Ok(open) => open,
        Err(error) => {
            tracing::error!(%error, check = scope.check, "could not read the open Security Hub findings; none were published (is Security Hub enabled in this account and region?)");
            return FindingsReport {
                error: Some(error.to_string()),
                ..FindingsReport::default()
            };
        }
    };
    let plan = plan(scope, problems, open, unread, only, now);
    let mut report = FindingsReport {
        opened: plan.opened,
        updated: plan.updated,
        resolved: plan.resolved,
        ..FindingsReport::default()
    };
    let mut resolved = Vec::new();
    for batch in plan.imports.chunks(MAX_BATCH) {
        let refused = import_with_retries(store, batch).await;
        report.failed += refused.len();
        let refused: BTreeSet<&str> = refused.iter().map(|r| r.id.as_str()).collect();
        resolved.extend(
            batch
                .iter()
                .filter(|f| {
                    f.record_state == RecordState::Archived && !refused.contains(f.id.as_str())
                })
                .cloned(),
        );
    }
    for batch in resolved.chunks(MAX_BATCH) {
        if let Err(error) = store.resolve_workflow(batch).await {
            tracing::warn!(%error, findings = batch.len(), "archived findings keep their workflow status: it could not be set to RESOLVED");
        }
    }
    tracing::info!(
        check = scope.check,
        opened = report.opened,
        updated = report.updated,
        resolved = report.resolved,
        failed = report.failed,
        kept_unread = plan.kept_unread,
        "published Security Hub findings"
    );
    report
}

/// [`publish`] for a scope that is `None` when no account could be told (a scope's account
/// comes from an ARN: the invoked function's, or the rotated secret's).
pub async fn publish_scan<F: FindingStore>(
    store: &F,
    scope: Option<&Scope>,
    problems: Vec<Problem>,
    unread: &BTreeSet<String>,
    only: Option<&BTreeSet<String>>,
    now: i64,
) -> FindingsReport {
    let Some(scope) = scope else {
        tracing::error!(
            "no Security Hub findings were published: no ARN of this invocation named an account"
        );
        return FindingsReport {
            error: Some("no ARN of this invocation named an account".into()),
            ..FindingsReport::default()
        };
    };
    publish(
        store,
        scope,
        problems,
        unread,
        only,
        &crate::time::rfc3339_epoch(now),
    )
    .await
}

/// Imports a batch, importing again what was refused (or the whole batch when the call
/// failed), up to [`IMPORT_ATTEMPTS`] times: what is still refused then.
async fn import_with_retries<F: FindingStore>(store: &F, batch: &[Finding]) -> Vec<Refused> {
    let mut pending: Vec<Finding> = batch.to_vec();
    let mut refused = Vec::new();
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1..=IMPORT_ATTEMPTS {
        refused = match store.import(&pending).await {
            Ok(refused) => refused,
            Err(error) => pending
                .iter()
                .map(|f| Refused {
                    id: f.id.clone(),
                    reason: error.to_string(),
                })
                .collect(),
        };
        if refused.is_empty() {
            return refused;
        }
        let ids: BTreeSet<&str> = refused.iter().map(|r| r.id.as_str()).collect();
        pending.retain(|f| ids.contains(f.id.as_str()));
        if attempt < IMPORT_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    for Refused { id, reason } in &refused {
        tracing::error!(finding = %id, %reason, "Security Hub refused a finding");
    }
    refused
}

/// The Security Hub client of one account and region.
pub struct SecurityHub {
    client: aws_sdk_securityhub::Client,
}

impl SecurityHub {
    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        Self { client }
    }

    /// The client of the account and region `sdk` acts in, when findings are turned on.
    pub fn when_enabled(enabled: bool, sdk: &aws_config::SdkConfig) -> Option<Self> {
        enabled.then(|| Self::new(aws_sdk_securityhub::Client::new(sdk)))
    }

    /// The region findings go to (global resources' findings too).
    pub fn region(&self) -> &str {
        self.client
            .config()
            .region()
            .map_or("us-east-1", |r| r.as_ref())
    }
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(StringFilterComparison::Equals)
        .build()
}

fn sdk_error<E>(
    operation: &'static str,
    error: &aws_sdk_securityhub::error::SdkError<E>,
) -> FindingsError
where
    E: std::error::Error + 'static,
{
    FindingsError {
        operation,
        reason: crate::text::excerpt(
            &crate::text::with_causes(error),
            crate::text::QUOTE_CHARS * 2,
        ),
    }
}

impl FindingStore for SecurityHub {
    async fn open_findings(
        &self,
        scope: &Scope,
        resource: Option<&str>,
    ) -> Result<Vec<Finding>, FindingsError> {
        let mut filters = AwsSecurityFindingFilters::builder()
            .product_arn(equals(&scope.product_arn()))
            .generator_id(equals(&scope.generator_id()))
            .aws_account_id(equals(&scope.account))
            .region(equals(&scope.region))
            .record_state(equals(RecordState::Active.as_str()));
        if let Some(resource) = resource {
            filters = filters.resource_id(equals(resource));
        }
        let mut pages = self
            .client
            .get_findings()
            .filters(filters.build())
            .max_results(100)
            .into_paginator()
            .send();
        let mut open = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error("GetFindings", &error))?;
            open.extend(page.findings().iter().filter_map(from_sdk));
        }
        Ok(open)
    }

    async fn import(&self, findings: &[Finding]) -> Result<Vec<Refused>, FindingsError> {
        let output = self
            .client
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(to_sdk).collect()))
            .send()
            .await
            .map_err(|error| sdk_error("BatchImportFindings", &error))?;
        Ok(output
            .failed_findings()
            .iter()
            .map(|failed| Refused {
                id: failed.id().unwrap_or_default().to_owned(),
                reason: format!(
                    "{}: {}",
                    failed.error_code().unwrap_or("unknown"),
                    failed.error_message().unwrap_or("no message")
                ),
            })
            .collect())
    }

    async fn resolve_workflow(&self, findings: &[Finding]) -> Result<(), FindingsError> {
        let identifiers = findings
            .iter()
            .map(|f| {
                AwsSecurityFindingIdentifier::builder()
                    .id(&f.id)
                    .product_arn(&f.product_arn)
                    .build()
            })
            .collect();
        let output = self
            .client
            .batch_update_findings()
            .set_finding_identifiers(Some(identifiers))
            .workflow(
                sdk::WorkflowUpdate::builder()
                    .status(sdk::WorkflowStatus::Resolved)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| sdk_error("BatchUpdateFindings", &error))?;
        match output.unprocessed_findings().len() {
            0 => Ok(()),
            left => Err(FindingsError {
                operation: "BatchUpdateFindings",
                reason: format!("{left} finding(s) not updated"),
            }),
        }
    }
}

/// The ASFF document of a finding.
pub fn to_sdk(finding: &Finding) -> sdk::AwsSecurityFinding {
    let severity = || {
        sdk::Severity::builder()
            .label(sdk::SeverityLabel::from(finding.severity.as_str()))
            .original(&finding.severity_original)
            .build()
    };
    let mut document = sdk::AwsSecurityFinding::builder()
        .schema_version(SCHEMA_VERSION)
        .id(&finding.id)
        .product_arn(&finding.product_arn)
        .product_name("Credential rotation")
        .company_name("Custom")
        .generator_id(&finding.generator_id)
        .aws_account_id(&finding.account)
        .region(&finding.region)
        .types(FINDING_TYPE)
        .created_at(&finding.created_at)
        .first_observed_at(&finding.created_at)
        .updated_at(&finding.updated_at)
        .last_observed_at(&finding.updated_at)
        .severity(severity())
        .title(&finding.title)
        .description(&finding.description)
        .resources(
            sdk::Resource::builder()
                .r#type(finding.resource_type.as_str())
                .id(&finding.resource_id)
                .partition(sdk::Partition::from(crate::aws::partition(&finding.region)))
                .region(&finding.region)
                .build(),
        )
        .compliance(
            sdk::Compliance::builder()
                .status(sdk::ComplianceStatus::from(finding.compliance.as_str()))
                .build(),
        )
        .record_state(sdk::RecordState::from(finding.record_state.as_str()))
        .workflow(
            sdk::Workflow::builder()
                .status(sdk::WorkflowStatus::from(finding.workflow.as_str()))
                .build(),
        )
        // Providers update severity and types here: Security Hub keeps the top-level ones
        // for the customer's own changes once a finding exists.
        .finding_provider_fields(
            sdk::FindingProviderFields::builder()
                .severity(
                    sdk::FindingProviderSeverity::builder()
                        .label(sdk::SeverityLabel::from(finding.severity.as_str()))
                        .original(&finding.severity_original)
                        .build(),
                )
                .types(FINDING_TYPE)
                .build(),
        );
    if let Some(text) = &finding.remediation {
        document = document.remediation(
            sdk::Remediation::builder()
                .recommendation(sdk::Recommendation::builder().text(text).build())
                .build(),
        );
    }
    document.build()
}

/// A finding read back, if it has everything a [`Finding`] needs (others are not this project's).
pub fn from_sdk(document: &sdk::AwsSecurityFinding) -> Option<Finding> {
    let resource = document.resources().first()?;
    let severity = document.severity();
    Some(Finding {
        id: document.id()?.to_owned(),
        product_arn: document.product_arn()?.to_owned(),
        generator_id: document.generator_id()?.to_owned(),
        account: document.aws_account_id()?.to_owned(),
        region: document.region()?.to_owned(),
        created_at: document.created_at()?.to_owned(),
        updated_at: document.updated_at()?.to_owned(),
        title: document.title()?.to_owned(),
        description: document.description()?.to_owned(),
        severity: severity
            .and_then(|s| s.label())
            .map_or("INFORMATIONAL", |l| l.as_str())
            .to_owned(),
        severity_original: severity
            .and_then(|s| s.original())
            .unwrap_or_default()
            .to_owned(),
        remediation: document
            .remediation()
            .and_then(|r| r.recommendation())
            .and_then(|r| r.text())
            .map(str::to_owned),
        resource_type: ResourceType::parse(resource.r#type()?)?,
        resource_id: resource.id()?.to_owned(),
        compliance: match document.compliance().and_then(|c| c.status()) {
            Some(sdk::ComplianceStatus::Passed) => Compliance::Passed,
            _ => Compliance::Failed,
        },
        record_state: match document.record_state() {
            Some(sdk::RecordState::Archived) => RecordState::Archived,
            _ => RecordState::Active,
        },
        workflow: match document.workflow().and_then(|w| w.status()) {
            Some(sdk::WorkflowStatus::Resolved) => Workflow::Resolved,
            _ => Workflow::New,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsOutput;
    use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput;
    use aws_sdk_securityhub::operation::get_findings::GetFindingsOutput;
    use aws_sdk_securityhub::types::ImportFindingsError;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn scope() -> Scope {
        Scope::new("111122223333", "eu-west-1", "certificate-expiry")
    }

    fn problem(resource: &str) -> Problem {
        Problem {
            kind: crate::alert::Kind::CertificateExpiring,
            resource_type: ResourceType::AcmCertificate,
            resource_id: resource.to_owned(),
            title: format!("Certificate {resource} expires in 3 days"),
            description: "It is in use and ACM will not renew it.".into(),
            severity: crate::alert::Severity::Critical,
            remediation: Some("Renew it.".into()),
        }
    }

    #[test]
    fn documents_round_trip_through_the_sdk_types() {
        let planned = plan(
            &scope(),
            vec![problem("arn:aws:acm:eu-west-1:111122223333:certificate/a")],
            vec![],
            &BTreeSet::new(),
            None,
            "2026-12-02T06:00:00Z",
        );
        let finding = &planned.imports[0];
        let document = to_sdk(finding);
        assert_eq!(document.schema_version(), Some(SCHEMA_VERSION));
        assert_eq!(document.types(), [FINDING_TYPE]);
        assert_eq!(
            document.severity().and_then(|s| s.label()),
            Some(&sdk::SeverityLabel::Critical)
        );
        assert_eq!(
            document.resources()[0].partition(),
            Some(&sdk::Partition::Aws)
        );
        assert_eq!(from_sdk(&document).as_ref(), Some(finding));
    }

    // Paused time: the retries' pauses pass at once.
    #[tokio::test(start_paused = true)]
    async fn refused_findings_are_imported_again_and_counted_when_refused_for_good() {
        // 150 problems: two batches. Security Hub refuses one finding of the first batch once
        // (imported on the second attempt) and one of the second batch every time.
        let problems: Vec<Problem> = (0..150)
            .map(|i| {
                problem(&format!(
                    "arn:aws:acm:eu-west-1:111122223333:certificate/{i:03}"
                ))
            })
            .collect();
        let flaky = scope().finding_id(
            "certificate-expiring",
            "arn:aws:acm:eu-west-1:111122223333:certificate/007",
        );
        let stubborn = scope().finding_id(
            "certificate-expiring",
            "arn:aws:acm:eu-west-1:111122223333:certificate/120",
        );
        let refusal = |id: &str| {
            BatchImportFindingsOutput::builder()
                .failed_count(1)
                .success_count(0)
                .failed_findings(
                    ImportFindingsError::builder()
                        .id(id)
                        .error_code("InvalidInput")
                        .error_message("throttled")
                        .build(),
                )
                .build()
        };
        let none = mock!(aws_sdk_securityhub::Client::get_findings)
            .then_output(|| GetFindingsOutput::builder().build());
        let flaky_once = flaky.clone();
        let first_batch = mock!(aws_sdk_securityhub::Client::batch_import_findings)
            .match_requests(|r| r.findings().len() == 100)
            .then_output(move || refusal(&flaky_once));
        let retry_of_flaky = mock!(aws_sdk_securityhub::Client::batch_import_findings)
            .match_requests(move |r| {
                r.findings().len() == 1 && r.findings()[0].id() == Some(flaky.as_str())
            })
            .then_output(|| {
                BatchImportFindingsOutput::builder()
                    .failed_count(0)
                    .success_count(1)
                    .build()
            });
        let second_batch = mock!(aws_sdk_securityhub::Client::batch_import_findings)
            .then_output(move || refusal(&stubborn));
        let client = mock_client!(
            aws_sdk_securityhub,
            RuleMode::MatchAny,
            [&none, &first_batch, &retry_of_flaky, &second_batch]
        );
        let report = publish(
            &SecurityHub::new(client),
            &scope(),
            problems,
            &BTreeSet::new(),
            None,
            "2026-12-02T06:00:00Z",
        )
        .await;
        assert_eq!(report.opened, 150);
        assert_eq!(report.failed, 1, "{report:?}");
        assert_eq!(first_batch.num_calls(), 1);
        assert_eq!(retry_of_flaky.num_calls(), 1);
        // The second batch (50), then the stubborn finding twice more.
        assert_eq!(second_batch.num_calls(), 3);
        assert!(report.error.is_none());
    }

    #[tokio::test]
    async fn archived_findings_get_their_workflow_resolved() {
        let open = to_sdk(
            &plan(
                &scope(),
                vec![problem(
                    "arn:aws:acm:eu-west-1:111122223333:certificate/gone",
                )],
                vec![],
                &BTreeSet::new(),
                None,
                "2026-12-01T06:00:00Z",
            )
            .imports[0],
        );
        let listed = mock!(aws_sdk_securityhub::Client::get_findings)
            .then_output(move || GetFindingsOutput::builder().findings(open.clone()).build());
        let imported = mock!(aws_sdk_securityhub::Client::batch_import_findings)
            .match_requests(|r| {
                r.findings().len() == 1
                    && r.findings()[0].record_state() == Some(&sdk::RecordState::Archived)
            })
            .then_output(|| {
                BatchImportFindingsOutput::builder()
                    .failed_count(0)
                    .success_count(1)
                    .build()
            });
        let resolved = mock!(aws_sdk_securityhub::Client::batch_update_findings)
            .match_requests(|r| {
                r.finding_identifiers().len() == 1
                    && r.workflow().and_then(|w| w.status()) == Some(&sdk::WorkflowStatus::Resolved)
            })
            .then_output(|| BatchUpdateFindingsOutput::builder().build());
        let client = mock_client!(
            aws_sdk_securityhub,
            RuleMode::MatchAny,
            [&listed, &imported, &resolved]
        );
        let report = publish(
            &SecurityHub::new(client),
            &scope(),
            vec![],
            &BTreeSet::new(),
            None,
            "2026-12-02T06:00:00Z",
        )
        .await;
        assert_eq!((report.resolved, report.failed), (1, 0));
        assert_eq!(resolved.num_calls(), 1);
    }
}
