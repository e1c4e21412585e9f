//! Dead-letter queues on the local backend (`infra::local::dead_letters`), on the real
//! SQLite store with a manual clock: a peek changes nothing; a redrive moves every visible
//! message with its attributes, respects a maximum, and finds its default destination.

use std::collections::{BTreeMap, BTreeSet};

use infra::local::{
    Clock, Config, LocalError, MessageAttribute, MessageState, QueueSpec, ReceiveRequest, Redrive,
    SendRequest, Store,
};

fn store() -> (tempfile::TempDir, Store, Clock) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(1_795_392_000_000);
    let store = Store::open_with(dir.path(), Config::default(), clock.clone()).expect("open");
    (dir, store, clock)
}

/// `src` dead-letters to `dlq` after `max_receive` receives.
fn source_and_dlq(s: &mut Store, src: &str, dlq: &str, max_receive: u32) {
    let dlq_arn = s.put_queue(&QueueSpec::new(dlq)).expect("dlq");
    let mut spec = QueueSpec::new(src);
    spec.redrive = Some(Redrive {
        dead_letter_target_arn: dlq_arn,
        max_receive_count: max_receive,
    });
    s.put_queue(&spec).expect("source");
}

fn with_attributes(body: &str, attrs: &[(&str, &str)]) -> SendRequest {
    let mut req = SendRequest::body(body);
    req.attributes = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), MessageAttribute::string(*v)))
        .collect();
    req
}

/// Every body in `queue`, drained (received and deleted).
fn drain(s: &mut Store, queue: &str) -> Vec<(String, BTreeMap<String, MessageAttribute>, u32)> {
    let mut out = Vec::new();
    loop {
        let got = s
            .receive_messages(queue, ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            return out;
        }
        for m in got {
            let count = m.receive_count();
            s.delete_message(queue, &m.receipt_handle).expect("delete");
            out.push((m.body, m.message_attributes, count));
        }
    }
}

#[test]
fn a_peek_changes_neither_visibility_nor_receive_counts() {
    let (_d, mut s, clock) = store();
    source_and_dlq(&mut s, "work", "work-dlq", 1);
    s.send_message(
        "work",
        &with_attributes("poison", &[("bridge-dead-letter-reason", "not JSON")]),
    )
    .expect("send");
    // Received once, then moved to the DLQ by the next receive (maxReceiveCount 1).
    let got = s
        .receive_messages("work", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 1);
    clock.advance_ms(30_000);
    assert!(s
        .receive_messages("work", ReceiveRequest::default())
        .expect("receive")
        .is_empty());
    s.send_message("work-dlq", &SendRequest::body("second"))
        .expect("send");
    // One DLQ message in flight: a peek must show it as such and leave it so.
    let in_flight = s
        .receive_messages(
            "work-dlq",
            ReceiveRequest {
                max_messages: 1,
                ..ReceiveRequest::default()
            },
        )
        .expect("receive from dlq");
    assert_eq!(in_flight[0].body, "poison");
    assert_eq!(in_flight[0].receive_count(), 1);

    let before = s.queue_counts("work-dlq").expect("counts");
    for _ in 0..3 {
        let peek = s.peek_messages("work-dlq", 10).expect("peek");
        assert_eq!(peek.counts.visible, 1);
        assert_eq!(peek.counts.in_flight, 1);
        assert_eq!(peek.messages.len(), 2);
        let poison = &peek.messages[0];
        assert_eq!(poison.body, "poison");
        assert_eq!(poison.state, MessageState::InFlight);
        assert_eq!(
            poison.receive_count, 1,
            "a peek does not count as a receive"
        );
        assert_eq!(
            poison.message_attributes["bridge-dead-letter-reason"].string_value,
            "not JSON"
        );
        assert_eq!(peek.messages[1].state, MessageState::Visible);
        assert_eq!(peek.messages[1].receive_count, 0);
    }
    assert_eq!(s.queue_counts("work-dlq").expect("counts"), before);
    // The receipt handed out before the peeks still works: nothing was re-received.
    s.delete_message("work-dlq", &in_flight[0].receipt_handle)
        .expect("the earlier receipt is still the current one");
    let rest = drain(&mut s, "work-dlq");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, "second");
    assert_eq!(rest[0].2, 1, "first real receive of the peeked message");

    // A maximum limits the messages shown, not the count.
    for n in 0..5 {
        s.send_message("work-dlq", &SendRequest::body(format!("m{n}")))
            .expect("send");
    }
    let peek = s.peek_messages("work-dlq", 2).expect("peek");
    assert_eq!(peek.counts.visible, 5);
    let bodies: Vec<&str> = peek.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m0", "m1"], "oldest first");
}

