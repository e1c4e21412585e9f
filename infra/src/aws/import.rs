//! `bridge import`: an existing deployment into project files. Reads a bus's rules and
//! their targets, and the queues and topics they name (with dead-letter queues and
//! subscriptions), and turns them into one `bridge.json` plus one rule file per rule, so
//! that `bridge plan` on the result changes nothing (ownership aside). Read calls only.

use std::collections::{BTreeMap, BTreeSet};

use rules::model::{
    AdoptDecl, DeadLetterDecl, FilterPolicyScope, InputTransformerDecl, ProjectFile, Protocol,
    QueueDecl, RetryPolicyDecl, RuleFile, RuleState, SubscriptionDecl, TargetDecl, TopicDecl,
};
use serde_json::Value;

use super::read::{self, QueueFacts, RuleFacts, TargetFacts, TopicFacts};
use super::{AwsClients, AwsError};

/// What `import` reads: the bus's rules (those whose name starts with the prefix) and the
/// queues and topics of the account (only those the rules name are kept).
#[derive(Debug, Clone, Default)]
pub struct ImportFacts {
    pub bus: String,
    /// Whether the bus exists (a custom bus may not).
    pub bus_exists: bool,
    pub bus_tags: BTreeMap<String, String>,
    pub rules: Vec<RuleFacts>,
    pub queues: Vec<QueueFacts>,
    pub topics: Vec<TopicFacts>,
}

/// Reads what an import of `bus` needs.
pub async fn read_for_import(
    aws: &AwsClients,
    bus: &str,
    prefix: &str,
) -> Result<ImportFacts, AwsError> {
    let Some(bus_facts) = read::read_bus(aws, bus).await? else {
        return Err(AwsError::Invalid {
            resource: format!("event bus {bus}"),
            message: "does not exist (check the name and the region)".into(),
        });
    };
    let rules: Vec<RuleFacts> = read::read_rules(aws, bus)
        .await?
        .into_iter()
        .filter(|r| r.name.starts_with(prefix) && !r.name.starts_with(crate::TAIL_PREFIX))
        .collect();
    let queues = read::read_queues(aws).await?;
    let mut topics = read::read_topics(aws).await?;
    let named: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| &r.targets)
        .map(|t| t.arn.as_str())
        .collect();
    for topic in topics.iter_mut().filter(|t| named.contains(t.arn.as_str())) {
        for sub in &mut topic.subscriptions {
            if let Some(arn) = &sub.arn {
                sub.attributes = read::subscription_attributes(aws, arn).await?;
            }
        }
    }
    Ok(ImportFacts {
        bus: bus.to_string(),
        bus_exists: true,
        bus_tags: bus_facts.tags,
        rules,
        queues,
        topics,
    })
}

/// The files an import writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub project: ProjectFile,
    /// `(rule name, rule file, pattern)`: the pattern goes into `patterns/<name>.json`,
    /// which the rule file names.
    pub rules: Vec<(String, RuleFile, Option<Value>)>,
    /// What could not be carried over exactly.
    pub warnings: Vec<String>,
}

/// The stack an import belongs to: `stack` when given, else the `bridge:stack` tag the
/// imported rules share, else the bus's name (`imported` for the default bus).
pub fn stack_name(facts: &ImportFacts, stack: Option<&str>) -> String {
    if let Some(s) = stack {
        return s.to_string();
    }
    let tagged: BTreeSet<&str> = facts
        .rules
        .iter()
        .filter_map(|r| r.tags.get(rules::owner::STACK_KEY).map(String::as_str))
        .collect();
    match (tagged.len(), tagged.iter().next()) {
        (1, Some(s))
            if facts
                .rules
                .iter()
                .all(|r| r.tags.contains_key(rules::owner::STACK_KEY)) =>
        {
            s.to_string()
        }
        _ if facts.bus != "default" => facts.bus.clone(),
        _ => "imported".to_string(),
    }
}

