//! The cloud side: AWS resources and the embedded local backend.
pub mod aws;
pub mod local;
