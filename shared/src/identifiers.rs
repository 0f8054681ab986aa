//! The one strict reader of identifiers that come from outside: events, direct requests, queue
//! messages. Each identifier is read as what it must be (an ARN of a given service and resource
//! type, a KMS key id, key ARN or alias, a certificate ARN, a secret ARN or name, an IAM user
//! name, an account id, a region), within the lengths AWS documents, or refused with an error that
//! names the field and quotes at most [`ECHO_CHARS`] characters of the value and its length: a
//! value of any size can reach no error, log line or alert whole. Pure.

use serde_json::Value;

/// How much of a refused value an error quotes.
pub const ECHO_CHARS: usize = 64;

/// A value as an error, a log line or an alert may quote it: at most [`ECHO_CHARS`] characters,
/// and its length when it is longer.
pub fn echo(value: &str) -> String {
    let total = value.chars().count();
    if total <= ECHO_CHARS {
        return format!("{value:?}");
    }
    let kept: String = value.chars().take(ECHO_CHARS).collect();
    format!("{kept:?}… ({total} characters)")
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IdentifierError {
    #[error("{field} is missing")]
    Missing { field: String },
    #[error("{field} is {found}, not a string ({expected})")]
    NotText {
        field: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{field} is not {expected}: {echo}")]
    Invalid {
        field: String,
        expected: &'static str,
        echo: String,
    },
}

/// The string at `value`, or why it is none.
pub fn text<'a>(
    value: Option<&'a Value>,
    field: &str,
    expected: &'static str,
) -> Result<&'a str, IdentifierError> {
    let found = match value {
        None | Some(Value::Null) => {
            return Err(IdentifierError::Missing {
                field: field.to_owned(),
            })
        }
        Some(Value::String(text)) => return Ok(text),
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    };
    Err(IdentifierError::NotText {
        field: field.to_owned(),
        found,
        expected,
    })
}

fn check<'a>(
    value: &'a str,
    field: &str,
    expected: &'static str,
    valid: bool,
) -> Result<&'a str, IdentifierError> {
    if valid {
        Ok(value)
    } else {
        Err(IdentifierError::Invalid {
            field: field.to_owned(),
            expected,
            echo: echo(value),
        })
    }
}

const ACCOUNT_ID: &str = "a 12-digit AWS account id";
const REGION: &str = "an AWS region name";
const USER_NAME: &str = "an IAM user name (1 to 64 of A-Z a-z 0-9 +=,.@_-)";

/// A 12-digit AWS account id.
pub fn account_id<'a>(value: &'a str, field: &str) -> Result<&'a str, IdentifierError> {
    check(value, field, ACCOUNT_ID, is_account_id(value))
}

pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// A region name as AWS spells them (`eu-west-1`, `us-gov-west-1`): it goes into endpoints and
/// ARNs, so nothing else is accepted.
pub fn region<'a>(value: &'a str, field: &str) -> Result<&'a str, IdentifierError> {
    check(value, field, REGION, is_region(value))
}

pub fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    (9..=32).contains(&value.len())
        && parts.len() >= 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|number| number.bytes().all(|b| b.is_ascii_digit()))
}

/// An IAM user name: 1 to 64 characters of letters, digits and `+=,.@_-`.
pub fn user_name<'a>(value: &'a str, field: &str) -> Result<&'a str, IdentifierError> {
    let valid = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    check(value, field, USER_NAME, valid)
}

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// The longest ARN this project reads (IAM and Secrets Manager document 2,048).
const ARN_MAX: usize = 2048;

