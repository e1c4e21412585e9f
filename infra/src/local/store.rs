//! The SQLite database behind the local backend: opening, migrations, transactions.
//!
//! Durability: WAL with `synchronous=FULL`, so a commit is on disk (fsync'd) before the call
//! that made it returns. `NORMAL` would already survive `kill -9` (the WAL is in the OS page
//! cache), but not power loss; an accepted event must survive both, and batching events per
//! call (as PutEvents does) amortises the fsync, as does group commit (several calls in one
//! transaction: [`Store::put_events_group`], [`super::GroupCommit`]). Receives and deletes
//! commit with `NORMAL` ([`Store::write_relaxed`]): losing one to power failure is a
//! redelivery, which at-least-once allows, and the next FULL commit fsyncs them anyway.
//!
//! Concurrency: several processes (`bridge dev`, `bridge put-event`, `bridge consume`) may open
//! the same state. Writers use `BEGIN IMMEDIATE` so they queue on the busy timeout instead of
//! failing on a lock upgrade.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::clock::Clock;
use super::hot::{BindValue, Columns, HotStatements, InsertTexts, Row, Val};
use super::message_row;
use super::queue_row::{load_queue, QueueRow};
use super::{LocalError, Result, LOCAL_ACCOUNT};

/// The state's database file inside a state directory.
pub const DATABASE_FILE: &str = "state.sqlite3";

/// Settings that shape ARNs and envelopes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Region written into ARNs and events, e.g. `us-east-1`.
    pub region: String,
    /// Account id written into ARNs and events; `000000000000` unless a test says otherwise.
    pub account: String,
    /// How hard a commit pushes to disk.
    pub durability: Durability,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".into(),
            account: LOCAL_ACCOUNT.into(),
            durability: Durability::Full,
        }
    }
}

/// SQLite's `synchronous` setting, i.e. what an accepted event survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: survives process kills, OS crashes and power loss.
    #[default]
    Full,
    /// fsync only at WAL checkpoints: survives process kills (`kill -9`), and may lose the
    /// last commits on an OS crash or power loss.
    Normal,
}

/// One delivery (or non-delivery) the backend made, for `bridge dev` to print as it happens.
/// Message bodies are deliberately not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub id: i64,
    pub at_ms: i64,
    /// The event or message id.
    pub message_id: String,
    /// What routed it: `rule default/my-rule`, `topic arn:...`, `bucket my-bucket`.
    pub origin: String,
    /// Where it went: a queue/topic ARN or a subscription endpoint.
    pub target: String,
    /// `delivered`, `filtered`, or why it was not delivered.
    pub outcome: String,
}

impl Activity {
    /// An activity row's `id, at_ms, message_id, origin, target, outcome`, selected first
    /// and in that order.
    pub(crate) fn read(r: &rusqlite::Row) -> rusqlite::Result<Activity> {
        Ok(Activity {
            id: r.get(0)?,
            at_ms: r.get(1)?,
            message_id: r.get(2)?,
            origin: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
        })
    }
}

/// Values every operation inside a transaction needs.
pub(crate) struct Ctx<'a> {
    pub now_ms: i64,
    pub region: &'a str,
    pub account: &'a str,
    pub cache: TxCache<'a>,
}

/// A bus's archives: name and pattern.
pub(crate) type Archives = Rc<Vec<(String, Option<String>)>>;

/// Lookups a transaction repeats (a queue's settings per message sent, a bus's archives per
/// event), remembered for the rest of the transaction. Off unless turned on: only
/// transactions in which nothing changes queues or archives turn it on (the group commit's:
/// PutEvents, sends, receives, deletes); off, every lookup reads the database.
///
/// On, it also holds back the rows a call appends to `messages` (standard queues), `activity` and
/// `bus_events`, which nothing in the call reads back, to write them at the end of the call
/// ([`TxCache::flush`]) ten to a statement: a statement costs about as much again as its row.
#[derive(Default)]
pub(crate) struct TxCache<'a> {
    /// The connection's statements kept prepared (`None`: through rusqlite's cache).
    pub hot: Option<&'a HotStatements>,
    pub on: bool,
    queues: RefCell<HashMap<String, Rc<QueueRow>>>,
    /// The last queue looked up, by the name or ARN it was asked by.
    last_queue: RefCell<Option<(String, Rc<QueueRow>)>>,
    /// Per bus (a transaction names one or two: a scan beats hashing the name per event).
    archives: RefCell<Vec<(String, Archives)>>,
    messages: RefCell<Vec<PendingMessage>>,
    events: RefCell<Vec<HeldEvent>>,
    activity: RefCell<Vec<HeldActivity>>,
    /// The texts of the held-back `activity` and `bus_events` rows, one after the other:
    /// copied once into a buffer the group reuses rather than into strings of their own
    /// (seven allocations per routed event).
    texts: RefCell<String>,
    /// The id the next `bus_events` row gets while on (read at the first, then counted:
    /// the rows are held back, and activity rows name them before they are written).
    next_event_row: std::cell::Cell<Option<i64>>,
    /// The id the last `bus_events` row held back gets.
    last_event_row: std::cell::Cell<i64>,
    /// The transaction's time as RFC 3339 (`ingestion-time` of input transformers), made
    /// once per transaction (its `now_ms` does not change), whether on or not.
    ingestion_time: std::cell::OnceCell<String>,
}

/// An `activity` row (held back until the end of the call, or until a row that must be
/// written at once, so that the rows keep their order).
struct ActivityRow<'t> {
    at_ms: i64,
    message_id: &'t str,
    origin: &'t str,
    target: &'t str,
    outcome: &'t str,
    body: Option<&'t str>,
    body_is_envelope: bool,
    /// The `bus_events` row of the event delivered, if it was recorded there.
    event_row: Option<i64>,
}

/// A text of a held-back row: its place in [`TxCache::texts`].
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(self, texts: &str) -> &str {
        texts.get(self.start..self.end).unwrap_or_default()
    }
}

/// An [`ActivityRow`] held back, its texts in [`TxCache::texts`].
struct HeldActivity {
    at_ms: i64,
    message_id: Span,
    origin: Span,
    target: Span,
    outcome: Span,
    body: Option<Span>,
    body_is_envelope: bool,
    event_row: Option<i64>,
}

/// A row held back with its texts in [`TxCache::texts`].
trait Held {
    type Row<'t>: Row;
    /// The row, its texts read from `texts`.
    fn row<'t>(&self, texts: &'t str) -> Self::Row<'t>;
}

impl Held for HeldActivity {
    type Row<'t> = ActivityRow<'t>;
    fn row<'t>(&self, texts: &'t str) -> ActivityRow<'t> {
        ActivityRow {
            at_ms: self.at_ms,
            message_id: self.message_id.of(texts),
            origin: self.origin.of(texts),
            target: self.target.of(texts),
            outcome: self.outcome.of(texts),
            body: self.body.map(|b| b.of(texts)),
            body_is_envelope: self.body_is_envelope,
            event_row: self.event_row,
        }
    }
}

/// An [`EventRow`] held back, its texts in [`TxCache::texts`].
struct HeldEvent {
    event_id: Span,
    at_ms: i64,
    bus: Span,
    envelope: Span,
}

