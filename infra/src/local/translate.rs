//! The one desired state (`rules::desired`) in local terms: names become local ARNs (account
//! `000000000000` unless configured, the project's region), declared buckets become
//! directories under `<state dir>/buckets/<name>`.
//!
//! The local planner compares these values with what the store holds, and the local applier
//! writes them: one translation, used by both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rules::desired::{self, Destination, Endpoint, NotificationDestination};

use crate::aws::s3_notify::notification_id;

use super::{
    BucketSpec, Config, FilterScope, InputTransformer, LocalError, NotificationSpec, QueueSpec,
    Redrive, Result, RuleSpec, RuleState, SubscriptionSpec, TargetSpec, TopicSpec,
};

/// Resolves names against one local state (its region, account and directory).
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'a> {
    pub config: &'a Config,
    pub state_dir: &'a Path,
}

impl Resolver<'_> {
    pub fn queue_arn(&self, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            return name_or_arn.to_string();
        }
        crate::arn::queue_arn(&self.config.region, &self.config.account, name_or_arn)
    }

    pub fn topic_arn(&self, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            return name_or_arn.to_string();
        }
        crate::arn::topic_arn(&self.config.region, &self.config.account, name_or_arn)
    }

    /// Where a declared bucket's objects live.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.state_dir.join("buckets").join(bucket)
    }

    pub fn queue(&self, q: &desired::Queue) -> Result<QueueSpec> {
        let what = format!("queue {}", q.name);
        let defaults = QueueSpec::new(q.name.clone());
        Ok(QueueSpec {
            fifo: attr_bool(&q.attributes, "FifoQueue") || defaults.fifo,
            visibility_timeout_secs: attr_u32(
                &q.attributes,
                "VisibilityTimeout",
                &what,
                defaults.visibility_timeout_secs,
            )?,
            delay_secs: attr_u32(&q.attributes, "DelaySeconds", &what, defaults.delay_secs)?,
            retention_secs: attr_u32(
                &q.attributes,
                "MessageRetentionPeriod",
                &what,
                defaults.retention_secs,
            )?,
            redrive: q.dead_letter.as_ref().map(|d| Redrive {
                dead_letter_target_arn: self.queue_arn(&d.queue),
                max_receive_count: d.max_receive_count,
            }),
            content_based_dedup: attr_bool(&q.attributes, "ContentBasedDeduplication"),
            ..defaults
        })
    }

    pub fn topic(&self, t: &desired::Topic) -> TopicSpec {
        let mut topic = TopicSpec::new(t.name.clone());
        topic.fifo |= attr_bool(&t.attributes, "FifoTopic");
        topic.display_name = t.attributes.get("DisplayName").cloned();
        topic
    }

    pub fn subscription(&self, s: &desired::Subscription) -> SubscriptionSpec {
        let (protocol, endpoint) = match &s.endpoint {
            Endpoint::Queue(q) => ("sqs".to_string(), self.queue_arn(q)),
            Endpoint::Other { protocol, endpoint } => (protocol.clone(), endpoint.clone()),
        };
        SubscriptionSpec {
            topic: self.topic_arn(&s.topic),
            protocol,
            endpoint,
            raw_message_delivery: attr_bool(&s.attributes, "RawMessageDelivery"),
            filter_policy: s.attributes.get("FilterPolicy").cloned(),
            filter_policy_scope: match s.attributes.get("FilterPolicyScope").map(String::as_str) {
                Some("MessageBody") => FilterScope::MessageBody,
                _ => FilterScope::MessageAttributes,
            },
        }
    }

    pub fn rule(&self, r: &desired::Rule) -> RuleSpec {
        RuleSpec {
            bus: r.bus.clone(),
            name: r.name.clone(),
            pattern: r.pattern.clone(),
            schedule: r.schedule.clone(),
            state: if r.enabled {
                RuleState::Enabled
            } else {
                RuleState::Disabled
            },
            description: r.description.clone(),
        }
    }

    pub fn target(&self, t: &desired::Target) -> TargetSpec {
        TargetSpec {
            id: t.id.clone(),
            arn: match &t.destination {
                Destination::Queue(q) => self.queue_arn(q),
                Destination::Topic(name) => self.topic_arn(name),
                Destination::Bus(b) if b.starts_with("arn:") => b.clone(),
                Destination::Bus(name) => {
                    crate::arn::bus_arn(&self.config.region, &self.config.account, name)
                }
                Destination::Arn(a) => a.clone(),
            },
            input: t.input.clone(),
            input_path: t.input_path.clone(),
            input_transformer: t.input_transformer.as_ref().map(|(map, template)| {
                InputTransformer {
                    input_paths_map: map.clone(),
                    input_template: template.clone(),
                }
            }),
            message_group_id: t.message_group_id.clone(),
            dead_letter_arn: t.dead_letter_queue.as_deref().map(|q| self.queue_arn(q)),
        }
    }

    /// A native notification as S3 stores it on the bucket: its `Id` is
    /// `bridge:<stack>:<id>`, as on AWS, so the `s3.configurationId` of the records it sends
    /// is the same on both backends.
    pub fn notification(&self, stack: &str, n: &desired::Notification) -> NotificationSpec {
        NotificationSpec {
            id: notification_id(stack, &n.id),
            target_arn: match &n.destination {
                NotificationDestination::Queue(q) => self.queue_arn(q),
                NotificationDestination::Topic(t) => self.topic_arn(t),
            },
            events: n.events.clone(),
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
        }
    }

    pub fn bucket(&self, stack: &str, b: &desired::Bucket) -> BucketSpec {
        BucketSpec {
            name: b.name.clone(),
            dir: self.bucket_dir(&b.name),
            eventbridge: b.eventbridge,
            notifications: b
                .notifications
                .iter()
                .map(|n| self.notification(stack, n))
                .collect(),
        }
    }
}

/// A queue's settings as SQS attributes, the words the plan uses on both backends.
pub fn queue_attributes(q: &QueueSpec) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([
        (
            "VisibilityTimeout".to_string(),
            q.visibility_timeout_secs.to_string(),
        ),
        ("DelaySeconds".to_string(), q.delay_secs.to_string()),
        (
            "MessageRetentionPeriod".to_string(),
            q.retention_secs.to_string(),
        ),
    ]);
    if q.fifo {
        out.insert("FifoQueue".to_string(), "true".to_string());
        out.insert(
            "ContentBasedDeduplication".to_string(),
            q.content_based_dedup.to_string(),
        );
    }
    out
}

fn attr_u32(attrs: &BTreeMap<String, String>, key: &str, what: &str, default: u32) -> Result<u32> {
    match attrs.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            LocalError::invalid(
                format!("{what} attribute {key}"),
                format!("{v:?} is not a whole number of seconds"),
            )
        }),
    }
}

fn attr_bool(attrs: &BTreeMap<String, String>, key: &str) -> bool {
    attrs
        .get(key)
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false)
}
