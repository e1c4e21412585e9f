//! SQS: the JSON protocol (`X-Amz-Target: AmazonSQS.<Operation>`, awsJson1_0) current SDKs
//! use, and the query protocol (`Action=<Operation>`, XML answers) older ones use. Both
//! parse into one JSON input, run the same operation on the local queues, and render its
//! JSON output in their own shape.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Response;
use infra::local::{
    LocalError, MessageAttribute, QueueSpec, ReceiveRequest, ReceivedMessage, Redrive, SendRequest,
    ServedResource,
};
use serde_json::{json, Map, Value};

use super::protocol::{
    attribute_json, md5_hex, md5_of_attributes, message_attributes, number, query_to_json, respond,
    strings, text, xml, ApiError, Body, SQS_XMLNS,
};
use super::Shared;

/// The operations served, by name.
pub const OPERATIONS: &[&str] = &[
    "GetQueueUrl",
    "ListQueues",
    "GetQueueAttributes",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "PurgeQueue",
    "CreateQueue",
    "SetQueueAttributes",
    "DeleteQueue",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
];

/// The JSON protocol.
pub async fn json(shared: &Arc<Shared>, op: &str, host: &str, body: &[u8]) -> Response<Body> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return ApiError::bad_request(
                    "InvalidParameterValue",
                    "the request body is not a JSON object",
                )
                .json("com.amazonaws.sqs", Some("InvalidParameterValue"))
            }
        }
    };
    match run(shared, op, host, input).await {
        Ok(out) => respond(200, "application/x-amz-json-1.0", out.to_string()),
        Err(e) => {
            let query_code = e.query_code.clone().unwrap_or_else(|| e.code.clone());
            e.json("com.amazonaws.sqs", Some(&query_code))
        }
    }
}

/// The query protocol. A request sent to a queue URL may leave out `QueueUrl`.
pub async fn query(
    shared: &Arc<Shared>,
    action: &str,
    params: Vec<(String, String)>,
    host: &str,
    path: &str,
) -> Response<Body> {
    let mut input = query_to_json(
        &params,
        &[
            ("AttributeName", "AttributeNames"),
            ("MessageAttributeName", "MessageAttributeNames"),
            ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
            ("SendMessageBatchRequestEntry", "Entries"),
            ("DeleteMessageBatchRequestEntry", "Entries"),
            ("ChangeMessageVisibilityBatchRequestEntry", "Entries"),
            ("TagKey", "TagKeys"),
        ],
        &[
            ("MessageAttribute", "MessageAttributes"),
            ("Attribute", "Attributes"),
        ],
    );
    // Tags are `Tag.N.Key` / `Tag.N.Value` (CreateQueue's JSON calls them `tags`).
    let tags = query_tags(&params);
    if !tags.is_empty() {
        let field = if action == "CreateQueue" {
            "tags"
        } else {
            "Tags"
        };
        input[field] = Value::Object(tags);
    }
    if input.get("QueueUrl").is_none() && path.trim_matches('/').contains('/') {
        input["QueueUrl"] = json!(format!("http://{host}{path}"));
    }
    match run(shared, action, host, input).await {
        Ok(out) => {
            let mut body = format!(
                "<?xml version=\"1.0\"?><{action}Response xmlns=\"{SQS_XMLNS}\"><{action}Result>"
            );
            if let Value::Object(m) = &out {
                for (k, v) in m {
                    render_xml(&mut body, action, k, v);
                }
            }
            body.push_str(&format!(
                "</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
                super::protocol::request_id()
            ));
            respond(200, "text/xml", body)
        }
        Err(e) => e.query_xml(SQS_XMLNS),
    }
}

