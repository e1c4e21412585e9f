//! The diff between what a stack declares and what exists: an ordered list of steps,
//! plain data with a readable (optionally coloured) rendering.
//!
//! Ownership decides everything here: a resource is the stack's only if it carries both
//! `managed-by=bridge` and `bridge:stack=<stack>`. Anything else is never changed or
//! deleted — the plan says so in a note instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::policy::{self, Grant};
use super::read::{bucket_of_arn, AccountFacts, QueueFacts, RuleFacts, TargetFacts, TopicFacts};
use super::s3_notify::{notification_id, NotificationFacts, NotificationKind};
use super::stack::{
    DeadLetter, Destination, Endpoint, NotificationDestination, NotificationSpec, RuleSpec,
    StackSpec, TargetSpec,
};
use super::write::{owned_by, MANAGED_BY_KEY, STACK_KEY};

/// One attribute that changes: `key: from -> to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrChange {
    pub key: String,
    pub from: Option<String>,
    pub to: String,
}

/// A queue or topic whose policy carries a grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicyResource {
    Queue(String),
    Topic(String),
}

/// Who a grant lets in: rules (by name, on the stack's bus), topics or buckets (by name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Rule(String),
    Topic(String),
    Bucket(String),
}

/// The service principals `bridge` grants.
pub const EVENTS: &str = "events.amazonaws.com";
pub const SNS: &str = "sns.amazonaws.com";
pub const S3: &str = "s3.amazonaws.com";

/// A resource whose tags the stack keeps in line with the project's `tags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    Queue(String),
    Topic(String),
    Rule(String),
    Bus(String),
}

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tagged::Queue(n) => write!(f, "queue {n}"),
            Tagged::Topic(n) => write!(f, "topic {n}"),
            Tagged::Rule(n) => write!(f, "rule {n}"),
            Tagged::Bus(n) => write!(f, "event bus {n}"),
        }
    }
}

/// One of the stack's native notifications to create (`new`) or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChange {
    pub spec: NotificationSpec,
    pub new: bool,
    /// What differs from the configuration on the bucket, readably (empty when new).
    pub changes: Vec<String>,
}

/// One change, in the order it must be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateBus {
        name: String,
    },
    CreateQueue {
        name: String,
        attributes: BTreeMap<String, String>,
        dead_letter: Option<DeadLetter>,
    },
    UpdateQueue {
        name: String,
        changes: Vec<AttrChange>,
        /// `Some` when the redrive policy changes (to this dead-letter queue).
        dead_letter: Option<DeadLetter>,
    },
    CreateTopic {
        name: String,
        attributes: BTreeMap<String, String>,
    },
    UpdateTopic {
        name: String,
        changes: Vec<AttrChange>,
    },
    /// Merge `bridge`'s statement for `service` into the resource policy (read-modify-write
    /// at apply time; other statements are kept). Empty `sources` removes the statement.
    Grant {
        resource: PolicyResource,
        service: &'static str,
        sources: Vec<Source>,
    },
    /// Read-modify-write of a bucket's notification document: re-read at apply time, and
    /// every configuration the stack does not own, Lambda ones and the EventBridge flag
    /// are kept.
    ConfigureBucket {
        bucket: String,
        /// Turn on EventBridge delivery (never turned off).
        enable_eventbridge: bool,
        /// The stack's notifications to create or replace.
        put: Vec<NotificationChange>,
        /// Declared ids of the stack's notifications to delete.
        remove: Vec<String>,
    },
    /// Bring the project's extra tags of an owned resource in line (the ownership tags
    /// are never part of this).
    Retag {
        resource: Tagged,
        set: Vec<AttrChange>,
        unset: Vec<String>,
    },
    CreateRule {
        rule: RuleSpec,
    },
    UpdateRule {
        rule: RuleSpec,
        changes: Vec<String>,
    },
    PutTargets {
        rule: String,
        targets: Vec<TargetSpec>,
        /// Ids that are new (the others are updated in place).
        new_ids: BTreeSet<String>,
    },
    RemoveTargets {
        rule: String,
        ids: Vec<String>,
    },
    Subscribe {
        topic: String,
        endpoint: Endpoint,
        attributes: BTreeMap<String, String>,
    },
    /// Declared subscription attributes that differ (raw delivery, filter policy…).
    UpdateSubscription {
        topic: String,
        endpoint: String,
        arn: String,
        changes: Vec<AttrChange>,
    },
    Unsubscribe {
        topic: String,
        arn: String,
        endpoint: String,
    },
    DeleteRule {
        name: String,
        target_ids: Vec<String>,
    },
    DeleteTopic {
        name: String,
    },
    DeleteQueue {
        name: String,
    },
    DeleteBus {
        name: String,
    },
}

