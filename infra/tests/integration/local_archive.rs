//! Archives and replays on the local backend: archiving inside the accepting transaction,
//! retention with a manual clock, replays to every rule or the named ones with `replay-name`
//! in the envelope, replayed events not archived again, resuming an interrupted replay, and
//! archives planned and applied from the one desired state.

use crate::local_support;

use infra::local::archive::ArchiveSpec;
use infra::local::{Clock, Config, PutEventsEntry, QueueSpec, Store, TargetSpec};
use local_support::drain;
use rules::desired::{Archive, Desired};
use serde_json::Value;

const NOW: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const DAY: i64 = 86_400_000;

fn open(dir: &std::path::Path, clock: &Clock) -> Store {
    Store::open_with(dir.join("state"), Config::default(), clock.clone()).expect("open")
}

fn entry(source: &str, n: u32, time: &str) -> PutEventsEntry {
    PutEventsEntry {
        source: Some(source.into()),
        detail_type: Some("Order Placed".into()),
        detail: Some(format!(r#"{{"n": {n}}}"#)),
        resources: vec![],
        time: Some(time.into()),
        event_bus_name: None,
    }
}

fn rule(s: &mut Store, name: &str, source: &str, queue: &str) {
    let q = s.put_queue(&QueueSpec::new(queue)).expect("queue");
    let pattern = format!(r#"{{"source": ["{source}"]}}"#);
    local_support::rule(s, name, &pattern, &[TargetSpec::new("t", q)]);
}

fn archive(s: &mut Store, name: &str, pattern: Option<&str>, retention_days: u32) {
    s.put_archive(&ArchiveSpec {
        name: name.into(),
        bus: "default".into(),
        pattern: pattern.map(str::to_string),
        retention_days,
        description: None,
    })
    .expect("archive");
}

fn bodies(s: &mut Store, q: &str) -> Vec<Value> {
    drain(s, q)
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("json"))
        .collect()
}

fn ns(events: &[Value]) -> Vec<i64> {
    let mut n: Vec<i64> = events
        .iter()
        .map(|e| e["detail"]["n"].as_i64().unwrap())
        .collect();
    n.sort_unstable();
    n
}

#[test]
fn matching_events_are_archived_with_the_event_and_only_when_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    rule(&mut s, "orders", "shop", "orders");
    archive(&mut s, "shop-only", Some(r#"{"source": ["shop"]}"#), 0);
    archive(&mut s, "everything", None, 0);
    let out = s
        .put_events(&[
            entry("shop", 1, "2026-11-22T10:00:00Z"),
            entry("other", 2, "2026-11-22T10:00:00Z"),
            // Rejected (malformed detail): not accepted, so not archived.
            PutEventsEntry {
                detail: Some("not json".into()),
                ..entry("shop", 3, "2026-11-22T10:00:00Z")
            },
        ])
        .expect("put");
    assert_eq!(out.failed_entry_count, 1);
    assert_eq!(s.archived_count("shop-only").unwrap(), 1);
    assert_eq!(s.archived_count("everything").unwrap(), 2);

    // The same transaction: when delivery fails as a whole (here a trigger makes every
    // queue write fail, as a full disk would), the call fails and nothing is archived.
    let conn = rusqlite::Connection::open(dir.path().join("state").join("state.sqlite3"))
        .expect("raw connection");
    conn.execute_batch(
        "CREATE TRIGGER fail_sends BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("trigger");
    let err = s.put_events(&[entry("shop", 4, "2026-11-22T11:00:00Z")]);
    assert!(err.is_err(), "{err:?}");
    assert_eq!(s.archived_count("shop-only").unwrap(), 1);
    assert_eq!(s.archived_count("everything").unwrap(), 2);
    conn.execute_batch("DROP TRIGGER fail_sends;")
        .expect("drop");
    s.put_events(&[entry("shop", 5, "2026-11-22T11:00:00Z")])
        .expect("put");
    assert_eq!(s.archived_count("shop-only").unwrap(), 2);
}

#[test]
fn retention_expires_events_by_the_day_and_zero_keeps_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    archive(&mut s, "week", None, 7);
    archive(&mut s, "forever", None, 0);
    s.put_events(&[entry("a", 1, "2026-11-23T00:00:00Z")])
        .expect("put");
    clock.advance_ms(3 * DAY);
    s.put_events(&[entry("a", 2, "2026-11-26T00:00:00Z")])
        .expect("put");
    clock.advance_ms(4 * DAY - 1);
    assert_eq!(
        s.expire_archives().unwrap(),
        0,
        "one millisecond short of 7 days"
    );
    assert_eq!(s.archived_count("week").unwrap(), 2);
    clock.advance_ms(1);
    assert_eq!(s.expire_archives().unwrap(), 1);
    assert_eq!(s.archived_count("week").unwrap(), 1);
    clock.advance_ms(3 * DAY);
    assert_eq!(s.expire_archives().unwrap(), 1);
    assert_eq!(s.archived_count("week").unwrap(), 0);
    clock.advance_ms(10_000 * DAY);
    s.expire_archives().unwrap();
    assert_eq!(s.archived_count("forever").unwrap(), 2);
}

#[test]
fn a_replay_resends_the_window_to_every_rule_or_the_named_ones_with_replay_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    rule(&mut s, "orders", "shop", "orders");
    rule(&mut s, "audit", "shop", "audit");
    rule(&mut s, "others", "other", "others");
    archive(&mut s, "all", None, 0);
    let out = s
        .put_events(&[
            entry("shop", 1, "2026-11-20T09:59:59Z"),
            entry("shop", 2, "2026-11-20T10:00:00Z"),
            entry("other", 3, "2026-11-20T10:30:00Z"),
            entry("shop", 4, "2026-11-20T11:00:00Z"),
            entry("shop", 5, "2026-11-20T11:00:01Z"),
        ])
        .expect("put");
    let ids: Vec<String> = out
        .entries
        .iter()
        .filter_map(|e| e.event_id.clone())
        .collect();
    for q in ["orders", "audit", "others"] {
        drain(&mut s, q);
    }
    let from = infra::local::clock::parse_rfc3339("2026-11-20T10:00:00Z").unwrap();
    let to = infra::local::clock::parse_rfc3339("2026-11-20T11:00:00Z").unwrap();

    // To every rule: the window is inclusive and by the events' `time`.
    let r = s.start_replay("r1", "all", from, to, &[]).expect("start");
    assert_eq!((r.replayed, r.remaining), (0, 3));
    let (r, routed) = s.replay_step("r1", 100).expect("step");
    assert_eq!(r.state, "COMPLETED");
    assert_eq!(r.replayed, 3);
    assert_eq!(routed.len(), 5, "{routed:?}");
    let orders = bodies(&mut s, "orders");
    assert_eq!(ns(&orders), [2, 4]);
    for e in &orders {
        assert_eq!(e["replay-name"], "r1", "{e}");
        // The event is the archived one: its id and time are kept.
        assert!(ids.contains(&e["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(ns(&bodies(&mut s, "audit")), [2, 4]);
    assert_eq!(ns(&bodies(&mut s, "others")), [3]);
    // Replayed events are not archived again (AWS's archive rule excludes `replay-name`).
    assert_eq!(s.archived_count("all").unwrap(), 5);

    // Only the named rule.
    s.start_replay("r2", "all", from, to, &["audit".to_string()])
        .expect("start");
    let (r, _) = s.replay_step("r2", 100).expect("step");
    assert_eq!(r.state, "COMPLETED");
    assert!(bodies(&mut s, "orders").is_empty());
    assert!(bodies(&mut s, "others").is_empty());
    let audit = bodies(&mut s, "audit");
    assert_eq!(ns(&audit), [2, 4]);
    assert!(audit.iter().all(|e| e["replay-name"] == "r2"));

    // The activity log shows the replay (what `bridge dev` prints): all 3 events of the
    // window were replayed, 2 of them matched the named rule.
    let activity = s.activity_since(0, 1000).unwrap();
    assert!(activity
        .iter()
        .any(|a| a.origin == "replay r2" && a.outcome.starts_with("completed: 3 events")));

    // A completed name cannot be reused; unknown rules and archives are refused.
    assert!(s.start_replay("r1", "all", from, to, &[]).is_err());
    assert!(s
        .start_replay("r3", "all", from, to, &["nope".to_string()])
        .is_err());
    assert!(s.start_replay("r4", "nope", from, to, &[]).is_err());
    assert!(s.start_replay("r5", "all", to, from, &[]).is_err());
}

#[test]
fn an_interrupted_replay_resumes_from_its_cursor_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    {
        let mut s = open(dir.path(), &clock);
        rule(&mut s, "orders", "shop", "orders");
        archive(&mut s, "all", None, 0);
        for n in 0..5 {
            let batch: Vec<PutEventsEntry> = (0..5)
                .map(|i| entry("shop", n * 5 + i, "2026-11-20T10:00:00Z"))
                .collect();
            s.put_events(&batch).expect("put");
        }
        drain(&mut s, "orders");
        s.start_replay("again", "all", NOW - 10 * DAY, NOW, &[])
            .expect("start");
        let (r, _) = s.replay_step("again", 10).expect("step");
        assert_eq!(
            (r.state.as_str(), r.replayed, r.remaining),
            ("RUNNING", 10, 15)
        );
        // The store is dropped here, as a killed process would leave it.
    }
    let mut s = open(dir.path(), &clock);
    let r = s
        .start_replay("again", "all", NOW - 10 * DAY, NOW, &[])
        .expect("resume");
    assert_eq!((r.replayed, r.remaining), (10, 15));
    assert_eq!(s.running_replays().unwrap(), ["again"]);
    loop {
        let (r, _) = s.replay_step("again", 4).expect("step");
        if r.state == "COMPLETED" {
            break;
        }
    }
    let got = ns(&bodies(&mut s, "orders"));
    assert_eq!(got, (0..25).collect::<Vec<i64>>());
    assert!(s.running_replays().unwrap().is_empty());
    // Resuming with other parameters is refused rather than mixing two windows.
    assert!(s.start_replay("again", "all", NOW - DAY, NOW, &[]).is_err());
}

#[test]
fn archives_are_planned_and_applied_from_the_desired_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    let mut desired = Desired {
        stack: "shop".into(),
        bus: "default".into(),
        archives: vec![Archive {
            name: "orders".into(),
            pattern: Some(r#"{"source":["shop"]}"#.into()),
            retention_days: 30,
            description: Some("orders, a month".into()),
        }],
        ..Desired::default()
    };
    let plan = s.sync(&desired, false).expect("sync");
    let lines: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{} {s}", s.symbol()))
        .collect();
    assert_eq!(
        lines,
        [r#"+ create archive orders
      pattern {"source":["shop"]}
      retention: 30 days"#]
    );
    assert_eq!(s.list_archives().unwrap().len(), 1);
    assert!(s.sync(&desired, false).expect("again").is_empty());

    desired.archives[0].retention_days = 0;
    let plan = s.sync(&desired, false).expect("change");
    assert_eq!(
        plan.steps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["update archive orders: retention\n      retention: forever"]
    );
    assert_eq!(s.list_archives().unwrap()[0].retention_days, 0);

    desired.archives.clear();
    let plan = s.sync(&desired, false).expect("no prune");
    assert!(plan.steps.is_empty());
    assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    let plan = s.sync(&desired, true).expect("prune");
    assert_eq!(
        plan.steps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["delete archive orders and the events it holds"]
    );
    assert!(s.list_archives().unwrap().is_empty());
}
