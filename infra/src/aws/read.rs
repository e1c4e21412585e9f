//! Readers of what exists in AWS: rules with their tags and targets, queues, topics with
//! their subscriptions, and bucket notification settings.
//!
//! Only read calls are made here. The facts are kept close to what AWS returns (ARNs,
//! raw policy documents, attribute maps) so the diff in `rules` sees exactly what is there.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;

use super::{pages, policy, s3_notify, AwsClients, AwsError};

/// An EventBridge rule as it exists, with its tags and targets.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFacts {
    pub name: String,
    pub arn: String,
    pub bus: String,
    pub event_pattern: Option<String>,
    /// `ScheduleExpression` of a scheduled rule.
    pub schedule_expression: Option<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub targets: Vec<TargetFacts>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFacts {
    pub id: String,
    pub arn: String,
    pub input: Option<String>,
    pub input_path: Option<String>,
    /// `(InputPathsMap, InputTemplate)`.
    pub input_transformer: Option<(BTreeMap<String, String>, String)>,
    pub dead_letter_arn: Option<String>,
    pub message_group_id: Option<String>,
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_seconds: Option<i32>,
    /// The role EventBridge assumes to deliver (event bus targets).
    pub role_arn: Option<String>,
}

impl TargetFacts {
    /// A declared target as AWS lists it once its ARNs are known (the planner compares with
    /// this; the executor sends it).
    pub fn declared(
        t: &rules::desired::Target,
        arn: String,
        dead_letter_arn: Option<String>,
    ) -> TargetFacts {
        TargetFacts {
            id: t.id.clone(),
            arn,
            input: t.input.clone(),
            input_path: t.input_path.clone(),
            input_transformer: t.input_transformer.clone(),
            dead_letter_arn,
            message_group_id: t.message_group_id.clone(),
            maximum_retry_attempts: t.maximum_retry_attempts,
            maximum_event_age_seconds: t.maximum_event_age_seconds,
            role_arn: t.role_arn.clone(),
        }
    }
}

/// An SQS queue: its URL, ARN, attributes (policy included, raw) and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFacts {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl QueueFacts {
    pub fn policy(&self) -> Option<&str> {
        self.attributes.get("Policy").map(String::as_str)
    }
}

/// An SNS topic with its attributes (policy included, raw), tags and subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicFacts {
    pub name: String,
    pub arn: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub subscriptions: Vec<SubscriptionFacts>,
}

impl TopicFacts {
    pub fn policy(&self) -> Option<&str> {
        self.attributes.get("Policy").map(String::as_str)
    }
}

/// A subscription. An email subscription that was not confirmed yet has no ARN: AWS
/// returns the literal `PendingConfirmation` instead, and it cannot be changed or removed
/// until it is confirmed (or expires after three days).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionFacts {
    pub arn: Option<String>,
    pub protocol: String,
    pub endpoint: String,
    pub pending: bool,
    /// `RawMessageDelivery`, `FilterPolicy`…; read only for confirmed subscriptions of
    /// the stack's own topics (empty otherwise).
    pub attributes: BTreeMap<String, String>,
}

/// A bucket's notification settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketFacts {
    pub name: String,
    pub notifications: s3_notify::BucketNotifications,
}

/// An event bus (the `default` bus always exists and is nobody's to own).
#[derive(Debug, Clone, PartialEq)]
pub struct BusFacts {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
    /// The bus's resource policy document, raw (`None`: no policy).
    pub policy: Option<String>,
}

/// Everything relevant on one bus and in the account's queues and topics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountFacts {
    /// `None` when the bus does not exist (then it has no rules either).
    pub bus: Option<BusFacts>,
    pub rules: Vec<RuleFacts>,
    pub queues: Vec<QueueFacts>,
    pub topics: Vec<TopicFacts>,
    pub buckets: Vec<BucketFacts>,
    /// Every other event bus of the account (`default` included), with tags and policy:
    /// declared buses, buses the stack owns, and policies holding the stack's statements
    /// are found here.
    pub other_buses: Vec<BusFacts>,
    /// Every archive of the account and region (names are unique there, not per bus).
    pub archives: Vec<super::archive_facts::ArchiveFacts>,
}

/// What to read: the bus, and the buckets the desired state mentions (buckets are never
/// listed: `bridge` only ever touches the notification settings of declared buckets, and
/// of buckets its own queue and topic policies still grant — see [`read_account`]).
#[derive(Debug, Clone)]
pub struct ReadScope<'a> {
    /// Subscription attributes are read only on this stack's topics.
    pub stack: &'a str,
    pub bus: &'a str,
    pub buckets: Vec<&'a str>,
}

