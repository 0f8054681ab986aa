//! Pure decisions over KMS keys, with the time passed in (seconds since the epoch, UTC).
//!
//! - [`classify`]: which class a key is, from its `DescribeKey` metadata alone, and [`method`]:
//!   how a key of that kind rotates at all (automatically, on demand after an import, manually
//!   through an alias, by AWS, or by following its multi-Region primary).
//! - [`reads_for`]: which further calls a key's class needs, so a scan makes no call it does not
//!   use (an AWS managed key or a replica needs none beyond `DescribeKey`).
//! - [`assess`]: the key against the policy (a maximum cryptoperiod, imported material expiry,
//!   deletion safety, exemptions): its findings, what to enforce, and the evidence record.
//! - [`Finding`]'s texts: what a person reads.

use super::{
    KeyMaterial, KeyMetadata, KeyView, MultiRegion, RotationType, SUPERSEDED_BY_TAG, SUPERSEDES_TAG,
};
use crate::alert::{Kind, Severity};
use crate::config::{ConfigError, Env};
use crate::expiry::{countdown_severity, days_left, Thresholds, SECONDS_PER_DAY};
use serde::Serialize;
use std::collections::BTreeMap;

/// `EnableKeyRotation` accepts `RotationPeriodInDays` from 90 to 2560 (moto accepts anything).
pub const MIN_ROTATION_PERIOD_DAYS: u32 = 90;
pub const MAX_ROTATION_PERIOD_DAYS: u32 = 2560;
/// KMS's lifetime cap of on-demand rotations per key (not adjustable).
pub const ON_DEMAND_ROTATION_LIMIT: usize = 25;
/// A direct rotation request repeated within a day (Lambda's retries of an asynchronous
/// invocation, a repeated click) is answered as done instead of rotating again: each on-demand
/// rotation uses one of the key's 25 for good, and each manual rotation adds a key to pay for.
pub const REPEAT_GUARD_SECONDS: i64 = SECONDS_PER_DAY;

/// A rotation period KMS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RotationPeriod(u32);

impl RotationPeriod {
    pub fn new(days: u32) -> Option<Self> {
        (MIN_ROTATION_PERIOD_DAYS..=MAX_ROTATION_PERIOD_DAYS)
            .contains(&days)
            .then_some(Self(days))
    }

    pub fn days(self) -> u32 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `MAX_CRYPTOPERIOD_DAYS` (365): the longest a key's material may be in use.
    pub max_cryptoperiod_days: u32,
    /// `ROTATION_PERIOD_DAYS` (the maximum cryptoperiod): set when enabling rotation.
    pub rotation_period: RotationPeriod,
    /// `ALERT_THRESHOLDS_DAYS`: days before imported material expires on which to alert.
    pub thresholds: Thresholds,
    /// `EXEMPT_TAG` (`key-rotation=exempt`).
    pub exempt_tag: Option<(String, String)>,
    /// `EXEMPT_REASON_TAG` (`key-rotation-exempt-reason`): quoted in the report.
    pub exempt_reason_tag: String,
}

impl Policy {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_cryptoperiod_days = env.number_or(
            "MAX_CRYPTOPERIOD_DAYS",
            365,
            MIN_ROTATION_PERIOD_DAYS,
            MAX_ROTATION_PERIOD_DAYS,
        )?;
        let period = env.number_or(
            "ROTATION_PERIOD_DAYS",
            max_cryptoperiod_days,
            MIN_ROTATION_PERIOD_DAYS,
            max_cryptoperiod_days,
        )?;
        Ok(Self {
            max_cryptoperiod_days,
            // In range: number_or checked it against the same bounds.
            rotation_period: RotationPeriod::new(period).ok_or(ConfigError::Invalid {
                name: "ROTATION_PERIOD_DAYS",
                reason: format!(
                    "{period} is outside {MIN_ROTATION_PERIOD_DAYS}..={MAX_ROTATION_PERIOD_DAYS}"
                ),
            })?,
            thresholds: Thresholds::from_env(env)?,
            exempt_tag: env.tag_or("EXEMPT_TAG", "key-rotation=exempt")?,
            exempt_reason_tag: env.string_or("EXEMPT_REASON_TAG", "key-rotation-exempt-reason"),
        })
    }

    fn max_cryptoperiod_seconds(&self) -> i64 {
        i64::from(self.max_cryptoperiod_days) * SECONDS_PER_DAY
    }
}

