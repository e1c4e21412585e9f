//! A state written by schema version 10 (its migrations, then rows in that schema's shape, as
//! the code of that version wrote them) opens under the current schema with its messages,
//! receipts, activity and event envelopes.

use rusqlite::Connection;

use super::{record_activity, Config, Store, DATABASE_FILE, MIGRATIONS};
use crate::local::{Clock, LocalError, MessageState, ReceiveRequest, SendRequest};

const NOW: i64 = 1_700_000_000_000;

/// Receipt handles handed out by version 10: `<row id>:<UUID>`.
const IN_FLIGHT: &str = "2:01890a5d-ac96-774b-bcce-b302099a8057";
const FIFO_IN_FLIGHT: &str = "4:01890a5d-ac96-774b-bcce-b302099a8058";

/// Writes a version-10 state into `dir`: queue `q` (a visible, an in-flight and a delayed
/// message), FIFO queue `f.fifo` (group `g` blocked by an in-flight message, group `h`
/// visible), a message deleted after the newest (so the row-id counter is ahead of the rows),
/// three activity rows (the first pruned) and an event envelope.
fn version_10_state(dir: &std::path::Path) {
    let conn = Connection::open(dir.join(DATABASE_FILE)).expect("sqlite");
    for sql in &MIGRATIONS[..10] {
        conn.execute_batch(sql).expect("migration up to 10");
    }
    conn.pragma_update(None, "user_version", 10)
        .expect("version");
    conn.execute_batch(&format!(
        "INSERT INTO queues VALUES ('q', 0, 30, 0, 345600, NULL, NULL, 0, NULL, 0);
         INSERT INTO queues VALUES ('f.fifo', 1, 30, 0, 345600, NULL, NULL, 1, NULL, 0);
         INSERT INTO messages (id, queue, message_id, body, message_attributes, group_id,
                               dedup_id, sent_ms, visible_at_ms, receive_count,
                               first_receive_ms, receipt) VALUES
           (1, 'q', 'm-visible', 'visible body', NULL, NULL, NULL, {old}, {old}, 0, NULL, NULL),
           (2, 'q', 'm-in-flight', 'in-flight body',
            '{{\"k\":{{\"DataType\":\"String\",\"StringValue\":\"v\"}}}}', NULL, NULL,
            {old}, {later}, 1, {first}, '{IN_FLIGHT}'),
           (3, 'q', 'm-delayed', 'delayed body', NULL, NULL, NULL, {old}, {delayed}, 0, NULL,
            NULL),
           (4, 'f.fifo', 'm-g1', 'g1', NULL, 'g', 'd1', {old}, {later}, 2, {first},
            '{FIFO_IN_FLIGHT}'),
           (5, 'f.fifo', 'm-g2', 'g2', NULL, 'g', 'd2', {old}, {old}, 0, NULL, NULL),
           (6, 'f.fifo', 'm-h1', 'h1', NULL, 'h', 'd3', {old}, {old}, 0, NULL, NULL),
           (7, 'q', 'm-gone', 'deleted', NULL, NULL, NULL, {old}, {old}, 0, NULL, NULL);
         DELETE FROM messages WHERE id = 7;
         INSERT INTO activity (at_ms, message_id, origin, target, outcome, body,
                               body_is_envelope) VALUES
           ({old}, 'e-0', 'rule default/r', 'arn:q', 'delivered', NULL, 1),
           ({old}, 'e-1', 'rule default/r', 'arn:q', 'delivered', NULL, 1),
           ({old}, 'e-2', 'rule default/r', 'arn:q', 'delivered', 'the body', 0);
         DELETE FROM activity WHERE id = 1;
         INSERT INTO bus_events VALUES ('e-1', {old}, 'default', '{{\"id\":\"e-1\"}}');",
        old = NOW - 10_000,
        first = NOW - 5_000,
        later = NOW + 20_000,
        delayed = NOW + 60_000,
    ))
    .expect("version-10 rows");
}

fn open(dir: &std::path::Path, clock: &Clock) -> Store {
    Store::open_with(dir, Config::default(), clock.clone()).expect("open and migrate")
}

