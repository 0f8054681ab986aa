//! MySQL and MariaDB login rotation: this engine's adapter, served by
//! `shared::database::serve` (settings, clients, the Lambda Runtime API). Settings (environment,
//! read once at start), the same as `postgres-rotation`'s:
//! - `ALERT_TOPIC_ARN` (required): SNS topic for failure alerts.
//! - `ROTATION_STRATEGY` (`auto`: alternating users when the secret has `masterarn`; `single`;
//!   `alternating`), `DB_READY_TIMEOUT` (30s).
//! - `DB_TLS` (`verify-full`; `disable`), `DB_CA_BUNDLE` (none), `DB_CONNECT_TIMEOUT` (5s),
//!   `DB_STATEMENT_TIMEOUT` (30s).
//! - The password settings of every rotation function (`PASSWORD_LENGTH`, `EXCLUDE_*`, ...).
//! - `SECURITY_HUB_FINDINGS` (false): a finding per secret whose rotation failed, resolved by
//!   the next rotation that finishes.
//! - `LOG_LEVEL` (info).

mod db;
mod hash;
mod sql;

use db::{MySql, MySqlSettings};
use shared::database::secret::EngineFamily;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::database::serve(EngineFamily::MySql, MySqlSettings::from_env, MySql::new).await
}
