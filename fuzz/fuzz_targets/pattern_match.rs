//! Any event text against a fixed rule set: a result or an error, never a panic, the
//! index always agrees with exhaustive verification, and the event is accepted exactly
//! when serde_json reads it as an object (the walker validates even the parts it skips).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use patterns::{Matcher, Pattern};

const PATTERNS: &[&str] = &[
    r#"{"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "in/"}, {"suffix": ".png"}]}}}"#,
    r#"{"detail": {"size": [{"numeric": [">", 0, "<=", 1e6]}], "ip": [{"cidr": "10.0.0.0/8"}]}}"#,
    r#"{"a": {"b": [{"anything-but": {"wildcard": "*x*"}}], "c": [{"exists": false}]}}"#,
    r#"{"$or": [{"a": [{"equals-ignore-case": "ÄB"}]}, {"a": {"b": [null, true, 1]}}]}"#,
    r#"{"r": {"t": ["a"], "v": [1]}}"#,
];

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = Matcher::new();
        for (i, p) in PATTERNS.iter().enumerate() {
            m.add(format!("p{i}"), &Pattern::parse(p).expect("fuzz rule set is valid"));
        }
        m
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let m = matcher();
        let indexed = m.matches_str(text);
        let exhaustive = m.matches_str_exhaustively(text);
        assert_eq!(indexed, exhaustive);
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => assert_eq!(indexed.is_ok(), value.is_object(), "{text:?}"),
            // Numbers beyond a double's range are valid event text.
            Err(e) if e.to_string().contains("out of range") => {}
            // serde_json stops at 128 levels; events may nest 256 deep.
            Err(e) if e.to_string().contains("recursion limit") => {}
            Err(e) => assert!(indexed.is_err(), "{text:?} accepted, serde_json: {e}"),
        }
    }
});
