use super::*;
use crate::alert::Kind;

const DAY1: &str = "2026-12-01T06:00:00Z";
const DAY2: &str = "2026-12-02T06:00:00Z";

fn scope() -> Scope {
    Scope::new("111122223333", "eu-west-1", "certificate-expiry")
}

fn arn(name: &str) -> String {
    format!("arn:aws:acm:eu-west-1:111122223333:certificate/{name}")
}

fn problem(name: &str, severity: Severity) -> Problem {
    Problem {
        kind: Kind::CertificateExpiring,
        resource_type: ResourceType::AcmCertificate,
        resource_id: arn(name),
        title: format!("Certificate {name} expires soon"),
        description: format!("Certificate {name} is in use."),
        severity,
        remediation: Some(format!("Renew {name}.")),
    }
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

fn ids(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| arn(n)).collect()
}

/// Day one's findings, as Security Hub would return them on day two.
fn day_one(names: &[&str]) -> Vec<Finding> {
    let problems = names
        .iter()
        .map(|n| problem(n, Severity::Warning))
        .collect();
    plan(&scope(), problems, vec![], &none(), None, DAY1).imports
}

#[test]
fn a_new_problem_opens_a_failed_active_finding_in_asff_terms() {
    let planned = plan(
        &scope(),
        vec![problem("a", Severity::Critical)],
        vec![],
        &none(),
        None,
        DAY1,
    );
    assert_eq!(
        (planned.opened, planned.updated, planned.resolved),
        (1, 0, 0)
    );
    let finding = &planned.imports[0];
    assert_eq!(
        finding,
        &Finding {
            id: format!(
                "credential-rotation/certificate-expiry/eu-west-1/111122223333/certificate-expiring/{}",
                arn("a")
            ),
            product_arn: "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
                .into(),
            generator_id: "credential-rotation/certificate-expiry".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            created_at: DAY1.into(),
            updated_at: DAY1.into(),
            title: "Certificate a expires soon".into(),
            description: "Certificate a is in use.".into(),
            severity: "CRITICAL".into(),
            severity_original: "critical".into(),
            remediation: Some("Renew a.".into()),
            resource_type: ResourceType::AcmCertificate,
            resource_id: arn("a"),
            compliance: Compliance::Failed,
            record_state: RecordState::Active,
            workflow: Workflow::New,
        }
    );
}

#[test]
fn a_problem_seen_again_updates_the_same_finding_and_keeps_when_it_was_first_seen() {
    let planned = plan(
        &scope(),
        vec![problem("a", Severity::Critical)],
        day_one(&["a"]),
        &none(),
        None,
        DAY2,
    );
    assert_eq!(
        (planned.opened, planned.updated, planned.resolved),
        (0, 1, 0)
    );
    let finding = &planned.imports[0];
    assert_eq!(finding.id, day_one(&["a"])[0].id);
    assert_eq!(
        (finding.created_at.as_str(), finding.updated_at.as_str()),
        (DAY1, DAY2)
    );
    assert_eq!(
        finding.severity, "CRITICAL",
        "the severity follows today's problem"
    );
}

#[test]
fn a_problem_that_is_gone_is_archived_passed_and_resolved() {
    let planned = plan(&scope(), vec![], day_one(&["a"]), &none(), None, DAY2);
    assert_eq!(
        (planned.opened, planned.updated, planned.resolved),
        (0, 0, 1)
    );
    let finding = &planned.imports[0];
    assert_eq!(finding.id, day_one(&["a"])[0].id);
    assert_eq!(
        (finding.compliance, finding.record_state, finding.workflow),
        (
            Compliance::Passed,
            RecordState::Archived,
            Workflow::Resolved
        )
    );
    assert_eq!(
        (finding.created_at.as_str(), finding.updated_at.as_str()),
        (DAY1, DAY2)
    );
    assert_eq!(finding.severity, "INFORMATIONAL");
    assert!(
        finding
            .description
            .starts_with("Resolved: no longer found on 2026-12-02. Certificate a is in use."),
        "{}",
        finding.description
    );
}

#[test]
fn a_resource_the_scan_could_not_read_keeps_its_finding_untouched() {
    let planned = plan(
        &scope(),
        vec![],
        day_one(&["a", "b"]),
        &ids(&["a"]),
        None,
        DAY2,
    );
    assert_eq!((planned.resolved, planned.kept_unread), (1, 1));
    assert_eq!(planned.imports.len(), 1);
    assert_eq!(planned.imports[0].resource_id, arn("b"));
}

