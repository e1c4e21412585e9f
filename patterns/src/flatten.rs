//! Walks an event and reports the leaf values of the fields some pattern names.
//!
//! Events are read straight from their JSON text: fields no pattern mentions are skipped
//! without allocating (but still validated), which is what keeps matching cheaper than
//! building a `serde_json::Value` for the whole event.

use std::borrow::Cow;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::number::{number_end, scan_number, skip_digits, NearKey};
use crate::skip::{self, find_string_stop, ws as skip_ws};
use crate::structure;
use crate::EventError;

/// Field names of all patterns, split at dots: `{"detail": {"a.b": …}}` and
/// `{"detail.a": {"b": …}}` both name `detail.a.b`, as do the same shapes in events.
#[derive(Debug, Clone)]
pub(crate) struct PathTrie {
    nodes: Vec<TrieNode>,
}

impl Default for PathTrie {
    fn default() -> Self {
        PathTrie::new()
    }
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: Children,
    field: Option<u32>,
    /// The children whose names are short and plain, as the raw bytes of `"name":`.
    quick: Vec<QuickKey>,
    /// Plain children whose raw `"name":` takes 17 to 32 bytes (`firstCoordinates`,
    /// `requestParameters`): tried only when the short ones miss.
    long_quick: Vec<LongQuickKey>,
    /// Some child has children of its own.
    has_grandchildren: bool,
    /// Every child is a quick key and a leaf: in trusted mode the node's objects are read
    /// by [`TextWalker::flat_object`].
    flat: bool,
    /// The first bytes of the quick keys' names, each once.
    first_bytes: Vec<u8>,
}

/// A child's name as it appears raw in an event: `"name":`, compared in one 16-byte
/// load instead of scanning the string and then looking it up. Keys of a polygon's
/// points (`"x": `, `"y": `) are most of the keys a walk over named fields reads.
#[derive(Debug, Clone, Copy)]
struct QuickKey {
    pattern: u128,
    mask: u128,
    /// The mask of `"name"`, without the colon.
    name_mask: u128,
    /// Bytes of `"name":`.
    len: u8,
    child: u32,
}

/// A child's name as an event writes it raw, `"name":`, in 32 zero-padded bytes split into
/// two little-endian words, and its length; `None` for names longer than 29 bytes, or that
/// an event could only write escaped (whose raw form may then continue past a quote that is
/// not the closing one).
fn raw_key(name: &str) -> Option<([u128; 2], usize)> {
    let len = name.len() + 3;
    if len > 32 || name.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return None;
    }
    let mut raw = [0u8; 32];
    raw[0] = b'"';
    raw[1..=name.len()].copy_from_slice(name.as_bytes());
    raw[name.len() + 1] = b'"';
    raw[name.len() + 2] = b':';
    let half = |at: usize| {
        let mut word = [0u8; 16];
        word.copy_from_slice(&raw[at..at + 16]);
        u128::from_le_bytes(word)
    };
    Some(([half(0), half(16)], len))
}

/// The mask of a word's first `len` (1 to 16) bytes.
fn low_bytes(len: usize) -> u128 {
    u128::MAX >> (8 * (16 - len))
}

impl QuickKey {
    /// `None` for names that do not fit in 16 bytes raw (see [`raw_key`]).
    fn new(name: &str, child: u32) -> Option<QuickKey> {
        let ([pattern, _], len) = raw_key(name).filter(|&(_, len)| len <= 16)?;
        Some(QuickKey {
            pattern,
            mask: low_bytes(len),
            name_mask: low_bytes(len - 1),
            len: len as u8,
            child,
        })
    }
}

/// A [`QuickKey`] of 17 to 32 bytes: two 16-byte loads.
#[derive(Debug, Clone, Copy)]
struct LongQuickKey {
    head: u128,
    tail: u128,
    tail_mask: u128,
    len: u8,
    child: u32,
}

impl LongQuickKey {
    /// `None` for names of up to 16 bytes raw (quick keys) or past 32 (see [`raw_key`]).
    fn new(name: &str, child: u32) -> Option<LongQuickKey> {
        let ([head, tail], len) = raw_key(name).filter(|&(_, len)| len > 16)?;
        Some(LongQuickKey {
            head,
            tail,
            tail_mask: low_bytes(len - 16),
            len: len as u8,
            child,
        })
    }
}

/// The 16 bytes at `pos` as a little-endian word, zeros past the end of `bytes` (which
/// never match a masked byte of a key: every key's mask covers its closing `":`).
#[inline(always)]
fn sixteen_at(bytes: &[u8], pos: usize) -> Option<u128> {
    match bytes.get(pos..pos + 16) {
        Some(chunk) => Some(u128::from_le_bytes(chunk.try_into().ok()?)),
        None => {
            let rest = bytes.get(pos..)?;
            let mut padded = [0u8; 16];
            padded[..rest.len()].copy_from_slice(rest);
            Some(u128::from_le_bytes(padded))
        }
    }
}

/// Most trie nodes have a handful of children, and most event keys looked up in them
/// are misses (fields no pattern names): comparing lengths, then bytes in a plain loop
/// (names are short; a `memcmp` call costs more), beats hashing every key. Wide nodes
/// switch to a hash map.
#[derive(Debug, Clone)]
enum Children {
    Few(Vec<(Box<str>, u32)>),
    Many(FxHashMap<Box<str>, u32>),
}

impl Default for Children {
    fn default() -> Self {
        Children::Few(Vec::new())
    }
}

/// Above this many children a node uses a hash map.
const FEW_CHILDREN: usize = 8;

impl Children {
    #[inline]
    fn get(&self, key: &str) -> Option<u32> {
        match self {
            Children::Few(list) => {
                let key = key.as_bytes();
                list.iter()
                    .find(|(name, _)| {
                        name.len() == key.len()
                            && name.as_bytes().iter().zip(key).all(|(a, b)| a == b)
                    })
                    .map(|&(_, node)| node)
            }
            Children::Many(map) => map.get(key).copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Children::Few(list) => list.len(),
            Children::Many(map) => map.len(),
        }
    }

    fn insert(&mut self, key: &str, node: u32) {
        match self {
            Children::Few(list) if list.len() < FEW_CHILDREN => list.push((key.into(), node)),
            Children::Few(list) => {
                let mut map: FxHashMap<Box<str>, u32> = list.drain(..).collect();
                map.insert(key.into(), node);
                *self = Children::Many(map);
            }
            Children::Many(map) => {
                map.insert(key.into(), node);
            }
        }
    }
}

impl PathTrie {
    pub(crate) fn new() -> Self {
        PathTrie {
            nodes: vec![TrieNode::default()],
        }
    }

