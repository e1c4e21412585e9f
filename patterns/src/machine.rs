//! Many patterns compiled into one index. Matching cost per event grows with the values
//! the event carries for named fields and the candidates they select, not with the
//! number of rules.
//!
//! How: each `$or` alternative picks one *anchor* condition, the one whose tests are
//! shared by the fewest other conditions (so `"source": ["aws.s3"]`, common to thousands
//! of rules, is never the anchor when a bucket name is there). Only anchors go into the
//! per-field indexes ([`crate::index`]). While the event is walked, each leaf value of a
//! named field is kept and looked up; alternatives whose anchor it satisfies become
//! candidates. Other conditions that few others share are indexed too, as *filters*: a
//! value satisfying one only marks it hit, and a candidate with an unhit filter is
//! dropped without looking at its values. Each remaining candidate is then verified
//! against the kept values: every condition,
//! `exists: false`, and array consistency (fields from different elements of one array
//! never combine, as in event-ruler). Anchors are re-chosen whenever the rule set has
//! doubled, so the choice tracks the rules actually present.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use crate::ast::{Alternative, AnythingBut, Range, Test};
use crate::eval::{test_matches, ValueView};
use crate::flatten::{
    walk_text, walk_trusted_text, walk_value, ArrayPos, PathTrie, Scalar, Visitor, WalkScratch,
};
use crate::index::{FieldIndex, Ids};
use crate::memo::{LookupMemo, MemoKey, Recall, MEMO_HITS};
use crate::number::{key_is_exact, near_key, settle_plain, tentative, window, NearKey};
use crate::{EventError, Pattern};

/// Many named patterns compiled together.
///
/// Adding a name that exists replaces its pattern. Matching takes `&self` and is safe
/// from many threads at once (scratch space is per thread).
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    trie: PathTrie,
    fields: Vec<FieldMeta>,
    conds: Vec<CondInfo>,
    alts: Vec<AltInfo>,
    /// Alternatives with no required condition (only `exists: false`-style ones).
    always: Ids,
    rules: Vec<RuleSlot>,
    by_name: FxHashMap<String, u32>,
    /// How many conditions carry each test (by [`test_key`]): the anchor choice.
    popularity: FxHashMap<String, u32>,
    /// While rebuilding, popularity is precomputed over all rules and not bumped.
    frozen: bool,
    live_alts: usize,
    dead_alts: usize,
    /// Live alternatives at the last rebuild.
    anchored_at: usize,
    /// Identifies the matcher's current rules: every addition and removal takes a new
    /// number, so that per-thread state derived from them (remembered lookups, which
    /// hold matched rules, [`crate::memo`]) knows when to forget.
    generation: u64,
}

/// The next [`Matcher::generation`], unique in the process.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// String lookups estimated to cost at least this many probes (see
/// [`FieldIndex::string_lookup_cost`]) are remembered per value ([`crate::memo`]); cheaper
/// ones (an exact match or two) cost less than a remembered one.
const MEMO_MIN_COST: usize = 2;

#[derive(Debug, Clone, Default)]
struct FieldMeta {
    index: FieldIndex,
    /// Some test on this field reads numbers by value.
    numeric: bool,
    screen: NumberScreen,
    /// String lookups on this field are remembered per value (see [`MEMO_MIN_COST`]).
    memoized: bool,
}

/// Which numbers some test on a field may be satisfied by. A number no test can take is
/// not kept at all: verification could never choose it. This is what spares the dozens
/// of coordinates per event that no rule's number or range comes near.
#[derive(Debug, Clone, Default)]
struct NumberScreen {
    /// Some condition takes (almost) any number: `exists`, `anything-but`, or one
    /// satisfied by the field's absence (which needs to know whether any value is there).
    keep_all: bool,
    /// The keys of exact numbers and numeric ranges, as sorted, disjoint, non-adjacent
    /// inclusive intervals: one binary search per number however many rules name the
    /// field.
    intervals: Vec<(u64, u64)>,
    /// Exact numbers a double does not hold, compared as text.
    texts: Vec<Box<str>>,
}

impl NumberScreen {
    fn add(&mut self, test: &Test) {
        match test {
            Test::ExactNumber(n) => match n.key {
                Some(key) => self.add_interval(key, key),
                None => {
                    if !self.texts.iter().any(|t| **t == *n.text) {
                        self.texts.push(n.text.as_str().into());
                    }
                }
            },
            Test::Numeric(range) => {
                if let Some((from, to)) = range.keys() {
                    self.add_interval(from, to);
                }
            }
            Test::AnythingBut(_) | Test::Exists => self.keep_all = true,
            // The other tests only ever take strings, booleans or null.
            _ => {}
        }
    }

    /// Adds `from..=to` (`from <= to`), merging it with the intervals it overlaps or
    /// touches.
    fn add_interval(&mut self, from: u64, to: u64) {
        let first = self
            .intervals
            .partition_point(|&(_, end)| end.saturating_add(1) < from);
        let mut last = first;
        let (mut from, mut to) = (from, to);
        while let Some(&(start, end)) = self.intervals.get(last) {
            if start > to.saturating_add(1) {
                break;
            }
            (from, to) = (from.min(start), to.max(end));
            last += 1;
        }
        self.intervals.splice(first..last, [(from, to)]);
    }

    /// Whether a number (its key, at most `slack` doubles off, and its text) may
    /// satisfy some test.
    #[inline(always)]
    fn may_take(&self, key: Option<u64>, slack: u64, text: &str) -> bool {
        // (Checked for emptiness first: the search is a call, and most fields have no
        // such numbers.)
        if self.keep_all || (!self.texts.is_empty() && self.texts.iter().any(|t| **t == *text)) {
            return true;
        }
        let Some(key) = key else {
            return false;
        };
        let (low, high) = window(key, slack);
        // A few intervals (the usual case) are cheaper to count than to bisect, and
        // counting (they are sorted and disjoint) has no branch on where the number
        // falls, which varies from one coordinate to the next.
        let at = if self.intervals.len() <= 8 {
            self.intervals
                .iter()
                .map(|&(_, end)| usize::from(end < low))
                .sum()
        } else {
            self.intervals.partition_point(|&(_, end)| end < low)
        };
        self.intervals
            .get(at)
            .is_some_and(|&(start, _)| start <= high)
    }
}

#[derive(Debug, Clone)]
struct RuleSlot {
    name: String,
    pattern: Option<Pattern>,
    alts: Ids,
}

#[derive(Debug, Clone)]
struct AltInfo {
    rule: u32,
    conds: Ids,
    /// The conditions of `conds` that are filters (see `CondInfo::filter`), so that a
    /// candidate whose filter was not hit is dropped without reading its conditions.
    filters: Ids,
    live: bool,
}

#[derive(Debug, Clone)]
struct CondInfo {
    field: u32,
    alt: u32,
    absent_ok: bool,
    /// The index lists this condition: values satisfying it make its alternative a
    /// candidate.
    anchor: bool,
    /// The anchor is its alternative's only condition: a hit by a value the index
    /// judges exactly (anything but a number, whose key may be tentative) is a match.
    sole: bool,
    /// The index lists this condition, though it is not the anchor: values satisfying
    /// it only mark it hit, so that verifying a candidate rejects it at once when a
    /// filter was not hit (the index finds a superset of the satisfying values).
    /// Without filters, an anchor shared by most events (`"type": ["Feature"]`) makes
    /// every event a candidate whose other conditions all need scanning.
    filter: bool,
    tests: Vec<Test>,
}

