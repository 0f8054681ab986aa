//! Organization enumerator: on its schedule, queues one work item per account, region and job;
//! the scheduled functions, fed by those queues, run their jobs in each member account.
//! Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for alerts (a run that cannot list the accounts).
//! - `ORG_QUEUE_ACM_CERTIFICATE_EXPIRY`, `ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR`,
//!   `ORG_QUEUE_KMS_KEY_ROTATION` (at least one): each job's work queue URL; a job runs when its
//!   queue is set.
//! - `ORG_REGIONS` (the function's region): comma-separated; the key sweep runs in the first.
//! - `ORG_ACCOUNTS` (none) or `ORG_UNITS` (none): only these accounts (no Organizations call), or
//!   only the accounts under these organizational units; otherwise every account.
//! - `ORG_SKIP_DISABLED_REGIONS` (true): skip the regions an account has not enabled (Account
//!   Management `ListRegions`, from the management or a delegated administrator account).
//! - `ORG_CONCURRENCY` (8, 1 to 32): region lookups in flight.
//! - `ORG_RESULTS_QUEUE_URL` (none: no digest): where the workers report each item's outcome;
//!   the event `{"phase": "report"}` publishes the digest of every run that is complete, or
//!   `ORG_REPORT_DEADLINE` (6h) old.
//! - `LOG_LEVEL` (info).

mod aws;
mod digest;
mod handler;

use aws::{AccountRegions, Organizations, SqsResultsQueue, SqsWorkQueue};
use handler::{job_queues, Enumerator, Settings};
use shared::alert::SnsAlerts;
use shared::config::{ConfigError, Env};
use shared::organization::JobName;
use std::collections::BTreeMap;

struct Configuration {
    settings: Settings,
    queue_urls: BTreeMap<JobName, String>,
    results_queue_url: Option<String>,
}

fn configuration(env: &Env) -> Result<Configuration, ConfigError> {
    Ok(Configuration {
        settings: Settings::from_env(env)?,
        queue_urls: job_queues(env)?,
        results_queue_url: env.optional("ORG_RESULTS_QUEUE_URL").map(str::to_owned),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(configuration).await;
    let Configuration {
        settings,
        queue_urls,
        results_queue_url,
    } = started.settings;
    let sqs = aws_sdk_sqs::Client::new(&started.sdk);
    // The topic is the hub's own: its account is the one this function runs in.
    let own_account = shared::aws::arn_account(&started.alert_topic_arn).map(str::to_owned);
    let enumerator = Enumerator {
        directory: Organizations::new(aws_sdk_organizations::Client::new(&started.sdk)),
        regions: AccountRegions::new(aws_sdk_account::Client::new(&started.sdk), own_account),
        queues: queue_urls
            .into_iter()
            .map(|(job, url)| (job, SqsWorkQueue::new(sqs.clone(), url)))
            .collect(),
        results: results_queue_url.map(|url| SqsResultsQueue::new(sqs.clone(), url)),
        alerts: SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        settings,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| enumerator.handle(event))).await
}
