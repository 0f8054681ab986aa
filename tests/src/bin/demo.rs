//! The local demo: starts moto, creates sample secrets, rotates them through the real function
//! binary over the Lambda Runtime API, shows versions and stages before and after (values
//! masked), then forces a failure and shows the alert that was published.

use e2e::binaries::function_binary;
use e2e::inbox::AlertInbox;
use e2e::moto::Moto;
use e2e::rotation::{fresh_token, rotation_event, snapshot, start_rotation, SecretSnapshot, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::Result;
use serde_json::{json, Value};
use std::time::Instant;

const FUNCTION: &str = "generic-secret-rotation";

#[tokio::main]
async fn main() -> Result<()> {
    let moto = Moto::start()?;
    println!("Local AWS: moto server at {}", moto.endpoint());
    let sdk = moto.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let (topic_arn, inbox) = AlertInbox::create(&sdk, "credential-alerts").await?;
    println!("Alert topic: {topic_arn}");
    let mut env = moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), topic_arn.clone()));
    let mut function = FunctionProcess::start(&function_binary(FUNCTION)?, &env).await?;
    println!("Function: {FUNCTION}, running through the Lambda Runtime API\n");

    let samples = [
        ("demo/payments-api", json!({"client_id": "payments-web", "password": "initial-Passw0rd-2019", "endpoint": "https://payments.internal"}).to_string()),
        ("demo/webhook-signing-key", "whsec-initial-signing-key".to_owned()),
    ];
    let mut rotated = Vec::new();
    for (name, value) in &samples {
        let arn = sm
            .create_secret()
            .name(*name)
            .secret_string(value)
            .send()
            .await?
            .arn
            .ok_or("no ARN")?;
        println!("== Rotating {name}");
        let before = snapshot(&sm, &arn).await?;
        print_versions("before", &before);
        let token = fresh_token();
        start_rotation(&sm, &arn, &token, true).await?;
        for step in STEPS {
            let started = Instant::now();
            let result = function.invoke(&rotation_event(step, &arn, &token)).await?;
            let elapsed = started.elapsed().as_millis();
            match result {
                Invocation::Response(report) => println!(
                    "  {step:<13} -> {} ({elapsed} ms)",
                    report["outcome"].as_str().unwrap_or("?")
                ),
                Invocation::Error {
                    error_type,
                    error_message,
                } => return Err(format!("{step} failed: {error_type}: {error_message}").into()),
            }
        }
        print_versions("after", &snapshot(&sm, &arn).await?);
        println!();
        rotated.push(*name);
    }

    println!("== Forcing a failure: a JSON secret without the field to rotate");
    let broken = "demo/legacy-token";
    let arn = sm
        .create_secret()
        .name(broken)
        .secret_string(r#"{"token":"legacy-Value-123"}"#)
        .send()
        .await?
        .arn
        .ok_or("no ARN")?;
    let token = fresh_token();
    start_rotation(&sm, &arn, &token, true).await?;
    let before = snapshot(&sm, &arn).await?;
    let result = function
        .invoke(&rotation_event("createSecret", &arn, &token))
        .await?;
    println!(
        "  createSecret  -> {}: {}",
        result.error_type().unwrap_or("ok"),
        result.error_message().unwrap_or("")
    );
    println!(
        "  secret unchanged: {}",
        snapshot(&sm, &arn).await? == before
    );

    let alerts = inbox.drain().await?;
    println!("\n== Alerts published to the topic: {}", alerts.len());
    for alert in &alerts {
        println!("Subject: {}", alert.subject);
        println!(
            "Attributes (for subscription filter policies): {:?}",
            alert.attributes
        );
    }
    if let Some((_, message)) = moto.published(&topic_arn)?.last() {
        println!(
            "\n-- what an email subscriber reads --\n{}",
            message["email"].as_str().unwrap_or_default()
        );
        let document: Value = serde_json::from_str(message["sqs"].as_str().unwrap_or("{}"))?;
        println!(
            "-- what a queue, Lambda or HTTPS subscriber receives --\n{}",
            serde_json::to_string_pretty(&document)?
        );
    }
    println!(
        "\nSummary: rotated {} secrets ({}); {} alert(s) sent.",
        rotated.len(),
        rotated.join(", "),
        alerts.len()
    );
    Ok(())
}

/// Versions and stages, with every value masked: the demo shows that values changed, never them.
fn print_versions(when: &str, snapshot: &SecretSnapshot) {
    println!("  versions {when}:");
    for (version, (stages, value)) in snapshot {
        let shown = value
            .as_deref()
            .map_or_else(|| "(no value)".to_owned(), mask);
        println!("    {version:<45} {:<24} {shown}", stages.join(","));
    }
}

fn mask(value: &str) -> String {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(object)) => {
            let fields: Vec<String> = object
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("password", Value::String(s)) => {
                        format!("{k}=<{} chars masked>", s.chars().count())
                    }
                    _ => format!("{k}={v}"),
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => format!("<{} chars masked>", value.chars().count()),
    }
}
