//! Why an event matches a pattern or not: the `$or` alternative that matched, or for each
//! alternative the first field whose test failed.
//!
//! Not a fast path: it walks the event once more and checks each field on its own. The
//! match itself is still decided by the matcher, alternative by alternative, so the
//! explanation never disagrees with [`Pattern::matches_str`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::ast::{AnythingBut, Condition, Range, Test};
use crate::eval::{test_matches, ValueView};
use crate::flatten::{walk_text, ArrayPos, PathTrie, Scalar, Visitor, WalkScratch};
use crate::number::{comparable_key, value_of};
use crate::{EventError, Pattern};

/// Why an event matched a pattern, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// The event matches. `alternative` is the first `$or` alternative (0-based) that
    /// holds, of `of` (1 without `$or`); `fields` are the fields it tests.
    Matched {
        alternative: usize,
        of: usize,
        fields: Vec<String>,
    },
    /// No alternative holds: for each, in order, the first field whose test failed.
    NoMatch { failures: Vec<Failure> },
}

/// Why one alternative of a pattern does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The alternative (0-based) of [`Pattern::alternative_count`].
    pub alternative: usize,
    /// The flattened field, e.g. `detail.state`; for an array-consistency failure, the
    /// fields involved, joined by `, `.
    pub field: String,
    /// What failed, e.g. `No value matches ["running"]; the event has "stopped"`.
    pub reason: String,
}

impl Explanation {
    pub fn matched(&self) -> bool {
        matches!(self, Explanation::Matched { .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `PatternError`: the place, then the message.
        write!(f, "at {}: {}", self.field, self.reason)
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Explanation::Matched { of: 1, .. } => write!(f, "match: every field holds"),
            Explanation::Matched {
                alternative,
                of,
                fields,
            } => write!(
                f,
                "match: $or alternative {} of {of} holds ({})",
                alternative + 1,
                fields.join(", ")
            ),
            Explanation::NoMatch { failures } => match failures.as_slice() {
                [only] if only.alternative == 0 && failures.len() == 1 => {
                    write!(f, "no match: {only}")
                }
                _ => {
                    write!(f, "no match: no $or alternative holds")?;
                    for failure in failures {
                        write!(f, "\n  alternative {} {failure}", failure.alternative + 1)?;
                    }
                    Ok(())
                }
            },
        }
    }
}

/// Most event values quoted in one reason.
const SHOWN_VALUES: usize = 5;

/// One leaf value of a field the pattern tests, as the tests see it.
struct Leaf {
    field: u32,
    value: Owned,
    arrays: Vec<ArrayPos>,
}

enum Owned {
    Str(String),
    Num(String),
    True,
    False,
    Null,
}

impl Owned {
    fn view(&self) -> ValueView<'_> {
        match self {
            Owned::Str(s) => ValueView::Str(s),
            Owned::Num(text) => ValueView::Num {
                text,
                key: comparable_key(text),
            },
            Owned::True => ValueView::True,
            Owned::False => ValueView::False,
            Owned::Null => ValueView::Null,
        }
    }

    /// As JSON.
    fn render(&self) -> String {
        match self {
            Owned::Str(s) => quote(s),
            Owned::Num(text) => text.clone(),
            Owned::True => "true".into(),
            Owned::False => "false".into(),
            Owned::Null => "null".into(),
        }
    }
}

struct Collect(Vec<Leaf>);

impl Visitor for Collect {
    fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]) {
        let value = match value {
            Scalar::Str(s) => Owned::Str(s.into_owned()),
            Scalar::Num(text, _) => Owned::Num(text.into_owned()),
            Scalar::True => Owned::True,
            Scalar::False => Owned::False,
            Scalar::Null => Owned::Null,
        };
        self.0.push(Leaf {
            field,
            value,
            arrays: arrays.to_vec(),
        });
    }
}

pub(crate) fn explain(pattern: &Pattern, event: &str) -> Result<Explanation, EventError> {
    let alternatives = pattern.alternatives();
    // The verdict, per alternative, from the matcher itself.
    let mut holds = Vec::with_capacity(alternatives.len());
    for alternative in alternatives {
        let one = Pattern {
            source: pattern.source.clone(),
            alternatives: Arc::new(vec![alternative.clone()]),
            single: Arc::new(OnceLock::new()),
        };
        holds.push(one.matches_str(event)?);
    }
    if let Some(first) = holds.iter().position(|&h| h) {
        return Ok(Explanation::Matched {
            alternative: first,
            of: alternatives.len(),
            fields: alternatives[first].iter().map(|c| c.path.clone()).collect(),
        });
    }
    // Why not: each field on its own, over the values the event has for it.
    let mut trie = PathTrie::new();
    let mut ids = rustc_hash::FxHashMap::default();
    for condition in alternatives.iter().flatten() {
        let next = ids.len() as u32;
        let id = trie.insert(&condition.path, next);
        ids.entry(condition.path.as_str()).or_insert(id);
    }
    let mut leaves = Collect(Vec::new());
    walk_text(event, &trie, &mut leaves, &mut WalkScratch::default())?;
    let failures = alternatives
        .iter()
        .enumerate()
        .map(|(i, alternative)| {
            let values = |c: &Condition| {
                let id = ids.get(c.path.as_str()).copied();
                leaves
                    .0
                    .iter()
                    .filter(move |leaf| Some(leaf.field) == id)
                    .collect::<Vec<_>>()
            };
            let first = alternative
                .iter()
                .find_map(|c| condition_failure(c, &values(c)));
            let (field, reason) = first.unwrap_or_else(|| {
                let fields: Vec<_> = alternative.iter().map(|c| c.path.as_str()).collect();
                (
                    fields.join(", "),
                    "Each field holds alone, but not within one element of an array".to_string(),
                )
            });
            Failure {
                alternative: i,
                field,
                reason,
            }
        })
        .collect();
    Ok(Explanation::NoMatch { failures })
}

