//! The one normalized event type, and `normalize`: every shape an SQS message body can
//! have becomes a list of [`Event`]s, so users write one handler whatever path an event took.
//!
//! Shapes recognized (tried in this order, see [`SHAPES_TRIED`]):
//! 1. an SNS notification envelope (`Type: Notification`, `Message` a JSON string) — the
//!    inner message is normalized again and the events remember the topic;
//! 2. native S3 event notifications (`Records[]`, one event per record);
//! 3. `s3:TestEvent` messages (one [`Kind::TestEvent`] event, never an error);
//! 4. EventBridge events: `aws.s3` S3 changes (including S3 API calls recorded by
//!    CloudTrail, `detail-type: AWS API Call via CloudTrail`), the Quilt `package-revision`
//!    custom event, and any other custom event kept whole.
//!
//! [`normalize`] accepts those shapes only. [`normalize_with`] and [`Strictness::Lenient`]
//! (what `bridge consume` uses unless `--strict`) also accept every other legitimate
//! message: a JSON body of no AWS shape (what an EventBridge input transformer produces) or
//! an SNS notification whose `Message` is text or such JSON becomes one [`Kind::Message`]
//! event, and an SNS subscription or unsubscribe confirmation one [`Kind::SnsConfirmation`]
//! event (never confirmed). A body that is not JSON is an error either way.
//!
//! SNS raw message delivery puts the bare inner body on the queue: it cannot be told apart
//! from direct delivery, and normalizes as the inner shape.
//!
//! The same S3 change normalizes to the same kind, bucket, key, size, etag, sequencer and
//! [`Event::id`] whether it arrived natively or through EventBridge; see [`id`] for how the
//! de-duplication id is derived.

mod eventbridge;
mod fast;
pub mod id;
mod keys;
mod raw;
mod s3;
mod s3_objects;
mod sns;
pub mod store;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub use keys::decode_form_key;
pub use raw::RawJson;
pub use store::{LocalDirStore, ObjectStore, StoreError};

/// Names of the shapes `normalize` tries, in order; quoted by [`NormalizeError::UnknownShape`].
pub const SHAPES_TRIED: &[&str] = &[
    "SNS notification envelope (Type: Notification)",
    "S3 event notification (Records[])",
    "S3 test event (Event: s3:TestEvent)",
    "EventBridge event (source, detail-type, detail)",
];

/// Why a body could not be normalized. Each message names the shape and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "the body is no known message shape; tried: {}. Top-level fields seen: {seen}",
        SHAPES_TRIED.join("; ")
    )]
    UnknownShape { seen: String },
    #[error(
        "the body nests JSON more than {limit} levels deep (bridge's limit; EventBridge \
         itself processes up to 1100)"
    )]
    TooDeep { limit: usize },
    #[error("{shape}: {message}")]
    Malformed {
        shape: &'static str,
        message: String,
    },
}

impl NormalizeError {
    pub(crate) fn malformed(shape: &'static str, message: impl Into<String>) -> Self {
        NormalizeError::Malformed {
            shape,
            message: message.into(),
        }
    }
}