#[test]
fn redrive_moves_every_visible_message_with_its_attributes() {
    let (_d, mut s, _clock) = store();
    source_and_dlq(&mut s, "work", "work-dlq", 3);
    for n in 0..25 {
        let req = with_attributes(
            &format!("body-{n}"),
            &[
                ("bridge-dead-letter-reason", "handler failed"),
                ("trace", &format!("t{n}")),
            ],
        );
        s.send_message("work-dlq", &req).expect("send");
    }
    // One message stays in flight: it is someone's, and is not moved.
    let held = s
        .receive_messages(
            "work-dlq",
            ReceiveRequest {
                max_messages: 1,
                ..ReceiveRequest::default()
            },
        )
        .expect("receive");
    let mut progress = Vec::new();
    let report = s
        .redrive("work-dlq", None, None, &mut |n| progress.push(n))
        .expect("redrive");
    assert_eq!(
        report.to, "work",
        "the default destination is the source queue"
    );
    assert_eq!(report.moved, 24);
    assert_eq!(report.left.visible, 0);
    assert_eq!(report.left.in_flight, 1);
    assert_eq!(progress, [10, 20, 24], "one progress call per batch");

    let moved = drain(&mut s, "work");
    assert_eq!(moved.len(), 24);
    let bodies: BTreeSet<String> = moved.iter().map(|m| m.0.clone()).collect();
    assert!(!bodies.contains(&held[0].body));
    for (body, attributes, count) in &moved {
        let n = body.trim_start_matches("body-");
        assert_eq!(attributes["trace"].string_value, format!("t{n}"));
        assert_eq!(
            attributes["bridge-dead-letter-reason"].string_value,
            "handler failed"
        );
        assert_eq!(
            *count, 1,
            "a redriven message starts again at receive count 0"
        );
    }
    // The held message is still there under its receipt.
    s.delete_message("work-dlq", &held[0].receipt_handle)
        .expect("held message untouched");
}

#[test]
fn redrive_respects_max() {
    let (_d, mut s, _clock) = store();
    source_and_dlq(&mut s, "work", "work-dlq", 3);
    for n in 0..30 {
        s.send_message("work-dlq", &SendRequest::body(format!("b{n:02}")))
            .expect("send");
    }
    let report = s
        .redrive("work-dlq", Some("work"), Some(13), &mut |_| {})
        .expect("redrive");
    assert_eq!(report.moved, 13);
    assert_eq!(report.left.visible, 17);
    let moved: Vec<String> = drain(&mut s, "work").into_iter().map(|m| m.0).collect();
    let expected: Vec<String> = (0..13).map(|n| format!("b{n:02}")).collect();
    assert_eq!(moved, expected, "the oldest 13, in order");
    assert_eq!(drain(&mut s, "work-dlq").len(), 17);
    // A batch never exceeds what is asked.
    assert_eq!(s.redrive_batch("work-dlq", "work", 0).expect("batch"), 0);
}

