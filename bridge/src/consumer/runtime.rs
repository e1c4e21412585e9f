//! The receive loop, per-message processing, heartbeats, batched deletes and shutdown.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::dedup::Dedup;
use super::handler::Handler;
use super::metrics::{Counters, Metrics};
use super::source::{Message, MessageSource};
use super::{ConsumerOptions, OnUnparseable};
use crate::event::Event;

/// Where the run is: receiving; stopping (no new handler starts); aborting (the grace
/// period is over: running handlers are abandoned and their messages released).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Running,
    Stopping,
    Abort,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Handled (or deliberately skipped) and queued for deletion.
    Acked,
    /// The handler failed: left for redelivery.
    Failed,
    /// Released unfinished at shutdown.
    Released,
    /// Did not normalize: dead-lettered, or left.
    Poison,
}

struct Shared<S, H> {
    source: Arc<S>,
    handler: Arc<H>,
    opts: ConsumerOptions,
    counters: Arc<Counters>,
    dedup: Option<Dedup>,
    handlers: Semaphore,
    phase: watch::Receiver<Phase>,
    /// Set once no receive is in flight any more after shutdown: releases at shutdown wait
    /// for it (see [`release`]).
    polls_done: watch::Receiver<bool>,
    /// Receipts to delete, a batch per send.
    acks: mpsc::Sender<Vec<String>>,
}

const LOG: &str = "bridge consume:";

pub(crate) async fn run<S, H, F>(
    source: Arc<S>,
    handler: Arc<H>,
    opts: ConsumerOptions,
    shutdown: F,
) -> Metrics
where
    S: MessageSource,
    H: Handler,
    F: Future<Output = ()>,
{
    // The receive loop runs on a task, so on one of the runtime's worker threads: the tasks
    // it spawns then queue on that worker, where a spawn from the caller's thread goes
    // through the shared queue and wakes a worker, once per message.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receiving = AbortOnDrop(tokio::spawn(receive_loop(source, handler, opts, stop_rx)));
    tokio::pin!(shutdown);
    let done = tokio::select! {
        biased;
        done = &mut receiving.0 => done,
        () = &mut shutdown => {
            let _ = stop_tx.send(true);
            (&mut receiving.0).await
        }
    };
    match done {
        Ok(metrics) => metrics,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{LOG} the receive loop was cancelled: {e}"),
    }
}

