//! SQS semantics of the local backend's queues, stepped with a manual clock.

use infra::local::queue::QueueCounts;
use infra::local::{
    Clock, Config, LocalError, QueueSpec, ReceiveRequest, Redrive, SendRequest, Store,
};

fn store() -> (tempfile::TempDir, Store, Clock) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(1_795_392_000_000);
    let store = Store::open_with(dir.path(), Config::default(), clock.clone()).expect("open");
    (dir, store, clock)
}

fn one(store: &mut Store, q: &str) -> Option<infra::local::ReceivedMessage> {
    let req = ReceiveRequest {
        max_messages: 1,
        ..ReceiveRequest::default()
    };
    store
        .receive_messages(q, req)
        .expect("receive")
        .into_iter()
        .next()
}

#[test]
fn visibility_timeout_hides_then_redelivers_with_new_receipt() {
    let (_d, mut s, clock) = store();
    s.put_queue(&QueueSpec::new("jobs")).expect("queue");
    let id = s
        .send_message("jobs", &SendRequest::body("hello"))
        .expect("send");

    let first = one(&mut s, "jobs").expect("first receive");
    assert_eq!(first.message_id, id);
    assert_eq!(first.body, "hello");
    assert_eq!(first.receive_count(), 1);
    assert_eq!(first.attributes["SentTimestamp"], "1795392000000");
    assert_eq!(
        first.attributes["ApproximateFirstReceiveTimestamp"],
        "1795392000000"
    );
    assert_eq!(first.md5_of_body(), "5d41402abc4b2a76b9719d911017c592");

    assert!(one(&mut s, "jobs").is_none(), "hidden while in flight");
    clock.advance_ms(29_999);
    assert!(
        one(&mut s, "jobs").is_none(),
        "still hidden just before the timeout"
    );
    clock.advance_ms(1);
    let second = one(&mut s, "jobs").expect("redelivered after 30 s");
    assert_eq!(second.message_id, id);
    assert_eq!(second.receive_count(), 2);
    assert_eq!(
        second.attributes["ApproximateFirstReceiveTimestamp"],
        "1795392000000"
    );
    assert_ne!(second.receipt_handle, first.receipt_handle);

    let stale = s.delete_message("jobs", &first.receipt_handle);
    assert!(
        matches!(stale, Err(LocalError::InvalidReceipt(_))),
        "{stale:?}"
    );
    s.delete_message("jobs", &second.receipt_handle)
        .expect("delete with newest handle");
    clock.advance_ms(60_000);
    assert!(one(&mut s, "jobs").is_none(), "deleted for good");
}

#[test]
fn change_visibility_extends_and_releases() {
    let (_d, mut s, clock) = store();
    s.put_queue(&QueueSpec::new("q")).expect("queue");
    s.send_message("q", &SendRequest::body("x")).expect("send");
    let m = one(&mut s, "q").expect("receive");
    s.change_visibility("q", &m.receipt_handle, 120)
        .expect("extend");
    clock.advance_ms(100_000);
    assert!(one(&mut s, "q").is_none(), "extended past the default 30 s");
    let m = {
        clock.advance_ms(20_000);
        one(&mut s, "q").expect("visible after 120 s")
    };
    s.change_visibility("q", &m.receipt_handle, 0)
        .expect("release");
    let again = one(&mut s, "q").expect("released at once");
    assert_eq!(again.receive_count(), 3);
    let err = s.change_visibility("q", &m.receipt_handle, 10);
    assert!(matches!(err, Err(LocalError::InvalidReceipt(_))), "{err:?}");
}

#[test]
fn redrive_moves_to_dlq_on_the_receive_that_would_exceed_max() {
    let (_d, mut s, clock) = store();
    let dlq_arn = s.put_queue(&QueueSpec::new("jobs-dlq")).expect("dlq");
    assert_eq!(dlq_arn, "arn:aws:sqs:us-east-1:000000000000:jobs-dlq");
    let spec = QueueSpec {
        redrive: Some(Redrive {
            dead_letter_target_arn: dlq_arn,
            max_receive_count: 2,
        }),
        ..QueueSpec::new("jobs")
    };
    s.put_queue(&spec).expect("queue");
    let mut attrs = std::collections::BTreeMap::new();
    attrs.insert(
        "kind".to_string(),
        infra::local::MessageAttribute::string("test"),
    );
    let id = s
        .send_message(
            "jobs",
            &SendRequest {
                attributes: attrs.clone(),
                ..SendRequest::body("poison")
            },
        )
        .expect("send");
    for n in 1..=2 {
        let m = one(&mut s, "jobs").expect("received");
        assert_eq!(m.receive_count(), n);
        clock.advance_ms(30_000);
    }
    assert!(
        one(&mut s, "jobs").is_none(),
        "third receive moves it instead"
    );
    assert_eq!(
        s.queue_counts("jobs").expect("counts"),
        QueueCounts::default()
    );
    let dead = one(&mut s, "jobs-dlq").expect("in the DLQ");
    assert_eq!(dead.message_id, id);
    assert_eq!(dead.body, "poison");
    assert_eq!(dead.receive_count(), 1);
    assert_eq!(dead.message_attributes, attrs);
    assert_eq!(dead.attributes["SentTimestamp"], "1795392000000");
}

