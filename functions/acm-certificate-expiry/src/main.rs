//! ACM certificate expiry: wires settings and AWS clients, then serves the Lambda Runtime API.
//! Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts.
//! - `ALERT_THRESHOLDS_DAYS` (`45,30,14,7,3,1`): days before expiry on which to alert.
//! - `RENEW_PRIVATE_CERTIFICATES` (false): request renewal of private certificates near expiry.
//! - `SCAN_CONCURRENCY` (8): `DescribeCertificate` calls in flight at once, 1 to 64.
//! - `SECURITY_HUB_FINDINGS` (false): a finding per certificate at risk and problem, archived
//!   once it is gone.
//! - `ORG_MEMBER_ROLE_NAME` and the other `ORG_*` settings (none: single-account mode): the
//!   organization mode's worker (see `shared::organization::worker::WorkerSettings`).
//! - `LOG_LEVEL` (info).

mod events;
mod handler;
mod member;

use handler::{CertificateExpiry, Settings};
use shared::alert::SnsAlerts;
use shared::certificates::acm::AcmInventory;
use shared::config::{ConfigError, Env};
use shared::findings::aws::SecurityHub;
use shared::organization::worker::WorkerSettings;

fn configuration(env: &Env) -> Result<(Settings, Option<WorkerSettings>), ConfigError> {
    Ok((Settings::from_env(env)?, WorkerSettings::from_env(env)?))
}

// One invocation at a time per instance; the scan's concurrency is I/O on this one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(configuration).await;
    let (settings, organization) = started.settings;
    let worker = organization.map(|organization| {
        let job = member::MemberScan {
            settings: settings.clone(),
            security_hub: started.security_hub,
        };
        let (sdk, topic) = (&started.sdk, &started.alert_topic_arn);
        shared::organization::aws_worker(job, organization, sdk, topic, &started.function_name)
    });
    let function = CertificateExpiry::new(
        AcmInventory::new(aws_sdk_acm::Client::new(&started.sdk)),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        settings,
        SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    shared::organization::serve(worker, |event| function.handle(event)).await
}
