//! Every identifier a handler takes from outside (an event, a direct request, a queue message),
//! fed as 1 MB, as another service's ARN, as another resource type, as a number, null, an array
//! and an object, through the real binaries: each is refused with an error that names the field,
//! no alert is sent, no AWS call writes anything, and no log line exceeds 4 KB.

use e2e::moto::{Moto, REGION};
use e2e::organization::sqs_event;
use e2e::{fixture, TestEnvironment};
use serde_json::{json, Value};
use std::time::Duration;

const LOG_LINE_MAX: usize = 4096;

/// The hostile values of one field: `other_service` and `other_type` are the field's own near
/// misses (another service's ARN; an ARN of the right service but another resource type).
fn hostile_values(other_type: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "1 MB",
            json!(format!(
                "arn:aws:kms:us-east-1:123456789012:key/{}",
                "a".repeat(1 << 20)
            )),
        ),
        ("another service's ARN", json!("arn:aws:s3:::some-bucket")),
        ("another resource type", json!(other_type)),
        ("a number", json!(123456789012u64)),
        ("null", Value::Null),
        ("an array", json!(["arn:aws:s3:::some-bucket"])),
        ("an object", json!({"arn": "arn:aws:s3:::some-bucket"})),
    ]
}

/// One field of one handler's input.
struct Field {
    /// Where it is, as a JSON pointer into the payload (for queue messages: into the body).
    pointer: &'static str,
    /// How errors name it.
    name: &'static str,
    other_type: &'static str,
}

/// Whether an AWS operation (`service.Operation` or a query `Action`) only reads.
fn reads_only(call: &str) -> bool {
    let operation = call.rsplit('.').next().unwrap_or(call);
    ["Get", "List", "Describe"]
        .iter()
        .any(|read| operation.starts_with(read))
}

/// A refused input left no trace but its error: no log line over 4 KB in what the function
/// logged for it, no AWS call that writes, no alert.
async fn assert_quiet(
    case: &str,
    logged: &str,
    network: &e2e::faults::Faults,
    environment: &TestEnvironment,
) {
    let longest = logged.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest <= LOG_LINE_MAX,
        "{case}: a log line of {longest} bytes"
    );
    let writes: Vec<String> = network
        .calls()
        .into_iter()
        .filter(|c| !reads_only(c))
        .collect();
    assert!(writes.is_empty(), "{case}: {writes:?}");
    assert!(
        environment.inbox.drain().await.unwrap().is_empty(),
        "{case}: an alert"
    );
}

async fn refuses_each_bad_identifier(
    function: &str,
    settings: &[(&str, &str)],
    base: Value,
    fields: &[Field],
) {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let (mut process, network, _proxy) = environment
        .start_counted(function, settings, Duration::ZERO)
        .await
        .unwrap();
    let mut cases = 0;
    for field in fields {
        for (what, value) in hostile_values(field.other_type) {
            network.arm(None, None);
            let mut payload = base.clone();
            *payload
                .pointer_mut(field.pointer)
                .expect("the field is in the payload") = value;
            let before = process.output().len();
            let result = process.invoke(&payload).await.unwrap();
            let message = result.error_message().unwrap_or_default().to_owned();
            let case = format!("{function}: {} as {what}", field.name);
            assert!(!result.is_ok(), "{case}: accepted");
            assert!(message.contains(field.name), "{case}: {message}");
            assert!(
                message.len() < 1024,
                "{case}: an error of {} bytes",
                message.len()
            );
            assert_quiet(&case, &process.output()[before..], &network, &environment).await;
            cases += 1;
        }
    }
    println!("{function}: {cases} bad identifiers refused");
}

