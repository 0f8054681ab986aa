//! Account statements for MySQL and MariaDB, chosen by the server's version. Account statements
//! take no server-side placeholders, so every literal is escaped here; sessions run with an
//! empty `sql_mode` (set at login), so backslash escapes apply and `SHOW GRANTS` quotes names with
//! backticks, whatever the server's default mode. Pure.

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

    /// `ALTER USER` exists from MySQL 5.7.6 (MariaDB 10.2, but MariaDB uses `SET PASSWORD`,
    /// which keeps the account's authentication plugin).
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

/// The session's own password change. MySQL 8.0.13 and later may require the current password
/// (`PASSWORD REQUIRE CURRENT`): `replace` gives it, and is asked for only when the server says so.
pub fn set_own_password(
    server: &Server,
    password: &SecretText,
    replace: Option<&SecretText>,
) -> String {
    let new = literal(password.expose());
    if !server.has_alter_user() {
        return format!("SET PASSWORD = PASSWORD({new})");
    }
    match replace {
        Some(current) => format!(
            "ALTER USER CURRENT_USER() IDENTIFIED BY {new} REPLACE {}",
            literal(current.expose())
        ),
        None => format!("ALTER USER CURRENT_USER() IDENTIFIED BY {new}"),
    }
}

/// Another account's password change, keeping its authentication plugin.
pub fn set_password(server: &Server, user: &str, host: &str, password: &SecretText) -> String {
    let new = literal(password.expose());
    if server.has_alter_user() {
        format!("ALTER USER {} IDENTIFIED BY {new}", account(user, host))
    } else {
        format!("SET PASSWORD FOR {} = PASSWORD({new})", account(user, host))
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
        "the account uses the {plugin:?} authentication plugin, which has no password to rotate"
    )]
    Plugin { plugin: String },
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
    let new = literal(password.expose());
    let identified = match (server.mariadb, original.plugin.as_str()) {
        (true, "" | "mysql_native_password") => format!("IDENTIFIED BY {new}"),
        (true, plugin @ ("ed25519" | "parsec")) => {
            format!("IDENTIFIED VIA {plugin} USING PASSWORD({new})")
        }
        (false, "") => format!("IDENTIFIED BY {new}"),
        (
            false,
            plugin @ ("caching_sha2_password" | "mysql_native_password" | "sha256_password"),
        ) => {
            format!("IDENTIFIED WITH {plugin} BY {new}")
        }
        (_, plugin) => {
            return Err(CopyError::Plugin {
                plugin: plugin.to_owned(),
            })
        }
    };
    Ok(format!(
        "CREATE USER {} {identified} {}",
        account(clone, &original.host),
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
        start: line
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
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
