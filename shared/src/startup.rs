//! What every function's `main` does before serving: logs, settings, alert topic, AWS config.

use crate::config::{ConfigError, Env};
use aws_config::SdkConfig;

/// A function's validated start-up state.
pub struct Startup<S> {
    pub settings: S,
    /// `ALERT_TOPIC_ARN`.
    pub alert_topic_arn: String,
    pub sdk: SdkConfig,
}

/// Installs the JSON logs, reads the environment once, validates the function's settings and the
/// alert topic, and loads the AWS configuration. A bad setting is logged, naming the variable,
/// and returned: the function then fails at init instead of at every invocation.
pub async fn start<S>(
    settings: impl FnOnce(&Env) -> Result<S, ConfigError>,
) -> Result<Startup<S>, ConfigError> {
    crate::logging::init();
    let env = Env::from_process();
    let validated =
        settings(&env).and_then(|settings| Ok((settings, crate::alert::topic_arn_from_env(&env)?)));
    let (settings, alert_topic_arn) = validated.inspect_err(|error| {
        tracing::error!(%error, "invalid configuration; the function cannot start");
    })?;
    Ok(Startup {
        settings,
        alert_topic_arn,
        sdk: crate::aws::load_sdk_config().await,
    })
}
