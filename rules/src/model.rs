//! The file formats: a project file (`bridge.json`) and one file per rule (`rules/*.json`).
//!
//! Field names are snake_case; every struct rejects unknown fields so a typo is an error,
//! not a silently ignored setting. The JSON Schemas (`bridge schema project|rule`) are
//! generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `bridge.json`: the stack, the resources it declares, and where its rules live.
/// Field names are snake_case; unknown fields are errors, so a typo is never ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Optional `$schema` reference for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Stack name: tagged (`bridge:stack`) on everything bridge creates, so that several
    /// projects can share an account without touching each other's resources.
    pub stack: String,
    /// AWS region; default: the standard AWS configuration (`AWS_REGION`, profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Event bus for rules that do not name one. Default `default`.
    #[serde(default = "default_bus")]
    pub bus: String,
    /// Directory of rule files, relative to this file. Default `rules`.
    #[serde(default = "default_rules_dir")]
    pub rules_dir: String,
    /// Where `bridge plan`, `apply` and `destroy` go when neither `--local` nor `--aws` is
    /// given: `aws` (default) or `local`, the embedded backend (no AWS account needed).
    #[serde(default, skip_serializing_if = "Backend::is_aws")]
    pub backend: Backend,
    /// State directory of the embedded backend, relative to this file. Default `.bridge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_state_dir: Option<String>,
    /// Extra tags for every resource bridge creates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Existing buckets whose object events bridge routes (bridge never creates buckets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketDecl>,
    /// SQS queues bridge creates and owns; rules, subscriptions and notifications refer to
    /// them by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueDecl>,
    /// SNS topics bridge creates and owns, with their subscriptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<TopicDecl>,
    /// Existing resources (made without bridge) to take over, as `bridge import --adopt`
    /// writes: the plan tags each as the stack's first (only `apply` does), and from then
    /// on it is managed — and with `--prune` deleted — like anything the stack created.
    /// Each must be declared; one owned by another stack is never taken.
    #[serde(default, skip_serializing_if = "AdoptDecl::is_empty")]
    pub adopt: AdoptDecl,
}

/// What `adopt` takes over, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptDecl {
    /// The project's (custom) event bus.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event_bus: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl AdoptDecl {
    pub fn is_empty(&self) -> bool {
        !self.event_bus && self.queues.is_empty() && self.topics.is_empty() && self.rules.is_empty()
    }
}

/// The backend a project is planned and applied against by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The AWS account from the standard configuration chain.
    #[default]
    Aws,
    /// The embedded local backend (SQLite state in `local_state_dir`).
    Local,
}

impl Backend {
    fn is_aws(&self) -> bool {
        *self == Backend::Aws
    }
}

/// The embedded backend's state directory when a project does not name one, relative to
/// `bridge.json` (and, for commands without a project, to the current directory).
pub const DEFAULT_LOCAL_STATE_DIR: &str = ".bridge";

fn default_bus() -> String {
    "default".to_string()
}

fn default_rules_dir() -> String {
    "rules".to_string()
}

/// A bucket whose object changes bridge routes. The bucket itself is not created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketDecl {
    /// The bucket's name (3–63 of a-z 0-9 . -).
    pub name: String,
    /// Turn on S3 → EventBridge delivery (kept alongside existing notification settings).
    #[serde(default)]
    pub eventbridge: bool,
    /// Native S3 notifications (`Records[]` messages) to declared queues or topics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationDecl>,
}

/// One native S3 notification configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationDecl {
    /// Configuration id, unique within the bucket.
    pub id: String,
    /// A declared queue name (or an SQS ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// A declared topic name (or an SNS ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// S3 event types, e.g. `s3:ObjectCreated:*`. Default: all created and removed events.
    #[serde(default = "default_notification_events")]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

fn default_notification_events() -> Vec<String> {
    vec![
        "s3:ObjectCreated:*".to_string(),
        "s3:ObjectRemoved:*".to_string(),
    ]
}

