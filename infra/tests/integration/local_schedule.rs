//! Scheduled rules on the local backend: due slots fire the event EventBridge sends, through
//! the rule's own targets and input transformers, exactly once per slot across restarts.

use crate::local_support;

use std::collections::BTreeMap;

use infra::local::{
    Clock, Config, GroupCommit, InputTransformer, QueueSpec, ReceivedMessage, RuleSpec, RuleState,
    Store, TargetSpec,
};
use local_support::drain;
use serde_json::{json, Value};

const NOW: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z (a Monday)
const MIN: i64 = 60_000;

fn open(dir: &std::path::Path, clock: &Clock) -> Store {
    Store::open_with(dir.join("state"), Config::default(), clock.clone()).expect("open")
}

fn scheduled(s: &mut Store, name: &str, expr: &str, targets: &[TargetSpec]) -> String {
    let arn = s
        .put_rule(&RuleSpec {
            bus: "default".into(),
            name: name.into(),
            pattern: None,
            schedule: Some(expr.into()),
            state: RuleState::Enabled,
            description: None,
        })
        .expect("rule");
    s.put_targets("default", name, targets).expect("targets");
    arn
}

fn times(messages: &[ReceivedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let v: Value = serde_json::from_str(&m.body).expect("json");
            v["time"].as_str().expect("time").to_string()
        })
        .collect()
}

#[test]
fn a_rate_rule_fires_aws_scheduled_events_through_its_targets_and_transformers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    let q = s.put_queue(&QueueSpec::new("ticks")).expect("queue");
    let shaped = s.put_queue(&QueueSpec::new("shaped")).expect("queue");
    // A pattern rule that would match anything from aws.events must not see the event.
    let other = s.put_queue(&QueueSpec::new("other")).expect("queue");
    s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "everything".into(),
        pattern: Some(r#"{"source": ["aws.events"]}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("pattern rule");
    s.put_targets("default", "everything", &[TargetSpec::new("o", &other)])
        .expect("targets");
    let mut transformed = TargetSpec::new("t", &shaped);
    transformed.input_transformer = Some(InputTransformer {
        input_paths_map: BTreeMap::from([("at".to_string(), "$.time".to_string())]),
        input_template: r#"{"slot": <at>, "rule": <aws.events.rule-name>}"#.into(),
    });
    let arn = scheduled(
        &mut s,
        "every-5",
        "rate(5 minutes)",
        &[TargetSpec::new("q", &q), transformed],
    );

    assert!(
        s.fire_due_schedules().expect("fire").is_empty(),
        "nothing is due yet"
    );
    clock.advance_ms(12 * MIN);
    let routed = s.fire_due_schedules().expect("fire");
    assert_eq!(routed.len(), 4, "two slots × two targets: {routed:?}");
    assert!(
        routed.iter().all(|r| r.outcome == "delivered"),
        "{routed:?}"
    );

    let got = drain(&mut s, "ticks");
    assert_eq!(
        times(&got),
        ["2026-11-23T00:05:00Z", "2026-11-23T00:10:00Z"]
    );
    let event: Value = serde_json::from_str(&got[0].body).expect("json");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["resources"], json!([arn]));
    assert_eq!(event["detail"], json!({}));
    assert_eq!(event["version"], "0");
    assert_eq!(event["account"], Config::default().account.as_str());
    assert_eq!(event["region"], Config::default().region.as_str());
    let shaped: Vec<Value> = drain(&mut s, "shaped")
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("json"))
        .collect();
    assert_eq!(
        shaped,
        [
            json!({"slot": "2026-11-23T00:05:00Z", "rule": "every-5"}),
            json!({"slot": "2026-11-23T00:10:00Z", "rule": "every-5"})
        ]
    );
    assert!(drain(&mut s, "other").is_empty(), "not routed by pattern");

    // Nothing fires twice.
    assert!(s.fire_due_schedules().expect("fire").is_empty());
}