/// The query protocol's XML for one output field: lists are flattened (one element per
/// item, named for the item), maps are `<Attribute><Name/><Value/></Attribute>` entries.
fn render_xml(out: &mut String, action: &str, key: &str, v: &Value) {
    match (key, v) {
        ("Tags", Value::Object(m)) => {
            for (k, v) in m {
                out.push_str(&format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    xml(k),
                    xml(&scalar(v))
                ));
            }
        }
        ("Attributes" | "MessageAttributes", Value::Object(m)) => {
            let element = if key == "Attributes" {
                "Attribute"
            } else {
                "MessageAttribute"
            };
            for (name, value) in m {
                out.push_str(&format!("<{element}><Name>{}</Name><Value>", xml(name)));
                match value {
                    Value::Object(fields) => {
                        for (f, fv) in fields {
                            render_xml(out, action, f, fv);
                        }
                    }
                    other => out.push_str(&xml(&scalar(other))),
                }
                out.push_str(&format!("</Value></{element}>"));
            }
        }
        (_, Value::Array(items)) => {
            let element = match key {
                "Messages" => "Message".to_string(),
                "QueueUrls" => "QueueUrl".to_string(),
                "Successful" => format!("{action}ResultEntry"),
                "Failed" => "BatchResultErrorEntry".to_string(),
                other => other.to_string(),
            };
            for item in items {
                match item {
                    Value::Object(m) => {
                        out.push_str(&format!("<{element}>"));
                        for (k, v) in m {
                            render_xml(out, action, k, v);
                        }
                        out.push_str(&format!("</{element}>"));
                    }
                    other => {
                        out.push_str(&format!("<{element}>{}</{element}>", xml(&scalar(other))))
                    }
                }
            }
        }
        (_, Value::Object(m)) => {
            out.push_str(&format!("<{key}>"));
            for (k, v) in m {
                render_xml(out, action, k, v);
            }
            out.push_str(&format!("</{key}>"));
        }
        (_, other) => out.push_str(&format!("<{key}>{}</{key}>", xml(&scalar(other)))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The query protocol's `Tag.N.Key` / `Tag.N.Value` pairs.
fn query_tags(params: &[(String, String)]) -> Map<String, Value> {
    let mut keys = BTreeMap::new();
    let mut values = BTreeMap::new();
    for (k, v) in params {
        let mut parts = k.split('.');
        if let (Some("Tag"), Some(n), Some(field), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            match field {
                "Key" => keys.insert(n.to_string(), v.clone()),
                "Value" => values.insert(n.to_string(), v.clone()),
                _ => None,
            };
        }
    }
    keys.into_iter()
        .map(|(n, k)| (k, json!(values.get(&n).cloned().unwrap_or_default())))
        .collect()
}

async fn run(shared: &Arc<Shared>, op: &str, host: &str, input: Value) -> Result<Value, ApiError> {
    let out = match op {
        "CreateQueue" => create_queue(shared, host, &input).await,
        "SetQueueAttributes" => set_queue_attributes(shared, &input).await,
        "DeleteQueue" => {
            let queue = queue_name(&input)?;
            shared
                .store(move |s| s.delete_served_queue(&queue))
                .await
                .map(|()| json!({}))
        }
        "TagQueue" | "UntagQueue" => {
            let r = ServedResource::queue(&queue_name(&input)?);
            let add = string_map(&input, "Tags")?;
            let remove = strings(&input, "TagKeys");
            shared
                .store(move |s| s.retag_served(&r, &add, &remove))
                .await
                .map(|()| json!({}))
        }
        "ListQueueTags" => {
            let r = ServedResource::queue(&queue_name(&input)?);
            let tags = shared.store(move |s| s.served_tags(&r)).await?;
            Ok(if tags.is_empty() {
                json!({})
            } else {
                json!({ "Tags": tags })
            })
        }
        _ => return data_plane(shared, op, host, input).await,
    };
    out.map_err(|e| {
        if e.code == "NotServed" {
            ApiError::bad_request("UnsupportedOperation", e.message)
                .with_query_code("AWS.SimpleQueueService.UnsupportedOperation")
        } else {
            e
        }
    })
}

async fn data_plane(
    shared: &Arc<Shared>,
    op: &str,
    host: &str,
    input: Value,
) -> Result<Value, ApiError> {
    match op {
        "GetQueueUrl" => get_queue_url(shared, host, &input).await,
        "ListQueues" => list_queues(shared, host, &input).await,
        "GetQueueAttributes" => get_queue_attributes(shared, &input).await,
        "SendMessage" => send_message(shared, &input).await,
        "SendMessageBatch" => send_message_batch(shared, &input).await,
        "ReceiveMessage" => receive_message(shared, &input).await,
        "DeleteMessage" => {
            let queue = queue_name(&input)?;
            let handle = required(&input, "ReceiptHandle")?;
            shared
                .writer(move |w| {
                    w.delete_messages(&queue, vec![handle])?
                        .pop()
                        .unwrap_or(Ok(()))
                })
                .await?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => {
            let queue = queue_name(&input)?;
            let entries = batch_entries(&input)?;
            let mut handles = Vec::new();
            for e in &entries {
                handles.push(required(e, "ReceiptHandle")?);
            }
            let results = shared
                .writer(move |w| w.delete_messages(&queue, handles))
                .await?;
            Ok(batch_output(
                &entries,
                results.into_iter().map(|r| r.map(|()| json!({}))),
            ))
        }
        "ChangeMessageVisibility" => {
            let queue = queue_name(&input)?;
            let handle = required(&input, "ReceiptHandle")?;
            let secs = visibility(&input)?;
            shared
                .write(move |w| w.change_visibility(&queue, &handle, secs))
                .await?;
            shared.wake_receivers();
            Ok(json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let queue = queue_name(&input)?;
            let entries = batch_entries(&input)?;
            let mut changes = Vec::new();
            for e in &entries {
                changes.push((required(e, "ReceiptHandle")?, visibility(e)?));
            }
            let results = shared
                .write(move |w| {
                    let mut out = Vec::new();
                    for (handle, secs) in &changes {
                        out.push(match w.change_visibility(&queue, handle, *secs) {
                            Ok(()) => Ok(json!({})),
                            Err(e @ (LocalError::NoSuchQueue(_) | LocalError::Sql(_))) => {
                                return Err(e)
                            }
                            Err(e) => Err(e),
                        });
                    }
                    Ok(out)
                })
                .await?;
            shared.wake_receivers();
            Ok(batch_output(&entries, results.into_iter()))
        }
        "PurgeQueue" => {
            let queue = queue_name(&input)?;
            shared.write(move |w| w.purge_queue(&queue)).await?;
            Ok(json!({}))
        }
        other => Err(ApiError::bad_request(
            "UnsupportedOperation",
            format!(
                "bridge dev --serve does not implement SQS {other}; it serves {} (docs/serve.md)",
                OPERATIONS.join(", ")
            ),
        )
        .with_query_code("AWS.SimpleQueueService.UnsupportedOperation")),
    }
}

fn required(input: &Value, field: &str) -> Result<String, ApiError> {
    text(input, field)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing(field))
}

/// The queue a request names: the last segment of `QueueUrl` (or a bare name or ARN).
fn queue_name(input: &Value) -> Result<String, ApiError> {
    let url = required(input, "QueueUrl")?;
    let name = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidAddress",
            format!("The address {url} is not valid for this endpoint."),
        ));
    }
    Ok(name.to_string())
}

