//! The handler against SDK mocks, for what moto cannot show: AWS managed keys, rotation periods
//! and dates, imported material, keys pending deletion with grants, replicas, paginated
//! listings, and KMS's conflict and limit errors.

use super::*;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::enable_key_rotation::EnableKeyRotationOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
use aws_sdk_kms::operation::list_grants::ListGrantsOutput;
use aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput;
use aws_sdk_kms::operation::list_keys::ListKeysOutput;
use aws_sdk_kms::operation::rotate_key_on_demand::{
    RotateKeyOnDemandError, RotateKeyOnDemandOutput,
};
use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{
    AliasListEntry, GrantListEntry, KeyListEntry, KeyManagerType, KeyMaterialState,
    KeyMetadata as SdkKey, KeySpec, KeyState, MultiRegionConfiguration, MultiRegionKeyType,
    OriginType, RotationsListEntry,
};
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag as ResourceTag};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use shared::alert::Kind;
use shared::alert::SnsAlerts;
use shared::kms::aws::{AwsKeyService, Limits};
use std::sync::{Arc, Mutex};

const DAY: i64 = 86_400;
const FRESH: &str = "11111111-1111-4111-8111-111111111111";
const SPENT: &str = "22222222-2222-4222-8222-222222222222";
const ACCOUNT: &str = "111122223333";

fn now() -> i64 {
    shared::time::epoch_seconds(SystemTime::now())
}

fn arn(id: &str) -> String {
    format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/{id}")
}

fn sdk_key(id: &str, age_days: i64) -> aws_sdk_kms::types::builders::KeyMetadataBuilder {
    SdkKey::builder()
        .key_id(id)
        .arn(arn(id))
        .creation_date(DateTime::from_secs(now() - age_days * DAY))
        .key_manager(KeyManagerType::Customer)
        .key_state(KeyState::Enabled)
        .origin(OriginType::AwsKms)
        .key_spec(KeySpec::SymmetricDefault)
}

fn describe(id: &'static str, key: aws_sdk_kms::types::builders::KeyMetadataBuilder) -> Rule {
    let key = key.build().expect("key metadata");
    mock!(aws_sdk_kms::Client::describe_key)
        .match_requests(move |r| r.key_id() == Some(id))
        .then_output(move || {
            DescribeKeyOutput::builder()
                .key_metadata(key.clone())
                .build()
        })
}

fn status(id: &'static str, enabled: bool, period: Option<i32>) -> Rule {
    mock!(aws_sdk_kms::Client::get_key_rotation_status)
        .match_requests(move |r| r.key_id() == Some(id))
        .then_output(move || {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(enabled)
                .set_rotation_period_in_days(period)
                .build()
        })
}

fn rotations(id: &'static str, entries: Vec<RotationsListEntry>) -> Rule {
    mock!(aws_sdk_kms::Client::list_key_rotations)
        .match_requests(move |r| r.key_id() == Some(id))
        .then_output(move || {
            ListKeyRotationsOutput::builder()
                .set_rotations(Some(entries.clone()))
                .build()
        })
}

fn on_demand(days_ago: i64) -> RotationsListEntry {
    RotationsListEntry::builder()
        .rotation_date(DateTime::from_secs(now() - days_ago * DAY))
        .rotation_type(aws_sdk_kms::types::RotationType::OnDemand)
        .build()
}

/// What SNS was asked to publish: (subject, kind attribute).
type Published = Arc<Mutex<Vec<(String, String)>>>;

fn sns() -> (SnsAlerts, Published, Rule) {
    let published: Published = Arc::default();
    let sink = published.clone();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |r| {
            let kind = r
                .message_attributes()
                .and_then(|a| a.get("kind"))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned();
            sink.lock()
                .unwrap()
                .push((r.subject().unwrap_or_default().to_owned(), kind));
            true
        })
        .then_output(|| aws_sdk_sns::operation::publish::PublishOutput::builder().build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]);
    (
        SnsAlerts::new(client, "arn:aws:sns:eu-west-1:111122223333:alerts".into()),
        published,
        publish,
    )
}

fn settings(dry_run: bool) -> Settings {
    Settings {
        policy: Policy::from_env(&Env::default()).unwrap(),
        dry_run,
        concurrency: 4,
        max_enforcements: 100,
        region: "eu-west-1".into(),
    }
}

fn tagging(
    mappings: Vec<(&'static str, &'static str, &'static str)>,
) -> aws_sdk_resourcegroupstagging::Client {
    let page = mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_output(move || {
        GetResourcesOutput::builder()
            .set_resource_tag_mapping_list(Some(
                mappings
                    .iter()
                    .map(|(id, k, v)| {
                        ResourceTagMapping::builder()
                            .resource_arn(arn(id))
                            .tags(ResourceTag::builder().key(*k).value(*v).build().unwrap())
                            .build()
                    })
                    .collect(),
            ))
            .build()
    });
    mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&page])
}

