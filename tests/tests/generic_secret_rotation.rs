//! The generic secret rotation function, end to end: the real binary through the Lambda Runtime
//! API, against moto's Secrets Manager and SNS, driven as Secrets Manager drives it.

use e2e::binaries::function_binary;
use e2e::inbox::{AlertInbox, ReceivedAlert};
use e2e::moto::{unique_name, Moto, REGION};
use e2e::rotation::{
    rotation_event, secret_values, snapshot, staged_value, start_rotation, SecretSnapshot, STEPS,
};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::securityhub::{assert_resolved, findings_about};
use e2e::TestEnvironment;
use serde_json::{json, Value};

const FUNCTION: &str = "generic-secret-rotation";

struct Setup {
    sm: aws_sdk_secretsmanager::Client,
    inbox: AlertInbox,
    function: FunctionProcess,
}

async fn setup_with(extra_env: &[(&str, &str)]) -> Setup {
    let moto = Moto::shared().expect("moto");
    let environment = TestEnvironment::new(moto, REGION, extra_env)
        .await
        .expect("environment");
    let function = environment.start(FUNCTION).await.expect("start");
    Setup {
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        inbox: environment.inbox,
        function,
    }
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

impl Setup {
    async fn create_secret(&self, value: &str) -> String {
        let created = self
            .sm
            .create_secret()
            .name(unique_name("secret"))
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
        created.arn.expect("arn")
    }

    /// A new secret whose rotation to version `TOKEN` has started (rotation enabled or not).
    async fn rotating_secret(&self, value: &str, rotation_enabled: bool) -> String {
        let arn = self.create_secret(value).await;
        start_rotation(&self.sm, &arn, TOKEN, rotation_enabled)
            .await
            .expect("start rotation");
        arn
    }

    async fn invoke(&mut self, step: &str, arn: &str, token: &str) -> Invocation {
        self.function
            .invoke(&rotation_event(step, arn, token))
            .await
            .expect("invocation")
    }

    async fn run_steps(&mut self, steps: &[&str], arn: &str, token: &str) {
        for step in steps {
            let result = self.invoke(step, arn, token).await;
            assert!(
                result.is_ok(),
                "{step} failed: {result:?}\n{}",
                self.function.output()
            );
        }
    }

    async fn snapshot(&self, arn: &str) -> SecretSnapshot {
        snapshot(&self.sm, arn).await.expect("snapshot")
    }

    /// Asserts that neither the function's output nor any alert contains any of `values`.
    fn assert_never_disclosed(&self, values: &[String], alerts: &[ReceivedAlert]) {
        let output = self.function.output();
        assert!(!output.is_empty(), "the function logged nothing");
        for value in values {
            assert!(
                !output.contains(value.as_str()),
                "a secret value appears in the function's output"
            );
            for alert in alerts {
                assert!(
                    !alert.message.contains(value.as_str())
                        && !alert.subject.contains(value.as_str()),
                    "a secret value appears in an alert"
                );
            }
        }
    }
}

fn stages(snapshot: &SecretSnapshot, version: &str) -> Vec<String> {
    snapshot
        .get(version)
        .map(|(stages, _)| stages.clone())
        .unwrap_or_default()
}

fn outcome(result: &Invocation) -> &str {
    match result {
        Invocation::Response(value) => value["outcome"].as_str().unwrap_or_default(),
        Invocation::Error { .. } => "error",
    }
}

const TOKEN: &str = "11111111-2222-4333-8444-555555555555";

#[tokio::test]
async fn a_json_secret_rotates_only_its_password_and_finishes_with_clean_labels() {
    let mut s = setup().await;
    let original = json!({"engine": "custom", "username": "app", "password": "Original-Passw0rd-123", "host": "api.internal"});
    let arn = s.create_secret(&original.to_string()).await;
    let before = s.snapshot(&arn).await;
    let old_version = before.keys().next().expect("one version").clone();
    start_rotation(&s.sm, &arn, TOKEN, true)
        .await
        .expect("start rotation");

    let mut outcomes = Vec::new();
    let rotating = std::time::Instant::now();
    for step in STEPS {
        let result = s.invoke(step, &arn, TOKEN).await;
        outcomes.push(outcome(&result).to_owned());
    }
    let rotation_wall_ms = rotating.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(
        outcomes,
        [
            "pending-created",
            "pending-set",
            "pending-tested",
            "finished"
        ]
    );

    let after = s.snapshot(&arn).await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        stages(&after, TOKEN),
        ["AWSCURRENT"],
        "AWSPENDING must be cleared from the finished version"
    );
    assert_eq!(stages(&after, &old_version), ["AWSPREVIOUS"]);
    let current: Value =
        serde_json::from_str(&staged_value(&s.sm, &arn, "AWSCURRENT").await.unwrap()).unwrap();
    let password = current["password"].as_str().unwrap();
    assert_ne!(password, "Original-Passw0rd-123");
    assert_eq!(password.chars().count(), 32);
    assert!(
        !password.chars().any(|c| ":/@\"'\\".contains(c)),
        "default excluded characters appear"
    );
    for field in ["engine", "username", "host"] {
        assert_eq!(current[field], original[field], "{field} changed");
    }
    assert_eq!(
        staged_value(&s.sm, &arn, "AWSPREVIOUS").await.unwrap(),
        original.to_string()
    );

    let alerts = s.inbox.drain().await.unwrap();
    assert!(
        alerts.is_empty(),
        "a successful rotation sends no alert: {alerts:?}"
    );
    s.assert_never_disclosed(&secret_values(&after, "password"), &alerts);

    // Metrics: each step's duration by function and step, and one rotation done; no secret name.
    let metrics = s.function.metric_documents();
    let steps: Vec<&str> = metrics.iter().filter_map(|m| m["step"].as_str()).collect();
    assert_eq!(steps, STEPS);
    assert!(metrics
        .iter()
        .filter(|m| m.get("step").is_some())
        .all(|m| m["StepDuration"].as_f64().is_some_and(|ms| ms > 0.0)));
    let rotations: Vec<(&str, f64)> = metrics
        .iter()
        .filter_map(|m| Some((m["outcome"].as_str()?, m["Rotations"].as_f64()?)))
        .collect();
    assert_eq!(rotations, [("rotated", 1.0)]);
    // The rotation's duration runs from createSecret storing the version to the end of
    // finishSecret: it spans the two steps between, and fits in the test's own timing.
    let step_ms = |step: &str| {
        metrics
            .iter()
            .find(|m| m["step"] == step)
            .and_then(|m| m["StepDuration"].as_f64())
            .unwrap()
    };
    let rotation_ms = metrics
        .iter()
        .find_map(|m| m["RotationDuration"].as_f64())
        .expect("RotationDuration");
    assert!(
        rotation_ms >= step_ms("setSecret") + step_ms("testSecret")
            && rotation_ms <= rotation_wall_ms,
        "{rotation_ms} ms"
    );
    assert!(metrics
        .iter()
        .all(|m| m["function"] == FUNCTION && !m.to_string().contains(&arn)));
}

