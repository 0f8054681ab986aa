//! Rotation of a secret that holds one IAM user's access key (`UserName`, `AccessKeyId`,
//! `SecretAccessKey`; other fields are kept):
//!
//! - createSecret creates the user's new key, making room by deleting an INACTIVE key only (the
//!   one the previous rotation deactivated), never an active one. Before creating it records on
//!   the user which keys exist ([`shared::iam::creation`]), so that a retry after a crash or a
//!   lost answer recognises the key an interrupted attempt made and never stored, and deletes it.
//!   If the new value surely was not stored (read back), the new key is deleted at once.
//! - setSecret has nothing to do: IAM accepts the key when it is created.
//! - testSecret signs STS `GetCallerIdentity` with the new key until it authenticates as the
//!   user (IAM propagates new keys within seconds), bounded by `KEY_PROPAGATION_TIMEOUT`.
//! - finishSecret, once `AWSCURRENT` is the new key, deactivates the previous key (deleted at the
//!   next rotation) and removes the creation record.

use serde_json::{Map, Value};
use shared::config::{ConfigError, Env};
use shared::iam::creation::{creation_record, unstored_keys, SECRET_ROTATION_RECORD};
use shared::iam::directory::{DirectoryError, KeyDirectory};
use shared::iam::identity::{verify_key, IdentityCheck};
use shared::iam::key_suffix;
use shared::rotation::{PreviousValue, RotationTarget};
use shared::secret::SecretText;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KeySecretError {
    #[error(
        "the secret is not a JSON object with UserName, AccessKeyId and SecretAccessKey ({0})"
    )]
    Malformed(String),
    #[error("the secret's field {0} is missing or not a string")]
    MissingField(&'static str),
    #[error("IAM user {user} has two active keys ({first}, {second}): deactivate the one no application uses, then rotate again")]
    TwoActiveKeys {
        user: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("the new key {key} of {user} does not work: {reason}")]
    KeyRejected {
        user: String,
        key: String,
        reason: String,
    },
    #[error("the pending value is for user {pending}, the current one for {current}")]
    UserChanged { current: String, pending: String },
}

/// The parts of the secret this function uses; every other field is carried over untouched.
struct KeySecret {
    fields: Map<String, Value>,
    user: String,
    key_id: String,
    secret: SecretText,
}

impl KeySecret {
    fn parse(value: &SecretText) -> Result<Self, KeySecretError> {
        let fields: Map<String, Value> = serde_json::from_str(value.expose())
            .map_err(|e| KeySecretError::Malformed(e.to_string()))?;
        let text = |name: &'static str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or(KeySecretError::MissingField(name))
        };
        Ok(Self {
            user: text("UserName")?,
            key_id: text("AccessKeyId")?,
            secret: SecretText::new(text("SecretAccessKey")?),
            fields,
        })
    }
}

pub struct UserKey<D, I> {
    directory: D,
    identity: I,
    propagation_timeout: Duration,
}

impl<D: KeyDirectory, I: IdentityCheck> UserKey<D, I> {
    pub fn new(directory: D, identity: I, propagation_timeout: Duration) -> Self {
        Self {
            directory,
            identity,
            propagation_timeout,
        }
    }
}

/// `KEY_PROPAGATION_TIMEOUT` (60s): how long testSecret waits for IAM to accept a new key.
pub fn propagation_timeout_from_env(env: &Env) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(
        env.duration_or("KEY_PROPAGATION_TIMEOUT", 60, 600)? as u64,
    ))
}

/// The pending key secret, parsed, when it is for the user the current one is for: the key is
/// only ever replaced, never moved to another user.
fn same_user(current: &SecretText, pending: &SecretText) -> Result<KeySecret, KeySecretError> {
    let (current, pending) = (KeySecret::parse(current)?, KeySecret::parse(pending)?);
    if current.user != pending.user {
        return Err(KeySecretError::UserChanged {
            current: current.user,
            pending: pending.user,
        });
    }
    Ok(pending)
}

impl<D: KeyDirectory, I: IdentityCheck> RotationTarget for UserKey<D, I> {
    type Error = KeySecretError;
    const ACTS_AFTER_FINISH: bool = true;

