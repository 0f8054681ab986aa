//! What every function's `main` does before serving: logs, settings, alert topic, AWS config.

use crate::config::{ConfigError, Env};
use aws_config::SdkConfig;

/// A function's validated start-up state.
pub struct Startup<S> {
    pub settings: S,
    /// `ALERT_TOPIC_ARN`.
    pub alert_topic_arn: String,
    pub sdk: SdkConfig,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda; `local` outside it): who acts, in the session
    /// names of assumed roles.
    pub function_name: String,
    /// `SECURITY_HUB_FINDINGS` (false): publish findings to Security Hub.
    pub security_hub: bool,
}

/// Installs the JSON logs, reads the environment once, validates the function's settings, the
/// alert topic and the SDK's retry settings, and loads the AWS configuration. A bad setting is
/// logged as one JSON line naming the variable, and the process exits non-zero: the function
/// fails at init instead of at every invocation, and nothing else is printed (returning the error
/// from `main` would add a plain-text `Error: ...` line).
pub async fn start<S>(settings: impl FnOnce(&Env) -> Result<S, ConfigError>) -> Startup<S> {
    crate::logging::init();
    let env = Env::from_process();
    let validated = settings(&env).and_then(|settings| {
        Ok((
            settings,
            crate::alert::topic_arn_from_env(&env)?,
            crate::aws::retry_config(&env)?,
            crate::findings::aws::enabled_from_env(&env)?,
        ))
    });
    match validated {
        Ok((settings, alert_topic_arn, retries, security_hub)) => Startup {
            settings,
            alert_topic_arn,
            sdk: crate::aws::load_sdk_config(retries).await,
            function_name: env.string_or("AWS_LAMBDA_FUNCTION_NAME", "local"),
            security_hub,
        },
        Err(error) => {
            tracing::error!(%error, "invalid configuration; the function cannot start");
            std::process::exit(1)
        }
    }
}
