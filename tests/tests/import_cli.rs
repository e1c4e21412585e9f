//! `bridge import` round trips against moto: a project applied by bridge, imported into a
//! fresh directory, plans no change; a set-up made with the raw SDK (foreign), imported
//! with `--adopt`, plans its adoption first, and after `apply` plans clean.

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;
use support::bridge_bin;
use support::moto::{client, create_queue, dummy_credentials, endpoint, text, unique};

fn bridge(endpoint: &str, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, dir)
        .args(args)
        .args(["--endpoint-url", endpoint])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run bridge")
}

fn write(path: &Path, value: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, serde_json::to_string_pretty(value).expect("json")).expect("write");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn an_applied_project_imports_into_files_that_plan_no_change() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let original = dir.path().join("original");
    let stack = unique("imp");
    let bus = format!("{stack}-bus");
    let (q, dlq, fifo, topic) = (
        format!("{stack}-q"),
        format!("{stack}-dlq"),
        format!("{stack}-f.fifo"),
        format!("{stack}-alerts"),
    );
    write(
        &original.join("bridge.json"),
        &json!({
            "stack": stack, "bus": bus,
            "queues": [
                { "name": dlq, "message_retention": 1_209_600 },
                { "name": q, "visibility_timeout": 60, "dead_letter": { "queue": dlq, "max_receive_count": 3 } },
                { "name": fifo, "fifo": true, "content_based_deduplication": true }
            ],
            "topics": [{ "name": topic, "display_name": "Alerts",
                         "subscriptions": [{ "protocol": "sqs", "endpoint": q, "raw_message_delivery": true }] }]
        }),
    );
    write(
        &original.join(format!("rules/{stack}-orders.json")),
        &json!({
            "description": "orders", "pattern_file": "../patterns/orders.json",
            "targets": [
                { "id": "q", "queue": q, "dead_letter_queue": dlq,
                  "retry_policy": { "maximum_retry_attempts": 3, "maximum_event_age_seconds": 600 } },
                { "id": "alerts", "topic": topic, "input_transformer": {
                    "input_paths_map": { "id": "$.detail.id" }, "input_template": "\"order <id>\"" } }
            ]
        }),
    );
    write(
        &original.join("patterns/orders.json"),
        &json!({ "source": ["shop"], "detail": { "total": [{ "numeric": [">", 100] }] } }),
    );
    write(
        &original.join(format!("rules/{stack}-fifo.json")),
        &json!({ "state": "DISABLED", "event_pattern": { "source": ["shop"] },
                  "targets": [{ "id": "f", "queue": fifo, "message_group_id": "orders", "input_path": "$.detail" }] }),
    );
    let out = bridge(
        &endpoint,
        dir.path(),
        &["apply", "--yes", "--project", path(&original)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let imported = dir.path().join("imported");
    let out = bridge(
        &endpoint,
        dir.path(),
        &["import", "--bus", &bus, "--dir", path(&imported)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "Imported 2 rule(s), 3 queue(s), 1 topic(s) from event bus {bus}"
        )),
        "{}",
        text(&out)
    );
    let project: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(imported.join("bridge.json")).expect("bridge.json"),
    )
    .expect("json");
    assert_eq!(
        project["stack"],
        json!(stack),
        "the stack comes from the tags"
    );
    let pattern: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(imported.join(format!("patterns/{stack}-orders.json")))
            .expect("pattern file"),
    )
    .expect("json");
    assert_eq!(
        pattern["detail"]["total"],
        json!([{ "numeric": [">", 100] }])
    );

    let out = bridge(
        &endpoint,
        dir.path(),
        &["plan", "--detailed-exitcode", "--project", path(&imported)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("No changes"), "{}", text(&out));

    // Under another stack name: nothing is the new stack's, and nothing else differs.
    let out = bridge(
        &endpoint,
        dir.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--project",
            path(&imported),
            "--stack",
            "someone-else",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("not owned"), "{}", text(&out));

    // Import never overwrites a project.
    let out = bridge(
        &endpoint,
        dir.path(),
        &["import", "--bus", &bus, "--dir", path(&imported)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("exists already"), "{}", text(&out));

    let out = bridge(
        &endpoint,
        dir.path(),
        &["destroy", "--yes", "--project", path(&original)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_foreign_setup_is_adopted_by_apply_and_then_plans_clean() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("tempdir");
    let name = unique("foreign");
    let bus = format!("{name}-bus");
    let queue = format!("{name}-q");
    let rule = format!("{name}-rule");
    let events = &aws.clients().eventbridge;
    aws.block_on(events.create_event_bus().name(&bus).send())
        .expect("bus");
    let url = create_queue(&aws, &queue, None);
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{queue}");
    aws.block_on(
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(&bus)
            .event_pattern(r#"{"source": ["legacy"], "detail-type": ["Thing Happened"]}"#)
            .send(),
    )
    .expect("rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("legacy")
        .arn(&arn)
        .input_path("$.detail")
        .build()
        .expect("target");
    aws.block_on(
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(&bus)
            .targets(target)
            .send(),
    )
    .expect("targets");

    let project = dir.path().join("adopted");
    let out = bridge(
        &endpoint,
        dir.path(),
        &[
            "import",
            "--bus",
            &bus,
            "--dir",
            path(&project),
            "--adopt",
            "--stack",
            &name,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("3 resource(s) listed under \"adopt\""),
        "{}",
        text(&out)
    );

    // The live picture marks what is not the stack's yet.
    let out = bridge(
        &endpoint,
        dir.path(),
        &["graph", "--live", "--project", path(&project)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let live = String::from_utf8_lossy(&out.stdout).into_owned();
    let rule_line = live
        .lines()
        .find(|l| l.contains(&rule))
        .unwrap_or_else(|| panic!("{live}"));
    assert!(rule_line.contains("unowned"), "{live}");
    assert!(!live.contains("undeclared"), "{live}");

    let out = bridge(
        &endpoint,
        dir.path(),
        &["plan", "--detailed-exitcode", "--project", path(&project)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    let steps: Vec<&str> = plan
        .lines()
        .filter(|l| l.trim_start().starts_with(['+', '~', '-']))
        .collect();
    assert!(steps.len() >= 3, "{plan}");
    for (i, want) in [
        format!("adopt event bus {bus}"),
        format!("adopt queue {queue}"),
        format!("adopt rule {rule}"),
    ]
    .iter()
    .enumerate()
    {
        assert!(
            steps[i].contains(want.as_str()),
            "step {i} should be {want}:\n{plan}"
        );
    }
    // Adopted, the queue gets bridge's grant for the rule; nothing is created.
    assert!(!plan.contains("create "), "{plan}");

    let out = bridge(
        &endpoint,
        dir.path(),
        &["apply", "--yes", "--project", path(&project)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = bridge(
        &endpoint,
        dir.path(),
        &["plan", "--detailed-exitcode", "--project", path(&project)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tags = aws
        .block_on(aws.clients().sqs.list_queue_tags().queue_url(&url).send())
        .expect("tags");
    assert_eq!(
        tags.tags()
            .and_then(|t| t.get("bridge:stack"))
            .map(String::as_str),
        Some(name.as_str())
    );
    let out = bridge(
        &endpoint,
        dir.path(),
        &["destroy", "--yes", "--project", path(&project)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
