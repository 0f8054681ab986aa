//! The organization mode end to end on moto: an organization of five active accounts (and one
//! suspended) in two regions; the enumerator run through the Lambda Runtime API queues the work
//! items; the certificate scan, the key sweep and the KMS scan, fed those messages as SQS
//! events, run in each member account and alert to the hub's topic with the account and region
//! as attributes. One account's member role refuses the certificate worker: each of its items is
//! retried with backoff, alerts once with its cause and lands in the dead-letter queue, and no
//! other account is affected. The enumerator's report phase then publishes the run's digest,
//! checked word for word.

use e2e::certificates::{self, Key};
use e2e::faults::{through_proxy, Fault, Faults, HttpFaultProxy, Trigger};
use e2e::inbox::ReceivedAlert;
use e2e::moto::{self, Moto};
use e2e::organization::{self, delete_done, receive_records, sqs_event, MEMBER_ROLE};
use e2e::{scheduled_event, Result, TestEnvironment};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const HUB_REGION: &str = "us-east-1";
const OTHER_REGION: &str = "eu-west-1";
const DAY: i64 = 86_400;

fn attribute<'a>(alert: &'a ReceivedAlert, name: &str) -> &'a str {
    alert
        .attributes
        .get(name)
        .map(String::as_str)
        .unwrap_or_default()
}

