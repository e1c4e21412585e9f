//! PutEvents entries and per-entry results, as the API takes and returns them: the same
//! values go to AWS ([`crate::aws::events`]) and to the local bus ([`crate::local::routing`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// EventBridge's limit on one entry (and on one PutEvents call).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// EventBridge's limit on entries per PutEvents call.
pub const MAX_ENTRIES: usize = 10;

/// One PutEvents entry, as the API takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsEntry {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    /// The detail: a JSON object, as text.
    pub detail: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// RFC 3339; defaults to the time of the call.
    pub time: Option<String>,
    /// Bus name or ARN; defaults to `default`.
    pub event_bus_name: Option<String>,
}

impl PutEventsEntry {
    /// One JSON line as an entry: either the entry shape (`Source`, `DetailType`…) or a
    /// whole event (`source`, `detail-type`…), as `put-event --file` and `dev` read them.
    pub fn from_json_line(line: &str, default_bus: &str) -> Result<PutEventsEntry, String> {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("not valid JSON; each line must be one JSON object: {e}"))?;
        let Value::Object(m) = &v else {
            return Err("expected a JSON object (a PutEvents entry or an event)".to_string());
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let detail = |k: &str| {
            m.get(k).map(|d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let resources = |k: &str| -> Vec<String> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let entry =
            if m.contains_key("Source") || m.contains_key("DetailType") || m.contains_key("Detail")
            {
                PutEventsEntry {
                    source: text("Source"),
                    detail_type: text("DetailType"),
                    detail: detail("Detail"),
                    resources: resources("Resources"),
                    time: text("Time"),
                    event_bus_name: text("EventBusName").or_else(|| Some(default_bus.to_string())),
                }
            } else if m.contains_key("source") || m.contains_key("detail-type") {
                PutEventsEntry {
                    source: text("source"),
                    detail_type: text("detail-type"),
                    detail: detail("detail"),
                    resources: resources("resources"),
                    time: text("time"),
                    event_bus_name: Some(default_bus.to_string()),
                }
            } else {
                return Err(
                    "has neither Source/DetailType/Detail (a PutEvents entry) nor \
                        source/detail-type/detail (an event)"
                        .to_string(),
                );
            };
        Ok(entry)
    }

    pub fn new(
        source: impl Into<String>,
        detail_type: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        PutEventsEntry {
            source: Some(source.into()),
            detail_type: Some(detail_type.into()),
            detail: Some(detail.into()),
            ..PutEventsEntry::default()
        }
    }
}

/// One entry's result: an event id, or AWS's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}