impl Held for HeldEvent {
    type Row<'t> = EventRow<'t>;
    fn row<'t>(&self, texts: &'t str) -> EventRow<'t> {
        EventRow {
            event_id: self.event_id.of(texts),
            at_ms: self.at_ms,
            bus: self.bus.of(texts),
            envelope: self.envelope.of(texts),
        }
    }
}

/// A `messages` row held back until the end of the call.
pub(crate) struct PendingMessage {
    /// The queue's id (`queues.id`).
    pub queue_id: i64,
    /// Whether the queue is FIFO (its messages' numbers must never repeat).
    pub fifo: bool,
    pub message_id: String,
    /// Empty when `event_row` names the body.
    pub body: String,
    /// The `bus_events` row whose envelope is the body, if it is one (not copied here).
    pub event_row: Option<i64>,
    pub attributes: Option<String>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sent_ms: i64,
    pub visible_at_ms: i64,
}

/// A `bus_events` row (held back until the end of the call).
struct EventRow<'t> {
    event_id: &'t str,
    at_ms: i64,
    bus: &'t str,
    envelope: &'t str,
}

/// At most this many rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 10;

/// `INSERT … VALUES (…), (…)` with `rows` groups of `width` places.
fn multi_row_sql(head: &str, width: usize, rows: usize) -> String {
    let group = format!("({})", vec!["?"; width].join(", "));
    format!("{head} VALUES {}", vec![group; rows].join(", "))
}

/// The `INSERT` text of `rows` (1 to [`ROWS_PER_INSERT`]) rows of `R`.
fn insert_sql<R: Row>(rows: usize) -> &'static str {
    let texts = R::texts().get_or_init(|| {
        (1..=ROWS_PER_INSERT)
            .map(|n| multi_row_sql(R::INSERT, R::WIDTH, n))
            .collect()
    });
    &texts[rows - 1]
}

/// Inserts `rows` in order, [`ROWS_PER_INSERT`] to a statement.
pub(crate) fn insert_rows<R: Row>(tx: &Connection, rows: &[R]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut stmt = tx.prepare_cached(insert_sql::<R>(chunk.len()))?;
        let mut place = 0;
        for row in chunk {
            row.bind(&mut |value| {
                place += 1;
                stmt.raw_bind_parameter(place, value)
            })?;
        }
        debug_assert_eq!(place, R::WIDTH * chunk.len(), "{}", R::INSERT);
        stmt.raw_execute()?;
    }
    Ok(())
}

/// [`insert_rows`] through statements kept prepared ([`HotStatements`]): the group commit's
/// held-back rows.
fn insert_rows_hot<R: Row>(hot: &HotStatements, tx: &Connection, rows: &[R]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        hot.insert(tx, insert_sql::<R>(chunk.len()), chunk)?;
    }
    Ok(())
}

impl Row for ActivityRow<'_> {
    // `OR FAIL`: a constraint failure ends the statement without undoing the rows before
    // it (the caller's savepoint or transaction does), so SQLite needs no statement journal
    // (a copy of every page the statement touches first) for a ten-row INSERT.
    const INSERT: &'static str = "INSERT OR FAIL INTO activity (at_ms, message_id, origin, \
                                  target, outcome, body, body_is_envelope, event_row)";
    const WIDTH: usize = 8;
    fn bind<'r>(&'r self, bind: &mut BindValue<'r, '_>) -> rusqlite::Result<()> {
        bind(Val::Int(self.at_ms))?;
        bind(Val::Text(self.message_id))?;
        bind(Val::Text(self.origin))?;
        bind(Val::Text(self.target))?;
        bind(Val::Text(self.outcome))?;
        bind(self.body.map_or(Val::Null, Val::Text))?;
        bind(Val::Int(self.body_is_envelope.into()))?;
        bind(self.event_row.map_or(Val::Null, Val::Int))
    }
    fn texts() -> &'static InsertTexts {
        static TEXTS: InsertTexts = InsertTexts::new();
        &TEXTS
    }
}

/// A [`PendingMessage`] with the row id [`insert_messages`] reserved for it.
struct NumberedMessage<'a> {
    id: i64,
    row: &'a PendingMessage,
}

impl Row for NumberedMessage<'_> {
    // `first_receive_ms` is the sent time until the first receive (see migration 10 → 11).
    // `OR FAIL`: no statement journal (see `ActivityRow`).
    const INSERT: &'static str = "INSERT OR FAIL INTO messages (id, queue_id, visible_at_ms, \
                                  first_receive_ms, sent_ms, message_id, group_id, dedup_id, \
                                  message_attributes, body, event_row)";
    const WIDTH: usize = 11;
    fn bind<'r>(&'r self, bind: &mut BindValue<'r, '_>) -> rusqlite::Result<()> {
        let row = self.row;
        bind(Val::Int(self.id))?;
        bind(Val::Int(row.queue_id))?;
        bind(Val::Int(row.visible_at_ms))?;
        bind(Val::Int(row.sent_ms))?;
        bind(Val::Int(row.sent_ms))?;
        bind(Val::Text(&row.message_id))?;
        bind(Val::opt(row.group_id.as_ref()))?;
        bind(Val::opt(row.dedup_id.as_ref()))?;
        bind(Val::opt(row.attributes.as_ref()))?;
        bind(Val::Text(&row.body))?;
        bind(row.event_row.map_or(Val::Null, Val::Int))
    }
    fn texts() -> &'static InsertTexts {
        static TEXTS: InsertTexts = InsertTexts::new();
        &TEXTS
    }
}

/// Inserts messages in order, each under the next row id of its queue
/// ([`message_row::next_ids`]: once per run of rows for the same queue).
pub(crate) fn insert_messages(
    tx: &Connection,
    hot: Option<&HotStatements>,
    rows: &[PendingMessage],
) -> Result<()> {
    // Each run is written before the next is numbered: a standard queue's next number
    // follows the newest row in the table.
    for run in rows.chunk_by(|a, b| a.queue_id == b.queue_id) {
        let first = message_row::next_ids(tx, hot, run[0].queue_id, run[0].fifo, run.len())?;
        let numbered: Vec<NumberedMessage> = run
            .iter()
            .zip(first..)
            .map(|(row, id)| NumberedMessage { id, row })
            .collect();
        match hot {
            Some(hot) => insert_rows_hot(hot, tx, &numbered)?,
            None => insert_rows(tx, &numbered)?,
        }
    }
    Ok(())
}

impl Row for EventRow<'_> {
    // The id is left to SQLite, which appends (the largest + 1) without looking for a
    // conflict, as it would for an id given; `TxCache::flush_events` checks it is the one
    // counted. `OR FAIL`: no statement journal (see `ActivityRow`).
    const INSERT: &'static str = "INSERT OR FAIL INTO bus_events (event_id, at_ms, bus, envelope)";
    const WIDTH: usize = 4;
    fn bind<'r>(&'r self, bind: &mut BindValue<'r, '_>) -> rusqlite::Result<()> {
        bind(Val::Text(self.event_id))?;
        bind(Val::Int(self.at_ms))?;
        bind(Val::Text(self.bus))?;
        bind(Val::Text(self.envelope))
    }
    fn texts() -> &'static InsertTexts {
        static TEXTS: InsertTexts = InsertTexts::new();
        &TEXTS
    }
}

