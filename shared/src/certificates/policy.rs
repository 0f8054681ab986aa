//! Pure decisions over certificates, with the time passed in (seconds since the epoch, UTC).
//!
//! - [`renewal`]: will ACM renew this certificate by itself, and if not, why.
//! - [`assess`]: where the certificate stands today and whether to alert today. Alerts are not
//!   repeated daily: a certificate alerts on the day its days left equal a threshold, and every
//!   day once under the smallest threshold (or expired, or revoked). A daily scan therefore sends
//!   a predictable number of alerts without stored state.
//! - [`certificate_alert`]: the alert a person reads.

use super::{Certificate, CertificateKind};
use crate::alert::Kind;
use crate::alert::{Alert, Fact, Severity};
use crate::expiry::{countdown_severity, days_left, Thresholds};

/// Why ACM will not renew a certificate by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRenewal {
    Imported,
    NotInUse,
    EmailValidation,
    PendingValidation {
        reason: Option<String>,
    },
    RenewalFailed {
        reason: Option<String>,
    },
    /// A private certificate ACM is not set up to renew: renewable on request.
    PrivateOnRequest,
    Expired,
    Revoked,
    NotIssued {
        status: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// ACM renews it (managed renewal; DNS validation; eligible or in use).
    Automatic,
    /// CloudFront manages and renews it.
    ByCloudFront,
    /// It will not be renewed without a person, or at all.
    NotAutomatic(NoRenewal),
}

impl Renewal {
    /// One line for people: does it renew by itself.
    pub fn verdict(&self) -> String {
        match self {
            Self::Automatic => "ACM renews it automatically".into(),
            Self::ByCloudFront => "CloudFront manages and renews it".into(),
            Self::NotAutomatic(reason) => format!(
                "will NOT be renewed automatically: {}",
                reason.explanation()
            ),
        }
    }

    /// Stable machine value for the `renewal` attribute.
    pub fn attribute(&self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::ByCloudFront => "cloudfront",
            Self::NotAutomatic(_) => "action-required",
        }
    }
}

fn with_reason(text: &str, reason: &Option<String>) -> String {
    match reason {
        Some(reason) => format!("{text} ({reason})"),
        None => text.to_owned(),
    }
}

impl NoRenewal {
    pub fn explanation(&self) -> String {
        match self {
            Self::Imported => "it was imported, and ACM never renews imported certificates".into(),
            Self::NotInUse => "nothing uses it, and ACM renews only certificates in use".into(),
            Self::EmailValidation => {
                "it is validated by email, so renewal waits for a person to approve it".into()
            }
            Self::PendingValidation { reason } => {
                with_reason("its renewal is waiting for domain validation", reason)
            }
            Self::RenewalFailed { reason } => with_reason("its renewal failed", reason),
            Self::PrivateOnRequest => {
                "it is a private certificate that ACM is not set up to renew".into()
            }
            Self::Expired => "it has expired".into(),
            Self::Revoked => "it was revoked".into(),
            Self::NotIssued { status } => format!("it is not issued (status {status})"),
        }
    }

    /// What a person must do.
    pub fn action(&self, arn: &str) -> String {
        match self {
            Self::Imported => format!("Obtain a renewed certificate from its issuer and re-import it into the same ARN (`aws acm import-certificate --certificate-arn {arn} ...`) so every resource using it picks it up."),
            Self::NotInUse => format!("If it is still needed, attach it to its load balancer, distribution or API before it expires; otherwise delete it (`aws acm delete-certificate --certificate-arn {arn}`)."),
            Self::EmailValidation => "Approve the renewal email ACM sent to the domain's contacts; to stop depending on email, request a DNS-validated replacement.".into(),
            Self::PendingValidation { .. } => format!("Restore the DNS validation records (`aws acm describe-certificate --certificate-arn {arn}` lists them) so ACM can validate the domain."),
            Self::RenewalFailed { reason } if reason.as_deref() == Some("CAA_ERROR") => "Allow amazon.com (or amazontrust.com) in the domain's CAA records, then request a new certificate.".into(),
            Self::RenewalFailed { .. } => format!("Check the failure reason with `aws acm describe-certificate --certificate-arn {arn}`, fix it, and request a new certificate if renewal cannot resume."),
            Self::PrivateOnRequest => format!("Renew it (`aws acm renew-certificate --certificate-arn {arn}`), or let the scan do it by setting RENEW_PRIVATE_CERTIFICATES=true."),
            Self::Expired => format!("Replace it now: request or import a new certificate, move every resource to it, then delete this one (`aws acm delete-certificate --certificate-arn {arn}`)."),
            Self::Revoked => format!("Replace it: request or import a new certificate, move every resource to it, then delete this one (`aws acm delete-certificate --certificate-arn {arn}`)."),
            Self::NotIssued { .. } => format!("Complete or cancel the request (`aws acm describe-certificate --certificate-arn {arn}`)."),
        }
    }
}