fn queue_url(host: &str, account: &str, name: &str) -> String {
    format!("http://{host}/{account}/{name}")
}

fn visibility(input: &Value) -> Result<u32, ApiError> {
    match number(input, "VisibilityTimeout")? {
        Some(n) if (0..=43_200).contains(&n) => Ok(n as u32),
        Some(n) => Err(ApiError::invalid(
            "InvalidParameterValue",
            format!("Value {n} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."),
        )),
        None => Err(ApiError::missing("VisibilityTimeout")),
    }
}

async fn get_queue_url(shared: &Arc<Shared>, host: &str, input: &Value) -> Result<Value, ApiError> {
    let name = required(input, "QueueName")?;
    let lookup = name.clone();
    let exists = shared
        .store(move |s| Ok(s.list_queues()?.iter().any(|q| q.name == lookup)))
        .await?;
    if !exists {
        return Err(LocalError::NoSuchQueue(name).into());
    }
    Ok(json!({"QueueUrl": queue_url(host, shared.account(), &name)}))
}

async fn list_queues(shared: &Arc<Shared>, host: &str, input: &Value) -> Result<Value, ApiError> {
    let prefix = text(input, "QueueNamePrefix").unwrap_or("").to_string();
    let max = number(input, "MaxResults")?;
    if let Some(n) = max {
        if !(1..=1000).contains(&n) {
            return Err(ApiError::invalid(
                "InvalidParameterValue",
                format!("Value {n} for parameter MaxResults is invalid. Reason: must be between 1 and 1000."),
            ));
        }
    }
    let after = text(input, "NextToken").unwrap_or("").to_string();
    let names: Vec<String> = shared
        .store(move |s| {
            Ok(s.list_queues()?
                .into_iter()
                .map(|q| q.name)
                .filter(|n| n.starts_with(&prefix) && n.as_str() > after.as_str())
                .collect())
        })
        .await?;
    let limit = max.map(|n| n as usize).unwrap_or(1000);
    let page: Vec<&String> = names.iter().take(limit).collect();
    let mut out = Map::new();
    out.insert(
        "QueueUrls".into(),
        json!(page
            .iter()
            .map(|n| queue_url(host, shared.account(), n))
            .collect::<Vec<_>>()),
    );
    if max.is_some() && names.len() > page.len() {
        if let Some(last) = page.last() {
            out.insert("NextToken".into(), json!(last));
        }
    }
    Ok(Value::Object(out))
}

