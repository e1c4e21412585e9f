//! A `rules` project (`bridge.json` + `rules/*.json`) in local terms: the same files that
//! `plan`/`apply` send to AWS become local queues, topics, subscriptions, rules and buckets.
//!
//! Queue and topic references that are names become local ARNs (account `000000000000`, the
//! store's region); references that are already ARNs are kept, so a target outside the project
//! shows up as "not deliverable locally" instead of silently vanishing. Declared buckets become
//! directories under `<state dir>/buckets/<name>`.

use rules::model::{FilterPolicyScope, RuleState as DeclState};
use rules::names::is_arn;
use rules::Project;

use super::apply::{DesiredRule, LocalDesired};
use super::{
    BucketSpec, FilterScope, InputTransformer, NotificationSpec, QueueSpec, Redrive, Result,
    RuleSpec, RuleState, Store, SubscriptionSpec, TargetSpec, TopicSpec,
};

impl Store {
    /// Translates a loaded project into what [`Store::apply`] / [`Store::plan`] take.
    pub fn desired_from_project(&self, project: &Project) -> Result<LocalDesired> {
        let queue_arn = |r: &str| {
            if is_arn(r) {
                r.to_string()
            } else {
                self.queue_arn(r)
            }
        };
        let topic_arn = |r: &str| {
            if is_arn(r) {
                r.to_string()
            } else {
                self.topic_arn(r)
            }
        };
        let file = &project.file;
        let mut out = LocalDesired::default();
        let mut buses: Vec<String> = std::iter::once(file.bus.clone())
            .chain(project.rules.iter().map(|r| r.bus.clone()))
            .filter(|b| b != "default")
            .collect();
        buses.sort();
        buses.dedup();
        out.buses = buses;
        for q in &file.queues {
            let defaults = QueueSpec::new(q.name.clone());
            out.queues.push(QueueSpec {
                fifo: q.fifo || defaults.fifo,
                visibility_timeout_secs: q
                    .visibility_timeout
                    .unwrap_or(defaults.visibility_timeout_secs),
                delay_secs: q.delay.unwrap_or(defaults.delay_secs),
                retention_secs: q.message_retention.unwrap_or(defaults.retention_secs),
                redrive: q.dead_letter.as_ref().map(|d| Redrive {
                    dead_letter_target_arn: queue_arn(&d.queue),
                    max_receive_count: d.max_receive_count,
                }),
                content_based_dedup: q.content_based_deduplication,
                ..defaults
            });
        }
        for t in &file.topics {
            let mut topic = TopicSpec::new(t.name.clone());
            topic.fifo |= t.fifo;
            out.topics.push(topic);
            for s in &t.subscriptions {
                let protocol = s.protocol.as_str();
                let endpoint = if protocol == "sqs" {
                    queue_arn(&s.endpoint)
                } else {
                    s.endpoint.clone()
                };
                out.subscriptions.push(SubscriptionSpec {
                    topic: self.topic_arn(&t.name),
                    protocol: protocol.to_string(),
                    endpoint,
                    raw_message_delivery: s.raw_message_delivery,
                    filter_policy: s.filter_policy.as_ref().map(|p| p.to_string()),
                    filter_policy_scope: match s.filter_policy_scope {
                        Some(FilterPolicyScope::MessageBody) => FilterScope::MessageBody,
                        _ => FilterScope::MessageAttributes,
                    },
                });
            }
        }
        for r in &project.rules {
            let targets = r
                .targets
                .iter()
                .map(|t| TargetSpec {
                    id: t.id.clone(),
                    arn: match (&t.queue, &t.topic) {
                        (Some(q), _) => queue_arn(q),
                        (None, Some(topic)) => topic_arn(topic),
                        (None, None) => String::new(),
                    },
                    input: t.input.as_ref().map(|v| v.to_string()),
                    input_path: t.input_path.clone(),
                    input_transformer: t.input_transformer.as_ref().map(|x| InputTransformer {
                        input_paths_map: x.input_paths_map.clone(),
                        input_template: x.input_template.clone(),
                    }),
                    message_group_id: t.message_group_id.clone(),
                    dead_letter_arn: t.dead_letter_queue.as_deref().map(queue_arn),
                })
                .collect();
            out.rules.push(DesiredRule {
                rule: RuleSpec {
                    bus: r.bus.clone(),
                    name: r.name.clone(),
                    pattern: r.pattern.as_value().to_string(),
                    state: match r.state {
                        DeclState::Enabled => RuleState::Enabled,
                        DeclState::Disabled => RuleState::Disabled,
                    },
                    description: r.description.clone(),
                },
                targets,
            });
        }
        for b in &file.buckets {
            out.buckets.push(BucketSpec {
                name: b.name.clone(),
                dir: self.dir().join("buckets").join(&b.name),
                eventbridge: b.eventbridge,
                notifications: b
                    .notifications
                    .iter()
                    .map(|n| NotificationSpec {
                        id: n.id.clone(),
                        target_arn: match (&n.queue, &n.topic) {
                            (Some(q), _) => queue_arn(q),
                            (None, Some(t)) => topic_arn(t),
                            (None, None) => String::new(),
                        },
                        events: n.events.clone(),
                        prefix: n.prefix.clone(),
                        suffix: n.suffix.clone(),
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// `plan --local` (`execute = false`) and `apply --local` (`execute = true`) in one call: opens
/// the state in `state_dir` with the project's region, and plans or applies the project, pruning
/// rules and targets the project no longer declares. Returns the changes, in order.
pub fn sync_project(
    state_dir: &std::path::Path,
    project: &Project,
    execute: bool,
) -> Result<Vec<super::Applied>> {
    let config = super::Config {
        region: project
            .file
            .region
            .clone()
            .unwrap_or_else(|| super::Config::default().region),
        ..super::Config::default()
    };
    let mut store = Store::open_with(state_dir, config, super::Clock::System)?;
    let desired = store.desired_from_project(project)?;
    if execute {
        store.apply(&desired, true)
    } else {
        store.plan(&desired, true)
    }
}
