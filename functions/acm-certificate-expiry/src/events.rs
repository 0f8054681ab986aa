//! The events this function receives, parsed leniently, and the alert each ACM or AWS Health
//! event becomes. Pure: the handler does the calls.
//!
//! ACM documents booleans as `TRUE`/`FALSE` while real events carry JSON booleans, and fields
//! come and go between event types: every detail field is optional and read whatever its JSON
//! type; unknown fields are ignored.

use serde_json::Value;
use shared::alert::Kind;
use shared::alert::{facts, Alert, Fact, Severity};
use shared::certificates::policy::{assess, certificate_alert, severity_for, NoRenewal, Renewal};
use shared::certificates::Certificate;
use shared::expiry::Thresholds;
use shared::fields::{eventbridge, flag, number, quoted, text, EnvelopeError};
use shared::identifiers::{self, IdentifierError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The daily schedule.
    Scheduled,
    ApproachingExpiration {
        arn: String,
        common_name: Option<String>,
        days: Option<i64>,
    },
    Expired {
        arn: String,
        common_name: Option<String>,
        expiration: Option<String>,
        in_use: Option<bool>,
    },
    RenewalActionRequired {
        arn: String,
        common_name: Option<String>,
        reason: Option<String>,
        days: Option<i64>,
        in_use: Option<bool>,
    },
    Revoked {
        arn: String,
        common_name: Option<String>,
        expiration: Option<String>,
    },
    Available {
        arn: String,
        common_name: Option<String>,
        action: Option<String>,
        expiration: Option<String>,
    },
    Health {
        event_type: String,
        description: Option<String>,
        resources: Vec<String>,
    },
    /// An event this function does not handle (logged, not an error).
    Unhandled { source: String, detail_type: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("the {0:?} event names no certificate ARN in its resources")]
    NoCertificateArn(String),
    #[error("the {detail_type:?} event: {source}")]
    Identifier {
        detail_type: String,
        source: IdentifierError,
    },
}

impl Event {
    /// `partition` is this function's (from its region): certificates of another partition
    /// cannot be described here, and such an event is not ACM's.
    pub fn parse(payload: &Value, partition: &'static str) -> Result<Event, EventError> {
        let event = eventbridge(payload)?;
        let detail_type = quoted(&event.detail_type);
        let detail = &event.detail;
        let resources = event.resources.as_deref().unwrap_or_default();
        // ACM's events name one certificate; a resource that is not one is refused, wherever it is.
        let arn = || {
            for (i, resource) in resources.iter().enumerate() {
                identifiers::certificate_arn(resource, &format!("resources[{i}]"), partition)
                    .map_err(|source| EventError::Identifier {
                        detail_type: detail_type.clone(),
                        source,
                    })?;
            }
            resources
                .first()
                .cloned()
                .ok_or_else(|| EventError::NoCertificateArn(detail_type.clone()))
        };
        let common_name = text(detail, "CommonName");
        Ok(match (event.source.as_str(), event.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Event::Scheduled,
            ("aws.acm", "ACM Certificate Approaching Expiration") => Event::ApproachingExpiration {
                arn: arn()?,
                common_name,
                days: number(detail, "DaysToExpiry"),
            },
            ("aws.acm", "ACM Certificate Expired") => Event::Expired {
                arn: arn()?,
                common_name,
                expiration: text(detail, "CertificateExpirationDate"),
                in_use: flag(detail, "InUse"),
            },
            ("aws.acm", "ACM Certificate Renewal Action Required") => {
                Event::RenewalActionRequired {
                    arn: arn()?,
                    common_name,
                    reason: text(detail, "RenewalStatusReason"),
                    days: number(detail, "DaysToExpiry"),
                    in_use: flag(detail, "InUse"),
                }
            }
            ("aws.acm", "ACM Certificate Revoked") => Event::Revoked {
                arn: arn()?,
                common_name,
                expiration: text(detail, "CertificateExpirationDate"),
            },
            ("aws.acm", "ACM Certificate Available") => Event::Available {
                arn: arn()?,
                common_name,
                action: text(detail, "Action"),
                expiration: text(detail, "CertificateExpirationDate"),
            },
            ("aws.health", "AWS Health Event")
                if text(detail, "service").as_deref() == Some("ACM") =>
            {
                Event::Health {
                    event_type: text(detail, "eventTypeCode").unwrap_or_else(|| "UNKNOWN".into()),
                    description: detail
                        .get("eventDescription")
                        .and_then(|d| d.get(0))
                        .and_then(|d| text(d, "latestDescription")),
                    resources: resources.iter().take(20).map(|r| quoted(r)).collect(),
                }
            }
            (source, _) => Event::Unhandled {
                source: quoted(source),
                detail_type,
            },
        })
    }

