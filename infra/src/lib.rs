//! The cloud side: AWS resources and the embedded local backend.
pub mod aws;
pub mod local;

/// Name prefix of the temporary queue and rule of a `bridge tail` session, on AWS and
/// locally. Syncing a project never prunes them: they belong to a running tail.
pub const TAIL_PREFIX: &str = "bridge-tail-";
