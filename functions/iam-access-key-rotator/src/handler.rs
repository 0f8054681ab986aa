//! The rotator's invocation: a scheduled sweep over every user, or a forced rotation of named
//! users. Reads each user's state, decides with [`shared::iam::policy::decide`], acts (unless
//! dry run), and reports.

use crate::announce::{unannounced_outcome, Intent, ANNOUNCING};
use crate::notices::{
    announced_late, key_problems, outcome_alert, summary_alert, upcoming_alert, Context, Outcome,
};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::alert::{publish_all, Alert, AlertSink, Published, UnpublishedAlerts};
use shared::config::{ConfigError, Env};
use shared::findings::aws::{publish_scan, SecurityHub};
use shared::findings::{FindingsReport, Scope};
use shared::iam::creation::{creation_record, ROTATOR_RECORD};
use shared::iam::directory::{DirectoryError, IamUser, KeyDirectory};
use shared::iam::policy::{decide, Decision, Lifecycle, Plan, UserKeys};
use shared::iam::vault::{KeyVault, SecretPresence, VaultError};
use shared::iam::{key_suffix, AccessKey};
use shared::identifiers;
use shared::metrics::{counts_by, MetricLine, Unit};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// The user tag that records when one of the user's keys was deactivated (`<prefix><key id>`).
pub const DEACTIVATED_TAG_PREFIX: &str = "credential-rotation/deactivated/";
pub const MAX_FORCED_USERS: usize = 100;

