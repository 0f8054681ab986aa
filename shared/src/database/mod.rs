//! Database logins (PostgreSQL, MySQL, MariaDB) in the RDS secret convention: the secret
//! ([`secret`]), how connections are secured ([`tls`]), and the rotation of a login over any
//! engine's adapter ([`login`]).

pub mod login;
pub mod secret;
pub mod tls;

use crate::alert::SnsAlerts;
use crate::config::{ConfigError, Env};
use crate::password::PasswordPolicy;
use crate::rotation::{RotationFunction, Rotator, SecretsManagerStore};
use login::{Database, DatabaseLogin, Settings};
use secret::EngineFamily;

/// What a database function's `main` does: reads the settings every database function shares
/// and the engine adapter's own (`adapter_settings`), builds the adapter and the clients once,
/// and serves the Lambda Runtime API.
pub async fn serve<C, D: Database>(
    family: EngineFamily,
    adapter_settings: impl FnOnce(&Env) -> Result<C, ConfigError>,
    adapter: impl FnOnce(C) -> D,
) -> Result<(), lambda_runtime::Error> {
    let started = crate::startup::start(|env| {
        Ok((
            Settings::from_env(env)?,
            adapter_settings(env)?,
            PasswordPolicy::from_env(env)?,
        ))
    })
    .await;
    let (settings, database, policy) = started.settings;
    let secrets = || SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&started.sdk));
    let database = adapter(database);
    database.prepare_first_login();
    let target = DatabaseLogin::new(family, database, secrets(), policy, settings);
    let function = RotationFunction::new(
        Rotator::new(secrets(), target),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
        crate::findings::aws::SecurityHub::when_enabled(started.security_hub, &started.sdk),
    );
    lambda_runtime::run(lambda_runtime::service_fn(|event| function.handle(event))).await
}
