//! `bridge import`: an existing deployment into project files. Reads a bus's rules and
//! their targets, and the queues and topics they name (with dead-letter queues and
//! subscriptions), and turns them into one `bridge.json` plus one rule file per rule, so
//! that `bridge plan` on the result changes nothing (ownership aside). Read calls only.

use std::collections::{BTreeMap, BTreeSet};

use rules::model::{
    AdoptDecl, ArchiveDecl, BusDecl, DeadLetterDecl, FilterPolicyScope, GranteeDecl,
    InputTransformerDecl, OrganizationDecl, ProjectFile, Protocol, QueueDecl, RetryPolicyDecl,
    RuleFile, RuleState, SubscriptionDecl, TargetDecl, TopicDecl,
};
use serde_json::Value;

use super::archive_facts::{self, ArchiveFacts};
use super::read::{self, BusFacts, QueueFacts, RuleFacts, TargetFacts, TopicFacts};
use super::{bus_policy, AwsClients, AwsError};

/// What `import` reads: the bus (tags and policy), its rules (those whose name starts with
/// the prefix) and archives, the account's other buses, and its queues and topics (only
/// those the rules name are kept).
#[derive(Debug, Clone, Default)]
pub struct ImportFacts {
    pub bus: String,
    /// Whether the bus exists (a custom bus may not).
    pub bus_exists: bool,
    pub bus_tags: BTreeMap<String, String>,
    /// The bus's resource policy, raw.
    pub bus_policy: Option<String>,
    pub rules: Vec<RuleFacts>,
    pub queues: Vec<QueueFacts>,
    pub topics: Vec<TopicFacts>,
    /// The archives of the bus (any owner).
    pub archives: Vec<ArchiveFacts>,
    /// Every other bus of the account, with tags and policy (the stack's own, and those
    /// holding its grants, are imported).
    pub other_buses: Vec<BusFacts>,
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
    let archives: Vec<ArchiveFacts> = archive_facts::read_archives(aws)
        .await?
        .into_iter()
        .filter(|a| a.event_source_arn == bus_facts.arn)
        .collect();
    // The rule AWS keeps for each archive (`Events-Archive-NAME`) goes with its archive.
    let managed: BTreeSet<String> = archives
        .iter()
        .map(|a| format!("Events-Archive-{}", a.name))
        .collect();
    let rules: Vec<RuleFacts> = read::read_rules(aws, bus)
        .await?
        .into_iter()
        .filter(|r| {
            r.name.starts_with(prefix)
                && !r.name.starts_with(crate::TAIL_PREFIX)
                && !managed.contains(&r.name)
        })
        .collect();
    let other_buses = read::read_other_buses(aws, bus).await?;
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
        bus_policy: bus_facts.policy,
        rules,
        queues,
        topics,
        archives,
        other_buses,
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
        tags: project_tags(
            facts,
            stack,
            &queues,
            &topics,
            &queue_by_arn,
            &topic_by_arn,
            &mut warnings,
        ),
        buckets: Vec::new(),
        queues: queue_decls,
        topics: topic_decls,
        adopt: adopt_decl,
        buses: bus_decls(facts, stack, &mut warnings),
        archives: facts
            .archives
            .iter()
            .map(|a| archive_decl(a, stack, &mut warnings))
            .collect(),
    };
    Imported {
        project,
        rules: rule_files,
        warnings,
    }
}

