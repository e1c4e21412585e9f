//! A `rules` project (`bridge.json` + `rules/*.json`) as the AWS stack it declares.
//!
//! Names of declared queues and topics stay names (their ARNs are only known once they
//! exist); references that are already ARNs stay ARNs and are delivered to, never granted
//! or changed. What the AWS backend cannot manage yet is returned as warnings, never
//! silently dropped.

use std::collections::BTreeMap;

use rules::model::{FilterPolicyScope, QueueDecl, RuleState, TargetDecl};
use rules::names::is_arn;
use rules::Project;

use super::stack::{
    DeadLetter, Destination, Endpoint, QueueSpec, RuleSpec, StackSpec, SubscriptionSpec,
    TargetSpec, TopicSpec,
};

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
    let mut warnings = Vec::new();
    let mut spec = StackSpec::empty(stack.unwrap_or(&file.stack), &file.bus);
    if !file.tags.is_empty() {
        warnings.push(format!(
            "{}: extra `tags` are not applied on AWS yet (only the ownership tags are)",
            project.path.display()
        ));
    }
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
    for b in &file.buckets {
        if b.eventbridge {
            spec.buckets.push(b.name.clone());
        }
        if !b.notifications.is_empty() {
            warnings.push(format!(
                "{}: native S3 notifications of bucket {} are not managed on AWS yet \
                 (existing ones are always kept); configure them in S3 or use eventbridge",
                project.path.display(),
                b.name
            ));
        }
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
        assert_eq!(spec.buckets, vec!["raw-data".to_string()]);
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
        // The example's native notification is reported, not silently dropped.
        assert!(
            out.warnings.iter().any(|w| w.contains("raw-data")),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn the_stack_name_can_be_overridden() {
        let out = stack_from_project(&example(), Some("ci-123")).expect("converts");
        assert_eq!(out.spec.stack, "ci-123");
    }
}