/// What happened. Serialized as snake_case strings (`"object_created"`, ...).
///
/// Native `eventName`s and EventBridge `detail-type`s that describe the same change map to
/// the same kind (e.g. `LifecycleTransition` and `Object Storage Class Changed` are both
/// [`Kind::StorageClassChanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `ObjectCreated:*` / `Object Created`; [`Event::reason`] says Put, Post, Copy or
    /// CompleteMultipartUpload.
    ObjectCreated,
    /// `ObjectRemoved:*` / `Object Deleted` (reason DeleteObject); see [`Event::deletion_type`].
    ObjectRemoved,
    /// `LifecycleExpiration:*` / `Object Deleted` with reason `Lifecycle Expiration`.
    LifecycleExpiration,
    /// `ObjectRestore:Post` / `Object Restore Initiated`.
    ObjectRestoreInitiated,
    /// `ObjectRestore:Completed` / `Object Restore Completed`.
    ObjectRestoreCompleted,
    /// `ObjectRestore:Delete` / `Object Restore Expired`.
    ObjectRestoreExpired,
    /// `ReducedRedundancyLostObject` (native only).
    ReducedRedundancyLostObject,
    /// `Replication:*` (native only); the reason is the operation (e.g. OperationFailedReplication).
    Replication,
    /// `LifecycleTransition` / `Object Storage Class Changed`.
    StorageClassChanged,
    /// `IntelligentTiering` / `Object Access Tier Changed`.
    AccessTierChanged,
    /// `ObjectTagging:Put` / `Object Tags Added`.
    ObjectTagsAdded,
    /// `ObjectTagging:Delete` / `Object Tags Deleted`.
    ObjectTagsDeleted,
    /// `ObjectAcl:Put` / `Object ACL Updated`.
    ObjectAclUpdated,
    /// An S3 change this version does not know; the reason holds AWS's name for it.
    OtherS3,
    /// `s3:TestEvent`, sent once when a notification configuration is saved.
    TestEvent,
    /// The custom `package-revision` event (see [`PackageRevision`]).
    PackageRevision,
    /// Any other custom EventBridge event; see [`Event::custom`].
    Custom,
    /// A legitimate message of no AWS event shape: what an EventBridge input transformer
    /// produces (a JSON string, a custom object), or an SNS notification whose `Message` is
    /// not an AWS event. The body is in [`Event::message`]. Also what
    /// [`crate::consumer::pass_through`] (`--raw`) makes of every body.
    Message,
    /// An SNS `SubscriptionConfirmation` or `UnsubscribeConfirmation` (the type is the
    /// [`Event::reason`]). Never confirmed by bridge: the `SubscribeURL` is in
    /// [`Event::original`] for whoever decides to visit it.
    SnsConfirmation,
}

impl Kind {
    /// Every kind, in declaration order (for schemas and tests that must cover them all; the
    /// test `all_names_every_kind` keeps it complete).
    pub const ALL: [Kind; 19] = [
        Kind::ObjectCreated,
        Kind::ObjectRemoved,
        Kind::LifecycleExpiration,
        Kind::ObjectRestoreInitiated,
        Kind::ObjectRestoreCompleted,
        Kind::ObjectRestoreExpired,
        Kind::ReducedRedundancyLostObject,
        Kind::Replication,
        Kind::StorageClassChanged,
        Kind::AccessTierChanged,
        Kind::ObjectTagsAdded,
        Kind::ObjectTagsDeleted,
        Kind::ObjectAclUpdated,
        Kind::OtherS3,
        Kind::TestEvent,
        Kind::PackageRevision,
        Kind::Custom,
        Kind::Message,
        Kind::SnsConfirmation,
    ];

    /// The serialized name (`"object_created"`, ...), without going through serde.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::ObjectCreated => "object_created",
            Kind::ObjectRemoved => "object_removed",
            Kind::LifecycleExpiration => "lifecycle_expiration",
            Kind::ObjectRestoreInitiated => "object_restore_initiated",
            Kind::ObjectRestoreCompleted => "object_restore_completed",
            Kind::ObjectRestoreExpired => "object_restore_expired",
            Kind::ReducedRedundancyLostObject => "reduced_redundancy_lost_object",
            Kind::Replication => "replication",
            Kind::StorageClassChanged => "storage_class_changed",
            Kind::AccessTierChanged => "access_tier_changed",
            Kind::ObjectTagsAdded => "object_tags_added",
            Kind::ObjectTagsDeleted => "object_tags_deleted",
            Kind::ObjectAclUpdated => "object_acl_updated",
            Kind::OtherS3 => "other_s3",
            Kind::TestEvent => "test_event",
            Kind::PackageRevision => "package_revision",
            Kind::Custom => "custom",
            Kind::Message => "message",
            Kind::SnsConfirmation => "sns_confirmation",
        }
    }
}

/// How an object went away, where AWS says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionType {
    /// Native `...:Delete`, EventBridge `Permanently Deleted`.
    PermanentlyDeleted,
    /// Native `...:DeleteMarkerCreated`, EventBridge `Delete Marker Created`.
    DeleteMarkerCreated,
}

