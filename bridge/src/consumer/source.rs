//! Where messages come from: a queue with SQS semantics (receive, batch delete, visibility
//! changes, dead-lettering). The runtime is written against [`MessageSource`] only, so the
//! same code drives real SQS and the embedded local backend.

use std::collections::BTreeMap;
use std::future::Future;

/// One received message. `receipt` is what delete / visibility changes need; a later
/// receive of the same message supersedes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub receipt: String,
    pub body: String,
    /// How many times the queue has handed this message out, this receive included.
    pub receive_count: u32,
    /// The FIFO message group, if the queue is FIFO.
    pub group_id: Option<String>,
    /// The message attributes, all of them (received with `MessageAttributeNames=All`):
    /// dead-lettering copies them to the dead-letter queue.
    pub attributes: BTreeMap<String, MessageAttribute>,
}

/// One SQS message attribute: its data type (`String`, `Number`, `Binary`, possibly with
/// a custom `.label`) and its string or binary value (the AWS side's one type).
pub use infra::aws::dead_letters::Attribute as MessageAttribute;

/// SQS takes at most this many message attributes per message ("up to 10 metadata
/// attributes", <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>).
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// The attributes a dead-lettered copy of `message` carries: all of the original's, plus
/// [`DEAD_LETTER_REASON_ATTRIBUTE`] saying `why` when there is room for it under
/// [`MAX_MESSAGE_ATTRIBUTES`] (the user's attributes come first: without room, the reason
/// is only logged). The flag says whether the reason is attached.
pub(crate) fn dead_letter_attributes(
    message: &Message,
    why: &str,
) -> (BTreeMap<String, MessageAttribute>, bool) {
    let mut attributes = message.attributes.clone();
    let room = attributes.contains_key(DEAD_LETTER_REASON_ATTRIBUTE)
        || attributes.len() < MAX_MESSAGE_ATTRIBUTES;
    if room {
        attributes.insert(
            DEAD_LETTER_REASON_ATTRIBUTE.to_string(),
            MessageAttribute {
                data_type: "String".into(),
                string_value: Some(why.to_string()),
                binary_value: None,
            },
        );
    }
    (attributes, room)
}

/// A failed queue call. The message names the operation and the queue, never a body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("{operation} on {queue} failed: {message}")]
    Call {
        operation: &'static str,
        queue: String,
        message: String,
    },
    /// Dead-lettering is impossible: the queue has no redrive policy.
    #[error("queue {queue} has no dead-letter queue (no RedrivePolicy): {why}")]
    NoDeadLetterQueue { queue: String, why: String },
}

/// A queue as the consumer sees it.
///
/// Futures are `Send` so every message can be handled on its own task.
pub trait MessageSource: Send + Sync + 'static {
    /// Receives up to `max` (1..=10) messages, waiting up to `wait_secs` for the first one.
    /// `visibility_secs` overrides the queue's visibility timeout for these messages.
    fn receive(
        &self,
        max: u32,
        wait_secs: u32,
        visibility_secs: Option<u32>,
    ) -> impl Future<Output = Result<Vec<Message>, SourceError>> + Send;

    /// Deletes up to 10 messages; one result per receipt, in order.
    fn delete_batch(
        &self,
        receipts: &[String],
    ) -> impl Future<Output = Result<Vec<Result<(), SourceError>>, SourceError>> + Send;

    /// Makes the message visible again `secs` from now (0 releases it at once).
    fn change_visibility(
        &self,
        receipt: &str,
        secs: u32,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Sends the message's body and all its message attributes to the queue's dead-letter
    /// queue (named by its redrive policy) with [`DEAD_LETTER_REASON_ATTRIBUTE`] saying
    /// `why` (when the message has fewer than [`MAX_MESSAGE_ATTRIBUTES`] of its own), then
    /// deletes the original. Fails with
    /// [`SourceError::NoDeadLetterQueue`] when there is none: the caller then leaves the
    /// message for redelivery rather than lose it.
    fn dead_letter(
        &self,
        message: &Message,
        why: &str,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Whether the queue is FIFO (ordering matters; see the runtime's notes).
    fn is_fifo(&self) -> bool;

    /// A name for logs.
    fn describe(&self) -> String;
}

/// The message attribute dead-lettered messages carry, saying why they were moved.
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "bridge-dead-letter-reason";