fn function(
    kms_rules: &[&Rule],
    tags: Vec<(&'static str, &'static str, &'static str)>,
    dry_run: bool,
) -> (KeyRotation<AwsKeyService, SnsAlerts>, Published) {
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, kms_rules, |c| c
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled()));
    let (alerts, published, _) = sns();
    // A generous share: the tests measure decisions, not waiting.
    let limits = Limits::share_of_quota(50);
    let rates = limits.rates();
    (
        KeyRotation::new(
            AwsKeyService::new(kms, tagging(tags), limits),
            alerts,
            settings(dry_run),
            rates,
            None,
        ),
        published,
    )
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    let config = lambda_runtime::Config {
        function_name: "kms-key-rotation".into(),
        ..lambda_runtime::Config::default()
    };
    let mut context = lambda_runtime::Context::default();
    context.env_config = Arc::new(config);
    LambdaEvent::new(payload, context)
}

fn scheduled() -> Value {
    json!({"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-11-22T08:00:00Z", "region": "eu-west-1",
        "resources": [], "detail": {}})
}

/// An account of every class moto cannot produce, listed over two pages.
fn account_rules() -> Vec<Rule> {
    let keys = |ids: &[&str]| -> Vec<KeyListEntry> {
        ids.iter()
            .map(|id| KeyListEntry::builder().key_id(*id).build())
            .collect()
    };
    let page_one = keys(&["aws-managed", "rotation-off", "period-long", "overdue"]);
    let page_two = keys(&["imported", "deleting", "signing", "replica", "exempt"]);
    vec![
        mock!(aws_sdk_kms::Client::list_keys)
            .match_requests(|r| r.marker().is_none())
            .then_output(move || {
                ListKeysOutput::builder()
                    .set_keys(Some(page_one.clone()))
                    .truncated(true)
                    .next_marker("page-2")
                    .build()
            }),
        mock!(aws_sdk_kms::Client::list_keys)
            .match_requests(|r| r.marker() == Some("page-2"))
            .then_output(move || {
                ListKeysOutput::builder()
                    .set_keys(Some(page_two.clone()))
                    .build()
            }),
        mock!(aws_sdk_kms::Client::list_aliases).then_output(|| {
            let alias = |name: &str, target: Option<&str>| {
                AliasListEntry::builder()
                    .alias_name(name)
                    .set_target_key_id(target.map(str::to_owned))
                    .build()
            };
            ListAliasesOutput::builder()
                .aliases(alias("alias/aws/s3", Some("aws-managed")))
                .aliases(alias("alias/aws/ebs", None))
                .aliases(alias("alias/orders", Some("deleting")))
                .aliases(alias("alias/signing", Some("signing")))
                .build()
        }),
        describe(
            "aws-managed",
            sdk_key("aws-managed", 3000).key_manager(KeyManagerType::Aws),
        ),
        describe("rotation-off", sdk_key("rotation-off", 30)),
        status("rotation-off", false, None),
        describe("period-long", sdk_key("period-long", 30)),
        status("period-long", true, Some(730)),
        describe("overdue", sdk_key("overdue", 900)),
        status("overdue", true, Some(365)),
        rotations("overdue", vec![on_demand(400)]),
        describe(
            "imported",
            sdk_key("imported", 10)
                .origin(OriginType::External)
                .valid_to(DateTime::from_secs(now() + 7 * DAY + 3600)),
        ),
        rotations(
            "imported",
            vec![RotationsListEntry::builder()
                .key_material_state(KeyMaterialState::PendingRotation)
                .build()],
        ),
        describe(
            "deleting",
            sdk_key("deleting", 100)
                .key_state(KeyState::PendingDeletion)
                .deletion_date(DateTime::from_secs(now() + 6 * DAY + 3600)),
        ),
        mock!(aws_sdk_kms::Client::list_grants)
            .match_requests(|r| r.key_id() == Some("deleting"))
            .then_output(|| {
                ListGrantsOutput::builder()
                    .grants(GrantListEntry::builder().grant_id("g1").build())
                    .build()
            }),
        describe(
            "signing",
            sdk_key("signing", 500).key_spec(KeySpec::EccNistP256),
        ),
        describe(
            "replica",
            sdk_key("replica", 900).multi_region_configuration(
                MultiRegionConfiguration::builder()
                    .multi_region_key_type(MultiRegionKeyType::Replica)
                    .build(),
            ),
        ),
        describe("exempt", sdk_key("exempt", 30)),
        status("exempt", false, None),
    ]
}