#[test]
fn fifo_blocks_a_group_while_one_of_its_messages_is_in_flight() {
    let (_d, mut s, clock) = store();
    s.put_queue(&QueueSpec {
        content_based_dedup: true,
        ..QueueSpec::new("orders.fifo")
    })
    .expect("fifo queue");
    let send = |s: &mut Store, group: &str, body: &str| {
        s.send_message(
            "orders.fifo",
            &SendRequest {
                group_id: Some(group.into()),
                ..SendRequest::body(body)
            },
        )
        .expect("send")
    };
    send(&mut s, "a", "a1");
    send(&mut s, "a", "a2");
    send(&mut s, "b", "b1");
    let dup = send(&mut s, "a", "a1");
    let req = ReceiveRequest {
        max_messages: 1,
        ..ReceiveRequest::default()
    };

    let first = s.receive_messages("orders.fifo", req).expect("receive");
    assert_eq!(first[0].body, "a1");
    assert_eq!(
        first[0].message_id, dup,
        "duplicate within 5 minutes returns the original id"
    );
    let next = s
        .receive_messages("orders.fifo", ReceiveRequest::default())
        .expect("receive");
    let bodies: Vec<&str> = next.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["b1"],
        "group a is blocked while a1 is in flight; the duplicate was dropped"
    );
    s.delete_message("orders.fifo", &first[0].receipt_handle)
        .expect("delete a1");
    let next = s
        .receive_messages("orders.fifo", ReceiveRequest::default())
        .expect("receive");
    let bodies: Vec<&str> = next.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["a2"]);
    assert_eq!(next[0].attributes["MessageGroupId"], "a");

    clock.advance_ms(6 * 60_000);
    send(&mut s, "c", "a1");
    let missing_group = s.send_message("orders.fifo", &SendRequest::body("x"));
    assert!(
        matches!(missing_group, Err(LocalError::Invalid { .. })),
        "{missing_group:?}"
    );
}

#[test]
fn delay_retention_and_batches() {
    let (_d, mut s, clock) = store();
    s.put_queue(&QueueSpec {
        retention_secs: 60,
        ..QueueSpec::new("q")
    })
    .expect("queue");
    s.send_message(
        "q",
        &SendRequest {
            delay_secs: Some(10),
            ..SendRequest::body("late")
        },
    )
    .expect("send");
    for i in 0..12 {
        s.send_message("q", &SendRequest::body(format!("m{i}")))
            .expect("send");
    }
    let counts = s.queue_counts("q").expect("counts");
    assert_eq!((counts.visible, counts.delayed), (12, 1));
    let batch = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(batch.len(), 10, "at most 10 per receive");
    assert_eq!(batch[0].body, "m0", "oldest first");
    clock.advance_ms(10_000);
    let rest = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive");
    let bodies: Vec<&str> = rest.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["late", "m10", "m11"]);
    clock.advance_ms(60_000);
    assert!(
        one(&mut s, "q").is_none(),
        "expired after the retention period"
    );
    let too_many = s.receive_messages(
        "q",
        ReceiveRequest {
            max_messages: 11,
            ..ReceiveRequest::default()
        },
    );
    assert!(too_many.is_err());
    assert!(matches!(
        s.send_message("nope", &SendRequest::body("x")),
        Err(LocalError::NoSuchQueue(_))
    ));
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut s = Store::open(dir.path()).expect("open");
        s.put_queue(&QueueSpec::new("q")).expect("queue");
        s.send_message("q", &SendRequest::body("kept"))
            .expect("send");
    }
    let mut s = Store::open(dir.path()).expect("reopen");
    let m = one(&mut s, "q").expect("message kept across reopen");
    assert_eq!(m.body, "kept");
    assert!(dir.path().join("state.sqlite3").exists());
}