/// Why a key can only be rotated manually (a new key, and its alias moved to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManualReason {
    Asymmetric,
    Hmac,
    CustomKeyStore,
    /// An origin KMS may add later.
    UnknownOrigin(String),
}

/// How a key rotates at all, whatever its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// AWS rotates it every year; nothing can be changed.
    AwsManaged,
    /// `EnableKeyRotation` with a period, and `RotateKeyOnDemand`.
    Automatic,
    /// Symmetric with imported material: import new material, then `RotateKeyOnDemand`.
    OnDemandAfterImport,
    Manual(ManualReason),
    /// A multi-Region replica shares its primary's rotation.
    FollowsPrimary,
}

impl Method {
    pub fn label(&self) -> &'static str {
        match self {
            Self::AwsManaged => "aws-managed",
            Self::Automatic => "automatic",
            Self::OnDemandAfterImport => "on-demand-after-import",
            Self::Manual(_) => "manual-alias",
            Self::FollowsPrimary => "follows-primary",
        }
    }
}

/// The class a scan reports a key under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClass {
    AwsManaged,
    /// Customer managed, symmetric, material generated by KMS: rotates automatically.
    Automatic,
    /// Symmetric with imported material: rotates on demand after a new import.
    Imported,
    /// Asymmetric, HMAC, or in a custom key store: rotates manually through an alias.
    Manual(ManualReason),
    Replica {
        primary_arn: Option<String>,
    },
    /// Disabled: KMS does not rotate it while it stays disabled.
    Disabled(Method),
    /// No key material: unusable until material is imported.
    PendingImport,
    PendingDeletion,
    /// `Creating`, `Updating`, `Unavailable` (a disconnected custom key store).
    Other {
        state: String,
    },
}

impl KeyClass {
    pub fn label(&self) -> &'static str {
        match self {
            Self::AwsManaged => "aws-managed",
            Self::Automatic => "automatic",
            Self::Imported => "imported",
            Self::Manual(_) => "manual",
            Self::Replica { .. } => "replica",
            Self::Disabled(_) => "disabled",
            Self::PendingImport => "pending-import",
            Self::PendingDeletion => "pending-deletion",
            Self::Other { .. } => "other-state",
        }
    }
}

pub fn method(key: &KeyMetadata) -> Method {
    if key.aws_managed {
        return Method::AwsManaged;
    }
    if matches!(key.multi_region, Some(MultiRegion::Replica { .. })) {
        return Method::FollowsPrimary;
    }
    if key.custom_key_store_id.is_some()
        || matches!(key.origin.as_str(), "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")
    {
        return Method::Manual(ManualReason::CustomKeyStore);
    }
    if key.spec.starts_with("HMAC_") {
        return Method::Manual(ManualReason::Hmac);
    }
    if key.spec != "SYMMETRIC_DEFAULT" {
        // Asymmetric material cannot change after the first import either.
        return Method::Manual(ManualReason::Asymmetric);
    }
    match key.origin.as_str() {
        "AWS_KMS" => Method::Automatic,
        "EXTERNAL" => Method::OnDemandAfterImport,
        other => Method::Manual(ManualReason::UnknownOrigin(other.to_owned())),
    }
}