/// Which path the event took to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// An S3 event notification sent by S3 itself (to SQS or SNS).
    S3,
    /// An event delivered by an EventBridge rule.
    Eventbridge,
    /// An S3 API call recorded by CloudTrail (`detail-type: AWS API Call via CloudTrail`),
    /// delivered by an EventBridge rule.
    Cloudtrail,
    /// A body that does not say how it reached the queue: a [`Kind::Message`] (an SNS
    /// notification around it still shows in [`Provenance::sns_topic_arn`]).
    Unknown,
}

/// Where the event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub path: Path,
    /// The event's `source` (`aws:s3` for native records, `aws.s3` or the custom source).
    pub source: Option<String>,
    /// The rule that sent it, when the message says: the S3 notification configuration id
    /// (`s3.configurationId`) for native records. EventBridge does not put the rule name in
    /// the event, so it is null there.
    pub rule: Option<String>,
    /// The SNS topic the message passed through (null for direct delivery or raw delivery).
    pub sns_topic_arn: Option<String>,
    /// The SNS message id, when it passed through SNS.
    pub sns_message_id: Option<String>,
    /// EventBridge `resources` (bucket ARNs for S3 events).
    pub resources: Vec<String>,
}

/// The Quilt package-revision custom event (`detail-type: package-revision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRevision {
    /// `detail.type` (e.g. `created`).
    #[serde(rename = "type")]
    pub revision_type: Option<String>,
    pub bucket: String,
    pub handle: String,
    pub top_hash: String,
}

/// A custom EventBridge event, kept whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomEvent {
    pub source: String,
    pub detail_type: String,
    /// The event's `detail`, kept as received and parsed on first use (see [`RawJson`]).
    pub detail: RawJson,
}

/// The one normalized event. Serialized with the field names below (see
/// `schema/event.schema.json`); absent values are `null`, never missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable de-duplication id, equal for the same S3 change on every path (see [`id`]).
    pub id: String,
    pub kind: Kind,
    /// Why, in AWS's words normalized to the native suffix (`Put`, `Copy`, ...), where known.
    pub reason: Option<String>,
    pub deletion_type: Option<DeletionType>,
    pub bucket: Option<String>,
    /// The object key, decoded (native keys arrive form-encoded).
    pub key: Option<String>,
    pub version_id: Option<String>,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    /// When it happened, verbatim from the message (ISO 8601).
    pub time: Option<String>,
    pub region: Option<String>,
    /// The AWS account (EventBridge `account`; native records do not carry it).
    pub account: Option<String>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    /// Who made the request (principal id or account), where given.
    pub requester: Option<String>,
    /// Destination storage class (transitions) or source storage class (restores).
    pub storage_class: Option<String>,
    /// Destination Intelligent-Tiering access tier.
    pub access_tier: Option<String>,
    /// When a restored copy expires.
    pub restore_expiry_time: Option<String>,
    pub provenance: Provenance,
    /// User metadata: SNS message attributes (`Name -> Value`) when the message came through SNS.
    pub metadata: BTreeMap<String, String>,
    pub package: Option<PackageRevision>,
    pub custom: Option<CustomEvent>,
    /// For [`Kind::Message`]: the body, as JSON or as text; for [`Kind::SnsConfirmation`],
    /// SNS's `Message` text.
    pub message: Option<MessageBody>,
    /// The JSON this event was made from: the S3 record, the test event or the EventBridge
    /// event. Kept as received and parsed only when read (see [`RawJson`]: it reads like the
    /// `serde_json::Value` and serializes as one).
    pub original: RawJson,
    /// Made by [`crate::consumer::pass_through`]: the built-in handlers write `original`
    /// (the body as delivered) rather than the normalized event. Not serialized.
    #[serde(skip)]
    pass_through: bool,
}

/// The body of a [`Kind::Message`] event: JSON, or (`text` set, `json` null) text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    /// The body, when it is JSON (any JSON value: an object, a string, ...); null for text.
    pub json: Value,
    /// The body, when it is text that is not JSON (an SNS `Message` of plain text).
    pub text: Option<String>,
}

