//! The IAM user key rotation function, end to end: the real binary through the Lambda Runtime
//! API against moto's IAM, STS, Secrets Manager and SNS, driven as Secrets Manager drives it.

use e2e::moto::{unique_name, Moto, REGION};
use e2e::rotation::{fresh_token, rotation_event, staged_value, start_rotation, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::TestEnvironment;
use serde_json::{json, Value};

const FUNCTION: &str = "iam-user-key-rotation";

struct Setup {
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
    environment: TestEnvironment,
    function: FunctionProcess,
}

async fn setup() -> Setup {
    let moto = Moto::shared().expect("moto");
    let environment = TestEnvironment::new(moto, REGION, &[("KEY_PROPAGATION_TIMEOUT", "2s")])
        .await
        .expect("environment");
    let function = environment.start(FUNCTION).await.expect("start");
    Setup {
        iam: aws_sdk_iam::Client::new(&environment.sdk),
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        environment,
        function,
    }
}

impl Setup {
    /// A user with one key, and a secret holding it; returns (user, secret ARN, key id, secret access key).
    async fn user_with_secret(&self) -> (String, String, String, String) {
        let user = unique_name("svc");
        self.iam
            .create_user()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        let key = self
            .iam
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let value = json!({"UserName": user, "AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key, "Purpose": "billing exporter"});
        let arn = self
            .sm
            .create_secret()
            .name(unique_name("iam-key"))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        (user, arn, key.access_key_id, key.secret_access_key)
    }

    /// (key id, active), in creation order.
    async fn keys(&self, user: &str) -> Vec<(String, bool)> {
        e2e::iam::access_keys(&self.iam, user).await.expect("keys")
    }

    async fn staged(&self, arn: &str, stage: &str) -> Value {
        serde_json::from_str(&staged_value(&self.sm, arn, stage).await.unwrap()).unwrap()
    }

    async fn rotate(&mut self, arn: &str) -> String {
        let token = fresh_token();
        start_rotation(&self.sm, arn, &token, true).await.unwrap();
        for step in STEPS {
            let result = self
                .function
                .invoke(&rotation_event(step, arn, &token))
                .await
                .unwrap();
            assert!(
                result.is_ok(),
                "{step}: {result:?}\n{}",
                self.function.output()
            );
        }
        token
    }
}

#[tokio::test]
async fn two_rotations_in_a_row_keep_one_active_key_and_retire_the_previous() {
    let mut s = setup().await;
    let (user, arn, first_key, first_secret) = s.user_with_secret().await;

    s.rotate(&arn).await;
    let current = s.staged(&arn, "AWSCURRENT").await;
    let second_key = current["AccessKeyId"].as_str().unwrap().to_owned();
    assert_ne!(second_key, first_key);
    assert_eq!(current["UserName"], user.as_str());
    assert_eq!(
        current["Purpose"], "billing exporter",
        "other fields are kept"
    );
    assert_eq!(
        s.staged(&arn, "AWSPREVIOUS").await["AccessKeyId"],
        first_key.as_str()
    );
    assert_eq!(
        s.keys(&user).await,
        [(first_key.clone(), false), (second_key.clone(), true)]
    );

    // The next rotation deletes the key the previous one deactivated to make room.
    s.rotate(&arn).await;
    let third_key = s.staged(&arn, "AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.keys(&user).await,
        [(second_key, false), (third_key, true)]
    );

    let second_secret = s.staged(&arn, "AWSPREVIOUS").await["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let third_secret = s.staged(&arn, "AWSCURRENT").await["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = s.function.output();
    for secret in [&first_secret, &second_secret, &third_secret] {
        assert!(
            !output.contains(secret.as_str()),
            "a secret access key reached the logs"
        );
    }
    assert!(s.environment.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_user_with_two_active_keys_is_refused_without_changes() {
    let mut s = setup().await;
    let (user, arn, _, _) = s.user_with_secret().await;
    s.iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let before = s.keys(&user).await;
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    let result = s
        .function
        .invoke(&rotation_event("createSecret", &arn, &token))
        .await
        .unwrap();
    assert_eq!(result.error_type(), Some("RotationTargetError"));
    assert!(
        result
            .error_message()
            .unwrap()
            .contains("has two active keys"),
        "{result:?}"
    );
    assert_eq!(
        s.keys(&user).await,
        before,
        "an active key is never deleted to make room"
    );
    let alerts = s.environment.inbox.drain().await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].attributes["kind"], "rotation-failed");
}

#[tokio::test]
async fn finish_secret_without_a_stored_value_keeps_the_only_working_key() {
    let mut s = setup().await;
    let (user, arn, key_id, _) = s.user_with_secret().await;
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    let result = s
        .function
        .invoke(&rotation_event("finishSecret", &arn, &token))
        .await
        .unwrap();
    assert_eq!(result.error_type(), Some("NoPendingValue"), "{result:?}");
    assert_eq!(s.keys(&user).await, [(key_id.clone(), true)]);
    assert_eq!(
        s.staged(&arn, "AWSCURRENT").await["AccessKeyId"],
        key_id.as_str()
    );
    let alerts = s.environment.inbox.drain().await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].attributes["kind"], "rotation-failed");
}

#[tokio::test]
async fn test_secret_rejects_a_key_that_does_not_authenticate_as_the_user() {
    let mut s = setup().await;
    let (user, arn, first_key, _) = s.user_with_secret().await;
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    // A pending value that is not a key of this user (moto answers for unknown keys as "user/moto").
    let forged = json!({"UserName": user, "AccessKeyId": "AKIAFORGED0000000000", "SecretAccessKey": "forged-secret-access-key-0000000000000000"});
    s.sm.put_secret_value()
        .secret_id(&arn)
        .client_request_token(&token)
        .secret_string(forged.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    for step in ["createSecret", "setSecret"] {
        let result = s
            .function
            .invoke(&rotation_event(step, &arn, &token))
            .await
            .unwrap();
        assert!(result.is_ok(), "{step}: {result:?}");
    }
    let result = s
        .function
        .invoke(&rotation_event("testSecret", &arn, &token))
        .await
        .unwrap();
    let Invocation::Error {
        error_type,
        error_message,
    } = &result
    else {
        panic!("{result:?}")
    };
    assert_eq!(error_type, "RotationTargetError");
    assert!(
        error_message.contains(
            "does not work: the key authenticates as arn:aws:sts::123456789012:user/moto"
        ),
        "{error_message}"
    );
    assert_eq!(
        s.staged(&arn, "AWSCURRENT").await["AccessKeyId"],
        first_key.as_str(),
        "AWSCURRENT unchanged"
    );
    assert_eq!(s.environment.inbox.drain().await.unwrap().len(), 1);
    assert!(!s.function.output().contains("forged-secret-access-key"));
}

/// The calls of two rotations on one warm process, and those that wait on each other. Over the
/// generic rotation's Secrets Manager calls: createSecret lists the user's keys, then writes the
/// creation record and (from the second rotation on) deletes the key the previous rotation
/// deactivated, together, then creates the key; testSecret signs one `GetCallerIdentity`; finishSecret, once AWSCURRENT has
/// moved, clears AWSPENDING, deactivates the previous key and removes the record, all together.
/// The second rotation knows the current value (the first one stored it) and deletes a key.
#[tokio::test]
async fn warm_rotations_make_fifteen_calls_and_wait_on_eleven() {
    let s = setup().await;
    let (mut function, network, _proxy) = s
        .environment
        .start_counted(FUNCTION, &[], std::time::Duration::from_millis(20))
        .await
        .unwrap();
    let arn = e2e::iam::user_with_key_secret(&s.iam, &s.sm, "iam-chain")
        .await
        .unwrap();
    let first = e2e::rotation::calls_per_step(&mut function, &network, &s.sm, &arn)
        .await
        .unwrap();
    assert_eq!(
        first,
        [(7, 5), (1, 1), (2, 2), (5, 3)],
        "(calls, chain) per step"
    );
    let second = e2e::rotation::calls_per_step(&mut function, &network, &s.sm, &arn)
        .await
        .unwrap();
    assert_eq!(
        second,
        [(7, 5), (1, 1), (2, 2), (5, 3)],
        "(calls, chain) per step"
    );
    // The two rotations left the user one active key, the one the secret holds, and the
    // previous one inactive.
    let user = s.staged(&arn, "AWSCURRENT").await["UserName"]
        .as_str()
        .unwrap()
        .to_owned();
    let current = s.staged(&arn, "AWSCURRENT").await["AccessKeyId"].clone();
    let keys = s.keys(&user).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[1], (current.as_str().unwrap().to_owned(), true));
    assert!(!keys[0].1);
}