/// Turns what was read into project files for `stack`; `adopt` lists everything imported
/// that the stack does not own yet under `adopt`.
pub fn import(facts: &ImportFacts, stack: &str, adopt: bool) -> Imported {
    let mut warnings = Vec::new();
    let queue_by_arn: BTreeMap<&str, &QueueFacts> =
        facts.queues.iter().map(|q| (q.arn.as_str(), q)).collect();
    let topic_by_arn: BTreeMap<&str, &TopicFacts> =
        facts.topics.iter().map(|t| (t.arn.as_str(), t)).collect();

    // Queues and topics the rules name, then the dead-letter queues they name.
    let mut queues: BTreeSet<&str> = BTreeSet::new();
    let mut topics: BTreeSet<&str> = BTreeSet::new();
    for t in facts.rules.iter().flat_map(|r| &r.targets) {
        if queue_by_arn.contains_key(t.arn.as_str()) {
            queues.insert(&t.arn);
        } else if topic_by_arn.contains_key(t.arn.as_str()) {
            topics.insert(&t.arn);
        }
        if let Some(d) = &t.dead_letter_arn {
            if queue_by_arn.contains_key(d.as_str()) {
                queues.insert(d);
            }
        }
    }
    for arn in topics.clone() {
        for s in &topic_by_arn[arn].subscriptions {
            if s.protocol == "sqs" && queue_by_arn.contains_key(s.endpoint.as_str()) {
                queues.insert(&s.endpoint);
            }
        }
    }
    // Redrive targets, transitively.
    loop {
        let more: Vec<&str> = queues
            .iter()
            .filter_map(|arn| redrive(queue_by_arn[arn]).map(|(d, _)| d))
            .filter_map(|d| queue_by_arn.get_key_value(d.as_str()).map(|(k, _)| *k))
            .filter(|d| !queues.contains(d))
            .collect();
        if more.is_empty() {
            break;
        }
        queues.extend(more);
    }
    // A queue's name when it is imported, else its ARN.
    let queue_ref = |arn: &str| match queue_by_arn.get(arn) {
        Some(q) if queues.contains(arn) => q.name.clone(),
        _ => arn.to_string(),
    };

    let queue_decls: Vec<QueueDecl> = queues
        .iter()
        .map(|arn| queue_decl(queue_by_arn[arn], &queue_ref))
        .collect();
    let topic_decls: Vec<TopicDecl> = topics
        .iter()
        .map(|arn| topic_decl(topic_by_arn[arn], &queue_ref, &mut warnings))
        .collect();

    let mut rule_files = Vec::new();
    for r in &facts.rules {
        let pattern = r
            .event_pattern
            .as_deref()
            .filter(|p| !p.is_empty())
            .and_then(|p| match serde_json::from_str::<Value>(p) {
                Ok(v) => Some(v),
                Err(e) => {
                    warnings.push(format!(
                        "rule {}: its pattern is not JSON ({e}); left out",
                        r.name
                    ));
                    None
                }
            });
        let targets = r
            .targets
            .iter()
            .map(|t| {
                target_decl(
                    t,
                    &queue_by_arn,
                    &topic_by_arn,
                    &queue_ref,
                    &r.name,
                    &mut warnings,
                )
            })
            .collect();
        let file = RuleFile {
            schema: None,
            name: None,
            bus: None,
            description: r.description.clone().filter(|d| !d.is_empty()),
            state: if r.enabled {
                RuleState::Enabled
            } else {
                RuleState::Disabled
            },
            event_pattern: None,
            pattern_file: pattern
                .as_ref()
                .map(|_| format!("../patterns/{}.json", r.name)),
            schedule: r.schedule_expression.clone(),
            targets,
        };
        rule_files.push((r.name.clone(), file, pattern));
    }

    let owned = |tags: &BTreeMap<String, String>| rules::owner::owned_by(tags, stack);
    let adopt_decl = if adopt {
        AdoptDecl {
            event_bus: facts.bus != "default" && !owned(&facts.bus_tags),
            queues: queues
                .iter()
                .map(|a| queue_by_arn[a])
                .filter(|q| !owned(&q.tags))
                .map(|q| q.name.clone())
                .collect(),
            topics: topics
                .iter()
                .map(|a| topic_by_arn[a])
                .filter(|t| !owned(&t.tags))
                .map(|t| t.name.clone())
                .collect(),
            rules: facts
                .rules
                .iter()
                .filter(|r| !owned(&r.tags))
                .map(|r| r.name.clone())
                .collect(),
        }
    } else {
        AdoptDecl::default()
    };

    let project = ProjectFile {
        schema: None,
        stack: stack.to_string(),
        region: None,
        bus: facts.bus.clone(),
        rules_dir: "rules".to_string(),
        backend: rules::model::Backend::Aws,
        local_state_dir: None,
        tags: BTreeMap::new(),
        buckets: Vec::new(),
        queues: queue_decls,
        topics: topic_decls,
        adopt: adopt_decl,
    };
    Imported {
        project,
        rules: rule_files,
        warnings,
    }
}

/// A queue's redrive policy: `(dead-letter queue ARN, max receive count)`.
fn redrive(q: &QueueFacts) -> Option<(String, u32)> {
    let text = q.attributes.get("RedrivePolicy")?;
    let v: Value = serde_json::from_str(text).ok()?;
    let arn = v.get("deadLetterTargetArn")?.as_str()?;
    let count = match v.get("maxReceiveCount")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    Some((arn.to_string(), u32::try_from(count).ok()?))
}

