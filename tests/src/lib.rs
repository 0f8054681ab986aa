//! The end-to-end harness: real function binaries, run through the Lambda Runtime API, against
//! moto server. Used by the tests in `tests/tests/`, the local demo and the benchmark.

pub mod binaries;
pub mod certificates;
pub mod database;
pub mod faults;
pub mod iam;
pub mod inbox;
pub mod mariadb;
pub mod matrix;
pub mod moto;
pub mod organization;
pub mod postgres;
pub mod rotation;
pub mod runtime;
pub mod securityhub;
pub mod tls;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An event payload from `tests/fixtures/events/<name>.json`, shaped as AWS documents it.
pub fn fixture(name: &str) -> Result<serde_json::Value> {
    let path = workspace_root()
        .join("tests/fixtures/events")
        .join(format!("{name}.json"));
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// The event an EventBridge schedule delivers (`tests/fixtures/events/scheduled.json`).
pub fn scheduled_event() -> Result<serde_json::Value> {
    fixture("scheduled")
}

/// What a function under test needs around it: moto in one region, an alert topic with a queue
/// reading it, and the function's environment pointing at both.
pub struct TestEnvironment {
    pub sdk: aws_config::SdkConfig,
    pub inbox: inbox::AlertInbox,
    pub topic_arn: String,
    pub env: Vec<(String, String)>,
}

impl TestEnvironment {
    pub async fn new(moto: &moto::Moto, region: &str, extra_env: &[(&str, &str)]) -> Result<Self> {
        let sdk = moto.sdk_config_in(region).await;
        let (topic_arn, inbox) =
            inbox::AlertInbox::create(&sdk, &moto::unique_name("alerts")).await?;
        let mut env = moto.function_env_in(region);
        env.push(("ALERT_TOPIC_ARN".into(), topic_arn.clone()));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Ok(Self {
            sdk,
            inbox,
            topic_arn,
            env,
        })
    }

    /// Starts the workspace's build of `function` in this environment.
    pub async fn start(&self, function: &str) -> Result<runtime::FunctionProcess> {
        self.start_with(function, &[]).await
    }

    /// Starts `function` with `settings` added to this environment.
    pub async fn start_with(
        &self,
        function: &str,
        settings: &[(&str, &str)],
    ) -> Result<runtime::FunctionProcess> {
        let mut env = self.env.clone();
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        runtime::FunctionProcess::start(&binaries::function_binary(function)?, &env).await
    }

    /// Starts `function` with `settings`, its AWS calls crossing a counting proxy in front of
    /// moto that adds `latency` to each: for the tests of how many calls a function makes and how
    /// many of them wait on each other. The proxy lives as long as the returned handle.
    pub async fn start_counted(
        &self,
        function: &str,
        settings: &[(&str, &str)],
        latency: std::time::Duration,
    ) -> Result<(
        runtime::FunctionProcess,
        faults::Faults,
        faults::HttpFaultProxy,
    )> {
        let moto = self
            .env
            .iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL")
            .map(|(_, v)| v.clone())
            .ok_or("the environment names no AWS endpoint")?;
        let (network, proxy) = faults::latency_proxy(&moto, latency).await?;
        let mut env = faults::through_proxy(&self.env, &proxy.endpoint);
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let function =
            runtime::FunctionProcess::start(&binaries::function_binary(function)?, &env).await?;
        Ok((function, network, proxy))
    }
}
