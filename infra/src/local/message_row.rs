//! A message's row id: its queue's id in the high bits, the queue's own sequence number in
//! the low [`SEQUENCE_BITS`].
//!
//! So a queue's messages are one contiguous range of the `messages` table, in the order they
//! were sent: a receive walks the table itself from the range's start, and no index of
//! `(queue, id)` has to be written on every send and every delete (see migration 11 → 12 in
//! `store`).
//!
//! A FIFO queue's numbers come from its `next_seq`, so they never repeat, even after the
//! newest message was deleted: a FIFO message's `SequenceNumber` is its number, and SQS's
//! only grow. A standard queue's messages are numbered after its newest one, which costs no
//! write: a number used again after the newest message was deleted is harmless, as its
//! receipt handles carry a nonce the new message's do not.

use rusqlite::{Connection, OptionalExtension};

use super::hot::{HotStatements, Val};
use super::{LocalError, Result};

/// Bits of a row id that number a message within its queue: 2^40 (~10^12) messages per queue
/// over its life, and queue ids below 2^23.
pub(crate) const SEQUENCE_BITS: u32 = 40;

const SEQUENCE_MASK: i64 = (1 << SEQUENCE_BITS) - 1;

/// Queue ids at or above this cannot number their messages.
const QUEUE_ID_LIMIT: i64 = 1 << (63 - SEQUENCE_BITS);

/// The row id of message `sequence` of queue `queue_id`.
pub(crate) fn row_id(queue_id: i64, sequence: i64) -> i64 {
    (queue_id << SEQUENCE_BITS) | sequence
}

/// The ids of queue `queue_id`'s messages are `range(queue_id).0 < id < range(queue_id).1`.
pub(crate) fn range(queue_id: i64) -> (i64, i64) {
    (
        row_id(queue_id, 0),
        row_id(queue_id, 0).saturating_add(1 << SEQUENCE_BITS),
    )
}

/// A message's number within its queue (what a FIFO receive calls `SequenceNumber`).
pub(crate) fn sequence(id: i64) -> i64 {
    id & SEQUENCE_MASK
}

/// The row id a receipt handle of queue `queue_id` names. Handles handed out before
/// migration 12 carry the old, global row id, which is now the message's sequence (the
/// migration kept it), so they keep working.
pub(crate) fn from_handle(queue_id: i64, id: i64) -> i64 {
    if (0..=SEQUENCE_MASK).contains(&id) {
        row_id(queue_id, id)
    } else {
        id
    }
}

/// The first of `n` new row ids for messages of queue `queue_id` (inside the caller's
/// transaction or savepoint, so a rolled-back call gives them back). `hot`: the connection's
/// statements kept prepared, when it has them.
pub(crate) fn next_ids(
    tx: &Connection,
    hot: Option<&HotStatements>,
    queue_id: i64,
    fifo: bool,
    n: usize,
) -> Result<i64> {
    // A FIFO queue reserves its numbers; a standard one continues after its newest message.
    // (Two plain statements: one `UPDATE … RETURNING` cost 3.5× as much, for its ephemeral
    // table.)
    const NEXT_SEQ: &str = "SELECT next_seq FROM queues WHERE id = ?1";
    const RESERVE: &str = "UPDATE queues SET next_seq = ?1 WHERE id = ?2";
    const NEWEST: &str = "SELECT max(id) FROM messages WHERE id > ?1 AND id < ?2";
    let n = n as i64;
    let (after, before) = range(queue_id);
    let (next_seq, newest) = ([Val::Int(queue_id)], [Val::Int(after), Val::Int(before)]);
    let (sql, values): (&'static str, &[Val]) = if fifo {
        (NEXT_SEQ, &next_seq)
    } else {
        (NEWEST, &newest)
    };
    let found: Option<Option<i64>> = match hot {
        Some(hot) => hot.query(tx, sql, values, |r| r.opt_int(0))?.pop(),
        None => tx
            .prepare_cached(sql)?
            .query_row(rusqlite::params_from_iter(values), |r| r.get(0))
            .optional()?,
    };
    let first = match found {
        Some(Some(next_seq)) if fifo => next_seq,
        Some(newest) if !fifo => newest.map_or(1, |id| sequence(id) + 1),
        _ => {
            return Err(LocalError::invalid(
                "send a message",
                format!("queue id {queue_id} names no queue (it was deleted meanwhile)"),
            ))
        }
    };
    if queue_id >= QUEUE_ID_LIMIT || first + n > SEQUENCE_MASK {
        return Err(LocalError::invalid(
            "send a message",
            format!(
                "queue id {queue_id} has no message numbers left (at most 2^{SEQUENCE_BITS} \
                 per queue, queue ids below 2^{}): delete the queue and create it again",
                63 - SEQUENCE_BITS
            ),
        ));
    }
    if fifo {
        let values = [Val::Int(first + n), Val::Int(queue_id)];
        match hot {
            Some(hot) => hot.execute(tx, RESERVE, &values)?,
            None => tx
                .prepare_cached(RESERVE)?
                .execute(rusqlite::params_from_iter(values))?,
        };
    }
    Ok(row_id(queue_id, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_id_keeps_its_queue_and_sequence_apart() {
        // `next_ids` hands out numbers 1 to 2^40 - 2.
        let last = SEQUENCE_MASK - 1;
        for (queue, seq) in [(1, 1), (1, last), (7, 12_345), (QUEUE_ID_LIMIT - 1, last)] {
            let id = row_id(queue, seq);
            assert!(id > 0, "{queue}/{seq}");
            assert_eq!(sequence(id), seq);
            assert_eq!(id >> SEQUENCE_BITS, queue);
            let (low, high) = range(queue);
            assert!(low < id && id < high, "{queue}/{seq}");
        }
        // Queue 2's messages all sort after queue 1's.
        assert_eq!(range(1).1, range(2).0);
    }

    #[test]
    fn old_handles_name_the_row_the_migration_made() {
        assert_eq!(from_handle(3, 17), row_id(3, 17));
        let new = row_id(3, 17);
        assert_eq!(from_handle(3, new), new);
    }
}
