//! Queues: attributes, redrive, and pruning what the stack no longer declares (queues and
//! topics together, since dead-letter queues must go last).

use super::*;

impl Planner<'_> {
    /// Dead-letter queues first, so a redrive policy never points at a missing queue.
    pub(super) fn queues(&mut self) {
        for q in self.spec.queues_in_creation_order() {
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

    /// Whether a declared queue/topic is (or will be) the stack's to change.
    pub(super) fn queue_managed(&self, name: &str) -> bool {
        self.spec.queues.iter().any(|q| q.name == name)
            && self.queue(name).is_none_or(|f| self.owns(&f.tags))
    }

    pub(super) fn prune_topics_and_queues(&mut self) {
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
        if self.prune
            && self.spec.bus != "default"
            && self.spec.rules.is_empty()
            && self.bus_free_of_archives()
        {
            if let Some(bus) = &self.facts.bus {
                // An owned archive's managed rule (`Events-Archive-NAME`, AWS's) goes with it.
                let foreign_rules = self
                    .facts
                    .rules
                    .iter()
                    .any(|r| !self.owns(&r.tags) && !self.archive_rule_of_stack(&r.name));
                if self.owns(&bus.tags) && !foreign_rules {
                    self.steps.push(Step::DeleteBus {
                        name: bus.name.clone(),
                    });
                }
            }
        }
    }
}
