//! `bridge normalize`, run as a user would: JSONL message bodies on stdin, one normalized
//! event per line on stdout, bad lines reported with their number and the shapes tried.

use crate::support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{bridge_bin, repo_root};

fn normalize(stdin: &str) -> Output {
    normalize_with(&[], stdin)
}

fn normalize_with(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bridge_bin())
        .arg("normalize")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bridge normalize");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("bridge normalize runs")
}

/// A captured moto body, compacted to one line (the fixtures are pretty-printed or not).
fn fixture_line(name: &str) -> String {
    let path = repo_root()
        .join("bridge/tests/fixtures/normalize")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    value.to_string()
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("every stdout line is JSON"))
        .collect()
}

#[test]
fn every_shape_on_stdin_becomes_one_event_per_line() {
    let input = [
        fixture_line("moto-native-03-objectcreated-put-math-1-1-2-txt.body.json"),
        fixture_line("moto-sns-02-objectcreated-put-math-1-1-2-txt.body.json"),
        fixture_line("moto-sns-raw-02-objectcreated-put-math-1-1-2-txt.body.json"),
        fixture_line("moto-eventbridge-02-object-created-math-1-1-2-txt.body.json"),
        fixture_line("moto-native-00-test-event.body.json"),
        fixture_line("moto-custom-00-package-revision.body.json"),
    ]
    .join("\n");
    let out = normalize(&format!("{input}\n\n"));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind is a string"))
        .collect();
    assert_eq!(
        kinds,
        [
            "object_created",
            "object_created",
            "object_created",
            "object_created",
            "test_event",
            "package_revision"
        ]
    );
    // The native key arrives form-encoded (math%2F1%2B1%3D2.txt); every path decodes to the same.
    for event in &events[..4] {
        assert_eq!(event["key"], "math/1+1=2.txt", "{event}");
        assert_eq!(event["size"], 25, "{event}");
    }
    assert_eq!(events[0]["provenance"]["path"], "s3");
    assert_eq!(events[3]["provenance"]["path"], "eventbridge");
    assert!(events[1]["provenance"]["sns_topic_arn"]
        .as_str()
        .is_some_and(|arn| arn.starts_with("arn:aws:sns:")));
    assert!(events[2]["provenance"]["sns_topic_arn"].is_null());
    assert_eq!(events[5]["package"]["handle"], "team/monthly report");
}

#[test]
fn a_bad_line_is_reported_with_its_number_and_the_rest_still_go_through() {
    let good =
        fixture_line("moto-native-01-objectcreated-put-reports-monthly-report-csv.body.json");
    let input = format!("{good}\n{{\"hello\": \"world\"}}\nnot json at all\n{good}\n");
    // --strict: AWS shapes only, so line 2 (custom JSON) is an error too.
    let out = normalize_with(&["--strict"], &input);
    assert_eq!(out.status.code(), Some(2), "exit 2 when any line failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(!stderr.contains("line 1:"), "{stderr}");
    assert!(
        stderr.contains("S3 event notification") && stderr.contains("EventBridge event"),
        "the error names the shapes tried: {stderr}"
    );
    assert!(
        !stderr.contains("world"),
        "bodies are not echoed to stderr: {stderr}"
    );
    let events = events(&out);
    assert_eq!(events.len(), 2, "lines 1 and 4 still normalized");
    assert_eq!(events[0]["key"], "reports/monthly report.csv");
    assert_eq!(events[0], events[1]);
}

#[test]
fn without_strict_a_message_of_no_aws_shape_is_a_message_event_and_text_is_still_an_error() {
    let good =
        fixture_line("moto-native-01-objectcreated-put-reports-monthly-report-csv.body.json");
    let input = format!("{good}\n{{\"hello\": \"world\"}}\n\"a JSON string\"\nnot json at all\n");
    let out = normalize(&input);
    assert_eq!(out.status.code(), Some(2), "line 4 is not JSON");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(
        !stderr.contains("line 2") && !stderr.contains("line 3"),
        "{stderr}"
    );
    let events = events(&out);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["kind"], "object_created");
    assert_eq!(events[1]["kind"], "message");
    assert_eq!(events[1]["message"]["json"]["hello"], "world");
    assert_eq!(events[2]["kind"], "message");
    assert_eq!(events[2]["message"]["json"], "a JSON string");
}
