//! Fixtures for every class of key, most of which moto cannot produce (AWS managed keys, rotation
//! periods and dates, imported material, custom key stores, replicas).

use super::*;
use crate::kms::{KeyMetadata, KeyView, RotationStatus, SUPERSEDES_TAG};
use std::collections::BTreeMap;

/// 2026-11-22T12:00:00Z.
const NOW: i64 = 1_795_348_800;
const DAY: i64 = SECONDS_PER_DAY;

fn policy() -> Policy {
    Policy::from_env(&Env::default()).unwrap()
}

fn key(spec: &str, origin: &str, state: &str, age_days: i64) -> KeyMetadata {
    KeyMetadata {
        id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        arn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        state: state.into(),
        origin: origin.into(),
        spec: spec.into(),
        usage: if spec.starts_with("HMAC") {
            "GENERATE_VERIFY_MAC".into()
        } else if spec == "SYMMETRIC_DEFAULT" {
            "ENCRYPT_DECRYPT".into()
        } else {
            "SIGN_VERIFY".into()
        },
        created: NOW - age_days * DAY,
        ..KeyMetadata::default()
    }
}

fn symmetric(age_days: i64) -> KeyMetadata {
    key("SYMMETRIC_DEFAULT", "AWS_KMS", "Enabled", age_days)
}

fn rotating(period: u32) -> Option<RotationStatus> {
    Some(RotationStatus {
        enabled: true,
        period_days: Some(period),
        next_rotation: None,
        on_demand_started: None,
    })
}

fn not_rotating() -> Option<RotationStatus> {
    Some(RotationStatus::default())
}

fn view(key: KeyMetadata) -> KeyView {
    KeyView {
        key,
        aliases: vec!["alias/orders".into()],
        ..KeyView::default()
    }
}

fn rotated(days_ago: i64, kind: RotationType) -> KeyMaterial {
    KeyMaterial {
        rotated: Some(NOW - days_ago * DAY),
        rotation_type: Some(kind),
        state: Some("NON_CURRENT".into()),
        valid_to: None,
    }
}

fn kinds(assessment: &Assessment) -> Vec<Kind> {
    assessment.findings.iter().map(Finding::kind).collect()
}

#[test]
fn settings_have_documented_defaults_and_limits() {
    let p = policy();
    assert_eq!(p.max_cryptoperiod_days, 365);
    assert_eq!(p.rotation_period.days(), 365);
    assert_eq!(p.thresholds, Thresholds::default());
    assert_eq!(p.exempt_tag, Some(("key-rotation".into(), "exempt".into())));
    assert_eq!(p.exempt_reason_tag, "key-rotation-exempt-reason");

    let env = Env::from_pairs([("MAX_CRYPTOPERIOD_DAYS", "180")]);
    let p = Policy::from_env(&env).unwrap();
    assert_eq!(
        (p.max_cryptoperiod_days, p.rotation_period.days()),
        (180, 180)
    );
    let env = Env::from_pairs([
        ("MAX_CRYPTOPERIOD_DAYS", "400"),
        ("ROTATION_PERIOD_DAYS", "90"),
    ]);
    assert_eq!(Policy::from_env(&env).unwrap().rotation_period.days(), 90);
    for (name, value) in [
        ("MAX_CRYPTOPERIOD_DAYS", "89"),
        ("MAX_CRYPTOPERIOD_DAYS", "2561"),
        ("MAX_CRYPTOPERIOD_DAYS", "a year"),
        ("ROTATION_PERIOD_DAYS", "89"),
        // A period longer than the maximum cryptoperiod would make every key overdue.
        ("ROTATION_PERIOD_DAYS", "366"),
        ("EXEMPT_TAG", "exempt"),
    ] {
        let env = Env::from_pairs([(name, value)]);
        assert!(
            matches!(Policy::from_env(&env), Err(ConfigError::Invalid { name: n, .. }) if n == name),
            "{name}={value}"
        );
    }
}

#[test]
fn rotation_periods_are_those_kms_accepts() {
    assert_eq!(RotationPeriod::new(89), None);
    assert_eq!(RotationPeriod::new(90).map(RotationPeriod::days), Some(90));
    assert_eq!(
        RotationPeriod::new(2560).map(RotationPeriod::days),
        Some(2560)
    );
    assert_eq!(RotationPeriod::new(2561), None);
    assert_eq!(RotationPeriod::new(0), None);
}

