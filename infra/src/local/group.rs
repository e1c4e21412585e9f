//! Group commit: one writer thread owns a [`Store`], and PutEvents calls from any number of
//! threads share its commits.
//!
//! Under [`super::Durability::Full`] every commit waits for an fsync, which costs more than
//! routing a batch of events. A [`GroupCommit`] queues calls while its writer is busy, then
//! puts every waiting call into one transaction ([`Store::put_events_group`]): one fsync for
//! all of them. A caller gets its result only after the commit that holds its events, so an
//! acknowledged event is as durable as with [`Store::put_events`].
//!
//! Other work (receive, delete, anything on the store) goes through [`GroupCommit::with_store`]
//! and runs on the same writer, in arrival order with the PutEvents calls around it, so
//! writers never wait on SQLite's lock (whose busy handler sleeps in milliseconds).

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::routing::{PutEventsEntry, PutEventsOutput};
use super::{LocalError, Result, Store};

/// At most this many calls share one transaction.
const MAX_GROUP: usize = 256;

type Work = Box<dyn FnOnce(&mut Store) + Send>;

enum Job {
    Put(
        Vec<PutEventsEntry>,
        mpsc::SyncSender<Result<PutEventsOutput>>,
    ),
    Run(Work),
}

/// A writer thread owning a [`Store`]; see the module documentation. Share it between threads
/// by reference (it is `Sync`) or in an `Arc`. Dropping it finishes the queued work and stops
/// the writer.
pub struct GroupCommit {
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
        let (sender, receiver) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("bridge-local-writer".into())
            .spawn(move || writer(store, receiver))
            .map_err(|source| LocalError::Io {
                path: "bridge-local-writer thread".into(),
                source,
            })?;
        Ok(GroupCommit {
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
    pub fn put_events(&self, entries: Vec<PutEventsEntry>) -> Result<PutEventsOutput> {
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::Put(entries, reply))?;
        result.recv().map_err(|_| stopped())?
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
    let mut puts: Vec<(
        Vec<PutEventsEntry>,
        mpsc::SyncSender<Result<PutEventsOutput>>,
    )> = Vec::new();
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
                Job::Put(entries, reply) => puts.push((entries, reply)),
                Job::Run(work) => {
                    commit(&mut store, &mut puts);
                    work(&mut store);
                }
            }
        }
        commit(&mut store, &mut puts);
    }
    store
}

/// Commits the waiting PutEvents calls together, then answers each.
fn commit(
    store: &mut Store,
    puts: &mut Vec<(
        Vec<PutEventsEntry>,
        mpsc::SyncSender<Result<PutEventsOutput>>,
    )>,
) {
    if puts.is_empty() {
        return;
    }
    let calls: Vec<&[PutEventsEntry]> = puts.iter().map(|(e, _)| e.as_slice()).collect();
    match store.put_events_group(&calls) {
        Ok(outs) => {
            for ((_, reply), out) in puts.drain(..).zip(outs) {
                let _ = reply.send(out);
            }
        }
        // The shared commit failed, so none of the calls was accepted: each is tried again in
        // its own transaction, which gives each caller its own result (and error).
        Err(_) => {
            for (entries, reply) in puts.drain(..) {
                let _ = reply.send(store.put_events(&entries));
            }
        }
    }
}
