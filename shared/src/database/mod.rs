//! Database logins (PostgreSQL, MySQL, MariaDB) in the RDS secret convention: the secret
//! ([`secret`]), how connections are secured ([`tls`]), and the rotation of a login over any
//! engine's adapter ([`login`]).

pub mod login;
pub mod secret;
pub mod tls;
