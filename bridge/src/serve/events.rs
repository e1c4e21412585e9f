//! EventBridge's JSON 1.1 protocol (`X-Amz-Target: AWSEvents.<Operation>`): PutEvents on the
//! local buses (AWS's per-entry validation and errors, from [`infra::local`]'s routing),
//! TestEventPattern with the project's own pattern engine, and reading rules and targets.

use std::sync::Arc;

use hyper::Response;
use infra::local::clock::rfc3339_seconds;
use infra::local::{LocalError, PutEventsEntry, RuleSpec, TargetSpec};
use serde_json::{json, Map, Value};

use super::protocol::{number, respond, strings, text, ApiError, Body};
use super::Shared;

pub const OPERATIONS: &[&str] = &[
    "PutEvents",
    "TestEventPattern",
    "ListRules",
    "DescribeRule",
    "ListTargetsByRule",
];

pub async fn json(shared: &Arc<Shared>, op: &str, body: &[u8]) -> Response<Body> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return ApiError::bad_request(
                    "SerializationException",
                    "the request body is not a JSON object",
                )
                .json("", None)
            }
        }
    };
    match run(shared, op, input).await {
        Ok(out) => respond(200, "application/x-amz-json-1.1", out.to_string()),
        Err(e) => e.json("", None),
    }
}

/// EventBridge's words for the local backend's errors.
fn error(e: ApiError) -> ApiError {
    if e.code == "InvalidParameterValue" {
        ApiError::bad_request("ValidationException", e.message)
    } else {
        e
    }
}

async fn run(shared: &Arc<Shared>, op: &str, input: Value) -> Result<Value, ApiError> {
    let out = match op {
        "PutEvents" => put_events(shared, &input).await,
        "TestEventPattern" => test_event_pattern(&input),
        "ListRules" => list_rules(shared, &input).await,
        "DescribeRule" => describe_rule(shared, &input).await,
        "ListTargetsByRule" => list_targets(shared, &input).await,
        other => Err(ApiError::unknown_operation(&format!(
            "AWSEvents.{other} (it serves {})",
            OPERATIONS.join(", ")
        ))),
    };
    out.map_err(error)
}

fn bus_of(input: &Value, field: &str) -> String {
    let bus = text(input, field).unwrap_or("default");
    match bus.split_once(":event-bus/") {
        Some((_, name)) => name.to_string(),
        None => bus.to_string(),
    }
}

async fn put_events(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let Some(entries) = input.get("Entries").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "ValidationException",
            "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
        ));
    };
    if entries.is_empty() || entries.len() > infra::put_events::MAX_ENTRIES {
        return Err(ApiError::bad_request(
            "ValidationException",
            format!("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1 (it has {})", entries.len()),
        ));
    }
    let entries: Vec<PutEventsEntry> = entries.iter().map(entry).collect();
    let out = shared.writer(move |w| w.put_events(entries)).await?;
    shared.wake_receivers();
    Ok(json!({
        "FailedEntryCount": out.failed_entry_count,
        "Entries": out.entries,
    }))
}

/// One PutEvents entry; `Time` comes as epoch seconds from the JSON protocol (or as text).
fn entry(v: &Value) -> PutEventsEntry {
    let time = match v.get("Time") {
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|secs| rfc3339_seconds((secs * 1000.0) as i64)),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    PutEventsEntry {
        source: text(v, "Source").map(str::to_string),
        detail_type: text(v, "DetailType").map(str::to_string),
        detail: text(v, "Detail").map(str::to_string),
        resources: strings(v, "Resources"),
        time,
        event_bus_name: text(v, "EventBusName").map(str::to_string),
    }
}

fn test_event_pattern(input: &Value) -> Result<Value, ApiError> {
    let pattern_text =
        text(input, "EventPattern").ok_or_else(|| ApiError::missing("EventPattern"))?;
    let event_text = text(input, "Event").ok_or_else(|| ApiError::missing("Event"))?;
    let pattern = patterns::Pattern::parse(pattern_text).map_err(|e| {
        ApiError::bad_request(
            "InvalidEventPatternException",
            format!("Event pattern is not valid. Reason: {e}"),
        )
    })?;
    // AWS checks that the event is an event: these fields must be there.
    let event: Value = serde_json::from_str(event_text).map_err(|_| {
        ApiError::bad_request("ValidationException", "Parameter Event is not valid.")
    })?;
    for field in ["id", "account", "source", "time", "region", "detail-type"] {
        if event.get(field).is_none() {
            return Err(ApiError::bad_request(
                "ValidationException",
                format!("Parameter Event is not valid. Reason: Provided Event is missing required field {field}."),
            ));
        }
    }
    let matched = pattern.matches_str(event_text).map_err(|e| {
        ApiError::bad_request(
            "ValidationException",
            format!("Parameter Event is not valid. Reason: {e}"),
        )
    })?;
    Ok(json!({ "Result": matched }))
}