#[tokio::test]
async fn a_plain_secret_is_regenerated_whole_with_the_configured_policy() {
    let mut s = setup_with(&[("PASSWORD_LENGTH", "48"), ("EXCLUDE_PUNCTUATION", "true")]).await;
    let arn = s.rotating_secret("plain-token-before-rotation", true).await;
    s.run_steps(&STEPS, &arn, TOKEN).await;
    let current = staged_value(&s.sm, &arn, "AWSCURRENT").await.unwrap();
    assert_eq!(current.chars().count(), 48);
    assert!(current.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        staged_value(&s.sm, &arn, "AWSPREVIOUS").await.unwrap(),
        "plain-token-before-rotation"
    );
    let after = s.snapshot(&arn).await;
    s.assert_never_disclosed(&secret_values(&after, "password"), &[]);
}

#[tokio::test]
async fn each_step_invoked_twice_leaves_the_same_state_as_once() {
    let mut s = setup().await;
    let arn = s
        .rotating_secret(
            r#"{"username":"app","password":"Original-Passw0rd-123"}"#,
            true,
        )
        .await;
    let repeat_outcomes = [
        "pending-already-stored",
        "pending-set",
        "pending-tested",
        "already-finished",
    ];
    for (step, repeat_outcome) in STEPS.iter().zip(repeat_outcomes) {
        s.run_steps(&[step], &arn, TOKEN).await;
        let once = s.snapshot(&arn).await;
        let again = s.invoke(step, &arn, TOKEN).await;
        assert_eq!(
            outcome(&again),
            repeat_outcome,
            "{step} repeated: {again:?}"
        );
        assert_eq!(
            s.snapshot(&arn).await,
            once,
            "{step} repeated changed the secret"
        );
    }
}

