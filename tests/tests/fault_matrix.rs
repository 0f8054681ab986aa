//! The fault matrix: every call of a clean rotation (to moto, and for PostgreSQL to the database)
//! failed, answered-then-lost, and followed by a crash, in turn; each rotation then driven again
//! with the same token until it converges. See `e2e::matrix` and `e2e::faults`.

use e2e::binaries::function_binary;
use e2e::database::TestDatabase;
use e2e::faults::{
    through_proxy, Check, Fault, Faults, HttpFaultProxy, TcpFaultProxy, Trigger, DATABASE_CALL,
};
use e2e::mariadb::TestMariaDb;
use e2e::matrix::{trigger_for, Matrix, Subject};
use e2e::moto::{unique_name, Moto, REGION};
use e2e::postgres::TestPostgres;
use e2e::rotation::{create_secret, every_password, staged_value};
use e2e::{Result, TestEnvironment};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The function's environment with its AWS endpoint behind a fault proxy, and the SDK's retries
/// off, so that every injected fault reaches the function's own logic.
async fn behind_proxy(
    moto: &Moto,
    environment: &TestEnvironment,
    faults: &Faults,
) -> Vec<(String, String)> {
    let proxy = HttpFaultProxy::start(&moto.endpoint(), faults.clone())
        .await
        .expect("proxy");
    let mut env = through_proxy(&environment.env, &proxy.endpoint);
    env.push(("AWS_MAX_ATTEMPTS".into(), "1".into()));
    env
}

async fn current_json(
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> std::result::Result<Value, String> {
    let text = staged_value(sm, arn, "AWSCURRENT")
        .await
        .map_err(|e| format!("AWSCURRENT unreadable: {e}"))?;
    serde_json::from_str(&text).map_err(|_| "AWSCURRENT is not well-formed JSON".to_owned())
}

fn assert_all_converged(report: &e2e::matrix::MatrixReport) {
    assert!(
        report.failures.is_empty(),
        "{} of {} cases did not converge:\n{}",
        report.failures.len(),
        report.cases,
        report.failures.join("\n")
    );
    assert_eq!(report.converged, report.cases);
}

// ---- generic secrets ----

struct GenericSecret {
    sm: aws_sdk_secretsmanager::Client,
}

const GENERIC_FIELDS: [&str; 3] = ["username", "password", "host"];

impl Subject for GenericSecret {
    const CREDENTIAL_FIELD: &'static str = "password";

    async fn prepare(&self) -> Result<String> {
        let value =
            json!({"username": "app", "password": "Original-Passw0rd-123", "host": "db.internal"});
        create_secret(&self.sm, "matrix-generic", &value).await
    }

    fn live_check(&self, arn: &str) -> Check {
        let (sm, arn) = (self.sm.clone(), arn.to_owned());
        Arc::new(move || {
            let (sm, arn) = (sm.clone(), arn.clone());
            Box::pin(async move {
                let current = current_json(&sm, &arn).await?;
                match GENERIC_FIELDS.iter().find(|f| !current[**f].is_string()) {
                    Some(field) => Err(format!("AWSCURRENT lost its field {field}")),
                    None => Ok(()),
                }
            })
        })
    }

    async fn converged(&self, _arn: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn generic_secret_rotation_converges_after_every_fault() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let faults = Faults::default();
    let matrix = Matrix {
        function: "generic-secret-rotation",
        binary: function_binary("generic-secret-rotation").unwrap(),
        env: behind_proxy(moto, &environment, &faults).await,
        faults,
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        inbox: &environment.inbox,
        subject: GenericSecret {
            sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        },
    };
    assert_all_converged(&matrix.run().await.unwrap());
}

/// With Security Hub findings on, the finishSecret's read of open findings is one more call:
/// faulted like any other, it never changes the rotation's outcome (publishing never fails a step).
#[tokio::test]
async fn generic_secret_rotation_with_findings_converges_after_every_fault() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[("SECURITY_HUB_FINDINGS", "true")])
        .await
        .unwrap();
    let faults = Faults::default();
    let matrix = Matrix {
        function: "generic-secret-rotation (Security Hub findings on)",
        binary: function_binary("generic-secret-rotation").unwrap(),
        env: behind_proxy(moto, &environment, &faults).await,
        faults,
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        inbox: &environment.inbox,
        subject: GenericSecret {
            sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        },
    };
    let report = matrix.run().await.unwrap();
    assert!(
        report
            .calls
            .iter()
            .any(|call| call == "securityhub POST /findings"),
        "the clean rotation read the open findings: {:?}",
        report.calls
    );
    assert_all_converged(&report);
}

