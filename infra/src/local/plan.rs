//! The local planner: what the local state holds ([`LocalFacts`]) diffed against the one
//! desired state into the same [`Plan`] the AWS backend prints.
//!
//! The local state belongs to one project, so everything in it counts as the stack's — except
//! a running `bridge tail`'s temporary rule and queue, which are never touched. As on AWS,
//! what the project no longer declares is deleted only with `prune` (noted otherwise).
//! Reading never creates anything: a state directory without a database has no facts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rules::desired::{Desired, Endpoint};

use super::store::DATABASE_FILE;
use super::translate::{queue_attributes, Resolver};
use super::{
    BucketSpec, Clock, Config, QueueSpec, Result, RuleSpec, ServedResource, Store, Subscription,
    TargetSpec, TopicSpec,
};
use crate::plan::{
    changed_attributes, same_pattern, AttrChange, Note, NotificationChange, Plan, Step,
};
use crate::TAIL_PREFIX;

/// Everything the local state holds that a project declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalFacts {
    pub buses: Vec<String>,
    pub queues: Vec<QueueSpec>,
    pub topics: Vec<TopicSpec>,
    pub subscriptions: Vec<Subscription>,
    /// Each rule with its targets.
    pub rules: Vec<(RuleSpec, Vec<TargetSpec>)>,
    pub buckets: Vec<BucketSpec>,
    /// Each bus's `allow_put_events_from` grants (buses without any left out), sorted.
    pub bus_grants: BTreeMap<String, Vec<rules::buses::Grantee>>,
    pub archives: Vec<super::archive::ArchiveSpec>,
}

impl LocalFacts {
    /// Reads the state in `state_dir`; empty (and nothing created) when there is none yet.
    pub fn read_dir(state_dir: &Path, config: &Config) -> Result<LocalFacts> {
        if !state_dir.join(DATABASE_FILE).exists() {
            return Ok(LocalFacts::default());
        }
        let mut store = Store::open_with(state_dir, config.clone(), Clock::System)?;
        LocalFacts::read(&mut store)
    }

    /// Reads an open store.
    /// Queues and rules made over the wire (`bridge dev --serve`'s CreateQueue, PutRule) are
    /// not the project's and are left out ([`super::served`]).
    pub fn read(store: &mut Store) -> Result<LocalFacts> {
        let served = store.served_resources()?;
        let mut rules = Vec::new();
        for rule in store.list_rules(None)? {
            if served.contains(&ServedResource::rule(&rule.bus, &rule.name)) {
                continue;
            }
            let targets = store.list_targets(&rule.bus, &rule.name)?;
            rules.push((rule, targets));
        }
        let mut queues = store.list_queues()?;
        queues.retain(|q| !served.contains(&ServedResource::queue(&q.name)));
        Ok(LocalFacts {
            buses: store.list_buses()?,
            queues,
            topics: store.list_topics()?,
            subscriptions: store.list_subscriptions(None)?,
            rules,
            buckets: store.list_buckets()?,
            bus_grants: store.list_bus_grants()?,
            archives: store.list_archives()?,
        })
    }
}

/// Plans `desired` against `facts`. `prune` deletes what the project no longer declares.
pub fn plan(
    desired: &Desired,
    facts: &LocalFacts,
    resolver: Resolver<'_>,
    prune: bool,
) -> Result<Plan> {
    let mut planner = Planner {
        desired,
        facts,
        resolver,
        prune,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    planner.buses();
    planner.bus_policies();
    let (archives, pruned_archives, archive_notes) =
        super::archive::plan_archives(desired, &facts.archives, prune);
    planner.steps.extend(archives);
    planner.notes.extend(archive_notes);
    planner.queues()?;
    planner.topics();
    planner.buckets();
    planner.rules();
    planner.targets();
    planner.subscriptions();
    planner.prune_rules();
    planner.steps.extend(pruned_archives);
    planner.prune_topics_and_queues();
    Ok(Plan {
        backend: crate::plan::Backend::Local,
        stack: desired.stack.clone(),
        bus: desired.bus.clone(),
        steps: planner.steps,
        notes: planner.notes,
    })
}

struct Planner<'a> {
    desired: &'a Desired,
    facts: &'a LocalFacts,
    resolver: Resolver<'a>,
    prune: bool,
    steps: Vec<Step>,
    notes: Vec<Note>,
}

