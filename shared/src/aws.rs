//! AWS SDK configuration shared by every function.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region and credentials the standard way (in Lambda: the execution role from the
/// environment). `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured, which is how the
/// tests and the local demo point the functions at moto. Retries are adaptive: AWS APIs throttle
/// account-wide, and a rotation or a scan competes with everything else in the account.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(5))
        .load()
        .await
}
