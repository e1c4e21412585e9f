//! EventBridge's JSON 1.1 protocol (`X-Amz-Target: AWSEvents.<Operation>`): PutEvents on the
//! local buses (AWS's per-entry validation and errors, from [`infra::local`]'s routing),
//! TestEventPattern with the project's own pattern engine, and reading rules and targets.

use std::sync::Arc;

use hyper::Response;
use infra::local::clock::rfc3339_seconds;
use std::collections::BTreeMap;

use infra::local::{
    InputTransformer, LocalError, PutEventsEntry, RuleSpec, RuleState, ServedResource, TargetSpec,
};
use serde_json::{json, Map, Value};

use super::protocol::{number, respond, strings, text, ApiError, Body};
use super::Shared;

pub const OPERATIONS: &[&str] = &[
    "PutEvents",
    "TestEventPattern",
    "ListRules",
    "DescribeRule",
    "ListTargetsByRule",
    "PutRule",
    "PutTargets",
    "RemoveTargets",
    "DeleteRule",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
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
    match e.code.as_str() {
        "InvalidParameterValue" | "MissingParameter" => {
            ApiError::bad_request("ValidationException", e.message)
        }
        "NotServed" => ApiError::bad_request("ManagedRuleException", e.message),
        _ => e,
    }
}