impl TxCache<'_> {
    /// Holds back a message row while on; off, gives it back for the caller to insert.
    pub fn defer_message(&self, row: PendingMessage) -> Option<PendingMessage> {
        if !self.on {
            return Some(row);
        }
        self.messages.borrow_mut().push(row);
        None
    }

    /// Inserts the rows held back in `held`, in order, and empties it, keeping its
    /// allocation for the next call's rows; returns how many there were.
    fn flush_held<H: Held>(&self, tx: &Connection, held: &RefCell<Vec<H>>) -> Result<usize> {
        let mut rows_held = std::mem::take(&mut *held.borrow_mut());
        let count = rows_held.len();
        if count == 0 {
            return Ok(0);
        }
        let inserted = {
            let texts = self.texts.borrow();
            let rows: Vec<H::Row<'_>> = rows_held.iter().map(|h| h.row(&texts)).collect();
            self.insert(tx, &rows)
        };
        rows_held.clear();
        *held.borrow_mut() = rows_held;
        inserted.map(|()| count)
    }

    /// Writes the activity rows held back, in order.
    fn flush_activity(&self, tx: &Connection) -> Result<()> {
        self.flush_held(tx, &self.activity).map(|_| ())
    }

    /// Writes the `bus_events` rows held back, in order.
    fn flush_events(&self, tx: &Connection) -> Result<()> {
        if self.flush_held(tx, &self.events)? == 0 {
            return Ok(());
        }
        // SQLite gives a new row the largest id + 1, as counted; were it ever otherwise, the
        // activity rows would name the wrong envelopes: fail the call instead.
        let last = tx.last_insert_rowid();
        if last != self.last_event_row.get() {
            return Err(LocalError::invalid(
                "bus_events",
                format!(
                    "the newest envelope got row {last}, not {} as counted (a bug: the \
                     call was not accepted; please report it)",
                    self.last_event_row.get()
                ),
            ));
        }
        Ok(())
    }

    /// Writes the rows held back by the call that just ran.
    pub fn flush(&self, tx: &Connection) -> Result<()> {
        let flushed = self
            .flush_activity(tx)
            .and_then(|()| self.flush_messages(tx))
            .and_then(|()| self.flush_events(tx));
        match flushed {
            // No row refers to the texts any more.
            Ok(()) => self.texts.borrow_mut().clear(),
            // The call fails: none of its rows may be written later.
            Err(_) => self.discard(),
        }
        flushed
    }

    /// Copies `text` into [`Self::texts`] for a held-back row.
    fn hold(&self, text: &str) -> Span {
        let mut texts = self.texts.borrow_mut();
        let start = texts.len();
        texts.push_str(text);
        Span {
            start,
            end: texts.len(),
        }
    }

    /// Inserts the messages held back and empties their vector, keeping its allocation for
    /// the next call's rows (a group runs hundreds of calls through it).
    fn flush_messages(&self, tx: &Connection) -> Result<()> {
        let mut rows = std::mem::take(&mut *self.messages.borrow_mut());
        if rows.is_empty() {
            return Ok(());
        }
        let inserted = insert_messages(tx, self.hot, &rows);
        rows.clear();
        *self.messages.borrow_mut() = rows;
        inserted
    }

    /// Runs `sql` with `values` (through the statements kept prepared when there are, else
    /// rusqlite's cache); returns how many rows it changed.
    pub fn execute(&self, tx: &Connection, sql: &'static str, values: &[Val]) -> Result<usize> {
        if let Some(hot) = self.hot {
            return Ok(hot.execute(tx, sql, values)?);
        }
        let mut stmt = tx.prepare_cached(sql)?;
        for (place, value) in values.iter().enumerate() {
            stmt.raw_bind_parameter(place + 1, value)?;
        }
        Ok(stmt.raw_execute()?)
    }

    /// Runs the query `sql` with `values`; `f` of each row (through the statements kept
    /// prepared when there are, else rusqlite's cache).
    pub fn query<T>(
        &self,
        tx: &Connection,
        sql: &'static str,
        values: &[Val],
        mut f: impl FnMut(&dyn Columns) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(hot) = self.hot {
            return Ok(hot.query(tx, sql, values, f)?);
        }
        let mut stmt = tx.prepare_cached(sql)?;
        for (place, value) in values.iter().enumerate() {
            stmt.raw_bind_parameter(place + 1, value)?;
        }
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(f(row)?);
        }
        Ok(out)
    }

    /// [`insert_rows`], through the statements kept prepared when there are.
    fn insert<R: Row>(&self, tx: &Connection, rows: &[R]) -> Result<()> {
        match self.hot {
            Some(hot) => insert_rows_hot(hot, tx, rows),
            None => insert_rows(tx, rows),
        }
    }

    /// [`counter`], through the statements kept prepared when there are (the group commit
    /// reads `rules_generation` once per group).
    pub fn counter(&self, tx: &Connection, key: &str) -> Result<i64> {
        let found = self.query(
            tx,
            "SELECT value FROM meta WHERE key = ?1",
            &[Val::Text(key)],
            |r| r.int(0),
        )?;
        Ok(found.first().copied().unwrap_or(0))
    }

    /// [`outbox_pending`], through the statements kept prepared when there are.
    pub fn outbox_pending(&self, tx: &Connection) -> Result<bool> {
        let found = self.query(tx, "SELECT EXISTS (SELECT 1 FROM outbox)", &[], |r| {
            r.int(0)
        })?;
        Ok(found.first().is_some_and(|&n| n != 0))
    }

    /// `now_ms` (the transaction's [`Ctx::now_ms`]) as RFC 3339, formatted at the first call.
    pub fn ingestion_time(&self, now_ms: i64) -> &str {
        self.ingestion_time
            .get_or_init(|| super::clock::rfc3339_seconds(now_ms))
    }

    /// Drops the rows held back by a call that failed (rolled back to its savepoint).
    pub fn discard(&self) {
        self.messages.borrow_mut().clear();
        self.events.borrow_mut().clear();
        self.activity.borrow_mut().clear();
        self.texts.borrow_mut().clear();
        // Counted from the table again: the rows written before are the largest.
        self.next_event_row.set(None);
    }

    /// The id of a new `bus_events` row held back (while on): one more than the largest
    /// in the table at the first call of the transaction, then counted.
    fn next_event_row(&self, tx: &Connection) -> Result<i64> {
        let id = match self.next_event_row.get() {
            Some(id) => id,
            None => {
                let next = self.query(
                    tx,
                    "SELECT COALESCE(MAX(id), 0) + 1 FROM bus_events",
                    &[],
                    |r| r.int(0),
                )?;
                next.first().copied().unwrap_or(1)
            }
        };
        self.next_event_row.set(Some(id + 1));
        self.last_event_row.set(id);
        Ok(id)
    }

    /// A queue's settings by name or ARN ([`load_queue`]).
    pub fn queue(&self, tx: &Connection, arn_or_name: &str) -> Result<Rc<QueueRow>> {
        if self.on {
            // Most lookups in a group name the queue of the one before, as given.
            if let Some((given, q)) = &*self.last_queue.borrow() {
                if given == arn_or_name {
                    return Ok(Rc::clone(q));
                }
            }
        }
        let name = super::name_from_arn(arn_or_name);
        if self.on {
            if let Some(q) = self.queues.borrow().get(name).cloned() {
                *self.last_queue.borrow_mut() = Some((arn_or_name.to_string(), Rc::clone(&q)));
                return Ok(q);
            }
        }
        let q = Rc::new(load_queue(tx, arn_or_name)?);
        if self.on {
            self.queues
                .borrow_mut()
                .insert(name.to_string(), Rc::clone(&q));
            *self.last_queue.borrow_mut() = Some((arn_or_name.to_string(), Rc::clone(&q)));
        }
        Ok(q)
    }

    /// The archives of `bus`.
    pub fn archives(&self, tx: &Connection, bus: &str) -> Result<Archives> {
        if self.on {
            if let Some((_, a)) = self.archives.borrow().iter().find(|(b, _)| b == bus) {
                return Ok(Rc::clone(a));
            }
        }
        let found: Archives = {
            let mut stmt =
                tx.prepare_cached("SELECT name, pattern FROM archives WHERE bus = ?1")?;
            let rows = stmt.query_map([bus], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Rc::new(rows.collect::<std::result::Result<_, _>>()?)
        };
        if self.on {
            self.archives
                .borrow_mut()
                .push((bus.to_string(), Rc::clone(&found)));
        }
        Ok(found)
    }
}

