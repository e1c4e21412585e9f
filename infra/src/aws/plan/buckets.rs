//! Bucket notification settings: EventBridge delivery and the stack's native notifications.

use super::*;

impl Planner<'_> {
    /// The notification as S3 would hold it, when its destination's ARN is known now.
    pub(super) fn resolve_notification(&self, n: &Notification) -> Option<NotificationFacts> {
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
    pub(super) fn buckets(&mut self) {
        let stack = self.spec.stack.as_str();
        for b in self.spec.buckets.iter().filter(|b| b.routes_events()) {
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
            if self
                .spec
                .buckets
                .iter()
                .any(|b| b.name == f.name && b.routes_events())
            {
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

    pub(super) fn prune_notifications(&mut self, stale: Vec<String>, bucket: &str) -> Vec<String> {
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

    pub(super) fn check_notification_destination(&mut self, n: &Notification, bucket: &str) {
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
}
