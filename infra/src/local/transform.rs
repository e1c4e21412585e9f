//! What a target receives: the event, or `Input`, `InputPath`, or an `InputTransformer` result.
//!
//! InputTransformer follows EventBridge's rules:
//! - each `InputPathsMap` value is a JSONPath into the event; a path with a wildcard yields an
//!   array, otherwise the first match; a path that matches nothing yields `null` (outside quotes)
//!   or an empty string (inside quotes);
//! - in a JSON template (one starting with `{` or `[`), a placeholder outside quotes becomes the
//!   value's JSON (strings with their quotes), and inside quotes a string is inserted as it is
//!   and other values as their JSON text — **not escaped**, as EventBridge does ("EventBridge
//!   doesn't escape values extracted by Input Path, when populating the Input Template for a
//!   target": EventBridge user guide, input transformation, common issues). A value holding
//!   `"`, `\` or a control character therefore makes the result invalid JSON, on AWS and here;
//!   `bridge validate` warns about the placeholders that do so whatever the event;
//! - in a plain-text template (anything else), strings are inserted raw and other values as JSON;
//! - reserved variables: `<aws.events.rule-arn>`, `<aws.events.rule-name>`,
//!   `<aws.events.event.ingestion-time>`, `<aws.events.event>` (the original event without its
//!   `detail`) and `<aws.events.event.json>` (the whole original event).

use std::collections::BTreeMap;

use jsonpath_rust::JsonPath;
use serde_json::Value;

use super::rule::{InputTransformer, TargetSpec};

/// Facts about the routing that reserved variables expose.
pub struct RouteInfo<'a> {
    pub rule_name: &'a str,
    pub rule_arn: &'a str,
    /// RFC 3339 time the event was accepted.
    pub ingestion_time: &'a str,
}

/// The body a target receives for `event` (whose serialized form is `event_json`).
pub fn target_input(
    target: &TargetSpec,
    event: &Value,
    event_json: &str,
    route: &RouteInfo,
) -> Result<String, String> {
    if let Some(input) = &target.input {
        return Ok(input.clone());
    }
    if let Some(path) = &target.input_path {
        let value = extract(event, path)?;
        return Ok(value
            .map(|v| v.to_string())
            .unwrap_or_else(|| "null".into()));
    }
    if let Some(t) = &target.input_transformer {
        return transform(t, event, route);
    }
    Ok(event_json.to_string())
}

/// Evaluates one JSONPath: `None` if it matches nothing.
fn extract(event: &Value, path: &str) -> Result<Option<Value>, String> {
    // EventBridge's dialect allows `$.detail.source-ip-address`; the JSONPath engine wants
    // `$.detail['source-ip-address']` (the same conversion `validate` checks paths with).
    let found = event
        .query(&rules::transformer::to_rfc9535(path))
        .map_err(|e| format!("invalid JSONPath {path:?}: {e}"))?;
    let many = path.contains('*') || path.contains("..") || path.contains("[?");
    Ok(if many {
        Some(Value::Array(found.into_iter().cloned().collect()))
    } else {
        found.first().map(|v| (*v).clone())
    })
}