#[test]
fn every_class_is_recognised_from_metadata_alone() {
    let aws_managed = KeyMetadata {
        aws_managed: true,
        ..symmetric(10)
    };
    let replica = KeyMetadata {
        multi_region: Some(MultiRegion::Replica {
            primary_arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
        }),
        ..symmetric(10)
    };
    let primary = KeyMetadata {
        multi_region: Some(MultiRegion::Primary),
        ..symmetric(10)
    };
    let cloudhsm = KeyMetadata {
        custom_key_store_id: Some("cks-1234567890abcdef0".into()),
        ..key("SYMMETRIC_DEFAULT", "AWS_CLOUDHSM", "Enabled", 10)
    };
    let cases: Vec<(KeyMetadata, KeyClass, Method)> = vec![
        (aws_managed, KeyClass::AwsManaged, Method::AwsManaged),
        (symmetric(10), KeyClass::Automatic, Method::Automatic),
        (primary, KeyClass::Automatic, Method::Automatic),
        (
            key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 10),
            KeyClass::Imported,
            Method::OnDemandAfterImport,
        ),
        (
            key("RSA_2048", "AWS_KMS", "Enabled", 10),
            KeyClass::Manual(ManualReason::Asymmetric),
            Method::Manual(ManualReason::Asymmetric),
        ),
        (
            key("ECC_NIST_P256", "EXTERNAL", "Enabled", 10),
            KeyClass::Manual(ManualReason::Asymmetric),
            Method::Manual(ManualReason::Asymmetric),
        ),
        (
            key("HMAC_256", "AWS_KMS", "Enabled", 10),
            KeyClass::Manual(ManualReason::Hmac),
            Method::Manual(ManualReason::Hmac),
        ),
        (
            cloudhsm,
            KeyClass::Manual(ManualReason::CustomKeyStore),
            Method::Manual(ManualReason::CustomKeyStore),
        ),
        (
            key("SYMMETRIC_DEFAULT", "EXTERNAL_KEY_STORE", "Enabled", 10),
            KeyClass::Manual(ManualReason::CustomKeyStore),
            Method::Manual(ManualReason::CustomKeyStore),
        ),
        (
            replica.clone(),
            KeyClass::Replica {
                primary_arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
            },
            Method::FollowsPrimary,
        ),
        (
            KeyMetadata {
                state: "Disabled".into(),
                ..replica
            },
            KeyClass::Replica {
                primary_arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
            },
            Method::FollowsPrimary,
        ),
        (
            key("SYMMETRIC_DEFAULT", "AWS_KMS", "Disabled", 10),
            KeyClass::Disabled(Method::Automatic),
            Method::Automatic,
        ),
        (
            key("HMAC_512", "AWS_KMS", "Disabled", 10),
            KeyClass::Disabled(Method::Manual(ManualReason::Hmac)),
            Method::Manual(ManualReason::Hmac),
        ),
        (
            key("SYMMETRIC_DEFAULT", "EXTERNAL", "PendingImport", 10),
            KeyClass::PendingImport,
            Method::OnDemandAfterImport,
        ),
        (
            key("SYMMETRIC_DEFAULT", "AWS_KMS", "PendingDeletion", 10),
            KeyClass::PendingDeletion,
            Method::Automatic,
        ),
        (
            key("SYMMETRIC_DEFAULT", "AWS_KMS", "PendingReplicaDeletion", 10),
            KeyClass::PendingDeletion,
            Method::Automatic,
        ),
        (
            key("SYMMETRIC_DEFAULT", "AWS_CLOUDHSM", "Unavailable", 10),
            KeyClass::Other {
                state: "Unavailable".into(),
            },
            Method::Manual(ManualReason::CustomKeyStore),
        ),
        (
            key("SYMMETRIC_DEFAULT", "SOMETHING_NEW", "Enabled", 10),
            KeyClass::Manual(ManualReason::UnknownOrigin("SOMETHING_NEW".into())),
            Method::Manual(ManualReason::UnknownOrigin("SOMETHING_NEW".into())),
        ),
    ];
    for (metadata, class, expected_method) in cases {
        assert_eq!(classify(&metadata), class, "{metadata:?}");
        assert_eq!(method(&metadata), expected_method, "{metadata:?}");
    }
}

