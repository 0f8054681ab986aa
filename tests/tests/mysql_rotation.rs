//! MySQL and MariaDB login rotation, end to end: the real binary through the Lambda Runtime API,
//! moto's Secrets Manager and SNS, and a real MariaDB server with TLS from a CA made by the test.
//! After every rotation the server's general query log and binary log are searched for every
//! password the test has used: none may be there.
//! With `MYSQL_TEST_URL` (`mysql://admin:password@host:port`, an account that may create users
//! and grant), the single-user and alternating-users rotations also run against that MySQL.

use e2e::mariadb::{native_hash, TestMariaDb, ADMIN, ADMIN_PASSWORD};
use e2e::moto::{unique_name, Moto, REGION};
use e2e::rotation::{fresh_token, rotation_event, staged_value, start_rotation, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::TestEnvironment;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const FUNCTION: &str = "mysql-rotation";

/// `'text'` for the test's own statements (the server runs with backslash escapes).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

struct Setup {
    db: TestMariaDb,
    sm: aws_sdk_secretsmanager::Client,
    environment: TestEnvironment,
    function: FunctionProcess,
    /// Every password the test has set or seen in a secret.
    passwords: Vec<String>,
}

async fn setup_with(tls: bool, settings: &[(&str, &str)]) -> Setup {
    let db = TestMariaDb::start(tls).expect("mariadb");
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
    db.admin()
        .await
        .expect("the server accepts its administrator");
    Setup {
        db,
        sm: aws_sdk_secretsmanager::Client::new(&environment.sdk),
        environment,
        function,
        passwords: vec![ADMIN_PASSWORD.to_owned()],
    }
}

async fn setup() -> Setup {
    setup_with(true, &[]).await
}

impl Setup {
    /// A login, created from its hash (the test's own statements keep passwords out of the logs).
    async fn create_login(&mut self, user: &str, host: &str, password: &str) {
        self.db
            .execute(&[&format!(
                "CREATE USER {}@{} IDENTIFIED BY PASSWORD {}",
                literal(user),
                literal(host),
                literal(&native_hash(password))
            )])
            .await
            .unwrap();
        self.passwords.push(password.to_owned());
    }

    /// MariaDB's ed25519 login, from its public key (computed by the server from a password sent
    /// on a connection whose log is off for the moment).
    async fn create_ed25519_login(&mut self, user: &str, password: &str) {
        let mut admin = self.db.admin().await.unwrap();
        admin
            .query_drop("SET SESSION sql_log_off = 1, sql_log_bin = 0")
            .await
            .unwrap();
        admin
            .query_drop(format!(
                "CREATE USER {}@'%' IDENTIFIED VIA ed25519 USING PASSWORD({})",
                literal(user),
                literal(password)
            ))
            .await
            .unwrap();
        admin.disconnect().await.unwrap();
        self.passwords.push(password.to_owned());
    }

    /// The server's logs hold none of the passwords the test has used.
    async fn assert_no_password_in_server_logs(&self) {
        let found = self.db.passwords_in_logs(&self.passwords).await.unwrap();
        assert!(
            found.is_empty(),
            "{} of {} passwords are in the server's general or binary log",
            found.len(),
            self.passwords.len()
        );
    }

    fn secret_value(&self, user: &str, password: &str) -> Value {
        json!({"engine": "mariadb", "host": "127.0.0.1", "port": self.db.port, "username": user, "password": password})
    }

    async fn store(&self, value: &Value) -> String {
        self.sm
            .create_secret()
            .name(unique_name("mysql"))
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
        let (_, password) = self.current(arn).await;
        self.passwords.push(password);
        self.assert_no_password_in_server_logs().await;
    }

    /// The current login: (user name, password).
    async fn current(&self, arn: &str) -> (String, String) {
        let value = self.staged(arn, "AWSCURRENT").await;
        (field(&value, "username"), field(&value, "password"))
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
    s.create_login("app", "%", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;

    s.rotate(&arn).await;
    let (user, second) = s.current(&arn).await;
    assert_eq!(user, "app");
    assert!(s.db.accepts("app", &second).await);
    assert!(
        !s.db.accepts("app", "first-Passw0rd").await,
        "the old password must be rejected"
    );

    s.rotate(&arn).await;
    let (_, third) = s.current(&arn).await;
    assert!(s.db.accepts("app", &third).await);
    assert!(!s.db.accepts("app", &second).await);
    s.assert_no_password_in_output(&["first-Passw0rd", &second, &third]);
    assert!(s.environment.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_account_whose_host_is_not_any_host_keeps_its_host() {
    let mut s = setup().await;
    s.create_login("app", "127.0.0.1", "first-Passw0rd").await;
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;
    s.rotate(&arn).await;
    let (_, password) = s.current(&arn).await;
    assert!(s.db.accepts("app", &password).await);
    let hosts =
        s.db.endpoint()
            .query(
                ADMIN,
                ADMIN_PASSWORD,
                "SELECT Host FROM mysql.user WHERE User = 'app'",
            )
            .await
            .unwrap();
    let hosts: Vec<String> = hosts.into_iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(hosts, ["127.0.0.1"], "no account for another host appeared");
}

#[tokio::test]
async fn alternating_users_copy_every_privilege_role_and_requirement_of_the_original() {
    let mut s = setup().await;
    s.db.execute(&[
        "CREATE DATABASE shop",
        "CREATE DATABASE reports",
        "CREATE ROLE auditor",
        "CREATE TABLE reports.summary (total INT)",
        "GRANT SELECT ON reports.* TO auditor",
        &format!(
            "CREATE USER 'app'@'%' IDENTIFIED BY PASSWORD '{}' REQUIRE SSL",
            native_hash("first-Passw0rd")
        ),
        "GRANT SELECT, INSERT, CREATE ON shop.* TO 'app'@'%' WITH GRANT OPTION",
        "GRANT auditor TO 'app'@'%'",
        "SET DEFAULT ROLE auditor FOR 'app'@'%'",
    ])
    .await
    .unwrap();
    // The master secret as RDS manages it: only a user name and a password.
    let master = s
        .store(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .await;
    let mut value = s.secret_value("app", "first-Passw0rd");
    value["masterarn"] = json!(master);
    let arn = s.store(&value).await;
    let endpoint = s.db.endpoint();
    // A table made by the original user, used by whichever user is current.
    endpoint
        .query("app", "first-Passw0rd", "CREATE TABLE shop.orders (id INT)")
        .await
        .unwrap();

    s.rotate(&arn).await;
    let (clone, clone_password) = s.current(&arn).await;
    assert_eq!(clone, "app_clone");
    endpoint
        .query(
            &clone,
            &clone_password,
            "INSERT INTO shop.orders VALUES (1)",
        )
        .await
        .expect("the clone uses the original's table");
    endpoint
        .query(
            &clone,
            &clone_password,
            "SELECT COUNT(*) FROM reports.summary",
        )
        .await
        .expect("the clone's default role gives it the reports");
    let grants = endpoint
        .query(ADMIN, ADMIN_PASSWORD, "SHOW GRANTS FOR 'app_clone'@'%'")
        .await
        .unwrap();
    let grants: Vec<String> = grants.into_iter().map(|r| r.get(0).unwrap()).collect();
    assert!(
        grants
            .iter()
            .any(|g| g.contains("ON `shop`.*") && g.ends_with("WITH GRANT OPTION")),
        "{grants:?}"
    );
    assert!(
        grants
            .iter()
            .any(|g| g.starts_with("SET DEFAULT ROLE `auditor`")),
        "{grants:?}"
    );
    let ssl: Vec<String> = endpoint
        .query(
            ADMIN,
            ADMIN_PASSWORD,
            "SELECT ssl_type FROM mysql.user WHERE User = 'app_clone'",
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    assert_eq!(ssl, ["ANY"], "the clone requires TLS like the original");
    assert!(
        s.db.accepts("app", "first-Passw0rd").await,
        "the previous user keeps working"
    );

    // A grant made to the original after the clone exists reaches the clone next time.
    s.db.execute(&[
        "CREATE DATABASE later",
        "GRANT SELECT ON later.* TO 'app'@'%'",
    ])
    .await
    .unwrap();
    s.rotate(&arn).await;
    let (user, password) = s.current(&arn).await;
    assert_eq!(user, "app");
    endpoint
        .query(&user, &password, "SELECT COUNT(*) FROM shop.orders")
        .await
        .unwrap();
    assert!(
        s.db.accepts(&clone, &clone_password).await,
        "the previous user keeps working"
    );
    s.rotate(&arn).await;
    let (clone, clone_password) = s.current(&arn).await;
    assert_eq!(clone, "app_clone");
    endpoint
        .query(&clone, &clone_password, "SHOW TABLES FROM later")
        .await
        .expect("the clone has the later grant");
    s.assert_no_password_in_output(&["first-Passw0rd", &password, &clone_password, ADMIN_PASSWORD]);
    assert!(s.environment.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn ed25519_accounts_rotate_from_their_public_keys_and_keep_their_plugin() {
    let mut s = setup().await;
    s.create_ed25519_login("edward", "first-Ed-Passw0rd").await;
    let arn = s
        .store(&s.secret_value("edward", "first-Ed-Passw0rd"))
        .await;
    s.rotate(&arn).await;
    let (_, password) = s.current(&arn).await;
    assert!(s.db.accepts("edward", &password).await);
    assert!(!s.db.accepts("edward", "first-Ed-Passw0rd").await);

    // Alternating users: the clone authenticates with ed25519 too.
    s.create_ed25519_login("eve", "first-Eve-Passw0rd").await;
    s.db.execute(&[
        "CREATE DATABASE eves",
        "GRANT SELECT ON eves.* TO 'eve'@'%'",
    ])
    .await
    .unwrap();
    let master = s
        .store(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .await;
    let mut value = s.secret_value("eve", "first-Eve-Passw0rd");
    value["masterarn"] = json!(master);
    let arn = s.store(&value).await;
    s.rotate(&arn).await;
    s.rotate(&arn).await;
    let (user, password) = s.current(&arn).await;
    assert_eq!(user, "eve");
    s.db.endpoint()
        .query(&user, &password, "SHOW TABLES FROM eves")
        .await
        .unwrap();
    let plugins: Vec<(String, String)> =
        s.db.endpoint()
            .query(
                ADMIN,
                ADMIN_PASSWORD,
                "SELECT User, plugin FROM mysql.user WHERE User IN ('edward', 'eve', 'eve_clone') ORDER BY User",
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
    let expected: Vec<(String, String)> = ["edward", "eve", "eve_clone"]
        .iter()
        .map(|u| (u.to_string(), "ed25519".to_owned()))
        .collect();
    assert_eq!(plugins, expected);
    s.assert_no_password_in_output(&["first-Ed-Passw0rd", "first-Eve-Passw0rd", &password]);
    assert!(s.environment.inbox.drain().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_ca_bundle_is_all_the_function_trusts() {
    let mut s = setup().await;
    let ca = s.db.ca_bundle.clone().unwrap().display().to_string();
    let other = s.db.other_ca_bundle.display().to_string();
    s.create_login("app", "%", "first-Passw0rd").await;
    let binary = e2e::binaries::function_binary(FUNCTION).unwrap();
    let mut env = s.environment.env.clone();
    env.retain(|(k, _)| k != "DB_CA_BUNDLE");
    // The server's CA as the system's only root: trusted without a bundle...
    env.push(("SSL_CERT_FILE".into(), ca));
    s.function = FunctionProcess::start(&binary, &env).await.unwrap();
    let arn = s.store(&s.secret_value("app", "first-Passw0rd")).await;
    s.rotate(&arn).await;
    let (_, password) = s.current(&arn).await;
    assert!(s.db.accepts("app", &password).await);

    // ...and not when a bundle names other CAs.
    env.push(("DB_CA_BUNDLE".into(), other));
    s.function = FunctionProcess::start(&binary, &env).await.unwrap();
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    assert!(s.step("createSecret", &arn, &token).await.is_ok());
    let refused = s.step("setSecret", &arn, &token).await;
    let message = refused.error_message().unwrap_or_default().to_owned();
    assert!(
        message.contains("certificate") || message.contains("UnknownIssuer"),
        "{message}"
    );
    assert!(s.db.accepts("app", &password).await, "nothing changed");
}

#[tokio::test]
async fn hostile_user_names_and_passwords_rotate() {
    let mut s = setup_with(
        true,
        &[("EXCLUDE_CHARACTERS", ""), ("PASSWORD_LENGTH", "40")],
    )
    .await;
    let initial = "it's a \"quoted\" pass\\word é %_";
    for user in ["o'reilly \"the\" user", "back\\slash 100%_", "zoë ünïcode"] {
        s.create_login(user, "%", initial).await;
        let arn = s.store(&s.secret_value(user, initial)).await;
        s.rotate(&arn).await;
        let (_, password) = s.current(&arn).await;
        assert!(s.db.accepts(user, &password).await, "{user}");
        assert!(!s.db.accepts(user, initial).await, "{user}");
        s.assert_no_password_in_output(&[initial, &password]);
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
    wrong_ca.create_login("app", "%", "first-Passw0rd").await;
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
    assert!(
        message.contains("certificate") || message.contains("UnknownIssuer"),
        "{message}"
    );
    assert!(
        wrong_ca.db.accepts("app", "first-Passw0rd").await,
        "the database is unchanged"
    );
    assert_eq!(wrong_ca.environment.inbox.drain().await.unwrap().len(), 1);

    // A server without TLS: refused unless the secret says ssl: false.
    let mut plain = setup_with(false, &[]).await;
    plain.create_login("app", "%", "first-Passw0rd").await;
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
    let (_, password) = plain.current(&arn).await;
    assert!(plain.db.accepts("app", &password).await);
}

#[tokio::test]
async fn bad_input_names_the_cause_and_changes_nothing() {
    let mut s = setup().await;
    s.create_login("app", "%", "first-Passw0rd").await;
    let good = s.secret_value("app", "first-Passw0rd");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut value = good.clone();
        edit(&mut value);
        value
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&|v| v["engine"] = json!("postgres")),
            "createSecret",
            "engine is \"postgres\"",
        ),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("host");
            }),
            "createSecret",
            "has no host",
        ),
        (
            with(&|v| v["port"] = json!("http")),
            "createSecret",
            "not a port number",
        ),
        (
            with(&|v| {
                v["masterarn"] = json!(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-master-AbCdEf"
                )
            }),
            "setSecret",
            "master secret",
        ),
        (
            with(&|v| {
                v["username"] = json!("a".repeat(75));
                v["masterarn"] =
                    json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf");
            }),
            "createSecret",
            "longer than MariaDB's limit of 80",
        ),
        (
            with(&|v| v["password"] = json!("wrong-password")),
            "setSecret",
            "could not log in with AWSCURRENT",
        ),
    ];
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
            "{message}: the database is unchanged"
        );
        if failing_step == "createSecret" {
            assert!(
                staged_value(&s.sm, &arn, "AWSPENDING").await.is_err(),
                "{message}: nothing was written"
            );
        }
        assert_eq!(
            s.environment.inbox.drain().await.unwrap().len(),
            1,
            "{message}: one alert"
        );
    }
    // Not JSON at all.
    let arn =
        s.sm.create_secret()
            .name(unique_name("mysql"))
            .secret_string("host=127.0.0.1 user=app")
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
    let token = fresh_token();
    start_rotation(&s.sm, &arn, &token, true).await.unwrap();
    let result = s.step("createSecret", &arn, &token).await;
    assert!(
        result
            .error_message()
            .unwrap_or_default()
            .contains("not a JSON object"),
        "{result:?}"
    );
}

/// Against a real MySQL when `MYSQL_TEST_URL` names one: single user, then alternating users.
#[tokio::test]
async fn mysql_rotates_when_a_server_is_given() {
    let Ok(url) = std::env::var("MYSQL_TEST_URL") else {
        eprintln!("MYSQL_TEST_URL is not set: the MySQL run is skipped (MariaDB runs above)");
        return;
    };
    let opts = mysql_async::Opts::from_url(&url)
        .expect("MYSQL_TEST_URL is mysql://user:password@host:port");
    let (host, port) = (opts.ip_or_hostname().to_owned(), opts.tcp_port());
    let (admin, admin_password) = (
        opts.user().unwrap_or("root").to_owned(),
        opts.pass().unwrap_or("").to_owned(),
    );
    let mut conn = mysql_async::Conn::new(opts).await.unwrap();
    let user = unique_name("app").replace('-', "_");
    let user = &user[..user.len().min(20)];
    // MySQL rewrites the password of its own accounts' statements in its logs; MariaDB (which
    // this test also runs against) does not, so there the account is created from its hash.
    let identified = if conn.server_version().0 >= 10 {
        format!(
            "IDENTIFIED BY PASSWORD {}",
            literal(&native_hash("first-Passw0rd"))
        )
    } else {
        "IDENTIFIED BY 'first-Passw0rd'".to_owned()
    };
    conn.query_drop(format!("CREATE USER {}@'%' {identified}", literal(user)))
        .await
        .unwrap();
    let moto = Moto::shared().unwrap();
    let ssl = std::env::var("MYSQL_TEST_SSL").is_ok_and(|v| v == "true");
    let mut env = vec![];
    if let Ok(bundle) = std::env::var("MYSQL_TEST_CA_BUNDLE") {
        env.push(("DB_CA_BUNDLE", bundle));
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let environment = TestEnvironment::new(moto, REGION, &env_refs).await.unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let mut function = environment.start(FUNCTION).await.unwrap();
    let master = sm
        .create_secret()
        .name(unique_name("mysql-master"))
        .secret_string(json!({"username": admin, "password": admin_password}).to_string())
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let arn = sm.create_secret().name(unique_name("mysql")).secret_string(json!({"engine": "mysql", "host": host, "port": port, "username": user, "password": "first-Passw0rd", "ssl": ssl, "masterarn": master}).to_string()).send().await.unwrap().arn.unwrap();
    for rotation in 0..3 {
        let token = fresh_token();
        start_rotation(&sm, &arn, &token, true).await.unwrap();
        for step in STEPS {
            let result = function
                .invoke(&rotation_event(step, &arn, &token))
                .await
                .unwrap();
            assert!(result.is_ok(), "rotation {rotation}, {step}: {result:?}");
        }
    }
    // What MySQL logged of the rotations, where the test's account may read it: the general log
    // when it goes to a table, and the binary log's events. MySQL rewrites the password in both
    // (caching_sha2_password); mysql_native_password accounts receive only the hash.
    let mut passwords = vec!["first-Passw0rd".to_owned()];
    for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
        if let Ok(text) = staged_value(&sm, &arn, stage).await {
            let value: Value = serde_json::from_str(&text).unwrap();
            passwords.push(field(&value, "password"));
        }
    }
    let mut logged: Vec<String> = Vec::new();
    let general: Result<Vec<(u8, String)>, _> =
        conn.query("SELECT @@general_log, @@log_output").await;
    if let Ok([(1, output)]) = general.as_deref() {
        if output.contains("TABLE") {
            logged.extend(
                conn.query::<String, _>(
                    "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log",
                )
                .await
                .unwrap_or_default(),
            );
        }
    }
    let binlogs: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.unwrap_or_default();
    for binlog in binlogs {
        let name: String = binlog.get(0).unwrap_or_default();
        let events: Vec<mysql_async::Row> = conn
            .query(format!("SHOW BINLOG EVENTS IN {}", literal(&name)))
            .await
            .unwrap_or_default();
        logged.extend(events.iter().filter_map(|event| event.get::<String, _>(5)));
    }
    eprintln!(
        "the server's logs: {} statements searched for passwords",
        logged.len()
    );
    for (i, password) in passwords.iter().enumerate() {
        assert!(
            !logged.iter().any(|line| line.contains(password.as_str())),
            "password {i} (0: the test's own, then AWSCURRENT, AWSPREVIOUS) is in the server's general or binary log"
        );
    }
    let _ = conn
        .query_drop(format!(
            "DROP USER IF EXISTS {}@'%', {}@'%'",
            literal(user),
            literal(&format!("{user}_clone"))
        ))
        .await;
}
