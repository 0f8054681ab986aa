//! IAM access key rotator: wires settings and AWS clients, then serves the Lambda Runtime API.
//! Settings (environment, read once here), durations written `90d`, `12h`, `30m`, `45s`:
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts.
//! - `DRY_RUN` (true): decide and report every action, change nothing.
//! - `KEY_ROTATION_AGE` (90d), `KEY_INSTALL_GRACE` (7d), `KEY_RECOVERY_GRACE` (7d),
//!   `KEY_WARN_AHEAD` (7d, 0 disables), `SCHEDULE_INTERVAL` (1d: how often the schedule runs).
//! - `EXEMPT_TAG` (`key-rotation=exempt`), `EXEMPT_GROUP` (none), `OWNER_TAG` (`owner`).
//! - `USER_PATH_PREFIX` (`/`), `SWEEP_CONCURRENCY` (8).
//! - `SECRET_PREFIX` (`iam-user-keys/`), `SECRET_KMS_KEY_ID` (the account's default key).
//! - `ROTATOR_ROLE_ARN` (none; the template sets it): with it, each key secret gets a resource
//!   policy that lets only the key's user and this role read it.
//! - `ORG_MEMBER_ROLE_NAME` and the other `ORG_*` settings (none: single-account mode): the
//!   organization mode's worker (see `shared::organization::worker::WorkerSettings`).
//! - `SECURITY_HUB_FINDINGS` (false): a finding per active key past the rotation age that the run
//!   did not replace, in the function's region; archived once the key is rotated or gone.
//! - `LOG_LEVEL` (info).

mod announce;
mod handler;
mod member;
mod notices;

use handler::{Rotator, Settings};
use shared::alert::SnsAlerts;
use shared::config::{ConfigError, Env};
use shared::findings::aws::SecurityHub;
use shared::iam::directory::IamDirectory;
use shared::iam::vault::SecretsManagerVault;
use shared::organization::worker::WorkerSettings;

struct Configuration {
    settings: Settings,
    secret_prefix: String,
    kms_key_id: Option<String>,
    rotator_role_arn: Option<String>,
    organization: Option<WorkerSettings>,
}

fn configuration(env: &Env) -> Result<Configuration, ConfigError> {
    Ok(Configuration {
        settings: Settings::from_env(env)?,
        secret_prefix: env.string_or("SECRET_PREFIX", "iam-user-keys/"),
        kms_key_id: env.optional("SECRET_KMS_KEY_ID").map(str::to_owned),
        rotator_role_arn: match env.optional("ROTATOR_ROLE_ARN") {
            Some(_) => Some(env.arn("ROTATOR_ROLE_ARN", "iam")?),
            None => None,
        },
        organization: WorkerSettings::from_env(env)?,
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
        rotator_role_arn,
        organization,
    } = started.settings;
    if rotator_role_arn.is_none() {
        tracing::warn!("ROTATOR_ROLE_ARN is not set: the key secrets get no resource policy restricting who reads them");
    }
    let worker = organization.map(|organization| {
        let job = member::MemberSweep {
            settings: settings.clone(),
            secret_prefix: secret_prefix.clone(),
            member_role_name: organization.role_name.clone(),
            security_hub: started.security_hub,
        };
        let (sdk, topic) = (&started.sdk, &started.alert_topic_arn);
        shared::organization::aws_worker(job, organization, sdk, topic, &started.function_name)
    });
    let rotator = Rotator::new(
        IamDirectory::new(aws_sdk_iam::Client::new(&started.sdk)),
        SecretsManagerVault::new(
            aws_sdk_secretsmanager::Client::new(&started.sdk),
            secret_prefix,
            kms_key_id,
            rotator_role_arn,
        ),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        settings,
        SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    shared::organization::serve(worker, |event| rotator.handle(event)).await
}
