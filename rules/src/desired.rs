//! The one desired-state model: what a project declares, backend-neutral.
//!
//! A loaded [`Project`] becomes one [`Desired`] ([`Desired::from_project`]); each backend
//! (`infra::aws`, `infra::local`) reads its current state, diffs it against this value into
//! a plan, and applies the plan. A new resource kind is added here once, not per backend.
//!
//! It deliberately uses names, not ARNs, for the resources the stack itself creates: their
//! ARNs are only known to a backend (the account id comes from AWS; the local backend has
//! its own), and each backend resolves them as it goes. Attributes use AWS's names
//! (`VisibilityTimeout`, `FifoQueue`…) since those are what users know from AWS; the local
//! backend reads the ones it models.

use std::collections::BTreeMap;

use crate::model::{FilterPolicyScope, QueueDecl, RuleState, TargetDecl};
use crate::names::is_arn;
use crate::owner::{MANAGED_BY_KEY, STACK_KEY};
use crate::Project;

/// Everything one stack declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The stack name, stored in the `bridge:stack` tag of everything it creates.
    pub stack: String,
    /// The event bus rules live on; `default` or a custom bus (created if missing).
    pub bus: String,
    pub queues: Vec<Queue>,
    pub topics: Vec<Topic>,
    pub subscriptions: Vec<Subscription>,
    pub rules: Vec<Rule>,
    /// Existing buckets whose notification settings the stack manages (never created).
    pub buckets: Vec<Bucket>,
    /// Extra tags for everything the stack creates, beside the ownership tags.
    pub tags: BTreeMap<String, String>,
    /// Existing resources to take over (tag as the stack's) before anything else.
    pub adopt: Adopt,
}

/// Existing resources, made without bridge, that the stack takes over by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adopt {
    pub bus: bool,
    pub queues: std::collections::BTreeSet<String>,
    pub topics: std::collections::BTreeSet<String>,
    pub rules: std::collections::BTreeSet<String>,
}

impl Desired {
    /// An empty declaration for `stack` — planning it with prune is `destroy`.
    pub fn empty(stack: &str, bus: &str) -> Desired {
        Desired {
            stack: stack.to_string(),
            bus: bus.to_string(),
            ..Desired::default()
        }
    }

    /// The queues in the order to create them: dead-letter queues first, so that a redrive
    /// policy never points at a queue that does not exist yet; otherwise as declared.
    pub fn queues_in_creation_order(&self) -> Vec<&Queue> {
        let dlqs: std::collections::BTreeSet<&str> = self
            .queues
            .iter()
            .filter_map(|q| q.dead_letter.as_ref().map(|d| d.queue.as_str()))
            .collect();
        let mut ordered: Vec<&Queue> = self.queues.iter().collect();
        ordered.sort_by_key(|q| !dlqs.contains(q.name.as_str()));
        ordered
    }
}

/// A bucket's notification settings as the stack declares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// Turn on S3 -> EventBridge delivery (never turned off: a bucket has no tags to prove
    /// `bridge` turned it on).
    pub eventbridge: bool,
    /// Native notifications (`Records[]` messages); a backend stores them under ids that
    /// name the stack, so they can be told apart from everyone else's.
    pub notifications: Vec<Notification>,
}

impl Bucket {
    /// Whether the bucket routes anything: a bucket declared with neither EventBridge nor
    /// notifications is not read or written by any backend.
    pub fn routes_events(&self) -> bool {
        self.eventbridge || !self.notifications.is_empty()
    }

    /// A bucket that only sends its events to EventBridge.
    pub fn eventbridge(name: impl Into<String>) -> Bucket {
        Bucket {
            name: name.into(),
            eventbridge: true,
            notifications: Vec::new(),
        }
    }
}

/// One native S3 notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The declared id, unique within the bucket (S3 stores it prefixed with the stack).
    pub id: String,
    pub destination: NotificationDestination,
    /// S3 event types, e.g. `s3:ObjectCreated:*` (compared as a set).
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// Where a native notification delivers: a declared queue or topic by name (its policy
/// gets an `s3.amazonaws.com` grant), or an ARN (delivered to, never granted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationDestination {
    Queue(String),
    Topic(String),
}

impl std::fmt::Display for NotificationDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotificationDestination::Queue(q) => write!(f, "queue {q}"),
            NotificationDestination::Topic(t) => write!(f, "topic {t}"),
        }
    }
}