fn queue_decl(q: &QueueFacts, queue_ref: &dyn Fn(&str) -> String) -> QueueDecl {
    let a = &q.attributes;
    let number = |key: &str, default: u32| {
        a.get(key)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v != default)
    };
    let fifo = a.get("FifoQueue").map(String::as_str) == Some("true");
    let encryption = match (a.get("KmsMasterKeyId"), a.get("SqsManagedSseEnabled")) {
        (Some(key), _) if !key.is_empty() => Some(key.clone()),
        (_, Some(v)) if v == "true" => Some("sqs".to_string()),
        (_, Some(v)) if v == "false" => Some("none".to_string()),
        _ => None,
    };
    QueueDecl {
        name: q.name.clone(),
        fifo,
        visibility_timeout: number("VisibilityTimeout", 30),
        message_retention: number("MessageRetentionPeriod", 345_600),
        delay: number("DelaySeconds", 0),
        encryption,
        content_based_deduplication: fifo
            && a.get("ContentBasedDeduplication").map(String::as_str) == Some("true"),
        dead_letter: redrive(q).map(|(arn, max_receive_count)| DeadLetterDecl {
            queue: queue_ref(&arn),
            max_receive_count,
        }),
    }
}

fn topic_decl(
    t: &TopicFacts,
    queue_ref: &dyn Fn(&str) -> String,
    warnings: &mut Vec<String>,
) -> TopicDecl {
    let mut subscriptions = Vec::new();
    for s in &t.subscriptions {
        let protocol = match s.protocol.as_str() {
            "email" => Protocol::Email,
            "sqs" => Protocol::Sqs,
            "https" => Protocol::Https,
            other => {
                warnings.push(format!(
                    "topic {}: the {other} subscription to {} is not one bridge declares \
                     (email, sqs, https); left out",
                    t.name, s.endpoint
                ));
                continue;
            }
        };
        let endpoint = if protocol == Protocol::Sqs {
            queue_ref(&s.endpoint)
        } else {
            s.endpoint.clone()
        };
        let filter_policy = s
            .attributes
            .get("FilterPolicy")
            .filter(|p| !p.is_empty())
            .and_then(|p| serde_json::from_str(p).ok());
        let filter_policy_scope = match s.attributes.get("FilterPolicyScope").map(String::as_str) {
            Some("MessageBody") => Some(FilterPolicyScope::MessageBody),
            Some("MessageAttributes") if filter_policy.is_some() => {
                Some(FilterPolicyScope::MessageAttributes)
            }
            _ => None,
        };
        subscriptions.push(SubscriptionDecl {
            protocol,
            endpoint,
            filter_policy,
            filter_policy_scope,
            raw_message_delivery: s.attributes.get("RawMessageDelivery").map(String::as_str)
                == Some("true"),
        });
    }
    TopicDecl {
        name: t.name.clone(),
        fifo: t.attributes.get("FifoTopic").map(String::as_str) == Some("true"),
        display_name: t
            .attributes
            .get("DisplayName")
            .filter(|d| !d.is_empty())
            .cloned(),
        subscriptions,
    }
}

fn target_decl(
    t: &TargetFacts,
    queue_by_arn: &BTreeMap<&str, &QueueFacts>,
    topic_by_arn: &BTreeMap<&str, &TopicFacts>,
    queue_ref: &dyn Fn(&str) -> String,
    rule: &str,
    warnings: &mut Vec<String>,
) -> TargetDecl {
    let (queue, topic) = if let Some(q) = queue_by_arn.get(t.arn.as_str()) {
        (Some(q.name.clone()), None)
    } else if let Some(tp) = topic_by_arn.get(t.arn.as_str()) {
        (None, Some(tp.name.clone()))
    } else if t.arn.split(':').nth(2) == Some("sns") {
        (None, Some(t.arn.clone()))
    } else {
        if t.arn.split(':').nth(2) != Some("sqs") {
            warnings.push(format!(
                "rule {rule} target {}: {} is neither a queue nor a topic; kept as an ARN \
                 (delivered to, never granted)",
                t.id, t.arn
            ));
        }
        (Some(t.arn.clone()), None)
    };
    let input = t
        .input
        .as_deref()
        .map(|i| serde_json::from_str(i).unwrap_or_else(|_| Value::String(i.to_string())));
    TargetDecl {
        id: t.id.clone(),
        queue,
        topic,
        message_group_id: t.message_group_id.clone(),
        input,
        input_path: t.input_path.clone(),
        input_transformer: t.input_transformer.as_ref().map(|(paths, template)| {
            InputTransformerDecl {
                input_paths_map: paths.clone(),
                input_template: template.clone(),
            }
        }),
        retry_policy: match (t.maximum_retry_attempts, t.maximum_event_age_seconds) {
            (None, None) => None,
            (attempts, age) => Some(RetryPolicyDecl {
                maximum_retry_attempts: attempts.and_then(|a| u32::try_from(a).ok()),
                maximum_event_age_seconds: age.and_then(|a| u32::try_from(a).ok()),
            }),
        },
        dead_letter_queue: t.dead_letter_arn.as_deref().map(queue_ref),
    }
}