fn rule_json(shared: &Shared, r: &RuleSpec) -> Value {
    let mut m = Map::new();
    m.insert("Name".into(), json!(r.name));
    m.insert(
        "Arn".into(),
        json!(infra::arn::rule_arn(
            shared.region(),
            shared.account(),
            &r.bus,
            &r.name
        )),
    );
    if let Some(p) = &r.pattern {
        m.insert("EventPattern".into(), json!(p));
    }
    if let Some(s) = &r.schedule {
        m.insert("ScheduleExpression".into(), json!(s));
    }
    m.insert("State".into(), json!(r.state.as_str()));
    if let Some(d) = &r.description {
        m.insert("Description".into(), json!(d));
    }
    m.insert("EventBusName".into(), json!(r.bus));
    Value::Object(m)
}

async fn bus_rules(shared: &Arc<Shared>, bus: String) -> Result<Vec<RuleSpec>, ApiError> {
    shared
        .store(move |s| {
            if !s.list_buses()?.contains(&bus) {
                return Err(LocalError::NoSuchBus(bus));
            }
            s.list_rules(Some(&bus))
        })
        .await
}

async fn list_rules(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let bus = bus_of(input, "EventBusName");
    let prefix = text(input, "NamePrefix").unwrap_or("").to_string();
    let limit = number(input, "Limit")?.map(|n| n.clamp(1, 100) as usize);
    let after = text(input, "NextToken").unwrap_or("").to_string();
    let rules: Vec<RuleSpec> = bus_rules(shared, bus)
        .await?
        .into_iter()
        .filter(|r| r.name.starts_with(&prefix) && r.name.as_str() > after.as_str())
        .collect();
    let take = limit.unwrap_or(rules.len());
    let page: Vec<Value> = rules
        .iter()
        .take(take)
        .map(|r| rule_json(shared, r))
        .collect();
    let mut out = Map::new();
    out.insert("Rules".into(), Value::Array(page));
    if rules.len() > take {
        if let Some(last) = rules.get(take - 1) {
            out.insert("NextToken".into(), json!(last.name));
        }
    }
    Ok(Value::Object(out))
}

async fn find_rule(shared: &Arc<Shared>, bus: String, name: String) -> Result<RuleSpec, ApiError> {
    bus_rules(shared, bus.clone())
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| LocalError::NoSuchRule { bus, rule: name }.into())
}

async fn describe_rule(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let name = text(input, "Name")
        .ok_or_else(|| ApiError::missing("Name"))?
        .to_string();
    let rule = find_rule(shared, bus_of(input, "EventBusName"), name).await?;
    let mut out = rule_json(shared, &rule);
    if let Value::Object(m) = &mut out {
        m.insert("CreatedBy".into(), json!(shared.account()));
    }
    Ok(out)
}

fn target_json(t: &TargetSpec) -> Value {
    let mut m = Map::new();
    m.insert("Id".into(), json!(t.id));
    m.insert("Arn".into(), json!(t.arn));
    if let Some(i) = &t.input {
        m.insert("Input".into(), json!(i));
    }
    if let Some(p) = &t.input_path {
        m.insert("InputPath".into(), json!(p));
    }
    if let Some(x) = &t.input_transformer {
        m.insert("InputTransformer".into(), json!(x));
    }
    if let Some(g) = &t.message_group_id {
        m.insert("SqsParameters".into(), json!({"MessageGroupId": g}));
    }
    if let Some(d) = &t.dead_letter_arn {
        m.insert("DeadLetterConfig".into(), json!({"Arn": d}));
    }
    Value::Object(m)
}

async fn list_targets(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let name = text(input, "Rule")
        .ok_or_else(|| ApiError::missing("Rule"))?
        .to_string();
    let bus = bus_of(input, "EventBusName");
    let rule = find_rule(shared, bus.clone(), name).await?;
    let targets = shared
        .store(move |s| s.list_targets(&bus, &rule.name))
        .await?;
    Ok(json!({ "Targets": targets.iter().map(target_json).collect::<Vec<_>>() }))
}
