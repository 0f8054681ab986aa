//! IAM access keys: plain data about a user's keys, the pure lifecycle decision ([`policy`]),
//! and the adapters for IAM ([`directory`]) and for storing new keys in Secrets Manager
//! ([`vault`]).

pub mod creation;
pub mod directory;
pub mod identity;
pub mod policy;
pub mod vault;

/// One access key, as `ListAccessKeys` and `GetAccessKeyLastUsed` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
    /// Seconds since the epoch.
    pub created: i64,
    pub last_used: Option<KeyUse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub at: i64,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// The last four characters of a key id: enough to recognise it, never the whole id in an alert.
pub fn key_suffix(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_ids_are_shortened_to_their_last_four_characters() {
        assert_eq!(super::key_suffix("AKIAIOSFODNN7EXAMPLE"), "…MPLE");
        assert_eq!(super::key_suffix("AB"), "…AB");
    }
}
