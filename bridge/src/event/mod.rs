//! The one normalized event type, and `normalize`: every shape an SQS message body can
//! have becomes a list of [`Event`]s, so users write one handler whatever path an event took.
//!
//! Shapes recognized (tried in this order, see [`SHAPES_TRIED`]):
//! 1. an SNS notification envelope (`Type: Notification`, `Message` a JSON string) — the
//!    inner message is normalized again and the events remember the topic;
//! 2. native S3 event notifications (`Records[]`, one event per record);
//! 3. `s3:TestEvent` messages (one [`Kind::TestEvent`] event, never an error);
//! 4. EventBridge events: `aws.s3` S3 changes, the Quilt `package-revision` custom event, and
//!    any other custom event kept whole.
//!
//! SNS raw message delivery puts the bare inner body on the queue: it cannot be told apart
//! from direct delivery, and normalizes as the inner shape.
//!
//! The same S3 change normalizes to the same kind, bucket, key, size, etag, sequencer and
//! [`Event::id`] whether it arrived natively or through EventBridge; see [`id`] for how the
//! de-duplication id is derived.

mod eventbridge;
pub mod id;
mod keys;
mod s3;
mod s3_objects;
mod sns;
pub mod store;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub use keys::decode_form_key;
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
    pub detail: Value,
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
    /// The JSON this event was made from: the S3 record, the test event or the EventBridge event.
    pub original: Value,
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
            original,
        }
    }

    /// Reads the object this event is about through `store` (lazily: nothing is fetched
    /// until asked). `None` when the event names no object.
    pub fn read_object(&self, store: &dyn ObjectStore) -> Option<Result<Vec<u8>, StoreError>> {
        let bucket = self.bucket.as_deref()?;
        let key = self.key.as_deref()?;
        if self.kind == Kind::PackageRevision || self.kind == Kind::Custom {
            return None;
        }
        Some(store.get(bucket, key, self.version_id.as_deref()))
    }
}

/// Normalizes one SQS message body into the events it carries.
pub fn normalize(body: &str) -> Result<Vec<Event>, NormalizeError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
    normalize_value(value)
}

/// [`normalize`] for a body already parsed.
pub fn normalize_value(value: Value) -> Result<Vec<Event>, NormalizeError> {
    normalize_inner(value, 0)
}

/// SNS envelopes nest at most this deep (SNS -> SNS is not a thing AWS does; one level of
/// slack keeps a hostile body from recursing without bound).
const MAX_ENVELOPE_DEPTH: usize = 2;

fn normalize_inner(value: Value, depth: usize) -> Result<Vec<Event>, NormalizeError> {
    let Value::Object(obj) = value else {
        return Err(NormalizeError::UnknownShape {
            seen: format!("(not an object: {})", json_type(&value)),
        });
    };
    if sns::is_envelope(&obj) {
        if depth >= MAX_ENVELOPE_DEPTH {
            return Err(NormalizeError::malformed(
                "SNS notification envelope",
                "envelopes nested too deep",
            ));
        }
        let (inner, via) = sns::unwrap(obj)?;
        let mut events = normalize_inner(inner, depth + 1)?;
        for event in &mut events {
            via.apply(event);
        }
        return Ok(events);
    }
    if obj.contains_key("Records") {
        return s3::normalize_records(obj);
    }
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![s3::test_event(obj)]);
    }
    if obj.contains_key("detail-type") && obj.contains_key("source") {
        return eventbridge::normalize_event(obj).map(|e| vec![e]);
    }
    Err(NormalizeError::UnknownShape {
        seen: describe_keys(&obj),
    })
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

/// A size as AWS writes it: a JSON number, or (some emulators) a numeric string.
pub(crate) fn size_at(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