#[test]
fn each_class_reads_only_what_it_needs_and_never_more_than_three_calls() {
    let p = policy();
    let reads = |k: &KeyMetadata| reads_for(k, &p, NOW);
    let young = symmetric(365);
    let old = symmetric(366);
    assert_eq!(
        reads(&young),
        Reads {
            rotation_status: true,
            ..Reads::default()
        }
    );
    assert_eq!(
        reads(&old),
        Reads {
            rotation_status: true,
            history: true,
            grants: false
        }
    );
    assert_eq!(
        reads(&key("SYMMETRIC_DEFAULT", "AWS_KMS", "Disabled", 400)).count(),
        2
    );
    assert_eq!(
        reads(&key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 1)),
        Reads {
            history: true,
            ..Reads::default()
        }
    );
    assert_eq!(
        reads(&key("SYMMETRIC_DEFAULT", "AWS_KMS", "PendingDeletion", 1)),
        Reads {
            grants: true,
            ..Reads::default()
        }
    );
    for nothing_more in [
        KeyMetadata {
            aws_managed: true,
            ..symmetric(2000)
        },
        key("RSA_4096", "AWS_KMS", "Enabled", 2000),
        key("SYMMETRIC_DEFAULT", "EXTERNAL", "PendingImport", 2000),
        KeyMetadata {
            multi_region: Some(MultiRegion::Replica { primary_arn: None }),
            ..symmetric(2000)
        },
    ] {
        assert_eq!(reads(&nothing_more), Reads::default(), "{nothing_more:?}");
    }
}

#[test]
fn aws_managed_keys_are_compliant_and_never_enforced() {
    let assessment = assess(
        &view(KeyMetadata {
            aws_managed: true,
            ..symmetric(3000)
        }),
        &policy(),
        NOW,
    );
    assert!(assessment.findings.is_empty());
    assert_eq!(assessment.enforcement, None);
    let e = &assessment.evidence;
    assert_eq!(
        (e.class, e.method, e.compliant),
        ("aws-managed", "aws-managed", true)
    );
    assert_eq!(
        (e.rotation_enabled, e.rotation_period_days),
        (Some(true), Some(365))
    );
    assert_eq!(e.last_rotation_source, "aws-managed");
}

#[test]
fn rotation_off_is_found_and_enforced_with_the_configured_period() {
    let mut v = view(symmetric(10));
    v.rotation = not_rotating();
    let assessment = assess(&v, &policy(), NOW);
    assert_eq!(kinds(&assessment), ["kms-rotation-disabled"]);
    assert_eq!(
        assessment.enforcement,
        Some(Enforcement::EnableRotation {
            period: RotationPeriod::new(365).unwrap()
        })
    );
    assert_eq!(assessment.severity(), Some(Severity::Warning));
    assert_eq!(assessment.evidence.rotation_enabled, Some(false));
    assert!(!assessment.evidence.compliant);
}

#[test]
fn the_period_is_checked_at_and_around_the_maximum() {
    for (period, too_long) in [
        (90, false),
        (364, false),
        (365, false),
        (366, true),
        (2560, true),
    ] {
        let mut v = view(symmetric(10));
        v.rotation = rotating(period);
        let assessment = assess(&v, &policy(), NOW);
        assert_eq!(
            kinds(&assessment) == ["kms-rotation-period-too-long"],
            too_long,
            "{period}"
        );
        assert_eq!(assessment.enforcement.is_some(), too_long, "{period}");
        assert_eq!(assessment.evidence.rotation_period_days, Some(period));
    }
    // An unknown period (moto reports none) is no finding.
    let mut v = view(symmetric(10));
    v.rotation = Some(RotationStatus {
        enabled: true,
        ..RotationStatus::default()
    });
    assert!(assess(&v, &policy(), NOW).findings.is_empty());
}

