//! EventBridge events: S3 changes from `aws.s3`, the `package-revision` custom event, and any
//! other custom event.
//!
//! The envelope is read through `aws_lambda_events`' `EventBridgeEvent<Value>`. S3 detail
//! field names follow AWS (`object.etag`, `object.version-id`, `reason`, `deletion-type`,
//! `request-id`, `requester`, `source-ip-address`); moto's spellings (`object.eTag`,
//! `reason: ObjectCreated`) are accepted too. EventBridge keys are not URL-encoded.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    id, size_at, str_at, CustomEvent, DeletionType, Event, Kind, NormalizeError, PackageRevision,
    Path,
};

mod cloudtrail;

pub(crate) use cloudtrail::{s3_calls_from, CallFields, DETAIL_TYPE as CLOUDTRAIL_DETAIL_TYPE};

const SHAPE: &str = "EventBridge event";

pub(crate) fn normalize_event(obj: Map<String, Value>) -> Result<Vec<Event>, NormalizeError> {
    let original = Value::Object(obj);
    check_time(&original)?;
    let typed = EventBridgeEvent::<Value>::deserialize(&original)
        .map_err(|e| NormalizeError::malformed(SHAPE, e.to_string()))?;
    if typed.source == "aws.s3" && typed.detail_type == cloudtrail::DETAIL_TYPE {
        let mut events = cloudtrail::s3_calls(&typed)?;
        for event in &mut events {
            envelope(event, &typed, &original);
            event.id = id::s3_change_id(event);
            event.original = original.clone().into();
        }
        return Ok(events);
    }
    let mut event = if typed.source == "aws.s3" {
        s3_change(&typed, &original)?
    } else if typed.detail_type == "package-revision" {
        package_revision(&typed)?
    } else {
        let mut event = Event::new(Kind::Custom, Path::Eventbridge, Value::Null);
        event.custom = Some(CustomEvent {
            source: typed.source.clone(),
            detail_type: typed.detail_type.clone(),
            detail: typed.detail.clone().into(),
        });
        event.id = custom_id(&typed, &original);
        event
    };
    envelope(&mut event, &typed, &original);
    if event.kind != Kind::Custom && event.kind != Kind::PackageRevision {
        event.id = id::s3_change_id(&event);
    }
    event.original = original.into();
    Ok(vec![event])
}

/// EventBridge's `time` is an RFC 3339 timestamp ("The event timestamp, which can be
/// specified by the service originating the event", written like `2017-12-22T18:43:48Z`:
/// <https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html>). One
/// that is not says so, with the field and the value, rather than serde's bare
/// "input contains invalid characters".
fn check_time(original: &Value) -> Result<(), NormalizeError> {
    match original.get("time") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(time)) if chrono::DateTime::parse_from_rfc3339(time).is_ok() => Ok(()),
        Some(other) => Err(NormalizeError::malformed(
            SHAPE,
            format!(
                "`time` must be an RFC 3339 timestamp (like 2017-12-22T18:43:48Z), found {}",
                super::excerpt(other)
            ),
        )),
    }
}

/// What every event takes from the EventBridge envelope.
fn envelope(event: &mut Event, typed: &EventBridgeEvent<Value>, original: &Value) {
    event.time = str_at(original, &["time"]).map(str::to_owned);
    event.region = typed.region.clone();
    event.account = typed.account.clone();
    event.provenance.source = Some(typed.source.clone());
    event.provenance.resources = typed.resources.clone().unwrap_or_default();
}

/// The EventBridge `id` when present; otherwise a hash of the whole event (canonical JSON).
fn custom_id(typed: &EventBridgeEvent<Value>, original: &Value) -> String {
    match typed.id.as_deref() {
        Some(id) if !id.is_empty() => format!("eb-{id}"),
        _ => id::hashed("ebhash", &[&original.to_string()]),
    }
}

fn package_revision(typed: &EventBridgeEvent<Value>) -> Result<Event, NormalizeError> {
    let detail = &typed.detail;
    let field = |name: &str| {
        str_at(detail, &[name]).map(str::to_owned).ok_or_else(|| {
            NormalizeError::malformed(
                "EventBridge package-revision event",
                format!("`detail.{name}` must be a string"),
            )
        })
    };
    let package = PackageRevision {
        revision_type: str_at(detail, &["type"]).map(str::to_owned),
        bucket: field("bucket")?,
        handle: field("handle")?,
        top_hash: field("topHash")?,
    };
    let mut event = Event::new(Kind::PackageRevision, Path::Eventbridge, Value::Null);
    event.bucket = Some(package.bucket.clone());
    event.package = Some(package);
    event.custom = Some(CustomEvent {
        source: typed.source.clone(),
        detail_type: typed.detail_type.clone(),
        detail: typed.detail.clone().into(),
    });
    event.id = match typed.id.as_deref() {
        Some(id) if !id.is_empty() => format!("eb-{id}"),
        _ => id::hashed("ebhash", &[&typed.detail.to_string()]),
    };
    Ok(event)
}

