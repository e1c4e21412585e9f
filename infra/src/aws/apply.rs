//! Applying a plan, step by step, in dependency order, and saying exactly what was done.
//!
//! A failure stops the run: later steps may depend on the failed one (a target on a queue
//! that was not created). Every step is idempotent against the state it leaves, so the
//! next `apply` re-reads AWS, plans only what is still missing, and converges.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::json;

use super::plan::{account_of, action_for};
use super::policy::{self, Grant};
use super::read::{self, AccountFacts, ReadScope, TargetFacts};
use super::s3_notify::{notification_id, BucketUpdate, NotificationFacts, NotificationKind};
use super::write::Writer;
use super::{AwsClients, AwsError};
use crate::arn::{bucket_arn, partition_of, rule_arn};
use crate::plan::{NotificationChange, Plan, PolicyResource, Source, Step, Tagged, S3};
use rules::desired::{DeadLetter, Desired, Destination, Endpoint, NotificationDestination, Target};
use rules::owner::ownership_tags;

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Steps completed, in order, as the plan printed them.
    pub done: Vec<String>,
    /// The step that failed and the error, if any.
    pub failed: Option<(String, String)>,
    /// Steps not attempted because an earlier one failed.
    pub not_done: Vec<String>,
    /// Write calls sent to AWS (zero when nothing had to change).
    pub write_calls: usize,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failed.is_none()
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.done.is_empty() && self.failed.is_none() {
            return writeln!(f, "No changes applied ({} write calls).", self.write_calls);
        }
        for d in &self.done {
            writeln!(f, "  done: {}", first_line(d))?;
        }
        if let Some((step, error)) = &self.failed {
            writeln!(f, "  FAILED: {}\n    {error}", first_line(step))?;
            for n in &self.not_done {
                writeln!(f, "  not done: {}", first_line(n))?;
            }
            writeln!(
                f,
                "Apply stopped: {} done, 1 failed, {} not done ({} write calls). \
                 Fix the cause and run apply again; it continues from the current state.",
                self.done.len(),
                self.not_done.len(),
                self.write_calls
            )
        } else {
            writeln!(
                f,
                "Apply complete: {} done ({} write calls).",
                self.done.len(),
                self.write_calls
            )
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The read scope for a stack: its bus and its buckets.
pub fn scope(spec: &Desired) -> ReadScope<'_> {
    ReadScope {
        stack: &spec.stack,
        bus: &spec.bus,
        buckets: spec
            .buckets
            .iter()
            .filter(|b| b.routes_events())
            .map(|b| b.name.as_str())
            .collect(),
    }
}

/// Reads AWS and plans `spec` against it.
pub async fn plan_stack(
    aws: &AwsClients,
    spec: &Desired,
    prune: bool,
) -> Result<(Plan, AccountFacts), AwsError> {
    if let Some(rule) = spec.rules.iter().find(|r| r.bus != spec.bus) {
        return Err(AwsError::Invalid {
            resource: format!("rule {}", rule.name),
            message: format!(
                "it is on bus {} but the project's bus is {}: the AWS backend manages one bus \
                 per stack; move the rule or split the project",
                rule.bus, spec.bus
            ),
        });
    }
    let facts = read::read_account(aws, &scope(spec)).await?;
    Ok((super::plan::plan(spec, &facts, prune), facts))
}

/// Applies `plan` (computed from `facts`) for `spec`. Never panics on AWS errors: they
/// end up in the report.
pub async fn apply_plan(
    aws: &AwsClients,
    spec: &Desired,
    plan: &Plan,
    facts: &AccountFacts,
) -> ApplyReport {
    apply_plan_observed(aws, spec, plan, facts, &mut |_| {}).await
}

/// [`apply_plan`], telling `observe` about each step once it is done (progress display).
pub async fn apply_plan_observed(
    aws: &AwsClients,
    spec: &Desired,
    plan: &Plan,
    facts: &AccountFacts,
    observe: &mut dyn FnMut(&Step),
) -> ApplyReport {
    let writer = Writer::new(aws);
    let mut exec = Executor {
        aws,
        writer: &writer,
        spec,
        names: Names::from_facts(facts, &aws.region, &spec.bus),
    };
    let mut report = ApplyReport::default();
    let mut steps = plan.steps.iter();
    for step in steps.by_ref() {
        match exec.step(step).await {
            Ok(()) => {
                report.done.push(step.to_string());
                observe(step);
            }
            Err(e) => {
                report.failed = Some((step.to_string(), e.to_string()));
                break;
            }
        }
    }
    report.not_done = steps.map(ToString::to_string).collect();
    report.write_calls = writer.write_calls();
    report
}