/// An SQS queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// Raw SQS attributes (`VisibilityTimeout`, `MessageRetentionPeriod`, `FifoQueue`…).
    /// Only declared attributes are compared; `Policy` and `RedrivePolicy` are managed
    /// by `bridge` and must not be given here.
    pub attributes: BTreeMap<String, String>,
    /// Redrive to another declared (or existing) queue.
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: String,
    pub max_receive_count: u32,
}

/// An SNS topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    /// Raw SNS attributes (`DisplayName`, `FifoTopic`…); `Policy` is managed by `bridge`.
    pub attributes: BTreeMap<String, String>,
}

/// A subscription of an endpoint to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    pub endpoint: Endpoint,
    /// `RawMessageDelivery`, `FilterPolicy`… (set when the subscription is created).
    pub attributes: BTreeMap<String, String>,
}

/// Where a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A queue by name (its policy gets an `sns.amazonaws.com` grant for the topic).
    Queue(String),
    /// Any other protocol with its endpoint, e.g. `("email", "ops@example.com")`.
    Other { protocol: String, endpoint: String },
}

impl Endpoint {
    pub fn protocol(&self) -> &str {
        match self {
            Endpoint::Queue(_) => "sqs",
            Endpoint::Other { protocol, .. } => protocol,
        }
    }
}

/// An EventBridge rule with its targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    /// The event pattern as JSON text (compared as JSON, not as text); `None` for a
    /// scheduled rule. Exactly one of `pattern` and `schedule` is set.
    pub pattern: Option<String>,
    /// The schedule expression (`rate(5 minutes)`, `cron(0 4 * * ? *)`, UTC) of a scheduled
    /// rule, as written (AWS stores and returns it verbatim).
    pub schedule: Option<String>,
    /// The event bus the rule is on (the project's `bus` unless the rule names another).
    pub bus: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub targets: Vec<Target>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Target id, unique within the rule.
    pub id: String,
    pub destination: Destination,
    /// Constant JSON input instead of the event.
    pub input: Option<String>,
    /// JSONPath selecting part of the event.
    pub input_path: Option<String>,
    /// `(InputPathsMap, InputTemplate)`.
    pub input_transformer: Option<(BTreeMap<String, String>, String)>,
    /// Queue (by name) receiving events EventBridge could not deliver.
    pub dead_letter_queue: Option<String>,
    /// Required for FIFO queues.
    pub message_group_id: Option<String>,
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_seconds: Option<i32>,
}

impl Target {
    /// A plain target: the whole event to `destination`.
    pub fn new(id: impl Into<String>, destination: Destination) -> Target {
        Target {
            id: id.into(),
            destination,
            input: None,
            input_path: None,
            input_transformer: None,
            dead_letter_queue: None,
            message_group_id: None,
            maximum_retry_attempts: None,
            maximum_event_age_seconds: None,
        }
    }
}

/// What a target delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Queue(String),
    Topic(String),
    /// Any other ARN (Lambda, another bus…): delivered to, never granted a policy.
    Arn(String),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Queue(q) => write!(f, "queue {q}"),
            Destination::Topic(t) => write!(f, "topic {t}"),
            Destination::Arn(a) => write!(f, "{a}"),
        }
    }
}

/// Why a project cannot be planned on AWS.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ProjectError {
    pub file: String,
    pub message: String,
}