#[tokio::test]
async fn a_rotation_interrupted_after_any_step_completes_when_started_again() {
    let mut s = setup().await;
    for stop_after in 1..=STEPS.len() {
        let arn = s
            .create_secret(r#"{"username":"app","password":"Original-Passw0rd-123"}"#)
            .await;
        start_rotation(&s.sm, &arn, TOKEN, true).await.unwrap();
        s.run_steps(&STEPS[..stop_after], &arn, TOKEN).await;
        let stored = s.snapshot(&arn).await[TOKEN]
            .1
            .clone()
            .expect("createSecret stored a value");

        // Secrets Manager retries the whole rotation with the same token.
        s.run_steps(&STEPS, &arn, TOKEN).await;
        let after = s.snapshot(&arn).await;
        assert_eq!(
            stages(&after, TOKEN),
            ["AWSCURRENT"],
            "after stopping at step {stop_after}"
        );
        assert_eq!(
            after[TOKEN].1.as_ref(),
            Some(&stored),
            "the value stored first must be the one that finishes"
        );
    }
}

#[tokio::test]
async fn a_finish_that_crashed_between_its_two_label_changes_completes_on_retry() {
    let mut s = setup().await;
    let arn = s.rotating_secret("plain-token-before-rotation", true).await;
    s.run_steps(&STEPS[..3], &arn, TOKEN).await;
    let old_version = s
        .snapshot(&arn)
        .await
        .into_iter()
        .find(|(_, (st, _))| st.contains(&"AWSCURRENT".to_owned()))
        .unwrap()
        .0;
    // The crash: AWSCURRENT moved, AWSPENDING not yet cleared.
    s.sm.update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSCURRENT")
        .move_to_version_id(TOKEN)
        .remove_from_version_id(&old_version)
        .send()
        .await
        .unwrap();
    let retry = s.invoke("finishSecret", &arn, TOKEN).await;
    assert_eq!(outcome(&retry), "pending-label-cleared");
    assert_eq!(stages(&s.snapshot(&arn).await, TOKEN), ["AWSCURRENT"]);
}

#[tokio::test]
async fn a_secret_rotates_twice_in_a_row() {
    let mut s = setup().await;
    let arn = s
        .create_secret(r#"{"username":"app","password":"Original-Passw0rd-123"}"#)
        .await;
    let second = "99999999-2222-4333-8444-555555555555";
    start_rotation(&s.sm, &arn, TOKEN, true).await.unwrap();
    s.run_steps(&STEPS, &arn, TOKEN).await;
    let first_password = staged_value(&s.sm, &arn, "AWSCURRENT").await.unwrap();
    // moto refuses a new rotation while AWSPENDING is left on the current version.
    start_rotation(&s.sm, &arn, second, true)
        .await
        .expect("second rotation starts");
    s.run_steps(&STEPS, &arn, second).await;
    let after = s.snapshot(&arn).await;
    assert_eq!(stages(&after, second), ["AWSCURRENT"]);
    assert_eq!(stages(&after, TOKEN), ["AWSPREVIOUS"]);
    assert_eq!(
        staged_value(&s.sm, &arn, "AWSPREVIOUS").await.unwrap(),
        first_password
    );
    assert_ne!(
        staged_value(&s.sm, &arn, "AWSCURRENT").await.unwrap(),
        first_password
    );
}

/// One bad input: what to send, and what must come back.
struct BadInput {
    name: &'static str,
    expected_type: &'static str,
    expected_message: &'static str,
    alerts: usize,
}

#[tokio::test]
async fn bad_input_gets_a_specific_error_and_changes_nothing() {
    let mut s = setup().await;
    let arn = s
        .rotating_secret(
            r#"{"username":"app","password":"Original-Passw0rd-123"}"#,
            true,
        )
        .await;
    let disabled = s
        .rotating_secret(
            r#"{"username":"app","password":"Original-Passw0rd-123"}"#,
            false,
        )
        .await;
    let no_field = s
        .rotating_secret(
            r#"{"username":"app","token":"Original-Passw0rd-123"}"#,
            true,
        )
        .await;
    let not_json = s
        .rotating_secret(
            r#"{"username":"app","password":"Original-Passw0rd-123""#,
            true,
        )
        .await;
    let missing = arn.replace(":secret:", ":secret:does-not-exist-");

    let without = |field: &str| {
        let mut event = rotation_event("createSecret", &arn, TOKEN);
        event.as_object_mut().unwrap().remove(field);
        event.to_string()
    };
    let cases: Vec<(BadInput, String)> = vec![
        (
            BadInput {
                name: "malformed JSON",
                expected_type: "",
                expected_message: "",
                alerts: 0,
            },
            r#"{"Step": "createSecret", "#.to_owned(),
        ),
        (
            BadInput {
                name: "no SecretId",
                expected_type: "InvalidEvent",
                expected_message: "no field SecretId",
                alerts: 0,
            },
            without("SecretId"),
        ),
        (
            BadInput {
                name: "no ClientRequestToken",
                expected_type: "InvalidEvent",
                expected_message: "no field ClientRequestToken",
                alerts: 0,
            },
            without("ClientRequestToken"),
        ),
        (
            BadInput {
                name: "no Step",
                expected_type: "InvalidEvent",
                expected_message: "no field Step",
                alerts: 0,
            },
            without("Step"),
        ),
        (
            BadInput {
                name: "unknown step",
                expected_type: "UnknownStep",
                expected_message: "unknown rotation step \"rotateEverything\"",
                alerts: 0,
            },
            rotation_event("rotateEverything", &arn, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "token not in secret",
                expected_type: "TokenNotInSecret",
                expected_message: "no stage for rotation",
                alerts: 1,
            },
            rotation_event("createSecret", &arn, "00000000-0000-4000-8000-000000000000")
                .to_string(),
        ),
        (
            BadInput {
                name: "rotation not enabled",
                expected_type: "RotationNotEnabled",
                expected_message: "rotation is not enabled",
                alerts: 1,
            },
            rotation_event("createSecret", &disabled, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "secret does not exist",
                expected_type: "SecretNotFound",
                expected_message: "does not exist",
                alerts: 1,
            },
            rotation_event("createSecret", &missing, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "JSON secret without the field",
                expected_type: "RotationTargetError",
                expected_message: "has no field \"password\"",
                alerts: 1,
            },
            rotation_event("createSecret", &no_field, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "secret that is not valid JSON",
                expected_type: "RotationTargetError",
                expected_message: "not a valid JSON object",
                alerts: 1,
            },
            rotation_event("createSecret", &not_json, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "setSecret before createSecret",
                expected_type: "NoPendingValue",
                expected_message: "createSecret has not stored one",
                alerts: 1,
            },
            rotation_event("setSecret", &arn, TOKEN).to_string(),
        ),
        (
            BadInput {
                name: "finishSecret before createSecret",
                expected_type: "NoPendingValue",
                expected_message: "createSecret has not stored one",
                alerts: 1,
            },
            rotation_event("finishSecret", &arn, TOKEN).to_string(),
        ),
    ];

    let secrets = [&arn, &disabled, &no_field, &not_json];
    let mut before = Vec::new();
    for secret in secrets {
        before.push(s.snapshot(secret).await);
    }
    for (case, payload) in cases {
        let result = s.function.invoke_raw(payload).await.expect("invocation");
        let Invocation::Error {
            error_type,
            error_message,
        } = &result
        else {
            panic!("{}: expected an error, got {result:?}", case.name);
        };
        if case.name == "malformed JSON" {
            assert!(
                !error_message.is_empty() && !error_type.is_empty(),
                "{}: {result:?}",
                case.name
            );
        } else {
            assert_eq!(
                error_type, case.expected_type,
                "{}: {error_message}",
                case.name
            );
            assert!(
                error_message.contains(case.expected_message),
                "{}: {error_message}",
                case.name
            );
        }
        let alerts = s.inbox.drain().await.unwrap();
        assert_eq!(
            alerts.len(),
            case.alerts,
            "{}: alerts {alerts:?}",
            case.name
        );
        for (secret, snapshot_before) in secrets.iter().zip(&before) {
            assert_eq!(
                &s.snapshot(secret).await,
                snapshot_before,
                "{} changed {secret}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn a_token_already_current_succeeds_at_every_step_without_change() {
    let mut s = setup().await;
    let arn = s.rotating_secret("plain-token-before-rotation", true).await;
    s.run_steps(&STEPS, &arn, TOKEN).await;
    let finished = s.snapshot(&arn).await;
    for step in STEPS {
        let result = s.invoke(step, &arn, TOKEN).await;
        assert_eq!(outcome(&result), "already-finished", "{step}: {result:?}");
    }
    assert_eq!(s.snapshot(&arn).await, finished);
    assert!(s.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_step_publishes_exactly_one_readable_and_filterable_alert() {
    let mut s = setup().await;
    let arn = s
        .rotating_secret(
            r#"{"username":"app","token":"Original-Passw0rd-123"}"#,
            true,
        )
        .await;
    let result = s.invoke("createSecret", &arn, TOKEN).await;
    assert_eq!(result.error_type(), Some("RotationTargetError"));
    let failed: Vec<Value> = s.function.metric_documents();
    assert_eq!(
        failed
            .last()
            .map(|m| (m["outcome"].clone(), m["Rotations"].clone())),
        Some((json!("failed"), json!(1.0)))
    );

    let alerts = s.inbox.drain().await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    let name = arn.split(":secret:").nth(1).unwrap();
    let name = &name[..name.len() - 7];
    assert_eq!(
        alert.subject,
        format!("[ERROR] Rotation of secret {name} failed at createSecret")
    );
    assert!(alert.subject.len() < 100);
    assert_eq!(alert.attributes["severity"], "error");
    assert_eq!(alert.attributes["kind"], "rotation-failed");
    assert_eq!(alert.attributes["resource"], arn);
    assert_eq!(alert.attributes["source"], FUNCTION);
    let document = alert.document().unwrap();
    assert_eq!(document["schema"], "credential-alert/v1");
    assert_eq!(document["runbook"], "docs/alerts.md#rotation-failed");
    assert_eq!(document["details"]["step"], "createSecret");
    assert_eq!(document["details"]["version"], TOKEN);
    assert_eq!(document["details"]["error_type"], "RotationTargetError");
    assert!(document["details"]["error"]
        .as_str()
        .unwrap()
        .contains("has no field \"password\""));
    assert!(document["action"]
        .as_str()
        .unwrap()
        .contains(&format!("rotate-secret --secret-id {arn}")));
    s.assert_never_disclosed(&["Original-Passw0rd-123".to_owned()], &alerts);
}

#[tokio::test]
async fn the_function_refuses_to_start_with_invalid_settings() {
    let moto = Moto::shared().unwrap();
    let binary = function_binary(FUNCTION).unwrap();
    for (env, variable) in [
        (vec![], "ALERT_TOPIC_ARN"),
        (
            vec![
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:a"),
                ("PASSWORD_LENGTH", "lots"),
            ],
            "PASSWORD_LENGTH",
        ),
        (
            vec![
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:a"),
                ("AWS_MAX_ATTEMPTS", "0"),
            ],
            "AWS_MAX_ATTEMPTS",
        ),
    ] {
        let mut full_env = moto.function_env();
        full_env.extend(
            env.iter()
                .map(|(k, v): &(&str, &str)| (k.to_string(), v.to_string())),
        );
        let mut function = FunctionProcess::start(&binary, &full_env).await.unwrap();
        let status = function
            .wait_for_exit(std::time::Duration::from_secs(20))
            .await
            .unwrap();
        assert!(!status.success());
        assert!(
            function.output().contains(variable),
            "{}",
            function.output()
        );
        // Only JSON log lines, no plain-text error after them.
        for line in function.output().lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "not a JSON line: {line}"
            );
        }
    }
}

/// At a network's latency (20 ms a call, through the proxy), a rotation's calls and the chain of
/// those that wait on each other, on one warm process: createSecret's reads go out with its
/// DescribeSecret, then the put (4 calls, a chain of 2); the later steps know both values
/// already and only describe (setSecret, testSecret: 1); finishSecret describes, moves
/// AWSCURRENT, then removes AWSPENDING, an order that makes it safe (3). 9 calls, a chain of 7;
/// the next rotation starts from the value the first made current, so it need not read it: 8.
#[tokio::test]
async fn a_warm_rotation_makes_nine_calls_and_waits_on_seven() {
    let moto = Moto::shared().expect("moto");
    let environment = TestEnvironment::new(moto, REGION, &[])
        .await
        .expect("environment");
    let (mut function, network, _proxy) = environment
        .start_counted(FUNCTION, &[], std::time::Duration::from_millis(20))
        .await
        .unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let arn = sm
        .create_secret()
        .name(unique_name("chain"))
        .secret_string(r#"{"username":"app","password":"Initial-Passw0rd-1"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let per_step = e2e::rotation::calls_per_step(&mut function, &network, &sm, &arn)
        .await
        .unwrap();
    assert_eq!(
        per_step,
        [(4, 2), (1, 1), (1, 1), (3, 3)],
        "(calls, chain) per step"
    );
    let next = e2e::rotation::calls_per_step(&mut function, &network, &sm, &arn)
        .await
        .unwrap();
    assert_eq!(
        next,
        [(3, 2), (1, 1), (1, 1), (3, 3)],
        "(calls, chain) per step of the next rotation"
    );
    // And it rotated: the token's version is AWSCURRENT, with a new password.
    let current = e2e::rotation::staged_value(&sm, &arn, "AWSCURRENT")
        .await
        .unwrap();
    assert!(!current.contains("Initial-Passw0rd-1"));
    assert_eq!(snapshot(&sm, &arn).await.unwrap().len(), 3);
}

/// Security Hub: a failed rotation opens a finding on the secret (ASFF checked as stored, no
/// secret value in it); the next rotation that finishes resolves it.
#[tokio::test]
async fn a_failed_rotation_has_a_finding_until_a_rotation_finishes() {
    let mut s = setup_with(&[("SECURITY_HUB_FINDINGS", "true")]).await;
    let moto = Moto::shared().unwrap();
    let arn = s
        .rotating_secret(
            r#"{"username":"app","token":"Unrotatable-Passw0rd-9"}"#,
            true,
        )
        .await;
    let result = s.invoke("createSecret", &arn, TOKEN).await;
    assert_eq!(result.error_type(), Some("RotationTargetError"));
    let stored = findings_about(moto, REGION, &arn);
    assert_eq!(stored.len(), 1);
    let finding = &stored[0];
    assert_eq!(finding["Resources"][0]["Type"], "AwsSecretsManagerSecret");
    assert_eq!(
        finding["GeneratorId"],
        "credential-rotation/secret-rotation"
    );
    assert_eq!(finding["Severity"]["Label"], "HIGH");
    assert_eq!(finding["RecordState"], "ACTIVE");
    assert!(finding["Title"]
        .as_str()
        .unwrap()
        .contains("failed at createSecret"));
    assert!(finding["Remediation"]["Recommendation"]["Text"]
        .as_str()
        .unwrap()
        .contains("rotate-secret --secret-id"));
    assert!(!finding.to_string().contains("Unrotatable-Passw0rd-9"));

    // The secret is fixed and rotated again: the finding is resolved.
    s.sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"username":"app","password":"Fixed-Passw0rd-10"}"#)
        .send()
        .await
        .unwrap();
    let again = "6d1a77a4-0b46-4b8e-9a55-3f2c1d7e9b01";
    start_rotation(&s.sm, &arn, again, true).await.unwrap();
    s.run_steps(&STEPS, &arn, again).await;
    let stored = findings_about(moto, REGION, &arn);
    assert_eq!(stored[0]["Id"], finding["Id"]);
    assert_resolved(&stored[0]);
    assert!(!stored[0].to_string().contains("Passw0rd"));
}