/// Names → ARNs/URLs, seeded from what exists and extended as resources are created.
struct Names {
    region: String,
    bus: String,
    account: Option<String>,
    queues: BTreeMap<String, (String, String)>,
    topics: BTreeMap<String, String>,
    rules: BTreeMap<String, String>,
    bus_arn: Option<String>,
}

impl Names {
    fn from_facts(facts: &AccountFacts, region: &str, bus: &str) -> Names {
        Names {
            region: region.to_string(),
            bus: bus.to_string(),
            account: account_of(facts),
            queues: facts
                .queues
                .iter()
                .map(|q| (q.name.clone(), (q.url.clone(), q.arn.clone())))
                .collect(),
            topics: facts
                .topics
                .iter()
                .map(|t| (t.name.clone(), t.arn.clone()))
                .collect(),
            rules: facts
                .rules
                .iter()
                .map(|r| (r.name.clone(), r.arn.clone()))
                .collect(),
            bus_arn: facts.bus.as_ref().map(|b| b.arn.clone()),
        }
    }

    fn learn_account(&mut self, arn: &str) {
        if self.account.is_none() {
            self.account = arn.split(':').nth(4).map(str::to_string);
        }
    }

    fn queue(&self, name: &str) -> Result<&(String, String), AwsError> {
        self.queues.get(name).ok_or_else(|| missing("queue", name))
    }

    /// A queue's ARN from its name, or the reference itself when it already is an ARN
    /// (a queue outside the project).
    fn queue_arn(&self, reference: &str) -> Result<String, AwsError> {
        if reference.starts_with("arn:") {
            return Ok(reference.to_string());
        }
        Ok(self.queue(reference)?.1.clone())
    }

    fn topic(&self, name: &str) -> Result<&String, AwsError> {
        self.topics.get(name).ok_or_else(|| missing("topic", name))
    }

    /// A rule's ARN: known, or formed the way AWS forms it (policies are written before
    /// the rules they name, so a new rule's ARN is needed before it exists).
    fn rule(&self, name: &str) -> Result<String, AwsError> {
        if let Some(arn) = self.rules.get(name) {
            return Ok(arn.clone());
        }
        let account = self.account.as_deref().ok_or_else(|| AwsError::Invalid {
            resource: format!("rule {name}"),
            message: "cannot form the rule ARN: the account id is unknown (no queue, topic \
                      or rule of this account was read or created yet)"
                .into(),
        })?;
        Ok(rule_arn(&self.region, account, &self.bus, name))
    }
}

fn missing(kind: &str, name: &str) -> AwsError {
    AwsError::Invalid {
        resource: format!("{kind} {name}"),
        message: format!("{kind} {name} does not exist (declare it, or create it first)"),
    }
}

struct Executor<'a> {
    aws: &'a AwsClients,
    writer: &'a Writer<'a>,
    spec: &'a Desired,
    names: Names,
}