impl Step {
    fn symbol(&self) -> char {
        match self {
            Step::CreateBus { .. }
            | Step::CreateQueue { .. }
            | Step::CreateTopic { .. }
            | Step::CreateRule { .. }
            | Step::Subscribe { .. } => '+',
            Step::PutTargets {
                targets, new_ids, ..
            } if new_ids.len() == targets.len() => '+',
            Step::RemoveTargets { .. }
            | Step::Unsubscribe { .. }
            | Step::DeleteRule { .. }
            | Step::DeleteTopic { .. }
            | Step::DeleteQueue { .. }
            | Step::DeleteBus { .. } => '-',
            Step::ConfigureBucket {
                enable_eventbridge: false,
                put,
                remove,
                ..
            } if put.is_empty() => '-',
            Step::ConfigureBucket {
                enable_eventbridge: false,
                put,
                remove,
                ..
            } if remove.is_empty() && put.iter().all(|p| p.new) => '+',
            _ => '~',
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateBus { name } => write!(f, "create event bus {name}"),
            Step::CreateQueue {
                name,
                attributes,
                dead_letter,
            } => {
                write!(f, "create queue {name}")?;
                for (k, v) in attributes {
                    write!(f, "\n      {k} = {v}")?;
                }
                if let Some(d) = dead_letter {
                    write!(
                        f,
                        "\n      dead-letter queue {} after {} receives",
                        d.queue, d.max_receive_count
                    )?;
                }
                Ok(())
            }
            Step::UpdateQueue {
                name,
                changes,
                dead_letter,
            } => {
                write!(f, "update queue {name}")?;
                write_changes(f, changes)?;
                if let Some(d) = dead_letter {
                    write!(
                        f,
                        "\n      dead-letter queue -> {} after {} receives",
                        d.queue, d.max_receive_count
                    )?;
                }
                Ok(())
            }
            Step::CreateTopic { name, attributes } => {
                write!(f, "create topic {name}")?;
                for (k, v) in attributes {
                    write!(f, "\n      {k} = {v}")?;
                }
                Ok(())
            }
            Step::UpdateTopic { name, changes } => {
                write!(f, "update topic {name}")?;
                write_changes(f, changes)
            }
            Step::Grant {
                resource,
                service,
                sources,
            } => {
                let what = match resource {
                    PolicyResource::Queue(q) => format!("queue {q}"),
                    PolicyResource::Topic(t) => format!("topic {t}"),
                };
                if sources.is_empty() {
                    write!(f, "policy of {what}: remove bridge's {service} statement")
                } else {
                    let from: Vec<String> = sources
                        .iter()
                        .map(|s| match s {
                            Source::Rule(r) => format!("rule {r}"),
                            Source::Topic(t) => format!("topic {t}"),
                            Source::Bucket(b) => format!("bucket {b}"),
                        })
                        .collect();
                    write!(
                        f,
                        "policy of {what}: allow {service} only from {} (other statements kept)",
                        from.join(", ")
                    )
                }
            }
            Step::ConfigureBucket {
                bucket,
                enable_eventbridge,
                put,
                remove,
            } => {
                write!(
                    f,
                    "bucket {bucket}: notification settings (configurations of others kept)"
                )?;
                if *enable_eventbridge {
                    write!(f, "\n      send S3 events to EventBridge")?;
                }
                for p in put {
                    let verb = if p.new { "add" } else { "update" };
                    write!(f, "\n      {verb} {}: {}", p.spec.id, describe(&p.spec))?;
                    if !p.changes.is_empty() {
                        write!(f, " (was: {})", p.changes.join("; "))?;
                    }
                }
                for id in remove {
                    write!(f, "\n      remove {id}")?;
                }
                Ok(())
            }
            Step::Retag {
                resource,
                set,
                unset,
            } => {
                write!(f, "tags of {resource}")?;
                write_changes(f, set)?;
                for k in unset {
                    write!(f, "\n      {k}: remove")?;
                }
                Ok(())
            }
            Step::CreateRule { rule } => {
                write!(f, "create rule {}", rule.name)?;
                if !rule.enabled {
                    write!(f, " (disabled)")?;
                }
                write!(f, "\n      pattern {}", compact_json(&rule.pattern))
            }
            Step::UpdateRule { rule, changes } => {
                write!(f, "update rule {}: {}", rule.name, changes.join(", "))?;
                if changes.iter().any(|c| c == "pattern") {
                    write!(f, "\n      pattern {}", compact_json(&rule.pattern))?;
                }
                Ok(())
            }
            Step::PutTargets {
                rule,
                targets,
                new_ids,
            } => {
                write!(f, "targets of rule {rule}:")?;
                for t in targets {
                    let verb = if new_ids.contains(&t.id) {
                        "add"
                    } else {
                        "update"
                    };
                    write!(f, "\n      {verb} {} -> {}", t.id, t.destination)?;
                    if let Some(dlq) = &t.dead_letter_queue {
                        write!(f, " (dead-letter queue {dlq})")?;
                    }
                }
                Ok(())
            }
            Step::RemoveTargets { rule, ids } => {
                write!(f, "remove targets {} of rule {rule}", ids.join(", "))
            }
            Step::Subscribe {
                topic, endpoint, ..
            } => match endpoint {
                Endpoint::Queue(q) => write!(f, "subscribe queue {q} to topic {topic}"),
                Endpoint::Other { protocol, endpoint } => {
                    write!(f, "subscribe {protocol} {endpoint} to topic {topic}")
                }
            },
            Step::UpdateSubscription {
                topic,
                endpoint,
                changes,
                ..
            } => {
                write!(f, "update subscription {endpoint} of topic {topic}")?;
                write_changes(f, changes)
            }
            Step::Unsubscribe {
                topic, endpoint, ..
            } => write!(f, "unsubscribe {endpoint} from topic {topic}"),
            Step::DeleteRule { name, target_ids } => {
                write!(f, "delete rule {name}")?;
                if !target_ids.is_empty() {
                    write!(f, " and its targets {}", target_ids.join(", "))?;
                }
                Ok(())
            }
            Step::DeleteTopic { name } => write!(f, "delete topic {name}"),
            Step::DeleteQueue { name } => write!(f, "delete queue {name}"),
            Step::DeleteBus { name } => write!(f, "delete event bus {name}"),
        }
    }
}

fn write_changes(f: &mut fmt::Formatter<'_>, changes: &[AttrChange]) -> fmt::Result {
    for c in changes {
        write!(
            f,
            "\n      {}: {} -> {}",
            c.key,
            c.from.as_deref().unwrap_or("(unset)"),
            c.to
        )?;
    }
    Ok(())
}

/// `queue uploads on s3:ObjectCreated:* (prefix in/, suffix .csv)`.
fn describe(n: &NotificationSpec) -> String {
    let mut out = format!("{} on {}", n.destination, n.events.join(", "));
    let filters: Vec<String> = [("prefix", &n.prefix), ("suffix", &n.suffix)]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k} {v}"))
        })
        .collect();
    if !filters.is_empty() {
        out.push_str(&format!(" ({})", filters.join(", ")));
    }
    out
}

fn compact_json(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_string())
}

/// Something the plan will not do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Exists with the declared name but is not this stack's: never changed or deleted.
    NotOwned { kind: &'static str, name: String },
    /// Owned and no longer declared: deleted only with `--prune`.
    WouldPrune { kind: &'static str, name: String },
    /// An unconfirmed subscription: neither recreated nor removable until confirmed.
    Pending { topic: String, endpoint: String },
    /// A destination that is neither declared nor found.
    Missing {
        kind: &'static str,
        name: String,
        by: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::NotOwned { kind, name } => write!(
                f,
                "{kind} {name} exists but is not owned by this stack: left unchanged \
                 (never modified or deleted by bridge)"
            ),
            Note::WouldPrune { kind, name } => write!(
                f,
                "{kind} {name} is owned by this stack but no longer declared: \
                 deleted by `apply --prune`"
            ),
            Note::Pending { topic, endpoint } => write!(
                f,
                "subscription of {endpoint} to topic {topic} is pending confirmation \
                 (left as is; confirm it from the message AWS sent)"
            ),
            Note::Missing { kind, name, by } => write!(
                f,
                "{kind} {name} (used by {by}) is neither declared nor found in the account"
            ),
        }
    }
}

/// The whole plan for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsPlan {
    pub stack: String,
    pub bus: String,
    pub steps: Vec<Step>,
    pub notes: Vec<Note>,
}

impl AwsPlan {
    /// No step to apply (notes may remain).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// `(add, change, destroy)` counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for s in &self.steps {
            match s.symbol() {
                '+' => counts.0 += 1,
                '-' => counts.2 += 1,
                _ => counts.1 += 1,
            }
        }
        counts
    }

    /// The plan as text; with `color`, ANSI colours (green add, yellow change, red delete,
    /// dim notes).
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, text: String| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text
            }
        };
        let mut out = format!("Stack {} on event bus {}:\n", self.stack, self.bus);
        for step in &self.steps {
            let sym = step.symbol();
            let code = match sym {
                '+' => "32",
                '-' => "31",
                _ => "33",
            };
            out.push_str(&paint(code, format!("  {sym} {step}")));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&paint("2", format!("  ! {note}")));
            out.push('\n');
        }
        if self.steps.is_empty() {
            out.push_str("No changes. AWS matches the declared state.\n");
        } else {
            let (a, c, d) = self.counts();
            out.push_str(&format!(
                "Plan: {a} to add, {c} to change, {d} to destroy.\n"
            ));
        }
        out
    }
}

