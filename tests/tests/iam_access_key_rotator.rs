//! The IAM access key rotator, end to end: the real binary through the Lambda Runtime API
//! against moto's IAM, Secrets Manager and SNS. moto cannot backdate keys, so the lifecycle runs
//! with ages of seconds (the ages are settings) and real waiting.

use e2e::inbox::{kinds, ReceivedAlert};
use e2e::moto::{unique_name, Moto, REGION};
use e2e::runtime::FunctionProcess;
use e2e::securityhub::{assert_resolved, counts, findings_about};
use e2e::TestEnvironment;
use serde_json::{json, Value};
use std::time::Duration;

const FUNCTION: &str = "iam-access-key-rotator";

struct Setup {
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
    environment: TestEnvironment,
    path: String,
    secret_prefix: String,
}

const ROTATOR_ROLE: &str = "arn:aws:iam::123456789012:role/credential-rotation-key-rotator";

/// Each test has its own IAM path (IAM is global in moto) and secret prefix.
async fn setup() -> Setup {
    let moto = Moto::shared().expect("moto");
    let scope = unique_name("t");
    let path = format!("/{scope}/");
    let secret_prefix = format!("iam-user-keys/{scope}/");
    let base = [
        ("USER_PATH_PREFIX", path.as_str()),
        ("SECRET_PREFIX", secret_prefix.as_str()),
        ("KEY_WARN_AHEAD", "0"),
        ("ROTATOR_ROLE_ARN", ROTATOR_ROLE),
    ];
    let environment = TestEnvironment::new(moto, REGION, &base)
        .await
        .expect("environment");
    Setup {
        iam: aws_sdk_iam::Client::new(&environment.sdk),
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        environment,
        path,
        secret_prefix,
    }
}

fn scheduled() -> Value {
    e2e::scheduled_event().expect("fixture")
}

impl Setup {
    async fn start(&self, settings: &[(&str, &str)]) -> FunctionProcess {
        self.environment
            .start_with(FUNCTION, settings)
            .await
            .expect("function started")
    }

    async fn user(&self, name: &str, tags: &[(&str, &str)], keys: usize) -> String {
        let mut request = self.iam.create_user().user_name(name).path(&self.path);
        for (k, v) in tags {
            request = request.tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .unwrap(),
            );
        }
        request.send().await.unwrap();
        for _ in 0..keys {
            self.iam
                .create_access_key()
                .user_name(name)
                .send()
                .await
                .unwrap();
        }
        name.to_owned()
    }

    /// (key id, active), oldest first.
    async fn keys(&self, user: &str) -> Vec<(String, bool)> {
        e2e::iam::access_keys(&self.iam, user).await.expect("keys")
    }

    async fn tag_keys(&self, user: &str) -> Vec<String> {
        self.iam
            .list_user_tags()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .tags
            .into_iter()
            .map(|t| t.key)
            .collect()
    }

    async fn stored(&self, user: &str) -> Option<Value> {
        let output = self
            .sm
            .get_secret_value()
            .secret_id(format!("{}{user}", self.secret_prefix))
            .version_stage("AWSCURRENT")
            .send()
            .await
            .ok()?;
        serde_json::from_str(output.secret_string()?).ok()
    }

    async fn alerts(&self) -> Vec<ReceivedAlert> {
        self.environment.inbox.drain().await.unwrap()
    }
}

fn sleep(seconds: f64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64(seconds))
}

