//! The KMS key rotation function, end to end: keys created in moto's KMS, the real binary run
//! through the Lambda Runtime API, KMS state and published alerts read back. Each test has a
//! region of its own (KMS keys are per region in moto, and the scan covers every key).
//! What moto cannot produce (AWS managed keys, rotation periods and dates, imported material)
//! is covered by the handler's tests against SDK mocks.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use e2e::inbox::{kinds, ReceivedAlert};
use e2e::moto::Moto;
use e2e::runtime::FunctionProcess;
use e2e::securityhub::{assert_resolved, counts, findings_about};
use e2e::TestEnvironment;
use serde_json::{json, Value};

const FUNCTION: &str = "kms-key-rotation";

struct Setup {
    kms: aws_sdk_kms::Client,
    environment: TestEnvironment,
}

async fn setup(region: &str) -> Setup {
    let moto = Moto::shared().expect("moto");
    let environment = TestEnvironment::new(moto, region, &[])
        .await
        .expect("environment");
    Setup {
        kms: aws_sdk_kms::Client::new(&environment.sdk),
        environment,
    }
}

impl Setup {
    async fn start(&self, settings: &[(&str, &str)]) -> FunctionProcess {
        self.environment
            .start_with(FUNCTION, settings)
            .await
            .expect("function started")
    }

    async fn key(&self, spec: KeySpec, usage: KeyUsageType, tags: &[(&str, &str)]) -> String {
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().tag_key(*k).tag_value(*v).build().unwrap())
            .collect();
        self.kms
            .create_key()
            .key_spec(spec)
            .key_usage(usage)
            .description("orders service")
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_owned()
    }

    async fn symmetric(&self, tags: &[(&str, &str)]) -> String {
        self.key(
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            tags,
        )
        .await
    }

    async fn alias(&self, name: &str, key: &str) {
        self.kms
            .create_alias()
            .alias_name(name)
            .target_key_id(key)
            .send()
            .await
            .unwrap();
    }

    async fn rotation_enabled(&self, key: &str) -> bool {
        self.kms
            .get_key_rotation_status()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled()
    }

    async fn rotations(&self, key: &str) -> usize {
        self.kms
            .list_key_rotations()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .rotations()
            .len()
    }

    async fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .kms
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .iter()
            .filter_map(|k| k.key_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    async fn tags(&self, key: &str) -> std::collections::BTreeMap<String, String> {
        self.kms
            .list_resource_tags()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
            .collect()
    }

    async fn alerts(&self) -> Vec<ReceivedAlert> {
        self.environment.inbox.drain().await.unwrap()
    }
}

