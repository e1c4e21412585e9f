//! `bridge consume` against a moto server: at-least-once with a failing command, poison
//! messages to the DLQ, kill -9 mid-batch loses nothing, SIGTERM releases in-flight work.
//!
//! Needs `BRIDGE_TEST_ENDPOINT` (see `scripts/moto-server.sh`); fails with the fix when it
//! is unset, unless `BRIDGE_SKIP_AWS_TESTS=1` skips it on purpose.

use crate::support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use infra::aws::blocking::BlockingAws;
use support::bridge_bin;
use support::moto::{
    client as aws, create_queue, dummy_credentials, endpoint, queue_attribute, queue_with_dlq,
    text, unique,
};

fn send(aws: &BlockingAws, url: &str, body: &str) {
    aws.block_on(
        aws.clients()
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send(),
    )
    .expect("send");
}

/// Receives what is visible right now (no wait), with message attributes.
fn receive_now(aws: &BlockingAws, url: &str) -> Vec<(String, Option<String>)> {
    let out = aws
        .block_on(
            aws.clients()
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(0)
                .send(),
        )
        .expect("receive");
    out.messages()
        .iter()
        .map(|m| {
            let reason = m
                .message_attributes()
                .and_then(|a| a.get("bridge-dead-letter-reason"))
                .and_then(|v| v.string_value())
                .map(str::to_string);
            (m.body().unwrap_or_default().to_string(), reason)
        })
        .collect()
}

fn event(n: u64) -> String {
    serde_json::json!({
        "version": "0", "id": format!("ev-{n}"), "detail-type": "test", "source": "consume.test",
        "account": "123456789012", "time": "2026-11-23T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": { "n": n }
    })
    .to_string()
}

