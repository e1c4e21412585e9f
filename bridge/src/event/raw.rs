//! [`RawJson`]: JSON kept as the text it arrived in, parsed only when someone asks.
//!
//! [`super::Event::original`] (and [`super::CustomEvent::detail`]) are most often never
//! read: a handler looks at the normalized fields. Building a `serde_json::Value` tree for
//! them per message cost more than reading the message itself, so they keep the text (a
//! slice of the body, shared on clone) and parse it on first use.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON value kept as text and parsed on first use, then cached.
///
/// Reads like the `serde_json::Value` it stands for: it dereferences to one
/// (`event.original["detail"]["bucket"]`, `.get(..)`, `.as_object()`), compares equal to one,
/// and serializes exactly as that `Value` does (compact, keys in their original order), so
/// the JSON the built-in handlers write does not depend on how the body was spaced. Use
/// [`RawJson::as_str`] for the text as received, without parsing.
#[derive(Clone, Default)]
pub struct RawJson {
    /// The text; at least one of `text` and `value` is set.
    text: OnceLock<Arc<str>>,
    value: OnceLock<Value>,
}

impl RawJson {
    /// JSON text that is known to be valid (read by a validating parser): not parsed now.
    pub(crate) fn from_valid_text(text: &str) -> RawJson {
        RawJson {
            text: OnceLock::from(Arc::<str>::from(text)),
            value: OnceLock::new(),
        }
    }

    /// JSON text, validated (within [`super::MAX_JSON_DEPTH`]) and kept with its parse.
    pub fn parse(text: &str) -> Result<RawJson, super::NormalizeError> {
        let value = super::parse_body(text)?;
        Ok(RawJson {
            text: OnceLock::from(Arc::<str>::from(text)),
            value: OnceLock::from(value),
        })
    }

    /// The JSON text: as received when it was read from a body, else the compact rendering
    /// of the value it was made from.
    pub fn as_str(&self) -> &str {
        self.text.get_or_init(|| {
            let value = self.value.get().unwrap_or(&Value::Null);
            Arc::from(value.to_string())
        })
    }

    /// The value, parsed on the first call and cached.
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match self.text.get() {
            // The text was validated when it was read, so this parse succeeds; a deep value
            // gets the stack normalizing it had.
            Some(text) => super::parse_body(text).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// The value, parsed if it was not yet.
    pub fn into_value(mut self) -> Value {
        if let Some(value) = self.value.take() {
            return value;
        }
        self.value().clone()
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> RawJson {
        RawJson {
            text: OnceLock::new(),
            value: OnceLock::from(value),
        }
    }
}

impl From<RawJson> for Value {
    fn from(raw: RawJson) -> Value {
        raw.into_value()
    }
}

impl Deref for RawJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        match (self.text.get(), other.text.get()) {
            (Some(a), Some(b)) if a == b => true,
            _ => self.value() == other.value(),
        }
    }
}

/// Equal text is equal JSON, and otherwise the parsed values decide: an equivalence.
impl Eq for RawJson {}

impl PartialEq<Value> for RawJson {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl PartialEq<RawJson> for Value {
    fn eq(&self, other: &RawJson) -> bool {
        self == other.value()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value(), f)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawJson, D::Error> {
        Value::deserialize(deserializer).map(RawJson::from)
    }
}

#[cfg(test)]
mod tests {
    use super::RawJson;
    use serde_json::json;

    #[test]
    fn text_is_parsed_on_demand_and_serializes_as_its_value() {
        let raw = RawJson::from_valid_text("{ \"b\": 1,\n \"a\": [1.0, \"\\u00e9\"] }");
        assert_eq!(raw.as_str(), "{ \"b\": 1,\n \"a\": [1.0, \"\\u00e9\"] }");
        assert_eq!(raw["a"][1], "é");
        assert_eq!(raw, json!({"b": 1, "a": [1.0, "é"]}));
        assert_eq!(
            serde_json::to_string(&raw).expect("serializes"),
            r#"{"b":1,"a":[1.0,"é"]}"#
        );
        let from_value = RawJson::from(json!({"b": 1, "a": [1.0, "é"]}));
        assert_eq!(raw, from_value);
        assert_eq!(from_value.as_str(), r#"{"b":1,"a":[1.0,"é"]}"#);
        let back: RawJson = serde_json::from_str(raw.as_str()).expect("deserializes");
        assert_eq!(back, raw);
        assert_ne!(RawJson::from(json!([1])), raw);
    }
}
