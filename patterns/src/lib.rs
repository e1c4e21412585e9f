//! The Amazon EventBridge event-pattern language: parse, validate, compile, match.
//!
//! API (stable; implementation in progress):
//! - [`Pattern::parse`] / [`Pattern::from_value`]: validate one pattern with AWS's rules and
//!   error wording; errors carry the JSON path inside the pattern (and line/column for syntax).
//! - [`Pattern::matches_str`] / [`Pattern::matches_value`]: match one event.
//! - [`Matcher`]: many named patterns compiled into one automaton; `add`, `remove`, `matches_*`.

use serde_json::Value;

/// An invalid pattern: AWS's wording in `message`, and where in the pattern it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PatternError {
    /// AWS's message, e.g. "Empty arrays are not allowed".
    pub message: String,
    /// Path inside the pattern, e.g. `detail.state[0]`; empty at the top level.
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

/// An event that is not valid JSON (or not a JSON object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct EventError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// One validated event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: Value,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let v: Value = serde_json::from_str(text).map_err(|e| PatternError {
            message: e.to_string(),
            path: String::new(),
            line: Some(e.line()),
            column: Some(e.column()),
        })?;
        Pattern::from_value(&v)
    }
    pub fn from_value(v: &Value) -> Result<Pattern, PatternError> {
        Ok(Pattern { source: v.clone() })
    }
    pub fn as_value(&self) -> &Value {
        &self.source
    }
    pub fn matches_str(&self, _event: &str) -> Result<bool, EventError> {
        unimplemented!("pattern engine in progress")
    }
    pub fn matches_value(&self, _event: &Value) -> bool {
        unimplemented!("pattern engine in progress")
    }
}

/// Many named patterns compiled together; cost per event grows far slower than rule count.
#[derive(Debug, Default, Clone)]
pub struct Matcher {}

impl Matcher {
    pub fn new() -> Self {
        Matcher {}
    }
    pub fn add(&mut self, _name: impl Into<String>, _pattern: &Pattern) {
        unimplemented!("pattern engine in progress")
    }
    pub fn remove(&mut self, _name: &str) -> bool {
        unimplemented!("pattern engine in progress")
    }
    pub fn matches_str(&self, _event: &str) -> Result<Vec<&str>, EventError> {
        unimplemented!("pattern engine in progress")
    }
    pub fn matches_value(&self, _event: &Value) -> Vec<&str> {
        unimplemented!("pattern engine in progress")
    }
}
