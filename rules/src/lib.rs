//! Rule, target and subscription files for `bridge`: load, validate, resolve.
//!
//! A project is a `bridge.json` (the stack, its queues, topics with subscriptions, and the
//! buckets whose events it routes) plus a directory of rule files (one EventBridge rule and
//! its targets each). [`load`] reads them all and reports *every* problem at once, each
//! with its file, JSON path and a fix; patterns are compiled by the `patterns` engine, so
//! an invalid pattern is caught here, not by AWS.
//!
//! A loaded [`Project`] becomes one backend-neutral [`desired::Desired`]: the backends
//! (`infra::aws`, `infra::local`) plan and apply that value, never the files.

pub mod archive;
pub mod buses;
pub mod calendar;
pub mod desired;
mod diagnostic;
pub mod graph;
mod load;
pub mod model;
pub mod names;
pub mod owner;
pub mod schedule;
pub mod transformer;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use load::{load, Project, Rule, Trigger, PROJECT_FILE};

/// The JSON Schema of the project file (`bridge.json`), for editors.
pub fn project_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::ProjectFile)).unwrap_or_default()
}

/// The JSON Schema of a rule file.
pub fn rule_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::RuleFile)).unwrap_or_default()
}