/// Will ACM renew this certificate by itself? `now` decides whether it has already expired.
pub fn renewal(certificate: &Certificate, now: i64) -> Renewal {
    use NoRenewal::*;
    let expired =
        certificate.status == "EXPIRED" || certificate.not_after.is_some_and(|t| t <= now);
    let not_automatic = if certificate.status == "REVOKED" {
        Revoked
    } else if expired {
        Expired
    } else if certificate.status != "ISSUED" {
        NotIssued {
            status: certificate.status.clone(),
        }
    } else if certificate.managed_by.as_deref() == Some("CLOUDFRONT") {
        return Renewal::ByCloudFront;
    } else if certificate.kind == CertificateKind::Imported {
        Imported
    } else if certificate.renewal_status.as_deref() == Some("FAILED") {
        RenewalFailed {
            reason: certificate.renewal_status_reason.clone(),
        }
    } else if certificate.renewal_status.as_deref() == Some("PENDING_VALIDATION") {
        PendingValidation {
            reason: certificate.renewal_status_reason.clone(),
        }
    } else if certificate.email_validation {
        EmailValidation
    } else if certificate.kind == CertificateKind::Private && !certificate.renewal_eligible {
        PrivateOnRequest
    } else if certificate.in_use_by.is_empty() && !certificate.renewal_eligible {
        NotInUse
    } else {
        return Renewal::Automatic;
    };
    Renewal::NotAutomatic(not_automatic)
}

/// Where a certificate stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    Expired,
    Revoked,
    /// Within the largest threshold.
    Expiring,
    /// Beyond the thresholds, but ACM will not renew it by itself.
    WillNotRenew,
    Healthy,
    /// Not issued yet (pending validation, failed, ...): nothing to expire.
    NotIssued,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Expiring => "expiring",
            Self::WillNotRenew => "will-not-renew",
            Self::Healthy => "healthy",
            Self::NotIssued => "not-issued",
        }
    }

    pub fn at_risk(self) -> bool {
        matches!(self, Self::Expired | Self::Revoked | Self::Expiring)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub standing: Standing,
    pub days_left: Option<i64>,
    pub renewal: Renewal,
    /// How bad it is (informational for certificates not at risk).
    pub severity: Severity,
    /// Whether today is a day to alert on it.
    pub alert_today: bool,
}

impl Assessment {
    /// The severity to alert with today, if today is an alert day.
    pub fn alert(&self) -> Option<Severity> {
        self.alert_today.then_some(self.severity)
    }
}

/// Severity by days left ([`countdown_severity`]): a certificate ACM will renew by itself is only
/// informational while more than 30 days remain.
pub fn severity_for(days_left: i64, renewal: &Renewal) -> Severity {
    countdown_severity(days_left, !matches!(renewal, Renewal::NotAutomatic(_)))
}

