//! The bridge library: the normalized event type and the consumer runtime.

pub mod event;