impl Desired {
    /// Translates a loaded project. `stack` overrides the project's stack name.
    pub fn from_project(project: &Project, stack: Option<&str>) -> Result<Desired, ProjectError> {
        let file = &project.file;
        let mut spec = Desired::empty(stack.unwrap_or(&file.stack), &file.bus);
        spec.tags = extra_tags(&file.tags).map_err(|message| ProjectError {
            file: project.path.display().to_string(),
            message,
        })?;
        spec.queues = file.queues.iter().map(queue).collect();
        spec.adopt = adopt(project).map_err(|message| ProjectError {
            file: project.path.display().to_string(),
            message,
        })?;
        for t in &file.topics {
            let mut attributes = BTreeMap::new();
            if t.fifo {
                attributes.insert("FifoTopic".to_string(), "true".to_string());
            }
            if let Some(d) = &t.display_name {
                attributes.insert("DisplayName".to_string(), d.clone());
            }
            spec.topics.push(Topic {
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
                spec.subscriptions.push(Subscription {
                    topic: t.name.clone(),
                    endpoint,
                    attributes,
                });
            }
        }
        // Every declared bucket; one that routes nothing is skipped by the backends
        // (`Bucket::routes_events`), and the stack's old configurations on it are pruned.
        for b in &file.buckets {
            spec.buckets.push(Bucket {
                name: b.name.clone(),
                eventbridge: b.eventbridge,
                notifications: b
                    .notifications
                    .iter()
                    .map(|n| Notification {
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
            spec.rules.push(Rule {
                name: r.name.clone(),
                pattern: r.pattern().map(|p| p.as_value().to_string()),
                schedule: r.schedule().map(str::to_string),
                bus: r.bus.clone(),
                enabled: r.state == RuleState::Enabled,
                description: r.description.clone(),
                targets: r.targets.iter().map(target).collect(),
            });
        }
        Ok(spec)
    }
}

/// The `adopt` list, each name checked to be declared (adopting something undeclared
/// would only make `--prune` delete it).
fn adopt(project: &Project) -> Result<Adopt, String> {
    let file = &project.file;
    let a = &file.adopt;
    let check = |kind: &str, names: &[String], declared: &dyn Fn(&str) -> bool| {
        match names.iter().find(|n| !declared(n)) {
            Some(n) => Err(format!(
                "adopt.{kind}: {n} is not declared in the project (declare it, or remove it from adopt)"
            )),
            None => Ok(names.iter().cloned().collect()),
        }
    };
    if a.event_bus && file.bus == "default" {
        return Err("adopt.event_bus: the default bus belongs to no stack; remove it".into());
    }
    Ok(Adopt {
        bus: a.event_bus,
        queues: check("queues", &a.queues, &|n| {
            file.queues.iter().any(|q| q.name == n)
        })?,
        topics: check("topics", &a.topics, &|n| {
            file.topics.iter().any(|t| t.name == n)
        })?,
        rules: check("rules", &a.rules, &|n| {
            project.rules.iter().any(|r| r.name == n)
        })?,
    })
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

fn queue(q: &QueueDecl) -> Queue {
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
    Queue {
        name: q.name.clone(),
        attributes,
        dead_letter: q.dead_letter.as_ref().map(|d| DeadLetter {
            queue: d.queue.clone(),
            max_receive_count: d.max_receive_count,
        }),
    }
}

fn target(t: &TargetDecl) -> Target {
    let destination = match (&t.queue, &t.topic) {
        (Some(q), _) if is_arn(q) => Destination::Arn(q.clone()),
        (Some(q), _) => Destination::Queue(q.clone()),
        (None, Some(tp)) if is_arn(tp) => Destination::Arn(tp.clone()),
        (None, Some(tp)) => Destination::Topic(tp.clone()),
        // The loader guarantees exactly one of queue/topic; an empty ARN fails loudly at
        // PutTargets rather than here.
        (None, None) => Destination::Arn(String::new()),
    };
    let mut spec = Target::new(t.id.clone(), destination);
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
        crate::load(&dir).expect("the example project loads")
    }

    #[test]
    fn the_example_project_becomes_a_stack() {
        let out = Desired::from_project(&example(), None).expect("converts");
        let spec = &out;
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
            vec![Notification {
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
        let pattern: serde_json::Value =
            serde_json::from_str(quilt.pattern.as_deref().expect("a pattern rule")).expect("json");
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
    }

    #[test]
    fn extra_tags_are_carried_and_reserved_keys_refused() {
        let mut project = example();
        project.file.tags = BTreeMap::from([("team".to_string(), "data".to_string())]);
        let out = Desired::from_project(&project, None).expect("converts");
        assert_eq!(out.tags["team"], "data");

        for (key, value) in [
            (MANAGED_BY_KEY, "someone"),
            (STACK_KEY, "other"),
            ("aws:cloudformation:stack-name", "x"),
            ("", "x"),
        ] {
            project.file.tags = BTreeMap::from([(key.to_string(), value.to_string())]);
            let err = Desired::from_project(&project, None).expect_err(key);
            assert!(err.to_string().contains("bridge.json"), "{err}");
        }
        project.file.tags = (0..49)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let err = Desired::from_project(&project, None).expect_err("too many");
        assert!(err.to_string().contains("at most 48"), "{err}");
    }

    #[test]
    fn the_stack_name_can_be_overridden() {
        let out = Desired::from_project(&example(), Some("ci-123")).expect("converts");
        assert_eq!(out.stack, "ci-123");
    }
}
