//! Dead-letter queues: what is in one, and moving its messages back (redrive).
//!
//! The API is small on purpose — `bridge dlq` and the browser console both call it:
//! - [`Store::peek_messages`] lists a queue's messages *without* receiving them: visibility,
//!   receive counts and receipt handles are left exactly as they were (SQS cannot do this;
//!   there, looking means receiving).
//! - [`Store::dead_letter_sources`] names the queues whose redrive policy sends to a queue,
//!   and [`Store::redrive_destination`] picks the default destination from them.
//! - [`Store::redrive_batch`] moves up to [`REDRIVE_BATCH`] visible messages in one
//!   transaction: each one's copy (body and every message attribute) is sent to the
//!   destination, then the original is deleted. A crash (even `kill -9`) between two batches
//!   leaves every message in exactly one of the two queues; [`Store::redrive`] loops over
//!   batches and reports progress.
//!
//! As SQS's own redrive does, a moved message is a new message in the destination: a new
//! message id, sent time and receive count 0
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html>:
//! "All redriven messages are considered new messages"), and both queues must be of the
//! same type (standard or FIFO).

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::Serialize;

use super::message_body::{message_body, messages_with_bodies};
use super::message_row;
use super::queue::{counts_tx, load_queue, send_tx, MessageAttribute, QueueCounts, SendRequest};
use super::store::{record_activity, Ctx, Store};
use super::{name_from_arn, LocalError, Result};

/// How many messages one redrive transaction moves (SQS's batch size).
pub const REDRIVE_BATCH: usize = 10;

/// Where a stored message stands, as SQS would count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// A receive would hand it out now.
    Visible,
    /// Received and not yet deleted; hidden until its visibility timeout ends.
    InFlight,
    /// Sent with a delay that has not ended.
    Delayed,
}

/// One message as stored, read without receiving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMessage {
    pub message_id: String,
    pub body: String,
    /// How many times it was received (in this queue: a message moved to a dead-letter
    /// queue starts again at 0 there, as in SQS).
    pub receive_count: u32,
    /// When it was sent (milliseconds since the Unix epoch).
    pub sent_ms: i64,
    pub state: MessageState,
    /// The FIFO message group, if any.
    pub group_id: Option<String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

/// What [`Store::peek_messages`] returns: the queue's counts and its oldest messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peek {
    pub queue: String,
    pub counts: QueueCounts,
    pub messages: Vec<StoredMessage>,
}

/// A queue whose redrive policy sends to a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterSource {
    pub queue: String,
    pub max_receive_count: u32,
}

/// What a whole [`Store::redrive`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    pub from: String,
    pub to: String,
    pub moved: u64,
    /// What is left in the dead-letter queue (in-flight and delayed messages are not moved).
    pub left: QueueCounts,
}

impl Store {
    /// Up to `max` of `queue`'s messages, oldest first, and its counts: read only, so
    /// nothing about them changes (no receive count, visibility or receipt handle).
    pub fn peek_messages(&mut self, queue: &str, max: usize) -> Result<Peek> {
        self.read(|tx, ctx| {
            let q = load_queue(tx, queue)?;
            let counts = counts_tx(tx, ctx, q.id)?;
            let mut stmt = tx.prepare_cached(concat!(
                "SELECT m.message_id, ",
                message_body!(),
                ", m.message_attributes, m.group_id, m.sent_ms, m.visible_at_ms, m.receive_count
                 FROM ",
                messages_with_bodies!(),
                " WHERE m.id > ?1 AND m.id < ?2 ORDER BY m.id LIMIT ?3"
            ))?;
            let (after, before) = message_row::range(q.id);
            let rows = stmt.query_map(params![after, before, max as i64], |r| {
                let attributes: Option<String> = r.get(2)?;
                let visible_at: i64 = r.get(5)?;
                let receive_count: u32 = r.get(6)?;
                Ok(StoredMessage {
                    message_id: r.get(0)?,
                    body: r.get(1)?,
                    message_attributes: attributes
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .unwrap_or_default(),
                    group_id: r.get(3)?,
                    sent_ms: r.get(4)?,
                    state: match (visible_at <= ctx.now_ms, receive_count > 0) {
                        (true, _) => MessageState::Visible,
                        (false, true) => MessageState::InFlight,
                        (false, false) => MessageState::Delayed,
                    },
                    receive_count,
                })
            })?;
            Ok(Peek {
                queue: q.name.clone(),
                counts,
                messages: rows.collect::<Result<Vec<_>, _>>()?,
            })
        })
    }

    /// The queues whose redrive policy names `dlq` as their dead-letter queue, by name
    /// (SQS's `ListDeadLetterSourceQueues`).
    pub fn dead_letter_sources(&mut self, dlq: &str) -> Result<Vec<DeadLetterSource>> {
        self.read(|tx, _| {
            let q = load_queue(tx, dlq)?;
            sources_tx(tx, &q.name)
        })
    }

    /// Where a redrive of `dlq` goes: `to` when given (it must exist, differ from `dlq` and
    /// be of the same type), else the one queue whose redrive policy names `dlq`.
    /// [`LocalError::NoRedriveDestination`] lists the candidates when there is not exactly one.
    pub fn redrive_destination(&mut self, dlq: &str, to: Option<&str>) -> Result<String> {
        self.read(|tx, _| destination_tx(tx, dlq, to).map(|(_, to)| to))
    }

