//! Rotation function for a secret holding one IAM user's access key: wires settings and AWS
//! clients, then serves the Lambda Runtime API. Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for failure alerts.
//! - `KEY_PROPAGATION_TIMEOUT` (60s, at most 600s): how long testSecret waits for a new key.
//! - `SECURITY_HUB_FINDINGS` (false): a finding per secret whose rotation failed, resolved by
//!   the next rotation that finishes.
//! - `LOG_LEVEL` (info).

mod handler;

use handler::{propagation_timeout_from_env, UserKey};
use lambda_runtime::service_fn;
use shared::alert::SnsAlerts;
use shared::iam::directory::IamDirectory;
use shared::iam::identity::StsIdentity;
use shared::rotation::{RotationFunction, Rotator, SecretsManagerStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(propagation_timeout_from_env).await;
    let target = UserKey::new(
        IamDirectory::new(aws_sdk_iam::Client::new(&started.sdk)),
        StsIdentity::new(started.sdk.clone()),
        started.settings,
    );
    let function = RotationFunction::new(
        Rotator::new(
            SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&started.sdk)),
            target,
        ),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        shared::findings::aws::SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    lambda_runtime::run(service_fn(|event| function.handle(event))).await
}
