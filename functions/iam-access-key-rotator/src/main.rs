//! IAM access key rotator: wires settings and AWS clients, then serves the Lambda Runtime API.
//! Settings (environment, read once here), durations written `90d`, `12h`, `30m`, `45s`:
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts.
//! - `DRY_RUN` (true): decide and report every action, change nothing.
//! - `KEY_ROTATION_AGE` (90d), `KEY_INSTALL_GRACE` (7d), `KEY_RECOVERY_GRACE` (7d),
//!   `KEY_WARN_AHEAD` (7d, 0 disables), `SCHEDULE_INTERVAL` (1d: how often the schedule runs).
//! - `EXEMPT_TAG` (`key-rotation=exempt`), `EXEMPT_GROUP` (none), `OWNER_TAG` (`owner`).
//! - `USER_PATH_PREFIX` (`/`), `SWEEP_CONCURRENCY` (8).
//! - `SECRET_PREFIX` (`iam-user-keys/`), `SECRET_KMS_KEY_ID` (the account's default key).
//! - `LOG_LEVEL` (info).

mod handler;
mod notices;

use handler::{Rotator, Settings};
use lambda_runtime::service_fn;
use shared::alert::SnsAlerts;
use shared::config::{ConfigError, Env};
use shared::iam::directory::IamDirectory;
use shared::iam::vault::SecretsManagerVault;

struct Configuration {
    settings: Settings,
    secret_prefix: String,
    kms_key_id: Option<String>,
}

fn configuration(env: &Env) -> Result<Configuration, ConfigError> {
    Ok(Configuration {
        settings: Settings::from_env(env)?,
        secret_prefix: env.string_or("SECRET_PREFIX", "iam-user-keys/"),
        kms_key_id: env.optional("SECRET_KMS_KEY_ID").map(str::to_owned),
    })
}

// One invocation at a time per instance; the sweep's concurrency is I/O on this one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(configuration).await;
    let Configuration {
        settings,
        secret_prefix,
        kms_key_id,
    } = started.settings;
    let rotator = Rotator::new(
        IamDirectory::new(aws_sdk_iam::Client::new(&started.sdk)),
        SecretsManagerVault::new(
            aws_sdk_secretsmanager::Client::new(&started.sdk),
            secret_prefix,
            kms_key_id,
        ),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        settings,
    );
    lambda_runtime::run(service_fn(|event| rotator.handle(event))).await
}
