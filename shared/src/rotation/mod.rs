//! The Secrets Manager rotation protocol, implemented once for every rotation function.
//!
//! [`Rotator`] runs the guards and the four steps against a [`SecretStore`]; what is specific to
//! a kind of secret (how to build a new value, how to make the target system accept it, how to
//! test it) is a [`RotationTarget`]. [`RotationFunction`] is the Lambda handler around both: it
//! parses the event, runs the step, logs, and publishes one failure alert when a step fails.

pub mod event;
pub mod guard;
pub mod store;

pub use event::{EventError, RotationEvent, Step};
pub use guard::{GuardError, SecretState, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
pub use store::{SecretStore, SecretsManagerStore, StoreError, StoredValue, VersionSelector};

use crate::alert::Kind;
use crate::alert::{Alert, AlertSink, Fact, Severity};
use crate::calls::when;
use crate::findings::aws::{publish_scan, SecurityHub};
use crate::findings::{Problem, ResourceType, Scope};
use crate::secret::SecretText;
use guard::GuardOutcome;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;
use tracing::Instrument;

/// What is specific to one kind of secret. Every method must be safe to call again after a crash
/// or a retry: the protocol calls `new_pending_value` only while no pending value is stored, and
/// `set_pending`/`test_pending` as often as Secrets Manager retries.
pub trait RotationTarget: Send + Sync {
    type Error: StdError + Send + Sync + 'static;

    /// The new secret value, built from the current one.
    fn new_pending_value(
        &self,
        current: &SecretText,
    ) -> impl Future<Output = Result<SecretText, Self::Error>> + Send;

    /// Makes the target system accept the pending value (returns at once if it already does).
    /// `previous` reads the `AWSPREVIOUS` value, for a target that falls back on it.
    fn set_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
        previous: PreviousValue<'_>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Proves the pending value works.
    fn test_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Undoes what `new_pending_value` created outside the secret when the value could not be
    /// stored (an IAM key whose secret would otherwise be lost). Nothing to undo by default.
    fn abandon_pending(
        &self,
        _pending: &SecretText,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }

    /// Whether [`RotationTarget::finished`] needs to run: it costs a read of `AWSPREVIOUS`.
    const ACTS_AFTER_FINISH: bool = false;

    /// Runs on every finishSecret once `AWSCURRENT` is the new version, with the value it
    /// replaced (retire the previous credential). Must be safe to repeat.
    fn finished(
        &self,
        _previous: &SecretText,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }
}

/// The `AWSPREVIOUS` value, read only if `set_pending` asks for it: it serves a fallback (log in
/// with it when a half-done earlier attempt already changed the credential) that a rotation
/// rarely needs, and a read made up front would cost every setSecret a call.
pub struct PreviousValue<'a>(
    Pin<Box<dyn Future<Output = Result<Option<SecretText>, StoreError>> + Send + 'a>>,
);

impl<'a> PreviousValue<'a> {
    pub fn new(
        read: impl Future<Output = Result<Option<SecretText>, StoreError>> + Send + 'a,
    ) -> Self {
        Self(Box::pin(read))
    }

    /// The value, or `None` when the secret has no `AWSPREVIOUS` version.
    pub async fn read(self) -> Result<Option<SecretText>, StoreError> {
        self.0.await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("secret {secret} has no value staged AWSCURRENT to rotate from")]
    NoCurrentValue { secret: String },
    #[error(
        "version {token} of secret {secret} has no value: createSecret has not stored one yet"
    )]
    NoPendingValue { secret: String, token: String },
    #[error("{step} failed for secret {secret}: {source}")]
    Target {
        step: Step,
        secret: String,
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl RotationError {
    /// The `errorType` Lambda and Secrets Manager record for the failed invocation.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Event(EventError::UnknownStep(_)) => "UnknownStep",
            Self::Event(_) => "InvalidEvent",
            Self::Guard(GuardError::RotationNotEnabled { .. }) => "RotationNotEnabled",
            Self::Guard(GuardError::TokenNotInSecret { .. }) => "TokenNotInSecret",
            Self::Guard(GuardError::TokenNotPending { .. }) => "TokenNotPending",
            Self::Guard(GuardError::NoCurrentVersion { .. }) | Self::NoCurrentValue { .. } => {
                "NoCurrentValue"
            }
            Self::Store(StoreError::SecretNotFound { .. }) => "SecretNotFound",
            Self::Store(StoreError::BinaryValue { .. }) => "BinarySecret",
            Self::Store(StoreError::Api { .. }) => "SecretsManagerError",
            Self::NoPendingValue { .. } => "NoPendingValue",
            Self::Target { .. } => "RotationTargetError",
        }
    }

    /// The one line a person must act on.
    fn remedy(&self, secret_id: &str, token: &str) -> String {
        match self {
            Self::Guard(GuardError::RotationNotEnabled { .. }) => format!(
                "Turn rotation on for the secret with `aws secretsmanager rotate-secret --secret-id {secret_id} --rotation-lambda-arn <this function's ARN>`, or stop invoking this function for it."
            ),
            Self::Guard(GuardError::TokenNotInSecret { .. } | GuardError::TokenNotPending { .. }) => format!(
                "This invocation is not part of a rotation in progress. Start rotations with `aws secretsmanager rotate-secret --secret-id {secret_id}` rather than invoking the function by hand."
            ),
            Self::Store(StoreError::SecretNotFound { .. }) => {
                "Check that the secret exists in this account and region and that the function's role may describe it.".to_owned()
            }
            _ => format!(
                "Fix the error shown under Details, then retry with `aws secretsmanager rotate-secret --secret-id {secret_id}`. If Secrets Manager answers that a previous rotation isn't complete, first run `aws secretsmanager update-secret-version-stage --secret-id {secret_id} --version-stage AWSPENDING --remove-from-version-id {token}`."
            ),
        }
    }
}