pub fn classify(key: &KeyMetadata) -> KeyClass {
    if key.aws_managed {
        return KeyClass::AwsManaged;
    }
    match key.state.as_str() {
        "PendingDeletion" | "PendingReplicaDeletion" => return KeyClass::PendingDeletion,
        "PendingImport" => return KeyClass::PendingImport,
        _ => {}
    }
    if let Some(MultiRegion::Replica { primary_arn }) = &key.multi_region {
        return KeyClass::Replica {
            primary_arn: primary_arn.clone(),
        };
    }
    match key.state.as_str() {
        "Enabled" => match method(key) {
            Method::Automatic => KeyClass::Automatic,
            Method::OnDemandAfterImport => KeyClass::Imported,
            Method::Manual(reason) => KeyClass::Manual(reason),
            // Handled above; kept total without a panic.
            Method::AwsManaged => KeyClass::AwsManaged,
            Method::FollowsPrimary => KeyClass::Replica { primary_arn: None },
        },
        "Disabled" => KeyClass::Disabled(method(key)),
        state => KeyClass::Other {
            state: state.to_owned(),
        },
    }
}

/// The calls a key needs beyond `DescribeKey` (and the account-wide listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reads {
    pub rotation_status: bool,
    pub history: bool,
    pub grants: bool,
}

impl Reads {
    pub fn count(self) -> usize {
        usize::from(self.rotation_status) + usize::from(self.history) + usize::from(self.grants)
    }
}

