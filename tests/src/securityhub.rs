//! Checks a finding's JSON document against the AWS Security Finding Format: the attributes
//! `BatchImportFindings` requires, their types and limits, and the enumerations of the optional
//! ones the functions set. moto stores findings without checking them, so the tests do.

use crate::moto::Moto;
use serde_json::{json, Value};

const SEVERITY_LABELS: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
const COMPLIANCE_STATUSES: [&str; 4] = ["PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"];
const RECORD_STATES: [&str; 2] = ["ACTIVE", "ARCHIVED"];
const WORKFLOW_STATUSES: [&str; 4] = ["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"];
const TYPE_NAMESPACES: [&str; 5] = [
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
];

/// The findings stored in `region` about `resource`, each checked against ASFF.
pub fn findings_about(moto: &Moto, region: &str, resource: &str) -> Vec<Value> {
    let findings: Vec<Value> = moto
        .security_hub_findings(region)
        .expect("Security Hub findings from moto")
        .into_iter()
        .filter(|f| f["Resources"][0]["Id"] == resource)
        .collect();
    for finding in &findings {
        let violations = asff_violations(finding);
        assert!(violations.is_empty(), "{violations:?}\n{finding:#}");
    }
    findings
}

/// Asserts `finding` is a problem that is gone: passed, archived and resolved.
pub fn assert_resolved(finding: &Value) {
    assert_eq!(
        (
            &finding["Compliance"]["Status"],
            &finding["RecordState"],
            &finding["Workflow"]["Status"]
        ),
        (&json!("PASSED"), &json!("ARCHIVED"), &json!("RESOLVED")),
        "{finding:#}"
    );
}

/// A report's `security_hub` counts as the functions write them.
pub fn counts(opened: usize, updated: usize, resolved: usize) -> Value {
    json!({"opened": opened, "updated": updated, "resolved": resolved, "failed": 0})
}

/// Every way `finding` departs from ASFF (empty: a valid finding).
pub fn asff_violations(finding: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut string = |field: &str, max: usize| -> Option<String> {
        match finding.get(field).and_then(Value::as_str) {
            Some(text) if !text.is_empty() && text.chars().count() <= max => Some(text.to_owned()),
            Some(text) => {
                problems.push(format!(
                    "{field}: {} characters, 1 to {max} allowed",
                    text.chars().count()
                ));
                None
            }
            None => {
                problems.push(format!("{field}: required string missing"));
                None
            }
        }
    };
    let schema = string("SchemaVersion", 64);
    let _ = string("Id", 512);
    let product_arn = string("ProductArn", 2048);
    let _ = string("GeneratorId", 512);
    let account = string("AwsAccountId", 12);
    let created = string("CreatedAt", 64);
    let updated = string("UpdatedAt", 64);
    let _ = string("Title", 256);
    let _ = string("Description", 1024);
    if schema.as_deref().is_some_and(|s| s != "2018-10-08") {
        problems.push(format!("SchemaVersion: {schema:?}, want 2018-10-08"));
    }
    if product_arn
        .as_deref()
        .is_some_and(|a| !a.starts_with("arn:") || !a.contains(":securityhub:"))
    {
        problems.push(format!(
            "ProductArn: {product_arn:?} is not a Security Hub product ARN"
        ));
    }
    if account
        .as_deref()
        .is_some_and(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.push(format!("AwsAccountId: {account:?} is not 12 digits"));
    }
    for (field, value) in [("CreatedAt", created), ("UpdatedAt", updated)] {
        if let Some(value) = value {
            if time::OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
                problems.push(format!("{field}: {value} is not an ISO 8601 date-time"));
            }
        }
    }
    match finding.get("Types").and_then(Value::as_array) {
        Some(types) if !types.is_empty() && types.len() <= 50 => {
            for kind in types {
                let valid = kind.as_str().is_some_and(|k| {
                    let parts: Vec<&str> = k.split('/').collect();
                    (1..=3).contains(&parts.len()) && TYPE_NAMESPACES.contains(&parts[0])
                });
                if !valid {
                    problems.push(format!(
                        "Types: {kind} is not namespace/category/classifier"
                    ));
                }
            }
        }
        _ => problems.push("Types: required array of 1 to 50 missing".into()),
    }
    match finding.pointer("/Severity/Label").and_then(Value::as_str) {
        Some(label) if SEVERITY_LABELS.contains(&label) => {}
        other => problems.push(format!("Severity.Label: {other:?} is not a severity label")),
    }
    match finding.get("Resources").and_then(Value::as_array) {
        Some(resources) if !resources.is_empty() && resources.len() <= 32 => {
            for resource in resources {
                for field in ["Type", "Id"] {
                    if resource
                        .get(field)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        problems.push(format!("Resources[].{field}: required string missing"));
                    }
                }
            }
        }
        _ => problems.push("Resources: required array of 1 to 32 missing".into()),
    }
    for (pointer, allowed) in [
        ("/Compliance/Status", &COMPLIANCE_STATUSES[..]),
        ("/RecordState", &RECORD_STATES[..]),
        ("/Workflow/Status", &WORKFLOW_STATUSES[..]),
        (
            "/FindingProviderFields/Severity/Label",
            &SEVERITY_LABELS[..],
        ),
    ] {
        if let Some(value) = finding.pointer(pointer) {
            if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                problems.push(format!("{pointer}: {value} not one of {allowed:?}"));
            }
        }
    }
    if let Some(text) = finding.pointer("/Remediation/Recommendation/Text") {
        if text.as_str().is_none_or(|t| t.chars().count() > 512) {
            problems.push(format!(
                "Remediation.Recommendation.Text: {text} is not a string of at most 512"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "SchemaVersion": "2018-10-08",
            "Id": "credential-rotation/certificate-expiry/eu-west-1/111122223333/arn",
            "ProductArn": "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default",
            "GeneratorId": "credential-rotation/certificate-expiry",
            "AwsAccountId": "111122223333",
            "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
            "CreatedAt": "2026-12-02T06:00:00Z",
            "UpdatedAt": "2026-12-02T06:00:00Z",
            "Severity": {"Label": "HIGH"},
            "Title": "t",
            "Description": "d",
            "Resources": [{"Type": "AwsKmsKey", "Id": "arn:aws:kms:eu-west-1:111122223333:key/k"}],
            "RecordState": "ACTIVE"
        })
    }

    #[test]
    fn a_valid_finding_passes_and_each_defect_is_named() {
        assert_eq!(asff_violations(&valid()), Vec::<String>::new());
        for (pointer, bad) in [
            ("/SchemaVersion", json!("1")),
            ("/AwsAccountId", json!("12345")),
            ("/CreatedAt", json!("yesterday")),
            ("/Types", json!(["Checks"])),
            ("/Severity", json!({"Label": "SEVERE"})),
            ("/Resources", json!([])),
            ("/RecordState", json!("OPEN")),
            ("/Title", json!("x".repeat(257))),
        ] {
            let mut finding = valid();
            *finding.pointer_mut(pointer).unwrap() = bad;
            assert_eq!(asff_violations(&finding).len(), 1, "{pointer}");
        }
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("Description");
        assert_eq!(
            asff_violations(&missing),
            ["Description: required string missing"]
        );
    }
}