    /// The field id of `path`, created as `next_id` when new.
    pub(crate) fn insert(&mut self, path: &str, next_id: u32) -> u32 {
        let mut node = 0usize;
        let mut grandparent: Option<usize> = None;
        for segment in path.split('.') {
            let next = match self.nodes[node].children.get(segment) {
                Some(child) => child as usize,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    let parent = &mut self.nodes[node];
                    parent.children.insert(segment, child as u32);
                    // Wide nodes are a hash lookup: a list of quick keys would be a scan.
                    if parent.children.len() > FEW_CHILDREN {
                        parent.quick.clear();
                        parent.long_quick.clear();
                    } else if let Some(quick) = QuickKey::new(segment, child as u32) {
                        parent.quick.push(quick);
                    } else if let Some(long) = LongQuickKey::new(segment, child as u32) {
                        parent.long_quick.push(long);
                    }
                    self.refresh_flat(node);
                    if let Some(above) = grandparent {
                        self.nodes[above].has_grandchildren = true;
                        self.refresh_flat(above);
                    }
                    child
                }
            };
            grandparent = Some(node);
            node = next;
        }
        *self.nodes[node].field.get_or_insert(next_id)
    }

    fn refresh_flat(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.flat = !n.has_grandchildren && !n.quick.is_empty() && n.quick.len() == n.children.len();
        n.first_bytes.clear();
        for q in &n.quick {
            // Byte 1 of `"name":`.
            let first = (q.pattern >> 8) as u8;
            if !n.first_bytes.contains(&first) {
                n.first_bytes.push(first);
            }
        }
    }

    /// Whether `node`'s objects may be read by [`TextWalker::flat_object`]: every child is
    /// a leaf found by a quick key, so that only a key written `"name":` can name one (a
    /// dotted key could only continue into a child's children, and there are none).
    #[inline(always)]
    fn flat(&self, node: u32) -> bool {
        self.nodes[node as usize].flat
    }

    /// What the string whose opening quote is at `pos`, in an object of a
    /// [`PathTrie::flat`] node, is to that node.
    #[inline(always)]
    fn flat_key(&self, node: u32, bytes: &[u8], pos: usize) -> FlatKey {
        let Some(word) = sixteen_at(bytes, pos) else {
            return FlatKey::Unsure;
        };
        for q in &self.nodes[node as usize].quick {
            // Most strings differ from most names in their first eight bytes.
            if (word as u64 ^ q.pattern as u64) & q.name_mask as u64 != 0 {
                continue;
            }
            let diff = (word ^ q.pattern) & q.mask;
            if diff == 0 {
                return FlatKey::Child(q.child, pos + usize::from(q.len));
            }
            // The name and its closing quote, then not a colon: a key written
            // `"name" :` (the careful walk reads it), or a value that happens to be
            // the name.
            if diff & q.name_mask == 0
                && matches!(
                    bytes.get(pos + usize::from(q.len) - 1),
                    Some(b' ' | b'\t' | b'\n' | b'\r')
                )
            {
                return FlatKey::Unsure;
            }
        }
        FlatKey::Other
    }

    #[inline]
    fn step(&self, node: u32, key: &str) -> Option<u32> {
        // Trie segments never contain dots, so a direct hit is the answer, and only a miss
        // on a dotted key needs splitting.
        let children = &self.nodes[node as usize].children;
        if let Some(child) = children.get(key) {
            return Some(child);
        }
        self.step_dotted(node, key)
    }

    /// [`PathTrie::step`] for a key known not to be a child's whole name.
    #[inline]
    fn step_dotted(&self, node: u32, key: &str) -> Option<u32> {
        if !key.bytes().any(|b| b == b'.') {
            return None;
        }
        let mut node = node;
        for segment in key.split('.') {
            node = self.nodes[node as usize].children.get(segment)?;
        }
        Some(node)
    }

    /// The child named by the key at `pos` (its opening quote) and where the value
    /// starts, when the key is written raw as `"name":`; `None` means "look it up the
    /// long way", not "no such child".
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn quick_step(&self, node: u32, bytes: &[u8], pos: usize) -> Option<(u32, usize)> {
        let node = &self.nodes[node as usize];
        if node.quick.is_empty() && node.long_quick.is_empty() {
            return None;
        }
        // The last keys of an event (`"z": 0}}}`) are read padded.
        let word = sixteen_at(bytes, pos)?;
        if let Some(q) = node.quick.iter().find(|q| word & q.mask == q.pattern) {
            return Some((q.child, pos + usize::from(q.len)));
        }
        if node.long_quick.is_empty() {
            return None;
        }
        self.long_quick_step(node, word, bytes, pos)
    }

    /// [`PathTrie::quick_step`] among the long keys, given the first 16 bytes.
    #[inline(never)]
    fn long_quick_step(
        &self,
        node: &TrieNode,
        head: u128,
        bytes: &[u8],
        pos: usize,
    ) -> Option<(u32, usize)> {
        let tail = sixteen_at(bytes, pos + 16).unwrap_or(0);
        node.long_quick
            .iter()
            .find(|q| head == q.head && tail & q.tail_mask == q.tail)
            .map(|q| (q.child, pos + usize::from(q.len)))
    }

    /// Whether every child of `node` is found by [`PathTrie::quick_step`], so that a
    /// raw key it missed can only be a child if it has dots.
    #[inline(always)]
    fn all_quick(&self, node: u32) -> bool {
        let node = &self.nodes[node as usize];
        node.quick.len() + node.long_quick.len() == node.children.len()
    }

    #[inline]
    fn field(&self, node: u32) -> Option<u32> {
        self.nodes[node as usize].field
    }
}

/// See [`PathTrie::flat_key`].
enum FlatKey {
    /// A key naming this child; its value starts at the position.
    Child(u32, usize),
    /// A string that names no child, key or value.
    Other,
    /// Not decided here: the object must be walked the careful way.
    Unsure,
}

/// Where the value starts after the key at `pos` (its opening quote), when the key is
/// written `"name":` within 16 bytes and the name has no backslash, control character
/// or dot: a key [`PathTrie::quick_step`] then missed is no child of a node whose
/// children are all quick. `None` for any other key (the long way decides).
///
/// Out of line in debug builds, like [`TextWalker::named_number`], so that the
/// recursive walk's frames stay small enough for the nesting limit.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn plain_key_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let word = u128::from_le_bytes(bytes.get(pos..pos + 16)?.try_into().ok()?);
    // The opening quote (byte 0) left out, so that only the name's bytes count.
    let end = (key_stops(word) & !1).trailing_zeros() as usize;
    (end < 16 && bytes[pos + end] == b'"' && bytes.get(pos + end + 1) == Some(&b':'))
        .then_some(pos + end + 2)
}

