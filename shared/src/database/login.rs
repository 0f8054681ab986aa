//! Rotation of a database login on the shared protocol, for every engine: the engine's SQL lives
//! in its adapter behind [`Database`].
//!
//! - createSecret copies `AWSCURRENT`, replaces the password (and, alternating, switches the user
//!   name `name` <-> `name_clone`, within the engine's limit for user names).
//! - setSecret, single user: log in with `AWSCURRENT` and change the password; if it does not
//!   log in, the pending password may already work (an earlier attempt), else log in with
//!   `AWSPREVIOUS` (reporting the first error if both fail) and change it. Alternating: prove the
//!   current user can log in, then as the master user create or update the other user (see
//!   [`Database::prepare_alternate`]).
//! - testSecret logs in with the pending secret, retrying with backoff until the server accepts
//!   it (bounded by `DB_READY_TIMEOUT`).
//!
//! At every moment the password the database accepts for the user is `AWSCURRENT`'s or
//! `AWSPENDING`'s: the database changes only after the pending value is stored, and a retry
//! finds the change already made.

use super::secret::{alternate_user, DbSecret, EngineFamily, SecretError};
use crate::config::{ConfigError, Env};
use crate::password::{PasswordError, PasswordPolicy};
use crate::rotation::{
    PreviousValue, RotationTarget, SecretStore, StoreError, VersionSelector, AWSCURRENT,
};
use crate::secret::SecretText;
use std::future::Future;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not log in as {user} to {target}: {message}")]
    Login {
        user: String,
        /// `host:port/dbname`.
        target: String,
        message: String,
    },
    #[error("{action} as {user} failed: {message}")]
    Statement {
        action: &'static str,
        user: String,
        message: String,
    },
    /// The account cannot be rotated as it is (for example, an authentication plugin without a
    /// password); nothing was changed.
    #[error("{0}")]
    Unsupported(String),
}

/// One login: where, as whom, with which password.
pub struct Login<'a> {
    pub secret: &'a DbSecret,
    /// The database to connect to (the managed user's, even for the master login).
    pub dbname: Option<&'a str>,
}

impl<'a> Login<'a> {
    pub fn of(secret: &'a DbSecret) -> Self {
        Self {
            secret,
            dbname: secret.dbname.as_deref(),
        }
    }

    pub fn failed(&self, message: String) -> DbError {
        DbError::Login {
            user: self.secret.username.clone(),
            target: self.secret.target(self.dbname),
            message,
        }
    }
}

