//! Every example project under `examples/` validates, and its sample events reach exactly
//! the rules listed in its `events/expected.json` (file name → rule → target → body, the
//! format `bridge test` checks in full). Input
//! transformers of the matched rules find a value for every path, so the examples' messages
//! are complete, not just well-formed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jsonpath_rust::JsonPath;
use patterns::Matcher;
use serde_json::Value;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// `examples/` itself and each sub-directory holding a `bridge.json`.
fn example_projects() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(rules::PROJECT_FILE).is_file())
        .collect();
    dirs.sort();
    dirs.push(examples());
    dirs
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_issue_s_examples_exist() {
    let names: Vec<String> = example_projects()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for wanted in ["s3-routing", "deletion-alerts", "quilt", "rule-model"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
}

#[test]
fn every_example_project_validates() {
    for dir in example_projects() {
        let project = rules::load(&dir).unwrap_or_else(|e| panic!("{}:\n{e}", dir.display()));
        assert!(!project.rules.is_empty(), "{}", dir.display());
        assert!(
            project.warnings.is_empty(),
            "{}: {:?}",
            dir.display(),
            project.warnings
        );
    }
}

#[test]
fn sample_events_reach_exactly_the_expected_rules() {
    let mut checked = 0;
    for dir in example_projects() {
        let expected_path = dir.join("events/expected.json");
        if !expected_path.is_file() {
            continue;
        }
        let project = rules::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut matcher = Matcher::new();
        for rule in &project.rules {
            if let Some(pattern) = rule.pattern() {
                matcher.add(rule.name.clone(), pattern);
            }
        }
        // `bridge test`'s format: file → rule → target → body (here only the rules count;
        // the bodies are `bridge test`'s to check).
        let expected: BTreeMap<String, Vec<String>> = read_json(&expected_path)
            .as_object()
            .expect("file → expectations")
            .iter()
            .map(|(file, rules)| {
                let names = match rules {
                    Value::Object(m) => m.keys().cloned().collect(),
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect(),
                    other => panic!("{file}: {other}"),
                };
                (file.clone(), names)
            })
            .collect();
        // Every sample event is listed, so none is silently unchecked.
        let on_disk: Vec<String> = std::fs::read_dir(dir.join("events"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "expected.json")
            .collect();
        for name in &on_disk {
            assert!(
                expected.contains_key(name),
                "{name} missing from {}",
                expected_path.display()
            );
        }
        for (file, want) in &expected {
            let path = dir.join("events").join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut got: Vec<&str> = matcher.matches_str(&text).expect("valid event");
            got.sort_unstable();
            let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
            want.sort_unstable();
            assert_eq!(got, want, "{}", path.display());
            let event: Value = serde_json::from_str(&text).unwrap();
            for rule in project
                .rules
                .iter()
                .filter(|r| want.contains(&r.name.as_str()))
            {
                for target in &rule.targets {
                    let Some(t) = &target.input_transformer else {
                        continue;
                    };
                    for (key, jsonpath) in &t.input_paths_map {
                        let found = event
                            .query(&rules::transformer::to_rfc9535(jsonpath))
                            .unwrap_or_else(|e| panic!("{jsonpath}: {e}"));
                        assert!(
                            !found.is_empty(),
                            "{}: rule {} target {} path {key} = {jsonpath} finds nothing",
                            path.display(),
                            rule.name,
                            target.id
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} sample events checked");
}

/// `examples/rule-model`: a nightly schedule, a forward to another bus of the project and
/// to another account's bus (each with its role), and a grant to another account.
#[test]
fn the_rule_model_example_schedules_forwards_and_grants() {
    use rules::buses::Grantee;
    use rules::desired::{Desired, Destination};
    let project = rules::load(&examples().join("rule-model")).unwrap_or_else(|e| panic!("{e}"));
    let desired = Desired::from_project(&project, None).expect("desired");
    let nightly = desired
        .rules
        .iter()
        .find(|r| r.name == "nightly-report")
        .expect("nightly-report");
    assert_eq!(nightly.schedule.as_deref(), Some("cron(0 2 * * ? *)"));
    assert_eq!(nightly.pattern, None);
    let forward = desired
        .rules
        .iter()
        .find(|r| r.name == "forward-orders")
        .expect("forward-orders");
    let to_audit = forward
        .targets
        .iter()
        .find(|t| t.id == "to-audit")
        .expect("to-audit");
    assert_eq!(to_audit.destination, Destination::Bus("order-audit".into()));
    assert!(to_audit.role_arn.is_some());
    let to_central = forward
        .targets
        .iter()
        .find(|t| t.id == "to-central")
        .expect("to-central");
    assert!(
        matches!(&to_central.destination, Destination::Bus(b) if b.contains(":222233334444:event-bus/central"))
    );
    let default = desired
        .buses
        .iter()
        .find(|b| b.name == "default")
        .expect("default bus declared");
    assert_eq!(
        default.grants,
        vec![Grantee::Account("111122223333".into())]
    );
    assert!(desired.buses.iter().any(|b| b.name == "order-audit"));
    let archive = desired
        .archives
        .iter()
        .find(|a| a.name == "rule-model-orders")
        .expect("the example's archive");
    assert_eq!(archive.retention_days, 30);
    let pattern: serde_json::Value =
        serde_json::from_str(archive.pattern.as_deref().expect("a pattern")).expect("json");
    assert_eq!(
        pattern,
        serde_json::json!({ "source": ["com.example.orders"] })
    );
}