#[test]
fn the_last_rotation_comes_from_the_history_or_the_creation_and_must_be_within_the_period() {
    let p = policy();
    // Created exactly 365 days ago, never rotated: due now, not yet overdue.
    let mut v = view(symmetric(365));
    v.rotation = rotating(365);
    let a = assess(&v, &p, NOW);
    assert!(a.findings.is_empty());
    assert_eq!(a.evidence.last_rotation_source, "key-creation");
    assert_eq!(
        a.evidence.rotation_due_by.as_deref(),
        Some("2026-11-22T12:00:00Z")
    );
    // One second later it is overdue.
    let a = assess(&v, &p, NOW + 1);
    assert_eq!(kinds(&a), ["kms-rotation-overdue"]);
    assert_eq!(a.severity(), Some(Severity::Error));
    // Rotated 365 days ago (the history read because the key is old): not overdue.
    let mut v = view(symmetric(800));
    v.rotation = rotating(365);
    v.history = Some(vec![
        rotated(700, RotationType::Automatic),
        rotated(365, RotationType::Automatic),
    ]);
    let a = assess(&v, &p, NOW);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert_eq!(a.evidence.last_rotation_source, "rotation-history");
    assert_eq!(a.evidence.on_demand_rotations, Some(0));
    // Rotated 366 days ago: overdue, though rotation is on (it was off for a while).
    v.history = Some(vec![rotated(366, RotationType::OnDemand)]);
    let a = assess(&v, &p, NOW);
    assert_eq!(kinds(&a), ["kms-rotation-overdue"]);
    assert_eq!(a.enforcement, None, "rotation is on: nothing to enable");
    assert!(a.findings[0].action(&v.key.id).contains("rotate_now"));
    // A history that says nothing of rotations: the creation counts.
    v.history = Some(vec![]);
    assert_eq!(kinds(&assess(&v, &p, NOW)), ["kms-rotation-overdue"]);
}

#[test]
fn a_key_disabled_for_a_long_time_is_overdue_but_not_enforced() {
    let mut v = view(key("SYMMETRIC_DEFAULT", "AWS_KMS", "Disabled", 500));
    v.rotation = rotating(365);
    v.history = Some(vec![]);
    let a = assess(&v, &policy(), NOW);
    assert_eq!(a.class, KeyClass::Disabled(Method::Automatic));
    assert_eq!(kinds(&a), ["kms-rotation-overdue"]);
    assert_eq!(a.severity(), Some(Severity::Warning));
    assert!(a.findings[0]
        .explanation()
        .contains("KMS does not rotate a disabled key"));
    assert!(a.findings[0].action(&v.key.id).contains("enable it"));
    // Rotation off on a disabled key: found, never enforced (KMS refuses a disabled key).
    v.rotation = not_rotating();
    let a = assess(&v, &policy(), NOW);
    assert_eq!(kinds(&a), ["kms-rotation-disabled", "kms-rotation-overdue"]);
    assert_eq!(a.enforcement, None);
}

#[test]
fn imported_material_alerts_on_threshold_days_and_is_critical_near_expiry() {
    let p = policy();
    for (days, finding, alert_today, severity) in [
        (46, false, false, None),
        (45, true, true, Some(Severity::Warning)),
        (44, true, false, Some(Severity::Warning)),
        (30, true, true, Some(Severity::Warning)),
        (8, true, false, Some(Severity::Warning)),
        (7, true, true, Some(Severity::Error)),
        (4, true, false, Some(Severity::Error)),
        (3, true, true, Some(Severity::Critical)),
        (2, true, false, Some(Severity::Critical)),
        (1, true, true, Some(Severity::Critical)),
        (0, true, true, Some(Severity::Critical)),
    ] {
        let mut v = view(KeyMetadata {
            valid_to: Some(NOW + days * DAY + 3600),
            ..key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 10)
        });
        v.history = Some(vec![]);
        let a = assess(&v, &p, NOW);
        assert_eq!(a.class, KeyClass::Imported);
        assert_eq!(!a.findings.is_empty(), finding, "{days}");
        assert_eq!(a.severity(), severity, "{days}");
        assert_eq!(
            a.findings.iter().any(Finding::alerts_today),
            alert_today,
            "{days}"
        );
        assert_eq!(
            a.enforcement, None,
            "imported keys never get automatic rotation"
        );
    }
    // Material that does not expire: nothing.
    let mut v = view(key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 10));
    v.history = Some(vec![]);
    assert!(assess(&v, &p, NOW).findings.is_empty());
}

