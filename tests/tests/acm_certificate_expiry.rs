//! The ACM certificate expiry function, end to end: real certificates imported into moto's ACM,
//! the real binary run through the Lambda Runtime API, alerts read back from SNS.

use e2e::certificates::{import, now, self_signed, Key, DAY};
use e2e::inbox::{AlertInbox, ReceivedAlert};
use e2e::moto::Moto;
use e2e::runtime::{FunctionProcess, Invocation};
use e2e::securityhub::{assert_resolved, counts, findings_about};
use e2e::TestEnvironment;
use serde_json::{json, Value};

const FUNCTION: &str = "acm-certificate-expiry";

struct Setup {
    acm: aws_sdk_acm::Client,
    inbox: AlertInbox,
    function: FunctionProcess,
}

async fn setup(region: &str, extra_env: &[(&str, &str)]) -> Setup {
    let moto = Moto::shared().expect("moto");
    let environment = TestEnvironment::new(moto, region, extra_env)
        .await
        .expect("environment");
    let function = environment.start(FUNCTION).await.expect("start");
    Setup {
        acm: aws_sdk_acm::Client::new(&environment.sdk),
        inbox: environment.inbox,
        function,
    }
}

fn fixture(name: &str) -> Value {
    e2e::fixture(name).expect("fixture")
}

fn date(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .expect("date")
        .date()
        .to_string()
}

