//! The cases recorded against real Amazon EventBridge (TestEventPattern), from
//! `../shared/conformance/aws-recorded-cases.jsonl`: every one must pass.

use std::path::PathBuf;

use patterns::{Matcher, Pattern};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    label: String,
    expected: String,
    event: String,
    pattern: String,
}

fn cases_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/aws-recorded-cases.jsonl")
}

#[test]
fn every_aws_recorded_case_passes() {
    let path = cases_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared/ folder must sit beside the repository)",
            path.display()
        )
    });
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Case =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        count += 1;
        let outcome = match Pattern::parse(&case.pattern) {
            Err(e) => format!("EXC ({e})"),
            Ok(p) => {
                let by_text = p
                    .matches_str(&case.event)
                    .expect("recorded events are valid JSON");
                let event: serde_json::Value = serde_json::from_str(&case.event).unwrap();
                let by_value = p.matches_value(&event);
                if by_text != by_value {
                    failures.push(format!("{}: text and value matching disagree", case.label));
                }
                // Skipping unnamed subtrees by their brackets: the same answer.
                let mut alone = Matcher::new();
                alone.add("p", &p);
                let mut names = Vec::new();
                alone
                    .matches_trusted_str_into(&case.event, &mut names)
                    .expect("recorded events are valid JSON");
                if names.is_empty() == by_text {
                    failures.push(format!(
                        "{}: trusted and validating matching disagree",
                        case.label
                    ));
                }
                if by_text {
                    "MATCH".to_string()
                } else {
                    "NO".to_string()
                }
            }
        };
        if !outcome.starts_with(&case.expected) {
            failures.push(format!(
                "{}: expected {}, got {outcome}\n  pattern {}\n  event {}",
                case.label, case.expected, case.pattern, case.event
            ));
        }
    }
    assert_eq!(count, 155, "the recorded file should hold 155 cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