#[derive(Debug, Clone)]
pub struct Settings {
    pub lifecycle: Lifecycle,
    /// `EXEMPT_TAG` (`key-rotation=exempt`): users with this tag are reported, never touched.
    pub exempt_tag: Option<(String, String)>,
    /// `EXEMPT_GROUP`: members of this IAM group are reported, never touched.
    pub exempt_group: Option<String>,
    /// `OWNER_TAG` (`owner`): the user tag naming who to tell.
    pub owner_tag: String,
    /// `USER_PATH_PREFIX` (`/`): only users under this IAM path.
    pub path_prefix: String,
    /// `DRY_RUN` (true): decide and report, change nothing.
    pub dry_run: bool,
    /// `SWEEP_CONCURRENCY` (8): users processed at once.
    pub concurrency: usize,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let exempt_tag = env.tag_or("EXEMPT_TAG", "key-rotation=exempt")?;
        let path_prefix = env.string_or("USER_PATH_PREFIX", "/");
        if !path_prefix.starts_with('/') || !path_prefix.ends_with('/') {
            return Err(ConfigError::Invalid {
                name: "USER_PATH_PREFIX",
                reason: format!("an IAM path starts and ends with /, got {path_prefix:?}"),
            });
        }
        Ok(Self {
            lifecycle: Lifecycle::from_env(env)?,
            exempt_tag,
            exempt_group: env.optional("EXEMPT_GROUP").map(str::to_owned),
            owner_tag: env.string_or("OWNER_TAG", "owner"),
            path_prefix,
            dry_run: env.bool_or("DRY_RUN", true)?,
            concurrency: env.number_or("SWEEP_CONCURRENCY", 8, 1, 64)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Sweep,
    Force(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("unknown IAM users, nothing was changed: {0}")]
    UnknownUsers(String),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("{failed} of {users} users could not be processed; see the alerts")]
    UsersFailed { failed: usize, users: usize },
    #[error(transparent)]
    Publish(#[from] UnpublishedAlerts),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::UnknownUsers(_) => "UnknownUsers",
            HandlerError::Directory(_) => "IamError",
            HandlerError::UsersFailed { .. } => "UsersFailed",
            HandlerError::Publish(_) => "AlertNotPublished",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// A scheduled event sweeps; `{"force_users": [...]}` (directly, or as an EventBridge event's
/// `detail`) rotates the named users now, whatever their keys' age.
pub fn parse_request(payload: &Value) -> Result<Request, HandlerError> {
    let invalid = |m: String| HandlerError::InvalidEvent(m);
    let object = payload
        .as_object()
        .ok_or_else(|| invalid("the event is not a JSON object".into()))?;
    let force = object
        .get("force_users")
        .or_else(|| object.get("detail").and_then(|d| d.get("force_users")));
    match (force, object.get("detail-type").and_then(Value::as_str)) {
        (Some(users), _) => {
            let users = users
                .as_array()
                .ok_or_else(|| invalid("force_users must be a list of IAM user names".into()))?;
            if users.is_empty() || users.len() > MAX_FORCED_USERS {
                return Err(invalid(format!(
                    "force_users must name 1 to {MAX_FORCED_USERS} users, got {}",
                    users.len()
                )));
            }
            let names = users
                .iter()
                .enumerate()
                .map(|(i, user)| {
                    let field = format!("force_users[{i}]");
                    identifiers::text(Some(user), &field, "an IAM user name")
                        .and_then(|name| identifiers::user_name(name, &field))
                        .map(str::to_owned)
                        .map_err(|e| invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Request::Force(names))
        }
        (None, Some("Scheduled Event")) => Ok(Request::Sweep),
        (None, Some(other)) => Err(invalid(format!(
            "unexpected detail-type {}",
            identifiers::echo(other)
        ))),
        (None, None) => Err(invalid(
            "expected a Scheduled Event or {\"force_users\": [...]}".into(),
        )),
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    pub users: usize,
    pub outcomes: BTreeMap<&'static str, usize>,
    pub alerts_sent: usize,
    /// IAM and Secrets Manager requests: user listing pages plus every per-user request (SDK
    /// retries not counted; tag and group listings counted as one page each).
    pub api_calls: usize,
    /// The age in whole days of the oldest active key seen (before this sweep acted on it).
    pub oldest_active_key_age_days: Option<i64>,
    /// Actions an earlier run took and did not get to announce, announced by this one.
    pub late_announcements: usize,
    /// What the run did to its Security Hub findings (when they are turned on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsReport>,
}

impl RunReport {
    /// The sweep's metrics: users per outcome, the oldest active key's age.
    pub fn metric_lines(&self, function: &str) -> Vec<MetricLine> {
        let mut lines = counts_by(function, "outcome", "Users", &self.outcomes);
        let mut totals = MetricLine::new(vec![("function", function.to_owned())])
            .with("UsersSwept", self.users as f64, Unit::Count)
            .with("AlertsSent", self.alerts_sent as f64, Unit::Count);
        if let Some(days) = self.oldest_active_key_age_days {
            totals = totals.with("OldestActiveKeyAgeDays", days as f64, Unit::Days);
        }
        lines.push(totals);
        lines
    }
}

pub struct Rotator<D, V, A> {
    directory: D,
    vault: V,
    alerts: A,
    settings: Settings,
    findings: Option<SecurityHub>,
}

/// The Security Hub check this function's findings belong to.
pub const FINDINGS_CHECK: &str = "iam-access-key-age";

/// The write requests a plan makes when it succeeds (a new secret's creation counts as one more).
fn nominal_writes(plan: &Plan, dry_run: bool, presence: SecretPresence) -> usize {
    match plan {
        _ if dry_run => 0,
        // Record (with the intent to announce), create the key, (create the secret), attach the
        // read policy, store the value, remove the records once announced; a secret of unknown
        // presence is counted as existing, which it is from the second rotation on.
        Plan::Rotate { .. } => match presence {
            SecretPresence::Absent => 6,
            SecretPresence::Exists | SecretPresence::Unknown => 5,
        },
        // The intent, the change, its record, the intent removed once announced.
        Plan::Deactivate { .. } => 4,
        // The intent, the deletion, the intent (and the key's records) removed once announced.
        Plan::Delete { .. } | Plan::DeleteUnstored { .. } => 3,
        // The record with the intent, the intent removed once announced.
        Plan::RecordDeactivation { .. } => 2,
        Plan::ClearCreationRecord => 1,
        Plan::Exempt | Plan::NoKeys | Plan::Nothing | Plan::Blocked(_) => 0,
    }
}

/// Why a user's state could not be read.
#[derive(Debug, thiserror::Error)]
enum InspectionError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What was read about a user.
struct Inspection {
    state: UserKeys,
    owner: Option<String>,
    /// An action a run took and had not announced when it stopped ([`ANNOUNCING`]).
    announcing: Option<Intent>,
    api_calls: usize,
}

struct UserResult {
    user: IamUser,
    /// When the user's oldest active key was created (epoch seconds), if it has one.
    oldest_active_key: Option<i64>,
    owner: Option<String>,
    outcome: Outcome,
    decision: Option<Decision>,
    /// The user's keys as read (none when they could not be read).
    keys: Vec<AccessKey>,
    /// IAM and Secrets Manager requests made for this user (SDK retries not counted).
    api_calls: usize,
    /// The user's alerts, each sent as soon as what it tells of had happened.
    published: Published,
    /// Actions of an earlier run announced by this one.
    late_announcements: usize,
}

impl<D: KeyDirectory, V: KeyVault, A: AlertSink> Rotator<D, V, A> {
    pub fn new(
        directory: D,
        vault: V,
        alerts: A,
        settings: Settings,
        findings: Option<SecurityHub>,
    ) -> Self {
        Self {
            directory,
            vault,
            alerts,
            settings,
            findings,
        }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<RunReport, HandlerError> {
        let now = shared::time::epoch_seconds(SystemTime::now());
        let source = event.context.env_config.function_name.as_str();
        let request = parse_request(&event.payload)
            .inspect_err(|error| tracing::error!(%error, "rejected an event"))?;
        let account = shared::aws::arn_account(&event.context.invoked_function_arn);
        self.run(&request, now, source, account).await
    }

    /// A sweep of every user, or a forced rotation of the named ones, in `account` (the one the
    /// clients act in; from the invoked function's ARN).
    pub async fn run(
        &self,
        request: &Request,
        now: i64,
        source: &str,
        account: Option<&str>,
    ) -> Result<RunReport, HandlerError> {
        // Reading who to process: the listing's pages, or one GetUser per forced user.
        // A sweep also lists the key secrets, with the users: then storing a new key makes only
        // the calls its secret's state needs. Without that listing (it failed, or a forced run
        // of a few users) storing finds out by trying.
        let (users, forced, listing_calls, secrets) = match request {
            Request::Sweep => {
                let (listing, secrets) = tokio::join!(
                    self.directory.users(&self.settings.path_prefix),
                    self.vault.secret_names()
                );
                let listing = listing?;
                let secrets = secrets
                    .inspect_err(|error| tracing::warn!(%error, "storing new keys will find out whether their secrets exist"))
                    .ok();
                let secret_pages = secrets
                    .as_ref()
                    .map_or(1, |names| names.len().div_ceil(100).max(1));
                (listing.users, false, listing.pages + secret_pages, secrets)
            }
            Request::Force(names) => (self.forced_users(names).await?, true, names.len(), None),
        };
        let mut report = RunReport {
            api_calls: listing_calls,
            dry_run: self.settings.dry_run,
            users: users.len(),
            ..RunReport::default()
        };
        // Each user's result is counted and turned into its alerts as it arrives: memory follows
        // the users in flight and the alerts to send, not the size of the account.
        let mut results = stream::iter(users)
            .map(|user| {
                let presence = SecretPresence::by_listing(
                    secrets.as_ref(),
                    &self.vault.secret_name(&user.name),
                );
                self.process(user, forced, presence, now, source)
            })
            .buffer_unordered(self.settings.concurrency);
        let mut published = Published::default();
        // For Security Hub: the problems found, the keys looked at, whether every user was read.
        let mut problems = Vec::new();
        let mut seen_keys = BTreeSet::new();
        let mut every_user_read = true;
        while let Some(result) = results.next().await {
            report.api_calls += result.api_calls;
            report.late_announcements += result.late_announcements;
            published = published.and(result.published);
            if let Some(created) = result.oldest_active_key {
                // Whole days from the key's creation to now.
                let age = shared::expiry::days_left(now, created);
                report.oldest_active_key_age_days = Some(
                    report
                        .oldest_active_key_age_days
                        .map_or(age, |oldest| oldest.max(age)),
                );
            }
            *report.outcomes.entry(result.outcome.label()).or_default() += 1;
            tracing::info!(user = %result.user.name, outcome = result.outcome.label(), dry_run = self.settings.dry_run, "user processed");
            let context = Context {
                user: &result.user.name,
                user_arn: &result.user.arn,
                owner: result.owner.as_deref(),
                forced,
                dry_run: self.settings.dry_run,
                source,
                now,
            };
            if self.findings.is_some() {
                every_user_read &= result.decision.is_some();
                seen_keys.extend(result.keys.iter().map(|key| key.id.clone()));
                problems.extend(key_problems(
                    &context,
                    &result.keys,
                    &result.outcome,
                    &self.settings.lifecycle,
                ));
            }
        }
        drop(results);
        drop(secrets);
        let scope = format!("iam-users:{}", self.settings.path_prefix);
        let summary = summary_alert(
            &report.outcomes,
            report.users,
            self.settings.dry_run,
            forced,
            &scope,
            source,
            now,
        );
        let published = published.and(publish_all(&self.alerts, &[summary]).await);
        report.alerts_sent = published.sent;
        if let Some(store) = &self.findings {
            // A key's finding is resolved only when this run saw its user's keys: after a forced
            // run, a sweep of one IAM path, or a user that could not be read, findings of keys
            // not seen stay as they are (a deleted user's are resolved by the next complete
            // sweep of every path). IAM is global: its findings go to the function's region.
            let partial = forced || !every_user_read || self.settings.path_prefix != "/";
            let only = partial.then_some(&seen_keys);
            let scope = account.map(|a| Scope::new(a, store.region(), FINDINGS_CHECK));
            let unread = BTreeSet::new();
            report.security_hub =
                Some(publish_scan(store, scope.as_ref(), problems, &unread, only, now).await);
        }
        shared::metrics::emit(&report.metric_lines(source), now.saturating_mul(1000));
        tracing::info!(users = report.users, outcomes = ?report.outcomes, alerts_sent = report.alerts_sent, dry_run = report.dry_run, security_hub = ?report.security_hub, "run finished");
        published.into_result()?;
        let failed = report.outcomes.get("failed").copied().unwrap_or(0);
        if failed > 0 {
            return Err(HandlerError::UsersFailed {
                failed,
                users: report.users,
            });
        }
        Ok(report)
    }

    /// Every named user must exist before anything is changed for any of them.
    async fn forced_users(&self, names: &[String]) -> Result<Vec<IamUser>, HandlerError> {
        let mut users = Vec::new();
        let mut unknown = Vec::new();
        for name in names {
            match self.directory.user(name).await {
                Ok(user) => users.push(user),
                Err(DirectoryError::UserNotFound { user }) => unknown.push(user),
                Err(error) => return Err(error.into()),
            }
        }
        if !unknown.is_empty() {
            return Err(HandlerError::UnknownUsers(unknown.join(", ")));
        }
        Ok(users)
    }

    async fn process(
        &self,
        user: IamUser,
        forced: bool,
        presence: SecretPresence,
        now: i64,
        source: &str,
    ) -> UserResult {
        let inspection = match self.inspect(&user).await {
            Ok(inspection) => inspection,
            Err(error) => {
                tracing::error!(user = %user.name, %error, "could not read the user's keys");
                let outcome = Outcome::Failed {
                    action: "inspection",
                    error: error.to_string(),
                };
                let context = self.context(&user, None, forced, source, now);
                let published = publish_all(
                    &self.alerts,
                    &Vec::from_iter(outcome_alert(&context, &outcome)),
                )
                .await;
                return UserResult {
                    user,
                    oldest_active_key: None,
                    owner: None,
                    outcome,
                    decision: None,
                    keys: Vec::new(),
                    api_calls: 0,
                    published,
                    late_announcements: 0,
                };
            }
        };
        let Inspection {
            mut state,
            owner,
            announcing,
            mut api_calls,
        } = inspection;
        let context = self.context(&user, owner.as_deref(), forced, source, now);
        let mut published = Published::default();
        let mut late_announcements = 0;
        // What a stopped run did and did not announce comes first: nothing else is done for
        // this user until it is announced.
        if let (Some(intent), false) = (announcing, self.settings.dry_run) {
            let secret = self.vault.secret_name(&user.name);
            let late = unannounced_outcome(&intent, &state, &secret, &self.settings.lifecycle, now);
            let alerts: Vec<Alert> = late
                .iter()
                .filter_map(|outcome| outcome_alert(&context, outcome))
                .map(|alert| announced_late(alert, &intent, &user.name))
                .collect();
            late_announcements = alerts.len();
            let sent = publish_all(&self.alerts, &alerts).await;
            if let Err(error) = sent.clone().into_result() {
                return UserResult {
                    user,
                    oldest_active_key: None,
                    owner,
                    outcome: Outcome::Failed {
                        action: "late announcement",
                        error: error.to_string(),
                    },
                    decision: None,
                    keys: state.keys,
                    api_calls,
                    published: sent,
                    late_announcements: 0,
                };
            }
            published = published.and(sent);
            // Announced (or nothing had happened): the tag goes, and with it the records the
            // announcement kept.
            let mut done = vec![ANNOUNCING.to_owned()];
            if late.is_some() {
                done.extend(intent.records_kept_until_announced());
            }
            api_calls += 1;
            if self.untag(&user.name, &done).await {
                if done.iter().any(|tag| tag == ROTATOR_RECORD) {
                    state.creation_record = None;
                }
                state
                    .deactivated_at
                    .retain(|(key, _)| !done.contains(&format!("{DEACTIVATED_TAG_PREFIX}{key}")));
            }
        }
        let decision = decide(&state, &self.settings.lifecycle, now, forced);
        let (outcome, announced) = self
            .act(&user, &state, &decision.plan, presence, now, &context)
            .await;
        let writes = nominal_writes(&decision.plan, self.settings.dry_run, presence);
        // The action's own announcement went out in `act`; the rest goes now: a dry run's, a
        // refusal, a failure, a warning ahead.
        let mut alerts: Vec<Alert> = match announced {
            Some(sent) => {
                published = published.and(sent);
                Vec::new()
            }
            None => outcome_alert(&context, &outcome).into_iter().collect(),
        };
        if let Some(upcoming) = decision.upcoming.as_ref() {
            alerts.push(upcoming_alert(&context, upcoming));
        }
        published = published.and(publish_all(&self.alerts, &alerts).await);
        let oldest_active_key = state
            .keys
            .iter()
            .filter(|key| key.active)
            .map(|key| key.created)
            .min();
        UserResult {
            user,
            oldest_active_key,
            owner,
            outcome,
            decision: Some(decision),
            keys: state.keys,
            api_calls: api_calls + writes,
            published,
            late_announcements,
        }
    }

    fn context<'a>(
        &self,
        user: &'a IamUser,
        owner: Option<&'a str>,
        forced: bool,
        source: &'a str,
        now: i64,
    ) -> Context<'a> {
        Context {
            user: &user.name,
            user_arn: &user.arn,
            owner,
            forced,
            dry_run: self.settings.dry_run,
            source,
            now,
        }
    }

    /// Removes tags; a failure is logged (the next run removes them: each is safe to find again).
    async fn untag(&self, user: &str, tags: &[String]) -> bool {
        let keys: Vec<&str> = tags.iter().map(String::as_str).collect();
        match self.directory.untag(user, &keys).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(user, %error, tags = ?keys, "tags could not be removed; the next run removes them");
                false
            }
        }
    }

    async fn inspect(&self, user: &IamUser) -> Result<Inspection, InspectionError> {
        let tags = self.directory.tags(&user.name).await?;
        let mut api_calls = 1;
        let tagged_exempt = self
            .settings
            .exempt_tag
            .as_ref()
            .is_some_and(|(k, v)| tags.get(k) == Some(v));
        let exempt = tagged_exempt
            || match &self.settings.exempt_group {
                Some(group) => {
                    api_calls += 1;
                    self.directory.groups(&user.name).await?.contains(group)
                }
                None => false,
            };
        let mut keys = if exempt {
            Vec::new()
        } else {
            api_calls += 1;
            self.directory.keys(&user.name).await?
        };
        // With two active keys, the one to retire is the one the secret does not hold (keys
        // created in the same second cannot be ordered by age), and only its last use matters:
        // was it used after the newer one was created?
        let creation_record = tags.get(ROTATOR_RECORD).cloned();
        let announcing = tags.get(ANNOUNCING).and_then(|value| Intent::parse(value));
        let active_keys = keys.iter().filter(|k| k.active).count();
        let stored_key = if creation_record.is_some()
            || active_keys == 2
            || matches!(announcing, Some(Intent::Rotate { .. }))
        {
            api_calls += 1;
            self.vault.stored_key(&user.name).await?
        } else {
            None
        };
        if active_keys == 2 {
            let retiring = shared::iam::policy::retiring_key(&keys, stored_key.as_deref());
            if let Some(index) = keys.iter().position(|k| Some(k.id.as_str()) == retiring) {
                keys[index].last_used = self.directory.last_used(&keys[index].id).await?;
                api_calls += 1;
            }
        }
        let deactivated_at = tags
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(DEACTIVATED_TAG_PREFIX)?;
                let at = aws_sdk_iam::primitives::DateTime::from_str(
                    v,
                    aws_sdk_iam::primitives::DateTimeFormat::DateTime,
                )
                .ok()?;
                Some((key.to_owned(), at.secs()))
            })
            .collect();
        let owner = tags.get(&self.settings.owner_tag).cloned();
        let state = UserKeys {
            user: user.name.clone(),
            keys,
            deactivated_at,
            exempt,
            creation_record,
            stored_key,
        };
        Ok(Inspection {
            state,
            owner,
            announcing,
            api_calls,
        })
    }

    /// Carries out the plan (unless dry run). An action is recorded as [`ANNOUNCING`] before it
    /// is taken, announced as soon as it has taken effect, and the record removed after that
    /// (see [`crate::announce`]); the answer says whether the outcome's alert was sent here.
    async fn act(
        &self,
        iam_user: &IamUser,
        state: &UserKeys,
        plan: &Plan,
        presence: SecretPresence,
        now: i64,
        context: &Context<'_>,
    ) -> (Outcome, Option<Published>) {
        let lifecycle = &self.settings.lifecycle;
        let user = iam_user.name.as_str();
        let secret = self.vault.secret_name(user);
        let intent = Intent::of_plan(plan).filter(|_| !self.settings.dry_run);
        let outcome = match (plan, &intent) {
            (Plan::Exempt, _) => Outcome::Exempt,
            (Plan::NoKeys, _) => Outcome::NoKeys,
            (Plan::Nothing, _) => Outcome::Unchanged,
            (Plan::Blocked(blocked), _) => Outcome::Blocked {
                blocked: blocked.clone(),
                secret,
            },
            (Plan::ClearCreationRecord, _) => {
                if !self.settings.dry_run {
                    self.untag(user, &[ROTATOR_RECORD.to_owned()]).await;
                }
                Outcome::Unchanged
            }
            // A dry run: what would happen.
            (Plan::Rotate { current }, None) => Outcome::Rotated {
                old: current.clone(),
                new: None,
                secret,
                deactivate_from: now + lifecycle.install_grace,
            },
            (Plan::Deactivate { old, .. }, None) => Outcome::Deactivated {
                old: old.clone(),
                delete_from: now + lifecycle.recovery_grace,
            },
            (Plan::Delete { key }, None) => Outcome::Deleted { key: key.clone() },
            (Plan::DeleteUnstored { key }, None) => {
                Outcome::UnstoredKeyDeleted { key: key.clone() }
            }
            (Plan::RecordDeactivation { key }, None) => Outcome::DeactivationRecorded {
                key: key.clone(),
                delete_from: now + lifecycle.recovery_grace,
            },
            (_, Some(intent)) => {
                self.change(iam_user, state, presence, secret, intent, now)
                    .await
            }
        };
        let Some(intent) = intent else {
            return (outcome, None);
        };
        if !outcome.took_effect() {
            return (outcome, None);
        }
        let alerts: Vec<Alert> = outcome_alert(context, &outcome)
            .map(|mut alert| {
                alert
                    .attributes
                    .insert("announcement", intent.announcement_id(user));
                alert
            })
            .into_iter()
            .collect();
        let sent = publish_all(&self.alerts, &alerts).await;
        if sent.clone().into_result().is_ok() {
            let mut done = vec![ANNOUNCING.to_owned()];
            done.extend(intent.records_kept_until_announced());
            self.untag(user, &done).await;
        }
        (outcome, Some(sent))
    }

    /// The change an intent names, the intent recorded first (a rotation records it with its
    /// creation record, a deactivation's record with it).
    async fn change(
        &self,
        iam_user: &IamUser,
        state: &UserKeys,
        presence: SecretPresence,
        secret: String,
        intent: &Intent,
        now: i64,
    ) -> Outcome {
        let user = iam_user.name.as_str();
        let lifecycle = &self.settings.lifecycle;
        let failed = |action: &'static str, error: DirectoryError| Outcome::Failed {
            action,
            error: error.to_string(),
        };
        let announcing = intent.tag_value();
        match intent {
            Intent::Deactivate { key } => {
                if let Err(error) = self.directory.tag(user, &[(ANNOUNCING, &announcing)]).await {
                    return failed("deactivation", error);
                }
                if let Err(error) = self.directory.deactivate_key(user, key).await {
                    return failed("deactivation", error);
                }
                // Recorded after the change: a crash in between only starts the recovery clock
                // a run later (see Plan::RecordDeactivation), never earlier.
                let at = shared::time::rfc3339_epoch(now);
                let record = format!("{DEACTIVATED_TAG_PREFIX}{key}");
                if let Err(error) = self.directory.tag(user, &[(&record, &at)]).await {
                    return failed("deactivation record", error);
                }
                Outcome::Deactivated {
                    old: key.clone(),
                    delete_from: now + lifecycle.recovery_grace,
                }
            }
            Intent::Delete { key } | Intent::DeleteUnstored { key } => {
                let action = match intent {
                    Intent::Delete { .. } => "deletion",
                    _ => "deletion of an unstored key",
                };
                if let Err(error) = self.directory.tag(user, &[(ANNOUNCING, &announcing)]).await {
                    return failed(action, error);
                }
                if let Err(error) = self.directory.delete_key(user, key).await {
                    return failed(action, error);
                }
                match intent {
                    Intent::Delete { .. } => Outcome::Deleted { key: key.clone() },
                    _ => Outcome::UnstoredKeyDeleted { key: key.clone() },
                }
            }
            Intent::RecordDeactivation { key } => {
                let at = shared::time::rfc3339_epoch(now);
                let record = format!("{DEACTIVATED_TAG_PREFIX}{key}");
                let tags = [(record.as_str(), at.as_str()), (ANNOUNCING, &announcing)];
                if let Err(error) = self.directory.tag(user, &tags).await {
                    return failed("deactivation record", error);
                }
                Outcome::DeactivationRecorded {
                    key: key.clone(),
                    delete_from: now + lifecycle.recovery_grace,
                }
            }
            Intent::Rotate { old } => {
                self.rotate(iam_user, state, old, secret, presence, intent)
                    .await
            }
        }
    }

