//! The EventBridge events this function receives, parsed leniently, and the alert each becomes.
//! Pure: the handler does the calls.
//!
//! - KMS's own events: `KMS CMK Rotation` (automatic and on-demand), `KMS Imported Key Material
//!   Expiration`, `KMS CMK Deletion`. They tell after the fact; the daily scan warns ahead.
//! - CloudTrail's record of calls that weaken a key's protection (`DisableKeyRotation`,
//!   `ScheduleKeyDeletion`, `DisableKey`, `EnableKeyRotation` with a period above the maximum),
//!   alerted at once with the caller's ARN. A call that failed changed nothing and is ignored.

use serde_json::Value;
use shared::alert::Kind;
use shared::alert::{facts, Alert, Severity};
use shared::fields::{eventbridge, number, quoted, text, EnvelopeError};
use shared::identifiers::{self, IdentifierError, KmsKeyReference};
use shared::kms::aws::key_id_of_arn;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Scheduled,
    Rotated {
        key_arn: String,
        rotation_type: Option<String>,
        origin: Option<String>,
    },
    MaterialExpired {
        key_arn: String,
        material_id: Option<String>,
    },
    Deleted {
        key_arn: String,
    },
    Call(ApiCall),
    /// An event this function does not handle (logged, not an error).
    Unhandled {
        source: String,
        detail_type: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallName {
    DisableKeyRotation,
    ScheduleKeyDeletion,
    DisableKey,
    EnableKeyRotation,
}

impl CallName {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "DisableKeyRotation" => Some(Self::DisableKeyRotation),
            "ScheduleKeyDeletion" => Some(Self::ScheduleKeyDeletion),
            "DisableKey" => Some(Self::DisableKey),
            "EnableKeyRotation" => Some(Self::EnableKeyRotation),
            _ => None,
        }
    }
}

/// A KMS API call as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    pub name: CallName,
    /// The key's ARN (built from the event's account and region when the caller passed an id).
    pub key_arn: String,
    /// `userIdentity.arn`, else the AWS service that made the call.
    pub caller: String,
    pub period_days: Option<i64>,
    pub window_days: Option<i64>,
    pub deletion_date: Option<String>,
    pub event_time: Option<String>,
    pub source_ip: Option<String>,
    /// `errorCode`: the call failed and changed nothing.
    pub error_code: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("the {detail_type:?} event: {source}")]
    Identifier {
        detail_type: String,
        source: IdentifierError,
    },
}