/// The bytes of `word` that are a quote, backslash, dot or control character, one bit
/// each.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn key_stops(word: u128) -> u32 {
    skip::stops16(word, true)
}

/// [`key_stops`] eight bytes at a time (SWAR) where SSE2 is not at hand: in each mask,
/// the lowest flagged byte is exact (a borrow only flags bytes above a real hit), and
/// only the lowest flag is used.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn key_stops(word: u128) -> u32 {
    const ONES: u128 = u128::from_le_bytes([1; 16]);
    const TOPS: u128 = ONES << 7;
    // Byte 0 made neutral, so that a flag it raised cannot borrow into byte 1.
    let word = (word & !0xff) | u128::from(b'a');
    let zero = |x: u128| x.wrapping_sub(ONES) & !x & TOPS;
    let stops = zero(word ^ (ONES * u128::from(b'"')))
        | zero(word ^ (ONES * u128::from(b'\\')))
        | zero(word ^ (ONES * u128::from(b'.')))
        | (word.wrapping_sub(ONES * 0x20) & !word & TOPS);
    // The lowest flag, as a bit of its byte's index.
    1u32.checked_shl(stops.trailing_zeros() / 8).unwrap_or(0)
}

/// A leaf value of an event.
#[derive(Debug, Clone)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// The number's JSON text, and where its double is when the walker could tell
    /// while scanning it (see `number::scan_number`).
    Num(Cow<'a, str>, Option<NearKey>),
    True,
    False,
    Null,
}

/// Position inside an array: (array instance id, element index).
pub(crate) type ArrayPos = (u32, u32);

pub(crate) trait Visitor {
    /// `arrays`: the array elements this value sits in, outermost first.
    fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]);

    /// A number read from event text: `leaf` with `Scalar::Num`, unless the visitor
    /// takes it apart itself (which spares building the enum in memory for every
    /// coordinate).
    #[inline(always)]
    fn number(&mut self, field: u32, text: &str, near: Option<NearKey>, arrays: &[ArrayPos]) {
        self.leaf(field, Scalar::Num(Cow::Borrowed(text), near), arrays);
    }
}

const MAX_DEPTH: usize = 256;

/// What the walker keeps between events: its allocations, and what trusted mode learned
/// about objects it reads by quotes ([`TextWalker::flat_object`]). Kept per thread by the
/// caller; it never changes what a walk reports, only how fast it goes.
#[derive(Debug, Default)]
pub(crate) struct WalkScratch {
    /// The array positions of the current value.
    arrays: Vec<ArrayPos>,
    /// Per trie node: its last object read by quotes was *dense* (most of its strings
    /// were keys naming a child, as a point's `x`, `y`, `z`), small (fewer than eight
    /// strings that name nothing), or not flat (a `geometry` with its arrays), so its
    /// objects are walked key by key, which costs less there.
    /// Stale entries (another matcher's nodes) only cost time.
    by_keys: Vec<bool>,
    /// Events walked in trusted mode: every [`PROBE_EVERY`]th reads every flat node's
    /// objects by quotes again, so that a node whose objects changed is noticed.
    events: u32,
}

/// See [`WalkScratch::events`].
const PROBE_EVERY: u32 = 256;

/// Walks JSON text. The top level must be an object, as EventBridge events are.
///
/// `scratch` is kept by the caller across events, for its allocations.
pub(crate) fn walk_text(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
    scratch: &mut WalkScratch,
) -> Result<(), EventError> {
    walk_text_as(text, trie, visitor, scratch, false)
}

/// [`walk_text`] for text the caller knows is valid JSON: objects and arrays no pattern
/// looks inside are passed over by their brackets ([`crate::structure`]), not validated.
/// What is walked is read as carefully as ever. On invalid text the leaves reported are
/// unspecified (an error, or some leaves), but nothing panics.
pub(crate) fn walk_trusted_text(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
    scratch: &mut WalkScratch,
) -> Result<(), EventError> {
    scratch.events = scratch.events.wrapping_add(1);
    walk_text_as(text, trie, visitor, scratch, true)
}

fn walk_text_as(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
    scratch: &mut WalkScratch,
    trusted: bool,
) -> Result<(), EventError> {
    scratch.arrays.clear();
    let mut walker = TextWalker {
        text,
        bytes: text.as_bytes(),
        arrays: &mut scratch.arrays,
        by_keys: &mut scratch.by_keys,
        probe: scratch.events.is_multiple_of(PROBE_EVERY),
        next_array: 0,
        failure: None,
        trusted,
    };
    let walked = (|| {
        let pos = skip_ws(walker.bytes, 0);
        if walker.bytes.get(pos) != Some(&b'{') {
            return Err(walker.fail(pos, "an event must be a JSON object"));
        }
        let pos = walker.value(pos, 0, trie, visitor, 0)?;
        let pos = skip_ws(walker.bytes, pos);
        if pos != walker.bytes.len() {
            return Err(walker.fail(pos, "trailing characters after the event"));
        }
        Ok(())
    })();
    match (walked, walker.failure) {
        (Ok(()), _) => Ok(()),
        (Err(Fail), Some((pos, message))) => Err(error_at(text.as_bytes(), pos, message)),
        (Err(Fail), None) => Err(error_at(text.as_bytes(), 0, "malformed event".into())),
    }
}

/// An error at byte `pos`, with its 1-based line and column.
#[cold]
fn error_at(bytes: &[u8], pos: usize, message: Cow<'static, str>) -> EventError {
    let upto = &bytes[..pos.min(bytes.len())];
    let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
    let column = upto.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    EventError {
        message: message.into_owned(),
        line,
        column,
    }
}

/// Walks an already-parsed value.
pub(crate) fn walk_value(value: &Value, trie: &PathTrie, visitor: &mut impl Visitor) {
    fn go(
        v: &Value,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        arrays: &mut Vec<ArrayPos>,
        next: &mut u32,
    ) {
        match v {
            Value::Object(map) => {
                for (key, child) in map {
                    if let Some(n) = trie.step(node, key) {
                        go(child, n, trie, visitor, arrays, next);
                    }
                }
            }
            Value::Array(items) => {
                let id = *next;
                *next += 1;
                for (i, item) in items.iter().enumerate() {
                    arrays.push((id, i as u32));
                    go(item, node, trie, visitor, arrays, next);
                    arrays.pop();
                }
            }
            scalar => {
                if let Some(field) = trie.field(node) {
                    let s = match scalar {
                        Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
                        Value::Number(n) => Scalar::Num(Cow::Owned(n.to_string()), None),
                        Value::Bool(true) => Scalar::True,
                        Value::Bool(false) => Scalar::False,
                        _ => Scalar::Null,
                    };
                    visitor.leaf(field, s, arrays);
                }
            }
        }
    }
    if value.is_object() {
        go(value, 0, trie, visitor, &mut Vec::new(), &mut 0);
    }
}