#[test]
fn expiry_is_never_silenced_by_an_exemption_but_rotation_findings_are() {
    let mut v = view(KeyMetadata {
        valid_to: Some(NOW + 3 * DAY + 60),
        ..key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 900)
    });
    v.history = Some(vec![KeyMaterial {
        state: Some("PENDING_ROTATION".into()),
        ..KeyMaterial::default()
    }]);
    let a = assess(&v, &policy(), NOW);
    assert_eq!(
        kinds(&a),
        [
            Kind::KmsMaterialExpiring,
            Kind::KmsMaterialAwaitingRotation,
            Kind::KmsRotationOverdue
        ]
    );
    assert!(a.findings[2].action(&v.key.id).contains("NEW_KEY_MATERIAL"));
    v.tags = BTreeMap::from([
        ("key-rotation".into(), "exempt".into()),
        (
            "key-rotation-exempt-reason".into(),
            "HSM ceremony in Q1, CHG-1234".into(),
        ),
    ]);
    let a = assess(&v, &policy(), NOW);
    assert_eq!(kinds(&a), ["kms-material-expiring"]);
    assert!(a.evidence.exempt);
    assert_eq!(
        a.evidence.exemption_reason.as_deref(),
        Some("HSM ceremony in Q1, CHG-1234")
    );
}

#[test]
fn exempt_keys_are_reported_and_never_enforced() {
    let mut v = view(symmetric(500));
    v.rotation = not_rotating();
    v.history = Some(vec![]);
    v.tags = BTreeMap::from([("key-rotation".into(), "exempt".into())]);
    let a = assess(&v, &policy(), NOW);
    assert!(a.findings.is_empty());
    assert_eq!(a.enforcement, None);
    assert_eq!(
        (a.evidence.exempt, a.evidence.exemption_reason.clone()),
        (true, None)
    );
    assert!(a.evidence.compliant);
    // Another value of the tag is no exemption.
    v.tags = BTreeMap::from([("key-rotation".into(), "maybe".into())]);
    assert!(!assess(&v, &policy(), NOW).findings.is_empty());
    // Exemptions switched off.
    let p = Policy {
        exempt_tag: None,
        ..policy()
    };
    v.tags = BTreeMap::from([("key-rotation".into(), "exempt".into())]);
    assert!(!assess(&v, &p, NOW).findings.is_empty());
}

#[test]
fn manual_keys_are_judged_by_the_age_of_the_key_the_alias_points_at() {
    let p = policy();
    for (spec, age, overdue) in [
        ("RSA_2048", 365, false),
        ("RSA_2048", 366, true),
        ("ECC_NIST_P384", 366, true),
        ("HMAC_256", 366, true),
        ("HMAC_256", 30, false),
    ] {
        let a = assess(&view(key(spec, "AWS_KMS", "Enabled", age)), &p, NOW);
        assert_eq!(a.method.label(), "manual-alias");
        assert_eq!(
            kinds(&a) == ["kms-rotation-overdue"],
            overdue,
            "{spec} {age}"
        );
        assert_eq!(a.enforcement, None);
        if overdue {
            assert!(a.findings[0].action("k").contains("rotate_alias"));
        }
    }
    // A superseded generation is kept for decryption: its age is no finding.
    let mut old = view(key("RSA_2048", "AWS_KMS", "Enabled", 900));
    old.aliases.clear();
    old.tags = BTreeMap::from([(SUPERSEDED_BY_TAG.into(), "next-key".into())]);
    let a = assess(&old, &p, NOW);
    assert!(a.findings.is_empty());
    assert_eq!(a.evidence.superseded_by.as_deref(), Some("next-key"));
    assert_eq!(a.evidence.rotation_due_by, None);
}

#[test]
fn replicas_follow_their_primary() {
    let a = assess(
        &view(KeyMetadata {
            multi_region: Some(MultiRegion::Replica {
                primary_arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
            }),
            ..symmetric(3000)
        }),
        &policy(),
        NOW,
    );
    assert!(a.findings.is_empty());
    assert_eq!(a.enforcement, None);
    assert_eq!(a.evidence.method, "follows-primary");
}