#[test]
fn a_version_10_state_keeps_its_messages_receipts_and_activity() {
    let dir = tempfile::tempdir().expect("tempdir");
    version_10_state(dir.path());
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);

    let counts = s.queue_counts("q").expect("counts");
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (1, 1, 1)
    );
    let peek = s.peek_messages("q", 10).expect("peek");
    let states: Vec<_> = peek
        .messages
        .iter()
        .map(|m| (m.message_id.as_str(), m.state, m.receive_count))
        .collect();
    assert_eq!(
        states,
        [
            ("m-visible", MessageState::Visible, 0),
            ("m-in-flight", MessageState::InFlight, 1),
            ("m-delayed", MessageState::Delayed, 0),
        ]
    );
    assert_eq!(peek.messages[1].message_attributes["k"].string_value, "v");
    // Rows from before migration 13 → 14 name no envelope: each keeps its own body.
    let bodies: Vec<_> = peek.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["visible body", "in-flight body", "delayed body"]);

    // A receipt handed out before the migration still works, and only the newest one does.
    assert!(matches!(
        s.change_visibility("q", "2:01890a5d-ac96-774b-bcce-b30209900000", 0),
        Err(LocalError::InvalidReceipt(_))
    ));
    s.change_visibility("q", IN_FLIGHT, 60)
        .expect("old receipt changes visibility");
    s.delete_message("q", IN_FLIGHT)
        .expect("old receipt deletes");
    assert!(matches!(
        s.delete_message("q", IN_FLIGHT),
        Err(LocalError::InvalidReceipt(_))
    ));

    // The visible message is received for the first time; the delayed one is not yet.
    let got = s
        .receive_messages("q", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, "m-visible");
    assert_eq!(got[0].body, "visible body");
    assert_eq!(got[0].receive_count(), 1);
    assert_eq!(
        got[0].attributes["ApproximateFirstReceiveTimestamp"],
        NOW.to_string()
    );
    assert_eq!(
        got[0].attributes["SentTimestamp"],
        (NOW - 10_000).to_string()
    );
    s.delete_message("q", &got[0].receipt_handle)
        .expect("new receipt deletes");

    // FIFO: group g stays blocked by its in-flight message; h is handed out.
    let got = s
        .receive_messages("f.fifo", ReceiveRequest::default())
        .expect("receive fifo");
    let ids: Vec<_> = got.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["m-h1"]);
    // Once its visibility ends, the in-flight message comes back with its count and first
    // receive kept, ahead of the rest of its group.
    clock.advance_ms(21_000);
    let got = s
        .receive_messages("f.fifo", ReceiveRequest::default())
        .expect("receive fifo again");
    let ids: Vec<_> = got.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["m-g1", "m-g2"]);
    assert_eq!(got[0].receive_count(), 3);
    assert_eq!(
        got[0].attributes["ApproximateFirstReceiveTimestamp"],
        (NOW - 5_000).to_string()
    );
    assert_eq!(got[0].attributes["SequenceNumber"], format!("{:020}", 4));
    assert!(matches!(
        s.delete_message("f.fifo", FIFO_IN_FLIGHT),
        Err(LocalError::InvalidReceipt(_))
    ));
    for m in &got {
        s.delete_message("f.fifo", &m.receipt_handle)
            .expect("delete");
    }

    // Row ids continue after the newest ever used (7), not after the newest kept.
    s.send_message(
        "f.fifo",
        &SendRequest {
            group_id: Some("g".into()),
            dedup_id: Some("d9".into()),
            ..SendRequest::body("after")
        },
    )
    .expect("send");
    let got = s
        .receive_messages("f.fifo", ReceiveRequest::default())
        .expect("receive the new one");
    assert_eq!(got[0].body, "after");
    assert_eq!(got[0].attributes["SequenceNumber"], format!("{:020}", 8));

    // Activity keeps its ids (the console reads it in id order), and new rows follow them.
    let activity = s.activity_since(0, 10).expect("activity");
    let ids: Vec<_> = activity
        .iter()
        .map(|a| (a.id, a.message_id.as_str()))
        .collect();
    assert_eq!(ids, [(2, "e-1"), (3, "e-2")]);
    let record = s.event_record("e-1").expect("record").expect("kept");
    assert_eq!(record.envelope.as_deref(), Some(r#"{"id":"e-1"}"#));
    assert_eq!(
        record.deliveries[0].body.as_deref(),
        Some(r#"{"id":"e-1"}"#)
    );
    let record = s.event_record("e-2").expect("record").expect("kept");
    assert_eq!(record.deliveries[0].body.as_deref(), Some("the body"));
    let add_activity = |s: &mut Store, id: &str| {
        s.write(|tx, ctx| record_activity(tx, ctx, id, "rule default/r", "arn:q", "delivered"))
            .expect("record activity");
    };
    add_activity(&mut s, "e-3");
    // Pruning everything still keeps the newest row, so the next id follows it.
    s.prune_activity(0).expect("prune");
    add_activity(&mut s, "e-4");
    let ids: Vec<_> = s
        .activity_since(0, 10)
        .expect("activity")
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, [4, 5]);
}

/// Writes a version-11 state into `dir`: envelopes in `bus_events` keyed by event id (`e-1`,
/// delivered twice as its envelope; `e-2`, which no rule matched, on bus `orders`; `e-3`,
/// delivered transformed) and activity naming them by id only (`e-0`'s envelope pruned, an
/// SNS message's fan-out).
fn version_11_state(dir: &std::path::Path) {
    let conn = Connection::open(dir.join(DATABASE_FILE)).expect("sqlite");
    for sql in &MIGRATIONS[..11] {
        conn.execute_batch(sql).expect("migration up to 11");
    }
    conn.pragma_update(None, "user_version", 11)
        .expect("version");
    conn.execute_batch(&format!(
        "INSERT INTO activity (id, at_ms, message_id, origin, target, outcome, body,
                               body_is_envelope) VALUES
           (5, {old}, 'e-0', 'rule default/r', 'arn:q', 'delivered', NULL, 1),
           (6, {old}, 'e-1', 'rule default/r', 'arn:q', 'delivered', NULL, 1),
           (7, {old}, 'e-1', 'rule default/r', 'arn:q2', 'delivered', NULL, 1),
           (8, {old}, 'e-3', 'rule default/t', 'arn:t', 'delivered', 'the body', 0),
           (9, {old}, 'sns-1', 'topic arn:t', 'arn:q', 'delivered', 'notification', 0);
         INSERT INTO bus_events (rowid, event_id, at_ms, bus, envelope) VALUES
           (3, 'e-1', {old}, 'default', '{{\"id\":\"e-1\"}}'),
           (4, 'e-2', {old}, 'orders', '{{\"id\":\"e-2\"}}'),
           (5, 'e-3', {old}, 'default', '{{\"id\":\"e-3\"}}');",
        old = NOW - 10_000,
    ))
    .expect("version-11 rows");
}

