//! Applying a plan to the local state, step by step, in the plan's order.
//!
//! Steps carry the desired state's words (names, AWS attributes); each is translated with
//! the same [`Resolver`] the planner compared with, so what is written is exactly what was
//! planned. A failure stops the run, as on AWS; the next `apply` re-reads and converges.

use rules::desired::Desired;

use super::plan::LocalFacts;
use super::translate::Resolver;
use super::{LocalError, Result, Store};
use crate::plan::{Plan, Step};

impl Store {
    /// Carries out `plan` (computed by [`super::plan::plan`] for `desired` against this
    /// store); returns each step done, as the plan printed it.
    pub fn apply(&mut self, desired: &Desired, plan: &Plan) -> Result<Vec<String>> {
        let config = self.config().clone();
        let dir = self.dir().to_path_buf();
        let resolver = Resolver {
            config: &config,
            state_dir: &dir,
        };
        let mut done = Vec::new();
        for step in &plan.steps {
            self.apply_step(desired, resolver, step)?;
            done.push(format!("{} {step}", step.symbol()));
        }
        Ok(done)
    }

    /// Plans `desired` against this store and applies it at once (`bridge dev`, tests).
    pub fn sync(&mut self, desired: &Desired, prune: bool) -> Result<Plan> {
        let facts = LocalFacts::read(self)?;
        let config = self.config().clone();
        let dir = self.dir().to_path_buf();
        let resolver = Resolver {
            config: &config,
            state_dir: &dir,
        };
        let plan = super::plan::plan(desired, &facts, resolver, prune)?;
        self.apply(desired, &plan)?;
        Ok(plan)
    }

    fn apply_step(&mut self, desired: &Desired, r: Resolver<'_>, step: &Step) -> Result<()> {
        let missing = |kind: &str, name: &str| {
            LocalError::invalid(
                format!("{kind} {name}"),
                "the plan names it but the desired state does not declare it",
            )
        };
        match step {
            Step::CreateBus { name } => {
                self.put_bus(name)?;
            }
            Step::CreateQueue { name, .. } | Step::UpdateQueue { name, .. } => {
                let q = desired
                    .queues
                    .iter()
                    .find(|q| &q.name == name)
                    .ok_or_else(|| missing("queue", name))?;
                self.put_queue(&r.queue(q)?)?;
            }
            Step::CreateTopic { name, .. } | Step::UpdateTopic { name, .. } => {
                let t = desired
                    .topics
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| missing("topic", name))?;
                self.put_topic(&r.topic(t))?;
            }
            Step::ConfigureBucket { bucket, .. } => {
                match desired
                    .buckets
                    .iter()
                    .find(|b| &b.name == bucket && b.routes_events())
                {
                    Some(b) => self.put_bucket(&r.bucket(b))?,
                    // No longer declared (a prune): stop routing its events; the files stay.
                    None => {
                        self.delete_bucket(bucket)?;
                    }
                }
            }
            Step::CreateRule { rule } | Step::UpdateRule { rule, .. } => {
                self.put_rule(&r.rule(rule))?;
            }
            Step::PutTargets { rule, targets, .. } => {
                let (bus, name) = self.rule_of_label(desired, rule);
                let targets: Vec<_> = targets.iter().map(|t| r.target(t)).collect();
                self.put_targets(&bus, &name, &targets)?;
            }
            Step::RemoveTargets { rule, ids } => {
                let (bus, name) = self.rule_of_label(desired, rule);
                self.remove_targets(&bus, &name, ids)?;
            }
            Step::DeleteRule { name, target_ids } => {
                let (bus, name) = self.rule_of_label(desired, name);
                if !target_ids.is_empty() {
                    self.remove_targets(&bus, &name, target_ids)?;
                }
                self.delete_rule(&bus, &name)?;
            }
            Step::Subscribe {
                topic, endpoint, ..
            } => {
                let s = desired
                    .subscriptions
                    .iter()
                    .find(|s| &s.topic == topic && &s.endpoint == endpoint)
                    .ok_or_else(|| missing("subscription of topic", topic))?;
                self.subscribe(&r.subscription(s))?;
            }
            Step::UpdateSubscription { topic, arn, .. } => {
                let existing = self
                    .list_subscriptions(None)?
                    .into_iter()
                    .find(|e| &e.arn == arn)
                    .ok_or_else(|| missing("subscription", arn))?;
                let s = desired
                    .subscriptions
                    .iter()
                    .map(|s| r.subscription(s))
                    .find(|s| {
                        s.protocol == existing.spec.protocol
                            && s.endpoint == existing.spec.endpoint
                            && s.topic == existing.spec.topic
                    })
                    .ok_or_else(|| missing("subscription of topic", topic))?;
                self.subscribe(&s)?;
            }
            Step::Unsubscribe { arn, .. } => self.unsubscribe(arn)?,
            Step::DeleteTopic { name } => {
                self.delete_topic(name)?;
            }
            Step::DeleteQueue { name } => {
                self.delete_queue(name)?;
            }
            Step::DeleteBus { name } => {
                self.delete_bus(name)?;
            }
            // Policies and tags are AWS's: the local planner never emits them.
            // Everything in the local state is the project's: nothing to adopt.
            Step::Grant { .. } | Step::Retag { .. } | Step::Adopt { .. } => {}
        }
        Ok(())
    }

    /// A rule as the plan names it (`name` on the project's bus, else `bus/name`).
    fn rule_of_label(&self, desired: &Desired, label: &str) -> (String, String) {
        match label.split_once('/') {
            Some((bus, name)) => (bus.to_string(), name.to_string()),
            None => (desired.bus.clone(), label.to_string()),
        }
    }
}
