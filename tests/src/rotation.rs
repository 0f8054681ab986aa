//! Drives Secrets Manager rotations the way the service does, against moto.

use crate::Result;
use aws_sdk_secretsmanager::types::RotationRulesType;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The state of a secret that a test compares before and after: every version's labels and value.
pub type SecretSnapshot = BTreeMap<String, (Vec<String>, Option<String>)>;

/// A new `ClientRequestToken` (32 to 64 characters, unique), as `RotateSecret` would make.
pub fn fresh_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    // Shaped like the UUIDs Secrets Manager uses.
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (nanos >> 32) as u32,
        (nanos >> 16) as u16,
        nanos as u16 & 0xfff,
        count as u16 & 0xfff,
        (nanos as u64 ^ count) & 0xffff_ffff_ffff
    )
}

pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// An event as Secrets Manager sends it, including the newer `RotationToken` field.
pub fn rotation_event(step: &str, secret_id: &str, token: &str) -> Value {
    json!({"Step": step, "SecretId": secret_id, "ClientRequestToken": token, "RotationToken": "opaque-rotation-token"})
}

/// Starts a rotation as Secrets Manager does before invoking the function: a new version `token`
/// labelled `AWSPENDING` with no value, and (when `enable`) rotation turned on.
///
/// moto's `RotateSecret` records exactly that state, then tries to invoke the named Lambda, which
/// it cannot here (it would run it in Docker) and reports "Resource not found"; that report is
/// expected and the test harness invokes the real function itself.
pub async fn start_rotation(
    sm: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    token: &str,
    enable: bool,
) -> Result<()> {
    let mut request = sm
        .rotate_secret()
        .secret_id(secret_id)
        .client_request_token(token)
        .rotation_lambda_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:invoked-by-the-test-harness",
        );
    if enable {
        request = request.rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        );
    }
    match request.send().await {
        Err(error)
            if aws_sdk_secretsmanager::error::DisplayErrorContext(&error)
                .to_string()
                .contains("Resource not found for ARN") =>
        {
            Ok(())
        }
        Err(error) => Err(aws_sdk_secretsmanager::error::DisplayErrorContext(&error)
            .to_string()
            .into()),
        Ok(_) => Err(
            "moto invoked a Lambda for RotateSecret; the harness expects to drive the steps itself"
                .into(),
        ),
    }
}

/// A new secret (under a unique name starting with `prefix`) holding `value`; its ARN.
pub async fn create_secret(
    sm: &aws_sdk_secretsmanager::Client,
    prefix: &str,
    value: &Value,
) -> Result<String> {
    Ok(sm
        .create_secret()
        .name(crate::moto::unique_name(prefix))
        .secret_string(value.to_string())
        .send()
        .await?
        .arn
        .ok_or("CreateSecret returned no ARN")?)
}

/// The `password` of every version (deprecated ones included) of every secret whose name begins
/// with `prefix`: what a search of a server's logs looks for after a fault matrix.
pub async fn every_password(
    sm: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<Vec<String>> {
    let filter = aws_sdk_secretsmanager::types::Filter::builder()
        .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
        .values(prefix)
        .build();
    let mut secrets = sm.list_secrets().filters(filter).into_paginator().send();
    let mut passwords = Vec::new();
    while let Some(page) = secrets.next().await {
        for secret in page?.secret_list.unwrap_or_default() {
            let arn = secret.arn.ok_or("ListSecrets returned no ARN")?;
            let versions = sm
                .list_secret_version_ids()
                .secret_id(&arn)
                .include_deprecated(true)
                .send()
                .await?;
            for version in versions.versions.unwrap_or_default() {
                let Some(id) = version.version_id else {
                    continue;
                };
                let value = sm
                    .get_secret_value()
                    .secret_id(&arn)
                    .version_id(id)
                    .send()
                    .await?;
                let parsed: Value = serde_json::from_str(value.secret_string().unwrap_or("{}"))?;
                if let Some(password) = parsed["password"].as_str() {
                    passwords.push(password.to_owned());
                }
            }
        }
    }
    passwords.sort();
    passwords.dedup();
    Ok(passwords)
}

pub async fn snapshot(
    sm: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SecretSnapshot> {
    let described = sm.describe_secret().secret_id(secret_id).send().await?;
    let mut snapshot = SecretSnapshot::new();
    for (version, mut stages) in described.version_ids_to_stages.unwrap_or_default() {
        stages.sort();
        let value = match sm
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(&version)
            .send()
            .await
        {
            Ok(output) => output.secret_string,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(error) => return Err(error.into()),
        };
        snapshot.insert(version, (stages, value));
    }
    Ok(snapshot)
}

/// The value of the version holding `stage`.
pub async fn staged_value(
    sm: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    stage: &str,
) -> Result<String> {
    let output = sm
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await?;
    output
        .secret_string
        .ok_or_else(|| format!("{stage} has no string value").into())
}

/// Every credential the snapshot holds, original and generated: what must never appear in logs
/// or alerts. For JSON secrets, the `field` of each version as well as the whole document.
pub fn secret_values(snapshot: &SecretSnapshot, field: &str) -> Vec<String> {
    let mut values = Vec::new();
    for (_, value) in snapshot.values() {
        let Some(value) = value else { continue };
        values.push(value.clone());
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(value) {
            values.extend(object.get(field).and_then(Value::as_str).map(str::to_owned));
        }
    }
    values
}

/// One rotation of `arn` on `function`, step by step: each step's calls and the chain of calls
/// that waited on each other, as `network` (the proxy the function's calls cross) counted them.
pub async fn calls_per_step(
    function: &mut crate::runtime::FunctionProcess,
    network: &crate::faults::Faults,
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<Vec<(usize, usize)>> {
    let token = fresh_token();
    start_rotation(sm, arn, &token, true).await?;
    let mut per_step = Vec::new();
    for step in STEPS {
        network.arm(None, None);
        let result = function.respond(&rotation_event(step, arn, &token)).await?;
        if result["step"] != step {
            return Err(format!("{step} answered {result}").into());
        }
        per_step.push((network.calls().len(), network.chain()));
    }
    Ok(per_step)
}