async fn run(shared: &Arc<Shared>, op: &str, input: Value) -> Result<Value, ApiError> {
    let out = match op {
        "PutEvents" => put_events(shared, &input).await,
        "TestEventPattern" => test_event_pattern(&input),
        "ListRules" => list_rules(shared, &input).await,
        "DescribeRule" => describe_rule(shared, &input).await,
        "ListTargetsByRule" => list_targets(shared, &input).await,
        "PutRule" => put_rule(shared, &input).await,
        "PutTargets" => put_targets(shared, &input).await,
        "RemoveTargets" => remove_targets(shared, &input).await,
        "DeleteRule" => delete_rule(shared, &input).await,
        "TagResource" | "UntagResource" => retag(shared, op, &input).await,
        "ListTagsForResource" => {
            let r = resource(&input)?;
            let tags = match r {
                Some(r) => shared.store(move |s| s.served_tags(&r)).await?,
                None => Default::default(),
            };
            Ok(
                json!({ "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>() }),
            )
        }
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

/// `[{Key, Value}]` tags.
fn tags(input: &Value, field: &str) -> BTreeMap<String, String> {
    input
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((text(t, "Key")?.to_string(), text(t, "Value")?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn required(input: &Value, field: &str) -> Result<String, ApiError> {
    text(input, field)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing(field))
}

/// PutRule: a rule made over the wire (not the project's: plan and apply leave it alone),
/// its pattern checked by the project's engine and refused in AWS's words.
async fn put_rule(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let name = required(input, "Name")?;
    let pattern = text(input, "EventPattern").map(str::to_string);
    let schedule = text(input, "ScheduleExpression").map(str::to_string);
    match (&pattern, &schedule) {
        (None, None) => {
            return Err(ApiError::bad_request(
                "ValidationException",
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ))
        }
        (Some(p), _) => {
            patterns::Pattern::parse(p).map_err(|e| {
                ApiError::bad_request(
                    "InvalidEventPatternException",
                    format!("Event pattern is not valid. Reason: {e}"),
                )
            })?;
        }
        _ => {}
    }
    if pattern.is_some() && schedule.is_some() {
        return Err(ApiError::bad_request(
            "ValidationException",
            "bridge dev --serve keeps one of EventPattern and ScheduleExpression per rule.",
        ));
    }
    let state = match text(input, "State") {
        None | Some("ENABLED") | Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") => {
            RuleState::Enabled
        }
        Some("DISABLED") => RuleState::Disabled,
        Some(other) => {
            return Err(ApiError::bad_request(
                "ValidationException",
                format!("1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"),
            ))
        }
    };
    let rule = RuleSpec {
        bus: bus_of(input, "EventBusName"),
        name,
        pattern,
        schedule,
        state,
        description: text(input, "Description").map(str::to_string),
    };
    let tags = tags(input, "Tags");
    let arn = shared
        .store(move |s| s.put_served_rule(&rule, &tags))
        .await?;
    Ok(json!({ "RuleArn": arn }))
}

/// One PutTargets target in the local shape.
fn target(v: &Value) -> Result<TargetSpec, ApiError> {
    let id = required(v, "Id")?;
    let arn = required(v, "Arn")?;
    if !arn.starts_with("arn:") {
        return Err(ApiError::bad_request(
            "ValidationException",
            format!("Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."),
        ));
    }
    let input_transformer = match v.get("InputTransformer") {
        None | Some(Value::Null) => None,
        Some(x) => Some(
            serde_json::from_value::<InputTransformer>(x.clone()).map_err(|e| {
                ApiError::bad_request(
                    "ValidationException",
                    format!("InputTransformer of target {id} is not valid: {e}"),
                )
            })?,
        ),
    };
    Ok(TargetSpec {
        input: text(v, "Input").map(str::to_string),
        input_path: text(v, "InputPath").map(str::to_string),
        input_transformer,
        message_group_id: v
            .get("SqsParameters")
            .and_then(|p| text(p, "MessageGroupId"))
            .map(str::to_string),
        dead_letter_arn: v
            .get("DeadLetterConfig")
            .and_then(|p| text(p, "Arn"))
            .map(str::to_string),
        id,
        arn,
    })
}

async fn put_targets(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let rule = required(input, "Rule")?;
    let bus = bus_of(input, "EventBusName");
    let list = input
        .get("Targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() || list.len() > 10 {
        return Err(ApiError::bad_request(
            "ValidationException",
            format!("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1 (it has {})", list.len()),
        ));
    }
    let targets = list.iter().map(target).collect::<Result<Vec<_>, _>>()?;
    shared
        .store(move |s| {
            s.check_served_rule(&bus, &rule)?;
            s.put_targets(&bus, &rule, &targets)
        })
        .await?;
    shared.wake_receivers();
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
}

async fn remove_targets(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let rule = required(input, "Rule")?;
    let bus = bus_of(input, "EventBusName");
    let ids = strings(input, "Ids");
    if ids.is_empty() {
        return Err(ApiError::missing("Ids"));
    }
    shared
        .store(move |s| {
            s.check_served_rule(&bus, &rule)?;
            s.remove_targets(&bus, &rule, &ids)
        })
        .await?;
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
}

/// DeleteRule: as on AWS, deleting a rule that is not there succeeds (on a bus that is).
async fn delete_rule(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let name = required(input, "Name")?;
    let bus = bus_of(input, "EventBusName");
    shared
        .store(move |s| {
            match s.check_served_rule(&bus, &name) {
                Err(LocalError::NoSuchRule { .. }) => {
                    if !s.list_buses()?.contains(&bus) {
                        return Err(LocalError::NoSuchBus(bus));
                    }
                    return Ok(());
                }
                other => other?,
            }
            s.delete_rule(&bus, &name).map(|_| ())
        })
        .await?;
    Ok(json!({}))
}

/// The rule a `ResourceARN` names (`…:rule/NAME` or `…:rule/BUS/NAME`); `None` for other
/// EventBridge resources (buses), which carry no tags here.
fn resource(input: &Value) -> Result<Option<ServedResource>, ApiError> {
    let arn = required(input, "ResourceARN")?;
    let Some((_, path)) = arn.split_once(":rule/") else {
        if arn.starts_with("arn:") && arn.contains(":events:") {
            return Ok(None);
        }
        return Err(ApiError::bad_request(
            "ValidationException",
            format!("Parameter ResourceARN is not valid: {arn}"),
        ));
    };
    Ok(Some(match path.split_once('/') {
        Some((bus, name)) => ServedResource::rule(bus, name),
        None => ServedResource::rule("default", path),
    }))
}

async fn retag(shared: &Arc<Shared>, op: &str, input: &Value) -> Result<Value, ApiError> {
    let Some(r) = resource(input)? else {
        return Err(ApiError::bad_request(
            "ManagedRuleException",
            "bridge dev --serve keeps tags only on rules made over the wire",
        ));
    };
    let (add, remove) = if op == "TagResource" {
        (tags(input, "Tags"), Vec::new())
    } else {
        (BTreeMap::new(), strings(input, "TagKeys"))
    };
    shared
        .store(move |s| s.retag_served(&r, &add, &remove))
        .await?;
    Ok(json!({}))
}