fn exemption_tags() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("exempt", "key-rotation", "exempt"),
        (
            "exempt",
            "key-rotation-exempt-reason",
            "legacy HSM export, CHG-42",
        ),
    ]
}

fn enable_rule() -> Rule {
    mock!(aws_sdk_kms::Client::enable_key_rotation)
        .match_requests(|r| r.rotation_period_in_days() == Some(365))
        .then_output(|| EnableKeyRotationOutput::builder().build())
}

#[tokio::test]
async fn a_scan_classifies_decides_and_enforces_what_moto_cannot_show() {
    let mut rules = account_rules();
    let enable = enable_rule();
    rules.push(enable.clone());
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, published) = function(&refs, exemption_tags(), false);
    let report = function.handle(invoke(scheduled())).await.unwrap();
    assert_eq!(report["keys"], 9);
    assert_eq!(
        report["classes"],
        json!({"automatic": 4, "aws-managed": 1, "imported": 1, "manual": 1,
            "pending-deletion": 1, "replica": 1})
    );
    assert_eq!(
        report["findings"],
        json!({"kms-key-deletion-in-use": 1, "kms-material-awaiting-rotation": 1,
            "kms-material-expiring": 1, "kms-rotation-disabled": 1, "kms-rotation-overdue": 2,
            "kms-rotation-period-too-long": 1})
    );
    assert_eq!(
        (report["compliant"].clone(), report["exempt"].clone()),
        (json!(3), json!(1))
    );
    // Rotation was enabled on the two keys that lacked it or rotated too slowly, never on the
    // exempt key; with the period validated and sent.
    assert_eq!(report["enforcement"], json!({"rotation_enabled": 2}));
    assert_eq!(enable.num_calls(), 2);

    // Two list pages; beyond the listings at most three calls a key, fewer where the class
    // needs less: nine descriptions, four statuses, two histories, one grant listing.
    assert_eq!(report["calls"]["ListKeys"], 2);
    assert_eq!(report["calls"]["ListAliases"], 1);
    assert_eq!(report["calls"]["GetResources"], 1);
    assert_eq!(report["calls"]["DescribeKey"], 9);
    assert_eq!(report["calls"]["GetKeyRotationStatus"], 4);
    assert_eq!(report["calls"]["ListKeyRotations"], 2);
    assert_eq!(report["calls"]["ListGrants"], 1);
    assert_eq!(report["calls"]["EnableKeyRotation"], 2);

    let published = published.lock().unwrap().clone();
    let kinds: Vec<&str> = published.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            Kind::KmsKeyDeletionInUse,
            Kind::KmsMaterialExpiring,
            Kind::KmsKeyScanDigest
        ]
    );
    assert!(published[0]
        .0
        .starts_with("[CRITICAL] KMS key alias/orders is pending deletion but still in use"));
    assert!(published[1]
        .0
        .starts_with("[ERROR] KMS key imported: imported key material expires in 7 days"));
    assert_eq!(
        published[2].0,
        "[CRITICAL] KMS key scan of eu-west-1: 6 of 9 key(s) need attention"
    );
}

#[tokio::test]
async fn a_dry_run_scan_changes_nothing_and_says_what_it_would_do() {
    let mut rules = account_rules();
    let enable = enable_rule();
    rules.push(enable.clone());
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, _) = function(&refs, exemption_tags(), true);
    let report = function.handle(invoke(scheduled())).await.unwrap();
    assert_eq!(report["enforcement"], json!({"rotation_would_enable": 2}));
    assert_eq!(enable.num_calls(), 0);
    assert!(report["calls"].get("EnableKeyRotation").is_none());
}

#[tokio::test]
async fn without_tags_the_scan_fails_rather_than_enforce_on_exempt_keys() {
    let rules = account_rules();
    let refs: Vec<&Rule> = rules.iter().collect();
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &refs, |c| c
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled()));
    let failing = mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_error(|| {
        aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError::unhandled(
            "AccessDenied",
        )
    });
    let tagging = mock_client!(
        aws_sdk_resourcegroupstagging,
        RuleMode::MatchAny,
        [&failing],
        |c| c.retry_config(aws_sdk_resourcegroupstagging::config::retry::RetryConfig::disabled())
    );
    let (alerts, published, _) = sns();
    let function = KeyRotation::new(
        AwsKeyService::new(kms, tagging, Limits::share_of_quota(50)),
        alerts,
        settings(false),
        BTreeMap::new(),
        None,
    );
    let error = function.handle(invoke(scheduled())).await.unwrap_err();
    assert!(matches!(error, HandlerError::List(_)), "{error}");
    assert!(published.lock().unwrap().is_empty());
}

