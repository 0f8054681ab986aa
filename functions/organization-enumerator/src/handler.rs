//! One organization run: list the accounts, find the regions each has enabled, plan the work
//! items and queue each on its job's queue.

use crate::aws::{Directory, Received, RegionDirectory, ResultsQueue, WorkQueue};
use crate::digest::{digest_alert, is_due, ResultsMessage, RunManifest};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::alert::Kind;
use shared::alert::{Alert, AlertSink, Fact, Severity};
use shared::config::{ConfigError, Env};
use shared::identifiers::{echo, is_account_id, is_region};
use shared::organization::work::{plan, ItemResult, Member};
use shared::organization::JobName;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Which accounts a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every account of the organization.
    Organization,
    /// `ORG_UNITS`: the accounts under these organizational units (or roots), nested ones too.
    Units(Vec<String>),
    /// `ORG_ACCOUNTS`: exactly these, without calling Organizations.
    Accounts(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub scope: Scope,
    /// `ORG_REGIONS` (the function's own region): the regions covered; the first is where the
    /// key sweep runs (IAM is global).
    pub regions: Vec<String>,
    /// `ORG_SKIP_DISABLED_REGIONS` (true): ask Account Management which regions each account has
    /// enabled, and queue nothing for the others.
    pub skip_disabled_regions: bool,
    /// `ORG_CONCURRENCY` (8, 1 to 32): region lookups in flight.
    pub concurrency: usize,
    /// `ORG_REPORT_DEADLINE` (6h, up to 3 days): a run's digest goes out when every item has
    /// reported, or this long after the run started (the rest counted as without a result).
    pub report_deadline_seconds: i64,
}

/// The queue URL setting of each job: `ORG_QUEUE_` and the job's name. A job runs when its queue
/// is set. Spelt out, not built, so that every setting the code reads is a literal that the
/// documentation test (`tests/tests/docs.rs`) finds.
pub fn queue_setting(job: JobName) -> &'static str {
    const CERTIFICATE_SCAN_QUEUE: &str = "ORG_QUEUE_ACM_CERTIFICATE_EXPIRY";
    const KEY_SWEEP_QUEUE: &str = "ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR";
    const KMS_SCAN_QUEUE: &str = "ORG_QUEUE_KMS_KEY_ROTATION";
    match job {
        JobName::CertificateScan => CERTIFICATE_SCAN_QUEUE,
        JobName::KeySweep => KEY_SWEEP_QUEUE,
        JobName::KmsScan => KMS_SCAN_QUEUE,
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let accounts = env.list("ORG_ACCOUNTS");
        let units = env.list("ORG_UNITS");
        if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
            return Err(ConfigError::Invalid {
                name: "ORG_ACCOUNTS",
                reason: format!("{bad:?} is not a 12-digit account id"),
            });
        }
        if let Some(bad) = units
            .iter()
            .find(|u| !(u.starts_with("ou-") || u.starts_with("r-")))
        {
            return Err(ConfigError::Invalid {
                name: "ORG_UNITS",
                reason: format!(
                    "{bad:?} is not an organizational unit (ou-...) or root (r-...) id"
                ),
            });
        }
        let scope = match (accounts.is_empty(), units.is_empty()) {
            (true, true) => Scope::Organization,
            (true, false) => Scope::Units(units),
            (false, true) => Scope::Accounts(accounts),
            (false, false) => {
                return Err(ConfigError::Invalid {
                    name: "ORG_ACCOUNTS",
                    reason: "set ORG_ACCOUNTS or ORG_UNITS, not both".into(),
                })
            }
        };
        let mut regions = env.list("ORG_REGIONS");
        if regions.is_empty() {
            regions.push(env.required("AWS_REGION")?.to_owned());
        }
        if let Some(bad) = regions.iter().find(|r| !is_region(r)) {
            return Err(ConfigError::Invalid {
                name: "ORG_REGIONS",
                reason: format!("{bad:?} is not a region name"),
            });
        }
        Ok(Self {
            scope,
            regions,
            skip_disabled_regions: env.bool_or("ORG_SKIP_DISABLED_REGIONS", true)?,
            concurrency: env.number_or("ORG_CONCURRENCY", 8, 1, 32)?,
            report_deadline_seconds: env.duration_or(
                "ORG_REPORT_DEADLINE",
                6 * 3_600,
                3 * 86_400,
            )?,
        })
    }
}

