//! Group commit: one writer thread owns a [`Store`], and calls from any number of threads
//! share its transactions and commits.
//!
//! Under [`super::Durability::Full`] every commit waits for an fsync, which costs more than
//! routing a batch of events. A [`GroupCommit`] queues calls while its writer is busy, then
//! puts every waiting call into one transaction (a call that fails leaves no trace and does
//! not stop the others): one fsync for all of them. A caller gets its result only after the
//! commit that holds its call, so an acknowledged event is as durable as with
//! [`Store::put_events`].
//!
//! PutEvents ([`GroupCommit::put_events`]), SendMessage(Batch), ReceiveMessage and
//! DeleteMessageBatch all join the groups; a group that holds no accepted event and no sent
//! message commits without an fsync (a lost receive or delete is a redelivery). The callers'
//! threads do what needs no database (validating entries, building and serializing envelopes,
//! matching them against the rules the writer last compiled; a received message's MD5 and
//! attributes), so the writer mostly writes.
//!
//! Under [`super::Durability::Full`] the writer does not wait for the fsync itself: it commits
//! each group with `synchronous=NORMAL` (no fsync) and hands the calls whose changes must
//! survive power loss (PutEvents, sends) to a second thread, which fsyncs the WAL file, once
//! for every group committed meanwhile, and only then answers them. Receives and deletes are
//! answered at once. So the writer routes and writes the next group while the disk syncs the
//! last one, and an acknowledged event is still on disk: its commit is in the WAL before the
//! fsync starts, and a checkpoint copies WAL frames into the database only after SQLite has
//! fsynced the WAL, then fsyncs the database before the WAL is reused.
//!
//! Any other write joins the groups too, through [`GroupCommit::write`]: a closure run on the
//! writer inside the group's transaction (after the group's other calls, under its own
//! savepoint, so that one that fails leaves no trace and does not stop the others) with a
//! [`WriteTx`], whose methods are the store's writes (S3 object changes and bucket scans,
//! SNS Publish, PurgeQueue, scheduled rules, replay batches). Its caller is answered after
//! the fsync if it changed anything that must survive power loss, else at once.
//!
//! Anything else goes through [`GroupCommit::with_store`] and runs on the same writer, in
//! arrival order with the calls around it, so writers never wait on SQLite's lock (whose
//! busy handler sleeps in milliseconds).

use std::cell::Cell;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::queue::{ReceiveRequest, Received, ReceivedMessage, SendRequest};
use super::routing::{
    GroupCall, GroupOut, PreparedPutEvents, Preparer, PutEventsEntry, PutEventsOutput,
};
use super::write_tx::{WriteJob, WriteOut, WriteTx};
use super::{Durability, LocalError, Result, Store};

/// At most this many calls share one transaction.
const MAX_GROUP: usize = 256;

type Work = Box<dyn FnOnce(&mut Store) + Send>;

type Reply<T> = mpsc::SyncSender<Result<T>>;

/// A PutEvents call's answer, with the prepared call handed back so that its caller's thread,
/// which allocated it, frees it (freeing another thread's memory costs the writer more).
type PutReply = mpsc::SyncSender<(Result<PutEventsOutput>, PreparedPutEvents)>;

/// A call waiting for the next group commit.
enum Pending {
    Put(PreparedPutEvents, PutReply),
    Send(String, Vec<SendRequest>, Reply<Vec<Result<String>>>),
    Receive(String, ReceiveRequest, Reply<Vec<Received>>),
    Delete(String, Vec<String>, Reply<Vec<Result<()>>>),
    Write(Cell<Option<WriteJob>>, Reply<WriteOut>),
}

enum Job {
    Group(Pending),
    Run(Work),
}

/// A writer thread owning a [`Store`]; see the module documentation. Share it between threads
/// by reference (it is `Sync`) or in an `Arc`. Dropping it finishes the queued work and stops
/// the writer.
pub struct GroupCommit {
    /// Prepares calls on the callers' threads (validation, envelopes, matching), so that the
    /// writer only writes.
    preparer: Preparer,
    sender: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<Store>>,
    counts: Arc<Counts>,
}

/// What the writer has done so far ([`GroupCommit::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    /// Calls sent to the writer (group calls, writes, `with_store` jobs).
    pub calls: u64,
    /// Calls the writer has not yet taken from its queue.
    pub waiting: u64,
    /// Transactions the writer committed (a group, or a call of a group that failed to
    /// commit tried again on its own).
    pub commits: u64,
    /// fsyncs of the WAL by the writer's sync thread (under [`Durability::Full`]).
    pub syncs: u64,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    taken: AtomicU64,
    /// Calls the writer has finished (committed, and answered or handed to the syncer).
    finished: AtomicU64,
    commits: AtomicU64,
    syncs: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

