//! Many patterns compiled into one index; matching costs per event grow with the values
//! the event carries for named fields and the conditions they satisfy, not with the
//! number of rules.
//!
//! How: every condition (one field of one `$or` alternative) is registered in a per-field
//! index (hash maps for exact and case-folded values, length-bucketed maps for prefixes
//! and suffixes, literal-prefix buckets for wildcards, lists for numeric ranges, CIDR
//! blocks and `anything-but`). While the event is walked, each leaf value looks up the
//! conditions it satisfies and bumps a counter on their alternative; an alternative whose
//! required conditions are all satisfied becomes a candidate, and only candidates are
//! checked for `exists: false` and for array consistency (fields from different elements
//! of one array never combine, as in event-ruler).

use std::cell::RefCell;
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::ast::{Alternative, AnythingBut, Range, Test};
use crate::cidr::Cidr;
use crate::flatten::{walk_text, walk_value, ArrayPos, PathTrie, Scalar, Visitor};
use crate::fold::fold;
use crate::number::comparable_key;
use crate::wildcard::Wildcard;
use crate::{EventError, Pattern};

type Ids = Vec<u32>;

/// Many named patterns compiled together.
///
/// Adding a name that exists replaces its pattern. Matching takes `&self` and is safe
/// from many threads at once (scratch space is per thread).
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    trie: PathTrie,
    fields: Vec<FieldIndex>,
    conds: Vec<CondInfo>,
    alts: Vec<AltInfo>,
    /// Alternatives with no required condition (only `exists: false`-style ones).
    always: Ids,
    rules: Vec<RuleSlot>,
    by_name: FxHashMap<String, u32>,
    live_alts: usize,
    dead_alts: usize,
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
    required: u32,
    conds: Ids,
    live: bool,
}

#[derive(Debug, Clone, Copy)]
struct CondInfo {
    alt: u32,
    field: u32,
    absent_ok: bool,
}

/// Exact-byte keys bucketed by length: a value probes one hash lookup per distinct
/// prefix (or suffix) length, however many rules share the field.
#[derive(Debug, Clone, Default)]
struct AffixIndex {
    lengths: Vec<usize>,
    map: FxHashMap<Box<[u8]>, Ids>,
}

impl AffixIndex {
    fn insert(&mut self, key: &[u8], id: u32) {
        if let Err(at) = self.lengths.binary_search(&key.len()) {
            self.lengths.insert(at, key.len());
        }
        self.map.entry(key.into()).or_default().push(id);
    }

    fn prefixes_of(&self, value: &[u8], mut f: impl FnMut(u32)) {
        for &len in &self.lengths {
            if len > value.len() {
                break;
            }
            if let Some(ids) = self.map.get(&value[..len]) {
                ids.iter().copied().for_each(&mut f);
            }
        }
    }

