//! Per-field lookup structures: which anchor conditions does one value satisfy?
//!
//! Hash maps for exact and case-folded values, length-bucketed maps for prefixes and
//! suffixes, literal prefix or suffix buckets for wildcards (an Aho-Corasick automaton
//! for many `*…*` ones), numeric ranges sorted by start with their reach, CIDR blocks by
//! prefix length, and a list for `anything-but` (every test a value does not exclude is
//! a hit). Must agree with [`crate::eval::test_matches`].

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;

use crate::ast::{AnythingBut, Range, Test};
use crate::cidr::CidrIndex;
use crate::eval::{excluded, string_excluded, ValueView};
use crate::fold::fold_value;
use crate::number::{comparable_key, keys_within, window};
use crate::wildcard::Wildcard;
use crate::words::short_key;

pub(crate) type Ids = Vec<u32>;

/// Exact-byte keys bucketed by length: a value probes one hash lookup per distinct
/// prefix (or suffix) length, however many rules share the field.
///
/// Keys of up to 7 bytes (most affixes: `AC`, `ING`, `.csv`) are kept as one word,
/// their bytes and their length, so that a probe hashes and compares an integer rather
/// than a slice.
#[derive(Debug, Clone, Default)]
pub(crate) struct AffixIndex {
    lengths: Vec<usize>,
    short: FxHashMap<u64, Ids>,
    long: FxHashMap<Box<[u8]>, Ids>,
}

/// The longest key [`AffixIndex`] keeps as a word.
const SHORT_AFFIX: usize = 7;

/// `bytes` (at most [`SHORT_AFFIX`] of them) little-endian in the low bytes of a
/// word, and their count in the top byte.
fn affix_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word) | (bytes.len() as u64) << 56
}

/// [`affix_word`] of `value[..len]`: one load when `value` has eight bytes.
#[inline(always)]
fn short_prefix_key(value: &[u8], len: usize) -> u64 {
    match value.first_chunk::<8>() {
        Some(chunk) if len > 0 => {
            u64::from_le_bytes(*chunk) & (u64::MAX >> (64 - 8 * len)) | (len as u64) << 56
        }
        _ => affix_word(&value[..len]),
    }
}

/// [`affix_word`] of the last `len` bytes of `value`: one load when it has eight.
#[inline(always)]
fn short_suffix_key(value: &[u8], len: usize) -> u64 {
    match value.last_chunk::<8>() {
        Some(chunk) if len > 0 => u64::from_le_bytes(*chunk) >> (64 - 8 * len) | (len as u64) << 56,
        _ => affix_word(&value[value.len() - len..]),
    }
}

impl AffixIndex {
    fn insert(&mut self, key: &[u8], id: u32) {
        if let Err(at) = self.lengths.binary_search(&key.len()) {
            self.lengths.insert(at, key.len());
        }
        if key.len() <= SHORT_AFFIX {
            self.short.entry(affix_word(key)).or_default().push(id);
        } else {
            self.long.entry(key.into()).or_default().push(id);
        }
    }

    /// Inlined: most fields have no prefixes (or suffixes) of some kind, and the call
    /// cost more than finding that out.
    #[inline(always)]
    fn prefixes_of(&self, value: &[u8], mut f: impl FnMut(u32)) {
        for &len in &self.lengths {
            if len > value.len() {
                break;
            }
            let ids = if len <= SHORT_AFFIX {
                self.short.get(&short_prefix_key(value, len))
            } else {
                self.long.get(&value[..len])
            };
            if let Some(ids) = ids {
                ids.iter().copied().for_each(&mut f);
            }
        }
    }

    #[inline(always)]
    fn suffixes_of(&self, value: &[u8], mut f: impl FnMut(u32)) {
        for &len in &self.lengths {
            if len > value.len() {
                break;
            }
            let ids = if len <= SHORT_AFFIX {
                self.short.get(&short_suffix_key(value, len))
            } else {
                self.long.get(&value[value.len() - len..])
            };
            if let Some(ids) = ids {
                ids.iter().copied().for_each(&mut f);
            }
        }
    }
}

/// Exact strings: those of up to 15 bytes (most enum-like values: `Feature`,
/// `ObjectCreated`, `us-east-1`) keyed by one integer (see [`short_key`]), so that a
/// probe hashes and compares integers; longer ones by their bytes.
#[derive(Debug, Clone, Default)]
struct ExactStrings {
    short: FxHashMap<u128, Ids>,
    long: FxHashMap<Box<[u8]>, Ids>,
}

