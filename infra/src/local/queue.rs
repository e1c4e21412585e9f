//! Queues with SQS semantics.
//!
//! - A receive hides each message for the visibility timeout and hands out a *new* receipt
//!   handle; earlier handles for that message stop working.
//! - Every receive increments the receive count. With a redrive policy, the receive that would
//!   take the count past `maxReceiveCount` moves the message to the dead-letter queue instead
//!   (atomically, in the receive's transaction), as SQS does.
//! - FIFO queues deliver in send order per message group, and a group is blocked while one of
//!   its messages is in flight. Deduplication ids (explicit, or the body's SHA-256 when
//!   content-based deduplication is on — here MD5, a documented difference) drop repeats for
//!   five minutes.
//! - Messages older than the retention period are dropped when a receive reaches them.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::hot::Val;
use super::message_body::{message_body, messages_with_bodies};
use super::message_row;
pub(crate) use super::queue_row::load_queue;
use super::queue_row::QueueRow;
use super::store::{Ctx, PendingMessage, Store};
use super::write_tx::WriteTx;
use super::{md5_hex, name_from_arn, new_id, LocalError, Result};

/// At most this many messages per receive and per batch statement (SQS's batch limit).
const BATCH: usize = 10;

/// Five minutes, SQS's FIFO deduplication interval.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A queue's settings (the attributes SQS's CreateQueue takes that matter locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    pub name: String,
    pub fifo: bool,
    pub visibility_timeout_secs: u32,
    pub delay_secs: u32,
    pub retention_secs: u32,
    pub redrive: Option<Redrive>,
    pub content_based_dedup: bool,
    /// The queue policy document (JSON), kept so plan/apply can compare it.
    pub policy: Option<String>,
}

impl QueueSpec {
    /// A queue with SQS's defaults (30 s visibility, no delay, 4 days retention).
    pub fn new(name: impl Into<String>) -> QueueSpec {
        let name = name.into();
        QueueSpec {
            fifo: name.ends_with(".fifo"),
            name,
            visibility_timeout_secs: 30,
            delay_secs: 0,
            retention_secs: 345_600,
            redrive: None,
            content_based_dedup: false,
            policy: None,
        }
    }
}

/// A redrive policy: after `max_receive_count` receives, move to `dead_letter_target_arn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// An SQS message attribute (`String`, `Number`, `String.Array`, ... with a string value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    #[serde(rename = "DataType")]
    pub data_type: String,
    #[serde(rename = "StringValue")]
    pub string_value: String,
}

impl MessageAttribute {
    pub fn string(value: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "String".into(),
            string_value: value.into(),
        }
    }
}

/// SendMessage's parameters.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub body: String,
    /// Overrides the queue's delay (standard queues only).
    pub delay_secs: Option<u32>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

impl SendRequest {
    pub fn body(body: impl Into<String>) -> SendRequest {
        SendRequest {
            body: body.into(),
            ..SendRequest::default()
        }
    }
}

/// ReceiveMessage's parameters.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveRequest {
    /// 1 to 10.
    pub max_messages: u32,
    /// Overrides the queue's visibility timeout.
    pub visibility_timeout_secs: Option<u32>,
    /// Long polling: wait up to this long (real time) for a message.
    pub wait_time_secs: u32,
}

impl Default for ReceiveRequest {
    fn default() -> Self {
        ReceiveRequest {
            max_messages: 10,
            visibility_timeout_secs: None,
            wait_time_secs: 0,
        }
    }
}

/// One received message, shaped like SQS's `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `SentTimestamp`, `ApproximateReceiveCount`, `ApproximateFirstReceiveTimestamp`, and for
    /// FIFO `MessageGroupId`, `MessageDeduplicationId`, `SequenceNumber`.
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