    fn suffixes_of(&self, value: &[u8], mut f: impl FnMut(u32)) {
        for &len in &self.lengths {
            if len > value.len() {
                break;
            }
            if let Some(ids) = self.map.get(&value[value.len() - len..]) {
                ids.iter().copied().for_each(&mut f);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
struct FieldIndex {
    exact: FxHashMap<Box<str>, Ids>,
    number_keys: FxHashMap<u64, Ids>,
    number_texts: FxHashMap<Box<str>, Ids>,
    trues: Ids,
    falses: Ids,
    nulls: Ids,
    prefix: AffixIndex,
    prefix_folded: AffixIndex,
    suffix: AffixIndex,
    suffix_folded: AffixIndex,
    folded: FxHashMap<Box<str>, Ids>,
    wildcards: Vec<(Wildcard, u32)>,
    /// Positions in `wildcards`, bucketed by their literal prefix.
    wildcard_index: AffixIndex,
    ranges: Vec<(Range, u32)>,
    cidrs: Vec<(Cidr, u32)>,
    anything_buts: Vec<(AnythingBut, u32)>,
    exists: Ids,
}

impl FieldIndex {
    fn needs_fold(&self) -> bool {
        !self.folded.is_empty() || !self.prefix_folded.is_empty() || !self.suffix_folded.is_empty()
    }

    fn add(&mut self, test: &Test, cond: u32) {
        match test {
            Test::ExactString(s) => self.exact.entry(s.as_str().into()).or_default().push(cond),
            Test::ExactNumber(n) => {
                if let Some(key) = n.key {
                    self.number_keys.entry(key).or_default().push(cond);
                }
                self.number_texts
                    .entry(n.text.as_str().into())
                    .or_default()
                    .push(cond);
            }
            Test::True => self.trues.push(cond),
            Test::False => self.falses.push(cond),
            Test::Null => self.nulls.push(cond),
            Test::Prefix(p) => self.prefix.insert(p.as_bytes(), cond),
            Test::PrefixIgnoreCase(p) => self.prefix_folded.insert(p.as_bytes(), cond),
            Test::Suffix(s) => self.suffix.insert(s.as_bytes(), cond),
            Test::SuffixIgnoreCase(s) => self.suffix_folded.insert(s.as_bytes(), cond),
            Test::EqualsIgnoreCase(s) => {
                self.folded.entry(s.as_str().into()).or_default().push(cond)
            }
            Test::Wildcard(w) => {
                self.wildcard_index
                    .insert(&w.literal_prefix(), self.wildcards.len() as u32);
                self.wildcards.push((w.clone(), cond));
            }
            Test::AnythingBut(a) => self.anything_buts.push((a.clone(), cond)),
            // `["=", x]` is an exact lookup, not a range to scan.
            Test::Numeric(Range { low: Some((low, true)), high: Some((high, true)) }) if low == high => {
                self.number_keys.entry(*low).or_default().push(cond)
            }
            Test::Numeric(r) => self.ranges.push((*r, cond)),
            Test::Cidr(c) => self.cidrs.push((*c, cond)),
            Test::Exists => self.exists.push(cond),
        }
    }

    /// Calls `hit` for every condition the value satisfies (possibly more than once).
    fn lookup(&self, value: &Scalar<'_>, hit: &mut impl FnMut(u32)) {
        self.exists.iter().copied().for_each(&mut *hit);
        match value {
            Scalar::Str(s) => self.lookup_str(s, hit),
            Scalar::Num(text) => {
                let key = if self.number_keys.is_empty()
                    && self.ranges.is_empty()
                    && !self.has_number_exclusions()
                {
                    None
                } else {
                    comparable_key(text)
                };
                if let Some(key) = key {
                    if let Some(ids) = self.number_keys.get(&key) {
                        ids.iter().copied().for_each(&mut *hit);
                    }
                    for (range, id) in &self.ranges {
                        if range.contains(key) {
                            hit(*id);
                        }
                    }
                }
                if let Some(ids) = self.number_texts.get(text.as_ref()) {
                    ids.iter().copied().for_each(&mut *hit);
                }
                for (ab, id) in &self.anything_buts {
                    let excluded = matches!((ab, key), (AnythingBut::Numbers(keys), Some(k)) if keys.contains(&k));
                    if !excluded {
                        hit(*id);
                    }
                }
            }
            Scalar::True | Scalar::False | Scalar::Null => {
                let ids = match value {
                    Scalar::True => &self.trues,
                    Scalar::False => &self.falses,
                    _ => &self.nulls,
                };
                ids.iter().copied().for_each(&mut *hit);
                // No anything-but can exclude a literal.
                self.anything_buts.iter().for_each(|(_, id)| hit(*id));
            }
        }
    }

    fn has_number_exclusions(&self) -> bool {
        self.anything_buts
            .iter()
            .any(|(a, _)| matches!(a, AnythingBut::Numbers(_)))
    }

    fn lookup_str(&self, s: &str, hit: &mut impl FnMut(u32)) {
        let bytes = s.as_bytes();
        if let Some(ids) = self.exact.get(s) {
            ids.iter().copied().for_each(&mut *hit);
        }
        self.prefix.prefixes_of(bytes, &mut *hit);
        self.suffix.suffixes_of(bytes, &mut *hit);
        let folded = if self.needs_fold()
            || self
                .anything_buts
                .iter()
                .any(|(a, _)| matches!(a, AnythingBut::IgnoreCase(_)))
        {
            Some(fold(s))
        } else {
            None
        };
        if let Some(f) = &folded {
            if let Some(ids) = self.folded.get(f.as_ref()) {
                ids.iter().copied().for_each(&mut *hit);
            }
            self.prefix_folded.prefixes_of(f.as_bytes(), &mut *hit);
            self.suffix_folded.suffixes_of(f.as_bytes(), &mut *hit);
        }
        if !self.wildcards.is_empty() {
            self.wildcard_index.prefixes_of(bytes, |at| {
                let (w, id) = &self.wildcards[at as usize];
                if w.is_match(bytes) {
                    hit(*id);
                }
            });
        }
        if !self.cidrs.is_empty() {
            if let Ok(ip) = s.parse::<IpAddr>() {
                for (block, id) in &self.cidrs {
                    if block.contains(ip) {
                        hit(*id);
                    }
                }
            }
        }
        for (ab, id) in &self.anything_buts {
            let excluded = match ab {
                AnythingBut::Strings(list) => list.iter().any(|x| x == s),
                AnythingBut::Numbers(_) => false,
                AnythingBut::Prefixes(list) => list.iter().any(|p| s.starts_with(p.as_str())),
                AnythingBut::Suffixes(list) => list.iter().any(|p| s.ends_with(p.as_str())),
                AnythingBut::IgnoreCase(list) => {
                    let f = folded.as_deref().unwrap_or(s);
                    list.iter().any(|x| x == f)
                }
                AnythingBut::Wildcards(list) => list.iter().any(|w| w.is_match(bytes)),
            };
            if !excluded {
                hit(*id);
            }
        }
    }
}

/// Per-thread matching state, reused across events so that nothing is allocated or
/// cleared per rule: entries are valid only when their epoch equals the current one.
#[derive(Default)]
struct Scratch {
    epoch: u32,
    cond_epoch: Vec<u32>,
    alt_epoch: Vec<u32>,
    alt_count: Vec<u32>,
    rule_epoch: Vec<u32>,
    field_epoch: Vec<u32>,
    /// (condition, value) pairs, for array-consistency checks.
    hits: Vec<(u32, u32)>,
    /// Per value: its range in `arena`.
    memberships: Vec<(u32, u32)>,
    arena: Vec<ArrayPos>,
    candidates: Ids,
    any_arrays: bool,
}

impl Scratch {
    fn begin(&mut self, m: &Matcher) {
        let grow = |v: &mut Vec<u32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0);
            }
        };
        grow(&mut self.cond_epoch, m.conds.len());
        grow(&mut self.alt_epoch, m.alts.len());
        grow(&mut self.alt_count, m.alts.len());
        grow(&mut self.rule_epoch, m.rules.len());
        grow(&mut self.field_epoch, m.fields.len());
        if self.epoch == u32::MAX {
            for v in [
                &mut self.cond_epoch,
                &mut self.alt_epoch,
                &mut self.rule_epoch,
                &mut self.field_epoch,
            ] {
                v.iter_mut().for_each(|e| *e = 0);
            }
            self.epoch = 0;
        }
        self.epoch += 1;
        self.hits.clear();
        self.memberships.clear();
        self.arena.clear();
        self.candidates.clear();
        self.any_arrays = false;
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

struct Collector<'m, 's> {
    m: &'m Matcher,
    s: &'s mut Scratch,
}

impl Visitor for Collector<'_, '_> {
    fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]) {
        let s = &mut *self.s;
        let m = self.m;
        s.field_epoch[field as usize] = s.epoch;
        let value_id = s.memberships.len() as u32;
        let start = s.arena.len() as u32;
        s.arena.extend_from_slice(arrays);
        s.memberships.push((start, arrays.len() as u32));
        s.any_arrays |= !arrays.is_empty();
        let epoch = s.epoch;
        m.fields[field as usize].lookup(&value, &mut |cond| {
            s.hits.push((cond, value_id));
            let c = cond as usize;
            if s.cond_epoch[c] == epoch {
                return;
            }
            s.cond_epoch[c] = epoch;
            let info = m.conds[c];
            if info.absent_ok {
                return;
            }
            let a = info.alt as usize;
            if s.alt_epoch[a] != epoch {
                s.alt_epoch[a] = epoch;
                s.alt_count[a] = 0;
            }
            s.alt_count[a] += 1;
            if s.alt_count[a] == m.alts[a].required {
                s.candidates.push(info.alt);
            }
        });
    }
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
    }