pub fn assess(certificate: &Certificate, now: i64, thresholds: &Thresholds) -> Assessment {
    let renewal = renewal(certificate, now);
    let days_left = certificate.not_after.map(|t| days_left(t, now));
    let in_use = !certificate.in_use_by.is_empty();
    let outage_severity = if in_use {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let (standing, severity, alert_today) = match (&renewal, days_left) {
        (Renewal::NotAutomatic(NoRenewal::Revoked), _) => {
            (Standing::Revoked, outage_severity, true)
        }
        (Renewal::NotAutomatic(NoRenewal::Expired), _) => {
            (Standing::Expired, outage_severity, true)
        }
        (Renewal::NotAutomatic(NoRenewal::NotIssued { .. }), _) | (_, None) => {
            (Standing::NotIssued, Severity::Info, false)
        }
        (_, Some(days)) if days <= thresholds.largest() => (
            Standing::Expiring,
            severity_for(days, &renewal),
            thresholds.alerts_on(days),
        ),
        (Renewal::NotAutomatic(_), Some(_)) => (Standing::WillNotRenew, Severity::Info, false),
        (_, Some(_)) => (Standing::Healthy, Severity::Info, false),
    };
    Assessment {
        standing,
        days_left,
        renewal,
        severity,
        alert_today,
    }
}

/// Whether the scan should ask ACM to renew this certificate (when the setting allows it): a
/// private certificate within the thresholds that ACM is not already renewing. Asked again on
/// every scan until it is renewed, so a failed request is retried the next day.
pub fn wants_private_renewal(certificate: &Certificate, assessment: &Assessment) -> bool {
    certificate.kind == CertificateKind::Private
        && certificate.status == "ISSUED"
        && assessment.standing == Standing::Expiring
        && certificate.renewal_status.as_deref() != Some("PENDING_AUTO_RENEWAL")
}

fn expiry_phrase(days_left: i64, not_after: i64) -> String {
    let date = crate::time::date(not_after);
    match days_left {
        d if d < 0 => format!("expired on {date}"),
        0 => format!("expires today ({date})"),
        1 => format!("expires in 1 day ({date})"),
        d => format!("expires in {d} days ({date})"),
    }
}

/// Labelled facts about a certificate, shared by every alert about one.
pub fn certificate_facts(
    certificate: &Certificate,
    renewal: &Renewal,
    days_left: Option<i64>,
) -> Vec<Fact> {
    let mut facts = vec![Fact::new(
        "common_name",
        "Common name",
        certificate.display_name(),
    )];
    if !certificate.other_names.is_empty() {
        facts.push(Fact::new(
            "other_names",
            "Other names",
            certificate.other_names.join(", "),
        ));
    }
    if let Some(not_after) = certificate.not_after {
        facts.push(Fact::new(
            "expires",
            "Expires",
            crate::time::rfc3339_epoch(not_after),
        ));
    }
    if let Some(days) = days_left {
        facts.push(Fact::new("days_left", "Days left", days.to_string()));
    }
    facts.push(Fact::new("type", "Type", certificate.kind.as_str()));
    facts.push(Fact::new("status", "Status", certificate.status.clone()));
    facts.push(Fact::new(
        "in_use_by",
        "In use by",
        if certificate.in_use_by.is_empty() {
            "nothing".to_owned()
        } else {
            certificate.in_use_by.join(", ")
        },
    ));
    facts.push(Fact::new("renewal", "Renewal", renewal.verdict()));
    if let Some(status) = &certificate.renewal_status {
        facts.push(Fact::new(
            "renewal_status",
            "Renewal status",
            with_reason(status, &certificate.renewal_status_reason),
        ));
    }
    if let Some(algorithm) = &certificate.key_algorithm {
        facts.push(Fact::new(
            "key_algorithm",
            "Key algorithm",
            algorithm.clone(),
        ));
    }
    facts
}

/// The alert for a certificate the scan found at risk today.
pub fn certificate_alert(
    certificate: &Certificate,
    assessment: &Assessment,
    severity: Severity,
    renewal_requested: bool,
    source: &str,
    now: i64,
) -> Alert {
    let name = certificate.display_name();
    let (kind, title) = match (
        assessment.standing,
        certificate.not_after,
        assessment.days_left,
    ) {
        (Standing::Revoked, _, _) => (
            Kind::CertificateRevoked,
            format!("Certificate {name} was revoked"),
        ),
        (_, Some(not_after), Some(days)) => {
            let kind = if days < 0 || assessment.standing == Standing::Expired {
                Kind::CertificateExpired
            } else {
                Kind::CertificateExpiring
            };
            (
                kind,
                format!("Certificate {name} {}", expiry_phrase(days, not_after)),
            )
        }
        _ => (
            Kind::CertificateExpired,
            format!("Certificate {name} has expired"),
        ),
    };
    let in_use = if certificate.in_use_by.is_empty() {
        "Nothing in this account uses it.".to_owned()
    } else {
        format!(
            "It is in use by {} resource(s).",
            certificate.in_use_by.len()
        )
    };
    let mut summary = format!("{in_use} Renewal: {}.", assessment.renewal.verdict());
    if renewal_requested {
        summary.push_str(" The scan has requested its renewal (RenewCertificate).");
    }
    let action = match &assessment.renewal {
        Renewal::NotAutomatic(reason) => reason.action(&certificate.arn),
        Renewal::Automatic if assessment.days_left.is_some_and(|d| d <= 30) => format!(
            "ACM normally renews 60 days before expiry and has not yet: check `aws acm describe-certificate --certificate-arn {}` for its renewal status and validation records.",
            certificate.arn
        ),
        Renewal::Automatic => "None yet: ACM is expected to renew it. You will be told again at the next threshold.".into(),
        Renewal::ByCloudFront => "Check the CloudFront distribution that manages it.".into(),
    };
    let mut alert = Alert {
        severity,
        kind,
        resource: certificate.arn.clone(),
        title,
        summary,
        action: Some(action),
        facts: certificate_facts(certificate, &assessment.renewal, assessment.days_left),
        attributes: Default::default(),
        source: source.to_owned(),
        time: crate::time::rfc3339_epoch(now),
    };
    alert
        .attributes
        .insert("renewal", assessment.renewal.attribute().to_owned());
    if let Some(days) = assessment.days_left {
        alert.attributes.insert("days_left", days.to_string());
    }
    alert
}

/// One summary alert for a scan that found certificates at risk: a line per certificate, most
/// urgent first. `None` when nothing is at risk.
pub fn digest_alert(
    at_risk: &[(&Certificate, &Assessment)],
    counts: &[(&'static str, usize)],
    scope: &str,
    source: &str,
    now: i64,
) -> Option<Alert> {
    let severity = at_risk.iter().map(|(_, a)| a.severity).max()?;
    let mut sorted = at_risk.to_vec();
    sorted.sort_by_key(|(c, a)| (std::cmp::Reverse(a.severity), a.days_left, c.arn.clone()));
    let lines: Vec<String> = sorted
        .iter()
        .map(|(certificate, assessment)| {
            let when = match (
                assessment.standing,
                certificate.not_after,
                assessment.days_left,
            ) {
                (Standing::Revoked, _, _) => "revoked".to_owned(),
                (_, Some(not_after), Some(days)) => expiry_phrase(days, not_after),
                _ => assessment.standing.as_str().to_owned(),
            };
            format!(
                "- {} ({}): {when}; {}",
                certificate.display_name(),
                assessment.severity.as_str(),
                assessment.renewal.verdict()
            )
        })
        .collect();
    let count = at_risk.len();
    Some(Alert {
        severity,
        kind: Kind::CertificateScanDigest,
        resource: scope.to_owned(),
        title: format!("Certificate scan of {scope}: {count} certificate(s) need attention"),
        summary: format!("Certificates expired, revoked or within the alert thresholds:\n{}", lines.join("\n")),
        action: Some("Act on each certificate above; the individual alerts sent on threshold days say what to do for each.".into()),
        facts: counts.iter().map(|(standing, n)| Fact::new(standing, standing, n.to_string())).collect(),
        attributes: Default::default(),
        source: source.to_owned(),
        time: crate::time::rfc3339_epoch(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::SECONDS_PER_DAY;

    /// 2026-11-22T12:00:00Z.
    const NOW: i64 = 1_795_348_800;
    const DAY: i64 = SECONDS_PER_DAY;

    fn issued(kind: CertificateKind, not_after: i64) -> Certificate {
        Certificate {
            arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc".into(),
            common_name: Some("shop.example.com".into()),
            other_names: vec!["www.shop.example.com".into()],
            kind,
            status: "ISSUED".into(),
            not_after: Some(not_after),
            in_use_by: vec![
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1"
                    .into(),
            ],
            renewal_eligible: true,
            ..Certificate::default()
        }
    }

    fn imported_in(days: i64) -> Certificate {
        issued(CertificateKind::Imported, NOW + days * DAY + 3600)
    }

    #[test]
    fn the_reference_time_is_what_the_tests_say() {
        assert_eq!(crate::time::rfc3339_epoch(NOW), "2026-11-22T12:00:00Z");
    }

    #[test]
    fn each_threshold_alerts_exactly_on_its_day_not_the_days_around_it() {
        let thresholds = Thresholds::default();
        for threshold in [45, 30, 14, 7, 3] {
            for (offset, expected) in [(-1, false), (0, true), (1, false)] {
                let days = threshold + offset;
                let assessment = assess(&imported_in(days), NOW, &thresholds);
                assert_eq!(assessment.days_left, Some(days));
                assert_eq!(
                    assessment.alert().is_some(),
                    expected || thresholds.alerts_on(days),
                    "{days} days left"
                );
            }
        }
        // 46 days: outside the thresholds; an imported certificate is "will not renew".
        let far = assess(&imported_in(46), NOW, &thresholds);
        assert_eq!((far.standing, far.alert()), (Standing::WillNotRenew, None));
    }

    #[test]
    fn severity_rises_as_expiry_nears() {
        let auto = Renewal::Automatic;
        let manual = Renewal::NotAutomatic(NoRenewal::Imported);
        assert_eq!(severity_for(45, &auto), Severity::Info);
        assert_eq!(severity_for(45, &manual), Severity::Warning);
        assert_eq!(severity_for(31, &auto), Severity::Info);
        assert_eq!(severity_for(30, &auto), Severity::Warning);
        assert_eq!(severity_for(8, &manual), Severity::Warning);
        assert_eq!(severity_for(7, &manual), Severity::Error);
        assert_eq!(severity_for(4, &auto), Severity::Error);
        assert_eq!(severity_for(3, &auto), Severity::Critical);
        assert_eq!(severity_for(0, &auto), Severity::Critical);
    }

    #[test]
    fn renewal_verdicts_cover_every_reason() {
        let base = issued(CertificateKind::AmazonIssued, NOW + 100 * DAY);
        assert_eq!(renewal(&base, NOW), Renewal::Automatic);
        let cases: Vec<(Certificate, Renewal)> = vec![
            (
                Certificate {
                    kind: CertificateKind::Imported,
                    renewal_eligible: false,
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::Imported),
            ),
            (
                Certificate {
                    in_use_by: vec![],
                    renewal_eligible: false,
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::NotInUse),
            ),
            (
                Certificate {
                    in_use_by: vec![],
                    renewal_eligible: true,
                    ..base.clone()
                },
                Renewal::Automatic,
            ),
            (
                Certificate {
                    email_validation: true,
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::EmailValidation),
            ),
            (
                Certificate {
                    renewal_status: Some("PENDING_VALIDATION".into()),
                    renewal_status_reason: Some("PENDING_DOMAIN_VALIDATION".into()),
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::PendingValidation {
                    reason: Some("PENDING_DOMAIN_VALIDATION".into()),
                }),
            ),
            (
                Certificate {
                    renewal_status: Some("FAILED".into()),
                    renewal_status_reason: Some("CAA_ERROR".into()),
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::RenewalFailed {
                    reason: Some("CAA_ERROR".into()),
                }),
            ),
            (
                Certificate {
                    renewal_status: Some("PENDING_AUTO_RENEWAL".into()),
                    ..base.clone()
                },
                Renewal::Automatic,
            ),
            (
                Certificate {
                    kind: CertificateKind::Private,
                    renewal_eligible: false,
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::PrivateOnRequest),
            ),
            (
                Certificate {
                    kind: CertificateKind::Private,
                    renewal_eligible: true,
                    ..base.clone()
                },
                Renewal::Automatic,
            ),
            (
                Certificate {
                    managed_by: Some("CLOUDFRONT".into()),
                    in_use_by: vec![],
                    renewal_eligible: false,
                    ..base.clone()
                },
                Renewal::ByCloudFront,
            ),
            (
                Certificate {
                    status: "REVOKED".into(),
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::Revoked),
            ),
            (
                Certificate {
                    status: "EXPIRED".into(),
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::Expired),
            ),
            (
                Certificate {
                    not_after: Some(NOW),
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::Expired),
            ),
            (
                Certificate {
                    status: "PENDING_VALIDATION".into(),
                    not_after: None,
                    ..base.clone()
                },
                Renewal::NotAutomatic(NoRenewal::NotIssued {
                    status: "PENDING_VALIDATION".into(),
                }),
            ),
        ];
        for (certificate, expected) in cases {
            assert_eq!(renewal(&certificate, NOW), expected, "{certificate:?}");
        }
    }

    #[test]
    fn standings_and_alerts_for_every_class() {
        let thresholds = Thresholds::default();
        let base = issued(CertificateKind::AmazonIssued, NOW + 100 * DAY);
        let check = |certificate: Certificate, standing: Standing, alert: Option<Severity>| {
            let assessment = assess(&certificate, NOW, &thresholds);
            assert_eq!(
                (assessment.standing, assessment.alert()),
                (standing, alert),
                "{certificate:?}"
            );
        };
        check(base.clone(), Standing::Healthy, None);
        check(imported_in(100), Standing::WillNotRenew, None);
        check(imported_in(45), Standing::Expiring, Some(Severity::Warning));
        check(imported_in(44), Standing::Expiring, None);
        check(
            Certificate {
                not_after: Some(NOW + 30 * DAY),
                ..base.clone()
            },
            Standing::Expiring,
            Some(Severity::Warning),
        );
        check(
            Certificate {
                not_after: Some(NOW + 45 * DAY),
                ..base.clone()
            },
            Standing::Expiring,
            Some(Severity::Info),
        );
        check(imported_in(7), Standing::Expiring, Some(Severity::Error));
        check(imported_in(1), Standing::Expiring, Some(Severity::Critical));
        check(imported_in(0), Standing::Expiring, Some(Severity::Critical));
        // Expired yesterday: every day, critical while in use, a warning when nothing uses it.
        check(
            Certificate {
                not_after: Some(NOW - DAY),
                ..base.clone()
            },
            Standing::Expired,
            Some(Severity::Critical),
        );
        check(
            Certificate {
                status: "EXPIRED".into(),
                not_after: Some(NOW - 400 * DAY),
                in_use_by: vec![],
                ..base.clone()
            },
            Standing::Expired,
            Some(Severity::Warning),
        );
        check(
            Certificate {
                status: "REVOKED".into(),
                ..base.clone()
            },
            Standing::Revoked,
            Some(Severity::Critical),
        );
        check(
            Certificate {
                status: "PENDING_VALIDATION".into(),
                not_after: None,
                ..base.clone()
            },
            Standing::NotIssued,
            None,
        );
        check(
            Certificate {
                not_after: None,
                ..base.clone()
            },
            Standing::NotIssued,
            None,
        );
    }

    #[test]
    fn an_alert_tells_a_person_what_happens_and_what_to_do() {
        let certificate = imported_in(7);
        let assessment = assess(&certificate, NOW, &Thresholds::default());
        let alert = certificate_alert(
            &certificate,
            &assessment,
            Severity::Error,
            false,
            "acm-certificate-expiry",
            NOW,
        );
        assert_eq!(alert.kind, "certificate-expiring");
        assert_eq!(
            alert.title,
            "Certificate shop.example.com expires in 7 days (2026-11-29)"
        );
        assert_eq!(
            alert.subject(),
            "[ERROR] Certificate shop.example.com expires in 7 days (2026-11-29)"
        );
        assert!(alert.summary.contains("in use by 1 resource"));
        assert!(alert
            .summary
            .contains("will NOT be renewed automatically: it was imported"));
        assert!(alert
            .action
            .as_deref()
            .unwrap()
            .contains("re-import it into the same ARN"));
        assert_eq!(alert.attributes["renewal"], "action-required");
        assert_eq!(alert.attributes["days_left"], "7");
        let facts: Vec<(&str, &str)> = alert
            .facts
            .iter()
            .map(|f| (f.key, f.value.as_str()))
            .collect();
        assert!(facts.contains(&("common_name", "shop.example.com")));
        assert!(facts.contains(&("other_names", "www.shop.example.com")));
        assert!(facts.contains(&("expires", "2026-11-29T13:00:00Z")));
        assert!(facts.contains(&("type", "IMPORTED")));
    }

    #[test]
    fn titles_name_today_tomorrow_and_the_past() {
        let thresholds = Thresholds::default();
        for (not_after, kind, title) in [
            (
                NOW + 3600,
                Kind::CertificateExpiring,
                "expires today (2026-11-22)",
            ),
            (
                NOW + DAY + 3600,
                Kind::CertificateExpiring,
                "expires in 1 day (2026-11-23)",
            ),
            (
                NOW - 3600,
                Kind::CertificateExpired,
                "expired on 2026-11-22",
            ),
        ] {
            let certificate = issued(CertificateKind::Imported, not_after);
            let assessment = assess(&certificate, NOW, &thresholds);
            let alert = certificate_alert(
                &certificate,
                &assessment,
                Severity::Critical,
                false,
                "f",
                NOW,
            );
            assert_eq!(alert.kind, kind);
            assert!(alert.title.ends_with(title), "{}", alert.title);
        }
        let revoked = Certificate {
            status: "REVOKED".into(),
            ..issued(CertificateKind::AmazonIssued, NOW + 90 * DAY)
        };
        let assessment = assess(&revoked, NOW, &thresholds);
        let alert = certificate_alert(&revoked, &assessment, Severity::Critical, false, "f", NOW);
        assert_eq!(
            (alert.kind, alert.title.as_str()),
            (
                Kind::CertificateRevoked,
                "Certificate shop.example.com was revoked"
            )
        );
    }

    #[test]
    fn the_digest_lists_the_certificates_at_risk_most_urgent_first() {
        let thresholds = Thresholds::default();
        let soon = Certificate {
            arn: "arn:soon".into(),
            common_name: Some("soon.example.com".into()),
            ..imported_in(2)
        };
        let later = Certificate {
            arn: "arn:later".into(),
            common_name: Some("later.example.com".into()),
            ..imported_in(20)
        };
        let (a_soon, a_later) = (
            assess(&soon, NOW, &thresholds),
            assess(&later, NOW, &thresholds),
        );
        let counts = [("expiring", 2), ("healthy", 5)];
        let digest = digest_alert(
            &[(&later, &a_later), (&soon, &a_soon)],
            &counts,
            "us-east-1",
            "f",
            NOW,
        )
        .unwrap();
        assert_eq!(digest.severity, Severity::Critical);
        assert_eq!(digest.kind, "certificate-scan-digest");
        assert_eq!(
            digest.title,
            "Certificate scan of us-east-1: 2 certificate(s) need attention"
        );
        let lines: Vec<&str> = digest.summary.lines().skip(1).collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("- soon.example.com (critical): expires in 2 days"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("- later.example.com (warning): expires in 20 days"),
            "{}",
            lines[1]
        );
        assert_eq!(
            digest
                .facts
                .iter()
                .map(|f| (f.key, f.value.as_str()))
                .collect::<Vec<_>>(),
            [("expiring", "2"), ("healthy", "5")]
        );
        assert_eq!(digest_alert(&[], &counts, "us-east-1", "f", NOW), None);
    }

    #[test]
    fn only_private_certificates_within_the_thresholds_and_not_already_renewing_are_renewed() {
        let thresholds = Thresholds::default();
        let wants = |certificate: Certificate| {
            wants_private_renewal(&certificate, &assess(&certificate, NOW, &thresholds))
        };
        let private = Certificate {
            renewal_eligible: false,
            ..issued(CertificateKind::Private, NOW + 20 * DAY)
        };
        assert!(wants(private.clone()));
        assert!(!wants(Certificate {
            not_after: Some(NOW + 60 * DAY),
            ..private.clone()
        }));
        assert!(!wants(Certificate {
            renewal_status: Some("PENDING_AUTO_RENEWAL".into()),
            ..private.clone()
        }));
        assert!(!wants(Certificate {
            status: "EXPIRED".into(),
            ..private.clone()
        }));
        assert!(!wants(Certificate {
            kind: CertificateKind::Imported,
            ..private.clone()
        }));
    }

    #[test]
    fn a_requested_private_renewal_is_said() {
        let certificate = Certificate {
            renewal_eligible: false,
            ..issued(CertificateKind::Private, NOW + 14 * DAY + 60)
        };
        let assessment = assess(&certificate, NOW, &Thresholds::default());
        assert_eq!(
            assessment.renewal,
            Renewal::NotAutomatic(NoRenewal::PrivateOnRequest)
        );
        let alert = certificate_alert(&certificate, &assessment, Severity::Warning, true, "f", NOW);
        assert!(alert.summary.contains("requested its renewal"));
    }
}
