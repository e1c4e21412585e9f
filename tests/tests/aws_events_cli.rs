//! `bridge put-event` and `bridge tail` against a moto server: PutEvents in batches with
//! per-entry failures, and a tail that streams matching events and removes its rule and
//! queue on exit (Ctrl-C, `--max-events`), or with `--cleanup` after a `kill -9`.
//!
//! Needs `BRIDGE_TEST_ENDPOINT` (see `scripts/moto-server.sh`); fails with the fix when it
//! is unset, unless `BRIDGE_SKIP_AWS_TESTS=1` skips it on purpose.

use crate::support;

use std::path::Path;
use std::process::Command;

use infra::aws::blocking::BlockingAws;
use support::bridge_bin;
use support::moto::{
    client, create_queue, dummy_credentials, endpoint, queue_attribute, text, unique,
};
use support::tail::Tail;

fn bridge(endpoint: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, dir);
    cmd.args(args)
        .args(["--endpoint-url", endpoint])
        .current_dir(dir);
    cmd
}

/// `bridge tail ARGS` against the endpoint, its output read as it comes.
fn spawn_tail(endpoint: &str, dir: &Path, args: &[&str]) -> Tail {
    Tail::spawn(bridge(endpoint, dir, &[&["tail"], args].concat()))
}

/// A new event bus with a unique name starting with `prefix`; returns its name.
fn new_bus(aws: &BlockingAws, prefix: &str) -> String {
    let bus = unique(prefix);
    aws.block_on(
        aws.clients()
            .eventbridge
            .create_event_bus()
            .name(&bus)
            .send(),
    )
    .expect("create bus");
    bus
}

/// A queue and a rule on `bus` that sends events with `source` to it; returns the queue URL.
fn rule_to_queue(aws: &BlockingAws, bus: &str, name: &str, source: &str) -> String {
    let c = aws.clients();
    let url = create_queue(aws, name, None);
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
    let pattern = serde_json::json!({ "source": [source] }).to_string();
    aws.block_on(
        c.eventbridge
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .send(),
    )
    .expect("put rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("q")
        .arn(arn)
        .build()
        .expect("target");
    aws.block_on(
        c.eventbridge
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(target)
            .send(),
    )
    .expect("put targets");
    url
}

/// Every message body on the queue, read until it has been empty for a while.
fn drain(aws: &BlockingAws, url: &str) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = aws
            .block_on(
                aws.clients()
                    .sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send(),
            )
            .expect("receive");
        if out.messages().is_empty() {
            empty += 1;
        }
        for m in out.messages() {
            bodies.push(serde_json::from_str(m.body().unwrap_or_default()).expect("json body"));
        }
    }
    bodies
}

#[test]
fn put_event_sends_jsonl_in_batches_and_reports_each_rejected_line() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("put-event");
    // A bus of its own: moto iterates a bus's rules unlocked while it delivers, so a rule
    // that the tail tests add to `default` meanwhile can fail the call with a 500 after
    // part of the batch was delivered, and the SDK's retry then delivers that part twice.
    let bus = new_bus(&aws, "put-event-jsonl");
    let url = rule_to_queue(&aws, &bus, &name, &name);
    // 23 lines in both accepted shapes; line 12 has a detail that is not JSON.
    let mut lines = Vec::new();
    for n in 0..23 {
        let line = if n == 11 {
            serde_json::json!({ "Source": name, "DetailType": "t", "Detail": "{not json" })
        } else if n % 2 == 0 {
            serde_json::json!({ "source": name, "detail-type": "t", "detail": { "n": n } })
        } else {
            let detail = serde_json::json!({ "n": n }).to_string();
            serde_json::json!({ "Source": name, "DetailType": "t", "Detail": detail })
        };
        lines.push(line.to_string());
    }
    std::fs::write(dir.path().join("events.jsonl"), lines.join("\n") + "\n").expect("write");
    let out = bridge(
        &endpoint,
        dir.path(),
        &["put-event", "--file", "events.jsonl", "--bus", &bus],
    )
    .output()
    .expect("run bridge put-event");
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 22, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events.jsonl line 12: MalformedDetail"),
        "{report}"
    );
    assert!(stderr.contains("1 entry failed, 22 accepted"), "{report}");
    let bodies = drain(&aws, &url);
    let mut got: Vec<i64> = bodies
        .iter()
        .filter_map(|b| b["detail"]["n"].as_i64())
        .collect();
    got.sort_unstable();
    let expected: Vec<i64> = (0..23).filter(|&n| n != 11).collect();
    assert_eq!(got, expected, "{report}");
    let mut delivered_ids: Vec<String> = bodies
        .iter()
        .filter_map(|b| b["id"].as_str().map(str::to_string))
        .collect();
    delivered_ids.sort();
    let mut printed = ids.clone();
    printed.sort();
    assert_eq!(
        delivered_ids, printed,
        "printed ids are the delivered events' ids"
    );
}