impl ExactStrings {
    fn insert(&mut self, key: &[u8], id: u32) {
        match short_key(key) {
            Some(short) => self.short.entry(short).or_default().push(id),
            None => self.long.entry(key.into()).or_default().push(id),
        }
    }

    #[inline(always)]
    fn get(&self, value: &[u8]) -> Option<&Ids> {
        match short_key(value) {
            Some(short) => self.short.get(&short),
            None => self.long.get(value),
        }
    }

    fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }
}

/// Numeric ranges as inclusive key intervals sorted by where they start, each with the
/// largest end among it and those before it: a number walks back from the last range
/// starting at or below it and stops as soon as no earlier range reaches it, so
/// thousands of disjoint ranges on one field cost a binary search and the hits, not a
/// scan.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeIndex {
    /// `(from, to, condition)`, sorted by `from`.
    entries: Vec<(u64, u64, u32)>,
    /// `reach[i]`: the largest `to` of `entries[..=i]`.
    reach: Vec<u64>,
}

impl RangeIndex {
    fn insert(&mut self, range: &Range, cond: u32) {
        // A range no key is in is satisfied by nothing.
        let Some((from, to)) = range.keys() else {
            return;
        };
        let at = self.entries.partition_point(|e| e.0 <= from);
        self.entries.insert(at, (from, to, cond));
        // Entries from `at` on moved: their reach is recomputed.
        self.reach.truncate(at);
        let mut reach = at.checked_sub(1).map_or(0, |i| self.reach[i]);
        for &(_, to, _) in &self.entries[at..] {
            reach = reach.max(to);
            self.reach.push(reach);
        }
    }

    /// Calls `hit` for every range holding some key in `low..=high`.
    fn hits(&self, (low, high): (u64, u64), hit: &mut impl FnMut(u32)) {
        let starting = self.entries.partition_point(|e| e.0 <= high);
        for i in (0..starting).rev() {
            if self.reach[i] < low {
                break;
            }
            let (_, to, cond) = self.entries[i];
            if to >= low {
                hit(cond);
            }
        }
    }
}

/// Wildcards whose longest literal is inside (`*error*`, `data/*/part-7.*`) are indexed
/// by that literal, which a matching value holds somewhere. A few are simply
/// tried on every value; past [`FEW_INFIXES`] literals, an Aho-Corasick automaton over
/// them, built on the first lookup after a change, finds the literals a value contains,
/// and only the wildcards needing those are tried, each once.
#[derive(Debug, Clone, Default)]
struct InfixWildcards {
    /// Distinct literals, and per literal the positions (in `FieldIndex::wildcards`) of
    /// the wildcards that contain it.
    literals: Vec<Box<[u8]>>,
    users: Vec<Ids>,
    by_literal: FxHashMap<Box<[u8]>, u32>,
    automaton: OnceLock<Option<AhoCorasick>>,
}

/// Up to this many literals, each value tries every infix wildcard.
const FEW_INFIXES: usize = 16;

thread_local! {
    /// Per literal, the lookup that last tried its wildcards (so repeated occurrences
    /// in one value try them once), and the current lookup's number.
    static INFIX_SEEN: RefCell<(u32, Vec<u32>)> = const { RefCell::new((0, Vec::new())) };
}

impl InfixWildcards {
    fn insert(&mut self, literal: &[u8], at: u32) {
        let id = match self.by_literal.get(literal) {
            Some(&id) => id,
            None => {
                let id = self.literals.len() as u32;
                self.literals.push(literal.into());
                self.users.push(Ids::new());
                self.by_literal.insert(literal.into(), id);
                id
            }
        };
        self.users[id as usize].push(at);
        self.automaton = OnceLock::new();
    }

