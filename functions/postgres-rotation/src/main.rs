//! PostgreSQL login rotation: wires settings, the database adapter and AWS clients, then serves
//! the Lambda Runtime API. Settings (environment, read once here):
//! - `ALERT_TOPIC_ARN` (required): SNS topic for failure alerts.
//! - `ROTATION_STRATEGY` (`auto`: alternating users when the secret has `masterarn`; `single`;
//!   `alternating`), `DB_READY_TIMEOUT` (30s).
//! - `DB_TLS` (`verify-full`; `disable`), `DB_CA_BUNDLE` (none), `DB_CONNECT_TIMEOUT` (5s),
//!   `DB_STATEMENT_TIMEOUT` (30s).
//! - The password settings of every rotation function (`PASSWORD_LENGTH`, `EXCLUDE_*`, ...).
//! - `LOG_LEVEL` (info).

mod db;
mod sql;

use db::{Postgres, PostgresSettings};
use lambda_runtime::service_fn;
use shared::alert::SnsAlerts;
use shared::config::{ConfigError, Env};
use shared::database::login::{DatabaseLogin, Settings};
use shared::database::secret::EngineFamily;
use shared::password::PasswordPolicy;
use shared::rotation::{RotationFunction, Rotator, SecretsManagerStore};

struct Configuration {
    settings: Settings,
    database: PostgresSettings,
    policy: PasswordPolicy,
}

fn configuration(env: &Env) -> Result<Configuration, ConfigError> {
    Ok(Configuration {
        settings: Settings::from_env(env)?,
        database: PostgresSettings::from_env(env)?,
        policy: PasswordPolicy::from_env(env)?,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = shared::startup::start(configuration).await;
    let Configuration {
        settings,
        database,
        policy,
    } = started.settings;
    let secrets = || SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&started.sdk));
    let target = DatabaseLogin::new(
        EngineFamily::Postgres,
        Postgres::new(database),
        secrets(),
        policy,
        settings,
    );
    let function = RotationFunction::new(
        Rotator::new(secrets(), target),
        SnsAlerts::new(
            aws_sdk_sns::Client::new(&started.sdk),
            started.alert_topic_arn,
        ),
    );
    lambda_runtime::run(service_fn(|event| function.handle(event))).await
}
