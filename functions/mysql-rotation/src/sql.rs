//! Account statements for MySQL and MariaDB, chosen by the server's version. Account statements
//! take no server-side placeholders, so every literal is escaped here; sessions run with an
//! empty `sql_mode` (set at login), so backslash escapes apply and `SHOW GRANTS` quotes names with
//! backticks, whatever the server's default mode. Pure.

use crate::hash::{ed25519_public_key, native_password_hash};
use shared::secret::SecretText;

/// What the server is, from its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    pub mariadb: bool,
    pub version: (u16, u16, u16),
}

impl Server {
    /// MariaDB numbers its releases from 10 on (5.5.5- prefixed in the handshake, which the driver
    /// strips); MySQL's are 5.x, 8.x and 9.x.
    pub fn from_version(version: (u16, u16, u16)) -> Self {
        Self {
            mariadb: version.0 >= 10,
            version,
        }
    }

    pub fn name(&self) -> String {
        let (major, minor, patch) = self.version;
        let engine = if self.mariadb { "MariaDB" } else { "MySQL" };
        format!("{engine} {major}.{minor}.{patch}")
    }

    /// MySQL's `ALTER USER` with authentication clauses, from 5.7.6 (MariaDB has it from 10.2,
    /// and its statements are chosen separately).
    fn has_alter_user(&self) -> bool {
        !self.mariadb && self.version >= (5, 7, 6)
    }

    /// The server's limit for user names, in characters.
    pub fn name_limit(&self) -> usize {
        match (self.mariadb, self.version) {
            (true, _) => 80,
            (false, v) if v < (5, 7, 0) => 16,
            (false, _) => 32,
        }
    }
}

/// `'text'`, escaped for a session without `NO_BACKSLASH_ESCAPES`.
pub fn literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\0' => quoted.push_str("\\0"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

/// `'user'@'host'`: an account name as statements take it.
pub fn account(user: &str, host: &str) -> String {
    format!("{}@{}", literal(user), literal(host))
}

/// `` `user`@`host` ``: an account name as `SHOW GRANTS` prints it.
fn printed_account(user: &str, host: &str) -> String {
    let quote = |name: &str| format!("`{}`", name.replace('`', "``"));
    format!("{}@{}", quote(user), quote(host))
}

/// How a new password reaches the server for an account authenticating with `plugin`: as what the
/// plugin stores, computed here, wherever the server takes that (`mysql_native_password` on both
/// engines, MariaDB's `ed25519`); for MySQL's salted SHA-256 plugins, as the password, which MySQL
/// rewrites as its hash in the general, slow and binary logs (MySQL manual, "Passwords and
/// Logging"). MariaDB rewrites nothing, so a plugin whose stored form cannot be computed here is
/// refused there (PARSEC, for one), never sent in plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    NativeHash(String),
    Ed25519Key(String),
    RewrittenByMySql {
        plugin: String,
        password: SecretText,
    },
}

impl Credential {
    pub fn for_account(
        server: &Server,
        plugin: &str,
        password: &SecretText,
    ) -> Result<Self, CopyError> {
        match (server.mariadb, plugin) {
            (_, "" | "mysql_native_password") => {
                Ok(Self::NativeHash(native_password_hash(password.expose())))
            }
            (true, "ed25519") => Ok(Self::Ed25519Key(ed25519_public_key(password.expose()))),
            (false, "caching_sha2_password" | "sha256_password") if server.has_alter_user() => {
                Ok(Self::RewrittenByMySql {
                    plugin: plugin.to_owned(),
                    password: password.clone(),
                })
            }
            (_, plugin) => Err(CopyError::Plugin {
                plugin: plugin.to_owned(),
            }),
        }
    }

    /// The `IDENTIFIED` clause of `CREATE USER` and `ALTER USER`: the account keeps its plugin.
    fn identified(&self, server: &Server) -> String {
        match self {
            Self::NativeHash(hash) if server.mariadb => {
                format!("IDENTIFIED BY PASSWORD {}", literal(hash))
            }
            Self::NativeHash(hash) => {
                format!("IDENTIFIED WITH mysql_native_password AS {}", literal(hash))
            }
            Self::Ed25519Key(key) => format!("IDENTIFIED VIA ed25519 USING {}", literal(key)),
            Self::RewrittenByMySql { plugin, password } => {
                format!("IDENTIFIED WITH {plugin} BY {}", literal(password.expose()))
            }
        }
    }

    /// The stored form, as `SET PASSWORD ... = '<stored form>'` takes it (MariaDB, MySQL before
    /// 5.7.6); `None` where only the server can compute it.
    fn stored_form(&self) -> Option<&str> {
        match self {
            Self::NativeHash(stored) | Self::Ed25519Key(stored) => Some(stored),
            Self::RewrittenByMySql { .. } => None,
        }
    }
}

