//! The benchmark: for each function, cold start, time per invocation, peak memory and package
//! size, run through the Lambda Runtime API against moto.
//! Usage: bench <function-name> <bootstrap binary> <bootstrap.zip> (infra/bench.sh passes them).

use e2e::certificates::{import, now, self_signed, Key, DAY};
use e2e::database::TestDatabase;
use e2e::faults::{through_proxy, Faults, HttpFaultProxy, TcpFaultProxy};
use e2e::moto::{unique_name, Moto, REGION};
use e2e::rotation::{fresh_token, rotation_event, start_rotation, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::{Result, TestEnvironment};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const COLD_STARTS: usize = 10;
const WARM_ROTATIONS: usize = 50;
const SCANNED_CERTIFICATES: usize = 1000;
const SWEPT_USERS: usize = 2000;
const SCANNED_KEYS: usize = 2000;
/// The organization benchmark: accounts, regions, and users and certificates in each.
const ORG_ACCOUNTS: usize = 100;
const ORG_REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const ORG_USERS: usize = 20;
const ORG_CERTIFICATES: usize = 20;
/// Worker concurrencies measured (the event source mapping's `MaximumConcurrency`).
const ORG_CONCURRENCIES: [usize; 3] = [1, 10, 50];
/// A Lambda function may run 15 minutes; so may a sweep here.
const LONG_RUN: Duration = Duration::from_secs(900);

/// One row of the printed table: measure, median (or value), max, runs.
type Row = (String, String, String, String);

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, binary, zip] = args.as_slice() else {
        return Err("usage: bench <function-name> <bootstrap> <bootstrap.zip>".into());
    };
    let binary = PathBuf::from(binary);
    let (latencies, jitter) = network()?;
    for latency in latencies {
        // A fresh moto per latency: every run starts from the same account.
        let moto = Moto::start()?;
        let environment = TestEnvironment::new(&moto, REGION, &[]).await?;
        let network = Faults::default();
        network.set_latency(latency, jitter);
        let proxy = HttpFaultProxy::start(&moto.endpoint(), network.clone()).await?;
        // The function's calls cross the latency proxy; the harness's own go straight to moto.
        let env = through_proxy(&environment.env, &proxy.endpoint);
        let sdk = &environment.sdk;
        let mut rows = match name.as_str() {
            "generic-secret-rotation" => rotation_rows(sdk, &binary, &env, &network).await?,
            "acm-certificate-expiry" => scan_rows(sdk, &binary, &env).await?,
            "iam-access-key-rotator" => sweep_rows(sdk, &binary, &env).await?,
            "postgres-rotation" => {
                let db = e2e::postgres::TestPostgres::start(true)?;
                let flights = "the SSLRequest and each TLS record";
                database_rows(db, sdk, &binary, &env, &network, flights).await?
            }
            "mysql-rotation" => {
                let db = e2e::mariadb::TestMariaDb::start(true)?;
                db.admin().await?;
                let flights = "each TLS record";
                database_rows(db, sdk, &binary, &env, &network, flights).await?
            }
            "iam-user-key-rotation" => user_key_rows(sdk, &binary, &env, &network).await?,
            "kms-key-rotation" => kms_rows(sdk, &binary, &env).await?,
            "organization-enumerator" => organization_rows(sdk, &binary, &env, &network).await?,
            other => return Err(format!("no benchmark for {other}").into()),
        };
        rows.push(size_row("bootstrap binary", &binary)?);
        rows.push(size_row("deployment zip", Path::new(zip))?);

        println!(
            "\n### {name} at {} ms a call{}\n",
            latency.as_millis(),
            if jitter.is_zero() {
                String::new()
            } else {
                format!(" plus up to {} ms of jitter", jitter.as_millis())
            }
        );
        println!("| measure | median | max | runs |");
        println!("|---|---|---|---|");
        for (measure, median, max, runs) in rows {
            println!("| {measure} | {median} | {max} | {runs} |");
        }
    }
    Ok(())
}

