//! KMS keys: what we know of one (plain data), the pure decisions over it ([`policy`]: which
//! class of key it is, whether it is within its cryptoperiod, what to alert on, what to enforce),
//! and the KMS adapter ([`aws`]).

pub mod aws;
pub mod policy;

use std::collections::BTreeMap;

/// The tag a key made by a manual rotation carries: the id of the key it supersedes.
pub const SUPERSEDES_TAG: &str = "credential-rotation/supersedes";
/// The tag a manually rotated key is given: the id of its successor.
pub const SUPERSEDED_BY_TAG: &str = "credential-rotation/superseded-by";

/// What `DescribeKey` says of a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyMetadata {
    pub id: String,
    pub arn: String,
    pub description: String,
    /// `KeyManager == AWS`: an AWS managed key (`alias/aws/<service>`).
    pub aws_managed: bool,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingReplicaDeletion`, `PendingImport`,
    /// `Unavailable`, `Creating`, `Updating`.
    pub state: String,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`.
    pub origin: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, `ECC_NIST_P256`, `HMAC_256`, ...
    pub spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC`, `KEY_AGREEMENT`, ...
    pub usage: String,
    pub custom_key_store_id: Option<String>,
    pub multi_region: Option<MultiRegion>,
    /// Seconds since the epoch.
    pub created: i64,
    /// While pending deletion (absent while replicas are still being deleted).
    pub deletion_date: Option<i64>,
    /// The earliest expiry of any imported key material (imported keys whose material expires).
    pub valid_to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiRegion {
    Primary,
    Replica { primary_arn: Option<String> },
}

/// What `GetKeyRotationStatus` says of a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationStatus {
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation: Option<i64>,
    /// Present while an on-demand rotation is in progress.
    pub on_demand_started: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationType {
    Automatic,
    OnDemand,
}

/// One entry of `ListKeyRotations` (with `IncludeKeyMaterial=ALL_KEY_MATERIAL`): a rotation, the
/// first material (no date), or imported material waiting to be rotated in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyMaterial {
    pub rotated: Option<i64>,
    pub rotation_type: Option<RotationType>,
    /// `CURRENT`, `NON_CURRENT`, `PENDING_ROTATION`, `PENDING_MULTI_REGION_IMPORT_AND_ROTATION`.
    pub state: Option<String>,
    pub valid_to: Option<i64>,
}

impl KeyMaterial {
    pub fn pending_rotation(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("PENDING_ROTATION" | "PENDING_MULTI_REGION_IMPORT_AND_ROTATION")
        )
    }
}

/// Everything a scan read of one key. `None` means "not read": the key's class did not need it
/// (see [`policy::reads_for`]), or the read failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyView {
    pub key: KeyMetadata,
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub rotation: Option<RotationStatus>,
    pub history: Option<Vec<KeyMaterial>>,
    /// Grants on the key (read for keys pending deletion); `Some(n)` counts at most one page.
    pub grants: Option<usize>,
}

impl KeyView {
    /// The name a person recognises: its first alias, else its id.
    pub fn display_name(&self) -> &str {
        self.aliases.first().map_or(&self.key.id, String::as_str)
    }
}