impl ReceivedMessage {
    /// SQS's `MD5OfBody`: the body's MD5 in hex. Computed when asked (the wire endpoint
    /// answers with it; an in-process consumer has no use for it, and it is half of a
    /// received message's cost on the caller's thread).
    pub fn md5_of_body(&self) -> String {
        md5_hex(self.body.as_bytes())
    }

    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

/// Queue depth, like `ApproximateNumberOfMessages*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct QueueCounts {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// [`Store::put_queue`] inside the caller's transaction (the spec already validated).
pub(crate) fn put_queue_tx(tx: &Connection, ctx: &Ctx, spec: &QueueSpec) -> Result<String> {
    tx.execute(
        "INSERT INTO queues (name, fifo, visibility_timeout, delay_seconds, retention_seconds,
             dlq_arn, max_receive_count, content_based_dedup, policy, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(name) DO UPDATE SET visibility_timeout = excluded.visibility_timeout,
             delay_seconds = excluded.delay_seconds, retention_seconds = excluded.retention_seconds,
             dlq_arn = excluded.dlq_arn, max_receive_count = excluded.max_receive_count,
             content_based_dedup = excluded.content_based_dedup, policy = excluded.policy",
        params![
            spec.name,
            spec.fifo,
            spec.visibility_timeout_secs,
            spec.delay_secs,
            spec.retention_secs,
            spec.redrive
                .as_ref()
                .map(|r| r.dead_letter_target_arn.clone()),
            spec.redrive.as_ref().map(|r| r.max_receive_count),
            spec.content_based_dedup,
            spec.policy,
            ctx.now_ms
        ],
    )?;
    Ok(ctx.queue_arn(&spec.name))
}

pub(crate) fn validate_spec(spec: &QueueSpec) -> Result<()> {
    let what = || format!("queue {}", spec.name);
    let base = spec.name.strip_suffix(".fifo").unwrap_or(&spec.name);
    if base.is_empty()
        || base.len() > 75
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(LocalError::invalid(what(), "a queue name has 1 to 80 characters: letters, digits, '-' and '_' (FIFO queues end in .fifo)"));
    }
    if spec.fifo != spec.name.ends_with(".fifo") {
        return Err(LocalError::invalid(
            what(),
            "a FIFO queue's name must end in .fifo, and only a FIFO queue's may",
        ));
    }
    if spec.visibility_timeout_secs > 43_200 {
        return Err(LocalError::invalid(
            what(),
            "visibility timeout must be 0 to 43200 seconds",
        ));
    }
    if spec.delay_secs > 900 {
        return Err(LocalError::invalid(
            what(),
            "delay must be 0 to 900 seconds",
        ));
    }
    if let Some(r) = &spec.redrive {
        if !(1..=1000).contains(&r.max_receive_count) {
            return Err(LocalError::invalid(
                what(),
                "maxReceiveCount must be 1 to 1000",
            ));
        }
    }
    Ok(())
}

impl Store {
    /// Creates the queue, or updates its attributes if it exists (messages are kept).
    pub fn put_queue(&mut self, spec: &QueueSpec) -> Result<String> {
        validate_spec(spec)?;
        self.write(|tx, ctx| {
            // Declared now (by the project, or a local tail): no longer made over the wire
            // (`super::served`).
            tx.execute(
                "DELETE FROM served_resources WHERE kind = 'queue' AND bus = '' AND name = ?1",
                [&spec.name],
            )?;
            put_queue_tx(tx, ctx, spec)
        })
    }

    /// Deletes a queue and its messages. Returns whether it existed.
    pub fn delete_queue(&mut self, arn_or_name: &str) -> Result<bool> {
        let name = name_from_arn(arn_or_name).to_string();
        self.write(|tx, _| Ok(tx.execute("DELETE FROM queues WHERE name = ?1", [name])? > 0))
    }