/// The project's `tags`: the tags (ownership and `aws:` aside) that every imported
/// resource the stack owns carries with the same value — `apply` puts them on everything
/// it creates. Tags only some carry are left out, with a warning.
fn project_tags(
    facts: &ImportFacts,
    stack: &str,
    queues: &BTreeSet<&str>,
    topics: &BTreeSet<&str>,
    queue_by_arn: &BTreeMap<&str, &QueueFacts>,
    topic_by_arn: &BTreeMap<&str, &TopicFacts>,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut owned: Vec<(String, &BTreeMap<String, String>)> = Vec::new();
    if facts.bus != "default" {
        owned.push((format!("event bus {}", facts.bus), &facts.bus_tags));
    }
    owned.extend(
        facts
            .other_buses
            .iter()
            .map(|b| (format!("event bus {}", b.name), &b.tags)),
    );
    owned.extend(
        facts
            .rules
            .iter()
            .map(|r| (format!("rule {}", r.name), &r.tags)),
    );
    owned.extend(queues.iter().map(|a| {
        let q = queue_by_arn[a];
        (format!("queue {}", q.name), &q.tags)
    }));
    owned.extend(topics.iter().map(|a| {
        let t = topic_by_arn[a];
        (format!("topic {}", t.name), &t.tags)
    }));
    owned.retain(|(_, tags)| rules::owner::owned_by(tags, stack));
    let extra = |tags: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        tags.iter()
            .filter(|(k, _)| {
                k.as_str() != rules::owner::MANAGED_BY_KEY
                    && k.as_str() != rules::owner::STACK_KEY
                    && !k.starts_with("aws:")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let Some((_, first)) = owned.first() else {
        return BTreeMap::new();
    };
    let mut common = extra(first);
    for (_, tags) in &owned[1..] {
        common.retain(|k, v| tags.get(k) == Some(v));
    }
    for (what, tags) in &owned {
        let odd: Vec<String> = extra(tags)
            .into_iter()
            .filter(|(k, _)| !common.contains_key(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !odd.is_empty() {
            warnings.push(format!(
                "{what}: tag(s) {} are not on everything the stack owns; left out of the \
                 project's tags (apply notes them; apply --prune removes them)",
                odd.join(", ")
            ));
        }
    }
    common
}

/// `buses`: the project's bus when its policy holds the stack's grants, and every other
/// bus the stack owns or whose policy holds them (each with its grants). Statements the
/// stack did not write are kept as they are by bridge, and only noted here.
fn bus_decls(facts: &ImportFacts, stack: &str, warnings: &mut Vec<String>) -> Vec<BusDecl> {
    let mut out = Vec::new();
    let project = std::iter::once((
        facts.bus.as_str(),
        &facts.bus_tags,
        facts.bus_policy.as_deref(),
    ));
    let others = facts
        .other_buses
        .iter()
        .map(|b| (b.name.as_str(), &b.tags, b.policy.as_deref()));
    for (i, (name, tags, policy)) in project.chain(others).enumerate() {
        let is_project_bus = i == 0;
        let owned = name != "default" && rules::owner::owned_by(tags, stack);
        let holds_grants = !bus_policy::own_sids(policy, stack).is_empty();
        // Someone else's bus without the stack's grants is none of the project's business.
        if !is_project_bus && !owned && !holds_grants {
            continue;
        }
        let grants = grants(name, policy, stack, warnings);
        if !grants.is_empty() || (owned && !is_project_bus) {
            out.push(BusDecl {
                name: name.to_string(),
                allow_put_events_from: grants,
            });
        }
    }
    out
}

/// The stack's `events:PutEvents` grants in a bus policy, as declared (`bridge-<stack>-put-…`
/// statements, as [`bus_policy::statement`] writes them).
fn grants(
    bus: &str,
    policy: Option<&str>,
    stack: &str,
    warnings: &mut Vec<String>,
) -> Vec<GranteeDecl> {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let prefix = bus_policy::sid_prefix(stack);
    let mut out = Vec::new();
    for s in &statements {
        let sid = s.get("Sid").and_then(Value::as_str).unwrap_or("");
        if !sid.starts_with(&prefix) {
            warnings.push(format!(
                "event bus {bus}: policy statement {} is not the stack's; bridge keeps it as \
                 it is (declare the grant under buses[].allow_put_events_from to manage it)",
                if sid.is_empty() { "without Sid" } else { sid }
            ));
            continue;
        }
        // The Sid names the kind of grant (`bus_policy::sid`): `acct-<id>`, `org-<o-id>`,
        // `arn-<hash of the principal>`.
        let part = &sid[prefix.len()..];
        let grant = if let Some(account) = part.strip_prefix("acct-") {
            Some(GranteeDecl::Principal(account.to_string()))
        } else if part.starts_with("org-") {
            s.pointer("/Condition/StringEquals/aws:PrincipalOrgID")
                .and_then(Value::as_str)
                .map(|o| {
                    GranteeDecl::Organization(OrganizationDecl {
                        organization: o.to_string(),
                    })
                })
        } else if part.starts_with("arn-") {
            s.pointer("/Principal/AWS")
                .and_then(Value::as_str)
                .map(|p| GranteeDecl::Principal(p.to_string()))
        } else {
            None
        };
        match grant {
            Some(g) => out.push(g),
            None => warnings.push(format!(
                "event bus {bus}: policy statement {sid} is not one bridge writes; left out"
            )),
        }
    }
    out
}

/// An archive of the bus as declared: the stack's (its ownership marker taken off the
/// description), or anyone else's as it is (the plan notes it and never touches it).
fn archive_decl(a: &ArchiveFacts, stack: &str, warnings: &mut Vec<String>) -> ArchiveDecl {
    let description = match rules::archive::owned_description(a.description.as_deref(), stack) {
        Some(declared) => declared,
        None => {
            warnings.push(format!(
                "archive {}: not the stack's (its description has no bridge marker for \
                 stack {stack}); declared, but bridge leaves it alone",
                a.name
            ));
            a.description.clone().filter(|d| !d.is_empty()).map(|d| {
                if d.chars().count() > rules::archive::MAX_DESCRIPTION {
                    warnings.push(format!(
                        "archive {}: description cut to {} characters",
                        a.name,
                        rules::archive::MAX_DESCRIPTION
                    ));
                    d.chars().take(rules::archive::MAX_DESCRIPTION).collect()
                } else {
                    d
                }
            })
        }
    };
    let event_pattern = a.event_pattern.as_deref().and_then(|p| {
        serde_json::from_str::<Value>(p)
            .map_err(|e| {
                warnings.push(format!(
                    "archive {}: its pattern is not JSON ({e}); left out (it would archive \
                     every event)",
                    a.name
                ))
            })
            .ok()
    });
    ArchiveDecl {
        name: a.name.clone(),
        event_pattern,
        pattern_file: None,
        retention_days: a.retention_days,
        description,
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
    let is_bus = t.arn.split(':').nth(2) == Some("events") && t.arn.contains(":event-bus/");
    let (queue, topic) = if is_bus {
        (None, None)
    } else if let Some(q) = queue_by_arn.get(t.arn.as_str()) {
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
        bus: is_bus.then(|| t.arn.clone()),
        role_arn: t.role_arn.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use rules::buses::Grantee;

    const BUS: &str = "arn:aws:events:us-east-1:123456789012:event-bus/orders";

    #[test]
    fn the_stacks_grants_read_back_as_declared_and_foreign_statements_are_noted() {
        let declared = [
            Grantee::Account("111122223333".into()),
            Grantee::Organization("o-abcdef1234".into()),
            Grantee::Principal("arn:aws:iam::111122223333:role/sender".into()),
        ];
        let mut statements: Vec<Value> = declared
            .iter()
            .map(|g| bus_policy::statement("shop", g, BUS))
            .collect();
        statements.push(serde_json::json!({ "Sid": "partner", "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::444455556666:root" },
            "Action": "events:PutEvents", "Resource": BUS }));
        // Another stack's statement is someone else's too.
        statements.push(bus_policy::statement("other", &declared[0], BUS));
        let policy = serde_json::json!({ "Version": "2012-10-17", "Statement": statements });
        let mut warnings = Vec::new();
        let read = grants("orders", Some(&policy.to_string()), "shop", &mut warnings);
        let back: Vec<Grantee> = read
            .iter()
            .map(|g| Grantee::from_decl(g).expect("a valid grant"))
            .collect();
        assert_eq!(back, declared);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("policy statement partner is not the stack's"));
        assert!(grants("orders", None, "shop", &mut warnings).is_empty());
    }

    fn archive(description: Option<&str>) -> ArchiveFacts {
        ArchiveFacts {
            name: "audit".into(),
            arn: "arn:aws:events:us-east-1:123456789012:archive/audit".into(),
            event_source_arn: BUS.into(),
            event_pattern: Some(r#"{"source":["shop"]}"#.into()),
            retention_days: 30,
            description: description.map(str::to_string),
        }
    }

    #[test]
    fn archives_lose_the_stacks_marker_and_foreign_ones_stay_as_they_are() {
        let mut warnings = Vec::new();
        let mine = rules::archive::description_with_marker(Some("orders"), "shop");
        let d = archive_decl(&archive(Some(&mine)), "shop", &mut warnings);
        assert_eq!(d.description.as_deref(), Some("orders"));
        assert_eq!(
            d.event_pattern,
            Some(serde_json::json!({ "source": ["shop"] }))
        );
        assert_eq!(d.retention_days, 30);
        assert!(warnings.is_empty(), "{warnings:#?}");
        let bare = rules::archive::description_with_marker(None, "shop");
        assert_eq!(
            archive_decl(&archive(Some(&bare)), "shop", &mut warnings).description,
            None
        );

        let d = archive_decl(&archive(Some("the audit team's")), "shop", &mut warnings);
        assert_eq!(d.description.as_deref(), Some("the audit team's"));
        assert!(
            warnings[0].contains("archive audit: not the stack's"),
            "{warnings:#?}"
        );
        let long = "x".repeat(500);
        let d = archive_decl(&archive(Some(&long)), "shop", &mut warnings);
        assert_eq!(
            d.description.map(|d| d.len()),
            Some(rules::archive::MAX_DESCRIPTION)
        );
    }

    #[test]
    fn project_tags_are_those_every_owned_resource_shares() {
        let tags = |extra: &[(&str, &str)]| {
            let mut t = rules::owner::ownership_tags("shop");
            t.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            t
        };
        let rule = |name: &str, tags: BTreeMap<String, String>| RuleFacts {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-1:123456789012:rule/orders/{name}"),
            bus: "orders".into(),
            event_pattern: None,
            schedule_expression: None,
            enabled: true,
            description: None,
            tags,
            targets: vec![],
        };
        let facts = ImportFacts {
            bus: "orders".into(),
            bus_exists: true,
            bus_tags: tags(&[("team", "shop"), ("cost", "1")]),
            rules: vec![
                rule(
                    "a",
                    tags(&[("team", "shop"), ("aws:cloudformation:x", "y")]),
                ),
                rule("b", tags(&[("team", "shop"), ("cost", "2")])),
                // Not the stack's: its tags do not count.
                rule(
                    "c",
                    BTreeMap::from([("team".to_string(), "other".to_string())]),
                ),
            ],
            ..ImportFacts::default()
        };
        let mut warnings = Vec::new();
        let none = BTreeSet::new();
        let t = project_tags(
            &facts,
            "shop",
            &none,
            &none,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut warnings,
        );
        assert_eq!(
            t,
            BTreeMap::from([("team".to_string(), "shop".to_string())])
        );
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("event bus orders: tag(s) cost=1"),
            "{warnings:#?}"
        );
    }
}