    /// Calls `try_wildcard` with the position of every wildcard whose literal `value`
    /// contains (all of them while there are few).
    fn candidates(&self, value: &[u8], try_wildcard: &mut impl FnMut(u32)) {
        if self.literals.len() <= FEW_INFIXES {
            for users in &self.users {
                users.iter().copied().for_each(&mut *try_wildcard);
            }
            return;
        }
        let automaton = self.automaton.get_or_init(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&self.literals)
                .ok()
        });
        let Some(automaton) = automaton else {
            // Unbuildable (never expected): try them all.
            self.users.iter().flatten().copied().for_each(try_wildcard);
            return;
        };
        INFIX_SEEN.with(|seen| {
            let mut guard = seen.try_borrow_mut();
            let Ok((lookup, seen)) = guard.as_deref_mut() else {
                // Re-entered (never expected): try each literal found, repeats and all.
                for found in automaton.find_overlapping_iter(value) {
                    self.users[found.pattern().as_usize()]
                        .iter()
                        .copied()
                        .for_each(&mut *try_wildcard);
                }
                return;
            };
            if seen.len() < self.literals.len() {
                seen.resize(self.literals.len(), 0);
            }
            *lookup = lookup.wrapping_add(1);
            if *lookup == 0 {
                seen.iter_mut().for_each(|s| *s = 0);
                *lookup = 1;
            }
            for found in automaton.find_overlapping_iter(value) {
                let id = found.pattern().as_usize();
                if seen[id] != *lookup {
                    seen[id] = *lookup;
                    self.users[id].iter().copied().for_each(&mut *try_wildcard);
                }
            }
        });
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FieldIndex {
    exact: ExactStrings,
    number_keys: FxHashMap<u64, Ids>,
    /// The keys of `number_keys`, sorted: an estimated key (see `number::near_key`)
    /// probes the few keys within its slack.
    sorted_number_keys: Vec<u64>,
    number_texts: FxHashMap<Box<str>, Ids>,
    trues: Ids,
    falses: Ids,
    nulls: Ids,
    prefix: AffixIndex,
    prefix_folded: AffixIndex,
    suffix: AffixIndex,
    suffix_folded: AffixIndex,
    folded: ExactStrings,
    wildcards: Vec<(Wildcard, u32)>,
    /// Positions in `wildcards`, bucketed by the longest literal each must hold: its
    /// prefix, its suffix, or one inside (see [`InfixWildcards`]). Only `*` alone is in
    /// the empty bucket every value visits.
    wildcard_index: AffixIndex,
    wildcard_suffix_index: AffixIndex,
    wildcard_infixes: InfixWildcards,
    ranges: RangeIndex,
    cidrs: CidrIndex,
    anything_buts: Vec<(AnythingBut, u32)>,
    exists: Ids,
    /// Some test compares case-folded text: string values are folded once, up front.
    needs_fold: bool,
}

impl FieldIndex {
    pub(crate) fn add(&mut self, test: &Test, cond: u32) {
        self.needs_fold |= matches!(
            test,
            Test::EqualsIgnoreCase(_)
                | Test::PrefixIgnoreCase(_)
                | Test::SuffixIgnoreCase(_)
                | Test::AnythingBut(AnythingBut::IgnoreCase(_))
        );
        match test {
            Test::ExactString(s) => self.exact.insert(s.as_bytes(), cond),
            Test::ExactNumber(n) => {
                // A number a double holds exactly is found by its key: event text equal
                // to it parses to the same key. Only the others need their text.
                match n.key {
                    Some(key) => self.add_number_key(key, cond),
                    None => self
                        .number_texts
                        .entry(n.text.as_str().into())
                        .or_default()
                        .push(cond),
                }
            }
            Test::True => self.trues.push(cond),
            Test::False => self.falses.push(cond),
            Test::Null => self.nulls.push(cond),
            Test::Prefix(p) => self.prefix.insert(p.as_bytes(), cond),
            Test::PrefixIgnoreCase(p) => self.prefix_folded.insert(p.as_bytes(), cond),
            Test::Suffix(s) => self.suffix.insert(s.as_bytes(), cond),
            Test::SuffixIgnoreCase(s) => self.suffix_folded.insert(s.as_bytes(), cond),
            Test::EqualsIgnoreCase(s) => self.folded.insert(s.as_bytes(), cond),
            Test::Wildcard(w) => {
                let at = self.wildcards.len() as u32;
                // Bucketed by the longest literal the value must hold (the longer, the
                // fewer rules share it): `S*<n>` rules share a prefix but not a
                // suffix, `data/*/part-<n>.*` ones share both but not the middle.
                let (prefix, suffix, inside) =
                    (w.literal_prefix(), w.literal_suffix(), w.longest_literal());
                if inside.len() > prefix.len().max(suffix.len()) {
                    self.wildcard_infixes.insert(&inside, at);
                } else if suffix.len() > prefix.len() {
                    self.wildcard_suffix_index.insert(&suffix, at);
                } else {
                    self.wildcard_index.insert(&prefix, at);
                }
                self.wildcards.push((w.clone(), cond));
            }
            Test::AnythingBut(a) => self.anything_buts.push((a.clone(), cond)),
            // `["=", x]` is an exact lookup, not a range to scan.
            Test::Numeric(Range {
                low: Some((low, true)),
                high: Some((high, true)),
            }) if low == high => self.add_number_key(*low, cond),
            Test::Numeric(r) => self.ranges.insert(r, cond),
            Test::Cidr(c) => self.cidrs.insert(c, cond),
            Test::Exists => self.exists.push(cond),
        }
    }