/// A fault on the failure alert's own publish (refused, answer lost, or a network gone silent)
/// neither hangs the step nor changes what it returns.
#[tokio::test]
async fn a_fault_on_the_alert_publish_changes_nothing_about_the_step() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let faults = Faults::default();
    let env = behind_proxy(moto, &environment, &faults).await;
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let arn = GenericSecret { sm: sm.clone() }.prepare().await.unwrap();
    let token = e2e::rotation::fresh_token();
    e2e::rotation::start_rotation(&sm, &arn, &token, true)
        .await
        .unwrap();
    let mut function = e2e::runtime::FunctionProcess::start(
        &function_binary("generic-secret-rotation").unwrap(),
        &env,
    )
    .await
    .unwrap();
    // A token that is not the rotation's: the step fails at its guard and publishes an alert.
    let stray = e2e::rotation::rotation_event("setSecret", &arn, &e2e::rotation::fresh_token());
    for fault in [
        None,
        Some(Fault::Fail),
        Some(Fault::DropAnswer),
        Some(Fault::Silence),
    ] {
        faults.arm(
            fault.map(|f| (Trigger::Named("Publish".into(), 0), f)),
            None,
        );
        let result = function
            .invoke_within(stray.to_string(), std::time::Duration::from_secs(40))
            .await
            .expect("the step answers");
        assert_eq!(
            result.error_type(),
            Some("TokenNotInSecret"),
            "{fault:?}: {result:?}"
        );
        assert_eq!(
            faults.fired().map(|(_, name, _)| name),
            fault.map(|_| "Publish".to_owned()),
            "{fault:?}"
        );
    }
    faults.disarm();
}

// ---- IAM user keys ----

struct UserKeySecret {
    sm: aws_sdk_secretsmanager::Client,
    iam: aws_sdk_iam::Client,
}

