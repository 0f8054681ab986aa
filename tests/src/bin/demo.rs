//! The local demo: starts moto, creates sample secrets, rotates them through the real function
//! binary over the Lambda Runtime API, shows versions and stages before and after (values
//! masked), then forces a failure and shows the alert that was published. Then imports
//! certificates with different expiry dates and shows the alerts the daily scan sends, takes IAM
//! access keys through their lifecycle, rotates a secret holding one IAM user's key, rotates
//! PostgreSQL and MariaDB logins, and scans KMS keys (enforcing
//! rotation, warning of a key deleted while in use) and rotates a signing key by its alias.
//! Last, the organization mode: an organization of three accounts in two regions, covered by the
//! enumerator and the workers, and the run's digest.

use e2e::certificates::{import, now, self_signed, Key, DAY};
use e2e::database::TestDatabase;
use e2e::moto::{Moto, REGION};
use e2e::rotation::{fresh_token, rotation_event, snapshot, start_rotation, SecretSnapshot, STEPS};
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::{Result, TestEnvironment};
use serde_json::{json, Value};
use std::time::Instant;

const FUNCTION: &str = "generic-secret-rotation";
const CERTIFICATE_FUNCTION: &str = "acm-certificate-expiry";
const KEY_ROTATOR: &str = "iam-access-key-rotator";
const KMS_KEY_ROTATION: &str = "kms-key-rotation";
const USER_KEY_ROTATION: &str = "iam-user-key-rotation";

#[tokio::main]
async fn main() -> Result<()> {
    let moto = Moto::start()?;
    println!("Local AWS: moto server at {}", moto.endpoint());
    let environment = TestEnvironment::new(&moto, REGION, &[]).await?;
    println!("Alert topic: {}", environment.topic_arn);
    let (rotated, rotation_alerts) = rotation_demo(&moto, &environment).await?;
    let certificate_alerts = certificate_demo(&moto, &environment).await?;
    let key_alerts = key_rotator_demo(&environment).await?;
    user_key_demo(&environment).await?;
    let postgres = e2e::postgres::TestPostgres::start(true)?;
    let mut logins = database_demo(&environment, "PostgreSQL", &postgres).await?;
    let mariadb = e2e::mariadb::TestMariaDb::start(true)?;
    mariadb.admin().await?;
    logins += database_demo(&environment, "MariaDB (mysql-rotation)", &mariadb).await?;
    let (kms_keys_changed, kms_alerts) = kms_demo(&environment).await?;
    let organization_alerts = organization_demo(&environment).await?;
    println!(
        "\nSummary: rotated {} secrets ({}), an IAM user key secret, {logins} database logins and {kms_keys_changed} KMS key(s); {} rotation alert(s), {} certificate alert(s), {} access key alert(s), {kms_alerts} KMS key alert(s) and {organization_alerts} organization alert(s) sent.",
        rotated.len(),
        rotated.join(", "),
        rotation_alerts,
        certificate_alerts,
        key_alerts
    );
    Ok(())
}

