//! A queue's settings as stored, read by queue operations and remembered per transaction
//! ([`super::store::TxCache`]); apart from `queue` so that the store can hold them.

use rusqlite::{Connection, OptionalExtension};

use super::{name_from_arn, LocalError, Result};

/// The settings of one queue.
pub(crate) struct QueueRow {
    /// What `messages` name it by.
    pub id: i64,
    pub name: String,
    pub fifo: bool,
    pub visibility_timeout: i64,
    pub delay_seconds: i64,
    pub retention_seconds: i64,
    pub dlq_arn: Option<String>,
    pub max_receive_count: Option<i64>,
    pub content_based_dedup: bool,
}

pub(crate) fn load_queue(tx: &Connection, arn_or_name: &str) -> Result<QueueRow> {
    let name = name_from_arn(arn_or_name);
    tx.prepare_cached(
        "SELECT id, name, fifo, visibility_timeout, delay_seconds, retention_seconds, dlq_arn,
                max_receive_count, content_based_dedup FROM queues WHERE name = ?1",
    )?
    .query_row([name], |r| {
        Ok(QueueRow {
            id: r.get(0)?,
            name: r.get(1)?,
            fifo: r.get(2)?,
            visibility_timeout: r.get(3)?,
            delay_seconds: r.get(4)?,
            retention_seconds: r.get(5)?,
            dlq_arn: r.get(6)?,
            max_receive_count: r.get(7)?,
            content_based_dedup: r.get(8)?,
        })
    })
    .optional()?
    .ok_or_else(|| LocalError::NoSuchQueue(arn_or_name.to_string()))
}
