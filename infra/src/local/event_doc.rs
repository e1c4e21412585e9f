//! An event as routing hands it around (its JSON text, parsed only on demand); apart from
//! `routing` so that archiving can take one without importing routing.

use rusqlite::Connection;
use serde_json::Value;

use super::store::{record_bus_event, Ctx};
use super::Result;

/// An event on its way through routing: its JSON text, and its parsed form, parsed only
/// when something asks for it (an input path or transformer, an archive, a forward).
pub(crate) struct EventDoc<'a> {
    pub(crate) json: &'a str,
    given: Option<&'a Value>,
    parsed: std::cell::OnceCell<Value>,
    /// The `bus_events` row that holds `json`, once recorded (so an activity row whose body
    /// is `json` need not copy it, and the console finds the envelope from the activity).
    pub(crate) recorded: std::cell::Cell<Option<i64>>,
}

impl<'a> EventDoc<'a> {
    /// An event already parsed, with its JSON text.
    pub(crate) fn new(json: &'a str, value: &'a Value) -> EventDoc<'a> {
        EventDoc {
            json,
            given: Some(value),
            parsed: std::cell::OnceCell::new(),
            recorded: std::cell::Cell::new(None),
        }
    }

    /// An event known only as (valid) JSON text.
    pub(crate) fn from_json(json: &'a str) -> EventDoc<'a> {
        EventDoc {
            json,
            given: None,
            parsed: std::cell::OnceCell::new(),
            recorded: std::cell::Cell::new(None),
        }
    }

    /// Records the event's envelope in `bus_events` (for the console) as it enters `bus`,
    /// unless it already is: an event forwarded to another bus keeps the row of the bus it
    /// entered first.
    pub(crate) fn record(
        &self,
        tx: &Connection,
        ctx: &Ctx,
        bus: &str,
        event_id: &str,
    ) -> Result<()> {
        if self.recorded.get().is_none() {
            let row = record_bus_event(tx, ctx, bus, event_id, self.json)?;
            self.recorded.set(Some(row));
        }
        Ok(())
    }

    /// The event as a [`Value`] (parsed at the first call).
    pub(crate) fn value(&self) -> &Value {
        match self.given {
            Some(v) => v,
            None => self
                .parsed
                .get_or_init(|| serde_json::from_str(self.json).unwrap_or(Value::Null)),
        }
    }
}
