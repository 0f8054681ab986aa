//! A Lambda Runtime API server that runs one function binary, as Lambda does: the binary polls
//! `GET /2018-06-01/runtime/invocation/next`, and answers each invocation with
//! `POST .../invocation/{id}/response` or `.../error`.

use crate::Result;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// What one invocation returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

impl Invocation {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Response(_))
    }

    pub fn error_message(&self) -> Option<&str> {
        match self {
            Self::Error { error_message, .. } => Some(error_message),
            Self::Response(_) => None,
        }
    }

    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Error { error_type, .. } => Some(error_type),
            Self::Response(_) => None,
        }
    }
}

struct Queued {
    body: Bytes,
    reply: oneshot::Sender<Invocation>,
}

struct ServerState {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    next_id: Mutex<u64>,
    function_arn: String,
    /// When the function first asked for an invocation: it is initialised and ready.
    first_poll: Mutex<Option<Instant>>,
}

/// A running function: its process, the Runtime API it polls, and everything it printed.
pub struct FunctionProcess {
    name: String,
    process: Child,
    queue: mpsc::UnboundedSender<Queued>,
    output: Arc<Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
    state: Arc<ServerState>,
}

impl FunctionProcess {
    /// Starts `binary` with only the given environment (plus the variables Lambda sets), so
    /// nothing from the developer's shell, such as real AWS credentials, reaches it.
    pub async fn start(binary: &Path, env: &[(String, String)]) -> Result<FunctionProcess> {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (queue, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(ServerState {
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            next_id: Mutex::new(0),
            function_arn: format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                crate::moto::REGION,
                crate::moto::ACCOUNT
            ),
            first_poll: Mutex::new(None),
        });
        tokio::spawn(serve(listener, state.clone()));

        let started = Instant::now();
        let mut process = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let output = Arc::new(Mutex::new(String::new()));
        let echo = std::env::var_os("E2E_ECHO_LOGS").is_some();
        let mut readers = Vec::new();
        if let Some(stdout) = process.stdout.take() {
            readers.push(tokio::spawn(collect(stdout, output.clone(), echo)));
        }
        if let Some(stderr) = process.stderr.take() {
            readers.push(tokio::spawn(collect(stderr, output.clone(), echo)));
        }
        Ok(FunctionProcess {
            name,
            process,
            queue,
            output,
            readers,
            started,
            state,
        })
    }

    /// Invokes the function with a JSON event.
    pub async fn invoke(&mut self, event: &Value) -> Result<Invocation> {
        self.invoke_raw(event.to_string()).await
    }

    /// Invokes the function with any payload, JSON or not.
    pub async fn invoke_raw(&mut self, payload: impl Into<Bytes>) -> Result<Invocation> {
        self.invoke_within(payload, INVOCATION_TIMEOUT).await
    }

    /// [`FunctionProcess::invoke_raw`] with a time limit of its own (long scans and sweeps).
    pub async fn invoke_within(
        &mut self,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Invocation> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Queued {
                body: payload.into(),
                reply,
            })
            .map_err(|_| "runtime API server stopped")?;
        tokio::select! {
            result = answer => result.map_err(|_| "the invocation was dropped".into()),
            status = self.process.wait() => Err(format!(
                "{} exited during the invocation ({:?}); output:\n{}", self.name, status, self.output()
            ).into()),
            _ = tokio::time::sleep(timeout) => Err(format!("{} timed out", self.name).into()),
        }
    }

    /// Invokes the function and returns its response; an error response is an error that quotes
    /// everything the function printed.
    pub async fn respond(&mut self, event: &Value) -> Result<Value> {
        match self.invoke(event).await? {
            Invocation::Response(response) => Ok(response),
            error => Err(format!("{error:?}\n{}", self.output()).into()),
        }
    }

    /// The Embedded Metric Format documents the function wrote so far, in order.
    pub fn metric_documents(&self) -> Vec<Value> {
        self.output()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|document| document.get("_aws").is_some())
            .collect()
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// The cold start: from the process's start to its first request for an invocation (its
    /// configuration read and validated, its clients built). `None` until it has asked.
    pub fn ready_after(&self) -> Option<Duration> {
        let first_poll = *self
            .state
            .first_poll
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        first_poll.map(|at| at.saturating_duration_since(self.started))
    }

    /// Waits for the process to exit (for functions that fail at start-up), and for everything
    /// it printed to be collected.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let status = tokio::time::timeout(timeout, self.process.wait()).await??;
        for reader in self.readers.drain(..) {
            tokio::time::timeout(timeout, reader).await??;
        }
        Ok(status)
    }
}

async fn collect(stream: impl AsyncRead + Unpin, output: Arc<Mutex<String>>, echo: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if echo {
            eprintln!("{line}");
        }
        if let Ok(mut output) = output.lock() {
            output.push_str(&line);
            output.push('\n');
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| route(state.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(
    state: Arc<ServerState>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match (method, parts.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            state
                .first_poll
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(Instant::now);
            next_invocation(&state).await
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
            let value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
            finish(&state, id, Invocation::Response(value))
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => {
            let diagnostic: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let field = |name: &str| diagnostic[name].as_str().unwrap_or_default().to_owned();
            finish(
                &state,
                id,
                Invocation::Error {
                    error_type: field("errorType"),
                    error_message: field("errorMessage"),
                },
            )
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            reply(StatusCode::ACCEPTED, "")
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown runtime API path"),
    })
}

async fn next_invocation(state: &ServerState) -> Response<Full<Bytes>> {
    let Some(queued) = state.queue.lock().await.recv().await else {
        return reply(StatusCode::GONE, "");
    };
    let id = {
        let mut next = state.next_id.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        format!("e2e-request-{next}")
    };
    state
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), queued.reply);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + INVOCATION_TIMEOUT.as_millis();
    let mut response = reply(StatusCode::OK, queued.body);
    let headers = response.headers_mut();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            state.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

fn finish(state: &ServerState, id: &str, invocation: Invocation) -> Response<Full<Bytes>> {
    match state
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id)
    {
        Some(sender) => {
            let _ = sender.send(invocation);
            reply(StatusCode::ACCEPTED, "")
        }
        None => reply(StatusCode::BAD_REQUEST, "unknown request id"),
    }
}