impl Event {
    /// An event with every optional field empty; the shape modules fill it in.
    pub(crate) fn new(kind: Kind, path: Path, original: Value) -> Self {
        Event {
            id: String::new(),
            kind,
            reason: None,
            deletion_type: None,
            bucket: None,
            key: None,
            version_id: None,
            size: None,
            etag: None,
            sequencer: None,
            time: None,
            region: None,
            account: None,
            request_id: None,
            source_ip: None,
            requester: None,
            storage_class: None,
            access_tier: None,
            restore_expiry_time: None,
            provenance: Provenance {
                path,
                source: None,
                rule: None,
                sns_topic_arn: None,
                sns_message_id: None,
                resources: Vec::new(),
            },
            metadata: BTreeMap::new(),
            package: None,
            custom: None,
            message: None,
            original: original.into(),
            pass_through: false,
        }
    }

    /// The body parsed as JSON, kept whole as a [`Kind::Message`] event whose handler JSON
    /// is the body itself (see [`Event::handler_json`]). The id is the body's `id` when that
    /// is a string, else empty (no de-duplication).
    pub fn pass_through(body: Value) -> Self {
        let mut event = Event::new(Kind::Message, Path::Unknown, Value::Null);
        event.id = str_at(&body, &["id"]).unwrap_or_default().to_owned();
        event.message = Some(MessageBody {
            json: body.clone(),
            text: None,
        });
        event.original = body.into();
        event.pass_through = true;
        event
    }

    /// Whether this event was made by [`crate::consumer::pass_through`] (`--raw`).
    pub fn is_pass_through(&self) -> bool {
        self.pass_through
    }

    /// The JSON the built-in handlers (JSON lines, `--exec`, `--http`) write and patterns
    /// are matched against: the event as serialized, or for a pass-through event the body
    /// as delivered.
    pub fn handler_json(&self) -> Value {
        if self.pass_through {
            return self.original.value().clone();
        }
        // An Event always serializes: its maps have string keys and its `Value`s were JSON.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// [`Event::handler_json`] as bytes, without the intermediate `Value`.
    pub fn handler_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        if self.pass_through {
            serde_json::to_vec(&self.original)
        } else {
            serde_json::to_vec(self)
        }
    }

    /// Reads the object this event is about through `store` (lazily: nothing is fetched
    /// until asked). `None` when the event names no object.
    pub fn read_object(&self, store: &dyn ObjectStore) -> Option<Result<Vec<u8>, StoreError>> {
        let bucket = self.bucket.as_deref()?;
        let key = self.key.as_deref()?;
        if matches!(
            self.kind,
            Kind::PackageRevision | Kind::Custom | Kind::Message | Kind::SnsConfirmation
        ) {
            return None;
        }
        Some(store.get(bucket, key, self.version_id.as_deref()))
    }
}

/// Which bodies [`normalize_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// AWS event shapes, and every other legitimate message as a [`Kind::Message`] event
    /// (a JSON value of no AWS shape, an SNS notification whose `Message` is text or custom
    /// JSON) or a [`Kind::SnsConfirmation`] event. What `bridge consume` does by default.
    Lenient,
    /// AWS event shapes only: anything else is [`NormalizeError::UnknownShape`] (or, for an
    /// SNS notification of text, [`NormalizeError::Malformed`]). `bridge consume --strict`.
    Strict,
}

/// Normalizes one SQS message body into the events it carries: AWS event shapes only
/// (`normalize_with(body, Strictness::Strict)`).
pub fn normalize(body: &str) -> Result<Vec<Event>, NormalizeError> {
    normalize_with(body, Strictness::Strict)
}

/// Normalizes one SQS message body; see [`Strictness`] for what becomes of a body of no AWS
/// event shape. A body that is not JSON is an error either way.
pub fn normalize_with(body: &str, strictness: Strictness) -> Result<Vec<Event>, NormalizeError> {
    // The common shapes in one borrowed pass; anything else (or anything odd about them)
    // the careful way, through a `Value`.
    if let Some(events) = fast::normalize(body) {
        return Ok(events);
    }
    normalize_careful(body, strictness)
}

/// The fast path alone: `None` where it leaves the body to the careful path. For tests.
#[doc(hidden)]
pub fn normalize_fast(body: &str) -> Option<Vec<Event>> {
    fast::normalize(body)
}

