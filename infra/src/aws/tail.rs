//! The temporary resources behind `bridge tail`: one queue and one rule that feeds it.
//!
//! Both carry the ownership tag and a `bridge:tail` tag naming the session, so they are
//! never mistaken for a stack's resources (no `bridge:stack` tag: `apply --prune` of any
//! stack leaves them alone) and a leftover from a killed session can be found and removed
//! (`bridge tail --cleanup`). The queue policy lets EventBridge send only from this one
//! rule (`aws:SourceArn`), like every policy `bridge` writes.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag as RuleTag, Target};
use aws_sdk_sqs::types::QueueAttributeName;

use super::policy::{merge, Grant};
use super::{AwsClients, AwsError};
use rules::owner::{MANAGED_BY_KEY, MANAGED_BY_VALUE};

/// The tag naming the tail session that created a resource.
pub const TAIL_KEY: &str = "bridge:tail";

/// The tag naming the bus a tail's queue listens to (queues are not per bus, so
/// `--cleanup` on one bus must not take another bus's tail queues).
pub const TAIL_BUS_KEY: &str = "bridge:tail-bus";

pub use crate::TAIL_PREFIX;

/// A queue fed by a rule, created for one tail session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailResources {
    /// Shared by the queue and the rule.
    pub name: String,
    pub bus: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub rule_arn: String,
}

/// A name no other tail session uses.
pub fn session_name() -> String {
    crate::tail_session_name()
}

fn tags(name: &str, bus: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
        (TAIL_KEY.to_string(), name.to_string()),
        (TAIL_BUS_KEY.to_string(), bus.to_string()),
    ])
}

/// Creates the queue, the rule (`pattern`, JSON text, on `bus`), the queue policy and the
/// target. If a step fails, whatever was created is removed again before the error is
/// returned, so a failed start leaves nothing behind.
pub async fn create(
    aws: &AwsClients,
    name: &str,
    bus: &str,
    pattern: &str,
) -> Result<TailResources, AwsError> {
    let queue = aws
        .sqs
        .create_queue()
        .queue_name(name)
        // Events kept for an hour at most: a tail is for watching, not for storing.
        .attributes(QueueAttributeName::MessageRetentionPeriod, "3600")
        .set_tags(Some(tags(name, bus).into_iter().collect()))
        .send()
        .await
        .map_err(|e| AwsError::call("CreateQueue", format!("queue {name}"), e))?;
    let queue_url = queue.queue_url().unwrap_or_default().to_string();
    let mut made = TailResources {
        name: name.to_string(),
        bus: bus.to_string(),
        queue_url,
        queue_arn: String::new(),
        rule_arn: String::new(),
    };
    match finish(aws, &mut made, pattern).await {
        Ok(()) => Ok(made),
        Err(e) => {
            // Best effort: the original error is what the user needs to see.
            let _ = delete(aws, &made).await;
            Err(e)
        }
    }
}

async fn finish(aws: &AwsClients, made: &mut TailResources, pattern: &str) -> Result<(), AwsError> {
    let name = made.name.clone();
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&made.queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::call("GetQueueAttributes", format!("queue {name}"), e))?;
    made.queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| AwsError::Invalid {
            resource: format!("queue {name}"),
            message: "GetQueueAttributes returned no QueueArn".into(),
        })?;
    let rule_tags: Vec<RuleTag> = tags(&name, &made.bus)
        .into_iter()
        .filter_map(|(k, v)| RuleTag::builder().key(k).value(v).build().ok())
        .collect();
    let rule = aws
        .eventbridge
        .put_rule()
        .name(&name)
        .event_bus_name(&made.bus)
        .event_pattern(pattern)
        .state(RuleState::Enabled)
        .description("bridge tail: temporary, deleted when the tail exits")
        .set_tags(Some(rule_tags))
        .send()
        .await
        .map_err(|e| AwsError::call("PutRule", format!("rule {name}"), e))?;
    made.rule_arn = rule.rule_arn().unwrap_or_default().to_string();
    let grant = Grant {
        sid: "bridge-tail-events".into(),
        service: "events.amazonaws.com".into(),
        action: "sqs:SendMessage".into(),
        resource: made.queue_arn.clone(),
        source_arns: vec![made.rule_arn.clone()],
        // The rule ARN names the account already.
        source_account: None,
    };
    let policy = merge(None, &grant)
        .map_err(|e| AwsError::Invalid {
            resource: format!("queue {name}"),
            message: e.to_string(),
        })?
        .unwrap_or_default();
    aws.sqs
        .set_queue_attributes()
        .queue_url(&made.queue_url)
        .attributes(QueueAttributeName::Policy, policy)
        .send()
        .await
        .map_err(|e| AwsError::call("SetQueueAttributes", format!("queue {name}"), e))?;
    let target = Target::builder()
        .id("tail")
        .arn(&made.queue_arn)
        .build()
        .map_err(|e| AwsError::Invalid {
            resource: format!("rule {name}"),
            message: e.to_string(),
        })?;
    let out = aws
        .eventbridge
        .put_targets()
        .rule(&name)
        .event_bus_name(&made.bus)
        .targets(target)
        .send()
        .await
        .map_err(|e| AwsError::call("PutTargets", format!("rule {name}"), e))?;
    if out.failed_entry_count() > 0 {
        let why = out
            .failed_entries()
            .first()
            .and_then(|f| f.error_message())
            .unwrap_or("rejected");
        return Err(AwsError::Invalid {
            resource: format!("rule {name}"),
            message: format!("PutTargets: {why}"),
        });
    }
    Ok(())
}

