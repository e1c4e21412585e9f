//! Group commit: one writer thread owns a [`Store`], and calls from any number of threads
//! share its transactions and commits.
//!
//! Under [`super::Durability::Full`] every commit waits for an fsync, which costs more than
//! routing a batch of events. A [`GroupCommit`] queues calls while its writer is busy, then
//! puts every waiting call into one transaction, each in its own savepoint: one fsync for all
//! of them. A caller gets its result only after the commit that holds its call, so an
//! acknowledged event is as durable as with [`Store::put_events`].
//!
//! PutEvents ([`GroupCommit::put_events`]), SendMessage(Batch), ReceiveMessage and
//! DeleteMessageBatch all join the groups; a group that holds no accepted event and no sent
//! message commits without an fsync (a lost receive or delete is a redelivery). The callers'
//! threads do what needs no database (validating entries, building and serializing envelopes,
//! matching them against the rules the writer last compiled; a received message's MD5 and
//! attributes), so the writer mostly writes.
//!
//! Anything else goes through [`GroupCommit::with_store`] and runs on the same writer, in
//! arrival order with the calls around it, so writers never wait on SQLite's lock (whose
//! busy handler sleeps in milliseconds).

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::queue::{ReceiveRequest, Received, ReceivedMessage, SendRequest};
use super::routing::{
    GroupCall, GroupOut, PreparedPutEvents, Preparer, PutEventsEntry, PutEventsOutput,
};
use super::{LocalError, Result, Store};

/// At most this many calls share one transaction.
const MAX_GROUP: usize = 256;

type Work = Box<dyn FnOnce(&mut Store) + Send>;

type Reply<T> = mpsc::SyncSender<Result<T>>;

/// A call waiting for the next group commit.
enum Pending {
    Put(PreparedPutEvents, Reply<PutEventsOutput>),
    Send(String, Vec<SendRequest>, Reply<Vec<Result<String>>>),
    Receive(String, ReceiveRequest, Reply<Vec<Received>>),
    Delete(String, Vec<String>, Reply<Vec<Result<()>>>),
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
        let worker = std::thread::Builder::new()
            .name("bridge-local-writer".into())
            .spawn(move || writer(store, receiver))
            .map_err(|source| LocalError::Io {
                path: "bridge-local-writer thread".into(),
                source,
            })?;
        Ok(GroupCommit {
            preparer,
            sender: Some(sender),
            worker: Some(worker),
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.sender
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
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
        result.recv().map_err(|_| stopped())?
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
        if !(1..=10).contains(&req.max_messages) {
            return Err(LocalError::invalid(
                format!("receive from {queue}"),
                "MaxNumberOfMessages must be 1 to 10",
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(req.wait_time_secs.min(20) as u64);
        loop {
            let (reply, result) = mpsc::sync_channel(1);
            self.send(Job::Group(Pending::Receive(queue.to_string(), req, reply)))?;
            let got = result.recv().map_err(|_| stopped())??;
            if !got.is_empty() || Instant::now() >= deadline {
                // The messages' SQS shape (MD5, attributes) is built here, off the writer.
                return Ok(got.into_iter().map(Received::finish).collect());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

fn writer(mut store: Store, jobs: mpsc::Receiver<Job>) -> Store {
    let mut pending: Vec<Pending> = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        for job in batch {
            match job {
                Job::Group(call) => pending.push(call),
                Job::Run(work) => {
                    commit(&mut store, &mut pending);
                    work(&mut store);
                }
            }
        }
        commit(&mut store, &mut pending);
    }
    store
}

fn call(p: &Pending) -> GroupCall<'_> {
    match p {
        Pending::Put(prepared, _) => GroupCall::Put(prepared),
        Pending::Send(queue, reqs, _) => GroupCall::Send(queue, reqs),
        Pending::Receive(queue, req, _) => GroupCall::Receive(queue, *req),
        Pending::Delete(queue, handles, _) => GroupCall::Delete(queue, handles),
    }
}

/// Answers one call with its result.
fn answer(p: Pending, out: Result<GroupOut>) {
    fn reply<T>(reply: Reply<T>, out: Result<Result<T>>) {
        let _ = reply.send(out.and_then(|r| r));
    }
    let mismatch = || LocalError::invalid("group commit", "no result for the call");
    match p {
        Pending::Put(_, r) => reply(
            r,
            out.and_then(|o| match o {
                GroupOut::Put(o) => Ok(o),
                _ => Err(mismatch()),
            }),
        ),
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
    }
}

/// Commits the waiting calls together, then answers each.
fn commit(store: &mut Store, pending: &mut Vec<Pending>) {
    if pending.is_empty() {
        return;
    }
    let calls: Vec<GroupCall> = pending.iter().map(call).collect();
    match store.commit_group(&calls) {
        Ok(outs) => {
            for (p, out) in pending.drain(..).zip(outs) {
                answer(p, Ok(out));
            }
        }
        // The shared commit failed, so none of the calls was accepted: each is tried again in
        // its own transaction, which gives each caller its own result (and error).
        Err(_) => {
            for p in pending.drain(..) {
                let out = store.commit_group(&[call(&p)]).and_then(|mut outs| {
                    outs.pop().ok_or_else(|| {
                        LocalError::invalid("group commit", "no result for the call")
                    })
                });
                answer(p, out);
            }
        }
    }
}
