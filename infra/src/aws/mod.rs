//! Real AWS resources through the SDK: clients, readers of the actual state, and the
//! executor that applies a plan.
//!
//! Everything here talks to AWS (or an AWS-compatible server such as moto): [`read`] reads
//! the account into facts, [`plan`] diffs them against the one desired state
//! (`rules::desired::Desired`) into plain-data steps, and [`apply`] carries them out
//! through [`write`].

pub mod apply;
pub mod archive_facts;
pub mod archives;
pub mod blocking;
pub mod bus_policy;
pub mod client;
pub mod dead_letters;
pub mod events;
pub mod import;
pub mod keys;
pub mod objects;
pub mod pages;
pub mod plan;
pub mod policy;
pub mod read;
pub mod s3_notify;
pub mod tail;
pub mod write;

pub use aws_sdk_s3::error::ProvideErrorMetadata;
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
        /// The service's error code and message (`NoSuchBucket: The specified bucket does
        /// not exist`), or for a transport failure its cause: one line.
        message: String,
        /// The SDK's whole error chain, for `-v`.
        detail: String,
    },
    #[error("{resource}: {message}")]
    Invalid { resource: String, message: String },
    /// The resource was deleted while it was being read (someone else, or a concurrent
    /// apply). Readers skip it: it no longer exists.
    #[error("{resource} no longer exists")]
    Gone { resource: String },
}

impl AwsError {
    /// [`AwsError::Gone`] when the service answered that `resource` does not exist (`gone`),
    /// else [`AwsError::call`]: a reader treats a resource deleted since it was listed as absent.
    pub fn call_or_gone<E>(
        operation: &'static str,
        resource: impl Into<String>,
        gone: bool,
        error: E,
    ) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        let resource = resource.into();
        if gone {
            AwsError::Gone { resource }
        } else {
            AwsError::call(operation, resource, error)
        }
    }

    /// Wraps an SDK error with the operation and resource it was about.
    ///
    /// The message is what a user acts on: the service's error code and message, one line.
    /// Plain `Display` on `SdkError` says only "service error", and the whole chain
    /// (`DisplayErrorContext`) runs to kilobytes; it is kept as `detail` for `-v`.
    pub fn call<E>(operation: &'static str, resource: impl Into<String>, error: E) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        let detail = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
        let message = match (error.code(), error.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_string(),
            // No service answer (connection refused, no credentials…): the causes, each once.
            (None, _) => causes(&error),
        };
        AwsError::Call {
            operation,
            resource: resource.into(),
            message: one_line(&message),
            detail,
        }
    }

    /// The SDK's whole error chain, when there is one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            AwsError::Call { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

/// An error and its sources, `: `-joined, each shown as text (never as a debug dump),
/// skipping a cause whose text its parent already ends with.
fn causes(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// Line breaks folded, so an error stays one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
