//! Where new access keys are stored: one Secrets Manager secret per user.

use super::directory::{IamUser, NewKey};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use std::collections::BTreeSet;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
#[error("storing the new key of {user} in secret {secret} failed: {message}")]
pub struct VaultError {
    pub user: String,
    pub secret: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[error("listing the key secrets named {prefix}* failed: {message}")]
pub struct VaultListingError {
    pub prefix: String,
    pub message: String,
}

/// What the rotator knows, before storing, of whether the user's secret exists: from the
/// sweep's one listing of the secrets, so that storing makes only the calls the state needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPresence {
    Exists,
    Absent,
    Unknown,
}

impl SecretPresence {
    /// The presence of `secret` by a listing, when there is one.
    pub fn by_listing(listing: Option<&BTreeSet<String>>, secret: &str) -> Self {
        match listing {
            Some(names) if names.contains(secret) => Self::Exists,
            Some(_) => Self::Absent,
            None => Self::Unknown,
        }
    }
}

pub trait KeyVault: Send + Sync {
    /// The secret that holds (or will hold) the user's key.
    fn secret_name(&self, user: &str) -> String;
    /// The names of every key secret there is (all pages).
    fn secret_names(
        &self,
    ) -> impl Future<Output = Result<BTreeSet<String>, VaultListingError>> + Send;
    /// Stores the key as the secret's current value, readable only by the user and the rotator;
    /// returns when it is durable. `presence` only saves calls: a secret that is not as
    /// expected (created or deleted since the listing) is found out and handled.
    fn store(
        &self,
        user: &IamUser,
        key: &NewKey,
        presence: SecretPresence,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;
    /// The key id the secret holds now (`None`: no secret or no value yet). How a store whose
    /// answer was lost is told apart from one that failed.
    fn stored_key(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<String>, VaultError>> + Send;
}

pub struct SecretsManagerVault {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
    kms_key_id: Option<String>,
    /// The rotator's own role, the only principal besides the user that may read the secret.
    rotator_role_arn: Option<String>,
}

impl SecretsManagerVault {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        prefix: String,
        kms_key_id: Option<String>,
        rotator_role_arn: Option<String>,
    ) -> Self {
        Self {
            client,
            prefix,
            kms_key_id,
            rotator_role_arn,
        }
    }
}

/// The secret's JSON: what an application needs to use the key.
pub fn key_document(user: &str, key: &NewKey) -> String {
    serde_json::json!({
        "UserName": user,
        "AccessKeyId": key.id,
        "SecretAccessKey": key.secret.expose(),
        "CreateDate": crate::time::rfc3339_epoch(key.created),
    })
    .to_string()
}

/// The secret's resource policy: nobody but the key's user and the rotator may read it, whatever
/// their identity policies allow (an account-wide `secretsmanager:GetSecretValue` included).
pub fn read_policy(user_arn: &str, rotator_role_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheKeysUserAndTheRotatorRead",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": [user_arn, rotator_role_arn]}}
            },
            {
                "Sid": "TheKeysUserReads",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

impl SecretsManagerVault {
    /// Attaches the read policy, creating the secret (with no value yet) when it does not exist,
    /// so that no value is ever readable before the policy is in place.
    async fn guard(&self, user: &IamUser, secret: &str) -> Result<(), String> {
        let Some(role) = &self.rotator_role_arn else {
            return Ok(());
        };
        let policy = read_policy(&user.arn, role);
        let attach = || {
            self.client
                .put_resource_policy()
                .secret_id(secret)
                .resource_policy(&policy)
                .send()
        };
        match attach().await {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(DisplayErrorContext(&e).to_string()),
        }
        self.create(&user.name, secret, None).await?;
        attach()
            .await
            .map(|_| ())
            .map_err(|e| DisplayErrorContext(&e).to_string())
    }

    /// Creates the secret; `false` when another run created it meanwhile.
    async fn create(
        &self,
        user: &str,
        secret: &str,
        document: Option<&str>,
    ) -> Result<bool, String> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let created = self
            .client
            .create_secret()
            .name(secret)
            .description(format!(
                "Access key of IAM user {user}, kept current by the access key rotator"
            ))
            .set_secret_string(document.map(str::to_owned))
            .set_kms_key_id(self.kms_key_id.clone())
            .tags(tag("managed-by", "credential-rotation"))
            .tags(tag("iam-user", user))
            .send()
            .await;
        match created {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(DisplayErrorContext(&e).to_string()),
        }
    }

    async fn put(&self, secret: &str, document: &str) -> Result<bool, String> {
        match self
            .client
            .put_secret_value()
            .secret_id(secret)
            .secret_string(document)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(DisplayErrorContext(&e).to_string()),
        }
    }
}

impl KeyVault for SecretsManagerVault {
    fn secret_name(&self, user: &str) -> String {
        format!("{}{user}", self.prefix)
    }

    async fn secret_names(&self) -> Result<BTreeSet<String>, VaultListingError> {
        let mut request = self.client.list_secrets().max_results(100);
        if !self.prefix.is_empty() {
            // Secrets Manager's name filter matches names that begin with the value.
            request = request.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(&self.prefix)
                    .build(),
            );
        }
        let mut pages = request.into_paginator().send();
        let mut names = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| VaultListingError {
                prefix: self.prefix.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
            names.extend(
                page.secret_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.name)
                    .filter(|name| name.starts_with(&self.prefix)),
            );
        }
        Ok(names)
    }

    async fn store(
        &self,
        user: &IamUser,
        key: &NewKey,
        presence: SecretPresence,
    ) -> Result<(), VaultError> {
        let secret = self.secret_name(&user.name);
        let failed = |message: String| VaultError {
            user: user.name.clone(),
            secret: secret.clone(),
            message,
        };
        let document = key_document(&user.name, key);
        if presence == SecretPresence::Absent {
            // Created with the value at once when no policy must come first; otherwise empty,
            // and the policy goes on before the value does (below).
            let value = self.rotator_role_arn.is_none().then_some(document.as_str());
            let created = self
                .create(&user.name, &secret, value)
                .await
                .map_err(failed)?;
            if created && value.is_some() {
                return Ok(());
            }
        }
        self.guard(user, &secret).await.map_err(failed)?;
        if self.put(&secret, &document).await.map_err(failed)? {
            return Ok(());
        }
        // No secret yet and no policy to attach first (no rotator role set): create it with the
        // value; if another run created it meanwhile, store as a new version.
        if self
            .create(&user.name, &secret, Some(&document))
            .await
            .map_err(failed)?
        {
            return Ok(());
        }
        self.put(&secret, &document)
            .await
            .map_err(failed)
            .map(|_| ())
    }

    async fn stored_key(&self, user: &str) -> Result<Option<String>, VaultError> {
        let secret = self.secret_name(user);
        let result = self
            .client
            .get_secret_value()
            .secret_id(&secret)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => {
                return Err(VaultError {
                    user: user.to_owned(),
                    secret,
                    message: DisplayErrorContext(&e).to_string(),
                })
            }
        };
        Ok(output
            .secret_string
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v.get("AccessKeyId")?.as_str().map(str::to_owned)))
    }
}