async fn get_queue_attributes(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let queue = queue_name(input)?;
    let wanted = strings(input, "AttributeNames");
    let region = shared.region().to_string();
    let account = shared.account().to_string();
    let attrs = shared
        .store(move |s| {
            let spec = s
                .list_queues()?
                .into_iter()
                .find(|q| q.name == queue)
                .ok_or_else(|| LocalError::NoSuchQueue(queue.clone()))?;
            let counts = s.queue_counts(&queue)?;
            let mut attrs = infra::local::translate::queue_attributes(&spec);
            attrs.insert(
                "QueueArn".into(),
                infra::arn::queue_arn(&region, &account, &queue),
            );
            attrs.insert("ApproximateNumberOfMessages".into(), counts.visible.to_string());
            attrs.insert(
                "ApproximateNumberOfMessagesNotVisible".into(),
                counts.in_flight.to_string(),
            );
            attrs.insert(
                "ApproximateNumberOfMessagesDelayed".into(),
                counts.delayed.to_string(),
            );
            attrs.insert("ReceiveMessageWaitTimeSeconds".into(), "0".into());
            attrs.insert("MaximumMessageSize".into(), "262144".into());
            if let Some(r) = &spec.redrive {
                attrs.insert(
                    "RedrivePolicy".into(),
                    json!({"deadLetterTargetArn": r.dead_letter_target_arn, "maxReceiveCount": r.max_receive_count})
                        .to_string(),
                );
            }
            if let Some(p) = &spec.policy {
                attrs.insert("Policy".into(), p.clone());
            }
            Ok(attrs)
        })
        .await?;
    let all = wanted.iter().any(|w| w == "All");
    let picked: BTreeMap<&String, &String> = attrs
        .iter()
        .filter(|(k, _)| all || wanted.contains(k))
        .collect();
    Ok(json!({ "Attributes": picked }))
}

fn send_request(input: &Value) -> Result<(SendRequest, Option<String>), ApiError> {
    let body = text(input, "MessageBody")
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing("MessageBody"))?;
    let delay = match number(input, "DelaySeconds")? {
        Some(n) if (0..=900).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(ApiError::invalid(
                "InvalidParameterValue",
                format!("Value {n} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."),
            ))
        }
        None => None,
    };
    let attributes = message_attributes(input, "MessageAttributes")?;
    let md5_attrs = md5_of_attributes(&attributes);
    Ok((
        SendRequest {
            body,
            delay_secs: delay,
            attributes,
            group_id: text(input, "MessageGroupId").map(str::to_string),
            dedup_id: text(input, "MessageDeduplicationId").map(str::to_string),
        },
        md5_attrs,
    ))
}

fn sent(req: &SendRequest, md5_attrs: Option<String>, message_id: String) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(message_id));
    out.insert(
        "MD5OfMessageBody".into(),
        json!(md5_hex(req.body.as_bytes())),
    );
    if let Some(m) = md5_attrs {
        out.insert("MD5OfMessageAttributes".into(), json!(m));
    }
    Value::Object(out)
}

async fn send_message(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let queue = queue_name(input)?;
    let (req, md5_attrs) = send_request(input)?;
    let (req, id) = shared
        .writer(move |w| {
            let id = w.send_message(&queue, req.clone())?;
            Ok((req, id))
        })
        .await?;
    shared.wake_receivers();
    Ok(sent(&req, md5_attrs, id))
}

fn batch_entries(input: &Value) -> Result<Vec<Value>, ApiError> {
    let entries = input
        .get("Entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::bad_request(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        )
        .with_query_code("AWS.SimpleQueueService.EmptyBatchRequest"));
    }
    if entries.len() > 10 {
        return Err(ApiError::bad_request(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        )
        .with_query_code("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"));
    }
    let mut seen = HashSet::new();
    for e in &entries {
        let id = required(e, "Id")?;
        if !seen.insert(id.clone()) {
            return Err(ApiError::bad_request(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            )
            .with_query_code("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"));
        }
    }
    Ok(entries)
}

