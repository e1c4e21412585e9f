//! Data-driven cases for every operator and edge: `tests/cases/*.jsonl`, one case a line
//! (`pattern`, `event`, `expected` MATCH | NO | EXC, and for EXC the AWS `message`).

use std::path::PathBuf;

use patterns::{Matcher, Pattern};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Case {
    note: String,
    pattern: Value,
    event: Value,
    expected: String,
    #[serde(default)]
    message: Option<String>,
}

fn load() -> Vec<(String, Case)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut out = Vec::new();
    // Only this folder's own files: `event-ruler/` beside them has its own runner.
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let case: Case = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            out.push((
                format!("{}:{}", file.file_name().unwrap().to_string_lossy(), n + 1),
                case,
            ));
        }
    }
    out
}

#[test]
fn every_case_holds_alone_and_in_a_shared_matcher() {
    let cases = load();
    assert!(cases.len() >= 90, "cases went missing: {}", cases.len());
    let mut failures = Vec::new();
    // All valid patterns in one matcher too: sharing an index must not change results.
    let mut shared = Matcher::new();
    let mut valid = Vec::new();
    for (at, case) in &cases {
        match (Pattern::from_value(&case.pattern), case.expected.as_str()) {
            (Err(e), "EXC") => {
                if let Some(m) = &case.message {
                    if !e.message.contains(m.as_str()) {
                        failures.push(format!(
                            "{at} ({}): message {:?} lacks {m:?}",
                            case.note, e.message
                        ));
                    }
                }
            }
            (Err(e), _) => failures.push(format!("{at} ({}): rejected: {e}", case.note)),
            (Ok(_), "EXC") => {
                failures.push(format!("{at} ({}): accepted, AWS rejects it", case.note))
            }
            (Ok(p), expected) => {
                let text = serde_json::to_string(&case.event).unwrap();
                let got = p.matches_str(&text).unwrap();
                if got != (expected == "MATCH") || p.matches_value(&case.event) != got {
                    failures.push(format!("{at} ({}): expected {expected}", case.note));
                }
                shared.add(at.clone(), &p);
                valid.push((at, case, text));
            }
        }
    }
    for (at, case, text) in &valid {
        let names = shared.matches_str(text).unwrap();
        let got = names.contains(&at.as_str());
        if got != (case.expected == "MATCH") {
            failures.push(format!("{at} ({}): shared matcher says {got}", case.note));
        }
        let mut trusted = Vec::new();
        shared.matches_trusted_str_into(text, &mut trusted).unwrap();
        if trusted != names {
            failures.push(format!(
                "{at} ({}): trusted matching says {trusted:?}",
                case.note
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_name_the_place_in_the_pattern() {
    let e = Pattern::parse(r#"{"detail": {"state": [{"numeric": [">", 0, "<"]}]}}"#).unwrap_err();
    assert_eq!(e.path, "detail.state[0].numeric[3]");
    assert_eq!(
        e.to_string(),
        "at detail.state[0].numeric[3]: Value of < must be numeric"
    );
    let e = Pattern::parse("{\"a\": [1,]}").unwrap_err();
    assert_eq!((e.line, e.column), (Some(1), Some(10)));
}

#[test]
fn remove_and_replace_change_results() {
    let a = Pattern::parse(r#"{"x": ["1"]}"#).unwrap();
    let b = Pattern::parse(r#"{"x": ["2"]}"#).unwrap();
    let mut m = Matcher::new();
    for i in 0..50 {
        m.add(format!("r{i}"), &a);
    }
    m.add("b", &b);
    assert_eq!(m.matches_str(r#"{"x": "1"}"#).unwrap().len(), 50);
    for i in 0..50 {
        assert!(m.remove(&format!("r{i}")));
    }
    assert!(!m.remove("r0"));
    assert_eq!(m.len(), 1);
    assert!(m.matches_str(r#"{"x": "1"}"#).unwrap().is_empty());
    assert_eq!(m.matches_str(r#"{"x": "2"}"#).unwrap(), ["b"]);
    m.add("b", &a);
    assert_eq!(m.matches_str(r#"{"x": "1"}"#).unwrap(), ["b"]);
    assert!(m.matches_str(r#"{"x": "2"}"#).unwrap().is_empty());
}

#[test]
fn malformed_events_are_errors_not_panics() {
    let p = Pattern::parse(r#"{"x": ["1"]}"#).unwrap();
    for bad in ["", "{", "[]", "{\"x\": \"1\"", "nul", "{\"x\": 1e}"] {
        assert!(p.matches_str(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn thousands_of_rules_sharing_a_field_still_match_exactly() {
    let mut m = Matcher::new();
    for i in 0..3000 {
        let p = format!(
            r#"{{"source": ["aws.s3"], "detail": {{"bucket": {{"name": ["b{i}"]}}, "object": {{"key": [{{"prefix": "in/"}}]}}}}}}"#
        );
        m.add(format!("r{i}"), &Pattern::parse(&p).unwrap());
    }
    let event = r#"{"source": "aws.s3", "detail": {"bucket": {"name": "b1717"}, "object": {"key": "in/x"}}}"#;
    assert_eq!(m.matches_str(event).unwrap(), ["r1717"]);
    assert_eq!(m.matches_str_exhaustively(event).unwrap(), ["r1717"]);
    let miss = r#"{"source": "aws.s3", "detail": {"bucket": {"name": "b1717"}, "object": {"key": "out/x"}}}"#;
    assert!(m.matches_str(miss).unwrap().is_empty());
}

#[test]
fn matchers_and_patterns_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Matcher>();
    shareable::<Pattern>();
    let mut m = Matcher::new();
    m.add("a", &Pattern::parse(r#"{"x": [{"prefix": "a"}]}"#).unwrap());
    let m = std::sync::Arc::new(m);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = m.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .filter(|j| {
                        !m.matches_str(&format!(
                            r#"{{"x": "{}{i}{j}"}}"#,
                            if j % 2 == 0 { "a" } else { "b" }
                        ))
                        .unwrap()
                        .is_empty()
                    })
                    .count()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 500);
    }
}

/// A pattern's number is read correctly rounded (serde_json's `float_roundtrip`): read
/// one double off, `[-122.42916360922355]` would not match the very same text in an event.
#[test]
fn seventeen_digit_pattern_numbers_match_their_own_text() {
    for number in [
        "-122.42916360922355",
        "37.80629491453747",
        "-122.38419533600236",
    ] {
        let event = format!(r#"{{"x": {number}}}"#);
        for pattern in [
            format!(r#"{{"x": [{number}]}}"#),
            format!(r#"{{"x": [{{"numeric": ["=", {number}]}}]}}"#),
            format!(r#"{{"x": [{{"numeric": [">=", {number}]}}]}}"#),
            format!(r#"{{"x": [{{"numeric": ["<=", {number}]}}]}}"#),
        ] {
            let p = Pattern::parse(&pattern).unwrap();
            assert!(p.matches_str(&event).unwrap(), "{pattern} vs {event}");
            let strict = pattern.replace(">=", ">").replace("<=", "<");
            if strict != pattern {
                let p = Pattern::parse(&strict).unwrap();
                assert!(!p.matches_str(&event).unwrap(), "{strict} vs {event}");
            }
        }
    }
}