/// An open transaction of the store ([`Store::begin_write`]), with what operations inside it
/// need: the [`Ctx`] and the compiled routes (borrowed beside the transaction).
pub(crate) struct OpenTx<'a> {
    pub tx: Transaction<'a>,
    pub ctx: Ctx<'a>,
    pub routes: &'a mut super::routes::RouteCache,
}

/// A `BEGIN IMMEDIATE` transaction begun and committed through statements the connection
/// keeps prepared ([`Store::begin_group`]): rusqlite's [`Transaction`] parses `BEGIN` and
/// `COMMIT` anew every time, which the group commit's writer would pay once per group.
/// Dropped without [`GroupTx::commit`] (or after a failed commit), it rolls back.
pub(crate) struct GroupTx<'a> {
    pub conn: &'a Connection,
    open: bool,
}

impl GroupTx<'_> {
    /// Commits; on failure the transaction is rolled back when `self` drops.
    pub fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for GroupTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}

/// [`OpenTx`] with a [`GroupTx`].
pub(crate) struct OpenGroup<'a> {
    pub tx: GroupTx<'a>,
    pub ctx: Ctx<'a>,
    pub routes: &'a mut super::routes::RouteCache,
}

impl Ctx<'_> {
    /// This transaction's values with the cache off (but the kept statements), for a call
    /// that may change what the cache remembers.
    pub fn uncached(&self) -> Ctx<'_> {
        Ctx {
            now_ms: self.now_ms,
            region: self.region,
            account: self.account,
            cache: TxCache {
                hot: self.cache.hot,
                ..TxCache::default()
            },
        }
    }

    pub fn queue_arn(&self, name: &str) -> String {
        crate::arn::queue_arn(self.region, self.account, name)
    }
    pub fn topic_arn(&self, name: &str) -> String {
        crate::arn::topic_arn(self.region, self.account, name)
    }
    pub fn bus_arn(&self, name: &str) -> String {
        crate::arn::bus_arn(self.region, self.account, name)
    }
    pub fn rule_arn(&self, bus: &str, rule: &str) -> String {
        crate::arn::rule_arn(self.region, self.account, bus, rule)
    }
}

/// Current schema version (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `n` brings the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('rules_generation', 0), ('s3_sequencer', 0);

CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    fifo INTEGER NOT NULL,
    visibility_timeout INTEGER NOT NULL,
    delay_seconds INTEGER NOT NULL,
    retention_seconds INTEGER NOT NULL,
    dlq_arn TEXT,
    max_receive_count INTEGER,
    content_based_dedup INTEGER NOT NULL,
    policy TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    message_attributes TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt TEXT
);
CREATE INDEX messages_by_queue ON messages(queue, visible_at_ms, id);
CREATE UNIQUE INDEX messages_by_receipt ON messages(receipt) WHERE receipt IS NOT NULL;
CREATE TABLE fifo_dedup (
    queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);

CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    fifo INTEGER NOT NULL,
    policy TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE subscriptions (
    arn TEXT PRIMARY KEY,
    topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    raw INTEGER NOT NULL,
    filter_policy TEXT,
    filter_scope TEXT NOT NULL,
    UNIQUE (topic, protocol, endpoint)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_name TEXT NOT NULL,
    content TEXT NOT NULL
);

CREATE TABLE buses (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
INSERT INTO buses VALUES ('default', 0);
CREATE TABLE rules (
    bus TEXT NOT NULL REFERENCES buses(name),
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    state TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (bus, name)
);
CREATE TABLE targets (
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    id TEXT NOT NULL,
    arn TEXT NOT NULL,
    input TEXT,
    input_path TEXT,
    input_transformer TEXT,
    message_group_id TEXT,
    dead_letter_arn TEXT,
    PRIMARY KEY (bus, rule, id),
    FOREIGN KEY (bus, rule) REFERENCES rules(bus, name)
);

CREATE TABLE buckets (name TEXT PRIMARY KEY, dir TEXT NOT NULL, eventbridge INTEGER NOT NULL);
CREATE TABLE bucket_notifications (
    bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    target_arn TEXT NOT NULL,
    events TEXT NOT NULL,
    prefix TEXT,
    suffix TEXT,
    PRIMARY KEY (bucket, id)
);
CREATE TABLE bucket_objects (
    bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);

CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL
);
"#,
    // 1 → 2: receives walk a queue in send order. With only (queue, visible_at_ms, id),
    // SQLite had to collect and sort every visible message per receive: O(backlog).
    r#"
CREATE INDEX messages_in_order ON messages(queue, id);
"#,
    // 2 → 3: scheduled rules. `schedule` is the expression (the rule's `pattern` is then
    // ''); a rate counts from `schedule_anchor_ms` (when the schedule was set); every slot up
    // to `last_fired_ms` has been delivered. Older states' rules all have patterns: NULLs.
    r#"
ALTER TABLE rules ADD COLUMN schedule TEXT;
ALTER TABLE rules ADD COLUMN schedule_anchor_ms INTEGER;
ALTER TABLE rules ADD COLUMN last_fired_ms INTEGER;
"#,
    // 3 → 4: who may put events on a bus (`allow_put_events_from`): `account:<id>`,
    // `organization:<o-id>` or `principal:<arn>`, one row each.
    r#"
CREATE TABLE IF NOT EXISTS bus_grants (
    bus TEXT NOT NULL,
    grantee TEXT NOT NULL,
    PRIMARY KEY (bus, grantee)
);
"#,
    // 4 → 5: a topic's `DisplayName` (the `From` name of its e-mails). Older states' topics
    // have none: NULL, and e-mails keep SNS's default name.
    r#"
