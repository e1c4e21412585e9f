//! Read-only views of the local state for the local console (`bridge dev --ui`): an event as
//! it entered its bus with every delivery it caused and the body each target got, and the
//! e-mail outbox. (A queue's messages are peeked with [`Store::peek_messages`], shared with
//! `bridge dlq`.)

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::store::{Activity, Store};
use super::{LocalError, Result};

/// One delivery an event (or message) caused, with the exact body the target was handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub activity: Activity,
    /// `None` where no body was made (input transformation failed) or the row predates it.
    pub body: Option<String>,
}

/// An event or message id's record: its envelope as it entered its bus (events only), and
/// the deliveries it caused, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: String,
    /// The bus and the envelope JSON, for events that went through a bus.
    pub bus: Option<String>,
    pub envelope: Option<String>,
    pub deliveries: Vec<Delivery>,
}

/// One e-mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMail {
    /// The file name inside `outbox/`.
    pub file: String,
    pub modified_ms: i64,
    pub content: String,
}

impl Store {
    /// The record of `id` (an event id, or an SNS/S3 message id), or `None` if the state has
    /// neither its envelope nor any activity for it (never seen, or pruned).
    pub fn event_record(&mut self, id: &str) -> Result<Option<EventRecord>> {
        self.read(|tx, _| {
            // A delivery of an event names its envelope's row (`event_row`); a body that is
            // the envelope is kept only there.
            let mut stmt = tx.prepare_cached(
                "SELECT a.id, a.at_ms, a.message_id, a.origin, a.target, a.outcome,
                        CASE WHEN a.body_is_envelope THEN e.envelope ELSE a.body END,
                        e.bus, e.envelope
                 FROM activity a
                 LEFT JOIN bus_events e ON e.id = a.event_row AND e.event_id = a.message_id
                 WHERE a.message_id = ?1 ORDER BY a.id",
            )?;
            let mut bus_event: Option<(String, String)> = None;
            let deliveries = stmt
                .query_map([id], |r| {
                    let event: Option<String> = r.get(7)?;
                    let envelope: Option<String> = r.get(8)?;
                    Ok((
                        Delivery {
                            activity: Activity::read(r)?,
                            body: r.get(6)?,
                        },
                        event.zip(envelope),
                    ))
                })?
                .map(|row| {
                    let (delivery, event) = row?;
                    if bus_event.is_none() {
                        bus_event = event;
                    }
                    Ok(delivery)
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()?;
            // No delivery names it (no rule matched the event, or the id is not an event's):
            // the rows have no index of event ids, so look from the newest back.
            if bus_event.is_none() {
                bus_event = tx
                    .prepare_cached(
                        "SELECT bus, envelope FROM bus_events WHERE event_id = ?1
                         ORDER BY id DESC LIMIT 1",
                    )?
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
            }
            if bus_event.is_none() && deliveries.is_empty() {
                return Ok(None);
            }
            let (bus, envelope) = bus_event.unzip();
            Ok(Some(EventRecord {
                id: id.to_string(),
                bus,
                envelope,
                deliveries,
            }))
        })
    }

    /// The e-mails in the outbox, newest first, at most `limit` (files that are not `.eml`,
    /// and half-written temporary files, are left out).
    pub fn outbox_mails(&mut self, limit: usize) -> Result<Vec<OutboxMail>> {
        self.flush_outbox()?;
        let dir = self.outbox_dir();
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| LocalError::Io { path, source }
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(LocalError::Io { path: dir, source }),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".eml") {
                continue;
            }
            let modified_ms = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            found.push((modified_ms, name, entry.path()));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        found.truncate(limit);
        let mut out = Vec::with_capacity(found.len());
        for (modified_ms, file, path) in found {
            let content = match std::fs::read(&path) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // Removed by someone meanwhile: not in the outbox any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(LocalError::Io { path, source }),
            };
            out.push(OutboxMail {
                file,
                modified_ms,
                content,
            });
        }
        Ok(out)
    }
}