impl From<RotationError> for Diagnostic {
    fn from(error: RotationError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What a step did, returned to the caller and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The token's version was already `AWSCURRENT`: nothing to do.
    AlreadyFinished,
    PendingCreated,
    /// A retried createSecret: the pending value was stored by an earlier attempt.
    PendingAlreadyStored,
    PendingSet,
    PendingTested,
    /// `AWSCURRENT` moved to the new version.
    Finished,
    /// A retried finishSecret whose move had been done: only `AWSPENDING` was cleared.
    PendingLabelCleared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub step: &'static str,
    pub secret: String,
    pub version: String,
    pub outcome: Outcome,
    /// When the rotation's version was stored (by createSecret), if known: a rotation's duration
    /// is measured from it. Not part of the step's answer.
    #[serde(skip)]
    pub version_stored: Option<SystemTime>,
}

pub struct Rotator<S, T> {
    store: S,
    target: T,
    known: KnownValues,
}

/// How many version values a warm process keeps (a rotation needs two).
const KNOWN_VALUES: usize = 8;

/// The values of secret versions this process has read or stored, by secret and version id, and
/// which version it last saw as `AWSCURRENT`. A version's value never changes once stored
/// (Secrets Manager refuses a second `PutSecretValue` with other content for the same version),
/// so the later steps of a rotation that reach the same warm process need not read them again.
/// In memory only, like the values a step holds anyway; the description is always read, and a
/// guess of `AWSCURRENT` that it contradicts is read afresh.
#[derive(Default)]
struct KnownValues(std::sync::Mutex<KnownState>);

/// The most recent [`KNOWN_VALUES`] items by secret and version, newest first.
struct ByVersion<T>(std::collections::VecDeque<(String, String, T)>);

impl<T> Default for ByVersion<T> {
    fn default() -> Self {
        Self(std::collections::VecDeque::new())
    }
}

impl<T> ByVersion<T> {
    fn get(&self, secret: &str, version: &str) -> Option<&T> {
        self.0
            .iter()
            .find(|(s, v, _)| s == secret && v == version)
            .map(|(_, _, item)| item)
    }

    fn put(&mut self, secret: &str, version: &str, item: T) {
        self.0.retain(|(s, v, _)| !(s == secret && v == version));
        self.0
            .push_front((secret.to_owned(), version.to_owned(), item));
        self.0.truncate(KNOWN_VALUES);
    }
}

#[derive(Default)]
struct KnownState {
    values: ByVersion<SecretText>,
    current: std::collections::VecDeque<(String, String)>,
    /// When a version was stored (for the rotation's duration).
    stored: ByVersion<SystemTime>,
}

impl KnownValues {
    fn state(&self) -> std::sync::MutexGuard<'_, KnownState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn value(&self, secret: &str, version: &str) -> Option<SecretText> {
        self.state().values.get(secret, version).cloned()
    }

    /// The version last seen as `AWSCURRENT` of the secret, with its value if known.
    fn current(&self, secret: &str) -> Option<(String, SecretText)> {
        let version = self
            .state()
            .current
            .iter()
            .find(|(s, _)| s == secret)
            .map(|(_, v)| v.clone())?;
        let value = self.value(secret, &version)?;
        Some((version, value))
    }

    fn remember(&self, secret: &str, version: &str, value: &SecretText) {
        self.state().values.put(secret, version, value.clone());
    }

    fn remember_stored(&self, secret: &str, version: &str, at: SystemTime) {
        self.state().stored.put(secret, version, at);
    }

    fn stored(&self, secret: &str, version: &str) -> Option<SystemTime> {
        self.state().stored.get(secret, version).copied()
    }

    fn remember_current(&self, secret: &str, version: &str, value: &SecretText) {
        self.remember(secret, version, value);
        let mut state = self.state();
        state.current.retain(|(s, _)| s != secret);
        state
            .current
            .push_front((secret.to_owned(), version.to_owned()));
        state.current.truncate(KNOWN_VALUES);
    }
}

const CURRENT: VersionSelector<'static> = VersionSelector {
    stage: AWSCURRENT,
    version_id: None,
};
const PREVIOUS: VersionSelector<'static> = VersionSelector {
    stage: AWSPREVIOUS,
    version_id: None,
};

fn pending_version(token: &str) -> VersionSelector<'_> {
    VersionSelector {
        stage: AWSPENDING,
        version_id: Some(token),
    }
}

