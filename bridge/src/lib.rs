//! The bridge library: the normalized event type and the consumer runtime.