#[tokio::test]
async fn a_key_goes_through_rotate_deactivate_delete_and_exempt_users_are_untouched() {
    let s = setup().await;
    let alice = s.user("alice", &[("owner", "team-payments")], 1).await;
    let bob = s.user("bob", &[("key-rotation", "exempt")], 1).await;
    let carol = s.user("carol", &[], 0).await;
    let original = s.keys(&alice).await;
    let bob_keys = s.keys(&bob).await;
    let mut function = s
        .start(&[
            ("DRY_RUN", "false"),
            ("KEY_ROTATION_AGE", "6s"),
            ("KEY_INSTALL_GRACE", "3s"),
            ("KEY_RECOVERY_GRACE", "3s"),
        ])
        .await;

    // Day 0: nothing is old enough.
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(
        report["outcomes"],
        json!({"exempt": 1, "no-keys": 1, "unchanged": 1})
    );
    // One page of users and one of key secrets; tags and keys for alice and carol; tags only
    // for exempt bob.
    assert_eq!(report["api_calls"], 7);
    assert_eq!(kinds(&s.alerts().await), ["access-key-sweep-summary"]);

    // Rotation age reached: a new key, stored, the old one still active.
    sleep(6.2).await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["rotated"], 1);
    let keys = s.keys(&alice).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], original[0]);
    assert!(keys.iter().all(|(_, active)| *active));
    let new_key = keys[1].0.clone();
    let stored = s.stored(&alice).await.expect("the new key is stored");
    assert_eq!(stored["AccessKeyId"], new_key.as_str());
    assert_eq!(stored["UserName"], "alice");
    let secret_access_key = stored["SecretAccessKey"].as_str().unwrap().to_owned();
    assert_eq!(secret_access_key.len(), 40);
    let alerts = s.alerts().await;
    assert_eq!(
        kinds(&alerts),
        ["access-key-rotated", "access-key-sweep-summary"]
    );
    let rotated = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "access-key-rotated")
        .unwrap();
    assert_eq!(rotated.subject, "[INFO] Access key of alice rotated");
    assert_eq!(rotated.attributes["owner"], "team-payments");
    assert_eq!(rotated.attributes["user"], "alice");
    let suffix = &new_key[new_key.len() - 4..];
    assert_eq!(
        rotated.document().unwrap()["details"]["new_key"],
        format!("…{suffix}")
    );

    // The new key is still in its install grace period: nothing happens.
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["unchanged"], 1);

    // Install grace over, the old key unused since: deactivated, and the time recorded.
    sleep(3.5).await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["deactivated"], 1);
    assert_eq!(
        s.keys(&alice).await,
        [(original[0].0.clone(), false), (new_key.clone(), true)]
    );
    assert!(s.tag_keys(&alice).await.contains(&format!(
        "credential-rotation/deactivated/{}",
        original[0].0
    )));
    assert!(kinds(&s.alerts().await).contains(&"access-key-deactivated".to_owned()));

    // Recovery grace not over yet.
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["unchanged"], 1);

    // Recovery grace over: the old key is deleted, its record removed.
    sleep(3.5).await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["deleted"], 1);
    assert_eq!(s.keys(&alice).await, [(new_key.clone(), true)]);
    assert!(!s
        .tag_keys(&alice)
        .await
        .iter()
        .any(|t| t.starts_with("credential-rotation/")));
    let alerts = s.alerts().await;
    assert!(kinds(&alerts).contains(&"access-key-deleted".to_owned()));

    // Exempt and keyless users were never touched.
    assert_eq!(s.keys(&bob).await, bob_keys);
    assert_eq!(s.stored(&bob).await, None);
    assert!(s.keys(&carol).await.is_empty());

    // The secret access key never reached a log line or an alert.
    assert!(!function.output().contains(&secret_access_key));
    for alert in &alerts {
        assert!(!alert.message.contains(&secret_access_key));
    }
}

#[tokio::test]
async fn a_dry_run_reports_every_action_and_changes_nothing() {
    let s = setup().await;
    let dave = s.user("dave", &[], 1).await;
    let before = s.keys(&dave).await;
    let mut function = s.start(&[("KEY_ROTATION_AGE", "1s")]).await; // DRY_RUN defaults to true
    sleep(1.5).await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["outcomes"]["rotated"], 1);
    // The sweep's metrics: users per outcome and the oldest active key's age (under a day).
    let metrics = function.metric_documents();
    let rotated = metrics.iter().find(|m| m["outcome"] == "rotated").unwrap();
    assert_eq!(rotated["Users"], 1.0);
    assert_eq!(
        rotated["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["function", "outcome"]])
    );
    let totals = metrics
        .iter()
        .find(|m| m.get("UsersSwept").is_some())
        .unwrap();
    assert_eq!(totals["OldestActiveKeyAgeDays"], 0.0);
    // Dimensions are bounded: no user name in any metric line.
    assert!(metrics.iter().all(|m| !m.to_string().contains("dave")));
    let alerts = s.alerts().await;
    let subjects: Vec<&str> = alerts.iter().map(|a| a.subject.as_str()).collect();
    assert!(
        subjects.contains(&"[INFO] [DRY RUN] Access key of dave would be rotated"),
        "{subjects:?}"
    );
    assert!(alerts.iter().all(|a| a.attributes["dry_run"] == "true"));
    assert_eq!(s.keys(&dave).await, before);
    assert_eq!(s.stored(&dave).await, None);
}