#[test]
fn default_destination_needs_exactly_one_source_queue() {
    let (_d, mut s, _clock) = store();
    s.put_queue(&QueueSpec::new("orphan-dlq")).expect("queue");
    s.put_queue(&QueueSpec::new("elsewhere")).expect("queue");
    s.send_message("orphan-dlq", &SendRequest::body("x"))
        .expect("send");
    let err = s
        .redrive("orphan-dlq", None, None, &mut |_| {})
        .expect_err("no source queue");
    assert!(matches!(err, LocalError::NoRedriveDestination { .. }));
    let text = err.to_string();
    assert!(text.contains("no queue names orphan-dlq"), "{text}");
    assert!(text.contains("--to QUEUE"), "{text}");

    source_and_dlq(&mut s, "a", "shared-dlq", 2);
    let mut b = QueueSpec::new("b");
    b.redrive = Some(Redrive {
        dead_letter_target_arn: s.queue_arn("shared-dlq"),
        max_receive_count: 4,
    });
    s.put_queue(&b).expect("b");
    let sources = s.dead_letter_sources("shared-dlq").expect("sources");
    let names: Vec<&str> = sources.iter().map(|q| q.queue.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(sources[1].max_receive_count, 4);
    let err = s
        .redrive_destination("shared-dlq", None)
        .expect_err("two sources");
    let text = err.to_string();
    assert!(text.contains("2 queues name shared-dlq"), "{text}");
    assert!(text.contains("a, b"), "{text}");
    assert!(text.contains("--to QUEUE"), "{text}");
    assert_eq!(
        s.redrive_destination("shared-dlq", Some("b"))
            .expect("explicit"),
        "b"
    );

    // With --to, nothing needs a redrive policy; the message moved is still in one piece.
    let report = s
        .redrive("orphan-dlq", Some("elsewhere"), None, &mut |_| {})
        .expect("explicit destination");
    assert_eq!(report.moved, 1);
    assert_eq!(drain(&mut s, "elsewhere")[0].0, "x");

    // Nonsense destinations are refused before anything moves.
    assert!(matches!(
        s.redrive_destination("orphan-dlq", Some("nope")),
        Err(LocalError::NoSuchQueue(_))
    ));
    assert!(s
        .redrive_destination("orphan-dlq", Some("orphan-dlq"))
        .expect_err("itself")
        .to_string()
        .contains("itself"));
    s.put_queue(&QueueSpec::new("ordered.fifo")).expect("fifo");
    assert!(s
        .redrive_destination("orphan-dlq", Some("ordered.fifo"))
        .expect_err("type mismatch")
        .to_string()
        .contains("same type"));
}

#[test]
fn a_fifo_redrive_keeps_groups_and_order() {
    let (_d, mut s, _clock) = store();
    let mut dlq = QueueSpec::new("jobs-dlq.fifo");
    dlq.content_based_dedup = true;
    let dlq_arn = s.put_queue(&dlq).expect("dlq");
    let mut src = QueueSpec::new("jobs.fifo");
    src.redrive = Some(Redrive {
        dead_letter_target_arn: dlq_arn,
        max_receive_count: 1,
    });
    s.put_queue(&src).expect("src");
    for n in 0..4 {
        let mut req = SendRequest::body(format!("g{}-{n}", n % 2));
        req.group_id = Some(format!("g{}", n % 2));
        s.send_message("jobs-dlq.fifo", &req).expect("send");
    }
    let report = s
        .redrive("jobs-dlq.fifo", None, None, &mut |_| {})
        .expect("redrive");
    assert_eq!(report.moved, 4);
    let got = s
        .receive_messages("jobs.fifo", ReceiveRequest::default())
        .expect("receive");
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|m| (m.attributes["MessageGroupId"].clone(), m.body.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("g0".to_string(), "g0-0".to_string()),
            ("g1".to_string(), "g1-1".to_string()),
            ("g0".to_string(), "g0-2".to_string()),
            ("g1".to_string(), "g1-3".to_string()),
        ]
    );
}
