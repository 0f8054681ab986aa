//! PostgreSQL login rotation on the shared protocol, single user or alternating users.
//!
//! - createSecret copies `AWSCURRENT`, replaces the password (and, alternating, switches the user
//!   name `name` <-> `name_clone`).
//! - setSecret, single user: log in with `AWSCURRENT` and change the password; if it does not
//!   log in, the pending password may already work (an earlier attempt), else log in with
//!   `AWSPREVIOUS` (reporting the first error if both fail) and change it. Alternating: prove the current user can log in, then as the master
//!   user create or update the other user (see [`Database::prepare_alternate`]).
//! - testSecret logs in with the pending secret, retrying with backoff until the server accepts
//!   it (bounded by `DB_READY_TIMEOUT`).
//!
//! At every moment the password the database accepts for the user is `AWSCURRENT`'s or
//! `AWSPENDING`'s: the database changes only after the pending value is stored, and a retry
//! finds the change already made.

use crate::db::{Database, DbError, Login};
use crate::secret::{alternate_user, DbSecret, SecretError};
use shared::config::{ConfigError, Env};
use shared::password::{PasswordError, PasswordPolicy};
use shared::rotation::{RotationTarget, SecretStore, StoreError, VersionSelector, AWSCURRENT};
use shared::secret::SecretText;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `masterarn` in the secret decides.
    Auto,
    Single,
    Alternating,
}

pub struct Settings {
    pub strategy: Strategy,
    pub ready_timeout: Duration,
}

impl Settings {
    /// `ROTATION_STRATEGY` (`auto`, `single`, `alternating`), `DB_READY_TIMEOUT` (30s).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let strategy = match env.string_or("ROTATION_STRATEGY", "auto").as_str() {
            "auto" => Strategy::Auto,
            "single" => Strategy::Single,
            "alternating" => Strategy::Alternating,
            other => {
                return Err(ConfigError::Invalid {
                    name: "ROTATION_STRATEGY",
                    reason: format!("expected auto, single or alternating, got {other:?}"),
                })
            }
        };
        Ok(Self {
            strategy,
            ready_timeout: Duration::from_secs(env.duration_or("DB_READY_TIMEOUT", 30, 600)? as u64),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PostgresRotationError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot generate a password: {0}")]
    Password(#[from] PasswordError),
    #[error("alternating users needs the secret's masterarn (the ARN of a secret with the master user's login)")]
    NoMasterArn,
    #[error("the master secret {arn} could not be read: {reason}")]
    MasterUnreadable { arn: String, reason: String },
    #[error("the master secret {arn} is invalid: {source}")]
    MasterInvalid { arn: String, source: SecretError },
    #[error("could not log in with AWSCURRENT ({current}){}", previous.as_deref().map(|p| format!(" nor with AWSPREVIOUS ({p})")).unwrap_or_default())]
    NoWorkingLogin {
        current: DbError,
        previous: Option<String>,
    },
    #[error("logged in with AWSCURRENT, but the password change did not take effect (it failed, or the connection broke before it committed): {0}")]
    PasswordChangeFailed(DbError),
    #[error(
        "the current user cannot log in, so the rotation stops before touching the other user: {0}"
    )]
    CurrentUserCannotLogIn(DbError),
    #[error("the database does not accept the pending login: {0}")]
    PendingRejected(DbError),
}

pub struct PostgresLogin<D, S> {
    database: D,
    secrets: S,
    policy: PasswordPolicy,
    settings: Settings,
}

impl<D: Database, S: SecretStore> PostgresLogin<D, S> {
    pub fn new(database: D, secrets: S, policy: PasswordPolicy, settings: Settings) -> Self {
        Self {
            database,
            secrets,
            policy,
            settings,
        }
    }

    fn alternating(&self, secret: &DbSecret) -> bool {
        match self.settings.strategy {
            Strategy::Auto => secret.master_arn.is_some(),
            Strategy::Single => false,
            Strategy::Alternating => true,
        }
    }

    async fn master(&self, user_secret: &DbSecret) -> Result<DbSecret, PostgresRotationError> {
        let arn = user_secret
            .master_arn
            .as_deref()
            .ok_or(PostgresRotationError::NoMasterArn)?;
        let unreadable = |reason: String| PostgresRotationError::MasterUnreadable {
            arn: arn.to_owned(),
            reason,
        };
        let value = self
            .secrets
            .value(
                arn,
                VersionSelector {
                    stage: AWSCURRENT,
                    version_id: None,
                },
            )
            .await
            .map_err(|e: StoreError| unreadable(e.to_string()))?
            .ok_or_else(|| unreadable("it has no AWSCURRENT value".into()))?;
        DbSecret::parse(&value.text).map_err(|source| PostgresRotationError::MasterInvalid {
            arn: arn.to_owned(),
            source,
        })
    }

