//! Topics and subscriptions with SNS semantics.
//!
//! - `sqs` subscriptions get the SNS envelope (or the bare message with raw delivery, whose
//!   message attributes become SQS message attributes).
//! - `email` / `email-json` subscriptions write one `.eml` file per message to the outbox
//!   directory instead of sending mail; local subscriptions need no confirmation.
//! - `http`/`https`/`lambda`/... endpoints cannot be reached locally: the delivery is recorded
//!   in the activity log as not deliverable.
//! - Filter policies are matched with the EventBridge pattern engine. SNS's filter language is
//!   the same for exact values, `prefix`, `suffix`, `anything-but`, `numeric`, `exists`,
//!   `equals-ignore-case`, `cidr` and `$or`. Known gap: with the `MessageAttributes` scope a
//!   `Number` attribute is compared as a number and `String.Array` as an array (as SNS does),
//!   but SNS's limits on policy size/combinations are not enforced. The signature fields of the
//!   envelope are placeholders: nothing is signed locally.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::clock::{rfc3339_millis, rfc5322};
use super::queue::{send_tx, MessageAttribute, SendRequest};
use super::store::{record_activity, record_delivery, Ctx, Store};
use super::write_tx::WriteTx;
use super::{name_from_arn, new_id, LocalError, Result};

/// A topic's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSpec {
    pub name: String,
    pub fifo: bool,
    pub policy: Option<String>,
    /// SNS's `DisplayName`: the `From` name of the topic's e-mails (SNS's default,
    /// `AWS Notifications`, when unset).
    pub display_name: Option<String>,
}

impl TopicSpec {
    pub fn new(name: impl Into<String>) -> TopicSpec {
        let name = name.into();
        TopicSpec {
            fifo: name.ends_with(".fifo"),
            name,
            policy: None,
            display_name: None,
        }
    }
}

/// What a filter policy is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FilterScope {
    #[default]
    MessageAttributes,
    MessageBody,
}

impl FilterScope {
    fn as_str(self) -> &'static str {
        match self {
            FilterScope::MessageAttributes => "MessageAttributes",
            FilterScope::MessageBody => "MessageBody",
        }
    }
    fn parse(s: &str) -> FilterScope {
        if s == "MessageBody" {
            FilterScope::MessageBody
        } else {
            FilterScope::MessageAttributes
        }
    }
}

/// A subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSpec {
    /// Topic name or ARN.
    pub topic: String,
    /// `sqs`, `email`, `email-json`, `https`, ...
    pub protocol: String,
    /// Queue ARN, e-mail address, URL.
    pub endpoint: String,
    pub raw_message_delivery: bool,
    /// Filter policy JSON.
    pub filter_policy: Option<String>,
    pub filter_policy_scope: FilterScope,
}

impl SubscriptionSpec {
    pub fn new(
        topic: impl Into<String>,
        protocol: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Self {
        SubscriptionSpec {
            topic: topic.into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            raw_message_delivery: false,
            filter_policy: None,
            filter_policy_scope: FilterScope::MessageAttributes,
        }
    }
}

/// A subscription as stored, with its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub arn: String,
    pub spec: SubscriptionSpec,
}

/// Publish's parameters.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    pub message: String,
    pub subject: Option<String>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

impl PublishRequest {
    pub fn message(message: impl Into<String>) -> PublishRequest {
        PublishRequest {
            message: message.into(),
            ..PublishRequest::default()
        }
    }
}