/// Removes the target, the rule and the queue. Every step is tried even when an earlier
/// one fails; the errors are returned (empty: all gone). Missing resources are not errors.
pub async fn delete(aws: &AwsClients, made: &TailResources) -> Vec<AwsError> {
    let mut errors = Vec::new();
    let name = &made.name;
    if !made.rule_arn.is_empty() {
        if let Err(e) = aws
            .eventbridge
            .remove_targets()
            .rule(name)
            .event_bus_name(&made.bus)
            .ids("tail")
            .send()
            .await
        {
            if !not_found(&e) {
                errors.push(AwsError::call("RemoveTargets", format!("rule {name}"), e));
            }
        }
        if let Err(e) = aws
            .eventbridge
            .delete_rule()
            .name(name)
            .event_bus_name(&made.bus)
            .send()
            .await
        {
            if !not_found(&e) {
                errors.push(AwsError::call("DeleteRule", format!("rule {name}"), e));
            }
        }
    }
    if !made.queue_url.is_empty() {
        if let Err(e) = aws
            .sqs
            .delete_queue()
            .queue_url(&made.queue_url)
            .send()
            .await
        {
            if !not_found(&e) {
                errors.push(AwsError::call("DeleteQueue", format!("queue {name}"), e));
            }
        }
    }
    errors
}

/// Finds every tail leftover on `bus`: rules and queues named `bridge-tail-*` that carry
/// the ownership and `bridge:tail` tags. Used by `bridge tail --cleanup` after a session
/// was killed before it could clean up.
pub async fn leftovers(aws: &AwsClients, bus: &str) -> Result<Vec<TailResources>, AwsError> {
    let mut found: BTreeMap<String, TailResources> = BTreeMap::new();
    let listed = super::pages::all(|token| async move {
        let out = aws
            .eventbridge
            .list_rules()
            .event_bus_name(bus)
            .name_prefix(TAIL_PREFIX)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call("ListRules", format!("event bus {bus}"), e))?;
        Ok((out.rules().to_vec(), out.next_token().map(str::to_string)))
    })
    .await?;
    for rule in &listed {
        let (Some(name), Some(arn)) = (rule.name(), rule.arn()) else {
            continue;
        };
        let tags = aws
            .eventbridge
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::call("ListTagsForResource", format!("rule {name}"), e))?;
        let is_tail = tags.tags().iter().any(|t| t.key() == TAIL_KEY)
            && tags
                .tags()
                .iter()
                .any(|t| t.key() == MANAGED_BY_KEY && t.value() == MANAGED_BY_VALUE);
        if is_tail {
            found.insert(
                name.to_string(),
                TailResources {
                    name: name.to_string(),
                    bus: bus.to_string(),
                    queue_url: String::new(),
                    queue_arn: String::new(),
                    rule_arn: arn.to_string(),
                },
            );
        }
    }
    let queues: Vec<String> = aws
        .sqs
        .list_queues()
        .queue_name_prefix(TAIL_PREFIX)
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("ListQueues", "queues", e))?;
    for url in &queues {
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        let tags = aws
            .sqs
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| AwsError::call("ListQueueTags", format!("queue {name}"), e))?;
        let tags = tags.tags();
        let is_tail = tags.is_some_and(|t| {
            t.contains_key(TAIL_KEY)
                && t.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
                && t.get(TAIL_BUS_KEY).map(String::as_str) == Some(bus)
        });
        if is_tail {
            found
                .entry(name.clone())
                .or_insert_with(|| TailResources {
                    name: name.clone(),
                    bus: bus.to_string(),
                    queue_url: String::new(),
                    queue_arn: String::new(),
                    rule_arn: String::new(),
                })
                .queue_url = url.to_string();
        }
    }
    Ok(found.into_values().collect())
}

fn not_found<E: std::error::Error>(e: &E) -> bool {
    let text = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
    text.contains("ResourceNotFound")
        || text.contains("NonExistentQueue")
        || text.contains("QueueDoesNotExist")
}
