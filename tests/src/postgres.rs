//! A real PostgreSQL server for the tests: a temporary cluster on a free port, TLS on (with a
//! certificate from a CA made here) or off, stopped when the test process ends. PostgreSQL
//! refuses to run as root, so as root it runs as the `postgres` user.

use crate::tls::{authority, server_certificate};
use crate::Result;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUPERUSER: &str = "postgres";
pub const SUPERUSER_PASSWORD: &str = "harness-superuser-password";

pub struct TestPostgres {
    pub port: u16,
    /// The CA that signed the server's certificate (TLS servers only).
    pub ca_bundle: Option<PathBuf>,
    /// A CA that did not sign it, to prove verification happens.
    pub other_ca_bundle: PathBuf,
    directory: PathBuf,
    server: Child,
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// `TEST_POSTGRES_BIN_DIR` names the server build to test (infra/test.sh runs the PostgreSQL
/// tests a second time on the newest major); otherwise the one on PATH, else the distribution's
/// newest.
fn binary(name: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TEST_POSTGRES_BIN_DIR") {
        let path = PathBuf::from(dir).join(name);
        return match path.is_file() {
            true => Ok(path),
            false => Err(format!("{} not found (TEST_POSTGRES_BIN_DIR)", path.display()).into()),
        };
    }
    let on_path = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()?;
    if on_path.status.success() {
        return Ok(PathBuf::from(
            String::from_utf8_lossy(&on_path.stdout).trim(),
        ));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")?
        .filter_map(|e| Some(e.ok()?.path().join("bin").join(name)))
        .collect();
    versions.sort();
    versions
        .pop()
        .filter(|p| p.is_file())
        .ok_or_else(|| format!("PostgreSQL's {name} not found: run infra/setup.sh").into())
}

/// What the server binaries under test say they are (`postgres (PostgreSQL) 18.6`).
pub fn binaries_version() -> Result<String> {
    let output = Command::new(binary("postgres")?)
        .arg("--version")
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_server_user(program: &Path) -> Command {
    as_user(program, "postgres", "postgres")
}

/// A command that runs as `user` when we are root (database servers refuse to run as root),
/// and dies with this process.
pub(crate) fn as_user(program: &Path, user: &str, group: &str) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={group}"))
            .args(["--clear-groups", "--pdeathsig=TERM", "--"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn give_to_server_user(path: &Path) -> Result<()> {
    give_to(path, "postgres:postgres")
}

pub(crate) fn give_to(path: &Path, owner: &str) -> Result<()> {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", owner])
            .arg(path)
            .status()?;
        if !status.success() {
            return Err(format!("chown {} failed", path.display()).into());
        }
    }
    Ok(())
}

impl TestPostgres {
    pub fn start(tls: bool) -> Result<TestPostgres> {
        let directory = std::env::temp_dir().join(crate::moto::unique_name("pg"));
        let data = directory.join("data");
        std::fs::create_dir_all(&directory)?;
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755))?;
        let password_file = directory.join("superuser-password");
        std::fs::write(&password_file, SUPERUSER_PASSWORD)?;
        give_to_server_user(&directory)?;

        let initdb = as_server_user(&binary("initdb")?)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !initdb.status.success() {
            return Err(
                format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr)).into(),
            );
        }

        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\npassword_encryption = 'scram-sha-256'\nlog_min_messages = warning\n",
            data.display()
        );
        let ca = authority("credential-rotation test CA")?;
        let other = authority("some other CA")?;
        let other_ca_bundle = directory.join("other-ca.pem");
        std::fs::write(&other_ca_bundle, &other.pem)?;
        let mut ca_bundle = None;
        if tls {
            let (certificate, key) = server_certificate(&ca)?;
            std::fs::write(data.join("server.crt"), certificate)?;
            std::fs::write(data.join("server.key"), key)?;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )?;
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
            let path = directory.join("ca.pem");
            std::fs::write(&path, &ca.pem)?;
            ca_bundle = Some(path);
        }
        let postgresql_conf = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&postgresql_conf)?;
        existing.push_str(&conf);
        std::fs::write(&postgresql_conf, existing)?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 scram-sha-256\n",
        )?;
        give_to_server_user(&directory)?;

        let server = as_server_user(&binary("postgres")?)
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let test = TestPostgres {
            port,
            ca_bundle,
            other_ca_bundle,
            directory,
            server,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("PostgreSQL did not start".into());
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

    /// Where the server listens, for the test's own plaintext connections and checks.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { port: self.port }
    }

    pub async fn superuser(&self) -> Result<tokio_postgres::Client> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self
                .endpoint()
                .connect(SUPERUSER, SUPERUSER_PASSWORD, "postgres")
                .await
            {
                Ok(client) => return Ok(client),
                Err(error) if Instant::now() > deadline => return Err(error.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Whether `user` can log in with `password` (and run a query).
    pub async fn accepts(&self, user: &str, password: &str) -> bool {
        self.endpoint().accepts(user, password).await
    }
}

/// Where a test server listens: what a check running on another task needs to log in.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub port: u16,
}

impl Endpoint {
    /// A plaintext connection for the test's own checks and setup.
    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    pub async fn accepts(&self, user: &str, password: &str) -> bool {
        match self.connect(user, password, "postgres").await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
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
}