fn stopped() -> LocalError {
    LocalError::invalid("group commit", "the writer thread has stopped")
}

impl GroupCommit {
    /// Starts the writer thread with `store`.
    pub fn new(store: Store) -> Result<GroupCommit> {
        let preparer = store.preparer();
        let (sender, receiver) = mpsc::channel();
        let wal = match store.config().durability {
            Durability::Full => open_wal(&store),
            Durability::Normal => None,
        };
        let counts = Arc::new(Counts::default());
        let for_writer = Arc::clone(&counts);
        let worker = std::thread::Builder::new()
            .name("bridge-local-writer".into())
            .spawn(move || writer(store, receiver, wal, &for_writer))
            .map_err(|source| LocalError::Io {
                path: "bridge-local-writer thread".into(),
                source,
            })?;
        Ok(GroupCommit {
            preparer,
            sender: Some(sender),
            worker: Some(worker),
            counts,
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .sender
            .as_ref()
            .ok_or_else(stopped)
            .and_then(|s| s.send(job).map_err(|_| stopped()));
        if sent.is_err() {
            self.counts.taken.fetch_add(1, Ordering::Relaxed);
            self.counts.finished.fetch_add(1, Ordering::Release);
        }
        sent
    }

    /// What the writer has done so far: calls, commits, fsyncs.
    pub fn stats(&self) -> GroupStats {
        let c = &self.counts;
        let sent = c.sent.load(Ordering::Relaxed);
        GroupStats {
            calls: sent,
            waiting: sent.saturating_sub(c.taken.load(Ordering::Relaxed)),
            commits: c.commits.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on the writer inside the next group's transaction (see the module
    /// documentation): `f`'s changes commit with the group's, and a failing `f` (an `Err`,
    /// or a panic) leaves no trace and does not stop the other calls. Returns `f`'s answer
    /// after that commit and, if `f` changed anything that must survive power loss
    /// ([`WriteTx::relaxed`] says otherwise), after its fsync.
    ///
    /// `f` runs at most once: if the group's commit fails, its caller gets an error. Do
    /// slow work that needs no database (reading and hashing files) before calling.
    pub fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let job: WriteJob = Box::new(move |w| f(w).map(|out| Box::new(out) as WriteOut));
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Group(Pending::Write(Cell::new(Some(job)), reply)))?;
        let out = result.recv().map_err(|_| stopped())??;
        out.downcast::<T>()
            .map(|out| *out)
            .map_err(|_| LocalError::invalid("group commit", "a write's answer has another type"))
    }

    /// PutEvents, as [`Store::put_events`], committed together with the calls that wait
    /// beside it. Returns after that commit.
    ///
    /// The entries are validated, given ids, built into envelopes and matched against the
    /// rules on the calling thread; the writer thread only checks that the rules did not
    /// change meanwhile (else it matches again) and writes.
    pub fn put_events(&self, entries: Vec<PutEventsEntry>) -> Result<PutEventsOutput> {
        self.put_events_as(&entries, None)
    }

    /// [`Self::put_events`] sent by another account, as [`Store::put_events_as`].
    pub fn put_events_as(
        &self,
        entries: &[PutEventsEntry],
        sender: Option<&str>,
    ) -> Result<PutEventsOutput> {
        let prepared = self.preparer.prepare(entries, sender);
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Group(Pending::Put(prepared, reply)))?;
        let (out, prepared) = result.recv().map_err(|_| stopped())?;
        drop(prepared);
        out
    }

    /// SendMessageBatch, as [`Store::send_messages`], committed together with the calls
    /// that wait beside it (PutEvents and sends alike). Returns after that commit.
    pub fn send_messages(
        &self,
        queue: &str,
        reqs: Vec<SendRequest>,
    ) -> Result<Vec<Result<String>>> {
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Group(Pending::Send(queue.to_string(), reqs, reply)))?;
        result.recv().map_err(|_| stopped())?
    }

