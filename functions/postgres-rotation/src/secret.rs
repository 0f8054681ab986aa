//! The database secret in the RDS convention (`engine`, `host`, `port`, `username`, `password`,
//! `dbname`, optional `ssl`, optional `masterarn`), as plain data. Pure.

use serde_json::{Map, Value};
use shared::secret::SecretText;

/// PostgreSQL's identifier limit, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;
pub const CLONE_SUFFIX: &str = "_clone";
pub const DEFAULT_PORT: u16 = 5432;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the secret is not a JSON object ({0})")]
    NotJson(String),
    #[error("the secret has no {0} (a non-empty string)")]
    Missing(&'static str),
    #[error("the secret's engine is {0:?}, not postgres")]
    WrongEngine(String),
    #[error("the secret's port {0:?} is not a port number")]
    BadPort(String),
    #[error("the secret's ssl must be true or false, got {0}")]
    BadSsl(String),
    #[error(
        "the alternate user name {0:?} is longer than PostgreSQL's 63-byte limit for identifiers"
    )]
    NameTooLong(String),
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
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: SecretText,
    pub dbname: String,
    pub tls: SecretTls,
    pub master_arn: Option<String>,
}

impl DbSecret {
    pub fn parse(value: &SecretText) -> Result<Self, SecretError> {
        let fields: Map<String, Value> = serde_json::from_str(value.expose())
            .map_err(|e| SecretError::NotJson(e.to_string()))?;
        let text = |name: &'static str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .ok_or(SecretError::Missing(name))
        };
        match fields.get("engine").and_then(Value::as_str) {
            Some("postgres" | "postgresql" | "aurora-postgresql") => {}
            Some(other) => return Err(SecretError::WrongEngine(other.to_owned())),
            None => return Err(SecretError::Missing("engine")),
        }
        let port = match fields.get("port") {
            None | Some(Value::Null) => DEFAULT_PORT,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| SecretError::BadPort(n.to_string()))?,
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| SecretError::BadPort(s.clone()))?,
            Some(other) => return Err(SecretError::BadPort(other.to_string())),
        };
        let tls = match fields.get("ssl") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => SecretTls::Default,
            Some(Value::Bool(false)) => SecretTls::Disabled,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => SecretTls::Default,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => SecretTls::Disabled,
            Some(other) => return Err(SecretError::BadSsl(other.to_string())),
        };
        Ok(Self {
            host: text("host")?,
            port,
            username: text("username")?,
            password: SecretText::new(text("password")?),
            dbname: fields
                .get("dbname")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("postgres")
                .to_owned(),
            tls,
            master_arn: fields
                .get("masterarn")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
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
        let mismatch = changed("host", &self.host, &pending.host)
            .or_else(|| changed("port", &self.port.to_string(), &pending.port.to_string()))
            .or_else(|| changed("dbname", &self.dbname, &pending.dbname))
            .or_else(|| {
                same_user
                    .then(|| changed("username", &self.username, &pending.username))
                    .flatten()
            });
        mismatch.map_or(Ok(()), Err)
    }
}

/// `name` <-> `name_clone`.
pub fn alternate_user(username: &str) -> Result<String, SecretError> {
    let alternate = match username.strip_suffix(CLONE_SUFFIX) {
        Some(base) if !base.is_empty() => base.to_owned(),
        _ => format!("{username}{CLONE_SUFFIX}"),
    };
    if alternate.len() > MAX_IDENTIFIER_BYTES {
        return Err(SecretError::NameTooLong(alternate));
    }
    Ok(alternate)
}