async fn user_of(
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> std::result::Result<String, String> {
    let current = current_json(sm, arn).await?;
    current["UserName"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "AWSCURRENT has no UserName".to_owned())
}

impl Subject for UserKeySecret {
    const CREDENTIAL_FIELD: &'static str = "SecretAccessKey";

    async fn prepare(&self) -> Result<String> {
        e2e::iam::user_with_key_secret(&self.iam, &self.sm, "matrix-iam").await
    }

    /// AWSCURRENT's key is an active key of the user, and the user never has more than two.
    fn live_check(&self, arn: &str) -> Check {
        let (sm, iam, arn) = (self.sm.clone(), self.iam.clone(), arn.to_owned());
        Arc::new(move || {
            let (sm, iam, arn) = (sm.clone(), iam.clone(), arn.clone());
            Box::pin(async move {
                let current = current_json(&sm, &arn).await?;
                let user = current["UserName"].as_str().unwrap_or_default();
                let keys = e2e::iam::access_keys(&iam, user)
                    .await
                    .map_err(|e| e.to_string())?;
                if keys.len() > 2 {
                    return Err(format!("the user has {} keys", keys.len()));
                }
                match keys
                    .iter()
                    .find(|(id, _)| current["AccessKeyId"] == id.as_str())
                {
                    Some((_, true)) => Ok(()),
                    Some((_, false)) => Err("AWSCURRENT's key is inactive".into()),
                    None => Err("AWSCURRENT's key does not exist".into()),
                }
            })
        })
    }

    /// No orphaned key: the user has the new key (active) and at most the previous one.
    async fn converged(&self, arn: &str) -> std::result::Result<(), String> {
        let user = user_of(&self.sm, arn).await?;
        let previous = staged_value(&self.sm, arn, "AWSPREVIOUS")
            .await
            .map_err(|e| e.to_string())?;
        let previous: Value = serde_json::from_str(&previous).map_err(|e| e.to_string())?;
        let current = current_json(&self.sm, arn).await?;
        let keys = e2e::iam::access_keys(&self.iam, &user)
            .await
            .map_err(|e| e.to_string())?;
        for (id, active) in &keys {
            let is_current = current["AccessKeyId"] == id.as_str();
            let is_previous = previous["AccessKeyId"] == id.as_str();
            if !is_current && !is_previous {
                return Err(format!("orphaned key {id} (active: {active})"));
            }
            if is_previous && *active {
                return Err("the previous key is still active".into());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn iam_user_key_rotation_converges_after_every_fault() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[("KEY_PROPAGATION_TIMEOUT", "2s")])
        .await
        .unwrap();
    let faults = Faults::default();
    let matrix = Matrix {
        function: "iam-user-key-rotation",
        binary: function_binary("iam-user-key-rotation").unwrap(),
        env: behind_proxy(moto, &environment, &faults).await,
        faults,
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        inbox: &environment.inbox,
        subject: UserKeySecret {
            sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
            iam: aws_sdk_iam::Client::new(&environment.sdk),
        },
    };
    assert_all_converged(&matrix.run().await.unwrap());
}

// ---- PostgreSQL, MySQL and MariaDB ----

struct DatabaseSecret<'a, D> {
    sm: aws_sdk_secretsmanager::Client,
    db: &'a D,
    /// The port the function reaches the database on: the fault proxy's.
    proxy_port: u16,
    /// For alternating users: the master login's secret.
    master_arn: Option<String>,
}

impl<D: TestDatabase> Subject for DatabaseSecret<'_, D> {
    const CREDENTIAL_FIELD: &'static str = "password";

    async fn prepare(&self) -> Result<String> {
        let user = unique_name("matrix_db").replace('-', "_");
        // Within MySQL's 32 characters, the clone's suffix included.
        let user = user[..user.len().min(24)].to_owned();
        let password = "Original-Passw0rd-123";
        self.db.create_login(&user, password).await?;
        let mut value = D::secret(&user, password, self.proxy_port);
        if let Some(master) = &self.master_arn {
            value["masterarn"] = json!(master);
        }
        create_secret(&self.sm, "matrix-db", &value).await
    }

    /// The database accepts AWSCURRENT or AWSPENDING at every moment.
    fn live_check(&self, arn: &str) -> Check {
        let (sm, arn) = (self.sm.clone(), arn.to_owned());
        // The check outlives this borrow of the server; it needs only its port.
        let db = self.db.endpoint();
        Arc::new(move || {
            let (sm, arn) = (sm.clone(), arn.clone());
            Box::pin(async move {
                let current = current_json(&sm, &arn).await?;
                if D::accepts_secret(db, &current).await {
                    return Ok(());
                }
                let pending = match staged_value(&sm, &arn, "AWSPENDING").await {
                    Ok(text) => serde_json::from_str::<Value>(&text).ok(),
                    Err(_) => None,
                };
                match pending {
                    Some(pending) if D::accepts_secret(db, &pending).await => Ok(()),
                    _ => Err("the database accepts neither AWSCURRENT nor AWSPENDING".into()),
                }
            })
        })
    }

    async fn converged(&self, arn: &str) -> std::result::Result<(), String> {
        let current = current_json(&self.sm, arn).await?;
        if D::accepts_secret(self.db.endpoint(), &current).await {
            Ok(())
        } else {
            Err("the database does not accept the new AWSCURRENT".into())
        }
    }
}

/// A database function's matrix, single user (with a silent network at each database call of
/// setSecret as well) or alternating users. Returns every password its secrets held.
async fn database_matrix<D: TestDatabase>(db: &D, alternating: bool) -> Vec<String> {
    let (port, function) = (db.port(), D::FUNCTION);
    let moto = Moto::shared().unwrap();
    let mut settings = db.function_env();
    settings.extend([
        ("DB_READY_TIMEOUT".to_owned(), "2s".to_owned()),
        ("DB_CONNECT_TIMEOUT".to_owned(), "2s".to_owned()),
        ("DB_STATEMENT_TIMEOUT".to_owned(), "2s".to_owned()),
    ]);
    let refs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let environment = TestEnvironment::new(moto, REGION, &refs).await.unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let faults = Faults::default();
    let database_proxy = TcpFaultProxy::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        faults.clone(),
    )
    .await
    .unwrap();
    let master_arn = match alternating {
        true => Some(
            create_secret(&sm, "matrix-db-master", &D::master(database_proxy.port))
                .await
                .unwrap(),
        ),
        false => None,
    };
    let name = if alternating {
        format!("{function} (alternating users)")
    } else {
        function.to_owned()
    };
    let matrix = Matrix {
        function: &name,
        binary: function_binary(function).unwrap(),
        env: behind_proxy(moto, &environment, &faults).await,
        faults,
        sm: sm.clone(),
        inbox: &environment.inbox,
        subject: DatabaseSecret {
            sm,
            db,
            proxy_port: database_proxy.port,
            master_arn,
        },
    };
    let report = matrix.run().await.unwrap();
    assert_all_converged(&report);
    let prefix = "matrix-db";
    if alternating {
        return every_password(&matrix.sm, prefix).await.unwrap();
    }

    // A network that goes silent (no answer, no reset) during any login or statement of
    // setSecret: the function's own bounds end the wait, it reports the failure, and the retry
    // converges.
    let set_secret = report.step_starts[1]..report.step_starts[2];
    let silences: Vec<(usize, Fault)> = set_secret
        .filter(|&i| report.calls[i] == DATABASE_CALL)
        .map(|i| (i, Fault::Silence))
        .collect();
    assert!(!silences.is_empty(), "setSecret made no database call");
    let silent = matrix.faulted(&report.calls, &silences).await;
    println!(
        "fault matrix {function}, silent network in setSecret: {} of {} cases converged",
        silent.converged, silent.cases
    );
    assert_all_converged(&silent);
    every_password(&matrix.sm, prefix).await.unwrap()
}