#[tokio::test]
async fn an_organization_run_covers_every_active_account_and_region_and_isolates_a_failing_one(
) -> Result<()> {
    let moto = Moto::start()?;
    let env = TestEnvironment::new(&moto, HUB_REGION, &[]).await?;
    let hub = &env.sdk;
    let sqs = aws_sdk_sqs::Client::new(hub);

    // Five active accounts: the management account (the hub) and four members; one more closed.
    let members =
        organization::create_organization(hub, &["alpha", "beta", "gamma", "delta", "closed"])
            .await?;
    let [alpha, beta, gamma, delta, closed] =
        <[String; 5]>::try_from(members).map_err(|_| "five accounts")?;
    organization::close_account(hub, &closed).await?;

    // Certificates (imported: they do not renew themselves): alpha's expires in 14 days (a
    // threshold day, us-east-1), beta's in 3 (eu-west-1), gamma's in 200; the closed account has
    // one expiring tomorrow that nobody must hear about.
    let now = certificates::now();
    for (account, region, name, days) in [
        (&alpha, HUB_REGION, "alpha.example.com", 14),
        (&beta, OTHER_REGION, "beta.example.com", 3),
        (&gamma, HUB_REGION, "gamma.example.com", 200),
        (&closed, HUB_REGION, "closed.example.com", 1),
        // delta's role will refuse the worker in us-east-1: its certificate goes unscanned there.
        (&delta, HUB_REGION, "delta.example.com", 5),
    ] {
        let member = organization::member_config(hub, account, region).await?;
        let certificate =
            certificates::self_signed(&[name], Key::EcP256, now + days * DAY + 3_600)?;
        certificates::import(&aws_sdk_acm::Client::new(&member), &certificate).await?;
    }
    // Users: two in gamma, one in the hub; each key sweep reports its account's users.
    for (account, user) in [
        (&gamma, "gamma-ci"),
        (&gamma, "gamma-deploy"),
        (&moto::ACCOUNT.to_owned(), "hub-ci"),
    ] {
        let iam =
            aws_sdk_iam::Client::new(&organization::member_config(hub, account, HUB_REGION).await?);
        iam.create_user().user_name(user).send().await?;
        iam.create_access_key().user_name(user).send().await?;
    }

    // The queues the template makes: one work queue per job with its dead-letter queue after
    // three receives, and the results queue.
    let (certificate_dlq_url, certificate_dlq_arn) =
        organization::create_queue(&sqs, &moto::unique_name("acm-dlq"), None).await?;
    let (certificate_url, certificate_arn) = organization::create_queue(
        &sqs,
        &moto::unique_name("acm-work"),
        Some((&certificate_dlq_arn, 3)),
    )
    .await?;
    let (key_url, key_arn) =
        organization::create_queue(&sqs, &moto::unique_name("iam-work"), None).await?;
    let (kms_url, kms_arn) =
        organization::create_queue(&sqs, &moto::unique_name("kms-work"), None).await?;
    let (results_url, _) =
        organization::create_queue(&sqs, &moto::unique_name("results"), None).await?;
    // One KMS key, in beta's eu-west-1, without automatic rotation.
    let beta_eu = organization::member_config(hub, &beta, OTHER_REGION).await?;
    aws_sdk_kms::Client::new(&beta_eu)
        .create_key()
        .send()
        .await?;

    // The run: accounts times regions, the key sweep once per account.
    let mut enumerator = env
        .start_with(
            "organization-enumerator",
            &[
                ("ORG_QUEUE_ACM_CERTIFICATE_EXPIRY", &certificate_url),
                ("ORG_QUEUE_IAM_ACCESS_KEY_ROTATOR", &key_url),
                ("ORG_QUEUE_KMS_KEY_ROTATION", &kms_url),
                ("ORG_REGIONS", "us-east-1,eu-west-1"),
                // moto has no Account Management API (ListRegions).
                ("ORG_SKIP_DISABLED_REGIONS", "false"),
                ("ORG_RESULTS_QUEUE_URL", &results_url),
            ],
        )
        .await?;
    let report = enumerator.respond(&scheduled_event()?).await?;
    assert_eq!(report["accounts"], 5, "{report}");
    assert_eq!(report["inactive_accounts"], 1, "{report}");
    assert_eq!(report["queued"]["acm-certificate-expiry"], 10, "{report}");
    assert_eq!(report["queued"]["iam-access-key-rotator"], 5, "{report}");
    assert_eq!(report["queued"]["kms-key-rotation"], 10, "{report}");
    let run = report["run"].as_str().ok_or("no run id")?.to_owned();

    let worker_settings = |queue: &str| {
        vec![
            ("ORG_MEMBER_ROLE_NAME".to_owned(), MEMBER_ROLE.to_owned()),
            ("ORG_WORK_QUEUE_URL".to_owned(), queue.to_owned()),
            ("ORG_RESULTS_QUEUE_URL".to_owned(), results_url.clone()),
            ("ORG_MAX_ATTEMPTS".to_owned(), "3".to_owned()),
            ("ORG_RETRY_BASE".to_owned(), "1s".to_owned()),
        ]
    };
    // The certificate worker reaches moto through a proxy that refuses delta's role assumption.
    let faults = Faults::default();
    let proxy = HttpFaultProxy::start(&moto.endpoint(), faults.clone()).await?;
    let mut certificate_env = through_proxy(&env.env, &proxy.endpoint);
    certificate_env.extend(worker_settings(&certificate_url));
    // Findings go to each member account's own Security Hub (checked below).
    certificate_env.push(("SECURITY_HUB_FINDINGS".into(), "true".into()));
    let mut certificate_worker = e2e::runtime::FunctionProcess::start(
        &e2e::binaries::function_binary("acm-certificate-expiry")?,
        &certificate_env,
    )
    .await?;

    let records = receive_records(&sqs, &certificate_url, &certificate_arn).await?;
    assert_eq!(records.len(), 10);
    let item = |record: &Value| -> Result<Value> {
        Ok(serde_json::from_str(
            record["body"].as_str().unwrap_or_default(),
        )?)
    };
    let mut refused = Vec::new();
    let mut done = 0;
    for record in &records {
        let body = item(record)?;
        assert_eq!(body["run"], run.as_str());
        let is_refused = body["account"] == delta.as_str();
        if is_refused {
            refused.push(record.clone());
            continue;
        }
        let answer = certificate_worker
            .respond(&sqs_event(std::slice::from_ref(record)))
            .await?;
        assert!(
            delete_done(
                &sqs,
                &certificate_url,
                std::slice::from_ref(record),
                &answer
            )
            .await?
            .is_empty(),
            "{body}: {answer}"
        );
        done += 1;
    }
    assert_eq!((done, refused.len()), (8, 2));

    // delta's items: refused at every attempt; backed off between attempts (the worker makes the
    // message visible again after its delay); the third alerts; the fourth receive moves it to
    // the dead-letter queue.
    for mut record in refused {
        let refused_id = record["messageId"].clone();
        for attempt in 1..=3 {
            assert_eq!(
                record["attributes"]["ApproximateReceiveCount"],
                attempt.to_string()
            );
            // Arming numbers the calls afresh: the attempt's first AssumeRole is refused.
            faults.arm(
                Some((Trigger::Named("AssumeRole".into(), 0), Fault::Deny)),
                None,
            );
            let answer = certificate_worker
                .respond(&sqs_event(std::slice::from_ref(&record)))
                .await?;
            assert!(
                faults.fired().is_some(),
                "attempt {attempt} did not assume the role: {answer}"
            );
            let failed = delete_done(
                &sqs,
                &certificate_url,
                std::slice::from_ref(&record),
                &answer,
            )
            .await?;
            assert_eq!(failed.len(), 1, "attempt {attempt}: {answer}");
            if attempt < 3 {
                // Invisible for the backoff (1 s, then 2 s, plus up to a quarter), then back.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                record = loop {
                    let again = receive_records(&sqs, &certificate_url, &certificate_arn).await?;
                    if let Some(next) = again.into_iter().find(|r| r["messageId"] == refused_id) {
                        break next;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the item never came back"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                };
            }
        }
    }
    faults.disarm();
    // Past their three receives, SQS moves it to the dead-letter queue on the next receive.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(receive_records(&sqs, &certificate_url, &certificate_arn)
        .await?
        .is_empty());
    let dead = receive_records(&sqs, &certificate_dlq_url, &certificate_dlq_arn).await?;
    assert_eq!(
        dead.len(),
        2,
        "the refused items are in the dead-letter queue"
    );
    for record in &dead {
        assert_eq!(item(record)?["account"], delta.as_str());
    }

    // Each certificate at risk has its finding in its own account and region; none elsewhere.
    for (account, region, expected) in [
        (&alpha, HUB_REGION, 1),
        (&beta, OTHER_REGION, 1),
        (&beta, HUB_REGION, 0),
        (&gamma, HUB_REGION, 0),
    ] {
        let accounts = organization::finding_accounts(
            &moto,
            hub,
            account,
            region,
            "credential-rotation/certificate-expiry",
        )
        .await?;
        assert_eq!(
            accounts,
            vec![account.clone(); expected],
            "{account} {region}"
        );
    }

    // The key sweep in each account (DRY_RUN by default: nothing changes).
    let mut key_env = env.env.clone();
    key_env.extend(worker_settings(&key_url));
    let mut key_worker = e2e::runtime::FunctionProcess::start(
        &e2e::binaries::function_binary("iam-access-key-rotator")?,
        &key_env,
    )
    .await?;
    let key_records = receive_records(&sqs, &key_url, &key_arn).await?;
    assert_eq!(key_records.len(), 5);
    let swept: BTreeSet<String> = key_records
        .iter()
        .map(|r| item(r).map(|b| b["account"].as_str().unwrap_or_default().to_owned()))
        .collect::<Result<_>>()?;
    assert!(!swept.contains(&closed));
    for record in &key_records {
        let answer = key_worker
            .respond(&sqs_event(std::slice::from_ref(record)))
            .await?;
        assert!(
            delete_done(&sqs, &key_url, std::slice::from_ref(record), &answer)
                .await?
                .is_empty(),
            "{answer}"
        );
    }

    // The KMS scan in each account and region (DRY_RUN by default).
    let mut kms_env = env.env.clone();
    kms_env.extend(worker_settings(&kms_url));
    let mut kms_worker = e2e::runtime::FunctionProcess::start(
        &e2e::binaries::function_binary("kms-key-rotation")?,
        &kms_env,
    )
    .await?;
    assert_eq!(
        organization::deliver_all(&sqs, &kms_url, &kms_arn, &mut kms_worker).await?,
        (10, 0)
    );

    // What people and machines got, per account and region.
    let alerts = env.inbox.drain().await?;
    let mut certificate_alerts: Vec<(&str, &str)> = alerts
        .iter()
        .filter(|a| attribute(a, "kind") == "certificate-expiring")
        .map(|a| (attribute(a, "account"), attribute(a, "region")))
        .collect();
    certificate_alerts.sort();
    let mut expected = vec![(alpha.as_str(), HUB_REGION), (beta.as_str(), OTHER_REGION)];
    expected.sort();
    assert_eq!(certificate_alerts, expected);
    let alpha_alert = alerts
        .iter()
        .find(|a| {
            attribute(a, "kind") == "certificate-expiring" && attribute(a, "account") == alpha
        })
        .ok_or("no alert for alpha")?;
    assert!(
        alpha_alert.subject.contains(&format!(
            "[{alpha} {HUB_REGION}] Certificate alpha.example.com"
        )),
        "{}",
        alpha_alert.subject
    );
    assert!(
        alerts.iter().all(|a| attribute(a, "account") != closed),
        "the suspended account was scanned"
    );
    assert!(
        alerts
            .iter()
            .all(|a| !a.message.contains("delta.example.com")),
        "delta was scanned"
    );

    let failures: Vec<&ReceivedAlert> = alerts
        .iter()
        .filter(|a| attribute(a, "kind") == "organization-account-failed")
        .collect();
    let failed_regions: BTreeSet<&str> = failures.iter().map(|a| attribute(a, "region")).collect();
    assert_eq!(
        failed_regions,
        [HUB_REGION, OTHER_REGION].into_iter().collect(),
        "one alert per refused item, on its last attempt"
    );
    for failure in &failures {
        assert_eq!(attribute(failure, "account"), delta);
        assert_eq!(attribute(failure, "cause"), "role-not-assumable");
        assert!(
            failure.message.contains(MEMBER_ROLE),
            "the remedy names the role"
        );
    }

    let sweeps: BTreeSet<&str> = alerts
        .iter()
        .filter(|a| attribute(a, "kind") == "access-key-sweep-summary")
        .map(|a| attribute(a, "account"))
        .collect();
    assert_eq!(
        sweeps.len(),
        5,
        "one sweep summary per active account: {sweeps:?}"
    );

    // The report phase: every item reported (13 done, 2 failed), so the digest goes out, exact.
    let phase = enumerator
        .respond(&serde_json::json!({"phase": "report"}))
        .await?;
    assert_eq!(phase["reported"], serde_json::json!([run]), "{phase}");
    let digests = env.inbox.drain().await?;
    assert_eq!(digests.len(), 1);
    let digest = &digests[0];
    assert_eq!(attribute(digest, "kind"), "organization-run-digest");
    assert_eq!(attribute(digest, "severity"), "error");
    let hub_account = moto::ACCOUNT.to_owned();
    let nothing = "nothing found";
    let failed = "FAILED (role-not-assumable) after 3 attempt(s)";
    // Per account: the certificate scan in eu-west-1 and us-east-1, the key sweep, the KMS scan
    // in eu-west-1 and us-east-1 (zero counts are not listed).
    let beta_keys = "automatic 1, kms-rotation-disabled 1";
    let mut expected: Vec<(&String, [&str; 5])> = vec![
        (&alpha, [nothing, "expiring 1", nothing, nothing, nothing]),
        (&beta, ["expiring 1", nothing, nothing, beta_keys, nothing]),
        (
            &gamma,
            [nothing, "will-not-renew 1", "unchanged 2", nothing, nothing],
        ),
        (&delta, [failed, failed, nothing, nothing, nothing]),
        (
            &hub_account,
            [nothing, nothing, "unchanged 1", nothing, nothing],
        ),
    ];
    expected.sort();
    let mut summary = format!(
        "Run {run} covered 5 active account(s) (1 inactive left out): 23 of 25 item(s) done, 2 failed, 0 without a result."
    );
    for (account, [acm_eu, acm_us, sweep, kms_eu, kms_us]) in expected {
        summary.push_str(&format!(
            "\n- {account}\n  acm-certificate-expiry in eu-west-1: {acm_eu}\n  acm-certificate-expiry in us-east-1: {acm_us}\n  iam-access-key-rotator in us-east-1: {sweep}\n  kms-key-rotation in eu-west-1: {kms_eu}\n  kms-key-rotation in us-east-1: {kms_us}"
        ));
    }
    assert_eq!(digest.document()?["summary"], summary.as_str());
    assert!(
        digest
            .subject
            .contains("Organization run: 5 account(s), 2 item(s) failed, 0 without a result"),
        "{}",
        digest.subject
    );
    // The run's results are gone from the queue: the next report has nothing to say.
    let again = enumerator
        .respond(&serde_json::json!({"phase": "report"}))
        .await?;
    assert_eq!(again["reported"], serde_json::json!([]), "{again}");
    Ok(())
}
