//! Rotation of secrets that hold a generated credential (API tokens, shared keys): there is no
//! external system to update, so the work is building the new value and checking its shape.
//!
//! - JSON object secrets: every field is kept; only the configured field (default `password`)
//!   is regenerated.
//! - Plain secrets: the whole value is regenerated.
//!
//! `SECRET_FORMAT` says which: `json`, `plain`, or `auto` (default): a value starting with `{`
//! is JSON and must parse (a broken JSON secret is an error, never silently replaced whole,
//! which would lose its other fields); anything else is plain. So that `auto` stays
//! unambiguous, a generated plain value never starts with `{`.
//!
//! setSecret and testSecret both verify the pending value: same shape and same other fields as
//! the current value, a new credential that satisfies the password policy.

use serde_json::{Map, Value};
use shared::config::{ConfigError, Env};
use shared::password::{PasswordError, PasswordPolicy, PolicyViolation};
use shared::rotation::{PreviousValue, RotationTarget};
use shared::secret::SecretText;

pub const DEFAULT_ROTATED_FIELD: &str = "password";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenericSecretError {
    #[error("the secret is not a valid JSON object ({0}); if it is a plain value, set SECRET_FORMAT=plain")]
    MalformedJson(String),
    #[error("the JSON secret has no field {0:?} to rotate (set ROTATED_FIELD to the field that holds the credential)")]
    FieldMissing(String),
    #[error("the JSON secret's field {0:?} is not a string")]
    FieldNotString(String),
    #[error("cannot generate a password: {0}")]
    Password(#[from] PasswordError),
    #[error("the pending value is {pending} but the current value is {current}")]
    ShapeChanged {
        current: &'static str,
        pending: &'static str,
    },
    #[error(
        "the pending value's fields other than {field:?} differ from the current value's: {fields}"
    )]
    OtherFieldsChanged { field: String, fields: String },
    #[error("the pending credential {0}")]
    PolicyViolation(#[from] PolicyViolation),
    #[error("the pending credential is the same as the current one")]
    Unchanged,
}

/// How secret values are read (`SECRET_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    Auto,
    Json,
    Plain,
}

impl SecretFormat {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env
            .string_or("SECRET_FORMAT", "auto")
            .to_ascii_lowercase()
            .as_str()
        {
            "auto" => Ok(Self::Auto),
            "json" => Ok(Self::Json),
            "plain" => Ok(Self::Plain),
            other => Err(ConfigError::Invalid {
                name: "SECRET_FORMAT",
                reason: format!("expected auto, json or plain, got {other:?}"),
            }),
        }
    }
}

/// A secret value, by shape.
enum Shape {
    Json(Map<String, Value>),
    Plain(String),
}

impl Shape {
    fn of(value: &SecretText, format: SecretFormat) -> Result<Self, GenericSecretError> {
        let text = value.expose();
        let json = match format {
            SecretFormat::Json => true,
            SecretFormat::Plain => false,
            SecretFormat::Auto => text.trim_start().starts_with('{'),
        };
        if !json {
            return Ok(Self::Plain(text.to_owned()));
        }
        // serde_json's message gives only a position, never the text around it.
        serde_json::from_str(text)
            .map(Self::Json)
            .map_err(|error| GenericSecretError::MalformedJson(error.to_string()))
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Json(_) => "a JSON object",
            Self::Plain(_) => "plain text",
        }
    }
}

pub struct GenericSecret {
    format: SecretFormat,
    field: String,
    policy: PasswordPolicy,
}

impl GenericSecret {
    pub fn new(format: SecretFormat, field: impl Into<String>, policy: PasswordPolicy) -> Self {
        Self {
            format,
            field: field.into(),
            policy,
        }
    }