/// The jobs whose queue is set, with their queue URLs.
pub fn job_queues(env: &Env) -> Result<BTreeMap<JobName, String>, ConfigError> {
    let queues: BTreeMap<JobName, String> = JobName::ALL
        .into_iter()
        .filter_map(|job| {
            env.optional(queue_setting(job))
                .map(|url| (job, url.to_owned()))
        })
        .collect();
    if queues.is_empty() {
        return Err(ConfigError::Missing {
            name: "ORG_QUEUE_ACM_CERTIFICATE_EXPIRY",
        });
    }
    Ok(queues)
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the organization's accounts could not be listed, so nothing was queued: {0}")]
    Listing(String),
    #[error("the report phase needs ORG_RESULTS_QUEUE_URL")]
    NoResultsQueue,
    #[error("the results queue could not be read: {0}")]
    Results(String),
    #[error("{queued} of {planned} work items were queued; the rest could not be: {error}")]
    Queue {
        queued: usize,
        planned: usize,
        error: String,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Listing(_) => "ListingFailed",
            HandlerError::NoResultsQueue => "InvalidEvent",
            HandlerError::Results(_) => "ResultsUnreadable",
            HandlerError::Queue { .. } => "QueueingFailed",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// What a run planned and queued; logged, and the invocation's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub run: String,
    pub accounts: usize,
    /// Accounts left out because they are suspended, closing or not yet active.
    pub inactive_accounts: usize,
    /// Accounts whose enabled regions could not be read: every configured region is queued.
    pub region_checks_failed: usize,
    /// Work items queued, per job.
    pub queued: BTreeMap<&'static str, usize>,
    pub organizations_calls: usize,
    /// Whether the run's manifest reached the results queue (without it, no digest).
    pub manifest_sent: bool,
}

/// A run's messages on the results queue.
#[derive(Default)]
struct RunMessages {
    manifest: Option<RunManifest>,
    results: Vec<ItemResult>,
    receipts: Vec<String>,
}

/// What a report phase did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportPhase {
    /// Runs whose digest was published.
    pub reported: Vec<String>,
    /// Runs not yet due: looked at again by the next report.
    pub waiting: Vec<String>,
    /// Results of runs whose manifest is not on the queue (left to the queue's retention).
    pub orphan_results: usize,
    /// Messages that were neither a manifest nor a result (deleted).
    pub unreadable: usize,
}

/// What an invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Run(RunReport),
    Report(ReportPhase),
}

/// `{"phase": "report"}` asks for the report phase; any other event (the schedule's) starts a run.
fn is_report_event(payload: &Value) -> bool {
    payload.get("phase").and_then(Value::as_str) == Some("report")
}

pub struct Enumerator<D, R, Q, RQ, A> {
    pub directory: D,
    pub regions: R,
    pub queues: BTreeMap<JobName, Q>,
    /// `ORG_RESULTS_QUEUE_URL` (none: no digest).
    pub results: Option<RQ>,
    pub alerts: A,
    pub settings: Settings,
}

