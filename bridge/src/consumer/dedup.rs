//! De-duplication of events by their stable id within a time window.
//!
//! SQS delivers at least once and producers retry, so the same event can arrive twice.
//! An id is remembered once its event is *handled*, and forgotten after the window, so
//! memory is bounded by the number of events handled per window.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Dedup {
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    seen: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl Dedup {
    pub fn new(window: Duration) -> Dedup {
        Dedup {
            window,
            state: Mutex::new(State::default()),
        }
    }

    fn expire(&self, state: &mut State, now: Instant) {
        while let Some((at, _)) = state.order.front() {
            if now.duration_since(*at) < self.window {
                break;
            }
            if let Some((_, id)) = state.order.pop_front() {
                state.seen.remove(&id);
            }
        }
    }

    /// Whether `id` was handled within the window.
    pub fn seen(&self, id: &str) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.expire(&mut state, Instant::now());
        state.seen.contains(id)
    }

    /// Remembers that `id` was handled.
    pub fn record(&self, id: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        self.expire(&mut state, now);
        if state.seen.insert(id.to_string()) {
            state.order.push_back((now, id.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let d = Dedup::new(Duration::from_millis(50));
        assert!(!d.seen("a"));
        d.record("a");
        assert!(d.seen("a"));
        assert!(!d.seen("b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!d.seen("a"));
    }
}