    /// `SECRET_FORMAT`, `ROTATED_FIELD` and the password settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::new(
            SecretFormat::from_env(env)?,
            env.string_or("ROTATED_FIELD", DEFAULT_ROTATED_FIELD),
            PasswordPolicy::from_env(env)?,
        ))
    }

    fn shape(&self, value: &SecretText) -> Result<Shape, GenericSecretError> {
        Shape::of(value, self.format)
    }

    fn new_plain_value(&self) -> Result<SecretText, GenericSecretError> {
        loop {
            let value = self.policy.generate()?;
            if self.format != SecretFormat::Auto || !value.expose().starts_with('{') {
                return Ok(value);
            }
        }
    }

    fn credential<'a>(
        &self,
        object: &'a Map<String, Value>,
    ) -> Result<&'a str, GenericSecretError> {
        match object.get(&self.field) {
            None => Err(GenericSecretError::FieldMissing(self.field.clone())),
            Some(Value::String(credential)) => Ok(credential),
            Some(_) => Err(GenericSecretError::FieldNotString(self.field.clone())),
        }
    }

    pub fn new_value(&self, current: &SecretText) -> Result<SecretText, GenericSecretError> {
        match self.shape(current)? {
            Shape::Json(mut object) => {
                self.credential(&object)?;
                let password = self.policy.generate()?;
                // With serde_json's preserve_order, replacing a key keeps its position.
                object.insert(
                    self.field.clone(),
                    Value::String(password.expose().to_owned()),
                );
                Ok(SecretText::new(Value::Object(object).to_string()))
            }
            Shape::Plain(_) => self.new_plain_value(),
        }
    }

    pub fn verify(
        &self,
        current: &SecretText,
        pending: &SecretText,
    ) -> Result<(), GenericSecretError> {
        match (self.shape(current)?, self.shape(pending)?) {
            (Shape::Json(current), Shape::Json(pending)) => {
                let changed: Vec<&str> = current
                    .keys()
                    .chain(pending.keys().filter(|k| !current.contains_key(*k)))
                    .filter(|k| **k != self.field && current.get(*k) != pending.get(*k))
                    .map(String::as_str)
                    .collect();
                if !changed.is_empty() {
                    return Err(GenericSecretError::OtherFieldsChanged {
                        field: self.field.clone(),
                        fields: changed.join(", "),
                    });
                }
                self.check_credential(self.credential(&current)?, self.credential(&pending)?)
            }
            (Shape::Plain(current), Shape::Plain(pending)) => {
                self.check_credential(&current, &pending)
            }
            (current, pending) => Err(GenericSecretError::ShapeChanged {
                current: current.describe(),
                pending: pending.describe(),
            }),
        }
    }

    fn check_credential(&self, current: &str, pending: &str) -> Result<(), GenericSecretError> {
        self.policy.check(pending)?;
        if pending == current {
            return Err(GenericSecretError::Unchanged);
        }
        Ok(())
    }
}

impl RotationTarget for GenericSecret {
    type Error = GenericSecretError;

    async fn new_pending_value(&self, current: &SecretText) -> Result<SecretText, Self::Error> {
        self.new_value(current)
    }