async fn rotation_demo(
    moto: &Moto,
    environment: &TestEnvironment,
) -> Result<(Vec<&'static str>, usize)> {
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let mut function = environment.start(FUNCTION).await?;
    println!("Function: {FUNCTION}, running through the Lambda Runtime API\n");

    let samples = [
        ("demo/payments-api", json!({"client_id": "payments-web", "password": "initial-Passw0rd-2019", "endpoint": "https://payments.internal"}).to_string()),
        ("demo/webhook-signing-key", "whsec-initial-signing-key".to_owned()),
    ];
    let mut rotated: Vec<&'static str> = Vec::new();
    for (name, value) in &samples {
        let arn = sm
            .create_secret()
            .name(*name)
            .secret_string(value)
            .send()
            .await?
            .arn
            .ok_or("no ARN")?;
        println!("== Rotating {name}");
        let before = snapshot(&sm, &arn).await?;
        print_versions("before", &before);
        rotate(&mut function, &sm, &arn, "  ").await?;
        print_versions("after", &snapshot(&sm, &arn).await?);
        println!();
        rotated.push(*name);
    }

    println!("== Forcing a failure: a JSON secret without the field to rotate");
    let broken = "demo/legacy-token";
    let arn = sm
        .create_secret()
        .name(broken)
        .secret_string(r#"{"token":"legacy-Value-123"}"#)
        .send()
        .await?
        .arn
        .ok_or("no ARN")?;
    let token = fresh_token();
    start_rotation(&sm, &arn, &token, true).await?;
    let before = snapshot(&sm, &arn).await?;
    let result = function
        .invoke(&rotation_event("createSecret", &arn, &token))
        .await?;
    println!(
        "  createSecret  -> {}: {}",
        result.error_type().unwrap_or("ok"),
        result.error_message().unwrap_or("")
    );
    println!(
        "  secret unchanged: {}",
        snapshot(&sm, &arn).await? == before
    );

    let alerts = environment.inbox.drain().await?;
    println!("\n== Alerts published to the topic: {}", alerts.len());
    for alert in &alerts {
        println!("Subject: {}", alert.subject);
        println!(
            "Attributes (for subscription filter policies): {:?}",
            alert.attributes
        );
    }
    if let Some((_, message)) = moto.published(&environment.topic_arn)?.last() {
        println!(
            "\n-- what an email subscriber reads --\n{}",
            message["email"].as_str().unwrap_or_default()
        );
        let document: Value = serde_json::from_str(message["sqs"].as_str().unwrap_or("{}"))?;
        println!(
            "-- what a queue, Lambda or HTTPS subscriber receives --\n{}",
            serde_json::to_string_pretty(&document)?
        );
    }
    Ok((rotated, alerts.len()))
}

async fn certificate_demo(moto: &Moto, environment: &TestEnvironment) -> Result<usize> {
    println!(
        "\n== Certificates: importing four, then running the daily scan (Security Hub findings on)"
    );
    let acm = aws_sdk_acm::Client::new(&environment.sdk);
    let start = now();
    let samples = [
        (
            "shop.example.com",
            Key::Rsa2048,
            start + 14 * DAY + 3600,
            "expires in 14 days (a threshold day)",
        ),
        (
            "api.example.com",
            Key::EcP256,
            start + 3 * DAY + 3600,
            "expires in 3 days (a threshold day), EC key",
        ),
        (
            "www.example.com",
            Key::Rsa2048,
            start + 200 * DAY,
            "expires in 200 days",
        ),
        (
            "legacy.example.com",
            Key::EcP256,
            start + 3,
            "expires in 3 seconds",
        ),
    ];
    for (name, key, not_after, note) in samples {
        import(&acm, &self_signed(&[name], key, not_after)?).await?;
        println!("  imported {name:<20} {note}");
    }
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let mut function = environment
        .start_with(CERTIFICATE_FUNCTION, &[("SECURITY_HUB_FINDINGS", "true")])
        .await?;
    let scheduled = e2e::scheduled_event()?;
    let report = match function.invoke(&scheduled).await? {
        Invocation::Response(report) => report,
        Invocation::Error {
            error_type,
            error_message,
        } => return Err(format!("scan failed: {error_type}: {error_message}").into()),
    };
    println!("  scan report: {report}");
    let alerts = print_alerts(environment, "the scan", "certificate-scan-digest").await?;
    println!("  Security Hub findings (one per certificate at risk):");
    for finding in moto.security_hub_findings(REGION)? {
        println!(
            "    [{} {} {}] {}",
            finding["Severity"]["Label"].as_str().unwrap_or("?"),
            finding["Compliance"]["Status"].as_str().unwrap_or("?"),
            finding["RecordState"].as_str().unwrap_or("?"),
            finding["Title"].as_str().unwrap_or("?")
        );
    }
    Ok(alerts)
}

/// The access key lifecycle over every user, with ages of seconds instead of days so it fits in
/// a demo: rotate, deactivate, delete; an exempt user is left alone.
async fn key_rotator_demo(environment: &TestEnvironment) -> Result<usize> {
    println!("\n== IAM access keys: the rotator's lifecycle (ages shortened to seconds)");
    let iam = aws_sdk_iam::Client::new(&environment.sdk);
    let tag = |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build();
    for (user, tags) in [
        ("ci-deployer", vec![tag("owner", "platform-team")?]),
        ("break-glass", vec![tag("key-rotation", "exempt")?]),
    ] {
        iam.create_user()
            .user_name(user)
            .path("/demo/")
            .set_tags(Some(tags))
            .send()
            .await?;
        iam.create_access_key().user_name(user).send().await?;
        println!("  created user {user} with one access key");
    }
    let mut env = environment.env.clone();
    for (k, v) in [
        ("USER_PATH_PREFIX", "/demo/"),
        ("DRY_RUN", "false"),
        ("KEY_ROTATION_AGE", "4s"),
        ("KEY_INSTALL_GRACE", "2s"),
        ("KEY_RECOVERY_GRACE", "2s"),
        ("KEY_WARN_AHEAD", "0"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let mut function =
        FunctionProcess::start(&e2e::binaries::function_binary(KEY_ROTATOR)?, &env).await?;
    let scheduled = e2e::scheduled_event()?;
    let mut sent = 0;
    for (wait, label) in [
        (4.5, "rotation age reached"),
        (2.5, "install grace over"),
        (2.5, "recovery grace over"),
    ] {
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
        let report = match function.invoke(&scheduled).await? {
            Invocation::Response(report) => report,
            Invocation::Error {
                error_type,
                error_message,
            } => return Err(format!("sweep failed: {error_type}: {error_message}").into()),
        };
        println!("  sweep ({label}): outcomes {}", report["outcomes"]);
        let alerts = environment.inbox.drain().await?;
        for alert in alerts.iter().filter(|a| {
            a.attributes.get("kind").map(String::as_str) != Some("access-key-sweep-summary")
        }) {
            println!("    {}", alert.subject);
        }
        sent += alerts.len();
        let keys = iam
            .list_access_keys()
            .user_name("ci-deployer")
            .send()
            .await?
            .access_key_metadata;
        let shown: Vec<String> = keys
            .iter()
            .map(|k| {
                format!(
                    "{} {}",
                    shared::iam::key_suffix(k.access_key_id().unwrap_or_default()),
                    k.status().map_or("?", |s| s.as_str())
                )
            })
            .collect();
        println!("    ci-deployer's keys now: {}", shown.join(", "));
    }
    Ok(sent)
}

/// Drives one rotation of `arn` through the four steps as Secrets Manager does, printing each
/// step's outcome and time (indented by `indent`); a failed step ends the demo with its error.
async fn rotate(
    function: &mut FunctionProcess,
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
    indent: &str,
) -> Result<()> {
    let token = fresh_token();
    start_rotation(sm, arn, &token, true).await?;
    for step in STEPS {
        let started = Instant::now();
        match function.invoke(&rotation_event(step, arn, &token)).await? {
            Invocation::Response(report) => println!(
                "{indent}{step:<13} -> {} ({} ms)",
                report["outcome"].as_str().unwrap_or("?"),
                started.elapsed().as_millis()
            ),
            Invocation::Error {
                error_type,
                error_message,
            } => return Err(format!("{step} failed: {error_type}: {error_message}").into()),
        }
    }
    Ok(())
}

/// A secret holding one IAM user's access key, rotated through `iam-user-key-rotation`: a new key
/// is made and proven (STS), the secret moves to it, and the previous key is deactivated.
async fn user_key_demo(environment: &TestEnvironment) -> Result<()> {
    println!("\n== IAM user key secret: rotated by {USER_KEY_ROTATION}");
    let iam = aws_sdk_iam::Client::new(&environment.sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let arn = e2e::iam::user_with_key_secret(&iam, &sm, "demo-exporter").await?;
    let current: Value =
        serde_json::from_str(&e2e::rotation::staged_value(&sm, &arn, "AWSCURRENT").await?)?;
    let user = current["UserName"]
        .as_str()
        .ok_or("no UserName")?
        .to_owned();
    let show_keys = |keys: Vec<(String, bool)>| {
        keys.iter()
            .map(|(id, active)| {
                let status = if *active { "active" } else { "inactive" };
                format!("{} {status}", shared::iam::key_suffix(id))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  user {user}: keys {}",
        show_keys(e2e::iam::access_keys(&iam, &user).await?)
    );
    let mut function = environment.start(USER_KEY_ROTATION).await?;
    rotate(&mut function, &sm, &arn, "  ").await?;
    let current: Value =
        serde_json::from_str(&e2e::rotation::staged_value(&sm, &arn, "AWSCURRENT").await?)?;
    println!(
        "  after: keys {}; AWSCURRENT holds {}",
        show_keys(e2e::iam::access_keys(&iam, &user).await?),
        shared::iam::key_suffix(current["AccessKeyId"].as_str().unwrap_or_default())
    );
    Ok(())
}

/// Two logins of a local server with TLS (certificate from a CA made for the demo), one rotated
/// as a single user and one with alternating users, each through the engine's function.
async fn database_demo<D: TestDatabase>(
    environment: &TestEnvironment,
    engine: &str,
    db: &D,
) -> Result<usize> {
    println!("\n== {engine}: a local server with TLS (certificate from a CA made for the demo)");
    db.create_login("billing", "billing-initial-1").await?;
    db.create_login("reporting", "reporting-initial-1").await?;
    let sm = aws_sdk_secretsmanager::Client::new(&environment.sdk);
    let prefix = D::FUNCTION.trim_end_matches("-rotation");
    let master_arn = sm
        .create_secret()
        .name(format!("demo/{prefix}-master"))
        .secret_string(D::master(db.port()).to_string())
        .send()
        .await?
        .arn
        .ok_or("no ARN")?;
    let mut reporting = D::secret("reporting", "reporting-initial-1", db.port());
    reporting["masterarn"] = json!(master_arn);
    let mut env = environment.env.clone();
    env.extend(db.function_env());
    let mut function =
        FunctionProcess::start(&e2e::binaries::function_binary(D::FUNCTION)?, &env).await?;
    let accepts = async |user: &str, password: &str| {
        D::accepts_secret(
            db.endpoint(),
            &json!({"username": user, "password": password}),
        )
        .await
    };
    let mut rotated = 0;
    for (name, value, strategy) in [
        (
            format!("demo/{prefix}-billing"),
            D::secret("billing", "billing-initial-1", db.port()),
            "single user",
        ),
        (
            format!("demo/{prefix}-reporting"),
            reporting,
            "alternating users",
        ),
    ] {
        let (user, old_password) = (
            value["username"].as_str().unwrap_or_default().to_owned(),
            value["password"].as_str().unwrap_or_default().to_owned(),
        );
        let arn = sm
            .create_secret()
            .name(&name)
            .secret_string(value.to_string())
            .send()
            .await?
            .arn
            .ok_or("no ARN")?;
        println!(
            "  {name} ({strategy}): before, {user} logs in: {}",
            accepts(&user, &old_password).await
        );
        rotate(&mut function, &sm, &arn, "    ").await?;
        let current: Value =
            serde_json::from_str(&e2e::rotation::staged_value(&sm, &arn, "AWSCURRENT").await?)?;
        let (new_user, new_password) = (
            current["username"].as_str().unwrap_or_default(),
            current["password"].as_str().unwrap_or_default(),
        );
        println!(
            "    after: {new_user} logs in with AWSCURRENT: {}",
            accepts(new_user, new_password).await
        );
        println!(
            "    after: {user} logs in with the old password: {}",
            accepts(&user, &old_password).await
        );
        rotated += 1;
    }
    Ok(rotated)
}

/// Versions and stages, with every value masked: the demo shows that values changed, never them.
/// Four KMS keys (one without rotation, an exempt one, a signing key behind an alias, one pending
/// deletion while an alias still points at it), the daily scan with enforcement on, then a
/// manual rotation of the signing key's alias. Returns the keys changed and the alerts sent.
async fn kms_demo(environment: &TestEnvironment) -> Result<(usize, usize)> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
    println!("\n== KMS keys: creating four, then the daily scan with DRY_RUN=false");
    let kms = aws_sdk_kms::Client::new(&environment.sdk);
    let create = |spec: KeySpec, usage: KeyUsageType, tags: Vec<(&'static str, &'static str)>| {
        let kms = kms.clone();
        async move {
            let tags = tags
                .into_iter()
                .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            let output = kms
                .create_key()
                .key_spec(spec)
                .key_usage(usage)
                .set_tags(Some(tags))
                .send()
                .await?;
            let id = output
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .ok_or("CreateKey returned no key")?;
            Result::<String>::Ok(id)
        }
    };
    let symmetric = || {
        create(
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            vec![],
        )
    };
    let unrotated = symmetric().await?;
    println!("  created {unrotated}  symmetric, automatic rotation off");
    let exempt = create(
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
        vec![
            ("key-rotation", "exempt"),
            (
                "key-rotation-exempt-reason",
                "re-keyed by the vendor appliance",
            ),
        ],
    )
    .await?;
    println!("  created {exempt}  symmetric, tagged exempt with a reason");
    let signing = create(KeySpec::EccNistP256, KeyUsageType::SignVerify, vec![]).await?;
    kms.create_alias()
        .alias_name("alias/demo-signing")
        .target_key_id(&signing)
        .send()
        .await?;
    println!(
        "  created {signing}  ECC signing key behind alias/demo-signing (manual rotation only)"
    );
    let doomed = symmetric().await?;
    kms.create_alias()
        .alias_name("alias/demo-orders")
        .target_key_id(&doomed)
        .send()
        .await?;
    kms.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await?;
    println!(
        "  created {doomed}  behind alias/demo-orders, then scheduled it for deletion in 7 days"
    );

    let mut function = environment
        .start_with(KMS_KEY_ROTATION, &[("DRY_RUN", "false")])
        .await?;
    let invoke = |result: Invocation| match result {
        Invocation::Response(value) => Ok(value),
        Invocation::Error {
            error_type,
            error_message,
        } => Err(format!("{error_type}: {error_message}")),
    };
    let report = invoke(function.invoke(&e2e::scheduled_event()?).await?)?;
    println!(
        "  scan: {} keys, classes {}, findings {}, enforcement {}",
        report["keys"], report["classes"], report["findings"], report["enforcement"]
    );
    let enabled = kms
        .get_key_rotation_status()
        .key_id(&unrotated)
        .send()
        .await?
        .key_rotation_enabled();
    println!(
        "  automatic rotation of {unrotated} is now {}",
        if enabled { "on" } else { "off" }
    );

    println!("\n== KMS: rotating alias/demo-signing by hand (a new key, the alias moved)");
    let rotated = invoke(
        function
            .invoke(&json!({"rotate_alias": "alias/demo-signing"}))
            .await?,
    )?;
    println!(
        "  alias/demo-signing: {} -> {} (the old key stays enabled for verification)",
        rotated["previous_key_id"].as_str().unwrap_or("?"),
        rotated["new_key_id"].as_str().unwrap_or("?")
    );

    let alerts = print_alerts(environment, "the KMS function", "kms-key-scan-digest").await?;
    Ok((usize::from(enabled) + 1, alerts))
}

/// Prints the subject of every alert delivered so far, then the digest of kind `digest_kind` in
/// full; returns how many alerts there were.
/// The organization mode: the demo's account becomes a management account with two members; one
/// member has a certificate expiring in 7 days in eu-west-1, the other two users. The enumerator
/// queues the items, the workers run them (delivered as SQS events), the report publishes the
/// digest.
async fn organization_demo(environment: &TestEnvironment) -> Result<usize> {
    use e2e::organization::{
        create_organization, create_queue, deliver_all, member_config, MEMBER_ROLE,
    };
    println!("\n== Organization mode: three accounts, two regions");
    let hub = &environment.sdk;
    let members = create_organization(hub, &["payments", "analytics"]).await?;
    let (payments, analytics) = (&members[0], &members[1]);
    let eu = member_config(hub, payments, "eu-west-1").await?;
    import(
        &aws_sdk_acm::Client::new(&eu),
        &self_signed(&["pay.example.com"], Key::EcP256, now() + 7 * DAY + 3600)?,
    )
    .await?;
    let iam = aws_sdk_iam::Client::new(&member_config(hub, analytics, REGION).await?);
    for user in ["etl", "dashboards"] {
        iam.create_user().user_name(user).send().await?;
        iam.create_access_key().user_name(user).send().await?;
    }
    println!("  accounts: {} (management), {payments} (payments: a certificate expiring in 7 days in eu-west-1), {analytics} (analytics: two users)", e2e::moto::ACCOUNT);
    let sqs = aws_sdk_sqs::Client::new(hub);
    let (certificate_queue, certificate_arn) = create_queue(&sqs, "demo-acm-work", None).await?;
    let (key_queue, key_arn) = create_queue(&sqs, "demo-iam-work", None).await?;
    let (results_queue, _) = create_queue(&sqs, "demo-results", None).await?;
    let mut enumerator = environment
        .start_with(
            "organization-enumerator",
            &[
                ("ORG_QUEUE_ACM_CERTIFICATE_EXPIRY", &certificate_queue),
                ("ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR", &key_queue),
                ("ORG_RESULTS_QUEUE_URL", &results_queue),
                ("ORG_REGIONS", "us-east-1,eu-west-1"),
                ("ORG_SKIP_DISABLED_REGIONS", "false"),
            ],
        )
        .await?;
    let run = enumerator.respond(&e2e::scheduled_event()?).await?;
    println!("  enumerator: {run}");
    for (function, queue, arn) in [
        (CERTIFICATE_FUNCTION, &certificate_queue, &certificate_arn),
        (KEY_ROTATOR, &key_queue, &key_arn),
    ] {
        let mut worker = environment
            .start_with(
                function,
                &[
                    ("ORG_MEMBER_ROLE_NAME", MEMBER_ROLE),
                    ("ORG_WORK_QUEUE_URL", queue),
                    ("ORG_RESULTS_QUEUE_URL", &results_queue),
                ],
            )
            .await?;
        let (done, failed) = deliver_all(&sqs, queue, arn, &mut worker).await?;
        println!("  {function}: {done} item(s) done, {failed} failed");
    }
    let report = enumerator.respond(&json!({"phase": "report"})).await?;
    println!("  report phase: {report}");
    print_alerts(
        environment,
        "the organization run",
        "organization-run-digest",
    )
    .await
}

async fn print_alerts(
    environment: &TestEnvironment,
    sender: &str,
    digest_kind: &str,
) -> Result<usize> {
    let alerts = environment.inbox.drain().await?;
    println!("\n== Alerts {sender} sent: {}", alerts.len());
    for alert in &alerts {
        println!("  {}", alert.subject);
    }
    if let Some(digest) = alerts
        .iter()
        .find(|a| a.attributes.get("kind").map(String::as_str) == Some(digest_kind))
    {
        let document = digest.document()?;
        println!(
            "\n-- the digest --\n{}\n{}",
            document["title"].as_str().unwrap_or(""),
            document["summary"].as_str().unwrap_or("")
        );
    }
    Ok(alerts.len())
}

fn print_versions(when: &str, snapshot: &SecretSnapshot) {
    println!("  versions {when}:");
    for (version, (stages, value)) in snapshot {
        let shown = value
            .as_deref()
            .map_or_else(|| "(no value)".to_owned(), mask);
        println!("    {version:<45} {:<24} {shown}", stages.join(","));
    }
}

fn mask(value: &str) -> String {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(object)) => {
            let fields: Vec<String> = object
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("password", Value::String(s)) => {
                        format!("{k}=<{} chars masked>", s.chars().count())
                    }
                    _ => format!("{k}={v}"),
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => format!("<{} chars masked>", value.chars().count()),
    }
}