fn consume_cmd(endpoint: &str, dir: &Path, queue: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, dir);
    cmd.args(["consume", "--queue", queue, "--endpoint-url", endpoint])
        .args(["--wait", "1", "--progress", "0", "--metrics"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// The number after `name ` in the `--metrics` summary line.
fn counter(stderr: &str, name: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("summary:"))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    let after = line
        .split(&format!(" {name} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad {name} in {line}"))
}

#[test]
fn a_command_failing_twice_gets_three_deliveries_and_nothing_is_lost() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("consume-retry");
    let url = create_queue(&aws, &name, None);
    for n in 0..5 {
        send(&aws, &url, &event(n));
    }
    // One counter file per event; the command fails until its third delivery.
    let script = dir.path().join("handler.sh");
    std::fs::write(
        &script,
        "n=$(grep -o '\"n\":[0-9]*' | head -1 | tr -dc 0-9)\n\
         f=\"$(dirname \"$0\")/count-$n\"\n\
         c=$(cat \"$f\" 2>/dev/null || echo 0)\n\
         c=$((c+1)); echo $c > \"$f\"\n\
         [ $c -ge 3 ]\n",
    )
    .expect("write script");
    let exec = format!("sh {}", script.display());
    let out = consume_cmd(
        &endpoint,
        dir.path(),
        &name,
        &[
            "--exec",
            &exec,
            "--visibility-timeout",
            "1",
            "--max-messages",
            "15",
            "--idle-exit",
            "20",
        ],
    )
    .output()
    .expect("run bridge consume");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for n in 0..5 {
        let count = std::fs::read_to_string(dir.path().join(format!("count-{n}")))
            .unwrap_or_else(|_| panic!("event {n} never handled\n{report}"));
        assert_eq!(count.trim(), "3", "event {n}\n{report}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(counter(&stderr, "handled"), 5, "{report}");
    assert_eq!(counter(&stderr, "failed"), 10, "{report}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        receive_now(&aws, &url).is_empty(),
        "queue drained\n{report}"
    );
}

#[test]
fn a_poison_message_goes_to_the_dead_letter_queue() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("consume-poison");
    let (url, dlq_url) = queue_with_dlq(&aws, &name, 5);
    send(&aws, &url, "definitely not json");
    let out = consume_cmd(
        &endpoint,
        dir.path(),
        &name,
        &["--max-messages", "1", "--idle-exit", "10"],
    )
    .output()
    .expect("run bridge consume");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert_eq!(
        counter(&String::from_utf8_lossy(&out.stderr), "dead-lettered"),
        1,
        "{report}"
    );
    let dead = receive_now(&aws, &dlq_url);
    assert_eq!(dead.len(), 1, "{report}");
    assert_eq!(dead[0].0, "definitely not json");
    let reason = dead[0].1.clone().unwrap_or_default();
    assert!(reason.contains("not JSON"), "reason {reason:?}");
    assert!(receive_now(&aws, &url).is_empty());
}

fn wait_until_in_flight(aws: &BlockingAws, url: &str, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let in_flight: u64 = queue_attribute(aws, url, "ApproximateNumberOfMessagesNotVisible")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if in_flight >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "consumer never took {expected} messages"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn spawn_slow_consumer(endpoint: &str, dir: &Path, name: &str, visibility: &str) -> Child {
    consume_cmd(
        endpoint,
        dir,
        name,
        &[
            "--exec",
            "sleep 8",
            "--concurrency",
            "10",
            "--visibility-timeout",
            visibility,
            "--shutdown-grace",
            "1",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn bridge consume")
}

#[test]
fn kill_9_mid_batch_loses_nothing() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("consume-kill");
    let url = create_queue(&aws, &name, None);
    for n in 0..10 {
        send(&aws, &url, &event(n));
    }
    let mut child = spawn_slow_consumer(&endpoint, dir.path(), &name, "2");
    wait_until_in_flight(&aws, &url, 10);
    child.kill().expect("SIGKILL the consumer");
    let _ = child.wait();
    // A fresh consumer gets every message once the visibility timeout runs out.
    let out = consume_cmd(
        &endpoint,
        dir.path(),
        &name,
        &[
            "--exec",
            "cat > /dev/null",
            "--max-messages",
            "10",
            "--idle-exit",
            "20",
        ],
    )
    .output()
    .expect("run bridge consume");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert_eq!(
        counter(&String::from_utf8_lossy(&out.stderr), "handled"),
        10,
        "{report}"
    );
}

#[test]
fn sigterm_releases_in_flight_messages_and_exits_0() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("consume-term");
    let url = create_queue(&aws, &name, None);
    for n in 0..3 {
        send(&aws, &url, &event(n));
    }
    let child = spawn_slow_consumer(&endpoint, dir.path(), &name, "300");
    wait_until_in_flight(&aws, &url, 3);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait for bridge consume");
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(
        counter(&String::from_utf8_lossy(&out.stderr), "released"),
        3,
        "{report}"
    );
    // Receivable at once, not after the 300 s visibility timeout.
    let again = receive_now(&aws, &url);
    assert_eq!(again.len(), 3, "{report}");
}

/// Starts a consumer whose handler takes 6 s on a 2 s visibility timeout, and watches the
/// queue from outside while it runs: returns what another reader could receive meanwhile,
/// and the consumer's output.
fn watch_long_handler(heartbeat: bool) -> (Vec<String>, Output, tempfile::TempDir) {
    let endpoint = endpoint().expect("checked by the caller");
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique(if heartbeat {
        "consume-beat"
    } else {
        "consume-nobeat"
    });
    let url = create_queue(&aws, &name, None);
    send(&aws, &url, &event(7));
    let mut args = vec![
        "--exec",
        "sleep 6; cat >> handled.jsonl",
        "--visibility-timeout",
        "2",
        "--max-messages",
        "1",
        "--handler-timeout",
        "30",
    ];
    if !heartbeat {
        args.push("--no-heartbeat");
    }
    let child = consume_cmd(&endpoint, dir.path(), &name, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bridge consume");
    wait_until_in_flight(&aws, &url, 1);
    // Well past the 2 s timeout, while the handler still runs. A message received here is
    // left in flight (30 s default visibility): it cannot reach the consumer again.
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        seen.extend(receive_now(&aws, &url).into_iter().map(|(body, _)| body));
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().expect("wait for bridge consume");
    (seen, out, dir)
}

#[test]
fn the_heartbeat_keeps_a_long_handler_s_message_invisible() {
    if endpoint().is_none() {
        return;
    }
    let (seen, out, dir) = watch_long_handler(true);
    let report = text(&out);
    assert!(
        seen.is_empty(),
        "redelivered while handled: {seen:?}\n{report}"
    );
    assert!(out.status.success(), "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(counter(&stderr, "handled"), 1, "{report}");
    assert!(counter(&stderr, "heartbeats") >= 2, "{report}");
    let handled = std::fs::read_to_string(dir.path().join("handled.jsonl")).expect("output");
    assert_eq!(handled.lines().count(), 1, "{handled}");
}

/// The control: without the heartbeat the same message does come back mid-handler, so
/// the test above would notice a heartbeat that does not work.
#[test]
fn without_the_heartbeat_a_long_handler_s_message_is_redelivered() {
    if endpoint().is_none() {
        return;
    }
    let (seen, out, _dir) = watch_long_handler(false);
    let report = text(&out);
    assert_eq!(seen.len(), 1, "{report}");
    assert!(seen[0].contains("\"ev-7\""), "{seen:?}");
}

#[test]
fn a_dead_lettered_message_keeps_its_string_and_binary_attributes() {
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageAttributeValue;
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("consume-attrs");
    let (url, dlq_url) = queue_with_dlq(&aws, &name, 5);
    let attribute = |data_type: &str, text: Option<&str>, bytes: Option<&[u8]>| {
        let mut v = MessageAttributeValue::builder().data_type(data_type);
        if let Some(text) = text {
            v = v.string_value(text);
        }
        if let Some(bytes) = bytes {
            v = v.binary_value(Blob::new(bytes.to_vec()));
        }
        v.build().expect("attribute")
    };
    aws.block_on(
        aws.clients()
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body("poison with attributes")
            .message_attributes("tenant", attribute("String", Some("acme"), None))
            .message_attributes("count", attribute("Number", Some("3"), None))
            .message_attributes("blob", attribute("Binary", None, Some(&[0, 159, 255])))
            .send(),
    )
    .expect("send");
    let out = consume_cmd(
        &endpoint,
        dir.path(),
        &name,
        &["--max-messages", "1", "--idle-exit", "10"],
    )
    .output()
    .expect("run bridge consume");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let got = aws
        .block_on(
            aws.clients()
                .sqs
                .receive_message()
                .queue_url(&dlq_url)
                .message_attribute_names("All")
                .wait_time_seconds(0)
                .send(),
        )
        .expect("receive");
    let dead = got.messages();
    assert_eq!(dead.len(), 1, "{report}");
    let attrs = dead[0].message_attributes().expect("attributes kept");
    assert_eq!(attrs["tenant"].string_value(), Some("acme"));
    assert_eq!(attrs["count"].data_type(), "Number");
    assert_eq!(attrs["count"].string_value(), Some("3"));
    assert_eq!(attrs["blob"].data_type(), "Binary");
    assert_eq!(
        attrs["blob"].binary_value().map(|b| b.as_ref().to_vec()),
        Some(vec![0, 159, 255])
    );
    assert!(attrs["bridge-dead-letter-reason"]
        .string_value()
        .is_some_and(|r| r.contains("not JSON")));
}

#[test]
fn a_custom_json_message_is_handled_and_dead_lettered_only_with_strict() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    for strict in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = unique("consume-strict");
        let (url, dlq_url) = queue_with_dlq(&aws, &name, 5);
        send(&aws, &url, r#"{"order": 42}"#);
        let mut args = vec!["--max-messages", "1", "--idle-exit", "10"];
        if strict {
            args.push("--strict");
        }
        let out = consume_cmd(&endpoint, dir.path(), &name, &args)
            .output()
            .expect("run bridge consume");
        let report = text(&out);
        assert!(out.status.success(), "{report}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dead = receive_now(&aws, &dlq_url);
        if strict {
            assert!(stdout.trim().is_empty(), "{report}");
            assert_eq!(dead.len(), 1, "{report}");
            let reason = dead[0].1.clone().unwrap_or_default();
            assert!(reason.contains("no known message shape"), "{reason:?}");
        } else {
            let event: serde_json::Value =
                serde_json::from_str(stdout.trim()).expect("one event line");
            assert_eq!(event["kind"], "message", "{report}");
            assert_eq!(event["message"]["json"]["order"], 42);
            assert!(dead.is_empty(), "{report}");
        }
        assert!(receive_now(&aws, &url).is_empty(), "{report}");
    }
}