impl CondInfo {
    /// A hit on this condition by a value of `kind` is a match: it is its alternative's
    /// only condition, indexed, and the index judges the value exactly (anything but a
    /// number, whose key may be tentative).
    fn confirmed_by(&self, kind: Kind) -> bool {
        self.anchor && self.sole && kind != Kind::Num
    }
}

/// Set on a candidate that needs no verification (see `CondInfo::confirmed_by`).
const CONFIRMED: u32 = 1 << 31;

/// A condition whose tests more than this many conditions share is not a filter: each
/// value satisfying it would mark them all.
const MAX_FILTER_SHARE: u32 = 16;

/// Identifies a test for popularity counting, with a penalty for tests that match most
/// values (they make poor anchors whatever their popularity).
fn test_key(field: u32, test: &Test) -> (String, u32) {
    match test {
        Test::ExactString(s) => (format!("{field}=s{s}"), 0),
        Test::ExactNumber(n) => (
            format!(
                "{field}=n{}",
                n.key.map_or(n.text.clone(), |k| k.to_string())
            ),
            0,
        ),
        Test::True => (format!("{field}=t"), 0),
        Test::False => (format!("{field}=f"), 0),
        Test::Null => (format!("{field}=0"), 0),
        Test::EqualsIgnoreCase(s) => (format!("{field}=i{s}"), 0),
        Test::Numeric(Range {
            low: Some((l, true)),
            high: Some((h, true)),
        }) if l == h => (format!("{field}=n{l}"), 0),
        Test::Prefix(p) => (format!("{field}^{p}"), 10),
        Test::PrefixIgnoreCase(p) => (format!("{field}^i{p}"), 10),
        Test::Suffix(p) => (format!("{field}${p}"), 10),
        Test::SuffixIgnoreCase(p) => (format!("{field}$i{p}"), 10),
        // Each wildcard, block and range is its own test: rules that share a field but
        // not the wildcard (`data/*/part-<n>.*`) or the range (sizes in bands) are not
        // popular, and make good anchors or filters.
        Test::Wildcard(w) => (format!("{field}*{w}"), 100),
        Test::Cidr(c) => (format!("{field}/{c:?}"), 100),
        // A band between two bounds is as selective as a wildcard; a half-open range
        // (`> 0`) may take most values.
        Test::Numeric(r) => (
            format!("{field}<>{:?}{:?}", r.low, r.high),
            if r.low.is_some() && r.high.is_some() {
                100
            } else {
                1_000
            },
        ),
        Test::AnythingBut(_) => (format!("{field}!"), 1_000_000),
        Test::Exists => (format!("{field}?"), 1_000_000),
    }
}

fn reads_numbers(test: &Test) -> bool {
    matches!(
        test,
        Test::ExactNumber(_) | Test::Numeric(_) | Test::AnythingBut(AnythingBut::Numbers(_))
    )
}

impl Matcher {
    pub fn new() -> Self {
        Matcher::default()
    }

    /// Number of named patterns.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Adds `pattern` under `name`, replacing any pattern of that name.
    pub fn add(&mut self, name: impl Into<String>, pattern: &Pattern) {
        let name = name.into();
        self.remove(&name);
        self.generation = next_generation();
        let rule = self.rules.len() as u32;
        let mut alt_ids = Vec::with_capacity(pattern.alternatives().len());
        for alternative in pattern.alternatives() {
            alt_ids.push(self.add_alternative(rule, alternative));
        }
        self.live_alts += alt_ids.len();
        self.rules.push(RuleSlot {
            name: name.clone(),
            pattern: Some(pattern.clone()),
            alts: alt_ids,
        });
        self.by_name.insert(name, rule);
        if !self.frozen && self.live_alts > 64 && self.live_alts > 2 * self.anchored_at {
            self.rebuild();
        }
    }

    fn field_of(&mut self, path: &str) -> u32 {
        let field = self.trie.insert(path, self.fields.len() as u32);
        if field as usize == self.fields.len() {
            self.fields.push(FieldMeta::default());
        }
        field
    }

    fn add_alternative(&mut self, rule: u32, alternative: &Alternative) -> u32 {
        let alt = self.alts.len() as u32;
        let mut conds = Vec::with_capacity(alternative.len());
        let mut anchor: Option<(u64, u32)> = None;
        for condition in alternative {
            let field = self.field_of(&condition.path);
            let cond = self.conds.len() as u32;
            let mut cost: u64 = 0;
            // Whether it can be a filter (see `CondInfo::filter`), unless it is the anchor.
            let mut filter = !condition.absent_ok;
            for test in &condition.tests {
                let (key, penalty) = test_key(field, test);
                let count = if self.frozen {
                    self.popularity.get(&key).copied().unwrap_or(0)
                } else {
                    let c = self.popularity.entry(key).or_insert(0);
                    *c += 1;
                    *c
                };
                cost += u64::from(count) + u64::from(penalty);
                filter &= count <= MAX_FILTER_SHARE
                    && !matches!(test, Test::AnythingBut(_) | Test::Exists);
                let meta = &mut self.fields[field as usize];
                meta.numeric |= reads_numbers(test);
                meta.screen.add(test);
            }
            self.fields[field as usize].screen.keep_all |= condition.absent_ok;
            // Ties go to the later condition: deeper fields tend to be more specific.
            if !condition.absent_ok && anchor.is_none_or(|(best, _)| cost <= best) {
                anchor = Some((cost, cond));
            }
            self.conds.push(CondInfo {
                field,
                alt,
                absent_ok: condition.absent_ok,
                anchor: false,
                sole: false,
                filter,
                tests: condition.tests.clone(),
            });
            conds.push(cond);
        }
        match anchor {
            Some((_, cond)) => {
                let info = &mut self.conds[cond as usize];
                info.anchor = true;
                info.filter = false;
                info.sole = conds.len() == 1;
            }
            None => self.always.push(alt),
        }
        for &cond in &conds {
            let info = &self.conds[cond as usize];
            if info.anchor || info.filter {
                let meta = &mut self.fields[info.field as usize];
                for test in &info.tests {
                    meta.index.add(test, cond);
                }
                meta.memoized = meta.index.string_lookup_cost() >= MEMO_MIN_COST;
            }
        }
        let filters = conds
            .iter()
            .copied()
            .filter(|&c| self.conds[c as usize].filter)
            .collect();
        self.alts.push(AltInfo {
            rule,
            conds,
            filters,
            live: true,
        });
        alt
    }

