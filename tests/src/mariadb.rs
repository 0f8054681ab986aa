//! A real MariaDB server for the tests: a fresh data directory on a free port, TLS on (with a
//! certificate from a CA made here) or off, stopped when the test process ends. As root it runs
//! as `nobody`, as a server should. Its general query log and binary log are on, as a DBA's or
//! RDS's (with automated backups) are, so that tests can look in them for passwords; the
//! harness's own accounts are created from hashes, so that whatever a log holds came from the
//! function.

use crate::postgres::{as_user, give_to};
use crate::tls::{authority, server_certificate};
use crate::Result;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// An account with every privilege and the grant option: the tests' administrator and the
/// master user of the alternating-users rotations.
pub const ADMIN: &str = "harness_admin";
pub const ADMIN_PASSWORD: &str = "harness-admin-Passw0rd";
const SERVER_USER: (&str, &str) = ("nobody", "nogroup");

pub struct TestMariaDb {
    pub port: u16,
    /// The CA that signed the server's certificate (TLS servers only).
    pub ca_bundle: Option<PathBuf>,
    /// A CA that did not sign it, to prove verification happens.
    pub other_ca_bundle: PathBuf,
    directory: PathBuf,
    server: Child,
}

impl Drop for TestMariaDb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn binary(name: &str) -> Result<PathBuf> {
    ["/usr/sbin", "/usr/bin"]
        .iter()
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("MariaDB's {name} not found: run infra/setup.sh").into())
}

impl TestMariaDb {
    pub fn start(tls: bool) -> Result<TestMariaDb> {
        let directory = std::env::temp_dir().join(crate::moto::unique_name("mariadb"));
        let data = directory.join("data");
        // A server removes every temporary table file it finds in its tmpdir when it starts:
        // servers of tests running side by side must not share /tmp.
        let tmp = directory.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let owner = format!("{}:{}", SERVER_USER.0, SERVER_USER.1);
        give_to(&directory, &owner)?;
        let install = as_user(&binary("mariadb-install-db")?, SERVER_USER.0, SERVER_USER.1)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !install.status.success() {
            return Err(format!(
                "mariadb-install-db failed: {}",
                String::from_utf8_lossy(&install.stderr)
            )
            .into());
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let init = directory.join("init.sql");
        std::fs::write(
            &init,
            format!("CREATE USER '{ADMIN}'@'%' IDENTIFIED BY PASSWORD '{}';\nGRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'%' WITH GRANT OPTION;\n", native_hash(ADMIN_PASSWORD)),
        )?;
        let ca = authority("credential-rotation test CA")?;
        let other = authority("some other CA")?;
        let other_ca_bundle = directory.join("other-ca.pem");
        std::fs::write(&other_ca_bundle, &other.pem)?;
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", data.display()),
            format!("--tmpdir={}", tmp.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            format!("--socket={}", directory.join("mariadb.sock").display()),
            format!("--pid-file={}", directory.join("mariadb.pid").display()),
            format!("--init-file={}", init.display()),
            "--skip-name-resolve".into(),
            "--innodb-buffer-pool-size=16M".into(),
            "--performance-schema=OFF".into(),
            "--plugin-load-add=auth_ed25519".into(),
            "--general-log=ON".into(),
            format!(
                "--general-log-file={}",
                directory.join("general.log").display()
            ),
            format!("--log-bin={}", directory.join("binlog").display()),
            "--server-id=1".into(),
        ];
        let mut ca_bundle = None;
        if tls {
            let (certificate, key) = server_certificate(&ca)?;
            std::fs::write(directory.join("server.crt"), certificate)?;
            std::fs::write(directory.join("server.key"), key)?;
            args.push(format!(
                "--ssl-cert={}",
                directory.join("server.crt").display()
            ));
            args.push(format!(
                "--ssl-key={}",
                directory.join("server.key").display()
            ));
            let path = directory.join("ca.pem");
            std::fs::write(&path, &ca.pem)?;
            ca_bundle = Some(path);
        } else {
            args.push("--skip-ssl".into());
        }
        give_to(&directory, &owner)?;
        let server = as_user(&binary("mariadbd")?, SERVER_USER.0, SERVER_USER.1)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let test = TestMariaDb {
            port,
            ca_bundle,
            other_ca_bundle,
            directory,
            server,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("MariaDB did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(test)
    }

    /// The settings that make the rotation function trust this server's CA.
    pub fn function_env(&self) -> Vec<(String, String)> {
        self.ca_bundle
            .iter()
            .map(|path| ("DB_CA_BUNDLE".to_owned(), path.display().to_string()))
            .collect()
    }

    /// Where the server listens, for checks that run on another task.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            port: self.port,
            tls: self.ca_bundle.is_some(),
        }
    }

    /// The administrator's session, once the server accepts it.
    pub async fn admin(&self) -> Result<Conn> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.endpoint().connect(ADMIN, ADMIN_PASSWORD).await {
                Ok(conn) => return Ok(conn),
                Err(error) if Instant::now() > deadline => return Err(error.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Runs statements as the administrator.
    pub async fn execute(&self, statements: &[&str]) -> Result<()> {
        let mut conn = self.admin().await?;
        for statement in statements {
            conn.query_drop(*statement)
                .await
                .map_err(|e| format!("{statement}: {e}"))?;
        }
        conn.disconnect().await?;
        Ok(())
    }

    /// Every one of `passwords` that the general query log or the binary log (its file, and the
    /// statements `mariadb-binlog` reads from it) holds, as given or as a quoted literal escapes
    /// it: what should be empty.
    pub async fn passwords_in_logs(&self, passwords: &[String]) -> Result<Vec<String>> {
        self.execute(&["FLUSH BINARY LOGS"]).await?;
        let mut logs = std::fs::read(self.directory.join("general.log"))?;
        let mut binlogs: Vec<PathBuf> = std::fs::read_dir(&self.directory)?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("binlog.0"))
            })
            .collect();
        binlogs.sort();
        if binlogs.is_empty() {
            return Err("the server wrote no binary log".into());
        }
        for binlog in &binlogs {
            logs.extend(std::fs::read(binlog)?);
        }
        let printed = std::process::Command::new(binary("mariadb-binlog")?)
            .arg("--no-defaults")
            .args(&binlogs)
            .output()?;
        if !printed.status.success() {
            return Err(format!(
                "mariadb-binlog failed: {}",
                String::from_utf8_lossy(&printed.stderr)
            )
            .into());
        }
        logs.extend(printed.stdout);
        let logs = String::from_utf8_lossy(&logs);
        Ok(passwords
            .iter()
            .filter(|password| {
                let escaped = password.replace('\\', "\\\\").replace('\'', "\\'");
                logs.contains(password.as_str()) || logs.contains(&escaped)
            })
            .cloned()
            .collect())
    }

