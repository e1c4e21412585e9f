//! What exists, as a desired state: `bridge graph --live` draws it with the same model and
//! layout as the files (`rules::graph`). Built from what `import` reads on AWS (a bus's
//! rules and the queues and topics they name) with the notification settings of the
//! buckets that concern the project ([`bucket_names`]), or from the local state.

use std::collections::{BTreeMap, BTreeSet};

use rules::desired::{
    Bucket, DeadLetter, Desired, Destination, Endpoint, Notification, NotificationDestination,
    Queue, Rule, Subscription, Target, Topic,
};

use crate::aws::import::ImportFacts;
use crate::aws::read::{bucket_of_arn, BucketFacts};
use crate::aws::s3_notify::NotificationKind;
use crate::local::LocalFacts;

/// A resource that exists: `(kind, name)` with kind `rule`, `queue`, `topic` or `bucket`.
pub type Key = (&'static str, String);

/// What exists, and which of it carries the stack's ownership tags.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub desired: Desired,
    pub owned: BTreeSet<Key>,
}

fn service(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(1)
}

fn last(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_string()
}

/// A destination ARN as the graph names it: a queue or topic by name, else the ARN.
fn destination(arn: &str) -> Destination {
    match service(arn) {
        Some("sqs") => Destination::Queue(last(arn)),
        Some("sns") => Destination::Topic(last(arn)),
        _ => Destination::Arn(arn.to_string()),
    }
}

fn attrs(pairs: &[(&str, bool)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| (k.to_string(), "true".to_string()))
        .collect()
}

/// The buckets `graph --live` draws on AWS (buckets are never listed): the declared ones,
/// and those that the `s3.amazonaws.com` statements (`aws:SourceArn`) name in the policies
/// of the queues and topics the rules name or the project declares — a bucket that
/// delivers to the project, declared or not.
pub fn bucket_names(facts: &ImportFacts, desired: &Desired) -> Vec<String> {
    let named = named_by_rules(facts);
    let policies = facts
        .queues
        .iter()
        .filter(|q| {
            named.contains(q.arn.as_str()) || desired.queues.iter().any(|d| d.name == q.name)
        })
        .filter_map(|q| q.policy())
        .chain(
            facts
                .topics
                .iter()
                .filter(|t| {
                    named.contains(t.arn.as_str())
                        || desired.topics.iter().any(|d| d.name == t.name)
                })
                .filter_map(|t| t.policy()),
        );
    let mut names: BTreeSet<String> = desired.buckets.iter().map(|b| b.name.clone()).collect();
    for policy in policies {
        names.extend(
            s3_source_arns(policy)
                .iter()
                .filter_map(|arn| bucket_of_arn(arn))
                .filter(|name| !name.contains(['*', '?']))
                .map(str::to_string),
        );
    }
    names.into_iter().collect()
}

/// The `aws:SourceArn` values of a policy's statements whose principal is S3.
fn s3_source_arns(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.clone(),
        Some(single @ serde_json::Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for s in &statements {
        let service = s
            .pointer("/Principal/Service")
            .map(strings)
            .unwrap_or_default();
        if !service.iter().any(|x| x == crate::plan::S3) {
            continue;
        }
        let Some(serde_json::Value::Object(ops)) = s.get("Condition") else {
            continue;
        };
        for keys in ops.values() {
            if let serde_json::Value::Object(keys) = keys {
                for (key, values) in keys {
                    if key.eq_ignore_ascii_case("aws:SourceArn") {
                        out.extend(strings(values));
                    }
                }
            }
        }
    }
    out
}

/// The queues and topics (and dead-letter queues) a bus's rules name, by ARN.
fn named_by_rules(facts: &ImportFacts) -> BTreeSet<&str> {
    facts
        .rules
        .iter()
        .flat_map(|r| &r.targets)
        .flat_map(|t| std::iter::once(t.arn.as_str()).chain(t.dead_letter_arn.as_deref()))
        .collect()
}

/// The account as `import` read it (a bus's rules and what they name), and `buckets`' notification
/// settings (with the queues and topics those deliver to).
pub fn from_aws(facts: &ImportFacts, buckets: &[BucketFacts], stack: &str) -> Live {
    let mut live = Live::default();
    let d = &mut live.desired;
    d.stack = stack.to_string();
    d.bus = facts.bus.clone();
    let mut named = named_by_rules(facts);
    named.extend(
        buckets
            .iter()
            .flat_map(|b| &b.notifications.configurations)
            .map(|c| c.arn.as_str()),
    );
    for b in buckets {
        d.buckets.push(Bucket {
            name: b.name.clone(),
            eventbridge: b.notifications.eventbridge,
            notifications: b
                .notifications
                .configurations
                .iter()
                .map(|c| Notification {
                    id: c.id.clone().unwrap_or_default(),
                    destination: match c.kind {
                        NotificationKind::Queue => NotificationDestination::Queue(last(&c.arn)),
                        NotificationKind::Topic => NotificationDestination::Topic(last(&c.arn)),
                        // Drawn as the external ARN it is.
                        NotificationKind::Lambda => NotificationDestination::Queue(c.arn.clone()),
                    },
                    events: c.events.clone(),
                    prefix: c.prefix.clone(),
                    suffix: c.suffix.clone(),
                })
                .collect(),
        });
    }
    for q in facts
        .queues
        .iter()
        .filter(|q| named.contains(q.arn.as_str()))
    {
        let mut attributes = attrs(&[(
            "FifoQueue",
            q.attributes.get("FifoQueue").is_some_and(|v| v == "true"),
        )]);
        if let Some(k) = q.attributes.get("KmsMasterKeyId").filter(|k| !k.is_empty()) {
            attributes.insert("KmsMasterKeyId".into(), k.clone());
        }
        let dead_letter = q
            .attributes
            .get("RedrivePolicy")
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|r| {
                Some(DeadLetter {
                    queue: last(r["deadLetterTargetArn"].as_str()?),
                    max_receive_count: 0,
                })
            });
        d.queues.push(Queue {
            name: q.name.clone(),
            attributes,
            dead_letter,
        });
        if rules::owner::owned_by(&q.tags, stack) {
            live.owned.insert(("queue", q.name.clone()));
        }
    }
    for t in facts
        .topics
        .iter()
        .filter(|t| named.contains(t.arn.as_str()))
    {
        d.topics.push(Topic {
            name: t.name.clone(),
            attributes: BTreeMap::new(),
        });
        for s in &t.subscriptions {
            let endpoint = match (s.protocol.as_str(), service(&s.endpoint)) {
                ("sqs", Some("sqs")) => Endpoint::Queue(last(&s.endpoint)),
                (protocol, _) => Endpoint::Other {
                    protocol: if s.pending {
                        format!("{protocol} (pending)")
                    } else {
                        protocol.to_string()
                    },
                    endpoint: s.endpoint.clone(),
                },
            };
            d.subscriptions.push(Subscription {
                topic: t.name.clone(),
                endpoint,
                attributes: BTreeMap::new(),
            });
        }
        if rules::owner::owned_by(&t.tags, stack) {
            live.owned.insert(("topic", t.name.clone()));
        }
    }
    for r in &facts.rules {
        d.rules.push(Rule {
            name: r.name.clone(),
            pattern: r.event_pattern.clone().filter(|p| !p.is_empty()),
            schedule: r.schedule_expression.clone(),
            bus: r.bus.clone(),
            enabled: r.enabled,
            description: r.description.clone(),
            targets: r
                .targets
                .iter()
                .map(|t| Target {
                    dead_letter_queue: t.dead_letter_arn.as_deref().map(last),
                    input_transformer: t.input_transformer.clone(),
                    ..Target::new(t.id.clone(), destination(&t.arn))
                })
                .collect(),
        });
        if rules::owner::owned_by(&r.tags, stack) {
            live.owned.insert(("rule", r.name.clone()));
        }
    }
    live
}

