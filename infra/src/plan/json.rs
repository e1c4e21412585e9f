//! `plan --json`: a plan as a documented, versioned JSON document. The JSON Schema
//! (`schema/plan.schema.json`) is generated from these types, so the document and its
//! schema cannot drift apart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AttrChange, Plan, Step};

/// The document's format version: bumped when a field changes meaning or goes away (new
/// fields may appear without a bump).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanDocument {
    /// The format version (1): it changes when a field changes meaning or goes away.
    pub format_version: u32,
    /// `aws` or `local`.
    pub backend: String,
    pub stack: String,
    pub bus: String,
    /// In the order they are applied.
    pub steps: Vec<StepDocument>,
    /// What the plan will not do, and why (not owned, pending, would prune, missing).
    pub notes: Vec<String>,
    pub summary: Summary,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDocument {
    /// `create`, `update` or `delete`.
    pub action: String,
    /// `queue`, `topic`, `rule`, `targets`, `subscription`, `event_bus`,
    /// `bucket_notifications`, `queue_policy`, `topic_policy`, `tags` or `adopt`.
    pub kind: String,
    /// The resource's name (`topic -> endpoint` for subscriptions).
    pub resource: String,
    /// The step as `bridge plan` prints it (first line and details).
    pub text: String,
    /// For updates: each attribute, before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// One attribute that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub key: String,
    /// `null` when the attribute is not set now.
    pub before: Option<String>,
    pub after: String,
}

/// How many steps add, change and destroy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// What an apply did (`apply --json`): the plan it carried out and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyDocument {
    /// The same version as the plan document's.
    pub format_version: u32,
    pub plan: PlanDocument,
    /// The steps completed, in order, as the plan printed them.
    pub done: Vec<String>,
    /// The step that failed, if one did (the apply stops there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failure>,
    /// Steps not attempted because an earlier one failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_done: Vec<String>,
    /// True when every step was done.
    pub succeeded: bool,
}

/// A step that failed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub step: String,
    pub error: String,
}

impl ApplyDocument {
    /// The JSON Schema of the document.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ApplyDocument)).unwrap_or_default()
    }
}

impl PlanDocument {
    /// The JSON Schema of the document.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(PlanDocument)).unwrap_or_default()
    }
}

impl From<&Plan> for PlanDocument {
    fn from(plan: &Plan) -> PlanDocument {
        let (add, change, destroy) = plan.counts();
        PlanDocument {
            format_version: PLAN_FORMAT_VERSION,
            backend: plan.backend.id().to_string(),
            stack: plan.stack.clone(),
            bus: plan.bus.clone(),
            steps: plan.steps.iter().map(step).collect(),
            notes: plan.notes.iter().map(ToString::to_string).collect(),
            summary: Summary {
                add,
                change,
                destroy,
            },
        }
    }
}

fn step(s: &Step) -> StepDocument {
    let (kind, resource) = s.resource();
    let action = match s.symbol() {
        '+' => "create",
        '-' => "delete",
        _ => "update",
    };
    StepDocument {
        action: action.to_string(),
        kind: kind.to_string(),
        resource,
        text: s.to_string(),
        changes: s.changes().iter().map(change).collect(),
    }
}

fn change(c: &AttrChange) -> Change {
    Change {
        key: c.key.clone(),
        before: c.from.clone(),
        after: c.to.clone(),
    }
}
