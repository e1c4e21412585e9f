//! A write inside a transaction someone else opened and commits: a group commit's
//! ([`super::GroupCommit::write`]) or one of its own ([`Store::write_with`]).
//!
//! The writes that are not PutEvents, sends, receives or deletes (S3 object changes and
//! bucket scans, SNS Publish, PurgeQueue, scheduled rules, replay batches) are methods of
//! [`WriteTx`], so the same body runs alone or beside other calls in a group.

use rusqlite::Connection;

use super::routes::RouteCache;
use super::store::{Ctx, OpenTx};
use super::{GroupCommit, Result, Store};

/// An open write transaction, lent to one call (see the module documentation). What the
/// call changes commits with the transaction; a call that fails leaves no trace.
pub struct WriteTx<'t> {
    pub(crate) tx: &'t Connection,
    pub(crate) ctx: &'t Ctx<'t>,
    pub(crate) routes: &'t mut RouteCache,
    /// Rows changed on the connection before the call (`total_changes`).
    changes_before: u64,
    /// The call said its changes may be lost to power failure ([`WriteTx::relaxed`]).
    relaxed: bool,
}

impl<'t> WriteTx<'t> {
    pub(crate) fn new(
        tx: &'t Connection,
        ctx: &'t Ctx<'t>,
        routes: &'t mut RouteCache,
    ) -> WriteTx<'t> {
        WriteTx {
            changes_before: tx.total_changes(),
            tx,
            ctx,
            routes,
            relaxed: false,
        }
    }

    /// Says that this call's changes may be lost to power failure (only a redelivery under
    /// at-least-once, like a receive's or a delete's): a group commit then answers it without
    /// waiting for the fsync.
    pub fn relaxed(&mut self) {
        self.relaxed = true;
    }

    /// Whether the call changed rows that must survive power loss before it is answered:
    /// any change, unless the call said [`WriteTx::relaxed`].
    pub(crate) fn is_durable(&self) -> bool {
        !self.relaxed && self.tx.total_changes() != self.changes_before
    }

    /// The transaction's time (the clock's now when it began), in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.ctx.now_ms
    }

    /// Runs `f` under a savepoint of its own: if `f` fails, what it changed is undone (the
    /// call's other changes stay) and its error is the inner `Err`. For calls made of
    /// parts that fail alone (DeleteObjects' keys, PublishBatch's entries).
    pub fn attempt<T>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'t>) -> Result<T>,
    ) -> Result<Result<T>> {
        self.tx
            .prepare_cached("SAVEPOINT write_part")?
            .execute([])?;
        let out = f(self);
        if out.is_err() {
            self.tx
                .prepare_cached("ROLLBACK TO write_part")?
                .execute([])?;
        }
        self.tx.prepare_cached("RELEASE write_part")?.execute([])?;
        Ok(out)
    }
}

impl Store {
    /// Runs `f` in a transaction of its own (`BEGIN IMMEDIATE`, committed only if `f`
    /// succeeds, with the store's durability), then writes pending e-mails to the outbox.
    /// [`super::GroupCommit::write`] runs the same `f` beside other calls in one commit.
    pub fn write_with<T>(&mut self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>) -> Result<T> {
        let OpenTx { tx, ctx, routes } = self.begin_write()?;
        let out = f(&mut WriteTx::new(&tx, &ctx, routes))?;
        let mail = super::store::outbox_pending(&tx)?;
        tx.commit()?;
        if mail {
            self.flush_outbox_after_commit();
        }
        Ok(out)
    }

    /// Runs `f` in `group`'s next commit when there is a group (the process's one writer,
    /// see [`GroupCommit::write`]), else in a transaction of this store's own.
    pub fn write_via<T: Send + 'static>(
        &mut self,
        group: Option<&GroupCommit>,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        match group {
            Some(group) => group.write(f),
            None => self.write_with(f),
        }
    }
}

/// What a write handed to a group commit returns, typed by its caller
/// ([`super::GroupCommit::write`]).
pub(crate) type WriteOut = Box<dyn std::any::Any + Send>;

/// A write waiting in a group commit. It runs at most once: taken out when it runs, so a
/// group whose commit failed cannot run it a second time (its file renames, say, are done).
pub(crate) type WriteJob = Box<dyn FnOnce(&mut WriteTx<'_>) -> Result<WriteOut> + Send>;

/// Runs `job` in `tx` under its own savepoint: a write that fails (or panics) leaves no
/// trace and does not stop the group's other calls. `Ok` carries the job's answer and
/// whether its changes must survive power loss ([`WriteTx::is_durable`]).
pub(crate) fn run_write(
    tx: &Connection,
    ctx: &Ctx,
    routes: &mut RouteCache,
    job: WriteJob,
) -> Result<Result<(WriteOut, bool)>> {
    // A write may change queues, rules or archives: it looks them up itself, without the
    // group's cache (see `TxCache`).
    let ctx = ctx.uncached();
    tx.prepare_cached("SAVEPOINT group_write")?.execute([])?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = WriteTx::new(tx, &ctx, routes);
        let out = job(&mut w)?;
        Ok((out, w.is_durable()))
    }))
    .unwrap_or_else(|_| {
        Err(super::LocalError::invalid(
            "group commit",
            "a write panicked; its changes were rolled back",
        ))
    });
    if out.is_err() {
        tx.prepare_cached("ROLLBACK TO group_write")?.execute([])?;
    }
    tx.prepare_cached("RELEASE group_write")?.execute([])?;
    Ok(out)
}