    /// Whether `user` can log in with `password` (and run a query).
    pub async fn accepts(&self, user: &str, password: &str) -> bool {
        self.endpoint().accepts(user, password).await
    }
}

/// What `mysql_native_password` stores of a password (`*` and the upper-case hex of
/// SHA1(SHA1(password))): the harness creates accounts from it, so that no password it sets
/// reaches the server's logs (the function computes its own; this is the tests' independent one).
pub fn native_hash(password: &str) -> String {
    use sha1::{Digest, Sha1};
    let twice = Sha1::digest(Sha1::digest(password.as_bytes()));
    let hex: String = twice.iter().map(|byte| format!("{byte:02X}")).collect();
    format!("*{hex}")
}

/// Where a test server listens.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub port: u16,
    /// The server has TLS: the test's sessions use it (accounts may require it).
    pub tls: bool,
}

impl Endpoint {
    /// A session for the test's own checks and setup: over TLS when the server has it (the
    /// function's verification is what the tests examine, not the harness's).
    pub async fn connect(&self, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
        let mut options = OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false);
        if self.tls {
            options = options.ssl_opts(Some(
                mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true),
            ));
        }
        Conn::new(options).await
    }

    pub async fn accepts(&self, user: &str, password: &str) -> bool {
        match self.connect(user, password).await {
            Ok(mut conn) => {
                let ok = conn.query_drop("SELECT 1").await.is_ok();
                let _ = conn.disconnect().await;
                ok
            }
            Err(_) => false,
        }
    }

    /// Whether the login a database secret holds (`username`, `password`) works.
    pub async fn accepts_secret(&self, secret: &serde_json::Value) -> bool {
        match (secret["username"].as_str(), secret["password"].as_str()) {
            (Some(user), Some(password)) => self.accepts(user, password).await,
            _ => false,
        }
    }

    /// Runs `query` as `user`; `Ok(rows)` or the server's error text.
    pub async fn query(
        &self,
        user: &str,
        password: &str,
        query: &str,
    ) -> Result<Vec<mysql_async::Row>, String> {
        let mut conn = self
            .connect(user, password)
            .await
            .map_err(|e| e.to_string())?;
        let rows = conn
            .query::<mysql_async::Row, _>(query)
            .await
            .map_err(|e| e.to_string());
        let _ = conn.disconnect().await;
        rows
    }
}
