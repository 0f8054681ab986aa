//! The database secret in the RDS convention (`engine`, `host`, `port`, `username`, `password`,
//! `dbname`, optional `ssl`, optional `masterarn`), as plain data, for every engine. Pure.

use crate::secret::SecretText;
use serde_json::{Map, Value};

pub const CLONE_SUFFIX: &str = "_clone";

/// The engines one rotation function serves: the SQL it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFamily {
    Postgres,
    MySql,
}

impl EngineFamily {
    fn accepts(self, engine: &str) -> Option<Engine> {
        match (self, engine) {
            (Self::Postgres, "postgres" | "postgresql" | "aurora-postgresql") => {
                Some(Engine::Postgres)
            }
            (Self::MySql, "mysql" | "aurora-mysql") => Some(Engine::MySql),
            (Self::MySql, "mariadb") => Some(Engine::MariaDb),
            _ => None,
        }
    }

    fn names(self) -> &'static str {
        match self {
            Self::Postgres => "postgres, postgresql or aurora-postgresql",
            Self::MySql => "mysql, aurora-mysql or mariadb",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::MySql => 3306,
        }
    }
}

/// The engine a secret names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    /// MySQL and Aurora MySQL.
    MySql,
    MariaDb,
}

/// How long a user name may be, as the server counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameLimit {
    pub max: usize,
    /// PostgreSQL counts bytes; MySQL and MariaDB count characters.
    pub in_bytes: bool,
    pub server: &'static str,
}

impl NameLimit {
    pub fn allows(&self, name: &str) -> bool {
        let length = if self.in_bytes {
            name.len()
        } else {
            name.chars().count()
        };
        length <= self.max
    }

    pub fn unit(&self) -> &'static str {
        if self.in_bytes {
            "bytes"
        } else {
            "characters"
        }
    }
}

impl Engine {
    /// PostgreSQL's identifier limit; MySQL 5.7 and later (the oldest supported); MariaDB.
    pub fn name_limit(self) -> NameLimit {
        match self {
            Self::Postgres => NameLimit {
                max: 63,
                in_bytes: true,
                server: "PostgreSQL",
            },
            Self::MySql => NameLimit {
                max: 32,
                in_bytes: false,
                server: "MySQL",
            },
            Self::MariaDb => NameLimit {
                max: 80,
                in_bytes: false,
                server: "MariaDB",
            },
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the secret is not a JSON object ({0})")]
    NotJson(String),
    #[error("the secret has no {0} (a non-empty string)")]
    Missing(&'static str),
    #[error("the secret's engine is {found:?}, not {expected}")]
    WrongEngine {
        found: String,
        expected: &'static str,
    },
    #[error("the secret's port {0:?} is not a port number")]
    BadPort(String),
    #[error("the secret's ssl must be true or false, got {0}")]
    BadSsl(String),
    #[error("the user name {name:?} holds a character no account name may hold (NUL or a control character)")]
    BadName { name: String },
    #[error("the alternate user name {name:?} is longer than {}'s limit of {} {} for user names", limit.server, limit.max, limit.unit())]
    NameTooLong { name: String, limit: NameLimit },
    #[error(
        "the pending secret's {field} differs from the current one's ({current} to {pending})"
    )]
    Changed {
        field: &'static str,
        current: String,
        pending: String,
    },
}

/// How a login's connection may be secured, from the secret's `ssl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretTls {
    /// `ssl` absent or true: the setting decides (verified TLS by default).
    Default,
    /// `ssl: false`: this secret explicitly allows a connection without TLS.
    Disabled,
}

#[derive(Debug, Clone)]
pub struct DbSecret {
    fields: Map<String, Value>,
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: SecretText,
    /// The database to connect to; `None` lets the engine choose (PostgreSQL: `postgres`;
    /// MySQL and MariaDB: none).
    pub dbname: Option<String>,
    pub tls: SecretTls,
    pub master_arn: Option<String>,
}

fn fields_of(value: &SecretText) -> Result<Map<String, Value>, SecretError> {
    serde_json::from_str(value.expose()).map_err(|e| SecretError::NotJson(e.to_string()))
}

fn text(fields: &Map<String, Value>, name: &'static str) -> Option<String> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

fn port(fields: &Map<String, Value>) -> Result<Option<u16>, SecretError> {
    Ok(Some(match fields.get("port") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| SecretError::BadPort(n.to_string()))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| SecretError::BadPort(s.clone()))?,
        Some(other) => return Err(SecretError::BadPort(other.to_string())),
    }))
}

fn tls(fields: &Map<String, Value>) -> Result<SecretTls, SecretError> {
    Ok(match fields.get("ssl") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => SecretTls::Default,
        Some(Value::Bool(false)) => SecretTls::Disabled,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => SecretTls::Default,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => SecretTls::Disabled,
        Some(other) => return Err(SecretError::BadSsl(other.to_string())),
    })
}

