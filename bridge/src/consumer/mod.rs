//! The consumer: reads a queue, normalizes each message into events, hands them to a
//! [`Handler`], and deletes only what was handled.
//!
//! ```no_run
//! # async fn demo(source: bridge::consumer::LocalSource) {
//! use bridge::consumer::{Consumer, ConsumerOptions, JsonlStdout};
//! let metrics = Consumer::new(source, ConsumerOptions::default())
//!     .run(JsonlStdout, async { let _ = tokio::signal::ctrl_c().await; })
//!     .await;
//! eprintln!("{metrics}");
//! # }
//! ```
//!
//! Guarantees: at-least-once. A message is deleted only after every event it normalizes
//! into was handled (or deliberately skipped: pattern filter, duplicate); a failed handler
//! leaves it for redelivery, and the queue's redrive policy moves it to the DLQ after
//! `maxReceiveCount` receives. A body that does not normalize is dead-lettered at once (or
//! left, by option) — never deleted. In-flight work is bounded (`concurrency` handlers plus
//! one prefetched batch), so memory stays flat however long the backlog.
//!
//! FIFO queues: SQS hands out a group's messages in order and holds the group while any is
//! in flight. To keep that order, a FIFO batch is handled in one task, in order; when a
//! message fails, the rest of its group in that batch is released (visibility 0) unhandled,
//! so nothing overtakes it. Different batches (hence different groups) still run in parallel.

mod dedup;
pub mod handler;
pub mod local;
mod metrics;
mod runtime;
pub mod source;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use crate::event::{Event, NormalizeError, Strictness};

pub use handler::{handler_fn, Exec, Handler, HandlerError, Http, JsonlStdout};
pub use local::LocalSource;
pub use metrics::Metrics;
pub use source::{
    Message, MessageAttribute, MessageSource, SourceError, DEAD_LETTER_REASON_ATTRIBUTE,
    MAX_MESSAGE_ATTRIBUTES,
};
pub use sqs::SqsSource;

/// Turns one message body into the events it carries (SNS envelopes, S3 notifications and
/// EventBridge events may wrap several). An error means the body is poison.
pub type Normalizer = Arc<dyn Fn(&str) -> Result<Vec<Event>, NormalizeError> + Send + Sync>;

/// The default: [`crate::event::normalize_with`], lenient (SNS envelopes, S3 notifications,
/// EventBridge events → the one [`crate::event::Event`] type; any other JSON body, SNS text
/// notification or SNS confirmation → a `message` / `sns_confirmation` event). Only a body
/// that is not JSON is poison.
pub fn normalized() -> Normalizer {
    Arc::new(|body: &str| crate::event::normalize_with(body, Strictness::Lenient))
}

/// AWS event shapes only (`bridge consume --strict`): a body of any other shape is poison
/// and goes to the dead-letter queue like one that is not JSON.
pub fn normalized_strict() -> Normalizer {
    Arc::new(|body: &str| crate::event::normalize_with(body, Strictness::Strict))
}

/// The body parsed as JSON is the event, whatever its shape (`--raw`): for queues that
/// carry application messages rather than AWS event shapes. Each body becomes one
/// [`crate::event::Kind::Message`] event whose [`Event::handler_json`] is the body itself.
pub fn pass_through() -> Normalizer {
    Arc::new(|body: &str| crate::event::parse_body(body).map(|v| vec![Event::pass_through(v)]))
}

/// What to do with a message whose body does not normalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnparseable {
    /// Move it to the queue's DLQ with the reason (left in place if there is no DLQ).
    #[default]
    DeadLetter,
    /// Log it and leave it for redelivery (the redrive policy, if any, moves it later).
    Leave,
}

