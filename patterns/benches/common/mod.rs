//! What the benches share: how rules are compiled, how events are matched, and the
//! parse-only baseline they are measured against.

use patterns::{Matcher, Pattern};

/// One matcher holding `sources`, named `r0`, `r1`, ….
pub fn matcher_of<S: AsRef<str>>(sources: &[S]) -> Matcher {
    let mut m = Matcher::new();
    for (i, s) in sources.iter().enumerate() {
        m.add(
            format!("r{i}"),
            &Pattern::parse(s.as_ref()).expect("bench rule"),
        );
    }
    m
}

/// Through `matches_str_into`, as a consumer matching a stream of events would: the
/// names vector is kept across events.
pub fn count_matches(m: &Matcher, events: &[String]) -> usize {
    let mut names = Vec::new();
    events
        .iter()
        .map(|e| {
            m.matches_str_into(e, &mut names).expect("valid event");
            names.len()
        })
        .sum()
}

/// The baseline: every event parsed to a `serde_json::Value`.
pub fn parse_only(events: &[String]) -> usize {
    events
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(e)
                .expect("valid")
                .as_object()
                .map_or(0, |o| o.len())
        })
        .sum()
}
