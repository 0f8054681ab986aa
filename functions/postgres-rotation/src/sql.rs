//! SQL text for role management. PostgreSQL DDL takes no bind parameters, so identifiers and
//! literals are quoted here, by PostgreSQL's rules, and nothing user-supplied is spliced unquoted.
//! Passwords never appear at all: the server gets a SCRAM-SHA-256 verifier computed here, so the
//! plaintext is in no statement, log line or `pg_stat_activity` row.

use shared::secret::SecretText;

/// `"name"`, with embedded double quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with embedded single quotes doubled. The verifiers and role names quoted here hold
/// no backslash; `E''` strings are never used, so backslashes would be literal anyway.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for a password.
pub fn verifier(password: &SecretText) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
}

/// Without `LOGIN`: a user may change its own password, but not its attributes.
pub fn set_password(role: &str, verifier: &str) -> String {
    format!(
        "ALTER ROLE {} WITH PASSWORD {}",
        quote_ident(role),
        quote_literal(verifier)
    )
}

pub fn create_login(role: &str, verifier: &str) -> String {
    format!(
        "CREATE ROLE {} WITH LOGIN PASSWORD {}",
        quote_ident(role),
        quote_literal(verifier)
    )
}

pub fn grant(role: &str, to: &str) -> String {
    format!("GRANT {} TO {}", quote_ident(role), quote_ident(to))
}

/// Every session of `user` starts as `role` (of which it must be a member).
pub fn default_session_role(user: &str, role: &str) -> String {
    format!(
        "ALTER ROLE {} SET role = {}",
        quote_ident(user),
        quote_literal(role)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted_by_postgres_rules() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            quote_ident("Robert'); DROP TABLE x;--"),
            "\"Robert'); DROP TABLE x;--\""
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("back\\slash $$"), "'back\\slash $$'");
        assert_eq!(
            default_session_role("o'neil", "g"),
            "ALTER ROLE \"o'neil\" SET role = 'g'"
        );
    }

    #[test]
    fn passwords_reach_sql_only_as_verifiers() {
        let password = SecretText::new("p@ss'w\"ord$$\\ é");
        let v = verifier(&password);
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        let statement = set_password("app", &v);
        assert!(!statement.contains(password.expose()));
        assert!(statement.starts_with("ALTER ROLE \"app\" WITH PASSWORD 'SCRAM-SHA-256$"));
        assert_ne!(verifier(&password), v, "a fresh salt each time");
    }
}
