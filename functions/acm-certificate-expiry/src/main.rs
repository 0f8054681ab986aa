//! ACM certificate expiry: wires settings and AWS clients, then serves the Lambda Runtime API.
//! Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts.
//! - `ALERT_THRESHOLDS_DAYS` (`45,30,14,7,3,1`): days before expiry on which to alert.
//! - `RENEW_PRIVATE_CERTIFICATES` (false): request renewal of private certificates near expiry.
//! - `SCAN_CONCURRENCY` (8): `DescribeCertificate` calls in flight at once, 1 to 64.
//! - `LOG_LEVEL` (info).

mod events;
mod handler;

use handler::{CertificateExpiry, Settings};
use lambda_runtime::service_fn;
use shared::alert::{topic_arn_from_env, SnsAlerts};
use shared::certificates::acm::AcmInventory;
use shared::config::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let env = Env::from_process();
    let settings =
        Settings::from_env(&env).and_then(|settings| Ok((settings, topic_arn_from_env(&env)?)));
    let (settings, topic_arn) = match settings {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "invalid configuration; the function cannot start");
            return Err(error.into());
        }
    };
    let sdk = shared::aws::load_sdk_config().await;
    let function = CertificateExpiry::new(
        AcmInventory::new(aws_sdk_acm::Client::new(&sdk)),
        SnsAlerts::new(aws_sdk_sns::Client::new(&sdk), topic_arn),
        settings,
    );
    lambda_runtime::run(service_fn(|event| function.handle(event))).await
}