/// Applies an InputTransformer.
pub fn transform(t: &InputTransformer, event: &Value, route: &RouteInfo) -> Result<String, String> {
    let mut vars: BTreeMap<&str, Option<Value>> = BTreeMap::new();
    for (name, path) in &t.input_paths_map {
        if name.starts_with("aws.") || name.starts_with("AWS.") {
            return Err(format!(
                "InputPathsMap key {name:?} is reserved (keys cannot start with \"aws.\")"
            ));
        }
        vars.insert(name, extract(event, path)?);
    }
    let lookup = |name: &str| -> Option<Option<Value>> {
        match name {
            "aws.events.rule-arn" => Some(Some(Value::String(route.rule_arn.into()))),
            "aws.events.rule-name" => Some(Some(Value::String(route.rule_name.into()))),
            "aws.events.event.ingestion-time" => {
                Some(Some(Value::String(route.ingestion_time.into())))
            }
            // "The original event payload in JSON format (without the detail field)"; the
            // `.json` form is the whole event (EventBridge user guide, input transformation,
            // predefined variables).
            "aws.events.event" => Some(Some(without_detail(event))),
            "aws.events.event.json" => Some(Some(event.clone())),
            _ => vars.get(name).cloned(),
        }
    };
    let template = &t.input_template;
    let json_mode = matches!(template.trim_start().chars().next(), Some('{') | Some('['));
    let mut out = String::with_capacity(template.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'));
                if valid {
                    if let Some(value) = lookup(name) {
                        insert(&mut out, value.as_ref(), json_mode, in_string);
                        rest = &rest[end + 1..];
                        escaped = false;
                        continue;
                    }
                }
            }
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && in_string {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

fn without_detail(event: &Value) -> Value {
    let mut event = event.clone();
    if let Value::Object(map) = &mut event {
        map.remove("detail");
    }
    event
}

fn insert(out: &mut String, value: Option<&Value>, json_mode: bool, in_string: bool) {
    match (value, json_mode, in_string) {
        (None, _, true) | (None, false, _) => {}
        (None, true, false) => out.push_str("null"),
        // Inside quotes (and in text templates) a string goes in as it is: EventBridge does
        // not escape it.
        (Some(Value::String(s)), true, true) | (Some(Value::String(s)), false, _) => {
            out.push_str(s)
        }
        (Some(v), _, _) => out.push_str(&v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_variable_has_no_detail_and_the_json_variable_is_the_whole_event() {
        let event = serde_json::json!({"source": "s", "detail": {"a": 1}});
        let t = InputTransformer {
            input_paths_map: BTreeMap::new(),
            input_template: r#"{"e": <aws.events.event>, "j": <aws.events.event.json>}"#.into(),
        };
        let route = RouteInfo {
            rule_name: "r",
            rule_arn: "arn",
            ingestion_time: "t",
        };
        let out: Value =
            serde_json::from_str(&transform(&t, &event, &route).expect("ok")).expect("json");
        assert_eq!(out["e"], serde_json::json!({"source": "s"}));
        assert_eq!(out["j"], event);
    }

    #[test]
    fn hyphenated_names_in_paths_resolve_as_eventbridge_reads_them() {
        let event = serde_json::json!({"detail": {"source-ip-address": "10.0.0.1"}});
        assert_eq!(
            extract(&event, "$.detail.source-ip-address").expect("valid path"),
            Some(Value::String("10.0.0.1".into()))
        );
    }
    use serde_json::json;

    fn route() -> RouteInfo<'static> {
        RouteInfo {
            rule_name: "r1",
            rule_arn: "arn:aws:events:us-east-1:000000000000:rule/r1",
            ingestion_time: "2026-11-23T00:00:00Z",
        }
    }

    fn t(map: &[(&str, &str)], template: &str) -> InputTransformer {
        InputTransformer {
            input_paths_map: map
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            input_template: template.into(),
        }
    }

    #[test]
    fn json_template_quotes_strings_outside_and_inlines_inside() {
        let event = json!({"detail": {"instance": "i-1", "status": "RUNNING", "n": 3, "tags": {"a": "x\"y"}}});
        let tr = t(
            &[
                ("instance", "$.detail.instance"),
                ("status", "$.detail.status"),
                ("n", "$.detail.n"),
                ("tags", "$.detail.tags"),
            ],
            r#"{"id": <instance>, "text": "<instance> is in state \"<status>\"", "n": <n>, "tags": <tags>, "rule": "<aws.events.rule-name>"}"#,
        );
        let out = transform(&tr, &event, &route()).expect("transform");
        assert_eq!(
            out,
            r#"{"id": "i-1", "text": "i-1 is in state \"RUNNING\"", "n": 3, "tags": {"a":"x\"y"}, "rule": "r1"}"#
        );
        let parsed: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["tags"]["a"], "x\"y");
    }

    /// "EventBridge doesn't escape values extracted by Input Path, when populating the Input
    /// Template for a target" (EventBridge user guide, input transformation, common issues):
    /// inside quotes a value goes in as it is, so a quote in it breaks the JSON, as on AWS.
    #[test]
    fn values_inside_quotes_are_not_escaped_as_eventbridge_does() {
        let event = json!({"detail": {"key": "say \"hi\"\\now", "tags": {"a": "b"}}});
        let tr = t(
            &[("key", "$.detail.key"), ("tags", "$.detail.tags")],
            r#"{"k": "<key>", "t": "<tags>"}"#,
        );
        let out = transform(&tr, &event, &route()).expect("transform");
        assert_eq!(out, r#"{"k": "say "hi"\now", "t": "{"a":"b"}"}"#);
        assert!(serde_json::from_str::<Value>(&out).is_err());
        // Outside quotes the value is JSON, so the same key stays valid.
        let tr = t(&[("key", "$.detail.key")], r#"{"k": <key>}"#);
        let out = transform(&tr, &event, &route()).expect("transform");
        let parsed: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["k"], "say \"hi\"\\now");
    }

    #[test]
    fn text_template_inserts_raw_strings_and_missing_paths_vanish() {
        let event = json!({"detail": {"instance": "i-1"}});
        let tr = t(
            &[("instance", "$.detail.instance"), ("gone", "$.detail.nope")],
            "<instance> is in state <gone>.",
        );
        assert_eq!(
            transform(&tr, &event, &route()).expect("transform"),
            "i-1 is in state ."
        );
        let tr = t(
            &[("gone", "$.detail.nope")],
            r#"{"g": <gone>, "h": "<gone>"}"#,
        );
        assert_eq!(
            transform(&tr, &event, &route()).expect("transform"),
            r#"{"g": null, "h": ""}"#
        );
    }

    #[test]
    fn whole_event_and_unknown_placeholders() {
        let event = json!({"a": 1});
        let tr = t(&[], r#"{"e": <aws.events.event>, "x": "<not-a-var>"}"#);
        assert_eq!(
            transform(&tr, &event, &route()).expect("transform"),
            r#"{"e": {"a":1}, "x": "<not-a-var>"}"#
        );
    }

    #[test]
    fn input_path_and_wildcards() {
        let event = json!({"detail": {"items": [{"k": 1}, {"k": 2}]}});
        let target = TargetSpec {
            input_path: Some("$.detail".into()),
            ..TargetSpec::new("t", "arn")
        };
        assert_eq!(
            target_input(&target, &event, "", &route()).expect("input"),
            r#"{"items":[{"k":1},{"k":2}]}"#
        );
        let tr = t(&[("ks", "$.detail.items[*].k")], "<ks>");
        assert_eq!(
            transform(&tr, &event, &route()).expect("transform"),
            "[1,2]"
        );
    }
}
