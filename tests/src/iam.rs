//! Reading IAM state in moto, for assertions.

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
