//! The organization mode: the scheduled jobs (certificate scan, key sweep, KMS scan) run in every
//! account and region of an organization, fanned out on SQS and Lambda rather than looped over in
//! one invocation. The enumerator function plans a run ([`work::plan`]) and queues one
//! [`work::WorkItem`] per account, region and job; each scheduled function, given the SQS event,
//! is a [`worker::Worker`] that assumes the member role ([`member`]) and runs its own job there.
//! Single-account mode (no `ORG_MEMBER_ROLE_NAME`) is unchanged.

pub mod member;
pub mod work;
pub mod worker;

#[cfg(test)]
mod worker_test;

pub use work::JobName;

use crate::alert::SnsAlerts;
use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use member::{MemberAccess, MemberRole, StsRoles};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use worker::{AccountJob, SqsQueues, Worker, WorkerError, WorkerSettings};

impl From<WorkerError> for Diagnostic {
    fn from(error: WorkerError) -> Self {
        let error_type = match &error {
            WorkerError::NotConfigured => "OrganizationModeOff",
            WorkerError::MalformedEvent(_) => "InvalidEvent",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Sends `body` as JSON, one message, to the queue at `url` (the results queue: items' outcomes
/// from the workers, runs' manifests from the enumerator).
pub async fn send_json(
    client: &aws_sdk_sqs::Client,
    url: &str,
    body: &impl Serialize,
) -> Result<(), String> {
    let body = serde_json::to_string(body).map_err(|e| e.to_string())?;
    client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "SQS SendMessage failed: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })
}

/// The production worker.
pub type AwsWorker<J> = Worker<J, StsRoles, SqsQueues, SnsAlerts>;

/// The worker with its clients (STS, SQS, SNS), built once at start-up and only in organization
/// mode; the member sessions are named after the function.
pub fn aws_worker<J: AccountJob>(
    job: J,
    settings: WorkerSettings,
    sdk: &SdkConfig,
    alert_topic_arn: &str,
    function_name: &str,
) -> AwsWorker<J> {
    let role = MemberRole {
        name: settings.role_name.clone(),
        external_id: settings.external_id.clone(),
    };
    Worker::new(
        job,
        MemberAccess::new(
            StsRoles::new(aws_sdk_sts::Client::new(sdk)),
            role,
            function_name,
            sdk.clone(),
        ),
        SqsQueues::new(aws_sdk_sqs::Client::new(sdk), &settings),
        SnsAlerts::new(aws_sdk_sns::Client::new(sdk), alert_topic_arn.to_owned()),
        settings,
    )
}

/// Serves the Lambda Runtime API: SQS events go to the worker (organization mode), every other
/// event to the function's single-account handler.
pub async fn serve<J, F, Fut, R, E>(
    worker: Option<AwsWorker<J>>,
    single: F,
) -> Result<(), lambda_runtime::Error>
where
    J: AccountJob,
    F: Fn(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: Serialize,
    E: Into<Diagnostic>,
{
    let worker = &worker;
    let single = &single;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if worker::is_sqs_event(&event.payload) {
            let Some(worker) = worker else {
                return Err(Diagnostic::from(WorkerError::NotConfigured));
            };
            let source = event.context.env_config.function_name.clone();
            // Boxed: the worker's future holds a whole scan, and so does the single handler's.
            return Box::pin(worker.handle(event.payload, &source))
                .await
                .map_err(Diagnostic::from);
        }
        let report = Box::pin(single(event)).await.map_err(Into::into)?;
        serde_json::to_value(report).map_err(|error| Diagnostic {
            error_type: "ReportNotSerialisable".into(),
            error_message: error.to_string(),
        })
    }))
    .await
}