impl Event {
    /// `partition` is this function's (from its region).
    pub fn parse(payload: &Value, partition: &'static str) -> Result<Event, EventError> {
        let event = eventbridge(payload)?;
        let detail_type = quoted(&event.detail_type);
        let detail = &event.detail;
        let refused = |source: IdentifierError| EventError::Identifier {
            detail_type: detail_type.clone(),
            source,
        };
        // KMS's events name exactly one key, by its ARN.
        let key_arn = || {
            let resources = event.resources.as_deref().unwrap_or_default();
            let Some(first) = resources.first() else {
                return Err(refused(IdentifierError::Missing {
                    field: "resources[0]".into(),
                }));
            };
            identifiers::kms_key_arn(first, "resources[0]", partition)
                .map(str::to_owned)
                .map_err(refused)
        };
        Ok(match (event.source.as_str(), event.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Event::Scheduled,
            ("aws.kms", "KMS CMK Rotation") => Event::Rotated {
                key_arn: key_arn()?,
                rotation_type: text(detail, "rotation-type"),
                origin: text(detail, "key-origin"),
            },
            ("aws.kms", "KMS Imported Key Material Expiration") => Event::MaterialExpired {
                key_arn: key_arn()?,
                material_id: text(detail, "key-material-id"),
            },
            ("aws.kms", "KMS CMK Deletion") => Event::Deleted {
                key_arn: key_arn()?,
            },
            ("aws.kms", "AWS API Call via CloudTrail") => {
                let event_name = text(detail, "eventName").unwrap_or_default();
                let Some(name) = CallName::parse(&event_name) else {
                    return Ok(Event::Unhandled {
                        source: "aws.kms".into(),
                        detail_type: format!("{detail_type} {}", quoted(&event_name)),
                    });
                };
                let empty = Value::Null;
                let request = detail.get("requestParameters").unwrap_or(&empty);
                let response = detail.get("responseElements").unwrap_or(&empty);
                let identity = detail.get("userIdentity").unwrap_or(&empty);
                let field = "detail.requestParameters.keyId";
                let key = identifiers::text(request.get("keyId"), field, "a KMS key")
                    .and_then(|key| identifiers::kms_key_reference(key, field, partition))
                    .map_err(refused)?;
                // A key named by id or alias name is in the call's region and account.
                let home = || -> Result<(String, String), EventError> {
                    let region = match detail.get("awsRegion") {
                        Some(region) => {
                            identifiers::text(Some(region), "detail.awsRegion", "a region")
                        }
                        None => Ok(event.region.as_deref().unwrap_or_default()),
                    }
                    .and_then(|region| identifiers::region(region, "detail.awsRegion"))
                    .map_err(refused)?;
                    let account = match identity
                        .get("accountId")
                        .or(detail.get("recipientAccountId"))
                    {
                        Some(account) => identifiers::text(
                            Some(account),
                            "detail.userIdentity.accountId",
                            "an account id",
                        ),
                        None => Ok(event.account.as_deref().unwrap_or_default()),
                    }
                    .and_then(|account| {
                        identifiers::account_id(account, "detail.userIdentity.accountId")
                    })
                    .map_err(refused)?;
                    Ok((region.to_owned(), account.to_owned()))
                };
                let key_arn = match key {
                    KmsKeyReference::KeyArn(arn) | KmsKeyReference::AliasArn(arn) => arn.to_owned(),
                    KmsKeyReference::KeyId(id) => {
                        let (region, account) = home()?;
                        format!("arn:{partition}:kms:{region}:{account}:key/{id}")
                    }
                    KmsKeyReference::AliasName(alias) => {
                        let (region, account) = home()?;
                        format!("arn:{partition}:kms:{region}:{account}:{alias}")
                    }
                };
                Event::Call(ApiCall {
                    name,
                    key_arn,
                    caller: text(identity, "arn")
                        .or_else(|| text(identity, "invokedBy"))
                        .or_else(|| text(identity, "type"))
                        .map(|c| quoted(&c))
                        .unwrap_or_else(|| "an unknown caller".into()),
                    period_days: number(request, "rotationPeriodInDays"),
                    window_days: number(request, "pendingWindowInDays")
                        .or_else(|| number(response, "pendingWindowInDays")),
                    deletion_date: text(response, "deletionDate").map(|d| quoted(&d)),
                    event_time: text(detail, "eventTime").map(|t| quoted(&t)),
                    source_ip: text(detail, "sourceIPAddress").map(|t| quoted(&t)),
                    error_code: text(detail, "errorCode").map(|c| quoted(&c)),
                })
            }
            (source, _) => Event::Unhandled {
                source: quoted(source),
                detail_type,
            },
        })
    }
}

fn key_name(key_arn: &str) -> &str {
    key_id_of_arn(key_arn).unwrap_or(key_arn)
}

fn alert(
    severity: Severity,
    kind: Kind,
    key_arn: &str,
    title: String,
    summary: String,
    action: Option<String>,
    facts: Vec<shared::alert::Fact>,
) -> Alert {
    let mut alert = Alert {
        severity,
        kind,
        resource: key_arn.to_owned(),
        title,
        summary,
        action,
        facts,
        attributes: Default::default(),
        source: String::new(),
        time: String::new(),
    };
    alert.attributes.insert("trigger", "event".into());
    alert
}

