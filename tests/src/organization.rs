//! An organization on moto (accounts kept apart per account id, AssumeRole into any of them),
//! its work queues, and the SQS events Lambda's event source mapping would deliver from them.

use crate::moto::Moto;
use crate::Result;
use aws_config::SdkConfig;
use serde_json::{json, Value};

/// The member role the tests' workers assume (moto does not evaluate trust policies).
pub const MEMBER_ROLE: &str = "credential-rotation-member";

/// Creates the organization (the caller's account is its management account) and one account
/// per name; answers their ids in order.
pub async fn create_organization(hub: &SdkConfig, names: &[&str]) -> Result<Vec<String>> {
    let organizations = aws_sdk_organizations::Client::new(hub);
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await?;
    let mut ids = Vec::new();
    for name in names {
        let status = organizations
            .create_account()
            .account_name(*name)
            .email(format!("{name}@example.com"))
            .send()
            .await?
            .create_account_status
            .ok_or("CreateAccount answered no status")?;
        ids.push(
            status
                .account_id
                .ok_or("CreateAccount answered no account id")?,
        );
    }
    Ok(ids)
}

/// Closes an account: Organizations lists it as suspended.
pub async fn close_account(hub: &SdkConfig, account: &str) -> Result<()> {
    aws_sdk_organizations::Client::new(hub)
        .close_account()
        .account_id(account)
        .send()
        .await?;
    Ok(())
}

/// The SDK configuration of a member account, as the workers get it: by assuming the member role.
pub async fn member_config(hub: &SdkConfig, account: &str, region: &str) -> Result<SdkConfig> {
    let credentials = aws_sdk_sts::Client::new(hub)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{MEMBER_ROLE}"))
        .role_session_name("e2e-setup")
        .send()
        .await?
        .credentials
        .ok_or("AssumeRole answered no credentials")?;
    Ok(hub
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "e2e-member",
            ),
        ))
        .build())
}

/// The `AwsAccountId` of each finding of `generator` in the member account's Security Hub in
/// `region`, read with the member's own credentials.
pub async fn finding_accounts(
    moto: &Moto,
    hub: &SdkConfig,
    account: &str,
    region: &str,
    generator: &str,
) -> Result<Vec<String>> {
    use aws_sdk_sts::config::ProvideCredentials;
    let member = member_config(hub, account, region).await?;
    let credentials = member
        .credentials_provider()
        .ok_or("no member credentials")?
        .provide_credentials()
        .await?;
    Ok(moto
        .security_hub_findings_as(region, credentials.access_key_id())?
        .iter()
        .filter(|f| f["GeneratorId"] == generator)
        .map(|f| f["AwsAccountId"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// A queue, optionally with a dead-letter queue after `max_receives`; answers (url, arn).
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    dead_letter: Option<(&str, u32)>,
) -> Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut request = sqs.create_queue().queue_name(name);
    if let Some((dlq_arn, max_receives)) = dead_letter {
        request = request.attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string(),
        );
    }
    let url = request.send().await?.queue_url.ok_or("queue without URL")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("queue without ARN")?;
    Ok((url, arn))
}

/// Receives every visible message of a queue, each as the record Lambda's event source mapping
/// delivers (`messageId`, `receiptHandle`, `body`, `attributes` with the receive count,
/// `eventSource`, `eventSourceARN`), leaving them on the queue (Lambda deletes a message only
/// when the function reports it done; the tests do the same through [`delete_done`]).
pub async fn receive_records(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
) -> Result<Vec<Value>> {
    let mut records = Vec::new();
    loop {
        let batch = receive_up_to(sqs, url, arn, 10).await?;
        if batch.is_empty() {
            return Ok(records);
        }
        records.extend(batch);
    }
}

/// At most `max` visible messages (1 to 10) as event source mapping records; see
/// [`receive_records`].
pub async fn receive_up_to(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
    max: i32,
) -> Result<Vec<Value>> {
    let messages = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(300)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await?
        .messages
        .unwrap_or_default();
    let region = arn.split(':').nth(3).unwrap_or_default();
    Ok(messages
        .into_iter()
        .map(|message| {
            let attributes: serde_json::Map<String, Value> = message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), Value::String(value)))
                .collect();
            json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            })
        })
        .collect())
}

/// An SQS event of these records.
pub fn sqs_event(records: &[Value]) -> Value {
    json!({"Records": records})
}

/// Deletes the records a function reported done (those not in its `batchItemFailures`), as the
/// event source mapping does; answers the ids of the failed ones.
pub async fn delete_done(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    records: &[Value],
    answer: &Value,
) -> Result<Vec<String>> {
    let failed: Vec<String> = answer["batchItemFailures"]
        .as_array()
        .ok_or("the answer has no batchItemFailures")?
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
        .collect();
    for record in records {
        let id = record["messageId"].as_str().unwrap_or_default();
        if !failed.iter().any(|f| f == id) {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(record["receiptHandle"].as_str().unwrap_or_default())
                .send()
                .await?;
        }
    }
    Ok(failed)
}

/// Delivers every message of a work queue to `worker`, one message an invocation, as the event
/// source mapping does with batch size 1, until the queue has nothing visible; answers how many
/// items the worker reported done and failed.
pub async fn deliver_all(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
    worker: &mut crate::runtime::FunctionProcess,
) -> Result<(usize, usize)> {
    let (mut done, mut failed) = (0, 0);
    loop {
        let records = receive_records(sqs, url, arn).await?;
        if records.is_empty() {
            return Ok((done, failed));
        }
        for record in &records {
            let answer = worker
                .respond(&sqs_event(std::slice::from_ref(record)))
                .await?;
            let refused = delete_done(sqs, url, std::slice::from_ref(record), &answer).await?;
            if refused.is_empty() {
                done += 1;
            } else {
                failed += 1;
            }
        }
    }
}
