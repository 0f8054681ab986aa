//! A fault-injecting proxy between a function binary and its peers (moto over HTTP, PostgreSQL
//! over TCP), and the matrix that faults every call of a clean rotation in every way.
//!
//! Every call through either proxy gets the next number. Armed with (call N, fault), the proxy
//! at call N either answers an error without forwarding ([`Fault::Fail`]), forwards and then
//! drops the connection instead of answering ([`Fault::DropAnswer`]: the write happened, the
//! caller cannot know), forwards and then kills the function process ([`Fault::Kill`]: a crash or
//! a Lambda timeout right after a call), or forwards and then goes silent, keeping the
//! connection open ([`Fault::Silence`]: a partition). After every forwarded call, while the
//! function waits for the answer, it runs the test's invariant check, so a broken invariant is
//! seen at the moment it is broken.
//!
//! The benchmark uses the same proxies without faults, to add a network's latency to every call
//! ([`Faults::set_latency`]) and to measure how many calls wait on each other ([`Faults::chain`]).

use crate::Result;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Fail,
    /// Answers `AccessDenied` (403) without forwarding: a permission or trust policy refusing.
    Deny,
    DropAnswer,
    Kill,
    Silence,
}

impl Fault {
    /// The kinds the matrix applies at every call.
    pub const MATRIX: [Fault; 3] = [Fault::Fail, Fault::DropAnswer, Fault::Kill];
}

/// Which call to fault: by number, or by name and occurrence (the first `Publish`, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Index(usize),
    Named(String, usize),
}

/// Checks an invariant; an `Err` is a violation, recorded with the call it followed.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, std::result::Result<(), String>> + Send + Sync>;

#[derive(Default)]
struct State {
    calls: Vec<String>,
    armed: Option<(Trigger, Fault)>,
    fired: Option<(usize, String, Fault)>,
    victim: Option<u32>,
    check: Option<Check>,
    violations: Vec<String>,
    /// Database connections through the proxy whose client has not closed them yet.
    open_connections: usize,
    /// Added before every call is forwarded, with up to `jitter` more.
    latency: Duration,
    jitter: Duration,
    /// When each call reached the proxy and when its answer left it (for a database unit: when
    /// it was forwarded).
    spans: Vec<(Instant, Instant)>,
}

/// The numbering, the armed fault and the invariant, shared by the proxies of one function.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

