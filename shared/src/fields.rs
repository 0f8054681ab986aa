//! Lenient readers of fields in events from outside (EventBridge details, CloudTrail records):
//! AWS documents some booleans as `TRUE`/`FALSE` strings while real events carry JSON booleans,
//! and numbers arrive as either. A field of an unexpected type reads as absent, never as an error.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the event is not an EventBridge event: {0}")]
    NotEventBridge(String),
    #[error("the {detail_type:?} event's detail is not a JSON object")]
    DetailNotObject { detail_type: String },
    #[error("the event's {0}")]
    Resources(crate::identifiers::IdentifierError),
}

/// The EventBridge envelope of an event, its `detail` an object.
pub fn eventbridge(payload: &Value) -> Result<EventBridgeEvent<Value>, EnvelopeError> {
    // Resources are identifiers: each must be a string, and an error names which is not.
    let as_arn = |value: &Value, field: &str| {
        crate::identifiers::text(Some(value), field, "an ARN")
            .map(|_| ())
            .map_err(EnvelopeError::Resources)
    };
    match payload.get("resources") {
        None | Some(Value::Null) => {}
        Some(Value::Array(resources)) => {
            for (i, resource) in resources.iter().enumerate() {
                as_arn(resource, &format!("resources[{i}]"))?;
            }
        }
        Some(other) => as_arn(other, "resources")?,
    }
    // serde quotes the offending value: cut it, the input may be of any size.
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone())
        .map_err(|error| EnvelopeError::NotEventBridge(quoted(&error.to_string())))?;
    if !event.detail.is_object() {
        return Err(EnvelopeError::DetailNotObject {
            detail_type: quoted(&event.detail_type),
        });
    }
    Ok(event)
}

/// A value from an event, cut for quoting in an error or a log: the input may be of any size.
pub fn quoted(input: &str) -> String {
    crate::text::excerpt(input, crate::text::QUOTE_CHARS)
}

/// A non-blank string, or a number or boolean as text.
pub fn text(detail: &Value, key: &str) -> Option<String> {
    match detail.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number, from a JSON number (rounded down) or a numeric string.
pub fn number(detail: &Value, key: &str) -> Option<i64> {
    match detail.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean, from a JSON boolean or `true`/`false` in any case.
pub fn flag(detail: &Value, key: &str) -> Option<bool> {
    match detail.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}