/// Reads rules on the bus, all queues and topics (with tags, to find what a stack owns),
/// and the notification settings of the declared buckets plus those named in the stack's
/// S3 grants on its own queues and topics. The latter is how `destroy` and `--prune` find
/// the stack's notifications on a bucket that is no longer declared; such a bucket that no
/// longer exists is skipped.
pub async fn read_account(
    aws: &AwsClients,
    scope: &ReadScope<'_>,
) -> Result<AccountFacts, AwsError> {
    let bus = read_bus(aws, scope.bus).await?;
    let other_buses = read_other_buses(aws, scope.bus).await?;
    let rules = match bus {
        Some(_) => read_rules(aws, scope.bus).await?,
        None => Vec::new(),
    };
    let mut topics = read_topics(aws).await?;
    for topic in &mut topics {
        if rules::owner::owned_by(&topic.tags, scope.stack) {
            for sub in &mut topic.subscriptions {
                if let Some(arn) = &sub.arn {
                    sub.attributes = subscription_attributes(aws, arn).await?;
                }
            }
        }
    }
    let queues = read_queues(aws).await?;
    let mut buckets = Vec::new();
    for name in &scope.buckets {
        buckets.push(BucketFacts {
            name: name.to_string(),
            notifications: s3_notify::read(&aws.s3, name).await?,
        });
    }
    for name in granted_buckets(scope.stack, &queues, &topics) {
        if scope.buckets.contains(&name.as_str()) {
            continue;
        }
        if let Some(notifications) = s3_notify::read_if_exists(&aws.s3, &name).await? {
            buckets.push(BucketFacts {
                name,
                notifications,
            });
        }
    }
    let archives = super::archive_facts::read_archives(aws).await?;
    Ok(AccountFacts {
        bus,
        rules,
        queues,
        topics,
        buckets,
        other_buses,
        archives,
    })
}

/// The notification settings of the buckets named that exist (a missing one is skipped).
pub async fn read_buckets(
    aws: &AwsClients,
    names: &[String],
) -> Result<Vec<BucketFacts>, AwsError> {
    let mut buckets = Vec::new();
    for name in names {
        if let Some(notifications) = s3_notify::read_if_exists(&aws.s3, name).await? {
            buckets.push(BucketFacts {
                name: name.clone(),
                notifications,
            });
        }
    }
    Ok(buckets)
}

/// Buckets named in the stack's `s3.amazonaws.com` statements on its own queues and topics.
fn granted_buckets(stack: &str, queues: &[QueueFacts], topics: &[TopicFacts]) -> Vec<String> {
    let sid = policy::Grant::sid_for(stack, "s3.amazonaws.com");
    let policies = queues
        .iter()
        .filter(|q| rules::owner::owned_by(&q.tags, stack))
        .map(QueueFacts::policy)
        .chain(
            topics
                .iter()
                .filter(|t| rules::owner::owned_by(&t.tags, stack))
                .map(TopicFacts::policy),
        );
    let mut names = std::collections::BTreeSet::new();
    for policy in policies {
        for arn in policy::source_arns(policy, &sid) {
            if let Some(name) = bucket_of_arn(&arn) {
                names.insert(name.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// `arn:<partition>:s3:::<bucket>` -> `<bucket>`.
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("s3"), Some(""), Some(""), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Reads a bus and its tags; `None` when it does not exist.
pub async fn read_bus(aws: &AwsClients, name: &str) -> Result<Option<BusFacts>, AwsError> {
    let out = match aws.eventbridge.describe_event_bus().name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(AwsError::call(
                "DescribeEventBus",
                format!("event bus {name}"),
                e,
            ))
        }
    };
    let Some(arn) = out.arn().map(str::to_string) else {
        return Err(AwsError::Invalid {
            resource: format!("event bus {name}"),
            message: "DescribeEventBus returned no Arn".into(),
        });
    };
    let tags = if name == "default" {
        BTreeMap::new()
    } else {
        match rule_tags(aws, &arn).await {
            Err(AwsError::Gone { .. }) => return Ok(None),
            other => other?,
        }
    };
    Ok(Some(BusFacts {
        name: name.to_string(),
        arn,
        tags,
        policy: out.policy().map(str::to_string).filter(|p| !p.is_empty()),
    }))
}

/// Every event bus of the account but `except`, each with its tags and policy.
pub async fn read_other_buses(aws: &AwsClients, except: &str) -> Result<Vec<BusFacts>, AwsError> {
    let names = pages::all(|token| async move {
        let page = aws
            .eventbridge
            .list_event_buses()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call("ListEventBuses", "account", e))?;
        let names = page
            .event_buses()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| *n != except)
            .map(str::to_string)
            .collect();
        Ok((names, page.next_token().map(str::to_string)))
    })
    .await?;
    let mut buses = Vec::new();
    for name in names {
        // Deleted between the listing and the read: not there.
        if let Some(bus) = read_bus(aws, &name).await? {
            buses.push(bus);
        }
    }
    Ok(buses)
}

pub async fn read_rules(aws: &AwsClients, bus: &str) -> Result<Vec<RuleFacts>, AwsError> {
    let listed = pages::all(|token| async move {
        let page = aws
            .eventbridge
            .list_rules()
            .event_bus_name(bus)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call("ListRules", format!("event bus {bus}"), e))?;
        Ok((page.rules().to_vec(), page.next_token().map(str::to_string)))
    })
    .await?;
    let mut rules = Vec::new();
    for rule in &listed {
        let (Some(name), Some(arn)) = (rule.name(), rule.arn()) else {
            continue;
        };
        // A rule deleted between the listing and these reads is simply not there.
        let (tags, targets) = match (
            rule_tags(aws, arn).await,
            read_targets(aws, bus, name).await,
        ) {
            (Err(AwsError::Gone { .. }), _) | (_, Err(AwsError::Gone { .. })) => continue,
            (tags, targets) => (tags?, targets?),
        };
        rules.push(RuleFacts {
            name: name.to_string(),
            arn: arn.to_string(),
            bus: bus.to_string(),
            event_pattern: rule.event_pattern().map(str::to_string),
            schedule_expression: rule
                .schedule_expression()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            enabled: rule
                .state()
                .is_none_or(|s| *s == aws_sdk_eventbridge::types::RuleState::Enabled),
            description: rule.description().map(str::to_string),
            tags,
            targets,
        });
    }
    Ok(rules)
}

