//! SNS's query protocol (`Action=Publish&TopicArn=…`, XML answers): Publish, PublishBatch,
//! ListTopics, ListSubscriptionsByTopic on the local topics (fan-out, filter policies, raw
//! delivery and the e-mail outbox are [`infra::local`]'s).

use std::sync::Arc;

use hyper::Response;
use infra::local::{LocalError, PublishRequest};
use serde_json::Value;

use super::protocol::{
    message_attributes, query_to_json, request_id, respond, text, xml, ApiError, Body, SNS_XMLNS,
};
use super::Shared;

/// The actions served (also how a request without a signature is told from SQS's).
pub const ACTIONS: &[&str] = &[
    "Publish",
    "PublishBatch",
    "ListTopics",
    "ListSubscriptionsByTopic",
];

pub async fn query(
    shared: &Arc<Shared>,
    action: &str,
    params: &[(String, String)],
) -> Response<Body> {
    let input = query_to_json(
        params,
        &[("PublishBatchRequestEntries", "PublishBatchRequestEntries")],
        &[("MessageAttributes", "MessageAttributes")],
    );
    match run(shared, action, &input).await {
        Ok(result) => respond(
            200,
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?><{action}Response xmlns=\"{SNS_XMLNS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
                request_id()
            ),
        ),
        Err(e) => {
            let e = if e.code == "InvalidParameterValue" {
                ApiError::bad_request("InvalidParameter", e.message)
            } else {
                e
            };
            e.query_xml(SNS_XMLNS)
        }
    }
}

async fn run(shared: &Arc<Shared>, action: &str, input: &Value) -> Result<String, ApiError> {
    match action {
        "Publish" => {
            let topic = topic_of(input)?;
            let req = publish_request(input)?;
            let id = shared.write(move |w| w.publish(&topic, &req)).await?;
            shared.wake_receivers();
            Ok(format!("<MessageId>{}</MessageId>", xml(&id)))
        }
        "PublishBatch" => {
            let topic = topic_of(input)?;
            let entries = input
                .get("PublishBatchRequestEntries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if entries.is_empty() {
                return Err(ApiError::bad_request("EmptyBatchRequest", "The batch request doesn't contain any entries."));
            }
            if entries.len() > 10 {
                return Err(ApiError::bad_request(
                    "TooManyEntriesInBatchRequest",
                    "The batch request contains more entries than permissible.",
                ));
            }
            let mut reqs = Vec::new();
            for e in &entries {
                let id = text(e, "Id").ok_or_else(|| ApiError::missing("PublishBatchRequestEntries.member.N.Id"))?;
                reqs.push((id.to_string(), publish_request(e)?));
            }
            // One write, each entry under its own savepoint (as each was its own publish).
            let results = shared
                .write(move |w| {
                    let mut out = Vec::new();
                    for (id, req) in &reqs {
                        out.push(match w.attempt(|w| w.publish(&topic, req))? {
                            Ok(message_id) => Ok((id.clone(), message_id)),
                            Err(e @ LocalError::Invalid { .. }) => Err((id.clone(), e)),
                            Err(e) => return Err(e),
                        });
                    }
                    Ok(out)
                })
                .await?;
            shared.wake_receivers();
            let mut ok = String::new();
            let mut failed = String::new();
            for r in results {
                match r {
                    Ok((id, message_id)) => ok.push_str(&format!(
                        "<member><Id>{}</Id><MessageId>{}</MessageId></member>",
                        xml(&id),
                        xml(&message_id)
                    )),
                    Err((id, e)) => failed.push_str(&format!(
                        "<member><Id>{}</Id><Code>InvalidParameter</Code><Message>{}</Message><SenderFault>true</SenderFault></member>",
                        xml(&id),
                        xml(&e.to_string())
                    )),
                }
            }
            Ok(format!("<Successful>{ok}</Successful><Failed>{failed}</Failed>"))
        }
        "ListTopics" => {
            let topics = shared.store(|s| s.list_topics()).await?;
            let mut out = String::from("<Topics>");
            for t in topics {
                let arn = infra::arn::topic_arn(shared.region(), shared.account(), &t.name);
                out.push_str(&format!("<member><TopicArn>{}</TopicArn></member>", xml(&arn)));
            }
            out.push_str("</Topics>");
            Ok(out)
        }
        "ListSubscriptionsByTopic" => {
            let topic = topic_of(input)?;
            let subs = shared
                .store(move |s| {
                    let name = topic.rsplit(':').next().unwrap_or_default().to_string();
                    if !s.list_topics()?.iter().any(|t| t.name == name) {
                        return Err(LocalError::NoSuchTopic(topic));
                    }
                    s.list_subscriptions(Some(&name))
                })
                .await?;
            let mut out = String::from("<Subscriptions>");
            for sub in subs {
                let topic_arn = infra::arn::topic_arn(
                    shared.region(),
                    shared.account(),
                    sub.spec.topic.rsplit(':').next().unwrap_or_default(),
                );
                out.push_str(&format!(
                    "<member><TopicArn>{}</TopicArn><Protocol>{}</Protocol><SubscriptionArn>{}</SubscriptionArn><Owner>{}</Owner><Endpoint>{}</Endpoint></member>",
                    xml(&topic_arn),
                    xml(&sub.spec.protocol),
                    xml(&sub.arn),
                    xml(shared.account()),
                    xml(&sub.spec.endpoint)
                ));
            }
            out.push_str("</Subscriptions>");
            Ok(out)
        }
        other => Err(ApiError::bad_request(
            "InvalidAction",
            format!(
                "The action {other} is not valid for this endpoint: bridge dev --serve serves SNS {} (docs/serve.md)",
                ACTIONS.join(", ")
            ),
        )),
    }
}

fn topic_of(input: &Value) -> Result<String, ApiError> {
    text(input, "TopicArn")
        .or_else(|| text(input, "TargetArn"))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing("TopicArn"))
}

fn publish_request(input: &Value) -> Result<PublishRequest, ApiError> {
    let mut message = text(input, "Message")
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing("Message"))?;
    if text(input, "MessageStructure") == Some("json") {
        let parsed: Value = serde_json::from_str(&message).map_err(|_| {
            ApiError::bad_request(
                "InvalidParameter",
                "Invalid parameter: Message Structure - JSON message body failed to parse",
            )
        })?;
        message = parsed
            .get("sqs")
            .or_else(|| parsed.get("default"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidParameter",
                    "Invalid parameter: Message Structure - No default entry in JSON message body",
                )
            })?;
    }
    Ok(PublishRequest {
        message,
        subject: text(input, "Subject").map(str::to_string),
        attributes: message_attributes(input, "MessageAttributes")?,
        group_id: text(input, "MessageGroupId").map(str::to_string),
        dedup_id: text(input, "MessageDeduplicationId").map(str::to_string),
    })
}