#[test]
fn keys_pending_deletion_are_critical_while_in_use() {
    let deletion = NOW + 5 * DAY;
    let pending = KeyMetadata {
        deletion_date: Some(deletion),
        ..key("SYMMETRIC_DEFAULT", "AWS_KMS", "PendingDeletion", 3000)
    };
    let mut v = view(pending.clone());
    v.grants = Some(0);
    let a = assess(&v, &policy(), NOW);
    assert_eq!(kinds(&a), ["kms-key-deletion-in-use"]);
    assert_eq!(a.severity(), Some(Severity::Critical));
    assert_eq!(
        a.findings[0].explanation(),
        "is scheduled for deletion on 2026-11-27T12:00:00Z while 1 alias(es) still point at it"
    );
    assert_eq!(a.enforcement, None);
    // No alias, but grants.
    v.aliases.clear();
    v.grants = Some(3);
    let a = assess(&v, &policy(), NOW);
    assert!(a.findings[0]
        .explanation()
        .ends_with("while 3 grant(s) still allow its use"));
    // Nothing points at it: a warning that names the date.
    v.grants = Some(0);
    let a = assess(&v, &policy(), NOW);
    assert_eq!(kinds(&a), ["kms-key-pending-deletion"]);
    assert_eq!(a.severity(), Some(Severity::Warning));
    assert!(a.findings[0].explanation().contains("2026-11-27T12:00:00Z"));
    assert!(a.findings[0].alerts_today());
    // Exemptions do not silence deletion.
    v.tags = BTreeMap::from([("key-rotation".into(), "exempt".into())]);
    assert_eq!(
        kinds(&assess(&v, &policy(), NOW)),
        ["kms-key-pending-deletion"]
    );
    // A primary waiting for its replicas has no date yet.
    let mut v = view(KeyMetadata {
        deletion_date: None,
        state: "PendingReplicaDeletion".into(),
        ..pending
    });
    v.aliases.clear();
    assert!(assess(&v, &policy(), NOW).findings[0]
        .explanation()
        .contains("once its multi-Region replicas are deleted"));
}

#[test]
fn keys_without_usable_material_are_errors() {
    let a = assess(
        &view(key("SYMMETRIC_DEFAULT", "EXTERNAL", "PendingImport", 10)),
        &policy(),
        NOW,
    );
    assert_eq!(kinds(&a), ["kms-key-unusable"]);
    assert_eq!(a.severity(), Some(Severity::Error));
    assert!(a.findings[0]
        .action("k")
        .contains("get-parameters-for-import"));
    let a = assess(
        &view(key("SYMMETRIC_DEFAULT", "AWS_CLOUDHSM", "Unavailable", 10)),
        &policy(),
        NOW,
    );
    assert_eq!(kinds(&a), ["kms-key-unusable"]);
    let a = assess(
        &view(key("SYMMETRIC_DEFAULT", "AWS_KMS", "Creating", 0)),
        &policy(),
        NOW,
    );
    assert!(a.findings.is_empty());
}

#[test]
fn the_evidence_record_holds_what_an_auditor_asks_for() {
    let mut v = view(symmetric(400));
    v.rotation = Some(RotationStatus {
        enabled: true,
        period_days: Some(180),
        next_rotation: Some(NOW + 100 * DAY),
        on_demand_started: None,
    });
    v.history = Some(vec![rotated(80, RotationType::Automatic)]);
    let record = serde_json::to_value(&assess(&v, &policy(), NOW).evidence).unwrap();
    assert_eq!(
        record,
        serde_json::json!({
            "key_id": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "aliases": ["alias/orders"],
            "class": "automatic",
            "method": "automatic",
            "state": "Enabled",
            "key_spec": "SYMMETRIC_DEFAULT",
            "origin": "AWS_KMS",
            "cryptoperiod_days": 365,
            "rotation_enabled": true,
            "rotation_period_days": 180,
            "last_rotation": "2026-09-03T12:00:00Z",
            "last_rotation_source": "rotation-history",
            "next_rotation": "2027-03-02T12:00:00Z",
            "rotation_due_by": "2027-09-03T12:00:00Z",
            "on_demand_rotations": 0,
            "exempt": false,
            "complete": true,
            "compliant": true,
            "findings": []
        })
    );
}

