//! `bridge dlq` and `bridge dlq redrive`, as a user runs them: against a moto server (a
//! message dead-lettered by a redrive policy and one by `bridge consume`, shown with their
//! reason and attributes, then moved back to the source queue), and on the local backend
//! (the listing and the redrive through the binary, and `kill -9` in the middle of a large
//! redrive: afterwards every message is in the source queue or the DLQ, none lost).
//!
//! The moto test needs `BRIDGE_TEST_ENDPOINT` (see `scripts/moto-server.sh`).

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::types::MessageAttributeValue;
use infra::aws::blocking::BlockingAws;
use infra::local::{Config, Durability, MessageAttribute, QueueSpec, Redrive, SendRequest, Store};
use serde_json::Value;
use support::bridge_bin;
use support::moto::{
    client as aws, create_queue, dummy_credentials, endpoint, queue_arn, queue_with_dlq, text,
    unique,
};

fn attribute(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .expect("attribute")
}

/// Receives (visibility 0, so nothing stays hidden) what is visible now.
fn receive(aws: &BlockingAws, url: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let out = aws
        .block_on(
            aws.clients()
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_attribute_names("All")
                .send(),
        )
        .expect("receive");
    out.messages()
        .iter()
        .map(|m| {
            let attrs = m
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_string()))
                .collect();
            (m.body().unwrap_or_default().to_string(), attrs)
        })
        .collect()
}

/// Receives and deletes everything in the queue.
fn drain(aws: &BlockingAws, url: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    loop {
        let got = aws
            .block_on(
                aws.clients()
                    .sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .message_attribute_names("All")
                    .send(),
            )
            .expect("receive");
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            aws.block_on(
                aws.clients()
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send(),
            )
            .expect("delete");
            let attrs = m
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_string()))
                .collect();
            out.push((m.body().unwrap_or_default().to_string(), attrs));
        }
    }
}

fn bridge(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, dir);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run bridge")
}

fn event(n: u64) -> String {
    serde_json::json!({
        "version": "0", "id": format!("ev-{n}"), "detail-type": "test", "source": "dlq.test",
        "account": "123456789012", "time": "2026-11-23T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": { "n": n }
    })
    .to_string()
}