    /// Every queue's settings, by name.
    pub fn list_queues(&mut self) -> Result<Vec<QueueSpec>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare(
                "SELECT name, fifo, visibility_timeout, delay_seconds, retention_seconds, dlq_arn,
                        max_receive_count, content_based_dedup, policy FROM queues ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                let dlq: Option<String> = r.get(5)?;
                let max: Option<u32> = r.get(6)?;
                Ok(QueueSpec {
                    name: r.get(0)?,
                    fifo: r.get(1)?,
                    visibility_timeout_secs: r.get(2)?,
                    delay_secs: r.get(3)?,
                    retention_secs: r.get(4)?,
                    redrive: dlq
                        .zip(max)
                        .map(|(dead_letter_target_arn, max_receive_count)| Redrive {
                            dead_letter_target_arn,
                            max_receive_count,
                        }),
                    content_based_dedup: r.get(7)?,
                    policy: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The ARN a queue has (or would have) locally.
    pub fn queue_arn(&self, name: &str) -> String {
        crate::arn::queue_arn(&self.config.region, &self.config.account, name)
    }

    /// The ARN a topic has (or would have) locally.
    pub fn topic_arn(&self, name: &str) -> String {
        crate::arn::topic_arn(&self.config.region, &self.config.account, name)
    }

    /// SendMessage. Returns the message id (for a FIFO duplicate, the original's id).
    pub fn send_message(&mut self, queue: &str, req: &SendRequest) -> Result<String> {
        self.write(|tx, ctx| send_tx(tx, ctx, queue, req))
    }

    /// SendMessageBatch: every message in one transaction (one commit); per-message
    /// results, as SQS reports a rejected entry without failing the others.
    pub fn send_messages(
        &mut self,
        queue: &str,
        reqs: &[SendRequest],
    ) -> Result<Vec<Result<String>>> {
        self.write(|tx, ctx| send_batch_tx(tx, ctx, queue, reqs))
    }

    /// PurgeQueue: deletes every message of the queue; returns how many there were.
    pub fn purge_queue(&mut self, queue: &str) -> Result<u64> {
        self.write_with(|w| w.purge_queue(queue))
    }

    /// ReceiveMessage, polling every 50 ms up to `wait_time_secs` while the queue is empty.
    ///
    /// Commits without an fsync of its own (see [`Store::write_relaxed`]): a receive lost to
    /// power failure only means the message is delivered again.
    pub fn receive_messages(
        &mut self,
        queue: &str,
        req: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>> {
        long_poll(queue, req, || {
            self.write_relaxed(|tx, ctx| receive_tx(tx, ctx, queue, req))
        })
    }

    /// DeleteMessage: only the newest receipt handle of a message works. Like a receive, it
    /// commits without an fsync of its own (a delete lost to power failure is a redelivery).
    pub fn delete_message(&mut self, queue: &str, receipt_handle: &str) -> Result<()> {
        self.write_relaxed(|tx, _| {
            let q = load_queue(tx, queue)?;
            let n = match receipt_parts(q.id, receipt_handle) {
                Some((id, nonce)) => tx
                    .prepare_cached(DELETE_RECEIVED)?
                    .execute(params![id, q.id, nonce])?,
                None => 0,
            };
            if n == 0 {
                return Err(LocalError::InvalidReceipt(receipt_handle.to_string()));
            }
            Ok(())
        })
    }

    /// DeleteMessageBatch: deletes several messages in one transaction; per-handle results.
    pub fn delete_messages(
        &mut self,
        queue: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<Result<()>>> {
        self.write_relaxed(|tx, ctx| delete_batch_tx(tx, ctx, queue, receipt_handles))
    }

    /// ChangeMessageVisibility: the message becomes visible `secs` from now (0 releases it).
    pub fn change_visibility(
        &mut self,
        queue: &str,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<()> {
        self.write_with(|w| w.change_visibility(queue, receipt_handle, secs))
    }

    /// Approximate counts (exact, locally).
    pub fn queue_counts(&mut self, queue: &str) -> Result<QueueCounts> {
        self.read(|tx, ctx| {
            let q = load_queue(tx, queue)?;
            counts_tx(tx, ctx, q.id)
        })
    }
}

impl WriteTx<'_> {
    /// ChangeMessageVisibility ([`Store::change_visibility`]). Relaxed (see
    /// [`WriteTx::relaxed`]): a change lost to a power failure makes the message visible
    /// again sooner, a redelivery.
    pub fn change_visibility(
        &mut self,
        queue: &str,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<()> {
        self.relaxed();
        let (tx, now_ms) = (self.tx, self.ctx.now_ms);
        if secs > 43_200 {
            return Err(LocalError::invalid(
                "change visibility",
                "visibility timeout must be 0 to 43200 seconds",
            ));
        }
        let q = load_queue(tx, queue)?;
        let Some((id, nonce)) = receipt_parts(q.id, receipt_handle) else {
            return Err(LocalError::InvalidReceipt(receipt_handle.to_string()));
        };
        let row: Option<i64> = tx
            .query_row(
                "SELECT visible_at_ms FROM messages
                 WHERE id = ?1 AND queue_id = ?2 AND receipt = ?3 AND receive_count > 0",
                params![id, q.id, nonce],
                |r| r.get(0),
            )
            .optional()?;
        match row {
            None => Err(LocalError::InvalidReceipt(receipt_handle.to_string())),
            Some(visible_at) if visible_at <= now_ms => {
                Err(LocalError::NotInFlight(receipt_handle.to_string()))
            }
            Some(_) => {
                tx.execute(
                    "UPDATE messages SET visible_at_ms = ?1 WHERE id = ?2",
                    params![now_ms + secs as i64 * 1000, id],
                )?;
                Ok(())
            }
        }
    }

    /// PurgeQueue: deletes every message of the queue; returns how many there were. Relaxed
    /// (see [`WriteTx::relaxed`]): purged messages that come back after a power failure are
    /// redelivered, as deleted ones are.
    pub fn purge_queue(&mut self, queue: &str) -> Result<u64> {
        self.relaxed();
        let q = load_queue(self.tx, queue)?;
        let (after, before) = message_row::range(q.id);
        Ok(self.tx.execute(
            "DELETE FROM messages WHERE id > ?1 AND id < ?2",
            [after, before],
        )? as u64)
    }
}

/// The message row a receipt handle of queue `queue_id` names, and its nonce: handles are
/// `<row id>:<nonce>` (see [`receive_tx`]), so a message is found by its id, not through an
/// index of receipts, and the row keeps the nonce of its newest handle; an id from before
/// migration 12 is mapped ([`message_row::from_handle`]). `None` for text that is no handle
/// of ours.
pub(crate) fn receipt_parts(queue_id: i64, handle: &str) -> Option<(i64, &str)> {
    let (id, nonce) = handle.split_once(':')?;
    Some((message_row::from_handle(queue_id, id.parse().ok()?), nonce))
}

/// Deletes a received message by row id, queue and the nonce of its newest receipt handle
/// (a message never received has a nonce no handle has, and `receive_count` 0).
const DELETE_RECEIVED: &str =
    "DELETE FROM messages WHERE id = ?1 AND queue_id = ?2 AND receipt = ?3 AND receive_count > 0";

/// The receipt handle `<row id>:<nonce>` (the same text as the receive's `UPDATE` writes),
/// without the formatting machinery: a receive makes ten.
fn receipt_handle(id: i64, nonce: &str) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = id.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(1 + digits.len() - at + 1 + nonce.len());
    if id < 0 {
        out.push('-');
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
    out.push(':');
    out.push_str(nonce);
    out
}

/// The messages of a range of ids that hold one receive's nonce, in id order.
const RECEIVED_IN_RANGE: &str = "SELECT id FROM messages
                                 WHERE id >= ?1 AND id <= ?2 AND receipt = ?3 AND receive_count > 0";

/// Deletes what [`RECEIVED_IN_RANGE`] finds.
const DELETE_RECEIVED_IN_RANGE: &str = "DELETE FROM messages
                                 WHERE id >= ?1 AND id <= ?2 AND receipt = ?3 AND receive_count > 0";

/// A DeleteMessageBatch of everything one receive handed out that is still in flight under
/// that receive (the usual batch: a consumer deletes what it got), in two statements that
/// walk the range of its ids instead of one per handle. Returns whether it was such a batch
/// and is deleted; `false` changes nothing (the handles are then deleted one by one).
fn delete_whole_receive(
    tx: &Connection,
    ctx: &Ctx,
    queue_id: i64,
    handles: &[String],
) -> Result<bool> {
    if handles.len() < 2 {
        return Ok(false);
    }
    let (after, before) = message_row::range(queue_id);
    let mut ids = Vec::with_capacity(handles.len());
    let mut nonce = None;
    for h in handles {
        let Some((id, n)) = receipt_parts(queue_id, h) else {
            return Ok(false);
        };
        if *nonce.get_or_insert(n) != n || id <= after || id >= before {
            return Ok(false);
        }
        ids.push(id);
    }
    ids.sort_unstable();
    let (Some(nonce), Some(&low), Some(&high)) = (nonce, ids.first(), ids.last()) else {
        return Ok(false);
    };
    let range = [Val::Int(low), Val::Int(high), Val::Text(nonce)];
    // The same handle twice, or a message of that receive left out of the batch, or a
    // handle no longer valid: the range holds other rows than the handles name.
    let found = ctx
        .cache
        .query(tx, RECEIVED_IN_RANGE, &range, |r| r.int(0))?;
    if found != ids {
        return Ok(false);
    }
    let deleted = ctx.cache.execute(tx, DELETE_RECEIVED_IN_RANGE, &range)?;
    debug_assert_eq!(deleted, ids.len(), "the range holds the rows just found");
    Ok(true)
}

/// DeleteMessageBatch inside a transaction: per-handle results.
pub(crate) fn delete_batch_tx(
    tx: &Connection,
    ctx: &Ctx,
    queue: &str,
    receipt_handles: &[String],
) -> Result<Vec<Result<()>>> {
    let q = ctx.cache.queue(tx, queue)?;
    if delete_whole_receive(tx, ctx, q.id, receipt_handles)? {
        return Ok(receipt_handles.iter().map(|_| Ok(())).collect());
    }
    // Each handle names its row (`<id>:<nonce>`), so the row is found by id, and it goes
    // only if its current receipt is this handle (an older handle of it no longer works).
    let mut deleted: Vec<&str> = Vec::with_capacity(receipt_handles.len());
    let mut out = Vec::with_capacity(receipt_handles.len());
    for h in receipt_handles {
        let gone = match receipt_parts(q.id, h) {
            Some((id, nonce)) => {
                ctx.cache.execute(
                    tx,
                    DELETE_RECEIVED,
                    &[Val::Int(id), Val::Int(q.id), Val::Text(nonce)],
                )? > 0
            }
            None => false,
        };
        // The same handle twice in one batch: deleted by the first.
        if gone || deleted.contains(&h.as_str()) {
            deleted.push(h);
            out.push(Ok(()));
        } else {
            out.push(Err(LocalError::InvalidReceipt(h.clone())));
        }
    }
    Ok(out)
}

/// SendMessageBatch inside a transaction: per-message results (a message SQS would reject
/// is an `Err` in its slot); `Err` for the whole call when the queue does not exist.
pub(crate) fn send_batch_tx(
    tx: &Connection,
    ctx: &Ctx,
    queue: &str,
    reqs: &[SendRequest],
) -> Result<Vec<Result<String>>> {
    ctx.cache.queue(tx, queue)?;
    let mut out = Vec::with_capacity(reqs.len());
    for req in reqs {
        match send_tx(tx, ctx, queue, req) {
            Ok(id) => out.push(Ok(id)),
            Err(e @ LocalError::Invalid { .. }) => out.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A queue's counts inside a transaction (`queue_id` is a loaded queue's id).
pub(crate) fn counts_tx(tx: &Connection, ctx: &Ctx, queue_id: i64) -> Result<QueueCounts> {
    let (after, before) = message_row::range(queue_id);
    let (visible, in_flight, delayed) = tx.query_row(
        "SELECT COALESCE(SUM(visible_at_ms <= ?2), 0),
                        COALESCE(SUM(visible_at_ms > ?2 AND receive_count > 0), 0),
                        COALESCE(SUM(visible_at_ms > ?2 AND receive_count = 0), 0)
                 FROM messages WHERE id > ?1 AND id < ?3",
        params![after, ctx.now_ms, before],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )?;
    Ok(QueueCounts {
        visible: visible as u64,
        in_flight: in_flight as u64,
        delayed: delayed as u64,
    })
}

/// SendMessage inside a transaction (also used by EventBridge and SNS delivery).
pub(crate) fn send_tx(
    tx: &Connection,
    ctx: &Ctx,
    queue: &str,
    req: &SendRequest,
) -> Result<String> {
    send_tx_of(tx, ctx, queue, req, None)
}

/// [`send_tx`] of a request whose body is the envelope kept in `bus_events` row
/// `envelope_row`, if it names one: the row names it instead of copying it
/// (see [`super::message_body`]).
pub(crate) fn send_tx_of(
    tx: &Connection,
    ctx: &Ctx,
    queue: &str,
    req: &SendRequest,
    envelope_row: Option<i64>,
) -> Result<String> {
    let q = ctx.cache.queue(tx, queue)?;
    if req.body.is_empty() {
        return Err(LocalError::invalid(
            format!("send to {}", q.name),
            "the message body must not be empty",
        ));
    }
    if req.body.len() > 262_144 {
        return Err(LocalError::invalid(
            format!("send to {}", q.name),
            "the message body is larger than 256 KiB",
        ));
    }
    let mut dedup_id = None;
    if q.fifo {
        if req.group_id.is_none() {
            return Err(LocalError::invalid(
                format!("send to {}", q.name),
                "MessageGroupId is required for a FIFO queue",
            ));
        }
        dedup_id = match (&req.dedup_id, q.content_based_dedup) {
            (Some(id), _) => Some(id.clone()),
            (None, true) => Some(md5_hex(req.body.as_bytes())),
            (None, false) => return Err(LocalError::invalid(
                format!("send to {}", q.name),
                "the queue has no content-based deduplication: MessageDeduplicationId is required",
            )),
        };
        let id = dedup_id.as_deref().unwrap_or_default();
        tx.prepare_cached("DELETE FROM fifo_dedup WHERE queue = ?1 AND expires_ms <= ?2")?
            .execute(params![q.name, ctx.now_ms])?;
        let seen: Option<String> = tx
            .prepare_cached("SELECT message_id FROM fifo_dedup WHERE queue = ?1 AND dedup_id = ?2")?
            .query_row(params![q.name, id], |r| r.get(0))
            .optional()?;
        if let Some(original) = seen {
            return Ok(original);
        }
    }
    let message_id = new_id();
    if let Some(id) = &dedup_id {
        tx.prepare_cached("INSERT INTO fifo_dedup (queue, dedup_id, message_id, expires_ms) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![q.name, id, message_id, ctx.now_ms + DEDUP_WINDOW_MS])?;
    }
    let delay = if q.fifo {
        q.delay_seconds
    } else {
        req.delay_secs.map(i64::from).unwrap_or(q.delay_seconds)
    };
    let attrs = if req.attributes.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&req.attributes)
                .map_err(|e| LocalError::invalid("message attributes", e.to_string()))?,
        )
    };
    // A standard queue's row may wait for the end of the call (a FIFO queue's order and
    // deduplication are settled row by row).
    let row = PendingMessage {
        queue_id: q.id,
        fifo: q.fifo,
        message_id: message_id.clone(),
        body: match envelope_row {
            Some(_) => String::new(),
            None => req.body.clone(),
        },
        event_row: envelope_row,
        attributes: attrs,
        group_id: req.group_id.clone(),
        dedup_id,
        sent_ms: ctx.now_ms,
        visible_at_ms: ctx.now_ms + delay * 1000,
    };
    let row = if q.fifo {
        row
    } else {
        match ctx.cache.defer_message(row) {
            None => return Ok(message_id),
            Some(row) => row,
        }
    };
    super::store::insert_messages(tx, ctx.cache.hot, &[row])?;
    Ok(message_id)
}

/// ReceiveMessage's checks and long polling, for both ways of receiving ([`Store`] and the
/// group commit): `try_once` every 50 ms until it hands out messages or `req`'s wait is over.
/// The messages' SQS shape (MD5, attributes) is built here, on the caller's thread.
pub(crate) fn long_poll(
    queue: &str,
    req: ReceiveRequest,
    mut try_once: impl FnMut() -> Result<Vec<Received>>,
) -> Result<Vec<ReceivedMessage>> {
    if !(1..=10).contains(&req.max_messages) {
        return Err(LocalError::invalid(
            format!("receive from {queue}"),
            "MaxNumberOfMessages must be 1 to 10",
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(req.wait_time_secs.min(20) as u64);
    loop {
        let got = try_once()?;
        if !got.is_empty() || Instant::now() >= deadline {
            return Ok(got.into_iter().map(Received::finish).collect());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Candidate {
    id: i64,
    message_id: String,
    body: String,
    message_attributes: Option<String>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    sent_ms: i64,
    receive_count: i64,
    /// The sent time until the first receive (see migration 10 → 11 in `store`).
    first_receive_ms: i64,
}

/// A message handed out by a receive, before its SQS shape ([`ReceivedMessage`]: MD5,
/// attributes) is built, which needs no transaction.
pub(crate) struct Received {
    c: Candidate,
    receipt: String,
    count: i64,
    first: i64,
    fifo: bool,
}

impl Received {
    pub(crate) fn finish(self) -> ReceivedMessage {
        let Received {
            c,
            receipt,
            count,
            first,
            fifo,
        } = self;
        // Inserted one by one, in key order: cheaper than building from an array (a sort).
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "ApproximateFirstReceiveTimestamp".to_string(),
            first.to_string(),
        );
        attributes.insert("ApproximateReceiveCount".to_string(), count.to_string());
        attributes.insert("SentTimestamp".to_string(), c.sent_ms.to_string());
        if fifo {
            if let Some(g) = c.group_id {
                attributes.insert("MessageGroupId".into(), g);
            }
            if let Some(d) = c.dedup_id {
                attributes.insert("MessageDeduplicationId".into(), d);
            }
            attributes.insert(
                "SequenceNumber".into(),
                format!("{:020}", message_row::sequence(c.id)),
            );
        }
        let message_attributes = match &c.message_attributes {
            Some(text) => serde_json::from_str(text).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        ReceivedMessage {
            message_id: c.message_id,
            receipt_handle: receipt,
            body: c.body,
            attributes,
            message_attributes,
        }
    }
}

/// A page of a queue's visible messages after a row id, in the order they were sent: a walk
/// of the table's own range of the queue (see [`message_row`]).
const RECEIVE_PAGE: &str = concat!(
    "SELECT m.id, m.message_id, ",
    message_body!(),
    ", m.message_attributes, m.group_id, m.dedup_id, m.sent_ms, m.receive_count, \
     m.first_receive_ms FROM ",
    messages_with_bodies!(),
    " WHERE m.id > ?1 AND m.id < ?2 AND m.visible_at_ms <= ?3 ORDER BY m.id LIMIT ?4"
);

/// A receive's update of the visible messages of a range of ids, all handed out (see
/// [`receive_tx`]; a range may be one message). `OR FAIL`: no statement journal for a statement that changes several rows
/// (no constraint can fail here).
const RECEIVE_RANGE: &str = "UPDATE OR FAIL messages
                             SET receive_count = receive_count + 1,
                                 first_receive_ms = CASE WHEN receive_count = 0 THEN ?1
                                                         ELSE first_receive_ms END,
                                 receipt = ?2, visible_at_ms = ?3
                             WHERE id > ?4 AND id <= ?5 AND visible_at_ms <= ?1";

/// ReceiveMessage inside a transaction (no waiting).
pub(crate) fn receive_tx(
    tx: &Connection,
    ctx: &Ctx,
    queue: &str,
    req: ReceiveRequest,
) -> Result<Vec<Received>> {
    let q = ctx.cache.queue(tx, queue)?;
    // One nonce per receive: a receipt is `<row id>:<nonce>`, new at every receive.
    let nonce = new_id();
    let blocked: HashSet<String> = if q.fifo {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT group_id FROM messages
             WHERE queue_id = ?1 AND visible_at_ms > ?2 AND receive_count > 0 AND group_id IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![q.id, ctx.now_ms], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    } else {
        HashSet::new()
    };
    let visibility = req
        .visibility_timeout_secs
        .map(i64::from)
        .unwrap_or(q.visibility_timeout);
    let want = (req.max_messages as usize).min(BATCH);
    let mut out = Vec::with_capacity(want);
    // The queue's messages are the rows between these ids, in the order they were sent.
    let (mut after_id, end) = message_row::range(q.id);
    let first_page = after_id;
    // Whether a visible message was passed over and stays as it is (its FIFO group is blocked).
    let mut passed_over = false;
    // Candidates come in pages, because messages moved to the DLQ or skipped for a blocked
    // FIFO group do not count towards `want`.
    'pages: loop {
        // The first page is what is wanted (usually all of it is handed out); later pages,
        // after messages were skipped, are larger.
        let limit = if after_id == first_page {
            want as i64
        } else {
            64
        };
        let page: Vec<Candidate> = ctx.cache.query(
            tx,
            RECEIVE_PAGE,
            &[
                Val::Int(after_id),
                Val::Int(end),
                Val::Int(ctx.now_ms),
                Val::Int(limit),
            ],
            |r| {
                Ok(Candidate {
                    id: r.int(0)?,
                    message_id: r.text(1)?,
                    body: r.text(2)?,
                    message_attributes: r.opt_text(3)?,
                    group_id: r.opt_text(4)?,
                    dedup_id: r.opt_text(5)?,
                    sent_ms: r.int(6)?,
                    receive_count: r.int(7)?,
                    first_receive_ms: r.int(8)?,
                })
            },
        )?;
        if page.is_empty() {
            break;
        }
        for c in page {
            after_id = c.id;
            // Retention is enforced lazily, when an expired message would be handed out: a
            // sweep of the whole queue on every receive would cost O(queue length).
            if c.sent_ms + q.retention_seconds * 1000 <= ctx.now_ms {
                tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
                    .execute([c.id])?;
                continue;
            }
            if let Some(g) = &c.group_id {
                if blocked.contains(g) {
                    passed_over = true;
                    continue;
                }
            }
            if let (Some(max), Some(dlq)) = (q.max_receive_count, &q.dlq_arn) {
                if c.receive_count >= max && move_to_dlq(tx, ctx, &q, &c, dlq)? {
                    continue;
                }
            }
            // The row itself is updated below, with the others handed out.
            let receipt = receipt_handle(c.id, &nonce);
            let count = c.receive_count + 1;
            let first = if c.receive_count == 0 {
                ctx.now_ms
            } else {
                c.first_receive_ms
            };
            out.push(Received {
                c,
                receipt,
                count,
                first,
                fifo: q.fifo,
            });
            if out.len() == want {
                break 'pages;
            }
        }
    }
    let visible_at = ctx.now_ms + visibility * 1000;
    // Unless a blocked FIFO group was passed over, the messages handed out are all the
    // visible ones left between the queue's start and the last of them (the others were
    // deleted: expired, or moved to the DLQ), so one statement updates them all, walking
    // that range; otherwise each is a range of its own. (One `UPDATE … WHERE id IN (…)` cost
    // more: SQLite builds an ephemeral table of the `IN` list.) The statement sets the same
    // count, first receive and nonce as computed above; each row keeps its size, so SQLite
    // overwrites it in place.
    let whole = out
        .last()
        .filter(|_| !passed_over)
        .map(|last| (first_page, last.c.id));
    let each = out
        .iter()
        .filter(|_| passed_over)
        .map(|m| (m.c.id - 1, m.c.id));
    let mut changed = 0;
    for (after, last) in whole.into_iter().chain(each) {
        changed += ctx.cache.execute(
            tx,
            RECEIVE_RANGE,
            &[
                Val::Int(ctx.now_ms),
                Val::Text(&nonce),
                Val::Int(visible_at),
                Val::Int(after),
                Val::Int(last),
            ],
        )?;
    }
    debug_assert_eq!(changed, out.len(), "the ranges hold what was handed out");
    Ok(out)
}

/// Moves a message to the dead-letter queue, keeping its id, body, attributes and sent time;
/// its receive count starts again at 0 there. Returns false (and leaves the message where it
/// is, so nothing is lost) if the dead-letter queue does not exist.
fn move_to_dlq(
    tx: &Connection,
    ctx: &Ctx,
    q: &QueueRow,
    c: &Candidate,
    dlq_arn: &str,
) -> Result<bool> {
    let dlq = match load_queue(tx, dlq_arn) {
        Ok(d) => d,
        Err(LocalError::NoSuchQueue(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let group = if dlq.fifo {
        c.group_id.clone().or_else(|| Some("dlq".into()))
    } else {
        None
    };
    super::store::insert_messages(
        tx,
        ctx.cache.hot,
        &[PendingMessage {
            queue_id: dlq.id,
            fifo: dlq.fifo,
            message_id: c.message_id.clone(),
            body: c.body.clone(),
            event_row: None,
            attributes: c.message_attributes.clone(),
            group_id: group,
            dedup_id: c.dedup_id.clone(),
            sent_ms: c.sent_ms,
            visible_at_ms: ctx.now_ms,
        }],
    )?;
    tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
        .execute([c.id])?;
    super::store::record_activity(
        tx,
        ctx,
        &c.message_id,
        &format!("redrive {}", ctx.queue_arn(&q.name)),
        dlq_arn,
        "moved to dead-letter queue",
    )?;
    Ok(true)
}

#[cfg(test)]
mod receipt_tests {
    use super::*;

    /// The handle written without `format!` is `<id>:<nonce>`, and a delete reads back both
    /// parts (the row id, and the nonce the receive's `UPDATE` stores).
    #[test]
    fn a_receipt_handle_is_the_row_id_a_colon_and_the_nonce() {
        for id in [0i64, 1, 9, 10, 99, 12_345, i64::MAX, -7] {
            assert_eq!(receipt_handle(id, "n-1"), format!("{id}:n-1"));
        }
        for id in [
            message_row::row_id(1, 1),
            message_row::row_id(3, 12_345),
            i64::MAX,
        ] {
            assert_eq!(receipt_parts(3, &receipt_handle(id, "x")), Some((id, "x")));
        }
        // An id from before migration 12 is the message's sequence in its queue.
        assert_eq!(
            receipt_parts(3, &receipt_handle(7, "x")),
            Some((message_row::row_id(3, 7), "x"))
        );
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// The statements of a message's way through a queue find their rows by row id: a
    /// receive walks the queue's range of the table (no index, no sort), a delete and a
    /// visibility change seek the one row.
    #[test]
    fn the_hot_statements_go_by_row_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let unbound = vec![0i64; stmt.parameter_count()];
            let rows = stmt
                .query_map(rusqlite::params_from_iter(unbound), |r| {
                    r.get::<_, String>(3)
                })
                .expect("plan rows");
            rows.map(|r| r.expect("plan row"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        // A body kept as its envelope is one row-id lookup more.
        assert_eq!(
            plan(RECEIVE_PAGE),
            "SEARCH m USING INTEGER PRIMARY KEY (rowid>? AND rowid<?); \
             SEARCH e USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"
        );
        assert_eq!(
            plan(RECEIVE_RANGE),
            "SEARCH messages USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"
        );
        for range in [RECEIVED_IN_RANGE, DELETE_RECEIVED_IN_RANGE] {
            assert_eq!(
                plan(range),
                "SEARCH messages USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"
            );
        }
        assert_eq!(
            plan(DELETE_RECEIVED),
            "SEARCH messages USING INTEGER PRIMARY KEY (rowid=?)"
        );
    }
}