#[test]
fn on_demand_rotation_counts_the_lifetime_limit_and_guards_repeats() {
    let k = symmetric(10);
    let on_demand = |n: usize, days_ago: i64| -> Vec<KeyMaterial> {
        (0..n)
            .map(|i| rotated(days_ago + i as i64, RotationType::OnDemand))
            .collect()
    };
    assert_eq!(plan_on_demand(&k, &[], None, NOW), Ok(OnDemandPlan::Rotate));
    assert_eq!(
        plan_on_demand(&k, &on_demand(24, 2), None, NOW),
        Ok(OnDemandPlan::Rotate)
    );
    assert_eq!(
        plan_on_demand(&k, &on_demand(25, 2), None, NOW),
        Err(OnDemandRefusal::LimitReached { rotations: 25 })
    );
    // Automatic rotations do not count against the 25.
    let mut mixed = on_demand(24, 2);
    mixed.extend((0..10).map(|i| rotated(100 + i, RotationType::Automatic)));
    assert_eq!(
        plan_on_demand(&k, &mixed, None, NOW),
        Ok(OnDemandPlan::Rotate)
    );
    // Rotated on demand 23 hours ago, or in progress: done already.
    let recent = vec![KeyMaterial {
        rotated: Some(NOW - 23 * 3600),
        rotation_type: Some(RotationType::OnDemand),
        ..KeyMaterial::default()
    }];
    assert_eq!(
        plan_on_demand(&k, &recent, None, NOW),
        Ok(OnDemandPlan::AlreadyRotated {
            at: NOW - 23 * 3600
        })
    );
    assert_eq!(
        plan_on_demand(&k, &[], Some(NOW - 60), NOW),
        Ok(OnDemandPlan::AlreadyRotated { at: NOW - 60 })
    );
    assert_eq!(
        plan_on_demand(&k, &on_demand(1, 1), None, NOW),
        Ok(OnDemandPlan::Rotate)
    );
}

#[test]
fn on_demand_rotation_refuses_keys_that_cannot_rotate_on_demand() {
    for (metadata, class) in [
        (
            KeyMetadata {
                aws_managed: true,
                ..symmetric(1)
            },
            "aws-managed",
        ),
        (key("RSA_2048", "AWS_KMS", "Enabled", 1), "manual"),
        (key("HMAC_256", "AWS_KMS", "Enabled", 1), "manual"),
        (
            key("SYMMETRIC_DEFAULT", "AWS_KMS", "Disabled", 1),
            "disabled",
        ),
        (
            key("SYMMETRIC_DEFAULT", "AWS_KMS", "PendingDeletion", 1),
            "pending-deletion",
        ),
        (
            KeyMetadata {
                multi_region: Some(MultiRegion::Replica { primary_arn: None }),
                ..symmetric(1)
            },
            "replica",
        ),
    ] {
        assert_eq!(
            plan_on_demand(&metadata, &[], None, NOW),
            Err(OnDemandRefusal::NotEligible { class }),
            "{metadata:?}"
        );
    }
    // Imported material: only once new material waits.
    let imported = key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 1);
    assert_eq!(
        plan_on_demand(&imported, &[], None, NOW),
        Err(OnDemandRefusal::NoMaterialToRotateIn)
    );
    let waiting = vec![KeyMaterial {
        state: Some("PENDING_ROTATION".into()),
        ..KeyMaterial::default()
    }];
    assert_eq!(
        plan_on_demand(&imported, &waiting, None, NOW),
        Ok(OnDemandPlan::Rotate)
    );
}