#[test]
fn dlq_shows_dead_letters_with_their_reason_and_redrive_returns_them() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("dlq-cli");
    let dlq_name = format!("{name}-dlq");
    let (url, dlq_url) = queue_with_dlq(&aws, &name, 1);

    // A good event whose handler kept failing: the redrive policy (maxReceiveCount 1)
    // moves it on the receive after its first.
    aws.block_on(
        aws.clients()
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(event(1))
            .message_attributes("trace", attribute("String", "abc"))
            .message_attributes("attempt", attribute("Number", "7"))
            .send(),
    )
    .expect("send");
    assert_eq!(receive(&aws, &url).len(), 1);
    assert!(receive(&aws, &url).is_empty(), "moved to the DLQ");
    // A poison body: `bridge consume` dead-letters it with its reason.
    aws.block_on(
        aws.clients()
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body("definitely not json")
            .send(),
    )
    .expect("send poison");
    let consumed = bridge(
        dir.path(),
        &[
            "consume",
            "--queue",
            &name,
            "--endpoint-url",
            &endpoint,
            "--wait",
            "1",
            "--progress",
            "0",
            "--max-messages",
            "1",
            "--idle-exit",
            "10",
        ],
    );
    assert!(consumed.status.success(), "{}", text(&consumed));

    let shown = bridge(
        dir.path(),
        &["dlq", &dlq_name, "--endpoint-url", &endpoint, "--json"],
    );
    assert!(shown.status.success(), "{}", text(&shown));
    let doc: Value = serde_json::from_slice(&shown.stdout).expect("dlq --json is JSON");
    assert_eq!(doc["backend"], "aws");
    assert_eq!(doc["count"], 2, "{doc:#}");
    assert_eq!(doc["dead_letter_queue_of"], serde_json::json!([name]));
    assert_eq!(doc["receive_counts_raised"], true);
    let messages = doc["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{doc:#}");
    let good = messages
        .iter()
        .find(|m| m["body"] == event(1))
        .expect("the dead-lettered event is listed");
    assert_eq!(good["reason"], Value::Null);
    assert_eq!(good["attributes"]["trace"]["value"], "abc");
    assert_eq!(good["attributes"]["attempt"]["data_type"], "Number");
    assert_eq!(good["events"][0]["kind"], "custom", "{good:#}");
    let poison = messages
        .iter()
        .find(|m| m["body"] == "definitely not json")
        .expect("the poison message is listed");
    assert!(
        poison["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not JSON"),
        "{poison:#}"
    );
    assert!(
        poison["normalize_error"]
            .as_str()
            .unwrap_or_default()
            .contains("not JSON"),
        "{poison:#}"
    );
    assert!(poison.get("events").is_none());

    // The text form says the same, and says that looking received the messages.
    let human = bridge(dir.path(), &["dlq", &dlq_name, "--endpoint-url", &endpoint]);
    let out = String::from_utf8_lossy(&human.stdout);
    assert!(human.status.success(), "{}", text(&human));
    assert!(out.contains("2 message(s)"), "{out}");
    assert!(out.contains("SQS cannot peek"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("reason:") && l.contains("not JSON")),
        "{out}"
    );
    assert!(out.contains("\"kind\":\"custom\""), "{out}");
    assert!(out.contains("attribute trace (String): abc"), "{out}");

    // --max 1: the move task cannot stop after one message, so the fallback is used.
    let one = bridge(
        dir.path(),
        &[
            "dlq",
            "redrive",
            &dlq_name,
            "--endpoint-url",
            &endpoint,
            "--max",
            "1",
        ],
    );
    let out = String::from_utf8_lossy(&one.stdout);
    assert!(one.status.success(), "{}", text(&one));
    assert!(out.contains("--max"), "{out}");
    assert!(out.contains("moved 1 message(s)"), "{out}");
    assert!(
        one.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        text(&one)
    );

    // The rest; the default destination is the queue whose redrive policy names the DLQ.
    let rest = bridge(
        dir.path(),
        &["dlq", "redrive", &dlq_name, "--endpoint-url", &endpoint],
    );
    let out = String::from_utf8_lossy(&rest.stdout);
    assert!(rest.status.success(), "{}", text(&rest));
    assert!(
        out.contains(&format!("moved 1 message(s) from {dlq_name} to {name}")),
        "{out}"
    );
    // moto 5.2 has no StartMessageMoveTask: the output says why the fallback ran.
    assert!(out.contains("message move task does not apply"), "{out}");

    let back = drain(&aws, &url);
    assert_eq!(
        back.len(),
        2,
        "both messages are back in the source queue: {back:?}"
    );
    let good = back.iter().find(|m| m.0 == event(1)).expect("event back");
    assert_eq!(good.1["trace"], "abc");
    assert_eq!(good.1["attempt"], "7");
    let poison = back
        .iter()
        .find(|m| m.0 == "definitely not json")
        .expect("poison back");
    assert!(poison.1["bridge-dead-letter-reason"].contains("not JSON"));
    assert!(drain(&aws, &dlq_url).is_empty(), "nothing left in the DLQ");
}

