//! Cases extracted from aws/event-ruler's own tests (`tests/cases/event-ruler/*.jsonl`, one
//! file per event-ruler test class; see the README there). One JSON object a line:
//!
//! - `label` — the event-ruler test, `Class.method`; `id` — a short hash of pattern and
//!   event, so a failure names one line;
//! - `pattern`, `event` — JSON text, as the Java test spells it (number text kept);
//! - `expected` — event-ruler's outcome: `MATCH`, `NO`, `EXC` (rejected, with AWS's
//!   `message` when the test gives one) or `VALID` (accepted; no event);
//! - `alternatives` — where the test says, how many sub-rules `$or` expands to;
//! - `note` — what the line checks, where the label alone does not say;
//! - `via` — the event-ruler call that produced the outcome (`rulesForEvent` is its
//!   legacy, array-inconsistent matcher);
//! - `aws_differs`, `aws_expected`, `reason` — where Amazon EventBridge itself behaves
//!   otherwise (the AWS-recorded cases win): bridge must give `aws_expected`.
//!
//! Every line runs through the pattern's own matcher (text and parsed value), the
//! exhaustive evaluator, `Pattern::explain`, and one matcher shared by all of its file's
//! valid patterns.

use std::path::PathBuf;

use patterns::{Matcher, Pattern};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    label: String,
    id: String,
    pattern: String,
    #[serde(default)]
    event: Option<String>,
    expected: String,
    #[serde(default)]
    message: Option<String>,
    /// How many sub-rules event-ruler compiles the pattern to (its `$or` expansion).
    #[serde(default)]
    alternatives: Option<usize>,
    #[serde(default)]
    aws_differs: bool,
    #[serde(default)]
    aws_expected: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl Case {
    /// The outcome bridge must give: AWS's where it differs from event-ruler.
    fn wanted(&self) -> &str {
        if self.aws_differs {
            self.aws_expected.as_deref().unwrap_or("?")
        } else {
            &self.expected
        }
    }
}

fn files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/event-ruler");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

fn load(file: &PathBuf) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1))
        })
        .collect()
}

#[test]
fn every_event_ruler_case_holds_on_every_path() {
    let mut failures = Vec::new();
    let mut total = 0;
    for file in files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let cases = load(&file);
        total += cases.len();
        let mut shared = Matcher::new();
        let mut valid = Vec::new();
        for case in &cases {
            let at = format!("{name} {} [{}]", case.label, case.id);
            assert!(
                !case.aws_differs || (case.aws_expected.is_some() && case.reason.is_some()),
                "{at}: aws_differs needs aws_expected and reason"
            );
            let wanted = case.wanted();
            match (Pattern::parse(&case.pattern), wanted) {
                (Err(e), "EXC") => {
                    if let Some(m) = &case.message {
                        if !e.message.contains(m.as_str()) {
                            failures.push(format!("{at}: message {:?} lacks {m:?}", e.message));
                        }
                    }
                }
                (Err(e), _) => failures.push(format!(
                    "{at}: rejected ({e}), expected {wanted}\n  pattern {}",
                    case.pattern
                )),
                (Ok(_), "EXC") => failures.push(format!(
                    "{at}: accepted, expected rejection\n  pattern {}",
                    case.pattern
                )),
                (Ok(p), _)
                    if case
                        .alternatives
                        .is_some_and(|n| n != p.alternative_count()) =>
                {
                    failures.push(format!(
                        "{at}: {} alternatives, event-ruler compiles {:?}",
                        p.alternative_count(),
                        case.alternatives
                    ))
                }
                (Ok(_), "VALID") => {}
                (Ok(p), _) => {
                    let Some(event) = &case.event else {
                        failures.push(format!("{at}: {wanted} without an event"));
                        continue;
                    };
                    let want = wanted == "MATCH";
                    let by_text = p.matches_str(event);
                    let value: serde_json::Value = match serde_json::from_str(event) {
                        Ok(v) => v,
                        Err(e) => {
                            failures.push(format!("{at}: event is not JSON: {e}"));
                            continue;
                        }
                    };
                    let by_value = p.matches_value(&value);
                    let mut alone = Matcher::new();
                    alone.add("p", &p);
                    let exhaustive = alone
                        .matches_str_exhaustively(event)
                        .map(|names| !names.is_empty());
                    let explained = p.explain(event).map(|e| e.matched());
                    if by_text != Ok(want)
                        || by_value != want
                        || exhaustive != Ok(want)
                        || explained != Ok(want)
                    {
                        failures.push(format!(
                            "{at}: expected {wanted}; text {by_text:?}, value {by_value}, exhaustive {exhaustive:?}, explain {explained:?}\n  pattern {}\n  event {event}",
                            case.pattern
                        ));
                    }
                    shared.add(case.id.clone(), &p);
                    valid.push((at, case, want));
                }
            }
        }
        for (at, case, want) in valid {
            let Some(event) = &case.event else { continue };
            let indexed = shared
                .matches_str(event)
                .map(|n| n.contains(&case.id.as_str()));
            let exhaustive = shared
                .matches_str_exhaustively(event)
                .map(|n| n.contains(&case.id.as_str()));
            let mut names = Vec::new();
            let trusted = shared
                .matches_trusted_str_into(event, &mut names)
                .map(|()| names.contains(&case.id.as_str()));
            if indexed != Ok(want) || exhaustive != Ok(want) || trusted != Ok(want) {
                failures.push(format!(
                    "{at}: in the file's shared matcher: indexed {indexed:?}, exhaustive {exhaustive:?}, trusted {trusted:?}, expected {want}"
                ));
            }
        }
    }
    assert!(total >= 400, "cases went missing: {total}");
    assert!(
        failures.is_empty(),
        "{} of {total} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
