//! PostgreSQL login rotation, end to end: the real binary through the Lambda Runtime API, moto's
//! Secrets Manager and SNS, and a real PostgreSQL server with TLS from a CA made by the test.

use e2e::moto::{unique_name, Moto, REGION};
use e2e::postgres::{TestPostgres, SUPERUSER, SUPERUSER_PASSWORD};
use e2e::rotation::{fresh_token, rotation_event, staged_value, start_rotation, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::TestEnvironment;
use serde_json::{json, Value};

const FUNCTION: &str = "postgres-rotation";

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

struct Setup {
    db: TestPostgres,
    sm: aws_sdk_secretsmanager::Client,
    environment: TestEnvironment,
    function: FunctionProcess,
}

async fn setup_with(tls: bool, settings: &[(&str, &str)]) -> Setup {
    let db = TestPostgres::start(tls).expect("postgres");
    let moto = Moto::shared().expect("moto");
    let mut env: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(db.function_env());
    env.push(("DB_READY_TIMEOUT".into(), "2s".into()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let environment = TestEnvironment::new(moto, REGION, &env_refs)
        .await
        .expect("environment");
    let function = environment.start(FUNCTION).await.expect("start");
    Setup {
        db,
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        environment,
        function,
    }
}

/// The tests run on the build `TEST_POSTGRES_BIN_DIR` names (infra/test.sh's run on the newest
/// major), else on the distribution's.
#[tokio::test]
async fn the_server_is_the_build_under_test() {
    let db = TestPostgres::start(false).expect("postgres");
    let running: String = db
        .superuser()
        .await
        .unwrap()
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    let binaries = e2e::postgres::binaries_version().unwrap();
    eprintln!("PostgreSQL under test: {running} ({binaries})");
    assert!(
        binaries.contains(&format!(
            "(PostgreSQL) {}",
            running.split_whitespace().next().unwrap_or("?")
        )),
        "{binaries} runs as {running}"
    );
    if let Some(dir) = std::env::var_os("TEST_POSTGRES_BIN_DIR") {
        let major: u32 = running.split('.').next().unwrap().parse().unwrap();
        assert!(major >= 16, "{dir:?} is no newer major: {running}");
    }
}

async fn setup() -> Setup {
    setup_with(true, &[]).await
}

impl Setup {
    async fn create_login(&self, user: &str, password: &str) {
        let admin = self.db.superuser().await.unwrap();
        admin
            .batch_execute(&format!(
                "CREATE ROLE {} LOGIN PASSWORD {}",
                ident(user),
                literal(password)
            ))
            .await
            .unwrap();
    }

    fn secret_value(&self, user: &str, password: &str) -> Value {
        json!({"engine": "postgres", "host": "127.0.0.1", "port": self.db.port, "username": user, "password": password, "dbname": "postgres"})
    }

    async fn store(&self, value: &Value) -> String {
        self.sm
            .create_secret()
            .name(unique_name("db"))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap()
            .arn
            .unwrap()
    }

    async fn staged(&self, arn: &str, stage: &str) -> Value {
        serde_json::from_str(&staged_value(&self.sm, arn, stage).await.unwrap()).unwrap()
    }

    async fn step(&mut self, step: &str, arn: &str, token: &str) -> Invocation {
        self.function
            .invoke(&rotation_event(step, arn, token))
            .await
            .unwrap()
    }

    async fn rotate(&mut self, arn: &str) {
        let token = fresh_token();
        start_rotation(&self.sm, arn, &token, true).await.unwrap();
        for step in STEPS {
            let result = self.step(step, arn, &token).await;
            assert!(
                result.is_ok(),
                "{step}: {result:?}\n{}",
                self.function.output()
            );
        }
    }

    fn assert_no_password_in_output(&self, passwords: &[&str]) {
        let output = self.function.output();
        for password in passwords {
            assert!(!output.contains(password), "a password reached the logs");
        }
    }
}

fn field(value: &Value, name: &str) -> String {
    value[name].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_single_user_rotates_twice_over_verified_tls_and_old_passwords_stop_working() {
    let mut s = setup().await;
    s.create_login("app", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;

    s.rotate(&arn).await;
    let second = field(&s.staged(&arn, "AWSCURRENT").await, "password");
    assert_eq!(
        field(&s.staged(&arn, "AWSCURRENT").await, "username"),
        "app"
    );
    assert!(s.db.accepts("app", &second).await);
    assert!(
        !s.db.accepts("app", "first-Passw0rd").await,
        "the old password must be rejected"
    );

    s.rotate(&arn).await;
    let third = field(&s.staged(&arn, "AWSCURRENT").await, "password");
    assert!(s.db.accepts("app", &third).await);
    assert!(!s.db.accepts("app", &second).await);
    s.assert_no_password_in_output(&["first-Passw0rd", &second, &third]);
    assert!(s.environment.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn alternating_users_share_their_objects_and_the_old_user_keeps_working() {
    let mut s = setup().await;
    s.create_login("shop", "shop-Passw0rd").await;
    let admin = s.db.superuser().await.unwrap();
    admin
        .batch_execute("GRANT CREATE ON SCHEMA public TO shop")
        .await
        .unwrap();
    // The master secret as RDS manages it (`ManageMasterUserPassword`): only a user name and a
    // password; the rest comes from the user's secret.
    let master = json!({"username": SUPERUSER, "password": SUPERUSER_PASSWORD});
    let master_arn = s.store(&master).await;
    let mut user = s.secret_value("shop", "shop-Passw0rd");
    user["masterarn"] = json!(master_arn);
    let arn = s.store(&user).await;
    // An object the first user owned before any rotation.
    let shop =
        s.db.endpoint()
            .connect("shop", "shop-Passw0rd", "postgres")
            .await
            .unwrap();
    shop.batch_execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
        .await
        .unwrap();

    s.rotate(&arn).await;
    let current = s.staged(&arn, "AWSCURRENT").await;
    assert_eq!(field(&current, "username"), "shop_clone");
    let clone_password = field(&current, "password");
    assert!(
        s.db.accepts("shop", "shop-Passw0rd").await,
        "the previous user keeps working until the next rotation"
    );
    let clone =
        s.db.endpoint()
            .connect("shop_clone", &clone_password, "postgres")
            .await
            .unwrap();
    clone.batch_execute("INSERT INTO orders VALUES (2); CREATE TABLE refunds (id int); INSERT INTO refunds VALUES (1)").await.unwrap();
    let shop =
        s.db.endpoint()
            .connect("shop", "shop-Passw0rd", "postgres")
            .await
            .unwrap();
    shop.batch_execute("INSERT INTO refunds VALUES (2)")
        .await
        .expect("the first user writes what the clone created");
    let rows = shop
        .query("SELECT count(*) FROM orders", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);

    // The next rotation returns to the first user name with a new password.
    s.rotate(&arn).await;
    let current = s.staged(&arn, "AWSCURRENT").await;
    assert_eq!(field(&current, "username"), "shop");
    let new_shop_password = field(&current, "password");
    assert!(s.db.accepts("shop", &new_shop_password).await);
    assert!(s.db.accepts("shop_clone", &clone_password).await);
    assert!(!s.db.accepts("shop", "shop-Passw0rd").await);
    s.assert_no_password_in_output(&[
        "shop-Passw0rd",
        &clone_password,
        &new_shop_password,
        SUPERUSER_PASSWORD,
    ]);
}

#[tokio::test]
async fn awkward_user_names_and_passwords_are_quoted_correctly() {
    // Every punctuation character allowed in passwords, the connection-string breakers included.
    let mut s = setup_with(
        true,
        &[("EXCLUDE_CHARACTERS", ""), ("PASSWORD_LENGTH", "40")],
    )
    .await;
    for user in [
        "o'reilly \"the\" user",
        "back\\slash $$ dollar",
        "zoë ünïcode",
    ] {
        s.create_login(user, "it's a \"quoted\" $$ pass\\word é")
            .await;
        let arn = s
            .store(&s.secret_value(user, "it's a \"quoted\" $$ pass\\word é"))
            .await;
        s.rotate(&arn).await;
        let password = field(&s.staged(&arn, "AWSCURRENT").await, "password");
        assert!(s.db.accepts(user, &password).await, "{user}");
        assert!(
            !s.db
                .accepts(user, "it's a \"quoted\" $$ pass\\word é")
                .await,
            "{user}"
        );
    }
}

#[tokio::test]
async fn tls_is_verified_and_never_silently_dropped() {
    // A wrong CA: the certificate does not verify, nothing changes.
    let mut wrong_ca = setup().await;
    let other = wrong_ca.db.other_ca_bundle.display().to_string();
    drop(wrong_ca.function);
    let mut env = wrong_ca.environment.env.clone();
    env.retain(|(k, _)| k != "DB_CA_BUNDLE");
    env.push(("DB_CA_BUNDLE".into(), other));
    wrong_ca.function =
        FunctionProcess::start(&e2e::binaries::function_binary(FUNCTION).unwrap(), &env)
            .await
            .unwrap();
    wrong_ca.create_login("app", "first-Passw0rd").await;
    let arn = wrong_ca
        .store(&wrong_ca.secret_value("app", "first-Passw0rd"))
        .await;
    let token = fresh_token();
    start_rotation(&wrong_ca.sm, &arn, &token, true)
        .await
        .unwrap();
    assert!(wrong_ca.step("createSecret", &arn, &token).await.is_ok());
    let result = wrong_ca.step("setSecret", &arn, &token).await;
    let message = result.error_message().unwrap_or_default().to_owned();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        wrong_ca.db.accepts("app", "first-Passw0rd").await,
        "the database is unchanged"
    );
    assert_eq!(wrong_ca.environment.inbox.drain().await.unwrap().len(), 1);

    // A server without TLS: refused unless the secret says ssl: false.
    let mut plain = setup_with(false, &[]).await;
    plain.create_login("app", "first-Passw0rd").await;
    let arn = plain
        .store(&plain.secret_value("app", "first-Passw0rd"))
        .await;
    let token = fresh_token();
    start_rotation(&plain.sm, &arn, &token, true).await.unwrap();
    assert!(plain.step("createSecret", &arn, &token).await.is_ok());
    let refused = plain.step("setSecret", &arn, &token).await;
    assert!(
        !refused.is_ok(),
        "plaintext must not be used silently: {refused:?}"
    );
    assert!(plain.db.accepts("app", "first-Passw0rd").await);
    let mut allowed = plain.secret_value("app", "first-Passw0rd");
    allowed["ssl"] = json!(false);
    let arn = plain.store(&allowed).await;
    plain.rotate(&arn).await;
    let password = field(&plain.staged(&arn, "AWSCURRENT").await, "password");
    assert!(plain.db.accepts("app", &password).await);
}

#[tokio::test]
async fn a_crash_at_any_point_converges_and_the_database_always_accepts_current_or_pending() {
    let mut s = setup().await;
    s.create_login("app", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();

    async fn invariant(s: &Setup, arn: &str) {
        let current = field(&s.staged(arn, "AWSCURRENT").await, "password");
        let pending =
            s.sm.get_secret_value()
                .secret_id(arn)
                .version_stage("AWSPENDING")
                .send()
                .await
                .ok()
                .and_then(|o| o.secret_string);
        let pending_ok = match pending {
            Some(p) => {
                s.db.accepts(
                    "app",
                    &field(&serde_json::from_str(&p).unwrap(), "password"),
                )
                .await
            }
            None => false,
        };
        assert!(
            s.db.accepts("app", &current).await || pending_ok,
            "neither AWSCURRENT nor AWSPENDING logs in"
        );
    }

    invariant(&s, &arn).await;
    assert!(s.step("createSecret", &arn, &token).await.is_ok());
    invariant(&s, &arn).await;
    // The crash: setSecret changed the password, then died before answering.
    let pending = field(
        &s.sm
            .get_secret_value()
            .secret_id(&arn)
            .version_id(&token)
            .version_stage("AWSPENDING")
            .send()
            .await
            .unwrap()
            .secret_string
            .map(|v| serde_json::from_str::<Value>(&v).unwrap())
            .unwrap(),
        "password",
    );
    let admin = s.db.superuser().await.unwrap();
    admin
        .batch_execute(&format!("ALTER ROLE app PASSWORD {}", literal(&pending)))
        .await
        .unwrap();
    invariant(&s, &arn).await;
    // Secrets Manager retries every step: each converges.
    for step in STEPS {
        let result = s.step(step, &arn, &token).await;
        assert!(result.is_ok(), "{step}: {result:?}");
        invariant(&s, &arn).await;
        let again = s.step(step, &arn, &token).await;
        assert!(again.is_ok(), "{step} repeated: {again:?}");
        invariant(&s, &arn).await;
    }
    assert!(s.db.accepts("app", &pending).await);
}

#[tokio::test]
async fn bad_input_and_faults_name_the_cause_and_change_nothing() {
    let mut s = setup().await;
    s.create_login("app", "first-Passw0rd").await;
    let good = s.secret_value("app", "first-Passw0rd");
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut value = good.clone();
        edit(&mut value);
        value
    };
    cases.push((
        with(&|v| v["engine"] = json!("mysql")),
        "createSecret",
        "engine is \"mysql\"",
    ));
    cases.push((
        with(&|v| {
            v.as_object_mut().unwrap().remove("host");
        }),
        "createSecret",
        "has no host",
    ));
    cases.push((
        with(&|v| {
            v["masterarn"] =
                json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-master-AbCdEf")
        }),
        "setSecret",
        "master secret",
    ));
    cases.push((
        with(&|v| v["port"] = json!(1)),
        "setSecret",
        "could not log in",
    ));
    cases.push((
        with(&|v| v["password"] = json!("wrong-password")),
        "setSecret",
        "could not log in with AWSCURRENT",
    ));
    for (value, failing_step, message) in cases {
        let arn = s.store(&value).await;
        let token = fresh_token();
        start_rotation(&s.sm, &arn, &token, true).await.unwrap();
        for step in STEPS {
            let result = s.step(step, &arn, &token).await;
            if step == failing_step {
                let text = result.error_message().unwrap_or_default().to_owned();
                assert!(text.contains(message), "{message}: {text}");
                assert!(!text.contains("first-Passw0rd") && !text.contains("wrong-password"));
                break;
            }
            assert!(result.is_ok(), "{step} before {failing_step}: {result:?}");
        }
        assert!(
            s.db.accepts("app", "first-Passw0rd").await,
            "{message}: the database changed"
        );
        assert_eq!(
            s.environment.inbox.drain().await.unwrap().len(),
            1,
            "{message}: one alert"
        );
    }
    let not_json =
        s.sm.create_secret()
            .name(unique_name("db"))
            .secret_string("host=db user=app")
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
    let token = fresh_token();
    start_rotation(&s.sm, &not_json, &token, true)
        .await
        .unwrap();
    let result = s.step("createSecret", &not_json, &token).await;
    assert!(
        result
            .error_message()
            .unwrap_or_default()
            .contains("not a JSON object"),
        "{result:?}"
    );

    // The pending secret may not point at another host.
    let arn = s.store(&good).await;
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    let mut moved = good.clone();
    moved["host"] = json!("attacker.example.com");
    moved["password"] = json!("whatever-Passw0rd");
    s.sm.put_secret_value()
        .secret_id(&arn)
        .client_request_token(&token)
        .secret_string(moved.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let result = s.step("setSecret", &arn, &token).await;
    assert!(
        result
            .error_message()
            .unwrap_or_default()
            .contains("host differs"),
        "{result:?}"
    );
    assert!(s.db.accepts("app", "first-Passw0rd").await);
    s.assert_no_password_in_output(&["first-Passw0rd", "wrong-password", SUPERUSER_PASSWORD]);
}

#[tokio::test]
async fn set_secret_falls_back_to_the_previous_password_when_the_current_one_fails() {
    let mut s = setup().await;
    s.create_login("app", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;
    s.rotate(&arn).await;
    // The database went back to the previous password (say, restored from a snapshot).
    s.db.superuser()
        .await
        .unwrap()
        .batch_execute("ALTER ROLE app PASSWORD 'first-Passw0rd'")
        .await
        .unwrap();
    let stale = field(&s.staged(&arn, "AWSCURRENT").await, "password");
    assert!(!s.db.accepts("app", &stale).await);

    s.rotate(&arn).await;
    let current = field(&s.staged(&arn, "AWSCURRENT").await, "password");
    assert!(s.db.accepts("app", &current).await);
    assert!(s
        .function
        .output()
        .contains("AWSCURRENT does not log in; trying AWSPREVIOUS"));
}

/// A single-user rotation on one process, its AWS calls counted at 20 ms a call (the database is
/// reached directly): createSecret describes and reads both values together, then stores the new
/// one (4 calls, a chain of 2); setSecret and testSecret know both values and only describe (1
/// each: `AWSPREVIOUS` is read only when `AWSCURRENT` no longer logs in); finishSecret describes,
/// moves `AWSCURRENT`, then removes `AWSPENDING` (3, one after the other).
#[tokio::test]
async fn a_single_user_rotation_makes_nine_aws_calls_and_reads_awsprevious_only_to_fall_back() {
    let s = setup().await;
    let (mut function, network, _proxy) = s
        .environment
        .start_counted(FUNCTION, &[], std::time::Duration::from_millis(20))
        .await
        .unwrap();
    s.create_login("app", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;
    let per_step = e2e::rotation::calls_per_step(&mut function, &network, &s.sm, &arn)
        .await
        .unwrap();
    assert_eq!(
        per_step,
        [(4, 2), (1, 1), (1, 1), (3, 3)],
        "(calls, chain) per step"
    );
    let current = field(&s.staged(&arn, "AWSCURRENT").await, "password");
    assert!(s.db.accepts("app", &current).await);
    assert!(!s.db.accepts("app", "first-Passw0rd").await);
}