impl Store {
    /// Creates or updates a topic; returns its ARN.
    pub fn put_topic(&mut self, spec: &TopicSpec) -> Result<String> {
        let base = spec.name.strip_suffix(".fifo").unwrap_or(&spec.name);
        if base.is_empty()
            || base.len() > 251
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(LocalError::invalid(
                format!("topic {}", spec.name),
                "a topic name has 1 to 256 characters: letters, digits, '-' and '_' (FIFO topics end in .fifo)",
            ));
        }
        self.write(|tx, ctx| {
            tx.execute(
                "INSERT INTO topics (name, fifo, policy, created_ms, display_name) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET policy = excluded.policy, display_name = excluded.display_name",
                params![spec.name, spec.fifo, spec.policy, ctx.now_ms, spec.display_name],
            )?;
            Ok(ctx.topic_arn(&spec.name))
        })
    }

    pub fn delete_topic(&mut self, arn_or_name: &str) -> Result<bool> {
        let name = name_from_arn(arn_or_name).to_string();
        self.write(|tx, _| Ok(tx.execute("DELETE FROM topics WHERE name = ?1", [name])? > 0))
    }

    pub fn list_topics(&mut self) -> Result<Vec<TopicSpec>> {
        self.read(|tx, _| {
            let mut stmt =
                tx.prepare("SELECT name, fifo, policy, display_name FROM topics ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(TopicSpec {
                    name: r.get(0)?,
                    fifo: r.get(1)?,
                    policy: r.get(2)?,
                    display_name: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Subscribes (or updates the subscription for the same topic/protocol/endpoint); returns its ARN.
    pub fn subscribe(&mut self, spec: &SubscriptionSpec) -> Result<String> {
        if let Some(policy) = &spec.filter_policy {
            patterns::Pattern::parse(policy).map_err(|e| {
                LocalError::invalid(
                    format!(
                        "filter policy of {} subscription {}",
                        spec.protocol, spec.endpoint
                    ),
                    e.to_string(),
                )
            })?;
        }
        let protocol = spec.protocol.as_str();
        if !matches!(
            protocol,
            "sqs"
                | "email"
                | "email-json"
                | "http"
                | "https"
                | "lambda"
                | "sms"
                | "application"
                | "firehose"
        ) {
            return Err(LocalError::invalid(
                format!("subscription to {}", spec.topic),
                format!("unknown protocol {protocol:?}"),
            ));
        }
        let topic = name_from_arn(&spec.topic).to_string();
        self.write(|tx, ctx| {
            let exists: bool = tx.query_row("SELECT COUNT(*) FROM topics WHERE name = ?1", [&topic], |r| r.get::<_, i64>(0))? > 0;
            if !exists {
                return Err(LocalError::NoSuchTopic(spec.topic.clone()));
            }
            let existing: Option<String> = tx
                .query_row(
                    "SELECT arn FROM subscriptions WHERE topic = ?1 AND protocol = ?2 AND endpoint = ?3",
                    params![topic, spec.protocol, spec.endpoint],
                    |r| r.get(0),
                )
                .optional()?;
            let arn = existing.unwrap_or_else(|| format!("{}:{}", ctx.topic_arn(&topic), new_id()));
            tx.execute(
                "INSERT INTO subscriptions (arn, topic, protocol, endpoint, raw, filter_policy, filter_scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(arn) DO UPDATE SET raw = excluded.raw, filter_policy = excluded.filter_policy,
                     filter_scope = excluded.filter_scope",
                params![arn, topic, spec.protocol, spec.endpoint, spec.raw_message_delivery, spec.filter_policy, spec.filter_policy_scope.as_str()],
            )?;
            Ok(arn)
        })
    }

    pub fn unsubscribe(&mut self, subscription_arn: &str) -> Result<()> {
        self.write(|tx, _| {
            if tx.execute(
                "DELETE FROM subscriptions WHERE arn = ?1",
                [subscription_arn],
            )? == 0
            {
                return Err(LocalError::NoSuchSubscription(subscription_arn.to_string()));
            }
            Ok(())
        })
    }

    /// Subscriptions of one topic (or of all topics with `None`).
    pub fn list_subscriptions(&mut self, topic: Option<&str>) -> Result<Vec<Subscription>> {
        self.read(|tx, ctx| {
            let mut stmt = tx.prepare(
                "SELECT arn, topic, protocol, endpoint, raw, filter_policy, filter_scope FROM subscriptions
                 WHERE ?1 IS NULL OR topic = ?1 ORDER BY topic, protocol, endpoint",
            )?;
            let rows = stmt.query_map([topic.map(name_from_arn)], |r| {
                let topic: String = r.get(1)?;
                Ok(Subscription {
                    arn: r.get(0)?,
                    spec: SubscriptionSpec {
                        topic: ctx.topic_arn(&topic),
                        protocol: r.get(2)?,
                        endpoint: r.get(3)?,
                        raw_message_delivery: r.get(4)?,
                        filter_policy: r.get(5)?,
                        filter_policy_scope: FilterScope::parse(&r.get::<_, String>(6)?),
                    },
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Publish; returns the message id. E-mails are written to the outbox after the commit.
    pub fn publish(&mut self, topic: &str, req: &PublishRequest) -> Result<String> {
        self.write_with(|w| w.publish(topic, req))
    }
}

impl WriteTx<'_> {
    /// Publish; returns the message id.
    pub fn publish(&mut self, topic: &str, req: &PublishRequest) -> Result<String> {
        publish_tx(self.tx, self.ctx, topic, req, None)
    }
}

struct SubRow {
    arn: String,
    protocol: String,
    endpoint: String,
    raw: bool,
    filter_policy: Option<String>,
    filter_scope: String,
}

/// Publish inside a transaction. `message_id` lets EventBridge reuse the event id for tracing.
pub(crate) fn publish_tx(
    tx: &Connection,
    ctx: &Ctx,
    topic: &str,
    req: &PublishRequest,
    message_id: Option<&str>,
) -> Result<String> {
    let name = name_from_arn(topic);
    let (fifo, display_name): (bool, Option<String>) = tx
        .prepare_cached("SELECT fifo, display_name FROM topics WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| LocalError::NoSuchTopic(topic.to_string()))?;
    if req.message.is_empty() {
        return Err(LocalError::invalid(
            format!("publish to {name}"),
            "the message must not be empty",
        ));
    }
    if fifo && req.group_id.is_none() {
        return Err(LocalError::invalid(
            format!("publish to {name}"),
            "MessageGroupId is required for a FIFO topic",
        ));
    }
    let topic_arn = ctx.topic_arn(name);
    let message_id = message_id.map(str::to_string).unwrap_or_else(new_id);
    let subs: Vec<SubRow> = {
        let mut stmt = tx.prepare_cached(
            "SELECT arn, protocol, endpoint, raw, filter_policy, filter_scope FROM subscriptions WHERE topic = ?1 ORDER BY arn",
        )?;
        let rows = stmt.query_map([name], |r| {
            Ok(SubRow {
                arn: r.get(0)?,
                protocol: r.get(1)?,
                endpoint: r.get(2)?,
                raw: r.get(3)?,
                filter_policy: r.get(4)?,
                filter_scope: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let origin = format!("topic {topic_arn}");
    for sub in subs {
        if let Some(policy) = &sub.filter_policy {
            if !filter_accepts(policy, FilterScope::parse(&sub.filter_scope), req) {
                record_activity(
                    tx,
                    ctx,
                    &message_id,
                    &origin,
                    &sub.endpoint,
                    "filtered out by the subscription's filter policy",
                )?;
                continue;
            }
        }
        let envelope = || envelope(ctx, &topic_arn, &message_id, &sub.arn, req);
        match sub.protocol.as_str() {
            "sqs" => {
                let send = if sub.raw {
                    SendRequest {
                        body: req.message.clone(),
                        attributes: req.attributes.clone(),
                        group_id: req.group_id.clone(),
                        dedup_id: req.dedup_id.clone(),
                        delay_secs: None,
                    }
                } else {
                    SendRequest {
                        body: envelope().to_string(),
                        group_id: req.group_id.clone(),
                        dedup_id: req.dedup_id.clone(),
                        ..SendRequest::default()
                    }
                };
                let outcome = match send_tx(tx, ctx, &sub.endpoint, &send) {
                    Ok(_) => "delivered".to_string(),
                    Err(e @ (LocalError::NoSuchQueue(_) | LocalError::Invalid { .. })) => {
                        format!("not delivered: {e}")
                    }
                    Err(e) => return Err(e),
                };
                record_delivery(
                    tx,
                    ctx,
                    &message_id,
                    &origin,
                    &sub.endpoint,
                    &outcome,
                    Some(&send.body),
                )?;
            }
            "email" | "email-json" => {
                let body = if sub.protocol == "email-json" {
                    envelope().to_string()
                } else {
                    let unsubscribe = unsubscribe_url(ctx, &sub.arn);
                    format!(
                        "{}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{unsubscribe}\n",
                        req.message
                    )
                };
                let eml = format!(
                    "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@sns.local>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{}",
                    from_header(display_name.as_deref()),
                    sub.endpoint,
                    req.subject.as_deref().unwrap_or("AWS Notification Message"),
                    rfc5322(ctx.now_ms),
                    message_id,
                    body
                );
                let file = format!(
                    "{}-{}.eml",
                    message_id,
                    super::md5_hex(sub.arn.as_bytes()).get(..8).unwrap_or("sub")
                );
                tx.prepare_cached("INSERT INTO outbox (file_name, content) VALUES (?1, ?2)")?
                    .execute(params![file, eml])?;
                record_delivery(
                    tx,
                    ctx,
                    &message_id,
                    &origin,
                    &sub.endpoint,
                    &format!("written to outbox/{file}"),
                    Some(&eml),
                )?;
            }
            other => {
                record_activity(
                    tx,
                    ctx,
                    &message_id,
                    &origin,
                    &sub.endpoint,
                    &format!("not deliverable locally ({other} endpoint)"),
                )?;
            }
        }
    }
    Ok(message_id)
}

/// The `From` header of a topic's e-mails: the topic's `DisplayName` as the sender name, at
/// SNS's sending address (the SNS Developer Guide, "Creating an Amazon SNS topic": the display
/// name and the sending address, e.g. `no-reply@sns.amazonaws.com`, together make at most 320
/// characters); `AWS Notifications` when the topic has none. A name that is not plain
/// printable ASCII is quoted (RFC 5322) or, beyond ASCII, encoded (RFC 2047).
pub(crate) fn from_header(display_name: Option<&str>) -> String {
    let name = display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("AWS Notifications");
    let name = if !name.is_ascii() {
        format!("=?UTF-8?B?{}?=", base64(name.as_bytes()))
    } else if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c))
    {
        name.to_string()
    } else {
        let escaped: String = name
            .chars()
            .filter(|c| !c.is_ascii_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    };
    format!("{name} <no-reply@sns.amazonaws.com>")
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unsubscribe_url(ctx: &Ctx, subscription_arn: &str) -> String {
    format!(
        "https://sns.{}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={}",
        ctx.region, subscription_arn
    )
}

/// The JSON SNS wraps a message in for SQS/HTTP/email-json, with AWS's field order.
pub(crate) fn envelope(
    ctx: &Ctx,
    topic_arn: &str,
    message_id: &str,
    subscription_arn: &str,
    req: &PublishRequest,
) -> Value {
    let mut m = Map::new();
    m.insert("Type".into(), json!("Notification"));
    m.insert("MessageId".into(), json!(message_id));
    m.insert("TopicArn".into(), json!(topic_arn));
    if let Some(subject) = &req.subject {
        m.insert("Subject".into(), json!(subject));
    }
    m.insert("Message".into(), json!(req.message));
    m.insert("Timestamp".into(), json!(rfc3339_millis(ctx.now_ms)));
    m.insert("SignatureVersion".into(), json!("1"));
    m.insert("Signature".into(), json!("TE9DQUwtVU5TSUdORUQ="));
    m.insert(
        "SigningCertURL".into(),
        json!(format!(
            "https://sns.{}.amazonaws.com/SimpleNotificationService-local.pem",
            ctx.region
        )),
    );
    m.insert(
        "UnsubscribeURL".into(),
        json!(unsubscribe_url(ctx, subscription_arn)),
    );
    if !req.attributes.is_empty() {
        let attrs: Map<String, Value> = req
            .attributes
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    json!({"Type": a.data_type, "Value": a.string_value}),
                )
            })
            .collect();
        m.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(m)
}

/// Whether a filter policy lets a message through.
fn filter_accepts(policy: &str, scope: FilterScope, req: &PublishRequest) -> bool {
    let Ok(pattern) = patterns::Pattern::parse(policy) else {
        return false;
    };
    let subject = match scope {
        FilterScope::MessageBody => match serde_json::from_str::<Value>(&req.message) {
            Ok(v @ Value::Object(_)) => v,
            _ => return false,
        },
        FilterScope::MessageAttributes => {
            let attrs: Map<String, Value> = req
                .attributes
                .iter()
                .map(|(k, a)| {
                    let v = match a.data_type.split('.').next().unwrap_or("") {
                        "Number" => serde_json::from_str::<Value>(&a.string_value)
                            .ok()
                            .filter(Value::is_number)
                            .unwrap_or_else(|| json!(a.string_value)),
                        "String" if a.data_type == "String.Array" => {
                            serde_json::from_str::<Value>(&a.string_value)
                                .unwrap_or_else(|_| json!(a.string_value))
                        }
                        _ => json!(a.string_value),
                    };
                    (k.clone(), v)
                })
                .collect();
            Value::Object(attrs)
        }
    };
    pattern.matches_value(&subject)
}
