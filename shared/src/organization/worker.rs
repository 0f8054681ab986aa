//! The worker side of the organization mode: a scheduled function given an SQS event runs its job
//! in each message's account and region, reports the outcome for the run's digest, and leaves a
//! failed message on the queue to be retried with backoff (then to the dead-letter queue).

use super::member::{MemberAccess, RoleAssumer};
use super::work::{
    classify, failure_alert, retry_delay, Cause, ItemResult, Outcome, Tally, WorkItem,
};
use super::JobName;
use crate::alert::{Alert, AlertError, AlertSink};
use crate::config::{ConfigError, Env};
use crate::identifiers::echo;
use aws_config::SdkConfig;
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::time::{Duration, SystemTime};

/// One job, run in one member account and region. Each scheduled function implements it by
/// building its clients from `member` (the item's account and region) and running its
/// single-account scan or sweep there, with
/// `alerts` (the hub's topic, the account and region added).
pub trait AccountJob: Send + Sync {
    const JOB: JobName;

    fn run<A: AlertSink>(
        &self,
        member: &SdkConfig,
        item: &WorkItem,
        alerts: ScopedAlerts<'_, A>,
        now: SystemTime,
        source: &str,
    ) -> impl Future<Output = Result<Tally, String>> + Send;
}

/// Alerts from a member account: published to the hub's topic, with `account` and `region` as
/// message attributes (for subscription filter policies) and as facts (for people).
pub struct ScopedAlerts<'a, A> {
    inner: &'a A,
    account: &'a str,
    region: &'a str,
}

impl<'a, A> ScopedAlerts<'a, A> {
    pub fn new(inner: &'a A, account: &'a str, region: &'a str) -> Self {
        Self {
            inner,
            account,
            region,
        }
    }
}

impl<A: AlertSink> AlertSink for ScopedAlerts<'_, A> {
    async fn publish(&self, alert: &Alert) -> Result<(), AlertError> {
        let mut scoped = alert.clone();
        // People reading many accounts' alerts see where each comes from in the subject.
        scoped.title = format!("[{} {}] {}", self.account, self.region, alert.title);
        scoped.attributes.insert("account", self.account.to_owned());
        scoped.attributes.insert("region", self.region.to_owned());
        scoped
            .facts
            .push(crate::alert::Fact::new("account", "Account", self.account));
        scoped
            .facts
            .push(crate::alert::Fact::new("region", "Region", self.region));
        self.inner.publish(&scoped).await
    }
}

/// The queues the worker writes to; production: [`SqsQueues`].
pub trait WorkQueues: Send + Sync {
    /// Keeps a failed message invisible for `delay` before its next receive (zero: at once).
    fn retry_after(
        &self,
        receipt_handle: &str,
        delay: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Sends an item's outcome to the results queue the run's digest reads (if there is one).
    fn report(&self, result: &ItemResult) -> impl Future<Output = Result<(), String>> + Send;
}

pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
    work_queue_url: String,
    results_queue_url: Option<String>,
}

impl SqsQueues {
    pub fn new(client: aws_sdk_sqs::Client, settings: &WorkerSettings) -> Self {
        Self {
            client,
            work_queue_url: settings.work_queue_url.clone(),
            results_queue_url: settings.results_queue_url.clone(),
        }
    }
}

impl WorkQueues for SqsQueues {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&self.work_queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }

    async fn report(&self, result: &ItemResult) -> Result<(), String> {
        match &self.results_queue_url {
            Some(url) => super::send_json(&self.client, url, result).await,
            None => Ok(()),
        }
    }
}

/// The worker's settings; the organization mode is on when `ORG_MEMBER_ROLE_NAME` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `ORG_MEMBER_ROLE_NAME`: the role the worker assumes in each member account.
    pub role_name: String,
    /// `ORG_EXTERNAL_ID` (none): the external id the member role's trust policy requires.
    pub external_id: Option<String>,
    /// `ORG_WORK_QUEUE_URL` (required in organization mode): where failed items wait to retry.
    pub work_queue_url: String,
    /// `ORG_RESULTS_QUEUE_URL` (none): where outcomes go for the run's digest.
    pub results_queue_url: Option<String>,
    /// `ORG_MAX_ATTEMPTS` (3, 1 to 20): attempts per item; the work queue's `maxReceiveCount`
    /// must be the same (the template sets both from one parameter).
    pub max_attempts: u32,
    /// `ORG_RETRY_BASE` (60s): the first retry's delay, doubled per attempt.
    pub retry_base: Duration,
}

impl WorkerSettings {
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(role_name) = env.optional("ORG_MEMBER_ROLE_NAME") else {
            return Ok(None);
        };
        let valid_name = role_name.len() <= 64
            && role_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
        if !valid_name {
            return Err(ConfigError::Invalid {
                name: "ORG_MEMBER_ROLE_NAME",
                reason: format!("{role_name:?} is not an IAM role name"),
            });
        }
        Ok(Some(Self {
            role_name: role_name.to_owned(),
            external_id: env.optional("ORG_EXTERNAL_ID").map(str::to_owned),
            work_queue_url: env.required("ORG_WORK_QUEUE_URL")?.to_owned(),
            results_queue_url: env.optional("ORG_RESULTS_QUEUE_URL").map(str::to_owned),
            max_attempts: env.number_or("ORG_MAX_ATTEMPTS", 3, 1, 20)?,
            retry_base: Duration::from_secs(
                u64::try_from(env.duration_or("ORG_RETRY_BASE", 60, 12 * 3_600)?).unwrap_or(60),
            ),
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("an SQS event reached this function, but the organization mode is off (ORG_MEMBER_ROLE_NAME is not set)")]
    NotConfigured,
    #[error("the SQS event is malformed: {0}")]
    MalformedEvent(String),
}

#[derive(Deserialize)]
struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<SqsRecord>,
}

#[derive(Deserialize)]
struct SqsRecord {
    #[serde(rename = "messageId")]
    message_id: String,
    #[serde(rename = "receiptHandle")]
    receipt_handle: String,
    body: String,
    #[serde(default)]
    attributes: std::collections::HashMap<String, String>,
}

/// Whether an event is an SQS event (records from `aws:sqs`).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

pub struct Worker<J, R, Q, A> {
    job: J,
    access: MemberAccess<R>,
    queues: Q,
    alerts: A,
    settings: WorkerSettings,
}

impl<J: AccountJob, R: RoleAssumer, Q: WorkQueues, A: AlertSink> Worker<J, R, Q, A> {
    pub fn new(
        job: J,
        access: MemberAccess<R>,
        queues: Q,
        alerts: A,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            job,
            access,
            queues,
            alerts,
            settings,
        }
    }

