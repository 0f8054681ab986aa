//! The function's invocations: the daily scan of every key, KMS's and CloudTrail's events, and
//! two direct requests, `{"rotate_now": [...]}` (on-demand rotation) and `{"rotate_alias":
//! "alias/..."}` (manual rotation to a new key).

use crate::events::{event_alert, Event, EventError};
use shared::identifiers::{self, KmsKeyReference};

const KEY_REFERENCE: &str = "a key id, key ARN, alias name or alias ARN";
use crate::notices::{
    alias_rotated_alert, digest_alert, enforced_counts, enforcement_period, key_alert,
    listed_in_digest, AliasRotated, DigestInput, Enforced, KeyTally, ListedKey,
};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{json, Value};
use shared::alert::{publish_all, Alert, AlertSink, UnpublishedAlerts};
use shared::calls::when;
use shared::config::{ConfigError, Env};
use shared::findings::aws::{publish_scan, SecurityHub};
use shared::findings::{FindingsReport, Problem, ResourceType, Scope};
use shared::kms::aws::{Alias, KeyService, KmsError, NewKey, OnDemandStart};
use shared::kms::policy::{
    assess, check_manual, check_on_demand, choose_successor, plan_on_demand, reads_for,
    recent_manual_rotation, successor_tags, Finding, ManualRefusal, OnDemandPlan, OnDemandRefusal,
    Policy,
};
use shared::kms::{KeyMetadata, KeyView, SUPERSEDED_BY_TAG};
use shared::metrics::{counts_by, MetricLine, Unit};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// Keys one `rotate_now` request may name: each uses one of its 25 lifetime rotations, and
/// RotateKeyOnDemand's quota is 5 a second for the whole account.
pub const MAX_KEYS_PER_REQUEST: usize = 25;

