//! KMS key rotation: wires settings and AWS clients, then serves the Lambda Runtime API.
//! Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts.
//! - `DRY_RUN` (true): the scan reports what it would enforce and changes nothing.
//! - `MAX_CRYPTOPERIOD_DAYS` (365, 90 to 2560): the longest a key's material may stay in use.
//! - `ROTATION_PERIOD_DAYS` (the maximum cryptoperiod, 90 up to it): the period set when the
//!   scan enables automatic rotation.
//! - `ALERT_THRESHOLDS_DAYS` (`45,30,14,7,3,1`): days before imported material expires on which
//!   to alert.
//! - `EXEMPT_TAG` (`key-rotation=exempt`), `EXEMPT_REASON_TAG` (`key-rotation-exempt-reason`).
//! - `SCAN_CONCURRENCY` (8, 1 to 64), `MAX_ENFORCEMENTS_PER_SCAN` (100, 0 to 1000).
//! - `KMS_QUOTA_SHARE_PERCENT` (10, 1 to 50): the share of each KMS request quota the function
//!   may use; the rest stays for production traffic.
//! - `ORG_MEMBER_ROLE_NAME` and the other `ORG_*` settings (none: single-account mode): the
//!   organization mode's worker (see `shared::organization::worker::WorkerSettings`).
//! - `SECURITY_HUB_FINDINGS` (false): a finding per key and problem, archived once it is gone.
//! - `LOG_LEVEL` (info).

mod events;
mod handler;
mod member;
mod notices;

use handler::{KeyRotation, Settings};
use shared::alert::SnsAlerts;
use shared::config::{ConfigError, Env};
use shared::findings::aws::SecurityHub;
use shared::kms::aws::{AwsKeyService, Limits};
use shared::organization::worker::WorkerSettings;

struct Configuration {
    settings: Settings,
    quota_share_percent: u32,
    organization: Option<WorkerSettings>,
}

fn configuration(env: &Env) -> Result<Configuration, ConfigError> {
    Ok(Configuration {
        settings: Settings::from_env(env)?,
        quota_share_percent: env.number_or("KMS_QUOTA_SHARE_PERCENT", 10, 1, 50)?,
        organization: WorkerSettings::from_env(env)?,
    })
}

// One invocation at a time per instance; the scan's concurrency is I/O on this one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(configuration).await;
    let Configuration {
        settings,
        quota_share_percent,
        organization,
    } = started.settings;
    let worker = organization.map(|organization| {
        let job = member::MemberScan {
            settings: settings.clone(),
            quota_share_percent,
            security_hub: started.security_hub,
        };
        let (sdk, topic) = (&started.sdk, &started.alert_topic_arn);
        shared::organization::aws_worker(job, organization, sdk, topic, &started.function_name)
    });
    let limits = Limits::share_of_quota(quota_share_percent);
    let rates = limits.rates();
    let function = KeyRotation::new(
        AwsKeyService::new(
            aws_sdk_kms::Client::new(&started.sdk),
            aws_sdk_resourcegroupstagging::Client::new(&started.sdk),
            limits,
        ),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        settings,
        rates,
        SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    shared::organization::serve(worker, |event| function.handle(event)).await
}
