//! moto server, the local AWS: started on a free port, stopped when this process exits.

use crate::{workspace_root, Result};
use aws_sdk_secretsmanager::config::Credentials;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

pub struct Moto {
    port: u16,
    // Held for its stdin pipe: moto exits when this process does (see infra/moto_server.py).
    _process: Child,
}

impl Moto {
    /// One moto server per test process, shared by its tests (each test uses its own names).
    pub fn shared() -> Result<&'static Moto> {
        static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| e.clone().into())
    }

    pub fn start() -> Result<Moto> {
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        if !python.is_file() {
            return Err(
                "moto is not installed: run infra/setup.sh (the test and demo scripts do)".into(),
            );
        }
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let mut process = Command::new(&python)
                .arg(root.join("infra/moto_server.py"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Moto {
                        port,
                        _process: process,
                    });
                }
                if let Some(status) = process.try_wait()? {
                    last_error = format!("moto exited at start: {status}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = process.kill();
        }
        Err(format!("moto server did not start: {last_error}").into())
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a function needs to talk to this moto: dummy credentials, never real ones.
    pub fn function_env(&self) -> Vec<(String, String)> {
        self.function_env_in(REGION)
    }

    /// [`Moto::function_env`] in another region: moto keeps each region apart, so tests that
    /// scan a whole region each use their own.
    pub fn function_env_in(&self, region: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", region.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.sdk_config_in(REGION).await
    }

    pub async fn sdk_config_in(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
            .load()
            .await
    }
}

impl Moto {
    /// Every message published to `topic_arn`, as SNS received it: the subject and, for our
    /// alerts, the per-protocol texts (`email`, `sqs`, ...). Read from moto's state dump, which
    /// shows what an email subscriber would get, something no queue subscription can.
    pub fn published(&self, topic_arn: &str) -> Result<Vec<(String, serde_json::Value)>> {
        let state = self.json("GET", "/moto-api/data.json", &[], "")?;
        let topics = state["sns"]["Topic"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let topic = topics
            .iter()
            .find(|t| t["arn"] == topic_arn)
            .ok_or("topic not in moto's state")?;
        let sent = topic["sent_notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(sent
            .iter()
            .map(|n| {
                let message = n[1]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(n[1].clone());
                (n[2].as_str().unwrap_or_default().to_owned(), message)
            })
            .collect())
    }
}

impl Moto {
    /// Security Hub's findings in `region` (moto's default account) exactly as stored: the JSON
    /// documents the functions sent, which the SDK's types would not show field by field.
    pub fn security_hub_findings(&self, region: &str) -> Result<Vec<serde_json::Value>> {
        self.security_hub_findings_as(region, "testing")
    }

    /// [`Moto::security_hub_findings`] of the account whose access key is `access_key_id` (an
    /// assumed role's, for a member account).
    pub fn security_hub_findings_as(
        &self,
        region: &str,
        access_key_id: &str,
    ) -> Result<Vec<serde_json::Value>> {
        // moto takes the account from the access key and the region from the (unverified)
        // credential scope.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key_id}/20261202/{region}/securityhub/aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut findings = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = serde_json::json!({"MaxResults": 100});
            if let Some(token) = &token {
                request["NextToken"] = token.clone().into();
            }
            let page = self.json(
                "POST",
                "/findings",
                &[
                    ("Authorization", &authorization),
                    ("Content-Type", "application/json"),
                ],
                &request.to_string(),
            )?;
            findings.extend(page["Findings"].as_array().cloned().unwrap_or_default());
            match page["NextToken"].as_str() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(findings),
            }
        }
    }

    /// One plain HTTP/1.0 request to moto, its JSON answer.
    fn json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<serde_json::Value> {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        let mut request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or("malformed moto response")?;
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            return Err(format!("moto answered {path}: {head} {body}").into());
        }
        Ok(serde_json::from_str(body)?)
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A name no other test in this run uses.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
