//! Bringing the local backend to a desired state: the local counterpart of `apply`.
//!
//! [`LocalDesired`] lists everything a project wants (queues, topics, subscriptions, rules with
//! their targets, buckets). [`Store::apply`] creates or updates each item and, with `prune`,
//! removes the rules, targets, subscriptions and buckets the project no longer declares, all
//! reported as [`Applied`] lines.
//! Queues and topics are never pruned: deleting them would drop messages.

use std::collections::BTreeSet;

use super::{
    BucketSpec, QueueSpec, Result, RuleSpec, Store, SubscriptionSpec, TargetSpec, TopicSpec,
};

/// A rule and its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRule {
    pub rule: RuleSpec,
    pub targets: Vec<TargetSpec>,
}

/// Everything a project declares, in local terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalDesired {
    pub buses: Vec<String>,
    pub queues: Vec<QueueSpec>,
    pub topics: Vec<TopicSpec>,
    pub subscriptions: Vec<SubscriptionSpec>,
    pub rules: Vec<DesiredRule>,
    pub buckets: Vec<BucketSpec>,
}

/// One change [`Store::apply`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `+` created, `~` updated, `-` removed.
    pub action: char,
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.action, self.kind, self.name)
    }
}

impl Store {
    /// Creates or updates everything in `desired`; with `prune`, removes undeclared rules
    /// (and their targets) and undeclared targets of declared rules.
    pub fn apply(&mut self, desired: &LocalDesired, prune: bool) -> Result<Vec<Applied>> {
        self.sync(desired, prune, true)
    }

    /// What [`Store::apply`] would change, without changing anything (`plan --local`).
    pub fn plan(&mut self, desired: &LocalDesired, prune: bool) -> Result<Vec<Applied>> {
        self.sync(desired, prune, false)
    }