fn engine(
    fields: &Map<String, Value>,
    family: EngineFamily,
) -> Result<Option<Engine>, SecretError> {
    match fields.get("engine").and_then(Value::as_str) {
        None => Ok(None),
        Some(name) => family
            .accepts(name)
            .map(Some)
            .ok_or_else(|| SecretError::WrongEngine {
                found: name.to_owned(),
                expected: family.names(),
            }),
    }
}

fn username(fields: &Map<String, Value>) -> Result<String, SecretError> {
    let name = text(fields, "username").ok_or(SecretError::Missing("username"))?;
    if name.chars().any(char::is_control) {
        return Err(SecretError::BadName { name });
    }
    Ok(name)
}

impl DbSecret {
    /// A managed user's secret: every field of the convention, of an engine of `family`.
    pub fn parse(value: &SecretText, family: EngineFamily) -> Result<Self, SecretError> {
        let fields = fields_of(value)?;
        let engine = engine(&fields, family)?.ok_or(SecretError::Missing("engine"))?;
        Ok(Self {
            engine,
            host: text(&fields, "host").ok_or(SecretError::Missing("host"))?,
            port: port(&fields)?.unwrap_or(family.default_port()),
            username: username(&fields)?,
            password: SecretText::new(
                text(&fields, "password").ok_or(SecretError::Missing("password"))?,
            ),
            dbname: text(&fields, "dbname"),
            tls: tls(&fields)?,
            master_arn: text(&fields, "masterarn"),
            fields,
        })
    }

    /// The master user's secret for `user`'s rotation. A secret that RDS manages
    /// (`ManageMasterUserPassword`) holds only `username` and `password`: the engine, host and
    /// port then come from the user's secret. The database is always the user's.
    pub fn parse_master(
        value: &SecretText,
        user: &DbSecret,
        family: EngineFamily,
    ) -> Result<Self, SecretError> {
        let fields = fields_of(value)?;
        Ok(Self {
            engine: engine(&fields, family)?.unwrap_or(user.engine),
            host: text(&fields, "host").unwrap_or_else(|| user.host.clone()),
            port: port(&fields)?.unwrap_or(user.port),
            username: username(&fields)?,
            password: SecretText::new(
                text(&fields, "password").ok_or(SecretError::Missing("password"))?,
            ),
            dbname: user.dbname.clone(),
            tls: match fields.get("ssl") {
                None => user.tls,
                Some(_) => tls(&fields)?,
            },
            master_arn: None,
            fields,
        })
    }

    /// The same secret with another user name and password; every other field is kept.
    pub fn with_login(&self, username: &str, password: &SecretText) -> SecretText {
        let mut fields = self.fields.clone();
        fields.insert("username".into(), Value::String(username.to_owned()));
        fields.insert(
            "password".into(),
            Value::String(password.expose().to_owned()),
        );
        SecretText::new(Value::Object(fields).to_string())
    }

    /// The pending secret may change only the login (and, alternating, the user name).
    pub fn check_same_target(
        &self,
        pending: &DbSecret,
        same_user: bool,
    ) -> Result<(), SecretError> {
        let changed = |field: &'static str, current: &str, pending: &str| {
            (current != pending).then(|| SecretError::Changed {
                field,
                current: current.to_owned(),
                pending: pending.to_owned(),
            })
        };
        let database = |s: &DbSecret| s.dbname.clone().unwrap_or_default();
        let mismatch = changed("host", &self.host, &pending.host)
            .or_else(|| changed("port", &self.port.to_string(), &pending.port.to_string()))
            .or_else(|| changed("dbname", &database(self), &database(pending)))
            .or_else(|| {
                same_user
                    .then(|| changed("username", &self.username, &pending.username))
                    .flatten()
            });
        mismatch.map_or(Ok(()), Err)
    }

    /// `host:port/dbname` (or `host:port`): where a login goes, for messages.
    pub fn target(&self, dbname: Option<&str>) -> String {
        match dbname {
            Some(db) => format!("{}:{}/{db}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// `name` <-> `name_clone`, within the engine's limit for user names.
pub fn alternate_user(username: &str, limit: NameLimit) -> Result<String, SecretError> {
    let alternate = match username.strip_suffix(CLONE_SUFFIX) {
        Some(base) if !base.is_empty() => base.to_owned(),
        _ => format!("{username}{CLONE_SUFFIX}"),
    };
    if !limit.allows(&alternate) {
        return Err(SecretError::NameTooLong {
            name: alternate,
            limit,
        });
    }
    Ok(alternate)
}

/// The original user name, without the alternating suffix: the user the clone copies.
pub fn base_user(username: &str) -> &str {
    username
        .strip_suffix(CLONE_SUFFIX)
        .filter(|b| !b.is_empty())
        .unwrap_or(username)
}

#[cfg(test)]
#[path = "secret_test.rs"]
mod tests;
