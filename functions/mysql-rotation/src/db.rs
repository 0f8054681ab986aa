//! The MySQL and MariaDB adapter of the database port: connections over verified TLS (rustls;
//! the system's roots, or only the CA bundle when one is given) unless a secret or the setting explicitly
//! disables TLS, and never a fall-back to plaintext.

use crate::sql::{self, AccountRow, Server};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, SslOpts};
use shared::config::{ConfigError, Env};
use shared::database::login::{timeouts, Database, DbError, Login};
use shared::database::secret::base_user;
use shared::database::tls::TlsSettings;
use shared::secret::SecretText;
use shared::text::with_causes;
use std::sync::OnceLock;
use std::time::Duration;

/// MySQL 8.0.13 and later: "Current password needs to be specified in the REPLACE clause".
const ER_MISSING_CURRENT_PASSWORD: u16 = 3892;

pub struct MySqlSettings {
    pub tls: TlsSettings,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

impl MySqlSettings {
    /// `DB_TLS`, `DB_CA_BUNDLE`, `DB_CONNECT_TIMEOUT`, `DB_STATEMENT_TIMEOUT` (see
    /// [`TlsSettings::from_env`] and [`timeouts`]).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (connect_timeout, statement_timeout) = timeouts(env)?;
        Ok(Self {
            tls: TlsSettings::from_env(env)?,
            connect_timeout,
            statement_timeout,
        })
    }
}

pub struct MySql {
    settings: MySqlSettings,
    /// Options holding only the verified-TLS settings, made at the first TLS connection. Every
    /// TLS connection's options are made from them, and mysql_async keeps the TLS connector it
    /// builds (the roots parsed twice into rustls's stores) with the options and their copies:
    /// built once per process instead of at every login, as PostgreSQL's connector is.
    verified_tls: OnceLock<Opts>,
}

/// The server's error without the part of the statement it quotes (`... near '<text>' at line
/// 1`): account statements carry passwords, which must reach no log line or alert.
fn without_quoted_statement(mut message: String) -> String {
    if let Some(at) = message.find(" near '") {
        message.truncate(at);
        message.push_str(" (the statement's text is left out: it may hold a password)");
    }
    message
}

fn server_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(server) => Some(server.code),
        _ => None,
    }
}

/// A logged-in session and what its server is.
struct Session {
    conn: Conn,
    server: Server,
    user: String,
}

impl MySql {
    pub fn new(settings: MySqlSettings) -> Self {
        Self {
            settings,
            verified_tls: OnceLock::new(),
        }
    }

    fn verified_tls(&self) -> Opts {
        self.verified_tls
            .get_or_init(|| {
                // Borrowed: the roots are kept for the process's life.
                let roots = self
                    .settings
                    .tls
                    .roots()
                    .iter()
                    .map(|der| der.as_ref().into())
                    .collect();
                // TLS required: a server without it is refused, not used in plaintext.
                OptsBuilder::default()
                    .ssl_opts(Some(
                        SslOpts::default()
                            .with_disable_built_in_roots(true)
                            .with_root_certs(roots),
                    ))
                    .into()
            })
            .clone()
    }

    async fn connect(&self, login: &Login<'_>) -> Result<Session, DbError> {
        let secret = login.secret;
        let base = if self.settings.tls.plaintext(secret) {
            OptsBuilder::default()
        } else {
            OptsBuilder::from_opts(self.verified_tls())
        };
        let options = base
            .ip_or_hostname(secret.host.clone())
            .tcp_port(secret.port)
            .user(Some(secret.username.clone()))
            .pass(Some(secret.password.expose().to_owned()))
            .db_name(login.dbname.map(str::to_owned))
            // Known up front, so the driver asks the server nothing after the login, and never
            // moves to a Unix socket it finds.
            .prefer_socket(false)
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(
                usize::try_from(self.settings.statement_timeout.as_secs().max(60)).unwrap_or(60),
            ))
            .stmt_cache_size(0)
            .tcp_nodelay(true)
            // Backslash escapes on and backtick quoting in SHOW GRANTS and SHOW CREATE USER,
            // whatever the server's defaults: the statements of [`sql`] rely on them.
            .setup(vec!["SET SESSION sql_mode = '', sql_quote_show_create = 1"]);
        let limit = self.settings.connect_timeout;
        let conn = match tokio::time::timeout(limit, Conn::new(options)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => return Err(login.failed(with_causes(&error))),
            Err(_) => {
                return Err(login.failed(format!(
                    "no answer within {}s (DB_CONNECT_TIMEOUT) while connecting, setting up TLS or authenticating",
                    limit.as_secs()
                )))
            }
        };
        Ok(Session {
            server: Server::from_version(conn.server_version()),
            conn,
            user: secret.username.clone(),
        })
    }
}

