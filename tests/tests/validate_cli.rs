//! `bridge validate` and `bridge schema`, run as a user would.

use crate::support;

use std::process::Command;

use support::{bridge_bin, repo_root};

#[test]
fn the_examples_validate() {
    let out = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["validate", "--project", "examples"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("valid — stack `bridge-example`, 3 rule(s)"),
        "{stdout}"
    );
}

#[test]
fn each_example_project_validates_given_as_a_directory() {
    for (dir, summary) in [
        (
            "examples/s3-routing",
            "stack `s3-routing`, 3 rule(s), 3 target(s), 5 queue(s)",
        ),
        (
            "examples/deletion-alerts",
            "stack `deletion-alerts`, 1 rule(s), 1 target(s), 1 queue(s), 1 topic(s)",
        ),
        (
            "examples/quilt",
            "stack `quilt-packages`, 3 rule(s), 4 target(s), 6 queue(s), 2 topic(s), 1 bucket(s)",
        ),
    ] {
        let out = Command::new(bridge_bin())
            .current_dir(repo_root())
            .args(["validate", dir])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{dir}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(summary), "{dir}: {stdout}");
    }
}

#[test]
fn a_second_invalid_project_reports_aws_limits_with_json_paths() {
    let out = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["validate", "rules/tests/fixtures/invalid-limits"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = std::fs::read_to_string(
        repo_root().join("rules/tests/fixtures/invalid-limits/expected-errors.txt"),
    )
    .unwrap();
    let count = expected.lines().count();
    assert!(
        stderr.contains(&format!("{count} problem(s) found")),
        "{stderr}"
    );
    for line in [
        "bridge.json: $.topics[1].subscriptions[0].endpoint: standard topic `plain` cannot deliver to FIFO queue `jobs.fifo` (fix: ",
        "b-empty-array.json: $.event_pattern.source: invalid event pattern: Empty arrays are not allowed (fix: ",
        "g-transformer.json: $.targets[0].input_transformer.input_paths_map['aws.mine']: `aws.mine` is reserved by EventBridge (fix: ",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in\n{stderr}");
    }
}

#[test]
fn project_flag_and_directory_cannot_both_be_given() {
    let out = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["validate", "--project", "examples", "examples/quilt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn an_invalid_project_lists_every_problem_and_fails() {
    let out = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["validate", "--project", "rules/tests/fixtures/invalid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("20 problem(s) found"), "{stderr}");
    assert!(stderr.contains("a-bad-pattern.json: $.event_pattern.detail.size[0].numeric[3]: invalid event pattern: Value of < must be numeric"), "{stderr}");
    assert!(stderr.contains("d-syntax.json:1:54:"), "{stderr}");
}

#[test]
fn schema_prints_the_rule_schema() {
    let out = Command::new(bridge_bin())
        .args(["schema", "rule"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "RuleFile");
    assert!(schema["properties"]["targets"].is_object());
}

/// Copies a directory tree (the example projects are small).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn bridge_test_checks_every_example_and_names_each_difference() {
    for example in ["", "quilt", "s3-routing", "deletion-alerts"] {
        let dir = repo_root().join("examples").join(example);
        let out = Command::new(bridge_bin())
            .args(["test", "--project"])
            .arg(&dir)
            .output()
            .expect("run bridge");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(" not"), "{stdout}");
    }

    // A copy whose expectation of a transformer's output is wrong fails, naming it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let copy = tmp.path().join("quilt");
    copy_tree(&repo_root().join("examples/quilt"), &copy);
    let expected_path = copy.join("events/expected.json");
    let mut expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("read"))
            .expect("json");
    expected["raw-created.json"]["package-index"]["index"]["op"] = "renamed".into();
    std::fs::write(&expected_path, expected.to_string()).expect("write");
    let run = |update: bool| {
        let mut cmd = Command::new(bridge_bin());
        cmd.args(["test", "--project"]).arg(&copy);
        if update {
            cmd.arg("--update");
        }
        cmd.output().expect("run bridge")
    };
    let out = run(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL events/raw-created.json"), "{stdout}");
    assert!(
        stdout.contains("~ rule package-index target index:"),
        "{stdout}"
    );
    assert!(stdout.contains("\"renamed\""), "{stdout}");
    // --update records what the project does now, and then it passes again.
    assert!(run(true).status.success());
    let out = run(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bridge_test_new_writes_an_s3_event_that_the_example_pattern_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let event = dir.path().join("upload.json");
    let out = Command::new(bridge_bin())
        .args([
            "test",
            "new",
            "--s3",
            "object-created",
            "--bucket",
            "raw-data",
        ])
        .args([
            "--key",
            "uploads/a b.png",
            "--size",
            "7",
            "--time",
            "2026-01-02T03:04:05Z",
            "-o",
        ])
        .arg(&event)
        .output()
        .expect("run bridge");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&event).expect("written")).expect("json");
    assert_eq!(v["source"], "aws.s3");
    assert_eq!(v["detail-type"], "Object Created");
    assert_eq!(v["time"], "2026-01-02T03:04:05Z");
    assert_eq!(v["resources"][0], "arn:aws:s3:::raw-data");
    assert_eq!(v["detail"]["object"]["key"], "uploads/a b.png");
    assert_eq!(v["detail"]["object"]["size"], 7);
    let out = Command::new(bridge_bin())
        .args(["test-pattern", "--pattern"])
        .arg(repo_root().join("examples/patterns/png-uploads.json"))
        .arg("--event")
        .arg(&event)
        .output()
        .expect("run bridge");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A bad time is named, not guessed.
    let out = Command::new(bridge_bin())
        .args([
            "test",
            "new",
            "--s3",
            "object-deleted",
            "--bucket",
            "b",
            "--key",
            "k",
        ])
        .args(["--time", "yesterday"])
        .output()
        .expect("run bridge");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"yesterday\" is not an RFC 3339 time"));
}
