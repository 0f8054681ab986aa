//! IAM state in moto: users with keys to rotate, and reading keys back for assertions.

use crate::Result;

/// A user's keys as (key id, active), oldest first.
pub async fn access_keys(iam: &aws_sdk_iam::Client, user: &str) -> Result<Vec<(String, bool)>> {
    let mut keys = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await?
        .access_key_metadata;
    keys.sort_by_key(|k| k.create_date.map(|d| d.as_nanos()));
    Ok(keys
        .into_iter()
        .map(|k| {
            (
                k.access_key_id.unwrap_or_default(),
                k.status == Some(aws_sdk_iam::types::StatusType::Active),
            )
        })
        .collect())
}

/// A new user with one access key, and a secret (named from `prefix`) holding that key in the
/// user key rotation function's format; returns the secret's ARN.
pub async fn user_with_key_secret(
    iam: &aws_sdk_iam::Client,
    sm: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<String> {
    let user = crate::moto::unique_name(&format!("{prefix}-user"));
    iam.create_user().user_name(&user).send().await?;
    let key = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await?
        .access_key
        .ok_or("CreateAccessKey returned no key")?;
    let value = serde_json::json!({"UserName": user, "AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key});
    crate::rotation::create_secret(sm, prefix, &value).await
}