/// The field and reason when the condition fails on its own, `None` when it holds.
fn condition_failure(c: &Condition, values: &[&Leaf]) -> Option<(String, String)> {
    let expected = describe(c);
    if values.is_empty() {
        return (!c.absent_ok).then(|| {
            (
                c.path.clone(),
                format!("Field is absent, expected {expected}"),
            )
        });
    }
    if values
        .iter()
        .any(|leaf| c.tests.iter().any(|t| test_matches(t, &leaf.value.view())))
    {
        return None;
    }
    // exists: false with values: it may still hold in another array element than the
    // rest of the alternative (the matcher decides that); on its own it fails only when
    // a value sits outside every array.
    if c.absent_ok && values.iter().all(|leaf| !leaf.arrays.is_empty()) {
        return None;
    }
    let mut shown: Vec<String> = values
        .iter()
        .take(SHOWN_VALUES)
        .map(|leaf| leaf.value.render())
        .collect();
    if values.len() > SHOWN_VALUES {
        shown.push(format!("and {} more", values.len() - SHOWN_VALUES));
    }
    let had = shown.join(", ");
    let reason = if c.tests.is_empty() {
        format!("Field exists, expected {expected}; the event has {had}")
    } else {
        format!("No value matches {expected}; the event has {had}")
    };
    Some((c.path.clone(), reason))
}