fn rotate_rule(id: &'static str) -> Rule {
    mock!(aws_sdk_kms::Client::rotate_key_on_demand)
        .match_requests(move |r| r.key_id() == Some(id))
        .then_output(move || RotateKeyOnDemandOutput::builder().key_id(id).build())
}

#[tokio::test]
async fn rotate_now_counts_the_lifetime_limit_before_calling_and_refuses_all_or_nothing() {
    let twenty_five: Vec<RotationsListEntry> = (0..25).map(|i| on_demand(30 + i)).collect();
    let rules = [
        describe(
            "11111111-1111-4111-8111-111111111111",
            sdk_key("11111111-1111-4111-8111-111111111111", 100),
        ),
        status("11111111-1111-4111-8111-111111111111", true, Some(365)),
        rotations("11111111-1111-4111-8111-111111111111", vec![on_demand(50)]),
        describe(
            "22222222-2222-4222-8222-222222222222",
            sdk_key("22222222-2222-4222-8222-222222222222", 900),
        ),
        status("22222222-2222-4222-8222-222222222222", true, Some(365)),
        rotations("22222222-2222-4222-8222-222222222222", twenty_five),
        rotate_rule("11111111-1111-4111-8111-111111111111"),
        rotate_rule("22222222-2222-4222-8222-222222222222"),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, _) = function(&refs, vec![], false);
    let error = function
        .handle(invoke(json!({"rotate_now": [FRESH, SPENT]})))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "nothing was done: key 22222222-2222-4222-8222-222222222222 cannot be rotated now: it has used 25 of KMS's lifetime limit of 25 on-demand rotations"
    );
    assert_eq!((rules[6].num_calls(), rules[7].num_calls()), (0, 0));
    let result = function
        .handle(invoke(
            json!({"rotate_now": ["11111111-1111-4111-8111-111111111111"]}),
        ))
        .await
        .unwrap();
    assert_eq!(
        result["rotated"],
        json!(["11111111-1111-4111-8111-111111111111"])
    );
    assert_eq!(rules[6].num_calls(), 1);
}

#[tokio::test]
async fn an_imminent_automatic_rotation_is_done_pending_not_a_failure() {
    let rules = [
        describe(
            "33333333-3333-4333-8333-333333333333",
            sdk_key("33333333-3333-4333-8333-333333333333", 100),
        ),
        status("33333333-3333-4333-8333-333333333333", true, Some(365)),
        rotations("33333333-3333-4333-8333-333333333333", vec![]),
        mock!(aws_sdk_kms::Client::rotate_key_on_demand).then_error(|| {
            RotateKeyOnDemandError::ConflictException(
                aws_sdk_kms::types::error::ConflictException::builder()
                    .message("automatic rotation within 20 minutes")
                    .build(),
            )
        }),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, _) = function(&refs, vec![], false);
    let result = function
        .handle(invoke(
            json!({"rotate_now": ["33333333-3333-4333-8333-333333333333"]}),
        ))
        .await
        .unwrap();
    assert_eq!(
        result["automatic_rotation_pending"],
        json!(["33333333-3333-4333-8333-333333333333"])
    );
    assert_eq!(result["rotated"], json!([]));
}

#[tokio::test]
async fn imported_keys_rotate_only_with_new_material_waiting() {
    let waiting = RotationsListEntry::builder()
        .key_material_state(KeyMaterialState::PendingRotation)
        .build();
    let rules = [
        describe(
            "44444444-4444-4444-8444-444444444444",
            sdk_key("44444444-4444-4444-8444-444444444444", 100).origin(OriginType::External),
        ),
        rotations("44444444-4444-4444-8444-444444444444", vec![waiting]),
        describe(
            "55555555-5555-4555-8555-555555555555",
            sdk_key("55555555-5555-4555-8555-555555555555", 100).origin(OriginType::External),
        ),
        rotations("55555555-5555-4555-8555-555555555555", vec![]),
        rotate_rule("44444444-4444-4444-8444-444444444444"),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, _) = function(&refs, vec![], false);
    let error = function
        .handle(invoke(
            json!({"rotate_now": ["55555555-5555-4555-8555-555555555555"]}),
        ))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("import it first with ImportType NEW_KEY_MATERIAL"),
        "{error}"
    );
    let result = function
        .handle(invoke(
            json!({"rotate_now": ["44444444-4444-4444-8444-444444444444"]}),
        ))
        .await
        .unwrap();
    assert_eq!(
        result["rotated"],
        json!(["44444444-4444-4444-8444-444444444444"])
    );
    assert_eq!(rules[4].num_calls(), 1);
}

