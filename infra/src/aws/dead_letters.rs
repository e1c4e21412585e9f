//! Dead-letter queues on SQS: what is in one, and moving its messages back (redrive).
//!
//! SQS has no peek: a message is seen only by receiving it, which raises its
//! `ApproximateReceiveCount`. [`peek`] therefore receives with a short visibility timeout
//! and releases every message at once (visibility 0) when it has seen enough; the report says
//! that receive counts went up.
//!
//! [`redrive`] uses SQS's own message move task (`StartMessageMoveTask`, followed with
//! `ListMessageMoveTasks`) where it applies
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html>):
//! the source is a dead-letter queue of some SQS queue, the destination is of the same type
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html>),
//! and every message is to move (a task has no count limit, so `max` rules it out).
//! Otherwise — or when the service refuses the task (moto does not implement it) — it moves
//! messages itself, batch by batch: receive, send each copy (body and every message
//! attribute), and only then delete the originals whose copy was sent. A crash in between
//! leaves a message in both queues, never in neither (at-least-once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use serde::Serialize;

use super::{AwsClients, AwsError};

/// How long a peek or a redrive keeps received messages hidden before it is done with them.
const HOLD_SECS: i32 = 60;

/// How often a running message move task is asked for its progress.
const TASK_POLL: Duration = Duration::from_secs(1);

/// A queue, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub fifo: bool,
}

/// `ApproximateNumberOfMessages`, `…NotVisible`, `…Delayed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// One message attribute as SQS keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

/// A received message's attributes, as SQS returned them (also the consumer's reading).
pub fn message_attributes(m: &aws_sdk_sqs::types::Message) -> BTreeMap<String, Attribute> {
    m.message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, a)| {
            let attribute = Attribute {
                data_type: a.data_type().to_string(),
                string_value: a.string_value().map(str::to_string),
                binary_value: a.binary_value().map(|b| b.as_ref().to_vec()),
            };
            (name.clone(), attribute)
        })
        .collect()
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub message_id: String,
    pub body: String,
    /// `ApproximateReceiveCount` — including the receive that read it.
    pub receive_count: u32,
    /// `SentTimestamp` (milliseconds since the Unix epoch).
    pub sent_ms: Option<i64>,
    pub group_id: Option<String>,
    pub message_attributes: BTreeMap<String, Attribute>,
    #[serde(skip)]
    receipt: String,
}

/// What [`peek`] saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peek {
    pub queue: Queue,
    /// Counted before the messages were received.
    pub counts: Counts,
    pub messages: Vec<Message>,
}

/// How a redrive moved messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// SQS's message move task did the work.
    MoveTask { task_handle: String },
    /// Receive, send, delete in batches, because the move task did not apply.
    ReceiveSendDelete { why: String },
}

/// Where a redrive stands, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub moved: u64,
    /// How many the redrive expects to move, when known.
    pub total: Option<u64>,
}

/// What a whole [`redrive`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    pub from: Queue,
    pub to: Queue,
    pub method: Method,
    pub moved: u64,
    /// Messages whose copy was sent but whose original could not be deleted: they are now
    /// in both queues (a redrive is at-least-once).
    pub duplicated: u64,
}