    /// About how many probes and tests a string value's lookup costs: hash probes,
    /// wildcards and exclusions tried, folding. Decides whether lookups are remembered
    /// (see `crate::memo`).
    pub(crate) fn string_lookup_cost(&self) -> usize {
        let lengths = |a: &AffixIndex| a.lengths.len();
        let folding = if self.needs_fold {
            2 + usize::from(!self.folded.is_empty())
                + lengths(&self.prefix_folded)
                + lengths(&self.suffix_folded)
        } else {
            0
        };
        let infixes = match self.wildcard_infixes.literals.len() {
            0 => 0,
            n if n <= FEW_INFIXES => n,
            _ => 3,
        };
        usize::from(!self.exact.is_empty())
            + lengths(&self.prefix)
            + lengths(&self.suffix)
            + folding
            + lengths(&self.wildcard_index)
            + lengths(&self.wildcard_suffix_index)
            + infixes
            + self.anything_buts.len()
            + if self.cidrs.is_empty() { 0 } else { 3 }
    }

    fn add_number_key(&mut self, key: u64, cond: u32) {
        if let Err(at) = self.sorted_number_keys.binary_search(&key) {
            self.sorted_number_keys.insert(at, key);
        }
        self.number_keys.entry(key).or_default().push(cond);
    }

    /// Calls `hit` for every condition the value satisfies (possibly more than once).
    ///
    /// A number's key may be an estimate, at most `slack` doubles from the nearest one
    /// (see `number::near_key`): then every condition it *may* satisfy is hit, and
    /// verification decides. Non-numbers ignore `slack`.
    pub(crate) fn lookup(&self, value: &ValueView<'_>, slack: u64, hit: &mut impl FnMut(u32)) {
        self.exists.iter().copied().for_each(&mut *hit);
        match value {
            ValueView::Str(s) => self.lookup_str(s, hit),
            ValueView::Num { text, key } => {
                if let Some(key) = *key {
                    let (low, high) = window(key, slack);
                    if slack == 0 {
                        if let Some(ids) = self.number_keys.get(&key) {
                            ids.iter().copied().for_each(&mut *hit);
                        }
                    } else {
                        for k in keys_within(&self.sorted_number_keys, (low, high)) {
                            if let Some(ids) = self.number_keys.get(k) {
                                ids.iter().copied().for_each(&mut *hit);
                            }
                        }
                    }
                    self.ranges.hits((low, high), hit);
                }
                if !self.number_texts.is_empty() {
                    if let Some(ids) = self.number_texts.get(*text) {
                        ids.iter().copied().for_each(&mut *hit);
                    }
                }
                if slack == 0 {
                    self.anything_but(value, hit);
                } else {
                    // Whether an estimated number is excluded is not known: hit all.
                    self.anything_buts.iter().for_each(|&(_, id)| hit(id));
                }
            }
            ValueView::True | ValueView::False | ValueView::Null => {
                let ids = match value {
                    ValueView::True => &self.trues,
                    ValueView::False => &self.falses,
                    _ => &self.nulls,
                };
                ids.iter().copied().for_each(&mut *hit);
                self.anything_but(value, hit);
            }
        }
    }

    /// `value` may carry a tentative number key (see `number::tentative`): an
    /// exclusion by number is only trusted once the key is known to be exact, so that no
    /// candidate is ever missed.
    fn anything_but(&self, value: &ValueView<'_>, hit: &mut impl FnMut(u32)) {
        for (ab, id) in &self.anything_buts {
            let excluded = excluded(ab, value)
                && match (ab, value) {
                    (AnythingBut::Numbers(_), ValueView::Num { text, .. }) => {
                        comparable_key(text).is_some()
                    }
                    _ => true,
                };
            if !excluded {
                hit(*id);
            }
        }
    }