/// The rotation history matters only once a key is older than the cryptoperiod (until then its
/// creation is recent enough), except for imported keys, whose history also shows material
/// imported but not yet rotated in.
pub fn reads_for(key: &KeyMetadata, policy: &Policy, now: i64) -> Reads {
    let older_than_cryptoperiod = now - key.created > policy.max_cryptoperiod_seconds();
    match classify(key) {
        KeyClass::Automatic | KeyClass::Disabled(Method::Automatic) => Reads {
            rotation_status: true,
            history: older_than_cryptoperiod,
            grants: false,
        },
        KeyClass::Imported | KeyClass::Disabled(Method::OnDemandAfterImport) => Reads {
            history: true,
            ..Reads::default()
        },
        KeyClass::PendingDeletion => Reads {
            grants: true,
            ..Reads::default()
        },
        _ => Reads::default(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Automatic rotation is off on a key that supports it.
    RotationDisabled,
    /// Automatic rotation is on with a period above the maximum cryptoperiod.
    PeriodTooLong {
        period_days: u32,
        max_days: u32,
    },
    /// The key's material is older than the maximum cryptoperiod.
    RotationOverdue {
        last_rotation: i64,
        due: i64,
        method: Method,
        key_disabled: bool,
    },
    /// New imported material waits for `RotateKeyOnDemand`.
    MaterialAwaitingRotation,
    /// Imported material expires within the largest threshold; `alert_today` on threshold days.
    MaterialExpiring {
        valid_to: i64,
        days_left: i64,
        alert_today: bool,
    },
    /// The key cannot be used in cryptographic operations.
    KeyUnusable {
        state: String,
    },
    /// Scheduled for deletion while an alias points at it or grants allow its use.
    PendingDeletionInUse {
        deletion_date: Option<i64>,
        aliases: usize,
        grants: Option<usize>,
    },
    PendingDeletion {
        deletion_date: Option<i64>,
    },
}

impl Finding {
    pub fn kind(&self) -> Kind {
        match self {
            Self::RotationDisabled => Kind::KmsRotationDisabled,
            Self::PeriodTooLong { .. } => Kind::KmsRotationPeriodTooLong,
            Self::RotationOverdue { .. } => Kind::KmsRotationOverdue,
            Self::MaterialAwaitingRotation => Kind::KmsMaterialAwaitingRotation,
            Self::MaterialExpiring { .. } => Kind::KmsMaterialExpiring,
            Self::KeyUnusable { .. } => Kind::KmsKeyUnusable,
            Self::PendingDeletionInUse { .. } => Kind::KmsKeyDeletionInUse,
            Self::PendingDeletion { .. } => Kind::KmsKeyPendingDeletion,
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Self::RotationDisabled
            | Self::PeriodTooLong { .. }
            | Self::MaterialAwaitingRotation
            | Self::PendingDeletion { .. } => Severity::Warning,
            Self::RotationOverdue { key_disabled, .. } => {
                if *key_disabled {
                    Severity::Warning
                } else {
                    Severity::Error
                }
            }
            Self::MaterialExpiring { days_left, .. } => countdown_severity(*days_left, false),
            Self::KeyUnusable { .. } => Severity::Error,
            Self::PendingDeletionInUse { .. } => Severity::Critical,
        }
    }

    /// About the key's cryptoperiod: silenced by an exemption. The others are outages coming
    /// (expiring material, deletion of a key in use, an unusable key) and are never silenced.
    pub fn is_rotation_compliance(&self) -> bool {
        matches!(
            self,
            Self::RotationDisabled
                | Self::PeriodTooLong { .. }
                | Self::RotationOverdue { .. }
                | Self::MaterialAwaitingRotation
        )
    }

    /// Sent as an alert of its own today (everything else is in the scan's digest).
    pub fn alerts_today(&self) -> bool {
        match self {
            Self::MaterialExpiring { alert_today, .. } => *alert_today,
            Self::KeyUnusable { .. }
            | Self::PendingDeletionInUse { .. }
            | Self::PendingDeletion { .. } => true,
            _ => false,
        }
    }

    /// One line for a person, completing "Key <name> ...".
    pub fn explanation(&self) -> String {
        let date = crate::time::date;
        match self {
            Self::RotationDisabled => "has automatic rotation turned off".into(),
            Self::PeriodTooLong {
                period_days,
                max_days,
            } => format!("rotates every {period_days} days, longer than the {max_days}-day maximum cryptoperiod"),
            Self::RotationOverdue {
                last_rotation,
                due,
                key_disabled,
                ..
            } => {
                let disabled = if *key_disabled {
                    " (it is disabled, and KMS does not rotate a disabled key)"
                } else {
                    ""
                };
                format!(
                    "is overdue for rotation: its material dates from {}, due by {}{disabled}",
                    date(*last_rotation),
                    date(*due)
                )
            }
            Self::MaterialAwaitingRotation => {
                "has new imported key material that was never rotated in".into()
            }
            Self::MaterialExpiring {
                valid_to,
                days_left,
                ..
            } => format!(
                "has imported key material expiring in {days_left} days ({}); at expiry KMS deletes it and the key becomes unusable",
                date(*valid_to)
            ),
            Self::KeyUnusable { state } => {
                format!("cannot be used in cryptographic operations (state {state})")
            }
            Self::PendingDeletionInUse {
                deletion_date,
                aliases,
                grants,
            } => {
                let mut uses = Vec::new();
                if *aliases > 0 {
                    uses.push(format!("{aliases} alias(es) still point at it"));
                }
                if let Some(grants) = grants.filter(|g| *g > 0) {
                    uses.push(format!("{grants} grant(s) still allow its use"));
                }
                format!(
                    "is scheduled for deletion {} while {}",
                    deletion_when(*deletion_date),
                    uses.join(" and ")
                )
            }
            Self::PendingDeletion { deletion_date } => {
                format!("is scheduled for deletion {}", deletion_when(*deletion_date))
            }
        }
    }

    /// What a person must do about it.
    pub fn action(&self, key_id: &str) -> String {
        match self {
            Self::RotationDisabled | Self::PeriodTooLong { .. } => format!("Enable rotation with a period within the maximum (`aws kms enable-key-rotation --key-id {key_id} --rotation-period-in-days <days>`), let the scan do it by setting DRY_RUN=false, or exempt the key with the exemption tag and a reason."),
            Self::RotationOverdue { method: Method::OnDemandAfterImport, .. } => format!("Import new key material (`aws kms import-key-material --key-id {key_id} --import-type NEW_KEY_MATERIAL ...`), then rotate it in: invoke this function with {{\"rotate_now\": [\"{key_id}\"]}}."),
            Self::RotationOverdue { method: Method::Manual(_), .. } => "Rotate it manually: invoke this function with {\"rotate_alias\": \"alias/<its alias>\"}; the old key stays enabled for decryption.".into(),
            Self::RotationOverdue { key_disabled: true, .. } => format!("If the key is still needed, enable it (KMS then rotates it at once if rotation is on); otherwise schedule its deletion once nothing depends on it (`aws kms schedule-key-deletion --key-id {key_id}`)."),
            Self::RotationOverdue { .. } => format!("Rotate it now: invoke this function with {{\"rotate_now\": [\"{key_id}\"]}} (one of the key's 25 on-demand rotations)."),
            Self::MaterialAwaitingRotation => format!("Complete the rotation: invoke this function with {{\"rotate_now\": [\"{key_id}\"]}}, or delete the pending material if it was imported by mistake."),
            Self::MaterialExpiring { .. } => format!("Re-import the same key material with a later expiry (`aws kms import-key-material --key-id {key_id} --import-type EXISTING_KEY_MATERIAL --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE ...`), or import new material and rotate it in."),
            Self::KeyUnusable { state } if state == "PendingImport" => format!("Import the key's material (`aws kms get-parameters-for-import --key-id {key_id} ...`, then `aws kms import-key-material`)."),
            Self::KeyUnusable { .. } => format!("Check the key and its key store (`aws kms describe-key --key-id {key_id}`)."),
            Self::PendingDeletionInUse { .. } => format!("Cancel the deletion now unless every user has moved off the key (`aws kms cancel-key-deletion --key-id {key_id}`, then `aws kms enable-key`); data encrypted under it becomes unrecoverable once it is deleted."),
            Self::PendingDeletion { .. } => format!("Nothing still points at it. If anything may hold data encrypted under it, cancel the deletion (`aws kms cancel-key-deletion --key-id {key_id}`)."),
        }
    }
}

fn deletion_when(deletion_date: Option<i64>) -> String {
    match deletion_date {
        Some(date) => format!("on {}", crate::time::rfc3339_epoch(date)),
        None => "once its multi-Region replicas are deleted".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    EnableRotation { period: RotationPeriod },
}

/// The record an auditor takes for PCI DSS 3.7.4: per key, its class and cryptoperiod, how and
/// when it was last rotated and will be next, and any exemption with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub key_id: String,
    pub key_arn: String,
    pub aliases: Vec<String>,
    pub class: &'static str,
    pub method: &'static str,
    pub state: String,
    pub key_spec: String,
    pub origin: String,
    pub cryptoperiod_days: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotation: Option<String>,
    /// `rotation-history`, `key-creation`, or `aws-managed` (AWS keeps it yearly, unseen).
    pub last_rotation_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_due_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_rotations: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material_valid_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    pub exempt: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption_reason: Option<String>,
    /// Every part of the key's state its class needs was read; a key read only in part is
    /// never reported compliant.
    pub complete: bool,
    pub compliant: bool,
    pub findings: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub class: KeyClass,
    pub method: Method,
    pub findings: Vec<Finding>,
    pub exemption: Option<Exemption>,
    pub enforcement: Option<Enforcement>,
    pub evidence: Evidence,
}

impl Assessment {
    pub fn severity(&self) -> Option<Severity> {
        self.findings.iter().map(Finding::severity).max()
    }
}

pub fn exemption(view: &KeyView, policy: &Policy) -> Option<Exemption> {
    let (key, value) = policy.exempt_tag.as_ref()?;
    (view.tags.get(key) == Some(value)).then(|| Exemption {
        reason: view.tags.get(&policy.exempt_reason_tag).cloned(),
    })
}

/// The latest rotation in the history, if any.
pub fn last_rotation(history: &[KeyMaterial]) -> Option<i64> {
    history.iter().filter_map(|m| m.rotated).max()
}

pub fn on_demand_rotations(history: &[KeyMaterial]) -> usize {
    history
        .iter()
        .filter(|m| m.rotation_type == Some(RotationType::OnDemand))
        .count()
}

pub fn assess(view: &KeyView, policy: &Policy, now: i64) -> Assessment {
    let key = &view.key;
    let class = classify(key);
    let method = method(key);
    let exemption = exemption(view, policy);
    let max = policy.max_cryptoperiod_seconds();
    let mut findings = Vec::new();

    let (last, last_source) = match (&method, &view.history) {
        (Method::AwsManaged | Method::FollowsPrimary, _) => (None, "aws-managed"),
        (_, Some(history)) => match last_rotation(history) {
            Some(at) => (Some(at), "rotation-history"),
            None => (Some(key.created), "key-creation"),
        },
        (_, None) => (Some(key.created), "key-creation"),
    };
    let superseded_by = view.tags.get(SUPERSEDED_BY_TAG).cloned();
    let key_disabled = key.state == "Disabled";
    let rotates_on_its_own = matches!(method, Method::Automatic | Method::OnDemandAfterImport);

    match &class {
        KeyClass::PendingDeletion => {
            let grants = view.grants;
            if !view.aliases.is_empty() || grants.is_some_and(|g| g > 0) {
                findings.push(Finding::PendingDeletionInUse {
                    deletion_date: key.deletion_date,
                    aliases: view.aliases.len(),
                    grants,
                });
            } else {
                findings.push(Finding::PendingDeletion {
                    deletion_date: key.deletion_date,
                });
            }
        }
        KeyClass::PendingImport => findings.push(Finding::KeyUnusable {
            state: key.state.clone(),
        }),
        KeyClass::Other { state } if state == "Unavailable" => {
            findings.push(Finding::KeyUnusable {
                state: state.clone(),
            })
        }
        _ => {}
    }

    let live = matches!(
        class,
        KeyClass::Automatic | KeyClass::Imported | KeyClass::Manual(_) | KeyClass::Disabled(_)
    );
    if live && method == Method::Automatic {
        if let Some(status) = &view.rotation {
            if !status.enabled {
                findings.push(Finding::RotationDisabled);
            } else if let Some(period) = status
                .period_days
                .filter(|p| *p > policy.max_cryptoperiod_days)
            {
                findings.push(Finding::PeriodTooLong {
                    period_days: period,
                    max_days: policy.max_cryptoperiod_days,
                });
            }
        }
    }
    if live && method == Method::OnDemandAfterImport {
        if let Some(valid_to) = key.valid_to {
            let days = days_left(valid_to, now);
            if days <= policy.thresholds.largest() {
                findings.push(Finding::MaterialExpiring {
                    valid_to,
                    days_left: days,
                    alert_today: policy.thresholds.alerts_on(days),
                });
            }
        }
        if view
            .history
            .as_ref()
            .is_some_and(|h| h.iter().any(KeyMaterial::pending_rotation))
        {
            findings.push(Finding::MaterialAwaitingRotation);
        }
    }
    // A superseded generation stays enabled only to decrypt what it encrypted: its age is no
    // finding, its successor's is.
    let due = last.map(|at| at + max);
    if let (true, Some(last), Some(due), None) = (live, last, due, &superseded_by) {
        if now > due {
            findings.push(Finding::RotationOverdue {
                last_rotation: last,
                due,
                method: method.clone(),
                key_disabled,
            });
        }
    }

    if exemption.is_some() {
        findings.retain(|f| !f.is_rotation_compliance());
    }
    let enforcement = (class == KeyClass::Automatic
        && exemption.is_none()
        && findings
            .iter()
            .any(|f| matches!(f, Finding::RotationDisabled | Finding::PeriodTooLong { .. })))
    .then_some(Enforcement::EnableRotation {
        period: policy.rotation_period,
    });

    let needed = reads_for(key, policy, now);
    let complete = (!needed.rotation_status || view.rotation.is_some())
        && (!needed.history || view.history.is_some())
        && (!needed.grants || view.grants.is_some());
    let rfc3339 = crate::time::rfc3339_epoch;
    let evidence = Evidence {
        key_id: key.id.clone(),
        key_arn: key.arn.clone(),
        aliases: view.aliases.clone(),
        class: class.label(),
        method: method.label(),
        state: key.state.clone(),
        key_spec: key.spec.clone(),
        origin: key.origin.clone(),
        cryptoperiod_days: match method {
            Method::AwsManaged => 365,
            _ => policy.max_cryptoperiod_days,
        },
        rotation_enabled: match method {
            Method::AwsManaged => Some(true),
            _ => view.rotation.as_ref().map(|s| s.enabled),
        },
        rotation_period_days: match method {
            Method::AwsManaged => Some(365),
            _ => view.rotation.as_ref().and_then(|s| s.period_days),
        },
        last_rotation: last.map(rfc3339),
        last_rotation_source: last_source,
        next_rotation: view
            .rotation
            .as_ref()
            .and_then(|s| s.next_rotation)
            .map(rfc3339),
        rotation_due_by: due.filter(|_| live && superseded_by.is_none()).map(rfc3339),
        on_demand_rotations: view
            .history
            .as_deref()
            .filter(|_| rotates_on_its_own)
            .map(on_demand_rotations),
        material_valid_to: key.valid_to.map(rfc3339),
        deletion_date: key.deletion_date.map(rfc3339),
        superseded_by,
        exempt: exemption.is_some(),
        exemption_reason: exemption.as_ref().and_then(|e| e.reason.clone()),
        complete,
        compliant: complete && findings.is_empty(),
        findings: findings.iter().map(|f| f.kind().as_str()).collect(),
    };
    Assessment {
        class,
        method,
        findings,
        exemption,
        enforcement,
        evidence,
    }
}

/// Why `rotate_now` refuses a key, before any rotation is attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDemandRefusal {
    NotEligible { class: &'static str },
    NoMaterialToRotateIn,
    LimitReached { rotations: usize },
}

impl std::fmt::Display for OnDemandRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotEligible { class } => write!(f, "a key of class {class} cannot be rotated on demand (only enabled, customer managed symmetric keys can; a replica rotates with its primary)"),
            Self::NoMaterialToRotateIn => write!(f, "it has imported key material, and no new material waits to be rotated in: import it first with ImportType NEW_KEY_MATERIAL"),
            Self::LimitReached { rotations } => write!(f, "it has used {rotations} of KMS's lifetime limit of {ON_DEMAND_ROTATION_LIMIT} on-demand rotations"),
        }
    }
}

