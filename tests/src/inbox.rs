//! Reads what was published to the alert topic, through an SQS queue subscribed to it: the same
//! path a machine subscriber takes in production.

use crate::Result;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ReceivedAlert {
    pub subject: String,
    /// The message as the SQS protocol received it (the JSON document, for our alerts).
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedAlert {
    /// The JSON document machines receive.
    pub fn document(&self) -> Result<Value> {
        Ok(serde_json::from_str(&self.message)?)
    }
}

/// The `kind` attribute of each alert, sorted.
pub fn kinds(alerts: &[ReceivedAlert]) -> Vec<String> {
    let mut kinds: Vec<String> = alerts
        .iter()
        .map(|a| a.attributes.get("kind").cloned().unwrap_or_default())
        .collect();
    kinds.sort();
    kinds
}

pub struct AlertInbox {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl AlertInbox {
    /// Creates a topic and a queue subscribed to it; returns the topic ARN with the inbox.
    pub async fn create(sdk: &aws_config::SdkConfig, name: &str) -> Result<(String, AlertInbox)> {
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let topic_arn = sns
            .create_topic()
            .name(name)
            .send()
            .await?
            .topic_arn
            .ok_or("topic without ARN")?;
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url
            .ok_or("queue without URL")?;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attributes
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .ok_or("queue without ARN")?;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await?;
        Ok((topic_arn, AlertInbox { sqs, queue_url }))
    }

    /// Every alert delivered so far (and removes them from the queue).
    pub async fn drain(&self) -> Result<Vec<ReceivedAlert>> {
        let mut alerts = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(alerts);
            }
            for message in messages {
                if let Some(handle) = &message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
                let envelope: Value =
                    serde_json::from_str(message.body.as_deref().unwrap_or("{}"))?;
                let attributes = envelope["MessageAttributes"]
                    .as_object()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v["Value"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                alerts.push(ReceivedAlert {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                    attributes,
                });
            }
        }
    }
}