/// The original user name, without the alternating suffix: the role the clone acts as.
pub fn base_user(username: &str) -> &str {
    username
        .strip_suffix(CLONE_SUFFIX)
        .filter(|b| !b.is_empty())
        .unwrap_or(username)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(value: Value) -> Result<DbSecret, SecretError> {
        DbSecret::parse(&SecretText::new(value.to_string()))
    }

    fn base() -> Value {
        json!({"engine": "postgres", "host": "db.internal", "port": 5432, "username": "app", "password": "pw", "dbname": "shop", "note": "kept"})
    }

    #[test]
    fn parses_the_rds_convention() {
        let s = secret(base()).unwrap();
        assert_eq!(
            (
                s.host.as_str(),
                s.port,
                s.username.as_str(),
                s.dbname.as_str(),
                s.tls
            ),
            ("db.internal", 5432, "app", "shop", SecretTls::Default)
        );
        assert_eq!(s.password.expose(), "pw");
        let mut v = base();
        v["port"] = json!("6543");
        v["ssl"] = json!(false);
        v["masterarn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:master");
        v.as_object_mut().unwrap().remove("dbname");
        let s = secret(v).unwrap();
        assert_eq!(
            (s.port, s.tls, s.dbname.as_str()),
            (6543, SecretTls::Disabled, "postgres")
        );
        assert!(s.master_arn.is_some());
    }

    #[test]
    fn bad_secrets_name_the_problem_without_the_password() {
        assert!(matches!(
            DbSecret::parse(&SecretText::new("not json")),
            Err(SecretError::NotJson(_))
        ));
        for (field, value, expected) in [
            (
                "engine",
                json!("mysql"),
                SecretError::WrongEngine("mysql".into()),
            ),
            ("port", json!("http"), SecretError::BadPort("http".into())),
            ("port", json!(70000), SecretError::BadPort("70000".into())),
            (
                "ssl",
                json!("maybe"),
                SecretError::BadSsl("\"maybe\"".into()),
            ),
            ("host", json!(""), SecretError::Missing("host")),
        ] {
            let mut v = base();
            v[field] = value;
            assert_eq!(secret(v).unwrap_err(), expected);
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("password");
        assert_eq!(secret(v).unwrap_err(), SecretError::Missing("password"));
    }

    #[test]
    fn a_new_login_keeps_every_other_field() {
        let s = secret(base()).unwrap();
        let next = DbSecret::parse(&s.with_login("app_clone", &SecretText::new("new"))).unwrap();
        assert_eq!(
            (
                next.username.as_str(),
                next.password.expose(),
                next.host.as_str()
            ),
            ("app_clone", "new", "db.internal")
        );
        assert_eq!(next.fields["note"], "kept");
    }

    #[test]
    fn the_target_may_not_change_between_current_and_pending() {
        let current = secret(base()).unwrap();
        let mut moved = base();
        moved["host"] = json!("evil.example.com");
        let error = current
            .check_same_target(&secret(moved).unwrap(), true)
            .unwrap_err();
        assert_eq!(
            error,
            SecretError::Changed {
                field: "host",
                current: "db.internal".into(),
                pending: "evil.example.com".into()
            }
        );
        let mut renamed = base();
        renamed["username"] = json!("admin");
        assert!(matches!(
            current.check_same_target(&secret(renamed.clone()).unwrap(), true),
            Err(SecretError::Changed {
                field: "username",
                ..
            })
        ));
        assert_eq!(
            current.check_same_target(&secret(renamed).unwrap(), false),
            Ok(())
        );
    }

    #[test]
    fn users_alternate_within_the_identifier_limit() {
        assert_eq!(alternate_user("app").unwrap(), "app_clone");
        assert_eq!(alternate_user("app_clone").unwrap(), "app");
        assert_eq!(alternate_user("_clone").unwrap(), "_clone_clone");
        assert_eq!(alternate_user(&"a".repeat(57)).unwrap().len(), 63);
        assert!(matches!(
            alternate_user(&"a".repeat(58)),
            Err(SecretError::NameTooLong(_))
        ));
        // Bytes, not characters: "é" is two bytes.
        assert!(matches!(
            alternate_user(&"é".repeat(29)),
            Err(SecretError::NameTooLong(_))
        ));
        assert_eq!(base_user("app_clone"), "app");
        assert_eq!(base_user("app"), "app");
    }
}