    /// The certificate to describe before alerting, for events that need its current state.
    pub fn certificate_to_describe(&self) -> Option<&str> {
        match self {
            Event::ApproachingExpiration { arn, .. } => Some(arn),
            _ => None,
        }
    }
}

/// What the handler learnt when it described the event's certificate.
pub enum Described<'a> {
    NotNeeded,
    Found(&'a Certificate),
    /// Deleted since, or the call failed: the alert goes out with what the event says.
    Unavailable(String),
}

struct EventAlert {
    severity: Severity,
    kind: Kind,
    resource: String,
    title: String,
    summary: String,
    action: String,
    facts: Vec<Fact>,
}

impl EventAlert {
    fn into_alert(self, source: &str, now: i64) -> Alert {
        Alert {
            severity: self.severity,
            kind: self.kind,
            resource: self.resource,
            title: self.title,
            summary: self.summary,
            action: Some(self.action),
            facts: self.facts,
            attributes: Default::default(),
            source: source.to_owned(),
            time: shared::time::rfc3339_epoch(now),
        }
    }
}

fn name<'a>(common_name: &'a Option<String>, arn: &'a str) -> &'a str {
    common_name.as_deref().unwrap_or(arn)
}

fn days_phrase(days: Option<i64>) -> String {
    match days {
        Some(0) => "expires today".into(),
        Some(1) => "expires in 1 day".into(),
        Some(d) => format!("expires in {d} days"),
        None => "expires soon".into(),
    }
}

/// What a person must do when ACM reports that a renewal needs action, by ACM's reason code.
pub fn renewal_action(reason: Option<&str>, arn: &str) -> String {
    match reason {
        Some("PENDING_DOMAIN_VALIDATION") => NoRenewal::PendingValidation { reason: None }.action(arn),
        Some("CAA_ERROR") => NoRenewal::RenewalFailed { reason: Some("CAA_ERROR".into()) }.action(arn),
        Some("NO_AVAILABLE_CONTACTS") => "ACM found no contact to send the validation email to: add contacts for the domain, or request a DNS-validated replacement.".into(),
        Some("SLR_NOT_FOUND") => "Recreate ACM's service-linked role (`aws iam create-service-linked-role --aws-service-name acm.amazonaws.com`) so ACM can renew.".into(),
        Some(code) if code.starts_with("PCA_") => "Check the private CA that issued it (it must be active, and ACM must be allowed to issue from it), then renew.".into(),
        _ => NoRenewal::RenewalFailed { reason: reason.map(str::to_owned) }.action(arn),
    }
}