/// What `rotate_now` does with a key, decided before any rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDemandPlan {
    Rotate,
    /// An on-demand rotation is already in progress, or one was made within the repeat guard.
    AlreadyRotated {
        at: i64,
    },
}

/// Whether a key's class can rotate on demand at all (enabled, customer managed, symmetric,
/// not a replica), from its metadata alone.
pub fn check_on_demand(key: &KeyMetadata) -> Result<(), OnDemandRefusal> {
    let class = classify(key);
    match class {
        KeyClass::Automatic | KeyClass::Imported => Ok(()),
        _ => Err(OnDemandRefusal::NotEligible {
            class: class.label(),
        }),
    }
}

/// `history` is the key's full `ListKeyRotations` (with material), `in_progress` the status's
/// `OnDemandRotationStartDate`.
pub fn plan_on_demand(
    key: &KeyMetadata,
    history: &[KeyMaterial],
    in_progress: Option<i64>,
    now: i64,
) -> Result<OnDemandPlan, OnDemandRefusal> {
    check_on_demand(key)?;
    if let Some(at) = in_progress {
        return Ok(OnDemandPlan::AlreadyRotated { at });
    }
    let recent = history
        .iter()
        .filter(|m| m.rotation_type == Some(RotationType::OnDemand))
        .filter_map(|m| m.rotated)
        .max()
        .filter(|at| now - at < REPEAT_GUARD_SECONDS);
    if let Some(at) = recent {
        return Ok(OnDemandPlan::AlreadyRotated { at });
    }
    let used = on_demand_rotations(history);
    if used >= ON_DEMAND_ROTATION_LIMIT {
        return Err(OnDemandRefusal::LimitReached { rotations: used });
    }
    if method(key) == Method::OnDemandAfterImport
        && !history.iter().any(KeyMaterial::pending_rotation)
    {
        return Err(OnDemandRefusal::NoMaterialToRotateIn);
    }
    Ok(OnDemandPlan::Rotate)
}