fn required_current(
    state: &SecretState,
    current: Option<Result<Option<SecretText>, StoreError>>,
) -> Result<SecretText, RotationError> {
    current
        .transpose()?
        .flatten()
        .ok_or_else(|| RotationError::NoCurrentValue {
            secret: state.name.clone(),
        })
}

fn required_pending(
    state: &SecretState,
    token: &str,
    pending: Option<SecretText>,
) -> Result<SecretText, RotationError> {
    pending.ok_or_else(|| RotationError::NoPendingValue {
        secret: state.name.clone(),
        token: token.to_owned(),
    })
}

impl<S: SecretStore, T: RotationTarget> Rotator<S, T> {
    pub fn new(store: S, target: T) -> Self {
        Self {
            store,
            target,
            known: KnownValues::default(),
        }
    }

    pub async fn run(&self, event: &RotationEvent) -> Result<StepReport, RotationError> {
        let (id, token) = (event.secret_id.as_str(), event.token.as_str());
        // The values a step reads go out together with DescribeSecret instead of after it, unless
        // this process already knows them: each is a read, so one that the guard makes
        // unnecessary costs a call, never a change, and the guard is still decided first, on the
        // description alone.
        let known_current = self.known.current(id);
        let known_pending = self.known.value(id, token);
        // finishSecret needs the current value only to hand it to `finished` as the one it
        // replaced: read with the description, it costs no wait after the move.
        let needs_current = event.step != Step::Finish || T::ACTS_AFTER_FINISH;
        let reads_current = needs_current && known_current.is_none();
        let reads_pending = known_pending.is_none();
        let (state, current, pending) = tokio::join!(
            self.store.describe(id),
            when(reads_current, self.store.value(id, CURRENT)),
            when(reads_pending, self.store.value(id, pending_version(token))),
        );
        let state = state?;
        let guard = guard::check(&state, token)?;
        let pending = match known_pending {
            Some(value) => Ok(Some(value)),
            None => pending.unwrap_or(Ok(None)).map(|read| {
                read.map(|stored| {
                    if let Some(at) = stored.created {
                        self.known.remember_stored(&state.arn, token, at);
                    }
                    stored.text
                })
            }),
        };
        if let Ok(Some(value)) = &pending {
            self.known.remember(&state.arn, token, value);
        }
        let current = match (event.step, known_current) {
            (Step::Finish, _) => {
                // Only remembered (for `finished`), and only if read from the version the
                // description names: a read error here is not this step's concern.
                if let Some(Ok(read)) = current {
                    self.keep_current(&state, read);
                }
                None
            }
            // The guess holds only if the description agrees; otherwise read it now.
            (_, Some((version, value))) if state.version_with(AWSCURRENT) == Some(&version) => {
                Some(Ok(Some(value)))
            }
            (_, Some(_)) => Some(
                self.store
                    .value(id, CURRENT)
                    .await
                    .map(|read| self.keep_current(&state, read)),
            ),
            (_, None) => current.map(|read| read.map(|read| self.keep_current(&state, read))),
        };
        let outcome = match (event.step, guard) {
            (Step::Finish, _) => self.finish(&state, token, pending).await?,
            (_, GuardOutcome::AlreadyCurrent) => Outcome::AlreadyFinished,
            (Step::Create, GuardOutcome::Proceed) => {
                let current = required_current(&state, current)?;
                self.create(&state, token, &current, pending?).await?
            }
            (Step::Set, GuardOutcome::Proceed) => {
                let current = required_current(&state, current)?;
                let pending = required_pending(&state, token, pending?)?;
                let previous = PreviousValue::new(self.text(&state.arn, PREVIOUS));
                self.target
                    .set_pending(&current, &pending, previous)
                    .await
                    .map_err(target_error(Step::Set, &state))?;
                Outcome::PendingSet
            }
            (Step::Test, GuardOutcome::Proceed) => {
                let current = required_current(&state, current)?;
                let pending = required_pending(&state, token, pending?)?;
                self.target
                    .test_pending(&current, &pending)
                    .await
                    .map_err(target_error(Step::Test, &state))?;
                Outcome::PendingTested
            }
        };
        Ok(StepReport {
            step: event.step.as_str(),
            version_stored: self.known.stored(&state.arn, token),
            secret: state.name,
            version: event.token.clone(),
            outcome,
        })
    }

    /// A version's value, without its version id.
    async fn text(
        &self,
        secret_id: &str,
        selector: VersionSelector<'_>,
    ) -> Result<Option<SecretText>, StoreError> {
        Ok(self.store.value(secret_id, selector).await?.map(|v| v.text))
    }

    /// The value read as `AWSCURRENT`, remembered when it came from the version the description
    /// names: a read made while a label moved is used, never remembered.
    fn keep_current(&self, state: &SecretState, read: Option<StoredValue>) -> Option<SecretText> {
        let read = read?;
        if let (Some(read_from), Some(current)) = (&read.version_id, state.version_with(AWSCURRENT))
        {
            if read_from == current {
                self.known.remember_current(&state.arn, current, &read.text);
            }
        }
        Some(read.text)
    }

