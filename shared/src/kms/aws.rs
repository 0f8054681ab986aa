//! The KMS port the key rotation function needs, and its SDK adapter: KMS itself, and the
//! Resource Groups Tagging API for every key's tags in a few pages (one `ListResourceTags` per
//! key would be a fourth call per key).
//!
//! Every call waits for its operation's client-side rate limit ([`Limits`]) and is counted
//! ([`KeyService::take_calls`]). Key-management calls are always given key ids: KMS refuses
//! aliases there, and moto answers some of them with HTTP 500 for an ARN.

use super::policy::RotationPeriod;
use super::{KeyMaterial, KeyMetadata, MultiRegion, RotationStatus, RotationType};
use crate::ratelimit::RateLimit;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kms::types::{
    IncludeKeyMaterial, KeyManagerType, KeySpec, KeyUsageType, MultiRegionKeyType, Tag,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("KMS {operation} failed{}: {message}", key.as_deref().map(|k| format!(" for {k}")).unwrap_or_default())]
pub struct KmsError {
    pub operation: &'static str,
    pub key: Option<String>,
    /// The service's error code (`NotFoundException`, `LimitExceededException`, ...).
    pub code: Option<String>,
    pub message: String,
}

fn kms_error<E>(operation: &'static str, key: Option<&str>, error: &E) -> KmsError
where
    E: std::error::Error + ProvideErrorMetadata,
{
    KmsError {
        operation,
        key: key.map(str::to_owned),
        code: error.code().map(str::to_owned),
        message: DisplayErrorContext(error).to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    /// Absent for AWS's predefined `alias/aws/*` names whose key does not exist yet.
    pub target_key_id: Option<String>,
}

/// What a new key copies from the key it supersedes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub spec: String,
    pub usage: String,
    pub description: String,
    pub policy: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDemandStart {
    Started,
    /// `ConflictException`: an automatic rotation is in progress or starts within 20 minutes.
    AutomaticRotationImminent,
}

pub trait KeyService: Send + Sync {
    /// Every key id of the region.
    fn list_keys(&self) -> impl Future<Output = Result<Vec<String>, KmsError>> + Send;
    fn list_aliases(&self) -> impl Future<Output = Result<Vec<Alias>, KmsError>> + Send;
    /// The tags of every tagged key of the region, by key id.
    fn list_key_tags(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, BTreeMap<String, String>>, KmsError>> + Send;
    /// Ids of the keys tagged `key=value`.
    fn keys_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<String>, KmsError>> + Send;
    /// `key` may be an id, an ARN or an alias; `None` when nothing by that name exists.
    fn describe(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<KeyMetadata>, KmsError>> + Send;
    fn rotation_status(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<RotationStatus, KmsError>> + Send;
    /// Every rotation and every key material, all pages.
    fn history(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<Vec<KeyMaterial>, KmsError>> + Send;
    /// Grants on the key, counting one page of up to 100.
    fn grants(&self, key_id: &str) -> impl Future<Output = Result<usize, KmsError>> + Send;
    fn enable_rotation(
        &self,
        key_id: &str,
        period: RotationPeriod,
    ) -> impl Future<Output = Result<(), KmsError>> + Send;
    fn rotate_on_demand(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<OnDemandStart, KmsError>> + Send;
    fn key_policy(&self, key_id: &str) -> impl Future<Output = Result<String, KmsError>> + Send;
    fn key_tags(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, KmsError>> + Send;
    fn create_key(
        &self,
        key: &NewKey,
    ) -> impl Future<Output = Result<KeyMetadata, KmsError>> + Send;
    fn update_alias(
        &self,
        alias: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), KmsError>> + Send;
    fn tag_key(
        &self,
        key_id: &str,
        tag: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), KmsError>> + Send;
    /// The requests made since the last call, by operation (SDK retries not counted).
    fn take_calls(&self) -> BTreeMap<&'static str, usize>;
}

/// KMS's request quotas per account and region (requests per second), shared with every caller.
const QUOTAS: [(&str, f64); 13] = [
    ("DescribeKey", 2000.0),
    ("GetKeyRotationStatus", 1000.0),
    ("GetKeyPolicy", 1000.0),
    ("ListResourceTags", 2000.0),
    ("ListKeys", 500.0),
    ("ListAliases", 500.0),
    ("ListGrants", 100.0),
    ("ListKeyRotations", 100.0),
    ("EnableKeyRotation", 15.0),
    ("RotateKeyOnDemand", 5.0),
    ("UpdateAlias", 5.0),
    ("CreateKey", 5.0),
    ("TagResource", 10.0),
];

/// One rate limit per KMS operation, a share of its quota (at least one request a second).
pub struct Limits(BTreeMap<&'static str, RateLimit>);

impl Limits {
    pub fn share_of_quota(percent: u32) -> Self {
        Self(
            QUOTAS
                .iter()
                .map(|(operation, quota)| {
                    (
                        *operation,
                        RateLimit::per_second(quota * f64::from(percent) / 100.0),
                    )
                })
                .collect(),
        )
    }

    /// Requests per second allowed for each operation.
    pub fn rates(&self) -> BTreeMap<&'static str, f64> {
        self.0
            .iter()
            .map(|(operation, limit)| (*operation, limit.requests_per_second()))
            .collect()
    }

    async fn wait(&self, operation: &str) {
        if let Some(limit) = self.0.get(operation) {
            limit.acquire().await;
        }
    }
}

pub struct AwsKeyService {
    kms: aws_sdk_kms::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    limits: Limits,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl AwsKeyService {
    pub fn new(
        kms: aws_sdk_kms::Client,
        tagging: aws_sdk_resourcegroupstagging::Client,
        limits: Limits,
    ) -> Self {
        Self {
            kms,
            tagging,
            limits,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Waits for the operation's rate limit and counts the request. Listings call it as each page
    /// arrives, which spaces the request for the next page (a paginator asks only when polled).
    async fn call(&self, operation: &'static str) {
        self.limits.wait(operation).await;
        *self
            .calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(operation)
            .or_default() += 1;
    }

    async fn tagged_keys(
        &self,
        filter: Option<(&str, &str)>,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, KmsError> {
        let mut request = self
            .tagging
            .get_resources()
            .resource_type_filters("kms:key")
            .resources_per_page(100);
        if let Some((key, value)) = filter {
            request = request.tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key(key)
                    .values(value)
                    .build(),
            );
        }
        let mut pages = request.into_paginator().send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            self.call("GetResources").await;
            let page = page.map_err(|error| kms_error("GetResources", None, &error))?;
            for mapping in page.resource_tag_mapping_list() {
                let Some(id) = mapping.resource_arn().and_then(key_id_of_arn) else {
                    continue;
                };
                tags.entry(id.to_owned())
                    .or_insert_with(BTreeMap::new)
                    .extend(
                        mapping
                            .tags()
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned())),
                    );
            }
        }
        Ok(tags)
    }
}

/// `arn:<partition>:kms:<region>:<account>:key/<id>` → `<id>`.
pub fn key_id_of_arn(arn: &str) -> Option<&str> {
    let (prefix, id) = arn.split_once(":key/")?;
    (prefix.starts_with("arn:") && prefix.contains(":kms:") && !id.is_empty()).then_some(id)
}

fn epoch(date: Option<&aws_sdk_kms::primitives::DateTime>) -> Option<i64> {
    date.map(|d| d.secs())
}

pub fn metadata_from(key: &aws_sdk_kms::types::KeyMetadata) -> KeyMetadata {
    let multi_region =
        key.multi_region_configuration()
            .and_then(|config| match config.multi_region_key_type() {
                Some(MultiRegionKeyType::Primary) => Some(MultiRegion::Primary),
                Some(MultiRegionKeyType::Replica) => Some(MultiRegion::Replica {
                    primary_arn: config
                        .primary_key()
                        .and_then(|p| p.arn())
                        .map(str::to_owned),
                }),
                _ => None,
            });
    KeyMetadata {
        id: key.key_id().to_owned(),
        arn: key.arn().unwrap_or_default().to_owned(),
        description: key.description().unwrap_or_default().to_owned(),
        aws_managed: key.key_manager() == Some(&KeyManagerType::Aws),
        state: key
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        origin: key.origin().map_or("AWS_KMS", |o| o.as_str()).to_owned(),
        spec: key
            .key_spec()
            .map_or("SYMMETRIC_DEFAULT", |s| s.as_str())
            .to_owned(),
        // KMS defaults the usage to ENCRYPT_DECRYPT (moto leaves it out).
        usage: key
            .key_usage()
            .map_or("ENCRYPT_DECRYPT", |u| u.as_str())
            .to_owned(),
        custom_key_store_id: key.custom_key_store_id().map(str::to_owned),
        multi_region,
        created: epoch(key.creation_date()).unwrap_or_default(),
        deletion_date: epoch(key.deletion_date()),
        valid_to: epoch(key.valid_to()),
    }
}

fn material_from(entry: &aws_sdk_kms::types::RotationsListEntry) -> KeyMaterial {
    KeyMaterial {
        rotated: epoch(entry.rotation_date()),
        rotation_type: entry.rotation_type().and_then(|t| match t {
            aws_sdk_kms::types::RotationType::Automatic => Some(RotationType::Automatic),
            aws_sdk_kms::types::RotationType::OnDemand => Some(RotationType::OnDemand),
            _ => None,
        }),
        state: entry.key_material_state().map(|s| s.as_str().to_owned()),
        valid_to: epoch(entry.valid_to()),
    }
}

impl KeyService for AwsKeyService {
    async fn list_keys(&self) -> Result<Vec<String>, KmsError> {
        let mut pages = self.kms.list_keys().limit(1000).into_paginator().send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            self.call("ListKeys").await;
            let page = page.map_err(|error| kms_error("ListKeys", None, &error))?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_id())
                    .map(str::to_owned),
            );
        }
        Ok(ids)
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>, KmsError> {
        let mut pages = self.kms.list_aliases().limit(100).into_paginator().send();
        let mut aliases = Vec::new();
        while let Some(page) = pages.next().await {
            self.call("ListAliases").await;
            let page = page.map_err(|error| kms_error("ListAliases", None, &error))?;
            aliases.extend(page.aliases().iter().filter_map(|a| {
                Some(Alias {
                    name: a.alias_name()?.to_owned(),
                    target_key_id: a.target_key_id().map(str::to_owned),
                })
            }));
        }
        Ok(aliases)
    }

    async fn list_key_tags(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, KmsError> {
        self.tagged_keys(None).await
    }

    async fn keys_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, KmsError> {
        Ok(self
            .tagged_keys(Some((key, value)))
            .await?
            .into_keys()
            .collect())
    }

    async fn describe(&self, key: &str) -> Result<Option<KeyMetadata>, KmsError> {
        self.call("DescribeKey").await;
        match self.kms.describe_key().key_id(key).send().await {
            Ok(output) => Ok(output.key_metadata().map(metadata_from)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(kms_error("DescribeKey", Some(key), &error)),
        }
    }

    async fn rotation_status(&self, key_id: &str) -> Result<RotationStatus, KmsError> {
        self.call("GetKeyRotationStatus").await;
        let output = self
            .kms
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
            .map_err(|error| kms_error("GetKeyRotationStatus", Some(key_id), &error))?;
        Ok(RotationStatus {
            enabled: output.key_rotation_enabled(),
            period_days: output
                .rotation_period_in_days()
                .and_then(|d| u32::try_from(d).ok()),
            next_rotation: epoch(output.next_rotation_date()),
            on_demand_started: epoch(output.on_demand_rotation_start_date()),
        })
    }

    async fn history(&self, key_id: &str) -> Result<Vec<KeyMaterial>, KmsError> {
        let mut pages = self
            .kms
            .list_key_rotations()
            .key_id(key_id)
            .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
            .limit(1000)
            .into_paginator()
            .send();
        let mut materials = Vec::new();
        while let Some(page) = pages.next().await {
            self.call("ListKeyRotations").await;
            let page = page.map_err(|error| kms_error("ListKeyRotations", Some(key_id), &error))?;
            materials.extend(page.rotations().iter().map(material_from));
        }
        Ok(materials)
    }

    async fn grants(&self, key_id: &str) -> Result<usize, KmsError> {
        self.call("ListGrants").await;
        let output = self
            .kms
            .list_grants()
            .key_id(key_id)
            .limit(100)
            .send()
            .await
            .map_err(|error| kms_error("ListGrants", Some(key_id), &error))?;
        Ok(output.grants().len())
    }

    async fn enable_rotation(&self, key_id: &str, period: RotationPeriod) -> Result<(), KmsError> {
        self.call("EnableKeyRotation").await;
        self.kms
            .enable_key_rotation()
            .key_id(key_id)
            // RotationPeriod holds 90 to 2560 only, so the cast cannot wrap.
            .rotation_period_in_days(period.days() as i32)
            .send()
            .await
            .map_err(|error| kms_error("EnableKeyRotation", Some(key_id), &error))?;
        Ok(())
    }

    async fn rotate_on_demand(&self, key_id: &str) -> Result<OnDemandStart, KmsError> {
        self.call("RotateKeyOnDemand").await;
        match self.kms.rotate_key_on_demand().key_id(key_id).send().await {
            Ok(_) => Ok(OnDemandStart::Started),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                Ok(OnDemandStart::AutomaticRotationImminent)
            }
            Err(error) => Err(kms_error("RotateKeyOnDemand", Some(key_id), &error)),
        }
    }

    async fn key_policy(&self, key_id: &str) -> Result<String, KmsError> {
        self.call("GetKeyPolicy").await;
        let output = self
            .kms
            .get_key_policy()
            .key_id(key_id)
            // Optional since 2024, but moto (and older endpoints) still require it.
            .policy_name("default")
            .send()
            .await
            .map_err(|error| kms_error("GetKeyPolicy", Some(key_id), &error))?;
        Ok(output.policy().unwrap_or_default().to_owned())
    }

    async fn key_tags(&self, key_id: &str) -> Result<BTreeMap<String, String>, KmsError> {
        let mut pages = self
            .kms
            .list_resource_tags()
            .key_id(key_id)
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            self.call("ListResourceTags").await;
            let page = page.map_err(|error| kms_error("ListResourceTags", Some(key_id), &error))?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())),
            );
        }
        Ok(tags)
    }

    async fn create_key(&self, key: &NewKey) -> Result<KeyMetadata, KmsError> {
        self.call("CreateKey").await;
        let tags = key
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| KmsError {
                operation: "CreateKey",
                key: None,
                code: None,
                message: error.to_string(),
            })?;
        let output = self
            .kms
            .create_key()
            .key_spec(KeySpec::from(key.spec.as_str()))
            .key_usage(KeyUsageType::from(key.usage.as_str()))
            .description(&key.description)
            .policy(&key.policy)
            .set_tags(Some(tags))
            .bypass_policy_lockout_safety_check(false)
            .send()
            .await
            .map_err(|error| kms_error("CreateKey", None, &error))?;
        output.key_metadata().map(metadata_from).ok_or(KmsError {
            operation: "CreateKey",
            key: None,
            code: None,
            message: "the answer has no key metadata".into(),
        })
    }

    async fn update_alias(&self, alias: &str, key_id: &str) -> Result<(), KmsError> {
        self.call("UpdateAlias").await;
        self.kms
            .update_alias()
            .alias_name(alias)
            .target_key_id(key_id)
            .send()
            .await
            .map_err(|error| kms_error("UpdateAlias", Some(alias), &error))?;
        Ok(())
    }

    async fn tag_key(&self, key_id: &str, tag: &str, value: &str) -> Result<(), KmsError> {
        self.call("TagResource").await;
        let tag = Tag::builder()
            .tag_key(tag)
            .tag_value(value)
            .build()
            .map_err(|error| KmsError {
                operation: "TagResource",
                key: Some(key_id.to_owned()),
                code: None,
                message: error.to_string(),
            })?;
        self.kms
            .tag_resource()
            .key_id(key_id)
            .tags(tag)
            .send()
            .await
            .map_err(|error| kms_error("TagResource", Some(key_id), &error))?;
        Ok(())
    }

    fn take_calls(&self) -> BTreeMap<&'static str, usize> {
        std::mem::take(
            &mut *self
                .calls
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}