/// The local state (everything in it is the project's).
pub fn from_local(facts: &LocalFacts, stack: &str, bus: &str) -> Live {
    let mut live = Live::default();
    let d = &mut live.desired;
    d.stack = stack.to_string();
    d.bus = bus.to_string();
    for q in &facts.queues {
        d.queues.push(Queue {
            name: q.name.clone(),
            attributes: attrs(&[("FifoQueue", q.fifo)]),
            dead_letter: q.redrive.as_ref().map(|r| DeadLetter {
                queue: last(&r.dead_letter_target_arn),
                max_receive_count: r.max_receive_count,
            }),
        });
        live.owned.insert(("queue", q.name.clone()));
    }
    for t in &facts.topics {
        d.topics.push(Topic {
            name: t.name.clone(),
            attributes: attrs(&[("FifoTopic", t.fifo)]),
        });
        live.owned.insert(("topic", t.name.clone()));
    }
    for s in &facts.subscriptions {
        let endpoint = match (s.spec.protocol.as_str(), service(&s.spec.endpoint)) {
            ("sqs", Some("sqs")) => Endpoint::Queue(last(&s.spec.endpoint)),
            (protocol, _) => Endpoint::Other {
                protocol: protocol.to_string(),
                endpoint: s.spec.endpoint.clone(),
            },
        };
        d.subscriptions.push(Subscription {
            topic: crate::local::name_from_arn(&s.spec.topic).to_string(),
            endpoint,
            attributes: BTreeMap::new(),
        });
    }
    for (r, targets) in &facts.rules {
        if r.name.starts_with(crate::TAIL_PREFIX) {
            continue;
        }
        d.rules.push(Rule {
            name: r.name.clone(),
            pattern: r.pattern.clone(),
            schedule: r.schedule.clone(),
            bus: r.bus.clone(),
            enabled: r.state == crate::local::RuleState::Enabled,
            description: r.description.clone(),
            targets: targets
                .iter()
                .map(|t| Target {
                    dead_letter_queue: t.dead_letter_arn.as_deref().map(last),
                    input_transformer: t
                        .input_transformer
                        .as_ref()
                        .map(|it| (it.input_paths_map.clone(), it.input_template.clone())),
                    ..Target::new(t.id.clone(), destination(&t.arn))
                })
                .collect(),
        });
        live.owned.insert(("rule", r.name.clone()));
    }
    for b in &facts.buckets {
        d.buckets.push(Bucket {
            name: b.name.clone(),
            eventbridge: b.eventbridge,
            notifications: b
                .notifications
                .iter()
                .map(|n| Notification {
                    id: n.id.clone(),
                    destination: match service(&n.target_arn) {
                        Some("sns") => NotificationDestination::Topic(last(&n.target_arn)),
                        _ => NotificationDestination::Queue(last(&n.target_arn)),
                    },
                    events: n.events.clone(),
                    prefix: n.prefix.clone(),
                    suffix: n.suffix.clone(),
                })
                .collect(),
        });
    }
    live
}

/// The resources `declared` names (rules, queues, topics, buckets), to mark what is not
/// declared.
pub fn declared(desired: &Desired) -> BTreeSet<Key> {
    desired
        .rules
        .iter()
        .map(|r| ("rule", r.name.clone()))
        .chain(desired.queues.iter().map(|q| ("queue", q.name.clone())))
        .chain(desired.topics.iter().map(|t| ("topic", t.name.clone())))
        .chain(desired.buckets.iter().map(|b| ("bucket", b.name.clone())))
        .collect()
}
