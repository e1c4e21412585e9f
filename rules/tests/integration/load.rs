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
        .pattern()
        .expect("an event-pattern rule")
        .matches_str(
            &std::fs::read_to_string(repo().join("examples/events/quilt-package-revision.json"))
                .unwrap()
        )
        .unwrap());
    assert!(project
        .queue("example-events")
        .is_some_and(|q| q.dead_letter.is_some()));
}

/// `file | JSON path | message` for every diagnostic, as listed in `expected-errors.txt`.
fn listing(errors: &[rules::Diagnostic]) -> String {
    errors
        .iter()
        .map(|d| {
            format!(
                "{} | {} | {}\n",
                d.file.file_name().unwrap().to_string_lossy(),
                d.path,
                d.message
            )
        })
        .collect()
}

/// Each `tests/fixtures/invalid*/` project fails with exactly the diagnostics in its
/// `expected-errors.txt` (one `file | JSON path | message` per line, in report order).
#[test]
fn invalid_fixtures_report_exactly_the_expected_problems() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("invalid"))
        })
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "{dirs:?}");
    for dir in dirs {
        let errors = load(&dir).expect_err("the fixture is invalid").0;
        let got = listing(&errors);
        let expected_path = dir.join("expected-errors.txt");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        // Paths in messages are relative to where the test runs; compare file names only.
        let got = got.replace(&format!("{}/", dir.display()), "");
        assert_eq!(
            got,
            expected,
            "{}: diagnostics differ from {}; all diagnostics:\n{}",
            dir.display(),
            expected_path.display(),
            rules::Diagnostics(errors.clone())
        );
        // Every problem says how to fix it.
        assert!(errors.iter().all(|d| d.hint.is_some()), "{}", dir.display());
    }
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let errors = load(&dir).expect_err("the fixture is invalid").0;
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

/// Limits reached but not exceeded, ARNs instead of declared names, reserved
/// placeholders, inherited and overridden buses: all accepted.
#[test]
fn edge_cases_within_the_limits_load() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid-edge");
    let project = load(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    assert_eq!(project.rules.len(), 1);
    let rule = &project.rules[0];
    assert_eq!(rule.name, "no-name", "the name defaults to the file stem");
    assert_eq!(
        rule.bus, "default",
        "the rule's bus overrides the project's"
    );
    assert_eq!(rule.state, RuleState::Disabled);
    assert_eq!(rule.targets.len(), 4);
    let transformer = rule.targets[0].input_transformer.as_ref().unwrap();
    assert_eq!(transformer.input_paths_map.len(), 100);
    assert!(rule
        .pattern()
        .expect("an event-pattern rule")
        .matches_str(r#"{"source": "x", "detail-type": "abc"}"#)
        .unwrap());
}

/// A message-attribute filter on a topic that rules publish to drops every event (rules
/// send no attributes): loaded, with a warning; a message-body filter is fine.
#[test]
fn attribute_filters_on_rule_fed_topics_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bridge.json"),
        r#"{"stack": "s", "topics": [
            {"name": "fed", "subscriptions": [
                {"protocol": "https", "endpoint": "https://a.example.com", "filter_policy": {"type": ["x"]}},
                {"protocol": "https", "endpoint": "https://b.example.com", "filter_policy": {"detail": {"type": ["x"]}}, "filter_policy_scope": "MessageBody"}
            ]},
            {"name": "other", "subscriptions": [
                {"protocol": "https", "endpoint": "https://c.example.com", "filter_policy": {"type": ["x"]}}
            ]}
        ]}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/r.json"),
        r#"{"event_pattern": {"source": ["x"]}, "targets": [{"id": "t", "topic": "fed"}]}"#,
    )
    .unwrap();
    let project = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<&str> = project.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(warnings, ["$.topics[0].subscriptions[0].filter_policy"]);
    assert!(project.warnings[0]
        .message
        .contains("without message attributes"));
}

/// EventBridge does not escape values inside quoted template positions ("EventBridge doesn't
/// escape values extracted by Input Path, when populating the Input Template for a target":
/// EventBridge user guide, input transformation, common issues): an object or array there is
/// invalid JSON. Loaded, with a warning naming the placeholders; strings inside quotes and
/// objects outside are fine.
#[test]
fn quoted_objects_in_input_templates_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bridge.json"),
        r#"{"stack": "s", "queues": [{"name": "q"}]}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/r.json"),
        r#"{"event_pattern": {"source": ["x"]}, "targets": [
            {"id": "fine", "queue": "q", "input_transformer": {
                "input_paths_map": {"d": "$.detail", "k": "$.detail.key"},
                "input_template": "{\"d\": <d>, \"k\": \"<k>\", \"e\": <aws.events.event>}"}},
            {"id": "broken", "queue": "q", "input_transformer": {
                "input_paths_map": {"d": "$.detail", "all": "$.detail.items[*]"},
                "input_template": "{\"d\": \"<d>\", \"text\": \"<all> in <aws.events.event.json>\"}"}}
        ]}"#,
    )
    .unwrap();
    let project = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<&str> = project.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        warnings,
        ["$.targets[1].input_transformer.input_template"],
        "{:?}",
        project.warnings
    );
    let message = &project.warnings[0].message;
    assert!(
        message.contains("<d>, <all>, <aws.events.event.json> inside quotes"),
        "{message}"
    );
    assert!(message.contains("without escaping"), "{message}");
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

