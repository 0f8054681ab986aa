//! Proving a new access key works: STS `GetCallerIdentity` signed with it, retried while IAM
//! propagates the key (bounded, with backoff, never a fixed sleep).

use crate::secret::SecretText;
use aws_sdk_sts::config::Credentials;
use std::future::Future;
use std::time::Duration;

pub trait IdentityCheck: Send + Sync {
    /// The ARN the key authenticates as, or why it does not.
    fn caller_arn(
        &self,
        key_id: &str,
        secret: &SecretText,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

pub struct StsIdentity {
    sdk: aws_config::SdkConfig,
}

impl StsIdentity {
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        Self { sdk }
    }
}

impl IdentityCheck for StsIdentity {
    async fn caller_arn(&self, key_id: &str, secret: &SecretText) -> Result<String, String> {
        let credentials = Credentials::new(key_id, secret.expose(), None, None, "key-under-test");
        let config = aws_sdk_sts::config::Builder::from(&self.sdk)
            .credentials_provider(credentials)
            .build();
        let output = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_sdk_sts::error::DisplayErrorContext(&e).to_string())?;
        output
            .arn
            .ok_or_else(|| "GetCallerIdentity returned no ARN".to_owned())
    }
}

/// Whether an ARN is IAM user `user`'s (`arn:<partition>:iam::<account>:user/<path>/<user>`).
pub fn is_user_arn(arn: &str, user: &str) -> bool {
    let Some((prefix, path_and_name)) = arn.split_once(":user/") else {
        return false;
    };
    prefix.starts_with("arn:")
        && prefix.contains(":iam::")
        && path_and_name.rsplit('/').next() == Some(user)
}

/// Tries until the key authenticates as `user` or the budget is spent; the last failure is the
/// error.
pub async fn verify_key(
    check: &impl IdentityCheck,
    user: &str,
    key_id: &str,
    secret: &SecretText,
    budget: Duration,
) -> Result<String, String> {
    let mut delays = crate::retry::backoff(budget).into_iter();
    loop {
        let failure = match check.caller_arn(key_id, secret).await {
            Ok(arn) if is_user_arn(&arn, user) => return Ok(arn),
            Ok(arn) => format!("the key authenticates as {arn}, not as IAM user {user}"),
            Err(error) => error,
        };
        match delays.next() {
            Some(delay) => {
                tracing::info!(user, %failure, retry_in_ms = delay.as_millis() as u64, "new key not accepted yet");
                tokio::time::sleep(delay).await;
            }
            None => return Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arns_match_by_final_path_segment() {
        assert!(is_user_arn("arn:aws:iam::123456789012:user/alice", "alice"));
        assert!(is_user_arn(
            "arn:aws-us-gov:iam::123456789012:user/apps/team/alice",
            "alice"
        ));
        assert!(!is_user_arn(
            "arn:aws:iam::123456789012:user/malice",
            "alice"
        ));
        assert!(!is_user_arn("arn:aws:sts::123456789012:user/moto", "moto"));
        assert!(!is_user_arn(
            "arn:aws:sts::123456789012:assumed-role/r/alice",
            "alice"
        ));
    }

    struct Answers(std::sync::Mutex<Vec<Result<String, String>>>);

    impl IdentityCheck for Answers {
        async fn caller_arn(&self, _: &str, _: &SecretText) -> Result<String, String> {
            self.0
                .lock()
                .map(|mut a| a.remove(0))
                .unwrap_or_else(|_| Err("poisoned".into()))
        }
    }

    #[tokio::test]
    async fn verification_retries_until_the_key_is_accepted_or_time_runs_out() {
        let secret = SecretText::new("s");
        let eventually = Answers(std::sync::Mutex::new(vec![
            Err("InvalidClientTokenId".into()),
            Ok("arn:aws:iam::1:user/other".into()),
            Ok("arn:aws:iam::1:user/alice".into()),
        ]));
        assert_eq!(
            verify_key(&eventually, "alice", "K", &secret, Duration::from_secs(10)).await,
            Ok("arn:aws:iam::1:user/alice".into())
        );
        let never = Answers(std::sync::Mutex::new(vec![
            Err("InvalidClientTokenId".into());
            3
        ]));
        assert_eq!(
            verify_key(&never, "alice", "K", &secret, Duration::from_millis(800)).await,
            Err("InvalidClientTokenId".into())
        );
    }
}
