//! Counters the runtime keeps, printed on stderr as progress and as a summary on exit.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, shared by every task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub received: AtomicU64,
    pub handled: AtomicU64,
    pub events: AtomicU64,
    pub failed: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub unparseable_left: AtomicU64,
    pub filtered: AtomicU64,
    pub duplicates: AtomicU64,
    pub released: AtomicU64,
    pub delete_errors: AtomicU64,
    pub heartbeats: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self, elapsed: Duration) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            received: get(&self.received),
            handled: get(&self.handled),
            events_handled: get(&self.events),
            failed: get(&self.failed),
            dead_lettered: get(&self.dead_lettered),
            unparseable_left: get(&self.unparseable_left),
            filtered_events: get(&self.filtered),
            duplicate_events: get(&self.duplicates),
            released: get(&self.released),
            delete_errors: get(&self.delete_errors),
            heartbeats: get(&self.heartbeats),
            elapsed,
        }
    }
}

/// What a run did. Message counts, except where the name says events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Messages received (a redelivered message counts every time).
    pub received: u64,
    /// Messages whose events were all handled (or filtered/duplicates) and that were deleted.
    pub handled: u64,
    /// Events the handler completed.
    pub events_handled: u64,
    /// Messages left for redelivery because the handler failed or timed out.
    pub failed: u64,
    /// Messages moved to the dead-letter queue because they do not normalize.
    pub dead_lettered: u64,
    /// Messages that do not normalize and were left in the queue (no DLQ, or `Leave`).
    pub unparseable_left: u64,
    /// Events acknowledged without handling because they do not match the pattern.
    pub filtered_events: u64,
    /// Events acknowledged without handling because their id was seen in the dedup window.
    pub duplicate_events: u64,
    /// Messages released (visibility 0) unfinished at shutdown.
    pub released: u64,
    /// Deletes that failed (the message will be redelivered: at-least-once).
    pub delete_errors: u64,
    /// Visibility extensions sent for long-running handlers.
    pub heartbeats: u64,
    pub elapsed: Duration,
}

impl Metrics {
    /// Handled messages per second over the run.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.handled as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {} handled {} failed {} dead-lettered {} left-unparseable {} filtered {} duplicates {} released {} delete-errors {} heartbeats {} | {:.1} msg/s over {:.1}s",
            self.received,
            self.handled,
            self.failed,
            self.dead_lettered,
            self.unparseable_left,
            self.filtered_events,
            self.duplicate_events,
            self.released,
            self.delete_errors,
            self.heartbeats,
            self.rate(),
            self.elapsed.as_secs_f64()
        )
    }
}