#[tokio::test]
async fn only_the_keys_user_and_the_rotator_may_read_its_secret() {
    let s = setup().await;
    let grace = s.user("grace", &[], 1).await;
    let mut function = s
        .start(&[("DRY_RUN", "false"), ("KEY_ROTATION_AGE", "1s")])
        .await;
    sleep(1.5).await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["rotated"], 1, "{report}");
    let user_arn = s
        .iam
        .get_user()
        .user_name(&grace)
        .send()
        .await
        .unwrap()
        .user
        .unwrap()
        .arn;
    let policy =
        s.sm.get_resource_policy()
            .secret_id(format!("{}{grace}", s.secret_prefix))
            .send()
            .await
            .unwrap()
            .resource_policy
            .expect("a resource policy on the key's secret");
    let policy: Value = serde_json::from_str(&policy).unwrap();
    let deny = &policy["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(
        deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"],
        json!([user_arn, ROTATOR_ROLE])
    );
    assert_eq!(
        policy["Statement"][1]["Principal"]["AWS"],
        user_arn.as_str()
    );
    // No creation record is left once the key is stored.
    let tags = s
        .iam
        .list_user_tags()
        .user_name(&grace)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags.iter().all(|t| !t.key.contains("creating")),
        "{tags:?}"
    );
}

#[tokio::test]
async fn a_key_whose_storage_cannot_be_confirmed_is_deleted_by_the_next_run() {
    let s = setup().await;
    let erin = s.user("erin", &[], 1).await;
    let before = s.keys(&erin).await;
    // Secrets Manager unreachable for the function (IAM still answers): storing fails, and so
    // does reading back whether it happened, so the new key must be left for the next run.
    let mut function = s
        .start(&[
            ("DRY_RUN", "false"),
            ("KEY_ROTATION_AGE", "1s"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9"),
        ])
        .await;
    sleep(1.5).await;
    let result = function.invoke(&scheduled()).await.unwrap();
    assert_eq!(result.error_type(), Some("UsersFailed"), "{result:?}");
    assert_eq!(s.keys(&erin).await.len(), 2);
    let alerts = s.alerts().await;
    let failed = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "access-key-rotation-failed")
        .expect("failure alert");
    assert_eq!(failed.attributes["severity"], "error");
    assert!(failed.document().unwrap()["details"]["error"]
        .as_str()
        .unwrap()
        .contains("the next run decides whether to delete it"));
    assert_eq!(
        kinds(&alerts),
        ["access-key-rotation-failed", "access-key-sweep-summary"]
    );

    // The next run, with Secrets Manager back: the key was never stored, so it is deleted.
    let mut function = s
        .start(&[("DRY_RUN", "false"), ("KEY_ROTATION_AGE", "1s")])
        .await;
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["unstored-key-deleted"], 1, "{report}");
    assert_eq!(s.keys(&erin).await, before, "no orphaned key may remain");
    assert!(kinds(&s.alerts().await).contains(&"access-key-unstored-deleted".to_owned()));
    // And the run after rotates for real.
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"]["rotated"], 1, "{report}");
    let keys = s.keys(&erin).await;
    assert_eq!(keys.len(), 2);
    let stored = s.stored(&erin).await.expect("stored key");
    assert!(keys
        .iter()
        .any(|(id, active)| *active && stored["AccessKeyId"] == id.as_str()));
}

#[tokio::test]
async fn two_sweeps_at_once_create_one_key_and_lose_none() {
    let s = setup().await;
    let frank = s.user("frank", &[], 1).await;
    let original = s.keys(&frank).await;
    let settings = [("DRY_RUN", "false"), ("KEY_ROTATION_AGE", "1s")];
    let (mut first, mut second) = (s.start(&settings).await, s.start(&settings).await);
    sleep(1.5).await;
    let event = scheduled();
    let (a, b) = tokio::join!(first.invoke(&event), second.invoke(&event));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let keys = s.keys(&frank).await;
    assert_eq!(keys.len(), 2, "never more than two keys");
    assert!(
        keys.iter().all(|(_, active)| *active),
        "never without an active key"
    );
    assert_eq!(keys[0], original[0]);
    assert_eq!(
        s.stored(&frank).await.unwrap()["AccessKeyId"],
        keys[1].0.as_str(),
        "the created key is the stored one"
    );
}

#[tokio::test]
async fn forcing_rotates_named_users_now_and_rejects_bad_requests_without_changes() {
    let s = setup().await;
    let gina = s.user("gina", &[], 1).await;
    let before = s.keys(&gina).await;
    let mut function = s.start(&[("DRY_RUN", "false")]).await;

    for (event, error_type, message) in [
        (
            json!({"force_users": [gina.clone(), "nobody-here"]}),
            "UnknownUsers",
            "nobody-here",
        ),
        (
            json!({"force_users": "gina"}),
            "InvalidEvent",
            "must be a list",
        ),
        (
            json!({"force_users": ["not a name!"]}),
            "InvalidEvent",
            "not an IAM user name",
        ),
        (
            json!({"hello": "world"}),
            "InvalidEvent",
            "expected a Scheduled Event",
        ),
    ] {
        let result = function.invoke(&event).await.unwrap();
        assert_eq!(result.error_type(), Some(error_type), "{event}: {result:?}");
        assert!(
            result.error_message().unwrap().contains(message),
            "{result:?}"
        );
        assert_eq!(s.keys(&gina).await, before);
    }
    assert!(s.alerts().await.is_empty());

    // The key is minutes from the 90-day rotation age: forcing rotates it anyway.
    let report = function
        .respond(&json!({"force_users": [gina.clone()]}))
        .await
        .unwrap();
    assert_eq!(report["outcomes"], json!({"rotated": 1}));
    assert_eq!(s.keys(&gina).await.len(), 2);
    let alerts = s.alerts().await;
    let rotated = alerts
        .iter()
        .find(|a| a.attributes["kind"] == "access-key-rotated")
        .unwrap();
    assert_eq!(rotated.attributes["trigger"], "force");
    assert!(alerts.iter().any(|a| a
        .subject
        .starts_with("[INFO] Access key forced rotation: 1 users, 1 rotated")));
}