    /// Removes the pattern named `name`; returns whether there was one.
    ///
    /// Removal only marks the pattern dead; the index is rebuilt once dead entries
    /// outnumber live ones, so a long series of removals costs amortized O(1) each.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(rule) = self.by_name.remove(name) else {
            return false;
        };
        self.generation = next_generation();
        let slot = &mut self.rules[rule as usize];
        slot.pattern = None;
        for &a in &slot.alts {
            self.alts[a as usize].live = false;
        }
        self.live_alts -= slot.alts.len();
        self.dead_alts += slot.alts.len();
        if self.dead_alts > self.live_alts {
            self.rebuild();
        }
        true
    }

    /// Re-adds the live patterns with popularity counted over all of them first, so
    /// every alternative gets the anchor that is best for the whole set.
    fn rebuild(&mut self) {
        let live: Vec<(String, Pattern)> = std::mem::take(&mut self.rules)
            .into_iter()
            .filter_map(|r| r.pattern.map(|p| (r.name, p)))
            .collect();
        let mut fresh = Matcher::new();
        for (_, pattern) in &live {
            for alternative in pattern.alternatives() {
                for condition in alternative {
                    let field = fresh.field_of(&condition.path);
                    for test in &condition.tests {
                        *fresh.popularity.entry(test_key(field, test).0).or_insert(0) += 1;
                    }
                }
            }
        }
        fresh.frozen = true;
        for (name, pattern) in live {
            fresh.add(name, &pattern);
        }
        fresh.frozen = false;
        fresh.anchored_at = fresh.live_alts;
        *self = fresh;
    }

    /// Names of the patterns that match the event (JSON text), in the order they were
    /// added.
    pub fn matches_str(&self, event: &str) -> Result<Vec<&str>, EventError> {
        let mut names = Vec::new();
        self.matches_str_into(event, &mut names)?;
        Ok(names)
    }

    /// Like [`Matcher::matches_str`], but replaces the contents of `names` instead of
    /// allocating a new vector: for loops over many events, which can keep one.
    pub fn matches_str_into<'m>(
        &'m self,
        event: &str,
        names: &mut Vec<&'m str>,
    ) -> Result<(), EventError> {
        self.run(event, false, names, |m, c, a| {
            walk_text(event, &m.trie, c, a)
        })
    }

    /// Like [`Matcher::matches_str_into`], for event text the caller knows is valid JSON
    /// (an event PutEvents or a store already accepted, say): objects and arrays no pattern
    /// looks inside are passed over by their brackets, 64 bytes at a time, instead of
    /// being validated, as simdjson's On-Demand API and quamina do. Fields patterns name
    /// are read and checked as by [`Matcher::matches_str_into`], and on valid JSON the
    /// names are the same. On invalid JSON the result is unspecified (an error, or some
    /// names), but never a panic; and the nesting limit holds only where patterns look.
    ///
    /// ```
    /// use patterns::{Matcher, Pattern};
    ///
    /// let mut m = Matcher::new();
    /// m.add("big", &Pattern::parse(r#"{"detail": {"size": [{"numeric": [">", 9]}]}}"#).unwrap());
    /// let mut names = Vec::new();
    /// m.matches_trusted_str_into(r#"{"skipped": [{"a": "]"}], "detail": {"size": 10}}"#, &mut names)
    ///     .unwrap();
    /// assert_eq!(names, ["big"]);
    /// ```
    pub fn matches_trusted_str_into<'m>(
        &'m self,
        event: &str,
        names: &mut Vec<&'m str>,
    ) -> Result<(), EventError> {
        self.run(event, false, names, |m, c, a| {
            walk_trusted_text(event, &m.trie, c, a)
        })
    }

    /// Names of the patterns that match an already-parsed event.
    pub fn matches_value(&self, event: &serde_json::Value) -> Vec<&str> {
        let mut names = Vec::new();
        let walked = self.run("", false, &mut names, |m, c, _| {
            walk_value(event, &m.trie, c);
            Ok(())
        });
        // Walking a parsed value cannot fail.
        debug_assert!(walked.is_ok());
        names
    }

    /// Like [`Matcher::matches_str`], but verifies every pattern instead of using the
    /// index: slow, and the reference the index is tested against.
    #[doc(hidden)]
    pub fn matches_str_exhaustively(&self, event: &str) -> Result<Vec<&str>, EventError> {
        let mut names = Vec::new();
        self.run(event, true, &mut names, |m, c, a| {
            walk_text(event, &m.trie, c, a)
        })?;
        Ok(names)
    }

    /// `event`: the event's JSON text when walking text (kept values point into it),
    /// or empty.
    fn run<'m, 'e>(
        &'m self,
        event: &'e str,
        exhaustive: bool,
        names: &mut Vec<&'m str>,
        walk: impl FnOnce(
            &Matcher,
            &mut Collector<'_, '_, 'e>,
            &mut WalkScratch,
        ) -> Result<(), EventError>,
    ) -> Result<(), EventError> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.run_with(&mut scratch, event, exhaustive, names, walk),
            // Only reachable if matching re-entered itself; stay correct regardless.
            Err(_) => self.run_with(&mut Scratch::default(), event, exhaustive, names, walk),
        })
    }

    fn run_with<'m, 'e>(
        &'m self,
        s: &mut Scratch,
        event: &'e str,
        exhaustive: bool,
        names: &mut Vec<&'m str>,
        walk: impl FnOnce(
            &Matcher,
            &mut Collector<'_, '_, 'e>,
            &mut WalkScratch,
        ) -> Result<(), EventError>,
    ) -> Result<(), EventError> {
        names.clear();
        s.begin(self);
        let mut walk_scratch = std::mem::take(&mut s.walk);
        let walked = walk(
            self,
            &mut Collector {
                m: self,
                s,
                event,
                exhaustive,
            },
            &mut walk_scratch,
        );
        s.walk = walk_scratch;
        walked?;
        let candidates = std::mem::take(&mut s.candidates);
        let all: Ids;
        let to_check: &[u32] = if exhaustive {
            all = (0..self.alts.len() as u32).collect();
            &all
        } else {
            &candidates
        };
        // Holds the rules remembered lookups confirmed already (see `Collector::keep`).
        let mut matched = std::mem::take(&mut s.matched);
        for &a in to_check.iter().chain(if exhaustive {
            &[][..]
        } else {
            &self.always[..]
        }) {
            let confirmed = a & CONFIRMED != 0;
            let alt = &self.alts[(a & !CONFIRMED) as usize];
            if !alt.live || s.rule_epoch[alt.rule as usize] == s.epoch {
                continue;
            }
            // A candidate whose filter was not hit fails without the call (not so when
            // matching exhaustively, where nothing was looked up).
            let unfiltered = || {
                alt.filters
                    .iter()
                    .any(|&c| s.cond_epoch[c as usize] != s.epoch)
            };
            if !confirmed && !exhaustive && unfiltered() {
                continue;
            }
            if confirmed || self.verify(alt, s, event) {
                s.rule_epoch[alt.rule as usize] = s.epoch;
                matched.push(alt.rule);
            }
        }
        s.candidates = candidates;
        matched.sort_unstable();
        names.extend(
            matched
                .iter()
                .map(|&r| self.rules[r as usize].name.as_str()),
        );
        s.matched = matched;
        Ok(())
    }

    /// Checks every condition of a candidate against the event's kept values.
    fn verify(&self, alt: &AltInfo, s: &mut Scratch, event: &str) -> bool {
        s.chosen.clear();
        s.choice_ranges.clear();
        s.absent_ranges.clear();
        let mut needs_arrays = false;
        for &c in &alt.conds {
            let cond = &self.conds[c as usize];
            let start = s.chosen.len();
            let mut any_value = false;
            let mut free = false; // satisfied by a value outside every array
            let mut v = s.field_head(cond.field);
            while let Some(value) = v {
                any_value = true;
                let stored = s.values[value as usize];
                if s.satisfies(event, value, &stored, &cond.tests) {
                    if stored.arrays.1 == 0 {
                        free = true;
                    }
                    s.chosen.push(value);
                }
                v = stored.next_in_field;
            }
            let satisfied = s.chosen.len() > start;
            if !satisfied {
                if cond.absent_ok && !any_value {
                    continue;
                }
                if !cond.absent_ok {
                    return false;
                }
                // `exists: false` on a field the event has: it is absent still if every
                // value of it sits in another element of an array than the values
                // chosen for the other conditions (as event-ruler's array-consistent
                // matcher: `{"a": {"b": ["x"], "c": [{"exists": false}]}}` matches
                // `{"a": [{"b": "x"}, {"b": "y", "c": 1}]}`). A value outside every
                // array is in every choice's context.
                let mut v = s.field_head(cond.field);
                while let Some(value) = v {
                    let stored = s.values[value as usize];
                    if stored.arrays.1 == 0 {
                        s.chosen.truncate(start);
                        return false;
                    }
                    s.chosen.push(value);
                    v = stored.next_in_field;
                }
                needs_arrays = true;
                s.absent_ranges.push((start as u32, s.chosen.len() as u32));
                continue;
            }
            if free {
                s.chosen.truncate(start);
            } else {
                needs_arrays = true;
                s.choice_ranges.push((start as u32, s.chosen.len() as u32));
            }
        }
        !needs_arrays || (s.choice_ranges.len() < 2 && s.absent_ranges.is_empty()) || consistent(s)
    }
}

