//! Rotation function for generic secrets: wires settings and AWS clients, then serves the Lambda
//! Runtime API. Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for failure alerts.
//! - `ROTATED_FIELD` (default `password`): the field regenerated in JSON secrets.
//! - `PASSWORD_LENGTH` (32), `EXCLUDE_CHARACTERS` (`:/@"'\`), `EXCLUDE_NUMBERS`,
//!   `EXCLUDE_PUNCTUATION`, `EXCLUDE_UPPERCASE`, `EXCLUDE_LOWERCASE` (false),
//!   `REQUIRE_EACH_INCLUDED_TYPE` (true).
//! - `SECURITY_HUB_FINDINGS` (false): a finding per secret whose rotation failed, resolved by
//!   the next rotation that finishes.
//! - `LOG_LEVEL` (info).

mod handler;

use handler::GenericSecret;
use lambda_runtime::service_fn;
use shared::alert::SnsAlerts;
use shared::rotation::{RotationFunction, Rotator, SecretsManagerStore};

// One invocation at a time per instance: a single-threaded runtime starts faster and uses less
// memory than the multi-threaded one.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(GenericSecret::from_env).await;
    let function = RotationFunction::new(
        Rotator::new(
            SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&started.sdk)),
            started.settings,
        ),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        shared::findings::aws::SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    lambda_runtime::run(service_fn(|event| function.handle(event))).await
}