impl Planner<'_> {
    /// The project's bus and every other bus a rule names.
    fn buses(&mut self) {
        let wanted: BTreeSet<&str> = std::iter::once(self.desired.bus.as_str())
            .chain(self.desired.rules.iter().map(|r| r.bus.as_str()))
            .chain(self.desired.buses.iter().map(|b| b.name.as_str()))
            .filter(|b| *b != "default" && !b.is_empty())
            .collect();
        for bus in wanted {
            if !self.facts.buses.iter().any(|b| b == bus) {
                self.steps.push(Step::CreateBus {
                    name: bus.to_string(),
                });
            }
        }
    }

    /// Who may put events on each bus, as on AWS: one step per bus whose grants differ
    /// (a bus no longer declared loses its grants).
    fn bus_policies(&mut self) {
        let names: BTreeSet<&str> = self
            .desired
            .buses
            .iter()
            .map(|b| b.name.as_str())
            .chain(self.facts.bus_grants.keys().map(String::as_str))
            .collect();
        for name in names {
            let mut wanted = self
                .desired
                .buses
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.grants.clone())
                .unwrap_or_default();
            wanted.sort();
            wanted.dedup();
            let actual = self.facts.bus_grants.get(name).cloned().unwrap_or_default();
            if wanted != actual {
                self.steps.push(Step::BusPolicy {
                    bus: name.to_string(),
                    grants: wanted,
                });
            }
        }
    }

    /// Dead-letter queues first, so a redrive policy never points at a missing queue.
    fn queues(&mut self) -> Result<()> {
        for q in self.desired.queues_in_creation_order() {
            let wanted = self.resolver.queue(q)?;
            match self.facts.queues.iter().find(|e| e.name == q.name) {
                None => self.steps.push(Step::CreateQueue {
                    name: q.name.clone(),
                    attributes: q.attributes.clone(),
                    dead_letter: q.dead_letter.clone(),
                }),
                Some(existing) if same_queue(existing, &wanted) => {}
                Some(existing) => {
                    let changes =
                        changed_attributes(&queue_attributes(&wanted), &queue_attributes(existing));
                    let dead_letter = if existing.redrive == wanted.redrive {
                        None
                    } else {
                        q.dead_letter.clone()
                    };
                    self.steps.push(Step::UpdateQueue {
                        name: q.name.clone(),
                        changes,
                        dead_letter,
                    });
                }
            }
        }
        Ok(())
    }

    fn topics(&mut self) {
        for t in &self.desired.topics {
            let wanted = self.resolver.topic(t);
            match self.facts.topics.iter().find(|e| e.name == t.name) {
                None => self.steps.push(Step::CreateTopic {
                    name: t.name.clone(),
                    attributes: t.attributes.clone(),
                }),
                Some(existing) => {
                    let mut changes = Vec::new();
                    if existing.fifo != wanted.fifo {
                        changes.push(AttrChange {
                            key: "FifoTopic".to_string(),
                            from: Some(existing.fifo.to_string()),
                            to: wanted.fifo.to_string(),
                        });
                    }
                    if existing.display_name != wanted.display_name {
                        changes.push(AttrChange {
                            key: "DisplayName".to_string(),
                            from: existing.display_name.clone(),
                            to: wanted.display_name.clone().unwrap_or_default(),
                        });
                    }
                    if !changes.is_empty() {
                        self.steps.push(Step::UpdateTopic {
                            name: t.name.clone(),
                            changes,
                        });
                    }
                }
            }
        }
    }

    /// Declared buckets that route events (to EventBridge or natively), as on AWS.
    fn buckets(&mut self) {
        for b in self.desired.buckets.iter().filter(|b| b.routes_events()) {
            let wanted = self.resolver.bucket(&self.desired.stack, b);
            let existing = self.facts.buckets.iter().find(|e| e.name == b.name);
            let same_dir = |e: &BucketSpec| {
                std::fs::canonicalize(&wanted.dir)
                    .map(|d| d == e.dir)
                    .unwrap_or(false)
            };
            let (had_eventbridge, had) = match existing {
                Some(e)
                    if same_dir(e)
                        && e.eventbridge == wanted.eventbridge
                        && e.notifications == wanted.notifications =>
                {
                    continue
                }
                Some(e) => (e.eventbridge, e.notifications.as_slice()),
                None => (false, &[][..]),
            };
            let put = b
                .notifications
                .iter()
                .zip(&wanted.notifications)
                .filter(|(_, w)| !had.contains(w))
                .map(|(n, w)| NotificationChange {
                    spec: n.clone(),
                    new: !had.iter().any(|h| h.id == w.id),
                    changes: Vec::new(),
                })
                .collect();
            let remove = had
                .iter()
                .filter(|h| !wanted.notifications.iter().any(|w| w.id == h.id))
                .map(|h| declared_id(&self.desired.stack, &h.id))
                .collect();
            self.steps.push(Step::ConfigureBucket {
                bucket: b.name.clone(),
                enable_eventbridge: b.eventbridge && !had_eventbridge,
                put,
                remove,
            });
        }
        for e in &self.facts.buckets {
            let declared = self
                .desired
                .buckets
                .iter()
                .any(|b| b.name == e.name && b.routes_events());
            if declared {
                continue;
            }
            if self.prune {
                self.steps.push(Step::ConfigureBucket {
                    bucket: e.name.clone(),
                    enable_eventbridge: false,
                    put: Vec::new(),
                    remove: e
                        .notifications
                        .iter()
                        .map(|n| declared_id(&self.desired.stack, &n.id))
                        .collect(),
                });
            } else {
                self.notes.push(Note::WouldPrune {
                    kind: "bucket",
                    name: e.name.clone(),
                });
            }
        }
    }

    /// How a rule is named in steps: its name on the project's bus, `bus/name` elsewhere.
    fn rule_label(&self, bus: &str, name: &str) -> String {
        if bus == self.desired.bus {
            name.to_string()
        } else {
            format!("{bus}/{name}")
        }
    }

    fn rules(&mut self) {
        for r in &self.desired.rules {
            let wanted = self.resolver.rule(r);
            let existing = self
                .facts
                .rules
                .iter()
                .find(|(e, _)| e.bus == r.bus && e.name == r.name);
            match existing {
                None => self.steps.push(Step::CreateRule { rule: r.clone() }),
                Some((e, _)) => {
                    let mut changes = Vec::new();
                    if !same_pattern(e.pattern.as_deref(), wanted.pattern.as_deref()) {
                        changes.push("pattern".to_string());
                    }
                    if e.schedule != wanted.schedule {
                        changes.push("schedule".to_string());
                    }
                    if e.state != wanted.state {
                        changes.push("state".to_string());
                    }
                    if e.description != wanted.description {
                        changes.push("description".to_string());
                    }
                    if !changes.is_empty() {
                        self.steps.push(Step::UpdateRule {
                            rule: r.clone(),
                            changes,
                        });
                    }
                }
            }
        }
    }

    /// Targets of the declared rules, after every rule exists (as on AWS).
    fn targets(&mut self) {
        for r in &self.desired.rules {
            let label = self.rule_label(&r.bus, &r.name);
            let existing = self
                .facts
                .rules
                .iter()
                .find(|(e, _)| e.bus == r.bus && e.name == r.name);
            let had: &[TargetSpec] = existing.map(|(_, t)| t.as_slice()).unwrap_or(&[]);
            let changed: Vec<_> = r
                .targets
                .iter()
                .filter(|t| !had.contains(&self.resolver.target(t)))
                .cloned()
                .collect();
            if !changed.is_empty() {
                let new_ids = changed
                    .iter()
                    .filter(|t| !had.iter().any(|h| h.id == t.id))
                    .map(|t| t.id.clone())
                    .collect();
                self.steps.push(Step::PutTargets {
                    rule: label.clone(),
                    targets: changed,
                    new_ids,
                });
            }
            let stale: Vec<String> = had
                .iter()
                .filter(|h| !r.targets.iter().any(|t| t.id == h.id))
                .map(|h| h.id.clone())
                .collect();
            if !stale.is_empty() {
                if self.prune {
                    self.steps.push(Step::RemoveTargets {
                        rule: label,
                        ids: stale,
                    });
                } else {
                    for id in stale {
                        self.notes.push(Note::WouldPrune {
                            kind: "target",
                            name: format!("{id} of rule {label}"),
                        });
                    }
                }
            }
        }
    }

    fn subscriptions(&mut self) {
        for s in &self.desired.subscriptions {
            let wanted = self.resolver.subscription(s);
            let existing = self.facts.subscriptions.iter().find(|e| {
                e.spec.topic == wanted.topic
                    && e.spec.protocol == wanted.protocol
                    && e.spec.endpoint == wanted.endpoint
            });
            match existing {
                None => self.steps.push(Step::Subscribe {
                    topic: s.topic.clone(),
                    endpoint: s.endpoint.clone(),
                    attributes: s.attributes.clone(),
                }),
                Some(e) if e.spec == wanted => {}
                Some(e) => {
                    let changes = changed_attributes(
                        &subscription_attributes(&wanted),
                        &subscription_attributes(&e.spec),
                    );
                    self.steps.push(Step::UpdateSubscription {
                        topic: s.topic.clone(),
                        endpoint: endpoint_text(&s.endpoint),
                        arn: e.arn.clone(),
                        changes,
                    });
                }
            }
        }
        for e in &self.facts.subscriptions {
            let declared = self.desired.subscriptions.iter().any(|s| {
                let w = self.resolver.subscription(s);
                w.topic == e.spec.topic
                    && w.protocol == e.spec.protocol
                    && w.endpoint == e.spec.endpoint
            });
            if declared || is_tail(&e.spec.endpoint) {
                continue;
            }
            let topic = crate::local::name_from_arn(&e.spec.topic).to_string();
            if self.prune {
                self.steps.push(Step::Unsubscribe {
                    topic,
                    arn: e.arn.clone(),
                    endpoint: e.spec.endpoint.clone(),
                });
            } else {
                self.notes.push(Note::WouldPrune {
                    kind: "subscription",
                    name: format!("{} of topic {topic}", e.spec.endpoint),
                });
            }
        }
    }

    fn prune_rules(&mut self) {
        for (e, targets) in &self.facts.rules {
            let declared = self
                .desired
                .rules
                .iter()
                .any(|r| r.bus == e.bus && r.name == e.name);
            if declared || e.name.starts_with(TAIL_PREFIX) {
                continue;
            }
            let name = self.rule_label(&e.bus, &e.name);
            if self.prune {
                self.steps.push(Step::DeleteRule {
                    name,
                    target_ids: targets.iter().map(|t| t.id.clone()).collect(),
                });
            } else {
                self.notes.push(Note::WouldPrune { kind: "rule", name });
            }
        }
    }

    fn prune_topics_and_queues(&mut self) {
        let mut doomed = Vec::new();
        for t in &self.facts.topics {
            if !self.desired.topics.iter().any(|d| d.name == t.name) {
                doomed.push(("topic", t.name.clone()));
            }
        }
        // Queues that are dead-letter targets of other doomed queues go last.
        let mut queues: Vec<&QueueSpec> = self
            .facts
            .queues
            .iter()
            .filter(|q| !q.name.starts_with(TAIL_PREFIX))
            .filter(|q| !self.desired.queues.iter().any(|d| d.name == q.name))
            .collect();
        queues.sort_by_key(|q| q.redrive.is_none());
        doomed.extend(queues.into_iter().map(|q| ("queue", q.name.clone())));
        for (kind, name) in doomed {
            if !self.prune {
                self.notes.push(Note::WouldPrune { kind, name });
            } else if kind == "topic" {
                self.steps.push(Step::DeleteTopic { name });
            } else {
                self.steps.push(Step::DeleteQueue { name });
            }
        }
    }
}