/// `BENCH_LATENCY_MS` (`0,20`): the latencies to measure at, one table each, in milliseconds a
/// call (AWS answers in 10 to 40); `BENCH_JITTER_MS` (0): up to this much more a call.
fn network() -> Result<(Vec<Duration>, Duration)> {
    let latencies = std::env::var("BENCH_LATENCY_MS").unwrap_or_else(|_| "0,20".into());
    let parse = |value: &str| -> Result<Duration> {
        let ms: u64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{value:?} is not a number of milliseconds"))?;
        Ok(Duration::from_millis(ms))
    };
    let latencies = latencies
        .split(',')
        .map(parse)
        .collect::<Result<Vec<_>>>()?;
    let jitter = parse(&std::env::var("BENCH_JITTER_MS").unwrap_or_else(|_| "0".into()))?;
    Ok((latencies, jitter))
}

/// The calls of each rotation through the proxy, and how many of them waited on each other.
fn call_rows(calls: &[usize], chains: &[usize], what: &str) -> Vec<Row> {
    let median_of = |values: &[usize]| {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    };
    vec![
        (
            format!("calls per rotation ({what})"),
            median_of(calls).to_string(),
            calls.iter().max().copied().unwrap_or_default().to_string(),
            calls.len().to_string(),
        ),
        (
            "chain per rotation: calls that wait on each other".into(),
            median_of(chains).to_string(),
            chains.iter().max().copied().unwrap_or_default().to_string(),
            chains.len().to_string(),
        ),
    ]
}

async fn rotation_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
    network: &Faults,
) -> Result<Vec<Row>> {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let readiness = readiness_row(binary, env).await?;
    let cold = cold_rotations(binary, env, async || new_rotation(&sm).await).await?;
    // Warm: full rotations on one process.
    let mut function = FunctionProcess::start(binary, env).await?;
    let mut per_step: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len()];
    let mut full = Vec::new();
    let (mut calls, mut chains) = (Vec::new(), Vec::new());
    for _ in 0..WARM_ROTATIONS {
        let (arn, token) = new_rotation(&sm).await?;
        network.arm(None, None);
        let rotation_started = Instant::now();
        for (i, step) in STEPS.iter().enumerate() {
            let started = Instant::now();
            expect_ok(function.invoke(&rotation_event(step, &arn, &token)).await?)?;
            per_step[i].push(started.elapsed());
        }
        full.push(rotation_started.elapsed());
        calls.push(network.calls().len());
        chains.push(network.chain());
    }
    let mut rows = vec![readiness];
    rows.extend(cold.rows());
    for (step, times) in STEPS.iter().zip(&per_step) {
        rows.push(timing_row(&format!("warm {step}"), times));
    }
    rows.push(timing_row("warm full rotation (4 steps)", &full));
    rows.extend(call_rows(
        &calls,
        &chains,
        "every AWS call of the four steps",
    ));
    rows.push(memory_row(
        &format!("peak RSS, after {WARM_ROTATIONS} rotations"),
        peak_rss_kib(&function)?,
    ));
    Ok(rows)
}

/// Full rotations, each on a fresh process: as a rotation that finds no warm instance costs.
struct ColdRotations {
    /// Process start to the first response (createSecret).
    first: Vec<Duration>,
    /// Process start to the fourth response (finishSecret).
    full: Vec<Duration>,
    peak_kib: u64,
}

impl ColdRotations {
    fn rows(&self) -> Vec<Row> {
        vec![
            timing_row(
                "cold start: process start to first response (createSecret)",
                &self.first,
            ),
            timing_row(
                "cold full rotation: process start to the fourth response (finishSecret)",
                &self.full,
            ),
            memory_row("peak RSS, cold process after one rotation", self.peak_kib),
        ]
    }
}

