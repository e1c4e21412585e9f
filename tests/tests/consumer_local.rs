//! The consumer runtime against the embedded local backend: real SQS semantics (visibility,
//! receive counts, redrive) without a server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge::consumer::{
    handler_fn, normalized_strict, Consumer, ConsumerOptions, HandlerError, LocalSource, Metrics,
    OnUnparseable, DEAD_LETTER_REASON_ATTRIBUTE,
};
use bridge::event::Event;
use infra::local::{QueueSpec, ReceiveRequest, Redrive, SendRequest, Store};
use serde_json::json;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Mutex<Store>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open local store");
        Fixture {
            _dir: dir,
            store: Arc::new(Mutex::new(store)),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("store lock")
    }

    fn queue(&self, name: &str, redrive: Option<(&str, u32)>) {
        let mut spec = QueueSpec::new(name);
        if let Some((dlq, max)) = redrive {
            self.store()
                .put_queue(&QueueSpec::new(dlq))
                .expect("create DLQ");
            spec.redrive = Some(Redrive {
                dead_letter_target_arn: self.store().queue_arn(dlq),
                max_receive_count: max,
            });
        }
        self.store().put_queue(&spec).expect("create queue");
    }

    fn send(&self, queue: &str, body: &str) {
        self.store()
            .send_message(queue, &SendRequest::body(body))
            .expect("send");
    }

    fn source(&self, queue: &str) -> LocalSource {
        LocalSource::shared(self.store.clone(), queue).expect("local source")
    }

    fn drain(&self, queue: &str) -> Vec<infra::local::ReceivedMessage> {
        self.store()
            .receive_messages(queue, ReceiveRequest::default())
            .expect("receive")
    }
}

/// A custom EventBridge event, as a rule target puts it on a queue.
fn event(id: &str, source: &str, n: u64) -> String {
    json!({
        "version": "0", "id": id, "detail-type": "test", "source": source,
        "account": "000000000000", "time": "2026-11-23T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": { "n": n }
    })
    .to_string()
}

fn n_of(event: &Event) -> u64 {
    event.custom.as_ref().expect("a custom event").detail["n"]
        .as_u64()
        .expect("detail.n")
}

fn fast_options() -> ConsumerOptions {
    ConsumerOptions {
        wait_secs: 1,
        visibility_secs: 1,
        idle_exit: Some(Duration::from_secs(3)),
        ..ConsumerOptions::default()
    }
}