/// Per-thread matching state, reused across events: nothing is allocated or cleared per
/// rule, because entries count only when their epoch is the current one.
#[derive(Default)]
struct Scratch {
    epoch: u32,
    alt_epoch: Vec<u32>,
    /// Per filter condition: the epoch it was last hit in.
    cond_epoch: Vec<u32>,
    rule_epoch: Vec<u32>,
    /// Per field: (epoch, last value) — the head of that field's value list.
    field_heads: Vec<(u32, u32)>,
    values: Vec<StoredValue>,
    /// Text of the kept string and number values.
    text: String,
    arena: Vec<ArrayPos>,
    /// The walker's, kept for its allocations and what it learned.
    walk: WalkScratch,
    candidates: Ids,
    /// Rules matched so far, kept for its allocation.
    matched: Ids,
    /// Values chosen per condition during verification, and their ranges.
    chosen: Ids,
    choice_ranges: Vec<(u32, u32)>,
    /// Per `exists: false` condition whose field the event has in arrays only: the
    /// range of `chosen` holding all of that field's values (see `Matcher::verify`).
    absent_ranges: Vec<(u32, u32)>,
    /// String lookups of memoized fields, remembered across events.
    memo: LookupMemo,
}

#[derive(Debug, Clone, Copy)]
struct StoredValue {
    kind: Kind,
    text: (u32, u32),
    /// Tentative number key: the index uses it to find candidates; verification uses it
    /// only once `exact` says the double holds the text exactly.
    key: Option<u64>,
    exact: Exactness,
    arrays: (u32, u32),
    next_in_field: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exactness {
    /// The key is the nearest double's; whether that double holds the text is not known.
    Unknown,
    Exact,
    Inexact,
    /// The key is only near the nearest double's (see `number::near_key`).
    Estimated,
}

impl Exactness {
    fn from_digits(known: Option<bool>) -> Exactness {
        match known {
            Some(true) => Exactness::Exact,
            Some(false) => Exactness::Inexact,
            None => Exactness::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    True,
    False,
    Null,
}

impl Scratch {
    fn begin(&mut self, m: &Matcher) {
        if self.alt_epoch.len() < m.alts.len() {
            self.alt_epoch.resize(m.alts.len(), 0);
        }
        if self.cond_epoch.len() < m.conds.len() {
            self.cond_epoch.resize(m.conds.len(), 0);
        }
        if self.rule_epoch.len() < m.rules.len() {
            self.rule_epoch.resize(m.rules.len(), 0);
        }
        if self.field_heads.len() < m.fields.len() {
            self.field_heads.resize(m.fields.len(), (0, 0));
        }
        if self.epoch == u32::MAX {
            self.alt_epoch.iter_mut().for_each(|e| *e = 0);
            self.cond_epoch.iter_mut().for_each(|e| *e = 0);
            self.rule_epoch.iter_mut().for_each(|e| *e = 0);
            self.field_heads.iter_mut().for_each(|e| e.0 = 0);
            self.epoch = 0;
        }
        self.epoch += 1;
        self.memo.begin(m.generation);
        self.values.clear();
        self.text.clear();
        self.arena.clear();
        self.candidates.clear();
        self.matched.clear();
    }

    fn field_head(&self, field: u32) -> Option<u32> {
        let (epoch, value) = self.field_heads[field as usize];
        (epoch == self.epoch).then_some(value)
    }

    /// Whether the stored value passes any of `tests`.
    ///
    /// A number's tentative key is only checked for exactness (a shortest-form
    /// conversion, the costliest step of matching numbers) when the answer depends on
    /// it: if the tests say the same whether the key is trusted or the number is
    /// compared as text, that is the answer. Most coordinates of a polygon fail a range
    /// either way, and never pay for the check.
    fn satisfies(&mut self, event: &str, value: u32, stored: &StoredValue, tests: &[Test]) -> bool {
        let stored = &if stored.exact == Exactness::Estimated {
            self.settle_key(event, value)
        } else {
            *stored
        };
        let any = |view: &ValueView<'_>| tests.iter().any(|t| test_matches(t, view));
        if stored.kind != Kind::Num || stored.key.is_none() || stored.exact != Exactness::Unknown {
            return any(&self.view(event, stored));
        }
        let text = self.text_of(event, stored);
        let trusted = any(&ValueView::Num {
            text,
            key: stored.key,
        });
        let as_text = any(&ValueView::Num { text, key: None });
        if trusted == as_text {
            return trusted;
        }
        let settled = self.settle_exactness(event, value);
        any(&self.view(event, &settled))
    }

    /// Replaces (once) an estimated key by the nearest double's, and returns the value.
    fn settle_key(&mut self, event: &str, value: u32) -> StoredValue {
        let stored = self.values[value as usize];
        if stored.exact == Exactness::Estimated {
            let text = self.text_of(event, &stored);
            let settled = stored.key.and_then(|estimate| settle_plain(text, estimate));
            let (key, exact) = match settled {
                Some((key, true)) => (Some(key), Exactness::Exact),
                Some((key, false)) => (Some(key), Exactness::Inexact),
                None => match tentative(text) {
                    Some((key, known)) => (Some(key), Exactness::from_digits(known)),
                    None => (None, Exactness::Unknown),
                },
            };
            let settled = &mut self.values[value as usize];
            (settled.key, settled.exact) = (key, exact);
        }
        self.values[value as usize]
    }

    /// Decides (once) whether a number's tentative key is exact, and returns the value.
    fn settle_exactness(&mut self, event: &str, value: u32) -> StoredValue {
        let stored = self.values[value as usize];
        if let (Some(key), Exactness::Unknown) = (stored.key, stored.exact) {
            let exact = if key_is_exact(self.text_of(event, &stored), key) {
                Exactness::Exact
            } else {
                Exactness::Inexact
            };
            self.values[value as usize].exact = exact;
        }
        self.values[value as usize]
    }

    /// A kept value's text: a slice of the event, or of [`Scratch::text`] for values
    /// that are not (escaped strings, numbers of a parsed event).
    fn text_of<'a>(&'a self, event: &'a str, v: &StoredValue) -> &'a str {
        let (at, len) = v.text;
        let source = if at & IN_SCRATCH != 0 {
            &self.text
        } else {
            event
        };
        let at = (at & !IN_SCRATCH) as usize;
        source.get(at..at + len as usize).unwrap_or_default()
    }

    /// The value as tests see it; call [`Scratch::settle_exactness`] first for numbers.
    fn view<'a>(&'a self, event: &'a str, v: &StoredValue) -> ValueView<'a> {
        let text = self.text_of(event, v);
        match v.kind {
            Kind::Str => ValueView::Str(text),
            Kind::Num => ValueView::Num {
                text,
                key: v.key.filter(|_| v.exact == Exactness::Exact),
            },
            Kind::True => ValueView::True,
            Kind::False => ValueView::False,
            Kind::Null => ValueView::Null,
        }
    }

    /// The array positions stored at `(start, len)` in the arena.
    fn positions(&self, (start, len): (u32, u32)) -> &[ArrayPos] {
        &self.arena[start as usize..(start + len) as usize]
    }

    /// The array elements a kept value sits in.
    fn membership(&self, value: u32) -> &[ArrayPos] {
        self.positions(self.values[value as usize].arrays)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Set in a kept value's text offset when the text is in [`Scratch::text`].
const IN_SCRATCH: u32 = 1 << 31;

struct Collector<'m, 's, 'e> {
    m: &'m Matcher,
    s: &'s mut Scratch,
    /// The event text being walked (empty when walking a parsed event).
    event: &'e str,
    exhaustive: bool,
}

impl Visitor for Collector<'_, '_, '_> {
    /// Inlined into the walker: most numbers of a polygon stop at the screen, and pay
    /// for no more than reading it.
    #[inline(always)]
    fn number(&mut self, field: u32, text: &str, near: Option<NearKey>, arrays: &[ArrayPos]) {
        let meta = &self.m.fields[field as usize];
        let near = if meta.numeric {
            near.or_else(|| near_key(text))
        } else {
            None
        };
        let (key, slack) = match near {
            Some(n) => (Some(n.key), n.slack),
            None => (None, 0),
        };
        if !self.exhaustive && !meta.screen.may_take(key, slack, text) {
            return;
        }
        self.keep_number(field, text, near, arrays);
    }

    fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]) {
        let (kind, text) = match &value {
            Scalar::Num(t, near) => return self.number(field, t, *near, arrays),
            Scalar::Str(t) => (Kind::Str, t.as_ref()),
            Scalar::True => (Kind::True, ""),
            Scalar::False => (Kind::False, ""),
            Scalar::Null => (Kind::Null, ""),
        };
        self.keep(field, kind, text, None, arrays);
    }
}

impl Collector<'_, '_, '_> {
    /// [`Collector::keep`] for numbers, out of line: the walker inlines
    /// [`Visitor::number`], and most numbers never get here.
    #[inline(never)]
    fn keep_number(&mut self, field: u32, text: &str, near: Option<NearKey>, arrays: &[ArrayPos]) {
        self.keep(field, Kind::Num, text, near, arrays);
    }

