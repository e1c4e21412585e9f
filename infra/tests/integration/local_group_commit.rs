//! Group commit: several PutEvents calls in one transaction (`Store::put_events_group`), and
//! the writer thread that makes concurrent callers share it (`GroupCommit`).

use std::collections::HashSet;
use std::sync::Arc;

use infra::local::{
    GroupCommit, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec, RuleState, Store, TargetSpec,
};

fn store_with_rule() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Store::open(dir.path().join("state")).expect("open");
    let q = s.put_queue(&QueueSpec::new("group")).expect("queue");
    s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "group".into(),
        pattern: Some(r#"{"source": ["group.test"]}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    s.put_targets("default", "group", &[TargetSpec::new("q", q)])
        .expect("target");
    (dir, s)
}

fn entries(call: usize, n: usize) -> Vec<PutEventsEntry> {
    (0..n)
        .map(|k| {
            PutEventsEntry::new(
                "group.test",
                "t",
                format!(r#"{{"call": {call}, "k": {k}}}"#),
            )
        })
        .collect()
}

/// The event id of every message in the queue, received and deleted.
fn drain_ids(s: &mut Store) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let got = s
            .receive_messages("group", ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            return ids;
        }
        let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
        for m in got {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("body is JSON");
            ids.push(v["id"].as_str().expect("event id").to_string());
        }
        for r in s.delete_messages("group", &handles).expect("delete") {
            r.expect("delete one");
        }
    }
}

#[test]
fn calls_in_one_group_are_answered_separately_and_a_bad_call_leaves_no_trace() {
    let (_d, mut s) = store_with_rule();
    let good_a = entries(0, 3);
    let too_many = entries(1, 11);
    let good_b = entries(2, 10);
    let with_bad_entry = vec![
        PutEventsEntry::new("group.test", "t", "not json"),
        PutEventsEntry::new("group.test", "t", r#"{"ok": true}"#),
    ];
    let outs = s
        .put_events_group(&[&good_a, &too_many, &good_b, &with_bad_entry])
        .expect("group commit");
    assert_eq!(outs.len(), 4);
    let a = outs[0].as_ref().expect("first call accepted");
    assert_eq!((a.failed_entry_count, a.routed.len()), (0, 3));
    let err = outs[1].as_ref().expect_err("11 entries is not a call");
    assert!(err.to_string().contains("1 to 10 entries"), "{err}");
    let b = outs[2].as_ref().expect("third call accepted");
    assert_eq!((b.failed_entry_count, b.routed.len()), (0, 10));
    let c = outs[3].as_ref().expect("fourth call answered per entry");
    assert_eq!(c.failed_entry_count, 1);
    assert_eq!(
        c.entries[0].error_code.as_deref(),
        Some("MalformedDetail"),
        "{c:?}"
    );

    let accepted: HashSet<String> = [a, b, c]
        .iter()
        .flat_map(|o| o.entries.iter().filter_map(|e| e.event_id.clone()))
        .collect();
    assert_eq!(accepted.len(), 14);
    let queued = drain_ids(&mut s);
    assert_eq!(queued.len(), 14, "exactly the accepted events are queued");
    assert_eq!(queued.into_iter().collect::<HashSet<_>>(), accepted);
}

#[test]
fn concurrent_callers_share_the_writer_and_every_acknowledged_event_is_queued_once() {
    let (_d, s) = store_with_rule();
    let writer = Arc::new(GroupCommit::new(s).expect("writer"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for call in 0..20 {
                    let out = writer
                        .put_events(entries(t * 100 + call, 10))
                        .expect("put events");
                    assert_eq!(out.failed_entry_count, 0);
                    ids.extend(out.entries.into_iter().filter_map(|e| e.event_id));
                }
                ids
            })
        })
        .collect();
    let mut acknowledged = HashSet::new();
    for t in threads {
        for id in t.join().expect("producer thread") {
            assert!(acknowledged.insert(id), "an event id was returned twice");
        }
    }
    assert_eq!(acknowledged.len(), 8 * 20 * 10);

    // Work sent after a call runs after it: the events are there to receive.
    let queued = writer.with_store(drain_ids).expect("writer");
    assert_eq!(queued.len(), acknowledged.len());
    assert_eq!(queued.into_iter().collect::<HashSet<_>>(), acknowledged);

    // Errors come back to their caller; the writer goes on.
    let err = writer
        .put_events(Vec::new())
        .expect_err("an empty call is refused");
    assert!(err.to_string().contains("1 to 10 entries"), "{err}");
    let out = writer.put_events(entries(9, 1)).expect("put events");
    assert_eq!(out.routed.len(), 1);

    let writer = Arc::try_unwrap(writer).expect("only owner");
    let mut s = writer.into_store().expect("store back");
    assert_eq!(drain_ids(&mut s).len(), 1);
}
