//! The Secrets Manager port the protocol needs, and its SDK adapter.

use super::guard::SecretState;
use crate::secret::SecretText;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("secret {secret_id} does not exist")]
    SecretNotFound { secret_id: String },
    #[error("version {version} of secret {secret_id} holds a binary value; only string secrets can be rotated")]
    BinaryValue { secret_id: String, version: String },
    #[error("Secrets Manager {operation} on {secret_id} failed: {message}")]
    Api {
        operation: &'static str,
        secret_id: String,
        message: String,
    },
}

/// Which version to read: Secrets Manager's own rule is that naming both checks they agree.
#[derive(Debug, Clone, Copy)]
pub struct VersionSelector<'a> {
    pub stage: &'a str,
    pub version_id: Option<&'a str>,
}

/// A version's value, with the id of the version it was read from and when it was stored.
#[derive(Debug, Clone)]
pub struct StoredValue {
    pub version_id: Option<String>,
    pub text: SecretText,
    pub created: Option<std::time::SystemTime>,
}

pub trait SecretStore: Send + Sync {
    fn describe(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<SecretState, StoreError>> + Send;

    /// The version's string value; `None` when the version or the label holds no value (the
    /// placeholder Secrets Manager creates for a new rotation has none).
    fn value(
        &self,
        secret_id: &str,
        selector: VersionSelector<'_>,
    ) -> impl Future<Output = Result<Option<StoredValue>, StoreError>> + Send;

    /// Stores the value of the rotation's version (`token`) with the `AWSPENDING` label.
    fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretText,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `UpdateSecretVersionStage`: move `stage` to `to` and/or remove it from `from`.
    fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerStore {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn api_error<E>(operation: &'static str, secret_id: &str, error: &E) -> StoreError
where
    E: std::error::Error,
{
    StoreError::Api {
        operation,
        secret_id: secret_id.to_owned(),
        message: DisplayErrorContext(error).to_string(),
    }
}

impl SecretStore for SecretsManagerStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretState, StoreError> {
        let output = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    StoreError::SecretNotFound {
                        secret_id: secret_id.to_owned(),
                    }
                } else {
                    api_error("DescribeSecret", secret_id, &error)
                }
            })?;
        Ok(SecretState {
            arn: output.arn.unwrap_or_else(|| secret_id.to_owned()),
            name: output.name.unwrap_or_else(|| secret_id.to_owned()),
            rotation_enabled: output.rotation_enabled.unwrap_or(false),
            versions: output
                .version_ids_to_stages
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    async fn value(
        &self,
        secret_id: &str,
        selector: VersionSelector<'_>,
    ) -> Result<Option<StoredValue>, StoreError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(selector.stage)
            .set_version_id(selector.version_id.map(str::to_owned))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(api_error("GetSecretValue", secret_id, &error)),
        };
        match (output.secret_string, output.secret_binary) {
            (Some(text), _) => Ok(Some(StoredValue {
                version_id: output.version_id,
                text: SecretText::new(text),
                created: output
                    .created_date
                    .and_then(|at| std::time::SystemTime::try_from(at).ok()),
            })),
            (None, Some(_)) => Err(StoreError::BinaryValue {
                secret_id: secret_id.to_owned(),
                version: output
                    .version_id
                    .unwrap_or_else(|| selector.stage.to_owned()),
            }),
            (None, None) => Ok(None),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretText,
    ) -> Result<(), StoreError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value.expose())
            .version_stages(super::guard::AWSPENDING)
            .send()
            .await
            .map_err(|error| api_error("PutSecretValue", secret_id, &error))?;
        Ok(())
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_move_to_version_id(to.map(str::to_owned))
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map_err(|error| api_error("UpdateSecretVersionStage", secret_id, &error))?;
        Ok(())
    }
}