    /// Stores a leaf value and looks it up in its field's index. Inlined into its two
    /// callers ([`Collector::keep_number`] and `leaf`), each of which knows more of
    /// what kind of value it keeps.
    #[inline(always)]
    fn keep(
        &mut self,
        field: u32,
        kind: Kind,
        text: &str,
        near: Option<NearKey>,
        arrays: &[ArrayPos],
    ) {
        let s = &mut *self.s;
        let meta = &self.m.fields[field as usize];
        let (key, exact, slack) = match near {
            Some(near) if near.slack > 0 => (Some(near.key), Exactness::Estimated, near.slack),
            Some(near) => (Some(near.key), Exactness::from_digits(near.exact), 0),
            None => (None, Exactness::Unknown, 0),
        };
        // Text borrowed from the event is kept as its place there; anything else
        // (unescaped strings) is copied.
        let offset = (text.as_ptr() as usize).wrapping_sub(self.event.as_ptr() as usize);
        let text_at = if offset < IN_SCRATCH as usize && offset + text.len() <= self.event.len() {
            offset as u32
        } else {
            let at = s.text.len() as u32 | IN_SCRATCH;
            s.text.push_str(text);
            at
        };
        // Neighbouring values often sit in the same array elements (`x`, `y`, `z` of
        // one point): they share one copy of the positions.
        let arrays_at = match s.values.last() {
            _ if arrays.is_empty() => 0,
            Some(last) if s.positions(last.arrays) == arrays => last.arrays.0,
            _ => {
                let at = s.arena.len() as u32;
                s.arena.extend_from_slice(arrays);
                at
            }
        };
        let id = s.values.len() as u32;
        s.values.push(StoredValue {
            kind,
            text: (text_at, text.len() as u32),
            key,
            exact,
            arrays: (arrays_at, arrays.len() as u32),
            next_in_field: s.field_head(field),
        });
        s.field_heads[field as usize] = (s.epoch, id);
        if self.exhaustive {
            return;
        }
        let view = match kind {
            Kind::Str => ValueView::Str(text),
            // A number known to be inexact is only ever compared as text.
            Kind::Num => ValueView::Num {
                text,
                key: key.filter(|_| exact != Exactness::Inexact),
            },
            Kind::True => ValueView::True,
            Kind::False => ValueView::False,
            Kind::Null => ValueView::Null,
        };
        let m = self.m;
        let epoch = s.epoch;
        let Scratch {
            cond_epoch,
            alt_epoch,
            rule_epoch,
            candidates,
            matched,
            memo,
            ..
        } = s;
        let mut on_hit = |cond: u32| {
            let info = &m.conds[cond as usize];
            if !info.anchor {
                cond_epoch[cond as usize] = epoch;
                return;
            }
            let alt = info.alt;
            let seen = &mut alt_epoch[alt as usize];
            if *seen != epoch {
                *seen = epoch;
                let confirmed = info.confirmed_by(kind);
                candidates.push(if confirmed { alt | CONFIRMED } else { alt });
            }
        };
        let key = match kind {
            Kind::Str if meta.memoized => MemoKey::new(field, text.as_bytes()),
            _ => None,
        };
        let Some(key) = key else {
            meta.index.lookup(&view, slack, &mut on_hit);
            return;
        };
        match memo.recall(&key) {
            Recall::Hit(rules, conds) => {
                for &rule in rules {
                    let seen = &mut rule_epoch[rule as usize];
                    if *seen != epoch {
                        *seen = epoch;
                        matched.push(rule);
                    }
                }
                conds.iter().copied().for_each(on_hit);
                return;
            }
            Recall::Skip => {
                meta.index.lookup(&view, slack, &mut on_hit);
                return;
            }
            Recall::Miss => {}
        }
        // Remembered as two lists: the rules of confirmed matches, which a later hit
        // marks matched at once, and the other conditions, replayed as hits.
        let mut rules = [0u32; MEMO_HITS];
        let mut conds = [0u32; MEMO_HITS];
        let (mut r, mut c) = (0, 0);
        let mut complete = true;
        meta.index.lookup(&view, slack, &mut |cond| {
            on_hit(cond);
            let info = &m.conds[cond as usize];
            let alt = &m.alts[info.alt as usize];
            if r + c == MEMO_HITS {
                complete = false;
            } else if info.confirmed_by(kind) && alt.live {
                rules[r] = alt.rule;
                r += 1;
            } else {
                conds[c] = cond;
                c += 1;
            }
        });
        if complete {
            memo.put(&key, &rules[..r], &conds[..c]);
        }
    }
}