impl<D: Directory, R: RegionDirectory, Q: WorkQueue, RQ: ResultsQueue, A: AlertSink>
    Enumerator<D, R, Q, RQ, A>
{
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Answer, HandlerError> {
        let now = SystemTime::now();
        let source = event.context.env_config.function_name.as_str();
        if is_report_event(&event.payload) {
            return self.report(source, now).await.map(Answer::Report);
        }
        let run = format!(
            "{}/{}",
            shared::time::rfc3339_epoch(shared::time::epoch_seconds(now)),
            event.context.request_id
        );
        self.run(&run, source, now).await.map(Answer::Run)
    }

    pub async fn run(
        &self,
        run: &str,
        source: &str,
        now: SystemTime,
    ) -> Result<RunReport, HandlerError> {
        let listed = match &self.settings.scope {
            Scope::Organization => self.directory.all_accounts().await,
            Scope::Units(units) => self.directory.accounts_under(units).await,
            Scope::Accounts(accounts) => Ok(crate::aws::Accounts {
                active: accounts.clone(),
                ..Default::default()
            }),
        };
        let accounts = match listed {
            Ok(accounts) => accounts,
            Err(error) => {
                let alert = listing_alert(&error, run, source, shared::time::epoch_seconds(now));
                if let Err(publish) = self.alerts.publish(&alert).await {
                    tracing::error!(error = %publish, "the listing failure alert was not published");
                }
                return Err(HandlerError::Listing(error));
            }
        };
        let mut report = RunReport {
            run: run.to_owned(),
            accounts: accounts.active.len(),
            inactive_accounts: accounts.inactive,
            organizations_calls: accounts.calls,
            ..RunReport::default()
        };
        let members = self.members(accounts.active, &mut report).await;
        let jobs: Vec<JobName> = self.queues.keys().copied().collect();
        let items = plan(run, &members, &self.settings.regions, &jobs);
        let planned = items.len();
        let mut queued = 0;
        for (job, queue) in &self.queues {
            let job_items: Vec<_> = items
                .iter()
                .filter(|item| item.job == *job)
                .cloned()
                .collect();
            if let Err(error) = queue.send(&job_items).await {
                return Err(HandlerError::Queue {
                    queued,
                    planned,
                    error,
                });
            }
            queued += job_items.len();
            report.queued.insert(job.as_str(), job_items.len());
        }
        if let Some(results) = &self.results {
            let manifest = RunManifest {
                run: run.to_owned(),
                started: shared::time::epoch_seconds(now),
                planned,
                accounts: report.accounts,
                inactive_accounts: report.inactive_accounts,
            };
            // The items are queued: failing the invocation now would have the schedule's
            // retry queue them all again. The run goes without a digest, and says so.
            match results.send_manifest(&manifest).await {
                Ok(()) => report.manifest_sent = true,
                Err(error) => {
                    tracing::error!(%error, run = %run, "the run's manifest could not be sent: this run will have no digest")
                }
            }
        }
        tracing::info!(run = %report.run, accounts = report.accounts, inactive = report.inactive_accounts, region_checks_failed = report.region_checks_failed, queued = ?report.queued, "organization run queued");
        Ok(report)
    }

    /// Publishes the digest of every run that is due, and removes its messages.
    pub async fn report(&self, source: &str, now: SystemTime) -> Result<ReportPhase, HandlerError> {
        let results = self.results.as_ref().ok_or(HandlerError::NoResultsQueue)?;
        let received = results.receive_all().await.map_err(HandlerError::Results)?;
        let mut phase = ReportPhase::default();
        let mut unreadable = Vec::new();
        let mut runs: BTreeMap<String, RunMessages> = BTreeMap::new();
        for Received {
            receipt_handle,
            body,
        } in received
        {
            let message = serde_json::from_str::<ResultsMessage>(&body)
                .map_err(|error| echo(&error.to_string()))
                .and_then(|message| match &message {
                    ResultsMessage::Item(result) => result
                        .item
                        .check()
                        .map(|()| message)
                        .map_err(|error| error.to_string()),
                    ResultsMessage::Manifest { .. } => Ok(message),
                });
            match message {
                Ok(message) => {
                    let run = runs.entry(message.run().to_owned()).or_default();
                    run.receipts.push(receipt_handle);
                    match message {
                        ResultsMessage::Manifest { manifest } => run.manifest = Some(manifest),
                        ResultsMessage::Item(result) => run.results.push(result),
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, body = echo(&body), "a results queue message that is neither a manifest nor a well-formed result; deleted");
                    unreadable.push(receipt_handle);
                }
            }
        }
        phase.unreadable = unreadable.len();
        if !unreadable.is_empty() {
            results
                .delete(&unreadable)
                .await
                .map_err(HandlerError::Results)?;
        }
        let now_seconds = shared::time::epoch_seconds(now);
        for (run, messages) in runs {
            let RunMessages {
                manifest,
                results: items,
                receipts,
            } = messages;
            let items: Vec<&ItemResult> = items.iter().collect();
            let Some(manifest) = manifest else {
                phase.orphan_results += items.len();
                continue;
            };
            if !is_due(
                &manifest,
                &items,
                now_seconds,
                self.settings.report_deadline_seconds,
            ) {
                phase.waiting.push(run);
                continue;
            }
            let alert = digest_alert(&manifest, &items, source, now_seconds);
            if let Err(error) = self.alerts.publish(&alert).await {
                // Kept on the queue: the next report tries again.
                tracing::error!(%error, run = %run, "the run's digest was not published");
                phase.waiting.push(run);
                continue;
            }
            results
                .delete(&receipts)
                .await
                .map_err(HandlerError::Results)?;
            phase.reported.push(run);
        }
        tracing::info!(reported = ?phase.reported, waiting = ?phase.waiting, orphan_results = phase.orphan_results, "report phase finished");
        Ok(phase)
    }

    async fn members(&self, accounts: Vec<String>, report: &mut RunReport) -> Vec<Member> {
        if !self.settings.skip_disabled_regions {
            return accounts
                .into_iter()
                .map(|account| Member {
                    account,
                    enabled_regions: None,
                })
                .collect();
        }
        let members: Vec<Member> = stream::iter(accounts)
            .map(|account| async move {
                let enabled_regions = match self.regions.enabled_regions(&account).await {
                    Ok(regions) => Some(regions),
                    Err(error) => {
                        tracing::warn!(account = %account, %error, "could not read the account's enabled regions; every configured region is queued for it");
                        None
                    }
                };
                Member { account, enabled_regions }
            })
            .buffered(self.settings.concurrency)
            .collect()
            .await;
        report.region_checks_failed = members
            .iter()
            .filter(|m| m.enabled_regions.is_none())
            .count();
        members
    }
}

