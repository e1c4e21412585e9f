//! Direct evaluation of one test on one value: the definition the indexes must agree with,
//! used to verify candidate alternatives.

use std::net::IpAddr;

use crate::ast::{AnythingBut, Test};
use crate::fold::fold_value;

/// A leaf value of the event, as the tests see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueView<'a> {
    Str(&'a str),
    /// The number's JSON text and, when a double holds it exactly, its order key.
    Num {
        text: &'a str,
        key: Option<u64>,
    },
    True,
    False,
    Null,
}

pub(crate) fn test_matches(test: &Test, value: &ValueView<'_>) -> bool {
    match (test, value) {
        (Test::Exists, _) => true,
        (Test::AnythingBut(ab), v) => !excluded(ab, v),
        (Test::True, ValueView::True)
        | (Test::False, ValueView::False)
        | (Test::Null, ValueView::Null) => true,
        (Test::ExactNumber(n), ValueView::Num { text, key }) => {
            (n.key.is_some() && n.key == *key) || n.text == *text
        }
        (Test::Numeric(range), ValueView::Num { key: Some(key), .. }) => range.contains(*key),
        (Test::ExactString(x), ValueView::Str(s)) => x == s,
        (Test::Prefix(p), ValueView::Str(s)) => s.starts_with(p.as_str()),
        (Test::Suffix(p), ValueView::Str(s)) => s.ends_with(p.as_str()),
        (Test::PrefixIgnoreCase(p), ValueView::Str(s)) => fold_value(s).starts_with(p.as_str()),
        (Test::SuffixIgnoreCase(p), ValueView::Str(s)) => fold_value(s).ends_with(p.as_str()),
        (Test::EqualsIgnoreCase(x), ValueView::Str(s)) => &*fold_value(s) == x.as_str(),
        (Test::Wildcard(w), ValueView::Str(s)) => w.is_match(s.as_bytes()),
        (Test::Cidr(block), ValueView::Str(s)) => {
            s.parse::<IpAddr>().is_ok_and(|ip| block.contains(ip))
        }
        _ => false,
    }
}

/// Whether `anything-but` excludes the value. Exclusions are typed: strings only exclude
/// strings, numbers only numbers, and nothing excludes `true`, `false` or `null`.
pub(crate) fn excluded(ab: &AnythingBut, value: &ValueView<'_>) -> bool {
    match (ab, value) {
        (AnythingBut::Numbers(keys), ValueView::Num { key: Some(k), .. }) => keys.contains(k),
        (AnythingBut::IgnoreCase(_), ValueView::Str(s)) => string_excluded(ab, s, &fold_value(s)),
        (_, ValueView::Str(s)) => string_excluded(ab, s, ""),
        _ => false,
    }
}

/// Whether `anything-but` excludes the string `s`; `folded` is `s` case-folded (read
/// only by the `equals-ignore-case` form, so that a caller checking many exclusions
/// folds once).
#[inline]
pub(crate) fn string_excluded(ab: &AnythingBut, s: &str, folded: &str) -> bool {
    match ab {
        AnythingBut::Strings(list) => list.iter().any(|x| x == s),
        AnythingBut::Prefixes(list) => list.iter().any(|p| s.starts_with(p.as_str())),
        AnythingBut::Suffixes(list) => list.iter().any(|p| s.ends_with(p.as_str())),
        AnythingBut::IgnoreCase(list) => list.iter().any(|x| x == folded),
        AnythingBut::Wildcards(list) => list.iter().any(|w| w.is_match(s.as_bytes())),
        AnythingBut::Numbers(_) => false,
    }
}