/// `COLD_STARTS` rotations, each started by `next` (which gives the secret and the token) and
/// run by a fresh process.
async fn cold_rotations(
    binary: &Path,
    env: &[(String, String)],
    mut next: impl AsyncFnMut() -> Result<(String, String)>,
) -> Result<ColdRotations> {
    let mut cold = ColdRotations {
        first: Vec::with_capacity(COLD_STARTS),
        full: Vec::with_capacity(COLD_STARTS),
        peak_kib: 0,
    };
    for _ in 0..COLD_STARTS {
        let (arn, token) = next().await?;
        let mut function = FunctionProcess::start(binary, env).await?;
        for (i, step) in STEPS.iter().enumerate() {
            expect_ok(function.invoke(&rotation_event(step, &arn, &token)).await?)?;
            if i == 0 {
                cold.first.push(function.started().elapsed());
            }
        }
        cold.full.push(function.started().elapsed());
        cold.peak_kib = cold.peak_kib.max(peak_rss_kib(&function)?);
    }
    Ok(cold)
}

/// A new secret with a rotation started on it: (ARN, token).
async fn new_rotation(sm: &aws_sdk_secretsmanager::Client) -> Result<(String, String)> {
    let arn = sm
        .create_secret()
        .name(unique_name("bench"))
        .secret_string(r#"{"username":"app","password":"initial-Passw0rd-1"}"#)
        .send()
        .await?
        .arn
        .ok_or("no ARN")?;
    let token = fresh_token();
    start_rotation(sm, &arn, &token, true).await?;
    Ok((arn, token))
}

async fn scan_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
) -> Result<Vec<Row>> {
    let acm = aws_sdk_acm::Client::new(sdk);
    let start = now();
    // Expiry spread over 400 days: some on threshold days, most healthy, like a real account.
    stream::iter(0..SCANNED_CERTIFICATES)
        .map(|i| {
            let acm = acm.clone();
            async move {
                let name = format!("host-{i}.bench.example.com");
                let certificate = self_signed(
                    &[&name],
                    Key::EcP256,
                    start + (1 + (i as i64 % 400)) * DAY + 3600,
                )?;
                import(&acm, &certificate).await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<String>>()
        .await?;
    let (report, mut rows, function, _) = at_two_settings(
        binary,
        env,
        &format!("scan of {SCANNED_CERTIFICATES} certificates"),
        "SCAN_CONCURRENCY",
        ["8", "1"],
        3,
    )
    .await?;

    let certificates = report["certificates"].as_u64().unwrap_or(0).max(1) as f64;
    let calls = report["acm_calls"].as_u64().unwrap_or(0) as f64;
    rows.push((
        "ACM API calls per certificate".into(),
        format!("{:.3}", calls / certificates),
        String::new(),
        String::new(),
    ));
    rows.push((
        "alerts sent per scan".into(),
        report["alerts_sent"].to_string(),
        String::new(),
        String::new(),
    ));
    rows.push(memory_row(
        "peak RSS, after 4 scans",
        peak_rss_kib(&function)?,
    ));
    Ok(rows)
}

/// A daily sweep where, as on most days, no user's key is due: every user is read and decided,
/// nothing is written, one summary is sent, so repeated sweeps measure the same work.
async fn sweep_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
) -> Result<Vec<Row>> {
    let iam = aws_sdk_iam::Client::new(sdk);
    stream::iter(0..SWEPT_USERS)
        .map(|i| {
            let iam = iam.clone();
            async move {
                let name = format!("bench-user-{i}");
                iam.create_user()
                    .user_name(&name)
                    .path("/bench/")
                    .send()
                    .await?;
                iam.create_access_key().user_name(&name).send().await?;
                Ok::<(), e2e::Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut env = env.to_vec();
    for (k, v) in [("USER_PATH_PREFIX", "/bench/"), ("DRY_RUN", "true")] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let (report, mut rows, function, _) = at_two_settings(
        binary,
        &env,
        &format!("daily sweep of {SWEPT_USERS} users"),
        "SWEEP_CONCURRENCY",
        ["8", "1"],
        2,
    )
    .await?;
    let users = report["users"].as_u64().unwrap_or(0).max(1) as f64;
    let calls = report["api_calls"].as_u64().unwrap_or(0) as f64;
    rows.push((
        "IAM API calls per user".into(),
        format!("{:.3}", calls / users),
        String::new(),
        String::new(),
    ));
    rows.push(memory_row(
        "peak RSS, after 3 sweeps",
        peak_rss_kib(&function)?,
    ));
    Ok(rows)
}

/// A daily scan (dry run, so repeated scans do the same work) of an account of 2,000 keys:
/// symmetric keys with and without rotation, signing keys behind aliases, HMAC keys, and keys
/// pending deletion. moto creates every key today, so no key is old enough to need its
/// rotation history: that is the third call per key the policy tests cover.
async fn kms_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
) -> Result<Vec<Row>> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let kms = aws_sdk_kms::Client::new(sdk);
    stream::iter(0..SCANNED_KEYS)
        .map(|i| {
            let kms = kms.clone();
            async move {
                let (spec, usage) = match i % 10 {
                    0 => (KeySpec::EccNistP256, KeyUsageType::SignVerify),
                    1 => (KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac),
                    _ => (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt),
                };
                let key = kms
                    .create_key()
                    .key_spec(spec)
                    .key_usage(usage)
                    .send()
                    .await?;
                let id = key
                    .key_metadata()
                    .map(|m| m.key_id().to_owned())
                    .ok_or("no key")?;
                match i % 10 {
                    0 => {
                        kms.create_alias()
                            .alias_name(format!("alias/bench-signing-{i}"))
                            .target_key_id(&id)
                            .send()
                            .await?;
                    }
                    2..=5 => {
                        kms.enable_key_rotation().key_id(&id).send().await?;
                    }
                    9 if i % 100 == 9 => {
                        kms.schedule_key_deletion()
                            .key_id(&id)
                            .pending_window_in_days(30)
                            .send()
                            .await?;
                    }
                    _ => {}
                }
                Ok::<(), e2e::Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    let (report, mut rows, function, warm) = at_two_settings(
        binary,
        env,
        &format!("scan of {SCANNED_KEYS} keys"),
        "KMS_QUOTA_SHARE_PERCENT",
        ["10", "50"],
        2,
    )
    .await?;
    let keys = report["keys"].as_u64().unwrap_or(0).max(1) as f64;
    let calls = report["calls"].as_object().cloned().unwrap_or_default();
    let count = |op: &str| calls.get(op).and_then(Value::as_u64).unwrap_or(0);
    let listings = count("ListKeys") + count("ListAliases") + count("GetResources");
    let per_key: u64 = calls.values().filter_map(Value::as_u64).sum::<u64>() - listings;
    rows.push((
        format!("calls per key beyond the listings ({per_key} for {keys} keys)"),
        format!("{:.3}", per_key as f64 / keys),
        String::new(),
        String::new(),
    ));
    rows.push((
        "listing pages (ListKeys + ListAliases + GetResources)".into(),
        listings.to_string(),
        String::new(),
        String::new(),
    ));
    let seconds = warm.as_secs_f64().max(f64::EPSILON);
    for op in [
        "DescribeKey",
        "GetKeyRotationStatus",
        "ListKeyRotations",
        "ListGrants",
    ] {
        let limit = report["rate_limits"][op].as_f64().unwrap_or(0.0);
        rows.push((
            format!("{op} calls per scan"),
            count(op).to_string(),
            String::new(),
            String::new(),
        ));
        rows.push((
            format!("{op} mean rate over a warm scan (its limit: {limit:.0}/s)"),
            format!("{:.0}/s", count(op) as f64 / seconds),
            String::new(),
            String::new(),
        ));
    }
    rows.push((
        "chain of calls that wait on each other, per key".into(),
        "DescribeKey, then the class's reads in parallel".into(),
        String::new(),
        String::new(),
    ));
    rows.push((
        "classes".into(),
        report["classes"].to_string(),
        String::new(),
        String::new(),
    ));
    rows.push(memory_row(
        "peak RSS, after 3 scans",
        peak_rss_kib(&function)?,
    ));
    Ok(rows)
}

/// Rotations of one secret holding an IAM user's access key, on one warm process: each creates a
/// key, proves it with STS, and retires the key before the previous one.
async fn user_key_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
    network: &Faults,
) -> Result<Vec<Row>> {
    let (iam, sm) = (
        aws_sdk_iam::Client::new(sdk),
        aws_sdk_secretsmanager::Client::new(sdk),
    );
    let arn = e2e::iam::user_with_key_secret(&iam, &sm, "bench-iam-key").await?;
    repeated_rotations(
        binary,
        env,
        &sm,
        &arn,
        network,
        "warm full rotation (4 steps)",
        "Secrets Manager, IAM and STS",
    )
    .await
}

/// Full single-user rotations of one database login over verified TLS (PostgreSQL, or MariaDB
/// for `mysql-rotation`), cold and on one warm process.
async fn database_rows<D: TestDatabase>(
    db: D,
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
    network: &Faults,
    flights: &str,
) -> Result<Vec<Row>> {
    db.create_login("bench", "bench-initial-1").await?;
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    // The database's traffic crosses the latency proxy too: the secret names the proxy's port.
    let database = TcpFaultProxy::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], db.port())),
        network.clone(),
    )
    .await?;
    let value = D::secret("bench", "bench-initial-1", database.port);
    let arn = sm
        .create_secret()
        .name(unique_name("bench-db"))
        .secret_string(value.to_string())
        .send()
        .await?
        .arn
        .ok_or("no ARN")?;
    let mut env = env.to_vec();
    env.extend(db.function_env());
    repeated_rotations(
        binary,
        &env,
        &sm,
        &arn,
        network,
        "warm full rotation (4 steps, TLS logins)",
        &format!("AWS calls, and database flights: {flights}"),
    )
    .await
}

/// Rotations of one secret: cold ones (each on a fresh process), then rotations one after
/// another on one warm process: each step's and each rotation's time, the calls of each rotation
/// and their chain.
async fn repeated_rotations(
    binary: &Path,
    env: &[(String, String)],
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
    network: &Faults,
    full_label: &str,
    calls_label: &str,
) -> Result<Vec<Row>> {
    const ROTATIONS: usize = 20;
    let readiness = readiness_row(binary, env).await?;
    let cold = cold_rotations(binary, env, async || {
        let token = fresh_token();
        start_rotation(sm, arn, &token, true).await?;
        Ok((arn.to_owned(), token))
    })
    .await?;
    let mut function = FunctionProcess::start(binary, env).await?;
    let mut per_step: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len()];
    let mut full = Vec::new();
    let (mut calls, mut chains) = (Vec::new(), Vec::new());
    for _ in 0..ROTATIONS {
        let token = fresh_token();
        start_rotation(sm, arn, &token, true).await?;
        network.arm(None, None);
        let rotation_started = Instant::now();
        for (i, step) in STEPS.iter().enumerate() {
            let started = Instant::now();
            expect_ok(function.invoke(&rotation_event(step, arn, &token)).await?)?;
            per_step[i].push(started.elapsed());
        }
        full.push(rotation_started.elapsed());
        calls.push(network.calls().len());
        chains.push(network.chain());
    }
    let mut rows = vec![readiness];
    rows.extend(cold.rows());
    for (step, times) in STEPS.iter().zip(&per_step) {
        rows.push(timing_row(&format!("warm {step}"), times));
    }
    rows.push(timing_row(full_label, &full));
    rows.extend(call_rows(&calls, &chains, calls_label));
    rows.push(memory_row(
        &format!("peak RSS, after {ROTATIONS} rotations"),
        peak_rss_kib(&function)?,
    ));
    Ok(rows)
}

