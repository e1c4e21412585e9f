//! A rule and its targets as the local state stores them: plain records, shared by the
//! control plane ([`super::events`]), routing and target input ([`super::transform`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether a rule routes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RuleState {
    #[default]
    Enabled,
    Disabled,
}

impl RuleState {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleState::Enabled => "ENABLED",
            RuleState::Disabled => "DISABLED",
        }
    }
    pub(crate) fn parse(s: &str) -> RuleState {
        if s == "DISABLED" {
            RuleState::Disabled
        } else {
            RuleState::Enabled
        }
    }
}

/// A rule: a named event pattern, or a schedule, on a bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub bus: String,
    pub name: String,
    /// The event pattern, as JSON text; `None` for a scheduled rule.
    pub pattern: Option<String>,
    /// The schedule expression (`rate(...)`/`cron(...)`, UTC) of a scheduled rule.
    #[serde(default)]
    pub schedule: Option<String>,
    pub state: RuleState,
    pub description: Option<String>,
}

/// EventBridge's InputTransformer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTransformer {
    #[serde(rename = "InputPathsMap", default)]
    pub input_paths_map: BTreeMap<String, String>,
    #[serde(rename = "InputTemplate")]
    pub input_template: String,
}

/// A rule target: where matching events go, and in what shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetSpec {
    pub id: String,
    /// A queue or topic ARN.
    pub arn: String,
    /// Constant JSON sent instead of the event.
    pub input: Option<String>,
    /// JSONPath selecting the part of the event to send.
    pub input_path: Option<String>,
    pub input_transformer: Option<InputTransformer>,
    /// `SqsParameters.MessageGroupId`, required for FIFO queues.
    pub message_group_id: Option<String>,
    /// The target's dead-letter queue: where events go that cannot be delivered.
    pub dead_letter_arn: Option<String>,
}

impl TargetSpec {
    pub fn new(id: impl Into<String>, arn: impl Into<String>) -> TargetSpec {
        TargetSpec {
            id: id.into(),
            arn: arn.into(),
            ..TargetSpec::default()
        }
    }
}
