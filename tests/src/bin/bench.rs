//! The benchmark: cold start, time per rotation step and per full rotation, peak memory and
//! package size of a rotation function, run through the Lambda Runtime API against moto.
//! Usage: bench <function-name> <bootstrap binary> <bootstrap.zip> (infra/bench.sh passes them).

use e2e::inbox::AlertInbox;
use e2e::moto::{unique_name, Moto};
use e2e::rotation::{fresh_token, rotation_event, start_rotation, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::Result;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const COLD_STARTS: usize = 10;
const WARM_ROTATIONS: usize = 50;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, binary, zip] = args.as_slice() else {
        return Err("usage: bench <function-name> <bootstrap> <bootstrap.zip>".into());
    };
    let binary = PathBuf::from(binary);
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let (topic_arn, _inbox) = AlertInbox::create(&sdk, "bench-alerts").await?;
    let mut env = moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), topic_arn));

    // Cold start: process start to the first response, the first step of a real rotation.
    let mut cold = Vec::new();
    let mut cold_peak_kib = 0;
    for _ in 0..COLD_STARTS {
        let (arn, token) = new_rotation(&sm).await?;
        let mut function = FunctionProcess::start(&binary, &env).await?;
        expect_ok(
            function
                .invoke(&rotation_event("createSecret", &arn, &token))
                .await?,
        )?;
        cold.push(function.started().elapsed());
        cold_peak_kib = cold_peak_kib.max(peak_rss_kib(&function)?);
    }

    // Warm: full rotations on one process.
    let mut function = FunctionProcess::start(&binary, &env).await?;
    let mut per_step: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len()];
    let mut full = Vec::new();
    for _ in 0..WARM_ROTATIONS {
        let (arn, token) = new_rotation(&sm).await?;
        let rotation_started = Instant::now();
        for (i, step) in STEPS.iter().enumerate() {
            let started = Instant::now();
            expect_ok(function.invoke(&rotation_event(step, &arn, &token)).await?)?;
            per_step[i].push(started.elapsed());
        }
        full.push(rotation_started.elapsed());
    }
    let warm_peak_kib = peak_rss_kib(&function)?;
    let zip_bytes = std::fs::metadata(zip)?.len();
    let binary_bytes = std::fs::metadata(&binary)?.len();

    println!(
        "Benchmark of {name} ({} cores; AWS = moto server on loopback)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| measure | median | max | runs |");
    println!("|---|---|---|---|");
    println!(
        "| cold start: process start to first response (createSecret) | {} | {} | {COLD_STARTS} |",
        ms(median(&cold)),
        ms(max(&cold))
    );
    for (step, times) in STEPS.iter().zip(&per_step) {
        println!(
            "| warm {step} | {} | {} | {WARM_ROTATIONS} |",
            ms(median(times)),
            ms(max(times))
        );
    }
    println!(
        "| warm full rotation (4 steps) | {} | {} | {WARM_ROTATIONS} |",
        ms(median(&full)),
        ms(max(&full))
    );
    println!(
        "| peak RSS, cold process | {:.1} MB | | |",
        cold_peak_kib as f64 / 1024.0
    );
    println!(
        "| peak RSS, after {WARM_ROTATIONS} rotations | {:.1} MB | | |",
        warm_peak_kib as f64 / 1024.0
    );
    println!(
        "| bootstrap binary | {:.2} MB | | |",
        binary_bytes as f64 / 1_048_576.0
    );
    println!(
        "| deployment zip | {:.2} MB | | |",
        zip_bytes as f64 / 1_048_576.0
    );
    Ok(())
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

fn expect_ok(result: Invocation) -> Result<()> {
    match result {
        Invocation::Response(_) => Ok(()),
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

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn max(times: &[Duration]) -> Duration {
    times.iter().max().copied().unwrap_or_default()
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
