//! `bridge doctor`: why events do not arrive. Each check compares what a project declares
//! (`rules::desired::Desired`) with what exists, and says ✓ or ✗ with the fix.
//!
//! Both backends are first read into one plain [`World`] (what exists: rules, targets,
//! queues, topics, buckets, key policies), then the same checks run on it ([`check`]).
//! Reading never writes: the AWS side uses `infra::aws::read`, the local side
//! `infra::local::LocalFacts`. The checks themselves are pure, so those AWS behaviours a
//! test server cannot produce (KMS key policies, pending e-mail subscriptions) are covered
//! by unit tests on a hand-made [`World`].

use std::collections::BTreeMap;
use std::fmt;

use rules::desired::{Desired, Destination, NotificationDestination};
use serde_json::Value;

pub use crate::aws::keys::KeyPolicy;

mod aws;
mod local;
pub mod policy;
mod s3_patterns;

pub use aws::{read_key_warnings, read_world, world_from_aws};
pub use local::world_from_local;

/// One check's outcome: one line of `bridge doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    /// What was checked, e.g. `rule orders`.
    pub subject: String,
    /// What was found.
    pub message: String,
    /// How to fix it (problems only).
    pub fix: Option<String>,
}

impl Check {
    fn ok(subject: impl Into<String>, message: impl Into<String>) -> Check {
        Check {
            ok: true,
            subject: subject.into(),
            message: message.into(),
            fix: None,
        }
    }

    fn bad(
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            ok: false,
            subject: subject.into(),
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { '✓' } else { '✗' };
        write!(f, "{mark} {}: {}", self.subject, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " (fix: {fix})")?;
        }
        Ok(())
    }
}

/// An existing rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleState {
    pub name: String,
    pub arn: String,
    pub enabled: bool,
    pub targets: Vec<TargetState>,
}

/// An existing target of a rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetState {
    pub id: String,
    pub arn: String,
    pub message_group_id: Option<String>,
    pub dead_letter_arn: Option<String>,
}

/// An existing queue or topic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sink {
    pub name: String,
    pub arn: String,
    pub fifo: bool,
    /// The resource policy document, raw.
    pub policy: Option<String>,
    /// `KmsMasterKeyId` (an id, ARN or alias).
    pub kms_key: Option<String>,
    /// The redrive policy's dead-letter queue ARN (queues).
    pub dead_letter_arn: Option<String>,
    /// Messages waiting (queues; `None` when unknown).
    pub messages: Option<u64>,
    /// `(protocol, endpoint, pending)` (topics).
    pub subscriptions: Vec<(String, String, bool)>,
}

/// A bucket's notification settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketState {
    pub name: String,
    /// `None`: the bucket does not exist.
    pub eventbridge: Option<bool>,
    /// `(declared or full id, destination ARN)`.
    pub notifications: Vec<(String, String)>,
}

/// What exists, as the checks see it (from either backend).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct World {
    /// `aws` or `local`: the fixes name the right command.
    pub backend: &'static str,
    pub region: String,
    pub account: Option<String>,
    /// Whether resource and key policies are enforced (AWS; not the local backend).
    pub policies_enforced: bool,
    pub rules: Vec<RuleState>,
    pub queues: Vec<Sink>,
    pub topics: Vec<Sink>,
    pub buckets: Vec<BucketState>,
    /// The KMS keys the queues and topics use, by the reference they use (`KmsMasterKeyId`:
    /// alias, id or ARN), as read (AWS only: a key not here is not judged).
    pub key_policies: BTreeMap<String, KeyPolicy>,
}

impl World {
    fn queue(&self, name: &str) -> Option<&Sink> {
        self.queues.iter().find(|q| q.name == name)
    }
    fn topic(&self, name: &str) -> Option<&Sink> {
        self.topics.iter().find(|t| t.name == name)
    }
    fn sink_by_arn(&self, arn: &str) -> Option<(&'static str, &Sink)> {
        self.queues
            .iter()
            .find(|q| q.arn == arn)
            .map(|q| ("queue", q))
            .or_else(|| {
                self.topics
                    .iter()
                    .find(|t| t.arn == arn)
                    .map(|t| ("topic", t))
            })
    }
    fn apply_fix(&self) -> &'static str {
        if self.backend == "local" {
            "bridge apply --local"
        } else {
            "bridge apply"
        }
    }
}

/// Runs every check of `desired` against `world`, in a stable order: buckets, rules and
/// their targets, queues, topics, patterns.
pub fn check(desired: &Desired, world: &World) -> Vec<Check> {
    let mut out = Vec::new();
    buckets(desired, world, &mut out);
    rules(desired, world, &mut out);
    queues(desired, world, &mut out);
    topics(desired, world, &mut out);
    s3_patterns::check(desired, world, &mut out);
    out
}