/// [`normalize_with`] through a parsed `Value` only (no fast path): what the fast path must
/// agree with. For tests.
#[doc(hidden)]
pub fn normalize_careful(body: &str, strictness: Strictness) -> Result<Vec<Event>, NormalizeError> {
    parse_then(body, |value| normalize_inner(value, 0, strictness))
}

/// How deep the JSON of a body (and of the `Message` inside an SNS envelope) may nest.
/// EventBridge's PutEvents "will only process nested JSON up to 1100 levels deep"
/// (<https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html>), so an
/// event EventBridge delivered, inside its envelope, always fits. A deeper body is
/// [`NormalizeError::TooDeep`], found by a scan before parsing: never a stack overflow.
pub const MAX_JSON_DEPTH: usize = 1200;

/// Bodies nesting at most this deep are parsed on the caller's stack, as serde_json does
/// by default (its limit is 128); deeper ones on a stack of [`DEEP_STACK`] bytes.
const SHALLOW: usize = 100;

/// Enough for [`MAX_JSON_DEPTH`] levels of parsing, typed reads, hashing and cloning, in
/// debug builds too (a level costs well under 4 KiB there).
const DEEP_STACK: usize = 16 << 20;

/// How deep `text` nests arrays and objects, counting no further than `limit + 1`. Only
/// brackets outside strings count; the text need not be valid JSON (the parser says why).
pub(crate) fn nesting(text: &[u8], limit: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > limit {
                        return deepest;
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses JSON text nesting at most [`MAX_JSON_DEPTH`] levels and hands the value to `then`;
/// both run on a stack of their own when the text nests deeper than serde_json's default
/// allows ([`NormalizeError::TooDeep`] past the limit, [`NormalizeError::NotJson`] for what
/// does not parse).
pub(crate) fn parse_then<T>(
    text: &str,
    then: impl FnOnce(Value) -> Result<T, NormalizeError>,
) -> Result<T, NormalizeError> {
    let depth = nesting(text.as_bytes(), MAX_JSON_DEPTH);
    if depth > MAX_JSON_DEPTH {
        return Err(NormalizeError::TooDeep {
            limit: MAX_JSON_DEPTH,
        });
    }
    let run = || then(parse_unchecked(text)?);
    if depth > SHALLOW {
        // Parsing and reading a deep value recurses once per level: give it room.
        stacker::grow(DEEP_STACK, run)
    } else {
        run()
    }
}

/// The body parsed as JSON, whatever its shape, within [`MAX_JSON_DEPTH`] (`--raw`).
pub fn parse_body(text: &str) -> Result<Value, NormalizeError> {
    parse_then(text, Ok)
}

/// Parses text already known to nest at most [`MAX_JSON_DEPTH`] levels.
fn parse_unchecked(text: &str) -> Result<Value, NormalizeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    // Bounded by the scan above instead of serde_json's fixed 128.
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
    de.end()
        .map_err(|e| NormalizeError::NotJson(e.to_string()))?;
    Ok(value)
}

/// [`normalize`] for a body already parsed.
pub fn normalize_value(value: Value) -> Result<Vec<Event>, NormalizeError> {
    normalize_value_with(value, Strictness::Strict)
}

/// [`normalize_with`] for a body already parsed.
pub fn normalize_value_with(
    value: Value,
    strictness: Strictness,
) -> Result<Vec<Event>, NormalizeError> {
    normalize_inner(value, 0, strictness)
}

/// SNS envelopes nest at most this deep (SNS -> SNS is not a thing AWS does; one level of
/// slack keeps a hostile body from recursing without bound).
const MAX_ENVELOPE_DEPTH: usize = 2;

fn normalize_inner(
    value: Value,
    depth: usize,
    strictness: Strictness,
) -> Result<Vec<Event>, NormalizeError> {
    let lenient = strictness == Strictness::Lenient;
    let obj = match value {
        Value::Object(obj) => obj,
        other if lenient => return Ok(vec![message(other)]),
        other => {
            return Err(NormalizeError::UnknownShape {
                seen: format!("(not an object: {})", json_type(&other)),
            })
        }
    };
    if sns::is_envelope(&obj) {
        if depth >= MAX_ENVELOPE_DEPTH {
            return Err(NormalizeError::malformed(
                "SNS notification envelope",
                "envelopes nested too deep",
            ));
        }
        let (message, via, envelope) = sns::unwrap(obj);
        let inner = parse_then(&message, |inner| {
            normalize_inner(inner, depth + 1, strictness)
        });
        let mut events = match inner {
            Ok(events) => events,
            Err(NormalizeError::NotJson(_)) if lenient => {
                let mut event = Event::new(Kind::Message, Path::Unknown, Value::Null);
                event.id = id::hashed("msg", &["text", &message]);
                event.message = Some(MessageBody {
                    json: Value::Null,
                    text: Some(message),
                });
                event.original = envelope.into();
                vec![event]
            }
            Err(NormalizeError::NotJson(e)) => {
                return Err(NormalizeError::malformed(
                    "SNS notification envelope",
                    format!("`Message` is not JSON: {e}"),
                ))
            }
            Err(e) => return Err(e),
        };
        for event in &mut events {
            via.apply(event);
        }
        return Ok(events);
    }
    if lenient && sns::is_confirmation(&obj) {
        return Ok(vec![sns::confirmation(obj)]);
    }
    if obj.contains_key("Records") {
        return s3::normalize_records(obj);
    }
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![s3::test_event(obj)]);
    }
    if obj.contains_key("detail-type") && obj.contains_key("source") {
        return eventbridge::normalize_event(obj);
    }
    if lenient {
        return Ok(vec![message(Value::Object(obj))]);
    }
    Err(NormalizeError::UnknownShape {
        seen: describe_keys(&obj),
    })
}