async fn rule_tags(aws: &AwsClients, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = aws
        .eventbridge
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| {
            let gone = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            AwsError::call_or_gone("ListTagsForResource", arn, gone, e)
        })?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

pub async fn read_targets(
    aws: &AwsClients,
    bus: &str,
    rule: &str,
) -> Result<Vec<TargetFacts>, AwsError> {
    let listed = pages::all(|token| async move {
        let page = aws
            .eventbridge
            .list_targets_by_rule()
            .event_bus_name(bus)
            .rule(rule)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                let gone = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception());
                AwsError::call_or_gone("ListTargetsByRule", format!("rule {rule}"), gone, e)
            })?;
        Ok((
            page.targets().to_vec(),
            page.next_token().map(str::to_string),
        ))
    })
    .await?;
    Ok(listed
        .iter()
        .map(|t| TargetFacts {
            id: t.id().to_string(),
            arn: t.arn().to_string(),
            input: t.input().map(str::to_string),
            input_path: t.input_path().map(str::to_string),
            input_transformer: t.input_transformer().map(|it| {
                (
                    it.input_paths_map()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    it.input_template().to_string(),
                )
            }),
            dead_letter_arn: t
                .dead_letter_config()
                .and_then(|d| d.arn())
                .map(str::to_string),
            message_group_id: t
                .sqs_parameters()
                .and_then(|p| p.message_group_id())
                .map(str::to_string),
            maximum_retry_attempts: t.retry_policy().and_then(|r| r.maximum_retry_attempts()),
            maximum_event_age_seconds: t
                .retry_policy()
                .and_then(|r| r.maximum_event_age_in_seconds()),
            role_arn: t.role_arn().map(str::to_string),
        })
        .collect())
}

pub async fn read_queues(aws: &AwsClients) -> Result<Vec<QueueFacts>, AwsError> {
    let urls: Vec<String> = aws
        .sqs
        .list_queues()
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("ListQueues", "account", e))?;
    let results = read_all(
        aws,
        urls,
        |aws, url| async move { read_queue(&aws, &url).await },
    )
    .await;
    let mut queues = Vec::new();
    for result in results {
        if let Some(queue) = result? {
            queues.push(queue);
        }
    }
    Ok(queues)
}

/// How many per-resource reads run at once: the account-wide listing reads every queue's
/// attributes and tags, and one at a time that is a round trip per queue.
const READ_CONCURRENCY: usize = 16;

