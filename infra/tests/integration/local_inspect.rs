//! The local console's reads (`infra::local::inspect`): an event with its envelope, matched
//! rules and delivered bodies; the outbox; pruning.

use crate::local_support;

use infra::local::{
    InputTransformer, PutEventsEntry, QueueSpec, ReceiveRequest, Store, SubscriptionSpec,
    TargetSpec, TopicSpec,
};
use local_support::{drain, rule, store};
use serde_json::Value;

fn put(s: &mut Store, detail: &str) -> String {
    let out = s
        .put_events(&[PutEventsEntry::new("com.example", "order", detail)])
        .expect("put");
    out.entries[0].event_id.clone().expect("accepted")
}

#[test]
fn an_event_opens_with_its_envelope_rules_and_each_targets_body() {
    let (_d, mut s) = store();
    let q = s.put_queue(&QueueSpec::new("orders")).expect("queue");
    let t = s.put_topic(&TopicSpec::new("alerts")).expect("topic");
    let mirror = s.put_queue(&QueueSpec::new("mirror")).expect("queue");
    s.subscribe(&SubscriptionSpec::new(&t, "sqs", &mirror))
        .expect("subscribe");
    let mut transformed = TargetSpec::new("alert", t.clone());
    transformed.input_transformer = Some(InputTransformer {
        input_paths_map: [("n".to_string(), "$.detail.n".to_string())].into(),
        input_template: "\"order <n>\"".into(),
    });
    rule(
        &mut s,
        "orders",
        r#"{"source": ["com.example"]}"#,
        &[TargetSpec::new("q", q.clone()), transformed],
    );
    rule(&mut s, "never", r#"{"source": ["other"]}"#, &[]);

    let id = put(&mut s, r#"{"n": 7}"#);
    let record = s.event_record(&id).expect("read").expect("recorded");
    assert_eq!(record.bus.as_deref(), Some("default"));
    let envelope: Value =
        serde_json::from_str(record.envelope.as_deref().expect("envelope")).expect("JSON");
    assert_eq!(envelope["id"], id.as_str());
    assert_eq!(envelope["detail"]["n"], 7);
    let rules: Vec<(&str, &str)> = record
        .deliveries
        .iter()
        .map(|d| (d.activity.origin.as_str(), d.activity.target.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("rule default/orders", t.as_str()),
            ("rule default/orders", q.as_str())
        ],
        "in target id order, as delivered"
    );
    // The queue got the event; the topic got the transformer's output.
    let to_queue = record.deliveries[1].body.as_deref().expect("body");
    assert_eq!(
        serde_json::from_str::<Value>(to_queue).expect("JSON"),
        envelope
    );
    assert_eq!(record.deliveries[0].body.as_deref(), Some("\"order 7\""));
    let got = s
        .receive_messages("orders", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(
        got[0].body, to_queue,
        "the recorded body is what the queue holds"
    );

    // The topic's fan-out is recorded under its SNS message id, with the envelope it sent.
    let fanout = s
        .activity_since(0, 100)
        .expect("activity")
        .into_iter()
        .find(|a| a.origin.starts_with("topic "))
        .expect("fan-out row");
    let sns = s
        .event_record(&fanout.message_id)
        .expect("read")
        .expect("recorded");
    assert_eq!(sns.bus, None);
    let body: Value =
        serde_json::from_str(sns.deliveries[0].body.as_deref().expect("body")).expect("JSON");
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["Message"], "\"order 7\"");

    // An event no rule matched still opens, with no deliveries.
    let out = s
        .put_events(&[PutEventsEntry::new("nobody", "x", "{}")])
        .expect("put");
    let unmatched = s.activity_since(0, 100).expect("activity").len();
    assert_eq!(unmatched, 3, "an unmatched event makes no activity");
    let id = out.entries[0].event_id.clone().expect("accepted");
    let record = s.event_record(&id).expect("read").expect("recorded");
    assert_eq!(record.bus.as_deref(), Some("default"));
    assert!(record.envelope.expect("envelope").contains(&id));
    assert!(record.deliveries.is_empty());
    assert!(s.event_record("no-such-id").expect("read").is_none());
}

/// An event forwarded to another bus is recorded once, as it entered the first bus; the
/// deliveries on both buses show that envelope.
#[test]
fn a_forwarded_event_opens_with_the_envelope_of_its_first_bus() {
    let (_d, mut s) = store();
    s.put_bus("audit").expect("bus");
    let q = s.put_queue(&QueueSpec::new("audited")).expect("queue");
    let audit = "arn:aws:events:us-east-1:000000000000:event-bus/audit";
    rule(
        &mut s,
        "forward",
        r#"{"source": ["com.example"]}"#,
        &[TargetSpec::new("audit", audit)],
    );
    s.put_rule(&infra::local::RuleSpec {
        bus: "audit".into(),
        name: "keep".into(),
        pattern: Some(r#"{"source": ["com.example"]}"#.into()),
        schedule: None,
        state: infra::local::RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    s.put_targets("audit", "keep", &[TargetSpec::new("q", q.clone())])
        .expect("targets");

    let id = put(&mut s, r#"{"n": 1}"#);
    let record = s.event_record(&id).expect("read").expect("recorded");
    assert_eq!(record.bus.as_deref(), Some("default"));
    let envelope = record.envelope.expect("envelope");
    let routes: Vec<_> = record
        .deliveries
        .iter()
        .map(|d| {
            (
                d.activity.origin.as_str(),
                d.activity.target.as_str(),
                d.activity.outcome.as_str(),
                d.body.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            (
                "rule audit/keep",
                q.as_str(),
                "delivered",
                Some(envelope.as_str())
            ),
            (
                "rule default/forward",
                audit,
                "delivered",
                Some(envelope.as_str())
            ),
        ],
        "the forwarded hop delivers before the forward's own row is written"
    );
    let conn = rusqlite::Connection::open(s.database_path()).expect("sqlite");
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM bus_events WHERE event_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(rows, 1, "one envelope per event");
}

#[test]
fn the_outbox_lists_mails_newest_first() {
    let (_d, mut s) = store();
    assert!(s.outbox_mails(10).expect("outbox").is_empty());
    let t = s.put_topic(&TopicSpec::new("mail")).expect("topic");
    s.subscribe(&SubscriptionSpec::new(&t, "email", "ops@example.com"))
        .expect("subscribe");
    s.publish(&t, &infra::local::PublishRequest::message("hello"))
        .expect("publish");
    std::fs::write(s.outbox_dir().join("notes.txt"), "not a mail").expect("write");
    let mails = s.outbox_mails(10).expect("outbox");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].file.ends_with(".eml"));
    assert!(mails[0].content.contains("To: ops@example.com"));
    assert!(mails[0].content.contains("hello"));
}

/// Five events `{"n": 0}` … `{"n": 4}`, each delivered to the queue `q` as its envelope;
/// their ids.
fn five_events_in_a_queue(s: &mut Store) -> Vec<String> {
    let q = s.put_queue(&QueueSpec::new("q")).expect("queue");
    rule(
        s,
        "all",
        r#"{"source": ["com.example"]}"#,
        &[TargetSpec::new("q", q)],
    );
    (0..5).map(|n| put(s, &format!("{{\"n\": {n}}}"))).collect()
}

/// After `prune_activity(2)`: the console opens only the newest two of `ids`.
fn only_the_newest_two_open(s: &mut Store, ids: &[String]) {
    for (n, id) in ids.iter().enumerate() {
        let kept = s.event_record(id).expect("read").is_some();
        assert_eq!(kept, n >= 3, "event {n}");
    }
}

#[test]
fn pruning_keeps_the_newest_envelopes() {
    let (_d, mut s) = store();
    let ids = five_events_in_a_queue(&mut s);
    // The messages are consumed: no envelope is a waiting message's body any more.
    assert_eq!(drain(&mut s, "q").len(), 5);
    s.prune_activity(2).expect("prune");
    only_the_newest_two_open(&mut s, &ids);
}

/// A message whose body is its event's envelope names the envelope's row instead of copying
/// it: pruning the console's envelopes must keep those of messages still waiting, and a peek
/// and a receive must hand out the envelope, not the empty placeholder.
#[test]
fn pruning_keeps_the_envelope_a_waiting_message_is() {
    let (_d, mut s) = store();
    let ids = five_events_in_a_queue(&mut s);
    s.prune_activity(2).expect("prune");
    let peeked = s.peek_messages("q", 10).expect("peek");
    let received = drain(&mut s, "q");
    assert_eq!(peeked.messages.len(), 5);
    assert_eq!(received.len(), 5);
    for (n, id) in ids.iter().enumerate() {
        for body in [&peeked.messages[n].body, &received[n].body] {
            let envelope: Value = serde_json::from_str(body).expect("an envelope");
            assert_eq!(envelope["id"], id.as_str(), "message {n}");
            assert_eq!(envelope["detail"]["n"], n, "message {n}");
        }
    }
    // Consumed, the old envelopes go at the next prune.
    s.prune_activity(2).expect("prune");
    only_the_newest_two_open(&mut s, &ids);
}
