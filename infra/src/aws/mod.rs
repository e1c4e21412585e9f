//! Real AWS resources through the SDK: clients, readers of the actual state, and the
//! executor that applies a plan.
//!
//! Everything here talks to AWS (or an AWS-compatible server such as moto): [`read`] reads
//! the account into facts, [`plan`] diffs them against the one desired state
//! (`rules::desired::Desired`) into plain-data steps, and [`apply`] carries them out
//! through [`write`].

pub mod apply;
pub mod blocking;
pub mod client;
pub mod events;
pub mod objects;
pub mod plan;
pub mod policy;
pub mod read;
pub mod s3_notify;
pub mod tail;
pub mod write;

pub use client::{AwsClients, AwsSettings};
pub use objects::S3Objects;

/// Errors from the AWS side. The message carries the operation and the resource, so a
/// partial failure can say exactly which call failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS region configured: set AWS_REGION (or a region in your AWS profile), \
         or pass --region"
    )]
    NoRegion,
    #[error("{operation} on {resource} failed: {message}")]
    Call {
        operation: &'static str,
        resource: String,
        message: String,
    },
    #[error("{resource}: {message}")]
    Invalid { resource: String, message: String },
    /// The resource was deleted while it was being read (someone else, or a concurrent
    /// apply). Readers skip it: it no longer exists.
    #[error("{resource} no longer exists")]
    Gone { resource: String },
}

impl AwsError {
    /// Wraps an SDK error with the operation and resource it was about.
    ///
    /// `DisplayErrorContext` prints the whole source chain (service code and message),
    /// which plain `Display` on `SdkError` hides behind "service error".
    pub fn call<E>(operation: &'static str, resource: impl Into<String>, error: E) -> AwsError
    where
        E: std::error::Error,
    {
        AwsError::Call {
            operation,
            resource: resource.into(),
            message: aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
        }
    }
}