enum Decision {
    Forward,
    Inject(Fault),
}

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the calls and the fired fault, and arms `fault` (none: just count).
    pub fn arm(&self, fault: Option<(Trigger, Fault)>, check: Option<Check>) {
        let mut state = self.state();
        state.calls.clear();
        state.spans.clear();
        state.fired = None;
        state.violations.clear();
        state.armed = fault;
        state.check = check;
    }

    /// Stops faulting and checking; the calls so far stay readable.
    pub fn disarm(&self) {
        let mut state = self.state();
        state.armed = None;
        state.check = None;
    }

    /// The process [`Fault::Kill`] kills.
    pub fn set_victim(&self, pid: Option<u32>) {
        self.state().victim = pid;
    }

    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// A network's round trip on every call from now on: `latency`, plus a jitter of up to
    /// `jitter` that varies from call to call (deterministically, so runs compare).
    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        let mut state = self.state();
        state.latency = latency;
        state.jitter = jitter;
    }

    /// The calls since [`Faults::arm`] that waited on each other: the most calls of which each
    /// started only after the one before it had its answer. Calls made together count once.
    pub fn chain(&self) -> usize {
        let mut spans = self.state().spans.clone();
        spans.sort_by_key(|(_, end)| *end);
        let mut chain = 0;
        let mut last_end: Option<Instant> = None;
        for (start, end) in spans {
            if last_end.is_none_or(|last| start >= last) {
                chain += 1;
                last_end = Some(end);
            }
        }
        chain
    }

    /// Waits out the latency of the call numbered last.
    async fn delay(&self) {
        let (latency, jitter, index) = {
            let state = self.state();
            (state.latency, state.jitter, state.calls.len())
        };
        let spread = jitter.as_micros() as u64;
        let extra = if spread == 0 {
            0
        } else {
            // Knuth's multiplicative hash spreads consecutive calls over the jitter range.
            (index as u64).wrapping_mul(2_654_435_761) % (spread + 1)
        };
        let wait = latency + Duration::from_micros(extra);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn record_span(&self, start: Instant) {
        self.state().spans.push((start, Instant::now()));
    }

    /// The call the armed fault hit: (number, name, fault).
    pub fn fired(&self) -> Option<(usize, String, Fault)> {
        self.state().fired.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    fn decide(&self, name: &str) -> Decision {
        let mut state = self.state();
        let index = state.calls.len();
        state.calls.push(name.to_owned());
        let occurrence = state.calls.iter().filter(|c| *c == name).count() - 1;
        let hit = match &state.armed {
            Some((Trigger::Index(at), fault)) if *at == index => Some(*fault),
            Some((Trigger::Named(wanted, nth), fault)) if wanted == name && *nth == occurrence => {
                Some(*fault)
            }
            _ => None,
        };
        match hit {
            Some(fault) => {
                state.armed = None;
                state.fired = Some((index, name.to_owned(), fault));
                Decision::Inject(fault)
            }
            None => Decision::Forward,
        }
    }

    async fn after_forwarding(&self, name: &str) {
        let (check, index) = {
            let state = self.state();
            (state.check.clone(), state.calls.len())
        };
        if let Some(check) = check {
            if let Err(violation) = check().await {
                self.state()
                    .violations
                    .push(format!("after call {index} ({name}): {violation}"));
            }
        }
    }

    fn connection_opened(&self) {
        self.state().open_connections += 1;
    }

    fn connection_closed(&self) {
        let mut state = self.state();
        state.open_connections = state.open_connections.saturating_sub(1);
    }

    /// Lets the database proxy number what a connection the function just closed still carried
    /// (its `Terminate` and TLS `close_notify`, already sent) before the next AWS call gets a
    /// number: otherwise which comes first is a race inside this process, and the numbering
    /// would change from run to run.
    async fn settle(&self) {
        for _ in 0..100 {
            if self.state().open_connections == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn kill_victim(&self) {
        if let Some(pid) = self.state().victim {
            // SIGKILL: no destructor, no flush, exactly like a Lambda timeout or a crash.
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

/// A function's environment with its AWS endpoint replaced by `endpoint` (a proxy's).
pub fn through_proxy(env: &[(String, String)], endpoint: &str) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .cloned()
        .chain([("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned())])
        .collect()
}

/// A counting proxy in front of `upstream` that adds `latency` to every call: for the tests that
/// assert how many calls a function makes and how many of them wait on each other (at a latency
/// well above loopback's, so that calls made together overlap).
pub async fn latency_proxy(upstream: &str, latency: Duration) -> Result<(Faults, HttpFaultProxy)> {
    let network = Faults::default();
    network.set_latency(latency, Duration::ZERO);
    let proxy = HttpFaultProxy::start(upstream, network.clone()).await?;
    Ok((network, proxy))
}

/// An HTTP proxy in front of moto. Calls are named by their API operation
/// (`secretsmanager.GetSecretValue` from `X-Amz-Target`, or `Action=` of a query request).
pub struct HttpFaultProxy {
    pub endpoint: String,
}

impl HttpFaultProxy {
    pub async fn start(upstream: &str, faults: Faults) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // As in the database relay: no write of the proxy's may wait on a delayed ACK.
                let _ = stream.set_nodelay(true);
                let (faults, upstream) = (faults.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle_http(faults.clone(), upstream.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { endpoint })
    }
}

fn operation_name(request: &hyper::http::request::Parts, body: &[u8]) -> String {
    if let Some(target) = request
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return target.to_owned();
    }
    if let Some(action) = String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
    {
        return action.to_owned();
    }
    // REST protocols (Security Hub): the signing scope's service, the method and the path.
    let service = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("unknown");
    format!("{service} {} {}", request.method, request.uri.path())
}

async fn handle_http(
    faults: Faults,
    upstream: String,
    request: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let received = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let name = operation_name(&parts, &body);
    faults.settle().await;
    let fault = match faults.decide(&name) {
        Decision::Inject(Fault::Fail) => return Ok(injected_error(&parts, Refusal::Failure)),
        Decision::Inject(Fault::Deny) => return Ok(injected_error(&parts, Refusal::AccessDenied)),
        Decision::Inject(fault) => Some(fault),
        Decision::Forward => None,
    };
    faults.delay().await;
    let stream = TcpStream::connect(&upstream).await?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let forwarded = Request::from_parts(parts, Full::new(body));
    let answer = sender.send_request(forwarded).await?;
    let (answer_parts, answer_body) = answer.into_parts();
    let answer_body = answer_body.collect().await?.to_bytes();
    faults.after_forwarding(&name).await;
    match fault {
        // The write happened; the caller gets a broken connection instead of its answer.
        Some(Fault::DropAnswer) => Err("answer dropped by the fault proxy".into()),
        Some(Fault::Kill) => {
            faults.kill_victim();
            Err("function killed by the fault proxy".into())
        }
        Some(Fault::Silence) => {
            std::future::pending::<()>().await;
            Err("unreachable".into())
        }
        _ => {
            faults.record_span(received);
            Ok(Response::from_parts(answer_parts, Full::new(answer_body)))
        }
    }
}

/// A 500 in the shape of the caller's protocol, so the SDK reads it as a service error.
enum Refusal {
    Failure,
    AccessDenied,
}

fn injected_error(
    request: &hyper::http::request::Parts,
    refusal: Refusal,
) -> Response<Full<Bytes>> {
    let (status, kind, code) = match refusal {
        Refusal::Failure => (
            hyper::StatusCode::INTERNAL_SERVER_ERROR,
            "Receiver",
            "InternalFailure",
        ),
        Refusal::AccessDenied => (hyper::StatusCode::FORBIDDEN, "Sender", "AccessDenied"),
    };
    let json = request.headers.contains_key("x-amz-target");
    let (content_type, body) = if json {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"injected by the fault proxy"}}"#),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>injected by the fault proxy</Message></Error><RequestId>fault</RequestId></ErrorResponse>"),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

/// A TCP proxy in front of a database server. Each unit the client sends (the `SSLRequest`,
/// then each TLS record) is one call named [`DATABASE_CALL`].
pub struct TcpFaultProxy {
    pub port: u16,
}

/// What the TCP proxy calls each flight it forwards, in the call log.
pub const DATABASE_CALL: &str = "database";

impl TcpFaultProxy {
    pub async fn start(upstream: std::net::SocketAddr, faults: Faults) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let faults = faults.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pump(client, server, faults).await;
                    }
                });
            }
        });
        Ok(Self { port })
    }
}

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The length of the next whole unit the client sent: the `SSLRequest`, then TLS records (a
/// 5-byte header whose last two bytes are the length). What TCP happens to coalesce or split
/// does not change the numbering. Plaintext connections fall back to whatever was read.
fn next_unit(buffer: &[u8], first: bool) -> Option<usize> {
    if first && buffer.len() >= 8 && buffer[..8] == SSL_REQUEST {
        return Some(8);
    }
    if first || !matches!(buffer.first(), Some(20..=24)) {
        return (!buffer.is_empty()).then_some(buffer.len());
    }
    let header = buffer.get(..5)?;
    let length = 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    (buffer.len() >= length).then_some(length)
}

async fn pump(client: TcpStream, server: TcpStream, faults: Faults) {
    // The relay writes each unit as it is numbered: with Nagle's algorithm on, a unit written
    // right after another would wait for the peer's delayed ACK (40 ms on Linux), a delay the
    // function would never see without the proxy. The function and PostgreSQL both turn it off.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    faults.connection_opened();
    relay(client, server, &faults).await;
    faults.connection_closed();
}

async fn relay(client: TcpStream, server: TcpStream, faults: &Faults) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Server to client: relayed as it comes, until the client side is closed.
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut first = true;
    'connection: loop {
        let n = match client_read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        while let Some(length) = next_unit(&pending, first) {
            first = false;
            let unit: Vec<u8> = pending.drain(..length).collect();
            let received = Instant::now();
            let fault = match faults.decide(DATABASE_CALL) {
                Decision::Inject(Fault::Fail) => break 'connection,
                Decision::Inject(fault) => Some(fault),
                Decision::Forward => None,
            };
            faults.delay().await;
            if server_write.write_all(&unit).await.is_err() {
                break 'connection;
            }
            faults.record_span(received);
            let Some(fault) = fault else {
                faults.after_forwarding(DATABASE_CALL).await;
                continue;
            };
            // Let the server act on what it received before the client side breaks.
            tokio::time::sleep(Duration::from_millis(100)).await;
            faults.after_forwarding(DATABASE_CALL).await;
            match fault {
                Fault::Kill => faults.kill_victim(),
                Fault::Silence => {
                    answers.abort();
                    // Held open and silent for good; it is no longer closing.
                    faults.connection_closed();
                    std::future::pending::<()>().await;
                }
                _ => {}
            }
            break 'connection;
        }
    }
    answers.abort();
}