ALTER TABLE topics ADD COLUMN display_name TEXT;
"#,
    // 5 → 6: archives and replays. `archived_events` holds each archived event's envelope,
    // written in the transaction that accepted it; `time_ms` is the event's `time` (a
    // replay's window), `archived_ms` when it was archived (retention). A replay's cursor
    // `last_id` is the archived event it has replayed up to.
    r#"
CREATE TABLE archives (
    name TEXT PRIMARY KEY,
    bus TEXT NOT NULL REFERENCES buses(name),
    pattern TEXT,
    retention_days INTEGER NOT NULL,
    description TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE archived_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    archive TEXT NOT NULL REFERENCES archives(name) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    archived_ms INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX archived_events_by_time ON archived_events(archive, time_ms, id);
CREATE INDEX archived_events_by_age ON archived_events(archived_ms);
CREATE TABLE replays (
    name TEXT PRIMARY KEY,
    archive TEXT NOT NULL,
    bus TEXT NOT NULL,
    from_ms INTEGER NOT NULL,
    to_ms INTEGER NOT NULL,
    rules TEXT NOT NULL,
    state TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER
);
"#,
    // 6 → 7: the local console (`bridge dev --ui`) opens an event: the envelope as it
    // entered its bus (`bus_events`), and per delivery the exact body the target got
    // (`activity.body`; NULL where none was made, and for rows written before).
    r#"
ALTER TABLE activity ADD COLUMN body TEXT;
CREATE TABLE bus_events (
    event_id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    bus TEXT NOT NULL,
    envelope TEXT NOT NULL
);
"#,
    // 7 → 8: `bridge dev --serve`'s control plane and object metadata (`infra::local::served`).
    // `served_resources` names the queues and rules made over the wire (CreateQueue, PutRule:
    // e.g. a `bridge tail --endpoint-url` session's), which are not the project's — plan and
    // apply leave them alone — with their tags (JSON object). `object_metadata` keeps an
    // uploaded object's Content-Type & co. and `x-amz-meta-*` (JSON object), valid only while
    // the object has `etag`. Triggers remove both with what they describe.
    r#"
CREATE TABLE IF NOT EXISTS served_resources (
    kind TEXT NOT NULL,
    bus TEXT NOT NULL,
    name TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, bus, name)
);
CREATE TRIGGER IF NOT EXISTS served_queue_gone AFTER DELETE ON queues BEGIN
    DELETE FROM served_resources WHERE kind = 'queue' AND bus = '' AND name = OLD.name;
END;
CREATE TRIGGER IF NOT EXISTS served_rule_gone AFTER DELETE ON rules BEGIN
    DELETE FROM served_resources WHERE kind = 'rule' AND bus = OLD.bus AND name = OLD.name;
END;
CREATE TABLE IF NOT EXISTS object_metadata (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    content_encoding TEXT,
    cache_control TEXT,
    content_disposition TEXT,
    user_metadata TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (bucket, key)
);
CREATE TRIGGER IF NOT EXISTS object_metadata_gone AFTER DELETE ON bucket_objects BEGIN
    DELETE FROM object_metadata WHERE bucket = OLD.bucket AND key = OLD.key;
END;
CREATE TRIGGER IF NOT EXISTS object_metadata_replaced AFTER INSERT ON bucket_objects BEGIN
    DELETE FROM object_metadata
    WHERE bucket = NEW.bucket AND key = NEW.key AND etag <> NEW.etag;
END;
"#,
    // 8 → 9: fewer indexes for a message to touch on its way through a queue. A receipt
    // handle is `<row id>:<nonce>`, so deletes and visibility changes find the row by id
    // (no index of receipts); receives walk `messages_in_order`; what is left wanting an
    // index is which FIFO groups have a message in flight, and only in-flight messages are
    // in that one (a send touches the table and `messages_in_order`; a receive, the row and
    // `messages_in_flight`).
    r#"
DROP INDEX IF EXISTS messages_by_queue;
DROP INDEX IF EXISTS messages_by_receipt;
CREATE INDEX IF NOT EXISTS messages_in_flight ON messages(queue, visible_at_ms)
    WHERE receipt IS NOT NULL;
"#,
    // 9 → 10: less written per event and per message.
    // - The in-flight index is only asked which FIFO groups have a message in flight, so it
    //   holds only messages with a group: a standard queue's message no longer enters and
    //   leaves it on every receive and delete.
    // - A delivery whose body is the event's envelope as it entered its bus (most of them:
    //   no input, path or transformer) keeps `body_is_envelope = 1` and no copy of it: the
    //   console reads it from `bus_events`.
    r#"
DROP INDEX IF EXISTS messages_in_flight;
CREATE INDEX IF NOT EXISTS messages_in_flight_groups ON messages(queue, visible_at_ms)
    WHERE receipt IS NOT NULL AND group_id IS NOT NULL;
ALTER TABLE activity ADD COLUMN body_is_envelope INTEGER NOT NULL DEFAULT 0;
"#,
    // 10 → 11: less work per message.
    // - A receive rewrites the message's row in place. Its state (visibility, receive count,
    //   first receive, receipt nonce) has the same size before and after the first receive,
    //   so SQLite overwrites the cell instead of deleting and inserting it again (and
    //   rebalancing its page when it grew): until then the receipt is the nil UUID (36
    //   characters, like a nonce) and the first receive the sent time; `receive_count > 0`
    //   says a message has been received (was `receipt IS NOT NULL`). The receipt keeps only
    //   the nonce of the handle `<id>:<nonce>`, so handles handed out before still work. The
    //   small columns come first, the body last. Row ids continue where they were.
    // - Queues have an integer id, and messages and their indexes name the queue by it (an
    //   integer compare per index step instead of a string compare). A trigger deletes a
    //   queue's messages with it, not a foreign key: every write of a message has just looked
    //   its queue up in the same transaction, and a foreign key cost every inserted row a
    //   lookup in `queues` and every multi-row INSERT a statement journal.
    // - `activity` ids are plain row ids, without `AUTOINCREMENT` (whose counter in
    //   `sqlite_sequence` is read and written by every INSERT statement): the console reads
    //   the rows in id order, and a plain row id is the largest + 1 as long as the newest row
    //   is never deleted (pruning keeps it), so ids still only grow.
    // The tables are rebuilt (`migrate` turns foreign keys off meanwhile, so that dropping
    // the old `queues` deletes nothing through `ON DELETE CASCADE`, and checks them before
    // committing).
    r#"
CREATE TABLE queues_v11 (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    fifo INTEGER NOT NULL,
    visibility_timeout INTEGER NOT NULL,
    delay_seconds INTEGER NOT NULL,
    retention_seconds INTEGER NOT NULL,
    dlq_arn TEXT,
    max_receive_count INTEGER,
    content_based_dedup INTEGER NOT NULL,
    policy TEXT,
    created_ms INTEGER NOT NULL
);
INSERT INTO queues_v11 (name, fifo, visibility_timeout, delay_seconds, retention_seconds,
                        dlq_arn, max_receive_count, content_based_dedup, policy, created_ms)
SELECT name, fifo, visibility_timeout, delay_seconds, retention_seconds, dlq_arn,
       max_receive_count, content_based_dedup, policy, created_ms