/// The walk failed; where and why is in [`TextWalker::failure`]. Keeping the error out
/// of every `Result` lets each step return its position in registers.
struct Fail;

type Step<T> = Result<T, Fail>;

/// Positions are passed and returned explicitly (`pos` in, the end of what was read
/// out) rather than kept in the walker, so that the hot loops work on locals.
struct TextWalker<'a, 's> {
    text: &'a str,
    bytes: &'a [u8],
    arrays: &'s mut Vec<ArrayPos>,
    /// [`WalkScratch::by_keys`].
    by_keys: &'s mut Vec<bool>,
    /// Objects of every flat node are read by quotes, to learn again.
    probe: bool,
    next_array: u32,
    failure: Option<(usize, Cow<'static, str>)>,
    /// Containers no pattern looks inside are skipped by structure, not validated (see
    /// [`walk_trusted_text`]).
    trusted: bool,
}

impl<'a> TextWalker<'a, '_> {
    #[cold]
    #[inline(never)]
    fn fail(&mut self, pos: usize, message: impl Into<Cow<'static, str>>) -> Fail {
        self.failure = Some((pos, message.into()));
        Fail
    }

    /// Reads the value at `pos` (whitespace before it allowed), some pattern may look
    /// inside: `node` is its trie node. Subtrees no pattern names go to
    /// [`TextWalker::skip_value`], which only validates.
    ///
    /// Its helpers are inlined in optimized builds and out of line in debug builds,
    /// whose unoptimized locals would otherwise swell every frame of this recursion
    /// past a test thread's stack at the nesting limit (the limit's tests pass with
    /// half the default stack).
    fn value(
        &mut self,
        pos: usize,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Step<usize> {
        if depth > MAX_DEPTH {
            return Err(self.fail(pos, "the event nests too deeply"));
        }
        let bytes = self.bytes;
        let mut pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b'{') => {
                // Reading by quotes pays where most keys name nothing (`properties` under
                // a rule on `STREET`, or on four of its nine keys), and costs where most do
                // (a point's `x`, `y`, `z`): what the last object of the node was like
                // decides.
                if self.trusted
                    && trie.flat(node)
                    && (self.probe || !self.by_keys.get(node as usize).is_some_and(|&k| k))
                {
                    if let Some(end) = self.flat_object(pos, node, trie, visitor, depth)? {
                        return Ok(end);
                    }
                }
                pos = skip_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&b'}') {
                    return Ok(pos + 1);
                }
                loop {
                    if bytes.get(pos) != Some(&b'"') {
                        return Err(self.fail(pos, "expected a field name in quotes"));
                    }
                    let child;
                    (child, pos) = match trie.quick_step(node, bytes, pos) {
                        Some((child, after)) => (Some(child), after),
                        None => match plain_key_end(bytes, pos) {
                            // A plain key every quick child missed names none of them.
                            Some(after) if trie.all_quick(node) => (None, after),
                            _ => self.key(pos, node, trie)?,
                        },
                    };
                    pos = match child {
                        Some(child) => self.value(pos, child, trie, visitor, depth + 1)?,
                        None => self.skip_value(pos, depth + 1)?,
                    };
                    pos = skip_ws(bytes, pos);
                    match bytes.get(pos) {
                        Some(b',') => pos = skip_ws(bytes, pos + 1),
                        Some(b'}') => return Ok(pos + 1),
                        _ => return Err(self.fail(pos, "expected ',' or '}' in an object")),
                    }
                }
            }
            Some(b'[') => {
                pos = skip_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&b']') {
                    return Ok(pos + 1);
                }
                let id = self.next_array;
                self.next_array += 1;
                // This array's position is the top one while its elements are read (an
                // element's own arrays come and go above it); a failed walk leaves it.
                self.arrays.push((id, 0));
                loop {
                    pos = skip_ws(bytes, self.value(pos, node, trie, visitor, depth + 1)?);
                    match bytes.get(pos) {
                        Some(b',') => {
                            pos += 1;
                            if let Some((_, index)) = self.arrays.last_mut() {
                                *index += 1;
                            }
                        }
                        Some(b']') => {
                            self.arrays.pop();
                            return Ok(pos + 1);
                        }
                        _ => return Err(self.fail(pos, "expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b'"') => match trie.field(node) {
                Some(f) => {
                    let (s, end) = self.string(pos)?;
                    visitor.leaf(f, Scalar::Str(s), self.arrays);
                    Ok(end)
                }
                None => Ok(self.skip_string(pos)?.0),
            },
            Some(b'-' | b'0'..=b'9') => match trie.field(node) {
                Some(f) => self.named_number(pos, f, visitor),
                None => self.number(pos),
            },
            Some(b't') => self.literal(pos, b"true", node, trie, visitor, Scalar::True),
            Some(b'f') => self.literal(pos, b"false", node, trie, visitor, Scalar::False),
            Some(b'n') => self.literal(pos, b"null", node, trie, visitor, Scalar::Null),
            _ => Err(self.fail(pos, "expected a JSON value")),
        }
    }

    /// Reads the object whose `{` is at `pos`, of a [`PathTrie::flat`] node, in trusted
    /// mode, by its strings' opening quotes alone ([`structure::flat_object`]): only the
    /// values of keys that name a child are read. `None` when the object is not flat (or
    /// has more named keys than noted here, or a key written unusually): nothing was
    /// reported yet, and the caller walks it the usual way.
    #[inline(never)]
    fn flat_object(
        &mut self,
        pos: usize,
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Step<Option<usize>> {
        const MOST: usize = 8;
        let bytes = self.bytes;
        let mut named = [(0u32, 0usize); MOST];
        let mut found = 0;
        let first = &trie.nodes[node as usize].first_bytes;
        let end = structure::flat_object(bytes, pos, first, |quote| {
            match trie.flat_key(node, bytes, quote) {
                FlatKey::Other => true,
                FlatKey::Child(child, value) if found < MOST => {
                    named[found] = (child, value);
                    found += 1;
                    true
                }
                FlatKey::Child(..) | FlatKey::Unsure => false,
            }
        });
        // Key by key next time if that costs less here (most strings are named keys, or
        // fewer than about four members name nothing: S3's `{"key": …, "size": …, "etag":
        // …, "sequencer": …}` costs more read by quotes), or reading by quotes failed.
        let by_keys = end.is_none_or(|(_, strings)| 2 * found > strings || strings - found < 8);
        match self.by_keys.get_mut(node as usize) {
            Some(known) => *known = by_keys,
            None if by_keys => {
                self.by_keys.resize(node as usize + 1, false);
                self.by_keys[node as usize] = true;
            }
            None => {}
        }
        let Some((end, _)) = end else {
            return Ok(None);
        };
        for &(child, value) in &named[..found] {
            self.value(value, child, trie, visitor, depth + 1)?;
        }
        Ok(Some(end))
    }

    /// Reads the key at `pos` (its opening quote) and the `:` after it: the child of
    /// `node` it names, if any, and where the value starts.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn key(&mut self, pos: usize, node: u32, trie: &PathTrie) -> Step<(Option<u32>, usize)> {
        let bytes = self.bytes;
        let (key, end) = self.string(pos)?;
        let child = match key {
            // A raw key `quick_step` missed (it looks at every key, padding the last
            // ones), followed at once by the colon, is no child unless it is dotted.
            Cow::Borrowed(raw) if bytes.get(end) == Some(&b':') && trie.all_quick(node) => {
                trie.step_dotted(node, raw)
            }
            key => trie.step(node, &key),
        };
        // The usual separator, `": "`, in one comparison.
        let pos = if bytes.get(end..end + 2) == Some(b": ") {
            end + 2
        } else {
            let pos = skip_ws(bytes, end);
            if bytes.get(pos) != Some(&b':') {
                return Err(self.fail(pos, "expected ':' after the field name"));
            }
            pos + 1
        };
        Ok((child, pos))
    }

    /// Validates and moves past the value at `pos`, nested `depth` deep, which no
    /// pattern looks inside: by the fast path ([`crate::skip`]), and only when that
    /// refuses, by [`TextWalker::skip_value_carefully`] for the error.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn skip_value(&mut self, pos: usize, depth: usize) -> Step<usize> {
        let bytes = self.bytes;
        let start = skip_ws(bytes, pos);
        let fast = if depth > MAX_DEPTH {
            None
        } else {
            // Scalars (most unnamed fields of a walked object) without the call.
            match skip::at(bytes, start) {
                b'"' => skip::string(bytes, start + 1),
                b'-' | b'0'..=b'9' => number_end(bytes, start),
                b'{' | b'[' if self.trusted => structure::container_end(bytes, start),
                _ => skip::skip(bytes, start, depth, MAX_DEPTH),
            }
        };
        match fast {
            Some(end) => Ok(end),
            None => self.skip_value_carefully(pos, depth),
        }
    }

