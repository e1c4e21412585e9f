//! Resource-policy grants: which rules, topics and buckets may send to each managed queue
//! and topic, scoped by `aws:SourceArn`.

use super::*;

impl Planner<'_> {
    /// The grants every managed queue and topic should carry, from the declarations.
    pub(super) fn desired_grants(
        &self,
    ) -> BTreeMap<(PolicyResource, &'static str), BTreeSet<Source>> {
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
                    Destination::Bus(_) | Destination::Arn(_) => {}
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
    pub(super) fn grants(&mut self) -> Vec<Step> {
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
    pub(super) fn source_arns(&self, sources: &[Source]) -> Option<Vec<SourceArn>> {
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

    /// Declared rule targets the stack does not own get no grant: said, never silent.
    pub(super) fn ungranted(&mut self) {
        let mut notes = Vec::new();
        for rule in self
            .spec
            .rules
            .iter()
            .filter(|r| self.rule_managed(&r.name))
        {
            for t in &rule.targets {
                let (kind, name, managed) = match &t.destination {
                    Destination::Queue(q) => ("queue", q, self.queue_managed(q)),
                    Destination::Topic(tp) => ("topic", tp, self.topic_managed(tp)),
                    Destination::Bus(_) | Destination::Arn(_) => continue,
                };
                if !managed {
                    notes.push(Note::Ungranted {
                        kind,
                        name: name.clone(),
                        by: format!("rule {}", rule.name),
                    });
                }
            }
        }
        self.notes.extend(notes);
    }
}