async fn postgres_matrix(alternating: bool) {
    let db = TestPostgres::start(true).expect("postgres");
    database_matrix(&db, alternating).await;
}

async fn mysql_matrix(alternating: bool) {
    let db = TestMariaDb::start(true).expect("mariadb");
    db.admin()
        .await
        .expect("the server accepts its administrator");
    let passwords = database_matrix(&db, alternating).await;
    // Every password of every case, generated in setSecret's retries included.
    assert!(passwords.len() > 20, "{} passwords", passwords.len());
    let found = db.passwords_in_logs(&passwords).await.unwrap();
    assert!(
        found.is_empty(),
        "{} of {} passwords are in MariaDB's general or binary log",
        found.len(),
        passwords.len()
    );
    println!(
        "MariaDB's general and binary logs hold none of the matrix's {} passwords",
        passwords.len()
    );
}

#[tokio::test]
async fn mysql_rotation_converges_after_every_fault() {
    mysql_matrix(false).await;
}

#[tokio::test]
async fn mysql_alternating_users_rotation_converges_after_every_fault() {
    mysql_matrix(true).await;
}

#[tokio::test]
async fn postgres_rotation_converges_after_every_fault() {
    postgres_matrix(false).await;
}

#[tokio::test]
async fn postgres_alternating_users_rotation_converges_after_every_fault() {
    postgres_matrix(true).await;
}

/// A server that accepts the connection and never answers (a wrong port, a stuck proxy): the
/// connect timeout bounds the whole login, and the failure is reported once.
#[tokio::test]
async fn postgres_rotation_gives_up_on_a_server_that_never_answers() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(
        moto,
        REGION,
        &[
            ("DB_CONNECT_TIMEOUT", "2s"),
            ("ROTATION_STRATEGY", "single"),
        ],
    )
    .await
    .unwrap();
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((connection, _)) = mute.accept().await {
            open.push(connection);
        }
    });
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": port, "username": "app", "password": "Original-Passw0rd-123", "dbname": "postgres"});
    let arn = create_secret(&sm, "mute-db", &value).await.unwrap();
    let token = e2e::rotation::fresh_token();
    e2e::rotation::start_rotation(&sm, &arn, &token, true)
        .await
        .unwrap();
    let mut function = environment.start("postgres-rotation").await.unwrap();
    let created = function
        .invoke(&e2e::rotation::rotation_event("createSecret", &arn, &token))
        .await
        .unwrap();
    assert!(created.is_ok(), "{created:?}");
    // Well inside Lambda's limit: the function must answer by itself, not be killed.
    let set = function
        .invoke_within(
            e2e::rotation::rotation_event("setSecret", &arn, &token).to_string(),
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("setSecret answers instead of hanging");
    let message = set.error_message().unwrap_or_default().to_owned();
    assert!(message.contains("DB_CONNECT_TIMEOUT"), "{set:?}");
    let alerts: Vec<_> = environment
        .inbox
        .drain()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.document()
                .map(|d| d["resource"] == arn.as_str())
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(alerts.len(), 1, "one failure alert");
    held.abort();
}

// ---- the IAM access key rotator ----

/// One user through the rotator's lifecycle, each run faulted at each of its calls.
struct RotatorCase {
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
    user: String,
    secret: String,
}

impl RotatorCase {
    /// At every moment: the user has an active key and at most two, and the key the secret holds
    /// (once it exists) is active.
    fn check(&self) -> Check {
        let (iam, sm, user, secret) = (
            self.iam.clone(),
            self.sm.clone(),
            self.user.clone(),
            self.secret.clone(),
        );
        Arc::new(move || {
            let (iam, sm, user, secret) = (iam.clone(), sm.clone(), user.clone(), secret.clone());
            Box::pin(async move {
                rotator_invariant(&iam, &sm, &user, &secret)
                    .await
                    .map(|_| ())
            })
        })
    }
}

/// The invariant; returns the user's keys and the id the secret holds.
async fn rotator_invariant(
    iam: &aws_sdk_iam::Client,
    sm: &aws_sdk_secretsmanager::Client,
    user: &str,
    secret: &str,
) -> std::result::Result<(Vec<(String, bool)>, Option<String>), String> {
    let keys = e2e::iam::access_keys(iam, user)
        .await
        .map_err(|e| e.to_string())?;
    if keys.len() > 2 {
        return Err(format!("{} keys", keys.len()));
    }
    if !keys.iter().any(|(_, active)| *active) {
        return Err("no active key".into());
    }
    let stored = match staged_value(sm, secret, "AWSCURRENT").await {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["AccessKeyId"].as_str().map(str::to_owned)),
        Err(_) => None,
    };
    if let Some(stored) = &stored {
        if !keys.iter().any(|(id, active)| id == stored && *active) {
            return Err("the secret holds a key that is not active".into());
        }
    }
    Ok((keys, stored))
}