fn buckets(desired: &Desired, world: &World, out: &mut Vec<Check>) {
    for b in desired.buckets.iter().filter(|b| b.routes_events()) {
        let subject = format!("bucket {}", b.name);
        let Some(state) = world.buckets.iter().find(|s| s.name == b.name) else {
            out.push(Check::bad(subject, "is not set up", world.apply_fix()));
            continue;
        };
        let Some(eventbridge) = state.eventbridge else {
            out.push(Check::bad(
                subject,
                "does not exist",
                "create it (bridge never creates buckets), or remove it from bridge.json",
            ));
            continue;
        };
        if b.eventbridge {
            out.push(if eventbridge {
                Check::ok(&subject, "sends its events to EventBridge")
            } else {
                Check::bad(
                    &subject,
                    "EventBridge delivery is off: no aws.s3 event reaches any rule",
                    format!(
                        "{}, or turn on \"Send notifications to Amazon EventBridge\" in the \
                         bucket's properties",
                        world.apply_fix()
                    ),
                )
            });
        }
        for n in &b.notifications {
            let (kind, name) = match &n.destination {
                NotificationDestination::Queue(q) => ("queue", q),
                NotificationDestination::Topic(t) => ("topic", t),
            };
            let sink = if kind == "queue" {
                world.queue(name)
            } else {
                world.topic(name)
            };
            let subject = format!("bucket {} notification {}", b.name, n.id);
            let Some(sink) = sink else {
                out.push(Check::bad(
                    subject,
                    format!("its {kind} {name} does not exist"),
                    world.apply_fix(),
                ));
                continue;
            };
            let configured = state.notifications.iter().any(|(id, arn)| {
                arn == &sink.arn && (id == &n.id || id.ends_with(&format!(":{}", n.id)))
            });
            if !configured {
                out.push(Check::bad(
                    &subject,
                    format!("not configured on the bucket (no notification to {kind} {name})"),
                    world.apply_fix(),
                ));
                continue;
            }
            let bucket_arn = crate::arn::bucket_arn(crate::arn::partition_of(&sink.arn), &b.name);
            if let Some(problem) = admission(world, kind, sink, policy::S3, &bucket_arn) {
                out.push(Check::bad(&subject, problem.0, problem.1));
            } else {
                out.push(Check::ok(
                    &subject,
                    format!("delivers to {kind} {name}, which admits S3"),
                ));
            }
        }
    }
}

/// Why `sink` would refuse what `service` sends from `source_arn`: its policy, or its key.
/// `None` when it admits it (or policies are not enforced).
fn admission(
    world: &World,
    kind: &str,
    sink: &Sink,
    service: &str,
    source_arn: &str,
) -> Option<(String, String)> {
    if !world.policies_enforced {
        return None;
    }
    let action = if kind == "queue" {
        "sqs:SendMessage"
    } else {
        "sns:Publish"
    };
    if !policy::admits(
        sink.policy.as_deref(),
        service,
        action,
        source_arn,
        world.account.as_deref(),
    ) {
        return Some((
            format!(
                "the {kind} policy of {} does not let {service} {action} for {source_arn} \
                 (aws:SourceArn), so every delivery is denied",
                sink.name
            ),
            format!(
                "{} (when the {kind} is the stack's), or add a statement allowing {service} \
                 {action} with aws:SourceArn {source_arn}",
                world.apply_fix()
            ),
        ));
    }
    let key = sink.kms_key.as_deref()?;
    let aws_managed = if kind == "queue" {
        "alias/aws/sqs"
    } else {
        "alias/aws/sns"
    };
    if key == aws_managed || key.ends_with(&format!(":{aws_managed}")) {
        return Some((
            format!(
                "{kind} {} is encrypted with the AWS-managed key {aws_managed}, whose policy \
                 cannot be changed to let {service} use it",
                sink.name
            ),
            format!(
                "encrypt it with a customer-managed KMS key whose policy allows {service} \
                 kms:GenerateDataKey and kms:Decrypt, or with SSE-SQS (encryption: sqs)"
            ),
        ));
    }
    match world.key_policies.get(key) {
        Some(KeyPolicy::Customer(doc)) if !policy::key_admits(doc, service) => Some((
            format!(
                "the policy of KMS key {key} (encrypting {kind} {}) does not let {service} use \
                 it (kms:GenerateDataKey and kms:Decrypt)",
                sink.name
            ),
            format!("add a key policy statement allowing {service} kms:GenerateDataKey* and kms:Decrypt"),
        )),
        Some(KeyPolicy::AwsManaged) => Some((
            format!(
                "{kind} {} is encrypted with the AWS-managed KMS key {key}, whose policy \
                 cannot be changed to let {service} use it",
                sink.name
            ),
            format!(
                "encrypt it with a customer-managed KMS key whose policy allows {service} \
                 kms:GenerateDataKey* and kms:Decrypt, or with SSE-SQS (encryption: sqs)"
            ),
        )),
        Some(KeyPolicy::Unreadable(why)) => Some((
            format!(
                "the policy of KMS key {key} (encrypting {kind} {}) could not be read: {why}",
                sink.name
            ),
            format!("make sure the key exists and its policy allows {service} kms:GenerateDataKey* and kms:Decrypt"),
        )),
        _ => None,
    }
}