async fn never() {
    std::future::pending::<()>().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_n_times_gets_n_plus_one_deliveries_and_nothing_is_lost() {
    let fx = Fixture::new();
    fx.queue("work", None);
    for n in 0..20 {
        fx.send("work", &event(&format!("id-{n}"), "test", n));
    }
    let calls: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let seen = calls.clone();
    let handler = handler_fn(move |event: Event| {
        let calls = seen.clone();
        async move {
            let n = n_of(&event);
            let mut calls = calls.lock().expect("lock");
            let count = calls.entry(n).or_default();
            *count += 1;
            if *count <= 2 {
                Err(HandlerError::new(format!(
                    "attempt {count} fails on purpose"
                )))
            } else {
                Ok(())
            }
        }
    });
    let options = ConsumerOptions {
        max_messages: Some(60),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("work"), options)
        .run(handler, never())
        .await;
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 20, "every event delivered: {calls:?}");
    assert!(calls.values().all(|&c| c == 3), "{calls:?}");
    assert_eq!(metrics.received, 60, "{metrics}");
    assert_eq!(metrics.failed, 40, "{metrics}");
    assert_eq!(metrics.handled, 20, "{metrics}");
    assert!(fx.drain("work").is_empty(), "handled messages are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_normalize_goes_to_the_dlq_with_the_reason() {
    let fx = Fixture::new();
    fx.queue("in", Some(("in-dlq", 5)));
    fx.send("in", "this is not json");
    fx.send("in", &event("good", "test", 1));
    let handled = Arc::new(AtomicU32::new(0));
    let h = handled.clone();
    let handler = handler_fn(move |_| {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let options = ConsumerOptions {
        max_messages: Some(2),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("in"), options)
        .run(handler, never())
        .await;
    assert_eq!(metrics.dead_lettered, 1, "{metrics}");
    assert_eq!(metrics.handled, 1, "{metrics}");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    let dead = fx.drain("in-dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "this is not json");
    let reason = &dead[0].message_attributes[DEAD_LETTER_REASON_ATTRIBUTE].string_value;
    assert!(reason.contains("not JSON"), "{reason}");
    assert!(fx.drain("in").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_without_a_dlq_or_with_leave_is_never_deleted() {
    for (queue, on_unparseable) in [
        ("no-dlq", OnUnparseable::DeadLetter),
        ("leave", OnUnparseable::Leave),
    ] {
        let fx = Fixture::new();
        let redrive = (on_unparseable == OnUnparseable::Leave).then_some(("leave-dlq", 10));
        fx.queue(queue, redrive);
        fx.send(queue, "{ broken");
        let options = ConsumerOptions {
            max_messages: Some(1),
            on_unparseable,
            ..fast_options()
        };
        let metrics = Consumer::new(fx.source(queue), options)
            .run(handler_fn(|_| async { Ok(()) }), never())
            .await;
        assert_eq!(metrics.unparseable_left, 1, "{queue}: {metrics}");
        assert_eq!(metrics.dead_lettered, 0, "{queue}: {metrics}");
        std::thread::sleep(Duration::from_millis(1100));
        let again = fx.drain(queue);
        assert_eq!(again.len(), 1, "{queue}: the poison message is still there");
        assert_eq!(again[0].receive_count(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_is_moved_by_the_redrive_policy() {
    let fx = Fixture::new();
    fx.queue("flaky", Some(("flaky-dlq", 2)));
    fx.send("flaky", &event("x", "test", 7));
    let options = ConsumerOptions {
        max_messages: Some(2),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("flaky"), options)
        .run(
            handler_fn(|_| async { Err(HandlerError::new("always")) }),
            never(),
        )
        .await;
    assert_eq!(metrics.failed, 2, "{metrics}");
    std::thread::sleep(Duration::from_millis(1100));
    // The third receive finds maxReceiveCount reached and moves it, as SQS does.
    assert!(fx.drain("flaky").is_empty());
    assert_eq!(fx.drain("flaky-dlq").len(), 1);
}

/// One message, a handler three times longer than the visibility timeout, and room to
/// handle a second copy: only the heartbeat keeps the message from being delivered twice.
async fn long_handler_calls(heartbeat: bool) -> (u32, Metrics) {
    let fx = Fixture::new();
    fx.queue("slow", None);
    fx.send("slow", &event("slow-1", "test", 1));
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = handler_fn(move |_| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(3200)).await;
            Ok(())
        }
    });
    let options = ConsumerOptions {
        concurrency: 2,
        heartbeat,
        // Without the heartbeat, every redelivery supersedes the previous receipt: stop
        // receiving after the second copy so that one can finish and be deleted.
        max_messages: Some(2),
        idle_exit: Some(Duration::from_secs(5)),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("slow"), options)
        .run(handler, never())
        .await;
    (calls.load(Ordering::SeqCst), metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_long_handlers_message_invisible() {
    let (calls, metrics) = long_handler_calls(true).await;
    assert_eq!(calls, 1, "{metrics}");
    assert_eq!(metrics.received, 1, "{metrics}");
    assert_eq!(metrics.handled, 1, "{metrics}");
    assert!(metrics.heartbeats >= 3, "{metrics}");
    // Control: without the heartbeat the same run delivers the message again.
    let (calls, metrics) = long_handler_calls(false).await;
    assert!(calls >= 2, "without heartbeat: {calls} call(s), {metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_unfinished_messages_at_once() {
    let fx = Fixture::new();
    fx.queue("stop", None);
    fx.send("stop", &event("s-1", "test", 1));
    fx.send("stop", &event("s-2", "test", 2));
    let handler = handler_fn(|event: Event| async move {
        if n_of(&event) == 1 {
            Ok(())
        } else {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
    });
    let options = ConsumerOptions {
        visibility_secs: 60,
        shutdown_grace: Duration::from_millis(300),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("stop"), options)
        .run(handler, tokio::time::sleep(Duration::from_millis(800)))
        .await;
    assert_eq!(metrics.handled, 1, "{metrics}");
    assert_eq!(metrics.released, 1, "{metrics}");
    // Visible again immediately, not after the 60 s visibility timeout.
    let again = fx.drain("stop");
    assert_eq!(again.len(), 1);
    assert!(again[0].body.contains("\"n\":2"));
    assert_eq!(again[0].receive_count(), 2);
}

/// The runtime polls each message's handler once in its receive loop and gives it a task
/// only if it is still pending: handlers that finish at once, that are pending first, that
/// fail after waiting, and that panic at once share one batch. A handler waiting on its
/// first poll keeps its message (invisible, by heartbeat) until it succeeds; a failure or
/// a panic leaves its message for redelivery and the consumer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_pending_at_first_poll_are_deleted_only_after_success() {
    let fx = Fixture::new();
    fx.queue("mixed", None);
    for n in 0..10 {
        fx.send("mixed", &event(&format!("p-{n}"), "test", n));
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let calls: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let (g, seen) = (gate.clone(), calls.clone());
    let handler = handler_fn(move |event: Event| {
        let (gate, calls) = (g.clone(), seen.clone());
        async move {
            let n = n_of(&event);
            let attempt = {
                let mut calls = calls.lock().expect("lock");
                let count = calls.entry(n).or_default();
                *count += 1;
                *count
            };
            match (n, attempt) {
                // Pending at its first poll, until the test opens the gate.
                (0, _) => drop(gate.acquire().await.expect("gate")),
                (4, 1) => panic!("message 4 panics on purpose at its first delivery"),
                (5, 1) => {
                    tokio::task::yield_now().await;
                    return Err(HandlerError::new("message 5 fails after a wait"));
                }
                (n, _) if n % 3 == 0 => tokio::task::yield_now().await,
                _ => {}
            }
            Ok(())
        }
    });
    let options = ConsumerOptions {
        max_messages: Some(12),
        idle_exit: Some(Duration::from_secs(3)),
        ..fast_options()
    };
    let consumer = tokio::spawn(Consumer::new(fx.source("mixed"), options).run(handler, never()));
    // Every other message is handled and deleted (4 and 5 after a redelivery) while message 0's
    // handler still waits: its message is still there, kept invisible by the heartbeat.
    let mut left = None;
    for _ in 0..500 {
        let counts = fx.store().queue_counts("mixed").expect("counts");
        left = Some(counts);
        if counts.visible + counts.in_flight + counts.delayed <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = left.expect("counted");
    assert_eq!((counts.visible, counts.in_flight), (0, 1), "{counts:?}");
    assert_eq!(calls.lock().expect("lock").get(&0), Some(&1));
    gate.add_permits(1);
    let metrics = consumer.await.expect("the consumer runs to its end");
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 10, "{calls:?}");
    for (n, count) in calls {
        let expected = if n == 4 || n == 5 { 2 } else { 1 };
        assert_eq!(count, expected, "message {n}: {metrics}");
    }
    assert_eq!(metrics.received, 12, "{metrics}");
    assert_eq!(metrics.handled, 10, "{metrics}");
    assert_eq!(metrics.failed, 1, "{metrics}");
    assert!(metrics.heartbeats >= 1, "{metrics}");
    assert!(fx.drain("mixed").is_empty(), "handled messages are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_matching_events_are_acknowledged_and_counted() {
    let fx = Fixture::new();
    fx.queue("mixed", None);
    for n in 0..5 {
        let source = if n % 2 == 0 { "keep" } else { "drop" };
        fx.send("mixed", &event(&format!("m-{n}"), source, n));
    }
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s = seen.clone();
    let handler = handler_fn(move |event: Event| {
        let s = s.clone();
        async move {
            s.lock().expect("lock").push(n_of(&event));
            Ok(())
        }
    });
    let pattern = patterns::Pattern::parse(r#"{"custom": {"source": ["keep"]}}"#).expect("pattern");
    let options = ConsumerOptions {
        pattern: Some(pattern),
        max_messages: Some(5),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("mixed"), options)
        .run(handler, never())
        .await;
    let mut seen = seen.lock().expect("lock").clone();
    seen.sort();
    assert_eq!(seen, vec![0, 2, 4]);
    assert_eq!(metrics.filtered_events, 2, "{metrics}");
    assert_eq!(metrics.handled, 5, "{metrics}");
    assert!(fx.drain("mixed").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dedup_window_skips_an_event_id_already_handled() {
    let fx = Fixture::new();
    fx.queue("dups", None);
    fx.send("dups", &event("same", "test", 1));
    fx.send("dups", &event("same", "test", 1));
    fx.send("dups", &event("other", "test", 2));
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = handler_fn(move |_| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let options = ConsumerOptions {
        concurrency: 1,
        batch_size: 1,
        dedup_window: Some(Duration::from_secs(60)),
        max_messages: Some(3),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("dups"), options)
        .run(handler, never())
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "{metrics}");
    assert_eq!(metrics.duplicate_events, 1, "{metrics}");
    assert_eq!(metrics.handled, 3, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_no_aws_shape_is_handled_and_dead_lettered_only_when_strict() {
    use bridge::event::Kind;
    for strict in [false, true] {
        let fx = Fixture::new();
        fx.queue("msgs", Some(("msgs-dlq", 5)));
        fx.send("msgs", r#"{"order": 42, "state": "shipped"}"#);
        fx.send(
            "msgs",
            &json!({"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "t",
                "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
                "Message": "You have chosen to subscribe.",
                "SubscribeURL": "http://127.0.0.1:9/never-visited"})
            .to_string(),
        );
        let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
        let s = seen.clone();
        let handler = handler_fn(move |event: Event| {
            let s = s.clone();
            async move {
                s.lock().expect("lock").push(event);
                Ok(())
            }
        });
        let mut options = ConsumerOptions {
            max_messages: Some(2),
            ..fast_options()
        };
        if strict {
            options.normalize = normalized_strict();
        }
        let metrics = Consumer::new(fx.source("msgs"), options)
            .run(handler, never())
            .await;
        let mut seen = seen.lock().expect("lock").clone();
        seen.sort_by_key(|e| e.kind == Kind::SnsConfirmation);
        if strict {
            assert!(seen.is_empty(), "strict: nothing handled");
            assert_eq!(metrics.dead_lettered, 2, "{metrics}");
            let dead = fx.drain("msgs-dlq");
            assert_eq!(dead.len(), 2);
            let reason = &dead[0].message_attributes[DEAD_LETTER_REASON_ATTRIBUTE].string_value;
            assert!(reason.contains("no known message shape"), "{reason}");
        } else {
            assert_eq!(metrics.handled, 2, "{metrics}");
            assert_eq!(metrics.dead_lettered, 0, "{metrics}");
            assert_eq!(seen.len(), 2);
            assert_eq!(seen[0].kind, Kind::Message);
            let body = &seen[0].message.as_ref().expect("kept").json;
            assert_eq!(body, &json!({"order": 42, "state": "shipped"}));
            assert_eq!(seen[1].kind, Kind::SnsConfirmation);
            assert_eq!(seen[1].reason.as_deref(), Some("SubscriptionConfirmation"));
            assert!(fx.drain("msgs-dlq").is_empty());
        }
        assert!(fx.drain("msgs").is_empty(), "strict: {strict}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_message_keeps_all_its_attributes() {
    use infra::local::MessageAttribute;
    let fx = Fixture::new();
    fx.queue("attrs", Some(("attrs-dlq", 5)));
    // Two poison messages: one with two attributes, one with the ten SQS allows.
    let mut req = SendRequest::body("not json: two attributes");
    req.attributes
        .insert("tenant".into(), MessageAttribute::string("acme"));
    req.attributes.insert(
        "count".into(),
        MessageAttribute {
            data_type: "Number".into(),
            string_value: "3".into(),
        },
    );
    fx.store().send_message("attrs", &req).expect("send");
    let mut full = SendRequest::body("not json: ten attributes");
    for i in 0..10 {
        full.attributes
            .insert(format!("a{i}"), MessageAttribute::string(i.to_string()));
    }
    fx.store().send_message("attrs", &full).expect("send");
    let options = ConsumerOptions {
        max_messages: Some(2),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("attrs"), options)
        .run(handler_fn(|_| async { Ok(()) }), never())
        .await;
    assert_eq!(metrics.dead_lettered, 2, "{metrics}");
    let mut dead = fx.drain("attrs-dlq");
    dead.sort_by(|a, b| a.body.cmp(&b.body));
    assert_eq!(dead[0].body, "not json: ten attributes");
    assert_eq!(dead[1].body, "not json: two attributes");
    let two = &dead[1].message_attributes;
    assert_eq!(two["tenant"], MessageAttribute::string("acme"));
    assert_eq!(two["count"].data_type, "Number");
    assert_eq!(two["count"].string_value, "3");
    assert!(two[DEAD_LETTER_REASON_ATTRIBUTE]
        .string_value
        .contains("not JSON"));
    assert_eq!(two.len(), 3);
    // Ten is SQS's maximum: the user's attributes are kept, the reason is only logged.
    let ten = &dead[0].message_attributes;
    assert_eq!(ten.len(), 10);
    assert_eq!(ten["a7"], MessageAttribute::string("7"));
    assert!(!ten.contains_key(DEAD_LETTER_REASON_ATTRIBUTE));
    assert!(fx.drain("attrs").is_empty());
}

/// Runs `--exec` with a command whose background child writes `marker` 2 s later, ended by
/// `exec_timeout` or by shutdown after `stop_after`; then gives that child time to write.
async fn exec_child_survives(exec_timeout: Duration, stop_after: Duration) -> (bool, Metrics) {
    let fx = Fixture::new();
    fx.queue("exec", None);
    fx.send("exec", &event("e-1", "test", 1));
    let marker = fx._dir.path().join("child-was-here");
    let handler = bridge::consumer::Exec {
        command: format!("(sleep 2; touch '{}') & sleep 30", marker.display()),
        timeout: exec_timeout,
    };
    // No max_messages: reaching it would wait for running handlers and ignore shutdown.
    // After a timeout, the message is invisible for 60 s and the idle exit ends the run.
    let options = ConsumerOptions {
        visibility_secs: 60,
        shutdown_grace: Duration::from_millis(200),
        ..fast_options()
    };
    let metrics = Consumer::new(fx.source("exec"), options)
        .run(handler, tokio::time::sleep(stop_after))
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    (marker.exists(), metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_handler_is_killed_with_its_whole_process_group() {
    // The handler times out: its background child goes with it.
    let (survived, metrics) =
        exec_child_survives(Duration::from_millis(500), Duration::from_secs(600)).await;
    assert_eq!(metrics.failed, 1, "{metrics}");
    assert!(!survived, "the handler's child outlived its timeout");
    // Shutdown abandons the running handler after the grace period: same.
    let (survived, metrics) =
        exec_child_survives(Duration::from_secs(60), Duration::from_millis(500)).await;
    assert_eq!(metrics.released, 1, "{metrics}");
    assert!(!survived, "the handler's child outlived the shutdown");
}

/// A queue that serves receives the way SQS does: a long poll goes on server-side after its
/// caller has dropped it, and what it takes stays invisible for the visibility timeout.
#[derive(Default)]
struct SqsLike {
    messages: Mutex<Vec<FakeMessage>>,
    next_receipt: AtomicU32,
}

struct FakeMessage {
    id: String,
    body: String,
    receipt: String,
    visible_at: std::time::Instant,
    receives: u32,
}

impl SqsLike {
    fn push(&self, n: u64) {
        self.messages.lock().expect("lock").push(FakeMessage {
            id: format!("m-{n}"),
            body: event(&format!("ev-{n}"), "test", n),
            receipt: String::new(),
            visible_at: std::time::Instant::now(),
            receives: 0,
        });
    }

    fn visible(&self) -> usize {
        let now = std::time::Instant::now();
        let messages = self.messages.lock().expect("lock");
        messages.iter().filter(|m| m.visible_at <= now).count()
    }

    fn take(&self, max: u32, visibility: u32) -> Vec<bridge::consumer::Message> {
        let now = std::time::Instant::now();
        let mut messages = self.messages.lock().expect("lock");
        let mut out = Vec::new();
        for m in messages.iter_mut().filter(|m| m.visible_at <= now) {
            if out.len() as u32 >= max {
                break;
            }
            m.receives += 1;
            m.receipt = format!("r-{}", self.next_receipt.fetch_add(1, Ordering::SeqCst));
            m.visible_at = now + Duration::from_secs(u64::from(visibility));
            out.push(bridge::consumer::Message {
                id: m.id.clone(),
                receipt: m.receipt.clone(),
                body: m.body.clone(),
                receive_count: m.receives,
                group_id: None,
                attributes: Default::default(),
            });
        }
        out
    }
}

struct SqsLikeSource(Arc<SqsLike>);

impl bridge::consumer::MessageSource for SqsLikeSource {
    async fn receive(
        &self,
        max: u32,
        wait_secs: u32,
        visibility_secs: Option<u32>,
    ) -> Result<Vec<bridge::consumer::Message>, bridge::consumer::SourceError> {
        let queue = self.0.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The "server": not cancelled when the caller drops the returned future.
        tokio::spawn(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(u64::from(wait_secs));
            loop {
                let got = queue.take(max, visibility_secs.unwrap_or(30));
                if !got.is_empty() || std::time::Instant::now() >= deadline {
                    let _ = tx.send(got);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Ok(rx.await.unwrap_or_default())
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), bridge::consumer::SourceError>>, bridge::consumer::SourceError> {
        let mut messages = self.0.messages.lock().expect("lock");
        messages.retain(|m| !receipts.contains(&m.receipt));
        Ok(receipts.iter().map(|_| Ok(())).collect())
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        secs: u32,
    ) -> Result<(), bridge::consumer::SourceError> {
        let mut messages = self.0.messages.lock().expect("lock");
        if let Some(m) = messages.iter_mut().find(|m| m.receipt == receipt) {
            m.visible_at = std::time::Instant::now() + Duration::from_secs(u64::from(secs));
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        _message: &bridge::consumer::Message,
        why: &str,
    ) -> Result<(), bridge::consumer::SourceError> {
        Err(bridge::consumer::SourceError::NoDeadLetterQueue {
            queue: "sqs-like".into(),
            why: why.into(),
        })
    }

    fn is_fifo(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        "sqs-like".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_at_shutdown_means_visible_even_with_a_long_poll_in_flight() {
    let queue = Arc::new(SqsLike::default());
    for n in 0..6 {
        queue.push(n);
    }
    let handler = handler_fn(|_| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    });
    let options = ConsumerOptions {
        concurrency: 2,
        batch_size: 10,
        wait_secs: 2,
        visibility_secs: 60,
        heartbeat: false,
        idle_exit: None,
        shutdown_grace: Duration::from_millis(200),
        ..ConsumerOptions::default()
    };
    // SIGTERM while the second receive long-polls; a 7th message arrives just then, which
    // that receive takes and the consumer must release too.
    let late = queue.clone();
    let shutdown = async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        late.push(6);
    };
    let metrics = Consumer::new(SqsLikeSource(queue.clone()), options)
        .run(handler, shutdown)
        .await;
    // Any receive still going on server-side has ended by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(metrics.released, 7, "{metrics}");
    assert_eq!(
        queue.visible(),
        7,
        "released messages are visible: {metrics}"
    );
}

/// A loopback server that answers every connection with `reply` (after reading the request
/// head and body) and hands each request it read to the test.
async fn serve(reply: &'static str) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head, then the body its Content-Length announces.
                loop {
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&request).to_string());
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), rx)
}

fn one_event() -> Event {
    bridge::event::normalize_with(&event("h-1", "test", 7), bridge::event::Strictness::Lenient)
        .expect("normalizes")
        .remove(0)
}

async fn post_to(url: &str) -> Result<(), HandlerError> {
    use bridge::consumer::Handler;
    let http = bridge::consumer::Http::new(url, Duration::from_secs(5))?;
    http.handle(&one_event()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_handler_acks_only_a_real_2xx_response() {
    let (url, mut requests) =
        serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
    let with_user = url.replacen("http://", "http://hook:s3cret@", 1);
    post_to(&format!("{with_user}/events?x=1"))
        .await
        .expect("a 200 acks");
    let request = requests.recv().await.expect("the server saw the request");
    assert!(
        request.starts_with("POST /events?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/json"),
        "{request}"
    );
    // base64("hook:s3cret")
    assert!(
        lower.contains(
            "authorization: basic aG9vazpzM2NyZXQ="
                .to_ascii_lowercase()
                .as_str()
        ),
        "{request}"
    );
    assert!(
        request.contains("\"n\":7"),
        "the event is the body: {request}"
    );

    // Not HTTP at all, though its second word looks like a status.
    let (banner, _r) = serve("SSH-2.0 200 OpenSSH_9.6\r\n").await;
    let err = post_to(&banner)
        .await
        .expect_err("a non-HTTP banner must not ack");
    assert!(err.to_string().contains("failed"), "{err}");

    let (failing, _r) =
        serve("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n").await;
    let err = post_to(&failing).await.expect_err("a 500 does not ack");
    assert!(err.to_string().contains("500"), "{err}");

    let (redirect, _r) =
        serve("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n")
            .await;
    let err = post_to(&redirect)
        .await
        .expect_err("a redirect does not ack");
    assert!(
        err.to_string().contains("redirects are not followed"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_handler_takes_https_and_never_shows_a_password() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    for scheme in ["http", "https"] {
        let url = format!("{scheme}://alice:hunter2@127.0.0.1:{port}/hook");
        let err = post_to(&url).await.expect_err("nothing listens there");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("only http"), "{scheme} is accepted: {text}");
        if let Ok(http) = bridge::consumer::Http::new(&url, Duration::from_secs(1)) {
            assert!(!format!("{http:?}").contains("hunter2"));
        }
    }
    let err = bridge::consumer::Http::new("ftp://x:hunter2@host/", Duration::from_secs(1))
        .expect_err("ftp is refused");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
