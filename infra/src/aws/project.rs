//! A `rules` project (`bridge.json` + `rules/*.json`) as the AWS stack it declares.
//!
//! Names of declared queues and topics stay names (their ARNs are only known once they
//! exist); references that are already ARNs stay ARNs and are delivered to, never granted
//! or changed. What the AWS backend cannot manage is returned as warnings, never silently
//! dropped.

use std::collections::BTreeMap;

use rules::model::{FilterPolicyScope, QueueDecl, RuleState, TargetDecl};
use rules::names::is_arn;
use rules::Project;

use super::stack::{
    BucketSpec, DeadLetter, Destination, Endpoint, NotificationDestination, NotificationSpec,
    QueueSpec, RuleSpec, StackSpec, SubscriptionSpec, TargetSpec, TopicSpec,
};
use super::write::{MANAGED_BY_KEY, STACK_KEY};

/// The stack, plus what of the project it does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStack {
    pub spec: StackSpec,
    pub warnings: Vec<String>,
}

/// Why a project cannot be planned on AWS.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ProjectError {
    pub file: String,
    pub message: String,
}

/// Translates a loaded project. `stack` overrides the project's stack name.
pub fn stack_from_project(
    project: &Project,
    stack: Option<&str>,
) -> Result<ProjectStack, ProjectError> {
    let file = &project.file;
    let warnings = Vec::new();
    let mut spec = StackSpec::empty(stack.unwrap_or(&file.stack), &file.bus);
    spec.tags = extra_tags(&file.tags).map_err(|message| ProjectError {
        file: project.path.display().to_string(),
        message,
    })?;
    spec.queues = file.queues.iter().map(queue).collect();
    for t in &file.topics {
        let mut attributes = BTreeMap::new();
        if t.fifo {
            attributes.insert("FifoTopic".to_string(), "true".to_string());
        }
        if let Some(d) = &t.display_name {
            attributes.insert("DisplayName".to_string(), d.clone());
        }
        spec.topics.push(TopicSpec {
            name: t.name.clone(),
            attributes,
        });
        for s in &t.subscriptions {
            let endpoint = match (s.protocol.as_str(), is_arn(&s.endpoint)) {
                ("sqs", false) => Endpoint::Queue(s.endpoint.clone()),
                (protocol, _) => Endpoint::Other {
                    protocol: protocol.to_string(),
                    endpoint: s.endpoint.clone(),
                },
            };
            let mut attributes = BTreeMap::new();
            if s.raw_message_delivery {
                attributes.insert("RawMessageDelivery".to_string(), "true".to_string());
            }
            if let Some(policy) = &s.filter_policy {
                attributes.insert("FilterPolicy".to_string(), policy.to_string());
            }
            if let Some(scope) = s.filter_policy_scope {
                let scope = match scope {
                    FilterPolicyScope::MessageAttributes => "MessageAttributes",
                    FilterPolicyScope::MessageBody => "MessageBody",
                };
                attributes.insert("FilterPolicyScope".to_string(), scope.to_string());
            }
            spec.subscriptions.push(SubscriptionSpec {
                topic: t.name.clone(),
                endpoint,
                attributes,
            });
        }
    }
    // A bucket declared with neither is not read (it may exist only locally); the stack's
    // old configurations on it are still found through its S3 grants.
    for b in file
        .buckets
        .iter()
        .filter(|b| b.eventbridge || !b.notifications.is_empty())
    {
        spec.buckets.push(BucketSpec {
            name: b.name.clone(),
            eventbridge: b.eventbridge,
            notifications: b
                .notifications
                .iter()
                .map(|n| NotificationSpec {
                    id: n.id.clone(),
                    // The loader guarantees exactly one of queue/topic.
                    destination: match (&n.queue, &n.topic) {
                        (Some(q), _) => NotificationDestination::Queue(q.clone()),
                        (None, Some(t)) => NotificationDestination::Topic(t.clone()),
                        (None, None) => NotificationDestination::Queue(String::new()),
                    },
                    events: n.events.clone(),
                    prefix: n.prefix.clone(),
                    suffix: n.suffix.clone(),
                })
                .collect(),
        });
    }
    for r in &project.rules {
        if r.bus != file.bus {
            return Err(ProjectError {
                file: r.source.display().to_string(),
                message: format!(
                    "rule {} is on bus {} but the project's bus is {}: the AWS backend \
                     manages one bus per stack; move the rule or split the project",
                    r.name, r.bus, file.bus
                ),
            });
        }
        spec.rules.push(RuleSpec {
            name: r.name.clone(),
            pattern: r.pattern.as_value().to_string(),
            enabled: r.state == RuleState::Enabled,
            description: r.description.clone(),
            targets: r.targets.iter().map(target).collect(),
        });
    }
    Ok(ProjectStack { spec, warnings })
}