/// A project whose bridge.json and one rule file start with a UTF-8 byte order mark.
fn project_with(rule_text: &str, bom: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bom = if bom { "\u{feff}" } else { "" };
    std::fs::write(
        dir.path().join("bridge.json"),
        format!(r#"{bom}{{"stack": "s", "queues": [{{"name": "q"}}]}}"#),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/r.json"), format!("{bom}{rule_text}")).unwrap();
    dir
}

#[test]
fn files_starting_with_a_byte_order_mark_load() {
    let rule = r#"{"name": "r", "event_pattern": {"source": ["x"]}, "targets": [{"id": "t", "queue": "q"}]}"#;
    let dir = project_with(rule, true);
    let project = load(dir.path()).unwrap_or_else(|e| panic!("{}", listing(&e.0)));
    assert_eq!(project.rules.len(), 1);
    assert_eq!(project.rules[0].name, "r");
}

#[test]
fn a_rule_file_that_is_not_an_object_says_it_must_be_one() {
    let dir = project_with(
        r#"
  ["r", {"source": ["x"]}]"#,
        false,
    );
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{}", listing(&errors));
    let e = &errors[0];
    assert!(e.file.ends_with("r.json"));
    assert_eq!(
        e.message,
        "a rule file must be a JSON object (`{ ... }`), found an array"
    );
    assert_eq!((e.line, e.column), (Some(2), Some(3)));
    assert!(!e.message.contains("invalid length"), "{e}");

    std::fs::write(dir.path().join("rules/r.json"), "\u{feff}\"r\"").unwrap();
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(
        errors[0].message,
        "a rule file must be a JSON object (`{ ... }`), found a string"
    );
    std::fs::write(dir.path().join("bridge.json"), "[1]").unwrap();
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(
        errors[0].message,
        "a project file must be a JSON object (`{ ... }`), found an array"
    );
}

/// A rule whose pattern lists `n` exact sources (about 12 characters each).
fn rule_with_sources(n: usize) -> String {
    let sources: Vec<String> = (0..n).map(|i| format!("src.{i:06}")).collect();
    serde_json::json!({
        "name": "r",
        "event_pattern": { "source": sources },
        "targets": [{ "id": "t", "queue": "q" }]
    })
    .to_string()
}

#[test]
fn patterns_over_aws_s_size_quota_are_warned_about_and_over_its_maximum_refused() {
    // ~2,500 characters: over the default quota of 2,048, within the 4,096 maximum.
    let dir = project_with(&rule_with_sources(200), false);
    let project = load(dir.path()).unwrap_or_else(|e| panic!("{}", listing(&e.0)));
    assert!(
        project
            .warnings
            .iter()
            .any(|w| w.message.contains("default quota is 2048")),
        "{:?}",
        project.warnings
    );
    // ~6,200 characters: no account can create it.
    let dir = project_with(&rule_with_sources(500), false);
    let errors = load(dir.path()).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{}", listing(&errors));
    assert_eq!(errors[0].path, "$.event_pattern");
    assert!(
        errors[0].message.contains("EventBridge allows 2048"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_bucket_named_like_an_ip_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bridge.json"),
        r#"{"stack": "s", "buckets": [{"name": "192.168.1.1", "eventbridge": true}]}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let errors = load(dir.path()).unwrap_err().0;
    assert!(
        errors
            .iter()
            .any(|e| e.path == "$.buckets[0].name" && e.message.contains("IP address")),
        "{}",
        listing(&errors)
    );
}

#[test]
fn a_scheduled_rule_loads_and_becomes_a_desired_rule_with_a_schedule() {
    let rule = r#"{"name": "nightly", "schedule": "cron(0 4 * * ? *)", "targets": [{"id": "t", "queue": "q"}]}"#;
    let dir = project_with(rule, false);
    let project = load(dir.path()).unwrap_or_else(|e| panic!("{}", listing(&e.0)));
    assert_eq!(project.rules[0].schedule(), Some("cron(0 4 * * ? *)"));
    assert!(project.rules[0].pattern().is_none());
    let desired = rules::desired::Desired::from_project(&project, None).expect("desired");
    assert_eq!(
        desired.rules[0].schedule.as_deref(),
        Some("cron(0 4 * * ? *)")
    );
    assert_eq!(desired.rules[0].pattern, None);
    assert_eq!(desired.rules[0].bus, "default");
}

/// Valid archives load with their patterns compiled (inline or from a file, or none for
/// every event) and reach the desired state as declared.
#[test]
fn archives_load_into_the_desired_state() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid-archives");
    let project = load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = project.archives.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["all-orders", "big-orders", "refunds.v2"]);
    assert!(project.archives[0].pattern.is_none());
    let big = project.archives[1]
        .pattern
        .as_ref()
        .expect("inline pattern");
    assert!(big
        .matches_str(r#"{"source": "shop", "detail": {"total": 1500}}"#)
        .unwrap());
    assert!(!big
        .matches_str(r#"{"source": "shop", "detail": {"total": 10}}"#)
        .unwrap());
    let refunds = project.archives[2].pattern.as_ref().expect("file pattern");
    assert!(refunds
        .matches_str(r#"{"detail-type": "Refund Issued"}"#)
        .unwrap());

    let desired = rules::desired::Desired::from_project(&project, None).expect("desired");
    assert_eq!(desired.bus, "orders");
    assert_eq!(
        desired.archives[0],
        rules::desired::Archive {
            name: "all-orders".into(),
            pattern: None,
            retention_days: 30,
            description: Some("every order event, a month".into()),
        }
    );
    assert_eq!(
        desired.archives[2].pattern.as_deref(),
        Some(r#"{"detail-type":["Refund Issued"]}"#)
    );
    assert_eq!(desired.archives[2].retention_days, 0);
}
