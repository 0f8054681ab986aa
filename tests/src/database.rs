//! What the fault matrix and the demo need of a test database server, PostgreSQL or MariaDB.

use crate::mariadb::TestMariaDb;
use crate::postgres::TestPostgres;
use crate::Result;
use serde_json::{json, Value};
use std::future::Future;

pub trait TestDatabase: Sync {
    /// Where the server listens: what a check running on another task needs.
    type Endpoint: Clone + Copy + Send + Sync + 'static;
    /// The rotation function for this engine.
    const FUNCTION: &'static str;
    fn port(&self) -> u16;
    fn endpoint(&self) -> Self::Endpoint;
    /// The settings that make the function trust the server's CA.
    fn function_env(&self) -> Vec<(String, String)>;
    /// A login (names and passwords without quotes: the callers' own).
    fn create_login(&self, user: &str, password: &str) -> impl Future<Output = Result<()>> + Send;
    /// A user's secret in the RDS convention, reaching the server on `port`.
    fn secret(user: &str, password: &str, port: u16) -> Value;
    /// The master login's secret, reaching the server on `port`.
    fn master(port: u16) -> Value;
    /// Whether the login a secret holds (`username`, `password`) works.
    fn accepts_secret(
        endpoint: Self::Endpoint,
        secret: &Value,
    ) -> impl Future<Output = bool> + Send;
}

impl TestDatabase for TestPostgres {
    type Endpoint = crate::postgres::Endpoint;
    const FUNCTION: &'static str = "postgres-rotation";
    fn port(&self) -> u16 {
        self.port
    }
    fn endpoint(&self) -> Self::Endpoint {
        TestPostgres::endpoint(self)
    }
    fn function_env(&self) -> Vec<(String, String)> {
        TestPostgres::function_env(self)
    }
    async fn create_login(&self, user: &str, password: &str) -> Result<()> {
        self.superuser()
            .await?
            .batch_execute(&format!(
                "CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'"
            ))
            .await?;
        Ok(())
    }
    fn secret(user: &str, password: &str, port: u16) -> Value {
        json!({"engine": "postgres", "host": "127.0.0.1", "port": port, "username": user, "password": password, "dbname": "postgres"})
    }
    fn master(port: u16) -> Value {
        Self::secret(
            crate::postgres::SUPERUSER,
            crate::postgres::SUPERUSER_PASSWORD,
            port,
        )
    }
    async fn accepts_secret(endpoint: Self::Endpoint, secret: &Value) -> bool {
        endpoint.accepts_secret(secret).await
    }
}

impl TestDatabase for TestMariaDb {
    type Endpoint = crate::mariadb::Endpoint;
    const FUNCTION: &'static str = "mysql-rotation";
    fn port(&self) -> u16 {
        self.port
    }
    fn endpoint(&self) -> Self::Endpoint {
        TestMariaDb::endpoint(self)
    }
    fn function_env(&self) -> Vec<(String, String)> {
        TestMariaDb::function_env(self)
    }
    async fn create_login(&self, user: &str, password: &str) -> Result<()> {
        self.execute(&[&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY PASSWORD '{}'",
            crate::mariadb::native_hash(password)
        )])
        .await
    }
    fn secret(user: &str, password: &str, port: u16) -> Value {
        json!({"engine": "mariadb", "host": "127.0.0.1", "port": port, "username": user, "password": password})
    }
    /// As RDS manages it: a user name and a password, the rest from the user's secret.
    fn master(_port: u16) -> Value {
        json!({"username": crate::mariadb::ADMIN, "password": crate::mariadb::ADMIN_PASSWORD})
    }
    async fn accepts_secret(endpoint: Self::Endpoint, secret: &Value) -> bool {
        endpoint.accepts_secret(secret).await
    }
}