#[test]
fn redrive_without_a_destination_lists_the_candidates() {
    let Some(endpoint) = endpoint() else { return };
    let aws = aws(&endpoint);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("dlq-two");
    let dlq_name = format!("{name}-dlq");
    let dlq_url = create_queue(&aws, &dlq_name, None);
    let dlq_arn = queue_arn(&aws, &dlq_url);
    create_queue(&aws, &format!("{name}-a"), Some((&dlq_arn, 1)));
    create_queue(&aws, &format!("{name}-b"), Some((&dlq_arn, 1)));
    let out = bridge(
        dir.path(),
        &["dlq", "redrive", &dlq_name, "--endpoint-url", &endpoint],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(err.contains("2 queues name it"), "{err}");
    assert!(err.contains(&format!("{name}-a, {name}-b")), "{err}");
    assert!(err.contains("--to QUEUE"), "{err}");
}

/// A local state with `src` dead-lettering to `src-dlq`.
fn local_state(dir: &Path) -> Store {
    let config = Config {
        durability: Durability::Normal,
        ..Config::default()
    };
    let mut s = Store::open_with(dir, config, infra::local::Clock::System).expect("open");
    let dlq_arn = s.put_queue(&QueueSpec::new("src-dlq")).expect("dlq");
    let mut src = QueueSpec::new("src");
    src.redrive = Some(Redrive {
        dead_letter_target_arn: dlq_arn,
        max_receive_count: 3,
    });
    s.put_queue(&src).expect("src");
    s
}

fn seq_message(n: u64) -> SendRequest {
    let mut req = SendRequest::body(format!("{{\"n\":{n}}}"));
    req.attributes = BTreeMap::from([
        ("seq".to_string(), MessageAttribute::string(n.to_string())),
        (
            "bridge-dead-letter-reason".to_string(),
            MessageAttribute::string("handler exited 1"),
        ),
    ]);
    req
}

#[test]
fn local_dlq_lists_without_receiving_and_redrives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    {
        let mut s = local_state(&state);
        s.send_message("src-dlq", &seq_message(1)).expect("send");
        s.send_message("src-dlq", &SendRequest::body(event(2)))
            .expect("send");
        // What EventBridge sends to a rule target's DLQ.
        let mut failed = SendRequest::body(event(3));
        failed.attributes = [
            ("RULE_ARN", "arn:aws:events:us-east-1:000000000000:rule/r"),
            ("TARGET_ARN", "arn:aws:sqs:us-east-1:000000000000:gone"),
            ("ERROR_CODE", "SQS_QUEUE_NOT_FOUND"),
            ("ERROR_MESSAGE", "the queue does not exist"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), MessageAttribute::string(v)))
        .collect();
        s.send_message("src-dlq", &failed).expect("send");
    }
    let state_arg = state.to_string_lossy().to_string();
    for _ in 0..2 {
        let shown = bridge(
            dir.path(),
            &["dlq", "src-dlq", "--local", &state_arg, "--json"],
        );
        assert!(shown.status.success(), "{}", text(&shown));
        let doc: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
        assert_eq!(doc["count"], 3);
        assert_eq!(doc["receive_counts_raised"], false);
        let eventbridge = &doc["messages"][2];
        assert_eq!(
            eventbridge["eventbridge"]["ERROR_CODE"],
            "SQS_QUEUE_NOT_FOUND"
        );
        assert_eq!(
            eventbridge["eventbridge"]["RULE_ARN"],
            "arn:aws:events:us-east-1:000000000000:rule/r"
        );
        assert_eq!(eventbridge["attributes"], serde_json::json!({}));
        assert_eq!(doc["dead_letter_queue_of"][0], "src (maxReceiveCount 3)");
        let first = &doc["messages"][0];
        assert_eq!(first["receive_count"], 0, "listing is not receiving");
        assert_eq!(first["state"], "visible");
        assert_eq!(first["reason"], "handler exited 1");
        assert_eq!(first["attributes"]["seq"]["value"], "1");
        assert_eq!(first["events"][0]["kind"], "message", "{first:#}");
        assert_eq!(doc["messages"][1]["events"][0]["kind"], "custom");
    }
    let human = bridge(dir.path(), &["dlq", "src-dlq", "--local", &state_arg]);
    let out = String::from_utf8_lossy(&human.stdout);
    assert!(human.status.success(), "{}", text(&human));
    assert!(
        out.contains("3 message(s) (3 visible, 0 in flight, 0 delayed)"),
        "{out}"
    );
    assert!(
        out.contains("dead-letter queue of: src (maxReceiveCount 3)"),
        "{out}"
    );
    assert!(out.contains("   reason: handler exited 1"), "{out}");
    assert!(out.contains("   ERROR_CODE: SQS_QUEUE_NOT_FOUND"), "{out}");
    assert!(!out.contains("SQS cannot peek"), "{out}");
    let missing = bridge(dir.path(), &["dlq", "nope", "--local", &state_arg]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist: nope"));

    let moved = bridge(
        dir.path(),
        &["dlq", "redrive", "src-dlq", "--local", &state_arg],
    );
    assert!(moved.status.success(), "{}", text(&moved));
    let out = String::from_utf8_lossy(&moved.stdout);
    assert!(
        out.contains("moved 3 message(s) from src-dlq to src"),
        "{out}"
    );
    let mut s = Store::open(&state).expect("open");
    assert_eq!(s.queue_counts("src").expect("counts").visible, 3);
    assert_eq!(s.queue_counts("src-dlq").expect("counts").visible, 0);
}

