//! The fault matrix for rotation functions: a clean rotation numbers the calls; then, for every
//! call and every [`Fault::MATRIX`] kind, a fresh secret is rotated with that call faulted, and
//! the steps are driven again with the same token, as Secrets Manager does on its retries, until
//! the rotation converges (or does not, which fails the case).

use crate::faults::{Check, Fault, Faults, Trigger, DATABASE_CALL};
use crate::inbox::AlertInbox;
use crate::rotation::{
    fresh_token, rotation_event, secret_values, snapshot, start_rotation, STEPS,
};
use crate::runtime::{FunctionProcess, Invocation};
use crate::Result;
use std::future::Future;
use std::path::PathBuf;

/// What a matrix needs to know about one kind of rotated secret.
pub trait Subject: Sync {
    /// The secret's field holding the credential (`password`, `SecretAccessKey`), which no log
    /// line of any attempt may contain.
    const CREDENTIAL_FIELD: &'static str;
    /// A new secret (and whatever it stands for: a user, a key, a login); its ARN.
    fn prepare(&self) -> impl Future<Output = Result<String>> + Send;
    /// The check run after every call: the credential applications read works.
    fn live_check(&self, arn: &str) -> Check;
    /// After convergence: whatever the rotation changed outside the secret is as it must be (no
    /// orphaned key or user, the new credential works).
    fn converged(&self, arn: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// How often a case whose fault found no call at its number is run again.
const MAX_TRIES: usize = 3;

/// A rotation function under the matrix.
pub struct Matrix<'a, S> {
    pub function: &'a str,
    pub binary: PathBuf,
    /// The function's environment, its AWS endpoint (and database) behind the proxies of `faults`.
    pub env: Vec<(String, String)>,
    pub faults: Faults,
    pub sm: aws_sdk_secretsmanager::Client,
    pub inbox: &'a AlertInbox,
    pub subject: S,
}

/// What one case did.
#[derive(Debug, Default)]
pub struct CaseResult {
    pub failed_invocations: usize,
    pub killed: usize,
    pub passes: usize,
    /// The number of the first call of each step of the first pass.
    pub step_starts: Vec<usize>,
    /// Whether the armed fault hit a call (a run may make fewer calls than the clean one).
    pub fault_reached: bool,
    /// Everything the function printed, across the processes a crash replaced.
    pub output: String,
}

pub struct MatrixReport {
    pub calls: Vec<String>,
    /// The number of the first call of each of the four steps in the clean rotation.
    pub step_starts: Vec<usize>,
    pub cases: usize,
    pub converged: usize,
    pub failures: Vec<String>,
}

impl<S: Subject> Matrix<'_, S> {
    /// Starts the function, as the process [`Fault::Kill`] kills.
    async fn start(&self) -> Result<FunctionProcess> {
        let process = FunctionProcess::start(&self.binary, &self.env).await?;
        self.faults.set_victim(process.pid());
        Ok(process)
    }

    /// Drives the four steps, starting again at createSecret after a failure or a crash (a new
    /// process after a crash, as Lambda starts a new environment), at most `passes` times.
    async fn drive(
        &self,
        process: &mut FunctionProcess,
        arn: &str,
        token: &str,
        passes: usize,
    ) -> Result<CaseResult> {
        let mut result = CaseResult::default();
        for pass in 1..=passes {
            result.passes = pass;
            let mut completed = true;
            for step in STEPS {
                if pass == 1 {
                    result.step_starts.push(self.faults.calls().len());
                }
                match process.invoke(&rotation_event(step, arn, token)).await {
                    Ok(Invocation::Response(_)) => continue,
                    Ok(Invocation::Error { .. }) => result.failed_invocations += 1,
                    Err(_) => {
                        result.killed += 1;
                        result.output.push_str(&process.output());
                        *process = self.start().await?;
                    }
                }
                completed = false;
                break;
            }
            if completed {
                result.output.push_str(&process.output());
                return Ok(result);
            }
        }
        Err(format!(
            "did not converge in {passes} passes ({} failed invocations, {} crashes)",
            result.failed_invocations, result.killed
        )
        .into())
    }