/// `{Successful: [...], Failed: [...]}` from one result per entry.
fn batch_output(
    entries: &[Value],
    results: impl Iterator<Item = Result<Value, LocalError>>,
) -> Value {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (entry, result) in entries.iter().zip(results) {
        let id = text(entry, "Id").unwrap_or_default();
        match result {
            Ok(v) => {
                let mut m = Map::new();
                m.insert("Id".into(), json!(id));
                if let Value::Object(fields) = v {
                    m.extend(fields);
                }
                ok.push(Value::Object(m));
            }
            Err(e) => {
                let e = ApiError::from(e);
                failed.push(json!({"Id": id, "SenderFault": e.sender, "Code": e.code, "Message": e.message}));
            }
        }
    }
    json!({"Successful": ok, "Failed": failed})
}

async fn send_message_batch(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let queue = queue_name(input)?;
    let entries = batch_entries(input)?;
    let mut reqs = Vec::new();
    let mut md5s = Vec::new();
    for e in &entries {
        let (req, md5) = send_request(e)?;
        reqs.push(req);
        md5s.push(md5);
    }
    let (reqs, results) = shared
        .writer(move |w| {
            let results = w.send_messages(&queue, reqs.clone())?;
            Ok((reqs, results))
        })
        .await?;
    shared.wake_receivers();
    let results = results
        .into_iter()
        .zip(reqs.iter().zip(md5s))
        .map(|(r, (req, md5))| r.map(|id| sent(req, md5, id)));
    Ok(batch_output(&entries, results))
}

async fn receive_message(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let queue = queue_name(input)?;
    let max = number(input, "MaxNumberOfMessages")?.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(ApiError::invalid(
            "InvalidParameterValue",
            format!("Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
        ));
    }
    let wait = number(input, "WaitTimeSeconds")?.unwrap_or(0);
    if !(0..=20).contains(&wait) {
        return Err(ApiError::invalid(
            "InvalidParameterValue",
            format!("Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."),
        ));
    }
    let visibility = match number(input, "VisibilityTimeout")? {
        Some(n) if (0..=43_200).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(ApiError::invalid(
                "InvalidParameterValue",
                format!("Value {n} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."),
            ))
        }
        None => None,
    };
    let mut system = strings(input, "AttributeNames");
    system.extend(strings(input, "MessageSystemAttributeNames"));
    let user = strings(input, "MessageAttributeNames");
    let req = ReceiveRequest {
        max_messages: max as u32,
        visibility_timeout_secs: visibility,
        wait_time_secs: 0,
    };
    // Long polling: try, then wait for a wake-up from a send through this server (or 100 ms,
    // for writes by other processes), until a message comes or the wait is over.
    let deadline = Instant::now() + Duration::from_secs(wait as u64);
    let messages = loop {
        let notified = shared.arrivals.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let q = queue.clone();
        let got = shared.writer(move |w| w.receive_messages(&q, req)).await?;
        let now = Instant::now();
        if !got.is_empty() || now >= deadline {
            break got;
        }
        let pause = (deadline - now).min(Duration::from_millis(100));
        let _ = tokio::time::timeout(pause, notified).await;
    };
    let account = shared.account().to_string();
    let out: Vec<Value> = messages
        .iter()
        .map(|m| message_json(m, &system, &user, &account))
        .collect();
    if out.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Messages": out }))
}

fn message_json(m: &ReceivedMessage, system: &[String], user: &[String], account: &str) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(m.message_id));
    out.insert("ReceiptHandle".into(), json!(m.receipt_handle));
    out.insert("MD5OfBody".into(), json!(m.md5_of_body()));
    out.insert("Body".into(), json!(m.body));
    let all_system = system.iter().any(|n| n == "All");
    let mut attrs = m.attributes.clone();
    attrs.insert("SenderId".into(), account.to_string());
    let attrs: BTreeMap<&String, &String> = attrs
        .iter()
        .filter(|(k, _)| all_system || system.contains(k))
        .collect();
    if !attrs.is_empty() {
        out.insert("Attributes".into(), json!(attrs));
    }
    let wanted = |name: &str| {
        user.iter().any(|u| {
            u == "All"
                || u == ".*"
                || u == name
                || u.strip_suffix(".*").is_some_and(|prefix| {
                    name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
                })
        })
    };
    let picked: BTreeMap<String, MessageAttribute> = m
        .message_attributes
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = md5_of_attributes(&picked) {
        out.insert("MD5OfMessageAttributes".into(), json!(md5));
        out.insert(
            "MessageAttributes".into(),
            Value::Object(
                picked
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute_json(v)))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

/// A `{name: text}` map field (tags, attributes); the query protocol's are already maps.
fn string_map(input: &Value, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(
            "InvalidParameterValue",
            format!("{field} must be a map of names to values"),
        )),
    }
}

