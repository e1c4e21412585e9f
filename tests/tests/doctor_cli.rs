//! `bridge doctor` against moto, each failure set up on purpose through the SDK (a
//! customer-managed KMS key's policy included), and on the local backend. (What moto cannot
//! produce — pending e-mail subscriptions, a FIFO target without group id — is covered by
//! the unit tests in `infra/src/doctor/tests.rs`.) Also `graph --live`'s buckets on moto.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;
use support::bridge_bin;
use support::moto::{client, dummy_credentials, endpoint, text, unique};

fn bridge(endpoint: &str, project: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, project)
        .args(args)
        .arg("--project")
        .arg(project)
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one line of the doctor's output that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

#[test]
fn doctor_finds_each_failure_set_up_on_purpose() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    let stack = unique("doc");
    let (q, dlq, fifo, held) = (
        format!("{stack}-q"),
        format!("{stack}-dlq"),
        format!("{stack}-f.fifo"),
        format!("{stack}-held"),
    );
    let (r1, r2, r3) = (
        format!("{stack}-one"),
        format!("{stack}-fifo"),
        format!("{stack}-three"),
    );
    let native = unique("doc-native");
    aws.block_on(aws.clients().s3.create_bucket().bucket(&native).send())
        .expect("create bucket");
    let mut file = json!({
        "stack": stack,
        "buckets": [{ "name": native, "notifications": [{ "id": "n", "queue": q }] }],
        "queues": [
            { "name": dlq },
            { "name": q },
            { "name": held, "dead_letter": { "queue": dlq, "max_receive_count": 3 } },
            { "name": fifo, "fifo": true }
        ]
    });
    write(&project.join("bridge.json"), &file);
    let rule = |target: serde_json::Value| json!({ "event_pattern": { "source": ["doctor.test"] }, "targets": [target] });
    write(
        &project.join(format!("rules/{r1}.json")),
        &rule(json!({ "id": "q", "queue": q, "dead_letter_queue": dlq })),
    );
    write(
        &project.join(format!("rules/{r2}.json")),
        &rule(json!({ "id": "f", "queue": fifo, "message_group_id": "g" })),
    );
    write(
        &project.join(format!("rules/{r3}.json")),
        &rule(json!({ "id": "q", "queue": q })),
    );
    let out = bridge(&endpoint, project, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Everything as declared: every check passes.
    let out = bridge(&endpoint, project, &["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let good = stdout(&out);
    assert!(!good.contains('✗'), "{good}");
    line(&good, &format!("✓ rule {r1}: exists and is enabled"));
    line(
        &good,
        &format!("✓ rule {r1} target q: delivers to queue {q}, which admits the rule"),
    );
    line(
        &good,
        &format!("✓ bucket {native} notification n: delivers to queue {q}, which admits S3"),
    );
    line(
        &good,
        &format!("✓ queue {dlq}: exists (dead-letter queue, empty)"),
    );

    // The live picture draws the declared bucket and its notification to the queue...
    let out = bridge(&endpoint, project, &["graph", "--live"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let live = stdout(&out);
    let bucket_line = live
        .lines()
        .find(|l| l.contains(&format!("bucket {native}")))
        .unwrap_or_else(|| panic!("no bucket {native} in:\n{live}"));
    assert!(!bucket_line.contains("undeclared"), "{live}");
    assert!(
        live.contains(&format!("native: bridge:{stack}:n")),
        "the notification's edge: {live}"
    );
    // ...and, once the project no longer declares it, still finds it (through the stack's
    // S3 grant on the queue it delivers to), marked undeclared.
    let mut undeclared = file.clone();
    undeclared["buckets"] = json!([]);
    write(&project.join("bridge.json"), &undeclared);
    let out = bridge(&endpoint, project, &["graph", "--live"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let live = stdout(&out);
    let bucket_line = live
        .lines()
        .find(|l| l.contains(&format!("bucket {native}")))
        .unwrap_or_else(|| panic!("no bucket {native} in:\n{live}"));
    assert!(bucket_line.contains("undeclared"), "{live}");
    write(&project.join("bridge.json"), &file);

    // A bucket with EventBridge delivery declared, and a rule with a misspelled detail-type.
    let eb = unique("doc-eb");
    aws.block_on(aws.clients().s3.create_bucket().bucket(&eb).send())
        .expect("create bucket");
    file["buckets"]
        .as_array_mut()
        .expect("buckets")
        .push(json!({ "name": eb, "eventbridge": true }));
    write(&project.join("bridge.json"), &file);
    let r4 = format!("{stack}-typo");
    write(
        &project.join(format!("rules/{r4}.json")),
        &json!({
            "event_pattern": { "source": ["aws.s3"], "detail-type": ["Object Create"],
                               "detail": { "bucket": { "name": [eb] } } },
            "targets": [{ "id": "q", "queue": q }]
        }),
    );
    let out = bridge(&endpoint, project, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // moto never reports a bucket's EventBridge flag (docs/testing.md): to doctor the
    // delivery looks off, which is exactly the "turned off" case.
    let bad_bucket = format!("✗ bucket {eb}: EventBridge delivery is off");

    // Break things behind bridge's back.
    let eb_client = &aws.clients().eventbridge;
    let sqs = &aws.clients().sqs;
    aws.block_on(eb_client.disable_rule().name(&r1).send())
        .expect("disable");
    aws.block_on(eb_client.remove_targets().rule(&r3).ids("q").send())
        .expect("remove target");
    let url = |name: &str| {
        aws.block_on(sqs.get_queue_url().queue_name(name).send())
            .expect("queue url")
            .queue_url()
            .expect("url")
            .to_string()
    };
    let q_arn = format!("arn:aws:sqs:us-east-1:123456789012:{q}");
    let someone_else = json!({ "Version": "2012-10-17", "Statement": [{
        "Sid": "other", "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
        "Action": "sqs:SendMessage", "Resource": q_arn,
        "Condition": { "ArnEquals": { "aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/someone-else" } } }] });
    aws.block_on(
        sqs.set_queue_attributes()
            .queue_url(url(&q))
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                someone_else.to_string(),
            )
            .send(),
    )
    .expect("set policy");
    aws.block_on(sqs.delete_queue().queue_url(url(&dlq)).send())
        .expect("delete dlq");
    // A FIFO target without a message group id: AWS (and moto 5.2) refuse one at PutTargets;
    // a server that accepts it must see doctor flag it. The check itself is unit-tested.
    let fifo_arn = format!("arn:aws:sqs:us-east-1:123456789012:{fifo}");
    let fifo_target = aws_sdk_eventbridge::types::Target::builder()
        .id("f")
        .arn(&fifo_arn)
        .build()
        .expect("target");
    let put = aws.block_on(
        eb_client
            .put_targets()
            .rule(&r2)
            .targets(fifo_target)
            .send(),
    );

    let out = bridge(&endpoint, project, &["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let bad = stdout(&out);
    line(&bad, &format!("✗ rule {r1}: is disabled"));
    line(&bad, &format!("✗ rule {r3} target q: missing"));
    assert!(
        bad.contains(&format!(
            "✗ rule {r1} target q: the queue policy of {q} does not let events.amazonaws.com sqs:SendMessage"
        )),
        "{bad}"
    );
    assert!(
        line(&bad, &format!("✗ bucket {native} notification n:"))
            .contains("does not let s3.amazonaws.com sqs:SendMessage"),
        "{bad}"
    );
    assert!(
        bad.contains(&format!("✗ rule {r1} target q: its dead-letter queue arn:aws:sqs:us-east-1:123456789012:{dlq} does not exist")),
        "{bad}"
    );
    line(&bad, &format!("✗ queue {held}: its dead-letter queue"));
    line(&bad, &format!("✗ queue {dlq}: does not exist"));
    line(&bad, &bad_bucket);
    assert!(
        line(&bad, &format!("✗ rule {r4} pattern:")).contains("did you mean \"Object Created\"?"),
        "{bad}"
    );
    match put {
        Ok(_) => assert!(
            line(&bad, &format!("✗ rule {r2} target f:")).contains("needs a message group id"),
            "{bad}"
        ),
        // A server that refuses the target leaves the unit test on the check to cover it.
        Err(e) => eprintln!("the server refused a FIFO target without group id: {e:?}"),
    }
    assert!(bad.contains("checks failed."), "{bad}");
    assert!(bad.contains("(fix: "), "{bad}");

    let out = bridge(&endpoint, project, &["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn doctor_checks_the_local_state_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    write(
        &project.join("bridge.json"),
        &json!({ "stack": "local-doctor",
                  "buckets": [{ "name": "raw", "eventbridge": true }],
                  "queues": [{ "name": "q" }] }),
    );
    write(
        &project.join("rules/uploads.json"),
        &json!({ "event_pattern": { "source": ["aws.s3"], "detail-type": ["Object Created"] },
                  "targets": [{ "id": "q", "queue": "q" }] }),
    );
    let run = |args: &[&str]| {
        Command::new(bridge_bin())
            .args(args)
            .arg("--project")
            .arg(project)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run bridge")
    };
    let out = run(&["doctor", "--local"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no local state"), "{}", text(&out));

    let out = run(&["apply", "--local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&["doctor", "--local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    line(
        &stdout(&out),
        "✓ bucket raw: sends its events to EventBridge",
    );
    line(&stdout(&out), "✓ rule uploads pattern: can match");
    // The live picture of the local state: all of it declared and the project's.
    let out = run(&["graph", "--live", "--local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let live = stdout(&out);
    assert!(
        live.contains("rule uploads") && live.contains("queue q"),
        "{live}"
    );
    assert!(live.contains("bucket raw"), "{live}");
    assert!(
        !live.contains("undeclared") && !live.contains("unowned"),
        "{live}"
    );

    // A misspelled source, and a rule never applied.
    write(
        &project.join("rules/uploads.json"),
        &json!({ "event_pattern": { "source": ["aws.S3"], "detail-type": ["Object Created"] },
                  "targets": [{ "id": "q", "queue": "q" }] }),
    );
    write(
        &project.join("rules/later.json"),
        &json!({ "event_pattern": { "source": ["x"] }, "targets": [{ "id": "q", "queue": "q" }] }),
    );
    let out = run(&["doctor", "--local"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let bad = stdout(&out);
    assert!(
        line(&bad, "✗ rule uploads pattern:").contains("never matches S3's events"),
        "{bad}"
    );
    assert!(
        line(&bad, "✗ rule later: does not exist").contains("bridge apply --local"),
        "{bad}"
    );
}

#[test]
fn doctor_reads_the_policy_of_a_customer_managed_kms_key() {
    let Some(endpoint) = endpoint() else { return };
    let aws = client(&endpoint);
    let kms = &aws.clients().kms;
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    let stack = unique("dockms");
    let key_id = aws
        .block_on(kms.create_key().description("bridge doctor test").send())
        .expect("create key")
        .key_metadata()
        .expect("key metadata")
        .key_id()
        .to_string();
    let alias = format!("alias/{stack}");
    aws.block_on(
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(&key_id)
            .send(),
    )
    .expect("create alias");
    let (q, rule) = (format!("{stack}-q"), format!("{stack}-r"));
    write(
        &project.join("bridge.json"),
        &json!({ "stack": stack, "queues": [{ "name": q, "encryption": alias }] }),
    );
    write(
        &project.join(format!("rules/{rule}.json")),
        &json!({ "event_pattern": { "source": ["doctor.kms"] }, "targets": [{ "id": "q", "queue": q }] }),
    );
    let out = bridge(&endpoint, project, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The plan warns before anything is written.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "warning: queue {q}: the policy of KMS key {alias} does not let events.amazonaws.com use it, so every delivery from events.amazonaws.com will fail"
        )),
        "{}",
        text(&out)
    );

    // A new key's policy lets the account in, not EventBridge.
    let out = bridge(&endpoint, project, &["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let bad = stdout(&out);
    let problem = line(&bad, &format!("✗ rule {rule} target q:"));
    assert!(
        problem.contains(&format!(
            "the policy of KMS key {alias} (encrypting queue {q}) does not let events.amazonaws.com use it"
        )),
        "{bad}"
    );
    assert!(
        problem.contains(
            "(fix: add a key policy statement allowing events.amazonaws.com kms:GenerateDataKey* and kms:Decrypt)"
        ),
        "{bad}"
    );

    // The fix, as doctor says it: then the target passes.
    let policy = json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "account", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*" },
        { "Sid": "eventbridge", "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" },
          "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*" }] });
    aws.block_on(
        kms.put_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .policy(policy.to_string())
            .send(),
    )
    .expect("put key policy");
    let out = bridge(&endpoint, project, &["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    line(
        &stdout(&out),
        &format!("✓ rule {rule} target q: delivers to queue {q}, which admits the rule"),
    );
    let out = bridge(&endpoint, project, &["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("KMS key"), "{}", text(&out));

    // A key that is gone (its alias deleted behind bridge's back).
    aws.block_on(kms.delete_alias().alias_name(&alias).send())
        .expect("delete alias");
    let out = bridge(&endpoint, project, &["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        line(&stdout(&out), &format!("✗ rule {rule} target q:")).contains(&format!(
            "the policy of KMS key {alias} (encrypting queue {q}) could not be read: DescribeKey"
        )),
        "{}",
        stdout(&out)
    );

    let out = bridge(&endpoint, project, &["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
