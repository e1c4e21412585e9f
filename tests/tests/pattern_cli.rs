//! `bridge test-pattern` and `bridge match`, run as a user would.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{bridge_bin, repo_root};

fn test_pattern(pattern: &str, event: &str) -> (i32, String, String) {
    let out = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["test-pattern", "--pattern", pattern, "--event", event])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn test_pattern_exit_codes() {
    let (code, out, _) = test_pattern(
        "examples/patterns/png-uploads.json",
        "examples/events/s3-object-created.json",
    );
    assert_eq!((code, out.trim()), (0, "MATCH"));
    let (code, out, _) = test_pattern(
        "examples/patterns/quilt-package-revision.json",
        "examples/events/s3-object-created.json",
    );
    assert_eq!((code, out.trim()), (1, "NO MATCH"));
}

#[test]
fn test_pattern_explains_why() {
    let run = |pattern: &str| {
        let out = Command::new(bridge_bin())
            .current_dir(repo_root())
            .args([
                "test-pattern",
                "--explain",
                "--pattern",
                pattern,
                "--event",
                "examples/events/s3-object-created.json",
            ])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run("examples/patterns/png-uploads.json");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("MATCH\nmatch: "), "{out}");
    let (code, out) = run("examples/patterns/quilt-package-revision.json");
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("NO MATCH\nno match: "), "{out}");
    assert!(out.contains(" at "), "{out}");
}

#[test]
fn invalid_pattern_names_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"detail": {"state": [{"anything-but": {"prefix": ""}}]}}"#,
    )
    .unwrap();
    let (code, _, err) = test_pattern(
        bad.to_str().unwrap(),
        "examples/events/s3-object-created.json",
    );
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("detail.state[0].anything-but.prefix"), "{err}");
    assert!(err.contains("Null prefix/suffix not allowed"), "{err}");
}

#[test]
fn match_streams_names_per_event_and_reports_bad_lines() {
    let mut child = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["match", "--patterns", "examples/patterns"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let created =
        std::fs::read_to_string(repo_root().join("examples/events/s3-object-created.json"))
            .unwrap();
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{created}").unwrap();
    writeln!(stdin, "{{\"source\": \"nothing\"}}").unwrap();
    writeln!(stdin, "{{not json").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"line": 1, "rules": ["png-uploads"]})
    );
    assert_eq!(lines[1], serde_json::json!({"line": 2, "rules": []}));
    assert_eq!(lines.len(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn match_reports_a_line_that_is_not_utf8_and_goes_on() {
    let mut child = Command::new(bridge_bin())
        .current_dir(repo_root())
        .args(["match", "--patterns", "examples/patterns"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"source\": \"a\"}\n").unwrap();
    stdin.write_all(b"{\"source\": \"caf\xe9\"}\n").unwrap();
    stdin.write_all(b"{\"source\": \"b\"}\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"line": 1, "rules": []}),
            serde_json::json!({"line": 3, "rules": []}),
        ],
        "the lines after the bad one are still matched"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("not UTF-8"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(2));
}