    /// ReceiveMessage, as [`Store::receive_messages`], in the next group commit (which
    /// fsyncs only if it also holds accepted events or sent messages). Long polling waits on
    /// the calling thread, between tries.
    pub fn receive_messages(
        &self,
        queue: &str,
        req: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>> {
        super::queue::long_poll(queue, req, || {
            let (reply, result) = mpsc::sync_channel(1);
            self.send(Job::Group(Pending::Receive(queue.to_string(), req, reply)))?;
            result.recv().map_err(|_| stopped())?
        })
    }

    /// DeleteMessageBatch, as [`Store::delete_messages`], in the next group commit.
    pub fn delete_messages(
        &self,
        queue: &str,
        receipt_handles: Vec<String>,
    ) -> Result<Vec<Result<()>>> {
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Group(Pending::Delete(
            queue.to_string(),
            receipt_handles,
            reply,
        )))?;
        result.recv().map_err(|_| stopped())?
    }

    /// SendMessage, as [`Store::send_message`], in the next group commit.
    pub fn send_message(&self, queue: &str, req: SendRequest) -> Result<String> {
        self.send_messages(queue, vec![req])?
            .pop()
            .unwrap_or_else(|| Err(LocalError::invalid("SendMessage", "no result for the call")))
    }

    /// Runs `f` on the writer's store (between group commits) and returns its result.
    pub fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T> {
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Run(Box::new(move |store| {
            let _ = reply.send(f(store));
        })))?;
        result.recv().map_err(|_| stopped())
    }

    /// Finishes the queued work, stops the writer and gives the store back.
    pub fn into_store(mut self) -> Result<Store> {
        self.sender = None;
        let worker = self.worker.take().ok_or_else(stopped)?;
        worker.join().map_err(|_| stopped())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The store's WAL file, opened for fsyncs, with its directory entry made durable; `None`
/// (the writer then commits with an fsync of SQLite's) if that fails.
fn open_wal(store: &Store) -> Option<(PathBuf, File)> {
    let mut path = store.database_path().into_os_string();
    path.push("-wal");
    let path = PathBuf::from(path);
    // The store is open (and migrated), so SQLite has made its WAL; it removes it only when
    // the last connection closes, and this writer's stays open as long as the file is used.
    // A new WAL's name is only durable once its directory is fsynced.
    let file = File::open(&path).ok()?;
    File::open(store.dir()).ok()?.sync_all().ok()?;
    Some((path, file))
}

/// Calls whose changes are committed but not yet fsynced, with their results.
type Owed = Vec<(Pending, Result<GroupOut>)>;

/// The longest a sync waits for calls still being written (see [`syncer`]).
const MAX_SYNC_WAIT: Duration = Duration::from_millis(1);

/// Fsyncs the WAL once for every batch of owed calls that arrived meanwhile, then answers
/// them (with an error if the fsync failed: their changes may not survive power loss).
///
/// Before it fsyncs, it waits while the writer still has calls in hand (sent to it, not yet
/// committed), for at most as long as the last fsync took: a call committed just after an
/// fsync started must wait for that fsync and the next one, so waiting a little for it costs
/// the calls already owed less than an fsync, and lets one fsync answer every caller that is
/// ready (with 8 producers: ~70 events per fsync instead of ~35, half the fsyncs). An
/// idle writer (one caller) makes no wait at all.
fn syncer(path: PathBuf, wal: File, owed: mpsc::Receiver<Owed>, counts: &Counts) {
    let mut last_sync = Duration::ZERO;
    while let Ok(mut batch) = owed.recv() {
        let waited = Instant::now();
        let wait = last_sync.min(MAX_SYNC_WAIT);
        while counts.finished.load(Ordering::Acquire) < counts.sent.load(Ordering::Acquire)
            && waited.elapsed() < wait
        {
            std::thread::yield_now();
        }
        while let Ok(more) = owed.try_recv() {
            batch.extend(more);
        }
        counts.syncs.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let synced = wal.sync_data();
        last_sync = started.elapsed();
        match synced {
            Ok(()) => {
                for (p, out) in batch {
                    answer(p, out);
                }
            }
            Err(e) => {
                for (p, _) in batch {
                    let source = std::io::Error::new(e.kind(), e.to_string());
                    answer(
                        p,
                        Err(LocalError::Io {
                            path: path.clone(),
                            source,
                        }),
                    );
                }
            }
        }
    }
}

fn writer(
    mut store: Store,
    jobs: mpsc::Receiver<Job>,
    wal: Option<(PathBuf, File)>,
    counts: &Arc<Counts>,
) -> Store {
    let (owed, owed_rx) = mpsc::channel::<Owed>();
    let for_syncer = Arc::clone(counts);
    let syncer = wal.and_then(|(path, file)| {
        std::thread::Builder::new()
            .name("bridge-local-sync".into())
            .spawn(move || syncer(path, file, owed_rx, &for_syncer))
            .ok()
    });
    let sync = syncer.as_ref().map(|_| &owed);
    write_loop(&mut store, &jobs, sync, counts);
    drop(owed);
    if let Some(s) = syncer {
        let _ = s.join();
    }
    store
}

fn write_loop(
    store: &mut Store,
    jobs: &mpsc::Receiver<Job>,
    sync: Option<&mpsc::Sender<Owed>>,
    counts: &Counts,
) {
    let mut pending: Vec<Pending> = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let taken = batch.len() as u64;
        counts.taken.fetch_add(taken, Ordering::Relaxed);
        for job in batch {
            match job {
                Job::Group(call) => pending.push(call),
                Job::Run(work) => {
                    commit(store, &mut pending, sync, counts);
                    work(store);
                }
            }
        }
        commit(store, &mut pending, sync, counts);
        counts.finished.fetch_add(taken, Ordering::Release);
    }
}