#[test]
fn put_event_from_flags_reaches_a_custom_bus() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let bus = new_bus(&aws, "put-event-bus");
    let url = rule_to_queue(&aws, &bus, &unique("put-event-q"), "com.quiltdata");
    std::fs::write(
        dir.path().join("detail.json"),
        r#"{"type": "package-revision", "bucket": "b", "handle": "analytics/x", "topHash": "abc"}"#,
    )
    .expect("write detail");
    let out = bridge(
        &endpoint,
        dir.path(),
        &[
            "put-event",
            "--bus",
            &bus,
            "--source",
            "com.quiltdata",
            "--detail-type",
            "package-revision",
            "--detail",
            "@detail.json",
        ],
    )
    .output()
    .expect("run bridge put-event");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let bodies = drain(&aws, &url);
    assert_eq!(bodies.len(), 1, "{report}");
    assert_eq!(bodies[0]["detail-type"], "package-revision");
    assert_eq!(bodies[0]["detail"]["handle"], "analytics/x");
}

/// A running `bridge tail`: its stdout lines arrive on a channel; `ready` waits for the
/// line on stderr that names its rule, and returns that name.
fn rule_exists(aws: &BlockingAws, bus: &str, name: &str) -> bool {
    let out = aws
        .block_on(
            aws.clients()
                .eventbridge
                .list_rules()
                .event_bus_name(bus)
                .name_prefix(name)
                .send(),
        )
        .expect("list rules");
    out.rules().iter().any(|r| r.name() == Some(name))
}

fn queue_exists(aws: &BlockingAws, name: &str) -> bool {
    let out = aws
        .block_on(
            aws.clients()
                .sqs
                .list_queues()
                .queue_name_prefix(name)
                .send(),
        )
        .expect("list queues");
    out.queue_urls()
        .iter()
        .any(|u| u.ends_with(&format!("/{name}")))
}

fn put(aws: &BlockingAws, bus: &str, source: &str, n: u64) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(source)
        .detail_type("tail-test")
        .detail(serde_json::json!({ "n": n }).to_string())
        .build();
    let out = aws
        .block_on(aws.clients().eventbridge.put_events().entries(entry).send())
        .expect("put events");
    assert_eq!(out.failed_entry_count(), 0);
}

#[test]
fn tail_streams_matching_events_and_removes_its_rule_and_queue_on_ctrl_c() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let source = unique("tail.test");
    std::fs::write(
        dir.path().join("pattern.json"),
        serde_json::json!({ "source": [source] }).to_string(),
    )
    .expect("write pattern");
    let mut tail = spawn_tail(&endpoint, dir.path(), &["--pattern", "pattern.json"]);
    let name = tail.ready();
    assert!(rule_exists(&aws, "default", &name));
    assert!(queue_exists(&aws, &name));
    // The queue policy admits only this rule.
    let url = aws
        .block_on(aws.clients().sqs.get_queue_url().queue_name(&name).send())
        .expect("queue url")
        .queue_url()
        .expect("url")
        .to_string();
    let policy = queue_attribute(&aws, &url, "Policy").expect("policy");
    let policy: serde_json::Value = serde_json::from_str(&policy).expect("policy JSON");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert!(statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_str()
        .is_some_and(|arn| arn.ends_with(&format!(":rule/{name}"))));

    put(&aws, "default", "someone.else", 1);
    put(&aws, "default", &source, 2);
    put(&aws, "default", &source, 3);
    let mut got = [tail.next_line(), tail.next_line()];
    got.sort_by_key(|e| e["detail"]["n"].as_u64());
    assert_eq!(got[0]["detail"]["n"], 2);
    assert_eq!(got[1]["detail"]["n"], 3);
    assert_eq!(got[0]["source"], source.as_str());

    let status = Command::new("kill")
        .args(["-INT", &tail.child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let rest = tail.rest_of_stderr();
    let exit = tail.child.wait().expect("wait for bridge tail");
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("removed rule and queue"), "{rest}");
    assert!(!rule_exists(&aws, "default", &name), "rule left behind");
    assert!(!queue_exists(&aws, &name), "queue left behind");
    // Nothing from someone.else was shown.
    assert!(tail.lines.try_recv().is_err());
}

#[test]
fn tail_cleanup_removes_what_a_killed_tail_left_on_its_bus_only() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let bus = new_bus(&aws, "tail-bus");
    let other_bus = new_bus(&aws, "tail-other");
    let mut killed = spawn_tail(&endpoint, dir.path(), &["--bus", &bus]);
    let killed_name = killed.ready();
    killed.child.kill().expect("SIGKILL the tail");
    let _ = killed.child.wait();
    assert!(
        rule_exists(&aws, &bus, &killed_name),
        "kill -9 cannot clean up"
    );
    let mut running = spawn_tail(&endpoint, dir.path(), &["--bus", &other_bus]);
    let running_name = running.ready();

    let out = bridge(&endpoint, dir.path(), &["tail", "--cleanup", "--bus", &bus])
        .output()
        .expect("run bridge tail --cleanup");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("1 leftover session(s) found"), "{report}");
    assert!(!rule_exists(&aws, &bus, &killed_name), "{report}");
    assert!(!queue_exists(&aws, &killed_name), "{report}");
    // The tail on the other bus is untouched and still streams.
    assert!(rule_exists(&aws, &other_bus, &running_name), "{report}");
    assert!(queue_exists(&aws, &running_name), "{report}");
    put(&aws, &other_bus, "still.running", 9);
    assert_eq!(running.next_line()["detail"]["n"], 9);
    let _ = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status();
    let rest = running.rest_of_stderr();
    assert_eq!(
        running.child.wait().expect("wait").code(),
        Some(0),
        "{rest}"
    );
    assert!(!queue_exists(&aws, &running_name), "{rest}");
}