#[tokio::test]
async fn the_daily_scan_enforces_rotation_and_pages_about_keys_deleted_while_in_use() {
    let s = setup("ap-southeast-1").await;
    let unrotated = s.symmetric(&[]).await;
    let rotating = s.symmetric(&[]).await;
    s.kms
        .enable_key_rotation()
        .key_id(&rotating)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let exempt = s
        .symmetric(&[
            ("key-rotation", "exempt"),
            (
                "key-rotation-exempt-reason",
                "vendor appliance re-keys itself",
            ),
        ])
        .await;
    let signing = s
        .key(KeySpec::EccNistP256, KeyUsageType::SignVerify, &[])
        .await;
    s.alias("alias/signing", &signing).await;
    let in_use = s.symmetric(&[]).await;
    s.alias("alias/orders", &in_use).await;
    let unused = s.symmetric(&[]).await;
    for key in [&in_use, &unused] {
        s.kms
            .schedule_key_deletion()
            .key_id(key)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
    }

    let mut function = s.start(&[("DRY_RUN", "false")]).await;
    let scan_began = shared::time::epoch_seconds(std::time::SystemTime::now());
    let report = function
        .respond(&e2e::scheduled_event().unwrap())
        .await
        .unwrap();
    let scan_ended = shared::time::epoch_seconds(std::time::SystemTime::now());
    assert_eq!(report["keys"], 6, "{report}");
    assert_eq!(
        report["classes"],
        json!({"automatic": 3, "manual": 1, "pending-deletion": 2})
    );
    assert_eq!(report["enforcement"], json!({"rotation_enabled": 1}));
    assert_eq!(report["exempt"], 1);
    // The scan's metrics: keys per class and per compliance, matching the report.
    let metrics = function.metric_documents();
    let count = |dimension: &str, value: &str| {
        metrics
            .iter()
            .find(|m| m[dimension] == value)
            .and_then(|m| m["KmsKeys"].as_f64())
    };
    assert_eq!(
        (
            count("class", "automatic"),
            count("class", "manual"),
            count("class", "pending-deletion")
        ),
        (Some(3.0), Some(1.0), Some(2.0))
    );
    let compliant = report["compliant"].as_f64().unwrap();
    assert_eq!(count("compliance", "compliant"), Some(compliant));
    assert_eq!(count("compliance", "noncompliant"), Some(6.0 - compliant));
    assert!(metrics.iter().all(|m| m["function"] == "kms-key-rotation"));

    // In moto: rotation is now on for the key that lacked it, and still off on the exempt key.
    assert!(s.rotation_enabled(&unrotated).await);
    assert!(!s.rotation_enabled(&exempt).await);

    let alerts = s.alerts().await;
    assert_eq!(
        kinds(&alerts),
        [
            "kms-key-deletion-in-use",
            "kms-key-pending-deletion",
            "kms-key-scan-digest"
        ]
    );
    let critical = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "kms-key-deletion-in-use")
        .unwrap();
    assert!(
        critical
            .subject
            .starts_with("[CRITICAL] KMS key alias/orders is pending deletion but still in use"),
        "{}",
        critical.subject
    );
    let deletion = s
        .kms
        .describe_key()
        .key_id(&in_use)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .deletion_date()
        .unwrap()
        .secs();
    // The scan read its clock somewhere between these two instants; a day boundary may fall
    // between them (moto's deletion date is whole seconds from the moment of scheduling).
    let possible: Vec<String> = [scan_began, scan_ended]
        .iter()
        .map(|now| shared::expiry::days_left(deletion, *now).to_string())
        .collect();
    assert!(
        possible.contains(&critical.attributes["days_left"]),
        "days_left {} not in {possible:?}",
        critical.attributes["days_left"]
    );
    let warning = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "kms-key-pending-deletion")
        .unwrap();
    assert!(
        warning.subject.starts_with("[WARNING] KMS key "),
        "{}",
        warning.subject
    );
    assert!(warning.document().unwrap()["summary"]
        .as_str()
        .unwrap()
        .contains(&unused));
    let digest = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "kms-key-scan-digest")
        .unwrap();
    assert_eq!(
        digest.subject,
        "[CRITICAL] KMS key scan of ap-southeast-1: 3 of 6 key(s) need attention"
    );
    let summary = digest.document().unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        summary.contains(&format!(
            "- {unrotated}: automatic rotation enabled, every 365 days"
        )),
        "{summary}"
    );
    assert!(
        summary.contains("exempt, reason: vendor appliance re-keys itself"),
        "{summary}"
    );
    assert_eq!(digest.attributes["dry_run"], "false");

    // One evidence record per key in the log, as an auditor would take it.
    let output = function.output();
    let evidence: Vec<Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["record"] == "kms-key-evidence")
        .map(|line| serde_json::from_str(line["fields"]["evidence"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(evidence.len(), 6);
    let record = evidence
        .iter()
        .find(|e| e["key_id"] == exempt.as_str())
        .unwrap();
    assert_eq!(record["exempt"], true);
    assert_eq!(
        record["exemption_reason"],
        "vendor appliance re-keys itself"
    );
    assert_eq!(record["cryptoperiod_days"], 365);
    assert_eq!(record["last_rotation_source"], "key-creation");

    // The next day's scan finds rotation on and changes nothing more.
    let again = function
        .respond(&e2e::scheduled_event().unwrap())
        .await
        .unwrap();
    assert_eq!(again["enforcement"], json!({}));
}

#[tokio::test]
async fn by_default_the_scan_is_a_dry_run_that_changes_nothing() {
    let s = setup("ap-southeast-2").await;
    let unrotated = s.symmetric(&[]).await;
    let mut function = s.start(&[]).await;
    let report = function
        .respond(&e2e::scheduled_event().unwrap())
        .await
        .unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["enforcement"], json!({"rotation_would_enable": 1}));
    assert!(!s.rotation_enabled(&unrotated).await);
    let alerts = s.alerts().await;
    assert_eq!(kinds(&alerts), ["kms-key-scan-digest"]);
    assert!(alerts[0].document().unwrap()["summary"]
        .as_str()
        .unwrap()
        .contains("would enable automatic rotation every 365 days (dry run)"));
}

#[tokio::test]
async fn rotate_now_rotates_once_and_refuses_unknown_or_ineligible_keys_without_acting() {
    let s = setup("ca-central-1").await;
    let key = s.symmetric(&[]).await;
    s.alias("alias/payments", &key).await;
    let signing = s.key(KeySpec::Rsa2048, KeyUsageType::SignVerify, &[]).await;
    let mut function = s.start(&[]).await;

    // Every name must resolve, or nothing is done.
    let unknown = function
        .invoke(&json!({"rotate_now": ["alias/payments", "alias/nope"]}))
        .await
        .unwrap();
    assert_eq!(unknown.error_type(), Some("UnknownKeys"), "{unknown:?}");
    assert!(unknown.error_message().unwrap().contains("alias/nope"));
    let ineligible = function
        .invoke(&json!({"rotate_now": ["alias/payments", signing]}))
        .await
        .unwrap();
    assert_eq!(ineligible.error_type(), Some("Refused"), "{ineligible:?}");
    assert!(ineligible
        .error_message()
        .unwrap()
        .contains("a key of class manual cannot be rotated on demand"));
    assert_eq!(s.rotations(&key).await, 0);

    // By alias: resolved to the key id (KMS refuses aliases here).
    let rotated = function
        .respond(&json!({"rotate_now": ["alias/payments"]}))
        .await
        .unwrap();
    assert_eq!(rotated["rotated"], json!([key]));
    assert_eq!(s.rotations(&key).await, 1);
    // A retry within the day is answered as done, and uses none of the 25.
    let repeated = function
        .respond(&json!({"rotate_now": [key]}))
        .await
        .unwrap();
    assert_eq!(repeated["rotated"], json!([]));
    assert_eq!(repeated["already_rotated"][0]["key_id"], key.as_str());
    assert_eq!(s.rotations(&key).await, 1);

    for bad in [
        json!({"rotate_now": "x"}),
        json!({"rotate_now": ["../etc"]}),
        json!([1, 2]),
    ] {
        let result = function.invoke(&bad).await.unwrap();
        assert_eq!(
            result.error_type(),
            Some("InvalidRequest"),
            "{bad}: {result:?}"
        );
    }
}

#[tokio::test]
async fn rotate_alias_moves_the_alias_to_a_copy_and_keeps_the_old_key_for_decryption() {
    let s = setup("sa-east-1").await;
    let old = s
        .key(
            KeySpec::Rsa2048,
            KeyUsageType::SignVerify,
            &[("team", "payments")],
        )
        .await;
    let policy = json!({"Version": "2012-10-17", "Id": "signing", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    s.kms
        .put_key_policy()
        .key_id(&old)
        .policy_name("default")
        .policy(&policy)
        .send()
        .await
        .unwrap();
    s.alias("alias/signing", &old).await;
    let mut function = s.start(&[]).await;

    let result = function
        .respond(&json!({"rotate_alias": "alias/signing"}))
        .await
        .unwrap();
    let new = result["new_key_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(result["resumed"], false);

    let described = s
        .kms
        .describe_key()
        .key_id("alias/signing")
        .send()
        .await
        .unwrap();
    let metadata = described.key_metadata().unwrap();
    assert_eq!(metadata.key_id(), new);
    assert_eq!(metadata.key_spec(), Some(&KeySpec::Rsa2048));
    assert_eq!(metadata.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(metadata.description(), Some("orders service"));
    let copied = s
        .kms
        .get_key_policy()
        .key_id(&new)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert_eq!(copied.policy(), Some(policy.as_str()));
    let new_tags = s.tags(&new).await;
    assert_eq!(new_tags["team"], "payments");
    assert_eq!(new_tags["credential-rotation/supersedes"], old);
    assert_eq!(s.tags(&old).await["credential-rotation/superseded-by"], new);
    // The old key stays enabled for verification; nothing is scheduled for deletion.
    let old_state = s.kms.describe_key().key_id(&old).send().await.unwrap();
    assert_eq!(
        old_state
            .key_metadata()
            .unwrap()
            .key_state()
            .unwrap()
            .as_str(),
        "Enabled"
    );

    let alerts = s.alerts().await;
    assert_eq!(kinds(&alerts), ["kms-alias-rotated"]);
    assert_eq!(
        alerts[0].subject,
        "[INFO] KMS alias alias/signing now points at a new key"
    );

    // A repeat within the day (a retry after a lost answer) makes no third key.
    let keys_before = s.key_ids().await;
    let repeat = function
        .respond(&json!({"rotate_alias": "alias/signing"}))
        .await
        .unwrap();
    assert_eq!(repeat["already_rotated"], true);
    assert_eq!(s.key_ids().await, keys_before);
}

#[tokio::test]
async fn an_interrupted_manual_rotation_reuses_the_successor_it_created() {
    let s = setup("eu-north-1").await;
    let old = s
        .key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac, &[])
        .await;
    s.alias("alias/mac", &old).await;
    // What an attempt that stopped after CreateKey leaves: a successor tagged at creation.
    let orphan = s
        .key(
            KeySpec::Hmac256,
            KeyUsageType::GenerateVerifyMac,
            &[("credential-rotation/supersedes", old.as_str())],
        )
        .await;
    let keys_before = s.key_ids().await;
    let mut function = s.start(&[]).await;
    let result = function
        .respond(&json!({"rotate_alias": "alias/mac"}))
        .await
        .unwrap();
    assert_eq!(result["new_key_id"], orphan.as_str());
    assert_eq!(result["resumed"], true);
    assert_eq!(s.key_ids().await, keys_before, "no second successor");
    let target = s
        .kms
        .describe_key()
        .key_id("alias/mac")
        .send()
        .await
        .unwrap();
    assert_eq!(target.key_metadata().unwrap().key_id(), orphan);
}

#[tokio::test]
async fn a_manual_rotation_that_stopped_after_moving_the_alias_is_finished_once() {
    let s = setup("eu-west-3").await;
    let old = s.key(KeySpec::Rsa2048, KeyUsageType::SignVerify, &[]).await;
    s.alias("alias/tokens", &old).await;
    // What an attempt that stopped after UpdateAlias leaves: the old key not yet tagged.
    let successor = s
        .key(
            KeySpec::Rsa2048,
            KeyUsageType::SignVerify,
            &[("credential-rotation/supersedes", old.as_str())],
        )
        .await;
    s.kms
        .update_alias()
        .alias_name("alias/tokens")
        .target_key_id(&successor)
        .send()
        .await
        .unwrap();
    let keys_before = s.key_ids().await;
    let mut function = s.start(&[]).await;
    let finished = function
        .respond(&json!({"rotate_alias": "alias/tokens"}))
        .await
        .unwrap();
    assert_eq!(
        (
            finished["previous_key_id"].as_str(),
            finished["new_key_id"].as_str()
        ),
        (Some(old.as_str()), Some(successor.as_str()))
    );
    assert_eq!(finished["resumed"], true);
    assert_eq!(
        s.tags(&old).await["credential-rotation/superseded-by"],
        successor
    );
    assert_eq!(s.key_ids().await, keys_before, "no new key");
    assert_eq!(kinds(&s.alerts().await), ["kms-alias-rotated"]);
    // Finished: a repeat changes nothing and says nothing.
    let repeat = function
        .respond(&json!({"rotate_alias": "alias/tokens"}))
        .await
        .unwrap();
    assert_eq!(repeat["already_rotated"], true);
    assert_eq!(s.key_ids().await, keys_before);
    assert!(s.alerts().await.is_empty());
}

#[tokio::test]
async fn rotate_alias_refuses_what_it_cannot_rotate_and_writes_nothing() {
    let s = setup("eu-south-1").await;
    let multi_region = s
        .kms
        .create_key()
        .key_usage(KeyUsageType::EncryptDecrypt)
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    s.alias("alias/global", &multi_region).await;
    let keys_before = s.key_ids().await;
    let mut function = s.start(&[]).await;
    for (request, error_type, message) in [
        (
            json!({"rotate_alias": "alias/global"}),
            "Refused",
            "multi-Region key",
        ),
        (
            json!({"rotate_alias": "alias/missing"}),
            "UnknownKeys",
            "alias/missing",
        ),
        (
            json!({"rotate_alias": "alias/aws/s3"}),
            "InvalidRequest",
            "AWS managed key's alias",
        ),
        (
            json!({"rotate_alias": "signing"}),
            "InvalidRequest",
            "rotate_alias is not an alias name",
        ),
    ] {
        let result = function.invoke(&request).await.unwrap();
        assert_eq!(
            result.error_type(),
            Some(error_type),
            "{request}: {result:?}"
        );
        assert!(
            result.error_message().unwrap().contains(message),
            "{result:?}"
        );
    }
    assert_eq!(s.key_ids().await, keys_before);
    assert!(s.alerts().await.is_empty());
}

#[tokio::test]
async fn each_documented_event_becomes_its_alert() {
    let s = setup("us-west-1").await;
    let mut function = s.start(&[]).await;
    let cases = [
        ("kms-cmk-rotation", "[INFO] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab rotated automatically", "kms-key-rotated"),
        ("kms-imported-key-material-expiration", "[CRITICAL] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab: imported material expired; key unusable", "kms-material-expired"),
        ("kms-cmk-deletion", "[WARNING] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab was deleted", "kms-key-deleted"),
        ("cloudtrail-kms-disable-key-rotation", "[WARNING] Automatic rotation of KMS key 1234abcd-12ab-34cd-56ef-1234567890ab was turned off", "kms-rotation-disabled-by-call"),
        ("cloudtrail-kms-schedule-key-deletion", "[WARNING] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab was scheduled for deletion", "kms-deletion-scheduled-by-call"),
        ("cloudtrail-kms-disable-key", "[WARNING] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab was disabled", "kms-key-disabled-by-call"),
        ("cloudtrail-kms-enable-key-rotation", "[WARNING] KMS key 1234abcd-12ab-34cd-56ef-1234567890ab set to rotate every 730 days", "kms-rotation-period-set-too-long"),
    ];
    for (fixture, subject, kind) in cases {
        let result = function
            .respond(&e2e::fixture(fixture).unwrap())
            .await
            .unwrap();
        assert_eq!(result["kind"], kind, "{fixture}");
        let alerts = s.alerts().await;
        assert_eq!(alerts.len(), 1, "{fixture}");
        assert_eq!(alerts[0].subject, subject);
        assert_eq!(alerts[0].attributes["trigger"], "event");
        if fixture.starts_with("cloudtrail") {
            assert_eq!(
                alerts[0].attributes["caller"],
                "arn:aws:sts::123456789012:assumed-role/Admin/mallory"
            );
        }
    }
    let malformed = function
        .invoke(&json!({"detail-type": "KMS CMK Rotation", "source": "aws.kms"}))
        .await
        .unwrap();
    assert_eq!(
        malformed.error_type(),
        Some("InvalidEvent"),
        "{malformed:?}"
    );
    assert!(s.alerts().await.is_empty());
}

/// Security Hub: a finding per key and problem (none for a compliant key), archived and
/// resolved on the scan after the problem is fixed. Documents checked against ASFF as stored.
#[tokio::test]
async fn findings_follow_each_key_problem_until_it_is_fixed() {
    let region = "ap-northeast-2";
    let s = setup(region).await;
    let moto = Moto::shared().unwrap();
    let unrotated = s.symmetric(&[]).await;
    let compliant = s.symmetric(&[]).await;
    s.kms
        .enable_key_rotation()
        .key_id(&compliant)
        .send()
        .await
        .unwrap();
    let mut function = s.start(&[("SECURITY_HUB_FINDINGS", "true")]).await;
    let scheduled = e2e::scheduled_event().unwrap();
    let report = function.respond(&scheduled).await.unwrap();
    assert_eq!(report["security_hub"], counts(1, 0, 0));
    assert_eq!(moto.security_hub_findings(region).unwrap().len(), 1);
    let arn = format!("arn:aws:kms:{region}:123456789012:key/{unrotated}");
    let stored = findings_about(moto, region, &arn);
    let finding = &stored[0];
    assert_eq!(finding["Resources"][0]["Type"], "AwsKmsKey");
    assert!(finding["Id"]
        .as_str()
        .unwrap()
        .contains("/kms-rotation-disabled/"));
    assert_eq!(finding["Compliance"]["Status"], "FAILED");
    assert_eq!(finding["Severity"]["Label"], "MEDIUM");
    assert!(finding["Remediation"]["Recommendation"]["Text"]
        .as_str()
        .unwrap()
        .contains("enable-key-rotation"));

    s.kms
        .enable_key_rotation()
        .key_id(&unrotated)
        .send()
        .await
        .unwrap();
    let report = function.respond(&scheduled).await.unwrap();
    assert_eq!(report["security_hub"], counts(0, 0, 1));
    let stored = findings_about(moto, region, &arn);
    assert_eq!(stored[0]["Id"], finding["Id"]);
    assert_resolved(&stored[0]);
}
