//! Properties: walking JSON text and walking a parsed value agree; no input panics.

use patterns::{Matcher, Pattern};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        // Integers a double cannot hold exactly: they compare as text, never by value.
        prop::sample::select(vec![
            9_007_199_254_740_993u64,
            9_007_199_254_740_992,
            12_345_678_901_234_567_890
        ])
        .prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "a", "b", "ab", "A.png", "10.0.0.1", "x/lib/y", "", "ünï"
        ])
        .prop_map(|s| json!(s)),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec!["a", "b", "c", "a.b", "d"]);
    leaf()
        .prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..4).prop_map(|kv| Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>()
                )),
            ]
        })
        .prop_map(|v| match v {
            Value::Object(_) => v,
            other => json!({ "a": other }),
        })
}

fn matcher() -> Matcher {
    let patterns = [
        r#"{"a": ["a", 1, null, true]}"#,
        r#"{"a": {"b": [{"prefix": "a"}], "c": [{"exists": true}]}}"#,
        r#"{"a.b": [{"anything-but": "ab"}]}"#,
        r#"{"b": [{"numeric": [">", 0]}], "c": [{"exists": false}]}"#,
        r#"{"$or": [{"d": [{"cidr": "10.0.0.0/8"}]}, {"c": [{"suffix": {"equals-ignore-case": ".PNG"}}]}]}"#,
        r#"{"a": {"d": [{"wildcard": "*/lib/*"}, {"equals-ignore-case": "ÜNÏ"}]}}"#,
    ];
    let mut m = Matcher::new();
    for (i, p) in patterns.iter().enumerate() {
        m.add(format!("p{i}"), &Pattern::parse(p).unwrap());
    }
    m
}

/// Random single-field conditions, combined into random patterns.
fn pattern() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec!["a", "b", "c", "a.b", "d", "a.d"]);
    let test = prop::sample::select(vec![
        r#""a""#,
        r#""ab""#,
        "1",
        "null",
        "true",
        r#"{"prefix": "a"}"#,
        r#"{"suffix": "b"}"#,
        r#"{"equals-ignore-case": "AB"}"#,
        r#"{"wildcard": "*b*"}"#,
        r#"{"anything-but": "a"}"#,
        r#"{"anything-but": [1, 2]}"#,
        r#"{"numeric": [">", 0, "<=", 100]}"#,
        r#"{"numeric": ["=", 1]}"#,
        r#"{"exists": true}"#,
        r#"{"exists": false}"#,
        r#"{"cidr": "10.0.0.0/8"}"#,
        r#"{"prefix": {"equals-ignore-case": "A."}}"#,
        r#"{"anything-but": {"suffix": ".png"}}"#,
    ]);
    prop::collection::vec((field, prop::collection::vec(test, 1..3)), 1..4).prop_filter_map(
        "distinct fields",
        |conds| {
            let mut seen = std::collections::HashSet::new();
            let mut parts = Vec::new();
            for (f, tests) in conds {
                // `a` and `a.b` cannot both be leaves of one pattern's object form.
                if !seen.insert(f) {
                    return None;
                }
                parts.push(format!(r#""{f}": [{}]"#, tests.join(", ")));
            }
            Some(format!("{{{}}}", parts.join(", ")))
        },
    )
}

/// A change to a matcher, or a match (by it and by a second matcher, on the same thread).
#[derive(Debug, Clone)]
enum Step {
    Add(usize, String),
    Remove(usize),
    Match(Value),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        (0..4usize, pattern()).prop_map(|(i, p)| Step::Add(i, p)),
        (0..4usize).prop_map(Step::Remove),
        event().prop_map(Step::Match),
        event().prop_map(Step::Match),
    ];
    prop::collection::vec(step, 1..24)
}

proptest! {
    /// Lookups remembered across events (see `patterns::memo`) never outlive a change:
    /// after every add, replace and remove, and between two matchers used in turn, the
    /// index agrees with exhaustive verification, which looks nothing up.
    #[test]
    fn index_agrees_with_exhaustive_verification_through_changes(steps in steps(), others in prop::collection::vec(pattern(), 1..6)) {
        let mut m = Matcher::new();
        let mut other = Matcher::new();
        for (i, p) in others.iter().enumerate() {
            if let Ok(p) = Pattern::parse(p) {
                other.add(format!("o{i}"), &p);
            }
        }
        for step in steps {
            match step {
                Step::Add(i, p) => {
                    if let Ok(p) = Pattern::parse(&p) {
                        m.add(format!("p{i}"), &p);
                    }
                }
                Step::Remove(i) => {
                    m.remove(&format!("p{i}"));
                }
                Step::Match(event) => {
                    let text = serde_json::to_string(&event).unwrap();
                    for _ in 0..2 {
                        prop_assert_eq!(m.matches_str(&text).unwrap(), m.matches_str_exhaustively(&text).unwrap(), "event {}", text);
                        prop_assert_eq!(other.matches_str(&text).unwrap(), other.matches_str_exhaustively(&text).unwrap(), "event {}", text);
                    }
                }
            }
        }
    }

    #[test]
    fn index_agrees_with_exhaustive_verification(patterns in prop::collection::vec(pattern(), 1..40), events in prop::collection::vec(event(), 1..8)) {
        let mut m = Matcher::new();
        for (i, p) in patterns.iter().enumerate() {
            if let Ok(p) = Pattern::parse(p) {
                m.add(format!("p{i}"), &p);
            }
        }
        for event in events {
            let text = serde_json::to_string(&event).unwrap();
            prop_assert_eq!(m.matches_str(&text).unwrap(), m.matches_str_exhaustively(&text).unwrap(), "event {}", text);
        }
    }

    #[test]
    fn text_and_value_agree(event in event()) {
        let m = matcher();
        let text = serde_json::to_string(&event).unwrap();
        let by_text = m.matches_str(&text).unwrap();
        let by_value = m.matches_value(&event);
        prop_assert_eq!(&by_text, &by_value);
        // Pretty-printed too, so that skipped containers span several 64-byte blocks
        // with their brackets and quotes at every offset.
        for text in [text, serde_json::to_string_pretty(&event).unwrap()] {
            let mut trusted = Vec::new();
            m.matches_trusted_str_into(&text, &mut trusted).unwrap();
            prop_assert_eq!(&trusted, &by_value, "trusted, {}", text);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}") {
        let m = matcher();
        let _ = m.matches_str(&text);
        let _ = m.matches_trusted_str_into(&text, &mut Vec::new());
        let _ = Pattern::parse(&text);
    }
}