/// Aborts the task when dropped: dropping [`run`]'s future stops the consumer, as it did
/// when the loop ran inside it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves once `stop` says so (never, if its sender is gone without saying).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn receive_loop<S, H>(
    source: Arc<S>,
    handler: Arc<H>,
    opts: ConsumerOptions,
    mut stop: watch::Receiver<bool>,
) -> Metrics
where
    S: MessageSource,
    H: Handler,
{
    let started = Instant::now();
    let counters = Arc::new(Counters::default());
    let batch = opts.batch_size.clamp(1, 10);
    let concurrency = opts.concurrency.max(1);
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let (polls_done_tx, polls_done_rx) = watch::channel(false);
    let (ack_tx, ack_rx) = mpsc::channel::<Vec<String>>(128);
    let deleter = tokio::spawn(delete_loop(source.clone(), ack_rx, counters.clone()));
    let progress = opts.progress_every.map(|every| {
        let counters = counters.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                eprintln!("{LOG} {}", counters.snapshot(started.elapsed()));
            }
        })
    });
    let shared = Arc::new(Shared {
        source: source.clone(),
        handler,
        dedup: opts.dedup_window.map(Dedup::new),
        handlers: Semaphore::new(concurrency),
        phase: phase_rx,
        polls_done: polls_done_rx,
        acks: ack_tx,
        counters: counters.clone(),
        opts,
    });
    let opts = &shared.opts;

    // In flight: `concurrency` being handled plus at most one prefetched batch waiting.
    let inflight = Arc::new(Semaphore::new(concurrency + batch as usize));
    let mut tasks = JoinSet::new();
    let mut received_total = 0u64;
    let mut last_message = Instant::now();
    let mut signalled = false;
    let fifo = source.is_fifo();
    // A receive interrupted by shutdown: kept, not dropped (see below).
    let mut late_poll = None;
    loop {
        let remaining = match opts.max_messages {
            Some(max) if received_total >= max => break,
            Some(max) => max - received_total,
            None => u64::MAX,
        };
        let wait = match opts.idle_exit {
            Some(idle) => {
                let left = idle.saturating_sub(last_message.elapsed());
                if left.is_zero() {
                    break;
                }
                opts.wait_secs.min(left.as_secs_f64().ceil() as u32)
            }
            None => opts.wait_secs,
        };
        let first = tokio::select! {
            p = inflight.clone().acquire_owned() => p,
            () = stopped(&mut stop) => { signalled = true; break; }
        };
        let Ok(first) = first else { break };
        let want = remaining.min(batch as u64) as usize;
        let mut permits = vec![first];
        while permits.len() < want {
            match inflight.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        // A receive that waits runs on a task of its own, so that shutdown can leave it
        // running: a long poll cannot be called back. SQS keeps serving a ReceiveMessage
        // whose caller went away, and what it then receives is invisible for a whole
        // visibility timeout — including messages this consumer releases at shutdown
        // meanwhile. One that answers at once (e.g. a local queue with messages ready) needs
        // no task: it is polled once here first.
        let mut receive = Box::pin({
            let source = source.clone();
            let (n, visibility) = (permits.len() as u32, opts.visibility_secs);
            async move { source.receive(n, wait, Some(visibility)).await }
        });
        let ready = std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
        let got = match ready {
            Poll::Ready(got) => got,
            Poll::Pending => {
                let mut poll = tokio::spawn(receive);
                tokio::select! {
                    r = &mut poll => r.unwrap_or_else(|e| Err(super::SourceError::Call {
                        operation: "ReceiveMessage",
                        queue: source.describe(),
                        message: format!("the receive task failed: {e}"),
                    })),
                    () = stopped(&mut stop) => {
                        signalled = true;
                        late_poll = Some((poll, wait));
                        break;
                    }
                }
            }
        };
        while tasks.try_join_next().is_some() {}
        let messages = match got {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{LOG} receive failed: {e}; retrying in 1 s");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = stopped(&mut stop) => { signalled = true; break; }
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        last_message = Instant::now();
        received_total += messages.len() as u64;
        Counters::add(&counters.received, messages.len() as u64);
        let permits: Vec<_> = permits.drain(..messages.len()).collect();
        if fifo {
            tasks.spawn(Box::pin(process_fifo_batch(
                shared.clone(),
                messages,
                permits,
            )));
        } else {
            // One task per receive batch, not per message: the loop goes back to receiving
            // while the batch is handled (on the other worker, if it is free).
            tasks.spawn(process_batch(shared.clone(), messages, permits));
        }
    }

    if signalled {
        let _ = phase_tx.send(Phase::Stopping);
        eprintln!(
            "{LOG} shutting down: waiting up to {:?} for {} running task(s)",
            opts.shutdown_grace,
            tasks.len()
        );
        // Stop polling before releasing anything: releases wait for `polls_done`, and what
        // the interrupted receive still returns is released too. Released means visible.
        match late_poll {
            Some((poll, wait)) => {
                tasks.spawn(finish_late_poll(shared.clone(), poll, wait, polls_done_tx));
            }
            None => {
                let _ = polls_done_tx.send(true);
            }
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(opts.shutdown_grace, drain)
            .await
            .is_err()
        {
            let _ = phase_tx.send(Phase::Abort);
            while tasks.join_next().await.is_some() {}
        }
    } else {
        while tasks.join_next().await.is_some() {}
    }
    // Every task is done: dropping the last sender lets the deleter flush and finish.
    drop(shared);
    if let Err(e) = deleter.await {
        eprintln!("{LOG} the delete task failed: {e}");
    }
    if let Some(p) = progress {
        p.abort();
    }
    counters.snapshot(started.elapsed())
}

/// Waits for the receive that was in flight at shutdown (at most its long-poll wait plus a
/// margin), releases whatever it returned, then lets the other releases go.
async fn finish_late_poll<S: MessageSource, H: Handler>(
    shared: Arc<Shared<S, H>>,
    mut poll: tokio::task::JoinHandle<Result<Vec<Message>, super::SourceError>>,
    wait_secs: u32,
    polls_done: watch::Sender<bool>,
) {
    let limit = Duration::from_secs(u64::from(wait_secs) + 10);
    eprintln!(
        "{LOG} waiting up to {}s for the receive in flight, so that it cannot take back released messages",
        wait_secs
    );
    let late = match tokio::time::timeout(limit, &mut poll).await {
        Ok(Ok(Ok(messages))) => messages,
        Ok(Ok(Err(e))) => {
            eprintln!("{LOG} the receive in flight at shutdown failed: {e}");
            Vec::new()
        }
        Ok(Err(e)) => {
            eprintln!("{LOG} the receive in flight at shutdown failed: {e}");
            Vec::new()
        }
        Err(_) => {
            poll.abort();
            eprintln!(
                "{LOG} the receive in flight at shutdown did not end within {limit:?}; what it receives returns after its visibility timeout"
            );
            Vec::new()
        }
    };
    let _ = polls_done.send(true);
    if !late.is_empty() {
        Counters::add(&shared.counters.received, late.len() as u64);
    }
    for message in &late {
        release(&shared, message).await;
    }
}

/// A receive batch of a standard queue, on one task. Each message's work is polled once
/// here first: one whose handler finishes at once needs no task of its own (no task cell,
/// no JoinSet entry), and its receipt joins the batch's one send to the deleter. Only work
/// still pending gets a task; that task polls it again, so every waker it waits on is
/// re-registered for it (one left registered for this task only wakes it for nothing).
/// The batch's task ends when all of its messages are done.
async fn process_batch<S: MessageSource, H: Handler>(
    shared: Arc<Shared<S, H>>,
    messages: Vec<Message>,
    permits: Vec<OwnedSemaphorePermit>,
) {
    let mut acked = Vec::new();
    let mut waiting = JoinSet::new();
    for (message, permit) in messages.into_iter().zip(permits) {
        // Boxed so that it can move to a task of its own after this first poll.
        let mut work = Box::pin(process_one(shared.clone(), message, permit));
        match poll_once(work.as_mut()).await {
            Poll::Ready(Some(receipt)) => acked.push(receipt),
            Poll::Ready(None) => {}
            Poll::Pending => {
                let shared = shared.clone();
                waiting.spawn(async move {
                    if let Some(receipt) = work.await {
                        ack(&shared, vec![receipt]).await;
                    }
                });
            }
        }
    }
    if !acked.is_empty() {
        ack(&shared, acked).await;
    }
    while waiting.join_next().await.is_some() {}
}

/// Polls `work` once in the caller's task. A panic in it (a handler that panics) ends it
/// as it would end its own task: the panic is reported by the hook, the message is left
/// for redelivery (not deleted), and the receive loop goes on.
async fn poll_once<T>(
    mut work: std::pin::Pin<&mut (impl Future<Output = Option<T>> + ?Sized)>,
) -> Poll<Option<T>> {
    std::future::poll_fn(|cx| {
        let polled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.as_mut().poll(cx)));
        Poll::Ready(polled.unwrap_or(Poll::Ready(None)))
    })
    .await
}