fn call<E>(operation: &'static str, resource: &str, e: E) -> AwsError
where
    E: std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata,
{
    AwsError::call(operation, format!("queue {resource}"), e)
}

fn invalid(resource: &str, message: impl Into<String>) -> AwsError {
    AwsError::Invalid {
        resource: format!("queue {resource}"),
        message: message.into(),
    }
}

/// Resolves a queue given by URL, ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`) or name.
pub async fn resolve(aws: &AwsClients, queue: &str) -> Result<Queue, AwsError> {
    let url = if queue.starts_with("https://") || queue.starts_with("http://") {
        queue.to_string()
    } else {
        let mut req = aws.sqs.get_queue_url();
        if queue.starts_with("arn:") {
            let parts: Vec<&str> = queue.splitn(6, ':').collect();
            if parts.len() != 6 || parts[2] != "sqs" {
                return Err(invalid(
                    queue,
                    "not a queue ARN: give a name, a queue URL or arn:aws:sqs:REGION:ACCOUNT:NAME",
                ));
            }
            req = req
                .queue_name(parts[5])
                .queue_owner_aws_account_id(parts[4]);
        } else {
            req = req.queue_name(queue);
        }
        let out = req
            .send()
            .await
            .map_err(|e| call("GetQueueUrl", queue, e))?;
        out.queue_url()
            .map(str::to_string)
            .ok_or_else(|| invalid(queue, "GetQueueUrl returned no QueueUrl"))?
    };
    let (arn, fifo, _) = attributes(aws, &url).await?;
    let name = url.rsplit('/').next().unwrap_or(&url).to_string();
    Ok(Queue {
        name,
        url,
        arn,
        fifo,
    })
}

/// The queue's ARN, whether it is FIFO, and its counts.
async fn attributes(aws: &AwsClients, url: &str) -> Result<(String, bool, Counts), AwsError> {
    let out = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| call("GetQueueAttributes", url, e))?;
    let attrs = out.attributes();
    let get = |name: QueueAttributeName| attrs.and_then(|a| a.get(&name)).cloned();
    let count = |name| get(name).and_then(|n| n.parse().ok()).unwrap_or(0);
    let arn = get(QueueAttributeName::QueueArn)
        .ok_or_else(|| invalid(url, "GetQueueAttributes returned no QueueArn"))?;
    let fifo =
        get(QueueAttributeName::FifoQueue).as_deref() == Some("true") || url.ends_with(".fifo");
    let counts = Counts {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    };
    Ok((arn, fifo, counts))
}

/// The queue's counts now.
pub async fn counts(aws: &AwsClients, queue: &Queue) -> Result<Counts, AwsError> {
    Ok(attributes(aws, &queue.url).await?.2)
}

/// The URLs of the queues whose redrive policy names `dlq` (`ListDeadLetterSourceQueues`).
pub async fn dead_letter_sources(aws: &AwsClients, dlq: &Queue) -> Result<Vec<String>, AwsError> {
    let mut urls: Vec<String> = aws
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq.url)
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| call("ListDeadLetterSourceQueues", &dlq.name, e))?;
    urls.sort();
    Ok(urls)
}

