//! The cloud side: AWS resources and the embedded local backend.
//!
//! Both backends take the one desired state (`rules::desired::Desired`), read what exists
//! into facts of their own, and compute a [`plan::Plan`] — the same plain-data steps, printed
//! with the same words — which they then apply.
//!
//! - [`plan`]: the plan value and its rendering (backend-neutral).
//! - [`arn`]: ARNs as AWS forms them.
//! - [`put_events`]: PutEvents entries and results (backend-neutral).
//! - [`aws`]: the account through the official SDK.
//! - [`local`]: the embedded backend (SQLite).
//! - [`doctor`]: why events do not arrive: checks of what exists against a project.
//! - [`live`]: what exists as a desired state (`bridge graph --live`).
pub mod arn;
pub mod aws;
pub mod doctor;
pub mod live;
pub mod local;
pub mod plan;
pub mod put_events;

/// Name prefix of the temporary queue and rule of a `bridge tail` session, on AWS and
/// locally. Syncing a project never prunes them: they belong to a running tail.
pub const TAIL_PREFIX: &str = "bridge-tail-";

/// A fresh name for a tail session's rule and queue (both backends use it).
pub fn tail_session_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{TAIL_PREFIX}{}", &id[..12])
}
