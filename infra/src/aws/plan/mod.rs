//! The AWS planner: the diff between the one desired state and the account's facts, as an
//! ordered [`Plan`] of plain-data steps.
//!
//! Ownership decides everything here: a resource is the stack's only if it carries both
//! `managed-by=bridge` and `bridge:stack=<stack>`. Anything else is never changed or
//! deleted — the plan says so in a note instead. One file per resource kind; the order in
//! which they run is [`Planner::run`]'s.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::policy::{self, Grant};
use super::read::{bucket_of_arn, AccountFacts, QueueFacts, RuleFacts, TargetFacts, TopicFacts};
use super::s3_notify::{notification_id, NotificationFacts, NotificationKind};
use crate::arn::{bucket_arn, partition_of};
use crate::plan::{
    changed_attributes, same_json, same_pattern, AttrChange, Note, NotificationChange, Plan,
    PolicyResource, Source, Step, Tagged, EVENTS, S3, SNS,
};
use rules::desired::{
    DeadLetter, Desired, Destination, Endpoint, Notification, NotificationDestination, Target,
};
use rules::owner::{owned_by, MANAGED_BY_KEY, STACK_KEY};

mod buckets;
mod event_rules;
mod policies;
mod queues;
#[cfg(test)]
mod tests;
mod topics;

/// The account id, from any ARN the facts hold (no STS call needed).
pub fn account_of(facts: &AccountFacts) -> Option<String> {
    let arns = facts
        .queues
        .iter()
        .map(|q| q.arn.as_str())
        .chain(facts.topics.iter().map(|t| t.arn.as_str()))
        .chain(facts.rules.iter().map(|r| r.arn.as_str()))
        .chain(facts.bus.iter().map(|b| b.arn.as_str()));
    arns.filter_map(|a| a.split(':').nth(4))
        .find(|a| !a.is_empty())
        .map(str::to_string)
}

/// Computes the plan. `prune` deletes owned resources that are no longer declared.
pub fn plan(spec: &Desired, facts: &AccountFacts, prune: bool) -> Plan {
    let (adopted, steps, notes) = adopt(spec, facts);
    let mut plan = Planner {
        spec,
        facts: &adopted,
        prune,
        steps: Vec::new(),
        notes: Vec::new(),
    }
    .run();
    plan.steps.splice(0..0, steps);
    plan.notes.splice(0..0, notes);
    plan
}

/// The `adopt` list: an Adopt step for each listed resource that exists and is nobody's,
/// and the facts as they will be once adopted (so the rest of the plan manages it). One
/// owned by another stack is never taken (a note says so).
fn adopt(spec: &Desired, facts: &AccountFacts) -> (AccountFacts, Vec<Step>, Vec<Note>) {
    let mut adopted = facts.clone();
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let ours = rules::owner::ownership_tags(&spec.stack);
    let mut take =
        |kind: &'static str, name: &str, tags: &mut BTreeMap<String, String>, resource: Tagged| {
            if owned_by(tags, &spec.stack) {
                return;
            }
            if tags.contains_key(MANAGED_BY_KEY) || tags.contains_key(STACK_KEY) {
                notes.push(Note::NotOwned {
                    kind,
                    name: format!("{name} (another stack's: not adopted)"),
                });
                return;
            }
            tags.extend(ours.clone());
            steps.push(Step::Adopt { resource });
        };
    if spec.adopt.bus {
        if let Some(bus) = adopted.bus.as_mut() {
            let name = bus.name.clone();
            take("event bus", &name, &mut bus.tags, Tagged::Bus(name.clone()));
        }
    }
    for q in adopted
        .queues
        .iter_mut()
        .filter(|q| spec.adopt.queues.contains(&q.name))
    {
        take("queue", &q.name, &mut q.tags, Tagged::Queue(q.name.clone()));
    }
    for t in adopted
        .topics
        .iter_mut()
        .filter(|t| spec.adopt.topics.contains(&t.name))
    {
        take("topic", &t.name, &mut t.tags, Tagged::Topic(t.name.clone()));
    }
    for r in adopted
        .rules
        .iter_mut()
        .filter(|r| spec.adopt.rules.contains(&r.name))
    {
        take("rule", &r.name, &mut r.tags, Tagged::Rule(r.name.clone()));
    }
    (adopted, steps, notes)
}

struct Planner<'a> {
    spec: &'a Desired,
    facts: &'a AccountFacts,
    prune: bool,
    steps: Vec<Step>,
    notes: Vec<Note>,
}