impl fmt::Display for AwsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// The ARN of a rule on a bus, as AWS forms it (custom buses add the bus name).
pub fn rule_arn(region: &str, account: &str, bus: &str, rule: &str) -> String {
    if bus == "default" {
        format!("arn:aws:events:{region}:{account}:rule/{rule}")
    } else {
        format!("arn:aws:events:{region}:{account}:rule/{bus}/{rule}")
    }
}

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
pub fn plan(spec: &StackSpec, facts: &AccountFacts, prune: bool) -> AwsPlan {
    Planner {
        spec,
        facts,
        prune,
        steps: Vec::new(),
        notes: Vec::new(),
    }
    .run()
}

struct Planner<'a> {
    spec: &'a StackSpec,
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

    fn run(mut self) -> AwsPlan {
        self.bus();
        self.queues();
        self.topics();
        // S3 grants that drop a bucket wait until the bucket no longer names the
        // destination: S3 validates every destination of a document it is given.
        let narrowing = self.grants();
        self.buckets();
        self.steps.extend(narrowing);
        let managed_rules = self.rules();
        self.targets(&managed_rules);
        self.subscriptions();
        self.prune_rules();
        self.prune_topics_and_queues();
        AwsPlan {
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
        let set: Vec<AttrChange> = self
            .spec
            .tags
            .iter()
            .filter(|(k, v)| actual.get(*k) != Some(*v))
            .map(|(k, v)| AttrChange {
                key: k.clone(),
                from: actual.get(k).cloned(),
                to: v.clone(),
            })
            .collect();
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

    /// Dead-letter queues first, so a redrive policy never points at a missing queue.
    fn queues(&mut self) {
        let dlqs: BTreeSet<&str> = self
            .spec
            .queues
            .iter()
            .filter_map(|q| q.dead_letter.as_ref().map(|d| d.queue.as_str()))
            .collect();
        let mut ordered: Vec<_> = self.spec.queues.iter().collect();
        ordered.sort_by_key(|q| !dlqs.contains(q.name.as_str()));
        for q in ordered {
            match self.queue(&q.name) {
                None => self.steps.push(Step::CreateQueue {
                    name: q.name.clone(),
                    attributes: q.attributes.clone(),
                    dead_letter: q.dead_letter.clone(),
                }),
                Some(actual) if !self.owns(&actual.tags) => self.notes.push(Note::NotOwned {
                    kind: "queue",
                    name: q.name.clone(),
                }),
                Some(actual) => {
                    let changes = attr_changes(&q.attributes, &actual.attributes);
                    let redrive_changed = q.dead_letter.as_ref().is_some_and(|d| {
                        !same_redrive(actual.attributes.get("RedrivePolicy"), d, |name| {
                            if name.starts_with("arn:") {
                                Some(name.to_string())
                            } else {
                                self.queue(name).map(|f| f.arn.clone())
                            }
                        })
                    });
                    if !changes.is_empty() || redrive_changed {
                        self.steps.push(Step::UpdateQueue {
                            name: q.name.clone(),
                            changes,
                            dead_letter: q.dead_letter.clone().filter(|_| redrive_changed),
                        });
                    }
                    self.retag(Tagged::Queue(q.name.clone()), &actual.tags);
                }
            }
        }
    }

    fn topics(&mut self) {
        for t in &self.spec.topics {
            match self.topic(&t.name) {
                None => self.steps.push(Step::CreateTopic {
                    name: t.name.clone(),
                    attributes: t.attributes.clone(),
                }),
                Some(actual) if !self.owns(&actual.tags) => self.notes.push(Note::NotOwned {
                    kind: "topic",
                    name: t.name.clone(),
                }),
                Some(actual) => {
                    let changes = attr_changes(&t.attributes, &actual.attributes);
                    if !changes.is_empty() {
                        self.steps.push(Step::UpdateTopic {
                            name: t.name.clone(),
                            changes,
                        });
                    }
                    self.retag(Tagged::Topic(t.name.clone()), &actual.tags);
                }
            }
        }
    }

    /// Whether a declared queue/topic is (or will be) the stack's to change.
    fn queue_managed(&self, name: &str) -> bool {
        self.spec.queues.iter().any(|q| q.name == name)
            && self.queue(name).is_none_or(|f| self.owns(&f.tags))
    }

    fn topic_managed(&self, name: &str) -> bool {
        self.spec.topics.iter().any(|t| t.name == name)
            && self.topic(name).is_none_or(|f| self.owns(&f.tags))
    }

    /// Rules the stack may write: declared and either missing or owned.
    fn rule_managed(&self, name: &str) -> bool {
        self.spec.rules.iter().any(|r| r.name == name)
            && self.rule(name).is_none_or(|f| self.owns(&f.tags))
    }

    /// The grants every managed queue and topic should carry, from the declarations.
    fn desired_grants(&self) -> BTreeMap<(PolicyResource, &'static str), BTreeSet<Source>> {
        let mut grants: BTreeMap<(PolicyResource, &'static str), BTreeSet<Source>> =
            BTreeMap::new();
        for q in &self.spec.queues {
            if self.queue_managed(&q.name) {
                grants.insert(
                    (PolicyResource::Queue(q.name.clone()), EVENTS),
                    BTreeSet::new(),
                );
            }
        }
        for t in &self.spec.topics {
            if self.topic_managed(&t.name) {
                grants.insert(
                    (PolicyResource::Topic(t.name.clone()), EVENTS),
                    BTreeSet::new(),
                );
                grants.insert((PolicyResource::Topic(t.name.clone()), S3), BTreeSet::new());
            }
        }
        for q in &self.spec.queues {
            if self.queue_managed(&q.name) {
                grants.insert((PolicyResource::Queue(q.name.clone()), S3), BTreeSet::new());
            }
        }
        for b in &self.spec.buckets {
            for n in &b.notifications {
                let resource = match &n.destination {
                    NotificationDestination::Queue(q) => PolicyResource::Queue(q.clone()),
                    NotificationDestination::Topic(t) => PolicyResource::Topic(t.clone()),
                };
                if let Some(set) = grants.get_mut(&(resource, S3)) {
                    set.insert(Source::Bucket(b.name.clone()));
                }
            }
        }
        // Without prune the stack's undeclared notifications stay, and keep delivering.
        if !self.prune {
            for b in &self.facts.buckets {
                for (_, c) in b.notifications.owned(&self.spec.stack) {
                    let resource = match c.kind {
                        NotificationKind::Queue => self
                            .facts
                            .queues
                            .iter()
                            .find(|q| q.arn == c.arn)
                            .map(|q| PolicyResource::Queue(q.name.clone())),
                        NotificationKind::Topic => self
                            .facts
                            .topics
                            .iter()
                            .find(|t| t.arn == c.arn)
                            .map(|t| PolicyResource::Topic(t.name.clone())),
                        NotificationKind::Lambda => None,
                    };
                    if let Some(set) = resource.and_then(|r| grants.get_mut(&(r, S3))) {
                        set.insert(Source::Bucket(b.name.clone()));
                    }
                }
            }
        }
        for rule in &self.spec.rules {
            if !self.rule_managed(&rule.name) {
                continue;
            }
            for t in &rule.targets {
                let mut resources = Vec::new();
                match &t.destination {
                    Destination::Queue(q) => resources.push(PolicyResource::Queue(q.clone())),
                    Destination::Topic(tp) => resources.push(PolicyResource::Topic(tp.clone())),
                    Destination::Arn(_) => {}
                }
                if let Some(dlq) = &t.dead_letter_queue {
                    resources.push(PolicyResource::Queue(dlq.clone()));
                }
                for r in resources {
                    if let Some(set) = grants.get_mut(&(r, EVENTS)) {
                        set.insert(Source::Rule(rule.name.clone()));
                    }
                }
            }
        }
        for s in &self.spec.subscriptions {
            if let Endpoint::Queue(q) = &s.endpoint {
                if self.queue_managed(q) {
                    grants
                        .entry((PolicyResource::Queue(q.clone()), SNS))
                        .or_default()
                        .insert(Source::Topic(s.topic.clone()));
                }
            }
        }
        grants
    }

    /// Plans the grants; returns the S3 grants that drop buckets, to run after the bucket
    /// settings. A grant that both adds and drops buckets is split: the union now, the
    /// final set afterwards.
    fn grants(&mut self) -> Vec<Step> {
        let account = account_of(self.facts);
        let mut narrowing = Vec::new();
        for ((resource, service), sources) in self.desired_grants() {
            let (existing, arn) = match &resource {
                PolicyResource::Queue(q) => match self.queue(q) {
                    Some(f) => (f.policy().map(str::to_string), Some(f.arn.clone())),
                    None => (None, None),
                },
                PolicyResource::Topic(t) => match self.topic(t) {
                    Some(f) => (f.policy().map(str::to_string), Some(f.arn.clone())),
                    None => (None, None),
                },
            };
            let sid = Grant::sid_for(&self.spec.stack, service);
            if service == S3 {
                let had: BTreeSet<Source> = policy::source_arns(existing.as_deref(), &sid)
                    .iter()
                    .filter_map(|a| bucket_of_arn(a))
                    .map(|b| Source::Bucket(b.to_string()))
                    .collect();
                let widen = !sources.is_subset(&had);
                let narrow = !had.is_subset(&sources);
                if widen {
                    self.steps.push(Step::Grant {
                        resource: resource.clone(),
                        service,
                        sources: sources.union(&had).cloned().collect(),
                    });
                }
                if narrow {
                    narrowing.push(Step::Grant {
                        resource: resource.clone(),
                        service,
                        sources: sources.iter().cloned().collect(),
                    });
                }
                if widen || narrow {
                    continue;
                }
            }
            let sources: Vec<Source> = sources.into_iter().collect();
            let needed = match (arn, self.source_arns(&sources)) {
                (Some(arn), Some(source_arns)) => {
                    let grant = Grant {
                        sid,
                        service: service.to_string(),
                        action: action_for(&resource).to_string(),
                        source_arns: source_arns
                            .into_iter()
                            .map(|a| a.in_partition(partition_of(&arn)))
                            .collect(),
                        source_account: if service == S3 { account.clone() } else { None },
                        resource: arn,
                    };
                    // An unreadable policy is left for apply to report, not overwritten.
                    !matches!(policy::merge(existing.as_deref(), &grant), Ok(None))
                }
                // The resource or a source does not exist yet: it will after this apply.
                _ => !sources.is_empty(),
            };
            if needed {
                self.steps.push(Step::Grant {
                    resource,
                    service,
                    sources,
                });
            }
        }
        narrowing
    }

    /// ARNs of the sources, when all of them are known now.
    fn source_arns(&self, sources: &[Source]) -> Option<Vec<SourceArn>> {
        sources
            .iter()
            .map(|s| match s {
                // A rule not created yet has no ARN to compare with: the grant is needed.
                Source::Rule(r) => self.rule(r).map(|f| SourceArn::Known(f.arn.clone())),
                Source::Topic(t) => self.topic(t).map(|f| SourceArn::Known(f.arn.clone())),
                Source::Bucket(b) => Some(SourceArn::Bucket(b.clone())),
            })
            .collect()
    }

    /// The notification as S3 would hold it, when its destination's ARN is known now.
    fn resolve_notification(&self, n: &NotificationSpec) -> Option<NotificationFacts> {
        let (kind, arn) = match &n.destination {
            NotificationDestination::Queue(q) if q.starts_with("arn:") => {
                (NotificationKind::Queue, q.clone())
            }
            NotificationDestination::Queue(q) => {
                (NotificationKind::Queue, self.queue(q)?.arn.clone())
            }
            NotificationDestination::Topic(t) if t.starts_with("arn:") => {
                (NotificationKind::Topic, t.clone())
            }
            NotificationDestination::Topic(t) => {
                (NotificationKind::Topic, self.topic(t)?.arn.clone())
            }
        };
        Some(NotificationFacts {
            id: Some(notification_id(&self.spec.stack, &n.id)),
            kind,
            arn,
            events: n.events.clone(),
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
        })
    }

    /// Declared notifications are created or replaced by id; the stack's undeclared ones
    /// are removed with prune (noted otherwise), also on buckets no longer declared.
    fn buckets(&mut self) {
        let stack = self.spec.stack.as_str();
        for b in &self.spec.buckets {
            let actual = self
                .facts
                .buckets
                .iter()
                .find(|f| f.name == b.name)
                .map(|f| &f.notifications);
            let enable = b.eventbridge && !actual.is_some_and(|a| a.eventbridge);
            let owned: BTreeMap<&str, &NotificationFacts> =
                actual.map(|a| a.owned(stack).collect()).unwrap_or_default();
            let mut put = Vec::new();
            for n in &b.notifications {
                self.check_notification_destination(n, &b.name);
                match owned.get(n.id.as_str()) {
                    None => put.push(NotificationChange {
                        spec: n.clone(),
                        new: true,
                        changes: Vec::new(),
                    }),
                    Some(current) => {
                        let changes =
                            notification_changes(current, n, self.resolve_notification(n).as_ref());
                        if !changes.is_empty() {
                            put.push(NotificationChange {
                                spec: n.clone(),
                                new: false,
                                changes,
                            });
                        }
                    }
                }
            }
            let stale: Vec<String> = owned
                .keys()
                .filter(|id| !b.notifications.iter().any(|n| n.id == **id))
                .map(|id| id.to_string())
                .collect();
            let remove = self.prune_notifications(stale, &b.name);
            if enable || !put.is_empty() || !remove.is_empty() {
                self.steps.push(Step::ConfigureBucket {
                    bucket: b.name.clone(),
                    enable_eventbridge: enable,
                    put,
                    remove,
                });
            }
        }
        // Buckets found through the stack's own S3 grants but no longer declared.
        for f in &self.facts.buckets {
            if self.spec.buckets.iter().any(|b| b.name == f.name) {
                continue;
            }
            let stale: Vec<String> = f
                .notifications
                .owned(stack)
                .map(|(id, _)| id.to_string())
                .collect();
            let remove = self.prune_notifications(stale, &f.name);
            if !remove.is_empty() {
                self.steps.push(Step::ConfigureBucket {
                    bucket: f.name.clone(),
                    enable_eventbridge: false,
                    put: Vec::new(),
                    remove,
                });
            }
        }
    }

    fn prune_notifications(&mut self, stale: Vec<String>, bucket: &str) -> Vec<String> {
        if self.prune {
            return stale;
        }
        for id in stale {
            self.notes.push(Note::WouldPrune {
                kind: "notification",
                name: format!("{id} of bucket {bucket}"),
            });
        }
        Vec::new()
    }

    fn check_notification_destination(&mut self, n: &NotificationSpec, bucket: &str) {
        let (kind, name, declared, found) = match &n.destination {
            NotificationDestination::Queue(q) if !q.starts_with("arn:") => (
                "queue",
                q,
                self.spec.queues.iter().any(|d| &d.name == q),
                self.queue(q).is_some(),
            ),
            NotificationDestination::Topic(t) if !t.starts_with("arn:") => (
                "topic",
                t,
                self.spec.topics.iter().any(|d| &d.name == t),
                self.topic(t).is_some(),
            ),
            _ => return,
        };
        if !declared && !found {
            self.notes.push(Note::Missing {
                kind,
                name: name.clone(),
                by: format!("notification {} of bucket {bucket}", n.id),
            });
        }
    }

    /// Creates/updates rules; returns the names whose targets the stack manages.
    fn rules(&mut self) -> Vec<String> {
        let mut managed = Vec::new();
        for rule in &self.spec.rules {
            match self.rule(&rule.name) {
                None => {
                    self.steps.push(Step::CreateRule { rule: rule.clone() });
                    managed.push(rule.name.clone());
                }
                Some(actual) if !self.owns(&actual.tags) => self.notes.push(Note::NotOwned {
                    kind: "rule",
                    name: rule.name.clone(),
                }),
                Some(actual) => {
                    let mut changes = Vec::new();
                    if !same_json(actual.event_pattern.as_deref(), &rule.pattern) {
                        changes.push("pattern".to_string());
                    }
                    if actual.enabled != rule.enabled {
                        changes.push(if rule.enabled { "enable" } else { "disable" }.to_string());
                    }
                    let actual_description =
                        actual.description.as_deref().filter(|d| !d.is_empty());
                    if actual_description != rule.description.as_deref() {
                        changes.push("description".to_string());
                    }
                    if !changes.is_empty() {
                        self.steps.push(Step::UpdateRule {
                            rule: rule.clone(),
                            changes,
                        });
                    }
                    self.retag(Tagged::Rule(rule.name.clone()), &actual.tags);
                    managed.push(rule.name.clone());
                }
            }
        }
        managed
    }

    fn targets(&mut self, managed_rules: &[String]) {
        for name in managed_rules {
            let Some(rule) = self.spec.rules.iter().find(|r| &r.name == name) else {
                continue;
            };
            let actual = self.rule(name).map(|r| r.targets.as_slice()).unwrap_or(&[]);
            let mut put = Vec::new();
            let mut new_ids = BTreeSet::new();
            for t in &rule.targets {
                self.check_destination(t, name);
                match actual.iter().find(|a| a.id == t.id) {
                    None => {
                        new_ids.insert(t.id.clone());
                        put.push(t.clone());
                    }
                    Some(a) => {
                        if self.resolve_target(t).as_ref() != Some(a) {
                            put.push(t.clone());
                        }
                    }
                }
            }
            if !put.is_empty() {
                self.steps.push(Step::PutTargets {
                    rule: name.clone(),
                    targets: put,
                    new_ids,
                });
            }
            let stale: Vec<String> = actual
                .iter()
                .filter(|a| !rule.targets.iter().any(|t| t.id == a.id))
                .map(|a| a.id.clone())
                .collect();
            if !stale.is_empty() {
                if self.prune {
                    self.steps.push(Step::RemoveTargets {
                        rule: name.clone(),
                        ids: stale,
                    });
                } else {
                    for id in stale {
                        self.notes.push(Note::WouldPrune {
                            kind: "target",
                            name: format!("{id} of rule {name}"),
                        });
                    }
                }
            }
        }
    }

    fn check_destination(&mut self, t: &TargetSpec, rule: &str) {
        let (kind, name, declared, found) = match &t.destination {
            Destination::Queue(q) => (
                "queue",
                q,
                self.spec.queues.iter().any(|d| &d.name == q),
                self.queue(q).is_some(),
            ),
            Destination::Topic(tp) => (
                "topic",
                tp,
                self.spec.topics.iter().any(|d| &d.name == tp),
                self.topic(tp).is_some(),
            ),
            Destination::Arn(_) => return,
        };
        if !declared && !found {
            self.notes.push(Note::Missing {
                kind,
                name: name.clone(),
                by: format!("rule {rule}"),
            });
        }
    }

    /// The target as AWS would list it, when every ARN it needs is known now.
    fn resolve_target(&self, t: &TargetSpec) -> Option<TargetFacts> {
        let arn = match &t.destination {
            Destination::Queue(q) => self.queue(q)?.arn.clone(),
            Destination::Topic(tp) => self.topic(tp)?.arn.clone(),
            Destination::Arn(a) => a.clone(),
        };
        let dead_letter_arn = match &t.dead_letter_queue {
            Some(q) if q.starts_with("arn:") => Some(q.clone()),
            Some(q) => Some(self.queue(q)?.arn.clone()),
            None => None,
        };
        Some(TargetFacts {
            id: t.id.clone(),
            arn,
            input: t.input.clone(),
            input_path: t.input_path.clone(),
            input_transformer: t.input_transformer.clone(),
            dead_letter_arn,
            message_group_id: t.message_group_id.clone(),
            maximum_retry_attempts: t.maximum_retry_attempts,
            maximum_event_age_seconds: t.maximum_event_age_seconds,
        })
    }

    fn subscriptions(&mut self) {
        for s in &self.spec.subscriptions {
            // A subscription changes its topic: never on a topic the stack does not own
            // (the topic's own note already says it is left unchanged).
            if self.topic(&s.topic).is_some_and(|t| !self.owns(&t.tags)) {
                continue;
            }
            let endpoint = match &s.endpoint {
                Endpoint::Queue(q) => self.queue(q).map(|f| f.arn.clone()),
                Endpoint::Other { endpoint, .. } => Some(endpoint.clone()),
            };
            let existing = self.topic(&s.topic).and_then(|topic| {
                let endpoint = endpoint.as_deref()?;
                topic
                    .subscriptions
                    .iter()
                    .find(|x| x.protocol == s.endpoint.protocol() && x.endpoint == endpoint)
            });
            match existing {
                Some(found) if found.pending => self.notes.push(Note::Pending {
                    topic: s.topic.clone(),
                    endpoint: found.endpoint.clone(),
                }),
                Some(found) => {
                    // Attributes are read only on the stack's own topics.
                    let owned = self.topic(&s.topic).is_some_and(|t| self.owns(&t.tags));
                    let changes = attr_changes(&s.attributes, &found.attributes);
                    if let (true, Some(arn), false) = (owned, &found.arn, changes.is_empty()) {
                        self.steps.push(Step::UpdateSubscription {
                            topic: s.topic.clone(),
                            endpoint: format!("{} {}", found.protocol, found.endpoint),
                            arn: arn.clone(),
                            changes,
                        });
                    }
                }
                None => self.steps.push(Step::Subscribe {
                    topic: s.topic.clone(),
                    endpoint: s.endpoint.clone(),
                    attributes: s.attributes.clone(),
                }),
            }
        }
        // Undeclared subscriptions on the stack's own topics (deleting a topic removes
        // its subscriptions, so only topics that stay are looked at).
        for topic in &self.facts.topics {
            if !self.owns(&topic.tags) || !self.spec.topics.iter().any(|t| t.name == topic.name) {
                continue;
            }
            for sub in &topic.subscriptions {
                let declared = self.spec.subscriptions.iter().any(|s| {
                    s.topic == topic.name
                        && s.endpoint.protocol() == sub.protocol
                        && match &s.endpoint {
                            Endpoint::Queue(q) => {
                                self.queue(q).is_some_and(|f| f.arn == sub.endpoint)
                            }
                            Endpoint::Other { endpoint, .. } => endpoint == &sub.endpoint,
                        }
                });
                if declared {
                    continue;
                }
                match (&sub.arn, self.prune) {
                    (Some(arn), true) => self.steps.push(Step::Unsubscribe {
                        topic: topic.name.clone(),
                        arn: arn.clone(),
                        endpoint: format!("{} {}", sub.protocol, sub.endpoint),
                    }),
                    (None, _) => self.notes.push(Note::Pending {
                        topic: topic.name.clone(),
                        endpoint: sub.endpoint.clone(),
                    }),
                    (Some(_), false) => self.notes.push(Note::WouldPrune {
                        kind: "subscription",
                        name: format!("{} {} on topic {}", sub.protocol, sub.endpoint, topic.name),
                    }),
                }
            }
        }
    }

    fn prune_rules(&mut self) {
        for rule in &self.facts.rules {
            if !self.owns(&rule.tags) || self.spec.rules.iter().any(|r| r.name == rule.name) {
                continue;
            }
            if self.prune {
                self.steps.push(Step::DeleteRule {
                    name: rule.name.clone(),
                    target_ids: rule.targets.iter().map(|t| t.id.clone()).collect(),
                });
            } else {
                self.notes.push(Note::WouldPrune {
                    kind: "rule",
                    name: rule.name.clone(),
                });
            }
        }
    }

    fn prune_topics_and_queues(&mut self) {
        let mut doomed = Vec::new();
        for t in &self.facts.topics {
            if self.owns(&t.tags) && !self.spec.topics.iter().any(|d| d.name == t.name) {
                doomed.push(("topic", t.name.clone()));
            }
        }
        // Queues that are dead-letter targets of other doomed queues go last.
        let mut queues: Vec<&QueueFacts> = self
            .facts
            .queues
            .iter()
            .filter(|q| self.owns(&q.tags) && !self.spec.queues.iter().any(|d| d.name == q.name))
            .collect();
        queues.sort_by_key(|q| !q.attributes.contains_key("RedrivePolicy"));
        for q in queues {
            doomed.push(("queue", q.name.clone()));
        }
        for (kind, name) in doomed {
            if self.prune {
                self.steps.push(if kind == "topic" {
                    Step::DeleteTopic { name }
                } else {
                    Step::DeleteQueue { name }
                });
            } else {
                self.notes.push(Note::WouldPrune { kind, name });
            }
        }
        if self.prune && self.spec.bus != "default" && self.spec.rules.is_empty() {
            if let Some(bus) = &self.facts.bus {
                let foreign_rules = self.facts.rules.iter().any(|r| !self.owns(&r.tags));
                if self.owns(&bus.tags) && !foreign_rules {
                    self.steps.push(Step::DeleteBus {
                        name: bus.name.clone(),
                    });
                }
            }
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

/// `arn:<partition>:s3:::<bucket>`.
pub(crate) fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`).
pub(crate) fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// What differs between the stack's configuration on the bucket and the declaration, as
/// the old values (empty when the same). An unknown destination ARN (a queue still to be
/// created) counts as a change.
fn notification_changes(
    current: &NotificationFacts,
    declared: &NotificationSpec,
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

/// JSON equality of two documents (text equality when either is not JSON).
pub(crate) fn same_json(actual: Option<&str>, declared: &str) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    match (
        serde_json::from_str::<Value>(actual),
        serde_json::from_str::<Value>(declared),
    ) {
        (Ok(a), Ok(d)) => a == d,
        _ => actual == declared,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::read::{BucketFacts, SubscriptionFacts};
    use crate::aws::s3_notify::BucketNotifications;
    use crate::aws::stack::{BucketSpec, QueueSpec, SubscriptionSpec, TopicSpec};
    use crate::aws::write::ownership_tags;

    const ACCOUNT: &str = "111122223333";

    fn queue(name: &str, tags: BTreeMap<String, String>) -> QueueFacts {
        let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
        QueueFacts {
            name: name.into(),
            url: format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}"),
            attributes: BTreeMap::from([("QueueArn".to_string(), arn.clone())]),
            arn,
            tags,
        }
    }

    fn topic(name: &str, subs: Vec<SubscriptionFacts>) -> TopicFacts {
        TopicFacts {
            name: name.into(),
            arn: format!("arn:aws:sns:us-east-1:{ACCOUNT}:{name}"),
            attributes: BTreeMap::new(),
            tags: ownership_tags("shop"),
            subscriptions: subs,
        }
    }

    fn email_spec(topic: &str, address: &str) -> SubscriptionSpec {
        SubscriptionSpec {
            topic: topic.into(),
            endpoint: Endpoint::Other {
                protocol: "email".into(),
                endpoint: address.into(),
            },
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn a_pending_email_subscription_is_never_recreated() {
        let pending = SubscriptionFacts {
            arn: None,
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
            pending: true,
            attributes: BTreeMap::new(),
        };
        let facts = AccountFacts {
            topics: vec![topic("alerts", vec![pending])],
            ..AccountFacts::default()
        };
        let spec = StackSpec {
            topics: vec![TopicSpec {
                name: "alerts".into(),
                attributes: BTreeMap::new(),
            }],
            subscriptions: vec![email_spec("alerts", "ops@example.com")],
            ..StackSpec::empty("shop", "default")
        };
        let plan = plan(&spec, &facts, true);
        assert!(plan.is_empty(), "{plan}");
        assert!(
            plan.notes.iter().any(|n| matches!(n, Note::Pending { .. })),
            "{plan}"
        );
        assert!(plan.render(false).contains("pending confirmation"));

        // Undeclared and pending: cannot be removed either, even with prune.
        let spec = StackSpec {
            subscriptions: vec![],
            ..spec
        };
        let plan = super::plan(&spec, &facts, true);
        assert!(plan.is_empty(), "{plan}");
        assert!(plan.notes.iter().any(|n| matches!(n, Note::Pending { .. })));
    }

    #[test]
    fn unowned_and_other_stacks_resources_are_only_noted() {
        let facts = AccountFacts {
            queues: vec![
                queue("theirs", BTreeMap::new()),
                queue("other-stack", ownership_tags("billing")),
                queue("ours-old", ownership_tags("shop")),
            ],
            ..AccountFacts::default()
        };
        let spec = StackSpec {
            queues: vec![QueueSpec {
                name: "theirs".into(),
                attributes: BTreeMap::from([("VisibilityTimeout".into(), "5".into())]),
                dead_letter: None,
            }],
            ..StackSpec::empty("shop", "default")
        };
        let pruned = plan(&spec, &facts, true);
        assert_eq!(
            pruned.steps,
            vec![Step::DeleteQueue {
                name: "ours-old".into()
            }],
            "{pruned}"
        );
        assert!(pruned.notes.contains(&Note::NotOwned {
            kind: "queue",
            name: "theirs".into()
        }));
        let kept = plan(&spec, &facts, false);
        assert!(kept.is_empty(), "{kept}");
        assert!(kept.notes.contains(&Note::WouldPrune {
            kind: "queue",
            name: "ours-old".into()
        }));
        assert!(kept.render(false).contains("apply --prune"));
    }

    #[test]
    fn no_subscription_is_added_to_a_topic_the_stack_does_not_own() {
        let mut foreign = topic("alerts", vec![]);
        foreign.tags = BTreeMap::new();
        let facts = AccountFacts {
            topics: vec![foreign],
            ..AccountFacts::default()
        };
        let spec = StackSpec {
            topics: vec![TopicSpec {
                name: "alerts".into(),
                attributes: BTreeMap::new(),
            }],
            subscriptions: vec![email_spec("alerts", "ops@example.com")],
            ..StackSpec::empty("shop", "default")
        };
        let p = plan(&spec, &facts, true);
        assert!(p.is_empty(), "{p}");
        assert!(p.notes.contains(&Note::NotOwned {
            kind: "topic",
            name: "alerts".into()
        }));
    }

    #[test]
    fn buckets_are_enabled_only_when_off_and_never_disabled() {
        let bucket = |name: &str, on: bool| BucketFacts {
            name: name.into(),
            notifications: BucketNotifications {
                eventbridge: on,
                configurations: vec![foreign_config()],
            },
        };
        let facts = AccountFacts {
            buckets: vec![bucket("on", true), bucket("off", false)],
            ..AccountFacts::default()
        };
        let spec = StackSpec {
            buckets: vec![
                BucketSpec::eventbridge("on"),
                BucketSpec::eventbridge("off"),
            ],
            ..StackSpec::empty("shop", "default")
        };
        let p = plan(&spec, &facts, true);
        assert_eq!(
            p.steps,
            vec![Step::ConfigureBucket {
                bucket: "off".into(),
                enable_eventbridge: true,
                put: vec![],
                remove: vec![],
            }]
        );
        assert!(p.render(false).contains("send S3 events to EventBridge"));
        // A bucket holding none of the stack's configurations is never changed.
        let none = plan(&StackSpec::empty("shop", "default"), &facts, true);
        assert!(none.is_empty(), "{none}");
    }

    const UPLOADS_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:uploads";

    fn foreign_config() -> NotificationFacts {
        NotificationFacts {
            id: Some("theirs".into()),
            kind: NotificationKind::Queue,
            arn: "arn:aws:sqs:us-east-1:111122223333:theirs".into(),
            events: vec!["s3:ObjectRemoved:*".into()],
            prefix: None,
            suffix: None,
        }
    }

    fn uploads_spec(prefix: &str) -> NotificationSpec {
        NotificationSpec {
            id: "uploads".into(),
            destination: NotificationDestination::Queue("uploads".into()),
            events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
            prefix: Some(prefix.into()),
            suffix: None,
        }
    }

    /// The configuration as AWS hands it back: rule name `Prefix`, events reordered.
    fn uploads_config(id: &str, prefix: &str) -> NotificationFacts {
        NotificationFacts {
            id: Some(id.into()),
            kind: NotificationKind::Queue,
            arn: UPLOADS_ARN.into(),
            events: vec!["s3:ObjectRemoved:*".into(), "s3:ObjectCreated:*".into()],
            prefix: Some(prefix.into()),
            suffix: Some(String::new()),
        }
    }

    /// The stack's uploads queue, with an S3 grant for `buckets`.
    fn uploads_queue(buckets: &[&str]) -> QueueFacts {
        let mut q = queue("uploads", ownership_tags("shop"));
        if !buckets.is_empty() {
            let grant = Grant {
                sid: Grant::sid_for("shop", S3),
                service: S3.into(),
                action: "sqs:SendMessage".into(),
                resource: UPLOADS_ARN.into(),
                source_arns: buckets.iter().map(|b| bucket_arn("aws", b)).collect(),
                source_account: Some(ACCOUNT.into()),
            };
            let doc = policy::merge(None, &grant).unwrap().unwrap();
            q.attributes.insert("Policy".into(), doc);
        }
        q
    }

    fn notifying_spec(prefix: &str) -> StackSpec {
        StackSpec {
            queues: vec![QueueSpec {
                name: "uploads".into(),
                ..QueueSpec::default()
            }],
            buckets: vec![BucketSpec {
                name: "raw".into(),
                eventbridge: false,
                notifications: vec![uploads_spec(prefix)],
            }],
            ..StackSpec::empty("shop", "default")
        }
    }

    fn bucket_with(configs: Vec<NotificationFacts>) -> BucketFacts {
        BucketFacts {
            name: "raw".into(),
            notifications: BucketNotifications {
                eventbridge: false,
                configurations: configs,
            },
        }
    }

    #[test]
    fn a_new_notification_is_granted_before_the_bucket_is_written() {
        let facts = AccountFacts {
            queues: vec![uploads_queue(&[])],
            buckets: vec![bucket_with(vec![foreign_config()])],
            ..AccountFacts::default()
        };
        let p = plan(&notifying_spec("in/"), &facts, false);
        assert_eq!(
            p.steps,
            vec![
                Step::Grant {
                    resource: PolicyResource::Queue("uploads".into()),
                    service: S3,
                    sources: vec![Source::Bucket("raw".into())],
                },
                Step::ConfigureBucket {
                    bucket: "raw".into(),
                    enable_eventbridge: false,
                    put: vec![NotificationChange {
                        spec: uploads_spec("in/"),
                        new: true,
                        changes: vec![],
                    }],
                    remove: vec![],
                },
            ],
            "{p}"
        );
        let text = p.render(false);
        assert!(
            text.contains("allow s3.amazonaws.com only from bucket raw"),
            "{text}"
        );
        assert!(
            text.contains(
                "add uploads: queue uploads on s3:ObjectCreated:*, s3:ObjectRemoved:* (prefix in/)"
            ),
            "{text}"
        );
        assert_eq!(p.counts(), (1, 1, 0));
    }

    #[test]
    fn an_equivalent_notification_is_no_change_and_a_new_prefix_is_an_update() {
        let ours = notification_id("shop", "uploads");
        let facts = AccountFacts {
            queues: vec![uploads_queue(&["raw"])],
            buckets: vec![bucket_with(vec![
                foreign_config(),
                uploads_config(&ours, "in/"),
            ])],
            ..AccountFacts::default()
        };
        let same = plan(&notifying_spec("in/"), &facts, true);
        assert!(same.is_empty(), "{same}");

        let changed = plan(&notifying_spec("incoming/"), &facts, true);
        assert_eq!(changed.steps.len(), 1, "{changed}");
        let Step::ConfigureBucket { put, remove, .. } = &changed.steps[0] else {
            panic!("{changed}");
        };
        assert!(remove.is_empty());
        assert_eq!(put[0].changes, vec!["prefix in/".to_string()]);
        assert!(!put[0].new);
        assert!(
            changed.render(false).contains("update uploads:"),
            "{changed}"
        );
        assert!(
            changed.render(false).contains("(was: prefix in/)"),
            "{changed}"
        );
    }

    #[test]
    fn only_the_stacks_undeclared_notifications_are_pruned() {
        let facts = AccountFacts {
            queues: vec![uploads_queue(&["raw"])],
            buckets: vec![bucket_with(vec![
                foreign_config(),
                uploads_config(&notification_id("shop", "uploads"), "in/"),
                uploads_config(&notification_id("shop", "old"), "old/"),
                uploads_config(&notification_id("shop-eu", "old"), "old/"),
                uploads_config("bridge-shop-old", "old/"),
            ])],
            ..AccountFacts::default()
        };
        let spec = notifying_spec("in/");
        let kept = plan(&spec, &facts, false);
        assert!(kept.is_empty(), "{kept}");
        // Nothing declared on the bucket any more: without prune the configuration stays,
        // and so does the grant it needs.
        let mut bare = spec.clone();
        bare.buckets.clear();
        let bare_plan = plan(&bare, &facts, false);
        assert!(bare_plan.is_empty(), "{bare_plan}");
        assert_eq!(bare_plan.notes.len(), 2, "{bare_plan}");
        assert_eq!(
            kept.notes,
            vec![Note::WouldPrune {
                kind: "notification",
                name: "old of bucket raw".into()
            }]
        );
        let pruned = plan(&spec, &facts, true);
        assert_eq!(
            pruned.steps,
            vec![Step::ConfigureBucket {
                bucket: "raw".into(),
                enable_eventbridge: false,
                put: vec![],
                remove: vec!["old".into()],
            }],
            "{pruned}"
        );
        assert_eq!(pruned.counts(), (0, 0, 1));
    }

    #[test]
    fn destroy_removes_notifications_before_the_queue_and_dropped_buckets_lose_the_grant_after() {
        let ours = notification_id("shop", "uploads");
        let facts = AccountFacts {
            queues: vec![uploads_queue(&["raw"])],
            // Found through the grant: no longer declared.
            buckets: vec![bucket_with(vec![
                foreign_config(),
                uploads_config(&ours, "in/"),
            ])],
            ..AccountFacts::default()
        };
        let destroy = plan(&StackSpec::empty("shop", "default"), &facts, true);
        assert_eq!(
            destroy.steps,
            vec![
                Step::ConfigureBucket {
                    bucket: "raw".into(),
                    enable_eventbridge: false,
                    put: vec![],
                    remove: vec!["uploads".into()],
                },
                Step::DeleteQueue {
                    name: "uploads".into()
                },
            ],
            "{destroy}"
        );

        // The bucket is swapped for another: grant both, write both buckets, then grant
        // only the new one.
        let mut spec = notifying_spec("in/");
        spec.buckets[0].name = "fresh".into();
        let swap = plan(&spec, &facts, true);
        let kinds: Vec<String> = swap
            .steps
            .iter()
            .map(|s| match s {
                Step::Grant { sources, .. } => format!("grant {sources:?}"),
                Step::ConfigureBucket { bucket, .. } => format!("bucket {bucket}"),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                r#"grant [Bucket("fresh"), Bucket("raw")]"#.to_string(),
                "bucket fresh".into(),
                "bucket raw".into(),
                r#"grant [Bucket("fresh")]"#.into(),
            ],
            "{swap}"
        );
    }

    #[test]
    fn project_tags_drift_is_set_in_place_and_undeclared_tags_go_only_with_prune() {
        let mut tags = ownership_tags("shop");
        tags.insert("team".into(), "web".into());
        tags.insert("cost-center".into(), "42".into());
        tags.insert("aws:cloudformation:stack-name".into(), "x".into());
        let facts = AccountFacts {
            queues: vec![queue("orders", tags.clone())],
            ..AccountFacts::default()
        };
        let spec = StackSpec {
            queues: vec![QueueSpec {
                name: "orders".into(),
                ..QueueSpec::default()
            }],
            tags: BTreeMap::from([
                ("team".to_string(), "data".to_string()),
                ("env".to_string(), "prod".to_string()),
            ]),
            ..StackSpec::empty("shop", "default")
        };
        let p = plan(&spec, &facts, false);
        let retag: Vec<&Step> = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Retag { .. }))
            .collect();
        assert_eq!(
            retag,
            vec![&Step::Retag {
                resource: Tagged::Queue("orders".into()),
                set: vec![
                    AttrChange {
                        key: "env".into(),
                        from: None,
                        to: "prod".into()
                    },
                    AttrChange {
                        key: "team".into(),
                        from: Some("web".into()),
                        to: "data".into()
                    },
                ],
                unset: vec![],
            }],
            "{p}"
        );
        assert!(p.notes.contains(&Note::WouldPrune {
            kind: "tag",
            name: "cost-center of queue orders".into()
        }));
        assert!(p.render(false).contains("team: web -> data"), "{p}");
        let pruned = plan(&spec, &facts, true);
        assert!(pruned.steps.iter().any(|s| matches!(
            s,
            Step::Retag { unset, .. } if unset == &["cost-center".to_string()]
        )));

        // In line: nothing to do; a foreign queue's tags are never planned.
        let mut inline = ownership_tags("shop");
        inline.extend(spec.tags.clone());
        let facts = AccountFacts {
            queues: vec![queue("orders", inline), queue("theirs", BTreeMap::new())],
            ..AccountFacts::default()
        };
        let mut spec = spec;
        spec.queues.push(QueueSpec {
            name: "theirs".into(),
            ..QueueSpec::default()
        });
        let p = plan(&spec, &facts, true);
        assert!(
            !p.steps.iter().any(|s| matches!(s, Step::Retag { .. })),
            "{p}"
        );
    }

    #[test]
    fn a_reserialized_pattern_is_not_a_change_and_rendering_is_coloured_on_request() {
        let rule_arn = format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/r");
        let facts = AccountFacts {
            rules: vec![RuleFacts {
                name: "r".into(),
                arn: rule_arn,
                bus: "default".into(),
                event_pattern: Some("{\"source\": [\"a\"],  \"detail-type\": [\"x\"]}".into()),
                enabled: true,
                description: None,
                tags: ownership_tags("shop"),
                targets: vec![],
            }],
            ..AccountFacts::default()
        };
        let mut spec = StackSpec {
            rules: vec![RuleSpec {
                name: "r".into(),
                pattern: r#"{"detail-type":["x"],"source":["a"]}"#.into(),
                enabled: true,
                description: None,
                targets: vec![],
            }],
            ..StackSpec::empty("shop", "default")
        };
        assert!(plan(&spec, &facts, false).is_empty());
        spec.rules[0].pattern = r#"{"source":["b"]}"#.into();
        let changed = plan(&spec, &facts, false);
        assert_eq!(changed.counts(), (0, 1, 0));
        let coloured = changed.render(true);
        assert!(coloured.contains("\x1b[33m"), "{coloured:?}");
        assert!(!changed.render(false).contains('\x1b'));
        assert!(changed.to_string().contains("update rule r: pattern"));
    }
}
