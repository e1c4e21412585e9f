//! The Amazon EventBridge event-pattern language: parse, validate, compile, match.
//!
//! Semantics follow Amazon EventBridge (its open-source engine is `aws/event-ruler`) and
//! are checked against cases recorded on the real service (`tests/conformance.rs`):
//!
//! - fields AND together; the values listed for a field OR together; event arrays match
//!   if any element matches, and fields from *different* elements of one array never
//!   combine (`exists: false` holds when the field is missing from the elements the
//!   other fields matched in);
//! - `{"a": {"b": …}}` and `{"a.b": …}` name the same field, in patterns and in events;
//! - numbers compare by value (`[300]` matches `300.0` and `3e2`) when a double holds
//!   them exactly, and as text otherwise;
//! - operators: `prefix`, `suffix` (each optionally with `equals-ignore-case`),
//!   `equals-ignore-case`, `wildcard`, `anything-but` (values, lists, `prefix`, `suffix`,
//!   `equals-ignore-case`, `wildcard`), `numeric`, `cidr` (IPv4/IPv6), `exists`, and
//!   `$or` at any level.
//!
//! Besides `tests/conformance.rs`, `tests/event_ruler.rs` runs some 3,000 cases read from
//! event-ruler's own tests. [`Pattern::explain`] says why an event matched or not.
//!
//! ```
//! use patterns::{Matcher, Pattern};
//!
//! let png = Pattern::parse(r#"{"detail": {"key": [{"suffix": ".png"}]}}"#).unwrap();
//! let mut matcher = Matcher::new();
//! matcher.add("images", &png);
//! let names = matcher.matches_str(r#"{"detail": {"key": "cat.png"}}"#).unwrap();
//! assert_eq!(names, ["images"]);
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

mod ast;
mod cidr;
mod eval;
mod explain;
mod flatten;
mod fold;
mod index;
mod machine;
mod memo;
mod number;
mod parse;
mod skip;
mod structure;
mod wildcard;
mod words;

pub use explain::{Explanation, Failure};
pub use machine::Matcher;
pub use parse::{MAX_OR_COMBINATIONS, MAX_WILDCARD_COMPLEXITY};

/// An invalid pattern: AWS's wording in `message`, and where in the pattern it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PatternError {
    /// AWS's message, e.g. "Empty arrays are not allowed".
    pub message: String,
    /// Where in the pattern, e.g. `detail.state[0].numeric`; empty at the top level.
    pub path: String,
    /// 1-based line and column, for JSON syntax errors.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl PatternError {
    fn render(&self) -> String {
        match (self.line, self.column, self.path.is_empty()) {
            (Some(l), Some(c), _) => format!("line {l}, column {c}: {}", self.message),
            (_, _, false) => format!("at {}: {}", self.path, self.message),
            _ => self.message.clone(),
        }
    }
}

/// An event that is not valid JSON, or not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct EventError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// serde_json's message without its trailing " at line L column C" (reported apart).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// One validated event pattern.
#[derive(Clone)]
pub struct Pattern {
    source: Arc<Value>,
    alternatives: Arc<Vec<ast::Alternative>>,
    single: Arc<OnceLock<Matcher>>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    /// Parses and validates pattern JSON text.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PatternError {
            message: format!("invalid JSON: {}", json_message(&e)),
            path: String::new(),
            line: Some(e.line()),
            column: Some(e.column()),
        })?;
        let alternatives = parse::compile_text(&value, text)?;
        Ok(Pattern {
            source: Arc::new(value),
            alternatives: Arc::new(alternatives),
            single: Arc::new(OnceLock::new()),
        })
    }

    /// Validates an already-parsed pattern. Its numbers are what serde_json kept of them
    /// (a double): [`Pattern::parse`] reads them as written.
    pub fn from_value(value: &Value) -> Result<Pattern, PatternError> {
        let alternatives = parse::compile(value)?;
        Ok(Pattern {
            source: Arc::new(value.clone()),
            alternatives: Arc::new(alternatives),
            single: Arc::new(OnceLock::new()),
        })
    }

    /// The pattern as written.
    pub fn as_value(&self) -> &Value {
        &self.source
    }

    /// How many alternatives `$or` expands this pattern to.
    pub fn alternative_count(&self) -> usize {
        self.alternatives.len()
    }

    pub(crate) fn alternatives(&self) -> &[ast::Alternative] {
        &self.alternatives
    }

    fn matcher(&self) -> &Matcher {
        self.single.get_or_init(|| {
            let mut m = Matcher::new();
            m.add("", self);
            m
        })
    }

    /// Whether the event (JSON text) matches.
    pub fn matches_str(&self, event: &str) -> Result<bool, EventError> {
        Ok(!self.matcher().matches_str(event)?.is_empty())
    }

    /// Whether an already-parsed event matches.
    pub fn matches_value(&self, event: &Value) -> bool {
        !self.matcher().matches_value(event).is_empty()
    }

    /// Why the event (JSON text) matches or not: the `$or` alternative that matched, or
    /// for each alternative the first field whose test failed. Agrees with
    /// [`Pattern::matches_str`]; slower, for people rather than for traffic.
    ///
    /// ```
    /// use patterns::Pattern;
    ///
    /// let p = Pattern::parse(r#"{"detail": {"state": ["running"]}}"#).unwrap();
    /// let why = p.explain(r#"{"detail": {"state": "stopped"}}"#).unwrap();
    /// assert!(!why.matched());
    /// assert_eq!(
    ///     why.to_string(),
    ///     r#"no match: at detail.state: No value matches ["running"]; the event has "stopped""#
    /// );
    /// ```
    pub fn explain(&self, event: &str) -> Result<Explanation, EventError> {
        explain::explain(self, event)
    }
}