/// How the consumer runs. `Default` gives the CLI's defaults.
#[derive(Clone)]
pub struct ConsumerOptions {
    /// Handlers running at once.
    pub concurrency: usize,
    /// Messages per receive, 1 to 10.
    pub batch_size: u32,
    /// Long-poll wait per receive, up to 20 s.
    pub wait_secs: u32,
    /// Visibility timeout set on receive and renewed by the heartbeat.
    pub visibility_secs: u32,
    /// Extend visibility every `visibility_secs / 2` while a message is being handled.
    pub heartbeat: bool,
    /// Per-event limit on the handler; exceeding it is a failure.
    pub handler_timeout: Duration,
    pub on_unparseable: OnUnparseable,
    /// Only events matching this are handled; the others are acknowledged and counted.
    pub pattern: Option<patterns::Pattern>,
    /// Skip events whose `id` was handled within this window.
    pub dedup_window: Option<Duration>,
    /// Stop receiving after this many messages.
    pub max_messages: Option<u64>,
    /// Stop when no message arrived for this long.
    pub idle_exit: Option<Duration>,
    /// On shutdown, how long running handlers may take before their messages are released.
    pub shutdown_grace: Duration,
    /// Print counters on stderr this often.
    pub progress_every: Option<Duration>,
    pub normalize: Normalizer,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            concurrency: 8,
            batch_size: 10,
            wait_secs: 20,
            visibility_secs: 30,
            heartbeat: true,
            handler_timeout: Duration::from_secs(60),
            on_unparseable: OnUnparseable::DeadLetter,
            pattern: None,
            dedup_window: None,
            max_messages: None,
            idle_exit: None,
            shutdown_grace: Duration::from_secs(30),
            progress_every: None,
            normalize: normalized(),
        }
    }
}

impl std::fmt::Debug for ConsumerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerOptions")
            .field("concurrency", &self.concurrency)
            .field("batch_size", &self.batch_size)
            .field("wait_secs", &self.wait_secs)
            .field("visibility_secs", &self.visibility_secs)
            .field("heartbeat", &self.heartbeat)
            .field("handler_timeout", &self.handler_timeout)
            .field("on_unparseable", &self.on_unparseable)
            .field("pattern", &self.pattern)
            .field("dedup_window", &self.dedup_window)
            .field("max_messages", &self.max_messages)
            .field("idle_exit", &self.idle_exit)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish_non_exhaustive()
    }
}

/// A queue consumer. See the module docs for its guarantees.
pub struct Consumer<S: MessageSource> {
    source: Arc<S>,
    options: ConsumerOptions,
}

impl<S: MessageSource> Consumer<S> {
    pub fn new(source: S, options: ConsumerOptions) -> Consumer<S> {
        Consumer {
            source: Arc::new(source),
            options,
        }
    }

    /// Consumes until `shutdown` completes (or `max_messages` / `idle_exit` says stop), then
    /// stops receiving, lets running handlers finish within the grace period, releases the
    /// rest, flushes deletes, and returns the counters.
    pub async fn run<H, F>(self, handler: H, shutdown: F) -> Metrics
    where
        H: Handler,
        F: std::future::Future<Output = ()>,
    {
        runtime::run(self.source, Arc::new(handler), self.options, shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_through_events_send_the_body_and_normalized_ones_the_event() {
        let body = r#"{"id": "order-7", "total": 12}"#;
        let raw = (pass_through())(body).expect("JSON");
        assert_eq!(raw.len(), 1);
        assert!(raw[0].is_pass_through());
        assert_eq!(raw[0].id, "order-7");
        assert_eq!(
            raw[0].handler_json(),
            serde_json::json!({"id": "order-7", "total": 12})
        );
        let bytes = raw[0].handler_json_bytes().expect("serializes");
        assert_eq!(bytes, br#"{"id":"order-7","total":12}"#);
        assert!(matches!(
            (pass_through())("not json"),
            Err(NormalizeError::NotJson(_))
        ));

        let eb = r#"{"version":"0","id":"e-1","detail-type":"shipped","source":"shop",
            "time":"2026-11-23T00:00:00Z","resources":[],"detail":{"n":1}}"#;
        let events = (normalized())(eb).expect("normalizes");
        assert!(!events[0].is_pass_through());
        let json = events[0].handler_json();
        assert_eq!(json["kind"], "custom");
        assert_eq!(json["custom"]["detail"]["n"], 1);
        assert_eq!(
            events[0].handler_json_bytes().expect("serializes"),
            serde_json::to_vec(&events[0]).expect("serializes")
        );
    }
}
