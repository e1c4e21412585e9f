//! What a stack wants to exist in AWS, in AWS terms (names, attributes, patterns).
//!
//! This is the input of [`super::plan`]. It deliberately uses names, not ARNs, for the
//! resources the stack itself creates: their ARNs are only known once they exist (the
//! account id comes from AWS), and the executor resolves them as it goes.

use std::collections::BTreeMap;

/// Everything one stack declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackSpec {
    /// The stack name, stored in the `bridge:stack` tag of everything it creates.
    pub stack: String,
    /// The event bus rules live on; `default` or a custom bus (created if missing).
    pub bus: String,
    pub queues: Vec<QueueSpec>,
    pub topics: Vec<TopicSpec>,
    pub subscriptions: Vec<SubscriptionSpec>,
    pub rules: Vec<RuleSpec>,
    /// Existing buckets whose notification settings the stack manages (never created).
    pub buckets: Vec<BucketSpec>,
    /// Extra tags for everything the stack creates, beside the ownership tags.
    pub tags: BTreeMap<String, String>,
}

impl StackSpec {
    /// An empty declaration for `stack` — planning it with prune is `destroy`.
    pub fn empty(stack: &str, bus: &str) -> StackSpec {
        StackSpec {
            stack: stack.to_string(),
            bus: bus.to_string(),
            ..StackSpec::default()
        }
    }
}

/// A bucket's notification settings as the stack declares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// Turn on S3 -> EventBridge delivery (never turned off: a bucket has no tags to prove
    /// `bridge` turned it on).
    pub eventbridge: bool,
    /// Native notifications (`Records[]` messages), stored on the bucket under
    /// [`notification_id`](super::s3_notify::notification_id) so they can be told apart
    /// from everyone else's.
    pub notifications: Vec<NotificationSpec>,
}

impl BucketSpec {
    /// A bucket that only sends its events to EventBridge.
    pub fn eventbridge(name: impl Into<String>) -> BucketSpec {
        BucketSpec {
            name: name.into(),
            eventbridge: true,
            notifications: Vec::new(),
        }
    }
}

/// One native S3 notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSpec {
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
pub struct QueueSpec {
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
pub struct TopicSpec {
    pub name: String,
    /// Raw SNS attributes (`DisplayName`, `FifoTopic`…); `Policy` is managed by `bridge`.
    pub attributes: BTreeMap<String, String>,
}

/// A subscription of an endpoint to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
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
pub struct RuleSpec {
    pub name: String,
    /// The event pattern as JSON text (compared as JSON, not as text).
    pub pattern: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub targets: Vec<TargetSpec>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
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

impl TargetSpec {
    /// A plain target: the whole event to `destination`.
    pub fn new(id: impl Into<String>, destination: Destination) -> TargetSpec {
        TargetSpec {
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
