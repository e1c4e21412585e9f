//! What exists, as a desired state: `bridge graph --live` draws it with the same model and
//! layout as the files (`rules::graph`). Built from what `import` reads on AWS (a bus's
//! rules and the queues and topics they name) or from the local state.

use std::collections::{BTreeMap, BTreeSet};

use rules::desired::{
    Bucket, DeadLetter, Desired, Destination, Endpoint, Notification, NotificationDestination,
    Queue, Rule, Subscription, Target, Topic,
};

use crate::aws::import::ImportFacts;
use crate::local::LocalFacts;

/// A resource that exists: `(kind, name)` with kind `rule`, `queue` or `topic`.
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

/// The account as `import` read it (a bus's rules and what they name).
pub fn from_aws(facts: &ImportFacts, stack: &str) -> Live {
    let mut live = Live::default();
    let d = &mut live.desired;
    d.stack = stack.to_string();
    d.bus = facts.bus.clone();
    let named: BTreeSet<&str> = facts
        .rules
        .iter()
        .flat_map(|r| &r.targets)
        .flat_map(|t| std::iter::once(t.arn.as_str()).chain(t.dead_letter_arn.as_deref()))
        .collect();
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

/// The resources `declared` names (rules, queues, topics), to mark what is not declared.
pub fn declared(desired: &Desired) -> BTreeSet<Key> {
    desired
        .rules
        .iter()
        .map(|r| ("rule", r.name.clone()))
        .chain(desired.queues.iter().map(|q| ("queue", q.name.clone())))
        .chain(desired.topics.iter().map(|t| ("topic", t.name.clone())))
        .collect()
}
