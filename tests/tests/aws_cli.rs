//! `bridge plan / apply / destroy` driven as a user would, against a moto server.
//!
//! Needs `BRIDGE_TEST_ENDPOINT` (see `scripts/moto-server.sh`); fails with the fix when it
//! is unset, unless `BRIDGE_SKIP_AWS_TESTS=1` skips it on purpose.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::bridge_bin;
use support::moto::{dummy_credentials, endpoint, text, unique};

/// Runs `bridge` with dummy credentials for the test server (never real ones).
fn bridge(endpoint: &str, project: &Path, stack: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(bridge_bin());
    dummy_credentials(&mut cmd, project)
        .args(args)
        .arg("--project")
        .arg(project)
        .args(["--stack", stack, "--endpoint-url", endpoint])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run bridge")
}

/// A project: `bridge.json` with one queue, and `rules/<rule>.json` matching `source`.
fn write_project(project: &Path, stack: &str, rule: &str, source: &str) {
    let queue = format!("{stack}-events");
    let file = serde_json::json!({ "stack": stack, "queues": [{ "name": queue }] });
    std::fs::write(project.join("bridge.json"), file.to_string()).expect("write bridge.json");
    let dir = project.join("rules");
    std::fs::create_dir_all(&dir).expect("mkdir rules");
    let rule_file = serde_json::json!({
        "event_pattern": { "source": [source] },
        "targets": [{ "id": "events", "queue": queue }]
    });
    std::fs::write(dir.join(format!("{rule}.json")), rule_file.to_string()).expect("write rule");
}

#[test]
fn plan_apply_reapply_change_and_destroy() {
    let Some(endpoint) = endpoint() else { return };
    let project = tempfile::tempdir().expect("tempdir");
    let stack = unique("cli");
    let rule = unique("orders");
    write_project(project.path(), &stack, &rule, "cli.orders");

    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("create rule {rule}")),
        "{}",
        text(&out)
    );

    // No terminal and no --yes: refuse (exit 1) instead of hanging, and change nothing.
    let out = bridge(&endpoint, project.path(), &stack, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "refused apply changed something: {}",
        text(&out)
    );

    let out = bridge(&endpoint, project.path(), &stack, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Apply complete"), "{}", text(&out));

    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("No changes"), "{}", text(&out));
    let out = bridge(&endpoint, project.path(), &stack, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("No changes"), "{}", text(&out));
    assert!(
        !text(&out).contains("done:"),
        "a re-apply did something: {}",
        text(&out)
    );

    write_project(project.path(), &stack, &rule, "cli.orders.v2");
    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("update rule {rule}: pattern")),
        "{}",
        text(&out)
    );
    let out = bridge(&endpoint, project.path(), &stack, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("(1 write calls)"), "{}", text(&out));

    let out = bridge(&endpoint, project.path(), &stack, &["destroy"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "destroy without --yes: {}",
        text(&out)
    );
    let out = bridge(&endpoint, project.path(), &stack, &["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("delete rule {rule}")),
        "{}",
        text(&out)
    );
    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "destroyed stack plans creates again: {}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!("create rule {rule}")),
        "{}",
        text(&out)
    );
}

