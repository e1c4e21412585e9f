//! The account read into a [`World`] for the checks (read calls only).

use std::collections::{BTreeMap, BTreeSet};

use rules::desired::Desired;

use super::{BucketState, RuleState, Sink, TargetState, World};
use crate::aws::read::{self, AccountFacts, BucketFacts};
use crate::aws::{keys, s3_notify, AwsClients, AwsError};

/// Reads what `desired` names: its bus's rules, every queue and topic, the declared
/// buckets (a missing bucket is a finding, not an error).
pub async fn read_world(aws: &AwsClients, desired: &Desired) -> Result<World, AwsError> {
    let bus = read::read_bus(aws, &desired.bus).await?;
    let rules = match bus {
        Some(_) => read::read_rules(aws, &desired.bus).await?,
        None => Vec::new(),
    };
    let queues = read::read_queues(aws).await?;
    let topics = read::read_topics(aws).await?;
    let mut buckets = Vec::new();
    let mut missing = Vec::new();
    for b in desired.buckets.iter().filter(|b| b.routes_events()) {
        match s3_notify::read_if_exists(&aws.s3, &b.name).await? {
            Some(notifications) => buckets.push(BucketFacts {
                name: b.name.clone(),
                notifications,
            }),
            None => missing.push(b.name.clone()),
        }
    }
    let facts = AccountFacts {
        bus,
        rules,
        queues,
        topics,
        buckets,
        other_buses: Vec::new(),
        // The checks do not look at archives.
        archives: Vec::new(),
    };
    let mut world = world_from_aws(&facts, &aws.region);
    world
        .buckets
        .extend(missing.into_iter().map(|name| BucketState {
            name,
            eventbridge: None,
            notifications: Vec::new(),
        }));
    for key in keys_to_read(desired, &world) {
        let policy = keys::read_key_policy(aws, &key).await?;
        world.key_policies.insert(key, policy);
    }
    Ok(world)
}

/// [`super::key_warnings`] for `desired`, reading the KMS keys its queues name (none when
/// no declared queue uses a customer-managed key; the AWS-managed aliases are refused when
/// the project loads).
pub async fn read_key_warnings(
    aws: &AwsClients,
    desired: &Desired,
) -> Result<Vec<String>, AwsError> {
    let mut policies = BTreeMap::new();
    let declared: BTreeSet<&String> = desired
        .queues
        .iter()
        .filter_map(|q| q.attributes.get("KmsMasterKeyId"))
        .filter(|k| !is_aws_managed_alias(k))
        .collect();
    for key in declared {
        policies.insert(key.clone(), keys::read_key_policy(aws, key).await?);
    }
    Ok(super::key_warnings(desired, &policies))
}

/// The KMS keys of the queues and topics the checks look at: the declared ones, and the
/// destinations and dead-letter queues of the declared rules' targets. The AWS-managed
/// aliases are judged by name and not read.
fn keys_to_read(desired: &Desired, world: &World) -> BTreeSet<String> {
    let declared_rules: BTreeSet<&str> = desired.rules.iter().map(|r| r.name.as_str()).collect();
    let target_arns: BTreeSet<&str> = world
        .rules
        .iter()
        .filter(|r| declared_rules.contains(r.name.as_str()))
        .flat_map(|r| &r.targets)
        .flat_map(|t| std::iter::once(t.arn.as_str()).chain(t.dead_letter_arn.as_deref()))
        .collect();
    let queues = world.queues.iter().filter(|q| {
        desired.queues.iter().any(|d| d.name == q.name) || target_arns.contains(q.arn.as_str())
    });
    let topics = world.topics.iter().filter(|t| {
        desired.topics.iter().any(|d| d.name == t.name) || target_arns.contains(t.arn.as_str())
    });
    queues
        .chain(topics)
        .filter_map(|s| s.kms_key.clone())
        .filter(|k| !is_aws_managed_alias(k))
        .collect()
}

/// `alias/aws/…` (or its ARN): a key AWS manages, judged by its name alone.
fn is_aws_managed_alias(key: &str) -> bool {
    key.starts_with("alias/aws/") || key.contains(":alias/aws/")
}

/// The checks' view of account facts.
pub fn world_from_aws(facts: &AccountFacts, region: &str) -> World {
    let sink = |name: &str, arn: &str, attributes: &BTreeMap<String, String>| Sink {
        name: name.to_string(),
        arn: arn.to_string(),
        fifo: attributes.get("FifoQueue").or(attributes.get("FifoTopic"))
            == Some(&"true".to_string()),
        policy: attributes.get("Policy").cloned(),
        kms_key: attributes
            .get("KmsMasterKeyId")
            .filter(|k| !k.is_empty())
            .cloned(),
        dead_letter_arn: attributes
            .get("RedrivePolicy")
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|r| r["deadLetterTargetArn"].as_str().map(str::to_string)),
        messages: attributes
            .get("ApproximateNumberOfMessages")
            .and_then(|n| n.parse().ok()),
        subscriptions: Vec::new(),
    };
    World {
        backend: "aws",
        region: region.to_string(),
        account: crate::aws::plan::account_of(facts),
        policies_enforced: true,
        rules: facts
            .rules
            .iter()
            .map(|r| RuleState {
                name: r.name.clone(),
                arn: r.arn.clone(),
                enabled: r.enabled,
                targets: r
                    .targets
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
        queues: facts
            .queues
            .iter()
            .map(|q| sink(&q.name, &q.arn, &q.attributes))
            .collect(),
        topics: facts
            .topics
            .iter()
            .map(|t| Sink {
                subscriptions: t
                    .subscriptions
                    .iter()
                    .map(|s| (s.protocol.clone(), s.endpoint.clone(), s.pending))
                    .collect(),
                ..sink(&t.name, &t.arn, &t.attributes)
            })
            .collect(),
        buckets: facts
            .buckets
            .iter()
            .map(|b| BucketState {
                name: b.name.clone(),
                eventbridge: Some(b.notifications.eventbridge),
                notifications: b
                    .notifications
                    .configurations
                    .iter()
                    .map(|c| (c.id.clone().unwrap_or_default(), c.arn.clone()))
                    .collect(),
            })
            .collect(),
        // Read by `read_world` (facts alone do not hold them).
        key_policies: BTreeMap::new(),
    }
}