fn call(p: &Pending) -> GroupCall<'_> {
    match p {
        Pending::Put(prepared, _) => GroupCall::Put(prepared),
        Pending::Send(queue, reqs, _) => GroupCall::Send(queue, reqs),
        Pending::Receive(queue, req, _) => GroupCall::Receive(queue, *req),
        Pending::Delete(queue, handles, _) => GroupCall::Delete(queue, handles),
        Pending::Write(job, _) => GroupCall::Write(job),
    }
}

/// Answers one call with its result.
fn answer(p: Pending, out: Result<GroupOut>) {
    fn reply<T>(reply: Reply<T>, out: Result<Result<T>>) {
        let _ = reply.send(out.and_then(|r| r));
    }
    let mismatch = || LocalError::invalid("group commit", "no result for the call");
    match p {
        Pending::Put(prepared, r) => {
            let out = out.and_then(|o| match o {
                GroupOut::Put(o) => o,
                _ => Err(mismatch()),
            });
            let _ = r.send((out, prepared));
        }
        Pending::Send(_, _, r) => reply(
            r,
            out.and_then(|o| match o {
                GroupOut::Send(o) => Ok(o),
                _ => Err(mismatch()),
            }),
        ),
        Pending::Receive(_, _, r) => reply(
            r,
            out.and_then(|o| match o {
                GroupOut::Receive(o) => Ok(o),
                _ => Err(mismatch()),
            }),
        ),
        Pending::Delete(_, _, r) => reply(
            r,
            out.and_then(|o| match o {
                GroupOut::Delete(o) => Ok(o),
                _ => Err(mismatch()),
            }),
        ),
        Pending::Write(_, r) => reply(
            r,
            out.and_then(|o| match o {
                GroupOut::Write(o) => Ok(o.map(|(out, _)| out)),
                _ => Err(mismatch()),
            }),
        ),
    }
}

/// Commits the waiting calls together, then answers each: at once, or (`sync`: the WAL is
/// fsynced by the syncer thread) after the fsync for those whose changes must be durable.
fn commit(
    store: &mut Store,
    pending: &mut Vec<Pending>,
    sync: Option<&mpsc::Sender<Owed>>,
    counts: &Counts,
) {
    if pending.is_empty() {
        return;
    }
    let later = sync.is_some();
    let calls: Vec<GroupCall> = pending.iter().map(call).collect();
    let committed = || counts.commits.fetch_add(1, Ordering::Relaxed);
    let outs: Owed = match store.commit_group(&calls, later).inspect(|_| {
        committed();
    }) {
        Ok(outs) => pending.drain(..).zip(outs.into_iter().map(Ok)).collect(),
        // The shared commit failed, so none of the calls was accepted: each is tried again in
        // its own transaction, which gives each caller its own result (and error).
        Err(_) => pending
            .drain(..)
            .map(|p| {
                let out = store.commit_group(&[call(&p)], later).and_then(|mut outs| {
                    committed();
                    outs.pop().ok_or_else(|| {
                        LocalError::invalid("group commit", "no result for the call")
                    })
                });
                (p, out)
            })
            .collect(),
    };
    let mut owed = Owed::new();
    for (p, out) in outs {
        let needs_sync = out.as_ref().is_ok_and(|o| o.needs_sync(&call(&p)));
        match sync {
            Some(_) if needs_sync => owed.push((p, out)),
            _ => answer(p, out),
        }
    }
    if let (Some(sync), false) = (sync, owed.is_empty()) {
        if let Err(mpsc::SendError(owed)) = sync.send(owed) {
            for (p, _) in owed {
                answer(p, Err(stopped()));
            }
        }
    }
}