    /// [`TextWalker::skip_value`] for input the fast path refused: finds the error and
    /// where it is (or, near the depth limit, the end of a valid value).
    ///
    /// Iterative, with the open containers as a bit stack, and without the trie or
    /// visitor. Reports the same errors, at the same places, as [`TextWalker::value`]
    /// would.
    #[cold]
    #[inline(never)]
    fn skip_value_carefully(&mut self, pos: usize, depth: usize) -> Step<usize> {
        let bytes = self.bytes;
        let mut pos = pos;
        // Bit `level` set: the container open at that level is an object, else an array.
        let mut objects = [0u64; MAX_DEPTH / 64 + 1];
        let mut level = 0usize;
        'value: loop {
            // A value is expected at `pos`, nested `depth + level` deep.
            if depth + level > MAX_DEPTH {
                return Err(self.fail(pos, "the event nests too deeply"));
            }
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b'{') => {
                    pos = skip_ws(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b'}') {
                        pos += 1;
                    } else {
                        objects[level / 64] |= 1 << (level % 64);
                        level += 1;
                        pos = self.skip_key(pos)?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    pos = skip_ws(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b']') {
                        pos += 1;
                    } else {
                        objects[level / 64] &= !(1 << (level % 64));
                        level += 1;
                        continue 'value;
                    }
                }
                Some(b'"') => pos = self.skip_string(pos)?.0,
                Some(b'-' | b'0'..=b'9') => pos = self.number(pos)?,
                Some(b't') => pos = self.skip_literal(pos, b"true")?,
                Some(b'f') => pos = self.skip_literal(pos, b"false")?,
                Some(b'n') => pos = self.skip_literal(pos, b"null")?,
                _ => return Err(self.fail(pos, "expected a JSON value")),
            }
            // A value ended at `pos`: close what it ends, or go on to the next one.
            loop {
                let Some(inner) = level.checked_sub(1) else {
                    return Ok(pos);
                };
                pos = skip_ws(bytes, pos);
                let in_object = objects[inner / 64] & (1 << (inner % 64)) != 0;
                match bytes.get(pos) {
                    Some(b',') => {
                        pos += 1;
                        if in_object {
                            pos = self.skip_key(skip_ws(bytes, pos))?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {
                        pos += 1;
                        level = inner;
                    }
                    Some(b']') if !in_object => {
                        pos += 1;
                        level = inner;
                    }
                    _ if in_object => {
                        return Err(self.fail(pos, "expected ',' or '}' in an object"))
                    }
                    _ => return Err(self.fail(pos, "expected ',' or ']' in an array")),
                }
            }
        }
    }

    /// Skips `"name" :` at `pos` (whitespace before it already skipped).
    #[inline(always)]
    fn skip_key(&mut self, pos: usize) -> Step<usize> {
        if self.bytes.get(pos) != Some(&b'"') {
            return Err(self.fail(pos, "expected a field name in quotes"));
        }
        let pos = skip_ws(self.bytes, self.skip_string(pos)?.0);
        if self.bytes.get(pos) != Some(&b':') {
            return Err(self.fail(pos, "expected ':' after the field name"));
        }
        Ok(pos + 1)
    }

    #[inline(always)]
    fn skip_literal(&mut self, pos: usize, word: &[u8]) -> Step<usize> {
        if self.bytes.get(pos..pos + word.len()) == Some(word) {
            Ok(pos + word.len())
        } else {
            Err(self.fail(pos, "expected a JSON value"))
        }
    }

    fn literal(
        &mut self,
        pos: usize,
        word: &[u8],
        node: u32,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        scalar: Scalar<'static>,
    ) -> Step<usize> {
        let end = self.skip_literal(pos, word)?;
        if let Some(f) = trie.field(node) {
            visitor.leaf(f, scalar, self.arrays);
        }
        Ok(end)
    }

