//! The trusted walk in two stages, as simdjson does: stage 1
//! ([`crate::structure::index`]) finds every quote and every bracket, `:` and `,` outside
//! strings in the whole event, 64 bytes at a time; stage 2 (here) walks those positions
//! instead of the bytes, reading only the keys and values the patterns name and stepping
//! over the rest by position. Scalars are read by the same code as the byte walker's
//! ([`crate::number::scan_number`], the trie's quick keys), and leaves go to the same
//! [`Visitor`], so the values collected are the same.
//!
//! For text the caller knows is valid JSON, like [`crate::flatten::walk_trusted_text`],
//! which it falls back to for what stage 1 leaves alone (any backslash). The nesting limit
//! holds where patterns look, as there. On invalid text the leaves reported are unspecified (an error,
//! or some leaves); nothing panics and every loop ends, since each step moves on by at
//! least one position.

use std::borrow::Cow;
use std::cell::Cell;

use crate::flatten::{walk_trusted_text, ArrayPos, PathTrie, Scalar, Visitor, MAX_DEPTH};
use crate::number::scan_number;
use crate::skip::ws as skip_ws;
use crate::structure;
use crate::EventError;

thread_local! {
    /// Stage 1's positions, kept across events for their allocation.
    static POSITIONS: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
}

/// Walks trusted event text by its structural index, or by
/// [`walk_trusted_text`] when stage 1 does not take it.
pub(crate) fn walk_indexed_text(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
    arrays: &mut Vec<ArrayPos>,
) -> Result<(), EventError> {
    let mut positions = POSITIONS.take();
    let walked = walk_with(text, trie, visitor, arrays, &mut positions);
    POSITIONS.set(positions);
    walked
}

fn walk_with(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
    arrays: &mut Vec<ArrayPos>,
    positions: &mut Vec<u32>,
) -> Result<(), EventError> {
    let bytes = text.as_bytes();
    let start = skip_ws(bytes, 0);
    let found = match structure::index(bytes, positions) {
        Some(found) if bytes.get(start) == Some(&b'{') => found,
        _ => return walk_trusted_text(text, trie, visitor, arrays),
    };
    let positions = &positions[..found];
    if positions.first().map(|&p| p as usize) != Some(start) {
        return walk_trusted_text(text, trie, visitor, arrays);
    }
    arrays.clear();
    let mut walker = Staged {
        text,
        bytes,
        idx: positions,
        arrays,
        next_array: 0,
        too_deep: false,
    };
    let end = walker.value(0, start, 0, trie, visitor, 0);
    match end {
        Some(i) if i == positions.len() => {
            let last = positions[i - 1] as usize;
            if skip_ws(bytes, last + 1) == bytes.len() {
                return Ok(());
            }
            Err(malformed())
        }
        _ if walker.too_deep => Err(EventError {
            message: "the event nests too deeply".into(),
            line: 1,
            column: 1,
        }),
        _ => Err(malformed()),
    }
}

/// The one error of the indexed walk (it only meets invalid text, whose result is
/// unspecified in trusted mode).
#[cold]
fn malformed() -> EventError {
    EventError {
        message: "malformed event".into(),
        line: 1,
        column: 1,
    }
}

struct Staged<'a, 's> {
    text: &'a str,
    bytes: &'a [u8],
    /// Stage 1's positions.
    idx: &'a [u32],
    arrays: &'s mut Vec<ArrayPos>,
    next_array: u32,
    /// The walk stopped at the nesting limit.
    too_deep: bool,
}

impl Staged<'_, '_> {
    /// The position of structural `i` and its byte.
    #[inline(always)]
    fn at(&self, i: usize) -> Option<(usize, u8)> {
        let p = *self.idx.get(i)? as usize;
        Some((p, *self.bytes.get(p)?))
    }