impl Executor<'_> {
    /// The project's extra tags plus the ownership tags (which win on a clash, though
    /// the project translation already refuses one).
    fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.spec.tags.clone();
        tags.extend(ownership_tags(&self.spec.stack));
        tags
    }

    async fn step(&mut self, step: &Step) -> Result<(), AwsError> {
        let bus = self.spec.bus.as_str();
        match step {
            Step::CreateBus { name } => {
                let arn = self.writer.create_bus(name, &self.tags()).await?;
                self.names.learn_account(&arn);
                self.names.bus_arn = Some(arn);
            }
            Step::CreateQueue {
                name,
                attributes,
                dead_letter,
            } => {
                let mut attributes = attributes.clone();
                if let Some(d) = dead_letter {
                    attributes.insert("RedrivePolicy".into(), self.redrive(d)?);
                }
                let (url, arn) = self
                    .writer
                    .create_queue(name, &attributes, &self.tags())
                    .await?;
                self.names.learn_account(&arn);
                self.names.queues.insert(name.clone(), (url, arn));
            }
            Step::UpdateQueue {
                name,
                changes,
                dead_letter,
            } => {
                let url = self.names.queue(name)?.0.clone();
                let mut attributes: BTreeMap<String, String> = changes
                    .iter()
                    .map(|c| (c.key.clone(), c.to.clone()))
                    .collect();
                if let Some(d) = dead_letter {
                    attributes.insert("RedrivePolicy".into(), self.redrive(d)?);
                }
                self.writer.set_queue_attributes(&url, &attributes).await?;
            }
            Step::CreateTopic { name, attributes } => {
                let arn = self
                    .writer
                    .create_topic(name, attributes, &self.tags())
                    .await?;
                self.names.learn_account(&arn);
                self.names.topics.insert(name.clone(), arn);
            }
            Step::UpdateTopic { name, changes } => {
                let arn = self.names.topic(name)?.clone();
                for c in changes {
                    self.writer.set_topic_attribute(&arn, &c.key, &c.to).await?;
                }
            }
            Step::Grant {
                resource,
                service,
                sources,
            } => self.grant(resource, service, sources).await?,
            Step::ConfigureBucket {
                bucket,
                enable_eventbridge,
                put,
                remove,
            } => {
                let update = BucketUpdate {
                    enable_eventbridge: *enable_eventbridge,
                    put: put
                        .iter()
                        .map(|p| self.resolve_notification(p))
                        .collect::<Result<_, _>>()?,
                    remove: remove
                        .iter()
                        .map(|id| notification_id(&self.spec.stack, id))
                        .collect(),
                };
                self.writer
                    .update_bucket_notifications(bucket, &update)
                    .await?;
            }
            Step::Adopt { resource } => {
                let set = ownership_tags(&self.spec.stack);
                let arn = match resource {
                    Tagged::Queue(q) => {
                        let url = self.names.queue(q)?.0.clone();
                        return self.writer.tag_queue(&url, &set, &[]).await;
                    }
                    Tagged::Topic(t) => self.names.topic(t)?.clone(),
                    Tagged::Rule(r) => self.names.rule(r)?,
                    Tagged::Bus(b) => self
                        .names
                        .bus_arn
                        .clone()
                        .ok_or_else(|| missing("event bus", b))?,
                };
                if let Tagged::Topic(_) = resource {
                    self.writer.tag_topic(&arn, &set, &[]).await?;
                } else {
                    self.writer.tag_eventbridge(&arn, &set, &[]).await?;
                }
            }
            Step::Retag {
                resource,
                set,
                unset,
            } => {
                let set: BTreeMap<String, String> =
                    set.iter().map(|c| (c.key.clone(), c.to.clone())).collect();
                match resource {
                    Tagged::Queue(q) => {
                        let url = self.names.queue(q)?.0.clone();
                        self.writer.tag_queue(&url, &set, unset).await?;
                    }
                    Tagged::Topic(t) => {
                        let arn = self.names.topic(t)?.clone();
                        self.writer.tag_topic(&arn, &set, unset).await?;
                    }
                    Tagged::Rule(r) => {
                        let arn = self.names.rule(r)?;
                        self.writer.tag_eventbridge(&arn, &set, unset).await?;
                    }
                    Tagged::Bus(b) => {
                        let arn = self
                            .names
                            .bus_arn
                            .clone()
                            .ok_or_else(|| missing("event bus", b))?;
                        self.writer.tag_eventbridge(&arn, &set, unset).await?;
                    }
                }
            }
            Step::CreateRule { rule } => {
                let arn = self
                    .writer
                    .put_rule_triggered(
                        bus,
                        &rule.name,
                        (rule.pattern.as_deref(), rule.schedule.as_deref()),
                        rule.enabled,
                        rule.description.as_deref(),
                        &self.tags(),
                    )
                    .await?;
                self.names.learn_account(&arn);
                self.names.rules.insert(rule.name.clone(), arn);
            }
            Step::UpdateRule { rule, .. } => {
                self.writer
                    .put_rule_triggered(
                        bus,
                        &rule.name,
                        (rule.pattern.as_deref(), rule.schedule.as_deref()),
                        rule.enabled,
                        rule.description.as_deref(),
                        &BTreeMap::new(),
                    )
                    .await?;
            }
            Step::PutTargets { rule, targets, .. } => {
                let resolved = targets
                    .iter()
                    .map(|t| self.resolve_target(t))
                    .collect::<Result<Vec<_>, _>>()?;
                self.writer.put_targets(bus, rule, &resolved).await?;
            }
            Step::RemoveTargets { rule, ids } => {
                self.writer.remove_targets(bus, rule, ids).await?;
            }
            Step::Subscribe {
                topic,
                endpoint,
                attributes,
            } => {
                let topic_arn = self.names.topic(topic)?.clone();
                let (protocol, endpoint) = match endpoint {
                    Endpoint::Queue(q) => ("sqs".to_string(), self.names.queue(q)?.1.clone()),
                    Endpoint::Other { protocol, endpoint } => (protocol.clone(), endpoint.clone()),
                };
                self.writer
                    .subscribe(&topic_arn, &protocol, &endpoint, attributes)
                    .await?;
            }
            Step::UpdateSubscription { arn, changes, .. } => {
                for c in changes {
                    self.writer
                        .set_subscription_attribute(arn, &c.key, &c.to)
                        .await?;
                }
            }
            Step::Unsubscribe { arn, .. } => self.writer.unsubscribe(arn).await?,
            Step::DeleteRule { name, target_ids } => {
                self.writer.remove_targets(bus, name, target_ids).await?;
                self.writer.delete_rule(bus, name).await?;
            }
            Step::DeleteTopic { name } => {
                let arn = self.names.topic(name)?.clone();
                self.writer.delete_topic(&arn).await?;
            }
            Step::DeleteQueue { name } => {
                let url = self.names.queue(name)?.0.clone();
                self.writer.delete_queue(&url).await?;
            }
            Step::DeleteBus { name } => self.writer.delete_bus(name).await?,
        }
        Ok(())
    }

    fn redrive(&self, d: &DeadLetter) -> Result<String, AwsError> {
        let arn = &self.names.queue(&d.queue)?.1;
        Ok(
            json!({ "deadLetterTargetArn": arn, "maxReceiveCount": d.max_receive_count })
                .to_string(),
        )
    }

    /// A declared notification with its destination's ARN and the stack's S3 `Id`.
    fn resolve_notification(&self, p: &NotificationChange) -> Result<NotificationFacts, AwsError> {
        let n = &p.spec;
        let (kind, arn) = match &n.destination {
            NotificationDestination::Queue(q) => {
                (NotificationKind::Queue, self.names.queue_arn(q)?)
            }
            NotificationDestination::Topic(t) if t.starts_with("arn:") => {
                (NotificationKind::Topic, t.clone())
            }
            NotificationDestination::Topic(t) => {
                (NotificationKind::Topic, self.names.topic(t)?.clone())
            }
        };
        Ok(NotificationFacts {
            id: Some(notification_id(&self.spec.stack, &n.id)),
            kind,
            arn,
            events: n.events.clone(),
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
        })
    }

    fn resolve_target(&self, t: &Target) -> Result<TargetFacts, AwsError> {
        let arn = match &t.destination {
            Destination::Queue(q) => self.names.queue(q)?.1.clone(),
            Destination::Topic(tp) => self.names.topic(tp)?.clone(),
            Destination::Arn(a) => a.clone(),
        };
        let dead_letter_arn = match &t.dead_letter_queue {
            Some(q) => Some(self.names.queue_arn(q)?),
            None => None,
        };
        Ok(TargetFacts::declared(t, arn, dead_letter_arn))
    }

    /// Read-modify-write of a resource policy: re-read right before writing so a
    /// statement someone added since the plan was read is not lost.
    async fn grant(
        &self,
        resource: &PolicyResource,
        service: &str,
        sources: &[Source],
    ) -> Result<(), AwsError> {
        let (arn, current) = match resource {
            PolicyResource::Queue(q) => {
                let (url, arn) = self.names.queue(q)?;
                let current = read::read_queue(self.aws, url)
                    .await?
                    .and_then(|f| f.policy().map(str::to_string));
                (arn.clone(), current)
            }
            PolicyResource::Topic(t) => {
                let arn = self.names.topic(t)?;
                let current = read::read_topic(self.aws, arn)
                    .await?
                    .policy()
                    .map(str::to_string);
                (arn.clone(), current)
            }
        };
        let source_arns = sources
            .iter()
            .map(|s| match s {
                Source::Rule(r) => self.names.rule(r),
                Source::Topic(t) => self.names.topic(t).cloned(),
                Source::Bucket(b) => Ok(bucket_arn(partition_of(&arn), b)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let source_account = if service == S3 {
            Some(
                self.names
                    .account
                    .clone()
                    .ok_or_else(|| AwsError::Invalid {
                        resource: arn.clone(),
                        message: "cannot pin aws:SourceAccount: the account id is unknown".into(),
                    })?,
            )
        } else {
            None
        };
        let grant = Grant {
            sid: Grant::sid_for(&self.spec.stack, service),
            service: service.to_string(),
            action: action_for(resource).to_string(),
            resource: arn.clone(),
            source_arns,
            source_account,
        };
        let merged = policy::merge(current.as_deref(), &grant).map_err(|e| AwsError::Invalid {
            resource: arn.clone(),
            message: e.to_string(),
        })?;
        match (merged, resource) {
            (None, _) => Ok(()),
            (Some(doc), PolicyResource::Queue(q)) => {
                let url = self.names.queue(q)?.0.clone();
                let attrs = BTreeMap::from([("Policy".to_string(), doc)]);
                self.writer.set_queue_attributes(&url, &attrs).await
            }
            // SNS refuses an empty policy; a topic always keeps its default statement, so
            // an empty result can only mean a hand-emptied policy: leave it.
            (Some(doc), PolicyResource::Topic(_)) if doc.is_empty() => Ok(()),
            (Some(doc), PolicyResource::Topic(_)) => {
                self.writer.set_topic_attribute(&arn, "Policy", &doc).await
            }
        }
    }
}