/// Where a redrive of `dlq` goes: `to` when given, else the one queue whose redrive policy
/// names `dlq`; an error lists the candidates when there is not exactly one. Both queues
/// must be of the same type.
pub async fn destination(
    aws: &AwsClients,
    dlq: &Queue,
    to: Option<&str>,
) -> Result<Queue, AwsError> {
    let dest = match to {
        Some(to) => resolve(aws, to).await?,
        None => {
            let sources = dead_letter_sources(aws, dlq).await?;
            match sources.as_slice() {
                [one] => resolve(aws, one).await?,
                [] => {
                    return Err(invalid(
                        &dlq.name,
                        "no queue names it as its dead-letter queue (redrive policy), so a \
                         redrive has no default destination: name the queue to move the \
                         messages to (--to QUEUE)",
                    ))
                }
                many => {
                    let names: Vec<&str> = many
                        .iter()
                        .map(|u| u.rsplit('/').next().unwrap_or(u))
                        .collect();
                    return Err(invalid(
                        &dlq.name,
                        format!(
                            "{} queues name it as their dead-letter queue ({}): name the one \
                             to move the messages to (--to QUEUE)",
                            many.len(),
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    if dest.arn == dlq.arn {
        return Err(invalid(
            &dlq.name,
            "the destination is the dead-letter queue itself; name another queue",
        ));
    }
    if dest.fifo != dlq.fifo {
        return Err(invalid(
            &dlq.name,
            format!(
                "a redrive moves messages between queues of the same type (both standard or \
                 both FIFO), as SQS's does; {} is {}",
                dest.name,
                if dest.fifo { "FIFO" } else { "standard" }
            ),
        ));
    }
    Ok(dest)
}

/// Receives up to `max` messages (at most 10), hiding them for [`HOLD_SECS`].
async fn receive(aws: &AwsClients, queue: &Queue, max: usize) -> Result<Vec<Message>, AwsError> {
    let out = aws
        .sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(max.clamp(1, 10) as i32)
        .visibility_timeout(HOLD_SECS)
        // A short long poll asks every server, so an empty answer means an empty queue.
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| call("ReceiveMessage", &queue.name, e))?;
    Ok(out
        .messages()
        .iter()
        .filter_map(|m| {
            let system = |name: MessageSystemAttributeName| {
                m.attributes().and_then(|a| a.get(&name)).cloned()
            };
            Some(Message {
                message_id: m.message_id()?.to_string(),
                receipt: m.receipt_handle()?.to_string(),
                body: m.body().unwrap_or_default().to_string(),
                receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                sent_ms: system(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|t| t.parse().ok()),
                group_id: system(MessageSystemAttributeName::MessageGroupId),
                message_attributes: message_attributes(m),
            })
        })
        .collect())
}

/// Makes the messages visible again at once (`ChangeMessageVisibilityBatch`, visibility 0).
async fn release(aws: &AwsClients, queue: &Queue, receipts: &[&str]) -> Result<(), AwsError> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*receipt)
                    .visibility_timeout(0)
                    .build()
                    .map_err(|e| invalid(&queue.name, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = aws
            .sqs
            .change_message_visibility_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| call("ChangeMessageVisibilityBatch", &queue.name, e))?;
        if let Some(failed) = out.failed().first() {
            return Err(invalid(
                &queue.name,
                format!(
                    "ChangeMessageVisibilityBatch could not release {} message(s) ({}: {}); \
                     they become visible again after {HOLD_SECS} s",
                    out.failed().len(),
                    failed.code(),
                    failed.message().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// Up to `max` of the queue's messages. SQS cannot peek: each is received (its receive
/// count goes up by one) and released again at once.
pub async fn peek(aws: &AwsClients, queue: &Queue, max: usize) -> Result<Peek, AwsError> {
    let counts = counts(aws, queue).await?;
    let mut messages: Vec<Message> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut held: Vec<String> = Vec::new();
    let outcome = async {
        while messages.len() < max {
            let got = receive(aws, queue, max - messages.len()).await?;
            if got.is_empty() {
                break;
            }
            for m in got {
                held.push(m.receipt.clone());
                if seen.insert(m.message_id.clone()) {
                    messages.push(m);
                }
            }
        }
        Ok::<_, AwsError>(())
    }
    .await;
    // Release whatever was received, also after a failed receive.
    let receipts: Vec<&str> = held.iter().map(String::as_str).collect();
    let released = release(aws, queue, &receipts).await;
    outcome?;
    released?;
    Ok(Peek {
        queue: queue.clone(),
        counts,
        messages,
    })
}

/// Whether SQS's message move task can do this redrive; `Err` says why not.
fn move_task_applies(sources: &[String], max: Option<u64>) -> Result<(), String> {
    if max.is_some() {
        return Err("--max was given, and a message move task always moves every message".into());
    }
    if sources.is_empty() {
        return Err(
            "no queue names it as its dead-letter queue, and a message move task \
                    starts only from a dead-letter queue of an SQS queue"
                .into(),
        );
    }
    Ok(())
}

/// Moves the messages of `from` (all, or at most `max`) to `to`; `progress` is told after
/// each batch (or each poll of a move task).
pub async fn redrive(
    aws: &AwsClients,
    from: &Queue,
    to: &Queue,
    max: Option<u64>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<RedriveReport, AwsError> {
    let sources = dead_letter_sources(aws, from).await?;
    let why = match move_task_applies(&sources, max) {
        Ok(()) => match move_task(aws, from, to, progress).await? {
            Ok(report) => return Ok(report),
            Err(refused) => refused,
        },
        Err(why) => why,
    };
    receive_send_delete(aws, from, to, max, why, progress).await
}

/// Runs a message move task to its end. `Ok(Err(why))`: the service refused to start one.
async fn move_task(
    aws: &AwsClients,
    from: &Queue,
    to: &Queue,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Result<RedriveReport, String>, AwsError> {
    let started = aws
        .sqs
        .start_message_move_task()
        .source_arn(&from.arn)
        .destination_arn(&to.arn)
        .send()
        .await;
    let handle = match started {
        Ok(out) => out.task_handle().unwrap_or_default().to_string(),
        Err(e) => {
            let e = call("StartMessageMoveTask", &from.name, e);
            let message = match &e {
                AwsError::Call { message, .. } => message.clone(),
                other => other.to_string(),
            };
            return Ok(Err(format!("SQS refused a message move task ({message})")));
        }
    };
    loop {
        let out = aws
            .sqs
            .list_message_move_tasks()
            .source_arn(&from.arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| call("ListMessageMoveTasks", &from.name, e))?;
        // The newest task is first; the running one carries its handle.
        let task = out
            .results()
            .iter()
            .find(|t| t.task_handle() == Some(handle.as_str()))
            .or_else(|| out.results().first());
        let Some(task) = task else {
            return Err(invalid(
                &from.name,
                format!("ListMessageMoveTasks does not list the task just started ({handle})"),
            ));
        };
        let moved = task.approximate_number_of_messages_moved().max(0) as u64;
        progress(Progress {
            moved,
            total: task
                .approximate_number_of_messages_to_move()
                .map(|n| n.max(0) as u64),
        });
        match task_state(
            task.status().unwrap_or_default(),
            task.failure_reason(),
            moved,
        ) {
            TaskState::Done => {
                return Ok(Ok(RedriveReport {
                    from: from.clone(),
                    to: to.clone(),
                    method: Method::MoveTask {
                        task_handle: handle,
                    },
                    moved,
                    duplicated: 0,
                }))
            }
            TaskState::Ended(why) => return Err(invalid(&from.name, why)),
            TaskState::Running => tokio::time::sleep(TASK_POLL).await,
        }
    }
}

/// A message move task's state, from `ListMessageMoveTasks`.
#[derive(Debug, PartialEq, Eq)]
enum TaskState {
    /// `RUNNING` or `CANCELLING` (or a status this version does not know): ask again.
    Running,
    /// `COMPLETED`.
    Done,
    /// `FAILED` or `CANCELLED`, and what to tell the user.
    Ended(String),
}

fn task_state(status: &str, failure_reason: Option<&str>, moved: u64) -> TaskState {
    match status {
        "COMPLETED" => TaskState::Done,
        "FAILED" | "CANCELLED" => TaskState::Ended(format!(
            "the message move task was {} after moving {moved} message(s): {}; the messages \
             not moved are still in the dead-letter queue",
            status.to_lowercase(),
            failure_reason.unwrap_or("no reason given")
        )),
        _ => TaskState::Running,
    }
}

async fn receive_send_delete(
    aws: &AwsClients,
    from: &Queue,
    to: &Queue,
    max: Option<u64>,
    why: String,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<RedriveReport, AwsError> {
    let visible = counts(aws, from).await?.visible;
    let total = Some(max.map_or(visible, |m| m.min(visible)));
    let mut moved = 0u64;
    let mut duplicated = 0u64;
    progress(Progress { moved, total });
    loop {
        let room = match max {
            Some(max) => max.saturating_sub(moved).min(10) as usize,
            None => 10,
        };
        if room == 0 {
            break;
        }
        let batch = receive(aws, from, room).await?;
        if batch.is_empty() {
            break;
        }
        let mut sent: Vec<&Message> = Vec::new();
        let mut failure = None;
        for m in &batch {
            match send_copy(aws, to, m).await {
                Ok(()) => sent.push(m),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Only originals whose copy was sent are deleted; the rest are released.
        let unsent: Vec<&str> = batch
            .iter()
            .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
            .map(|m| m.receipt.as_str())
            .collect();
        let deleted = delete(aws, from, &sent).await?;
        moved += sent.len() as u64;
        duplicated += (sent.len() - deleted) as u64;
        progress(Progress { moved, total });
        if let Some(e) = failure {
            let _ = release(aws, from, &unsent).await;
            return Err(e);
        }
    }
    Ok(RedriveReport {
        from: from.clone(),
        to: to.clone(),
        method: Method::ReceiveSendDelete { why },
        moved,
        duplicated,
    })
}

/// Sends a copy of `m` (body and every message attribute) to `to`. A FIFO copy keeps its
/// message group and is deduplicated on the dead-letter message's id, so a repeated redrive
/// of the same message within SQS's five-minute window is sent once.
async fn send_copy(aws: &AwsClients, to: &Queue, m: &Message) -> Result<(), AwsError> {
    let mut send = aws
        .sqs
        .send_message()
        .queue_url(&to.url)
        .message_body(&m.body);
    for (name, a) in &m.message_attributes {
        let mut value = MessageAttributeValue::builder().data_type(&a.data_type);
        if let Some(text) = &a.string_value {
            value = value.string_value(text);
        }
        if let Some(bytes) = &a.binary_value {
            value = value.binary_value(Blob::new(bytes.clone()));
        }
        let value = value
            .build()
            .map_err(|e| invalid(&to.name, e.to_string()))?;
        send = send.message_attributes(name, value);
    }
    if to.fifo {
        send = send
            .message_group_id(m.group_id.as_deref().unwrap_or("redrive"))
            .message_deduplication_id(&m.message_id);
    }
    send.send()
        .await
        .map(|_| ())
        .map_err(|e| call("SendMessage", &to.name, e))
}

/// Deletes the originals (`DeleteMessageBatch`); returns how many were deleted.
async fn delete(aws: &AwsClients, from: &Queue, messages: &[&Message]) -> Result<usize, AwsError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let entries = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&m.receipt)
                .build()
                .map_err(|e| invalid(&from.name, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = aws
        .sqs
        .delete_message_batch()
        .queue_url(&from.url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| call("DeleteMessageBatch", &from.name, e))?;
    Ok(out.successful().len())
}

#[cfg(test)]
mod tests {
    use super::{move_task_applies, task_state, TaskState};

    #[test]
    fn a_move_task_is_followed_to_its_end() {
        assert_eq!(task_state("RUNNING", None, 3), TaskState::Running);
        assert_eq!(task_state("CANCELLING", None, 3), TaskState::Running);
        assert_eq!(task_state("COMPLETED", None, 9), TaskState::Done);
        let TaskState::Ended(why) = task_state("FAILED", Some("AccessDenied"), 4) else {
            panic!("a failed task ends the redrive");
        };
        assert!(
            why.contains("failed after moving 4 message(s): AccessDenied"),
            "{why}"
        );
        assert!(matches!(
            task_state("CANCELLED", None, 0),
            TaskState::Ended(w) if w.contains("cancelled")
        ));
    }

    #[test]
    fn the_move_task_needs_a_dead_letter_queue_and_no_max() {
        let sources = vec!["https://sqs/1/src".to_string()];
        assert!(move_task_applies(&sources, None).is_ok());
        assert!(move_task_applies(&sources, Some(5))
            .unwrap_err()
            .contains("--max"));
        assert!(move_task_applies(&[], None)
            .unwrap_err()
            .contains("dead-letter queue"));
    }
}
