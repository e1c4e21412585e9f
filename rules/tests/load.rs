//! Loading projects: the examples load; an invalid project reports every problem, each
//! with its file, JSON path, message and fix.

use std::path::PathBuf;

use rules::{load, model::RuleState};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_example_project_loads() {
    let project = load(&repo().join("examples")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(project.file.stack, "bridge-example");
    let names: Vec<&str> = project.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["deletions", "png-uploads", "quilt-package-revision"]
    );
    let quilt = &project.rules[2];
    assert_eq!(quilt.bus, "default");
    assert_eq!(quilt.state, RuleState::Enabled);
    assert_eq!(quilt.targets.len(), 2);
    assert!(quilt
        .pattern
        .matches_str(
            &std::fs::read_to_string(repo().join("examples/events/quilt-package-revision.json"))
                .unwrap()
        )
        .unwrap());
    assert!(project
        .queue("example-events")
        .is_some_and(|q| q.dead_letter.is_some()));
}

#[test]
fn an_invalid_project_reports_every_problem_with_file_and_path() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let errors = load(&dir).expect_err("the fixture is invalid").0;
    let got: Vec<(String, String, String)> = errors
        .iter()
        .map(|d| {
            (
                d.file.file_name().unwrap().to_string_lossy().into_owned(),
                d.path.clone(),
                d.message.clone(),
            )
        })
        .collect();
    let expected: &[(&str, &str, &str)] = &[
        ("bridge.json", "$.stack", "`bad stack` is not a valid stack name"),
        ("bridge.json", "$.queues[0].dead_letter.max_receive_count", "0 is out of range"),
        ("bridge.json", "$.queues[0].dead_letter.queue", "dead-letter queue `plain-dlq` must be FIFO like `jobs.fifo`"),
        ("bridge.json", "$.queues[1].visibility_timeout", "50000 is out of range"),
        ("bridge.json", "$.queues[2].name", "queue `plain-dlq` is declared twice"),
        ("bridge.json", "$.topics[0].subscriptions[0].endpoint", "`not-an-address` is not an e-mail address"),
        ("bridge.json", "$.topics[0].subscriptions[1].endpoint", "`http://insecure.example.com` is not an https:// URL"),
        ("bridge.json", "$.topics[0].subscriptions[2].endpoint", "unknown queue `missing-queue`"),
        ("bridge.json", "$.buckets[0].name", "`Raw_Data` is not a valid bucket name: use 3–63 lowercase letters, digits, `.` and `-`"),
        ("bridge.json", "$.buckets[0].notifications[0].queue", "unknown queue `nope`"),
        ("a-bad-pattern.json", "$.event_pattern.detail.size[0].numeric[3]", "invalid event pattern: Value of < must be numeric"),
        ("a-bad-pattern.json", "$.targets[0].message_group_id", "FIFO destinations need a message group id"),
        ("a-bad-pattern.json", "$.targets[1].id", "target id `q` is used twice"),
        ("a-bad-pattern.json", "$.targets[1].topic", "unknown topic `unknown-topic`"),
        ("b-transformer.json", "$.name", "`transformer rule` is not a valid name: use 1–64 of A-Z a-z 0-9 . - _"),
        ("b-transformer.json", "$.targets[0].input_transformer.input_paths_map.key", "`detail.key` is not a JSONPath"),
        ("b-transformer.json", "$.targets[0].input_transformer.input_template", "placeholder `<who>` is not defined"),
        ("b-transformer.json", "$.targets[0].retry_policy.maximum_retry_attempts", "out of range"),
        ("c-typo.json", "$.targets[0].input_transformr", "unknown field `input_transformr`, expected one of `id`, `queue`, `topic`, `message_group_id`, `input`, `input_path`, `input_transformer`, `retry_policy`, `dead_letter_queue`"),
        ("d-syntax.json", "$.targets[0]", "expected value"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(f, p, m)| (f.to_string(), p.to_string(), m.to_string()))
        .collect();
    assert_eq!(
        got,
        expected,
        "\nall diagnostics:\n{}",
        rules::Diagnostics(errors.clone())
    );
    // Every problem says how to fix it, and syntax/shape errors say where.
    assert!(errors.iter().all(|d| d.hint.is_some()));
    let syntax = errors
        .iter()
        .find(|d| d.file.ends_with("d-syntax.json"))
        .unwrap();
    assert_eq!((syntax.line, syntax.column), (Some(1), Some(54)));
    assert!(
        syntax.to_string().contains(
            "d-syntax.json:1:54: $.targets[0]: expected value (fix: fix the JSON syntax)"
        ),
        "{syntax}"
    );
}

#[test]
fn a_missing_project_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].file.ends_with("bridge.json"));
    assert!(errors[0].message.starts_with("cannot read"));
}

#[test]
fn duplicate_rule_names_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bridge.json"),
        r#"{"stack": "s", "queues": [{"name": "q"}]}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let rule = r#"{"name": "same", "event_pattern": {"source": ["x"]}, "targets": [{"id": "t", "queue": "q"}]}"#;
    std::fs::write(dir.path().join("rules/a.json"), rule).unwrap();
    std::fs::write(dir.path().join("rules/b.json"), rule).unwrap();
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].file.ends_with("b.json"));
    assert!(
        errors[0].message.contains("already defined in"),
        "{}",
        errors[0]
    );
}