    /// Runs one rotation with `fault` armed; checks everything the case must show.
    /// Each case starts its own process: a warm one would resume TLS sessions and make other
    /// calls than the cold one the clean rotation numbered.
    pub async fn case(&self, fault: Option<(Trigger, Fault)>) -> Result<CaseResult> {
        let mut process = self.start().await?;
        let process = &mut process;
        let arn = self.subject.prepare().await?;
        let before = snapshot(&self.sm, &arn).await?;
        let token = fresh_token();
        start_rotation(&self.sm, &arn, &token, true).await?;
        self.inbox.drain().await?;
        self.faults.arm(fault, Some(self.subject.live_check(&arn)));
        let driven = self.drive(process, &arn, &token, 3).await;
        let violations = self.faults.violations();
        let fired = self.faults.fired();
        self.faults.disarm();
        let result = CaseResult {
            fault_reached: fired.is_some(),
            ..driven?
        };
        if !violations.is_empty() {
            return Err(format!("invariant broken: {}", violations.join("; ")).into());
        }
        // The secret: a new current value, the old one previous, no pending label, one version more.
        let after = snapshot(&self.sm, &arn).await?;
        let old = before
            .values()
            .find(|(stages, _)| stages.iter().any(|s| s == "AWSCURRENT"))
            .and_then(|(_, value)| value.clone());
        let staged = |stage: &str| {
            after
                .iter()
                .filter(|(_, (stages, _))| stages.iter().any(|s| s == stage))
                .map(|(version, (_, value))| (version.clone(), value.clone()))
                .collect::<Vec<_>>()
        };
        let current = staged("AWSCURRENT");
        if current.len() != 1 || current[0].0 != token {
            return Err(
                format!("AWSCURRENT is on {current:?}, not on the rotation's version").into(),
            );
        }
        if staged("AWSPREVIOUS").first().map(|(_, v)| v.clone()) != Some(old.clone()) {
            return Err("AWSPREVIOUS does not hold the old value".into());
        }
        if current[0].1 == old {
            return Err("AWSCURRENT still holds the old value".into());
        }
        if !staged("AWSPENDING").is_empty() {
            return Err("AWSPENDING is still attached".into());
        }
        if after.len() != before.len() + 1 {
            return Err(format!(
                "{} versions after the rotation, expected {}",
                after.len(),
                before.len() + 1
            )
            .into());
        }
        self.subject.converged(&arn).await?;
        for credential in secret_values(&after, S::CREDENTIAL_FIELD) {
            if result.output.contains(&credential) {
                return Err("a credential reached the function's logs".into());
            }
        }
        // One failure alert per failed step, none for crashes (a dead process publishes nothing).
        let alerts = self
            .inbox
            .drain()
            .await?
            .into_iter()
            .filter(|a| {
                a.document()
                    .map(|d| d["resource"] == arn.as_str())
                    .unwrap_or(false)
            })
            .count();
        if alerts != result.failed_invocations {
            return Err(format!(
                "{alerts} failure alerts for {} failed steps",
                result.failed_invocations
            )
            .into());
        }
        Ok(result)
    }

    /// The clean rotation, then every call index with every fault kind. Prints the result.
    pub async fn run(&self) -> Result<MatrixReport> {
        let clean = self.case(None).await?;
        if clean.failed_invocations + clean.killed > 0 {
            return Err("the clean rotation did not succeed at the first pass".into());
        }
        let calls = self.faults.calls();
        if calls.is_empty() {
            return Err("the clean rotation made no call through the proxy".into());
        }
        let cases: Vec<(usize, Fault)> = (0..calls.len())
            .flat_map(|index| Fault::MATRIX.map(|fault| (index, fault)))
            .collect();
        let mut report = self.faulted(&calls, &cases).await;
        report.step_starts = clean.step_starts;
        println!(
            "fault matrix {}: {} of {} cases converged ({} calls x {} faults)",
            self.function,
            report.converged,
            report.cases,
            calls.len(),
            Fault::MATRIX.len()
        );
        for failure in &report.failures {
            println!("  FAILED {failure}");
        }
        Ok(report)
    }

    /// One case per (call number, fault), numbered as in the clean rotation's `calls`.
    pub async fn faulted(&self, calls: &[String], cases: &[(usize, Fault)]) -> MatrixReport {
        let mut report = MatrixReport {
            calls: calls.to_vec(),
            step_starts: Vec::new(),
            cases: 0,
            converged: 0,
            failures: Vec::new(),
        };
        for &(index, fault) in cases {
            report.cases += 1;
            let started = std::time::Instant::now();
            let trigger = trigger_for(calls, index);
            let mut outcome = Err("not run".into());
            for _ in 0..MAX_TRIES {
                outcome = self.case(Some((trigger.clone(), fault))).await;
                if !matches!(&outcome, Ok(result) if !result.fault_reached) {
                    break;
                }
            }
            if std::env::var_os("MATRIX_PROGRESS").is_some() {
                eprintln!(
                    "{}: {fault:?} at call {index} ({}) in {:?}",
                    self.function,
                    calls[index],
                    started.elapsed()
                );
            }
            let outcome = match outcome {
                Ok(result) if !result.fault_reached => {
                    Err(format!("no run of {MAX_TRIES} reached call {index}").into())
                }
                other => other,
            };
            match outcome {
                Ok(_) => report.converged += 1,
                Err(error) => {
                    let failure = format!("{fault:?} at call {index} ({}): {error}", calls[index]);
                    eprintln!("{}: FAILED {failure}", self.function);
                    report.failures.push(failure);
                }
            }
        }
        report
    }
}

/// How a case finds the clean run's call `index` again. Whether a failed login leaves one
/// more TLS record on the wire is up to the race between the server closing and the client's
/// goodbye, so a run may make a database call more or fewer than the clean one, and calls made
/// together may reach the proxy in either order. An AWS call is therefore found by its name and
/// how many calls of that name came before it, which neither changes; a database flight has no
/// name to tell it apart, so it is found by its number, and a case whose fault found no call at
/// that number runs again (see [`MAX_TRIES`]).
pub fn trigger_for(calls: &[String], index: usize) -> Trigger {
    let name = &calls[index];
    if name == DATABASE_CALL {
        return Trigger::Index(index);
    }
    let occurrence = calls[..index].iter().filter(|c| *c == name).count();
    Trigger::Named(name.clone(), occurrence)
}