/// The alert an event becomes; `None` for the schedule, events not handled, failed calls, and a
/// rotation period within the maximum.
pub fn event_alert(
    event: &Event,
    max_cryptoperiod_days: u32,
    source: &str,
    now: i64,
) -> Option<Alert> {
    let mut alert = match event {
        Event::Scheduled | Event::Unhandled { .. } => return None,
        Event::Rotated {
            key_arn,
            rotation_type,
            origin,
        } => {
            let how = match rotation_type.as_deref() {
                Some("ON_DEMAND") => "on demand",
                Some("AUTOMATIC") => "automatically",
                _ => "",
            };
            alert(
                Severity::Info,
                Kind::KmsKeyRotated,
                key_arn,
                format!("KMS key {} rotated {how}", key_name(key_arn)).trim_end().to_owned(),
                "KMS rotated the key's material. Ciphertext made under earlier material still decrypts; new encryption uses the new material.".into(),
                None,
                facts(&[
                    ("key_id", "Key id", Some(key_name(key_arn).to_owned())),
                    ("rotation_type", "Rotation type", rotation_type.clone()),
                    ("origin", "Key material origin", origin.clone()),
                ]),
            )
        }
        Event::MaterialExpired {
            key_arn,
            material_id,
        } => alert(
            Severity::Critical,
            Kind::KmsMaterialExpired,
            key_arn,
            format!("KMS key {}: imported material expired; key unusable", key_name(key_arn)),
            "KMS deleted the key's imported material at its expiry. Every encrypt, decrypt, sign or verify with this key fails until the same material is imported again.".into(),
            Some(format!("Re-import the same key material now (`aws kms get-parameters-for-import --key-id {id} ...`, then `aws kms import-key-material --key-id {id} --import-type EXISTING_KEY_MATERIAL ...`), with a later expiry or none.", id = key_name(key_arn))),
            facts(&[
                ("key_id", "Key id", Some(key_name(key_arn).to_owned())),
                ("key_material_id", "Key material id", material_id.clone()),
            ]),
        ),
        Event::Deleted { key_arn } => alert(
            Severity::Warning,
            Kind::KmsKeyDeleted,
            key_arn,
            format!("KMS key {} was deleted", key_name(key_arn)),
            "The key's waiting period ended and KMS deleted it. Data still encrypted under it cannot be decrypted by anyone.".into(),
            Some("Check that nothing still needed data encrypted under this key (the daily scan warned while it was pending deletion). A deletion cannot be undone.".into()),
            facts(&[("key_id", "Key id", Some(key_name(key_arn).to_owned()))]),
        ),
        Event::Call(call) => call_alert(call, max_cryptoperiod_days)?,
    };
    alert.source = source.to_owned();
    alert.time = shared::time::rfc3339_epoch(now);
    Some(alert)
}

