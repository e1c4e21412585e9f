//! SNS notification envelopes (`Type: Notification`, `Message` a JSON string), as SNS puts
//! them on an SQS queue without raw delivery. Read through `aws_lambda_events`' typed
//! `SnsMessage`; emulators that leave out the signature fields are read field by field.

use std::collections::BTreeMap;

use aws_lambda_events::event::sns::SnsMessage;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{id, str_at, Event, Kind, MessageBody, Path};

pub(crate) fn is_envelope(obj: &Map<String, Value>) -> bool {
    obj.get("Type").and_then(Value::as_str) == Some("Notification")
        && obj.get("Message").is_some_and(Value::is_string)
}

/// An SNS `SubscriptionConfirmation` / `UnsubscribeConfirmation` sent to a queue (SNS sends
/// them when a subscription is created or removed without the queue's own request).
pub(crate) fn is_confirmation(obj: &Map<String, Value>) -> bool {
    matches!(
        obj.get("Type").and_then(Value::as_str),
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation")
    ) && obj.get("TopicArn").is_some_and(Value::is_string)
}

/// A confirmation as a [`Kind::SnsConfirmation`] event: the type is the reason, SNS's text
/// the message, the whole envelope (`SubscribeURL`, `Token`) the original. Nothing visits the
/// URL: confirming a subscription is the user's decision.
pub(crate) fn confirmation(obj: Map<String, Value>) -> Event {
    let envelope = Value::Object(obj);
    let mut event = Event::new(Kind::SnsConfirmation, Path::Unknown, Value::Null);
    event.reason = str_at(&envelope, &["Type"]).map(str::to_owned);
    event.time = str_at(&envelope, &["Timestamp"]).map(str::to_owned);
    event.message = Some(MessageBody {
        json: Value::Null,
        text: str_at(&envelope, &["Message"]).map(str::to_owned),
    });
    event.provenance.sns_topic_arn = str_at(&envelope, &["TopicArn"]).map(str::to_owned);
    event.provenance.sns_message_id = str_at(&envelope, &["MessageId"]).map(str::to_owned);
    event.id = match event.provenance.sns_message_id.as_deref() {
        Some(message_id) if !message_id.is_empty() => format!("sns-{message_id}"),
        _ => id::hashed("sns", &[&envelope.to_string()]),
    };
    event.original = envelope.into();
    event
}

/// What the envelope adds to each event inside it.
pub(crate) struct Via {
    topic_arn: Option<String>,
    message_id: Option<String>,
    attributes: BTreeMap<String, String>,
}

impl Via {
    pub(crate) fn apply(&self, event: &mut Event) {
        // A message has no id of its own; SNS's is stable across redeliveries.
        if event.kind == Kind::Message {
            if let Some(message_id) = self.message_id.as_deref().filter(|m| !m.is_empty()) {
                event.id = format!("sns-{message_id}");
            }
        }
        event.provenance.sns_topic_arn.clone_from(&self.topic_arn);
        event.provenance.sns_message_id.clone_from(&self.message_id);
        for (name, value) in &self.attributes {
            event.metadata.insert(name.clone(), value.clone());
        }
    }
}

/// The envelope's `Message` text (to be normalized again: JSON, or text), what the
/// envelope adds to the events inside, and the envelope itself.
pub(crate) fn unwrap(obj: Map<String, Value>) -> (String, Via, Value) {
    let envelope = Value::Object(obj);
    let (message, via) = match SnsMessage::deserialize(&envelope) {
        Ok(typed) => {
            let attributes = typed
                .message_attributes
                .into_iter()
                .map(|(name, attr)| (name, attr.value))
                .collect();
            (
                typed.message,
                Via {
                    topic_arn: Some(typed.topic_arn),
                    message_id: Some(typed.message_id),
                    attributes,
                },
            )
        }
        Err(_) => {
            let message = str_at(&envelope, &["Message"])
                .unwrap_or_default()
                .to_owned();
            let attributes = envelope
                .get("MessageAttributes")
                .and_then(Value::as_object)
                .map(|attrs| {
                    attrs
                        .iter()
                        .filter_map(|(name, attr)| {
                            Some((name.clone(), str_at(attr, &["Value"])?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                message,
                Via {
                    topic_arn: str_at(&envelope, &["TopicArn"]).map(str::to_owned),
                    message_id: str_at(&envelope, &["MessageId"]).map(str::to_owned),
                    attributes,
                },
            )
        }
    };
    (message, via, envelope)
}