    /// Record the existing keys (and the intent), create, then store at once. A crash or lost
    /// answer anywhere leaves a record from which the next run tells an unstored key from a
    /// stored one. If storing fails and reading back shows the key is not stored, it is deleted at
    /// once (its secret would be lost); if that cannot be known, it is left to the next run. The
    /// old key is untouched either way. The records go once the rotation is announced.
    async fn rotate(
        &self,
        user: &IamUser,
        state: &UserKeys,
        current: &str,
        secret: String,
        presence: SecretPresence,
        intent: &Intent,
    ) -> Outcome {
        let name = user.name.as_str();
        let failed = |error: String| Outcome::Failed {
            action: "rotation",
            error,
        };
        let record = creation_record(&state.keys);
        let announcing = intent.tag_value();
        let tags = [(ROTATOR_RECORD, record.as_str()), (ANNOUNCING, &announcing)];
        if let Err(error) = self.directory.tag(name, &tags).await {
            return failed(error.to_string());
        }
        let new_key = match self.directory.create_key(name).await {
            Ok(key) => key,
            Err(DirectoryError::KeyLimitReached { .. }) => {
                tracing::warn!(
                    user = name,
                    "the user already has two keys: another run rotated it at the same moment"
                );
                return Outcome::SkippedConcurrentRun;
            }
            Err(error) => return failed(error.to_string()),
        };
        if let Err(error) = self.vault.store(user, &new_key, presence).await {
            let new = key_suffix(&new_key.id);
            match self.vault.stored_key(name).await {
                Ok(Some(stored)) if stored == new_key.id => {
                    tracing::warn!(user = name, %error, new_key = %new, "storing reported an error, but the new key is stored");
                }
                Ok(_) => {
                    tracing::error!(user = name, %error, new_key = %new, "storing the new key failed; deleting it");
                    let cleanup = match self.directory.delete_key(name, &new_key.id).await {
                        Ok(()) => "the new key was deleted".to_owned(),
                        Err(cleanup_error) => format!("deleting the unstored new key {new} also failed ({cleanup_error}); the next run deletes it"),
                    };
                    return failed(format!("{error}; {cleanup}"));
                }
                Err(read_error) => {
                    tracing::error!(user = name, %error, %read_error, new_key = %new, "whether the new key was stored is unknown; the next run finds out");
                    return failed(format!("{error}; whether the new key {new} was stored could not be read back ({read_error}), so the next run decides whether to delete it"));
                }
            }
        }
        tracing::info!(user = name, new_key = %key_suffix(&new_key.id), secret = %secret, "rotated: new key stored");
        Outcome::Rotated {
            old: current.to_owned(),
            new: Some(new_key.id.clone()),
            secret,
            deactivate_from: new_key.created + self.settings.lifecycle.install_grace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_a_schedule_or_named_users() {
        assert_eq!(
            parse_request(
                &json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
            )
            .unwrap(),
            Request::Sweep
        );
        assert_eq!(
            parse_request(&json!({"force_users": ["alice", "bob.smith@corp"]})).unwrap(),
            Request::Force(vec!["alice".into(), "bob.smith@corp".into()])
        );
        assert_eq!(
            parse_request(&json!({"detail-type": "Rotate now", "source": "ops", "detail": {"force_users": ["alice"]}})).unwrap(),
            Request::Force(vec!["alice".into()])
        );
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let message = |payload: Value| parse_request(&payload).unwrap_err().to_string();
        assert!(message(json!({"force_users": "alice"})).contains("must be a list"));
        assert!(message(json!({"force_users": []})).contains("1 to 100 users"));
        assert!(
            message(json!({"force_users": ["alice", 7]})).contains("force_users[1] is a number")
        );
        assert!(message(json!({"force_users": ["bad name!"]}))
            .contains("force_users[0] is not an IAM user name"));
        assert!(message(json!({"hello": 1})).contains("expected a Scheduled Event"));
        assert!(message(json!({"detail-type": "ACM Certificate Expired"}))
            .contains("unexpected detail-type"));
        assert!(message(json!([1])).contains("not a JSON object"));
    }

    #[test]
    fn settings_default_to_a_safe_dry_run() {
        let settings = Settings::from_env(&Env::default()).unwrap();
        assert!(settings.dry_run);
        assert_eq!(
            settings.exempt_tag,
            Some(("key-rotation".into(), "exempt".into()))
        );
        assert_eq!(
            (
                settings.owner_tag.as_str(),
                settings.path_prefix.as_str(),
                settings.concurrency
            ),
            ("owner", "/", 8)
        );
        let custom = Env::from_pairs([
            ("EXEMPT_TAG", "none"),
            ("EXEMPT_GROUP", "break-glass"),
            ("USER_PATH_PREFIX", "/apps/"),
            ("DRY_RUN", "false"),
        ]);
        let settings = Settings::from_env(&custom).unwrap();
        assert_eq!(
            (
                settings.exempt_tag,
                settings.exempt_group.as_deref(),
                settings.dry_run
            ),
            (None, Some("break-glass"), false)
        );
        for (name, value) in [
            ("EXEMPT_TAG", "novalue"),
            ("USER_PATH_PREFIX", "apps"),
            ("SWEEP_CONCURRENCY", "0"),
        ] {
            assert!(
                matches!(
                    Settings::from_env(&Env::from_pairs([(name, value)])),
                    Err(ConfigError::Invalid { .. })
                ),
                "{name}"
            );
        }
    }
}