    /// Reads the number at `pos` of field `f` and hands it to the visitor. Inlined in
    /// optimized builds (it is on the hot path of every named coordinate); out of line in
    /// debug builds, whose unoptimized locals would otherwise enlarge every frame of the
    /// recursive [`TextWalker::value`] enough to overflow a test thread's stack at the
    /// nesting limit.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn named_number(&mut self, pos: usize, f: u32, visitor: &mut impl Visitor) -> Step<usize> {
        let Some((end, estimate)) = scan_number(self.bytes, pos) else {
            // Only to find the error and its place.
            return self.number(pos);
        };
        let text = self.text.get(pos..end).unwrap_or_default();
        visitor.number(f, text, estimate, self.arrays);
        Ok(end)
    }

    /// Validates the grammar of the number at `start`; returns where it ends.
    #[inline(always)]
    fn number(&mut self, start: usize) -> Step<usize> {
        let bytes = self.bytes;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let mut ok = if bytes.get(i) == Some(&b'0') {
            i += 1;
            true
        } else {
            let first = i;
            i = skip_digits(bytes, i);
            i > first
        };
        if ok && bytes.get(i) == Some(&b'.') {
            let first = i + 1;
            i = skip_digits(bytes, first);
            ok = i > first;
        }
        if ok && matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let first = i;
            i = skip_digits(bytes, i);
            ok = i > first;
        }
        if ok {
            Ok(i)
        } else {
            Err(self.fail(i, "malformed number"))
        }
    }

    /// Skips the string whose opening quote is at `pos`, checking escapes and control
    /// characters. Returns where it ends and whether it had escapes (so the caller knows
    /// whether the raw bytes are the value).
    #[inline(always)]
    fn skip_string(&mut self, pos: usize) -> Step<(usize, bool)> {
        let bytes = self.bytes;
        let mut pos = pos + 1;
        let mut escaped = false;
        loop {
            let Some(stop) = find_string_stop(bytes, pos) else {
                return Err(self.fail(bytes.len(), "unterminated string"));
            };
            match bytes[stop] {
                b'"' => return Ok((stop + 1, escaped)),
                b'\\' => {
                    escaped = true;
                    pos = stop + 1;
                    match bytes.get(pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 1,
                        Some(b'u') => {
                            let hex = bytes.get(pos + 1..pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.fail(pos, "malformed \\u escape"));
                            }
                            pos += 5;
                        }
                        _ => return Err(self.fail(pos, "invalid escape in string")),
                    }
                }
                _ => return Err(self.fail(stop, "control character in string")),
            }
        }
    }

    /// Reads the value of the string at `pos`, borrowed unless it has escapes, and
    /// where it ends.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn string(&mut self, pos: usize) -> Step<(Cow<'a, str>, usize)> {
        let (end, escaped) = self.skip_string(pos)?;
        if !escaped {
            let text = self.text.get(pos + 1..end - 1).unwrap_or_default();
            return Ok((Cow::Borrowed(text), end));
        }
        Ok((Cow::Owned(self.unescape(pos, end)?), end))
    }

    /// The value of the escaped string at `pos..end`: rare in events, so kept out of
    /// line.
    #[cold]
    #[inline(never)]
    fn unescape(&mut self, pos: usize, end: usize) -> Step<String> {
        serde_json::from_slice::<String>(&self.bytes[pos..end])
            .map_err(|e| self.fail(end, format!("invalid string: {e}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u32, String, Vec<ArrayPos>)>);

    impl Visitor for Collect {
        fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]) {
            let v = match value {
                Scalar::Str(s) => format!("s:{s}"),
                Scalar::Num(n, _) => format!("n:{n}"),
                Scalar::True => "true".into(),
                Scalar::False => "false".into(),
                Scalar::Null => "null".into(),
            };
            self.0.push((field, v, arrays.to_vec()));
        }
    }

    fn trie(paths: &[&str]) -> PathTrie {
        let mut t = PathTrie::new();
        for (i, p) in paths.iter().enumerate() {
            t.insert(p, i as u32);
        }
        t
    }

    #[test]
    fn text_and_value_walks_agree() {
        let t = trie(&["a.b", "c", "d.e.f"]);
        let text = r#"{"a":{"b":["x",{"z":1},2.50]},"skip":{"deep":[1,{"a":"b"}]},"c":null,"d.e":{"f":"dot\u0041"}}"#;
        let mut from_text = Collect::default();
        walk_text(text, &t, &mut from_text, &mut WalkScratch::default()).unwrap();
        assert_eq!(
            from_text.0,
            vec![
                (0, "s:x".into(), vec![(0, 0)]),
                (0, "n:2.50".into(), vec![(0, 2)]),
                (1, "null".into(), vec![]),
                (2, "s:dotA".into(), vec![]),
            ]
        );
        let mut from_value = Collect::default();
        walk_value(&serde_json::from_str(text).unwrap(), &t, &mut from_value);
        assert_eq!(from_value.0.len(), 4);
        assert_eq!(from_value.0[2], from_text.0[2]);
    }

    #[test]
    fn malformed_events_are_errors_with_positions() {
        let t = trie(&["a"]);
        for bad in [
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"b":[1,2}"#,
            r#"{"b":"x"#,
            "[1]",
            r#"{"a":01}"#,
            r#"{"b":tru}"#,
            r#"{"a":1} x"#,
            "{\"b\":\"\u{1}\"}",
            // A control character in a key with room for the 16-byte key checks.
            "{\"b\u{1}\": 1, \"padding\": \"to fill the word\"}",
            r#"{"b":{"c" 1}}"#,
            r#"{"b":{"c":1,}}"#,
            r#"{"b":[1 2]}"#,
            r#"{"b":{1:2}}"#,
            r#"{"b":[{"c":[}]}"#,
            r#"{"b":[-]}"#,
            r#"{"b":"\x"}"#,
            r#"{"b":[1.]}"#,
            r#"{"b":[1]]}"#,
        ] {
            assert!(
                walk_text(
                    bad,
                    &t,
                    &mut Collect::default(),
                    &mut WalkScratch::default()
                )
                .is_err(),
                "{bad}"
            );
        }
        let e = walk_text(
            "{\n  \"a\": ?}",
            &t,
            &mut Collect::default(),
            &mut WalkScratch::default(),
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    /// Paths the walk tests name: leaves at `a`, `a.b`, `c.d` and `x`, so that events
    /// mix walked and skipped subtrees.
    fn test_trie() -> PathTrie {
        trie(&["a", "a.b", "c.d", "x"])
    }

    /// Whatever the text, the walk succeeds exactly when serde_json reads it as an
    /// object, and then reports the leaves the value walk reports.
    fn agrees_with_serde(text: &str) {
        let t = test_trie();
        let mut from_text = Collect::default();
        let walked = walk_text(text, &t, &mut from_text, &mut WalkScratch::default());
        let parsed = serde_json::from_str::<Value>(text);
        match (&walked, &parsed) {
            (Ok(()), Ok(value)) if value.is_object() => {
                let mut from_value = Collect::default();
                walk_value(value, &t, &mut from_value);
                // serde_json keeps the last of duplicate keys; compare only when unique.
                if text.matches("\"a\"").count() < 2 && text.matches("\"x\"").count() < 2 {
                    // Numbers by their key: serde_json writes `-0` back as `-0.0`.
                    let by_key = |v: &str| match v.strip_prefix("n:") {
                        Some(n) => format!("n:{:?}", crate::number::tentative(n)),
                        None => v.to_string(),
                    };
                    let strip = |c: &Collect| -> Vec<(u32, String)> {
                        let mut v: Vec<_> = c.0.iter().map(|(f, v, _)| (*f, by_key(v))).collect();
                        v.sort();
                        v
                    };
                    assert_eq!(strip(&from_text), strip(&from_value), "{text:?}");
                }
            }
            (Err(_), Err(_)) => {}
            // serde_json rejects numbers beyond f64's range; events may carry them.
            (Ok(()), Err(e)) if e.to_string().contains("out of range") => {}
            (Err(_), Ok(value)) if !value.is_object() => {}
            _ => panic!("{text:?}: walk {walked:?}, serde_json {parsed:?}"),
        }
    }

    pub(crate) const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"a\"",
        "\"b\"",
        "\"c\"",
        "\"x\"",
        "\"a.b\"",
        "\"c.d\"",
        "1",
        "-0",
        "0.5",
        "1e5",
        "-1.5E-3",
        "01",
        "1.",
        "-",
        "1e",
        "1e+",
        "12345678901",
        "true",
        "tru",
        "false",
        "null",
        "nul",
        "\"s\\\"q\"",
        "\"\\u00e9\"",
        "\"\\u00g\"",
        "\"\\x\"",
        "\"\u{1}\"",
        "\"open",
        "\"a string longer than one 8-byte word\"",
        "\"ünï\"",
        "\"a\":",
        "\"x\": [",
        "{\"a\": ",
    ];

    /// Members of objects that trusted mode reads by their strings' quotes: the names
    /// the trie below has (`x`, `ü`) written every way, names that only start like them,
    /// values that are the names, escapes, nested containers, spacing.
    const FLAT_MEMBERS: &[&str] = &[
        r#""x": 1"#,
        r#""x":"x""#,
        r#""x" : 2"#,
        r#""\u0078": 3"#,
        r#""ü": "ü""#,
        r#""xx": "x""#,
        r#""y": "x" "#,
        r#""y": "x\": 1""#,
        r#""y": [1, "x"]"#,
        r#""y": {"x": 4}"#,
        r#""x": {"x": 5}"#,
        r#""x": ["x"]"#,
        r#""y": "padding to move the rest of the object along its blocks""#,
        r#""y": "x.y""#,
        r#""x.y": 6"#,
        r#""y": true"#,
        r#""x": null"#,
        r#""": """#,
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// An object of a node whose children are quick leaves reports, in trusted mode,
        /// the leaves the validating walk reports, in the same order.
        #[test]
        fn flat_objects_read_by_quotes_agree_with_the_walk(
            members in proptest::collection::vec(proptest::sample::select(FLAT_MEMBERS), 0..12),
            lead in 0usize..70,
            spaced in proptest::bool::ANY,
        ) {
            let t = trie(&["o.x", "o.ü", "z"]);
            let separator = if spaced { " ,\n " } else { "," };
            let text = format!(
                "{{\"pad\": \"{}\", \"o\": {{{}}}, \"z\": 0}}",
                "p".repeat(lead),
                members.join(separator)
            );
            let mut walked = Collect::default();
            walk_text(&text, &t, &mut walked, &mut WalkScratch::default()).unwrap();
            let mut trusted = Collect::default();
            walk_trusted_text(&text, &t, &mut trusted, &mut WalkScratch::default()).unwrap();
            proptest::prop_assert_eq!(trusted.0, walked.0, "{}", text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        #[test]
        fn walk_validates_like_serde_json(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..30)
        ) {
            agrees_with_serde(&format!("{{{}", parts.concat()));
            agrees_with_serde(&parts.concat());
        }

        #[test]
        fn walk_validates_edits_like_serde_json(
            insert in "[ -~]{0,3}", at in 0usize..220, delete in 0usize..3
        ) {
            let base = r#"{"a": {"b": ["x", {"z": 1}, 2.50, true]}, "skip": {"deep": [1, {"a": "b"}, null, false, -0.5e3, "a\"b"]}, "c": null, "c.d": "dot\u0041", "x": [[1,[2]],{"q":[]},{}]}"#;
            let at = at.min(base.len());
            let rest = (at + delete).min(base.len());
            let text = format!("{}{insert}{}", &base[..at], &base[rest..]);
            agrees_with_serde(&text);
        }
    }

    #[test]
    fn string_and_digit_scans_stop_at_the_first_stop_byte() {
        // Every position of the stop byte in and across 8-byte words, after ASCII and
        // non-ASCII content.
        for filler in ["a", "é", "~"] {
            for len in 0..20 {
                let body = filler.repeat(len);
                for stop in ["\"", "\\", "\u{1f}", "\n"] {
                    let text = format!("{body}{stop}tail\"");
                    assert_eq!(
                        find_string_stop(text.as_bytes(), 0),
                        Some(body.len()),
                        "{text:?}"
                    );
                }
                assert_eq!(find_string_stop(body.as_bytes(), 0), None);
            }
        }
        for len in 0..20 {
            let digits = "7".repeat(len);
            for stop in ["", ".", "e", "/", ":", " ", "\u{e9}"] {
                let text = format!("{digits}{stop}123");
                let expected = if stop.is_empty() { len + 3 } else { len };
                assert_eq!(skip_digits(text.as_bytes(), 0), expected, "{text:?}");
            }
        }
    }

    /// Keys are found whatever way they are written: raw (the quick paths, for names up
    /// to 13 bytes and up to 29), escaped, dotted, with any spacing around the colon, and
    /// near the end of the text, where the 16-byte loads are padded.
    #[test]
    fn keys_are_found_however_they_are_written() {
        // Every name quick (short, or long), one too long to be, and a node too wide
        // for quick keys.
        keys_found_however_written(&["x", "ü", "thirteen_char", "p.q", "r"]);
        keys_found_however_written(&["x", "ü", "thirteen_char", "fourteen_chars", "p.q", "r"]);
        keys_found_however_written(&["x", "firstCoordinates_of_29_bytesx", "fourteen_chars", "r"]);
        keys_found_however_written(&[
            "x",
            "firstCoordinates_of_29_bytesx",
            "firstCoordinates_of_29_bytesxq",
            "r",
        ]);
        keys_found_however_written(&["x", "ü", "a", "b", "c", "d", "e", "f", "p.q", "r"]);
        // Leaves only, all quick: the node trusted mode reads by its strings' quotes.
        keys_found_however_written(&["x", "ü", "thirteen_char", "r"]);
    }

    /// Trusted mode learns per node whether its objects cost less read by quotes or key
    /// by key, from the last one it read by quotes, and looks again every
    /// [`PROBE_EVERY`]th event; the leaves are the same either way.
    #[test]
    fn trusted_mode_learns_how_to_read_each_flat_node() {
        let t = trie(&["o.x", "o.y", "p.x"]);
        let o = t.step(0, "o").unwrap() as usize;
        let p = t.step(0, "p").unwrap() as usize;
        let mut scratch = WalkScratch::default();
        let walk = |text: &str, scratch: &mut WalkScratch| {
            let mut trusted = Collect::default();
            walk_trusted_text(text, &t, &mut trusted, scratch).unwrap();
            let mut walked = Collect::default();
            walk_text(text, &t, &mut walked, &mut WalkScratch::default()).unwrap();
            assert_eq!(trusted.0, walked.0, "{text}");
        };
        let dense = r#"{"o": {"x": 1, "y": 2}, "p": {"x": [1]}}"#;
        let members = r#""a": "b", "c": "d", "e": "f", "g": "h", "x": 1"#;
        let sparse = format!(r#"{{"o": {{{members}}}, "p": {{{members}}}}}"#);
        let small = r#"{"o": {"a": "b", "c": "d", "x": 1}, "p": {"x": 1}}"#;
        walk(dense, &mut scratch);
        // `o`: every string names a child; `p`: not flat.
        assert_eq!((scratch.by_keys[o], scratch.by_keys[p]), (true, true));
        while scratch.events % PROBE_EVERY != PROBE_EVERY - 1 {
            walk(&sparse, &mut scratch);
            assert_eq!((scratch.by_keys[o], scratch.by_keys[p]), (true, true));
        }
        walk(&sparse, &mut scratch);
        assert_eq!((scratch.by_keys[o], scratch.by_keys[p]), (false, false));
        walk(&sparse, &mut scratch);
        walk(small, &mut scratch);
        assert_eq!((scratch.by_keys[o], scratch.by_keys[p]), (true, true));
    }

    /// Which nodes trusted mode reads by their strings' quotes: those whose children are
    /// all quick leaves, as the trie changes.
    #[test]
    fn flat_nodes_are_those_with_quick_leaves_only() {
        let mut t = trie(&["o.x", "o.y"]);
        let o = t.step(0, "o").unwrap();
        assert!(t.flat(o) && !t.flat(0));
        assert_eq!(t.nodes[o as usize].first_bytes, b"xy");
        t.insert("o.xz", 2);
        assert_eq!(t.nodes[o as usize].first_bytes, b"xy");
        t.insert("o.y.deeper", 3);
        assert!(!t.flat(o));
        let long = trie(&["o.x", "o.fourteen_chars"]);
        assert!(!long.flat(long.step(0, "o").unwrap()));
    }

    fn keys_found_however_written(names: &[&str]) {
        let t = trie(names);
        // Wide nodes keep no quick keys (scanning them would cost more than hashing).
        assert_eq!(t.nodes[0].quick.is_empty(), names.len() > FEW_CHILDREN);
        let long = names
            .iter()
            .filter(|n| (14..=29).contains(&n.len()))
            .count();
        assert_eq!(t.nodes[0].long_quick.len(), long);
        // (the key as written, the field it names, if any)
        let mut keys: Vec<(String, Option<u32>)> = Vec::new();
        for (field, name) in names.iter().enumerate() {
            let field = Some(field as u32);
            keys.push((format!("\"{name}\""), field));
            let escaped = format!(
                "\\u{:04x}{}",
                name.chars().next().map_or(0, u32::from),
                &name[name.chars().next().map_or(0, char::len_utf8)..]
            );
            keys.push((format!("\"{escaped}\""), field));
            keys.push((format!("\"{name}z\""), None));
            keys.push((format!("\"z{name}\""), None));
        }
        keys.push(("\"p\"".into(), None));
        for (key, field) in &keys {
            for separator in [":", ": ", " :", " : "] {
                for padding in ["", "                    "] {
                    let text = format!("{{\"w\":1,{key}{separator}7{padding}}}");
                    let mut seen = Collect::default();
                    walk_text(&text, &t, &mut seen, &mut WalkScratch::default()).unwrap();
                    let expected: Vec<_> = field
                        .iter()
                        .map(|&f| (f, "n:7".to_string(), vec![]))
                        .collect();
                    assert_eq!(seen.0, expected, "{text}");
                    let mut from_value = Collect::default();
                    walk_value(&serde_json::from_str(&text).unwrap(), &t, &mut from_value);
                    assert_eq!(from_value.0, expected, "{text}");
                    let mut trusted = Collect::default();
                    walk_trusted_text(&text, &t, &mut trusted, &mut WalkScratch::default())
                        .unwrap();
                    assert_eq!(trusted.0, expected, "trusted: {text}");
                }
            }
        }
    }

    /// An unnamed scalar just past the limit, below a walked subtree: the scalar fast
    /// path must not accept it.
    #[test]
    fn nesting_limit_holds_for_unnamed_scalars_in_walked_objects() {
        for (arrays, ok) in [(254, true), (255, false)] {
            for scalar in ["1", "\"s\""] {
                let text = format!(
                    "{{\"x\": {}{{\"q\": {scalar}}}{}}}",
                    "[".repeat(arrays),
                    "]".repeat(arrays)
                );
                let walked = walk_text(
                    &text,
                    &trie(&["x"]),
                    &mut Collect::default(),
                    &mut WalkScratch::default(),
                );
                assert_eq!(walked.is_ok(), ok, "{arrays} arrays, {scalar}");
                if let Err(e) = walked {
                    assert_eq!(e.message, "the event nests too deeply");
                }
            }
        }
    }

    #[test]
    fn nesting_limit_holds_in_walked_and_skipped_subtrees() {
        for key in ["x", "skip"] {
            for inner in ["1", "[]", "{}", "\"a\""] {
                let nested = |depth: usize| {
                    format!(
                        "{{\"{key}\": {}{inner}{}}}",
                        "[".repeat(depth),
                        "]".repeat(depth)
                    )
                };
                // The top-level object is depth 0, so the arrays end at depth `depth`.
                assert!(walk_text(
                    &nested(255),
                    &test_trie(),
                    &mut Collect::default(),
                    &mut WalkScratch::default()
                )
                .is_ok());
                let e = walk_text(
                    &nested(256),
                    &test_trie(),
                    &mut Collect::default(),
                    &mut WalkScratch::default(),
                )
                .unwrap_err();
                assert_eq!(e.message, "the event nests too deeply");
                assert_eq!(e.column, key.len() + 6 + 256);
            }
        }
    }
}
