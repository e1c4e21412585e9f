//! Archiving an accepted event, inside the transaction that accepts it (routing calls
//! this; replays, in [`super::archive`], read what it wrote).

use rusqlite::{params, Connection};

use super::clock::parse_rfc3339;
use super::event_doc::EventDoc;
use super::store::Ctx;
use super::Result;

/// Stores `event` in every archive of `bus` whose pattern it matches (inside the
/// accepting transaction). Replayed events (with `replay-name`) are never archived.
/// The event is parsed only when the bus has an archive.
pub(crate) fn archive_tx(tx: &Connection, ctx: &Ctx, bus: &str, doc: &EventDoc) -> Result<()> {
    let archives = ctx.cache.archives(tx, bus)?;
    if archives.is_empty() {
        return Ok(());
    }
    let event = doc.value();
    if event.get("replay-name").is_some() {
        return Ok(());
    }
    let text = doc.json;
    let event_id = event["id"].as_str().unwrap_or_default();
    let time_ms = event["time"]
        .as_str()
        .and_then(parse_rfc3339)
        .unwrap_or(ctx.now_ms);
    for (name, pattern) in archives.iter() {
        let matches = match pattern.as_deref() {
            None => true,
            // Validated on the way in; a pattern that no longer parses archives nothing.
            Some(p) => patterns::Pattern::parse(p).is_ok_and(|p| p.matches_value(event)),
        };
        if matches {
            tx.prepare_cached(
                "INSERT INTO archived_events (archive, event_id, time_ms, archived_ms, event)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![name, event_id, time_ms, ctx.now_ms, text])?;
        }
    }
    Ok(())
}