/// A scheduled job measured at two values of one setting: a cold run and warm runs at the
/// first, warm runs at the second (after one unmeasured run). Returns the cold run's report, the
/// rows, the first process (for its peak memory) and its warm runs' median.
async fn at_two_settings(
    binary: &Path,
    env: &[(String, String)],
    job: &str,
    setting: &str,
    values: [&str; 2],
    warm_runs: usize,
) -> Result<(Value, Vec<Row>, FunctionProcess, Duration)> {
    let scheduled = e2e::scheduled_event()?;
    let with = |value: &str| {
        let mut env = env.to_vec();
        env.push((setting.to_owned(), value.to_owned()));
        env
    };
    let mut rows = Vec::new();
    let mut first = FunctionProcess::start(binary, &with(values[0])).await?;
    let report = expect_ok(first.invoke_within(scheduled.to_string(), LONG_RUN).await?)?;
    rows.push(readiness_row(binary, &with(values[0])).await?);
    rows.push(timing_row(
        &format!(
            "cold {job} (process start to response), {setting}={}",
            values[0]
        ),
        &[first.started().elapsed()],
    ));
    let at_first = timed_runs(&mut first, &scheduled, warm_runs).await?;
    rows.push(timing_row(
        &format!("warm {job}, {setting}={}", values[0]),
        &at_first,
    ));
    let mut second = FunctionProcess::start(binary, &with(values[1])).await?;
    expect_ok(
        second
            .invoke_within(scheduled.to_string(), LONG_RUN)
            .await?,
    )?;
    let at_second = timed_runs(&mut second, &scheduled, warm_runs).await?;
    rows.push(timing_row(
        &format!("warm {job}, {setting}={}", values[1]),
        &at_second,
    ));
    let speedup =
        median(&at_second).as_secs_f64() / median(&at_first).as_secs_f64().max(f64::EPSILON);
    rows.push((
        format!(
            "time at {setting}={} over time at {}={} (medians)",
            values[1], setting, values[0]
        ),
        format!("{speedup:.1}x"),
        String::new(),
        String::new(),
    ));
    Ok((report, rows, first, median(&at_first)))
}

