//! [`MessageSource`] over Amazon SQS (or any SQS-compatible endpoint, such as moto).

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use aws_sdk_sqs::Client;

use aws_sdk_sqs::primitives::Blob;

use super::source::{
    dead_letter_attributes, Message, MessageSource, SourceError, DEAD_LETTER_REASON_ATTRIBUTE,
};

/// An SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsSource {
    client: Client,
    url: String,
}

/// The service's error code and message, one line (as every AWS error `bridge` prints).
fn call_error<E>(operation: &'static str, queue: &str, e: E) -> SourceError
where
    E: std::error::Error + infra::aws::ProvideErrorMetadata,
{
    let message = match infra::aws::AwsError::call(operation, queue, e) {
        infra::aws::AwsError::Call { message, .. } => message,
        other => other.to_string(),
    };
    SourceError::Call {
        operation,
        queue: queue.to_string(),
        message,
    }
}

/// A request that could not be built (a missing required field): no call was made.
fn build_error(
    operation: &'static str,
    queue: &str,
    e: aws_sdk_sqs::error::BuildError,
) -> SourceError {
    SourceError::Call {
        operation,
        queue: queue.to_string(),
        message: e.to_string(),
    }
}

impl SqsSource {
    /// `queue` is a queue URL, or a name resolved with GetQueueUrl in the client's account.
    pub async fn connect(client: Client, queue: &str) -> Result<SqsSource, SourceError> {
        let url = if queue.starts_with("https://") || queue.starts_with("http://") {
            queue.to_string()
        } else {
            resolve_url(&client, queue).await?
        };
        Ok(SqsSource { client, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// GetQueueUrl for a name or an ARN (`arn:aws:sqs:region:account:name`: the account is
/// passed as the owner, so dead-letter queues in other accounts resolve).
async fn resolve_url(client: &Client, name_or_arn: &str) -> Result<String, SourceError> {
    let mut req = client.get_queue_url();
    if name_or_arn.starts_with("arn:") {
        let parts: Vec<&str> = name_or_arn.splitn(6, ':').collect();
        if parts.len() != 6 {
            return Err(SourceError::Call {
                operation: "GetQueueUrl",
                queue: name_or_arn.into(),
                message: "not a queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)".into(),
            });
        }
        req = req
            .queue_name(parts[5])
            .queue_owner_aws_account_id(parts[4]);
    } else {
        req = req.queue_name(name_or_arn);
    }
    let out = req
        .send()
        .await
        .map_err(|e| call_error("GetQueueUrl", name_or_arn, e))?;
    out.queue_url()
        .map(str::to_string)
        .ok_or_else(|| SourceError::Call {
            operation: "GetQueueUrl",
            queue: name_or_arn.into(),
            message: "the response has no QueueUrl".into(),
        })
}

impl MessageSource for SqsSource {
    async fn receive(
        &self,
        max: u32,
        wait_secs: u32,
        visibility_secs: Option<u32>,
    ) -> Result<Vec<Message>, SourceError> {
        let mut req = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait_secs.min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            // Every message attribute, so a dead-lettered copy keeps them all.
            .message_attribute_names("All");
        if let Some(v) = visibility_secs {
            req = req.visibility_timeout(v as i32);
        }
        let out = req
            .send()
            .await
            .map_err(|e| call_error("ReceiveMessage", &self.url, e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(Message {
                    id: m.message_id()?.to_string(),
                    receipt: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    receive_count,
                    group_id: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                        .cloned(),
                    attributes: infra::aws::dead_letters::message_attributes(m),
                })
            })
            .collect())
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), SourceError>>, SourceError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let mut req = self.client.delete_message_batch().queue_url(&self.url);
        for (i, receipt) in receipts.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(receipt)
                .build()
                .map_err(|e| build_error("DeleteMessageBatch", &self.url, e))?;
            req = req.entries(entry);
        }
        let out = req
            .send()
            .await
            .map_err(|e| call_error("DeleteMessageBatch", &self.url, e))?;
        let mut results: Vec<Result<(), SourceError>> = receipts
            .iter()
            .map(|_| {
                Err(SourceError::Call {
                    operation: "DeleteMessageBatch",
                    queue: self.url.clone(),
                    message: "no result for this entry".into(),
                })
            })
            .collect();
        for ok in out.successful() {
            if let Some(slot) = ok
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Ok(());
            }
        }
        for failed in out.failed() {
            if let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Err(SourceError::Call {
                    operation: "DeleteMessageBatch",
                    queue: self.url.clone(),
                    message: format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                });
            }
        }
        Ok(results)
    }

    async fn change_visibility(&self, receipt: &str, secs: u32) -> Result<(), SourceError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("ChangeMessageVisibility", &self.url, e))
    }

    async fn dead_letter(&self, message: &Message, why: &str) -> Result<(), SourceError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| call_error("GetQueueAttributes", &self.url, e))?;
        let policy = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
        let Some(dlq_arn) = policy
            .as_ref()
            .and_then(|p| p.get("deadLetterTargetArn"))
            .and_then(|a| a.as_str())
        else {
            return Err(SourceError::NoDeadLetterQueue {
                queue: self.url.clone(),
                why: why.to_string(),
            });
        };
        let dlq_url = resolve_url(&self.client, dlq_arn).await?;
        let (attributes, with_reason) = dead_letter_attributes(message, why);
        if !with_reason {
            eprintln!(
                "bridge consume: message {} has {} attributes, the most SQS allows: it is dead-lettered without the {DEAD_LETTER_REASON_ATTRIBUTE} attribute",
                message.id,
                attributes.len()
            );
        }
        let mut send = self
            .client
            .send_message()
            .queue_url(&dlq_url)
            .message_body(&message.body);
        for (name, attribute) in attributes {
            let mut value = MessageAttributeValue::builder().data_type(attribute.data_type);
            if let Some(text) = attribute.string_value {
                value = value.string_value(text);
            }
            if let Some(bytes) = attribute.binary_value {
                value = value.binary_value(Blob::new(bytes));
            }
            let value = value
                .build()
                .map_err(|e| build_error("SendMessage (dead-letter)", &dlq_url, e))?;
            send = send.message_attributes(name, value);
        }
        if dlq_arn.ends_with(".fifo") {
            send = send
                .message_group_id("bridge-dead-letter")
                .message_deduplication_id(&message.id);
        }
        send.send()
            .await
            .map_err(|e| call_error("SendMessage (dead-letter)", &dlq_url, e))?;
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("DeleteMessage", &self.url, e))
    }

    fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }

    fn describe(&self) -> String {
        format!("SQS queue {}", self.url)
    }
}