    async fn new_pending_value(&self, current: &SecretText) -> Result<SecretText, KeySecretError> {
        let current = KeySecret::parse(current)?;
        let user = current.user.as_str();
        let mut keys = self.directory.keys(user).await?;
        // A second active key may be one an interrupted attempt created and could not store.
        if keys.iter().any(|k| k.active && k.id != current.key_id) {
            let tags = self.directory.tags(user).await?;
            let record = tags.get(SECRET_ROTATION_RECORD).map(String::as_str);
            let unstored: Vec<String> = unstored_keys(&keys, record, &[&current.key_id])
                .into_iter()
                .map(|k| k.id.clone())
                .collect();
            for id in &unstored {
                tracing::warn!(user, key = %key_suffix(id), "deleting a key an interrupted attempt created and never stored");
                self.directory.delete_key(user, id).await?;
            }
            keys.retain(|k| !unstored.contains(&k.id));
        }
        let make_room = if keys.len() >= 2 {
            match keys.iter().find(|k| !k.active && k.id != current.key_id) {
                Some(inactive) => Some(inactive.id.clone()),
                None => {
                    return Err(KeySecretError::TwoActiveKeys {
                        user: current.user.clone(),
                        first: key_suffix(&keys[0].id),
                        second: key_suffix(&keys[1].id),
                    })
                }
            }
        } else {
            None
        };
        keys.retain(|k| Some(&k.id) != make_room.as_ref());
        // The record lists the keys that remain once the inactive one is gone, so it and the
        // deletion go out together; the new key waits for both. Should the deletion fail after
        // the record was written, the inactive key is still no unstored one (it is not active).
        let delete_inactive = async {
            if let Some(inactive) = &make_room {
                tracing::info!(user, key = %key_suffix(inactive), "deleting the inactive key to make room");
                self.directory.delete_key(user, inactive).await?;
            }
            Ok::<(), DirectoryError>(())
        };
        let record = creation_record(&keys);
        let tags = [(SECRET_ROTATION_RECORD, record.as_str())];
        tokio::try_join!(delete_inactive, self.directory.tag(user, &tags))?;
        let key = self.directory.create_key(&current.user).await?;
        tracing::info!(user = %current.user, key = %key_suffix(&key.id), "created the new key");
        let mut fields = current.fields;
        fields.insert("AccessKeyId".into(), Value::String(key.id.clone()));
        fields.insert(
            "SecretAccessKey".into(),
            Value::String(key.secret.expose().to_owned()),
        );
        if fields.contains_key("CreateDate") {
            fields.insert(
                "CreateDate".into(),
                Value::String(shared::time::rfc3339_epoch(key.created)),
            );
        }
        Ok(SecretText::new(Value::Object(fields).to_string()))
    }

    async fn abandon_pending(&self, pending: &SecretText) -> Result<(), KeySecretError> {
        let pending = KeySecret::parse(pending)?;
        tracing::warn!(user = %pending.user, key = %key_suffix(&pending.key_id), "deleting the new key: its value could not be stored");
        Ok(self
            .directory
            .delete_key(&pending.user, &pending.key_id)
            .await?)
    }

    async fn set_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
        _previous: PreviousValue<'_>,
    ) -> Result<(), KeySecretError> {
        same_user(current, pending).map(|_| ())
    }

    async fn test_pending(
        &self,
        current: &SecretText,
        pending: &SecretText,
    ) -> Result<(), KeySecretError> {
        let pending = same_user(current, pending)?;
        let arn = verify_key(
            &self.identity,
            &pending.user,
            &pending.key_id,
            &pending.secret,
            self.propagation_timeout,
        )
        .await
        .map_err(|reason| KeySecretError::KeyRejected {
            user: pending.user.clone(),
            key: key_suffix(&pending.key_id),
            reason,
        })?;
        tracing::info!(user = %pending.user, %arn, "the new key authenticates as the user");
        Ok(())
    }

    async fn finished(&self, previous: &SecretText) -> Result<(), KeySecretError> {
        let previous = KeySecret::parse(previous)?;
        let (user, key) = (previous.user.as_str(), previous.key_id.as_str());
        // Deactivating is idempotent and a key already deleted is retired too, so no listing
        // first; and the new key is stored and current, so the creation record has served.
        let (deactivated, untagged) = tokio::join!(
            self.directory.deactivate_key(user, key),
            self.directory.untag(user, &[SECRET_ROTATION_RECORD])
        );
        if let Err(error) = untagged {
            tracing::warn!(user, %error, "the creation record could not be removed; the next rotation replaces it");
        }
        match deactivated {
            Ok(()) => {
                tracing::info!(user, key = %key_suffix(key), "the previous key is inactive");
                Ok(())
            }
            Err(DirectoryError::KeyNotFound { .. }) => {
                tracing::info!(user, key = %key_suffix(key), "the previous key is already deleted");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_must_name_user_key_and_secret() {
        let ok = KeySecret::parse(&SecretText::new(
            r#"{"UserName":"a","AccessKeyId":"AKIA1","SecretAccessKey":"s","Note":"kept"}"#,
        ))
        .unwrap();
        assert_eq!(
            (
                ok.user.as_str(),
                ok.key_id.as_str(),
                ok.fields["Note"].as_str()
            ),
            ("a", "AKIA1", Some("kept"))
        );
        assert!(matches!(
            KeySecret::parse(&SecretText::new("plain")),
            Err(KeySecretError::Malformed(_))
        ));
        assert!(matches!(
            KeySecret::parse(&SecretText::new(
                r#"{"UserName":"a","AccessKeyId":"AKIA1"}"#
            )),
            Err(KeySecretError::MissingField("SecretAccessKey"))
        ));
        assert!(matches!(
            KeySecret::parse(&SecretText::new(
                r#"{"UserName":"","AccessKeyId":"AKIA1","SecretAccessKey":"s"}"#
            )),
            Err(KeySecretError::MissingField("UserName"))
        ));
        let error = KeySecret::parse(&SecretText::new(
            r#"{"UserName":"a","AccessKeyId":"AKIA1","SecretAccessKey":"do-not-show""#,
        ))
        .err()
        .unwrap();
        assert!(!error.to_string().contains("do-not-show"));
    }

    #[test]
    fn the_propagation_timeout_is_a_bounded_duration() {
        assert_eq!(
            propagation_timeout_from_env(&Env::default()).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            propagation_timeout_from_env(&Env::from_pairs([("KEY_PROPAGATION_TIMEOUT", "5s")]))
                .unwrap(),
            Duration::from_secs(5)
        );
        assert!(propagation_timeout_from_env(&Env::from_pairs([(
            "KEY_PROPAGATION_TIMEOUT",
            "1d"
        )]))
        .is_err());
    }
}