/// (subject, kind, trigger) of each alert, sorted.
fn summary(alerts: &[ReceivedAlert]) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a.subject.clone(),
                a.attributes["kind"].clone(),
                a.attributes.get("trigger").cloned().unwrap_or_default(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn strings(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = rows
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_daily_scan_alerts_on_threshold_days_and_on_expired_certificates() {
    let mut s = setup("eu-west-1", &[("ALERT_THRESHOLDS_DAYS", "40,10,2")]).await;
    let start = now();
    // An hour of slack keeps each certificate's whole days left exact while the test runs.
    let in_days = |days: i64| start + days * DAY + 3600;
    let certificates = [
        (vec!["two-days.example.com"], Key::Rsa2048, in_days(2)),
        (vec!["ten-days.example.com"], Key::EcP256, in_days(10)),
        (vec!["eleven-days.example.com"], Key::EcP256, in_days(11)),
        (
            vec![
                "forty-days.example.com",
                "www.forty-days.example.com",
                "api.forty-days.example.com",
            ],
            Key::Rsa2048,
            in_days(40),
        ),
        (vec!["hundred-days.example.com"], Key::Rsa2048, in_days(100)),
        (vec!["expired.example.com"], Key::EcP256, start + 4),
    ];
    for (names, key, not_after) in &certificates {
        import(&s.acm, &self_signed(names, *key, *not_after).unwrap())
            .await
            .unwrap();
    }
    // moto refuses to import an expired certificate: this one expires while we wait.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;

    let expected = strings(&[
        (
            &format!(
                "[CRITICAL] Certificate two-days.example.com expires in 2 days ({})",
                date(in_days(2))
            ),
            "certificate-expiring",
            "scan",
        ),
        (
            &format!(
                "[WARNING] Certificate ten-days.example.com expires in 10 days ({})",
                date(in_days(10))
            ),
            "certificate-expiring",
            "scan",
        ),
        (
            &format!(
                "[WARNING] Certificate forty-days.example.com expires in 40 days ({})",
                date(in_days(40))
            ),
            "certificate-expiring",
            "scan",
        ),
        (
            &format!(
                "[WARNING] Certificate expired.example.com expired on {}",
                date(start + 4)
            ),
            "certificate-expired",
            "scan",
        ),
        (
            "[CRITICAL] Certificate scan of eu-west-1: 5 certificate(s) need attention",
            "certificate-scan-digest",
            "scan",
        ),
    ]);
    // A second run on the same day sends exactly the same alerts: no state, no drift.
    for run in 0..2 {
        let result = s.function.invoke(&fixture("scheduled")).await.unwrap();
        let Invocation::Response(report) = result else {
            panic!("scan failed: {result:?}\n{}", s.function.output())
        };
        assert_eq!(report["certificates"], 6, "run {run}: {report}");
        assert_eq!(
            report["standings"],
            json!({"expired": 1, "expiring": 4, "will-not-renew": 1})
        );
        assert_eq!(report["alerts_sent"], 5);
        assert_eq!(
            report["acm_calls"], 7,
            "one list page and one DescribeCertificate per certificate"
        );

        let alerts = s.inbox.drain().await.unwrap();
        assert_eq!(summary(&alerts), expected, "run {run}");
        let forty = alerts
            .iter()
            .find(|a| a.subject.contains("forty-days"))
            .unwrap();
        assert_eq!(forty.attributes["severity"], "warning");
        assert_eq!(forty.attributes["renewal"], "action-required");
        assert_eq!(forty.attributes["days_left"], "40");
        let document = forty.document().unwrap();
        assert_eq!(document["runbook"], "docs/alerts.md#certificate-expiring");
        assert_eq!(
            document["details"]["other_names"],
            "www.forty-days.example.com, api.forty-days.example.com"
        );
        assert_eq!(document["details"]["type"], "IMPORTED");
        assert_eq!(document["details"]["key_algorithm"], "RSA_2048");
        assert!(document["action"]
            .as_str()
            .unwrap()
            .contains("re-import it into the same ARN"));
        let ec = alerts
            .iter()
            .find(|a| a.subject.contains("ten-days"))
            .unwrap();
        assert_eq!(
            ec.document().unwrap()["details"]["key_algorithm"],
            "EC_prime256v1"
        );
        let digest = alerts
            .iter()
            .find(|a| a.attributes["kind"] == "certificate-scan-digest")
            .unwrap();
        let digest_summary = digest.document().unwrap()["summary"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(digest_summary.lines().count(), 6, "{digest_summary}");
        assert!(digest_summary.contains("- eleven-days.example.com (warning): expires in 11 days"));
    }
    // Each scan wrote its metrics (Embedded Metric Format): certificates per standing, and the
    // fewest days left (the expired certificate's); none in use, so no in-use figure.
    let metrics = s.function.metric_documents();
    assert_eq!(
        metrics.len(),
        8,
        "two scans of three standings and a total each"
    );
    let last_scan = &metrics[4..];
    let per_standing: Vec<(&str, f64)> = last_scan
        .iter()
        .filter_map(|m| Some((m["standing"].as_str()?, m["Certificates"].as_f64()?)))
        .collect();
    assert_eq!(
        per_standing,
        [("expired", 1.0), ("expiring", 4.0), ("will-not-renew", 1.0)]
    );
    let totals = &last_scan[3];
    assert_eq!(
        totals["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "CredentialRotation"
    );
    assert_eq!(
        totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function"]])
    );
    assert_eq!(totals["function"], "acm-certificate-expiry");
    assert_eq!(totals["CertificatesScanned"], 6.0);
    assert_eq!(totals["FewestDaysLeft"], -1.0);
    assert!(totals.get("FewestDaysLeftInUse").is_none());
}

#[tokio::test]
async fn each_acm_and_health_event_becomes_one_alert() {
    let mut s = setup("us-east-1", &[]).await;
    let not_after = now() + 10 * DAY + 3600;
    let arn = import(
        &s.acm,
        &self_signed(&["shop.example.com"], Key::EcP256, not_after).unwrap(),
    )
    .await
    .unwrap();
    let deleted = import(
        &s.acm,
        &self_signed(&["shop.example.com"], Key::EcP256, not_after).unwrap(),
    )
    .await
    .unwrap();
    s.acm
        .delete_certificate()
        .certificate_arn(&deleted)
        .send()
        .await
        .unwrap();
    let approaching = |arn: &str| {
        let mut event = fixture("acm-approaching-expiration");
        event["resources"] = json!([arn]);
        event
    };
    let cases = [
        (approaching(&arn), format!("[WARNING] Certificate shop.example.com expires in 10 days ({})", date(not_after)), "certificate-expiring"),
        (approaching(&deleted), "[WARNING] Certificate shop.example.com expires in 10 days".to_owned(), "certificate-expiring"),
        (fixture("acm-expired"), "[CRITICAL] Certificate api.example.com has expired".to_owned(), "certificate-expired"),
        (
            fixture("acm-renewal-action-required"),
            "[WARNING] Certificate www.example.com needs action to renew (CAA_ERROR), expires in 14 days".to_owned(),
            "certificate-renewal-action-required",
        ),
        (fixture("acm-revoked"), "[CRITICAL] Certificate internal.example.com was revoked".to_owned(), "certificate-revoked"),
        (
            fixture("acm-available"),
            "[INFO] Certificate www.example.com renewed; valid until 2027-12-31T23:59:59Z".to_owned(),
            "certificate-available",
        ),
        (
            fixture("health-acm-renewal-failure"),
            "[ERROR] AWS Health: AWS_ACM_RENEWAL_FAILURE for 1 certificate(s)".to_owned(),
            "acm-health-event",
        ),
    ];
    for (event, subject, kind) in cases {
        let result = s.function.invoke(&event).await.unwrap();
        assert!(
            result.is_ok(),
            "{subject}: {result:?}\n{}",
            s.function.output()
        );
        let alerts = s.inbox.drain().await.unwrap();
        assert_eq!(summary(&alerts), strings(&[(&subject, kind, "event")]));
    }
    let found = s.inbox.drain().await.unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn bad_events_are_rejected_or_ignored_without_alerts() {
    let mut s = setup("us-east-1", &[]).await;
    let mut unknown = fixture("acm-expired");
    unknown["detail-type"] = json!("ACM Certificate Teleported");
    let result = s.function.invoke(&unknown).await.unwrap();
    assert_eq!(
        result,
        Invocation::Response(json!({"ignored": "ACM Certificate Teleported"}))
    );
    assert!(s
        .function
        .output()
        .contains("ignored an event this function does not handle"));

    let mut no_resources = fixture("acm-revoked");
    no_resources.as_object_mut().unwrap().remove("resources");
    let mut no_detail_type = fixture("acm-revoked");
    no_detail_type
        .as_object_mut()
        .unwrap()
        .remove("detail-type");
    let with_resource = |resource: Value| {
        let mut event = fixture("acm-expired");
        event["resources"] = json!([resource]);
        event.to_string()
    };
    let huge = format!(
        "arn:aws:acm:us-east-1:123456789012:certificate/{}",
        "z".repeat(1_000_000)
    );
    let mut string_detail = fixture("acm-expired");
    string_detail["detail"] = json!("expired");
    for (payload, message) in [
        (
            with_resource(json!("arn:aws:s3:::bucket")),
            "is not an ACM certificate ARN",
        ),
        (
            with_resource(json!("arn:aws:iam::123456789012:user/alice")),
            "is not an ACM certificate ARN",
        ),
        (
            with_resource(json!(
                "arn:aws:acm:us-east-1:123456789012:certificate/short"
            )),
            "is not an ACM certificate ARN",
        ),
        (with_resource(json!(huge)), " characters)"),
        (string_detail.to_string(), "detail is not a JSON object"),
        (no_resources.to_string(), "names no certificate ARN"),
        (no_detail_type.to_string(), "detail-type"),
        (
            json!(["not", "an", "event"]).to_string(),
            "not an EventBridge event",
        ),
    ] {
        let result = s.function.invoke_raw(payload).await.unwrap();
        assert_eq!(result.error_type(), Some("InvalidEvent"), "{result:?}");
        let error = result.error_message().unwrap();
        assert!(
            error.contains(message),
            "{}",
            shared::text::excerpt(error, 300)
        );
        assert!(error.len() < 1_000, "the input is echoed unbounded");
    }
    assert!(
        !s.function.output().contains(&"z".repeat(1_000)),
        "the input is echoed unbounded into the logs"
    );
    let result = s.function.invoke_raw("{not json").await.unwrap();
    assert!(!result.is_ok());
    assert!(s.inbox.drain().await.unwrap().is_empty());
}

/// Runs the daily scan; what its report says it did to Security Hub findings.
async fn scan(function: &mut FunctionProcess) -> Value {
    let result = function.invoke(&fixture("scheduled")).await.unwrap();
    let Invocation::Response(report) = result else {
        panic!("scan failed: {result:?}\n{}", function.output())
    };
    report["security_hub"].clone()
}

/// Security Hub, across three scans: a finding per certificate at risk (and none for a healthy
/// one), updated in place while the problem lasts, archived and resolved once it is gone,
/// and left alone after that. Every document is checked against ASFF as stored.
#[tokio::test]
async fn findings_open_update_and_archive_across_scans() {
    let region = "ap-southeast-2";
    let mut s = setup(region, &[("SECURITY_HUB_FINDINGS", "true")]).await;
    let moto = Moto::shared().unwrap();
    let start = now();
    let mut arns = Vec::new();
    for (name, not_after) in [
        ("soon.example.com", start + 2 * DAY + 3600),
        ("later.example.com", start + 10 * DAY + 3600),
        ("fine.example.com", start + 200 * DAY),
    ] {
        let certificate = self_signed(&[name], Key::EcP256, not_after).unwrap();
        arns.push(import(&s.acm, &certificate).await.unwrap());
    }
    let [soon, later, _] = &arns[..] else {
        unreachable!()
    };

    assert_eq!(scan(&mut s.function).await, counts(2, 0, 0));
    assert_eq!(
        moto.security_hub_findings(region).unwrap().len(),
        2,
        "no finding for the healthy certificate"
    );
    let soon_first = findings_about(moto, region, soon).remove(0);
    assert_eq!(
        soon_first["Resources"][0]["Type"],
        "AwsCertificateManagerCertificate"
    );
    assert_eq!(soon_first["Compliance"]["Status"], "FAILED");
    assert_eq!(soon_first["RecordState"], "ACTIVE");
    assert_eq!(soon_first["Workflow"]["Status"], "NEW");
    assert_eq!(
        soon_first["GeneratorId"],
        "credential-rotation/certificate-expiry"
    );
    assert_eq!(soon_first["AwsAccountId"], "123456789012");
    assert_eq!(soon_first["Severity"]["Label"], "CRITICAL");
    assert!(soon_first["Title"]
        .as_str()
        .unwrap()
        .starts_with("Certificate soon.example.com expires in 2 days"));
    assert!(soon_first["Remediation"]["Recommendation"]["Text"]
        .as_str()
        .unwrap()
        .contains("re-import it into the same ARN"));
    let later_first = findings_about(moto, region, later).remove(0);
    assert_eq!(later_first["Severity"]["Label"], "MEDIUM");

    // The urgent certificate is dealt with (deleted); the other is still at risk.
    s.acm
        .delete_certificate()
        .certificate_arn(soon)
        .send()
        .await
        .unwrap();
    // Timestamps have whole seconds: let the second scan's differ.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(scan(&mut s.function).await, counts(0, 1, 1));
    assert_eq!(
        moto.security_hub_findings(region).unwrap().len(),
        2,
        "updated in place"
    );
    for (first, arn, open) in [(&soon_first, soon, false), (&later_first, later, true)] {
        let now = findings_about(moto, region, arn).remove(0);
        assert_eq!(now["Id"], first["Id"]);
        assert_eq!(now["CreatedAt"], first["CreatedAt"]);
        assert_ne!(now["UpdatedAt"], first["UpdatedAt"]);
        if open {
            assert_eq!(now["RecordState"], "ACTIVE");
        } else {
            assert_resolved(&now);
        }
    }

    // An archived finding is not archived again.
    assert_eq!(scan(&mut s.function).await, counts(0, 1, 0));
    assert_eq!(moto.security_hub_findings(region).unwrap().len(), 2);
}