#[test]
fn a_restart_neither_loses_nor_repeats_a_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    let q = s.put_queue(&QueueSpec::new("ticks")).expect("queue");
    scheduled(
        &mut s,
        "hourly",
        "cron(0 * * * ? *)",
        &[TargetSpec::new("q", &q)],
    );
    clock.advance_ms(61 * MIN);
    s.fire_due_schedules().expect("fire");
    drop(s);

    // Down for three hours; the slots missed meanwhile fire on the next call, in order.
    clock.advance_ms(3 * 60 * MIN);
    let mut s = open(dir.path(), &clock);
    s.fire_due_schedules().expect("fire");
    drop(s);
    let mut s = open(dir.path(), &clock);
    s.fire_due_schedules().expect("fire again");
    assert_eq!(
        times(&drain(&mut s, "ticks")),
        [
            "2026-11-23T01:00:00Z",
            "2026-11-23T02:00:00Z",
            "2026-11-23T03:00:00Z",
            "2026-11-23T04:00:00Z"
        ]
    );
}

#[test]
fn cron_month_ends_and_a_changed_schedule_counts_from_the_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    let q = s.put_queue(&QueueSpec::new("ticks")).expect("queue");
    scheduled(
        &mut s,
        "month-end",
        "cron(30 23 L * ? *)",
        &[TargetSpec::new("q", &q)],
    );
    // Re-putting the same schedule (an apply with no change) keeps its progress.
    scheduled(
        &mut s,
        "month-end",
        "cron(30 23 L * ? *)",
        &[TargetSpec::new("q", &q)],
    );
    clock.advance_ms(70 * 24 * 60 * MIN); // to 2027-02-01
    s.fire_due_schedules().expect("fire");
    assert_eq!(
        times(&drain(&mut s, "ticks")),
        [
            "2026-11-30T23:30:00Z",
            "2026-12-31T23:30:00Z",
            "2027-01-31T23:30:00Z"
        ]
    );
    // A new expression starts from now: nothing before the change is fired.
    scheduled(
        &mut s,
        "month-end",
        "cron(0 12 ? * 2#1 *)",
        &[TargetSpec::new("q", &q)],
    );
    clock.advance_ms(40 * 24 * 60 * MIN); // to 2027-03-13
    s.fire_due_schedules().expect("fire");
    assert_eq!(
        times(&drain(&mut s, "ticks")),
        ["2027-02-01T12:00:00Z", "2027-03-01T12:00:00Z"]
    );
}

/// A store on a stopped clock at NOW whose rate rule `r` (every minute, into `ticks`) was
/// just disabled, and the rule.
fn with_disabled_rule(dir: &std::path::Path, clock: &Clock) -> (Store, RuleSpec) {
    let mut s = open(dir, clock);
    let q = s.put_queue(&QueueSpec::new("ticks")).expect("queue");
    scheduled(&mut s, "r", "rate(1 minute)", &[TargetSpec::new("q", &q)]);
    let mut rule = s.list_rules(Some("default")).expect("rules").remove(0);
    rule.state = RuleState::Disabled;
    s.put_rule(&rule).expect("disable");
    (s, rule)
}

/// A rule disabled at NOW for ten minutes (ticking meanwhile or not), enabled, and two
/// minutes later fired: only the two slots after it was enabled.
fn disabled_for_ten_minutes(tick_while_disabled: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let (mut s, mut rule) = with_disabled_rule(dir.path(), &clock);
    clock.advance_ms(10 * MIN);
    if tick_while_disabled {
        assert!(s.fire_due_schedules().expect("fire").is_empty());
    }
    rule.state = RuleState::Enabled;
    s.put_rule(&rule).expect("enable");
    clock.advance_ms(2 * MIN);
    s.fire_due_schedules().expect("fire");
    assert_eq!(
        times(&drain(&mut s, "ticks")),
        ["2026-11-23T00:11:00Z", "2026-11-23T00:12:00Z"]
    );
}

#[test]
fn a_disabled_rule_fires_nothing_and_does_not_make_up_slots() {
    disabled_for_ten_minutes(true);
}

/// Nothing ran while it was disabled (`bridge dev` was stopped, say).
#[test]
fn a_rule_enabled_again_does_not_make_up_slots_no_tick_saw_it_skip() {
    disabled_for_ten_minutes(false);
}

