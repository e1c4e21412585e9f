//! The bridge library: the normalized event type and the consumer runtime.

pub mod consumer;
pub mod event;