    async fn previous(&self, state: &SecretState) -> Result<Option<SecretText>, RotationError> {
        Ok(self.text(&state.arn, PREVIOUS).await?)
    }

    async fn pending(
        &self,
        state: &SecretState,
        token: &str,
    ) -> Result<Option<SecretText>, RotationError> {
        Ok(self.text(&state.arn, pending_version(token)).await?)
    }

    async fn create(
        &self,
        state: &SecretState,
        token: &str,
        current: &SecretText,
        pending: Option<SecretText>,
    ) -> Result<Outcome, RotationError> {
        if pending.is_some() {
            return Ok(Outcome::PendingAlreadyStored);
        }
        let value = self
            .target
            .new_pending_value(current)
            .await
            .map_err(target_error(Step::Create, state))?;
        let Err(error) = self.store.put_pending(&state.arn, token, &value).await else {
            self.known.remember(&state.arn, token, &value);
            self.known
                .remember_stored(&state.arn, token, SystemTime::now());
            return Ok(Outcome::PendingCreated);
        };
        // The error may have come after Secrets Manager stored the value (an answer lost on the
        // way back): read back before undoing anything, and undo only what is surely unstored.
        match self.pending(state, token).await {
            Ok(Some(stored)) if stored.expose() == value.expose() => {
                tracing::warn!(%error, "PutSecretValue reported an error, but the value is stored");
                return Ok(Outcome::PendingCreated);
            }
            Ok(_) => {
                if let Err(undo_error) = self.target.abandon_pending(&value).await {
                    tracing::error!(error = %undo_error, "could not undo the credential whose value was not stored; the next attempt cleans it up");
                }
            }
            Err(read_error) => {
                tracing::error!(error = %read_error, "whether the value was stored is unknown, so nothing is undone; the next attempt finds out");
            }
        }
        Err(error.into())
    }

    /// `pending` is the read of the token's pending value made with the description.
    async fn finish(
        &self,
        state: &SecretState,
        token: &str,
        pending: Result<Option<SecretText>, StoreError>,
    ) -> Result<Outcome, RotationError> {
        let plan = guard::plan_finish(state, token)?;
        if let Some(previous) = &plan.move_current_from {
            // Never promote a version without a value: the live secret would then have none.
            let Some(value) = pending? else {
                return Err(RotationError::NoPendingValue {
                    secret: state.name.clone(),
                    token: token.to_owned(),
                });
            };
            let moved = self
                .store
                .update_stage(&state.arn, AWSCURRENT, Some(token), Some(previous))
                .await;
            self.confirm(state, moved, |now| now.has_stage(token, AWSCURRENT))
                .await?;
            // The next rotation starts from this value; a warm process need not read it again.
            self.known.remember_current(&state.arn, token, &value);
            tracing::info!(previous_version = %previous, "AWSCURRENT moved to the new version");
        }
        // Once AWSCURRENT is the new version, clearing AWSPENDING and retiring the previous
        // credential depend on nothing but that, so they go out together.
        let clear_pending = async {
            if !plan.remove_pending {
                return Ok(());
            }
            // Secrets Manager may already have removed the label with the move (the user guide
            // says so): a label that is gone is the goal reached, not an error.
            let removed = self
                .store
                .update_stage(&state.arn, AWSPENDING, None, Some(token))
                .await;
            self.confirm(state, removed, |now| !now.has_stage(token, AWSPENDING))
                .await
        };
        let retire_previous = async {
            if !T::ACTS_AFTER_FINISH {
                return Ok(());
            }
            // AWSPREVIOUS is the version AWSCURRENT left, whether it moved now or on an earlier try.
            let left = plan
                .move_current_from
                .as_deref()
                .or(state.version_with(AWSPREVIOUS));
            let previous = match left.and_then(|version| self.known.value(&state.arn, version)) {
                Some(value) => Some(value),
                None => self.previous(state).await?,
            };
            if let Some(previous) = previous {
                self.target
                    .finished(&previous)
                    .await
                    .map_err(target_error(Step::Finish, state))?;
            }
            Ok::<(), RotationError>(())
        };
        let (cleared, retired) = tokio::join!(clear_pending, retire_previous);
        cleared?;
        retired?;
        Ok(if plan.move_current_from.is_some() {
            Outcome::Finished
        } else if plan.remove_pending {
            Outcome::PendingLabelCleared
        } else {
            Outcome::AlreadyFinished
        })
    }

    /// A label change that reported an error may still have happened (a lost answer), or may have
    /// been made unnecessary (a label already gone): the labels as they are now decide.
    async fn confirm(
        &self,
        state: &SecretState,
        result: Result<(), StoreError>,
        reached: impl Fn(&SecretState) -> bool,
    ) -> Result<(), RotationError> {
        let Err(error) = result else { return Ok(()) };
        match self.store.describe(&state.arn).await {
            Ok(now) if reached(&now) => {
                tracing::warn!(%error, "UpdateSecretVersionStage reported an error, but the labels are as intended");
                Ok(())
            }
            _ => Err(error.into()),
        }
    }
}