/// Why `rotate_alias` refuses the key an alias points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManualRefusal {
    AwsManaged,
    MultiRegion,
    NotEnabled {
        state: String,
    },
    /// KMS cannot make a successor by itself: imported material, or a custom key store.
    OriginNotGenerated {
        origin: String,
    },
    /// The successor found for the key is of another type: an alias cannot move between them.
    SuccessorOfAnotherType {
        successor: String,
    },
}

impl std::fmt::Display for ManualRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AwsManaged => write!(f, "it points at an AWS managed key, which AWS rotates and nobody else may change"),
            Self::MultiRegion => write!(f, "it points at a multi-Region key, whose aliases are separate in every Region: rotate it Region by Region by hand"),
            Self::NotEnabled { state } => write!(f, "the key it points at is {state}, not Enabled"),
            Self::OriginNotGenerated { origin } => write!(f, "the key's material has origin {origin}, which KMS cannot generate for a successor: create the successor in its key store or import its material yourself, then move the alias"),
            Self::SuccessorOfAnotherType { successor } => write!(f, "key {successor} is tagged as its successor but has another key spec or usage, and an alias cannot move between keys of different types"),
        }
    }
}

/// Whether the key an alias points at can be rotated manually by this function.
pub fn check_manual(key: &KeyMetadata) -> Result<(), ManualRefusal> {
    if key.aws_managed {
        return Err(ManualRefusal::AwsManaged);
    }
    if key.multi_region.is_some() {
        return Err(ManualRefusal::MultiRegion);
    }
    if key.state != "Enabled" {
        return Err(ManualRefusal::NotEnabled {
            state: key.state.clone(),
        });
    }
    if key.origin != "AWS_KMS" || key.custom_key_store_id.is_some() {
        return Err(ManualRefusal::OriginNotGenerated {
            origin: key.origin.clone(),
        });
    }
    Ok(())
}