/// Runs `read` for every item, at most [`READ_CONCURRENCY`] at a time; results keep the
/// order of `items`.
async fn read_all<T, O, F, Fut>(
    aws: &AwsClients,
    items: Vec<T>,
    read: F,
) -> Vec<Result<O, AwsError>>
where
    T: Send + 'static,
    O: Send + 'static,
    F: Fn(AwsClients, T) -> Fut,
    Fut: std::future::Future<Output = Result<O, AwsError>> + Send + 'static,
{
    let total = items.len();
    let mut results: Vec<Option<Result<O, AwsError>>> = (0..total).map(|_| None).collect();
    let mut pending = items.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < READ_CONCURRENCY {
            let Some((index, item)) = pending.next() else {
                break;
            };
            let future = read(aws.clone(), item);
            running.spawn(async move { (index, future.await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            Err(e) => {
                return vec![Err(AwsError::Invalid {
                    resource: "account".into(),
                    message: format!("a read task failed: {e}"),
                })]
            }
        }
    }
    results.into_iter().flatten().collect()
}

/// Reads one queue by URL; `None` when it vanished between listing and reading.
pub async fn read_queue(aws: &AwsClients, url: &str) -> Result<Option<QueueFacts>, AwsError> {
    let attrs = match aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_missing_queue(&e) => return Ok(None),
        Err(e) => return Err(AwsError::call("GetQueueAttributes", url, e)),
    };
    let attributes: BTreeMap<String, String> = attrs
        .attributes()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let Some(arn) = attributes.get("QueueArn").cloned() else {
        return Err(AwsError::Invalid {
            resource: url.to_string(),
            message: "GetQueueAttributes returned no QueueArn".into(),
        });
    };
    let tags = match aws.sqs.list_queue_tags().queue_url(url).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::call("ListQueueTags", url, e)),
    }
    .tags()
    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    .unwrap_or_default();
    Ok(Some(QueueFacts {
        name: arn.rsplit(':').next().unwrap_or_default().to_string(),
        url: url.to_string(),
        arn,
        attributes,
        tags,
    }))
}

fn is_missing_queue<R>(
    e: &aws_sdk_sqs::error::SdkError<
        aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError,
        R,
    >,
) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_queue_does_not_exist())
}

pub async fn read_topics(aws: &AwsClients) -> Result<Vec<TopicFacts>, AwsError> {
    let arns: Vec<String> = aws
        .sns
        .list_topics()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("ListTopics", "account", e))?
        .iter()
        .filter_map(|t| t.topic_arn())
        .map(str::to_string)
        .collect();
    let mut topics = Vec::new();
    let results = read_all(
        aws,
        arns,
        |aws, arn| async move { read_topic(&aws, &arn).await },
    )
    .await;
    for result in results {
        match result {
            Ok(topic) => topics.push(topic),
            // Deleted between the listing and the read.
            Err(AwsError::Gone { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(topics)
}

pub async fn read_topic(aws: &AwsClients, arn: &str) -> Result<TopicFacts, AwsError> {
    let attributes = aws
        .sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .map_err(|e| {
            let gone = e
                .as_service_error()
                .is_some_and(|s| s.is_not_found_exception());
            AwsError::call_or_gone("GetTopicAttributes", arn, gone, e)
        })?
        .attributes()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let tags = aws
        .sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| {
            let gone = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            AwsError::call_or_gone("ListTagsForResource", arn, gone, e)
        })?
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let subscriptions = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            let gone = e
                .as_service_error()
                .is_some_and(|s| s.is_not_found_exception());
            AwsError::call_or_gone("ListSubscriptionsByTopic", arn, gone, e)
        })?
        .iter()
        .map(|s| {
            let sub_arn = s.subscription_arn().unwrap_or_default();
            let pending = sub_arn == "PendingConfirmation" || sub_arn.is_empty();
            SubscriptionFacts {
                arn: (!pending).then(|| sub_arn.to_string()),
                protocol: s.protocol().unwrap_or_default().to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
                pending,
                attributes: BTreeMap::new(),
            }
        })
        .collect();
    Ok(TopicFacts {
        name: arn.rsplit(':').next().unwrap_or_default().to_string(),
        arn: arn.to_string(),
        attributes,
        tags,
        subscriptions,
    })
}

/// A confirmed subscription's attributes (empty when it vanished meanwhile).
pub async fn subscription_attributes(
    aws: &AwsClients,
    arn: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    match aws
        .sns
        .get_subscription_attributes()
        .subscription_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .attributes()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(BTreeMap::new())
        }
        Err(e) => Err(AwsError::call("GetSubscriptionAttributes", arn, e)),
    }
}