#[test]
fn store_can_move_between_threads() {
    // Consumers share one store behind a mutex across worker threads.
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

/// A deleted queue's messages go with it: a queue made again under the same name (it may
/// get the same id) starts empty, and another queue keeps its own.
#[test]
fn a_deleted_queue_takes_its_messages_along() {
    let (_d, mut s, _clock) = store();
    s.put_queue(&QueueSpec::new("keep")).expect("queue");
    s.put_queue(&QueueSpec::new("gone")).expect("queue");
    s.send_message("keep", &SendRequest::body("stays"))
        .expect("send");
    for n in 0..3 {
        s.send_message("gone", &SendRequest::body(format!("m{n}")))
            .expect("send");
    }
    assert!(one(&mut s, "gone").is_some(), "one in flight too");
    assert!(s.delete_queue("gone").expect("delete"));
    assert!(matches!(
        s.queue_counts("gone"),
        Err(LocalError::NoSuchQueue(_))
    ));
    s.put_queue(&QueueSpec::new("gone")).expect("queue again");
    assert_eq!(
        s.queue_counts("gone").expect("counts"),
        QueueCounts::default()
    );
    assert!(one(&mut s, "gone").is_none());
    assert_eq!(one(&mut s, "keep").expect("kept").body, "stays");
}

/// Each queue numbers its own messages: interleaved sends to two queues come back in each
/// queue's own order, a FIFO sequence number never repeats (not even after the newest
/// message was deleted, nor across a reopen), and a receipt handle of one queue does nothing
/// in another.
#[test]
fn each_queue_numbers_its_messages_and_never_reuses_a_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(1_795_392_000_000);
    let mut s = Store::open_with(dir.path(), Config::default(), clock.clone()).expect("open");
    s.put_queue(&QueueSpec::new("a")).expect("queue");
    s.put_queue(&QueueSpec {
        content_based_dedup: true,
        ..QueueSpec::new("b.fifo")
    })
    .expect("fifo queue");
    let send_b = |s: &mut Store, body: &str| {
        s.send_message(
            "b.fifo",
            &SendRequest {
                group_id: Some("g".into()),
                ..SendRequest::body(body)
            },
        )
        .expect("send b")
    };
    for n in 0..3 {
        s.send_message("a", &SendRequest::body(format!("a{n}")))
            .expect("send a");
        send_b(&mut s, &format!("b{n}"));
    }
    let all = ReceiveRequest::default();
    let got_a = s.receive_messages("a", all).expect("receive a");
    let bodies: Vec<&str> = got_a.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["a0", "a1", "a2"]);
    let got_b = s.receive_messages("b.fifo", all).expect("receive b");
    let bodies: Vec<&str> = got_b.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["b0", "b1", "b2"]);
    let sequence = |m: &infra::local::ReceivedMessage| -> u64 {
        m.attributes["SequenceNumber"].parse().expect("a number")
    };
    let seqs: Vec<u64> = got_b.iter().map(sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // A handle of queue b names no message of queue a.
    assert!(matches!(
        s.delete_message("a", &got_b[0].receipt_handle),
        Err(LocalError::InvalidReceipt(_))
    ));
    for m in &got_b {
        s.delete_message("b.fifo", &m.receipt_handle)
            .expect("delete b");
    }
    for m in &got_a {
        s.delete_message("a", &m.receipt_handle).expect("delete a");
    }

    // The newest was deleted: the next message still gets a new number, also after a reopen.
    send_b(&mut s, "b3");
    let next = s.receive_messages("b.fifo", all).expect("receive b3");
    assert_eq!(next[0].body, "b3");
    assert!(sequence(&next[0]) > seqs[2], "{next:?}");
    s.delete_message("b.fifo", &next[0].receipt_handle)
        .expect("delete b3");
    drop(s);
    let mut s = Store::open_with(dir.path(), Config::default(), clock).expect("reopen");
    send_b(&mut s, "b4");
    let last = s.receive_messages("b.fifo", all).expect("receive b4");
    assert_eq!(last[0].body, "b4");
    assert!(sequence(&last[0]) > sequence(&next[0]), "{last:?}");
}

