//! Where new access keys are stored: one Secrets Manager secret per user.

use super::directory::NewKey;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::Tag;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
#[error("storing the new key of {user} in secret {secret} failed: {message}")]
pub struct VaultError {
    pub user: String,
    pub secret: String,
    pub message: String,
}

pub trait KeyVault: Send + Sync {
    /// The secret that holds (or will hold) the user's key.
    fn secret_name(&self, user: &str) -> String;
    /// Stores the key as the secret's current value; returns when it is durable.
    fn store(
        &self,
        user: &str,
        key: &NewKey,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;
}

pub struct SecretsManagerVault {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
    kms_key_id: Option<String>,
}

impl SecretsManagerVault {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        prefix: String,
        kms_key_id: Option<String>,
    ) -> Self {
        Self {
            client,
            prefix,
            kms_key_id,
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

impl KeyVault for SecretsManagerVault {
    fn secret_name(&self, user: &str) -> String {
        format!("{}{user}", self.prefix)
    }

    async fn store(&self, user: &str, key: &NewKey) -> Result<(), VaultError> {
        let secret = self.secret_name(user);
        let failed = |message: String| VaultError {
            user: user.to_owned(),
            secret: secret.clone(),
            message,
        };
        let document = key_document(user, key);
        let put = self
            .client
            .put_secret_value()
            .secret_id(&secret)
            .secret_string(&document)
            .send()
            .await;
        match put {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(failed(DisplayErrorContext(&e).to_string())),
        }
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let created = self
            .client
            .create_secret()
            .name(&secret)
            .description(format!(
                "Access key of IAM user {user}, kept current by the access key rotator"
            ))
            .secret_string(&document)
            .set_kms_key_id(self.kms_key_id.clone())
            .tags(tag("managed-by", "credential-rotation"))
            .tags(tag("iam-user", user))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Another run created it between our two calls: store as a new version instead.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                self.client
                    .put_secret_value()
                    .secret_id(&secret)
                    .secret_string(&document)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| failed(DisplayErrorContext(&e).to_string()))
            }
            Err(e) => Err(failed(DisplayErrorContext(&e).to_string())),
        }
    }
}
