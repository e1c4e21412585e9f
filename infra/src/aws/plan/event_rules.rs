//! Rules and their targets.

use super::*;

impl Planner<'_> {
    /// Rules the stack may write: declared and either missing or owned.
    pub(super) fn rule_managed(&self, name: &str) -> bool {
        self.spec.rules.iter().any(|r| r.name == name)
            && self.rule(name).is_none_or(|f| self.owns(&f.tags))
    }

    /// Creates/updates rules; returns the names whose targets the stack manages.
    pub(super) fn rules(&mut self) -> Vec<String> {
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
                    if !same_pattern(actual.event_pattern.as_deref(), rule.pattern.as_deref()) {
                        changes.push("pattern".to_string());
                    }
                    if actual.schedule_expression.as_deref() != rule.schedule.as_deref() {
                        changes.push("schedule".to_string());
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

    pub(super) fn targets(&mut self, managed_rules: &[String]) {
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

    pub(super) fn check_destination(&mut self, t: &Target, rule: &str) {
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
            Destination::Bus(_) | Destination::Arn(_) => return,
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
    pub(super) fn resolve_target(&self, t: &Target) -> Option<TargetFacts> {
        let arn = match &t.destination {
            Destination::Queue(q) => self.queue(q)?.arn.clone(),
            Destination::Topic(tp) => self.topic(tp)?.arn.clone(),
            Destination::Bus(b) => self.bus_target_arn(b)?,
            Destination::Arn(a) => a.clone(),
        };
        let dead_letter_arn = match &t.dead_letter_queue {
            Some(q) if q.starts_with("arn:") => Some(q.clone()),
            Some(q) => Some(self.queue(q)?.arn.clone()),
            None => None,
        };
        Some(TargetFacts::declared(t, arn, dead_letter_arn))
    }

    pub(super) fn prune_rules(&mut self) {
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
}