#[test]
fn a_version_11_state_keeps_its_envelopes_and_activity() {
    let dir = tempfile::tempdir().expect("tempdir");
    version_11_state(dir.path());
    let clock = Clock::manual(NOW);
    let mut s = open(dir.path(), &clock);

    let ids: Vec<_> = s
        .activity_since(0, 10)
        .expect("activity")
        .iter()
        .map(|a| (a.id, a.message_id.clone()))
        .collect();
    assert_eq!(
        ids,
        [(5, "e-0"), (6, "e-1"), (7, "e-1"), (8, "e-3"), (9, "sns-1")]
            .map(|(id, m)| (id, m.to_string()))
    );
    let envelope = |s: &mut Store, id: &str| {
        let record = s.event_record(id).expect("record").expect("kept");
        let bodies: Vec<_> = record.deliveries.iter().map(|d| d.body.clone()).collect();
        (record.bus, record.envelope, bodies)
    };
    let e1 = Some(r#"{"id":"e-1"}"#.to_string());
    assert_eq!(
        envelope(&mut s, "e-1"),
        (Some("default".into()), e1.clone(), vec![e1.clone(), e1])
    );
    assert_eq!(
        envelope(&mut s, "e-2"),
        (
            Some("orders".into()),
            Some(r#"{"id":"e-2"}"#.into()),
            vec![]
        )
    );
    assert_eq!(
        envelope(&mut s, "e-3"),
        (
            Some("default".into()),
            Some(r#"{"id":"e-3"}"#.into()),
            vec![Some("the body".into())]
        )
    );
    assert_eq!(envelope(&mut s, "e-0"), (None, None, vec![None]));
    assert_eq!(
        envelope(&mut s, "sns-1"),
        (None, None, vec![Some("notification".into())])
    );

    // New envelopes follow the old ones: pruning to one keeps the new event's.
    let out = s
        .put_events(&[crate::local::PutEventsEntry::new("x", "y", "{}")])
        .expect("put");
    let new_id = out.entries[0].event_id.clone().expect("accepted");
    s.prune_activity(1).expect("prune");
    assert!(s.event_record("e-2").expect("record").is_none());
    let record = s.event_record(&new_id).expect("record").expect("kept");
    assert_eq!(record.bus.as_deref(), Some("default"));
    assert!(record.envelope.expect("envelope").contains(&new_id));
}