/// A run that could not list the accounts covers nothing: someone must hear of it.
fn listing_alert(error: &str, run: &str, source: &str, now: i64) -> Alert {
    Alert {
        severity: Severity::Error,
        kind: Kind::OrganizationRunFailed,
        resource: "organization".into(),
        title: "Organization run failed: the accounts could not be listed".into(),
        summary: format!("No account was checked in run {run}: listing the organization's accounts failed, and a partial list is never used."),
        action: Some("The enumerator must run in the management account or a delegated administrator account with organizations:ListAccounts (or set ORG_ACCOUNTS); see the error.".into()),
        facts: vec![Fact::new("error", "Error", error.chars().take(1_000).collect::<String>())],
        attributes: Default::default(),
        source: source.to_owned(),
        time: shared::time::rfc3339_epoch(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Accounts;
    use shared::alert::AlertError;
    use shared::organization::work::WorkItem;
    use std::sync::Mutex;

    struct Listing(Result<Accounts, String>);

    impl Directory for Listing {
        async fn all_accounts(&self) -> Result<Accounts, String> {
            self.0.clone()
        }
        async fn accounts_under(&self, units: &[String]) -> Result<Accounts, String> {
            assert_eq!(units, ["ou-abcd-12345678"]);
            self.0.clone()
        }
    }

    /// 222222222222 has only us-east-1 enabled; 333333333333's regions cannot be read.
    struct Regions;

    impl RegionDirectory for Regions {
        async fn enabled_regions(&self, account: &str) -> Result<Vec<String>, String> {
            match account {
                "222222222222" => Ok(vec!["us-east-1".into()]),
                "333333333333" => Err("AccessDenied".into()),
                _ => Ok(vec![
                    "us-east-1".into(),
                    "eu-west-1".into(),
                    "ap-south-2".into(),
                ]),
            }
        }
    }

    #[derive(Default)]
    struct Sent(Mutex<Vec<WorkItem>>);

    impl WorkQueue for &Sent {
        async fn send(&self, items: &[WorkItem]) -> Result<(), String> {
            self.0.lock().unwrap().extend_from_slice(items);
            Ok(())
        }
    }

    #[derive(Default)]
    struct Alerts(Mutex<Vec<Alert>>);

    impl AlertSink for &Alerts {
        async fn publish(&self, alert: &Alert) -> Result<(), AlertError> {
            self.0.lock().unwrap().push(alert.clone());
            Ok(())
        }
    }

    fn settings(scope: Scope) -> Settings {
        Settings {
            scope,
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            skip_disabled_regions: true,
            concurrency: 2,
            report_deadline_seconds: 3_600,
        }
    }

    /// A results queue: messages by receipt handle; what is received stays until deleted.
    #[derive(Default)]
    struct Results(Mutex<Vec<(String, String)>>);

    impl Results {
        fn push(&self, body: String) {
            let mut messages = self.0.lock().unwrap();
            let receipt = format!("receipt-{}", messages.len());
            messages.push((receipt, body));
        }
    }

    impl ResultsQueue for &Results {
        async fn send_manifest(&self, manifest: &RunManifest) -> Result<(), String> {
            self.push(
                serde_json::to_string(&ResultsMessage::Manifest {
                    manifest: manifest.clone(),
                })
                .unwrap(),
            );
            Ok(())
        }
        async fn receive_all(&self) -> Result<Vec<Received>, String> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|(receipt_handle, body)| Received {
                    receipt_handle: receipt_handle.clone(),
                    body: body.clone(),
                })
                .collect())
        }
        async fn delete(&self, receipt_handles: &[String]) -> Result<(), String> {
            self.0
                .lock()
                .unwrap()
                .retain(|(receipt, _)| !receipt_handles.contains(receipt));
            Ok(())
        }
    }

    fn listing() -> Listing {
        Listing(Ok(Accounts {
            active: vec![
                "111111111111".into(),
                "222222222222".into(),
                "333333333333".into(),
            ],
            inactive: 1,
            calls: 2,
        }))
    }

    #[tokio::test]
    async fn a_run_queues_each_job_on_its_queue_for_the_regions_each_account_has_enabled() {
        let (certificates, keys, alerts) = (Sent::default(), Sent::default(), Alerts::default());
        let results = Results::default();
        let enumerator = Enumerator {
            directory: listing(),
            regions: Regions,
            queues: [
                (JobName::CertificateScan, &certificates),
                (JobName::KeySweep, &keys),
            ]
            .into_iter()
            .collect(),
            results: Some(&results),
            alerts: &alerts,
            settings: settings(Scope::Organization),
        };
        let report = enumerator
            .run("run-1", "enumerator", SystemTime::now())
            .await
            .unwrap();
        let sent = |queue: &Sent| -> Vec<(String, String)> {
            queue
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|i| (i.account.clone(), i.region.clone()))
                .collect()
        };
        let pair = |a: &str, r: &str| (a.to_owned(), r.to_owned());
        assert_eq!(
            sent(&certificates),
            [
                pair("111111111111", "eu-west-1"),
                pair("111111111111", "us-east-1"),
                pair("222222222222", "us-east-1"),
                pair("333333333333", "eu-west-1"),
                pair("333333333333", "us-east-1"),
            ]
        );
        assert_eq!(
            sent(&keys),
            [
                pair("111111111111", "eu-west-1"),
                pair("222222222222", "us-east-1"),
                pair("333333333333", "eu-west-1")
            ]
        );
        assert!(certificates
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|i| i.job == JobName::CertificateScan && i.run == "run-1"));
        assert_eq!(report.accounts, 3);
        assert_eq!(report.inactive_accounts, 1);
        assert_eq!(report.region_checks_failed, 1);
        assert_eq!(
            report.queued,
            [("acm-certificate-expiry", 5), ("iam-access-key-rotator", 3)]
                .into_iter()
                .collect()
        );
        assert!(alerts.0.lock().unwrap().is_empty());
        assert!(report.manifest_sent);

        // The report phase waits until every item reported, then digests the run and clears it.
        let result = |item: &WorkItem| {
            serde_json::to_string(&shared::organization::work::ItemResult {
                item: item.clone(),
                outcome: shared::organization::work::Outcome::Done(Default::default()),
            })
            .unwrap()
        };
        let queued: Vec<WorkItem> = certificates
            .0
            .lock()
            .unwrap()
            .iter()
            .chain(keys.0.lock().unwrap().iter())
            .cloned()
            .collect();
        for item in &queued[1..] {
            results.push(result(item));
        }
        results.push("not json".into());
        let waiting = enumerator
            .report("enumerator", SystemTime::now())
            .await
            .unwrap();
        assert_eq!(
            (
                waiting.reported.len(),
                waiting.waiting.as_slice(),
                waiting.unreadable
            ),
            (0, ["run-1".to_owned()].as_slice(), 1)
        );
        results.push(result(&queued[0]));
        let reported = enumerator
            .report("enumerator", SystemTime::now())
            .await
            .unwrap();
        assert_eq!(reported.reported, ["run-1"]);
        assert!(
            results.0.lock().unwrap().is_empty(),
            "the run's messages are deleted"
        );
        let alerts = alerts.0.lock().unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, "organization-run-digest");
        assert_eq!(alerts[0].severity, Severity::Info);
    }

    #[tokio::test]
    async fn a_failed_listing_queues_nothing_and_alerts() {
        let (queue, alerts) = (Sent::default(), Alerts::default());
        let enumerator = Enumerator {
            directory: Listing(Err(
                "Organizations ListAccounts failed: AccessDeniedException".into(),
            )),
            regions: Regions,
            queues: [(JobName::KmsScan, &queue)].into_iter().collect(),
            results: None::<&Results>,
            alerts: &alerts,
            settings: settings(Scope::Units(vec!["ou-abcd-12345678".into()])),
        };
        let error = enumerator
            .run("run-2", "enumerator", SystemTime::now())
            .await
            .unwrap_err();
        assert!(matches!(error, HandlerError::Listing(_)));
        assert!(queue.0.lock().unwrap().is_empty());
        let alerts = alerts.0.lock().unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, "organization-run-failed");
    }

    #[tokio::test]
    async fn an_explicit_account_list_needs_no_organizations_access() {
        let (queue, alerts) = (Sent::default(), Alerts::default());
        let mut settings = settings(Scope::Accounts(vec!["444444444444".into()]));
        settings.skip_disabled_regions = false;
        let enumerator = Enumerator {
            directory: Listing(Err("must not be called".into())),
            regions: Regions,
            queues: [(JobName::KmsScan, &queue)].into_iter().collect(),
            results: None::<&Results>,
            alerts: &alerts,
            settings,
        };
        let report = enumerator
            .run("run-3", "enumerator", SystemTime::now())
            .await
            .unwrap();
        assert_eq!(report.queued.get("kms-key-rotation"), Some(&2));
        assert_eq!(report.organizations_calls, 0);
    }

    #[test]
    fn settings_are_checked_and_each_job_has_its_queue_setting() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        let base = [("AWS_REGION", "eu-west-1")];
        let settings = Settings::from_env(&env(&base)).unwrap();
        assert_eq!(
            (settings.scope, settings.regions),
            (Scope::Organization, vec!["eu-west-1".to_owned()])
        );
        let units = Settings::from_env(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("ORG_UNITS", "ou-ab-1, r-ab"),
        ]))
        .unwrap();
        assert_eq!(
            units.scope,
            Scope::Units(vec!["ou-ab-1".into(), "r-ab".into()])
        );
        for bad in [
            [("ORG_ACCOUNTS", "12345"), ("ORG_UNITS", "")],
            [("ORG_UNITS", "engineering"), ("ORG_ACCOUNTS", "")],
            [("ORG_ACCOUNTS", "111111111111"), ("ORG_UNITS", "ou-ab-1")],
            [("ORG_CONCURRENCY", "0"), ("ORG_UNITS", "")],
            [("ORG_REGIONS", "eu-west-1,EU_WEST"), ("ORG_UNITS", "")],
        ] {
            let mut pairs = bad.to_vec();
            pairs.push(("AWS_REGION", "eu-west-1"));
            assert!(Settings::from_env(&env(&pairs)).is_err(), "{bad:?}");
        }
        assert_eq!(
            queue_setting(JobName::KeySweep),
            "ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR"
        );
        assert!(job_queues(&env(&base)).is_err());
        let queues = job_queues(&env(&[("ORG_QUEUE_KMS_KEY_ROTATION", "https://sqs/q")])).unwrap();
        assert_eq!(
            queues.keys().copied().collect::<Vec<_>>(),
            [JobName::KmsScan]
        );
    }
}