    async fn set_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
        _previous: PreviousValue<'_>,
    ) -> Result<(), Self::Error> {
        self.verify(current, pending)
    }

    async fn test_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
    ) -> Result<(), Self::Error> {
        self.verify(current, pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::password::PasswordSettings;

    fn target() -> GenericSecret {
        GenericSecret::new(
            SecretFormat::Auto,
            "password",
            PasswordPolicy::new(&PasswordSettings::default()).unwrap(),
        )
    }

    fn text(s: &str) -> SecretText {
        SecretText::new(s)
    }

    #[test]
    fn json_secrets_keep_every_other_field_and_their_order() {
        let current =
            text(r#"{"username":"app","password":"old-Passw0rd!","host":"db","port":5432}"#);
        let new = target().new_value(&current).unwrap();
        let parsed: Map<String, Value> = serde_json::from_str(new.expose()).unwrap();
        assert_eq!(
            parsed.keys().collect::<Vec<_>>(),
            ["username", "password", "host", "port"]
        );
        assert_eq!(parsed["username"], "app");
        assert_eq!(parsed["port"], 5432);
        assert_ne!(parsed["password"], "old-Passw0rd!");
        assert_eq!(target().verify(&current, &new), Ok(()));
    }

    #[test]
    fn a_configured_field_is_the_one_rotated() {
        let t = GenericSecret::new(
            SecretFormat::Auto,
            "api_key",
            PasswordPolicy::new(&PasswordSettings::default()).unwrap(),
        );
        let current = text(r#"{"api_key":"k","password":"untouched"}"#);
        let new = t.new_value(&current).unwrap();
        let parsed: Value = serde_json::from_str(new.expose()).unwrap();
        assert_eq!(parsed["password"], "untouched");
        assert_ne!(parsed["api_key"], "k");
    }

    #[test]
    fn plain_secrets_are_replaced_whole() {
        let current = text("plain-old-token");
        // Many rounds: a generated value must never be mistaken for JSON on the next rotation.
        for _ in 0..2000 {
            let new = target().new_value(&current).unwrap();
            assert_eq!(new.expose().chars().count(), 32);
            assert_eq!(target().verify(&current, &new), Ok(()));
            assert_eq!(
                target().verify(&new, &target().new_value(&new).unwrap()),
                Ok(())
            );
        }
    }

    #[test]
    fn the_format_can_be_forced() {
        let policy = || PasswordPolicy::new(&PasswordSettings::default()).unwrap();
        let plain = GenericSecret::new(SecretFormat::Plain, "password", policy());
        let braced = text("{not json, a plain value}");
        assert!(matches!(
            target().new_value(&braced),
            Err(GenericSecretError::MalformedJson(_))
        ));
        assert_eq!(
            plain.verify(&braced, &plain.new_value(&braced).unwrap()),
            Ok(())
        );
        let json = GenericSecret::new(SecretFormat::Json, "password", policy());
        assert!(matches!(
            json.new_value(&text("plain")),
            Err(GenericSecretError::MalformedJson(_))
        ));
        let env = Env::from_pairs([("SECRET_FORMAT", "yaml")]);
        assert!(matches!(
            GenericSecret::from_env(&env),
            Err(ConfigError::Invalid {
                name: "SECRET_FORMAT",
                ..
            })
        ));
    }

    #[test]
    fn bad_current_values_are_specific_errors() {
        assert_eq!(
            target()
                .new_value(&text(r#"{"username":"app"}"#))
                .unwrap_err(),
            GenericSecretError::FieldMissing("password".into())
        );
        assert_eq!(
            target().new_value(&text(r#"{"password":42}"#)).unwrap_err(),
            GenericSecretError::FieldNotString("password".into())
        );
        let error = target()
            .new_value(&text(r#"{"password":"secret-value-here""#))
            .unwrap_err();
        assert!(matches!(error, GenericSecretError::MalformedJson(_)));
        assert!(!error.to_string().contains("secret-value-here"), "{error}");
    }

    #[test]
    fn verify_rejects_a_pending_value_of_the_wrong_shape() {
        let t = target();
        let current = text(r#"{"username":"app","password":"a"}"#);
        let good = t.new_value(&current).unwrap();
        let mut changed: Map<String, Value> = serde_json::from_str(good.expose()).unwrap();
        changed.insert("username".into(), "other".into());
        changed.insert("extra".into(), 1.into());
        assert_eq!(
            t.verify(&current, &text(&Value::Object(changed).to_string())),
            Err(GenericSecretError::OtherFieldsChanged {
                field: "password".into(),
                fields: "username, extra".into()
            })
        );
        assert_eq!(
            t.verify(&current, &text("plain")),
            Err(GenericSecretError::ShapeChanged {
                current: "a JSON object",
                pending: "plain text"
            })
        );
        assert_eq!(
            t.verify(&current, &text(r#"{"username":"app","password":"short"}"#)),
            Err(GenericSecretError::PolicyViolation(
                PolicyViolation::WrongLength {
                    expected: 32,
                    actual: 5
                }
            ))
        );
        let same = t.new_value(&text("x")).unwrap();
        assert_eq!(t.verify(&same, &same), Err(GenericSecretError::Unchanged));
    }

    #[test]
    fn settings_come_from_the_environment() {
        let t = GenericSecret::from_env(&Env::from_pairs([
            ("ROTATED_FIELD", "token"),
            ("PASSWORD_LENGTH", "12"),
        ]))
        .unwrap();
        assert_eq!(t.field, "token");
        assert_eq!(t.format, SecretFormat::Auto);
        assert_eq!(t.policy.length(), 12);
        assert_eq!(
            GenericSecret::from_env(&Env::default()).unwrap().field,
            "password"
        );
    }
}