fn call_alert(call: &ApiCall, max_cryptoperiod_days: u32) -> Option<Alert> {
    if call.error_code.is_some() {
        return None;
    }
    let id = key_name(&call.key_arn);
    let (kind, title, summary, action) = match call.name {
        CallName::DisableKeyRotation => (
            Kind::KmsRotationDisabledByCall,
            format!("Automatic rotation of KMS key {id} was turned off"),
            format!("{} turned off automatic rotation of the key: its material stays in use past the cryptoperiod.", call.caller),
            format!("If this was not intended, turn rotation back on (`aws kms enable-key-rotation --key-id {id} --rotation-period-in-days {max_cryptoperiod_days}`); if it was, tag the key as exempt with a reason so the daily scan reports it as such."),
        ),
        CallName::ScheduleKeyDeletion => (
            Kind::KmsDeletionScheduledByCall,
            format!("KMS key {id} was scheduled for deletion"),
            format!(
                "{} scheduled the key for deletion{}{}. Once deleted, data encrypted under it is lost for good.",
                call.caller,
                call.window_days.map(|d| format!(" in {d} days")).unwrap_or_default(),
                call.deletion_date.as_ref().map(|d| format!(" ({d})")).unwrap_or_default(),
            ),
            format!("If anything still uses the key, cancel the deletion (`aws kms cancel-key-deletion --key-id {id}`, then `aws kms enable-key --key-id {id}`). The daily scan escalates to critical while an alias or grant still points at it."),
        ),
        CallName::DisableKey => (
            Kind::KmsKeyDisabledByCall,
            format!("KMS key {id} was disabled"),
            format!("{} disabled the key: every cryptographic call with it now fails, and KMS does not rotate it while it is disabled.", call.caller),
            format!("If this was not intended, enable it again (`aws kms enable-key --key-id {id}`). If it is a step before deletion, watch CloudTrail for DisabledException errors first."),
        ),
        CallName::EnableKeyRotation => {
            // KMS's default when no period is given.
            let period = call.period_days.unwrap_or(365);
            if period <= i64::from(max_cryptoperiod_days) {
                return None;
            }
            (
                Kind::KmsRotationPeriodSetTooLong,
                format!("KMS key {id} set to rotate every {period} days"),
                format!("{} set the key's rotation period to {period} days, longer than the {max_cryptoperiod_days}-day maximum cryptoperiod.", call.caller),
                format!("Set a period within the maximum (`aws kms enable-key-rotation --key-id {id} --rotation-period-in-days {max_cryptoperiod_days}`), or let the scan do it with DRY_RUN=false."),
            )
        }
    };
    let mut alert = alert(
        Severity::Warning,
        kind,
        &call.key_arn,
        title,
        summary,
        Some(action),
        facts(&[
            ("key_id", "Key id", Some(id.to_owned())),
            ("caller", "Called by", Some(call.caller.clone())),
            ("source_ip", "Source IP", call.source_ip.clone()),
            ("event_time", "Call time", call.event_time.clone()),
            (
                "rotation_period_days",
                "Rotation period (days)",
                call.period_days.map(|d| d.to_string()),
            ),
            (
                "pending_window_days",
                "Waiting period (days)",
                call.window_days.map(|d| d.to_string()),
            ),
            ("deletion_date", "Deletion date", call.deletion_date.clone()),
        ]),
    );
    alert.attributes.insert("caller", call.caller.clone());
    Some(alert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_795_348_800;
    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn kms_event(detail_type: &str, detail: Value) -> Value {
        json!({
            "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.kms",
            "account": "111122223333", "time": "2026-11-22T08:00:00Z", "region": "eu-west-1",
            "resources": [KEY], "detail": detail
        })
    }

    fn call(name: &str, request: Value, response: Value) -> Value {
        json!({
            "version": "0", "id": "e2", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.kms", "account": "111122223333", "time": "2026-11-22T08:00:00Z",
            "region": "eu-west-1", "resources": [],
            "detail": {
                "eventVersion": "1.08", "eventSource": "kms.amazonaws.com", "eventName": name,
                "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.9",
                "eventTime": "2026-11-22T07:59:58Z",
                "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                    "arn": "arn:aws:sts::111122223333:assumed-role/Admin/mallory"},
                "requestParameters": request, "responseElements": response
            }
        })
    }

    fn parse(value: &Value) -> Result<Event, EventError> {
        Event::parse(value, "aws")
    }

    #[test]
    fn kms_events_become_alerts_of_their_severity() {
        let rotated = parse(&kms_event(
            "KMS CMK Rotation",
            json!({"key-id": "1234abcd-12ab-34cd-56ef-1234567890ab", "key-origin": "AWS_KMS", "rotation-type": "ON_DEMAND"}),
        ))
        .unwrap();
        let a = event_alert(&rotated, 365, "kms-key-rotation", NOW).unwrap();
        assert_eq!(
            (a.severity, a.kind.as_str()),
            (Severity::Info, "kms-key-rotated")
        );
        assert_eq!(
            a.title,
            "KMS key 1234abcd-12ab-34cd-56ef-1234567890ab rotated on demand"
        );
        assert_eq!(a.resource, KEY);

        let expired = parse(&kms_event(
            "KMS Imported Key Material Expiration",
            json!({"key-id": "x"}),
        ))
        .unwrap();
        let a = event_alert(&expired, 365, "f", NOW).unwrap();
        assert_eq!(
            (a.severity, a.kind.as_str()),
            (Severity::Critical, "kms-material-expired")
        );
        assert!(a.action.unwrap().contains("EXISTING_KEY_MATERIAL"));

        let deleted = parse(&kms_event("KMS CMK Deletion", json!({"key-id": "x"}))).unwrap();
        let a = event_alert(&deleted, 365, "f", NOW).unwrap();
        assert_eq!(
            (a.severity, a.kind.as_str()),
            (Severity::Warning, "kms-key-deleted")
        );
        assert_eq!(a.attributes["trigger"], "event");
    }

    #[test]
    fn api_calls_name_the_caller_and_what_to_do() {
        let e = parse(&call(
            "ScheduleKeyDeletion",
            json!({"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "pendingWindowInDays": 7}),
            json!({"keyId": KEY, "deletionDate": "Nov 29, 2026, 12:00:00 AM", "keyState": "PendingDeletion"}),
        ))
        .unwrap();
        let a = event_alert(&e, 365, "f", NOW).unwrap();
        assert_eq!(a.kind, "kms-deletion-scheduled-by-call");
        assert_eq!(
            a.resource, KEY,
            "the ARN is built from the event's region and account"
        );
        assert!(a.summary.starts_with("arn:aws:sts::111122223333:assumed-role/Admin/mallory scheduled the key for deletion in 7 days (Nov 29, 2026, 12:00:00 AM)"));
        assert!(a
            .action
            .as_deref()
            .unwrap()
            .contains("cancel-key-deletion --key-id 1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert_eq!(
            a.attributes["caller"],
            "arn:aws:sts::111122223333:assumed-role/Admin/mallory"
        );

        for (name, kind) in [
            ("DisableKeyRotation", "kms-rotation-disabled-by-call"),
            ("DisableKey", "kms-key-disabled-by-call"),
        ] {
            let e = parse(&call(name, json!({"keyId": KEY}), Value::Null)).unwrap();
            let a = event_alert(&e, 365, "f", NOW).unwrap();
            assert_eq!((a.kind.as_str(), a.severity), (kind, Severity::Warning));
            assert!(a.summary.contains("mallory"));
        }
    }

    #[test]
    fn enabling_rotation_alerts_only_above_the_maximum() {
        for (period, alerts) in [
            (Some(365), false),
            (Some(366), true),
            (Some(90), false),
            (None, false),
        ] {
            let request = match period {
                Some(p) => json!({"keyId": KEY, "rotationPeriodInDays": p}),
                None => json!({"keyId": KEY}),
            };
            let e = parse(&call("EnableKeyRotation", request, Value::Null)).unwrap();
            assert_eq!(
                event_alert(&e, 365, "f", NOW).is_some(),
                alerts,
                "{period:?}"
            );
        }
        // KMS's default of 365 days is above a 180-day maximum.
        let e = parse(&call(
            "EnableKeyRotation",
            json!({"keyId": KEY}),
            Value::Null,
        ))
        .unwrap();
        let a = event_alert(&e, 180, "f", NOW).unwrap();
        assert_eq!(
            a.title,
            format!(
                "KMS key {} set to rotate every 365 days",
                "1234abcd-12ab-34cd-56ef-1234567890ab"
            )
        );
    }

    #[test]
    fn failed_calls_and_other_calls_raise_nothing() {
        let mut failed = call("DisableKey", json!({"keyId": KEY}), Value::Null);
        failed["detail"]["errorCode"] = json!("AccessDeniedException");
        assert_eq!(event_alert(&parse(&failed).unwrap(), 365, "f", NOW), None);
        let other = parse(&call("Decrypt", json!({}), Value::Null)).unwrap();
        assert!(matches!(other, Event::Unhandled { .. }));
        assert_eq!(event_alert(&other, 365, "f", NOW), None);
    }

    #[test]
    fn malformed_events_are_specific_errors() {
        assert!(matches!(
            parse(&json!({"rotate": 1})),
            Err(EventError::Envelope(EnvelopeError::NotEventBridge(_)))
        ));
        let mut no_key = kms_event("KMS CMK Deletion", json!({}));
        no_key["resources"] = json!(["arn:aws:s3:::bucket"]);
        assert_eq!(
            parse(&no_key).unwrap_err().to_string(),
            "the \"KMS CMK Deletion\" event: resources[0] is not a KMS key ARN of this partition: \"arn:aws:s3:::bucket\""
        );
        let mut other_partition = kms_event("KMS CMK Deletion", json!({}));
        other_partition["resources"] = json!([format!(
            "arn:aws-cn:kms:cn-north-1:111122223333:key/{}",
            &KEY[KEY.len() - 36..]
        )]);
        assert!(matches!(
            parse(&other_partition),
            Err(EventError::Identifier { .. })
        ));
        let mut huge = kms_event("KMS CMK Deletion", json!({}));
        huge["resources"] = json!([format!("{KEY}{}", "a".repeat(1_000_000))]);
        let message = parse(&huge).unwrap_err().to_string();
        assert!(
            message.len() < 300
                && message.ends_with(&format!("({} characters)", KEY.len() + 1_000_000)),
            "{message}"
        );
        let not_object = kms_event("KMS CMK Rotation", json!("text"));
        assert!(matches!(
            parse(&not_object),
            Err(EventError::Envelope(EnvelopeError::DetailNotObject { .. }))
        ));
        let keyless = call("DisableKey", json!({}), Value::Null);
        assert_eq!(
            parse(&keyless).unwrap_err().to_string(),
            "the \"AWS API Call via CloudTrail\" event: detail.requestParameters.keyId is missing"
        );
        for (key, message) in [
            (
                json!("arn:aws:s3:::bucket"),
                "is not a KMS key id, key ARN, alias name or alias ARN",
            ),
            (json!(7), "is a number"),
            (json!(["k"]), "is an array"),
            (json!("x".repeat(1_000_000)), "(1000000 characters)"),
        ] {
            let text = parse(&call("DisableKey", json!({"keyId": key}), Value::Null))
                .unwrap_err()
                .to_string();
            assert!(text.contains(message) && text.len() < 300, "{text}");
        }
        // A key named by id or alias is this account's and region's.
        let Ok(Event::Call(by_alias)) = parse(&call(
            "DisableKey",
            json!({"keyId": "alias/app"}),
            Value::Null,
        )) else {
            panic!("an alias is a key reference");
        };
        assert!(
            by_alias.key_arn.starts_with("arn:aws:kms:")
                && by_alias.key_arn.ends_with(":alias/app"),
            "{}",
            by_alias.key_arn
        );
        let unrelated = json!({"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2", "account": "1", "time": "2026-11-22T08:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": {}});
        assert!(matches!(parse(&unrelated), Ok(Event::Unhandled { .. })));
    }
}