/// The plugin an account authenticates with, from `SHOW CREATE USER` of that account (MariaDB
/// shows it to the account itself): `IDENTIFIED BY PASSWORD` is `mysql_native_password`, as is an
/// account without an `IDENTIFIED` clause (no password yet).
pub fn plugin_of(create_user: &str) -> Result<String, CopyError> {
    let unreadable = || CopyError::CreateUser {
        start: bounded_start(create_user),
    };
    let rest = create_user
        .strip_prefix("CREATE USER ")
        .and_then(skip_quoted)
        .and_then(|rest| rest.strip_prefix('@'))
        .and_then(skip_quoted)
        .ok_or_else(unreadable)?
        .trim_start();
    let Some(identified) = rest.strip_prefix("IDENTIFIED ") else {
        return Ok("mysql_native_password".into());
    };
    if identified.starts_with("BY PASSWORD ") {
        return Ok("mysql_native_password".into());
    }
    let named = identified
        .strip_prefix("VIA ")
        .or_else(|| identified.strip_prefix("WITH "))
        .ok_or_else(unreadable)?;
    let plugin: String = named
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(['\'', '`', '"'])
        .to_owned();
    if plugin.is_empty() {
        return Err(unreadable());
    }
    // Several ways to authenticate (`VIA ed25519 ... OR unix_socket`): which one a password
    // change should reach is not this function's guess. Stored forms hold no spaces.
    if named.contains(" OR ") {
        return Err(CopyError::Plugin {
            plugin: format!("{plugin} OR ..."),
        });
    }
    Ok(plugin)
}

/// What follows a quoted name (`` `a``b` `` or `'a\'b'`) at the start of `text`.
fn skip_quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| matches!(c, '`' | '\''))?;
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && quote == '\'' {
            chars.next();
        } else if c == quote {
            if chars.peek().is_some_and(|&(_, next)| next == quote) {
                chars.next();
            } else {
                return Some(&text[i + 1..]);
            }
        }
    }
    None
}

/// The first words of a line, for an error: never more than 64 characters of it.
fn bounded_start(line: &str) -> String {
    line.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(64)
        .collect()
}

/// The session's own password change. MariaDB takes the stored form for any account
/// (`SET PASSWORD = '<stored form>'`), so `plugin` is the account's (see [`plugin_of`]). MySQL lets
/// an account without `CREATE USER` change its own password only with the password itself
/// (`ALTER USER USER() IDENTIFIED BY`), which it rewrites as its hash in every log; from MySQL
/// 8.0.13 it may also require the current password (`PASSWORD REQUIRE CURRENT`): `replace` gives
/// it, and is asked for only when the server says so.
pub fn set_own_password(
    server: &Server,
    plugin: &str,
    password: &SecretText,
    replace: Option<&SecretText>,
) -> Result<String, CopyError> {
    if server.mariadb {
        let credential = Credential::for_account(server, plugin, password)?;
        if let Some(stored) = credential.stored_form() {
            return Ok(format!("SET PASSWORD = {}", literal(stored)));
        }
        return Err(CopyError::Plugin {
            plugin: plugin.to_owned(),
        });
    }
    let new = literal(password.expose());
    if !server.has_alter_user() {
        // MySQL before 5.7.6 rewrites this too (from 5.6.3).
        return Ok(format!("SET PASSWORD = PASSWORD({new})"));
    }
    Ok(match replace {
        Some(current) => format!(
            "ALTER USER CURRENT_USER() IDENTIFIED BY {new} REPLACE {}",
            literal(current.expose())
        ),
        None => format!("ALTER USER CURRENT_USER() IDENTIFIED BY {new}"),
    })
}

/// Another account's password change (by the master user), keeping its host and plugin.
pub fn set_password(
    server: &Server,
    user: &str,
    host: &str,
    plugin: &str,
    password: &SecretText,
) -> Result<String, CopyError> {
    let credential = Credential::for_account(server, plugin, password)?;
    let account = account(user, host);
    if server.mariadb || server.has_alter_user() {
        return Ok(format!(
            "ALTER USER {account} {}",
            credential.identified(server)
        ));
    }
    match credential.stored_form() {
        Some(stored) => Ok(format!("SET PASSWORD FOR {account} = {}", literal(stored))),
        None => Err(CopyError::Plugin {
            plugin: plugin.to_owned(),
        }),
    }
}

/// What `mysql.user` says of the original account: what the clone must share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub host: String,
    pub plugin: String,
    /// `''`, `ANY`, `X509` or `SPECIFIED`.
    pub ssl_type: String,
    pub ssl_cipher: String,
    pub x509_issuer: String,
    pub x509_subject: String,
}

pub fn account_rows(user: &str) -> String {
    format!(
        "SELECT Host, plugin, ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = {}",
        literal(user)
    )
}

pub fn show_grants(user: &str, host: &str) -> String {
    format!("SHOW GRANTS FOR {}", account(user, host))
}

/// MySQL keeps default roles in a table (`SHOW GRANTS` does not print them); MariaDB prints its
/// one default role as a `SET DEFAULT ROLE` line.
pub fn default_roles(user: &str, host: &str) -> String {
    format!(
        "SELECT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles WHERE USER = {} AND HOST = {}",
        literal(user),
        literal(host)
    )
}

