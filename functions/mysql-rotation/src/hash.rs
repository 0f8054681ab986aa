//! What MySQL and MariaDB store of a password, computed here so that the server receives the
//! stored form only: a statement that carries it can be logged (general log, binary log, replicas)
//! without giving the password away, as the PostgreSQL function sends a SCRAM verifier. Pure.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use curve25519_dalek::EdwardsPoint;
use sha1::{Digest, Sha1};
use sha2::Sha512;

/// `mysql_native_password`: `*` and the upper-case hex of SHA1(SHA1(password)).
pub fn native_password_hash(password: &str) -> String {
    let inner = Sha1::digest(password.as_bytes());
    let outer = Sha1::digest(inner);
    let mut hash = String::with_capacity(41);
    hash.push('*');
    for byte in outer {
        hash.push_str(&format!("{byte:02X}"));
    }
    hash
}

/// MariaDB's `ed25519`: the Ed25519 public key whose secret is the password (the key pair as
/// RFC 8032 derives it from a seed, the password taking the seed's place), base64 without padding.
pub fn ed25519_public_key(password: &str) -> String {
    let digest = Sha512::digest(password.as_bytes());
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&digest[..32]);
    let key = EdwardsPoint::mul_base_clamped(secret).compress();
    STANDARD_NO_PAD.encode(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_hashes_match_the_servers() {
        // SELECT PASSWORD('password') on MySQL 5.7 and MariaDB.
        assert_eq!(
            native_password_hash("password"),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
        assert_eq!(native_password_hash("x").len(), 41);
        assert_ne!(native_password_hash("x"), native_password_hash("y"));
    }

    #[test]
    fn ed25519_keys_match_the_servers() {
        // CREATE USER ... IDENTIFIED VIA ed25519 USING PASSWORD('secret') on MariaDB 10.11 stores
        // this key (SHOW CREATE USER).
        assert_eq!(
            ed25519_public_key("secret"),
            "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"
        );
        assert_eq!(ed25519_public_key("another-Passw0rd").len(), 43);
    }
}