FROM queues ORDER BY rowid;
CREATE TABLE messages_v11 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER NOT NULL,
    receipt TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    sent_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    message_attributes TEXT,
    body TEXT NOT NULL
);
INSERT INTO messages_v11 (id, queue_id, visible_at_ms, receive_count, first_receive_ms,
                          receipt, sent_ms, message_id, group_id, dedup_id,
                          message_attributes, body)
SELECT m.id, q.id, m.visible_at_ms, m.receive_count, COALESCE(m.first_receive_ms, m.sent_ms),
       COALESCE(substr(m.receipt, instr(m.receipt, ':') + 1),
                '00000000-0000-0000-0000-000000000000'),
       m.sent_ms, m.message_id, m.group_id, m.dedup_id, m.message_attributes, m.body
FROM messages m JOIN queues_v11 q ON q.name = m.queue ORDER BY m.id;
DELETE FROM sqlite_sequence WHERE name = 'messages_v11';
UPDATE sqlite_sequence SET name = 'messages_v11' WHERE name = 'messages';
DROP TABLE messages;
DROP TABLE queues;
ALTER TABLE queues_v11 RENAME TO queues;
ALTER TABLE messages_v11 RENAME TO messages;
CREATE INDEX messages_in_order ON messages(queue_id, id);
CREATE INDEX messages_in_flight_groups ON messages(queue_id, visible_at_ms)
    WHERE receive_count > 0 AND group_id IS NOT NULL;
CREATE TRIGGER served_queue_gone AFTER DELETE ON queues BEGIN
    DELETE FROM served_resources WHERE kind = 'queue' AND bus = '' AND name = OLD.name;
END;
CREATE TRIGGER queue_messages_gone AFTER DELETE ON queues BEGIN
    DELETE FROM messages WHERE queue_id = OLD.id;
END;
CREATE TABLE activity_v11 (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    body TEXT,
    body_is_envelope INTEGER NOT NULL DEFAULT 0
);
INSERT INTO activity_v11 (id, at_ms, message_id, origin, target, outcome, body,
                          body_is_envelope)
SELECT id, at_ms, message_id, origin, target, outcome, body, body_is_envelope
FROM activity ORDER BY id;
DROP TABLE activity;
ALTER TABLE activity_v11 RENAME TO activity;
"#,
    // 11 → 12: a message's row id is its queue's id and the queue's own sequence number
    // (`message_row`), so a queue's messages are one range of the table in the order they
    // were sent, and `messages_in_order` goes: a send and a delete write one b-tree instead of
    // two, and a receive reads the rows it walks without a seek from an index entry to each.
    // Each queue numbers its messages from `next_seq`, which never goes back (FIFO sequence
    // numbers do not repeat). A message keeps its old row id as its sequence, so the order
    // within a queue, FIFO sequence numbers and receipt handles handed out before (`<old
    // id>:<nonce>`, see `message_row::from_handle`) stay as they were; every queue goes on
    // from the old counter.
    r#"
DROP TRIGGER queue_messages_gone;
ALTER TABLE queues ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 1;
UPDATE queues SET next_seq =
    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0) + 1;
CREATE TABLE messages_v12 (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER NOT NULL,
    receipt TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    sent_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    message_attributes TEXT,
    body TEXT NOT NULL
);
INSERT INTO messages_v12
SELECT (queue_id << 40) | id, queue_id, visible_at_ms, receive_count, first_receive_ms,
       receipt, sent_ms, message_id, group_id, dedup_id, message_attributes, body
FROM messages ORDER BY queue_id, id;
DROP TABLE messages;
ALTER TABLE messages_v12 RENAME TO messages;
CREATE INDEX messages_in_flight_groups ON messages(queue_id, visible_at_ms)
    WHERE receive_count > 0 AND group_id IS NOT NULL;
CREATE TRIGGER queue_messages_gone AFTER DELETE ON queues BEGIN
    DELETE FROM messages WHERE id > (OLD.id << 40) AND id < ((OLD.id + 1) << 40);
END;
"#,
    // 12 → 13: one b-tree per event for the console instead of two. `bus_events` was keyed
    // by its event id (TEXT PRIMARY KEY: the table and an index of ids, ~3 K instructions
    // per event on the group commit's writer); now its rows have only their integer id,
    // appended, and an activity row names the `bus_events` row of the event it delivered
    // (`event_row`), where the console finds the envelope. An event with no activity (no
    // rule matched it) is found by a scan, newest first. Nothing enforces one row per event
    // id any more: routing records an event once, when it first enters a bus (an event
    // forwarded to another bus, or replayed, is not recorded again). Ids, and so the order
    // pruning keeps, stay as they were.
    r#"
ALTER TABLE activity ADD COLUMN event_row INTEGER;
UPDATE activity SET event_row = (SELECT rowid FROM bus_events WHERE event_id = message_id);
CREATE TABLE bus_events_v12 (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    bus TEXT NOT NULL,
    envelope TEXT NOT NULL
);
INSERT INTO bus_events_v12 (id, event_id, at_ms, bus, envelope)
SELECT rowid, event_id, at_ms, bus, envelope FROM bus_events ORDER BY rowid;
DROP TABLE bus_events;
ALTER TABLE bus_events_v12 RENAME TO bus_events;
"#,
    // 13 → 14: a message whose body is its event's envelope as recorded in `bus_events` (a
    // rule's queue target with no input, path or transformer: most deliveries) names that
    // row (`event_row`) and keeps an empty `body` instead of a second copy. Message rows are
    // written three times (send, receive, delete), so their size is most of what a group
    // commit writes to the WAL. Readers take the body from the envelope (`message_body!`);
    // pruning keeps an envelope a message still names. Older rows keep their body.
    r#"
ALTER TABLE messages ADD COLUMN event_row INTEGER;
"#,
];