    fn sync(&mut self, desired: &LocalDesired, prune: bool, execute: bool) -> Result<Vec<Applied>> {
        let mut out = Vec::new();
        let mut note = |action, kind, name: &str| {
            out.push(Applied {
                action,
                kind,
                name: name.to_string(),
            })
        };

        let buses: BTreeSet<String> = self.list_buses()?.into_iter().collect();
        for bus in &desired.buses {
            if !buses.contains(bus) {
                if execute {
                    self.put_bus(bus)?;
                }
                note('+', "bus", bus);
            }
        }
        let queues = self.list_queues()?;
        // Dead-letter queues first, so redrive policies point at existing queues.
        let mut ordered: Vec<&QueueSpec> = desired
            .queues
            .iter()
            .filter(|q| q.redrive.is_none())
            .collect();
        ordered.extend(desired.queues.iter().filter(|q| q.redrive.is_some()));
        for q in ordered {
            match queues.iter().find(|e| e.name == q.name) {
                Some(existing) if existing == q => {}
                Some(_) => {
                    if execute {
                        self.put_queue(q)?;
                    }
                    note('~', "queue", &q.name);
                }
                None => {
                    if execute {
                        self.put_queue(q)?;
                    }
                    note('+', "queue", &q.name);
                }
            }
        }
        let topics = self.list_topics()?;
        for t in &desired.topics {
            match topics.iter().find(|e| e.name == t.name) {
                Some(existing) if existing == t => {}
                Some(_) => {
                    if execute {
                        self.put_topic(t)?;
                    }
                    note('~', "topic", &t.name);
                }
                None => {
                    if execute {
                        self.put_topic(t)?;
                    }
                    note('+', "topic", &t.name);
                }
            }
        }
        let subs = self.list_subscriptions(None)?;
        for s in &desired.subscriptions {
            let topic_arn = self.topic_arn(super::name_from_arn(&s.topic));
            let normalized = SubscriptionSpec {
                topic: topic_arn.clone(),
                ..s.clone()
            };
            let existing = subs.iter().find(|e| {
                e.spec.topic == topic_arn
                    && e.spec.protocol == s.protocol
                    && e.spec.endpoint == s.endpoint
            });
            match existing {
                Some(e) if e.spec == normalized => {}
                other => {
                    if execute {
                        self.subscribe(s)?;
                    }
                    note(
                        if other.is_some() { '~' } else { '+' },
                        "subscription",
                        &format!("{} → {}:{}", s.topic, s.protocol, s.endpoint),
                    );
                }
            }
        }
        if prune {
            for e in &subs {
                let declared = desired.subscriptions.iter().any(|s| {
                    self.topic_arn(super::name_from_arn(&s.topic)) == e.spec.topic
                        && s.protocol == e.spec.protocol
                        && s.endpoint == e.spec.endpoint
                });
                if !declared {
                    if execute {
                        self.unsubscribe(&e.arn)?;
                    }
                    note(
                        '-',
                        "subscription",
                        &format!("{} → {}:{}", e.spec.topic, e.spec.protocol, e.spec.endpoint),
                    );
                }
            }
        }
        let rules = self.list_rules(None)?;
        for d in &desired.rules {
            let name = format!("{}/{}", d.rule.bus, d.rule.name);
            match rules
                .iter()
                .find(|e| e.bus == d.rule.bus && e.name == d.rule.name)
            {
                Some(existing) if *existing == d.rule => {}
                other => {
                    if execute {
                        self.put_rule(&d.rule)?;
                    }
                    note(if other.is_some() { '~' } else { '+' }, "rule", &name);
                }
            }
            let targets = self.list_targets(&d.rule.bus, &d.rule.name)?;
            let changed: Vec<TargetSpec> = d
                .targets
                .iter()
                .filter(|t| !targets.contains(t))
                .cloned()
                .collect();
            if !changed.is_empty() {
                if execute {
                    self.put_targets(&d.rule.bus, &d.rule.name, &changed)?;
                }
                for t in &changed {
                    let action = if targets.iter().any(|e| e.id == t.id) {
                        '~'
                    } else {
                        '+'
                    };
                    note(action, "target", &format!("{name} → {}", t.arn));
                }
            }
            if prune {
                let stale: Vec<String> = targets
                    .iter()
                    .filter(|e| !d.targets.iter().any(|t| t.id == e.id))
                    .map(|e| e.id.clone())
                    .collect();
                if !stale.is_empty() {
                    if execute {
                        self.remove_targets(&d.rule.bus, &d.rule.name, &stale)?;
                    }
                    for id in stale {
                        note('-', "target", &format!("{name} target {id}"));
                    }
                }
            }
        }
        if prune {
            for e in &rules {
                let declared = desired
                    .rules
                    .iter()
                    .any(|d| d.rule.bus == e.bus && d.rule.name == e.name);
                if declared || e.name.starts_with(crate::TAIL_PREFIX) {
                    continue;
                }
                let ids: Vec<String> = self
                    .list_targets(&e.bus, &e.name)?
                    .into_iter()
                    .map(|t| t.id)
                    .collect();
                if !ids.is_empty() && execute {
                    self.remove_targets(&e.bus, &e.name, &ids)?;
                }
                if execute {
                    self.delete_rule(&e.bus, &e.name)?;
                }
                note('-', "rule", &format!("{}/{}", e.bus, e.name));
            }
        }
        let buckets = self.list_buckets()?;
        for b in &desired.buckets {
            let existing = buckets.iter().find(|e| e.name == b.name);
            let same_dir = |e: &BucketSpec| {
                std::fs::canonicalize(&b.dir)
                    .map(|d| d == e.dir)
                    .unwrap_or(false)
            };
            match existing {
                Some(e)
                    if same_dir(e)
                        && e.eventbridge == b.eventbridge
                        && e.notifications == b.notifications => {}
                other => {
                    if execute {
                        self.put_bucket(b)?;
                    }
                    note(
                        if other.is_some() { '~' } else { '+' },
                        "bucket",
                        &format!("{} ({})", b.name, b.dir.display()),
                    );
                }
            }
        }
        if prune {
            for e in &buckets {
                if !desired.buckets.iter().any(|b| b.name == e.name) {
                    if execute {
                        self.delete_bucket(&e.name)?;
                    }
                    note(
                        '-',
                        "bucket",
                        &format!("{} (its directory is kept)", e.name),
                    );
                }
            }
        }
        Ok(out)
    }

    /// The ARN a topic has (or would have) locally.
    pub fn topic_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}",
            self.config.region, self.config.account, name
        )
    }
}