impl Session {
    /// The outcome of one exchange bounded on this side (a lost answer must not hold the
    /// function), as the port's error.
    fn settle<T>(
        &self,
        action: &'static str,
        limit: Duration,
        outcome: Result<Result<T, mysql_async::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, DbError> {
        match outcome {
            Ok(result) => result.map_err(|e| DbError::Statement {
                action,
                user: self.user.clone(),
                message: without_quoted_statement(with_causes(&e)),
            }),
            Err(_) => Err(DbError::Statement {
                action,
                user: self.user.clone(),
                message: format!(
                    "no answer within {}s (DB_STATEMENT_TIMEOUT): the connection went silent, so whether it took effect is unknown",
                    limit.as_secs()
                ),
            }),
        }
    }

    async fn run(
        &mut self,
        action: &'static str,
        limit: Duration,
        statement: String,
    ) -> Result<(), DbError> {
        let outcome = tokio::time::timeout(limit, self.conn.query_drop(statement)).await;
        self.settle(action, limit, outcome)
    }

    async fn rows(
        &mut self,
        action: &'static str,
        limit: Duration,
        query: String,
    ) -> Result<Vec<Row>, DbError> {
        let outcome = tokio::time::timeout(limit, self.conn.query::<Row, _>(query)).await;
        self.settle(action, limit, outcome)
    }

    /// Sends `COM_QUIT`, so the server ends the session at once.
    async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conn.disconnect()).await;
    }
}

/// Column `index` as text (`mysql.user`'s blobs included).
fn text(row: &Row, index: usize, what: &'static str, user: &str) -> Result<String, DbError> {
    match row.get_opt::<Option<Vec<u8>>, _>(index) {
        Some(Ok(value)) => {
            String::from_utf8(value.unwrap_or_default()).map_err(|_| DbError::Statement {
                action: what,
                user: user.to_owned(),
                message: format!("column {index} is not text"),
            })
        }
        _ => Err(DbError::Statement {
            action: what,
            user: user.to_owned(),
            message: format!("column {index} is missing"),
        }),
    }
}

impl MySql {
    fn limit(&self) -> Duration {
        self.settings.statement_timeout
    }