/// Queues handled messages' receipts for deletion.
async fn ack<S: MessageSource, H: Handler>(shared: &Shared<S, H>, receipts: Vec<String>) {
    let n = receipts.len();
    if shared.acks.send(receipts).await.is_err() {
        eprintln!(
            "{LOG} {n} message(s) handled but the delete queue is closed; they will be redelivered"
        );
    }
}

/// One message (standard queues): its receipt, to be deleted, if it was acked. The permit
/// is held until then (its work is done once the receipt is returned).
async fn process_one<S: MessageSource, H: Handler>(
    shared: Arc<Shared<S, H>>,
    message: Message,
    _permit: OwnedSemaphorePermit,
) -> Option<String> {
    // `biased`: a message handled at once never starts its heartbeat (no timer is armed).
    let outcome = tokio::select! {
        biased;
        o = process(&shared, &message) => o,
        () = heartbeat(&shared, || vec![message.receipt.clone()]) => return None,
    };
    (outcome == Outcome::Acked).then_some(message.receipt)
}

/// A FIFO batch, in order, on one task. After a message of a group is not acked, the rest
/// of that group in this batch is released unhandled so that nothing overtakes it.
async fn process_fifo_batch<S: MessageSource, H: Handler>(
    shared: Arc<Shared<S, H>>,
    messages: Vec<Message>,
    permits: Vec<OwnedSemaphorePermit>,
) {
    let pending: Mutex<Vec<String>> =
        Mutex::new(messages.iter().map(|m| m.receipt.clone()).collect());
    let work = async {
        let mut blocked: HashSet<Option<String>> = HashSet::new();
        for (message, permit) in messages.iter().zip(permits) {
            let outcome = if blocked.contains(&message.group_id) {
                release(&shared, message).await;
                Outcome::Released
            } else {
                process(&shared, message).await
            };
            if outcome == Outcome::Acked {
                ack(&shared, vec![message.receipt.clone()]).await;
            } else {
                blocked.insert(message.group_id.clone());
            }
            lock(&pending).retain(|r| r != &message.receipt);
            drop(permit);
        }
    };
    tokio::select! {
        biased;
        () = work => {}
        () = heartbeat(&shared, || lock(&pending).clone()) => {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Normalize, filter, de-duplicate, handle, then leave / release; an acked message is
/// queued for deletion by the caller.
async fn process<S: MessageSource, H: Handler>(
    shared: &Shared<S, H>,
    message: &Message,
) -> Outcome {
    let opts = &shared.opts;
    let counters = &shared.counters;
    let events = match (opts.normalize)(&message.body) {
        Ok(events) => events,
        Err(why) => {
            poison(shared, message, &why.to_string()).await;
            return Outcome::Poison;
        }
    };
    let todo: Vec<Event> = match &opts.pattern {
        None => events,
        Some(pattern) => events
            .into_iter()
            .filter(|event| {
                let wanted = pattern.matches_value(&event.handler_json());
                if !wanted {
                    Counters::add(&counters.filtered, 1);
                }
                wanted
            })
            .collect(),
    };
    let outcome = if todo.is_empty() {
        Outcome::Acked
    } else {
        // `biased`: handlers that finish at once never wait on the phase.
        tokio::select! {
            biased;
            o = handle_all(shared, message, todo) => o,
            () = wait_phase(&shared.phase, Phase::Abort) => Outcome::Released,
        }
    };
    match outcome {
        Outcome::Acked => {}
        Outcome::Released => release(shared, message).await,
        Outcome::Failed => Counters::add(&counters.failed, 1),
        Outcome::Poison => {}
    }
    outcome
}

/// Waits for a handler slot (unless stopping), then handles every event in order.
async fn handle_all<S: MessageSource, H: Handler>(
    shared: &Shared<S, H>,
    message: &Message,
    events: Vec<Event>,
) -> Outcome {
    let free = match *shared.phase.borrow() < Phase::Stopping {
        true => shared.handlers.try_acquire().ok(),
        false => None,
    };
    let permit = match free {
        Some(permit) => Some(permit),
        None => tokio::select! {
            p = shared.handlers.acquire() => p.ok(),
            () = wait_phase(&shared.phase, Phase::Stopping) => None,
        },
    };
    let Some(_permit) = permit else {
        return Outcome::Released;
    };
    let mut events = events.into_iter();
    loop {
        // The event is bound only inside this block, which hands it to the handler: it
        // takes no room of its own in this future's state across the await below.
        let (id, handling) = {
            let Some(event) = events.next() else { break };
            // Checked only now, with a handler slot held, so that a copy handled just
            // before (e.g. the previous message with one handler) is seen. Copies handled
            // at the same moment on different slots can both run: de-duplication is best
            // effort.
            let mut id = None;
            if let (Some(dedup), Some(event_id)) = (&shared.dedup, event_id(&event)) {
                if dedup.seen(event_id) {
                    Counters::add(&shared.counters.duplicates, 1);
                    continue;
                }
                id = Some(event_id.to_owned());
            }
            // The handler takes the event: no copy is made for it.
            (id, shared.handler.handle_owned(event))
        };
        let result = tokio::time::timeout(shared.opts.handler_timeout, handling).await;
        let error = match result {
            Ok(Ok(())) => {
                Counters::add(&shared.counters.events, 1);
                if let (Some(dedup), Some(id)) = (&shared.dedup, id) {
                    dedup.record(&id);
                }
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("timed out after {:?}", shared.opts.handler_timeout),
        };
        eprintln!(
            "{LOG} message {} (receive {}) failed: {error}; left for redelivery",
            message.id, message.receive_count
        );
        return Outcome::Failed;
    }
    Outcome::Acked
}

/// A body that does not normalize: dead-letter it, or leave it — never delete it.
async fn poison<S: MessageSource, H: Handler>(shared: &Shared<S, H>, message: &Message, why: &str) {
    let counters = &shared.counters;
    if shared.opts.on_unparseable == OnUnparseable::Leave {
        Counters::add(&counters.unparseable_left, 1);
        eprintln!(
            "{LOG} message {} does not normalize ({why}); left for redelivery",
            message.id
        );
        return;
    }
    let reason = format!("does not normalize: {why}");
    match shared.source.dead_letter(message, &reason).await {
        Ok(()) => {
            Counters::add(&counters.dead_lettered, 1);
            eprintln!(
                "{LOG} message {} does not normalize ({why}); moved to the dead-letter queue",
                message.id
            );
        }
        Err(e) => {
            Counters::add(&counters.unparseable_left, 1);
            eprintln!(
                "{LOG} message {} does not normalize ({why}) and was not dead-lettered: {e}; left for redelivery",
                message.id
            );
        }
    }
}

/// Makes an unfinished message receivable again at once. At shutdown, only once no receive
/// is in flight: one would take the message straight back (and hide it for a visibility
/// timeout), since SQS serves a long poll to its end even when its caller has gone.
async fn release<S: MessageSource, H: Handler>(shared: &Shared<S, H>, message: &Message) {
    if *shared.phase.borrow() >= Phase::Stopping {
        let mut done = shared.polls_done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
    match shared.source.change_visibility(&message.receipt, 0).await {
        Ok(()) => Counters::add(&shared.counters.released, 1),
        Err(e) => eprintln!(
            "{LOG} could not release message {} ({e}); it returns after its visibility timeout",
            message.id
        ),
    }
}

/// Extends the visibility of every receipt `pending` gives every `visibility / 2`, forever
/// (the caller stops it by finishing first). A no-op future when heartbeats are off.
async fn heartbeat<S: MessageSource, H: Handler>(
    shared: &Shared<S, H>,
    pending: impl Fn() -> Vec<String>,
) {
    let visibility = shared.opts.visibility_secs;
    if !shared.opts.heartbeat || visibility == 0 {
        return std::future::pending().await;
    }
    let every = Duration::from_millis(u64::from(visibility) * 500);
    loop {
        tokio::time::sleep(every).await;
        for receipt in pending() {
            // Boxed: only a long handler gets here, and every message carries this state.
            match Box::pin(shared.source.change_visibility(&receipt, visibility)).await {
                Ok(()) => Counters::add(&shared.counters.heartbeats, 1),
                Err(e) => eprintln!("{LOG} heartbeat failed: {e}"),
            }
        }
    }
}

async fn wait_phase(phase: &watch::Receiver<Phase>, at_least: Phase) {
    let mut rx = phase.clone();
    if rx.wait_for(|p| *p >= at_least).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The de-duplication id; pass-through events without an `id` have none.
fn event_id(event: &Event) -> Option<&str> {
    Some(event.id.as_str()).filter(|id| !id.is_empty())
}

/// Deletes acked messages in batches of up to 10: whatever has queued up since the last
/// call goes in the next one, so batches grow with load and latency stays low when idle.
async fn delete_loop<S: MessageSource>(
    source: Arc<S>,
    mut acks: mpsc::Receiver<Vec<String>>,
    counters: Arc<Counters>,
) {
    while let Some(mut queued) = acks.recv().await {
        while queued.len() < 10 {
            match acks.try_recv() {
                Ok(more) => queued.extend(more),
                Err(_) => break,
            }
        }
        for batch in queued.chunks(10) {
            delete(&*source, batch, &counters).await;
        }
    }
}

/// One DeleteMessageBatch (up to 10 receipts), counted.
async fn delete<S: MessageSource>(source: &S, batch: &[String], counters: &Counters) {
    match source.delete_batch(batch).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(()) => Counters::add(&counters.handled, 1),
                    Err(e) => {
                        Counters::add(&counters.delete_errors, 1);
                        eprintln!("{LOG} delete failed ({e}); the message will be redelivered");
                    }
                }
            }
        }
        Err(e) => {
            Counters::add(&counters.delete_errors, batch.len() as u64);
            eprintln!(
                "{LOG} delete of {} message(s) failed ({e}); they will be redelivered",
                batch.len()
            );
        }
    }
}