    fn lookup_str(&self, s: &str, hit: &mut impl FnMut(u32)) {
        let bytes = s.as_bytes();
        if let Some(ids) = self.exact.get(bytes) {
            ids.iter().copied().for_each(&mut *hit);
        }
        self.prefix.prefixes_of(bytes, &mut *hit);
        self.suffix.suffixes_of(bytes, &mut *hit);
        let folded = self.needs_fold.then(|| fold_value(s));
        let f = folded.as_deref().unwrap_or_default();
        if folded.is_some() {
            if let Some(ids) = self.folded.get(f.as_bytes()) {
                ids.iter().copied().for_each(&mut *hit);
            }
            self.prefix_folded.prefixes_of(f.as_bytes(), &mut *hit);
            self.suffix_folded.suffixes_of(f.as_bytes(), &mut *hit);
        }
        if !self.wildcards.is_empty() {
            let mut check = |at: u32| {
                let (w, id) = &self.wildcards[at as usize];
                if w.is_match(bytes) {
                    hit(*id);
                }
            };
            self.wildcard_index.prefixes_of(bytes, &mut check);
            self.wildcard_suffix_index.suffixes_of(bytes, &mut check);
            self.wildcard_infixes.candidates(bytes, &mut check);
        }
        if !self.cidrs.is_empty() {
            if let Ok(ip) = s.parse::<IpAddr>() {
                self.cidrs.hits(ip, hit);
            }
        }
        for (ab, id) in &self.anything_buts {
            if !string_excluded(ab, s, f) {
                hit(*id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a lookup of `value` hits in an index of the `globs` that parse (sorted,
    /// repeats kept), and which of them match it by `Wildcard::is_match`.
    fn wildcard_lookup(globs: &[String], value: &str) -> (Vec<u32>, Vec<u32>) {
        let mut index = FieldIndex::default();
        let mut parsed = Vec::new();
        for glob in globs {
            if let Ok(w) = Wildcard::parse(glob) {
                index.add(&Test::Wildcard(w.clone()), parsed.len() as u32);
                parsed.push(w);
            }
        }
        let mut got = Vec::new();
        index.lookup(&ValueView::Str(value), 0, &mut |id| got.push(id));
        got.sort_unstable();
        let expected = (0..parsed.len() as u32)
            .filter(|&id| parsed[id as usize].is_match(value.as_bytes()))
            .collect();
        (got, expected)
    }

    /// A wildcard added after lookups built the automaton is found too (the automaton
    /// is rebuilt), and more literals than `FEW_INFIXES` really take the automaton.
    #[test]
    fn infix_automaton_follows_additions() {
        let mut index = FieldIndex::default();
        let add = |index: &mut FieldIndex, glob: &str, id: u32| {
            index.add(&Test::Wildcard(Wildcard::parse(glob).expect("valid")), id);
        };
        for n in 0..=FEW_INFIXES as u32 {
            add(&mut index, &format!("*x{n}y*"), n);
        }
        let hits = |index: &FieldIndex, value: &str| {
            let mut got = Vec::new();
            index.lookup(&ValueView::Str(value), 0, &mut |id| got.push(id));
            got
        };
        assert_eq!(hits(&index, "ax3yx3y"), [3]);
        assert!(index
            .wildcard_infixes
            .automaton
            .get()
            .is_some_and(|a| a.is_some()));
        add(&mut index, "*zz*", 99);
        assert!(index.wildcard_infixes.automaton.get().is_none());
        assert_eq!(hits(&index, "x5yzz"), [5, 99]);
    }

    proptest::proptest! {
        /// Wildcards are found through their prefix or suffix bucket exactly when they
        /// match (shapes `ab*`, `*ab`, `*a*b`, `a*b`, `*`, `*a*` and no star at all).
        #[test]
        fn wildcard_buckets_find_every_match(
            globs in proptest::collection::vec("[ab*]{0,5}", 1..12),
            value in "[ab]{0,6}",
        ) {
            let (mut got, expected) = wildcard_lookup(&globs, &value);
            got.dedup();
            proptest::prop_assert_eq!(got, expected, "{:?} vs {:?}", globs, value);
        }

        /// Affix buckets find exactly the keys a value starts (or ends) with, on both
        /// sides of the word-sized keys (7 bytes) and of values too short for one load.
        #[test]
        fn affix_buckets_find_exactly_the_affixes(
            value in "[ab\u{0}]{0,20}",
            keys in proptest::collection::vec((proptest::bool::ANY, 0usize..12, "[ab\u{0}]{0,12}"), 1..16),
        ) {
            let bytes = value.as_bytes();
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .map(|(taken, len, other)| match (taken, bytes.get(..len), bytes.get(bytes.len().saturating_sub(len)..)) {
                    (true, Some(head), _) if len % 2 == 0 => head.to_vec(),
                    (true, _, Some(tail)) => tail.to_vec(),
                    _ => other.into_bytes(),
                })
                .collect();
            let mut index = AffixIndex::default();
            for (id, key) in keys.iter().enumerate() {
                index.insert(key, id as u32);
            }
            for prefixes in [true, false] {
                let mut got = Vec::new();
                if prefixes {
                    index.prefixes_of(bytes, |id| got.push(id));
                } else {
                    index.suffixes_of(bytes, |id| got.push(id));
                }
                got.sort_unstable();
                let expected: Vec<u32> = (0..keys.len() as u32)
                    .filter(|&id| {
                        let key = &keys[id as usize];
                        if prefixes { bytes.starts_with(key) } else { bytes.ends_with(key) }
                    })
                    .collect();
                proptest::prop_assert_eq!(got, expected, "{:?} in {:?}", keys, value);
            }
        }

        /// For strings, the index hits exactly the tests that hold (as `test_matches`
        /// says), whatever mix of exact, affix, case-folded, wildcard and `anything-but`
        /// tests share the field, the empty string included.
        #[test]
        fn string_lookups_agree_with_the_tests(
            tests in proptest::collection::vec((0usize..11, "[aBb]{0,2}"), 1..12),
            value in "[aAbB]{0,3}",
        ) {
            let mut index = FieldIndex::default();
            let mut parsed = Vec::new();
            for (kind, text) in &tests {
                let folded = text.to_lowercase();
                let test = match kind {
                    0 => Test::ExactString(text.clone()),
                    1 => Test::Prefix(text.clone()),
                    2 => Test::Suffix(text.clone()),
                    3 => Test::EqualsIgnoreCase(folded),
                    4 => Test::PrefixIgnoreCase(folded),
                    5 => Test::SuffixIgnoreCase(folded),
                    6 => Test::AnythingBut(AnythingBut::Strings(vec![text.clone()])),
                    7 => Test::AnythingBut(AnythingBut::IgnoreCase(vec![folded])),
                    8 => Test::AnythingBut(AnythingBut::Prefixes(vec![text.clone()])),
                    9 => Test::AnythingBut(AnythingBut::Suffixes(vec![text.clone()])),
                    _ => match Wildcard::parse(&format!("*{text}*")) {
                        Ok(w) => Test::Wildcard(w),
                        Err(_) => continue,
                    },
                };
                index.add(&test, parsed.len() as u32);
                parsed.push(test);
            }
            let view = ValueView::Str(&value);
            let mut got = Vec::new();
            index.lookup(&view, 0, &mut |id| got.push(id));
            got.sort_unstable();
            got.dedup();
            let expected: Vec<u32> = (0..parsed.len() as u32)
                .filter(|&id| crate::eval::test_matches(&parsed[id as usize], &view))
                .collect();
            proptest::prop_assert_eq!(got, expected, "{:?} on {:?}", parsed, value);
        }

        /// Past `FEW_INFIXES` literals (the automaton's side), wildcards whose longest
        /// literal is inside (with or without a literal prefix or suffix) are still found
        /// exactly when they match, once each however often their literal occurs.
        #[test]
        fn infix_wildcards_are_found_through_the_automaton(
            globs in proptest::collection::vec("[ab]?\\*[abc]{1,3}(\\*[abc]{0,2})?\\*[ab]?", 17..40),
            value in "[abc]{0,12}",
        ) {
            let (got, expected) = wildcard_lookup(&globs, &value);
            proptest::prop_assert_eq!(got, expected, "{:?} vs {:?}", globs, value);
        }

        /// The range index hits exactly the ranges holding a key of the window, however
        /// the ranges were inserted (in any order, so that reaches are recomputed, and
        /// nested or disjoint, so that the walk back stops early or must not).
        #[test]
        fn range_index_hits_exactly_the_overlapping_ranges(
            ranges in proptest::collection::vec(crate::ast::tests::ranges_below(200), 0..80),
            low in 0u64..210,
            width in 0u64..4,
        ) {
            let mut index = RangeIndex::default();
            for (id, r) in ranges.iter().enumerate() {
                index.insert(r, id as u32);
            }
            let high = low + width;
            let mut got = Vec::new();
            index.hits((low, high), &mut |id| got.push(id));
            got.sort_unstable();
            let expected: Vec<u32> = (0..ranges.len() as u32)
                .filter(|&id| (low..=high).any(|k| ranges[id as usize].contains(k)))
                .collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
