//! The compiled form of one pattern: `$or` expanded into alternatives, each a
//! conjunction of per-field conditions.

use crate::cidr::Cidr;
use crate::wildcard::Wildcard;

/// One alternative of a pattern: every condition must hold.
pub(crate) type Alternative = Vec<Condition>;

/// The tests on one flattened field (`detail.state`): any test may hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub path: String,
    pub tests: Vec<Test>,
    /// `{"exists": false}` was among the tests: an absent field satisfies the condition.
    pub absent_ok: bool,
}

/// A literal number in a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NumberLiteral {
    pub text: String,
    /// Order-preserving key when the double represents the text exactly.
    pub key: Option<u64>,
}

/// A test on one value of a field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    ExactString(String),
    ExactNumber(NumberLiteral),
    True,
    False,
    Null,
    Prefix(String),
    /// Stored case-folded.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Stored case-folded.
    SuffixIgnoreCase(String),
    /// Stored case-folded.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(Range),
    Cidr(Cidr),
    Exists,
}

/// `anything-but`: the value passes unless it is one of these (typed: a string list
/// never excludes a number, and the reverse).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<u64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Stored case-folded.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric interval over order-preserving keys; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Range {
    pub low: Option<(u64, bool)>,
    pub high: Option<(u64, bool)>,
}

impl Range {
    pub(crate) fn contains(&self, key: u64) -> bool {
        let above = match self.low {
            None => true,
            Some((low, inclusive)) => key > low || (inclusive && key == low),
        };
        let below = match self.high {
            None => true,
            Some((high, inclusive)) => key < high || (inclusive && key == high),
        };
        above && below
    }

    /// The range as an inclusive interval of keys, `None` if no key is in it. Keys are
    /// integers, so an exclusive bound is the next key inside it.
    pub(crate) fn keys(&self) -> Option<(u64, u64)> {
        let from = match self.low {
            None => Some(0),
            Some((key, true)) => Some(key),
            Some((key, false)) => key.checked_add(1),
        }?;
        let to = match self.high {
            None => Some(u64::MAX),
            Some((key, true)) => Some(key),
            Some((key, false)) => key.checked_sub(1),
        }?;
        (from <= to).then_some((from, to))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Range;
    use proptest::prelude::Strategy;

    /// Ranges over keys below `max`, each bound absent, inclusive or exclusive (empty
    /// ranges included).
    pub(crate) fn ranges_below(max: u64) -> impl Strategy<Value = Range> {
        let bound = || proptest::option::of((0..max, proptest::bool::ANY));
        (bound(), bound()).prop_map(|(low, high)| Range { low, high })
    }

    proptest::proptest! {
        /// A range's key interval holds exactly the keys the range contains.
        #[test]
        fn keys_agree_with_contains(
            range in ranges_below(64),
            from in 0u64..64,
            width in 0u64..8,
        ) {
            for k in from..=from + width {
                let inside = range.keys().is_some_and(|(a, b)| a <= k && k <= b);
                proptest::prop_assert_eq!(inside, range.contains(k), "key {}", k);
            }
        }
    }
}