/// The queue settings the local backend models (a policy is not one of them locally).
fn same_queue(a: &QueueSpec, b: &QueueSpec) -> bool {
    QueueSpec {
        policy: None,
        ..a.clone()
    } == QueueSpec {
        policy: None,
        ..b.clone()
    }
}

fn subscription_attributes(s: &super::SubscriptionSpec) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([(
        "RawMessageDelivery".to_string(),
        s.raw_message_delivery.to_string(),
    )]);
    if let Some(p) = &s.filter_policy {
        out.insert("FilterPolicy".to_string(), p.clone());
        out.insert(
            "FilterPolicyScope".to_string(),
            format!("{:?}", s.filter_policy_scope),
        );
    }
    out
}

fn endpoint_text(e: &Endpoint) -> String {
    match e {
        Endpoint::Queue(q) => q.clone(),
        Endpoint::Other { endpoint, .. } => endpoint.clone(),
    }
}

/// A subscription of a `bridge tail` session's queue.
fn is_tail(endpoint: &str) -> bool {
    crate::local::name_from_arn(endpoint).starts_with(TAIL_PREFIX)
}

/// How a stored notification is named in the plan: its declared id when it is the stack's
/// (`bridge:<stack>:<id>`, as on AWS), else the id as stored (states written before ids were
/// stored that way, or another stack's).
fn declared_id(stack: &str, stored: &str) -> String {
    crate::aws::s3_notify::owned_id(stored, stack)
        .unwrap_or(stored)
        .to_string()
}
