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
use shared::alert::SnsAlerts;
use shared::certificates::acm::AcmInventory;

// One invocation at a time per instance; the scan's concurrency is I/O on this one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(Settings::from_env).await;
    let function = CertificateExpiry::new(
        AcmInventory::new(aws_sdk_acm::Client::new(&started.sdk)),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        started.settings,
    );
    lambda_runtime::run(service_fn(|event| function.handle(event))).await
}