#[tokio::test]
async fn the_certificate_handler_refuses_bad_identifiers() {
    refuses_each_bad_identifier(
        "acm-certificate-expiry",
        &[],
        fixture("acm-expired").unwrap(),
        &[Field {
            pointer: "/resources/0",
            name: "resources[0]",
            other_type:
                "arn:aws:acm:us-east-1:123456789012:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        }],
    )
    .await;
}

#[tokio::test]
async fn the_kms_handler_refuses_bad_identifiers() {
    let alias = "arn:aws:kms:us-east-1:123456789012:alias/orders";
    let grant = "arn:aws:kms:us-east-1:123456789012:grant/0a1b2c3d";
    let function = "kms-key-rotation";
    refuses_each_bad_identifier(
        function,
        &[],
        fixture("kms-cmk-deletion").unwrap(),
        &[Field {
            pointer: "/resources/0",
            name: "resources[0]",
            other_type: alias,
        }],
    )
    .await;
    refuses_each_bad_identifier(
        function,
        &[],
        fixture("cloudtrail-kms-disable-key").unwrap(),
        &[Field {
            pointer: "/detail/requestParameters/keyId",
            name: "detail.requestParameters.keyId",
            other_type: grant,
        }],
    )
    .await;
    refuses_each_bad_identifier(
        function,
        &[],
        json!({"rotate_now": ["alias/orders"]}),
        &[Field {
            pointer: "/rotate_now/0",
            name: "rotate_now[0]",
            other_type: grant,
        }],
    )
    .await;
    refuses_each_bad_identifier(
        function,
        &[],
        json!({"rotate_alias": "alias/orders"}),
        &[Field {
            pointer: "/rotate_alias",
            name: "rotate_alias",
            other_type: alias,
        }],
    )
    .await;
}

#[tokio::test]
async fn the_key_sweep_refuses_bad_user_names() {
    refuses_each_bad_identifier(
        "iam-access-key-rotator",
        &[],
        json!({"force_users": ["alice"]}),
        &[Field {
            pointer: "/force_users/0",
            name: "force_users[0]",
            other_type: "arn:aws:iam::123456789012:role/alice",
        }],
    )
    .await;
}

/// A work queue message whose account or region is bad: the worker reports it failed (to the
/// dead-letter queue), names the field in its log, and does nothing else.
#[tokio::test]
async fn organization_workers_refuse_bad_work_items() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let settings = [
        ("ORG_MEMBER_ROLE_NAME", "credential-rotation-member"),
        ("ORG_WORK_QUEUE_URL", "http://127.0.0.1:1/000000000000/work"),
    ];
    let (mut worker, network, _proxy) = environment
        .start_counted("kms-key-rotation", &settings, Duration::ZERO)
        .await
        .unwrap();
    let good = json!({"run": "2026-12-07T08:00:00Z/0a1b2c3d", "job": "kms-key-rotation", "account": "123456789012", "region": "us-east-1"});
    let fields = [
        (
            "account",
            "arn:aws:organizations::123456789012:account/o-abc/111122223333",
        ),
        (
            "region",
            "arn:aws:ec2:us-east-1:123456789012:region/us-east-1",
        ),
    ];
    let mut cases = 0;
    for (field, other_type) in fields {
        for (what, value) in hostile_values(other_type) {
            network.arm(None, None);
            let mut body = good.clone();
            body[field] = value;
            let record = json!({"messageId": "m-1", "receiptHandle": "r-1", "body": body.to_string(), "attributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work", "awsRegion": "us-east-1"});
            let before = worker.output().len();
            let answer = worker.respond(&sqs_event(&[record])).await.unwrap();
            let case = format!("worker: {field} as {what}");
            assert_eq!(
                answer["batchItemFailures"],
                json!([{"itemIdentifier": "m-1"}]),
                "{case}"
            );
            let output = worker.output();
            let logged = &output[before..];
            assert!(logged.contains(&format!("{field} ")), "{case}: {logged}");
            assert_quiet(&case, logged, &network, &environment).await;
            cases += 1;
        }
    }
    // A body that is 1 MB of anything at all.
    let record = json!({"messageId": "m-2", "receiptHandle": "r-2", "body": "x".repeat(1 << 20), "attributes": {}, "eventSource": "aws:sqs"});
    let before = worker.output().len();
    let answer = worker.respond(&sqs_event(&[record])).await.unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-2"}])
    );
    let longest = worker.output()[before..]
        .lines()
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest <= LOG_LINE_MAX, "a log line of {longest} bytes");
    println!("worker: {} bad work items refused", cases + 1);
}