fn rules(desired: &Desired, world: &World, out: &mut Vec<Check>) {
    for rule in &desired.rules {
        let subject = format!("rule {}", rule.name);
        let Some(actual) = world.rules.iter().find(|r| r.name == rule.name) else {
            out.push(Check::bad(
                subject,
                format!("does not exist on bus {}", rule.bus),
                world.apply_fix(),
            ));
            continue;
        };
        if rule.enabled && !actual.enabled {
            out.push(Check::bad(
                &subject,
                "is disabled: it matches nothing",
                format!(
                    "{} (the project declares it ENABLED), or aws events enable-rule --name {}",
                    world.apply_fix(),
                    rule.name
                ),
            ));
        } else if rule.enabled {
            out.push(Check::ok(&subject, "exists and is enabled"));
        } else {
            out.push(Check::ok(&subject, "exists (disabled, as declared)"));
        }
        for t in &rule.targets {
            target(world, rule, actual, t, out);
        }
    }
}

fn target(
    world: &World,
    rule: &rules::desired::Rule,
    actual: &RuleState,
    t: &rules::desired::Target,
    out: &mut Vec<Check>,
) {
    let subject = format!("rule {} target {}", rule.name, t.id);
    let Some(at) = actual.targets.iter().find(|a| a.id == t.id) else {
        out.push(Check::bad(
            subject,
            format!(
                "missing: the rule has no target {} ({})",
                t.id, t.destination
            ),
            world.apply_fix(),
        ));
        return;
    };
    let Some((kind, sink)) = world.sink_by_arn(&at.arn) else {
        match &t.destination {
            Destination::Arn(_) => out.push(Check::ok(&subject, format!("delivers to {}", at.arn))),
            _ => out.push(Check::bad(
                subject,
                format!("its destination {} does not exist", at.arn),
                world.apply_fix(),
            )),
        }
        return;
    };
    let mut fine = true;
    if let Some((problem, fix)) = admission(world, kind, sink, policy::EVENTS, &actual.arn) {
        out.push(Check::bad(&subject, problem, fix));
        fine = false;
    }
    if sink.fifo && kind == "queue" && at.message_group_id.is_none() {
        out.push(Check::bad(
            &subject,
            format!(
                "FIFO queue {} needs a message group id, and the target has none: EventBridge \
                 fails every delivery",
                sink.name
            ),
            "give the target a message_group_id in the rule file, then bridge apply",
        ));
        fine = false;
    }
    if let Some(dlq_arn) = &at.dead_letter_arn {
        match world.sink_by_arn(dlq_arn) {
            Some(("queue", dlq)) => {
                if let Some((problem, fix)) =
                    admission(world, "queue", dlq, policy::EVENTS, &actual.arn)
                {
                    out.push(Check::bad(
                        &subject,
                        format!("dead-letter queue {}: {problem}", dlq.name),
                        fix,
                    ));
                    fine = false;
                }
            }
            _ => {
                out.push(Check::bad(
                    &subject,
                    format!(
                        "its dead-letter queue {dlq_arn} does not exist: failed events are lost"
                    ),
                    format!("create the queue, then {}", world.apply_fix()),
                ));
                fine = false;
            }
        }
    }
    if fine {
        out.push(Check::ok(
            &subject,
            format!("delivers to {kind} {}, which admits the rule", sink.name),
        ));
    }
}