#[test]
fn a_disabled_rule_writes_nothing_on_its_ticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let (s, _) = with_disabled_rule(dir.path(), &clock);
    let writer = GroupCommit::new(s).expect("writer");
    for _ in 0..5 {
        clock.advance_ms(MIN);
        let fired = writer.write(|w| w.fire_due_schedules()).expect("fire");
        assert!(fired.is_empty());
    }
    // No row changed, so no tick waited for (or caused) an fsync of the WAL.
    assert_eq!(writer.stats().syncs, 0);
    let mut s = writer.into_store().expect("store");
    assert!(drain(&mut s, "ticks").is_empty());
}

#[test]
fn invalid_scheduled_rules_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(dir.path(), &Clock::manual(NOW));
    s.put_bus("orders").expect("bus");
    let rule = |bus: &str, expr: &str| RuleSpec {
        bus: bus.into(),
        name: "r".into(),
        pattern: None,
        schedule: Some(expr.into()),
        state: RuleState::Enabled,
        description: None,
    };
    let e = s
        .put_rule(&rule("default", "rate(1 minutes)"))
        .expect_err("plural");
    assert!(e.to_string().contains("unit must be singular"), "{e}");
    let e = s
        .put_rule(&rule("orders", "rate(1 minute)"))
        .expect_err("bus");
    assert!(e.to_string().contains("default event bus"), "{e}");
}

#[test]
fn a_state_from_before_schedules_opens_and_keeps_its_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);
    s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "old".into(),
        pattern: Some(r#"{"source": ["x"]}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    let db = s.database_path();
    drop(s);
    // Turn it back into a version-2 state, as written before scheduled rules (and what later
    // migrations added: bus grants, topic display names, archives, the console's records,
    // `dev --serve`'s resources and object metadata, the grouped in-flight index, the
    // activity's `body_is_envelope`, the queues and messages of schemas 11 and 12, and the activity's
    // `event_row` of schema 13).
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    conn.execute_batch(
        "DROP TABLE messages;
         DROP TABLE queues;
         CREATE TABLE queues (
             name TEXT PRIMARY KEY,
             fifo INTEGER NOT NULL,
             visibility_timeout INTEGER NOT NULL,
             delay_seconds INTEGER NOT NULL,
             retention_seconds INTEGER NOT NULL,
             dlq_arn TEXT,
             max_receive_count INTEGER,
             content_based_dedup INTEGER NOT NULL,
             policy TEXT,
             created_ms INTEGER NOT NULL
         );
         CREATE TABLE messages (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
             message_id TEXT NOT NULL,
             body TEXT NOT NULL,
             message_attributes TEXT,
             group_id TEXT,
             dedup_id TEXT,
             sent_ms INTEGER NOT NULL,
             visible_at_ms INTEGER NOT NULL,
             receive_count INTEGER NOT NULL DEFAULT 0,
             first_receive_ms INTEGER,
             receipt TEXT
         );
         CREATE INDEX messages_by_queue ON messages(queue, visible_at_ms, id);
         CREATE UNIQUE INDEX messages_by_receipt ON messages(receipt) WHERE receipt IS NOT NULL;
         CREATE INDEX messages_in_order ON messages(queue, id);
         DROP TRIGGER served_rule_gone;
         DROP TRIGGER object_metadata_gone;
         DROP TRIGGER object_metadata_replaced;
         DROP TABLE served_resources;
         DROP TABLE object_metadata;
         ALTER TABLE activity DROP COLUMN event_row;
         ALTER TABLE activity DROP COLUMN body_is_envelope;
         DROP TABLE bus_events;
         ALTER TABLE activity DROP COLUMN body;
         ALTER TABLE topics DROP COLUMN display_name;
         DROP TABLE bus_grants;
         DROP TABLE replays;
         DROP TABLE archived_events;
         DROP TABLE archives;
         ALTER TABLE rules DROP COLUMN schedule;
         ALTER TABLE rules DROP COLUMN schedule_anchor_ms;
         ALTER TABLE rules DROP COLUMN last_fired_ms;
         PRAGMA user_version = 2;",
    )
    .expect("downgrade");
    drop(conn);
    let mut s = open(dir.path(), &clock);
    let rules = s.list_rules(None).expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].pattern.as_deref(), Some(r#"{"source": ["x"]}"#));
    assert_eq!(rules[0].schedule, None);
    assert!(s.fire_due_schedules().expect("fire").is_empty());
}