/// An organization of [`ORG_ACCOUNTS`] accounts (plus the management account) in two regions,
/// each account with [`ORG_USERS`] users and [`ORG_CERTIFICATES`] certificates per region: one
/// run (the enumerator, every item worked off by warm workers, one process per unit of
/// concurrency per job, fed by the harness as the event source mapping would, then the report)
/// at each worker concurrency. The binaries of the two workers are the enumerator's siblings.
async fn organization_rows(
    sdk: &aws_config::SdkConfig,
    binary: &Path,
    env: &[(String, String)],
    network: &Faults,
) -> Result<Vec<Row>> {
    use e2e::organization::{
        create_organization, create_queue, delete_done, member_config, receive_up_to, sqs_event,
        MEMBER_ROLE,
    };
    let sibling = |name: &str| -> Result<PathBuf> {
        let path = binary
            .parent()
            .and_then(Path::parent)
            .ok_or("no binary directory")?
            .join(name)
            .join("bootstrap");
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{} is not built (infra/bench.sh builds it)", path.display()).into())
        }
    };
    let (certificate_worker, key_worker) = (
        sibling("acm-certificate-expiry")?,
        sibling("iam-access-key-rotator")?,
    );
    let names: Vec<String> = (0..ORG_ACCOUNTS).map(|i| format!("bench-{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let accounts = create_organization(sdk, &name_refs).await?;
    // 19 certificates healthy and one on a threshold day per region; keys fresh (a quiet day).
    let certificates: Vec<_> = (0..ORG_CERTIFICATES)
        .map(|i| {
            let days = if i == 0 { 14 } else { 200 + i as i64 };
            self_signed(
                &[&format!("host-{i}.org.example.com")],
                Key::EcP256,
                now() + days * DAY + 3600,
            )
        })
        .collect::<Result<_>>()?;
    let setup = Instant::now();
    stream::iter(accounts.iter())
        .map(|account| {
            let certificates = &certificates;
            async move {
                for region in ORG_REGIONS {
                    let acm = aws_sdk_acm::Client::new(&member_config(sdk, account, region).await?);
                    for certificate in certificates {
                        import(&acm, certificate).await?;
                    }
                }
                let iam = aws_sdk_iam::Client::new(&member_config(sdk, account, REGION).await?);
                for i in 0..ORG_USERS {
                    let user = format!("user-{i}");
                    iam.create_user().user_name(&user).send().await?;
                    iam.create_access_key().user_name(&user).send().await?;
                }
                Ok::<_, e2e::Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    eprintln!(
        "organization of {} accounts set up in {:.0?}",
        accounts.len(),
        setup.elapsed()
    );

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut rows = Vec::new();
    let mut walls = Vec::new();
    for concurrency in ORG_CONCURRENCIES {
        let (certificate_queue, certificate_arn) =
            create_queue(&sqs, &unique_name("bench-acm"), None).await?;
        let (key_queue, key_arn) = create_queue(&sqs, &unique_name("bench-iam"), None).await?;
        let (results_queue, _) = create_queue(&sqs, &unique_name("bench-results"), None).await?;
        let mut enumerator_env = env.to_vec();
        enumerator_env.extend(
            [
                (
                    "ORG_QUEUE_ACM_CERTIFICATE_EXPIRY",
                    certificate_queue.as_str(),
                ),
                ("ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR", key_queue.as_str()),
                ("ORG_RESULTS_QUEUE_URL", results_queue.as_str()),
                ("ORG_REGIONS", "us-east-1,eu-west-1"),
                ("ORG_SKIP_DISABLED_REGIONS", "false"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let mut enumerator = FunctionProcess::start(binary, &enumerator_env).await?;
        let worker_env = |queue: &str| {
            let mut worker_env = env.to_vec();
            worker_env.extend(
                [
                    ("ORG_MEMBER_ROLE_NAME", MEMBER_ROLE),
                    ("ORG_WORK_QUEUE_URL", queue),
                    ("ORG_RESULTS_QUEUE_URL", results_queue.as_str()),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            );
            worker_env
        };
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            workers.push((
                FunctionProcess::start(&certificate_worker, &worker_env(&certificate_queue))
                    .await?,
                certificate_queue.clone(),
                certificate_arn.clone(),
            ));
            workers.push((
                FunctionProcess::start(&key_worker, &worker_env(&key_queue)).await?,
                key_queue.clone(),
                key_arn.clone(),
            ));
        }
        network.arm(None, None);
        let started = Instant::now();
        let run = expect_ok(
            enumerator
                .invoke_within(e2e::scheduled_event()?.to_string(), LONG_RUN)
                .await?,
        )?;
        let enumerated = started.elapsed();
        let planned = run["queued"]
            .as_object()
            .map_or(0, |q| q.values().filter_map(Value::as_u64).sum::<u64>());
        // Each worker takes the next message of its queue, one at a time, until none is left.
        let done: Vec<usize> =
            futures_util::future::join_all(workers.iter_mut().map(|(worker, queue, arn)| {
                let sqs = &sqs;
                async move {
                    let mut done = 0;
                    loop {
                        let Some(record) = receive_up_to(sqs, queue, arn, 1).await?.pop() else {
                            return Ok::<_, e2e::Error>(done);
                        };
                        let record = std::slice::from_ref(&record);
                        let event = sqs_event(record).to_string();
                        let answer = expect_ok(worker.invoke_within(event, LONG_RUN).await?)?;
                        if !delete_done(sqs, queue, record, &answer).await?.is_empty() {
                            return Err(format!("an item failed: {answer}").into());
                        }
                        done += 1;
                    }
                }
            }))
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let worked = started.elapsed();
        let report = expect_ok(
            enumerator
                .invoke_within(r#"{"phase":"report"}"#.to_owned(), LONG_RUN)
                .await?,
        )?;
        let wall = started.elapsed();
        if report["reported"].as_array().map_or(0, Vec::len) != 1
            || done.iter().sum::<usize>() as u64 != planned
        {
            return Err(format!(
                "the run did not complete: {report}, {} of {planned} items",
                done.iter().sum::<usize>()
            )
            .into());
        }
        let calls = network.calls();
        let assume = calls.iter().filter(|c| *c == "AssumeRole").count();
        rows.push((format!("organization run at worker concurrency {concurrency}: enumerate, {planned} items, report (wall time)"), ms(wall), String::new(), "1".into()));
        rows.push((
            format!("  of which enumerating and queueing (concurrency {concurrency})"),
            ms(enumerated),
            String::new(),
            String::new(),
        ));
        rows.push((
            format!("  of which working the items (concurrency {concurrency})"),
            ms(worked - enumerated),
            String::new(),
            String::new(),
        ));
        rows.push((
            format!("calls per account at concurrency {concurrency} (all functions; AssumeRole)"),
            format!("{:.1}", calls.len() as f64 / (accounts.len() + 1) as f64),
            String::new(),
            format!("{assume} AssumeRole"),
        ));
        walls.push((concurrency, wall));
    }
    if let [(_, first), .., (last_concurrency, last)] = walls.as_slice() {
        rows.push((
            format!("speed-up of concurrency {last_concurrency} over 1"),
            format!(
                "{:.1}x",
                first.as_secs_f64() / last.as_secs_f64().max(f64::EPSILON)
            ),
            String::new(),
            String::new(),
        ));
    }
    Ok(rows)
}

/// Invokes `runs` times on a warm process; each invocation's time.
async fn timed_runs(
    function: &mut FunctionProcess,
    event: &Value,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        expect_ok(function.invoke_within(event.to_string(), LONG_RUN).await?)?;
        times.push(started.elapsed());
    }
    Ok(times)
}

const READY: &str = "cold start: process start to ready (its first poll of the Runtime API)";

/// The cold start to readiness over several fresh processes (each stopped once it is ready).
async fn readiness_row(binary: &Path, env: &[(String, String)]) -> Result<Row> {
    let mut times = Vec::with_capacity(COLD_STARTS);
    for _ in 0..COLD_STARTS {
        let function = FunctionProcess::start(binary, env).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = loop {
            if let Some(ready) = function.ready_after() {
                break ready;
            }
            if Instant::now() > deadline {
                return Err("the function never polled the Runtime API".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        times.push(ready);
    }
    Ok(timing_row(READY, &times))
}

fn expect_ok(result: Invocation) -> Result<Value> {
    match result {
        Invocation::Response(value) => Ok(value),
        Invocation::Error {
            error_type,
            error_message,
        } => Err(format!("{error_type}: {error_message}").into()),
    }
}

/// VmHWM: the process's peak resident set size so far.
fn peak_rss_kib(function: &FunctionProcess) -> Result<u64> {
    let pid = function.pid().ok_or("process has exited")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmHWM")?.parse()?)
}

fn timing_row(measure: &str, times: &[Duration]) -> Row {
    let max = times.iter().max().copied().unwrap_or_default();
    (
        measure.to_owned(),
        ms(median(times)),
        ms(max),
        times.len().to_string(),
    )
}

fn memory_row(measure: &str, kib: u64) -> Row {
    (
        measure.to_owned(),
        format!("{:.1} MB", kib as f64 / 1024.0),
        String::new(),
        String::new(),
    )
}

fn size_row(measure: &str, path: &Path) -> Result<Row> {
    let bytes = std::fs::metadata(path)?.len();
    Ok((
        measure.to_owned(),
        format!("{:.2} MB", bytes as f64 / 1_048_576.0),
        String::new(),
        String::new(),
    ))
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