fn queues(desired: &Desired, world: &World, out: &mut Vec<Check>) {
    let dlq_names: std::collections::BTreeSet<&str> = desired
        .queues
        .iter()
        .filter_map(|q| q.dead_letter.as_ref().map(|d| d.queue.as_str()))
        .chain(
            desired
                .rules
                .iter()
                .flat_map(|r| &r.targets)
                .filter_map(|t| t.dead_letter_queue.as_deref()),
        )
        .collect();
    for q in &desired.queues {
        let subject = format!("queue {}", q.name);
        let Some(sink) = world.queue(&q.name) else {
            out.push(Check::bad(subject, "does not exist", world.apply_fix()));
            continue;
        };
        if let Some(d) = &q.dead_letter {
            let dlq = world
                .queues
                .iter()
                .find(|x| Some(&x.arn) == sink.dead_letter_arn.as_ref() || x.name == d.queue);
            match (dlq, &sink.dead_letter_arn) {
                (Some(dlq), Some(arn)) if &dlq.arn == arn => {}
                (_, None) => {
                    out.push(Check::bad(
                        &subject,
                        format!(
                            "has no redrive policy (declared: dead-letter queue {})",
                            d.queue
                        ),
                        world.apply_fix(),
                    ));
                    continue;
                }
                (_, Some(arn)) => {
                    out.push(Check::bad(
                        &subject,
                        format!("its dead-letter queue {arn} does not exist: messages that fail are lost"),
                        format!("create {}, then {}", d.queue, world.apply_fix()),
                    ));
                    continue;
                }
            }
        }
        if dlq_names.contains(q.name.as_str()) {
            match sink.messages {
                Some(n) if n > 0 => out.push(Check::bad(
                    &subject,
                    format!("dead-letter queue holds {n} message(s): deliveries are failing"),
                    format!(
                        "read them (bridge consume --queue {}) to see why, fix the cause, then \
                         redrive or purge them",
                        q.name
                    ),
                )),
                _ => out.push(Check::ok(&subject, "exists (dead-letter queue, empty)")),
            }
        } else {
            out.push(Check::ok(&subject, "exists"));
        }
    }
}

fn topics(desired: &Desired, world: &World, out: &mut Vec<Check>) {
    for t in &desired.topics {
        let subject = format!("topic {}", t.name);
        let Some(sink) = world.topic(&t.name) else {
            out.push(Check::bad(subject, "does not exist", world.apply_fix()));
            continue;
        };
        out.push(Check::ok(&subject, "exists"));
        for s in desired.subscriptions.iter().filter(|s| s.topic == t.name) {
            let endpoint = match &s.endpoint {
                rules::desired::Endpoint::Queue(q) => q.clone(),
                rules::desired::Endpoint::Other { endpoint, .. } => endpoint.clone(),
            };
            let subject = format!("topic {} subscription {endpoint}", t.name);
            let found = sink.subscriptions.iter().find(|(protocol, e, _)| {
                protocol == s.endpoint.protocol()
                    && (e == &endpoint || e.rsplit(':').next() == Some(endpoint.as_str()))
            });
            match found {
                None => out.push(Check::bad(subject, "does not exist", world.apply_fix())),
                Some((_, _, true)) => out.push(Check::bad(
                    subject,
                    "pending confirmation: nothing is delivered to it until it is confirmed",
                    format!(
                        "the owner of {endpoint} must follow the link in AWS's confirmation \
                         message (it expires after 3 days; bridge apply then subscribes again)"
                    ),
                )),
                Some(_) => out.push(Check::ok(subject, "confirmed")),
            }
        }
    }
}

/// What `plan` and `apply` warn about before anything is written: a declared queue
/// encrypted with a KMS key whose policy (in `keys`, by the declared reference) does not let
/// the service that delivers to it use the key — EventBridge for a rule's target or
/// dead-letter queue, S3 for a bucket's notification. Every such delivery would fail.
pub fn key_warnings(desired: &Desired, keys: &BTreeMap<String, KeyPolicy>) -> Vec<String> {
    let mut out = Vec::new();
    for q in &desired.queues {
        let Some(key) = q.attributes.get("KmsMasterKeyId") else {
            continue;
        };
        let targeted = desired.rules.iter().flat_map(|r| &r.targets).any(|t| {
            t.destination == Destination::Queue(q.name.clone())
                || t.dead_letter_queue.as_deref() == Some(q.name.as_str())
        });
        let notified = desired
            .buckets
            .iter()
            .flat_map(|b| &b.notifications)
            .any(|n| n.destination == NotificationDestination::Queue(q.name.clone()));
        let services = [(targeted, policy::EVENTS), (notified, policy::S3)];
        for (_, service) in services.iter().filter(|(uses, _)| *uses) {
            let problem = match keys.get(key) {
                Some(KeyPolicy::Customer(doc)) if !policy::key_admits(doc, service) => {
                    format!("the policy of KMS key {key} does not let {service} use it")
                }
                Some(KeyPolicy::AwsManaged) => {
                    format!("KMS key {key} is AWS-managed: its policy cannot let {service} use it")
                }
                Some(KeyPolicy::Unreadable(why)) => {
                    format!("the policy of KMS key {key} could not be read ({why})")
                }
                _ => continue,
            };
            out.push(format!(
                "queue {}: {problem}, so every delivery from {service} will fail (fix: a key \
                 policy statement allowing {service} kms:GenerateDataKey* and kms:Decrypt)",
                q.name
            ));
        }
    }
    out
}

/// The value at `path` in a JSON object, if any.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

#[cfg(test)]
mod tests;
