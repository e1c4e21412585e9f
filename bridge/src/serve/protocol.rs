//! What the services share: response bodies, AWS's error shapes per protocol, XML text, the
//! query protocol's parameters, and MD5 digests SDKs check.

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use infra::local::{LocalError, MessageAttribute};
use serde_json::{json, Map, Value};

/// Every response body: whole (API answers) or streamed (object downloads).
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

pub const SQS_XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
pub const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A response with a status, a content type and a body.
pub fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    if let Ok(v) = request_id().parse() {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

/// An AWS error: HTTP status, the error code (JSON protocols' `__type`), the query
/// protocol's code where it differs (SQS's `AWS.SimpleQueueService.NonExistentQueue`), and
/// whose fault it is.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub query_code: Option<String>,
    pub message: String,
    pub sender: bool,
}

impl ApiError {
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: code.into(),
            query_code: None,
            message: message.into(),
            sender: true,
        }
    }

    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }

    pub fn with_query_code(mut self, code: &str) -> ApiError {
        self.query_code = Some(code.into());
        self
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            code: "InternalFailure".into(),
            query_code: Some("InternalFailure".into()),
            message: message.into(),
            sender: false,
        }
    }

    /// An operation this server does not implement (JSON protocols).
    pub fn unknown_operation(target: &str) -> ApiError {
        ApiError::bad_request(
            "UnknownOperationException",
            format!(
                "bridge dev --serve does not implement {target}; docs/serve.md lists what it serves"
            ),
        )
    }

    /// A required parameter that is missing.
    pub fn missing(what: &str) -> ApiError {
        ApiError::bad_request(
            "MissingParameter",
            format!("The request must contain the parameter {what}."),
        )
    }

    /// A parameter with an invalid value.
    pub fn invalid(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::bad_request(code, message)
    }

    /// The JSON protocols' error document (`namespace#Code` when a namespace is given).
    pub fn json(&self, namespace: &str, query_error: Option<&str>) -> Response<Body> {
        let kind = if namespace.is_empty() {
            self.code.clone()
        } else {
            format!("{namespace}#{}", self.code)
        };
        let body = json!({"__type": kind, "message": self.message}).to_string();
        let mut r = respond(self.status, "application/x-amz-json-1.0", body);
        if let Some(q) = query_error {
            let fault = if self.sender { "Sender" } else { "Receiver" };
            if let Ok(v) = format!("{q};{fault}").parse() {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
        }
        r
    }

    /// The query protocol's `ErrorResponse`.
    pub fn query_xml(&self, xmlns: &str) -> Response<Body> {
        let fault = if self.sender { "Sender" } else { "Receiver" };
        let code = self.query_code.as_deref().unwrap_or(&self.code);
        let body = format!(
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{xmlns}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{}</RequestId></ErrorResponse>",
            xml(code),
            xml(&self.message),
            request_id()
        );
        respond(self.status, "text/xml", body)
    }

    /// S3's `<Error>` document (no body for HEAD).
    pub fn s3_xml(&self, head: bool, resource: &str) -> Response<Body> {
        if head {
            return respond(self.status, "application/xml", Bytes::new());
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            xml(&self.code),
            xml(&self.message),
            xml(resource),
            request_id()
        );
        respond(self.status, "application/xml", body)
    }
}