/// AWS allows 50 tags per queue, topic, rule and bus; the ownership tags take two.
const MAX_EXTRA_TAGS: usize = 48;

/// The project's extra tags, checked against what AWS and ownership allow: the ownership
/// keys and AWS's `aws:` prefix are reserved, keys are 1-128 and values 0-256 characters.
fn extra_tags(tags: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    if tags.len() > MAX_EXTRA_TAGS {
        return Err(format!(
            "{} tags: AWS allows 50 per resource and bridge's ownership tags take 2, so at \
             most {MAX_EXTRA_TAGS}",
            tags.len()
        ));
    }
    for (k, v) in tags {
        if k == MANAGED_BY_KEY || k == STACK_KEY {
            return Err(format!(
                "tag `{k}` is bridge's ownership tag and cannot be set in `tags`"
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!("tag `{k}`: the `aws:` prefix is reserved by AWS"));
        }
        if k.is_empty() || k.chars().count() > 128 {
            return Err(format!("tag `{k}`: keys are 1-128 characters"));
        }
        if v.chars().count() > 256 {
            return Err(format!("tag `{k}`: values are at most 256 characters"));
        }
    }
    Ok(tags.clone())
}

fn queue(q: &QueueDecl) -> QueueSpec {
    let mut attributes = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        attributes.insert(k.to_string(), v);
    };
    if q.fifo {
        set("FifoQueue", "true".into());
        if q.content_based_deduplication {
            set("ContentBasedDeduplication", "true".into());
        }
    }
    if let Some(v) = q.visibility_timeout {
        set("VisibilityTimeout", v.to_string());
    }
    if let Some(v) = q.message_retention {
        set("MessageRetentionPeriod", v.to_string());
    }
    if let Some(v) = q.delay {
        set("DelaySeconds", v.to_string());
    }
    match q.encryption.as_deref() {
        None => {}
        Some("sqs") => set("SqsManagedSseEnabled", "true".into()),
        Some("none") => set("SqsManagedSseEnabled", "false".into()),
        Some(kms_key) => set("KmsMasterKeyId", kms_key.to_string()),
    }
    QueueSpec {
        name: q.name.clone(),
        attributes,
        dead_letter: q.dead_letter.as_ref().map(|d| DeadLetter {
            queue: d.queue.clone(),
            max_receive_count: d.max_receive_count,
        }),
    }
}