/// Applies CreateQueue / SetQueueAttributes attributes to `spec` with SQS's checks and
/// words; returns the names given. Attributes without a local meaning (encryption, message
/// size, the default long-poll wait, FIFO throughput) are accepted and not kept.
fn apply_attributes(
    spec: &mut QueueSpec,
    attrs: &BTreeMap<String, String>,
    creating: bool,
) -> Result<Vec<String>, ApiError> {
    let bad_value = |name: &str| {
        ApiError::bad_request(
            "InvalidAttributeValue",
            format!("Invalid value for the parameter {name}."),
        )
    };
    let ranged = |name: &str, v: &str, lo: u32, hi: u32| -> Result<u32, ApiError> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| bad_value(name))
    };
    let boolean = |name: &str, v: &str| match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(name)),
    };
    for (name, v) in attrs {
        match name.as_str() {
            "DelaySeconds" => spec.delay_secs = ranged(name, v, 0, 900)?,
            "MessageRetentionPeriod" => spec.retention_secs = ranged(name, v, 60, 1_209_600)?,
            "VisibilityTimeout" => spec.visibility_timeout_secs = ranged(name, v, 0, 43_200)?,
            "MaximumMessageSize" => {
                ranged(name, v, 1024, 262_144)?;
            }
            "ReceiveMessageWaitTimeSeconds" => {
                ranged(name, v, 0, 20)?;
            }
            "Policy" => {
                serde_json::from_str::<Value>(v).map_err(|_| bad_value(name))?;
                spec.policy = (!v.trim().is_empty()).then(|| v.clone());
            }
            "RedrivePolicy" => {
                spec.redrive = if v.trim().is_empty() {
                    None
                } else {
                    let p: Value = serde_json::from_str(v).map_err(|_| bad_value(name))?;
                    let arn = p
                        .get("deadLetterTargetArn")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad_value(name))?;
                    let max = match p.get("maxReceiveCount") {
                        Some(Value::Number(n)) => n.as_u64(),
                        Some(Value::String(s)) => s.parse().ok(),
                        _ => None,
                    }
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad_value(name))?;
                    Some(Redrive {
                        dead_letter_target_arn: arn.to_string(),
                        max_receive_count: max as u32,
                    })
                }
            }
            "FifoQueue" if creating => spec.fifo = boolean(name, v)?,
            "ContentBasedDeduplication" => spec.content_based_dedup = boolean(name, v)?,
            "RedriveAllowPolicy"
            | "KmsMasterKeyId"
            | "KmsDataKeyReusePeriodSeconds"
            | "SqsManagedSseEnabled"
            | "DeduplicationScope"
            | "FifoThroughputLimit" => {}
            other => {
                return Err(ApiError::bad_request(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {other}."),
                ))
            }
        }
    }
    if spec.content_based_dedup && !spec.fifo {
        return Err(bad_value("ContentBasedDeduplication"));
    }
    Ok(attrs.keys().cloned().collect())
}

/// CreateQueue: a queue made over the wire (not the project's: plan and apply leave it
/// alone). An existing queue with the attributes asked for is answered with its URL.
async fn create_queue(shared: &Arc<Shared>, host: &str, input: &Value) -> Result<Value, ApiError> {
    let name = required(input, "QueueName")?;
    let attrs = string_map(input, "Attributes")?;
    let tags = string_map(input, "tags")?;
    let mut spec = QueueSpec::new(&name);
    spec.fifo = false;
    let given = apply_attributes(&mut spec, &attrs, true)?;
    if spec.fifo != name.ends_with(".fifo") {
        return Err(ApiError::invalid(
            "InvalidParameterValue",
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ));
    }
    let lookup = name.clone();
    shared
        .store(move |s| s.create_served_queue(&spec, &given, &tags))
        .await?;
    Ok(json!({"QueueUrl": queue_url(host, shared.account(), &lookup)}))
}

/// SetQueueAttributes on a queue made over the wire.
async fn set_queue_attributes(shared: &Arc<Shared>, input: &Value) -> Result<Value, ApiError> {
    let queue = queue_name(input)?;
    let attrs = string_map(input, "Attributes")?;
    let q = queue.clone();
    let spec = shared
        .store(move |s| {
            s.list_queues()?
                .into_iter()
                .find(|x| x.name == q)
                .ok_or_else(|| LocalError::NoSuchQueue(q.clone()))
        })
        .await?;
    let mut spec = spec;
    apply_attributes(&mut spec, &attrs, false)?;
    shared.store(move |s| s.set_served_queue(&spec)).await?;
    Ok(json!({}))
}