fn target_error<E: StdError + Send + Sync + 'static>(
    step: Step,
    state: &SecretState,
) -> impl FnOnce(E) -> RotationError + '_ {
    move |source| RotationError::Target {
        step,
        secret: state.name.clone(),
        source: Box::new(source),
    }
}

/// The Lambda handler of a rotation function.
pub struct RotationFunction<S, T, A> {
    rotator: Rotator<S, T>,
    alerts: A,
    findings: Option<SecurityHub>,
}

/// The Security Hub check of failed rotations.
pub const FINDINGS_CHECK: &str = "secret-rotation";

impl<S: SecretStore, T: RotationTarget, A: AlertSink> RotationFunction<S, T, A> {
    pub fn new(rotator: Rotator<S, T>, alerts: A, findings: Option<SecurityHub>) -> Self {
        Self {
            rotator,
            alerts,
            findings,
        }
    }

    /// Runs one step. An event that cannot be parsed is rejected before any call (there is no
    /// secret to name in an alert); a step that fails publishes one failure alert and still
    /// returns the error, so Secrets Manager records the rotation as failed.
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<StepReport, RotationError> {
        let now = SystemTime::now();
        let rotation = RotationEvent::parse(&event.payload).map_err(|error| {
            tracing::error!(%error, "rejected a malformed rotation event");
            RotationError::from(error)
        })?;
        let span = tracing::info_span!(
            "rotation",
            secret = %rotation.secret_id,
            step = rotation.step.as_str(),
            version = %rotation.token
        );
        let function = event.context.env_config.function_name.as_str();
        let started = std::time::Instant::now();
        async {
            let result = self.rotator.run(&rotation).await;
            let outcome = rotation_outcome(&result);
            // A finished rotation's duration: from createSecret storing its version to now.
            let rotation_took = result
                .as_ref()
                .ok()
                .and_then(|report| report.version_stored)
                .and_then(|stored| SystemTime::now().duration_since(stored).ok());
            crate::metrics::emit(
                &step_metrics(function, rotation.step, outcome, started.elapsed(), rotation_took),
                crate::time::epoch_seconds(now).saturating_mul(1000),
            );
            match result {
                Ok(report) => {
                    tracing::info!(outcome = ?report.outcome, "rotation step succeeded");
                    if outcome.is_some() {
                        // A rotation finished: an open finding of an earlier failure is resolved.
                        self.publish_finding(&rotation, None, now).await;
                    }
                    Ok(report)
                }
                Err(error) => {
                    tracing::error!(%error, error_type = error.error_type(), "rotation step failed");
                    let alert = failure_alert(&rotation, &error, &event.context.env_config.function_name, now);
                    if let Err(publish_error) = self.alerts.publish(&alert).await {
                        tracing::error!(error = %publish_error, "the failure alert could not be published");
                    }
                    self.publish_finding(&rotation, Some(&alert), now).await;
                    Err(error)
                }
            }
        }
        .instrument(span)
        .await
    }
}

impl<S, T, A> RotationFunction<S, T, A> {
    /// The secret's rotation finding (when findings are on): opened or updated with the failure
    /// alert's words, or resolved (`None`) when a rotation finished. Never fails the step.
    async fn publish_finding(
        &self,
        rotation: &RotationEvent,
        failure: Option<&Alert>,
        now: SystemTime,
    ) {
        let Some(store) = &self.findings else {
            return;
        };
        let scope = crate::aws::arn_account(&rotation.secret_id)
            .map(|account| Scope::new(account, store.region(), FINDINGS_CHECK));
        let problems = failure
            .map(|alert| Problem::from_alert(alert, ResourceType::SecretsManagerSecret))
            .into_iter()
            .collect();
        let only = BTreeSet::from([rotation.secret_id.clone()]);
        let now = crate::time::epoch_seconds(now);
        publish_scan(
            store,
            scope.as_ref(),
            problems,
            &BTreeSet::new(),
            Some(&only),
            now,
        )
        .await;
    }
}

/// A rotation's outcome when the step ends one: `rotated` (finishSecret moved `AWSCURRENT`) or
/// `failed` (any step failed, so a rotation Secrets Manager retries counts each failed attempt).
fn rotation_outcome(result: &Result<StepReport, RotationError>) -> Option<&'static str> {
    match result {
        Ok(report)
            if matches!(
                report.outcome,
                Outcome::Finished | Outcome::PendingLabelCleared
            ) =>
        {
            Some("rotated")
        }
        Ok(_) => None,
        Err(_) => Some("failed"),
    }
}

/// A step's metrics: its duration by function and step, and the rotation's outcome if it ended,
/// with the whole rotation's duration when it finished and its start is known.
fn step_metrics(
    function: &str,
    step: Step,
    outcome: Option<&'static str>,
    took: std::time::Duration,
    rotation_took: Option<std::time::Duration>,
) -> Vec<crate::metrics::MetricLine> {
    use crate::metrics::{MetricLine, Unit};
    let mut lines = vec![MetricLine::new(vec![
        ("function", function.to_owned()),
        ("step", step.as_str().to_owned()),
    ])
    .with(
        "StepDuration",
        took.as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    )];
    if let Some(outcome) = outcome {
        let mut line = MetricLine::new(vec![
            ("function", function.to_owned()),
            ("outcome", outcome.to_owned()),
        ])
        .with("Rotations", 1.0, Unit::Count);
        if let (Some(rotation_took), "rotated") = (rotation_took, outcome) {
            line = line.with(
                "RotationDuration",
                rotation_took.as_secs_f64() * 1000.0,
                Unit::Milliseconds,
            );
        }
        lines.push(line);
    }
    lines
}