    async fn set_single(
        &self,
        current: &DbSecret,
        pending: &DbSecret,
        previous: Option<&SecretText>,
    ) -> Result<(), PostgresRotationError> {
        // AWSCURRENT first: on a first attempt it is the login that works, so the change costs
        // one login and no failed one (which would also show in the server's log as a failed
        // authentication). Only when it does not log in may an earlier attempt have made the
        // change already.
        let current_error = match self
            .database
            .set_own_password(&Login::of(current), &pending.password)
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if let DbError::Statement { .. } = current_error {
            // AWSCURRENT logged in; the change failed, or committed and its answer was lost.
            if self.database.check_login(&Login::of(pending)).await.is_ok() {
                tracing::warn!(error = %current_error, "the password change reported an error, but the pending password works");
                return Ok(());
            }
            return Err(PostgresRotationError::PasswordChangeFailed(current_error));
        }
        if self.database.check_login(&Login::of(pending)).await.is_ok() {
            tracing::info!(error = %current_error, "AWSCURRENT no longer logs in and the pending password works: an earlier attempt made the change");
            return Ok(());
        }
        let previous = previous
            .map(DbSecret::parse)
            .transpose()?
            .filter(|p| p.username == current.username && p.host == current.host);
        let Some(previous) = previous else {
            return Err(PostgresRotationError::NoWorkingLogin {
                current: current_error,
                previous: None,
            });
        };
        tracing::warn!(error = %current_error, "AWSCURRENT does not log in; trying AWSPREVIOUS");
        self.database
            .set_own_password(&Login::of(&previous), &pending.password)
            .await
            .map_err(|previous_error| PostgresRotationError::NoWorkingLogin {
                current: current_error,
                previous: Some(previous_error.to_string()),
            })
    }

    async fn set_alternating(
        &self,
        current: &DbSecret,
        pending: &DbSecret,
    ) -> Result<(), PostgresRotationError> {
        // Proof that this secret really holds a working login before acting as master for it;
        // the master secret's read goes out with it (a read, of no use if the proof fails).
        let current_login = Login::of(current);
        let (proof, master) = tokio::join!(
            self.database.check_login(&current_login),
            self.master(current)
        );
        proof.map_err(PostgresRotationError::CurrentUserCannotLogIn)?;
        let master = master?;
        let master_login = Login {
            secret: &master,
            dbname: &current.dbname,
        };
        Ok(self
            .database
            .prepare_alternate(
                &master_login,
                &current.username,
                &pending.username,
                &pending.password,
            )
            .await?)
    }
}

impl<D: Database, S: SecretStore> RotationTarget for PostgresLogin<D, S> {
    type Error = PostgresRotationError;
    const NEEDS_PREVIOUS: bool = true;

    async fn new_pending_value(
        &self,
        current: &SecretText,
    ) -> Result<SecretText, PostgresRotationError> {
        let current = DbSecret::parse(current)?;
        let username = if self.alternating(&current) {
            alternate_user(&current.username)?
        } else {
            current.username.clone()
        };
        Ok(current.with_login(&username, &self.policy.generate()?))
    }

    async fn set_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
        previous: Option<&SecretText>,
    ) -> Result<(), PostgresRotationError> {
        let (current, pending) = (DbSecret::parse(current)?, DbSecret::parse(pending)?);
        let alternating = self.alternating(&current);
        current.check_same_target(&pending, !alternating)?;
        if alternating {
            self.set_alternating(&current, &pending).await
        } else {
            self.set_single(&current, &pending, previous).await
        }
    }

    async fn test_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
    ) -> Result<(), PostgresRotationError> {
        let (current, pending) = (DbSecret::parse(current)?, DbSecret::parse(pending)?);
        current.check_same_target(&pending, !self.alternating(&current))?;
        let mut delays = shared::retry::backoff(self.settings.ready_timeout).into_iter();
        loop {
            match self.database.check_login(&Login::of(&pending)).await {
                Ok(()) => return Ok(()),
                Err(error) => match delays.next() {
                    Some(delay) => {
                        tracing::info!(%error, retry_in_ms = delay.as_millis() as u64, "pending login not accepted yet");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(PostgresRotationError::PendingRejected(error)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_choose_the_strategy_and_bound_the_wait() {
        let settings = Settings::from_env(&Env::default()).unwrap();
        assert_eq!(
            (settings.strategy, settings.ready_timeout),
            (Strategy::Auto, Duration::from_secs(30))
        );
        let forced = Settings::from_env(&Env::from_pairs([
            ("ROTATION_STRATEGY", "alternating"),
            ("DB_READY_TIMEOUT", "5s"),
        ]))
        .unwrap();
        assert_eq!(
            (forced.strategy, forced.ready_timeout),
            (Strategy::Alternating, Duration::from_secs(5))
        );
        assert!(matches!(
            Settings::from_env(&Env::from_pairs([("ROTATION_STRATEGY", "both")])),
            Err(ConfigError::Invalid {
                name: "ROTATION_STRATEGY",
                ..
            })
        ));
    }
}