impl<'a> Arn<'a> {
    /// The parts, each as AWS spells it: a known partition, a lower-case service, a region (or
    /// none, for global services), an account id (or none), a resource.
    pub fn parse(arn: &'a str) -> Option<Self> {
        if arn.len() > ARN_MAX {
            return None;
        }
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        let known_partition = matches!(
            partition,
            "aws"
                | "aws-cn"
                | "aws-us-gov"
                | "aws-iso"
                | "aws-iso-b"
                | "aws-iso-e"
                | "aws-iso-f"
                | "aws-eusc"
        );
        let valid = known_partition
            && !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && (region.is_empty() || is_region(region))
            && (account.is_empty() || is_account_id(account))
            && !resource.is_empty()
            && !resource.chars().any(char::is_control);
        valid.then_some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Whether `value` is an ARN of `service` in `partition` (this function's: a resource of another
/// partition cannot be reached from here), with a region and an account, whose resource is
/// `resource_prefix` followed by an id that `valid_id` accepts.
fn is_arn_of(
    value: &str,
    partition: &str,
    service: &str,
    resource_prefix: &str,
    valid_id: impl Fn(&str) -> bool,
) -> bool {
    Arn::parse(value).is_some_and(|arn| {
        arn.partition == partition
            && arn.service == service
            && !arn.region.is_empty()
            && !arn.account.is_empty()
            && arn
                .resource
                .strip_prefix(resource_prefix)
                .is_some_and(valid_id)
    })
}

/// A UUID, as AWS gives certificates and KMS keys.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

const CERTIFICATE_ARN: &str = "an ACM certificate ARN of this partition";

/// `arn:<partition>:acm:<region>:<account>:certificate/<uuid>`.
pub fn certificate_arn<'a>(
    value: &'a str,
    field: &str,
    partition: &str,
) -> Result<&'a str, IdentifierError> {
    let valid = is_arn_of(value, partition, "acm", "certificate/", is_uuid);
    check(value, field, CERTIFICATE_ARN, valid)
}

/// A KMS key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key.
pub fn is_kms_key_id(id: &str) -> bool {
    let multi_region = || {
        id.strip_prefix("mrk-")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    is_uuid(id) || multi_region()
}

/// An alias name: `alias/` and 1 to 250 of letters, digits, `/_-` (256 at most in all).
fn is_alias_name(name: &str) -> bool {
    name.strip_prefix("alias/").is_some_and(|rest| {
        !rest.is_empty()
            && name.len() <= 256
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
    })
}

const KMS_KEY_ARN: &str = "a KMS key ARN of this partition";
const KMS_KEY_REFERENCE: &str = "a KMS key id, key ARN, alias name or alias ARN of this partition";

/// `arn:<partition>:kms:<region>:<account>:key/<key id>`.
pub fn kms_key_arn<'a>(
    value: &'a str,
    field: &str,
    partition: &str,
) -> Result<&'a str, IdentifierError> {
    let valid = is_arn_of(value, partition, "kms", "key/", is_kms_key_id);
    check(value, field, KMS_KEY_ARN, valid)
}

/// How a KMS call named its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsKeyReference<'a> {
    KeyId(&'a str),
    KeyArn(&'a str),
    AliasName(&'a str),
    AliasArn(&'a str),
}

/// A key as KMS's `KeyId` parameter takes it: a key id, a key ARN, an alias name or an alias ARN.
pub fn kms_key_reference<'a>(
    value: &'a str,
    field: &str,
    partition: &str,
) -> Result<KmsKeyReference<'a>, IdentifierError> {
    if is_kms_key_id(value) {
        return Ok(KmsKeyReference::KeyId(value));
    }
    if is_alias_name(value) {
        return Ok(KmsKeyReference::AliasName(value));
    }
    if is_arn_of(value, partition, "kms", "key/", is_kms_key_id) {
        return Ok(KmsKeyReference::KeyArn(value));
    }
    // The alias ARN's resource is the alias name itself (`alias/...`).
    if is_arn_of(value, partition, "kms", "", is_alias_name) {
        return Ok(KmsKeyReference::AliasArn(value));
    }
    Err(IdentifierError::Invalid {
        field: field.to_owned(),
        expected: KMS_KEY_REFERENCE,
        echo: echo(value),
    })
}

const SECRET_ID: &str = "a Secrets Manager secret ARN of this partition or a secret name";

/// A secret as Secrets Manager's `SecretId` takes it: its ARN, or a name of 1 to 512 of letters,
/// digits and `/_+=.@-`.
pub fn secret_id<'a>(
    value: &'a str,
    field: &str,
    partition: &str,
) -> Result<&'a str, IdentifierError> {
    let name = |name: &str| {
        (1..=512).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
    };
    let valid = if value.starts_with("arn:") {
        is_arn_of(value, partition, "secretsmanager", "secret:", name)
    } else {
        name(value)
    };
    check(value, field, SECRET_ID, valid)
}

#[cfg(test)]
#[path = "identifiers_test.rs"]
mod tests;