    fn add_alternative(&mut self, rule: u32, alternative: &Alternative) -> u32 {
        let alt = self.alts.len() as u32;
        let mut conds = Vec::with_capacity(alternative.len());
        let mut required = 0;
        for condition in alternative {
            let field = self.trie.insert(&condition.path, self.fields.len() as u32);
            if field as usize == self.fields.len() {
                self.fields.push(FieldIndex::default());
            }
            let cond = self.conds.len() as u32;
            self.conds.push(CondInfo {
                alt,
                field,
                absent_ok: condition.absent_ok,
            });
            for test in &condition.tests {
                self.fields[field as usize].add(test, cond);
            }
            if !condition.absent_ok {
                required += 1;
            }
            conds.push(cond);
        }
        if required == 0 {
            self.always.push(alt);
        }
        self.alts.push(AltInfo {
            rule,
            required,
            conds,
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

    fn rebuild(&mut self) {
        let live: Vec<(String, Pattern)> = std::mem::take(&mut self.rules)
            .into_iter()
            .filter_map(|r| r.pattern.map(|p| (r.name, p)))
            .collect();
        *self = Matcher::new();
        for (name, pattern) in live {
            self.add(name, &pattern);
        }
    }

    /// Names of the patterns that match the event (JSON text), in the order they were
    /// added.
    pub fn matches_str(&self, event: &str) -> Result<Vec<&str>, EventError> {
        self.run(|m, c| walk_text(event, &m.trie, c))
    }

    /// Names of the patterns that match an already-parsed event.
    pub fn matches_value(&self, event: &serde_json::Value) -> Vec<&str> {
        self.run(|m, c| {
            walk_value(event, &m.trie, c);
            Ok(())
        })
        .unwrap_or_default()
    }

    fn run(
        &self,
        walk: impl FnOnce(&Matcher, &mut Collector<'_, '_>) -> Result<(), EventError>,
    ) -> Result<Vec<&str>, EventError> {
        SCRATCH.with(|cell| {
            let mut guard = match cell.try_borrow_mut() {
                Ok(g) => g,
                // Re-entered from inside a walk (cannot happen today): use fresh space.
                Err(_) => return self.run_with(&mut Scratch::default(), walk),
            };
            self.run_with(&mut guard, walk)
        })
    }

    fn run_with(
        &self,
        s: &mut Scratch,
        walk: impl FnOnce(&Matcher, &mut Collector<'_, '_>) -> Result<(), EventError>,
    ) -> Result<Vec<&str>, EventError> {
        s.begin(self);
        walk(self, &mut Collector { m: self, s })?;
        let epoch = s.epoch;
        let mut sorted_hits = false;
        let mut matched: Ids = Vec::new();
        let candidates = std::mem::take(&mut s.candidates);
        for &a in candidates.iter().chain(self.always.iter()) {
            let alt = &self.alts[a as usize];
            if !alt.live || s.rule_epoch[alt.rule as usize] == epoch {
                continue;
            }
            let absent_ok = alt.conds.iter().all(|&c| {
                let info = self.conds[c as usize];
                !info.absent_ok
                    || s.cond_epoch[c as usize] == epoch
                    || s.field_epoch[info.field as usize] != epoch
            });
            if !absent_ok {
                continue;
            }
            if s.any_arrays {
                if !sorted_hits {
                    s.hits.sort_unstable();
                    s.hits.dedup();
                    sorted_hits = true;
                }
                if !consistent(alt, s) {
                    continue;
                }
            }
            s.rule_epoch[alt.rule as usize] = epoch;
            matched.push(alt.rule);
        }
        s.candidates = candidates;
        matched.sort_unstable();
        Ok(matched
            .into_iter()
            .map(|r| self.rules[r as usize].name.as_str())
            .collect())
    }
}

/// Whether one value per satisfied condition can be chosen so that no two chosen values
/// sit in different elements of the same array.
fn consistent(alt: &AltInfo, s: &Scratch) -> bool {
    let epoch = s.epoch;
    // Values per hit condition; conditions satisfied by absence take no value.
    let mut choices: Vec<&[(u32, u32)]> = Vec::with_capacity(alt.conds.len());
    for &c in &alt.conds {
        if s.cond_epoch[c as usize] != epoch {
            continue;
        }
        let from = s.hits.partition_point(|h| h.0 < c);
        let to = s.hits.partition_point(|h| h.0 <= c);
        let values = &s.hits[from..to];
        // A value outside every array agrees with any choice.
        if values
            .iter()
            .any(|&(_, v)| s.memberships[v as usize].1 == 0)
        {
            continue;
        }
        choices.push(values);
    }
    if choices.len() < 2 {
        return true;
    }
    let membership = |v: u32| {
        let (start, len) = s.memberships[v as usize];
        &s.arena[start as usize..(start + len) as usize]
    };
    let agree = |a: &[ArrayPos], b: &[ArrayPos]| {
        a.iter().all(|(array, index)| {
            b.iter()
                .all(|(other, other_index)| other != array || other_index == index)
        })
    };
    fn search<'a>(
        choices: &[&[(u32, u32)]],
        chosen: &mut Vec<&'a [ArrayPos]>,
        membership: &impl Fn(u32) -> &'a [ArrayPos],
        agree: &impl Fn(&[ArrayPos], &[ArrayPos]) -> bool,
    ) -> bool {
        let Some((first, rest)) = choices.split_first() else {
            return true;
        };
        for &(_, v) in *first {
            let m = membership(v);
            if chosen.iter().all(|c| agree(c, m)) {
                chosen.push(m);
                if search(rest, chosen, membership, agree) {
                    return true;
                }
                chosen.pop();
            }
        }
        false
    }
    search(
        &choices,
        &mut Vec::with_capacity(choices.len()),
        &membership,
        &agree,
    )
}
