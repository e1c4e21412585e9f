//! `bridge validate` and `bridge schema`, run as a user would.

use std::process::Command;

use bridge_e2e::{bridge_bin, repo_root};

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