/// What a rotation needs of a database server.
pub trait Database: Send + Sync {
    /// Logs in and runs a trivial query.
    fn check_login(&self, login: &Login<'_>) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Logs in and sets the login's own password (single-user rotation).
    fn set_own_password(
        &self,
        login: &Login<'_>,
        password: &SecretText,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// As the master user: the pending user exists with the new password and, if it is the
    /// clone, has exactly the original user's privileges (alternating-users rotation). How is
    /// the engine's: see its adapter.
    fn prepare_alternate(
        &self,
        master: &Login<'_>,
        current_user: &str,
        pending_user: &str,
        password: &SecretText,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Starts, off the critical path, what the first login would otherwise wait for (the
    /// trusted roots). Called once, before the first event.
    fn prepare_first_login(&self) {}
}

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

/// `DB_CONNECT_TIMEOUT` (5s): the whole login, TCP to authentication; `DB_STATEMENT_TIMEOUT`
/// (30s): each statement, on the server and (with a few seconds' slack) on this side.
pub fn timeouts(env: &Env) -> Result<(Duration, Duration), ConfigError> {
    Ok((
        Duration::from_secs(env.duration_or("DB_CONNECT_TIMEOUT", 5, 300)? as u64),
        Duration::from_secs(env.duration_or("DB_STATEMENT_TIMEOUT", 30, 3600)? as u64),
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseRotationError {
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
    #[error("could not log in with AWSCURRENT ({current}), and AWSPREVIOUS, the login left to try, could not be read: {source}")]
    PreviousUnreadable {
        current: DbError,
        source: StoreError,
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

/// The rotation target of a database login: the protocol's steps over [`Database`].
pub struct DatabaseLogin<D, S> {
    family: EngineFamily,
    database: D,
    secrets: S,
    policy: PasswordPolicy,
    settings: Settings,
}

impl<D: Database, S: SecretStore> DatabaseLogin<D, S> {
    pub fn new(
        family: EngineFamily,
        database: D,
        secrets: S,
        policy: PasswordPolicy,
        settings: Settings,
    ) -> Self {
        Self {
            family,
            database,
            secrets,
            policy,
            settings,
        }
    }

    fn parse(&self, value: &SecretText) -> Result<DbSecret, SecretError> {
        DbSecret::parse(value, self.family)
    }

    fn alternating(&self, secret: &DbSecret) -> bool {
        match self.settings.strategy {
            Strategy::Auto => secret.master_arn.is_some(),
            Strategy::Single => false,
            Strategy::Alternating => true,
        }
    }

    async fn master(&self, user_secret: &DbSecret) -> Result<DbSecret, DatabaseRotationError> {
        let arn = user_secret
            .master_arn
            .as_deref()
            .ok_or(DatabaseRotationError::NoMasterArn)?;
        let unreadable = |reason: String| DatabaseRotationError::MasterUnreadable {
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
        DbSecret::parse_master(&value.text, user_secret, self.family).map_err(|source| {
            DatabaseRotationError::MasterInvalid {
                arn: arn.to_owned(),
                source,
            }
        })
    }

    async fn set_single(
        &self,
        current: &DbSecret,
        pending: &DbSecret,
        previous: PreviousValue<'_>,
    ) -> Result<(), DatabaseRotationError> {
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
        if !matches!(current_error, DbError::Login { .. }) {
            // AWSCURRENT logged in; the change failed, or committed and its answer was lost.
            if self.database.check_login(&Login::of(pending)).await.is_ok() {
                tracing::warn!(error = %current_error, "the password change reported an error, but the pending password works");
                return Ok(());
            }
            return Err(DatabaseRotationError::PasswordChangeFailed(current_error));
        }
        if self.database.check_login(&Login::of(pending)).await.is_ok() {
            tracing::info!(error = %current_error, "AWSCURRENT no longer logs in and the pending password works: an earlier attempt made the change");
            return Ok(());
        }
        let previous = match previous.read().await {
            Ok(previous) => previous,
            Err(source) => {
                return Err(DatabaseRotationError::PreviousUnreadable {
                    current: current_error,
                    source,
                })
            }
        };
        let previous = previous
            .map(|p| self.parse(&p))
            .transpose()?
            .filter(|p| p.username == current.username && p.host == current.host);
        let Some(previous) = previous else {
            return Err(DatabaseRotationError::NoWorkingLogin {
                current: current_error,
                previous: None,
            });
        };
        tracing::warn!(error = %current_error, "AWSCURRENT does not log in; trying AWSPREVIOUS");
        self.database
            .set_own_password(&Login::of(&previous), &pending.password)
            .await
            .map_err(|previous_error| DatabaseRotationError::NoWorkingLogin {
                current: current_error,
                previous: Some(previous_error.to_string()),
            })
    }

    async fn set_alternating(
        &self,
        current: &DbSecret,
        pending: &DbSecret,
    ) -> Result<(), DatabaseRotationError> {
        // Proof that this secret really holds a working login before acting as master for it;
        // the master secret's read goes out with it (a read, of no use if the proof fails).
        let current_login = Login::of(current);
        let (proof, master) = tokio::join!(
            self.database.check_login(&current_login),
            self.master(current)
        );
        proof.map_err(DatabaseRotationError::CurrentUserCannotLogIn)?;
        let master = master?;
        Ok(self
            .database
            .prepare_alternate(
                &Login::of(&master),
                &current.username,
                &pending.username,
                &pending.password,
            )
            .await?)
    }
}

impl<D: Database, S: SecretStore> RotationTarget for DatabaseLogin<D, S> {
    type Error = DatabaseRotationError;

    async fn new_pending_value(
        &self,
        current: &SecretText,
    ) -> Result<SecretText, DatabaseRotationError> {
        let current = self.parse(current)?;
        let username = if self.alternating(&current) {
            alternate_user(&current.username, current.engine.name_limit())?
        } else {
            current.username.clone()
        };
        Ok(current.with_login(&username, &self.policy.generate()?))
    }

    async fn set_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
        previous: PreviousValue<'_>,
    ) -> Result<(), DatabaseRotationError> {
        let (current, pending) = (self.parse(current)?, self.parse(pending)?);
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
    ) -> Result<(), DatabaseRotationError> {
        let (current, pending) = (self.parse(current)?, self.parse(pending)?);
        current.check_same_target(&pending, !self.alternating(&current))?;
        let mut delays = crate::retry::backoff(self.settings.ready_timeout).into_iter();
        loop {
            match self.database.check_login(&Login::of(&pending)).await {
                Ok(()) => return Ok(()),
                Err(error) => match delays.next() {
                    Some(delay) => {
                        tracing::info!(%error, retry_in_ms = delay.as_millis() as u64, "pending login not accepted yet");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(DatabaseRotationError::PendingRejected(error)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::SecretsManagerStore;
    use aws_smithy_mocks::mock_client;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server whose user `app` logs in with one password only; a password change always fails.
    struct Server {
        password: &'static str,
    }

    impl Server {
        fn log_in(&self, login: &Login<'_>) -> Result<(), DbError> {
            if login.secret.password.expose() == self.password {
                Ok(())
            } else {
                Err(login.failed("password authentication failed".into()))
            }
        }
    }

    impl Database for Server {
        async fn check_login(&self, login: &Login<'_>) -> Result<(), DbError> {
            self.log_in(login)
        }
        async fn set_own_password(&self, login: &Login<'_>, _: &SecretText) -> Result<(), DbError> {
            self.log_in(login)?;
            Err(DbError::Unsupported("the change is refused".into()))
        }
        async fn prepare_alternate(
            &self,
            _: &Login<'_>,
            _: &str,
            _: &str,
            _: &SecretText,
        ) -> Result<(), DbError> {
            Err(DbError::Unsupported("single user only".into()))
        }
    }

    fn secret(password: &str) -> SecretText {
        SecretText::new(format!(
            r#"{{"engine":"postgres","host":"db.example","username":"app","password":"{password}"}}"#
        ))
    }

    /// setSecret of a single user from `cur-Passw0rd` to `new-Passw0rd` on a server where `app`
    /// logs in with `password` only.
    async fn set_on_server(
        password: &'static str,
        previous: PreviousValue<'_>,
    ) -> Result<(), DatabaseRotationError> {
        let login = DatabaseLogin::new(
            EngineFamily::Postgres,
            Server { password },
            SecretsManagerStore::new(mock_client!(aws_sdk_secretsmanager, [])),
            PasswordPolicy::from_env(&Env::default()).unwrap(),
            Settings::from_env(&Env::default()).unwrap(),
        );
        login
            .set_pending(&secret("cur-Passw0rd"), &secret("new-Passw0rd"), previous)
            .await
    }

    #[tokio::test]
    async fn set_secret_reads_the_previous_value_only_when_neither_current_nor_pending_logs_in() {
        let reads = AtomicUsize::new(0);
        let previous = || {
            PreviousValue::new(async {
                reads.fetch_add(1, Ordering::Relaxed);
                Ok(Some(secret("old-Passw0rd")))
            })
        };
        // AWSCURRENT logs in (the change itself is refused here): AWSPREVIOUS is never read.
        let error = set_on_server("cur-Passw0rd", previous()).await.unwrap_err();
        assert!(
            matches!(error, DatabaseRotationError::PasswordChangeFailed(_)),
            "{error}"
        );
        // The pending password already works: an earlier attempt made the change.
        set_on_server("new-Passw0rd", previous()).await.unwrap();
        assert_eq!(reads.load(Ordering::Relaxed), 0);
        // Only AWSPREVIOUS logs in: it is read, and the change is made with it.
        let error = set_on_server("old-Passw0rd", previous()).await.unwrap_err();
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        assert!(
            matches!(&error, DatabaseRotationError::NoWorkingLogin { previous: Some(p), .. } if p.contains("the change is refused")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_previous_value_that_cannot_be_read_is_reported_with_why_current_failed() {
        let unreadable = PreviousValue::new(async {
            Err(StoreError::Api {
                operation: "GetSecretValue",
                secret_id: "db-secret".into(),
                message: "Rate exceeded".into(),
            })
        });
        let error = set_on_server("elsewhere-Passw0rd", unreadable)
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            DatabaseRotationError::PreviousUnreadable { .. }
        ));
        let text = error.to_string();
        assert!(
            text.contains("could not log in as app") && text.contains("Rate exceeded"),
            "{text}"
        );
        assert!(
            !text.contains("cur-Passw0rd") && !text.contains("new-Passw0rd"),
            "{text}"
        );
    }

    #[test]
    fn settings_choose_the_strategy_and_bound_the_waits() {
        let settings = Settings::from_env(&Env::default()).unwrap();
        assert_eq!(
            (settings.strategy, settings.ready_timeout),
            (Strategy::Auto, Duration::from_secs(30))
        );
        assert_eq!(
            timeouts(&Env::default()).unwrap(),
            (Duration::from_secs(5), Duration::from_secs(30))
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
