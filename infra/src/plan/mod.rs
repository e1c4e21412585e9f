//! A plan: the changes that bring a backend to the desired state, as plain data.
//!
//! Both backends compute a [`Plan`] the same way — read the current state, diff it against
//! the one desired state (`rules::desired::Desired`), list the [`Step`]s in the order they
//! must be applied — and print it with the same words ([`Plan::render`]). Applying is each
//! backend's business (`infra::aws::apply`, `infra::local::apply`); the plan itself never
//! touches anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rules::desired::{DeadLetter, Endpoint, Notification, Rule, Target};
use serde_json::Value;

mod json;
mod render;

pub use json::{ApplyDocument, Failure, PlanDocument, PLAN_FORMAT_VERSION};

/// The backend a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Aws,
    Local,
}

impl Backend {
    /// `aws` or `local`, as `plan --json` names it.
    pub fn id(self) -> &'static str {
        match self {
            Backend::Aws => "aws",
            Backend::Local => "local",
        }
    }

    /// How the summary names it.
    pub fn display_name(self) -> &'static str {
        match self {
            Backend::Aws => "AWS",
            Backend::Local => "The local state",
        }
    }
}

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
    pub spec: Notification,
    pub new: bool,
    /// What differs from the configuration on the bucket, readably (empty when new).
    pub changes: Vec<String>,
}

/// One change, in the order it must be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take over an existing resource made without bridge (`adopt` in `bridge.json`): tag
    /// it as the stack's. Listed first; later steps treat it as owned.
    Adopt {
        resource: Tagged,
    },
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
        rule: Rule,
    },
    UpdateRule {
        rule: Rule,
        changes: Vec<String>,
    },
    PutTargets {
        rule: String,
        targets: Vec<Target>,
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
    /// What kind of resource the step changes, and which one (`plan --json`).
    pub fn resource(&self) -> (&'static str, String) {
        match self {
            Step::CreateBus { name } | Step::DeleteBus { name } => ("event_bus", name.clone()),
            Step::CreateQueue { name, .. }
            | Step::UpdateQueue { name, .. }
            | Step::DeleteQueue { name } => ("queue", name.clone()),
            Step::CreateTopic { name, .. }
            | Step::UpdateTopic { name, .. }
            | Step::DeleteTopic { name } => ("topic", name.clone()),
            Step::Grant { resource, .. } => match resource {
                PolicyResource::Queue(q) => ("queue_policy", q.clone()),
                PolicyResource::Topic(t) => ("topic_policy", t.clone()),
            },
            Step::ConfigureBucket { bucket, .. } => ("bucket_notifications", bucket.clone()),
            Step::Retag { resource, .. } => ("tags", resource.to_string()),
            Step::Adopt { resource } => ("adopt", resource.to_string()),
            Step::CreateRule { rule } | Step::UpdateRule { rule, .. } => {
                ("rule", rule.name.clone())
            }
            Step::DeleteRule { name, .. } => ("rule", name.clone()),
            Step::PutTargets { rule, .. } | Step::RemoveTargets { rule, .. } => {
                ("targets", rule.clone())
            }
            Step::Subscribe {
                topic, endpoint, ..
            } => (
                "subscription",
                format!(
                    "{topic} -> {}",
                    match endpoint {
                        Endpoint::Queue(q) => q.as_str(),
                        Endpoint::Other { endpoint, .. } => endpoint.as_str(),
                    }
                ),
            ),
            Step::UpdateSubscription {
                topic, endpoint, ..
            }
            | Step::Unsubscribe {
                topic, endpoint, ..
            } => ("subscription", format!("{topic} -> {endpoint}")),
        }
    }

    /// The attribute changes the step carries (updates), for `plan --json`.
    pub fn changes(&self) -> &[AttrChange] {
        match self {
            Step::UpdateQueue { changes, .. }
            | Step::UpdateTopic { changes, .. }
            | Step::UpdateSubscription { changes, .. }
            | Step::Retag { set: changes, .. } => changes,
            _ => &[],
        }
    }

    /// `+` adds, `-` deletes, `~` changes (how the step is counted and coloured).
    pub fn symbol(&self) -> char {
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

/// Something the plan will not do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Exists with the declared name but is not this stack's: never changed or deleted.
    NotOwned { kind: &'static str, name: String },
    /// Owned and no longer declared: deleted only with `--prune`.
    WouldPrune { kind: &'static str, name: String },
    /// An unconfirmed subscription: neither recreated nor removable until confirmed.
    Pending { topic: String, endpoint: String },
    /// A declared destination that exists but is not the stack's: it gets no grant, so
    /// AWS denies delivery unless its own policy admits the sender.
    Ungranted {
        kind: &'static str,
        name: String,
        by: String,
    },
    /// A destination that is neither declared nor found.
    Missing {
        kind: &'static str,
        name: String,
        by: String,
    },
}

/// The whole plan for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where the plan applies.
    pub backend: Backend,
    pub stack: String,
    pub bus: String,
    pub steps: Vec<Step>,
    pub notes: Vec<Note>,
}

impl Plan {
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
}

/// JSON equality of two documents (text equality when either is not JSON).
/// Whether a rule's event pattern is as declared: both absent (a scheduled rule), or the
/// same JSON.
pub fn same_pattern(actual: Option<&str>, declared: Option<&str>) -> bool {
    match declared {
        None => actual.is_none_or(str::is_empty),
        Some(declared) => same_json(actual, declared),
    }
}

pub fn same_json(actual: Option<&str>, declared: &str) -> bool {
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

/// The declared attributes whose actual value differs (compared as text), as changes.
pub fn changed_attributes(
    declared: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Vec<AttrChange> {
    declared
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| AttrChange {
            key: k.clone(),
            from: actual.get(k).cloned(),
            to: v.clone(),
        })
        .collect()
}