    /// Handles an SQS event: each message is one item; the answer lists the messages that failed
    /// (`ReportBatchItemFailures`), so one account failing never fails another's message.
    pub async fn handle(&self, payload: Value, source: &str) -> Result<Value, WorkerError> {
        let event: SqsEvent = serde_json::from_value(payload)
            .map_err(|e| WorkerError::MalformedEvent(echo(&e.to_string())))?;
        let mut failures = Vec::new();
        for record in &event.records {
            if !self.process(record, source).await {
                failures.push(json!({"itemIdentifier": record.message_id}));
            }
        }
        Ok(json!({"batchItemFailures": failures}))
    }

    /// Whether the message is done with (deleted by Lambda).
    async fn process(&self, record: &SqsRecord, source: &str) -> bool {
        // Everything from the message is quoted bounded: a message may be of any size.
        let message_id = echo(&record.message_id);
        let item = match WorkItem::read(&record.body) {
            Ok(item) if item.job == J::JOB => item,
            Ok(item) => {
                tracing::error!(message_id, job = item.job.as_str(), expected = J::JOB.as_str(), "a work item for another job reached this function; it goes to the dead-letter queue");
                return false;
            }
            Err(error) => {
                tracing::error!(message_id, %error, "a message that is not a well-formed work item; it goes to the dead-letter queue");
                return false;
            }
        };
        let attempt: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let now = SystemTime::now();
        match self.run(&item, now, source).await {
            Ok(tally) => {
                tracing::info!(account = %item.account, region = %item.region, job = item.job.as_str(), run = %item.run, counts = ?tally.counts, alerts_sent = tally.alerts_sent, "item done");
                let result = ItemResult {
                    item,
                    outcome: Outcome::Done(tally),
                };
                if let Err(error) = self.queues.report(&result).await {
                    // The job's work and alerts are done; running it again for the digest's sake
                    // would repeat them. The digest counts the item as missing.
                    tracing::error!(%error, "the item's outcome could not be sent to the results queue");
                }
                true
            }
            Err((cause, error)) => {
                self.failed(&item, record, attempt, cause, &error, now, source)
                    .await;
                false
            }
        }
    }

    async fn run(
        &self,
        item: &WorkItem,
        now: SystemTime,
        source: &str,
    ) -> Result<Tally, (Cause, String)> {
        let member = self
            .access
            .config(&item.account, &item.region, now)
            .await
            .map_err(|error| {
                (
                    classify(&error, true),
                    format!("assuming the member role failed: {error}"),
                )
            })?;
        let alerts = ScopedAlerts::new(&self.alerts, &item.account, &item.region);
        self.job
            .run(&member, item, alerts, now, source)
            .await
            .map_err(|error| (classify(&error, false), error))
    }

    #[allow(clippy::too_many_arguments)]
    async fn failed(
        &self,
        item: &WorkItem,
        record: &SqsRecord,
        attempt: u32,
        cause: Cause,
        error: &str,
        now: SystemTime,
        source: &str,
    ) {
        let last = attempt >= self.settings.max_attempts;
        tracing::warn!(account = %item.account, region = %item.region, job = item.job.as_str(), run = %item.run, attempt, last, cause = cause.as_str(), %error, "item failed");
        // Before the last attempt the next one waits for the backoff; after it the message is
        // made visible at once, so that the queue's next receive moves it to the dead-letter
        // queue (and its alarm fires) without waiting out the visibility timeout.
        let delay = if last {
            Duration::ZERO
        } else {
            retry_delay(attempt, self.settings.retry_base, jitter())
        };
        if let Err(error) = self.queues.retry_after(&record.receipt_handle, delay).await {
            tracing::warn!(%error, "could not set when the item is received next; the queue's visibility timeout decides");
        }
        if !last {
            return;
        }
        let alert = failure_alert(
            item,
            cause,
            attempt,
            error,
            self.access.role().name.as_str(),
            source,
            crate::time::epoch_seconds(now),
        );
        let scoped = ScopedAlerts::new(&self.alerts, &item.account, &item.region);
        if let Err(error) = scoped.publish(&alert).await {
            tracing::error!(%error, "the failure alert was not published; the dead-letter queue's alarm still fires");
        }
        let result = ItemResult {
            item: item.clone(),
            outcome: Outcome::Failed {
                cause,
                attempts: attempt,
            },
        };
        if let Err(error) = self.queues.report(&result).await {
            tracing::error!(%error, "the failed item's outcome could not be sent to the results queue");
        }
    }
}

/// A fraction in 0..1 from the OS's random source (only spreads retries; any value is correct).
fn jitter() -> f64 {
    let mut bytes = [0u8; 2];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX),
        Err(_) => 0.5,
    }
}