#[test]
fn plan_reports_an_unreachable_endpoint_as_an_error() {
    let Some(_) = endpoint() else { return };
    let project = tempfile::tempdir().expect("tempdir");
    write_project(project.path(), "unreachable", "r", "x");
    // Port 9 (discard) on localhost: nothing listens there.
    let out = bridge(
        "http://127.0.0.1:9",
        project.path(),
        "unreachable",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error:"), "{}", text(&out));
}

#[test]
fn an_invalid_rule_file_is_named_in_the_error_and_nothing_is_planned() {
    let Some(endpoint) = endpoint() else { return };
    let project = tempfile::tempdir().expect("tempdir");
    write_project(project.path(), "broken", "fine", "x");
    let broken = serde_json::json!({
        "event_pattern": { "source": "not-a-list" },
        "targets": [{ "id": "events", "queue": "broken-events" }]
    });
    std::fs::write(project.path().join("rules/broken.json"), broken.to_string()).expect("write");
    let out = bridge(&endpoint, project.path(), "broken", &["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("broken.json"), "{}", text(&out));
    assert!(text(&out).contains("nothing was planned"), "{}", text(&out));
}

/// A project with extra tags, one queue and a bucket notifying it natively.
fn write_notifying_project(project: &Path, stack: &str, bucket: &str, team: &str) -> String {
    let queue = format!("{stack}-uploads");
    let file = serde_json::json!({
        "stack": stack,
        "tags": { "team": team },
        "queues": [{ "name": queue }],
        "buckets": [{
            "name": bucket,
            "notifications": [{
                "id": "uploads", "queue": queue, "events": ["s3:ObjectCreated:*"], "prefix": "in/"
            }]
        }]
    });
    std::fs::write(project.join("bridge.json"), file.to_string()).expect("write bridge.json");
    std::fs::create_dir_all(project.join("rules")).expect("mkdir rules");
    queue
}

#[test]
fn native_notifications_and_tags_apply_converge_retag_and_destroy() {
    let Some(endpoint) = endpoint() else { return };
    let project = tempfile::tempdir().expect("tempdir");
    let stack = unique("cli-s3");
    let bucket = unique("cli-bucket").to_lowercase();
    let client = support::moto::client(&endpoint);
    client
        .block_on(client.clients().s3.create_bucket().bucket(&bucket).send())
        .expect("CreateBucket");
    let queue = write_notifying_project(project.path(), &stack, &bucket, "data");

    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!(
            "add uploads: queue {queue} on s3:ObjectCreated:* (prefix in/)"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!("allow s3.amazonaws.com only from bucket {bucket}")),
        "{all}"
    );
    assert!(
        !all.contains("warning"),
        "notifications and tags are managed now: {all}"
    );

    let out = bridge(&endpoint, project.path(), &stack, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    write_notifying_project(project.path(), &stack, &bucket, "platform");
    let out = bridge(&endpoint, project.path(), &stack, &["apply", "--yes"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(&format!("tags of queue {queue}")), "{all}");
    assert!(all.contains("(1 write calls)"), "{all}");
    let out = bridge(
        &endpoint,
        project.path(),
        &stack,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = bridge(&endpoint, project.path(), &stack, &["destroy", "--yes"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("remove uploads"), "{all}");
    let left = client
        .block_on(infra::aws::s3_notify::read(&client.clients().s3, &bucket))
        .expect("read notifications");
    assert!(left.configurations.is_empty(), "{left:?}");
}

/// The steps of a printed plan, one line each (details below a step are dropped).
fn step_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  + ") || l.starts_with("  ~ ") || l.starts_with("  - "))
        .map(str::to_string)
        .collect()
}

/// A copy of the project in `from` whose queue, topic, bucket and rule names end in `suffix`,
/// so that no other run against the same server owns them (rule names come from rule files'
/// names).
fn renamed_copy(from: &Path, to: &Path, names: &[&str], suffix: &str) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            renamed_copy(&entry.path(), &target, names, suffix);
        } else if entry.path().extension().is_some_and(|e| e == "json") {
            let mut text = std::fs::read_to_string(entry.path()).expect("read");
            for name in names {
                text = text.replace(&format!("\"{name}"), &format!("\"{name}-{suffix}"));
            }
            let target = if from.ends_with("rules") {
                let stem = entry
                    .path()
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned());
                to.join(format!("{}-{suffix}.json", stem.unwrap_or_default()))
            } else {
                target
            };
            std::fs::write(target, text).expect("write");
        }
    }
}

#[test]
fn the_example_plans_the_same_on_moto_and_on_the_local_backend() {
    let Some(endpoint) = endpoint() else { return };
    let copy = tempfile::tempdir().expect("tempdir");
    let suffix = unique("p");
    let examples = copy.path().join("examples");
    renamed_copy(
        &support::repo_root().join("examples"),
        &examples,
        &["example-events", "raw-data", "package-alerts"],
        &suffix,
    );
    let project = rules::load(&examples).expect("the renamed example loads");
    let bucket = project.file.buckets[0].name.clone();
    assert!(bucket.ends_with(&suffix), "{bucket}");
    // bridge never creates buckets: the example's bucket must exist, as in a real account.
    let aws = support::moto::client(&endpoint);
    aws.block_on(aws.clients().s3.create_bucket().bucket(&bucket).send())
        .expect("CreateBucket");
    let stack = unique("same-plan");
    let out = bridge(&endpoint, &examples, &stack, &["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let on_aws = step_lines(&String::from_utf8_lossy(&out.stdout));

    let state = tempfile::tempdir().expect("tempdir");
    let dir = state.path().join("state");
    let mut cmd = Command::new(bridge_bin());
    let out = dummy_credentials(&mut cmd, state.path())
        .args(["plan", "--project"])
        .arg(&examples)
        .arg("--local")
        .arg(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run bridge");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!dir.exists(), "plan --local wrote {}", dir.display());
    let local = step_lines(&String::from_utf8_lossy(&out.stdout));

    // Resource policies exist only on AWS; every other step reads the same, in order.
    let aws_without_policies: Vec<String> = on_aws
        .into_iter()
        .filter(|l| !l.starts_with("  ~ policy of "))
        .collect();
    assert!(local.len() >= 10, "{local:#?}");
    assert_eq!(aws_without_policies, local);
}

#[test]
fn an_aws_error_is_one_line_with_the_service_code_and_the_whole_chain_only_with_verbose() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = unique("no-such-bus");
    let run = |verbose: bool| {
        let mut cmd = Command::new(bridge_bin());
        dummy_credentials(&mut cmd, dir.path())
            .args([
                "put-event",
                "--source",
                "s",
                "--detail-type",
                "t",
                "--detail",
                "{}",
            ])
            .args(["--bus", &bus, "--endpoint-url", &endpoint])
            .stdin(Stdio::null());
        if verbose {
            cmd.arg("-v");
        }
        cmd.output().expect("run bridge")
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(line.contains("PutEvents"), "{err}");
    assert!(line.contains("ResourceNotFoundException"), "{err}");
    assert!(line.len() < 300, "not one short line: {err}");
    assert!(
        !err.contains("ErrorMetadata"),
        "a debug dump without -v: {err}"
    );
    let out = run(true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("detail: "), "-v prints the whole chain: {err}");
}