/// A JSON body of no AWS shape, kept whole.
fn message(body: Value) -> Event {
    let mut event = Event::new(Kind::Message, Path::Unknown, Value::Null);
    event.id = id::hashed("msg", &["json", &body.to_string()]);
    event.message = Some(MessageBody {
        json: body.clone(),
        text: None,
    });
    event.original = body.into();
    event
}

fn describe_keys(obj: &Map<String, Value>) -> String {
    if obj.is_empty() {
        return "(none)".into();
    }
    let mut keys: Vec<&str> = obj.keys().take(8).map(String::as_str).collect();
    if obj.len() > 8 {
        keys.push("...");
    }
    keys.join(", ")
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `obj[a][b]...` as a string, if every step exists and the last is a string.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// An object size, by the one rule both S3 paths share: a non-negative JSON integer, or a
/// string of decimal digits (some emulators write `"5"`); absent or null is no size.
/// Anything else is an error naming the field (`label`) and what was found.
pub(crate) fn size_at(v: &Value, path: &[&str], label: &str) -> Result<Option<u64>, String> {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return Ok(None),
        }
    }
    let size = match cur {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    };
    size.map(Some).ok_or_else(|| {
        format!(
            "`{label}` must be a non-negative integer or a string of digits, found {}",
            excerpt(cur)
        )
    })
}

/// A field's value for an error message: JSON, cut to 64 characters (errors are logged; the
/// value of one field says what is wrong without copying the body into the log).
pub(crate) fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod kind_tests {
    use super::Kind;

    /// An exhaustive match: a new variant does not compile until it is named here, which is
    /// the reminder to add it to [`Kind::ALL`] (checked by the count).
    #[test]
    fn all_names_every_kind() {
        let mut named = 0;
        for kind in Kind::ALL {
            match kind {
                Kind::ObjectCreated
                | Kind::ObjectRemoved
                | Kind::LifecycleExpiration
                | Kind::ObjectRestoreInitiated
                | Kind::ObjectRestoreCompleted
                | Kind::ObjectRestoreExpired
                | Kind::ReducedRedundancyLostObject
                | Kind::Replication
                | Kind::StorageClassChanged
                | Kind::AccessTierChanged
                | Kind::ObjectTagsAdded
                | Kind::ObjectTagsDeleted
                | Kind::ObjectAclUpdated
                | Kind::OtherS3
                | Kind::TestEvent
                | Kind::PackageRevision
                | Kind::Custom
                | Kind::Message
                | Kind::SnsConfirmation => named += 1,
            }
        }
        assert_eq!(named, 19);
        let distinct: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(distinct.len(), Kind::ALL.len(), "no kind listed twice");
    }
}
