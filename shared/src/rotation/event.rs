//! The event Secrets Manager sends a rotation function, parsed with specific errors.

use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Create, Step::Set, Step::Test, Step::Finish];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Set => "setSecret",
            Self::Test => "testSecret",
            Self::Finish => "finishSecret",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == name)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    pub step: Step,
    /// ARN or name of the secret.
    pub secret_id: String,
    /// `ClientRequestToken`: the version id of the version this rotation creates.
    pub token: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("the rotation event is not a JSON object")]
    NotAnObject,
    #[error("the rotation event has no field {0}")]
    MissingField(&'static str),
    #[error("the rotation event's field {0} must be a non-empty string")]
    NotAString(&'static str),
    #[error(
        "unknown rotation step {0:?}: expected createSecret, setSecret, testSecret or finishSecret"
    )]
    UnknownStep(String),
    #[error("the rotation event's field {field} is {length} characters long; Secrets Manager allows at most {max}")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
}

impl RotationEvent {
    /// Accepts the three fields Secrets Manager always sends and ignores any others (newer events
    /// carry `RotationToken`).
    pub fn parse(payload: &Value) -> Result<Self, EventError> {
        let object = payload.as_object().ok_or(EventError::NotAnObject)?;
        let field = |name: &'static str| -> Result<String, EventError> {
            match object.get(name) {
                None | Some(Value::Null) => Err(EventError::MissingField(name)),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                Some(_) => Err(EventError::NotAString(name)),
            }
        };
        // Secrets Manager's own limits: nothing longer ever comes from it, and nothing longer is
        // quoted into a log line or an alert.
        let bounded = |name: &'static str, max: usize| {
            let value = field(name)?;
            match value.chars().count() {
                length if length > max => Err(EventError::TooLong {
                    field: name,
                    length,
                    max,
                }),
                _ => Ok(value),
            }
        };
        let secret_id = bounded("SecretId", 2048)?;
        let token = bounded("ClientRequestToken", 64)?;
        let step_name = field("Step")?;
        let step = Step::parse(&step_name).ok_or_else(|| {
            EventError::UnknownStep(crate::text::excerpt(&step_name, crate::text::QUOTE_CHARS))
        })?;
        Ok(Self {
            step,
            secret_id,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_step_and_tolerates_unknown_fields() {
        for step in Step::ALL {
            let event = RotationEvent::parse(&json!({
                "Step": step.as_str(), "SecretId": "arn:s", "ClientRequestToken": "t-1", "RotationToken": "opaque"
            }))
            .unwrap();
            assert_eq!(
                event,
                RotationEvent {
                    step,
                    secret_id: "arn:s".into(),
                    token: "t-1".into()
                }
            );
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let full = json!({"Step": "createSecret", "SecretId": "s", "ClientRequestToken": "t"});
        for name in ["SecretId", "ClientRequestToken", "Step"] {
            let mut event = full.clone();
            event.as_object_mut().unwrap().remove(name);
            let error = RotationEvent::parse(&event).unwrap_err();
            assert!(matches!(error, EventError::MissingField(n) if n == name));
            assert!(error.to_string().contains(name));
        }
        let mut event = full.clone();
        event["SecretId"] = json!(42);
        assert_eq!(
            RotationEvent::parse(&event),
            Err(EventError::NotAString("SecretId"))
        );
        event["SecretId"] = json!("");
        assert_eq!(
            RotationEvent::parse(&event),
            Err(EventError::NotAString("SecretId"))
        );
        let mut event = full.clone();
        event["Step"] = json!("deleteSecret");
        assert_eq!(
            RotationEvent::parse(&event),
            Err(EventError::UnknownStep("deleteSecret".into()))
        );
        assert_eq!(
            RotationEvent::parse(&json!([1, 2])),
            Err(EventError::NotAnObject)
        );
        let mut event = full.clone();
        event["SecretId"] = json!("s".repeat(1_000_000));
        let error = RotationEvent::parse(&event).unwrap_err();
        assert!(matches!(
            error,
            EventError::TooLong {
                field: "SecretId",
                length: 1_000_000,
                ..
            }
        ));
        assert!(error.to_string().len() < 200);
        let mut event = full.clone();
        event["Step"] = json!("x".repeat(100_000));
        assert!(RotationEvent::parse(&event).unwrap_err().to_string().len() < 300);
        let mut event = full.clone();
        // Step names are case-sensitive in the contract.
        event["Step"] = json!("CreateSecret");
        assert!(matches!(
            RotationEvent::parse(&event),
            Err(EventError::UnknownStep(_))
        ));
    }
}
