//! What the group-commit writer carries besides PutEvents (sends, receives, deletes), calls
//! prepared outside the writer while the rules change, and receipt handles that name their
//! message (deletes and visibility changes find it by id).

use std::collections::HashSet;
use std::sync::Arc;

use infra::local::{
    Clock, Config, GroupCommit, LocalError, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec,
    RuleState, SendRequest, Store, TargetSpec,
};

fn rule(name: &str, source: &str) -> RuleSpec {
    RuleSpec {
        bus: "default".into(),
        name: name.into(),
        pattern: Some(format!(r#"{{"source": ["{source}"]}}"#)),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    }
}

/// A store with queues `a` and `b`, and rule `to-a` sending `calls.test` events to `a`.
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Store::open(dir.path().join("state")).expect("open");
    let a = s.put_queue(&QueueSpec::new("a")).expect("queue a");
    s.put_queue(&QueueSpec::new("b")).expect("queue b");
    s.put_rule(&rule("to-a", "calls.test")).expect("rule");
    s.put_targets("default", "to-a", &[TargetSpec::new("q", a)])
        .expect("target");
    (dir, s)
}

fn event(n: usize) -> PutEventsEntry {
    PutEventsEntry::new("calls.test", "t", format!(r#"{{"n": {n}}}"#))
}

fn event_ids(bodies: impl IntoIterator<Item = String>) -> HashSet<String> {
    bodies
        .into_iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(&b).expect("body is JSON");
            v["id"].as_str().expect("event id").to_string()
        })
        .collect()
}

#[test]
fn a_call_prepared_before_the_rules_changed_is_routed_by_the_rules_at_its_commit() {
    let (_d, mut s) = store();
    // Routes are compiled (and published) by a first call.
    s.put_events(&[event(0)]).expect("first put");
    let prepared = s.prepare_put_events(&[event(1)], None);
    // Now the rule sends to `b` instead of `a`.
    let b = s.queue_arn("b");
    s.remove_targets("default", "to-a", &["q".into()])
        .expect("remove target");
    s.put_targets("default", "to-a", &[TargetSpec::new("q", b)])
        .expect("retarget");
    let outs = s.put_prepared_group(&[&prepared]).expect("commit");
    let out = outs
        .into_iter()
        .next()
        .expect("one result")
        .expect("accepted");
    assert_eq!(out.routed.len(), 1);
    assert!(out.routed[0].target.ends_with(":b"), "{:?}", out.routed);
    let in_b = s
        .receive_messages("b", ReceiveRequest::default())
        .expect("receive b");
    assert_eq!(
        in_b.len(),
        1,
        "the event went where the rules say at its commit"
    );
    let in_a = s
        .receive_messages("a", ReceiveRequest::default())
        .expect("receive a");
    assert_eq!(in_a.len(), 1, "only the first event is in a");

    // A call prepared for a bus that is deleted before the commit is refused per entry.
    s.put_bus("gone").expect("bus");
    let mut on_gone = event(2);
    on_gone.event_bus_name = Some("gone".into());
    s.put_events(std::slice::from_ref(&on_gone))
        .expect("put on gone");
    let prepared = s.prepare_put_events(&[on_gone], None);
    s.delete_bus("gone").expect("delete bus");
    let out = s
        .put_prepared_group(&[&prepared])
        .expect("commit")
        .pop()
        .expect("one result")
        .expect("answered per entry");
    assert_eq!(out.failed_entry_count, 1);
    assert_eq!(
        out.entries[0].error_code.as_deref(),
        Some("ResourceNotFoundException")
    );
}

#[test]
fn sends_receives_and_deletes_share_the_writer_with_puts() {
    let (_d, s) = store();
    let writer = Arc::new(GroupCommit::new(s).expect("writer"));
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for call in 0..25 {
                    let entries = (0..10).map(|k| event(t * 1000 + call * 10 + k)).collect();
                    let out = writer.put_events(entries).expect("put");
                    ids.extend(out.entries.into_iter().filter_map(|e| e.event_id));
                    let sent = writer
                        .send_messages("b", vec![SendRequest::body(format!("m{t}-{call}")); 2])
                        .expect("send");
                    assert!(sent.iter().all(Result::is_ok), "{sent:?}");
                }
                ids
            })
        })
        .collect();
    // A consumer drains `a` through the same writer while the producers run.
    let consumer = {
        let writer = Arc::clone(&writer);
        std::thread::spawn(move || {
            let mut bodies = Vec::new();
            while bodies.len() < 1000 {
                let got = writer
                    .receive_messages("a", ReceiveRequest::default())
                    .expect("receive");
                for m in &got {
                    assert_eq!(m.md5_of_body().len(), 32);
                    assert_eq!(m.receive_count(), 1);
                }
                let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
                bodies.extend(got.into_iter().map(|m| m.body));
                if handles.is_empty() {
                    std::thread::yield_now();
                    continue;
                }
                for r in writer.delete_messages("a", handles).expect("delete") {
                    r.expect("delete one");
                }
            }
            bodies
        })
    };
    let mut acknowledged = HashSet::new();
    for p in producers {
        acknowledged.extend(p.join().expect("producer"));
    }
    let consumed = consumer.join().expect("consumer");
    assert_eq!(acknowledged.len(), 1000);
    assert_eq!(consumed.len(), 1000, "each event consumed once");
    assert_eq!(event_ids(consumed), acknowledged);

    // Deleted means gone; the sends are all in `b`.
    let got = writer
        .receive_messages("a", ReceiveRequest::default())
        .expect("receive");
    assert!(got.is_empty(), "{got:?}");
    let writer = Arc::try_unwrap(writer).expect("only owner");
    let mut s = writer.into_store().expect("store back");
    assert_eq!(s.queue_counts("b").expect("counts").visible, 200);

    // A send to a queue that does not exist is an error for its caller only.
    let writer = GroupCommit::new(s).expect("writer again");
    let err = writer
        .send_message("nope", SendRequest::body("x"))
        .expect_err("no such queue");
    assert!(matches!(err, LocalError::NoSuchQueue(_)), "{err}");
    let bad = writer
        .receive_messages(
            "a",
            ReceiveRequest {
                max_messages: 11,
                ..ReceiveRequest::default()
            },
        )
        .expect_err("11 messages");
    assert!(bad.to_string().contains("1 to 10"), "{bad}");
}