pub fn drop_account(user: &str, host: &str) -> String {
    format!("DROP USER IF EXISTS {}", account(user, host))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CopyError {
    #[error(
        "the account authenticates with {plugin:?}: this function sets passwords only in a form no server log can give away (mysql_native_password and MariaDB's ed25519 as their hashes; MySQL's caching_sha2_password and sha256_password, which MySQL rewrites in its logs), and never sends one where the server would log it; nothing was changed"
    )]
    Plugin { plugin: String },
    #[error("SHOW CREATE USER printed a line this function cannot read (it begins {start:?}); nothing was changed")]
    CreateUser { start: String },
    #[error("SHOW GRANTS printed a line this function cannot copy faithfully (it begins {start:?}); nothing was copied")]
    Grant { start: String },
}

/// `CREATE USER` for the clone: the original's host, authentication plugin and TLS requirement.
pub fn create_clone(
    server: &Server,
    clone: &str,
    original: &AccountRow,
    password: &SecretText,
) -> Result<String, CopyError> {
    let credential = Credential::for_account(server, &original.plugin, password)?;
    Ok(format!(
        "CREATE USER {} {} {}",
        account(clone, &original.host),
        credential.identified(server),
        requirement(original)
    ))
}

/// The `REQUIRE` clause of an account's TLS requirement.
pub fn requirement(row: &AccountRow) -> String {
    match row.ssl_type.to_ascii_uppercase().as_str() {
        "ANY" => "REQUIRE SSL".into(),
        "X509" => "REQUIRE X509".into(),
        "SPECIFIED" => {
            let parts: Vec<String> = [
                ("CIPHER", &row.ssl_cipher),
                ("ISSUER", &row.x509_issuer),
                ("SUBJECT", &row.x509_subject),
            ]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name} {}", literal(value)))
            .collect();
            if parts.is_empty() {
                "REQUIRE SSL".into()
            } else {
                format!("REQUIRE {}", parts.join(" AND "))
            }
        }
        _ => "REQUIRE NONE".into(),
    }
}

/// The original's `SHOW GRANTS` lines, each for the clone instead: privileges with their grant
/// option, roles with their admin option, MySQL's partial revokes and MariaDB's default role.
/// The grantee is replaced where the server printed it (not by splitting on `" TO "`), and
/// everything the line says of the original account itself (its password hash, plugin, `REQUIRE`,
/// resource limits) is left out: the clone has its own, from [`create_clone`].
pub fn grants_for_clone(
    lines: &[String],
    original: (&str, &str),
    clone: (&str, &str),
) -> Result<Vec<String>, CopyError> {
    let from = printed_account(original.0, original.1);
    let to = account(clone.0, clone.1);
    lines
        .iter()
        .map(|line| copy_line(line, &from, &to))
        .collect()
}

fn copy_line(line: &str, from: &str, to: &str) -> Result<String, CopyError> {
    let unsupported = || CopyError::Grant {
        start: bounded_start(line),
    };
    let (keyword, joiner) = if line.starts_with("GRANT ") {
        ("GRANT", " TO ")
    } else if line.starts_with("REVOKE ") {
        ("REVOKE", " FROM ")
    } else if line.starts_with("SET DEFAULT ROLE ") {
        ("SET DEFAULT ROLE", " FOR ")
    } else {
        return Err(unsupported());
    };
    // The grantee as printed, followed by the end or by one of the clauses about the account.
    let needle = format!("{joiner}{from}");
    let position = line
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|i| {
            let rest = &line[i + needle.len()..];
            rest.is_empty()
                || [" IDENTIFIED", " REQUIRE", " WITH", " PASSWORD"]
                    .iter()
                    .any(|clause| rest.starts_with(clause))
        })
        .ok_or_else(unsupported)?;
    let head = &line[..position];
    let tail = &line[position + needle.len()..];
    let mut copied = format!("{head}{joiner}{to}");
    if keyword == "GRANT" {
        // The options follow a WITH (MariaDB may put resource limits beside them).
        let with = tail.find(" WITH ").map_or("", |w| &tail[w..]);
        if with.contains("GRANT OPTION") {
            copied.push_str(" WITH GRANT OPTION");
        } else if with.contains("ADMIN OPTION") {
            copied.push_str(" WITH ADMIN OPTION");
        }
    }
    Ok(copied)
}

/// MySQL's default roles for the clone, from `mysql.default_roles` rows (user, host).
pub fn set_default_roles(roles: &[(String, String)], clone: (&str, &str)) -> Option<String> {
    if roles.is_empty() {
        return None;
    }
    let roles: Vec<String> = roles.iter().map(|(u, h)| account(u, h)).collect();
    Some(format!(
        "SET DEFAULT ROLE {} TO {}",
        roles.join(", "),
        account(clone.0, clone.1)
    ))
}

#[cfg(test)]
#[path = "sql_test.rs"]
mod tests;