/// The condition's tests as the pattern's JSON list for the field.
fn describe(c: &Condition) -> String {
    let mut items: Vec<String> = c.tests.iter().map(describe_test).collect();
    if c.absent_ok {
        items.push(r#"{"exists": false}"#.into());
    }
    format!("[{}]", items.join(", "))
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn quoted_list(items: &[String]) -> String {
    match items {
        [one] => quote(one),
        _ => format!(
            "[{}]",
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn number(key: u64) -> String {
    let value = value_of(key);
    // Integers without the ".0" a double's Display gives, as patterns write them.
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn describe_test(test: &Test) -> String {
    match test {
        Test::ExactString(s) => quote(s),
        Test::ExactNumber(n) => n.text.clone(),
        Test::True => "true".into(),
        Test::False => "false".into(),
        Test::Null => "null".into(),
        Test::Prefix(p) => format!(r#"{{"prefix": {}}}"#, quote(p)),
        Test::PrefixIgnoreCase(p) => {
            format!(r#"{{"prefix": {{"equals-ignore-case": {}}}}}"#, quote(p))
        }
        Test::Suffix(p) => format!(r#"{{"suffix": {}}}"#, quote(p)),
        Test::SuffixIgnoreCase(p) => {
            format!(r#"{{"suffix": {{"equals-ignore-case": {}}}}}"#, quote(p))
        }
        Test::EqualsIgnoreCase(s) => format!(r#"{{"equals-ignore-case": {}}}"#, quote(s)),
        Test::Wildcard(w) => format!(r#"{{"wildcard": {}}}"#, quote(&w.to_string())),
        Test::AnythingBut(ab) => {
            let inner = match ab {
                AnythingBut::Strings(list) => quoted_list(list),
                AnythingBut::Numbers(keys) => {
                    let numbers: Vec<_> = keys.iter().map(|&k| number(k)).collect();
                    match numbers.as_slice() {
                        [one] => one.clone(),
                        _ => format!("[{}]", numbers.join(", ")),
                    }
                }
                AnythingBut::Prefixes(list) => format!(r#"{{"prefix": {}}}"#, quoted_list(list)),
                AnythingBut::Suffixes(list) => format!(r#"{{"suffix": {}}}"#, quoted_list(list)),
                AnythingBut::IgnoreCase(list) => {
                    format!(r#"{{"equals-ignore-case": {}}}"#, quoted_list(list))
                }
                AnythingBut::Wildcards(list) => {
                    let texts: Vec<_> = list.iter().map(|w| w.to_string()).collect();
                    format!(r#"{{"wildcard": {}}}"#, quoted_list(&texts))
                }
            };
            format!(r#"{{"anything-but": {inner}}}"#)
        }
        Test::Numeric(Range { low, high }) => {
            let mut terms = Vec::new();
            match (low, high) {
                (Some((l, true)), Some((h, true))) if l == h => {
                    terms.push(format!(r#""=", {}"#, number(*l)))
                }
                _ => {
                    if let Some((l, inclusive)) = low {
                        let op = if *inclusive { ">=" } else { ">" };
                        terms.push(format!(r#""{op}", {}"#, number(*l)));
                    }
                    if let Some((h, inclusive)) = high {
                        let op = if *inclusive { "<=" } else { "<" };
                        terms.push(format!(r#""{op}", {}"#, number(*h)));
                    }
                }
            }
            format!(r#"{{"numeric": [{}]}}"#, terms.join(", "))
        }
        Test::Cidr(block) => format!(r#"{{"cidr": "{block}"}}"#),
        Test::Exists => r#"{"exists": true}"#.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(pattern: &str, event: &str) -> Explanation {
        Pattern::parse(pattern)
            .expect("valid pattern")
            .explain(event)
            .expect("valid event")
    }

    #[test]
    fn a_match_names_the_alternative() {
        let e = explain(r#"{"source": ["aws.s3"]}"#, r#"{"source": "aws.s3"}"#);
        assert!(e.matched());
        assert_eq!(e.to_string(), "match: every field holds");
        let e = explain(
            r#"{"$or": [{"a": ["x"]}, {"b": [{"prefix": "y"}], "c": [1]}]}"#,
            r#"{"a": "z", "b": "yes", "c": 1.0}"#,
        );
        assert_eq!(
            e,
            Explanation::Matched {
                alternative: 1,
                of: 2,
                fields: vec!["b".into(), "c".into()]
            }
        );
        assert_eq!(e.to_string(), "match: $or alternative 2 of 2 holds (b, c)");
    }

    #[test]
    fn no_match_names_the_first_failing_field() {
        let e = explain(
            r#"{"source": ["aws.ec2"], "detail": {"state": ["running", {"prefix": "pend"}]}}"#,
            r#"{"source": "aws.ec2", "detail": {"state": "stopped"}}"#,
        );
        assert_eq!(
            e.to_string(),
            r#"no match: at detail.state: No value matches ["running", {"prefix": "pend"}]; the event has "stopped""#
        );
        let e = explain(
            r#"{"a": {"b": [{"numeric": [">", 0, "<=", 5]}]}}"#,
            r#"{"x": 1}"#,
        );
        assert_eq!(
            e.to_string(),
            r#"no match: at a.b: Field is absent, expected [{"numeric": [">", 0, "<=", 5]}]"#
        );
        let e = explain(r#"{"a": [{"exists": false}]}"#, r#"{"a": [1, 2]}"#);
        // Present, in an array, alone: the matcher says no, and so does the reason.
        assert!(!e.matched());
        let e = explain(r#"{"a": [{"exists": false}]}"#, r#"{"a": 1}"#);
        assert_eq!(
            e.to_string(),
            r#"no match: at a: Field exists, expected [{"exists": false}]; the event has 1"#
        );
    }

    #[test]
    fn every_alternative_reports_its_failure() {
        let e = explain(
            r#"{"$or": [{"a": [{"anything-but": ["x", "y"]}]}, {"ip": [{"cidr": "10.0.0.0/24"}]}]}"#,
            r#"{"a": "x", "ip": "10.0.1.5"}"#,
        );
        assert_eq!(
            e.to_string(),
            "no match: no $or alternative holds\n  \
             alternative 1 at a: No value matches [{\"anything-but\": [\"x\", \"y\"]}]; the event has \"x\"\n  \
             alternative 2 at ip: No value matches [{\"cidr\": \"10.0.0.0/24\"}]; the event has \"10.0.1.5\""
        );
    }

    #[test]
    fn array_consistency_is_named_when_each_field_holds_alone() {
        let e = explain(
            r#"{"e": {"first": ["Anna"], "last": ["Jones"]}}"#,
            r#"{"e": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]}"#,
        );
        let Explanation::NoMatch { failures } = &e else {
            panic!("{e}")
        };
        assert_eq!(failures[0].field, "e.first, e.last");
        assert!(failures[0]
            .reason
            .contains("within one element of an array"));
    }

    #[test]
    fn many_values_are_elided_and_bad_events_are_errors() {
        let e = explain(r#"{"n": [0]}"#, r#"{"n": [1, 2, 3, 4, 5, 6, 7]}"#);
        assert!(e
            .to_string()
            .ends_with("the event has 1, 2, 3, 4, 5, and 2 more"));
        let p = Pattern::parse(r#"{"n": [0]}"#).unwrap();
        assert!(p.explain("{").is_err());
    }
}
