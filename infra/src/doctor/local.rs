//! The local state read into a [`World`] for the checks. Policies and keys are not
//! enforced locally, so only existence, state, FIFO group ids, dead-letter queues and
//! patterns can fail here.

use std::collections::BTreeMap;

use super::{BucketState, RuleState, Sink, TargetState, World};
use crate::local::{Config, LocalFacts, Result, Store};

/// Reads the local state in `store` (read queries only).
pub fn world_from_local(store: &mut Store, config: &Config) -> Result<World> {
    let facts = LocalFacts::read(store)?;
    let mut queues = Vec::new();
    for q in &facts.queues {
        let counts = store.queue_counts(&q.name)?;
        queues.push(Sink {
            name: q.name.clone(),
            arn: crate::arn::queue_arn(&config.region, &config.account, &q.name),
            fifo: q.fifo,
            policy: None,
            kms_key: None,
            dead_letter_arn: q.redrive.as_ref().map(|r| r.dead_letter_target_arn.clone()),
            messages: Some(counts.visible + counts.in_flight + counts.delayed),
            subscriptions: Vec::new(),
        });
    }
    let topics = facts
        .topics
        .iter()
        .map(|t| {
            let arn = crate::arn::topic_arn(&config.region, &config.account, &t.name);
            Sink {
                name: t.name.clone(),
                fifo: t.fifo,
                subscriptions: facts
                    .subscriptions
                    .iter()
                    .filter(|s| s.spec.topic == t.name || s.spec.topic == arn)
                    .map(|s| (s.spec.protocol.clone(), s.spec.endpoint.clone(), false))
                    .collect(),
                arn,
                ..Sink::default()
            }
        })
        .collect();
    Ok(World {
        backend: "local",
        region: config.region.clone(),
        account: Some(config.account.clone()),
        policies_enforced: false,
        rules: facts
            .rules
            .iter()
            .map(|(r, targets)| RuleState {
                name: r.name.clone(),
                arn: crate::arn::rule_arn(&config.region, &config.account, &r.bus, &r.name),
                enabled: r.state == crate::local::RuleState::Enabled,
                targets: targets
                    .iter()
                    .map(|t| TargetState {
                        id: t.id.clone(),
                        arn: t.arn.clone(),
                        message_group_id: t.message_group_id.clone(),
                        dead_letter_arn: t.dead_letter_arn.clone(),
                    })
                    .collect(),
            })
            .collect(),
        queues,
        topics,
        buckets: facts
            .buckets
            .iter()
            .map(|b| BucketState {
                name: b.name.clone(),
                eventbridge: Some(b.eventbridge),
                notifications: b
                    .notifications
                    .iter()
                    .map(|n| (n.id.clone(), n.target_arn.clone()))
                    .collect(),
            })
            .collect(),
        key_policies: BTreeMap::new(),
    })
}