/// A receive hands out the visible messages around one still in flight and leaves that one
/// as it was: its handle still works, and its receive count is not raised.
#[test]
fn a_receive_passes_over_a_message_in_flight_between_visible_ones() {
    let (_d, mut s, clock) = store();
    s.put_queue(&QueueSpec::new("q")).expect("queue");
    for n in 1..=4 {
        s.send_message("q", &SendRequest::body(format!("m{n}")))
            .expect("send");
    }
    let two = ReceiveRequest {
        max_messages: 2,
        ..ReceiveRequest::default()
    };
    let first = s.receive_messages("q", two).expect("receive two");
    assert_eq!(first[1].body, "m2");
    s.change_visibility("q", &first[0].receipt_handle, 0)
        .expect("m1 visible again");
    let rest = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive the rest");
    let got: Vec<(&str, &str)> = rest
        .iter()
        .map(|m| {
            (
                m.body.as_str(),
                m.attributes["ApproximateReceiveCount"].as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("m1", "2"), ("m3", "1"), ("m4", "1")]);
    assert_eq!(
        s.queue_counts("q").expect("counts"),
        QueueCounts {
            visible: 0,
            in_flight: 4,
            delayed: 0
        }
    );
    // m2's handle from the first receive is still its newest.
    s.delete_message("q", &first[1].receipt_handle)
        .expect("m2's handle still works");
    // m1's first handle was superseded by the second receive.
    assert!(matches!(
        s.delete_message("q", &first[0].receipt_handle),
        Err(LocalError::InvalidReceipt(_))
    ));
    clock.advance_ms(31_000);
    let again = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive after the timeout");
    let got: Vec<(&str, &str)> = again
        .iter()
        .map(|m| {
            (
                m.body.as_str(),
                m.attributes["ApproximateReceiveCount"].as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("m1", "3"), ("m3", "2"), ("m4", "2")]);
}

/// DeleteMessageBatch deletes exactly the messages its handles name, whether the batch is a
/// whole receive, part of one, mixes receives, repeats a handle or holds a stale one.
#[test]
fn a_delete_batch_deletes_exactly_what_its_handles_name() {
    let (_d, mut s, _clock) = store();
    s.put_queue(&QueueSpec::new("q")).expect("queue");
    s.put_queue(&QueueSpec::new("other")).expect("queue");
    let bodies = |got: &[infra::local::ReceivedMessage]| -> Vec<String> {
        got.iter().map(|m| m.body.clone()).collect()
    };
    let handles = |got: &[infra::local::ReceivedMessage]| -> Vec<String> {
        got.iter().map(|m| m.receipt_handle.clone()).collect()
    };
    for n in 0..12 {
        s.send_message("q", &SendRequest::body(format!("m{n}")))
            .expect("send");
    }
    s.send_message("other", &SendRequest::body("o"))
        .expect("send");
    let five = ReceiveRequest {
        max_messages: 5,
        ..ReceiveRequest::default()
    };
    let first = s.receive_messages("q", five).expect("receive");
    let second = s.receive_messages("q", five).expect("receive");
    let other = s
        .receive_messages("other", ReceiveRequest::default())
        .expect("receive other");

    // Part of a receive (its first, third and fifth): only those go.
    let part = vec![
        first[0].receipt_handle.clone(),
        first[2].receipt_handle.clone(),
        first[4].receipt_handle.clone(),
    ];
    let results = s.delete_messages("q", &part).expect("delete part");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // A handle of another queue, a repeated handle, a deleted one, and two receives mixed.
    let mixed = vec![
        other[0].receipt_handle.clone(),
        first[1].receipt_handle.clone(),
        first[1].receipt_handle.clone(),
        first[0].receipt_handle.clone(),
        second[0].receipt_handle.clone(),
    ];
    let results = s.delete_messages("q", &mixed).expect("delete mixed");
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [false, true, true, false, true]);
    // A whole receive but for the one deleted above, then the whole rest of it.
    let rest_of_second = handles(&second[1..]);
    let results = s
        .delete_messages("q", &rest_of_second)
        .expect("delete the rest");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The same whole batch again: every handle is stale now.
    let results = s
        .delete_messages("q", &rest_of_second)
        .expect("delete again");
    assert!(results.iter().all(Result::is_err), "{results:?}");
    // Left: m3 (first[3]) in flight, m10 and m11 visible; "other" untouched.
    let left = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive what is left");
    assert_eq!(bodies(&left), ["m10", "m11"]);
    let whole = handles(&left);
    let results = s.delete_messages("q", &whole).expect("delete whole");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        s.queue_counts("q").expect("counts"),
        QueueCounts {
            visible: 0,
            in_flight: 1,
            delayed: 0
        }
    );
    assert_eq!(
        s.queue_counts("other").expect("counts").in_flight,
        1,
        "another queue's message is not deleted through this one"
    );
    s.delete_message("q", &first[3].receipt_handle)
        .expect("m3 is still there under its handle");
}
