//! Event buses as targets and bus grants through the binary, on the local backend: a
//! forwarding rule re-enters routing on the target bus with the event's own id, a loop back
//! is stopped after one hop (as EventBridge does) and reported to the target's dead-letter
//! queue, and `put-event --local --account` is refused unless the bus grants that account.

use crate::support;

use std::path::Path;
use std::process::Command;

use infra::local::{ReceiveRequest, ReceivedMessage, Store};
use serde_json::Value;
use support::bridge_bin;

fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(bridge_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run bridge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ROLE: &str = "arn:aws:iam::000000000000:role/forward";

/// `orders` forwards to `audit`; `audit` forwards back to `orders` (a loop), with a
/// dead-letter queue that receives what EventBridge refuses to forward.
fn project(dir: &Path, grants: &str) {
    std::fs::write(
        dir.join("bridge.json"),
        format!(
            r#"{{"stack": "fwd", "bus": "orders",
                "queues": [{{"name": "orders-seen"}}, {{"name": "audit-seen"}}, {{"name": "audit-dlq"}}],
                "buses": [{{"name": "orders", "allow_put_events_from": [{grants}]}}, {{"name": "audit"}}]}}"#
        ),
    )
    .expect("bridge.json");
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::write(
        dir.join("rules/forward.json"),
        format!(
            r#"{{"event_pattern": {{"source": ["shop"]}}, "targets": [
                {{"id": "to-audit", "bus": "audit", "role_arn": "{ROLE}"}},
                {{"id": "q", "queue": "orders-seen"}}]}}"#
        ),
    )
    .expect("rule");
    std::fs::write(
        dir.join("rules/audit-log.json"),
        format!(
            r#"{{"bus": "audit", "event_pattern": {{"source": ["shop"]}}, "targets": [
                {{"id": "q", "queue": "audit-seen"}},
                {{"id": "back", "bus": "orders", "role_arn": "{ROLE}", "dead_letter_queue": "audit-dlq"}}]}}"#
        ),
    )
    .expect("rule");
}

fn drain(state: &Path, queue: &str) -> Vec<ReceivedMessage> {
    let mut store = Store::open(state).expect("open");
    store
        .receive_messages(
            queue,
            ReceiveRequest {
                max_messages: 10,
                ..ReceiveRequest::default()
            },
        )
        .expect("receive")
}

fn body(m: &ReceivedMessage) -> Value {
    serde_json::from_str(&m.body).expect("json")
}