#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    /// `DRY_RUN` (true): the scan reports what it would enforce and changes nothing. Direct
    /// requests (`rotate_now`, `rotate_alias`) are explicit and always act.
    pub dry_run: bool,
    /// `SCAN_CONCURRENCY` (8): keys read at once (each call still waits for its rate limit).
    pub concurrency: usize,
    /// `MAX_ENFORCEMENTS_PER_SCAN` (100): rotations enabled per scan; the next scan continues.
    /// At EnableKeyRotation's share of quota a change takes about a second.
    pub max_enforcements: usize,
    /// The region scanned (`AWS_REGION`, set by Lambda).
    pub region: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            policy: Policy::from_env(env)?,
            dry_run: env.bool_or("DRY_RUN", true)?,
            concurrency: env.number_or("SCAN_CONCURRENCY", 8, 1, 64)?,
            max_enforcements: env.number_or("MAX_ENFORCEMENTS_PER_SCAN", 100, 0, 1000)?,
            region: env.required("AWS_REGION")?.to_owned(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Event(Event),
    RotateNow(Vec<String>),
    RotateAlias(String),
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("nothing was done: no key or alias is named {}", .0.join(", "))]
    UnknownKeys(Vec<String>),
    #[error("nothing was done: {}", .0.join("; "))]
    Refused(Vec<String>),
    #[error("the scan could not list the region's keys: {0}")]
    List(#[source] KmsError),
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error("{failed} of {keys} key(s) could not be rotated: {}", .errors.join("; "))]
    RotationsFailed {
        failed: usize,
        keys: usize,
        errors: Vec<String>,
    },
    #[error(transparent)]
    Publish(#[from] UnpublishedAlerts),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidRequest(_) => "InvalidRequest",
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::UnknownKeys(_) => "UnknownKeys",
            HandlerError::Refused(_) => "Refused",
            HandlerError::List(_) => "ScanFailed",
            HandlerError::Kms(_) => "KmsError",
            HandlerError::RotationsFailed { .. } => "RotationsFailed",
            HandlerError::Publish(_) => "AlertNotPublished",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// A direct request, or an EventBridge event (see [`Event::parse`]).
pub fn parse_request(payload: &Value, partition: &'static str) -> Result<Request, HandlerError> {
    let invalid = |m: String| HandlerError::InvalidRequest(m);
    let object = payload
        .as_object()
        .ok_or_else(|| invalid("the payload is not a JSON object".into()))?;
    match (object.get("rotate_now"), object.get("rotate_alias")) {
        (Some(_), Some(_)) => Err(invalid(
            "rotate_now and rotate_alias cannot be asked at once".into(),
        )),
        (Some(keys), None) => {
            let keys = keys.as_array().ok_or_else(|| {
                invalid("rotate_now must be a list of key ids, key ARNs or aliases".into())
            })?;
            if keys.is_empty() || keys.len() > MAX_KEYS_PER_REQUEST {
                return Err(invalid(format!(
                    "rotate_now must name 1 to {MAX_KEYS_PER_REQUEST} keys, got {}",
                    keys.len()
                )));
            }
            let mut names = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                let field = format!("rotate_now[{i}]");
                let name = identifiers::text(Some(key), &field, KEY_REFERENCE)
                    .and_then(|name| identifiers::kms_key_reference(name, &field, partition))
                    .map_err(|e| invalid(e.to_string()))?;
                let name = match name {
                    KmsKeyReference::KeyId(n)
                    | KmsKeyReference::KeyArn(n)
                    | KmsKeyReference::AliasName(n)
                    | KmsKeyReference::AliasArn(n) => n,
                };
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            Ok(Request::RotateNow(names))
        }
        (None, Some(alias)) => {
            const ALIAS: &str = "an alias name such as alias/signing";
            let alias = identifiers::text(Some(alias), "rotate_alias", ALIAS)
                .map_err(|e| invalid(e.to_string()))?;
            match identifiers::kms_key_reference(alias, "rotate_alias", partition) {
                Ok(KmsKeyReference::AliasName(_)) => {}
                _ => {
                    return Err(invalid(format!(
                        "rotate_alias is not {ALIAS}: {}",
                        identifiers::echo(alias)
                    )))
                }
            }
            if alias.starts_with("alias/aws/") {
                return Err(invalid(format!(
                    "{alias} is an AWS managed key's alias: AWS rotates those keys every year and nobody else may change them"
                )));
            }
            Ok(Request::RotateAlias(alias.to_owned()))
        }
        (None, None) => Ok(Request::Event(Event::parse(payload, partition)?)),
    }
}

/// What a scan found and did; logged, and returned as the invocation's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanReport {
    pub keys: usize,
    pub classes: BTreeMap<&'static str, usize>,
    pub findings: BTreeMap<&'static str, usize>,
    pub compliant: usize,
    pub exempt: usize,
    pub enforcement: BTreeMap<&'static str, usize>,
    pub dry_run: bool,
    /// Deleted between listing and describing.
    pub vanished: usize,
    pub describe_errors: usize,
    /// Rotation status, history or grants that could not be read (the key is assessed without).
    pub read_errors: usize,
    pub alerts_sent: usize,
    /// KMS and tagging requests made, by operation (SDK retries not counted).
    pub calls: BTreeMap<&'static str, usize>,
    /// Requests per second allowed for each operation.
    pub rate_limits: BTreeMap<&'static str, f64>,
    /// What the scan did to its Security Hub findings (when they are turned on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsReport>,
}

impl ScanReport {
    /// The scan's metrics: keys per class, keys per compliance.
    pub fn metric_lines(&self, function: &str) -> Vec<MetricLine> {
        let assessed: usize = self.classes.values().sum();
        let compliance = [
            ("compliant", self.compliant),
            ("noncompliant", assessed.saturating_sub(self.compliant)),
        ];
        let mut lines = counts_by(function, "class", "KmsKeys", &self.classes);
        lines.extend(counts_by(
            function,
            "compliance",
            "KmsKeys",
            compliance.iter().map(|(name, count)| (name, count)),
        ));
        lines.push(
            MetricLine::new(vec![("function", function.to_owned())])
                .with("KmsKeysScanned", self.keys as f64, Unit::Count)
                .with("KmsKeysExempt", self.exempt as f64, Unit::Count)
                .with("AlertsSent", self.alerts_sent as f64, Unit::Count),
        );
        lines
    }
}