/// The local backend's state: one SQLite database plus the e-mail outbox directory.
pub struct Store {
    /// Statements kept prepared on `conn`: declared before it, so that they are finalized
    /// before it closes.
    hot: HotStatements,
    pub(crate) conn: Connection,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    dir: PathBuf,
    /// Compiled matchers per bus, valid for one `rules_generation`.
    pub(crate) routes: super::routes::RouteCache,
    /// Whether the connection's `synchronous` is FULL right now (see [`Store::write_relaxed`]).
    sync_full: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the state in `dir` with the default region and the system clock.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir, Config::default(), Clock::System)
    }

    /// Opens the state in `dir` only if there is one: [`LocalError::NoState`] otherwise,
    /// for commands that use the state rather than make it (`bridge put-event --local`).
    pub fn open_existing(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref();
        if !dir.join(DATABASE_FILE).is_file() {
            return Err(LocalError::NoState(dir.to_path_buf()));
        }
        Store::open(dir)
    }

    /// Opens the state in `dir` with explicit settings and clock.
    pub fn open_with(dir: impl AsRef<Path>, config: Config, clock: Clock) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| LocalError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(DATABASE_FILE);
        let open_err = |source| LocalError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        let synchronous = match config.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Plans must not depend on bound values: otherwise SQLite re-prepares a cached
        // statement whenever a value it looked at changes (`LIMIT ?`, a receipt compared
        // against a partial index's `IS NOT NULL`), i.e. on nearly every call: a full SQL
        // parse per receive and per batch delete.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(open_err)?;
        // The hot paths keep more statements than rusqlite's default 16.
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn).map_err(|e| match e {
            LocalError::Sql(source) => LocalError::Open {
                path: path.clone(),
                source,
            },
            other => other,
        })?;
        let mut store = Store {
            hot: HotStatements::default(),
            sync_full: config.durability == Durability::Full,
            conn,
            config,
            clock,
            dir,
            routes: Default::default(),
        };
        store.flush_outbox()?;
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite file inside [`Store::dir`].
    pub fn database_path(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }

    /// Where e-mail subscriptions write one `.eml` file per message.
    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.join("outbox")
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Sets the connection's `synchronous` for the next commits: FULL only when the store is
    /// [`Durability::Full`] and `full` is asked for. A no-op when it already is.
    pub(crate) fn set_sync(&mut self, full: bool) -> Result<()> {
        let full = full && self.config.durability == Durability::Full;
        if full != self.sync_full {
            self.conn
                .pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
            self.sync_full = full;
        }
        Ok(())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committing only if it succeeds, with the
    /// store's durability (an fsync per commit under [`Durability::Full`]).
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction, &Ctx) -> Result<T>,
    ) -> Result<T> {
        self.set_sync(true)?;
        self.write_unsynced(f)
    }

    /// [`Store::write`] for changes whose loss on power failure is harmless under
    /// at-least-once delivery: a receive (lost, the message is simply delivered again after
    /// power comes back) or a delete (lost, the message comes back and is redelivered). These
    /// commit with `synchronous=NORMAL`: in WAL mode that still survives `kill -9` (the WAL is
    /// in the OS page cache) and keeps the database consistent on power loss, and the next
    /// FULL commit (an accepted event) fsyncs the WAL with them in it.
    pub(crate) fn write_relaxed<T>(
        &mut self,
        f: impl FnOnce(&Transaction, &Ctx) -> Result<T>,
    ) -> Result<T> {
        self.set_sync(false)?;
        self.write_unsynced(f)
    }

    fn write_unsynced<T>(&mut self, f: impl FnOnce(&Transaction, &Ctx) -> Result<T>) -> Result<T> {
        let OpenTx { tx, ctx, .. } = self.begin(TransactionBehavior::Immediate)?;
        let out = f(&tx, &ctx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a read snapshot.
    pub(crate) fn read<T>(&mut self, f: impl FnOnce(&Transaction, &Ctx) -> Result<T>) -> Result<T> {
        let OpenTx { tx, ctx, .. } = self.begin(TransactionBehavior::Deferred)?;
        let out = f(&tx, &ctx)?;
        tx.finish()?;
        Ok(out)
    }

    /// Opens a `BEGIN IMMEDIATE` transaction with its [`Ctx`] (now, region, account), beside
    /// the route cache, for operations that need more than [`Store::write`]'s closure: an
    /// early `finish`, savepoints, or the routes. Nothing commits unless the caller commits.
    /// Its commit is durable (`synchronous=FULL` where configured): a receive or delete
    /// committed relaxed just before must not leave an accepted event or object change
    /// committed without its fsync.
    pub(crate) fn begin_write(&mut self) -> Result<OpenTx<'_>> {
        self.set_sync(true)?;
        self.begin(TransactionBehavior::Immediate)
    }

    /// [`Store::begin_write`] for the group commit, as a [`GroupTx`]; not `durable` (a group
    /// of receives and deletes only, see [`Store::write_relaxed`]), it commits with
    /// `synchronous=NORMAL`.
    pub(crate) fn begin_group(&mut self, durable: bool) -> Result<OpenGroup<'_>> {
        self.set_sync(durable)?;
        let (conn, ctx, routes) = self.parts();
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let tx = GroupTx { conn, open: true };
        Ok(OpenGroup { tx, ctx, routes })
    }

    /// The connection, a transaction's [`Ctx`] (now, region, account, the kept statements)
    /// and the route cache, borrowed apart so a transaction can hold all three.
    fn parts(&mut self) -> (&mut Connection, Ctx<'_>, &mut super::routes::RouteCache) {
        let now_ms = self.clock.now_ms();
        let Store {
            conn,
            config,
            routes,
            hot,
            ..
        } = self;
        let ctx = Ctx {
            now_ms,
            region: &config.region,
            account: &config.account,
            cache: TxCache {
                hot: Some(hot),
                ..TxCache::default()
            },
        };
        (conn, ctx, routes)
    }

    fn begin(&mut self, behavior: TransactionBehavior) -> Result<OpenTx<'_>> {
        let (conn, ctx, routes) = self.parts();
        let tx = conn.transaction_with_behavior(behavior)?;
        Ok(OpenTx { tx, ctx, routes })
    }

    /// Activity recorded after `after_id` (0 for all), oldest first, at most `limit` rows.
    pub fn activity_since(&mut self, after_id: i64, limit: usize) -> Result<Vec<Activity>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, at_ms, message_id, origin, target, outcome FROM activity
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_id, limit as i64], Activity::read)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Keeps only the newest `keep` activity rows, and the newest `keep` event envelopes
    /// and those a waiting message's body is (the log is for watching, not an archive). The
    /// newest activity row always stays: ids are plain row ids (the largest + 1), and must
    /// keep growing for a reader that is somewhere in the log ([`Store::activity_since`]).
    pub fn prune_activity(&mut self, keep: i64) -> Result<usize> {
        let keep = keep.max(1);
        self.write(|tx, _| {
            let n = tx.execute(
                "DELETE FROM activity WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM activity) - ?1",
                [keep],
            )?;
            // An envelope that is a waiting message's body stays (see migration 13 → 14).
            tx.execute(
                "DELETE FROM bus_events
                 WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM bus_events) - ?1
                   AND id NOT IN (SELECT event_row FROM messages WHERE event_row IS NOT NULL)",
                [keep],
            )?;
            Ok(n)
        })
    }

    /// The id of the newest activity row (0 if none), so a tail can start "from now".
    pub fn last_activity_id(&mut self) -> Result<i64> {
        self.read(|tx, _| {
            Ok(
                tx.query_row("SELECT COALESCE(MAX(id), 0) FROM activity", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// Writes pending e-mails to `outbox/<message id>.eml` and removes them from the database.
    ///
    /// E-mails are queued in the delivering transaction (so they are never lost) and written
    /// out afterwards; a crash in between writes them at the next open. The write is
    /// temp-file-then-rename, so a reader never sees a half-written file and a repeat is harmless.
    ///
    /// Several stores may flush the same rows at once (the console's and the writer's, in
    /// `bridge dev`): each writes its own temporary file, and the renames replace one another
    /// with the same content.
    pub fn flush_outbox(&mut self) -> Result<usize> {
        static FLUSHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let pending: Vec<(i64, String, String)> = self.read(|tx, _| {
            let mut stmt =
                tx.prepare_cached("SELECT id, file_name, content FROM outbox ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        if pending.is_empty() {
            return Ok(0);
        }
        let dir = self.outbox_dir();
        std::fs::create_dir_all(&dir).map_err(|source| LocalError::Io {
            path: dir.clone(),
            source,
        })?;
        for (id, name, content) in &pending {
            let path = dir.join(name);
            let flush = FLUSHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = dir.join(format!(".{name}.{}.{flush}.tmp", std::process::id()));
            let io = |source| LocalError::Io {
                path: path.clone(),
                source,
            };
            let written = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(source) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(source));
            }
            self.write(|tx, _| Ok(tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?))?;
        }
        Ok(pending.len())
    }

    /// [`Self::flush_outbox`] after a commit that queued e-mails. Its error is not the
    /// commit's: the commit holds the e-mails, so they stay in the outbox table until a
    /// later flush (the next commit with mail, the next open, the console's outbox list)
    /// writes them. Reporting it as the write's error would make callers that retry a
    /// failed write (the group commit does) run a committed write twice.
    pub(crate) fn flush_outbox_after_commit(&mut self) {
        let _ = self.flush_outbox();
    }
}

/// Brings the schema to [`SCHEMA_VERSION`]. Foreign keys are off meanwhile, because a
/// migration may rebuild a table others reference (create the new one, copy, drop the old,
/// rename: SQLite's way of changing a table), and dropping the old one must not delete
/// anything through `ON DELETE CASCADE`; they are checked before the commit.
fn migrate(conn: &mut Connection) -> Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_tx(conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrated
}

fn migrate_tx(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(LocalError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (n + 1) as i64)?;
    }
    if version < SCHEMA_VERSION {
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(LocalError::invalid(
                format!("migrating the local state to schema {SCHEMA_VERSION}"),
                format!("table {table} has rows whose foreign key names nothing; the state is damaged: move its directory away to start over"),
            ));
        }
    }
    tx.commit()?;
    Ok(())
}

/// Appends one activity row (inside the delivering transaction).
pub(crate) fn record_activity(
    tx: &Connection,
    ctx: &Ctx,
    message_id: &str,
    origin: &str,
    target: &str,
    outcome: &str,
) -> Result<()> {
    record_delivery(tx, ctx, message_id, origin, target, outcome, None)
}

/// Appends one activity row with the body the target was handed (shown only by the local
/// console, `bridge dev --ui`; never printed).
pub(crate) fn record_delivery(
    tx: &Connection,
    ctx: &Ctx,
    message_id: &str,
    origin: &str,
    target: &str,
    outcome: &str,
    body: Option<&str>,
) -> Result<()> {
    record_delivery_of(
        tx,
        ctx,
        message_id,
        origin,
        target,
        outcome,
        Body::Text(body),
        None,
    )
}

/// The body an activity row records.
pub(crate) enum Body<'a> {
    /// This text (`None`: no body was made).
    Text(Option<&'a str>),
    /// The event's envelope as it entered its bus, kept once in `bus_events`.
    Envelope,
}

/// [`record_delivery`] with the body given as a [`Body`], for a delivery of the event
/// recorded in `bus_events` row `event_row` (if it was).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_delivery_of(
    tx: &Connection,
    ctx: &Ctx,
    message_id: &str,
    origin: &str,
    target: &str,
    outcome: &str,
    body: Body,
    event_row: Option<i64>,
) -> Result<()> {
    let (text, is_envelope) = match body {
        Body::Text(text) => (text, false),
        Body::Envelope => (None, true),
    };
    let cache = &ctx.cache;
    if cache.on {
        let held = HeldActivity {
            at_ms: ctx.now_ms,
            message_id: cache.hold(message_id),
            origin: cache.hold(origin),
            target: cache.hold(target),
            outcome: cache.hold(outcome),
            body: text.map(|t| cache.hold(t)),
            body_is_envelope: is_envelope,
            event_row,
        };
        cache.activity.borrow_mut().push(held);
        return Ok(());
    }
    let row = ActivityRow {
        at_ms: ctx.now_ms,
        message_id,
        origin,
        target,
        outcome,
        body: text,
        body_is_envelope: is_envelope,
        event_row,
    };
    insert_rows(tx, &[row])
}

/// Appends an activity row whose outcome is filled in later with [`set_activity_outcome`], so
/// that a delivery is listed before the fan-out it causes (rule → topic before topic → queue).
/// `event_row` as for [`record_delivery_of`].
pub(crate) fn begin_activity(
    tx: &Connection,
    ctx: &Ctx,
    message_id: &str,
    origin: &str,
    target: &str,
    body: Option<&str>,
    event_row: Option<i64>,
) -> Result<i64> {
    // Its id is needed now: the rows held back go first, so that the order stays.
    ctx.cache.flush_activity(tx)?;
    tx.prepare_cached(
        "INSERT INTO activity (at_ms, message_id, origin, target, outcome, body, body_is_envelope,
                               event_row)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, 0, ?6)",
    )?
    .execute(params![
        ctx.now_ms, message_id, origin, target, body, event_row
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Keeps an event's envelope as it entered `bus` (for the local console to open); returns
/// its `bus_events` row id.
pub(crate) fn record_bus_event(
    tx: &Connection,
    ctx: &Ctx,
    bus: &str,
    event_id: &str,
    envelope: &str,
) -> Result<i64> {
    let cache = &ctx.cache;
    if cache.on {
        let id = cache.next_event_row(tx)?;
        let held = HeldEvent {
            event_id: cache.hold(event_id),
            at_ms: ctx.now_ms,
            bus: cache.hold(bus),
            envelope: cache.hold(envelope),
        };
        cache.events.borrow_mut().push(held);
        return Ok(id);
    }
    let row = EventRow {
        event_id,
        at_ms: ctx.now_ms,
        bus,
        envelope,
    };
    insert_rows(tx, &[row])?;
    Ok(tx.last_insert_rowid())
}

pub(crate) fn set_activity_outcome(tx: &Connection, id: i64, outcome: &str) -> Result<()> {
    tx.prepare_cached("UPDATE activity SET outcome = ?1 WHERE id = ?2")?
        .execute(params![outcome, id])?;
    Ok(())
}

/// Increments and returns a counter in `meta`.
pub(crate) fn next_counter(tx: &Connection, key: &str) -> Result<i64> {
    tx.prepare_cached("UPDATE meta SET value = value + 1 WHERE key = ?1")?
        .execute([key])?;
    counter(tx, key)
}

pub(crate) fn counter(tx: &Connection, key: &str) -> Result<i64> {
    Ok(tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Whether e-mails are waiting in the outbox (written out after the commit,
/// [`Store::flush_outbox`]).
pub(crate) fn outbox_pending(tx: &Connection) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox)")?
        .query_row([], |r| r.get(0))?)
}

#[cfg(test)]
mod migration_tests;

#[cfg(test)]
mod durability_tests {
    use super::*;

    fn synchronous(tx: &Connection) -> i64 {
        tx.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("PRAGMA synchronous")
    }

    /// A relaxed write (a receive or a delete) must not leave the next accepted change
    /// committing without its fsync: `begin_write` restores FULL.
    #[test]
    fn a_write_after_a_relaxed_one_is_durable_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        let relaxed = store
            .write_relaxed(|tx, _| Ok(synchronous(tx)))
            .expect("relaxed write");
        assert_eq!(relaxed, 1, "receives and deletes commit at NORMAL");
        let OpenTx { tx, .. } = store.begin_write().expect("begin_write");
        assert_eq!(synchronous(&tx), 2, "an accepted change commits at FULL");
        tx.commit().expect("commit");
    }
}