    /// The original account (its only host): what the clone copies.
    async fn original_account(
        &self,
        session: &mut Session,
        original: &str,
    ) -> Result<AccountRow, DbError> {
        let action = "reading the original account";
        let rows = session
            .rows(action, self.limit(), sql::account_rows(original))
            .await?;
        let master = session.user.clone();
        let accounts = rows
            .iter()
            .map(|row| {
                Ok(AccountRow {
                    host: text(row, 0, action, &master)?,
                    plugin: text(row, 1, action, &master)?,
                    ssl_type: text(row, 2, action, &master)?,
                    ssl_cipher: text(row, 3, action, &master)?,
                    x509_issuer: text(row, 4, action, &master)?,
                    x509_subject: text(row, 5, action, &master)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        match accounts.as_slice() {
            [account] => Ok(account.clone()),
            [] => Err(DbError::Unsupported(format!(
                "no account of the user {original:?} exists on the server, so there is nothing to copy"
            ))),
            several => Err(DbError::Unsupported(format!(
                "the user {original:?} has accounts on several hosts ({}): alternating users copies exactly one; give each its own user name",
                several.iter().map(|a| a.host.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// MariaDB takes the new password's stored form, which depends on the account's plugin: the
    /// account may read that of itself. MySQL needs no plugin (see [`sql::set_own_password`]).
    async fn own_plugin(&self, session: &mut Session) -> Result<String, DbError> {
        if !session.server.mariadb {
            return Ok(String::new());
        }
        let action = "reading the account's authentication plugin";
        let rows = session
            .rows(action, self.limit(), "SHOW CREATE USER".to_owned())
            .await?;
        let user = session.user.clone();
        let line = match rows.first() {
            Some(row) => text(row, 0, action, &user)?,
            None => String::new(),
        };
        sql::plugin_of(&line).map_err(|e| DbError::Unsupported(e.to_string()))
    }

    async fn set_own_password_in(
        &self,
        session: &mut Session,
        login: &Login<'_>,
        password: &SecretText,
    ) -> Result<(), DbError> {
        let server = session.server;
        let plugin = self.own_plugin(session).await?;
        let action = "setting the new password";
        let limit = self.limit();
        let unsupported = |e: sql::CopyError| DbError::Unsupported(e.to_string());
        let statement =
            sql::set_own_password(&server, &plugin, password, None).map_err(unsupported)?;
        let outcome = tokio::time::timeout(limit, session.conn.query_drop(statement)).await;
        match outcome {
            // Asked for only when the account requires it (MySQL's PASSWORD REQUIRE CURRENT).
            Ok(Err(error)) if server_code(&error) == Some(ER_MISSING_CURRENT_PASSWORD) => {
                let statement =
                    sql::set_own_password(&server, &plugin, password, Some(&login.secret.password))
                        .map_err(unsupported)?;
                session.run(action, limit, statement).await
            }
            outcome => session.settle(action, limit, outcome),
        }
    }

    async fn prepare_alternate_in(
        &self,
        session: &mut Session,
        current_user: &str,
        pending_user: &str,
        password: &SecretText,
    ) -> Result<(), DbError> {
        let server = session.server;
        if pending_user.chars().count() > server.name_limit() {
            return Err(DbError::Unsupported(format!(
                "the user name {pending_user:?} is longer than {}'s limit of {} characters",
                server.name(),
                server.name_limit()
            )));
        }
        let original_user = base_user(current_user);
        let original = self.original_account(session, original_user).await?;
        if pending_user == original_user {
            // The original keeps its own privileges (it is what the clone copies); only its
            // password changes.
            return session
                .run(
                    "setting the original user's password",
                    self.limit(),
                    sql::set_password(
                        &server,
                        pending_user,
                        &original.host,
                        &original.plugin,
                        password,
                    )
                    .map_err(|e| DbError::Unsupported(e.to_string()))?,
                )
                .await;
        }
        // Everything is read and checked before the clone is touched.
        let lines: Vec<String> = session
            .rows(
                "reading the original's grants",
                self.limit(),
                sql::show_grants(original_user, &original.host),
            )
            .await?
            .iter()
            .map(|row| text(row, 0, "reading the original's grants", current_user))
            .collect::<Result<_, _>>()?;
        let clone = (pending_user, original.host.as_str());
        let grants = sql::grants_for_clone(&lines, (original_user, &original.host), clone)
            .map_err(|e| DbError::Unsupported(e.to_string()))?;
        let create = sql::create_clone(&server, pending_user, &original, password)
            .map_err(|e| DbError::Unsupported(e.to_string()))?;
        let default_roles = if server.mariadb {
            None
        } else {
            let rows = session
                .rows(
                    "reading the original's default roles",
                    self.limit(),
                    sql::default_roles(original_user, &original.host),
                )
                .await?;
            let roles = rows
                .iter()
                .map(|row| {
                    Ok((
                        text(row, 0, "reading default roles", current_user)?,
                        text(row, 1, "reading default roles", current_user)?,
                    ))
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            sql::set_default_roles(&roles, clone)
        };
        // The clone is made anew each rotation: exactly the original's privileges now, nothing
        // left of grants since revoked. AWSCURRENT's user is untouched throughout, so a crash
        // between these statements leaves a working login and a retry that starts over.
        session
            .run(
                "removing the previous clone",
                self.limit(),
                sql::drop_account(pending_user, &original.host),
            )
            .await?;
        session
            .run("creating the clone", self.limit(), create)
            .await?;
        for grant in grants.into_iter().chain(default_roles) {
            session
                .run("copying a grant to the clone", self.limit(), grant)
                .await?;
        }
        Ok(())
    }
}

impl Database for MySql {
    fn prepare_first_login(&self) {
        self.settings.tls.load_roots_in_background();
    }

    async fn check_login(&self, login: &Login<'_>) -> Result<(), DbError> {
        let mut session = self.connect(login).await?;
        let result = session
            .run("SELECT 1", self.limit(), "SELECT 1".to_owned())
            .await;
        session.close().await;
        result
    }

    async fn set_own_password(
        &self,
        login: &Login<'_>,
        password: &SecretText,
    ) -> Result<(), DbError> {
        let mut session = self.connect(login).await?;
        let result = self
            .set_own_password_in(&mut session, login, password)
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
        let mut session = self.connect(master).await?;
        let result = self
            .prepare_alternate_in(&mut session, current_user, pending_user, password)
            .await;
        session.close().await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_never_quote_the_statement() {
        let message = "Server error: `ERROR 1064 (42000): You have an error in your SQL syntax; check the manual for the right syntax to use near 'REPLACE 'Old-Passw0rd'' at line 1'".to_owned();
        let cleaned = without_quoted_statement(message);
        assert!(!cleaned.contains("Old-Passw0rd"), "{cleaned}");
        assert!(cleaned.contains("ERROR 1064 (42000)"), "{cleaned}");
        let plain = "Server error: `ERROR 1045 (28000): Access denied for user 'app'@'127.0.0.1' (using password: YES)'".to_owned();
        assert_eq!(without_quoted_statement(plain.clone()), plain);
    }
}