/// A part of a key's state that could not be read is logged and counted; the key is assessed
/// without it.
fn kept<T>(
    key_id: &str,
    result: Option<Result<T, KmsError>>,
    read_errors: &AtomicUsize,
) -> Option<T> {
    match result? {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::error!(key_id, %error, "could not read part of a key's state; it is assessed without it");
            read_errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

pub struct KeyRotation<K, A> {
    keys: K,
    alerts: A,
    settings: Settings,
    rate_limits: BTreeMap<&'static str, f64>,
    findings: Option<SecurityHub>,
}

enum Read {
    Found(Box<KeyView>),
    Vanished,
    /// The key id that could not be described.
    Failed(String),
}

impl<K: KeyService, A: AlertSink> KeyRotation<K, A> {
    pub fn new(
        keys: K,
        alerts: A,
        settings: Settings,
        rate_limits: BTreeMap<&'static str, f64>,
        findings: Option<SecurityHub>,
    ) -> Self {
        Self {
            keys,
            alerts,
            settings,
            rate_limits,
            findings,
        }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        // The time of this invocation, never of start-up: a warm instance must not go stale.
        let now = shared::time::epoch_seconds(SystemTime::now());
        let source = event.context.env_config.function_name.clone();
        let partition = shared::aws::partition(&self.settings.region);
        // Calls left counted by an earlier invocation that failed are not this one's.
        self.keys.take_calls();
        let outcome = match parse_request(&event.payload, partition) {
            Err(error) => Err(error),
            Ok(Request::Event(Event::Scheduled)) => {
                let account = shared::aws::arn_account(&event.context.invoked_function_arn);
                self.scan(now, &source, account).await.map(|r| json!(r))
            }
            Ok(Request::Event(Event::Unhandled {
                source: event_source,
                detail_type,
            })) => {
                tracing::warn!(source = %event_source, detail_type = %detail_type, "ignored an event this function does not handle");
                Ok(json!({"ignored": detail_type}))
            }
            Ok(Request::Event(event)) => self.on_event(&event, now, &source).await,
            Ok(Request::RotateNow(keys)) => self.rotate_now(&keys, now).await,
            Ok(Request::RotateAlias(alias)) => self.rotate_alias(&alias, now, &source).await,
        };
        let calls = self.keys.take_calls();
        match outcome {
            Ok(mut result) => {
                if let Some(object) = result.as_object_mut() {
                    object.entry("calls").or_insert_with(|| json!(calls));
                }
                Ok(result)
            }
            Err(error) => {
                tracing::error!(%error, calls = ?calls, "the invocation failed");
                Err(error)
            }
        }
    }

    async fn on_event(&self, event: &Event, now: i64, source: &str) -> Result<Value, HandlerError> {
        let Some(alert) = event_alert(
            event,
            self.settings.policy.max_cryptoperiod_days,
            source,
            now,
        ) else {
            tracing::info!(event = ?event, "the event needs no alert");
            return Ok(json!({"alerts": 0}));
        };
        publish_all(&self.alerts, std::slice::from_ref(&alert))
            .await
            .into_result()?;
        Ok(json!({"alerts": 1, "kind": alert.kind, "resource": alert.resource}))
    }

    async fn read_key(
        &self,
        id: &str,
        aliases: Vec<String>,
        tags: BTreeMap<String, String>,
        now: i64,
        read_errors: &AtomicUsize,
    ) -> Read {
        let key = match self.keys.describe(id).await {
            Ok(Some(key)) => key,
            Ok(None) => {
                tracing::info!(key_id = %id, "key deleted during the scan");
                return Read::Vanished;
            }
            Err(error) => {
                tracing::error!(key_id = %id, %error, "could not describe a key; it is left out of this scan");
                return Read::Failed(id.to_owned());
            }
        };
        let reads = reads_for(&key, &self.settings.policy, now);
        let (rotation, history, grants) = tokio::join!(
            when(reads.rotation_status, self.keys.rotation_status(&key.id)),
            when(reads.history, self.keys.history(&key.id)),
            when(reads.grants, self.keys.grants(&key.id)),
        );
        let rotation = kept(&key.id, rotation, read_errors);
        let history = kept(&key.id, history, read_errors);
        let grants = kept(&key.id, grants, read_errors);
        Read::Found(Box::new(KeyView {
            key,
            aliases,
            tags,
            rotation,
            history,
            grants,
        }))
    }

    /// The scan of every key of `account` (the one the clients act in; from the invoked
    /// function's ARN) in the settings' region.
    pub async fn scan(
        &self,
        now: i64,
        source: &str,
        account: Option<&str>,
    ) -> Result<ScanReport, HandlerError> {
        // The three listings do not depend on each other.
        let (ids, aliases, tags) = tokio::join!(
            self.keys.list_keys(),
            self.keys.list_aliases(),
            self.keys.list_key_tags()
        );
        let (ids, aliases, mut tags) = (
            ids.map_err(HandlerError::List)?,
            aliases.map_err(HandlerError::List)?,
            // Without tags an exempt key would look enforceable: no tags, no scan.
            tags.map_err(HandlerError::List)?,
        );
        let mut aliases_by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for Alias {
            name,
            target_key_id,
        } in aliases
        {
            if let Some(target) = target_key_id {
                aliases_by_key.entry(target).or_default().push(name);
            }
        }
        let read_errors = AtomicUsize::new(0);
        let mut report = ScanReport {
            keys: ids.len(),
            dry_run: self.settings.dry_run,
            rate_limits: self.rate_limits.clone(),
            ..ScanReport::default()
        };
        // Each key is assessed, tallied and logged as its state arrives, and kept only when
        // the digest or the enforcement needs it: memory follows those keys and the reads in
        // flight, not the size of the account.
        // The ids are moved into the stream (a closure over borrowed ids would make the scan's
        // future not `Send` for every lifetime, which the organization worker needs).
        let mut reads = stream::iter(ids.into_iter().map(|id| {
            let aliases = aliases_by_key.remove(&id).unwrap_or_default();
            let tags = tags.remove(&id).unwrap_or_default();
            (id, aliases, tags)
        }))
        .map(|(id, aliases, tags)| {
            let read_errors = &read_errors;
            async move { self.read_key(&id, aliases, tags, now, read_errors).await }
        })
        .buffer_unordered(self.settings.concurrency);
        let mut tally = KeyTally::default();
        let mut listed: Vec<ListedKey> = Vec::new();
        // Keys whose findings stay as they are: not described, or assessed without every read.
        let mut unread_ids: Vec<String> = Vec::new();
        while let Some(read) = reads.next().await {
            let view = match read {
                Read::Found(view) => view,
                Read::Vanished => {
                    report.vanished += 1;
                    continue;
                }
                Read::Failed(id) => {
                    report.describe_errors += 1;
                    unread_ids.push(id);
                    continue;
                }
            };
            let assessment = assess(&view, &self.settings.policy, now);
            if !assessment.evidence.complete {
                unread_ids.push(view.key.id.clone());
            }
            tally.add(&assessment);
            *report.classes.entry(assessment.class.label()).or_default() += 1;
            report.exempt += usize::from(assessment.exemption.is_some());
            let record = serde_json::to_string(&assessment.evidence).unwrap_or_default();
            tracing::info!(
                record = "kms-key-evidence",
                key_id = %view.key.id,
                class = assessment.class.label(),
                compliant = assessment.evidence.compliant,
                evidence = %record,
                "key evidence"
            );
            if listed_in_digest(&assessment) {
                listed.push(ListedKey::new(*view, assessment));
            }
        }
        drop(reads);
        report.compliant = tally.compliant;
        // Key ids are unique, so an unstable sort's order is as deterministic as a stable one.
        listed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        report.read_errors = read_errors.into_inner();

        let enforced = self.enforce(&listed).await;
        report.enforcement = enforced_counts(&enforced);

        let mut alerts: Vec<Alert> = Vec::new();
        for key in &listed {
            for finding in &key.findings {
                *report.findings.entry(finding.kind().as_str()).or_default() += 1;
                if finding.alerts_today() {
                    alerts.push(key_alert(key, finding, source, now));
                }
            }
        }
        let mut counts = report.classes.clone();
        counts.extend(report.enforcement.iter().map(|(k, v)| (*k, *v)));
        alerts.push(digest_alert(
            &DigestInput {
                listed: &listed,
                tally,
                enforced: &enforced,
                counts: &counts,
                region: &self.settings.region,
                dry_run: self.settings.dry_run,
                unread: report.describe_errors,
            },
            source,
            now,
        ));
        let published = publish_all(&self.alerts, &alerts).await;
        report.alerts_sent = published.sent;
        if let Some(store) = &self.findings {
            let scope = account.map(|a| Scope::new(a, &self.settings.region, FINDINGS_CHECK));
            let unread = unread_ids
                .iter()
                .filter_map(|id| Some(key_arn(scope.as_ref()?, id)))
                .collect();
            let problems = problems(&listed, &enforced, source, now);
            report.security_hub =
                Some(publish_scan(store, scope.as_ref(), problems, &unread, None, now).await);
        }
        report.calls = self.keys.take_calls();
        shared::metrics::emit(&report.metric_lines(source), now.saturating_mul(1000));
        tracing::info!(
            keys = report.keys,
            classes = ?report.classes,
            findings = ?report.findings,
            compliant = report.compliant,
            exempt = report.exempt,
            enforcement = ?report.enforcement,
            dry_run = report.dry_run,
            vanished = report.vanished,
            describe_errors = report.describe_errors,
            read_errors = report.read_errors,
            alerts_sent = report.alerts_sent,
            calls = ?report.calls,
            security_hub = ?report.security_hub,
            "key scan finished"
        );
        published.into_result()?;
        Ok(report)
    }

    async fn enforce(&self, listed: &[ListedKey]) -> BTreeMap<String, Enforced> {
        let mut enforced = BTreeMap::new();
        let mut changes = 0;
        for key in listed {
            let Some(enforcement) = key.enforcement else {
                continue;
            };
            let period_days = enforcement_period(enforcement);
            let outcome = if self.settings.dry_run {
                Enforced::WouldEnable { period_days }
            } else if changes >= self.settings.max_enforcements {
                Enforced::Deferred
            } else {
                changes += 1;
                let shared::kms::policy::Enforcement::EnableRotation { period } = enforcement;
                match self.keys.enable_rotation(&key.id, period).await {
                    Ok(()) => {
                        tracing::info!(key_id = %key.id, period_days, "enabled automatic rotation");
                        Enforced::Enabled { period_days }
                    }
                    Err(error) => {
                        tracing::error!(key_id = %key.id, %error, "could not enable automatic rotation");
                        Enforced::Failed {
                            error: error.to_string(),
                        }
                    }
                }
            };
            enforced.insert(key.id.clone(), outcome);
        }
        enforced
    }

    /// Every name resolved to its key, or nothing.
    async fn resolve(&self, names: &[String]) -> Result<Vec<KeyMetadata>, HandlerError> {
        let described: Vec<(String, Result<Option<KeyMetadata>, KmsError>)> =
            stream::iter(names.iter().cloned())
                .map(|name| async move {
                    let result = self.keys.describe(&name).await;
                    (name, result)
                })
                .buffered(self.settings.concurrency)
                .collect()
                .await;
        let mut keys = Vec::new();
        let mut unknown = Vec::new();
        for (name, result) in described {
            match result? {
                Some(key) => keys.push(key),
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            return Err(HandlerError::UnknownKeys(unknown));
        }
        // Two names of one key (its id and an alias) rotate it once.
        let mut seen = BTreeSet::new();
        keys.retain(|k| seen.insert(k.id.clone()));
        Ok(keys)
    }

    async fn rotate_now(&self, names: &[String], now: i64) -> Result<Value, HandlerError> {
        let keys = self.resolve(names).await?;
        // Decide for every key before rotating any: one refusal and nothing is done.
        let mut plans = Vec::new();
        let mut refusals = Vec::new();
        for key in &keys {
            let refuse = |refusal: OnDemandRefusal| {
                format!("key {} cannot be rotated now: {refusal}", key.id)
            };
            if let Err(refusal) = check_on_demand(key) {
                refusals.push(refuse(refusal));
                continue;
            }
            let (history, status) = tokio::join!(self.keys.history(&key.id), async {
                match key.origin.as_str() {
                    "AWS_KMS" => Some(self.keys.rotation_status(&key.id).await),
                    _ => None,
                }
            });
            let history = history?;
            let in_progress = status.transpose()?.and_then(|s| s.on_demand_started);
            match plan_on_demand(key, &history, in_progress, now) {
                Ok(plan) => plans.push((key, plan)),
                Err(refusal) => refusals.push(refuse(refusal)),
            }
        }
        if !refusals.is_empty() {
            return Err(HandlerError::Refused(refusals));
        }

        let mut rotated = Vec::new();
        let mut already = Vec::new();
        let mut pending = Vec::new();
        let mut errors = Vec::new();
        for (key, plan) in plans {
            match plan {
                OnDemandPlan::AlreadyRotated { at } => {
                    tracing::info!(key_id = %key.id, at = %shared::time::rfc3339_epoch(at), "rotated on demand within the last day; not rotated again");
                    already.push(
                        json!({"key_id": key.id, "rotated_at": shared::time::rfc3339_epoch(at)}),
                    );
                }
                // Never retried here: each attempt that reaches KMS may use one of the 25.
                OnDemandPlan::Rotate => match self.keys.rotate_on_demand(&key.id).await {
                    Ok(OnDemandStart::Started) => {
                        tracing::info!(key_id = %key.id, "on-demand rotation started");
                        rotated.push(key.id.clone());
                    }
                    Ok(OnDemandStart::AutomaticRotationImminent) => {
                        tracing::info!(key_id = %key.id, "an automatic rotation is in progress or starts within 20 minutes; counted as done");
                        pending.push(key.id.clone());
                    }
                    Err(error) => {
                        tracing::error!(key_id = %key.id, %error, "on-demand rotation failed");
                        errors.push(error.to_string());
                    }
                },
            }
        }
        if !errors.is_empty() {
            return Err(HandlerError::RotationsFailed {
                failed: errors.len(),
                keys: keys.len(),
                errors,
            });
        }
        Ok(json!({
            "rotated": rotated,
            "already_rotated": already,
            "automatic_rotation_pending": pending,
        }))
    }

    async fn rotate_alias(
        &self,
        alias: &str,
        now: i64,
        source: &str,
    ) -> Result<Value, HandlerError> {
        let refused = |refusal: ManualRefusal| {
            HandlerError::Refused(vec![format!("{alias} cannot be rotated: {refusal}")])
        };
        let current = self
            .keys
            .describe(alias)
            .await?
            .ok_or_else(|| HandlerError::UnknownKeys(vec![alias.to_owned()]))?;
        check_manual(&current).map_err(refused)?;
        let tags = self.keys.key_tags(&current.id).await?;

        // The alias points at a successor made within the day: either a repeat of a finished
        // rotation (answered as done), or one that stopped after moving the alias, finished here:
        // the alert it may not have sent, then the predecessor's tag.
        if let Some(predecessor) = recent_manual_rotation(&current, &tags, now) {
            let predecessor_tags = self.keys.key_tags(&predecessor).await?;
            if predecessor_tags.get(SUPERSEDED_BY_TAG) == Some(&current.id) {
                tracing::info!(alias, key_id = %current.id, predecessor = %predecessor, "the alias was rotated within the last day; not rotated again");
                return Ok(json!({
                    "alias": alias,
                    "already_rotated": true,
                    "key_id": current.id,
                    "supersedes": predecessor,
                }));
            }
            let rotated = AliasRotated {
                alias,
                previous_key: &predecessor,
                new_key: &current.id,
                new_key_arn: &current.arn,
                resumed: true,
                policy_names_previous_key: false,
            };
            return self.finish(&rotated, now, source).await;
        }

        // A successor an interrupted attempt created (tagged at creation) is reused.
        let candidate_ids = self
            .keys
            .keys_tagged(shared::kms::SUPERSEDES_TAG, &current.id)
            .await?;
        let mut candidates = Vec::new();
        for id in candidate_ids {
            if let Some(key) = self.keys.describe(&id).await? {
                candidates.push(key);
            }
        }
        let reused = choose_successor(&current, &candidates)
            .map_err(refused)?
            .cloned();
        let resumed = reused.is_some();
        let (successor, policy_names_previous_key) = match reused {
            Some(key) => (key, false),
            None => {
                let policy = self.keys.key_policy(&current.id).await?;
                let names_previous_key = policy.contains(&current.id);
                let key = self
                    .keys
                    .create_key(&NewKey {
                        spec: current.spec.clone(),
                        usage: current.usage.clone(),
                        description: current.description.clone(),
                        tags: successor_tags(&current.id, &tags),
                        policy,
                    })
                    .await?;
                (key, names_previous_key)
            }
        };
        tracing::info!(alias, previous = %current.id, successor = %successor.id, resumed, "moving the alias to the successor");
        self.keys.update_alias(alias, &successor.id).await?;
        let rotated = AliasRotated {
            alias,
            previous_key: &current.id,
            new_key: &successor.id,
            new_key_arn: &successor.arn,
            resumed,
            policy_names_previous_key,
        };
        self.finish(&rotated, now, source).await
    }

    /// Announces a manual rotation whose alias has moved, then tags the predecessor with its
    /// successor: the tag marks the rotation finished, so an alert lost to a crash or a failed
    /// publish is sent by the retry (twice at worst, never not at all).
    async fn finish(
        &self,
        rotated: &AliasRotated<'_>,
        now: i64,
        source: &str,
    ) -> Result<Value, HandlerError> {
        let alert = alias_rotated_alert(rotated, source, now);
        publish_all(&self.alerts, std::slice::from_ref(&alert))
            .await
            .into_result()?;
        self.keys
            .tag_key(rotated.previous_key, SUPERSEDED_BY_TAG, rotated.new_key)
            .await?;
        Ok(json!({
            "alias": rotated.alias,
            "previous_key_id": rotated.previous_key,
            "new_key_id": rotated.new_key,
            "resumed": rotated.resumed,
        }))
    }
}

// The tests are long enough for a file of their own.
/// The Security Hub check this function's findings belong to.
pub const FINDINGS_CHECK: &str = "kms-key-rotation";

/// The ARN of a key of the scope's account and region (a key that could not be described has
/// only its listed id).
fn key_arn(scope: &Scope, key_id: &str) -> String {
    format!(
        "arn:{}:kms:{}:{}:key/{key_id}",
        scope.partition(),
        scope.region,
        scope.account
    )
}

/// A finding per key and problem, in the alert's words: every problem of every listed key,
/// alert day or not, except rotation the scan has just enabled.
fn problems(
    listed: &[ListedKey],
    enforced: &BTreeMap<String, Enforced>,
    source: &str,
    now: i64,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in listed {
        let rotation_enabled = matches!(enforced.get(&key.id), Some(Enforced::Enabled { .. }));
        for finding in &key.findings {
            let fixed_now = rotation_enabled
                && matches!(
                    finding,
                    Finding::RotationDisabled | Finding::PeriodTooLong { .. }
                );
            if !fixed_now {
                let alert = key_alert(key, finding, source, now);
                problems.push(Problem::from_alert(&alert, ResourceType::KmsKey));
            }
        }
    }
    problems
}

// The tests are long enough for a file of their own.
#[cfg(test)]
#[path = "handler_test.rs"]
mod tests;
