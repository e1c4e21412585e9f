//! `bridge import` round trips against moto: a project applied by bridge (with an archive,
//! bus grants and project tags), imported into a fresh directory, plans no change; a set-up
//! made with the raw SDK (foreign, with an archive and a grant of its own), imported with
//! `--adopt`, plans its adoption first, and after `apply` plans clean. And progress: on a
//! terminal (a pseudo-terminal from util-linux's `script`) `apply` and `import` draw their
//! bars; off one they stay quiet.

use crate::support;

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
            "tags": { "team": "shop" },
            "buses": [{ "name": bus, "allow_put_events_from": ["111122223333", { "organization": "o-abcdef1234" }] }],
            "archives": [{ "name": format!("{stack}-arch"), "event_pattern": { "source": ["shop"] },
                           "retention_days": 30, "description": "orders, 30 days" }],
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
            "Imported 2 rule(s), 3 queue(s), 1 topic(s), 1 archive(s), 2 bus grant(s) from event bus {bus}"
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
    assert_eq!(project["tags"], json!({ "team": "shop" }), "{project:#}");
    assert_eq!(
        project["archives"],
        json!([{ "name": format!("{stack}-arch"), "event_pattern": { "source": ["shop"] },
                 "retention_days": 30, "description": "orders, 30 days" }]),
        "the archive without bridge's ownership marker: {project:#}"
    );
    let buses = project["buses"].as_array().expect("buses");
    assert_eq!(buses.len(), 1, "{project:#}");
    assert_eq!(buses[0]["name"], json!(bus));
    let grants = buses[0]["allow_put_events_from"]
        .as_array()
        .expect("grants");
    assert_eq!(grants.len(), 2, "{project:#}");
    assert!(grants.contains(&json!("111122223333")), "{project:#}");
    assert!(
        grants.contains(&json!({ "organization": "o-abcdef1234" })),
        "{project:#}"
    );
    // AWS's rule for the archive is not a rule of the project.
    assert!(
        !imported
            .join(format!("rules/Events-Archive-{stack}-arch.json"))
            .exists(),
        "the archive's managed rule was imported"
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
    // Not even a note: the archive is the stack's and the tags are all declared.
    assert!(!text(&out).contains("not owned"), "{}", text(&out));
    assert!(!text(&out).contains("tag"), "{}", text(&out));

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
    let bus_arn = format!("arn:aws:events:us-east-1:123456789012:event-bus/{bus}");
    let archive = format!("{name}-audit");
    aws.block_on(
        events
            .create_archive()
            .archive_name(&archive)
            .event_source_arn(&bus_arn)
            .event_pattern(r#"{"source": ["legacy"]}"#)
            .retention_days(7)
            .description("the audit team's")
            .send(),
    )
    .expect("archive");
    aws.block_on(
        events
            .put_permission()
            .event_bus_name(&bus)
            .action("events:PutEvents")
            .principal("444455556666")
            .statement_id("legacy-partner")
            .send(),
    )
    .expect("permission");

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
    // Someone else's archive is declared as it is (and left alone); someone else's grant
    // is noted, not declared.
    assert!(
        text(&out).contains(&format!("archive {archive}: not the stack's")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("policy statement legacy-partner is not the stack's"),
        "{}",
        text(&out)
    );
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("bridge.json")).expect("bridge.json"),
    )
    .expect("json");
    assert_eq!(
        file["archives"],
        json!([{ "name": archive, "event_pattern": { "source": ["legacy"] },
                 "retention_days": 7, "description": "the audit team's" }]),
        "{file:#}"
    );
    assert!(file.get("buses").is_none(), "{file:#}");
    assert!(
        !project
            .join(format!("rules/Events-Archive-{archive}.json"))
            .exists(),
        "the archive's managed rule was imported"
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
    assert!(
        text(&out).contains(&format!("archive {archive}")),
        "the foreign archive is noted as not owned: {}",
        text(&out)
    );
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

/// Runs `bridge ARGS` with standard error (and out) on a pseudo-terminal: util-linux's
/// `script -qfec CMD /dev/null`, whose standard output is what the terminal showed.
fn bridge_on_terminal(endpoint: &str, dir: &Path, args: &[&str]) -> Output {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(path(&bridge_bin()).to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .chain(["--endpoint-url".to_string(), endpoint.to_string()])
        .map(|a| quote(&a))
        .collect();
    let mut cmd = Command::new("script");
    dummy_credentials(&mut cmd, dir)
        .args(["-qfec", &line.join(" "), "/dev/null"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux) to give bridge a terminal")
}

#[test]
fn progress_is_drawn_on_a_terminal_and_nowhere_else() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let project = |stack: &str| {
        let p = dir.path().join(stack);
        write(
            &p.join("bridge.json"),
            &json!({ "stack": stack, "bus": format!("{stack}-bus"),
                      "queues": [{ "name": format!("{stack}-a") }, { "name": format!("{stack}-b") }] }),
        );
        write(
            &p.join(format!("rules/{stack}-r.json")),
            &json!({ "event_pattern": { "source": ["progress"] },
                      "targets": [{ "id": "a", "queue": format!("{stack}-a") }] }),
        );
        p
    };

    // On a terminal: the bar, with its label and length, on standard error.
    let stack = unique("tty");
    let on_tty = project(&stack);
    let out = bridge(
        &endpoint,
        dir.path(),
        &["plan", "--json", "--project", path(&on_tty)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan --json");
    let steps = plan["steps"].as_array().expect("steps").len();
    assert!(steps >= 4, "bus, two queues, a rule: {plan:#}");
    let out = bridge_on_terminal(
        &endpoint,
        dir.path(),
        &["apply", "--yes", "--project", path(&on_tty)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("applying ["), "{shown:?}");
    // `[=====>   ] POS/LEN`, LEN the plan's steps.
    let drawn = shown.match_indices(&format!("/{steps}")).any(|(i, _)| {
        let before = &shown[..i];
        let rest = before.trim_end_matches(|c: char| c.is_ascii_digit());
        rest.len() < before.len() && rest.ends_with("] ")
    });
    assert!(drawn, "no POS/{steps} drawn: {shown:?}");
    let imported = dir.path().join(format!("{stack}-imported"));
    let out = bridge_on_terminal(
        &endpoint,
        dir.path(),
        &[
            "import",
            "--bus",
            &format!("{stack}-bus"),
            "--dir",
            path(&imported),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains(&format!("reading event bus {stack}-bus")),
        "the spinner: {shown:?}"
    );
    assert!(shown.contains("writing files ["), "{shown:?}");

    // Off a terminal: the same commands draw nothing.
    let quiet = unique("notty");
    let off_tty = project(&quiet);
    let out = bridge(
        &endpoint,
        dir.path(),
        &["apply", "--yes", "--project", path(&off_tty)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let imported_quietly = dir.path().join(format!("{quiet}-imported"));
    let out2 = bridge(
        &endpoint,
        dir.path(),
        &[
            "import",
            "--bus",
            &format!("{quiet}-bus"),
            "--dir",
            path(&imported_quietly),
        ],
    );
    assert_eq!(out2.status.code(), Some(0), "{}", text(&out2));
    for out in [&out, &out2] {
        let all = text(out);
        assert!(
            !all.contains("applying [")
                && !all.contains("writing files [")
                && !all.contains('\u{1b}'),
            "{all:?}"
        );
    }

    for p in [&on_tty, &off_tty] {
        let out = bridge(
            &endpoint,
            dir.path(),
            &["destroy", "--yes", "--project", path(p)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
}
