//! Walks an event and reports the leaf values of the fields some pattern names.
//!
//! Events are read straight from their JSON text: fields no pattern mentions are skipped
//! without allocating (but still validated), which is what keeps matching cheaper than
//! building a `serde_json::Value` for the whole event.

use std::borrow::Cow;

use rustc_hash::FxHashMap;
use serde_json::Value;

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
    children: FxHashMap<Box<str>, u32>,
    field: Option<u32>,
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
        for segment in path.split('.') {
            node = match self.nodes[node].children.get(segment) {
                Some(&child) => child as usize,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node]
                        .children
                        .insert(segment.into(), child as u32);
                    child
                }
            };
        }
        *self.nodes[node].field.get_or_insert(next_id)
    }

    fn step(&self, node: u32, key: &str) -> Option<u32> {
        // Trie segments never contain dots, so a direct hit is the answer, and only a miss
        // on a dotted key needs splitting.
        if let Some(&child) = self.nodes[node as usize].children.get(key) {
            return Some(child);
        }
        if !key.as_bytes().contains(&b'.') {
            return None;
        }
        let mut node = node;
        for segment in key.split('.') {
            node = *self.nodes[node as usize].children.get(segment)?;
        }
        Some(node)
    }

    fn field(&self, node: u32) -> Option<u32> {
        self.nodes[node as usize].field
    }
}

/// A leaf value of an event.
#[derive(Debug, Clone)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// The number's JSON text.
    Num(Cow<'a, str>),
    True,
    False,
    Null,
}

/// Position inside an array: (array instance id, element index).
pub(crate) type ArrayPos = (u32, u32);

pub(crate) trait Visitor {
    /// `arrays`: the array elements this value sits in, outermost first.
    fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]);
}

const MAX_DEPTH: usize = 256;

/// Bytes that end a run of plain string content: quote, backslash, control characters.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Walks JSON text. The top level must be an object, as EventBridge events are.
pub(crate) fn walk_text(
    text: &str,
    trie: &PathTrie,
    visitor: &mut impl Visitor,
) -> Result<(), EventError> {
    let mut walker = TextWalker {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        arrays: Vec::new(),
        next_array: 0,
    };
    walker.ws();
    if walker.peek() != Some(b'{') {
        return Err(walker.error("an event must be a JSON object"));
    }
    walker.value(Some(0), trie, visitor, 0)?;
    walker.ws();
    if walker.pos != walker.bytes.len() {
        return Err(walker.error("trailing characters after the event"));
    }
    Ok(())
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
                        Value::Number(n) => Scalar::Num(Cow::Owned(n.to_string())),
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

struct TextWalker<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    arrays: Vec<ArrayPos>,
    next_array: u32,
}

impl<'a> TextWalker<'a> {
    fn error(&self, message: &str) -> EventError {
        let upto = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        let column = upto.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        EventError {
            message: message.to_string(),
            line,
            column,
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), EventError> {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// `node`: the trie node for this value, `None` when no pattern looks inside it.
    fn value(
        &mut self,
        node: Option<u32>,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        depth: usize,
    ) -> Result<(), EventError> {
        if depth > MAX_DEPTH {
            return Err(self.error("the event nests too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a field name in quotes"));
                    }
                    let child = match node {
                        Some(n) => {
                            let key = self.string()?;
                            trie.step(n, &key)
                        }
                        None => {
                            self.skip_string()?;
                            None
                        }
                    };
                    self.expect(b':', "expected ':' after the field name")?;
                    self.value(child, trie, visitor, depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or '}' in an object")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                let id = self.next_array;
                self.next_array += 1;
                let mut index = 0u32;
                loop {
                    if node.is_some() {
                        self.arrays.push((id, index));
                    }
                    let result = self.value(node, trie, visitor, depth + 1);
                    if node.is_some() {
                        self.arrays.pop();
                    }
                    result?;
                    index += 1;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b'"') => {
                let field = node.and_then(|n| trie.field(n));
                match field {
                    Some(f) => {
                        let s = self.string()?;
                        visitor.leaf(f, Scalar::Str(s), &self.arrays);
                    }
                    None => {
                        self.skip_string()?;
                    }
                }
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.number()?;
                if let Some(f) = node.and_then(|n| trie.field(n)) {
                    let text = self.text(start);
                    visitor.leaf(f, Scalar::Num(Cow::Borrowed(text)), &self.arrays);
                }
                Ok(())
            }
            Some(b't') => self.literal(b"true", node, trie, visitor, Scalar::True),
            Some(b'f') => self.literal(b"false", node, trie, visitor, Scalar::False),
            Some(b'n') => self.literal(b"null", node, trie, visitor, Scalar::Null),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// Token boundaries are ASCII, hence char boundaries of the input: slicing is O(1).
    fn text(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    fn literal(
        &mut self,
        word: &[u8],
        node: Option<u32>,
        trie: &PathTrie,
        visitor: &mut impl Visitor,
        scalar: Scalar<'static>,
    ) -> Result<(), EventError> {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(self.error("expected a JSON value"));
        }
        self.pos += word.len();
        if let Some(f) = node.and_then(|n| trie.field(n)) {
            visitor.leaf(f, scalar, &self.arrays);
        }
        Ok(())
    }

    /// Validates a number's grammar and moves past it.
    #[inline]
    fn number(&mut self) -> Result<(), EventError> {
        let bytes = self.bytes;
        let mut i = self.pos;
        let digits = |i: &mut usize| {
            let start = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > start
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let ok = if bytes.get(i) == Some(&b'0') {
            i += 1;
            true
        } else {
            digits(&mut i)
        };
        let ok =
            ok && (bytes.get(i) != Some(&b'.') || {
                i += 1;
                digits(&mut i)
            }) && (!matches!(bytes.get(i), Some(b'e' | b'E')) || {
                i += 1;
                if matches!(bytes.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                digits(&mut i)
            });
        self.pos = i;
        if ok {
            Ok(())
        } else {
            Err(self.error("malformed number"))
        }
    }

    /// Skips a string, checking escapes and control characters. Returns whether it had
    /// escapes (so the caller knows whether the raw bytes are the value).
    #[inline]
    fn skip_string(&mut self) -> Result<bool, EventError> {
        self.pos += 1; // opening quote
        let mut escaped = false;
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(offset) = rest.iter().position(|&b| STRING_STOP[b as usize]) else {
                self.pos = self.bytes.len();
                return Err(self.error("unterminated string"));
            };
            self.pos += offset;
            match self.bytes[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("malformed \\u escape"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.error("invalid escape in string")),
                    }
                }
                _ => return Err(self.error("control character in string")),
            }
        }
    }

    /// Reads a string's value; borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, EventError> {
        let start = self.pos + 1;
        let escaped = self.skip_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(
                self.text.get(start..self.pos - 1).unwrap_or_default(),
            ));
        }
        let quoted = &self.bytes[start - 1..self.pos];
        serde_json::from_slice::<String>(quoted)
            .map(Cow::Owned)
            .map_err(|e| self.error(&format!("invalid string: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u32, String, Vec<ArrayPos>)>);

    impl Visitor for Collect {
        fn leaf(&mut self, field: u32, value: Scalar<'_>, arrays: &[ArrayPos]) {
            let v = match value {
                Scalar::Str(s) => format!("s:{s}"),
                Scalar::Num(n) => format!("n:{n}"),
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
        walk_text(text, &t, &mut from_text).unwrap();
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
                walk_text(bad, &t, &mut Collect::default()).is_err(),
                "{bad}"
            );
        }
        let e = walk_text("{\n  \"a\": ?}", &t, &mut Collect::default()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }
}
