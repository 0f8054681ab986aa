//! Handles every event the function receives: the daily scan, and ACM's and AWS Health's
//! EventBridge events (see [`crate::events`]).

use crate::events::{event_alert, Described, Event, EventError};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{json, Value};
use shared::alert::{publish_all, Alert, AlertSink, Severity, UnpublishedAlerts};
use shared::certificates::acm::{AcmError, CertificateInventory};
use shared::certificates::policy::{
    assess, certificate_alert, digest_alert, wants_private_renewal, Assessment,
};
use shared::certificates::Certificate;
use shared::config::{ConfigError, Env};
use shared::expiry::Thresholds;
use shared::findings::aws::{publish_scan, SecurityHub};
use shared::findings::{FindingsReport, Problem, ResourceType, Scope};
use shared::metrics::{counts_by, MetricLine, Unit};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// The Security Hub check this function's findings belong to.
pub const FINDINGS_CHECK: &str = "certificate-expiry";

#[derive(Debug, Clone)]
pub struct Settings {
    pub thresholds: Thresholds,
    /// `RENEW_PRIVATE_CERTIFICATES`: request `RenewCertificate` for private certificates near expiry.
    pub renew_private: bool,
    /// `SCAN_CONCURRENCY`: `DescribeCertificate` calls in flight at once.
    pub concurrency: usize,
    /// The region scanned (`AWS_REGION`, set by Lambda), named in the digest.
    pub region: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            thresholds: Thresholds::from_env(env)?,
            renew_private: env.bool_or("RENEW_PRIVATE_CERTIFICATES", false)?,
            concurrency: env.number_or("SCAN_CONCURRENCY", 8, 1, 64)?,
            region: env.required("AWS_REGION")?.to_owned(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("the scan could not list certificates: {0}")]
    List(#[source] AcmError),
    #[error(transparent)]
    Publish(#[from] UnpublishedAlerts),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::List(_) => "ScanFailed",
            HandlerError::Publish(_) => "AlertNotPublished",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// What a scan found and did; logged, and returned as the invocation's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub certificates: usize,
    /// Certificates per standing (`expired`, `expiring`, `healthy`, ...).
    pub standings: BTreeMap<&'static str, usize>,
    /// Deleted between listing and describing.
    pub vanished: usize,
    pub describe_errors: usize,
    pub renewals_requested: usize,
    pub renewal_errors: usize,
    pub alerts_sent: usize,
    /// ACM requests made: list pages, descriptions, renewals (SDK retries not counted).
    pub acm_calls: usize,
    /// The fewest whole days left of any issued certificate, and of any in use (negative: expired).
    pub fewest_days_left: Option<i64>,
    pub fewest_days_left_in_use: Option<i64>,
    /// What the scan did to its Security Hub findings (when they are turned on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsReport>,
}

impl ScanReport {
    /// The scan's metrics: certificates per standing, the fewest days left.
    pub fn metric_lines(&self, function: &str) -> Vec<MetricLine> {
        let mut lines = counts_by(function, "standing", "Certificates", &self.standings);
        let mut totals = MetricLine::new(vec![("function", function.to_owned())])
            .with("CertificatesScanned", self.certificates as f64, Unit::Count)
            .with("AlertsSent", self.alerts_sent as f64, Unit::Count);
        if let Some(days) = self.fewest_days_left {
            totals = totals.with("FewestDaysLeft", days as f64, Unit::Days);
        }
        if let Some(days) = self.fewest_days_left_in_use {
            totals = totals.with("FewestDaysLeftInUse", days as f64, Unit::Days);
        }
        lines.push(totals);
        lines
    }
}

/// Lists, describes and assesses every certificate, requests private renewals, and decides the
/// alerts; publishing is the handler's.
pub struct Scanner<I> {
    inventory: I,
    settings: Settings,
}

pub struct CertificateExpiry<I, A> {
    scanner: Scanner<I>,
    alerts: A,
    findings: Option<SecurityHub>,
}

impl<I: CertificateInventory, A: AlertSink> CertificateExpiry<I, A> {
    pub fn new(inventory: I, alerts: A, settings: Settings, findings: Option<SecurityHub>) -> Self {
        Self {
            scanner: Scanner {
                inventory,
                settings,
            },
            alerts,
            findings,
        }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        // The time of this invocation, never of start-up: a warm instance must not go stale.
        let now = shared::time::epoch_seconds(SystemTime::now());
        let source = event.context.env_config.function_name.as_str();
        let partition = shared::aws::partition(&self.scanner.settings.region);
        let parsed = Event::parse(&event.payload, partition)
            .inspect_err(|error| tracing::error!(%error, "rejected an event"))?;
        match parsed {
            Event::Scheduled => {
                let account = shared::aws::arn_account(&event.context.invoked_function_arn);
                Ok(json!(self.scan(now, source, account).await?))
            }
            Event::Unhandled {
                source: event_source,
                detail_type,
            } => {
                tracing::warn!(source = %event_source, detail_type = %detail_type, "ignored an event this function does not handle");
                Ok(json!({"ignored": detail_type}))
            }
            event => self.on_event(event, now, source).await,
        }
    }

    async fn on_event(&self, event: Event, now: i64, source: &str) -> Result<Value, HandlerError> {
        let certificate = match event.certificate_to_describe() {
            Some(arn) => Some(self.scanner.inventory.describe(arn).await),
            None => None,
        };
        let described = match &certificate {
            None => Described::NotNeeded,
            Some(Ok(Some(certificate))) => Described::Found(certificate),
            Some(Ok(None)) => Described::Unavailable("the certificate no longer exists".into()),
            Some(Err(error)) => {
                tracing::warn!(%error, "could not describe the event's certificate; alerting with the event's data");
                Described::Unavailable(error.to_string())
            }
        };
        let Some(alert) = event_alert(
            &event,
            described,
            &self.scanner.settings.thresholds,
            source,
            now,
        ) else {
            return Ok(json!({"alerts": 0}));
        };
        let alert = triggered_by(alert, "event");
        publish_all(&self.alerts, std::slice::from_ref(&alert))
            .await
            .into_result()?;
        Ok(json!({"alerts": 1, "kind": alert.kind, "resource": alert.resource}))
    }

    /// The daily scan of `account` (the one the clients act in; from the invoked function's ARN)
    /// and the settings' region.
    pub async fn scan(
        &self,
        now: i64,
        source: &str,
        account: Option<&str>,
    ) -> Result<ScanReport, HandlerError> {
        let (mut report, alerts, problems, unread) = self.scanner.scan(now, source).await?;
        let published = publish_all(&self.alerts, &alerts).await;
        report.alerts_sent = published.sent;
        if let Some(store) = &self.findings {
            let scope =
                account.map(|a| Scope::new(a, &self.scanner.settings.region, FINDINGS_CHECK));
            report.security_hub =
                Some(publish_scan(store, scope.as_ref(), problems, &unread, None, now).await);
        }
        shared::metrics::emit(&report.metric_lines(source), now.saturating_mul(1000));
        tracing::info!(
            certificates = report.certificates,
            standings = ?report.standings,
            vanished = report.vanished,
            describe_errors = report.describe_errors,
            renewals_requested = report.renewals_requested,
            alerts_sent = report.alerts_sent,
            security_hub = ?report.security_hub,
            "certificate scan finished"
        );
        published.into_result()?;
        Ok(report)
    }
}

/// What a scan found: its report (without `alerts_sent`), the alerts to send, the findings'
/// problems (every certificate at risk that a person should act on, alert day or not), and the
/// certificates it could not describe.
type Scanned = (ScanReport, Vec<Alert>, Vec<Problem>, BTreeSet<String>);

impl<I: CertificateInventory> Scanner<I> {
    pub async fn scan(&self, now: i64, source: &str) -> Result<Scanned, HandlerError> {
        let listing = self.inventory.list().await.map_err(HandlerError::List)?;
        let mut report = ScanReport {
            certificates: listing.arns.len(),
            acm_calls: listing.pages + listing.arns.len(),
            ..ScanReport::default()
        };
        // Each certificate is assessed as its description arrives and kept only when at risk
        // (everything alerts, renewals and the digest need), so memory follows the certificates
        // at risk and the calls in flight, not the size of the account.
        let mut described = stream::iter(listing.arns)
            .map(|arn| async move {
                let result = self.inventory.describe(&arn).await;
                (arn, result)
            })
            .buffer_unordered(self.settings.concurrency);
        let mut at_risk: Vec<(Certificate, Assessment)> = Vec::new();
        let mut unread = BTreeSet::new();
        while let Some((arn, result)) = described.next().await {
            match result {
                Ok(Some(certificate)) => {
                    let assessment = assess(&certificate, now, &self.settings.thresholds);
                    *report
                        .standings
                        .entry(assessment.standing.as_str())
                        .or_default() += 1;
                    if let Some(days) = assessment.days_left {
                        let fewer =
                            |fewest: Option<i64>| Some(fewest.map_or(days, |f| f.min(days)));
                        report.fewest_days_left = fewer(report.fewest_days_left);
                        if !certificate.in_use_by.is_empty() {
                            report.fewest_days_left_in_use = fewer(report.fewest_days_left_in_use);
                        }
                    }
                    if assessment.standing.at_risk() {
                        at_risk.push((certificate, assessment));
                    }
                }
                Ok(None) => {
                    tracing::info!(certificate = %arn, "certificate deleted during the scan");
                    report.vanished += 1;
                }
                Err(error) => {
                    tracing::error!(certificate = %arn, %error, "could not describe a certificate; it is left out of this scan");
                    report.describe_errors += 1;
                    unread.insert(arn);
                }
            }
        }
        drop(described);
        // ARNs are unique: alerts and renewals go out in a stable order.
        at_risk.sort_unstable_by(|a, b| a.0.arn.cmp(&b.0.arn));

        let mut alerts = Vec::new();
        let mut problems = Vec::new();
        for (certificate, assessment) in &at_risk {
            let renewal_requested = self
                .renew_if_wanted(certificate, assessment, &mut report)
                .await;
            tracing::info!(
                certificate = %certificate.arn,
                name = certificate.display_name(),
                standing = assessment.standing.as_str(),
                days_left = ?assessment.days_left,
                alert_today = assessment.alert_today,
                "certificate at risk"
            );
            // A finding stays open every day a person should act, not only on alert days.
            if assessment.severity > Severity::Info {
                let alert = certificate_alert(
                    certificate,
                    assessment,
                    assessment.severity,
                    renewal_requested,
                    source,
                    now,
                );
                problems.push(Problem::from_alert(&alert, ResourceType::AcmCertificate));
            }
            if let Some(severity) = assessment.alert() {
                let alert = certificate_alert(
                    certificate,
                    assessment,
                    severity,
                    renewal_requested,
                    source,
                    now,
                );
                alerts.push(triggered_by(alert, "scan"));
            }
        }
        let at_risk_view: Vec<(&Certificate, &Assessment)> =
            at_risk.iter().map(|(c, a)| (c, a)).collect();
        let counts: Vec<(&'static str, usize)> =
            report.standings.iter().map(|(k, v)| (*k, *v)).collect();
        if let Some(digest) =
            digest_alert(&at_risk_view, &counts, &self.settings.region, source, now)
        {
            alerts.push(triggered_by(digest, "scan"));
        }
        Ok((report, alerts, problems, unread))
    }

    async fn renew_if_wanted(
        &self,
        certificate: &Certificate,
        assessment: &Assessment,
        report: &mut ScanReport,
    ) -> bool {
        if !self.settings.renew_private || !wants_private_renewal(certificate, assessment) {
            return false;
        }
        report.acm_calls += 1;
        match self.inventory.renew(&certificate.arn).await {
            Ok(()) => {
                tracing::info!(certificate = %certificate.arn, "requested renewal of a private certificate");
                report.renewals_requested += 1;
                true
            }
            Err(error) => {
                tracing::error!(certificate = %certificate.arn, %error, "could not request renewal");
                report.renewal_errors += 1;
                false
            }
        }
    }
}

/// Marks what raised an alert, so subscribers can filter scan alerts from event alerts.
fn triggered_by(mut alert: Alert, trigger: &'static str) -> Alert {
    alert.attributes.insert("trigger", trigger.to_owned());
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_acm::operation::describe_certificate::{
        DescribeCertificateError, DescribeCertificateOutput,
    };
    use aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
    use aws_sdk_acm::operation::renew_certificate::RenewCertificateOutput;
    use aws_sdk_acm::primitives::DateTime;
    use aws_sdk_acm::types::{
        CertificateDetail, CertificateStatus, CertificateSummary, CertificateType,
        RenewalEligibility, RenewalStatus, RenewalSummary,
    };
    use aws_sdk_acm::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use shared::certificates::acm::AcmInventory;

    /// 2026-11-22T12:00:00Z.
    const NOW: i64 = 1_795_348_800;
    const DAY: i64 = 86_400;

    fn settings(renew_private: bool) -> Settings {
        Settings {
            thresholds: Thresholds::default(),
            renew_private,
            concurrency: 4,
            region: "eu-west-1".into(),
        }
    }

    fn detail(
        arn: &str,
        name: &str,
        kind: CertificateType,
        days: i64,
    ) -> aws_sdk_acm::types::builders::CertificateDetailBuilder {
        CertificateDetail::builder()
            .certificate_arn(arn)
            .domain_name(name)
            .r#type(kind)
            .status(CertificateStatus::Issued)
            .not_after(DateTime::from_secs(NOW + days * DAY + 3600))
    }

    /// An account moto cannot imitate: a private certificate 14 days from expiry that ACM is not
    /// set up to renew, a DNS-validated certificate in use whose renewal is stuck, a healthy one,
    /// and one whose description fails.
    fn scanner(renew_private: bool) -> (Scanner<AcmInventory>, aws_smithy_mocks::Rule) {
        let list = mock!(Client::list_certificates).then_output(|| {
            let summary = |arn: &str| CertificateSummary::builder().certificate_arn(arn).build();
            ListCertificatesOutput::builder()
                .set_certificate_summary_list(Some(vec![
                    summary("arn:private"),
                    summary("arn:stuck"),
                    summary("arn:healthy"),
                    summary("arn:broken"),
                ]))
                .build()
        });
        let describe = |arn: &'static str, detail: CertificateDetail| {
            mock!(Client::describe_certificate)
                .match_requests(move |r| r.certificate_arn() == Some(arn))
                .then_output(move || {
                    DescribeCertificateOutput::builder()
                        .certificate(detail.clone())
                        .build()
                })
        };
        let private = describe(
            "arn:private",
            detail(
                "arn:private",
                "internal.example.com",
                CertificateType::Private,
                14,
            )
            .renewal_eligibility(RenewalEligibility::Ineligible)
            .build(),
        );
        let stuck = describe(
            "arn:stuck",
            detail(
                "arn:stuck",
                "shop.example.com",
                CertificateType::AmazonIssued,
                7,
            )
            .in_use_by(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/1",
            )
            .renewal_eligibility(RenewalEligibility::Eligible)
            .renewal_summary(
                RenewalSummary::builder()
                    .renewal_status(RenewalStatus::PendingValidation)
                    .set_domain_validation_options(Some(vec![]))
                    .updated_at(DateTime::from_secs(NOW - DAY))
                    .build()
                    .unwrap(),
            )
            .build(),
        );
        let healthy = describe(
            "arn:healthy",
            detail(
                "arn:healthy",
                "www.example.com",
                CertificateType::AmazonIssued,
                200,
            )
            .in_use_by("arn:cloudfront")
            .renewal_eligibility(RenewalEligibility::Eligible)
            .build(),
        );
        let broken = mock!(Client::describe_certificate)
            .match_requests(|r| r.certificate_arn() == Some("arn:broken"))
            .then_error(|| DescribeCertificateError::unhandled("ThrottlingException: slow down"));
        let renew = mock!(Client::renew_certificate)
            .match_requests(|r| r.certificate_arn() == Some("arn:private"))
            .then_output(|| RenewCertificateOutput::builder().build());
        let client = mock_client!(
            aws_sdk_acm,
            RuleMode::MatchAny,
            [&list, &private, &stuck, &healthy, &broken, &renew],
            |c| c.retry_config(aws_sdk_acm::config::retry::RetryConfig::disabled())
        );
        (
            Scanner {
                inventory: AcmInventory::new(client),
                settings: settings(renew_private),
            },
            renew,
        )
    }

    #[tokio::test]
    async fn a_scan_assesses_renews_and_alerts_on_what_moto_cannot_show() {
        let (scanner, renew) = scanner(true);
        let (report, alerts, problems, unread) =
            scanner.scan(NOW, "acm-certificate-expiry").await.unwrap();
        assert_eq!(report.certificates, 4);
        assert_eq!(report.describe_errors, 1);
        assert_eq!(
            report.standings,
            BTreeMap::from([("expiring", 2), ("healthy", 1)])
        );
        assert_eq!((report.renewals_requested, renew.num_calls()), (1, 1));
        // One list page, four descriptions, one renewal.
        assert_eq!(report.acm_calls, 6);

        let titles: Vec<(&str, &str, &str)> = alerts
            .iter()
            .map(|a| (a.kind.as_str(), a.severity.as_str(), a.title.as_str()))
            .collect();
        assert_eq!(
            titles,
            [
                (
                    "certificate-expiring",
                    "warning",
                    "Certificate internal.example.com expires in 14 days (2026-12-06)"
                ),
                (
                    "certificate-expiring",
                    "error",
                    "Certificate shop.example.com expires in 7 days (2026-11-29)"
                ),
                (
                    "certificate-scan-digest",
                    "error",
                    "Certificate scan of eu-west-1: 2 certificate(s) need attention"
                ),
            ]
        );
        assert!(alerts[0].summary.contains("requested its renewal"));
        assert!(alerts[1].summary.contains("in use by 1 resource"));
        assert!(alerts[1].summary.contains("waiting for domain validation"));
        assert!(alerts.iter().all(|a| a.attributes["trigger"] == "scan"));
        // A finding for each certificate at risk, with the alert's words; the certificate that
        // could not be described keeps whatever finding it has.
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.resource_id.as_str(), p.title.as_str()))
            .collect();
        let alerted: Vec<(&str, &str)> = alerts[..2]
            .iter()
            .map(|a| (a.resource.as_str(), a.title.as_str()))
            .collect();
        assert_eq!(found, alerted);
        assert_eq!(unread.len(), 1);
        assert!(unread
            .iter()
            .all(|arn| !found.iter().any(|(f, _)| f == arn)));
    }

    #[tokio::test]
    async fn private_renewal_is_off_unless_enabled() {
        let (scanner, renew) = scanner(false);
        let (report, alerts, _, _) = scanner.scan(NOW, "f").await.unwrap();
        assert_eq!((report.renewals_requested, renew.num_calls()), (0, 0));
        assert!(!alerts[0].summary.contains("requested its renewal"));
        assert!(alerts[0]
            .action
            .as_deref()
            .unwrap()
            .contains("RENEW_PRIVATE_CERTIFICATES=true"));
    }

    #[test]
    fn settings_have_documented_defaults_and_limits() {
        let env = Env::from_pairs([("AWS_REGION", "eu-west-1")]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(settings.thresholds, Thresholds::default());
        assert!(!settings.renew_private);
        assert_eq!(settings.concurrency, 8);
        let env = Env::from_pairs([("AWS_REGION", "eu-west-1"), ("SCAN_CONCURRENCY", "0")]);
        assert!(matches!(
            Settings::from_env(&env),
            Err(ConfigError::Invalid {
                name: "SCAN_CONCURRENCY",
                ..
            })
        ));
        assert!(matches!(
            Settings::from_env(&Env::default()),
            Err(ConfigError::Missing { name: "AWS_REGION" })
        ));
    }
}
