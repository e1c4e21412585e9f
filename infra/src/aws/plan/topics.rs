//! Topics and their subscriptions (pending e-mail subscriptions are never recreated).

use super::*;

impl Planner<'_> {
    pub(super) fn topics(&mut self) {
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

    pub(super) fn topic_managed(&self, name: &str) -> bool {
        self.spec.topics.iter().any(|t| t.name == name)
            && self.topic(name).is_none_or(|f| self.owns(&f.tags))
    }

    pub(super) fn subscriptions(&mut self) {
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
}
