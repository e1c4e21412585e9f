//! SNS notification envelopes (`Type: Notification`, `Message` a JSON string), as SNS puts
//! them on an SQS queue without raw delivery. Read through `aws_lambda_events`' typed
//! `SnsMessage`; emulators that leave out the signature fields are read field by field.

use std::collections::BTreeMap;

use aws_lambda_events::event::sns::SnsMessage;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{str_at, Event, NormalizeError};

const SHAPE: &str = "SNS notification envelope";

pub(crate) fn is_envelope(obj: &Map<String, Value>) -> bool {
    obj.get("Type").and_then(Value::as_str) == Some("Notification")
        && obj.get("Message").is_some_and(Value::is_string)
}

/// What the envelope adds to each event inside it.
pub(crate) struct Via {
    topic_arn: Option<String>,
    message_id: Option<String>,
    attributes: BTreeMap<String, String>,
}

impl Via {
    pub(crate) fn apply(&self, event: &mut Event) {
        event.provenance.sns_topic_arn.clone_from(&self.topic_arn);
        event.provenance.sns_message_id.clone_from(&self.message_id);
        for (name, value) in &self.attributes {
            event.metadata.insert(name.clone(), value.clone());
        }
    }
}

pub(crate) fn unwrap(obj: Map<String, Value>) -> Result<(Value, Via), NormalizeError> {
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
    let inner: Value = serde_json::from_str(&message)
        .map_err(|e| NormalizeError::malformed(SHAPE, format!("`Message` is not JSON: {e}")))?;
    Ok((inner, via))
}