/// Storing a new key makes the calls its secret's state needs, known from the sweep's one
/// listing of the key secrets: for a user without a secret, create it (empty), attach the read
/// policy, store the value; for a user with one, attach the policy and store. No call fails.
#[tokio::test]
async fn storing_a_new_key_makes_only_the_calls_its_secrets_state_needs() {
    let s = setup().await;
    // IAM user names are global in moto, whatever the path.
    let new_user = s.user(&unique_name("newcomer"), &[], 1).await;
    let known_user = s.user(&unique_name("known"), &[], 1).await;
    s.sm.create_secret()
        .name(format!("{}{known_user}", s.secret_prefix))
        .secret_string(
            json!({"UserName": known_user, "Note": "made before the rotator ran"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let (mut function, network, _proxy) = s
        .environment
        .start_counted(
            FUNCTION,
            &[("DRY_RUN", "false"), ("KEY_ROTATION_AGE", "1s")],
            Duration::ZERO,
        )
        .await
        .unwrap();
    sleep(1.2).await;
    network.arm(None, None);
    let report = function.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"], json!({"rotated": 2}), "{report}");

    let mut secrets_calls: Vec<String> = network
        .calls()
        .into_iter()
        .filter_map(|c| c.strip_prefix("secretsmanager.").map(str::to_owned))
        .collect();
    secrets_calls.sort();
    assert_eq!(
        secrets_calls,
        [
            "CreateSecret",
            "ListSecrets",
            "PutResourcePolicy",
            "PutResourcePolicy",
            "PutSecretValue",
            "PutSecretValue"
        ]
    );
    for user in [&new_user, &known_user] {
        let keys = s.keys(user).await;
        let stored = s.stored(user).await.expect("stored");
        assert_eq!(stored["AccessKeyId"], keys[1].0.as_str(), "{user}");
    }
}

/// Security Hub: a dry run leaves an overdue key active, so it gets a finding (ASFF checked as
/// stored); the real run rotates it, and the finding is archived and resolved.
#[tokio::test]
async fn an_overdue_key_has_a_finding_until_it_is_rotated() {
    let s = setup().await;
    let moto = Moto::shared().unwrap();
    s.user("overdue", &[], 1).await;
    let key = s.keys("overdue").await[0].0.clone();
    sleep(1.5).await;
    let settings = [
        ("KEY_ROTATION_AGE", "1s"),
        ("SECURITY_HUB_FINDINGS", "true"),
    ];
    let mut dry = s.start(&settings).await;
    let report = dry.respond(&scheduled()).await.unwrap();
    assert_eq!(report["security_hub"], counts(1, 0, 0));
    let stored = findings_about(moto, REGION, &key);
    assert_eq!(stored.len(), 1);
    let finding = &stored[0];
    assert_eq!(finding["Resources"][0]["Type"], "AwsIamAccessKey");
    assert_eq!(
        finding["GeneratorId"],
        "credential-rotation/iam-access-key-age"
    );
    assert_eq!(finding["Compliance"]["Status"], "FAILED");
    assert!(finding["Title"]
        .as_str()
        .unwrap()
        .contains("of IAM user overdue"));
    assert!(finding["Remediation"]["Recommendation"]["Text"]
        .as_str()
        .unwrap()
        .contains("DRY_RUN=false"));

    let mut real = s
        .start(&[settings[0], settings[1], ("DRY_RUN", "false")])
        .await;
    let report = real.respond(&scheduled()).await.unwrap();
    assert_eq!(report["outcomes"], json!({"rotated": 1}), "{report}");
    assert_eq!(report["security_hub"], counts(0, 0, 1));
    let stored = findings_about(moto, REGION, &key);
    assert_eq!(stored[0]["Id"], finding["Id"]);
    assert_resolved(&stored[0]);
}
