//! The database port and its PostgreSQL adapter: connections over verified TLS (rustls; system
//! roots plus an optional CA bundle) unless a secret or the setting explicitly disables TLS.

use crate::sql;
use shared::config::{ConfigError, Env};
use shared::database::login::{timeouts, Database, DbError, Login};
use shared::database::secret::base_user;
use shared::database::tls::TlsSettings;
use shared::secret::SecretText;
use shared::text::with_causes;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The database a login connects to when its secret names none.
const DEFAULT_DBNAME: &str = "postgres";

pub struct PostgresSettings {
    pub tls: TlsSettings,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// TLS settings up to the roots, checked at start-up.
    tls_config: rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>,
    /// Built at the first TLS connection, with the roots (see [`TlsSettings::roots`]).
    connector: std::sync::OnceLock<MakeRustlsConnect>,
}

impl PostgresSettings {
    /// `DB_TLS`, `DB_CA_BUNDLE`, `DB_CONNECT_TIMEOUT`, `DB_STATEMENT_TIMEOUT` (see
    /// [`TlsSettings::from_env`] and [`timeouts`]).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (connect_timeout, statement_timeout) = timeouts(env)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::Invalid {
                name: "DB_TLS",
                reason: e.to_string(),
            })?;
        Ok(Self {
            tls: TlsSettings::from_env(env)?,
            connect_timeout,
            statement_timeout,
            tls_config,
            connector: std::sync::OnceLock::new(),
        })
    }

    fn connector(&self) -> MakeRustlsConnect {
        self.connector
            .get_or_init(|| {
                MakeRustlsConnect::new(
                    self.tls_config
                        .clone()
                        .with_root_certificates(self.tls.root_store())
                        .with_no_client_auth(),
                )
            })
            .clone()
    }
}

pub struct Postgres {
    settings: PostgresSettings,
}

impl Postgres {
    pub fn new(settings: PostgresSettings) -> Self {
        Self { settings }
    }

    async fn connect(&self, login: &Login<'_>) -> Result<Session, DbError> {
        let secret = login.secret;
        let mut config = Config::new();
        config
            .host(&secret.host)
            .port(secret.port)
            .dbname(login.dbname.unwrap_or(DEFAULT_DBNAME))
            .user(&secret.username)
            .password(secret.password.expose())
            .application_name("credential-rotation")
            .connect_timeout(self.settings.connect_timeout)
            .options(format!(
                "-c statement_timeout={}",
                self.settings.statement_timeout.as_millis()
            ));
        let failed = |e: tokio_postgres::Error| login.failed(with_causes(&e));
        // The whole login (TCP, TLS, startup, authentication) is bounded: a server that accepts
        // the connection and never answers must not hold the function until Lambda kills it.
        let connecting = async {
            if self.settings.tls.plaintext(secret) {
                config.ssl_mode(SslMode::Disable);
                let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
                Ok(Session::new(client, connection))
            } else {
                config.ssl_mode(SslMode::Require);
                let (client, connection) = config
                    .connect(self.settings.connector())
                    .await
                    .map_err(failed)?;
                Ok(Session::new(client, connection))
            }
        };
        let limit = self.settings.connect_timeout;
        tokio::time::timeout(limit, connecting)
            .await
            .unwrap_or_else(|_| {
                Err(login.failed(format!(
                    "no answer within {}s (DB_CONNECT_TIMEOUT) while connecting, setting up TLS or authenticating",
                    limit.as_secs()
                )))
            })
    }