#[test]
fn manual_rotation_refuses_what_it_cannot_rotate() {
    assert_eq!(
        check_manual(&key("RSA_2048", "AWS_KMS", "Enabled", 1)),
        Ok(())
    );
    assert_eq!(check_manual(&symmetric(1)), Ok(()));
    assert_eq!(
        check_manual(&KeyMetadata {
            aws_managed: true,
            ..symmetric(1)
        }),
        Err(ManualRefusal::AwsManaged)
    );
    assert_eq!(
        check_manual(&KeyMetadata {
            multi_region: Some(MultiRegion::Primary),
            ..symmetric(1)
        }),
        Err(ManualRefusal::MultiRegion)
    );
    assert_eq!(
        check_manual(&key("RSA_2048", "AWS_KMS", "Disabled", 1)),
        Err(ManualRefusal::NotEnabled {
            state: "Disabled".into()
        })
    );
    assert_eq!(
        check_manual(&key("SYMMETRIC_DEFAULT", "EXTERNAL", "Enabled", 1)),
        Err(ManualRefusal::OriginNotGenerated {
            origin: "EXTERNAL".into()
        })
    );
    let rsa = key("RSA_2048", "AWS_KMS", "Enabled", 1);
    assert_eq!(check_successor(&rsa, &rsa), Ok(()));
    let ecc = KeyMetadata {
        id: "other".into(),
        ..key("ECC_NIST_P256", "AWS_KMS", "Enabled", 1)
    };
    assert_eq!(
        check_successor(&rsa, &ecc),
        Err(ManualRefusal::SuccessorOfAnotherType {
            successor: "other".into()
        })
    );
}

#[test]
fn a_manual_rotation_repeated_within_a_day_is_recognised() {
    let tags = BTreeMap::from([(SUPERSEDES_TAG.to_owned(), "old-key".to_owned())]);
    let new_key = KeyMetadata {
        created: NOW - 23 * 3600,
        ..key("RSA_2048", "AWS_KMS", "Enabled", 0)
    };
    assert_eq!(
        recent_manual_rotation(&new_key, &tags, NOW).as_deref(),
        Some("old-key")
    );
    let day_old = KeyMetadata {
        created: NOW - DAY,
        ..new_key.clone()
    };
    assert_eq!(recent_manual_rotation(&day_old, &tags, NOW), None);
    assert_eq!(
        recent_manual_rotation(&new_key, &BTreeMap::new(), NOW),
        None
    );
}

#[test]
fn an_interrupted_rotation_reuses_its_successor() {
    let current = key("RSA_2048", "AWS_KMS", "Enabled", 400);
    let successor = |id: &str, spec: &str, state: &str, age: i64| KeyMetadata {
        id: id.into(),
        ..key(spec, "AWS_KMS", state, age)
    };
    assert_eq!(choose_successor(&current, &[]), Ok(None));
    let candidates = [
        successor("newer", "RSA_2048", "Enabled", 1),
        successor("older", "RSA_2048", "Enabled", 2),
        successor("deleted", "RSA_2048", "PendingDeletion", 3),
    ];
    assert_eq!(
        choose_successor(&current, &candidates).map(|k| k.map(|k| k.id.as_str())),
        Ok(Some("older"))
    );
    // Only ones pending deletion: create a new one.
    assert_eq!(choose_successor(&current, &candidates[2..]), Ok(None));
    let mismatched = [successor("ecc", "ECC_NIST_P256", "Enabled", 1)];
    assert_eq!(
        choose_successor(&current, &mismatched),
        Err(ManualRefusal::SuccessorOfAnotherType {
            successor: "ecc".into()
        })
    );
}

#[test]
fn a_successor_copies_the_tags_and_names_its_predecessor() {
    let tags = BTreeMap::from([
        ("team".to_owned(), "payments".to_owned()),
        (SUPERSEDES_TAG.to_owned(), "grandparent".to_owned()),
        (SUPERSEDED_BY_TAG.to_owned(), "stale".to_owned()),
    ]);
    assert_eq!(
        successor_tags("parent", &tags),
        BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            (SUPERSEDES_TAG.to_owned(), "parent".to_owned()),
        ])
    );
}

#[test]
fn a_key_read_only_in_part_is_never_reported_compliant() {
    let mut v = view(symmetric(10));
    v.rotation = None;
    let a = assess(&v, &policy(), NOW);
    assert!(a.findings.is_empty());
    assert_eq!((a.evidence.complete, a.evidence.compliant), (false, false));
    let mut old = view(symmetric(400));
    old.rotation = rotating(365);
    assert!(
        !assess(&old, &policy(), NOW).evidence.complete,
        "the history was needed"
    );
    old.history = Some(vec![rotated(10, RotationType::Automatic)]);
    assert!(assess(&old, &policy(), NOW).evidence.compliant);
}