impl From<LocalError> for ApiError {
    /// The local backend's errors as AWS words them; each service renames the generic ones
    /// (see `sqs::error`, `events::error`, …). Anything unexpected is a 500 with its message.
    fn from(e: LocalError) -> ApiError {
        match e {
            LocalError::NoSuchQueue(_) => {
                ApiError::bad_request("QueueDoesNotExist", "The specified queue does not exist.")
                    .with_query_code("AWS.SimpleQueueService.NonExistentQueue")
            }
            LocalError::InvalidReceipt(h) => ApiError::bad_request(
                "ReceiptHandleIsInvalid",
                format!("The input receipt handle \"{h}\" is not a valid receipt handle."),
            ),
            LocalError::NotInFlight(_) => {
                ApiError::bad_request("MessageNotInflight", "The message is not in flight.")
                    .with_query_code("AWS.SimpleQueueService.MessageNotInflight")
            }
            LocalError::NoSuchTopic(_) => {
                ApiError::bad_request("NotFound", "Topic does not exist").with_status(404)
            }
            LocalError::NoSuchBus(bus) => ApiError::bad_request(
                "ResourceNotFoundException",
                format!("Event bus {bus} does not exist."),
            ),
            LocalError::NoSuchRule { bus, rule } => ApiError::bad_request(
                "ResourceNotFoundException",
                format!("Rule {rule} does not exist on EventBus {bus}."),
            ),
            LocalError::NoSuchBucket(_) => {
                ApiError::bad_request("NoSuchBucket", "The specified bucket does not exist")
                    .with_status(404)
            }
            LocalError::QueueExists { attribute, .. } => ApiError::bad_request(
                "QueueNameExists",
                format!("A queue already exists with the same name and a different value for attribute {attribute}"),
            )
            .with_query_code("QueueAlreadyExists"),
            // Each service says it in its own words (SQS UnsupportedOperation, EventBridge
            // ManagedRuleException).
            e @ LocalError::NotServed { .. } => ApiError::bad_request("NotServed", e.to_string()),
            LocalError::Invalid { what, message } => {
                ApiError::bad_request("InvalidParameterValue", format!("{what}: {message}"))
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// Text escaped for XML content and attributes.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// XML text with the five entities and numeric references decoded.
pub fn unxml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of every `<tag>…</tag>` element in `doc`, in order (a small reader for the two
/// XML documents S3 requests carry: DeleteObjects and CompleteMultipartUpload).
pub fn elements<'a>(doc: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

/// The query protocol's flattened parameters (`MessageAttribute.1.Value.StringValue`,
/// `Entries.member.2.Id`, `MessageAttributes.entry.1.Name`) as the JSON input the JSON
/// protocol would carry. `lists` names the parameters that are lists (query name → JSON
/// name), `maps` those that are maps of `{Name, Value}` entries.
pub fn query_to_json(
    params: &[(String, String)],
    lists: &[(&str, &str)],
    maps: &[(&str, &str)],
) -> Value {
    let mut root = Map::new();
    for (k, v) in params {
        let segs: Vec<&str> = k.split('.').collect();
        put(&mut root, &segs, v, lists, maps);
    }
    finish(Value::Object(root))
}

const SLOT: char = '\u{1}';

fn put(
    obj: &mut Map<String, Value>,
    segs: &[&str],
    v: &str,
    lists: &[(&str, &str)],
    maps: &[(&str, &str)],
) {
    let Some((&name, rest)) = segs.split_first() else {
        return;
    };
    let list = lists
        .iter()
        .find(|(q, _)| *q == name)
        .map(|(_, j)| (*j, "list"));
    let map = maps
        .iter()
        .find(|(q, _)| *q == name)
        .map(|(_, j)| (*j, "map"));
    match list.or(map) {
        Some((json_name, kind)) => {
            let rest = match rest.first() {
                Some(&"member") | Some(&"entry") => &rest[1..],
                _ => rest,
            };
            let Some((idx, rest)) = rest.split_first() else {
                return;
            };
            let Ok(idx) = idx.parse::<u32>() else { return };
            let holder = obj
                .entry(json_name.to_string())
                .or_insert_with(|| json!({ format!("{SLOT}kind"): kind }));
            let Some(holder) = holder.as_object_mut() else {
                return;
            };
            let slot = format!("{SLOT}{idx:010}");
            if rest.is_empty() {
                holder.insert(slot, Value::String(v.to_string()));
            } else {
                let element = holder.entry(slot).or_insert_with(|| json!({}));
                if let Some(element) = element.as_object_mut() {
                    put(element, rest, v, lists, maps);
                }
            }
        }
        None if rest.is_empty() => {
            obj.insert(name.to_string(), Value::String(v.to_string()));
        }
        None => {
            let child = obj.entry(name.to_string()).or_insert_with(|| json!({}));
            if let Some(child) = child.as_object_mut() {
                put(child, rest, v, lists, maps);
            }
        }
    }
}

fn finish(v: Value) -> Value {
    let Value::Object(m) = v else { return v };
    let kind = m
        .get(&format!("{SLOT}kind"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match kind.as_deref() {
        Some(kind) => {
            let kind = kind.to_string();
            let mut slots: Vec<(String, Value)> = m
                .into_iter()
                .filter(|(k, _)| !k.ends_with("kind"))
                .collect();
            slots.sort_by(|a, b| a.0.cmp(&b.0));
            if kind == "list" {
                return Value::Array(slots.into_iter().map(|(_, v)| finish(v)).collect());
            }
            let mut out = Map::new();
            for (_, entry) in slots {
                let entry = finish(entry);
                let name = entry
                    .get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let value = entry.get("Value").cloned().unwrap_or(Value::Null);
                out.insert(name, value);
            }
            Value::Object(out)
        }
        None => Value::Object(m.into_iter().map(|(k, v)| (k, finish(v))).collect()),
    }
}

/// A string field of a JSON input.
pub fn text<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

/// A whole-number field, given as a JSON number or (query protocol) as text.
pub fn number(input: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::invalid(
                "InvalidParameterValue",
                format!("{field} must be a whole number"),
            )
        }),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ApiError::invalid(
                "InvalidParameterValue",
                format!(
                    "Value {s} for parameter {field} is invalid. Reason: must be a whole number."
                ),
            )
        }),
        Some(_) => Err(ApiError::invalid(
            "InvalidParameterValue",
            format!("{field} must be a whole number"),
        )),
    }
}

/// A list of strings field.
pub fn strings(input: &Value, field: &str) -> Vec<String> {
    input
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Message attributes (`{name: {DataType, StringValue | BinaryValue}}`) as the local store
/// keeps them: binary values as their base64 text, under their `Binary…` data type.
pub fn message_attributes(
    input: &Value,
    field: &str,
) -> Result<BTreeMap<String, MessageAttribute>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(map) = input.get(field).and_then(Value::as_object) else {
        return Ok(out);
    };
    for (name, v) in map {
        let data_type = text(v, "DataType").unwrap_or_default().to_string();
        if data_type.is_empty() {
            return Err(ApiError::invalid(
                "InvalidParameterValue",
                format!("The message attribute '{name}' must contain a non-empty attribute type."),
            ));
        }
        let value = match (text(v, "StringValue"), text(v, "BinaryValue")) {
            (Some(s), _) => s.to_string(),
            (None, Some(b)) => b.to_string(),
            (None, None) => {
                return Err(ApiError::invalid(
                    "InvalidParameterValue",
                    format!("The message attribute '{name}' must contain a non-empty value of message attribute type '{data_type}'."),
                ))
            }
        };
        out.insert(
            name.clone(),
            MessageAttribute {
                data_type,
                string_value: value,
            },
        );
    }
    Ok(out)
}

/// One message attribute in the JSON shape (`BinaryValue` for binary types).
pub fn attribute_json(a: &MessageAttribute) -> Value {
    if a.data_type.starts_with("Binary") {
        json!({"DataType": a.data_type, "BinaryValue": a.string_value})
    } else {
        json!({"DataType": a.data_type, "StringValue": a.string_value})
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("{:x}", Md5::digest(bytes))
}

/// SQS's `MD5OfMessageAttributes`: names sorted; for each, the length-prefixed name, data
/// type, a transport byte (1 string, 2 binary) and the length-prefixed value. SDKs (botocore)
/// check it.
pub fn md5_of_attributes(attrs: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    use base64::Engine;
    if attrs.is_empty() {
        return None;
    }
    let mut buf = Vec::new();
    let push = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    for (name, a) in attrs {
        push(name.as_bytes(), &mut buf);
        push(a.data_type.as_bytes(), &mut buf);
        if a.data_type.starts_with("Binary") {
            buf.push(2);
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&a.string_value)
                .unwrap_or_default();
            push(&raw, &mut buf);
        } else {
            buf.push(1);
            push(a.string_value.as_bytes(), &mut buf);
        }
    }
    Some(md5_hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_parameters_become_the_json_input() {
        let p = params(&[
            ("Action", "SendMessageBatch"),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.10.Id", "j"),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name",
                "color",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue",
                "red",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType",
                "String",
            ),
            ("AttributeName.2", "SentTimestamp"),
            ("AttributeName.1", "All"),
            ("MessageAttributes.entry.1.Name", "k"),
            ("MessageAttributes.entry.1.Value.StringValue", "v"),
        ]);
        let v = query_to_json(
            &p,
            &[
                ("SendMessageBatchRequestEntry", "Entries"),
                ("AttributeName", "AttributeNames"),
            ],
            &[
                ("MessageAttribute", "MessageAttributes"),
                ("MessageAttributes", "MessageAttributes"),
            ],
        );
        assert_eq!(v["Action"], "SendMessageBatch");
        let ids: Vec<&str> = v["Entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["Id"].as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "j"], "ordered by index, 10 after 2");
        assert_eq!(
            v["Entries"][0]["MessageAttributes"],
            json!({"color": {"StringValue": "red", "DataType": "String"}})
        );
        assert_eq!(v["AttributeNames"], json!(["All", "SentTimestamp"]));
        assert_eq!(v["MessageAttributes"], json!({"k": {"StringValue": "v"}}));
    }

    #[test]
    fn message_attribute_md5_is_sqs_s() {
        // The digest SQS documents for {"a": String "b"}: MD5 over
        // len("a") "a" len("String") "String" 0x01 len("b") "b".
        let attrs = BTreeMap::from([("a".to_string(), MessageAttribute::string("b"))]);
        let mut buf = Vec::new();
        for part in [&b"a"[..], b"String"] {
            buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
            buf.extend_from_slice(part);
        }
        buf.push(1);
        buf.extend_from_slice(&1u32.to_be_bytes());
        buf.push(b'b');
        assert_eq!(md5_of_attributes(&attrs), Some(md5_hex(&buf)));
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn xml_text_round_trips() {
        let text = "a<b>&\"c\" 'd'";
        assert_eq!(unxml(&xml(text)), text);
        assert_eq!(unxml("x&#65;&#x42;&unknown;"), "xAB&unknown;");
        assert_eq!(
            elements(
                "<D><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object></D>",
                "Key"
            ),
            ["a", "b&amp;c"]
        );
    }

    #[test]
    fn errors_have_aws_shapes() {
        let e = ApiError::from(LocalError::NoSuchQueue("q".into()));
        assert_eq!(e.code, "QueueDoesNotExist");
        assert_eq!(
            e.query_code.as_deref(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
        let r = e.json(
            "com.amazonaws.sqs",
            Some("AWS.SimpleQueueService.NonExistentQueue"),
        );
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        let e = ApiError::from(LocalError::NoSuchBucket("b".into()));
        assert_eq!((e.status, e.code.as_str()), (404, "NoSuchBucket"));
    }
}