    /// Moves up to `max` (at most [`REDRIVE_BATCH`]) visible messages, oldest first, from
    /// `dlq` to `to` in one transaction, each copy sent before its original is deleted.
    /// Returns how many moved (0: nothing visible is left).
    pub fn redrive_batch(&mut self, dlq: &str, to: &str, max: usize) -> Result<usize> {
        let max = max.min(REDRIVE_BATCH);
        if max == 0 {
            return Ok(0);
        }
        self.write(|tx, ctx| {
            let (from, to) = destination_tx(tx, dlq, Some(to))?;
            redrive_tx(tx, ctx, &from, &to, max)
        })
    }

    /// Moves the visible messages of `dlq` (at most `max` of them, all without a limit) to
    /// `to`, or to the default destination (see [`Store::redrive_destination`]), batch by
    /// batch, calling `progress` with the running total after each batch.
    pub fn redrive(
        &mut self,
        dlq: &str,
        to: Option<&str>,
        max: Option<u64>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RedriveReport> {
        let (from, to) = self.read(|tx, _| destination_tx(tx, dlq, to))?;
        let mut moved = 0u64;
        loop {
            let room = match max {
                Some(max) => max.saturating_sub(moved).min(REDRIVE_BATCH as u64) as usize,
                None => REDRIVE_BATCH,
            };
            if room == 0 {
                break;
            }
            let n = self.redrive_batch(&from, &to, room)?;
            if n == 0 {
                break;
            }
            moved += n as u64;
            progress(moved);
        }
        let left = self.queue_counts(&from)?;
        Ok(RedriveReport {
            from,
            to,
            moved,
            left,
        })
    }
}

fn sources_tx(tx: &Connection, dlq_name: &str) -> Result<Vec<DeadLetterSource>> {
    let mut stmt = tx.prepare_cached(
        "SELECT name, dlq_arn, max_receive_count FROM queues
         WHERE dlq_arn IS NOT NULL ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<u32>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (queue, arn, max) = row?;
        if name_from_arn(&arn) == dlq_name {
            out.push(DeadLetterSource {
                queue,
                max_receive_count: max.unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// The dead-letter queue's name and the destination's, checked.
fn destination_tx(tx: &Connection, dlq: &str, to: Option<&str>) -> Result<(String, String)> {
    let from = load_queue(tx, dlq)?;
    let dest = match to {
        Some(to) => load_queue(tx, to)?,
        None => {
            let sources = sources_tx(tx, &from.name)?;
            match sources.as_slice() {
                [one] => load_queue(tx, &one.queue)?,
                _ => {
                    return Err(LocalError::NoRedriveDestination {
                        dlq: from.name.clone(),
                        sources: sources.into_iter().map(|s| s.queue).collect(),
                    })
                }
            }
        }
    };
    if dest.name == from.name {
        return Err(LocalError::invalid(
            format!("redrive {}", from.name),
            "the destination is the dead-letter queue itself; name another queue",
        ));
    }
    if dest.fifo != from.fifo {
        return Err(LocalError::invalid(
            format!("redrive {} to {}", from.name, dest.name),
            "a redrive moves messages between queues of the same type (both standard or both \
             FIFO), as SQS's does; name a queue of the dead-letter queue's type",
        ));
    }
    Ok((from.name, dest.name))
}

/// A dead-letter message as redrive reads it: row id, message id, body, attributes (JSON),
/// FIFO group.
type DeadRow = (i64, String, String, Option<String>, Option<String>);

fn redrive_tx(tx: &Connection, ctx: &Ctx, from: &str, to: &str, max: usize) -> Result<usize> {
    let q = load_queue(tx, from)?;
    let to_fifo = load_queue(tx, to)?.fifo;
    let batch: Vec<DeadRow> = {
        let mut stmt = tx.prepare_cached(concat!(
            "SELECT m.id, m.message_id, ",
            message_body!(),
            ", m.message_attributes, m.group_id FROM ",
            messages_with_bodies!(),
            " WHERE m.id > ?1 AND m.id < ?2 AND m.visible_at_ms <= ?3 AND m.sent_ms > ?4
             ORDER BY m.id LIMIT ?5"
        ))?;
        let expired_before = ctx.now_ms - q.retention_seconds * 1000;
        let (after, before) = message_row::range(q.id);
        let rows = stmt.query_map(
            params![after, before, ctx.now_ms, expired_before, max as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    let from_arn = ctx.queue_arn(from);
    let to_arn = ctx.queue_arn(to);
    for (id, message_id, body, attributes, group_id) in &batch {
        let attributes: BTreeMap<String, MessageAttribute> = match attributes {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                LocalError::invalid(
                    format!("message {message_id} in {from}"),
                    format!("its stored message attributes are not readable: {e}"),
                )
            })?,
            None => BTreeMap::new(),
        };
        let request = SendRequest {
            body: body.clone(),
            attributes,
            // A FIFO copy keeps its group, and is deduplicated on the dead-letter message's
            // id (unique per dead-lettered message).
            group_id: to_fifo.then(|| group_id.clone().unwrap_or_else(|| "redrive".into())),
            dedup_id: to_fifo.then(|| message_id.clone()),
            delay_secs: None,
        };
        // The copy first, then the original: the same transaction, so both or neither.
        send_tx(tx, ctx, to, &request)?;
        tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([id])?;
        record_activity(
            tx,
            ctx,
            message_id,
            &format!("redrive {from_arn}"),
            &to_arn,
            "moved back from dead-letter queue",
        )?;
    }
    Ok(batch.len())
}