impl<'a> Planner<'a> {
    fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        owned_by(tags, &self.spec.stack)
    }

    fn queue(&self, name: &str) -> Option<&'a QueueFacts> {
        self.facts.queues.iter().find(|q| q.name == name)
    }

    fn topic(&self, name: &str) -> Option<&'a TopicFacts> {
        self.facts.topics.iter().find(|t| t.name == name)
    }

    fn rule(&self, name: &str) -> Option<&'a RuleFacts> {
        self.facts.rules.iter().find(|r| r.name == name)
    }

    fn run(mut self) -> Plan {
        self.bus();
        self.queues();
        self.topics();
        // S3 grants that drop a bucket wait until the bucket no longer names the
        // destination: S3 validates every destination of a document it is given.
        let narrowing = self.grants();
        self.ungranted();
        self.buckets();
        self.steps.extend(narrowing);
        let managed_rules = self.rules();
        self.targets(&managed_rules);
        self.subscriptions();
        self.prune_rules();
        self.prune_topics_and_queues();
        Plan {
            backend: crate::plan::Backend::Aws,
            stack: self.spec.stack.clone(),
            bus: self.spec.bus.clone(),
            steps: self.steps,
            notes: self.notes,
        }
    }

    fn bus(&mut self) {
        if self.spec.bus == "default" {
            return;
        }
        match &self.facts.bus {
            None => self.steps.push(Step::CreateBus {
                name: self.spec.bus.clone(),
            }),
            Some(b) if !self.owns(&b.tags) => self.notes.push(Note::NotOwned {
                kind: "event bus",
                name: b.name.clone(),
            }),
            Some(b) => self.retag(Tagged::Bus(b.name.clone()), &b.tags),
        }
    }

    /// Plans the project's extra tags on an owned resource that stays: declared tags that
    /// differ are set in place; other tags (never the ownership tags or AWS's own `aws:`
    /// ones) are removed only with prune, like anything else no longer declared.
    fn retag(&mut self, resource: Tagged, actual: &BTreeMap<String, String>) {
        let set = changed_attributes(&self.spec.tags, actual);
        let stale: Vec<String> = actual
            .keys()
            .filter(|k| {
                !self.spec.tags.contains_key(*k)
                    && k.as_str() != MANAGED_BY_KEY
                    && k.as_str() != STACK_KEY
                    && !k.starts_with("aws:")
            })
            .cloned()
            .collect();
        let unset = if self.prune {
            stale
        } else {
            for k in stale {
                self.notes.push(Note::WouldPrune {
                    kind: "tag",
                    name: format!("{k} of {resource}"),
                });
            }
            Vec::new()
        };
        if !set.is_empty() || !unset.is_empty() {
            self.steps.push(Step::Retag {
                resource,
                set,
                unset,
            });
        }
    }
}

/// A grant source's ARN: known, or a bucket's (formed in the resource's partition).
enum SourceArn {
    Known(String),
    Bucket(String),
}

impl SourceArn {
    fn in_partition(self, partition: &str) -> String {
        match self {
            SourceArn::Known(arn) => arn,
            SourceArn::Bucket(name) => bucket_arn(partition, &name),
        }
    }
}

/// What differs between the stack's configuration on the bucket and the declaration, as
/// the old values (empty when the same). An unknown destination ARN (a queue still to be
/// created) counts as a change.
fn notification_changes(
    current: &NotificationFacts,
    declared: &Notification,
    resolved: Option<&NotificationFacts>,
) -> Vec<String> {
    let Some(resolved) = resolved else {
        return vec![format!("destination {}", current.arn)];
    };
    if current.same_as(resolved) {
        return Vec::new();
    }
    let mut changes = Vec::new();
    if current.kind != resolved.kind || current.arn != resolved.arn {
        changes.push(format!("destination {}", current.arn));
    }
    let set = |e: &[String]| e.iter().cloned().collect::<BTreeSet<_>>();
    if set(&current.events) != set(&declared.events) {
        changes.push(format!("events {}", current.events.join(", ")));
    }
    let norm = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    for (name, old, new) in [
        ("prefix", &current.prefix, &declared.prefix),
        ("suffix", &current.suffix, &declared.suffix),
    ] {
        if norm(old) != norm(new) {
            changes.push(format!(
                "{name} {}",
                norm(old).unwrap_or_else(|| "(none)".into())
            ));
        }
    }
    changes
}

pub(crate) fn action_for(resource: &PolicyResource) -> &'static str {
    match resource {
        PolicyResource::Queue(_) => "sqs:SendMessage",
        PolicyResource::Topic(_) => "sns:Publish",
    }
}

/// Declared attributes whose actual value differs. Values compare as JSON when both
/// parse (AWS re-serializes JSON-valued attributes), else as text.
fn attr_changes(
    declared: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Vec<AttrChange> {
    declared
        .iter()
        .filter(|(k, v)| {
            !actual
                .get(*k)
                .is_some_and(|a| same_json(Some(a), v) || a == *v)
        })
        .map(|(k, v)| AttrChange {
            key: k.clone(),
            from: actual.get(k).cloned(),
            to: v.clone(),
        })
        .collect()
}

/// Whether an actual `RedrivePolicy` sends to the declared dead-letter queue with the
/// declared count (AWS returns the count as a number or a string).
fn same_redrive(
    actual: Option<&String>,
    declared: &DeadLetter,
    arn_of: impl Fn(&str) -> Option<String>,
) -> bool {
    let Some(actual) = actual.and_then(|a| serde_json::from_str::<Value>(a).ok()) else {
        return false;
    };
    let Some(dlq_arn) = arn_of(&declared.queue) else {
        return false;
    };
    let count = match &actual["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    actual["deadLetterTargetArn"].as_str() == Some(dlq_arn.as_str())
        && count == Some(u64::from(declared.max_receive_count))
}