#[test]
fn requests_are_validated_before_anything_is_called() {
    let parse = |v: Value| parse_request(&v, "aws");
    assert_eq!(
        parse(
            json!({"rotate_now": ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/orders",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/orders"]})
        )
        .unwrap(),
        Request::RotateNow(vec![
            "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            "alias/orders".into(),
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        ])
    );
    assert_eq!(
        parse(json!({"rotate_alias": "alias/signing/v1"})).unwrap(),
        Request::RotateAlias("alias/signing/v1".into())
    );
    let too_many: Vec<String> = (0..26).map(|i| format!("alias/k{i}")).collect();
    for (bad, message) in [
        (json!([]), "not a JSON object"),
        (json!({"rotate_now": []}), "1 to 25 keys, got 0"),
        (json!({"rotate_now": too_many}), "1 to 25 keys, got 26"),
        (json!({"rotate_now": "alias/x"}), "must be a list"),
        (json!({"rotate_now": [42]}), "rotate_now[0] is a number"),
        (
            json!({"rotate_now": ["not a key"]}),
            "is not a KMS key id, key ARN, alias name or alias ARN",
        ),
        (
            json!({"rotate_now": ["arn:aws:s3:::bucket"]}),
            "is not a KMS key id, key ARN, alias name or alias ARN",
        ),
        (
            json!({"rotate_alias": "orders"}),
            "rotate_alias is not an alias name",
        ),
        (
            json!({"rotate_alias": "alias/bad name"}),
            "rotate_alias is not an alias name such as alias/signing",
        ),
        (
            json!({"rotate_alias": ["alias/x"]}),
            "rotate_alias is an array",
        ),
        (
            json!({"rotate_alias": "alias/aws/s3"}),
            "AWS managed key's alias",
        ),
        (
            json!({"rotate_alias": "alias/x", "rotate_now": ["alias/x"]}),
            "cannot be asked at once",
        ),
    ] {
        let error = parse(bad.clone()).unwrap_err().to_string();
        assert!(error.contains(message), "{bad}: {error}");
    }
    assert!(matches!(
        parse(json!({"hello": 1})),
        Err(HandlerError::Event(_))
    ));
    // A huge value is quoted cut, never whole.
    let huge = "x".repeat(100_000);
    let error = parse(json!({"rotate_now": [huge]}))
        .unwrap_err()
        .to_string();
    assert!(error.len() < 400, "{}", error.len());
}

#[test]
fn settings_have_documented_defaults_and_limits() {
    let env = Env::from_pairs([("AWS_REGION", "eu-west-1")]);
    let settings = Settings::from_env(&env).unwrap();
    assert!(settings.dry_run);
    assert_eq!((settings.concurrency, settings.max_enforcements), (8, 100));
    assert_eq!(settings.policy.max_cryptoperiod_days, 365);
    let env = Env::from_pairs([("AWS_REGION", "eu-west-1"), ("DRY_RUN", "perhaps")]);
    assert!(matches!(
        Settings::from_env(&env),
        Err(ConfigError::Invalid {
            name: "DRY_RUN",
            ..
        })
    ));
}

#[tokio::test]
async fn an_unsupported_operation_leaves_the_key_unproven_never_compliant() {
    use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusError;
    let rules = [
        mock!(aws_sdk_kms::Client::list_keys).then_output(|| {
            ListKeysOutput::builder()
                .keys(KeyListEntry::builder().key_id("odd").build())
                .build()
        }),
        mock!(aws_sdk_kms::Client::list_aliases)
            .then_output(|| ListAliasesOutput::builder().build()),
        describe("odd", sdk_key("odd", 30)),
        mock!(aws_sdk_kms::Client::get_key_rotation_status).then_error(|| {
            GetKeyRotationStatusError::UnsupportedOperationException(
                aws_sdk_kms::types::error::UnsupportedOperationException::builder()
                    .message("not supported for this key")
                    .build(),
            )
        }),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let (function, published) = function(&refs, vec![], false);
    let report = function.handle(invoke(scheduled())).await.unwrap();
    assert_eq!(report["read_errors"], 1);
    assert_eq!(report["compliant"], 0);
    assert_eq!(report["enforcement"], json!({}));
    let published = published.lock().unwrap().clone();
    assert_eq!(
        published,
        [(
            "[WARNING] KMS key scan of eu-west-1: 1 of 1 key(s) need attention".to_owned(),
            "kms-key-scan-digest".to_owned()
        )]
    );
}