fn target(t: &TargetDecl) -> TargetSpec {
    let destination = match (&t.queue, &t.topic) {
        (Some(q), _) if is_arn(q) => Destination::Arn(q.clone()),
        (Some(q), _) => Destination::Queue(q.clone()),
        (None, Some(tp)) if is_arn(tp) => Destination::Arn(tp.clone()),
        (None, Some(tp)) => Destination::Topic(tp.clone()),
        // The loader guarantees exactly one of queue/topic; an empty ARN fails loudly at
        // PutTargets rather than here.
        (None, None) => Destination::Arn(String::new()),
    };
    let mut spec = TargetSpec::new(t.id.clone(), destination);
    spec.input = t.input.as_ref().map(|v| v.to_string());
    spec.input_path = t.input_path.clone();
    spec.input_transformer = t
        .input_transformer
        .as_ref()
        .map(|it| (it.input_paths_map.clone(), it.input_template.clone()));
    spec.dead_letter_queue = t.dead_letter_queue.clone();
    spec.message_group_id = t.message_group_id.clone();
    if let Some(r) = &t.retry_policy {
        spec.maximum_retry_attempts = r.maximum_retry_attempts.map(clamp_i32);
        spec.maximum_event_age_seconds = r.maximum_event_age_seconds.map(clamp_i32);
    }
    spec
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Project {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        rules::load(&dir).expect("the example project loads")
    }

    #[test]
    fn the_example_project_becomes_a_stack() {
        let out = stack_from_project(&example(), None).expect("converts");
        let spec = &out.spec;
        assert_eq!(spec.stack, "bridge-example");
        assert_eq!(spec.bus, "default");
        let events = spec
            .queues
            .iter()
            .find(|q| q.name == "example-events")
            .expect("queue");
        assert_eq!(events.attributes["VisibilityTimeout"], "60");
        assert_eq!(
            events.dead_letter,
            Some(DeadLetter {
                queue: "example-events-dlq".into(),
                max_receive_count: 3
            })
        );
        assert_eq!(spec.buckets.len(), 1);
        let raw = &spec.buckets[0];
        assert_eq!(raw.name, "raw-data");
        assert!(raw.eventbridge);
        assert_eq!(
            raw.notifications,
            vec![NotificationSpec {
                id: "uploads".into(),
                destination: NotificationDestination::Queue("raw-data-uploads".into()),
                events: vec!["s3:ObjectCreated:*".into()],
                prefix: Some("uploads/".into()),
                suffix: None,
            }]
        );
        assert!(spec.subscriptions.iter().any(|s| matches!(
            &s.endpoint,
            Endpoint::Other { protocol, endpoint } if protocol == "email" && endpoint == "data-team@example.com"
        )));
        let quilt = spec
            .rules
            .iter()
            .find(|r| r.name == "quilt-package-revision")
            .expect("rule");
        assert!(quilt.enabled);
        let pattern: serde_json::Value = serde_json::from_str(&quilt.pattern).expect("json");
        assert!(pattern.is_object());
        let alerts = quilt
            .targets
            .iter()
            .find(|t| t.id == "alerts")
            .expect("target");
        assert_eq!(
            alerts.destination,
            Destination::Topic("package-alerts".into())
        );
        assert!(alerts.input_transformer.is_some());
        // Everything the example declares is managed on AWS: nothing to warn about.
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn extra_tags_are_carried_and_reserved_keys_refused() {
        let mut project = example();
        project.file.tags = BTreeMap::from([("team".to_string(), "data".to_string())]);
        let out = stack_from_project(&project, None).expect("converts");
        assert_eq!(out.spec.tags["team"], "data");
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);

        for (key, value) in [
            (MANAGED_BY_KEY, "someone"),
            (STACK_KEY, "other"),
            ("aws:cloudformation:stack-name", "x"),
            ("", "x"),
        ] {
            project.file.tags = BTreeMap::from([(key.to_string(), value.to_string())]);
            let err = stack_from_project(&project, None).expect_err(key);
            assert!(err.to_string().contains("bridge.json"), "{err}");
        }
        project.file.tags = (0..49)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let err = stack_from_project(&project, None).expect_err("too many");
        assert!(err.to_string().contains("at most 48"), "{err}");
    }

    #[test]
    fn the_stack_name_can_be_overridden() {
        let out = stack_from_project(&example(), Some("ci-123")).expect("converts");
        assert_eq!(out.spec.stack, "ci-123");
    }
}