/// The `detail` fields of an `aws.s3` EventBridge event that become [`Event`] fields, as
/// strings where the JSON has strings (both readers, the `Value` one here and the borrowed
/// one in `event::fast`, fill this in; one mapping turns it into the event).
pub(crate) struct S3Detail<'a> {
    pub reason: Option<&'a str>,
    pub deletion_type: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// The size, or why `detail.object.size` is not one.
    pub size: Result<Option<u64>, String>,
    pub etag: Option<&'a str>,
    /// moto's spelling, `object.eTag`.
    pub etag_moto: Option<&'a str>,
    pub sequencer: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub requester: Option<&'a str>,
    pub destination_storage_class: Option<&'a str>,
    pub source_storage_class: Option<&'a str>,
    pub destination_access_tier: Option<&'a str>,
    pub restore_expiry_time: Option<&'a str>,
}

fn s3_change(typed: &EventBridgeEvent<Value>, _original: &Value) -> Result<Event, NormalizeError> {
    let d = &typed.detail;
    let text = |path: &[&str]| str_at(d, path);
    let detail = S3Detail {
        reason: text(&["reason"]),
        deletion_type: text(&["deletion-type"]),
        bucket: text(&["bucket", "name"]),
        key: text(&["object", "key"]),
        version_id: text(&["object", "version-id"]),
        size: size_at(d, &["object", "size"], "detail.object.size"),
        etag: text(&["object", "etag"]),
        etag_moto: text(&["object", "eTag"]),
        sequencer: text(&["object", "sequencer"]),
        request_id: text(&["request-id"]),
        source_ip: text(&["source-ip-address"]),
        requester: text(&["requester"]),
        destination_storage_class: text(&["destination-storage-class"]),
        source_storage_class: text(&["source-storage-class"]),
        destination_access_tier: text(&["destination-access-tier"]),
        restore_expiry_time: text(&["restore-expiry-time"]),
    };
    s3_change_from(&typed.detail_type, &detail)
}

/// The event for an `aws.s3` change of `detail_type` (not yet its envelope fields or id).
pub(crate) fn s3_change_from(detail_type: &str, d: &S3Detail) -> Result<Event, NormalizeError> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let reason = d.reason;
    let deletion_type = match d.deletion_type {
        Some("Permanently Deleted") => Some(DeletionType::PermanentlyDeleted),
        Some("Delete Marker Created") => Some(DeletionType::DeleteMarkerCreated),
        _ => None,
    };
    let (kind, reason) = match detail_type {
        "Object Created" => (Kind::ObjectCreated, reason.and_then(created_reason)),
        "Object Deleted" if reason == Some("Lifecycle Expiration") => {
            (Kind::LifecycleExpiration, None)
        }
        "Object Deleted" => (Kind::ObjectRemoved, None),
        "Object Restore Initiated" => (Kind::ObjectRestoreInitiated, None),
        "Object Restore Completed" => (Kind::ObjectRestoreCompleted, None),
        "Object Restore Expired" => (Kind::ObjectRestoreExpired, None),
        "Object Tags Added" => (Kind::ObjectTagsAdded, None),
        "Object Tags Deleted" => (Kind::ObjectTagsDeleted, None),
        "Object ACL Updated" => (Kind::ObjectAclUpdated, None),
        "Object Storage Class Changed" => (Kind::StorageClassChanged, None),
        "Object Access Tier Changed" => (Kind::AccessTierChanged, None),
        other => (Kind::OtherS3, Some(other.to_owned())),
    };
    let mut event = Event::new(kind, Path::Eventbridge, Value::Null);
    event.reason = reason;
    event.deletion_type = deletion_type;
    event.bucket = owned(d.bucket);
    if event.bucket.is_none() {
        return Err(NormalizeError::malformed(
            "EventBridge aws.s3 event",
            "`detail.bucket.name` must be a string",
        ));
    }
    event.key = owned(d.key);
    event.version_id = owned(d.version_id.filter(|v| !v.is_empty()));
    event.size = d
        .size
        .clone()
        .map_err(|m| NormalizeError::malformed("EventBridge aws.s3 event", m))?;
    event.etag = owned(d.etag.or(d.etag_moto).filter(|v| !v.is_empty()));
    event.sequencer = owned(d.sequencer);
    event.request_id = owned(d.request_id);
    event.source_ip = owned(d.source_ip);
    event.requester = owned(d.requester);
    event.storage_class = owned(d.destination_storage_class.or(d.source_storage_class));
    event.access_tier = owned(d.destination_access_tier);
    event.restore_expiry_time = owned(d.restore_expiry_time);
    Ok(event)
}

/// AWS's EventBridge reasons, in the native event names' words (`PutObject` -> `Put`), so
/// both paths give the same reason. moto's `ObjectCreated` says nothing: no reason.
fn created_reason(reason: &str) -> Option<String> {
    match reason {
        "PutObject" => Some("Put".into()),
        "POST Object" | "PostObject" => Some("Post".into()),
        "CopyObject" => Some("Copy".into()),
        "CompleteMultipartUpload" => Some("CompleteMultipartUpload".into()),
        "ObjectCreated" => None,
        other => Some(other.to_owned()),
    }
}