#[tokio::test]
async fn iam_access_key_rotator_converges_after_every_fault() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let faults = Faults::default();
    let base_env = behind_proxy(moto, &environment, &faults).await;
    let iam = aws_sdk_iam::Client::new(&environment.sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let binary = function_binary("iam-access-key-rotator").unwrap();
    let schedule = e2e::scheduled_event().unwrap();

    // Phases of the lifecycle, one run each: rotate (forced: no waiting for the key to age),
    // deactivate and delete (no grace periods, so each is due on the next run).
    let runs = |user: &str| {
        [
            json!({"force_users": [user]}),
            schedule.clone(),
            schedule.clone(),
        ]
    };
    let new_case = || async {
        let scope = unique_name("matrix-rotator");
        let user = unique_name("keyholder");
        iam.create_user()
            .user_name(&user)
            .path(format!("/{scope}/"))
            .send()
            .await?;
        iam.create_access_key().user_name(&user).send().await?;
        let mut env = base_env.clone();
        for (k, v) in [
            ("USER_PATH_PREFIX", format!("/{scope}/")),
            ("SECRET_PREFIX", format!("iam-user-keys/{scope}/")),
            ("DRY_RUN", "false".into()),
            ("KEY_ROTATION_AGE", "1d".into()),
            ("KEY_INSTALL_GRACE", "0s".into()),
            ("KEY_RECOVERY_GRACE", "0s".into()),
            ("KEY_WARN_AHEAD", "0".into()),
            (
                "ROTATOR_ROLE_ARN",
                "arn:aws:iam::123456789012:role/key-rotator".into(),
            ),
        ] {
            env.push((k.to_owned(), v));
        }
        let case = RotatorCase {
            iam: iam.clone(),
            sm: sm.clone(),
            secret: format!("iam-user-keys/{scope}/{user}"),
            user,
        };
        Ok::<_, e2e::Error>((case, env))
    };
    let start = |env: Vec<(String, String)>| {
        let (binary, faults) = (binary.clone(), faults.clone());
        async move {
            let process = e2e::runtime::FunctionProcess::start(&binary, &env).await?;
            faults.set_victim(process.pid());
            Ok::<_, e2e::Error>(process)
        }
    };

    // The clean lifecycle numbers each run's calls, and announces each action once.
    let (case, env) = new_case().await.unwrap();
    let mut process = start(env).await.unwrap();
    let mut calls_per_run = Vec::new();
    let mut history = Announcements::default();
    history.snapshot(&case).await.unwrap();
    for event in runs(&case.user) {
        faults.arm(None, Some(case.check()));
        let result = process.invoke(&event).await.unwrap();
        assert!(result.is_ok(), "{result:?}\n{}", process.output());
        assert!(faults.violations().is_empty(), "{:?}", faults.violations());
        calls_per_run.push(faults.calls());
        history.after_run(&case, &environment.inbox).await.unwrap();
    }
    history.check(&case.user, false).unwrap();
    let per_run: Vec<usize> = history.announced.iter().map(Vec::len).collect();
    assert_eq!(
        per_run,
        [1, 1, 1],
        "rotated, deactivated, deleted: {:?}",
        history.announced
    );
    let (keys, stored) = rotator_invariant(&iam, &sm, &case.user, &case.secret)
        .await
        .unwrap();
    assert_eq!(
        keys.len(),
        1,
        "the clean lifecycle ends with the new key alone"
    );
    assert_eq!(stored.as_deref(), Some(keys[0].0.as_str()));

    let (mut cases, mut failures) = (0, Vec::new());
    for (phase, calls) in calls_per_run.iter().enumerate() {
        for (index, name) in calls.iter().enumerate() {
            for fault in Fault::MATRIX {
                cases += 1;
                let outcome: std::result::Result<(), String> = async {
                    let (case, env) = new_case().await.map_err(|e| e.to_string())?;
                    let mut process = start(env.clone()).await.map_err(|e| e.to_string())?;
                    let events = runs(&case.user);
                    let inbox = &environment.inbox;
                    let mut history = Announcements::default();
                    inbox.drain().await.map_err(|e| e.to_string())?;
                    history.snapshot(&case).await?;
                    for event in &events[..phase] {
                        faults.arm(None, None);
                        let done = process.invoke(event).await.map_err(|e| e.to_string())?;
                        if !done.is_ok() {
                            return Err(format!("an earlier clean run failed: {done:?}"));
                        }
                        history.after_run(&case, inbox).await?;
                    }
                    faults.arm(Some((trigger_for(calls, index), fault)), Some(case.check()));
                    if process.invoke(&events[phase]).await.is_err() {
                        process = start(env.clone()).await.map_err(|e| e.to_string())?;
                    }
                    if faults.fired().is_none() {
                        return Err("the armed fault was never reached".into());
                    }
                    history.after_run(&case, inbox).await?;
                    // The next scheduled run, and the run after it, bring the user back on track.
                    faults.arm(None, Some(case.check()));
                    for _ in 0..2 {
                        let next = process.invoke(&schedule).await.map_err(|e| e.to_string())?;
                        if !next.is_ok() {
                            return Err(format!("the next run failed: {next:?}"));
                        }
                        history.after_run(&case, inbox).await?;
                    }
                    // The one window no notification service without deduplication closes: the
                    // alert sent and the process gone (or the answer lost, or the tag's removal
                    // failing) before the record of it goes; the next run says it again.
                    let repeat_possible =
                        matches!(name.rsplit('.').next(), Some("Publish" | "UntagUser"));
                    history.check(&case.user, repeat_possible)?;
                    let violations = faults.violations();
                    if !violations.is_empty() {
                        return Err(violations.join("; "));
                    }
                    let (keys, stored) =
                        rotator_invariant(&iam, &sm, &case.user, &case.secret).await?;
                    // No key that nothing holds: every key is the secret's, or the user's
                    // original one while it is still the only key in use.
                    let unheld: Vec<_> = keys
                        .iter()
                        .filter(|(id, _)| Some(id) != stored.as_ref())
                        .collect();
                    if stored.is_some() && unheld.iter().any(|(_, active)| *active) {
                        return Err(format!("an active key nothing holds: {keys:?}"));
                    }
                    if stored.is_none() && keys.len() != 1 {
                        return Err(format!("no secret, yet {} keys", keys.len()));
                    }
                    Ok(())
                }
                .await;
                faults.disarm();
                if let Err(error) = outcome {
                    let failure =
                        format!("run {phase}, {fault:?} at call {index} ({name}): {error}");
                    eprintln!("iam-access-key-rotator: FAILED {failure}");
                    failures.push(failure);
                }
            }
        }
    }
    println!(
        "fault matrix iam-access-key-rotator: {} of {cases} cases converged ({} calls in 3 runs x {} faults)",
        cases - failures.len(),
        calls_per_run.iter().map(Vec::len).sum::<usize>(),
        Fault::MATRIX.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A user's keys (id, active) and the key its secret holds, at one moment.
type KeyState = (Vec<(String, bool)>, Option<String>);

/// What a rotator case announced, run by run, and the user's keys after each run: every action
/// that took effect must be announced, and by one run only.
#[derive(Default)]
struct Announcements {
    /// Per run, the `announcement` attributes of the alerts it sent.
    announced: Vec<Vec<String>>,
    /// The keys (id, active) and the key the secret holds: before the first run, then after each.
    states: Vec<KeyState>,
}

impl Announcements {
    async fn snapshot(&mut self, case: &RotatorCase) -> std::result::Result<(), String> {
        let keys = e2e::iam::access_keys(&case.iam, &case.user)
            .await
            .map_err(|e| e.to_string())?;
        let stored = match staged_value(&case.sm, &case.secret, "AWSCURRENT").await {
            Ok(text) => serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["AccessKeyId"].as_str().map(str::to_owned)),
            Err(_) => None,
        };
        self.states.push((keys, stored));
        Ok(())
    }

    async fn after_run(
        &mut self,
        case: &RotatorCase,
        inbox: &e2e::inbox::AlertInbox,
    ) -> std::result::Result<(), String> {
        let alerts = inbox.drain().await.map_err(|e| e.to_string())?;
        self.announced.push(
            alerts
                .iter()
                .filter_map(|a| a.attributes.get("announcement").cloned())
                .collect(),
        );
        self.snapshot(case).await
    }

    /// The runs (from `from` on) that announced an action on `key` of one of `actions`.
    fn announcing_runs(&self, user: &str, actions: &[&str], key: &str, from: usize) -> Vec<usize> {
        let suffix = shared::iam::key_suffix(key);
        let ids: Vec<String> = actions
            .iter()
            .map(|a| format!("{user}/{a}/{suffix}"))
            .collect();
        (from..self.announced.len())
            .filter(|&run| self.announced[run].iter().any(|id| ids.contains(id)))
            .collect()
    }

    fn check(&self, user: &str, repeat_possible: bool) -> std::result::Result<(), String> {
        // No action announced by two runs (nor twice by one).
        let mut runs_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (run, ids) in self.announced.iter().enumerate() {
            for id in ids {
                runs_of.entry(id).or_default().push(run);
            }
        }
        for (id, runs) in &runs_of {
            let allowed = if repeat_possible { 2 } else { 1 };
            if runs.len() > allowed {
                return Err(format!("{id} was announced by runs {runs:?}"));
            }
        }
        // Every action that took effect was announced, by its run or a later one.
        for run in 1..self.states.len() {
            let ((before, stored_before), (after, stored_after)) =
                (&self.states[run - 1], &self.states[run]);
            let announced_by = run - 1;
            for (id, active) in before {
                let missing = match after.iter().find(|(other, _)| other == id) {
                    None => self
                        .announcing_runs(user, &["delete", "delete-unstored"], id, announced_by)
                        .is_empty()
                        .then_some("deletion"),
                    Some((_, false)) if *active => self
                        .announcing_runs(
                            user,
                            &["deactivate", "record-deactivation"],
                            id,
                            announced_by,
                        )
                        .is_empty()
                        .then_some("deactivation"),
                    _ => None,
                };
                if let Some(action) = missing {
                    return Err(format!(
                        "the {action} of key {} in run {announced_by} was never announced: {:?}",
                        shared::iam::key_suffix(id),
                        self.announced
                    ));
                }
            }
            if stored_after.is_some() && stored_after != stored_before {
                let rotated = (announced_by..self.announced.len()).any(|r| {
                    self.announced[r]
                        .iter()
                        .any(|id| id.starts_with(&format!("{user}/rotate/")))
                });
                if !rotated {
                    return Err(format!(
                        "the rotation in run {announced_by} was never announced: {:?}",
                        self.announced
                    ));
                }
            }
        }
        Ok(())
    }
}

// ---- KMS: manual rotation through an alias, and on-demand rotation ----

/// One KMS rotation request under the matrix: a fresh key (tagged with the case, which a
/// successor copies, so the case's keys are found by tag), the request, the invariant checked
/// after every call, and what must hold once the request has succeeded.
#[derive(Clone)]
struct KmsCase {
    kms: aws_sdk_kms::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    case: String,
    alias: String,
    original: String,
    manual: bool,
}

impl KmsCase {
    async fn new(
        kms: &aws_sdk_kms::Client,
        tagging: &aws_sdk_resourcegroupstagging::Client,
        manual: bool,
    ) -> Result<Self> {
        use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
        let case = unique_name("kms-case");
        let (spec, usage) = if manual {
            (KeySpec::EccNistP256, KeyUsageType::SignVerify)
        } else {
            (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        };
        let original = kms
            .create_key()
            .key_spec(spec)
            .key_usage(usage)
            .tags(
                Tag::builder()
                    .tag_key("matrix-case")
                    .tag_value(&case)
                    .build()?,
            )
            .send()
            .await?
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .ok_or("no key")?;
        let alias = format!("alias/{case}");
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(&original)
            .send()
            .await?;
        Ok(Self {
            kms: kms.clone(),
            tagging: tagging.clone(),
            case,
            alias,
            original,
            manual,
        })
    }

    fn request(&self) -> Value {
        if self.manual {
            json!({"rotate_alias": self.alias})
        } else {
            json!({"rotate_now": [self.alias]})
        }
    }

    async fn enabled(&self, key: &str) -> std::result::Result<String, String> {
        let described = self
            .kms
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| format!("{key} unreadable: {e}"))?;
        let metadata = described.key_metadata().ok_or("no metadata")?;
        match metadata.key_state().map(|s| s.as_str()) {
            Some("Enabled") => Ok(metadata.key_id().to_owned()),
            state => Err(format!("{key} is {state:?}, not Enabled")),
        }
    }

    /// The case's keys other than the original.
    async fn successors(&self) -> std::result::Result<Vec<String>, String> {
        let page = self
            .tagging
            .get_resources()
            .resource_type_filters("kms:key")
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key("matrix-case")
                    .values(&self.case)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("tags unreadable: {e}"))?;
        Ok(page
            .resource_tag_mapping_list()
            .iter()
            .filter_map(|m| m.resource_arn()?.rsplit('/').next().map(str::to_owned))
            .filter(|id| *id != self.original)
            .collect())
    }

    async fn rotations(&self) -> std::result::Result<usize, String> {
        self.kms
            .list_key_rotations()
            .key_id(&self.original)
            .send()
            .await
            .map(|r| r.rotations().len())
            .map_err(|e| format!("rotations unreadable: {e}"))
    }

    /// At every moment: the alias resolves to an enabled key and the original stays enabled
    /// (no caller loses the key it needs); at most one successor, at most one rotation.
    async fn invariant(&self) -> std::result::Result<(), String> {
        self.enabled(&self.alias).await?;
        self.enabled(&self.original).await?;
        let successors = self.successors().await?;
        if successors.len() > 1 {
            return Err(format!("{} successors", successors.len()));
        }
        let rotations = self.rotations().await?;
        if rotations > 1 {
            return Err(format!("{rotations} on-demand rotations"));
        }
        Ok(())
    }

    fn check(&self) -> Check {
        let case = self.clone();
        Arc::new(move || {
            let case = case.clone();
            Box::pin(async move { case.invariant().await })
        })
    }

    async fn converged(&self) -> std::result::Result<(), String> {
        self.invariant().await?;
        let successors = self.successors().await?;
        if !self.manual {
            return match (self.rotations().await?, successors.len()) {
                (1, 0) => Ok(()),
                (rotations, keys) => Err(format!("{rotations} rotations, {keys} new keys")),
            };
        }
        let [successor] = successors.as_slice() else {
            return Err("no successor".into());
        };
        if self.enabled(&self.alias).await? != *successor {
            return Err("the alias does not point at the successor".into());
        }
        let tags = self
            .kms
            .list_resource_tags()
            .key_id(&self.original)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let superseded_by = tags
            .tags()
            .iter()
            .find(|t| t.tag_key() == "credential-rotation/superseded-by")
            .map(|t| t.tag_value());
        if superseded_by != Some(successor.as_str()) {
            return Err(format!(
                "the original is tagged superseded-by {superseded_by:?}"
            ));
        }
        Ok(())
    }
}

