use super::*;
use serde_json::json;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const CERT_ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/app-AbCdEf";

/// What every reader must refuse: other services, other resource types, other partitions, and
/// values of any size.
fn hostile() -> Vec<String> {
    vec![
        "arn:aws:s3:::bucket".into(),
        "arn:aws:iam::111122223333:user/alice".into(),
        "arn:aws:kms:eu-west-1:111122223333:alias/app".into(),
        "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        format!(
            "arn:aws:kms:eu-west-1:111122223333:key/{}",
            "a".repeat(1_000_000)
        ),
        format!(
            "arn:aws:acm:us-east-1:123456789012:certificate/{}",
            "a".repeat(1_000_000)
        ),
        "x".repeat(1_000_000),
        String::new(),
        "arn:aws:kms:eu-west-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        "arn:aws:kms:EU-WEST-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n".into(),
    ]
}

#[test]
fn echoes_are_bounded_and_say_the_length() {
    assert_eq!(echo("short"), "\"short\"");
    let long = echo(&"é".repeat(1_000_000));
    assert!(long.chars().count() < 100, "{long}");
    assert!(long.ends_with("(1000000 characters)"), "{long}");
    assert_eq!(echo(&"a".repeat(64)), format!("\"{}\"", "a".repeat(64)));
}

#[test]
fn values_that_are_not_strings_are_named_by_what_they_are() {
    let cases = [
        (json!(null), "is missing"),
        (json!(7), "is a number"),
        (json!(true), "is a boolean"),
        (json!(["a"]), "is an array"),
        (json!({"a": 1}), "is an object"),
    ];
    for (value, message) in cases {
        let error = text(Some(&value), "detail.keyId", "a KMS key").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("detail.keyId {message}")),
            "{error}"
        );
    }
    assert!(matches!(
        text(None, "resources[0]", "x"),
        Err(IdentifierError::Missing { .. })
    ));
    assert_eq!(text(Some(&json!("k")), "f", "x"), Ok("k"));
}

#[test]
fn account_ids_regions_and_user_names() {
    assert!(account_id("111122223333", "account").is_ok());
    for bad in [
        "11112222333",
        "1111222233334",
        "11112222333a",
        "",
        "１１１１２２２２３３３３",
    ] {
        assert!(account_id(bad, "account").is_err(), "{bad}");
    }
    for good in [
        "eu-west-1",
        "us-gov-west-1",
        "ap-southeast-4",
        "il-central-1",
        "us-isob-east-1",
    ] {
        assert!(region(good, "region").is_ok(), "{good}");
    }
    for bad in [
        "eu-west",
        "EU-WEST-1",
        "eu--west-1",
        "-eu-west-1",
        "eu-west-1-",
        "eu-west-x",
        "a-b-1",
        "eu_west_1",
        &"eu-west-1".repeat(5),
    ] {
        assert!(region(bad, "region").is_err(), "{bad}");
    }
    for good in ["alice", "bob.smith@corp", "svc+ci=1,a_b-c", &"a".repeat(64)] {
        assert!(user_name(good, "user").is_ok(), "{good}");
    }
    for bad in ["", "bad name!", "a/b", "ünï", &"a".repeat(65)] {
        assert!(user_name(bad, "user").is_err(), "{bad}");
    }
}

#[test]
fn certificate_arns_are_acms_in_this_partition_with_a_uuid() {
    assert_eq!(
        certificate_arn(CERT_ARN, "resources[0]", "aws"),
        Ok(CERT_ARN)
    );
    assert!(certificate_arn(CERT_ARN, "r", "aws-cn").is_err());
    assert!(certificate_arn(
        "arn:aws:acm:us-east-1:123456789012:certificate/short",
        "r",
        "aws"
    )
    .is_err());
    for bad in hostile() {
        let error = certificate_arn(&bad, "resources[0]", "aws").unwrap_err();
        assert!(error.to_string().len() < 250, "{error}");
        assert!(
            error.to_string().contains("an ACM certificate ARN"),
            "{error}"
        );
    }
}

#[test]
fn kms_keys_are_read_as_ids_arns_or_aliases() {
    assert_eq!(kms_key_arn(KEY_ARN, "resources[0]", "aws"), Ok(KEY_ARN));
    let mrk = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    assert_eq!(kms_key_arn(mrk, "r", "aws"), Ok(mrk));
    for bad in hostile() {
        assert!(
            kms_key_arn(&bad, "resources[0]", "aws").is_err(),
            "{}",
            echo(&bad)
        );
    }
    assert_eq!(
        kms_key_reference(KEY_ID, "keyId", "aws"),
        Ok(KmsKeyReference::KeyId(KEY_ID))
    );
    assert_eq!(
        kms_key_reference(KEY_ARN, "keyId", "aws"),
        Ok(KmsKeyReference::KeyArn(KEY_ARN))
    );
    assert_eq!(
        kms_key_reference("alias/app/db", "keyId", "aws"),
        Ok(KmsKeyReference::AliasName("alias/app/db"))
    );
    let alias_arn = "arn:aws:kms:eu-west-1:111122223333:alias/app";
    assert_eq!(
        kms_key_reference(alias_arn, "keyId", "aws"),
        Ok(KmsKeyReference::AliasArn(alias_arn))
    );
    for bad in hostile().into_iter().filter(|b| b != alias_arn).chain([
        "alias/".to_owned(),
        format!("alias/{}", "a".repeat(251)),
        "alias/bad name".to_owned(),
        "1234abcd-12ab-34cd-56ef-1234567890a".to_owned(),
    ]) {
        let error = kms_key_reference(&bad, "requestParameters.keyId", "aws").unwrap_err();
        assert!(error.to_string().len() < 250, "{error}");
    }
}

#[test]
fn secrets_are_read_as_arns_or_names() {
    assert_eq!(secret_id(SECRET_ARN, "SecretId", "aws"), Ok(SECRET_ARN));
    assert_eq!(secret_id("db/app", "SecretId", "aws"), Ok("db/app"));
    assert!(secret_id(&"n".repeat(512), "SecretId", "aws").is_ok());
    for bad in hostile()
        .into_iter()
        .chain(["n".repeat(513), "bad name".into()])
    {
        assert!(
            secret_id(&bad, "SecretId", "aws").is_err(),
            "{}",
            echo(&bad)
        );
    }
}

#[test]
fn arns_are_split_into_their_parts() {
    let arn = Arn::parse(KEY_ARN).unwrap();
    assert_eq!(
        (arn.partition, arn.service, arn.region, arn.account),
        ("aws", "kms", "eu-west-1", "111122223333")
    );
    assert_eq!(arn.resource, format!("key/{KEY_ID}"));
    assert_eq!(
        Arn::parse("arn:aws:s3:::bucket").unwrap().resource,
        "bucket"
    );
    for bad in [
        "arn:aws:kms",
        "arn:mars:kms:eu-west-1:111122223333:key/x",
        "ARN:aws:s3:::b",
    ] {
        assert!(Arn::parse(bad).is_none(), "{bad}");
    }
    assert!(Arn::parse(&format!("arn:aws:s3:::{}", "b".repeat(3000))).is_none());
}
