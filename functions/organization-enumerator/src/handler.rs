//! One organization run: list the accounts, find the regions each has enabled, plan the work
//! items and queue each on its job's queue.

use crate::aws::{Directory, RegionDirectory, WorkQueue};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::alert::{Alert, AlertSink, Fact, Severity};
use shared::config::{ConfigError, Env};
use shared::organization::work::{is_account_id, plan, Member};
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
}

/// The queue URL setting of each job: `ORG_QUEUE_` and the job's name, e.g.
/// `ORG_QUEUE_ACM_CERTIFICATE_EXPIRY`. A job runs when its queue is set.
pub fn queue_setting(job: JobName) -> String {
    format!(
        "ORG_QUEUE_{}",
        job.as_str().to_ascii_uppercase().replace('-', "_")
    )
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
        Ok(Self {
            scope,
            regions,
            skip_disabled_regions: env.bool_or("ORG_SKIP_DISABLED_REGIONS", true)?,
            concurrency: env.number_or("ORG_CONCURRENCY", 8, 1, 32)?,
        })
    }
}

/// The jobs whose queue is set, with their queue URLs.
pub fn job_queues(env: &Env) -> Result<BTreeMap<JobName, String>, ConfigError> {
    let queues: BTreeMap<JobName, String> = JobName::ALL
        .into_iter()
        .filter_map(|job| {
            env.optional(&queue_setting(job))
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
}

pub struct Enumerator<D, R, Q, A> {
    pub directory: D,
    pub regions: R,
    pub queues: BTreeMap<JobName, Q>,
    pub alerts: A,
    pub settings: Settings,
}

impl<D: Directory, R: RegionDirectory, Q: WorkQueue, A: AlertSink> Enumerator<D, R, Q, A> {
    /// Every event starts a run (the schedule's, or one sent by hand).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<RunReport, HandlerError> {
        let now = SystemTime::now();
        let run = format!(
            "{}/{}",
            shared::time::rfc3339_epoch(shared::time::epoch_seconds(now)),
            event.context.request_id
        );
        let source = event.context.env_config.function_name.as_str();
        self.run(&run, source, now).await
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
        tracing::info!(run = %report.run, accounts = report.accounts, inactive = report.inactive_accounts, region_checks_failed = report.region_checks_failed, queued = ?report.queued, "organization run queued");
        Ok(report)
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
        kind: "organization-run-failed",
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
        let enumerator = Enumerator {
            directory: listing(),
            regions: Regions,
            queues: [
                (JobName::CertificateScan, &certificates),
                (JobName::KeySweep, &keys),
            ]
            .into_iter()
            .collect(),
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