    /// Runs one exchange with the server, bounded on this side too: the server's
    /// `statement_timeout` cannot end a wait for an answer the network lost.
    async fn bounded<T>(
        &self,
        action: &'static str,
        user: &str,
        exchange: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, DbError> {
        let limit = self.settings.statement_timeout + STATEMENT_SLACK;
        match tokio::time::timeout(limit, exchange).await {
            Ok(result) => result.map_err(|e| DbError::Statement {
                action,
                user: user.to_owned(),
                message: with_causes(&e),
            }),
            Err(_) => Err(DbError::Statement {
                action,
                user: user.to_owned(),
                message: format!(
                    "no answer within {}s (DB_STATEMENT_TIMEOUT plus {}s): the connection went silent, so whether it took effect is unknown",
                    limit.as_secs(),
                    STATEMENT_SLACK.as_secs()
                ),
            }),
        }
    }
}

/// A logged-in connection. Closed explicitly, so the server ends the backend at once and nothing
/// of this login is still on the wire when the next step begins.
struct Session {
    client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Session {
    fn new<F>(client: Client, connection: F) -> Self
    where
        F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    {
        Self {
            client,
            connection: tokio::spawn(async move {
                let _ = connection.await;
            }),
        }
    }

    /// Sends `Terminate` and waits (briefly) for the connection to end.
    async fn close(self) {
        drop(self.client);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.connection).await;
    }
}

/// The new password's SCRAM-SHA-256 verifier (4,096 HMAC-SHA-256 rounds, over a millisecond),
/// computed on a thread of its own while the login it is sent over is made, instead of after it.
fn verifier_alongside(
    password: &SecretText,
    user: &str,
) -> impl Future<Output = Result<String, DbError>> {
    let password = password.clone();
    let computing = tokio::task::spawn_blocking(move || sql::verifier(&password));
    let user = user.to_owned();
    async move {
        computing.await.map_err(|e| DbError::Statement {
            action: "computing the new password's verifier",
            user,
            message: e.to_string(),
        })
    }
}

/// How much longer than the server's own `statement_timeout` the function waits for an answer
/// before it gives up on the connection.
const STATEMENT_SLACK: Duration = Duration::from_secs(5);

impl Postgres {
    /// The alternating-users change, in one transaction on the master's connection.
    async fn prepare_alternate_in(
        &self,
        client: &mut Client,
        master_user: &str,
        current_user: &str,
        pending_user: &str,
        verifier: &str,
    ) -> Result<(), DbError> {
        let original = base_user(current_user);
        let transaction = self
            .bounded("starting a transaction", master_user, client.transaction())
            .await?;
        let pending_exists = self
            .bounded(
                "looking up the pending user",
                master_user,
                transaction.query_opt(
                    "SELECT 1 FROM pg_roles WHERE rolname = $1",
                    &[&pending_user],
                ),
            )
            .await?
            .is_some();
        let login = if pending_exists {
            sql::set_password(pending_user, verifier)
        } else {
            sql::create_login(pending_user, verifier)
        };
        self.bounded(
            "setting the pending user's login",
            master_user,
            transaction.batch_execute(&login),
        )
        .await?;
        if pending_user != original {
            // Re-applied on every rotation: a clone altered by hand is put back.
            self.bounded(
                "making the clone a member of the original user",
                master_user,
                transaction.batch_execute(&sql::grant(original, pending_user)),
            )
            .await?;
            self.bounded(
                "making the clone act as the original user",
                master_user,
                transaction.batch_execute(&sql::default_session_role(pending_user, original)),
            )
            .await?;
        }
        self.bounded("committing", master_user, transaction.commit())
            .await
    }
}

impl Database for Postgres {
    fn prepare_first_login(&self) {
        self.settings.tls.load_roots_in_background();
    }

    async fn check_login(&self, login: &Login<'_>) -> Result<(), DbError> {
        let session = self.connect(login).await?;
        let result = self
            .bounded(
                "SELECT 1",
                &login.secret.username,
                session.client.simple_query("SELECT 1"),
            )
            .await
            .map(|_| ());
        session.close().await;
        result
    }

    async fn set_own_password(
        &self,
        login: &Login<'_>,
        password: &SecretText,
    ) -> Result<(), DbError> {
        let verifier = verifier_alongside(password, &login.secret.username);
        let session = self.connect(login).await?;
        let verifier = match verifier.await {
            Ok(verifier) => verifier,
            Err(error) => {
                session.close().await;
                return Err(error);
            }
        };
        let statement = sql::set_password(&login.secret.username, &verifier);
        let result = self
            .bounded(
                "setting the new password",
                &login.secret.username,
                session.client.batch_execute(&statement),
            )
            .await;
        session.close().await;
        result
    }

    async fn prepare_alternate(
        &self,
        master: &Login<'_>,
        current_user: &str,
        pending_user: &str,
        password: &SecretText,
    ) -> Result<(), DbError> {
        let verifier = verifier_alongside(password, pending_user);
        let mut session = self.connect(master).await?;
        let result = match verifier.await {
            Ok(verifier) => {
                self.prepare_alternate_in(
                    &mut session.client,
                    &master.secret.username,
                    current_user,
                    pending_user,
                    &verifier,
                )
                .await
            }
            Err(error) => Err(error),
        };
        session.close().await;
        result
    }
}