/// A successor must match its predecessor's type: `UpdateAlias` moves only between keys of the
/// same spec and usage.
pub fn check_successor(
    current: &KeyMetadata,
    successor: &KeyMetadata,
) -> Result<(), ManualRefusal> {
    if current.spec != successor.spec || current.usage != successor.usage {
        return Err(ManualRefusal::SuccessorOfAnotherType {
            successor: successor.id.clone(),
        });
    }
    Ok(())
}

/// The key that `current` superseded, when `current` is the new key of a manual rotation made
/// within the repeat guard: the request is then answered as done (finishing the predecessor's
/// tag), not rotated again.
pub fn recent_manual_rotation(
    current: &KeyMetadata,
    tags: &BTreeMap<String, String>,
    now: i64,
) -> Option<String> {
    let predecessor = tags.get(SUPERSEDES_TAG)?;
    (now - current.created < REPEAT_GUARD_SECONDS).then(|| predecessor.clone())
}

/// Of the keys tagged as `current`'s successor (left by an attempt that stopped before moving
/// the alias), the one to reuse instead of creating another: enabled, the oldest first. A
/// successor of another type is refused, since the alias could not move to it.
pub fn choose_successor<'a>(
    current: &KeyMetadata,
    candidates: &'a [KeyMetadata],
) -> Result<Option<&'a KeyMetadata>, ManualRefusal> {
    let enabled: Vec<&KeyMetadata> = candidates
        .iter()
        .filter(|c| c.state == "Enabled" && c.id != current.id)
        .collect();
    for candidate in &enabled {
        check_successor(current, candidate)?;
    }
    Ok(enabled
        .into_iter()
        .min_by_key(|c| (c.created, c.id.clone())))
}

/// The tags a successor gets: the predecessor's, less the generation tags, plus the tag naming
/// the key it supersedes.
pub fn successor_tags(
    predecessor_id: &str,
    predecessor_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = predecessor_tags
        .iter()
        .filter(|(k, _)| k.as_str() != SUPERSEDES_TAG && k.as_str() != SUPERSEDED_BY_TAG)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert(SUPERSEDES_TAG.to_owned(), predecessor_id.to_owned());
    tags
}

// The tests are long enough for a file of their own.
#[cfg(test)]
#[path = "policy_test.rs"]
mod tests;