/// An SQS queue bridge creates and owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueDecl {
    /// 1–80 of `A-Z a-z 0-9 - _`; FIFO queues end in `.fifo`.
    pub name: String,
    /// A FIFO queue (ordered, exactly-once); its name must end in `.fifo`, and rules
    /// targeting it must give a `message_group_id`.
    #[serde(default)]
    pub fifo: bool,
    /// Seconds, 0–43200. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u32>,
    /// Seconds, 60–1209600. Default 345600 (4 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_retention: Option<u32>,
    /// Seconds, 0–900. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    /// Server-side encryption: `sqs` (SQS-managed, the default), `none`, or a KMS key id/alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// FIFO only: deduplicate by content.
    #[serde(default)]
    pub content_based_deduplication: bool,
    /// Redrive to a dead-letter queue after this many receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetterDecl>,
}

/// The queue's redrive policy: where messages go after too many failed receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterDecl {
    /// A declared queue name (or an SQS ARN).
    pub queue: String,
    /// 1–1000.
    pub max_receive_count: u32,
}

/// An SNS topic bridge creates and owns, with its subscriptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicDecl {
    /// 1–256 of `A-Z a-z 0-9 - _`; FIFO topics end in `.fifo`.
    pub name: String,
    /// A FIFO topic: delivers to SQS queues only, and rules targeting it must give a
    /// `message_group_id`.
    #[serde(default)]
    pub fifo: bool,
    /// The sender name shown in e-mail and SMS deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// E-mail subscriptions stay pending until the recipient confirms them; bridge never
    /// recreates a pending one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<SubscriptionDecl>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
/// How a subscription delivers: `email`, `sqs` or `https`.
pub enum Protocol {
    Email,
    Sqs,
    Https,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Email => "email",
            Protocol::Sqs => "sqs",
            Protocol::Https => "https",
        }
    }
}

/// One subscription of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionDecl {
    pub protocol: Protocol,
    /// An e-mail address, a declared queue name (or SQS ARN), or an `https://` URL.
    pub endpoint: String,
    /// SNS filter policy (a JSON object in SNS's filter language, checked by the pattern
    /// engine). Nested objects need `filter_policy_scope: MessageBody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy: Option<Value>,
    /// What the filter policy applies to: `MessageAttributes` (SNS's default; events from
    /// EventBridge carry none) or `MessageBody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy_scope: Option<FilterPolicyScope>,
    /// Deliver the message without the SNS envelope (SQS and HTTPS only).
    #[serde(default)]
    pub raw_message_delivery: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FilterPolicyScope {
    MessageAttributes,
    MessageBody,
}

/// `rules/<name>.json`: one EventBridge rule and its targets.
/// Field names are snake_case; unknown fields are errors, so a typo is never ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// 1–64 of `A-Z a-z 0-9 . - _`. Default: the file name without `.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Event bus; default: the project's `bus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// Free text shown in the AWS console (at most 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ENABLED` (the default) or `DISABLED`.
    #[serde(default)]
    pub state: RuleState,
    /// The event pattern, inline. Exactly one of `event_pattern`, `pattern_file` and
    /// `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<Value>,
    /// A file holding the event pattern, relative to this rule file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_file: Option<String>,
    /// Run on a schedule instead of matching events: `rate(5 minutes)` or a six-field
    /// `cron(minutes hours day-of-month month day-of-week year)`, e.g. `cron(0 4 * * ? *)`,
    /// in UTC. Scheduled rules live on the `default` bus; each firing sends the targets an
    /// `aws.events` `Scheduled Event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// 1–5 targets (AWS's limit per rule).
    pub targets: Vec<TargetDecl>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleState {
    #[default]
    Enabled,
    Disabled,
}

/// Where a rule sends matching events, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDecl {
    /// 1–64 of `A-Z a-z 0-9 . - _`, unique within the rule.
    pub id: String,
    /// A declared queue name (or an SQS ARN). Exactly one of `queue`, `topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// A declared topic name (or an SNS ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Required for FIFO queues and topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    /// Constant JSON sent instead of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// JSONPath selecting the part of the event to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformerDecl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicyDecl>,
    /// A declared queue name (or SQS ARN) for events EventBridge could not deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
}

/// Builds the message from parts of the event (EventBridge's InputTransformer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputTransformerDecl {
    /// Placeholder name → JSONPath into the event (at most 100).
    pub input_paths_map: BTreeMap<String, String>,
    /// Text with `<placeholder>`s; each must be a key of `input_paths_map` or one of AWS's
    /// reserved `<aws.events.*>` variables.
    pub input_template: String,
}

/// How long and how often EventBridge retries a failed delivery (AWS default: 185
/// attempts over 24 hours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyDecl {
    /// 0–185.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    /// 60–86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_seconds: Option<u32>,
}