/// The alert an event becomes; `None` for the schedule and for events not handled.
pub fn event_alert(
    event: &Event,
    described: Described<'_>,
    thresholds: &Thresholds,
    source: &str,
    now: i64,
) -> Option<Alert> {
    let alert = match event {
        Event::Scheduled | Event::Unhandled { .. } => return None,
        Event::ApproachingExpiration {
            arn,
            common_name,
            days,
        } => {
            let why = match described {
                Described::Found(certificate) => {
                    let assessment = assess(certificate, now, thresholds);
                    return Some(certificate_alert(
                        certificate,
                        &assessment,
                        assessment.severity,
                        false,
                        source,
                        now,
                    ));
                }
                Described::Unavailable(why) => why,
                Described::NotNeeded => "it was not described".to_owned(),
            };
            // Without its description, assume the worst: that ACM will not renew it.
            let unknown = Renewal::NotAutomatic(NoRenewal::RenewalFailed { reason: None });
            EventAlert {
                severity: days.map_or(Severity::Warning, |d| severity_for(d, &unknown)),
                kind: Kind::CertificateExpiring,
                resource: arn.clone(),
                title: format!("Certificate {} {}", name(common_name, arn), days_phrase(*days)),
                summary: format!("ACM reports it is approaching expiration. Its details could not be read ({why}), so whether ACM will renew it is unknown."),
                action: format!("Check it with `aws acm describe-certificate --certificate-arn {arn}` and renew or replace it before it expires."),
                facts: facts(&[("common_name", "Common name", common_name.clone()), ("days_left", "Days left", days.map(|d| d.to_string()))]),
            }
        }
        Event::Expired {
            arn,
            common_name,
            expiration,
            in_use,
        } => EventAlert {
            severity: if *in_use == Some(false) {
                Severity::Warning
            } else {
                Severity::Critical
            },
            kind: Kind::CertificateExpired,
            resource: arn.clone(),
            title: format!("Certificate {} has expired", name(common_name, arn)),
            summary: match in_use {
                Some(true) => {
                    "It is in use: clients connecting to the resources that use it now see errors."
                        .into()
                }
                Some(false) => "Nothing in this account uses it.".into(),
                None => "ACM did not say whether it is in use.".into(),
            },
            action: NoRenewal::Expired.action(arn),
            facts: facts(&[
                ("common_name", "Common name", common_name.clone()),
                ("expires", "Expired", expiration.clone()),
                ("in_use", "In use", in_use.map(|b| b.to_string())),
            ]),
        },
        Event::RenewalActionRequired {
            arn,
            common_name,
            reason,
            days,
            in_use,
        } => {
            let needs_action = Renewal::NotAutomatic(NoRenewal::RenewalFailed {
                reason: reason.clone(),
            });
            EventAlert {
                severity: days.map_or(Severity::Error, |d| {
                    severity_for(d, &needs_action).max(Severity::Warning)
                }),
                kind: Kind::CertificateRenewalActionRequired,
                resource: arn.clone(),
                title: format!(
                    "Certificate {} needs action to renew ({}), {}",
                    name(common_name, arn),
                    reason.as_deref().unwrap_or("reason not given"),
                    days_phrase(*days)
                ),
                summary: "ACM cannot renew it until a person acts.".into(),
                action: renewal_action(reason.as_deref(), arn),
                facts: facts(&[
                    ("common_name", "Common name", common_name.clone()),
                    ("renewal_status_reason", "Reason", reason.clone()),
                    ("days_left", "Days left", days.map(|d| d.to_string())),
                    ("in_use", "In use", in_use.map(|b| b.to_string())),
                ]),
            }
        }
        Event::Revoked {
            arn,
            common_name,
            expiration,
        } => EventAlert {
            severity: Severity::Critical,
            kind: Kind::CertificateRevoked,
            resource: arn.clone(),
            title: format!("Certificate {} was revoked", name(common_name, arn)),
            summary: "Clients that check revocation reject it.".into(),
            action: NoRenewal::Revoked.action(arn),
            facts: facts(&[
                ("common_name", "Common name", common_name.clone()),
                ("expires", "Expires", expiration.clone()),
            ]),
        },
        Event::Available {
            arn,
            common_name,
            action,
            expiration,
        } => {
            let what = match action.as_deref() {
                Some("ISSUANCE") => "issued",
                Some("RENEWAL") => "renewed",
                Some("IMPORT") => "imported",
                Some("REIMPORT") => "re-imported",
                _ => "available",
            };
            let until = expiration
                .as_deref()
                .map(|e| format!("; valid until {e}"))
                .unwrap_or_default();
            EventAlert {
                severity: Severity::Info,
                kind: Kind::CertificateAvailable,
                resource: arn.clone(),
                title: format!("Certificate {} {what}{until}", name(common_name, arn)),
                summary: "Resolved: earlier expiry alerts for this certificate no longer apply."
                    .into(),
                action: "None.".into(),
                facts: facts(&[
                    ("common_name", "Common name", common_name.clone()),
                    ("action", "Action", action.clone()),
                    ("expires", "Expires", expiration.clone()),
                ]),
            }
        }
        Event::Health {
            event_type,
            description,
            resources,
        } => EventAlert {
            severity: match event_type.as_str() {
                "AWS_ACM_RENEWAL_FAILURE" | "CAA_CHECK_FAILURE" => Severity::Error,
                _ => Severity::Warning,
            },
            kind: Kind::AcmHealthEvent,
            resource: resources.first().cloned().unwrap_or_else(|| "acm".into()),
            title: format!(
                "AWS Health: {event_type} for {} certificate(s)",
                resources.len().max(1)
            ),
            summary: description
                .clone()
                .unwrap_or_else(|| "AWS Health reported an ACM event.".into()),
            action:
                "Read the event in the AWS Health Dashboard and act on each certificate it names."
                    .into(),
            facts: facts(&[
                ("event_type", "Event type", Some(event_type.clone())),
                (
                    "certificates",
                    "Certificates",
                    (!resources.is_empty()).then(|| resources.join(", ")),
                ),
            ]),
        },
    };
    Some(alert.into_alert(source, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::certificates::CertificateKind;

    /// 2026-11-22T12:00:00Z.
    const NOW: i64 = 1_795_348_800;
    const CERT: &str =
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

    fn fixture(name: &str) -> Value {
        let text = match name {
            "approaching" => {
                include_str!("../../../tests/fixtures/events/acm-approaching-expiration.json")
            }
            "expired" => include_str!("../../../tests/fixtures/events/acm-expired.json"),
            "action" => {
                include_str!("../../../tests/fixtures/events/acm-renewal-action-required.json")
            }
            "revoked" => include_str!("../../../tests/fixtures/events/acm-revoked.json"),
            "available" => include_str!("../../../tests/fixtures/events/acm-available.json"),
            "health" => {
                include_str!("../../../tests/fixtures/events/health-acm-renewal-failure.json")
            }
            "scheduled" => include_str!("../../../tests/fixtures/events/scheduled.json"),
            other => panic!("no fixture {other}"),
        };
        serde_json::from_str(&text.replace("CERTIFICATE_ARN", CERT)).unwrap()
    }

    fn alert_for(name: &str) -> Alert {
        let event = Event::parse(&fixture(name), "aws").unwrap();
        event_alert(
            &event,
            Described::NotNeeded,
            &Thresholds::default(),
            "f",
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn every_fixture_parses_to_its_event() {
        assert_eq!(
            Event::parse(&fixture("scheduled"), "aws"),
            Ok(Event::Scheduled)
        );
        assert_eq!(
            Event::parse(&fixture("approaching"), "aws"),
            Ok(Event::ApproachingExpiration {
                arn: CERT.into(),
                common_name: Some("shop.example.com".into()),
                days: Some(10)
            })
        );
        assert!(matches!(
            Event::parse(&fixture("expired"), "aws"),
            Ok(Event::Expired {
                in_use: Some(true),
                ..
            })
        ));
        // Documented string booleans are read like real JSON booleans.
        assert!(matches!(
            Event::parse(&fixture("action"), "aws"),
            Ok(Event::RenewalActionRequired { in_use: Some(true), days: Some(14), ref reason, .. }) if reason.as_deref() == Some("CAA_ERROR")
        ));
        assert!(matches!(
            Event::parse(&fixture("revoked"), "aws"),
            Ok(Event::Revoked { .. })
        ));
        assert!(
            matches!(Event::parse(&fixture("available"), "aws"), Ok(Event::Available { ref action, .. }) if action.as_deref() == Some("RENEWAL"))
        );
        assert!(
            matches!(Event::parse(&fixture("health"), "aws"), Ok(Event::Health { ref event_type, .. }) if event_type == "AWS_ACM_RENEWAL_FAILURE")
        );
    }

    #[test]
    fn unknown_and_foreign_events_are_unhandled_not_errors() {
        let mut event = fixture("approaching");
        event["detail-type"] = json!("ACM Certificate Teleported");
        assert_eq!(
            Event::parse(&event, "aws"),
            Ok(Event::Unhandled {
                source: "aws.acm".into(),
                detail_type: "ACM Certificate Teleported".into()
            })
        );
        let mut health = fixture("health");
        health["detail"]["service"] = json!("EC2");
        assert!(matches!(
            Event::parse(&health, "aws"),
            Ok(Event::Unhandled { .. })
        ));
    }

    #[test]
    fn malformed_events_are_specific_errors() {
        assert!(
            matches!(Event::parse(&json!({"hello": "world"}), "aws"), Err(EventError::Envelope(EnvelopeError::NotEventBridge(m))) if m.contains("detail-type"))
        );
        assert!(matches!(
            Event::parse(&json!("text"), "aws"),
            Err(EventError::Envelope(EnvelopeError::NotEventBridge(_)))
        ));
        let mut no_resources = fixture("expired");
        no_resources.as_object_mut().unwrap().remove("resources");
        assert_eq!(
            Event::parse(&no_resources, "aws"),
            Err(EventError::NoCertificateArn(
                "ACM Certificate Expired".into()
            ))
        );
        let mut empty = fixture("revoked");
        empty["resources"] = json!([]);
        assert!(matches!(
            Event::parse(&empty, "aws"),
            Err(EventError::NoCertificateArn(_))
        ));
    }

    #[test]
    fn only_acm_certificate_arns_of_this_partition_are_accepted() {
        let wrong = [
            "arn:aws:s3:::my-bucket".to_owned(),
            "arn:aws:iam::123456789012:user/alice".to_owned(),
            "arn:aws:acm:us-east-1:123456789012:certificate/short".to_owned(),
            "arn:aws-cn:acm:cn-north-1:123456789012:certificate/7e5b2c90-8f1a-4c61-9d7e-2a6c1f0b9e33".to_owned(),
            "arn:aws:acm:us-east-1:1234:certificate/7e5b2c90-8f1a-4c61-9d7e-2a6c1f0b9e33".to_owned(),
            format!("arn:aws:acm:us-east-1:123456789012:certificate/{}", "a".repeat(1_000_000)),
        ];
        for resource in wrong {
            let mut event = fixture("expired");
            event["resources"] = json!([resource]);
            let error = Event::parse(&event, "aws").unwrap_err();
            assert!(
                matches!(error, EventError::Identifier { .. }),
                "{}",
                shared::text::excerpt(&resource, 80)
            );
            assert!(
                error.to_string().len() < 400,
                "the input is quoted unbounded"
            );
        }
        // A wrong ARN after a right one is as wrong.
        let mut event = fixture("expired");
        let right = event["resources"][0].clone();
        event["resources"] = json!([right, "arn:aws:s3:::b"]);
        assert!(matches!(
            Event::parse(&event, "aws"),
            Err(EventError::Identifier { .. })
        ));
    }

    #[test]
    fn a_detail_that_is_not_an_object_is_refused_and_huge_input_is_not_echoed() {
        let mut event = fixture("expired");
        event["detail"] = json!("RENEWAL");
        assert!(matches!(
            Event::parse(&event, "aws"),
            Err(EventError::Envelope(EnvelopeError::DetailNotObject { .. }))
        ));
        let mut event = fixture("expired");
        event["detail-type"] = json!("x".repeat(1_000_000));
        event["detail"] = json!(1);
        assert!(Event::parse(&event, "aws").unwrap_err().to_string().len() < 400);
        let mut event = fixture("expired");
        event["detail-type"] = json!(["y".repeat(1_000_000)]);
        assert!(Event::parse(&event, "aws").unwrap_err().to_string().len() < 400);
    }

    #[test]
    fn partial_details_still_parse() {
        let mut event = fixture("approaching");
        event["detail"] = json!({"DaysToExpiry": "7", "Unexpected": [1, 2]});
        assert_eq!(
            Event::parse(&event, "aws"),
            Ok(Event::ApproachingExpiration {
                arn: CERT.into(),
                common_name: None,
                days: Some(7)
            })
        );
        event["detail"] = json!({});
        assert_eq!(
            Event::parse(&event, "aws"),
            Ok(Event::ApproachingExpiration {
                arn: CERT.into(),
                common_name: None,
                days: None
            })
        );
    }

    #[test]
    fn each_event_becomes_its_alert() {
        let expired = alert_for("expired");
        assert_eq!(
            (expired.severity, expired.kind.as_str()),
            (Severity::Critical, "certificate-expired")
        );
        assert_eq!(expired.title, "Certificate api.example.com has expired");
        assert!(expired.summary.contains("in use"));

        let action = alert_for("action");
        assert_eq!(
            (action.severity, action.kind.as_str()),
            (Severity::Warning, "certificate-renewal-action-required")
        );
        assert_eq!(
            action.title,
            "Certificate www.example.com needs action to renew (CAA_ERROR), expires in 14 days"
        );
        assert!(action.action.as_deref().unwrap().contains("CAA records"));

        let revoked = alert_for("revoked");
        assert_eq!(
            (revoked.severity, revoked.kind.as_str()),
            (Severity::Critical, "certificate-revoked")
        );

        let available = alert_for("available");
        assert_eq!(
            (available.severity, available.kind.as_str()),
            (Severity::Info, "certificate-available")
        );
        assert_eq!(
            available.title,
            "Certificate www.example.com renewed; valid until 2027-12-31T23:59:59Z"
        );

        let health = alert_for("health");
        assert_eq!(
            (health.severity, health.kind.as_str()),
            (Severity::Error, "acm-health-event")
        );
        assert_eq!(
            health.title,
            "AWS Health: AWS_ACM_RENEWAL_FAILURE for 1 certificate(s)"
        );
        assert!(health.summary.contains("unable to renew"));
        assert_eq!(
            Event::parse(&fixture("scheduled"), "aws")
                .ok()
                .and_then(|e| event_alert(
                    &e,
                    Described::NotNeeded,
                    &Thresholds::default(),
                    "f",
                    NOW
                )),
            None
        );
    }

    #[test]
    fn approaching_expiration_uses_the_description_when_there_is_one() {
        let event = Event::parse(&fixture("approaching"), "aws").unwrap();
        let certificate = Certificate {
            arn: CERT.into(),
            common_name: Some("shop.example.com".into()),
            kind: CertificateKind::Imported,
            status: "ISSUED".into(),
            not_after: Some(NOW + 10 * 86_400 + 60),
            ..Certificate::default()
        };
        let alert = event_alert(
            &event,
            Described::Found(&certificate),
            &Thresholds::default(),
            "f",
            NOW,
        )
        .unwrap();
        assert_eq!(
            alert.title,
            "Certificate shop.example.com expires in 10 days (2026-12-02)"
        );
        assert!(alert
            .summary
            .contains("will NOT be renewed automatically: it was imported"));
        assert_eq!(alert.severity, Severity::Warning);

        let unknown = event_alert(
            &event,
            Described::Unavailable("the certificate no longer exists".into()),
            &Thresholds::default(),
            "f",
            NOW,
        )
        .unwrap();
        assert_eq!(
            unknown.title,
            "Certificate shop.example.com expires in 10 days"
        );
        assert!(unknown
            .summary
            .contains("could not be read (the certificate no longer exists)"));
        assert_eq!(unknown.resource, CERT);
    }

    #[test]
    fn renewal_actions_follow_acm_reason_codes() {
        assert!(renewal_action(Some("PENDING_DOMAIN_VALIDATION"), CERT)
            .contains("DNS validation records"));
        assert!(renewal_action(Some("NO_AVAILABLE_CONTACTS"), CERT).contains("no contact"));
        assert!(renewal_action(Some("SLR_NOT_FOUND"), CERT).contains("service-linked role"));
        assert!(renewal_action(Some("PCA_INVALID_STATE"), CERT).contains("private CA"));
        assert!(renewal_action(Some("OTHER"), CERT).contains("describe-certificate"));
    }
}