#[test]
fn forwarding_reenters_routing_once_and_grants_decide_who_may_put_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), r#""111122223333""#);
    let p = dir.path().to_str().expect("utf-8");
    let state = dir.path().join("state");
    let s = state.to_str().expect("utf-8");

    let plan = ["plan", "--project", p, "--local", s, "--detailed-exitcode"];
    let (code, out, err) = run(&plan, dir.path());
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("create event bus audit"), "{out}");
    assert!(
        out.contains(
            "policy of event bus orders: allow events:PutEvents only from (other statements kept)\n      account 111122223333"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("add to-audit -> event bus audit as role {ROLE}")),
        "{out}"
    );
    let (code, out, err) = run(&["apply", "--project", p, "--local", s], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&plan, dir.path());
    assert_eq!(code, 0, "a second plan is empty: {out}{err}");

    // The local account puts an event on `orders`.
    let put = |account: Option<&str>, bus: &str| {
        let mut args = vec![
            "put-event",
            "--local",
            s,
            "--bus",
            bus,
            "--source",
            "shop",
            "--detail-type",
            "order",
            "--detail",
            "{}",
        ];
        if let Some(a) = account {
            args.extend(["--account", a]);
        }
        run(&args, dir.path())
    };
    let (code, out, err) = put(None, "orders");
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    let seen = drain(&state, "orders-seen");
    assert_eq!(
        seen.len(),
        1,
        "delivered once on orders, never looped back: {err}"
    );
    assert_eq!(body(&seen[0])["id"], id.as_str());
    // Forwarded to audit: the same event, same id, routed by audit's rules.
    let audited = drain(&state, "audit-seen");
    assert_eq!(audited.len(), 1, "{err}");
    assert_eq!(body(&audited[0]), body(&seen[0]));
    // audit's rule forwards back to orders: refused after one hop, as on AWS, and sent to
    // that target's dead-letter queue with the reason.
    let dlq = drain(&state, "audit-dlq");
    assert_eq!(dlq.len(), 1, "{err}");
    assert_eq!(
        dlq[0].message_attributes["ERROR_CODE"].string_value,
        "THIRD_ACCOUNT_HOP_DETECTED"
    );
    assert!(err.contains("THIRD_ACCOUNT_HOP_DETECTED"), "{err}");

    // Another account: refused unless the bus grants it.
    let (code, out, err) = put(Some("222222222222"), "orders");
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("account 222222222222 is not authorized to perform events:PutEvents on event bus orders"),
        "{err}"
    );
    assert!(err.contains("allow_put_events_from"), "{err}");
    assert!(drain(&state, "orders-seen").is_empty());
    let (code, _, err) = put(Some("111122223333"), "audit");
    assert_ne!(code, 0, "audit grants nobody: {err}");
    let (code, _, err) = put(Some("111122223333"), "orders");
    assert_eq!(code, 0, "{err}");
    let seen = drain(&state, "orders-seen");
    assert_eq!(seen.len(), 1);
    assert_eq!(body(&seen[0])["account"], "111122223333");
    let (code, _, err) = put(Some("12345"), "orders");
    assert_ne!(code, 0);
    assert!(err.contains("12 digits"), "{err}");

    // Revoking the grant: the plan says so, and the account is refused again.
    project(dir.path(), "");
    let (code, out, _) = run(&plan, dir.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("policy of event bus orders: remove bridge's events:PutEvents statements"),
        "{out}"
    );
    let (code, out, err) = run(&["apply", "--project", p, "--local", s], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, _) = put(Some("111122223333"), "orders");
    assert_ne!(code, 0);
}

#[test]
fn validate_reports_a_forward_without_role_and_a_wildcard_grant() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), r#""*""#);
    std::fs::write(
        dir.path().join("rules/forward.json"),
        r#"{"event_pattern": {"source": ["shop"]}, "targets": [{"id": "to-audit", "bus": "audit"}]}"#,
    )
    .expect("rule");
    let (code, _, err) = run(
        &["validate", dir.path().to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("bridge.json: $.buses[0].allow_put_events_from[0]: `*` would let every AWS account put events on this bus (fix: name the accounts, or grant an organization"),
        "{err}"
    );
    assert!(
        err.contains("forward.json: $.targets[0].role_arn: EventBridge puts events on another bus of the same account only with an IAM role"),
        "{err}"
    );
}

/// `examples/rule-model` validates and plans on the local backend: the schedule, the
/// declared bus, the grant on `default` and both forwards, the cross-account one by account.
#[test]
fn the_rule_model_example_validates_and_plans_locally() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rule-model");
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = example.to_str().expect("utf-8");
    let (code, out, err) = run(&["validate", ex], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("rule nightly-report: cron(0 2 * * ? *)"),
        "{out}"
    );
    let state = dir.path().join("state");
    let (code, out, err) = run(
        &[
            "plan",
            "--project",
            ex,
            "--local",
            state.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    for wanted in [
        "create event bus order-audit",
        "policy of event bus default: allow events:PutEvents only from (other statements kept)\n      account 111122223333",
        "schedule cron(0 2 * * ? *) (UTC)",
        "add to-audit -> event bus order-audit as role arn:aws:iam::123456789012:role/rule-model-forward",
        "add to-central -> event bus central in account 222233334444, region us-east-1",
        "create archive rule-model-orders\n      pattern {\"source\":[\"com.example.orders\"]}\n      retention: 30 days",
    ] {
        assert!(out.contains(wanted), "{wanted:?} in\n{out}");
    }
}