/// The secret's name from its ARN (`arn:...:secret:NAME-AbCdEf`, the suffix being six random
/// characters Secrets Manager appends), or the id itself when it is already a name.
pub fn secret_display_name(secret_id: &str) -> &str {
    let Some((_, name_and_suffix)) = secret_id.split_once(":secret:") else {
        return secret_id;
    };
    match name_and_suffix.rsplit_once('-') {
        Some((name, suffix))
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            name
        }
        _ => name_and_suffix,
    }
}

pub fn failure_alert(
    event: &RotationEvent,
    error: &RotationError,
    source: &str,
    now: SystemTime,
) -> Alert {
    let name = secret_display_name(&event.secret_id);
    Alert {
        severity: Severity::Error,
        kind: Kind::RotationFailed,
        resource: event.secret_id.clone(),
        title: format!("Rotation of secret {name} failed at {}", event.step),
        summary: format!(
            "The {} step of the rotation to version {} failed. Until a rotation finishes, Secrets Manager keeps serving AWSCURRENT, which still works.",
            event.step, event.token
        ),
        action: Some(error.remedy(&event.secret_id, &event.token)),
        facts: vec![
            Fact::new("secret", "Secret", name),
            Fact::new("step", "Step", event.step.as_str()),
            Fact::new("version", "Version", event.token.clone()),
            Fact::new("error_type", "Error type", error.error_type()),
            Fact::new("error", "Error", error.to_string()),
        ],
        attributes: Default::default(),
        source: source.to_owned(),
        time: crate::time::rfc3339(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn display_names_come_from_arns() {
        assert_eq!(
            secret_display_name(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbC12x"
            ),
            "prod/api"
        );
        assert_eq!(
            secret_display_name(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:my-db-creds-AbC12x"
            ),
            "my-db-creds"
        );
        assert_eq!(
            secret_display_name(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:name-with-tail"
            ),
            "name-with-tail"
        );
        assert_eq!(secret_display_name("plain-name"), "plain-name");
    }

    #[test]
    fn a_failure_alert_names_the_secret_step_error_and_remedy() {
        let event = RotationEvent {
            step: Step::Set,
            secret_id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbC12x"
                .into(),
            token: "tok-1".into(),
        };
        let error = RotationError::Guard(GuardError::RotationNotEnabled {
            secret: "prod/api".into(),
        });
        let alert = failure_alert(&event, &error, "fn", UNIX_EPOCH + Duration::from_secs(0));
        assert_eq!(alert.severity, Severity::Error);
        assert_eq!(alert.kind, "rotation-failed");
        assert_eq!(alert.resource, event.secret_id);
        assert_eq!(
            alert.title,
            "Rotation of secret prod/api failed at setSecret"
        );
        assert_eq!(alert.time, "1970-01-01T00:00:00Z");
        assert!(alert
            .action
            .as_deref()
            .unwrap()
            .contains("rotate-secret --secret-id arn:aws:secretsmanager"));
        let facts: Vec<_> = alert
            .facts
            .iter()
            .map(|f| (f.key, f.value.as_str()))
            .collect();
        assert_eq!(facts[0], ("secret", "prod/api"));
        assert_eq!(facts[3], ("error_type", "RotationNotEnabled"));
        assert_eq!(
            facts[4],
            ("error", "rotation is not enabled for secret prod/api")
        );
    }

    #[test]
    fn a_generic_failure_tells_how_to_clear_a_stale_pending_label() {
        let event = RotationEvent {
            step: Step::Test,
            secret_id: "s".into(),
            token: "tok-9".into(),
        };
        let error = RotationError::NoPendingValue {
            secret: "s".into(),
            token: "tok-9".into(),
        };
        let remedy = error.remedy(&event.secret_id, &event.token);
        assert!(
            remedy.contains("--remove-from-version-id tok-9"),
            "{remedy}"
        );
        assert_eq!(Diagnostic::from(error).error_type, "NoPendingValue");
    }

    #[test]
    fn known_values_are_by_secret_and_version_and_bounded() {
        let known = KnownValues::default();
        let value = |v: &str| SecretText::new(v);
        known.remember_current("arn:a", "v1", &value("one"));
        known.remember("arn:a", "v2", &value("two"));
        assert_eq!(known.value("arn:a", "v2"), Some(value("two")));
        assert_eq!(known.value("arn:b", "v2"), None);
        assert_eq!(known.current("arn:a"), Some(("v1".into(), value("one"))));
        // The rotation finished: v2 is now the current version.
        known.remember_current("arn:a", "v2", &value("two"));
        assert_eq!(known.current("arn:a"), Some(("v2".into(), value("two"))));
        for i in 0..KNOWN_VALUES + 3 {
            known.remember("arn:c", &format!("v{i}"), &value("x"));
        }
        assert_eq!(known.state().values.0.len(), KNOWN_VALUES);
        assert_eq!(known.value("arn:c", "v0"), None, "the oldest went first");
        assert!(known
            .value("arn:c", &format!("v{}", KNOWN_VALUES + 2))
            .is_some());
        // Its current version's value was pushed out: no guess, so the step reads it.
        assert_eq!(known.current("arn:a"), None);
    }

    mod engine {
        //! The protocol against Secrets Manager answers moto cannot give (SDK mocks).
        use super::super::*;
        use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
        use aws_sdk_secretsmanager::operation::get_secret_value::{
            GetSecretValueError, GetSecretValueOutput,
        };
        use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
        use aws_sdk_secretsmanager::operation::update_secret_version_stage::{
            UpdateSecretVersionStageError, UpdateSecretVersionStageOutput,
        };
        use aws_sdk_secretsmanager::types::error::{
            InternalServiceError, InvalidParameterException, ResourceNotFoundException,
        };
        use aws_sdk_secretsmanager::Client;
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
        use std::sync::atomic::{AtomicUsize, Ordering};

        const ARN: &str = "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf";

        #[derive(Default)]
        struct Target {
            abandoned: AtomicUsize,
            /// Whether set_pending reads AWSPREVIOUS, and what it read.
            reads_previous: bool,
            previous: std::sync::Mutex<Option<Option<String>>>,
        }

        #[derive(Debug, thiserror::Error)]
        #[error("never")]
        struct Never;

        impl RotationTarget for &Target {
            type Error = Never;
            async fn new_pending_value(&self, _: &SecretText) -> Result<SecretText, Never> {
                Ok(SecretText::new("new"))
            }
            async fn set_pending(
                &self,
                _: &SecretText,
                _: &SecretText,
                previous: PreviousValue<'_>,
            ) -> Result<(), Never> {
                if self.reads_previous {
                    let read = previous.read().await.ok().flatten();
                    *self.previous.lock().unwrap() = Some(read.map(|v| v.expose().to_owned()));
                }
                Ok(())
            }
            async fn test_pending(&self, _: &SecretText, _: &SecretText) -> Result<(), Never> {
                Ok(())
            }
            async fn abandon_pending(&self, _: &SecretText) -> Result<(), Never> {
                self.abandoned.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }

        fn described(versions: &[(&str, &[&str])]) -> Rule {
            let versions: Vec<(String, Vec<String>)> = versions
                .iter()
                .map(|(v, s)| (v.to_string(), s.iter().map(|s| s.to_string()).collect()))
                .collect();
            mock!(Client::describe_secret).then_output(move || {
                let mut output = DescribeSecretOutput::builder()
                    .arn(ARN)
                    .name("s")
                    .rotation_enabled(true);
                for (version, stages) in &versions {
                    output = output.version_ids_to_stages(version.clone(), stages.clone());
                }
                output.build()
            })
        }

        fn value(text: &'static str) -> Rule {
            mock!(Client::get_secret_value)
                .then_output(move || GetSecretValueOutput::builder().secret_string(text).build())
        }

        fn no_value() -> Rule {
            mock!(Client::get_secret_value).then_error(|| {
                GetSecretValueError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().build(),
                )
            })
        }

        fn event(step: Step) -> RotationEvent {
            RotationEvent {
                step,
                secret_id: ARN.into(),
                token: "tok".into(),
            }
        }

        const STARTED: &[(&str, &[&str])] = &[("old", &[AWSCURRENT]), ("tok", &[AWSPENDING])];

        #[tokio::test]
        async fn set_reads_the_previous_value_only_when_the_target_asks_for_it() {
            for reads_previous in [false, true] {
                let describe = described(&[
                    ("older", &[AWSPREVIOUS]),
                    ("old", &[AWSCURRENT]),
                    ("tok", &[AWSPENDING]),
                ]);
                let by_stage = |stage: &'static str, text: &'static str| {
                    mock!(Client::get_secret_value)
                        .match_requests(move |r| r.version_stage() == Some(stage))
                        .then_output(move || {
                            GetSecretValueOutput::builder().secret_string(text).build()
                        })
                };
                let current = by_stage(AWSCURRENT, "current");
                let previous = by_stage(AWSPREVIOUS, "previous");
                let pending = mock!(Client::get_secret_value)
                    .match_requests(|r| r.version_id() == Some("tok"))
                    .then_output(|| GetSecretValueOutput::builder().secret_string("new").build());
                let client = mock_client!(
                    aws_sdk_secretsmanager,
                    RuleMode::MatchAny,
                    [&describe, &current, &previous, &pending]
                );
                let target = Target {
                    reads_previous,
                    ..Target::default()
                };
                let rotator = Rotator::new(SecretsManagerStore::new(client), &target);
                let report = rotator.run(&event(Step::Set)).await.unwrap();
                assert_eq!(report.outcome, Outcome::PendingSet);
                assert_eq!(
                    (current.num_calls(), pending.num_calls()),
                    (1, 1),
                    "reads_previous: {reads_previous}"
                );
                assert_eq!(previous.num_calls(), usize::from(reads_previous));
                let read = target.previous.lock().unwrap().clone();
                assert_eq!(read, reads_previous.then(|| Some("previous".to_owned())));
            }
        }

        #[tokio::test]
        async fn finish_refuses_to_promote_a_version_without_a_value() {
            let describe = described(STARTED);
            let empty = no_value();
            let update = mock!(Client::update_secret_version_stage)
                .then_output(|| UpdateSecretVersionStageOutput::builder().build());
            let client = mock_client!(
                aws_sdk_secretsmanager,
                RuleMode::MatchAny,
                [&describe, &empty, &update]
            );
            let target = Target::default();
            let rotator = Rotator::new(SecretsManagerStore::new(client), &target);
            let error = rotator.run(&event(Step::Finish)).await.unwrap_err();
            assert_eq!(error.error_type(), "NoPendingValue");
            assert_eq!(update.num_calls(), 0, "nothing may be written");
        }

        #[tokio::test]
        async fn finish_succeeds_when_the_move_also_removed_the_pending_label() {
            let before = described(STARTED);
            let pending = value("new");
            let moved = mock!(Client::update_secret_version_stage)
                .match_requests(|r| r.version_stage() == Some(AWSCURRENT))
                .then_output(|| UpdateSecretVersionStageOutput::builder().build());
            let already_gone = mock!(Client::update_secret_version_stage)
                .match_requests(|r| r.version_stage() == Some(AWSPENDING))
                .then_error(|| {
                    UpdateSecretVersionStageError::InvalidParameterException(
                        InvalidParameterException::builder()
                            .message("The staging label AWSPENDING is not attached to version tok")
                            .build(),
                    )
                });
            let after = described(&[("old", &[AWSPREVIOUS]), ("tok", &[AWSCURRENT])]);
            let client = mock_client!(
                aws_sdk_secretsmanager,
                RuleMode::Sequential,
                [&before, &pending, &moved, &already_gone, &after]
            );
            let target = Target::default();
            let rotator = Rotator::new(SecretsManagerStore::new(client), &target);
            let report = rotator.run(&event(Step::Finish)).await.unwrap();
            assert_eq!(report.outcome, Outcome::Finished);
            assert_eq!(
                (
                    moved.num_calls(),
                    already_gone.num_calls(),
                    after.num_calls()
                ),
                (1, 1, 1)
            );
        }

        #[tokio::test]
        async fn finish_still_fails_when_the_labels_are_not_as_intended() {
            let before = described(STARTED);
            let pending = value("new");
            let refused = mock!(Client::update_secret_version_stage).then_error(|| {
                UpdateSecretVersionStageError::InternalServiceError(
                    InternalServiceError::builder().build(),
                )
            });
            let after = described(STARTED);
            let client = mock_client!(
                aws_sdk_secretsmanager,
                RuleMode::Sequential,
                [&before, &pending, &refused, &after]
            );
            let target = Target::default();
            let rotator = Rotator::new(SecretsManagerStore::new(client), &target);
            let error = rotator.run(&event(Step::Finish)).await.unwrap_err();
            assert_eq!(error.error_type(), "SecretsManagerError");
        }

        fn put_failed() -> Rule {
            mock!(Client::put_secret_value).then_error(|| {
                PutSecretValueError::InternalServiceError(InternalServiceError::builder().build())
            })
        }

        async fn create_after_a_failed_put(
            read_back: Rule,
        ) -> (Result<StepReport, RotationError>, usize) {
            let describe = described(STARTED);
            let current = value("old");
            let not_yet = no_value();
            let put = put_failed();
            let client = mock_client!(
                aws_sdk_secretsmanager,
                RuleMode::Sequential,
                [&describe, &current, &not_yet, &put, &read_back]
            );
            let target = Target::default();
            let result = Rotator::new(SecretsManagerStore::new(client), &target)
                .run(&event(Step::Create))
                .await;
            (result, target.abandoned.load(Ordering::Relaxed))
        }

        #[tokio::test]
        async fn a_put_whose_answer_was_lost_is_read_back_and_not_undone() {
            let (result, abandoned) = create_after_a_failed_put(value("new")).await;
            assert_eq!(result.unwrap().outcome, Outcome::PendingCreated);
            assert_eq!(abandoned, 0);
        }

        #[tokio::test]
        async fn a_put_that_surely_failed_is_undone() {
            let (result, abandoned) = create_after_a_failed_put(no_value()).await;
            assert_eq!(result.unwrap_err().error_type(), "SecretsManagerError");
            assert_eq!(abandoned, 1);
        }

        #[tokio::test]
        async fn nothing_is_undone_while_it_is_unknown_whether_the_put_happened() {
            let unreadable = mock!(Client::get_secret_value).then_error(|| {
                GetSecretValueError::InternalServiceError(InternalServiceError::builder().build())
            });
            let (result, abandoned) = create_after_a_failed_put(unreadable).await;
            assert_eq!(result.unwrap_err().error_type(), "SecretsManagerError");
            assert_eq!(abandoned, 0);
        }
    }
}