#[test]
fn a_receipt_handle_works_only_for_its_message_and_only_until_the_next_receive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(1_700_000_000_000);
    let mut s = Store::open_with(dir.path(), Config::default(), clock.clone()).expect("open store");
    s.put_queue(&QueueSpec::new("a")).expect("queue a");
    s.put_queue(&QueueSpec::new("b")).expect("queue b");
    for n in 0..3 {
        s.send_message("a", &SendRequest::body(format!("m{n}")))
            .expect("send");
    }
    let first = s
        .receive_messages("a", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(first.len(), 3);
    let handles: HashSet<&str> = first.iter().map(|m| m.receipt_handle.as_str()).collect();
    assert_eq!(handles.len(), 3, "each message has its own handle");

    // After the visibility timeout, a new receive makes the old handles stale.
    clock.advance_ms(31_000);
    let second = s
        .receive_messages("a", ReceiveRequest::default())
        .expect("receive again");
    assert_eq!(second.len(), 3);
    let stale: Vec<String> = first.iter().map(|m| m.receipt_handle.clone()).collect();
    for r in s.delete_messages("a", &stale).expect("delete stale") {
        assert!(matches!(r, Err(LocalError::InvalidReceipt(_))), "{r:?}");
    }
    assert!(matches!(
        s.change_visibility("a", &stale[0], 0),
        Err(LocalError::InvalidReceipt(_))
    ));
    // A handle is refused by another queue, and text that is no handle is refused.
    let current: Vec<String> = second.iter().map(|m| m.receipt_handle.clone()).collect();
    assert!(matches!(
        s.delete_message("b", &current[0]),
        Err(LocalError::InvalidReceipt(_))
    ));
    let mixed = vec![
        current[0].clone(),
        "not-a-handle".to_string(),
        stale[1].clone(),
        current[2].clone(),
    ];
    let results = s.delete_messages("a", &mixed).expect("delete batch");
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(LocalError::InvalidReceipt(_))));
    assert!(matches!(results[2], Err(LocalError::InvalidReceipt(_))));
    // Only the message whose current handle was not used is left, in flight.
    let counts = s.queue_counts("a").expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 1));
    s.change_visibility("a", &current[1], 0).expect("release");
    let last = s
        .receive_messages("a", ReceiveRequest::default())
        .expect("receive last");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].body, second[1].body);
    s.delete_message("a", &last[0].receipt_handle)
        .expect("delete last");
    assert_eq!(s.queue_counts("a").expect("counts").in_flight, 0);
}