/// A cheap pseudo-random number (xorshift seeded from the clock), as `local_crash.rs` uses.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const CRASH_MESSAGES: u64 = 2_000;

/// Where each of the messages is: (in src, in src-dlq), checking that each is whole (its
/// `seq` attribute matches its body) and in exactly one place.
fn census(state: &Path) -> (u64, u64) {
    let mut s = Store::open(state).expect("the state opens cleanly after kill -9");
    let mut seen = vec![0u32; CRASH_MESSAGES as usize];
    let mut counts = (0, 0);
    for (queue, slot) in [("src", 0), ("src-dlq", 1)] {
        let peek = s
            .peek_messages(queue, 10 * CRASH_MESSAGES as usize)
            .expect("peek");
        for m in &peek.messages {
            let body: Value = serde_json::from_str(&m.body).expect("body is JSON");
            let n = body["n"].as_u64().expect("n");
            assert_eq!(m.message_attributes["seq"].string_value, n.to_string());
            assert_eq!(
                m.message_attributes["bridge-dead-letter-reason"].string_value,
                "handler exited 1"
            );
            seen[n as usize] += 1;
        }
        if slot == 0 {
            counts.0 = peek.messages.len() as u64;
        } else {
            counts.1 = peek.messages.len() as u64;
        }
    }
    let lost: Vec<usize> = (0..seen.len()).filter(|&n| seen[n] == 0).collect();
    assert!(
        lost.is_empty(),
        "{} message(s) lost, e.g. seq {:?}",
        lost.len(),
        lost.first()
    );
    // Locally each batch is one transaction, so a message is never in both queues either.
    let doubled: Vec<usize> = (0..seen.len()).filter(|&n| seen[n] > 1).collect();
    assert!(
        doubled.is_empty(),
        "{} message(s) in both queues",
        doubled.len()
    );
    counts
}

#[test]
fn kill_9_in_the_middle_of_a_local_redrive_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    {
        let mut s = local_state(&state);
        for n in 0..CRASH_MESSAGES {
            s.send_message("src-dlq", &seq_message(n)).expect("send");
        }
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("kill-moment seed: {seed}");
    let mut rng = Rng(seed);
    let mut max_delay_ms = 400u64;
    let mut mid_redrive_kills = 0;
    for round in 0..40 {
        if mid_redrive_kills >= 4 {
            break;
        }
        let (_, in_dlq) = census(&state);
        if in_dlq == 0 {
            // The redrive finished before the kill: put everything back (through the
            // library, not killed) and kill sooner next time.
            let mut s = Store::open(&state).expect("open");
            s.redrive("src", Some("src-dlq"), None, &mut |_| {})
                .expect("move back");
            max_delay_ms = (max_delay_ms / 2).max(10);
        }
        let mut child = Command::new(bridge_bin())
            .args(["dlq", "redrive", "src-dlq", "--local"])
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bridge dlq redrive");
        let delay = 5 + rng.next() % max_delay_ms;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let (in_src, in_dlq) = census(&state);
        eprintln!("round {round}: killed after {delay} ms: {in_src} in src, {in_dlq} in the DLQ");
        if in_src > 0 && in_dlq > 0 {
            mid_redrive_kills += 1;
        }
    }
    assert!(
        mid_redrive_kills > 0,
        "no kill landed in the middle of a redrive: the test proved nothing"
    );
    // Re-run to the end.
    let out = Command::new(bridge_bin())
        .args(["dlq", "redrive", "src-dlq", "--local"])
        .arg(&state)
        .stdin(Stdio::null())
        .output()
        .expect("run bridge dlq redrive");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(census(&state), (CRASH_MESSAGES, 0));
}
