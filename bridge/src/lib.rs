//! The bridge library: the normalized event type and the consumer runtime.
//!
//! Every message body a queue can carry (native S3 notifications, EventBridge events, SNS
//! envelopes around either, ...) normalizes into [`event::Event`]s, and a
//! [`consumer::Handler`] receives each one typed:
//!
//! ```
//! use bridge::consumer::{handler_fn, Handler, HandlerError};
//! use bridge::event::{normalize, Event, Kind};
//!
//! let body = r#"{"version": "0", "id": "e-1", "detail-type": "Object Created",
//!     "source": "aws.s3", "account": "111122223333", "time": "2026-11-23T00:00:00Z",
//!     "region": "us-east-1", "resources": [],
//!     "detail": {"bucket": {"name": "reports"},
//!                "object": {"key": "monthly.csv", "size": 5, "sequencer": "01"},
//!                "reason": "PutObject"}}"#;
//! let events: Vec<Event> = normalize(body)?;
//! assert_eq!(events.len(), 1);
//!
//! let handler = handler_fn(|event: Event| async move {
//!     match (event.kind, event.key.as_deref()) {
//!         (Kind::ObjectCreated, Some(key)) => {
//!             println!("new object {key} ({} bytes)", event.size.unwrap_or(0));
//!             Ok(())
//!         }
//!         _ => Err(HandlerError::new("not an object creation")),
//!     }
//! });
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! runtime.block_on(handler.handle(&events[0]))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`consumer::Consumer`] runs such a handler over a queue; `bridge consume` is that
//! consumer with the JSON-lines, `--exec` and `--http` handlers.

pub mod consumer;
pub mod event;
pub mod serve;
