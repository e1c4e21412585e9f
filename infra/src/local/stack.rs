//! The AWS stack declaration ([`crate::aws::stack::StackSpec`]) in local terms, so
//! `plan --local` / `apply --local` take exactly the input `plan` / `apply` take for AWS.
//!
//! Names become local ARNs (account `000000000000`, the store's region); declared buckets
//! become directories under `<state dir>/buckets/<name>`.

use std::collections::BTreeMap;

use crate::aws::stack::{Destination, Endpoint, NotificationDestination, StackSpec};

use super::apply::{DesiredRule, LocalDesired};
use super::{
    BucketSpec, FilterScope, InputTransformer, LocalError, NotificationSpec, QueueSpec, Redrive,
    Result, RuleSpec, RuleState, Store, SubscriptionSpec, TargetSpec, TopicSpec,
};

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

impl Store {
    /// Translates a stack declaration into what [`Store::apply`] / [`Store::plan`] take.
    pub fn desired_from_stack(&self, spec: &StackSpec) -> Result<LocalDesired> {
        let queue_arn = |name: &str| self.queue_arn(name);
        let topic_arn = |name: &str| self.topic_arn(name);
        let mut out = LocalDesired::default();
        if spec.bus != "default" && !spec.bus.is_empty() {
            out.buses.push(spec.bus.clone());
        }
        let bus = if spec.bus.is_empty() {
            "default".to_string()
        } else {
            spec.bus.clone()
        };
        for q in &spec.queues {
            let what = format!("queue {}", q.name);
            let defaults = QueueSpec::new(q.name.clone());
            out.queues.push(QueueSpec {
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
                    dead_letter_target_arn: queue_arn(&d.queue),
                    max_receive_count: d.max_receive_count,
                }),
                content_based_dedup: attr_bool(&q.attributes, "ContentBasedDeduplication"),
                ..defaults
            });
        }
        for t in &spec.topics {
            let mut topic = TopicSpec::new(t.name.clone());
            topic.fifo |= attr_bool(&t.attributes, "FifoTopic");
            out.topics.push(topic);
        }
        for s in &spec.subscriptions {
            let (protocol, endpoint) = match &s.endpoint {
                Endpoint::Queue(q) => ("sqs".to_string(), queue_arn(q)),
                Endpoint::Other { protocol, endpoint } => (protocol.clone(), endpoint.clone()),
            };
            out.subscriptions.push(SubscriptionSpec {
                topic: topic_arn(&s.topic),
                protocol,
                endpoint,
                raw_message_delivery: attr_bool(&s.attributes, "RawMessageDelivery"),
                filter_policy: s.attributes.get("FilterPolicy").cloned(),
                filter_policy_scope: match s.attributes.get("FilterPolicyScope").map(String::as_str)
                {
                    Some("MessageBody") => FilterScope::MessageBody,
                    _ => FilterScope::MessageAttributes,
                },
            });
        }
        for r in &spec.rules {
            let targets = r
                .targets
                .iter()
                .map(|t| TargetSpec {
                    id: t.id.clone(),
                    arn: match &t.destination {
                        Destination::Queue(q) => queue_arn(q),
                        Destination::Topic(name) => topic_arn(name),
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
                    dead_letter_arn: t.dead_letter_queue.as_deref().map(queue_arn),
                })
                .collect();
            out.rules.push(DesiredRule {
                rule: RuleSpec {
                    bus: bus.clone(),
                    name: r.name.clone(),
                    pattern: r.pattern.clone(),
                    state: if r.enabled {
                        RuleState::Enabled
                    } else {
                        RuleState::Disabled
                    },
                    description: r.description.clone(),
                },
                targets,
            });
        }
        for b in &spec.buckets {
            out.buckets.push(BucketSpec {
                name: b.name.clone(),
                dir: self.dir().join("buckets").join(&b.name),
                eventbridge: b.eventbridge,
                notifications: b
                    .notifications
                    .iter()
                    .map(|n| NotificationSpec {
                        id: n.id.clone(),
                        target_arn: match &n.destination {
                            NotificationDestination::Queue(q) if q.starts_with("arn:") => q.clone(),
                            NotificationDestination::Queue(q) => queue_arn(q),
                            NotificationDestination::Topic(t) if t.starts_with("arn:") => t.clone(),
                            NotificationDestination::Topic(t) => topic_arn(t),
                        },
                        events: n.events.clone(),
                        prefix: n.prefix.clone(),
                        suffix: n.suffix.clone(),
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}