    /// Reads the value that starts at byte `from` (whitespace allowed), whose first
    /// structural, if it has any, is `i`; `node` is its trie node. Returns the index of
    /// the first structural after it, or `None` on text that is not valid JSON, and on
    /// nesting past [`MAX_DEPTH`] (`depth` is this value's), which sets `too_deep`.
    fn value(
        &mut self,
        i: usize,
        from: usize,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Option<usize> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return None;
        }
        let bytes = self.bytes;
        let start = skip_ws(bytes, from);
        match *bytes.get(start)? {
            b'{' => {
                if self.at(i)?.0 != start {
                    return None;
                }
                self.object(i, node, trie, visitor, depth)
            }
            b'[' => {
                if self.at(i)?.0 != start {
                    return None;
                }
                self.array(i, start, node, trie, visitor, depth)
            }
            b'"' => {
                if self.at(i)?.0 != start {
                    return None;
                }
                let (close, _) = self.at(i + 1)?;
                if let Some(f) = trie.field(node) {
                    let s = self.text.get(start + 1..close)?;
                    visitor.leaf(f, Scalar::Str(Cow::Borrowed(s)), self.arrays);
                }
                Some(i + 2)
            }
            b'-' | b'0'..=b'9' => {
                if let Some(f) = trie.field(node) {
                    let (end, estimate) = scan_number(bytes, start)?;
                    let text = self.text.get(start..end)?;
                    visitor.number(f, text, estimate, self.arrays);
                }
                Some(i)
            }
            b't' => self.literal(i, start, b"true", Scalar::True, node, trie, visitor),
            b'f' => self.literal(i, start, b"false", Scalar::False, node, trie, visitor),
            b'n' => self.literal(i, start, b"null", Scalar::Null, node, trie, visitor),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn literal(
        &mut self,
        i: usize,
        start: usize,
        word: &[u8],
        scalar: Scalar<'static>,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
    ) -> Option<usize> {
        if self.bytes.get(start..start + word.len())? != word {
            return None;
        }
        if let Some(f) = trie.field(node) {
            visitor.leaf(f, scalar, self.arrays);
        }
        Some(i)
    }

    /// The object whose `{` is structural `i`.
    #[inline(always)]
    fn object(
        &mut self,
        i: usize,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Option<usize> {
        let bytes = self.bytes;
        let mut i = i + 1;
        if self.at(i)?.1 == b'}' {
            return Some(i + 1);
        }
        loop {
            // `"key"` is two structurals, then `:`.
            let (open, quote) = self.at(i)?;
            let (close, _) = self.at(i + 1)?;
            let (colon, sep) = self.at(i + 2)?;
            if quote != b'"' || sep != b':' {
                return None;
            }
            let child = match trie.quick_step(node, bytes, open) {
                Some((child, _)) => Some(child),
                None => {
                    let key = self.text.get(open + 1..close)?;
                    // A key quick keys missed, followed at once by its colon, is no
                    // child unless it is dotted (as in the byte walker).
                    if colon == close + 1 && trie.all_quick(node) {
                        trie.step_dotted(node, key)
                    } else {
                        trie.step(node, key)
                    }
                }
            };
            i = match child {
                Some(child) => self.value(i + 3, colon + 1, child, trie, visitor, depth + 1)?,
                None => self.skip(i + 3, colon + 1)?,
            };
            match self.at(i)?.1 {
                b',' => i += 1,
                b'}' => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// The array whose `[` is structural `i`, at byte `start`.
    #[inline(always)]
    fn array(
        &mut self,
        i: usize,
        start: usize,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Option<usize> {
        let (next, b) = self.at(i + 1)?;
        if b == b']' && skip_ws(self.bytes, start + 1) == next {
            return Some(i + 2);
        }
        let id = self.next_array;
        self.next_array += 1;
        self.arrays.push((id, 0));
        let mut i = i + 1;
        let mut from = start + 1;
        loop {
            i = self.value(i, from, node, trie, visitor, depth + 1)?;
            let (p, b) = self.at(i)?;
            match b {
                b',' => {
                    from = p + 1;
                    i += 1;
                    if let Some((_, index)) = self.arrays.last_mut() {
                        *index += 1;
                    }
                }
                b']' => {
                    self.arrays.pop();
                    return Some(i + 1);
                }
                _ => return None,
            }
        }
    }

    /// Steps over the value at byte `from` (first structural `i`) that no pattern looks
    /// inside: a container by counting its brackets among the structurals.
    #[inline(always)]
    fn skip(&self, i: usize, from: usize) -> Option<usize> {
        let start = skip_ws(self.bytes, from);
        match *self.bytes.get(start)? {
            b'"' => Some(i + 2),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut i = i;
                loop {
                    match self.at(i)?.1 {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flatten::tests::{trie, Collect};
    use crate::flatten::walk_text;
    use proptest::prelude::*;

    /// The leaves the indexed walk reports, which must be the validating walk's.
    fn check(text: &str, paths: &[&str]) {
        let t = trie(paths);
        let mut validating = Collect::default();
        let expected = walk_text(text, &t, &mut validating, &mut Vec::new());
        let mut indexed = Collect::default();
        let got = walk_indexed_text(text, &t, &mut indexed, &mut Vec::new());
        assert_eq!(
            got.is_ok(),
            expected.is_ok(),
            "{text}: {got:?} vs {expected:?}"
        );
        assert_eq!(indexed.0, validating.0, "{text}");
    }

    const PATHS: &[&str] = &["a", "a.b", "c.d", "x", "k.x", "k.y", "type"];

    #[test]
    fn indexed_walk_reports_the_validating_walks_leaves() {
        for text in [
            r#"{"a": 1}"#,
            r#"{}"#,
            r#"{"a": [], "c": {}}"#,
            r#"{"a": [ ], "x": [1, [2, [3, "s"]], {"b": true}]}"#,
            r#"{"a":{"b":["x",{"z":1},2.50]},"skip":{"deep":[1,{"a":"b"}]},"c":null,"c.d":false}"#,
            r#"{"k": [[{"x": -122.38419533600236, "y": 37.77608007304251, "z": 0}, {"x": 1e5, "y": -0.0}]]}"#,
            r#"{"type": "Feature", "a.b": "dotted", "skip": "{[\"]}", "x": "é:,{}[]"}"#,
            "{ \"a\" :\n[ 1 ,\t2 ] , \"x\" : null }  ",
            // Escapes go to the byte walker.
            r#"{"a": "q\"uote", "x": "\u0041"}"#,
        ] {
            check(text, PATHS);
        }
    }

    #[test]
    fn nesting_limit_holds_where_patterns_look() {
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(300), "]".repeat(300));
        let t = trie(&["a"]);
        let walked = walk_indexed_text(&deep, &t, &mut Collect::default(), &mut Vec::new());
        assert_eq!(walked.unwrap_err().message, "the event nests too deeply");
        // Unnamed, it is skipped by position (as by brackets in the byte walker).
        let skipped = format!("{{\"b\": {}1{}}}", "[".repeat(300), "]".repeat(300));
        assert!(walk_indexed_text(&skipped, &t, &mut Collect::default(), &mut Vec::new()).is_ok());
    }

    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            any::<i32>().prop_map(|i| i.to_string()),
            proptest::collection::vec(
                prop_oneof![
                    // No quote or backslash: escaped text goes to the byte walker.
                    Just('{'),
                    Just('}'),
                    Just('['),
                    Just(']'),
                    Just(':'),
                    Just(','),
                    Just('a'),
                    Just('x'),
                    Just('.'),
                    Just('é')
                ],
                0..12
            )
            .prop_map(|chars| serde_json::Value::String(chars.into_iter().collect()).to_string()),
        ];
        let key = prop_oneof![
            Just("a"),
            Just("b"),
            Just("c"),
            Just("d"),
            Just("x"),
            Just("y"),
            Just("k"),
            Just("a.b"),
            Just("c.d"),
            Just("k.x"),
            Just("type"),
            Just("other")
        ];
        let space = prop_oneof![Just(""), Just(" "), Just("\n  ")];
        leaf.prop_recursive(5, 120, 6, move |inner| {
            prop_oneof![
                (
                    proptest::collection::vec(inner.clone(), 0..6),
                    space.clone()
                )
                    .prop_map(|(items, sp)| format!("[{sp}{}{sp}]", items.join(&format!(",{sp}")))),
                (
                    proptest::collection::vec((key.clone(), inner), 0..6),
                    space.clone()
                )
                    .prop_map(|(fields, sp)| {
                        let fields: Vec<String> = fields
                            .into_iter()
                            .map(|(k, v)| format!("{sp}\"{k}\"{sp}:{sp}{v}"))
                            .collect();
                        format!("{{{}{sp}}}", fields.join(","))
                    }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn indexed_walk_agrees_on_random_json(fields in proptest::collection::vec(
            (prop_oneof![Just("a"), Just("c"), Just("k"), Just("x"), Just("type"), Just("z")], json()),
            0..6
        )) {
            let body: Vec<String> =
                fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            check(&format!("{{{}}}", body.join(", ")), PATHS);
        }

        /// Any text (most of it not JSON): no panic, and every loop ends.
        #[test]
        fn indexed_walk_never_panics(bytes in proptest::collection::vec(
            prop_oneof![
                Just(b'"'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b':'),
                Just(b','), Just(b'a'), Just(b'x'), Just(b'1'), Just(b' '), any::<u8>()
            ],
            0..200
        )) {
            let text = String::from_utf8_lossy(&bytes);
            let text = format!("{{{text}");
            let _ = walk_indexed_text(&text, &trie(PATHS), &mut Collect::default(), &mut Vec::new());
        }
    }
}
