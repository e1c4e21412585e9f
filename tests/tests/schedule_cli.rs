//! Scheduled rules through the binary: `bridge schedule next`, `plan`/`apply --local` and
//! `bridge dev` firing due slots into the rule's queue.

use crate::support;

use std::path::Path;
use std::process::Command;

use infra::local::{Clock, Config, ReceiveRequest, RuleState, Store};
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

fn project(dir: &Path, schedule: &str) {
    std::fs::write(
        dir.join("bridge.json"),
        r#"{"stack": "sched", "queues": [{"name": "ticks"}]}"#,
    )
    .expect("bridge.json");
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::write(
        dir.join("rules/tick.json"),
        format!(r#"{{"schedule": "{schedule}", "targets": [{{"id": "q", "queue": "ticks"}}]}}"#),
    )
    .expect("rule");
    std::fs::write(
        dir.join("rules/events.json"),
        r#"{"event_pattern": {"source": ["x"]}, "targets": [{"id": "q", "queue": "ticks"}]}"#,
    )
    .expect("rule");
}

#[test]
fn schedule_next_prints_utc_firing_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), "cron(0 4 L * ? *)");
    let p = dir.path().to_str().expect("utf-8");
    let (code, out, err) = run(
        &[
            "schedule",
            "next",
            "tick",
            "--project",
            p,
            "--count",
            "3",
            "--after",
            "2028-01-31T05:00:00Z",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "2028-02-29T04:00:00Z\n2028-03-31T04:00:00Z\n2028-04-30T04:00:00Z\n"
    );
    let (code, _, err) = run(&["schedule", "next", "events", "--project", p], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("it has no `schedule`"), "{err}");
    let (code, _, err) = run(&["schedule", "next", "nope", "--project", p], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("no rule `nope`"), "{err}");
}

#[test]
fn validate_prints_when_a_scheduled_rule_fires_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), "cron(0 4 1 1 ? 2199)");
    let (code, out, err) = run(
        &["validate", dir.path().to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("  rule tick: cron(0 4 1 1 ? 2199), next 2199-01-01T04:00:00Z\n"),
        "{out}"
    );
    assert!(!out.contains("rule events:"), "{out}");
}

#[test]
fn validate_reports_a_bad_schedule_with_file_path_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), "rate(5 minute)");
    let (code, _, err) = run(
        &["validate", dir.path().to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("tick.json: $.schedule: invalid schedule expression: `rate(5 minute)`: if the value is greater than 1, the unit must be plural (fix: write `rate(5 minutes)`)"),
        "{err}"
    );
}

#[test]
fn plan_and_apply_local_carry_the_schedule_and_dev_fires_due_slots() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), "rate(1 minute)");
    let p = dir.path().to_str().expect("utf-8");
    let state = dir.path().join("state");
    let s = state.to_str().expect("utf-8");
    let plan = ["plan", "--project", p, "--local", s, "--detailed-exitcode"];
    let (code, out, err) = run(&plan, dir.path());
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("create rule tick\n      schedule rate(1 minute) (UTC)"),
        "{out}"
    );
    let (code, out, err) = run(&["apply", "--project", p, "--local", s], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(&plan, dir.path());
    assert_eq!(code, 0, "{out}");

    project(dir.path(), "rate(2 minutes)");
    let (code, out, _) = run(&plan, dir.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("update rule tick: schedule\n      schedule rate(2 minutes) (UTC)"),
        "{out}"
    );

    // Move the rule's schedule 3.5 minutes into the past (as if it had been set then), with
    // the project's expression, so that `bridge dev` changes nothing and finds 3 due slots.
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 210_000;
    let mut store = Store::open_with(&state, Config::default(), Clock::manual(past)).expect("open");
    let mut rule = store
        .list_rules(Some("default"))
        .expect("rules")
        .into_iter()
        .find(|r| r.name == "tick")
        .expect("tick");
    assert_eq!(rule.state, RuleState::Enabled);
    // Two changes, ending where the state was: the anchor moves to `past`.
    rule.schedule = Some("rate(2 minutes)".into());
    store.put_rule(&rule).expect("rule");
    rule.schedule = Some("rate(1 minute)".into());
    store.put_rule(&rule).expect("rule");
    drop(store);
    project(dir.path(), "rate(1 minute)");

    let (code, out, err) = run(&["dev", "--project", p, "--local", s, "--once"], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let mut store = Store::open(&state).expect("open");
    let got = store
        .receive_messages(
            "ticks",
            ReceiveRequest {
                max_messages: 10,
                ..ReceiveRequest::default()
            },
        )
        .expect("receive");
    assert_eq!(got.len(), 3, "{out}");
    for m in &got {
        let event: Value = serde_json::from_str(&m.body).expect("json");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert!(
            event["resources"][0]
                .as_str()
                .is_some_and(|a| a.ends_with(":rule/tick")),
            "{event}"
        );
    }
}