#[tokio::test]
async fn kms_rotation_converges_after_every_fault() {
    let moto = Moto::shared().unwrap();
    let environment = TestEnvironment::new(moto, REGION, &[]).await.unwrap();
    let faults = Faults::default();
    let env = behind_proxy(moto, &environment, &faults).await;
    let kms = aws_sdk_kms::Client::new(&environment.sdk);
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&environment.sdk);
    let binary = function_binary("kms-key-rotation").unwrap();
    let start = || async {
        let process = e2e::runtime::FunctionProcess::start(&binary, &env).await?;
        faults.set_victim(process.pid());
        Ok::<_, e2e::Error>(process)
    };

    for manual in [true, false] {
        let what = if manual { "rotate_alias" } else { "rotate_now" };
        // The clean request numbers the calls.
        let case = KmsCase::new(&kms, &tagging, manual).await.unwrap();
        let mut process = start().await.unwrap();
        faults.arm(None, Some(case.check()));
        let clean = process.invoke(&case.request()).await.unwrap();
        assert!(clean.is_ok(), "{clean:?}\n{}", process.output());
        assert!(faults.violations().is_empty(), "{:?}", faults.violations());
        case.converged().await.unwrap();
        let calls = faults.calls();
        let alerts = environment.inbox.drain().await.unwrap();
        assert_eq!(
            alerts.len(),
            usize::from(manual),
            "{what}: the clean request's alerts"
        );

        let (mut cases, mut failures) = (0, Vec::new());
        for (index, name) in calls.iter().enumerate() {
            for fault in Fault::MATRIX {
                cases += 1;
                let outcome: std::result::Result<(), String> = async {
                    let case = KmsCase::new(&kms, &tagging, manual)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut process = start().await.map_err(|e| e.to_string())?;
                    faults.arm(
                        Some((trigger_for(&calls, index), fault)),
                        Some(case.check()),
                    );
                    // Lambda retries a failed asynchronous invocation, in a new environment
                    // after a crash.
                    let mut done = false;
                    for _ in 0..3 {
                        match process.invoke(&case.request()).await {
                            Ok(result) if result.is_ok() => {
                                done = true;
                                break;
                            }
                            Ok(_) => {}
                            Err(_) => process = start().await.map_err(|e| e.to_string())?,
                        }
                    }
                    if faults.fired().is_none() {
                        return Err("the armed fault was never reached".into());
                    }
                    if !done {
                        return Err(format!("no success in 3 attempts:\n{}", process.output()));
                    }
                    let violations = faults.violations();
                    if !violations.is_empty() {
                        return Err(violations.join("; "));
                    }
                    case.converged().await?;
                    let alerts = environment.inbox.drain().await.map_err(|e| e.to_string())?;
                    if manual && alerts.is_empty() {
                        return Err("the rotation was never announced".into());
                    }
                    Ok(())
                }
                .await;
                faults.disarm();
                if let Err(error) = outcome {
                    let failure = format!("{what}, {fault:?} at call {index} ({name}): {error}");
                    eprintln!("kms-key-rotation: FAILED {failure}");
                    failures.push(failure);
                }
            }
        }
        println!(
            "fault matrix kms-key-rotation {what}: {} of {cases} cases converged ({} calls x {} faults)",
            cases - failures.len(),
            calls.len(),
            Fault::MATRIX.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
