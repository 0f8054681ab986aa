//! Recognising a key that was created but never stored.
//!
//! `CreateAccessKey` is the only moment a key's secret exists, and storing it is a second call:
//! a crash, a timeout or a lost answer in between leaves an active key nobody can use, holding
//! one of the user's two slots. Before creating, the creator records on the user (a tag of its
//! own: [`ROTATOR_RECORD`] or [`SECRET_ROTATION_RECORD`], so neither mistakes the other's key for
//! its own) which keys existed; a later attempt then knows exactly which key the interrupted one
//! made, and deletes it unless a secret holds it. Without the record a second active key is
//! someone else's, and is never touched.

use super::AccessKey;

/// The access key rotator's creation record: a user tag written before `CreateAccessKey`, whose
/// value is the ids of the user's keys at that moment, separated by spaces (a tag value may hold
/// letters, digits and spaces).
pub const ROTATOR_RECORD: &str = "credential-rotation/rotator-creating";
/// The same record, written by the rotation function of a secret holding the user's key.
pub const SECRET_ROTATION_RECORD: &str = "credential-rotation/secret-rotation-creating";

/// The tag's value for the keys that exist before the new one is created.
pub fn creation_record(existing: &[AccessKey]) -> String {
    existing
        .iter()
        .map(|k| k.id.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The keys an interrupted creation left: not in the record, and not held by any secret value
/// the caller knows of (`held`). None without a record.
pub fn unstored_keys<'a>(
    keys: &'a [AccessKey],
    record: Option<&str>,
    held: &[&str],
) -> Vec<&'a AccessKey> {
    let Some(record) = record else {
        return Vec::new();
    };
    let existed: Vec<&str> = record.split_whitespace().collect();
    keys.iter()
        .filter(|k| !existed.contains(&k.id.as_str()) && !held.contains(&k.id.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, active: bool) -> AccessKey {
        AccessKey {
            id: id.into(),
            active,
            created: 0,
            last_used: None,
        }
    }

    #[test]
    fn the_record_lists_the_existing_keys() {
        assert_eq!(creation_record(&[]), "");
        assert_eq!(
            creation_record(&[key("AKIA1", true), key("AKIA2", false)]),
            "AKIA1 AKIA2"
        );
    }

    #[test]
    fn only_keys_made_after_the_record_and_held_by_no_secret_are_unstored() {
        let keys = [key("OLD", true), key("NEW", true)];
        let ids = |found: Vec<&AccessKey>| found.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(unstored_keys(&keys, Some("OLD"), &["OLD"])), ["NEW"]);
        // The new key was stored after all (its answer was lost): it is kept.
        assert!(unstored_keys(&keys, Some("OLD"), &["OLD", "NEW"]).is_empty());
        // No record: a second key is someone else's.
        assert!(unstored_keys(&keys, None, &["OLD"]).is_empty());
        // A key held by the current value is never unstored, record or not.
        assert_eq!(ids(unstored_keys(&keys, Some(""), &["OLD"])), ["NEW"]);
        assert!(unstored_keys(&keys, Some("OLD NEW"), &["OLD"]).is_empty());
    }
}