#[test]
fn a_scan_of_some_resources_leaves_the_others_findings_alone() {
    let planned = plan(
        &scope(),
        vec![],
        day_one(&["a", "b"]),
        &none(),
        Some(&ids(&["b"])),
        DAY2,
    );
    assert_eq!(planned.resolved, 1);
    assert_eq!(planned.imports.len(), 1);
    assert_eq!(planned.imports[0].resource_id, arn("b"));
}

#[test]
fn findings_of_other_checks_accounts_regions_or_already_archived_are_never_touched() {
    let mut others = day_one(&["a", "b", "c", "d"]);
    others[0].generator_id = "credential-rotation/access-key-age".into();
    others[1].account = "444455556666".into();
    others[2].region = "us-east-1".into();
    others[3].record_state = RecordState::Archived;
    let planned = plan(&scope(), vec![], others, &none(), None, DAY2);
    assert_eq!(planned, Plan::default());
}

#[test]
fn one_problem_reported_twice_makes_one_finding_and_two_problems_two() {
    let planned = plan(
        &scope(),
        vec![
            problem("a", Severity::Warning),
            problem("a", Severity::Error),
        ],
        vec![],
        &none(),
        None,
        DAY1,
    );
    assert_eq!(planned.imports.len(), 1);
    assert_eq!(planned.imports[0].severity, "HIGH");
    let mut expired = problem("a", Severity::Critical);
    expired.kind = Kind::CertificateExpired;
    let planned = plan(
        &scope(),
        vec![expired],
        day_one(&["a"]),
        &none(),
        None,
        DAY2,
    );
    // The certificate expired: the expiring finding is resolved, an expired one opened.
    assert_eq!((planned.opened, planned.resolved), (1, 1));
}

#[test]
fn severities_map_to_asff_labels() {
    assert_eq!(severity_label(Severity::Info), "INFORMATIONAL");
    assert_eq!(severity_label(Severity::Warning), "MEDIUM");
    assert_eq!(severity_label(Severity::Error), "HIGH");
    assert_eq!(severity_label(Severity::Critical), "CRITICAL");
}

#[test]
fn ids_stay_within_asff_limits_and_stable() {
    let long = "x".repeat(600);
    let id = scope().finding_id("certificate-expiring", &long);
    assert!(id.chars().count() <= MAX_ID_CHARS, "{id}");
    assert_eq!(id, scope().finding_id("certificate-expiring", &long));
    assert_ne!(
        id,
        scope().finding_id("certificate-expiring", &"y".repeat(600))
    );
    assert!(id.starts_with(
        "credential-rotation/certificate-expiry/eu-west-1/111122223333/certificate-expiring/fnv1a-"
    ));
}

#[test]
fn long_texts_are_cut_to_asff_limits() {
    let mut long = problem("a", Severity::Warning);
    long.title = "t".repeat(300);
    long.description = "d".repeat(2000);
    long.remediation = Some("r".repeat(600));
    let finding = &plan(&scope(), vec![long], vec![], &none(), None, DAY1).imports[0];
    assert_eq!(finding.title.chars().count(), MAX_TITLE_CHARS);
    assert_eq!(finding.description.chars().count(), MAX_DESCRIPTION_CHARS);
    assert_eq!(
        finding.remediation.as_ref().map(|r| r.chars().count()),
        Some(MAX_REMEDIATION_CHARS)
    );
    let resolved = &plan(&scope(), vec![], vec![finding.clone()], &none(), None, DAY2).imports[0];
    assert_eq!(resolved.description.chars().count(), MAX_DESCRIPTION_CHARS);
}

#[test]
fn resource_types_are_asff_names() {
    for (kind, name) in [
        (
            ResourceType::AcmCertificate,
            "AwsCertificateManagerCertificate",
        ),
        (ResourceType::IamAccessKey, "AwsIamAccessKey"),
        (ResourceType::KmsKey, "AwsKmsKey"),
        (
            ResourceType::SecretsManagerSecret,
            "AwsSecretsManagerSecret",
        ),
    ] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(ResourceType::parse(name), Some(kind));
    }
    assert_eq!(ResourceType::parse("AwsS3Bucket"), None);
}

#[test]
fn the_product_arn_follows_the_partition() {
    let scope = Scope::new("111122223333", "cn-north-1", "kms-cryptoperiod");
    assert_eq!(
        scope.product_arn(),
        "arn:aws-cn:securityhub:cn-north-1:111122223333:product/111122223333/default"
    );
}
