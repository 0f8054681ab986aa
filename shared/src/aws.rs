//! AWS SDK configuration shared by every function.

use crate::config::{ConfigError, Env};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// Attempts per call when `AWS_MAX_ATTEMPTS` is unset.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The SDK's standard retry settings, read from the snapshot like every other setting:
/// `AWS_RETRY_MODE` (`adaptive` by default: AWS APIs throttle account-wide, and a rotation or a
/// scan competes with everything else in the account; `standard`; `legacy` means `standard` in
/// this SDK) and `AWS_MAX_ATTEMPTS` (5; 1 turns retries off).
pub fn retry_config(env: &Env) -> Result<RetryConfig, ConfigError> {
    let base = match env
        .string_or("AWS_RETRY_MODE", "adaptive")
        .to_ascii_lowercase()
        .as_str()
    {
        "adaptive" => RetryConfig::adaptive(),
        "standard" | "legacy" => RetryConfig::standard(),
        other => {
            return Err(ConfigError::Invalid {
                name: "AWS_RETRY_MODE",
                reason: format!("expected adaptive, standard or legacy, got {other:?}"),
            })
        }
    };
    let attempts = env.number_or("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 20)?;
    Ok(base.with_max_attempts(attempts))
}

/// How long one attempt of an AWS call may wait for its answer. Without a bound, a connection
/// that goes silent (no answer, no reset) holds the function until Lambda kills it, and nothing
/// reports the failure; every API these functions call answers in well under a second.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one AWS call may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads region and credentials the standard way (in Lambda: the execution role from the
/// environment). `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured, which is how the
/// tests and the local demo point the functions at moto.
pub async fn load_sdk_config(retries: RetryConfig) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retries)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// The account id of an ARN (`arn:partition:service:region:account:...`), if it has one.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|account| crate::identifiers::is_account_id(account))
}

/// The partition a region belongs to, as ARNs spell it.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::retry::RetryMode;

    #[test]
    fn accounts_come_from_arns() {
        let function = "arn:aws:lambda:eu-west-1:111122223333:function:scan";
        assert_eq!(arn_account(function), Some("111122223333"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("not an arn"), None);
    }

    #[test]
    fn regions_map_to_their_partition() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn retries_default_to_adaptive_with_five_attempts_and_follow_the_sdk_settings() {
        let default = retry_config(&Env::default()).unwrap();
        assert_eq!(
            (default.mode(), default.max_attempts()),
            (RetryMode::Adaptive, 5)
        );
        let chosen = retry_config(&Env::from_pairs([
            ("AWS_RETRY_MODE", "standard"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ]))
        .unwrap();
        assert_eq!(
            (chosen.mode(), chosen.max_attempts()),
            (RetryMode::Standard, 1)
        );
        for (name, value) in [
            ("AWS_RETRY_MODE", "eager"),
            ("AWS_MAX_ATTEMPTS", "0"),
            ("AWS_MAX_ATTEMPTS", "many"),
        ] {
            assert!(
                matches!(
                    retry_config(&Env::from_pairs([(name, value)])),
                    Err(ConfigError::Invalid { name: n, .. }) if n == name
                ),
                "{name}={value}"
            );
        }
    }
}