/// Whether one value per constrained condition can be chosen so that no two chosen
/// values sit in different elements of the same array, and every value of each absent
/// field (`exists: false`, [`Scratch::absent_ranges`]) sits in another element than
/// one of them.
fn consistent(s: &Scratch) -> bool {
    let agree = |a: &[ArrayPos], b: &[ArrayPos]| {
        a.iter().all(|(array, index)| {
            b.iter()
                .all(|(other, other_index)| other != array || other_index == index)
        })
    };
    fn search(
        s: &Scratch,
        depth: usize,
        chosen: &mut Vec<u32>,
        agree: &impl Fn(&[ArrayPos], &[ArrayPos]) -> bool,
    ) -> bool {
        let Some(&(from, to)) = s.choice_ranges.get(depth) else {
            // Every absent field's values must each conflict with a chosen value.
            return s.absent_ranges.iter().all(|&(from, to)| {
                s.chosen[from as usize..to as usize].iter().all(|&value| {
                    let m = s.membership(value);
                    chosen.iter().any(|&c| !agree(s.membership(c), m))
                })
            });
        };
        for &value in &s.chosen[from as usize..to as usize] {
            let m = s.membership(value);
            if chosen.iter().all(|&c| agree(s.membership(c), m)) {
                chosen.push(value);
                if search(s, depth + 1, chosen, agree) {
                    return true;
                }
                chosen.pop();
            }
        }
        false
    }
    search(s, 0, &mut Vec::with_capacity(s.choice_ranges.len()), &agree)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each event matches exactly the expected patterns, through the index and
    /// exhaustively.
    fn assert_cases(m: &Matcher, cases: &[(&str, &[&str])]) {
        for (event, expected) in cases {
            assert_eq!(m.matches_str(event).unwrap(), *expected, "{event}");
            assert_eq!(
                m.matches_str_exhaustively(event).unwrap(),
                *expected,
                "{event}"
            );
        }
    }

    fn matcher(patterns: &[&str]) -> Matcher {
        let mut m = Matcher::new();
        for (i, p) in patterns.iter().enumerate() {
            m.add(format!("p{i}"), &Pattern::parse(p).expect("valid pattern"));
        }
        m
    }

    /// Rules that share a field but not the wildcard or range on it do not make those
    /// tests popular: with 200 rules on one bucket (more than the penalty of a wildcard
    /// or a band between two bounds), each rule's own wildcard or size band is its
    /// anchor, not the bucket, which would make 100 candidates of every event.
    #[test]
    fn distinct_wildcards_and_ranges_are_not_popular() {
        let mut rules = Vec::new();
        for i in 0..100 {
            rules.push(format!(
                r#"{{"bucket": ["b"], "key": [{{"wildcard": "data/*/part-{i}.*"}}]}}"#
            ));
            rules.push(format!(
                r#"{{"bucket": ["b"], "size": [{{"numeric": [">=", {}, "<", {}]}}]}}"#,
                i * 10,
                i * 10 + 10
            ));
        }
        let m = matcher(&rules.iter().map(String::as_str).collect::<Vec<_>>());
        let key_field = m.trie.clone().insert("key", u32::MAX);
        let size_field = m.trie.clone().insert("size", u32::MAX);
        for cond in &m.conds {
            if cond.field == key_field {
                assert!(cond.anchor, "a wildcard is its rule's anchor");
            }
            if cond.field == size_field {
                assert!(cond.anchor, "a size band is its rule's anchor");
            }
        }
        assert_cases(
            &m,
            &[
                (
                    r#"{"bucket": "b", "key": "data/x/part-7.csv", "size": 75}"#,
                    &["p14", "p15"],
                ),
                (
                    r#"{"bucket": "c", "key": "data/x/part-7.csv", "size": 75}"#,
                    &[],
                ),
                (
                    r#"{"bucket": "b", "key": "data/x/part-77.csv", "size": 400}"#,
                    &["p81", "p154"],
                ),
                (
                    r#"{"bucket": "b", "key": "data/x/part-777.csv", "size": 4000}"#,
                    &[],
                ),
            ],
        );
    }

    /// One names vector serves many events: each call replaces what the last left,
    /// including after an invalid event.
    #[test]
    fn matches_into_replaces_the_names() {
        let m = matcher(&[r#"{"a": ["x"]}"#, r#"{"b": [{"exists": true}]}"#]);
        let mut names = vec!["stale"];
        for event in [
            r#"{"a": "x", "b": 1}"#,
            r#"{"a": "y"}"#,
            r#"{"b": 2}"#,
            "{",
            r#"{"a": "x"}"#,
        ] {
            let into = m.matches_str_into(event, &mut names);
            match m.matches_str(event) {
                Ok(expected) => {
                    assert!(into.is_ok(), "{event}");
                    assert_eq!(names, expected, "{event}");
                }
                Err(_) => {
                    assert!(into.is_err(), "{event}");
                    assert!(names.is_empty(), "{event}");
                }
            }
        }
        assert_eq!(names, ["p0"]);
    }

    /// String lookups of a field many tests share are remembered per value; adding,
    /// replacing and removing rules, and matching with another matcher on the same
    /// thread, must each be seen by the next match of the same value.
    #[test]
    fn remembered_lookups_follow_every_change() {
        let street = |tests: &str| Pattern::parse(&format!(r#"{{"s": [{tests}]}}"#)).unwrap();
        let event = r#"{"s": "FULTON"}"#;
        let mut m = Matcher::new();
        m.add("fu", &street(r#"{"prefix": "FU"}, {"suffix": "XX"}"#));
        assert!(m.fields[0].memoized, "the test needs a remembered field");
        // Enough other rules that no removal below rebuilds the matcher.
        for i in 0..8 {
            m.add(
                format!("other{i}"),
                &Pattern::parse(r#"{"t": ["x"]}"#).unwrap(),
            );
        }
        let mut other = Matcher::new();
        other.add("on", &street(r#"{"suffix": "ON"}, {"prefix": "XX"}"#));
        assert_eq!(m.matches_str(event).unwrap(), ["fu"]);
        assert_eq!(m.matches_str(event).unwrap(), ["fu"]);
        assert_eq!(other.matches_str(event).unwrap(), ["on"]);
        assert_eq!(m.matches_str(event).unwrap(), ["fu"]);
        m.add("on", &street(r#"{"suffix": "ON"}, {"prefix": "XX"}"#));
        assert_eq!(m.matches_str(event).unwrap(), ["fu", "on"]);
        m.add("fu", &street(r#"{"prefix": "XX"}, {"suffix": "XX"}"#));
        assert_eq!(m.matches_str(event).unwrap(), ["on"]);
        m.remove("on");
        assert!(m.dead_alts > 0, "the removal must not rebuild the matcher");
        assert_eq!(m.matches_str(event).unwrap(), Vec::<&str>::new());
        // A clone shares the rules, then goes its own way.
        let mut copy = m.clone();
        assert_eq!(copy.matches_str(event).unwrap(), Vec::<&str>::new());
        copy.add("fu", &street(r#"{"prefix": "F"}, {"suffix": "N"}"#));
        assert_eq!(copy.matches_str(event).unwrap(), ["fu"]);
        assert_eq!(m.matches_str(event).unwrap(), Vec::<&str>::new());
    }

    proptest::proptest! {
        /// Numbers of 16 to 19 digits (estimated by the walker) against a range and an
        /// exact number a few doubles either side of them: the result is what the exact
        /// key and exactness say, whether verification settles the key by integer
        /// comparisons (`settle_plain`) or the careful path.
        #[test]
        fn estimated_numbers_match_as_their_exact_keys_say(
            digits in "[1-9][0-9]{15,18}",
            point in 1usize..4,
            negative in proptest::bool::ANY,
            low_offset in -24i64..24,
            width in 1u64..12,
            inclusive in (proptest::bool::ANY, proptest::bool::ANY),
            exact_offset in -12i64..12,
        ) {
            let text = format!("{}{}.{}", if negative { "-" } else { "" }, &digits[..point], &digits[point..]);
            let (key, _) = tentative(&text).expect("a number");
            let exact = key_is_exact(&text, key);
            let double = |k: u64| format!("{:?}", crate::number::value_of(k));
            let low = key.saturating_add_signed(low_offset);
            let high = low + width;
            let (low_op, high_op) = match inclusive {
                (true, true) => (">=", "<="),
                (true, false) => (">=", "<"),
                (false, true) => (">", "<="),
                (false, false) => (">", "<"),
            };
            let in_range = (if inclusive.0 { key >= low } else { key > low })
                && (if inclusive.1 { key <= high } else { key < high });
            let point_key = key.saturating_add_signed(exact_offset);
            let m = matcher(&[
                &format!(r#"{{"x": [{{"numeric": ["{low_op}", {}, "{high_op}", {}]}}]}}"#, double(low), double(high)),
                &format!(r#"{{"x": [{}]}}"#, double(point_key)),
            ]);
            let mut expected = Vec::new();
            if exact && in_range {
                expected.push("p0");
            }
            if exact && point_key == key {
                expected.push("p1");
            }
            let event = format!(r#"{{"x": {text}}}"#);
            proptest::prop_assert_eq!(m.matches_str(&event).unwrap(), expected.clone(), "{}", event);
            proptest::prop_assert_eq!(m.matches_str_exhaustively(&event).unwrap(), expected, "{}", event);
        }
    }

    proptest::proptest! {
        /// The screen's merged intervals take exactly the keys some range or exact
        /// number takes, and a window whenever one of its keys is taken.
        #[test]
        fn screen_intervals_take_exactly_the_covered_keys(
            ranges in proptest::collection::vec(crate::ast::tests::ranges_below(64), 0..6),
            points in proptest::collection::vec(0u64..64, 0..4),
            slack in 0u64..3,
        ) {
            let mut screen = NumberScreen::default();
            for r in &ranges {
                screen.add(&Test::Numeric(*r));
            }
            for &p in &points {
                screen.add(&Test::Numeric(Range { low: Some((p, true)), high: Some((p, true)) }));
            }
            let taken = |k: u64| points.contains(&k) || ranges.iter().any(|r| r.contains(k));
            for k in 0..70u64 {
                proptest::prop_assert_eq!(screen.may_take(Some(k), 0, ""), taken(k), "key {}", k);
                let (low, high) = window(k, slack);
                if (low..=high).any(taken) {
                    proptest::prop_assert!(screen.may_take(Some(k), slack, ""), "window at {}", k);
                }
            }
            proptest::prop_assert!(screen.intervals.windows(2).all(|w| w[0].1.saturating_add(1) < w[1].0));
        }
    }

    /// Numbers that no test of their field can take are not kept; fields with a test
    /// that takes any number (or that needs to know whether any value is there) keep all.
    #[test]
    fn screened_numbers_never_change_results() {
        let m = matcher(&[
            r#"{"w": [{"exists": false}]}"#,
            r#"{"x": [{"exists": true}]}"#,
            r#"{"y": [{"anything-but": [1]}]}"#,
            r#"{"k": ["v"], "n": [{"numeric": [">", 10]}]}"#,
            r#"{"k": ["v"], "n": [3]}"#,
            r#"{"p": {"a": [5], "b": ["s"]}}"#,
            r#"{"q": [12345678901234567890]}"#,
        ]);
        let cases: &[(&str, &[&str])] = &[
            (r#"{"w": 5}"#, &[]),
            (r#"{"w": [1, 2.5e3]}"#, &[]),
            (r#"{"x": 5}"#, &["p0", "p1"]),
            (r#"{"x": null, "y": 2}"#, &["p0", "p1", "p2"]),
            (r#"{"x": "s", "y": 1}"#, &["p0", "p1"]),
            (r#"{"k": "v", "n": [1, 2, 11]}"#, &["p0", "p3"]),
            (r#"{"k": "v", "n": [1, 2]}"#, &["p0"]),
            (r#"{"k": "v", "n": [1, 3.0]}"#, &["p0", "p4"]),
            (
                r#"{"p": [{"a": 5, "b": "t"}, {"a": 6, "b": "s"}]}"#,
                &["p0"],
            ),
            (
                r#"{"p": [{"a": 6, "b": "t"}, {"a": 5, "b": "s"}]}"#,
                &["p0", "p5"],
            ),
            (r#"{"q": 12345678901234567890}"#, &["p0", "p6"]),
            (r#"{"q": 12345678901234567891}"#, &["p0"]),
        ];
        assert_cases(&m, cases);
    }

    /// Coordinates (17 significant digits, negative exponent) are looked up by an
    /// estimated key: one double either side of a bound, and the bound itself written
    /// with more digits, must still find exactly the candidates that direct evaluation
    /// finds, for equality, each kind of range bound, and `anything-but`.
    #[test]
    fn estimated_keys_find_every_candidate() {
        let bound = -122.42916360922355f64;
        let m = matcher(&[
            r#"{"x": [-122.42916360922355]}"#,
            r#"{"x": [{"numeric": ["=", -122.42916360922355]}]}"#,
            r#"{"x": [{"numeric": ["<", -122.42916360922355]}]}"#,
            r#"{"x": [{"numeric": ["<=", -122.42916360922355]}]}"#,
            r#"{"x": [{"numeric": [">", -122.42916360922355]}]}"#,
            r#"{"x": [{"numeric": [">=", -122.42916360922355, "<", -122.4291636092235]}]}"#,
            r#"{"x": [{"anything-but": [-122.42916360922355]}]}"#,
        ]);
        let below = f64::from_bits(bound.to_bits() + 1);
        let above = f64::from_bits(bound.to_bits() - 1);
        let mut texts = vec![
            "-122.42916360922355".to_string(),
            "-122.429163609223550".to_string(),
            "-122.42916360922356".to_string(),
            "-122.42916360922354".to_string(),
            "-122.4291636092235500001".to_string(),
            "-12242916360922355e-14".to_string(),
        ];
        texts.extend([below, above].map(|v| format!("{v:?}")));
        assert!(
            crate::number::near_key(&texts[0]).is_some_and(|n| n.slack > 0),
            "coordinates take the estimate path (or this test proves nothing)"
        );
        for text in &texts {
            let event = format!(r#"{{"x": {text}}}"#);
            assert_eq!(
                m.matches_str(&event).unwrap(),
                m.matches_str_exhaustively(&event).unwrap(),
                "{event}"
            );
        }
        let hits = |text: &str| m.matches_str(&format!(r#"{{"x": {text}}}"#)).unwrap();
        assert_eq!(hits("-122.42916360922355"), ["p0", "p1", "p3", "p5"]);
        assert_eq!(hits(&format!("{below:?}")), ["p2", "p3", "p6"]);
        assert_eq!(hits(&format!("{above:?}")), ["p4", "p5", "p6"]);
    }

    /// Numbers whose nearest double passes a test, but whose text that double does not
    /// hold exactly, are compared as text: the lazy exactness check must still run
    /// whenever the answer depends on it, in the index and in verification.
    #[test]
    fn exactness_is_settled_whenever_it_matters() {
        let m = matcher(&[
            r#"{"n": [{"numeric": [">=", 0.1, "<", 0.2]}]}"#,
            r#"{"n": [0.1]}"#,
            r#"{"n": [{"anything-but": [0.1]}]}"#,
            // Anchored elsewhere, so `n` is only checked in verification.
            r#"{"k": ["x"], "n": [{"numeric": ["=", 0.1]}]}"#,
            r#"{"k": ["x"], "n": [{"numeric": [">", 0.1]}]}"#,
        ]);
        let cases: &[(&str, &[&str])] = &[
            // 0.1's double, written in 16 and 17 digits: not its shortest form.
            (r#"{"k": "x", "n": 0.10000000000000001}"#, &["p2"]),
            (
                r#"{"k": "x", "n": 0.1000000000000000055511151231257827}"#,
                &["p2"],
            ),
            (
                r#"{"k": "x", "n": 0.1000000000000001}"#,
                &["p0", "p2", "p4"],
            ),
            // The next double up, in its shortest (17-digit) form: exact.
            (
                r#"{"k": "x", "n": 0.10000000000000002}"#,
                &["p0", "p2", "p4"],
            ),
            (
                r#"{"k": "x", "n": 0.1000000000000000}"#,
                &["p0", "p1", "p3"],
            ),
            (r#"{"k": "x", "n": 1e-1}"#, &["p0", "p1", "p3"]),
            (
                r#"{"k": "x", "n": [0.10000000000000001, 0.1]}"#,
                &["p0", "p1", "p2", "p3"],
            ),
            (
                r#"{"k": "x", "n": [0.10000000000000001, 0.3]}"#,
                &["p2", "p4"],
            ),
        ];
        assert_cases(&m, cases);
    }

    /// Filters reject candidates whose other conditions no value hit, and a hit filter
    /// still leaves array consistency to verification.
    #[test]
    fn filters_only_reject() {
        let m = matcher(&[
            r#"{"t": ["F"], "p": {"x": [{"numeric": [">", 5]}], "y": [{"numeric": ["<", 0]}]}}"#,
            r#"{"t": ["F"], "q": [{"prefix": "a"}]}"#,
        ]);
        assert!(m.conds.iter().any(|c| c.filter));
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"t": "F", "p": [{"x": 6, "y": 1}, {"x": 1, "y": -1}]}"#,
                &[],
            ),
            (
                r#"{"t": "F", "p": [{"x": 6, "y": -1}, {"x": 1, "y": 1}]}"#,
                &["p0"],
            ),
            (r#"{"t": "F", "p": {"x": 6, "y": 0}, "q": "ba"}"#, &[]),
            (r#"{"t": "F", "q": ["b", "ab"]}"#, &["p1"]),
            (r#"{"t": "G", "p": {"x": 6, "y": -1}, "q": "a"}"#, &[]),
        ];
        assert_cases(&m, cases);
    }

    #[test]
    fn signed_zeros_differ_on_every_path() {
        let m = matcher(&[
            r#"{"n": [0]}"#,
            r#"{"n": [{"numeric": ["<", 0]}]}"#,
            r#"{"k": ["x"], "n": [{"numeric": ["=", 0]}]}"#,
        ]);
        assert_eq!(
            m.matches_str(r#"{"k": "x", "n": 0.0}"#).unwrap(),
            ["p0", "p2"]
        );
        assert_eq!(m.matches_str(r#"{"k": "x", "n": -0}"#).unwrap(), ["p1"]);
        assert_eq!(m.matches_str(r#"{"k": "x", "n": -0.0e3}"#).unwrap(), ["p1"]);
    }

    /// `exists: false` on a field the event has only in other elements of an array
    /// than the values the rest of the pattern matched holds (event-ruler's
    /// array-consistent matcher); a value outside every array, or in the same element,
    /// still means the field exists.
    #[test]
    fn exists_false_looks_only_at_the_chosen_array_elements() {
        let m = matcher(&[
            r#"{"e": {"name": ["Anna"], "ids": [{"exists": false}]}}"#,
            r#"{"e": {"ids": [{"exists": false}]}}"#,
            r#"{"e": {"name": ["Anna"]}, "top": [{"exists": false}]}"#,
        ]);
        assert_cases(
            &m,
            &[
                (
                    r#"{"e": [{"name": "John", "ids": [1]}, {"name": "Anna"}]}"#,
                    &["p0", "p2"],
                ),
                (
                    r#"{"e": [{"name": "Anna", "ids": [1]}, {"name": "Bo"}]}"#,
                    &["p2"],
                ),
                (r#"{"e": [{"name": "Anna"}], "top": 1}"#, &["p0", "p1"]),
                (
                    r#"{"e": [{"name": "Anna", "ids": []}]}"#,
                    &["p0", "p1", "p2"],
                ),
                (r#"{"e": {"name": "Anna", "ids": 1}}"#, &["p2"]),
                (
                    r#"{"e": [[{"name": "Anna"}], [{"ids": 2}]]}"#,
                    &["p0", "p2"],
                ),
            ],
        );
    }
}
