//! Native S3 event notifications (`Records[]`, eventVersion 2.1–2.3) and `s3:TestEvent`.
//!
//! Records are read through `aws_lambda_events`' typed `S3EventRecord`; what it does not
//! model (`glacierEventData`, `lifecycleEventData`, `intelligentTieringEventData`,
//! `replicationEventData`) is read from the record's JSON, which is kept as `original`.

use aws_lambda_events::event::s3::S3EventRecord;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    decode_form_key, id, size_at, str_at, DeletionType, Event, Kind, NormalizeError, Path,
};

const SHAPE: &str = "S3 event notification";

pub(crate) fn normalize_records(mut obj: Map<String, Value>) -> Result<Vec<Event>, NormalizeError> {
    let records = match obj.remove("Records") {
        Some(Value::Array(records)) => records,
        Some(other) => {
            return Err(NormalizeError::malformed(
                SHAPE,
                format!(
                    "`Records` must be an array, found {}",
                    super::json_type(&other)
                ),
            ))
        }
        None => Vec::new(),
    };
    if records.is_empty() {
        return Err(NormalizeError::malformed(SHAPE, "`Records` is empty"));
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            normalize_record(record)
                .map_err(|m| NormalizeError::malformed(SHAPE, format!("Records[{i}]: {m}")))
        })
        .collect()
}

fn normalize_record(record: Value) -> Result<Event, String> {
    let typed = typed_record(&record)?;
    let event_name = typed.event_name.as_deref().ok_or("missing `eventName`")?;
    let object = &typed.s3.object;
    let fields = RecordFields {
        event_name,
        bucket: typed.s3.bucket.name.as_deref(),
        key: object.key.as_deref(),
        version_id: object.version_id.as_deref(),
        // The JSON, not the typed i64: the same rule as the EventBridge path (numeric strings).
        size: size_at(&record, &["s3", "object", "size"], "s3.object.size")?,
        etag: object.e_tag.as_deref(),
        sequencer: object.sequencer.as_deref(),
        // Verbatim, not chrono's re-rendering: handlers compare it with the other path's string.
        time: str_at(&record, &["eventTime"]),
        region: typed.aws_region.as_deref(),
        request_id: typed
            .response_elements
            .get("x-amz-request-id")
            .map(String::as_str),
        source_ip: typed.request_parameters.source_ip_address.as_deref(),
        requester: typed.principal_id.principal_id.as_deref(),
        source: typed.event_source.as_deref(),
        rule: typed.s3.configuration_id.as_deref(),
        storage_class: str_at(
            &record,
            &[
                "lifecycleEventData",
                "transitionEventData",
                "destinationStorageClass",
            ],
        )
        .or_else(|| {
            str_at(
                &record,
                &[
                    "glacierEventData",
                    "restoreEventData",
                    "lifecycleRestoreStorageClass",
                ],
            )
        }),
        access_tier: str_at(
            &record,
            &["intelligentTieringEventData", "destinationAccessTier"],
        ),
        restore_expiry_time: str_at(
            &record,
            &[
                "glacierEventData",
                "restoreEventData",
                "lifecycleRestorationExpiryTime",
            ],
        ),
    };
    let mut event = record_event(&fields);
    event.original = record.into();
    Ok(event)
}

/// What a native record says, read by either reader (the typed one here, the borrowed one in
/// `event::fast`); [`record_event`] is the one mapping from it to an [`Event`].
pub(crate) struct RecordFields<'a> {
    pub event_name: &'a str,
    pub bucket: Option<&'a str>,
    /// As in the record: form-encoded.
    pub key: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub sequencer: Option<&'a str>,
    pub time: Option<&'a str>,
    pub region: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub requester: Option<&'a str>,
    pub source: Option<&'a str>,
    pub rule: Option<&'a str>,
    /// Destination (transitions) or source (restores) storage class.
    pub storage_class: Option<&'a str>,
    pub access_tier: Option<&'a str>,
    pub restore_expiry_time: Option<&'a str>,
}

/// The event for one native record, with its id; `original` is the caller's to set.
pub(crate) fn record_event(f: &RecordFields) -> Event {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let (kind, reason, deletion_type) = classify(f.event_name);
    let mut event = Event::new(kind, Path::S3, Value::Null);
    event.reason = reason;
    event.deletion_type = deletion_type;
    event.bucket = owned(f.bucket);
    event.key = f.key.map(decode_form_key);
    event.version_id = owned(f.version_id.filter(|v| !v.is_empty()));
    event.size = f.size;
    event.etag = owned(f.etag.filter(|v| !v.is_empty()));
    event.sequencer = owned(f.sequencer);
    event.time = owned(f.time);
    event.region = owned(f.region);
    event.request_id = owned(f.request_id);
    event.source_ip = owned(f.source_ip);
    event.requester = owned(f.requester);
    event.provenance.source = owned(f.source);
    event.provenance.rule = owned(f.rule);
    event.storage_class = owned(f.storage_class);
    event.access_tier = owned(f.access_tier);
    event.restore_expiry_time = owned(f.restore_expiry_time);
    event.id = id::s3_change_id(&event);
    event
}

/// The record through `aws_lambda_events`' typed `S3EventRecord`.
///
/// That type insists on a zoned `eventTime`, on `userIdentity` / `requestParameters`
/// objects and on an integer `s3.object.size`. S3-compatible servers leave those out or write a zoneless time (moto:
/// `"2026-11-23T00:49:43.793203"`), so when the strict parse fails the record is retried
/// with placeholders for exactly those fields. Nothing is lost: the time is read verbatim
/// from the JSON, and a placeholder identity or request carries no values.
fn typed_record(record: &Value) -> Result<S3EventRecord, String> {
    let strict_error = match S3EventRecord::deserialize(record) {
        Ok(typed) => return Ok(typed),
        Err(e) => e.to_string(),
    };
    let Value::Object(fields) = record else {
        return Err(format!(
            "a record must be an object, found {}",
            super::json_type(record)
        ));
    };
    let mut lenient = fields.clone();
    lenient.insert("eventTime".into(), Value::from("1970-01-01T00:00:00Z"));
    // The size is read from the JSON by `size_at`, which also takes a numeric string
    // (`"5"`); the typed field wants an integer, so it is left out of the typed parse.
    if let Some(Value::Object(object)) = lenient.get_mut("s3").and_then(|s3| s3.get_mut("object")) {
        object.remove("size");
    }
    for name in ["userIdentity", "requestParameters"] {
        if !lenient.get(name).is_some_and(Value::is_object) {
            lenient.insert(name.into(), Value::Object(Map::new()));
        }
    }
    S3EventRecord::deserialize(&Value::Object(lenient)).map_err(|_| strict_error)
}

/// Maps a native `eventName` to the kind, reason and deletion type.
pub(crate) fn classify(event_name: &str) -> (Kind, Option<String>, Option<DeletionType>) {
    let (family, detail) = match event_name.split_once(':') {
        Some((family, detail)) => (family, Some(detail)),
        None => (event_name, None),
    };
    let deletion = |d: Option<&str>| match d {
        Some("Delete") => Some(DeletionType::PermanentlyDeleted),
        Some("DeleteMarkerCreated") => Some(DeletionType::DeleteMarkerCreated),
        _ => None,
    };
    match (family, detail) {
        ("ObjectCreated", d) => (Kind::ObjectCreated, d.map(str::to_owned), None),
        ("ObjectRemoved", d) => (Kind::ObjectRemoved, None, deletion(d)),
        ("LifecycleExpiration", d) => (Kind::LifecycleExpiration, None, deletion(d)),
        ("ObjectRestore", Some("Post")) => (Kind::ObjectRestoreInitiated, None, None),
        ("ObjectRestore", Some("Completed")) => (Kind::ObjectRestoreCompleted, None, None),
        ("ObjectRestore", Some("Delete")) => (Kind::ObjectRestoreExpired, None, None),
        ("ReducedRedundancyLostObject", _) => (Kind::ReducedRedundancyLostObject, None, None),
        ("Replication", d) => (Kind::Replication, d.map(str::to_owned), None),
        ("LifecycleTransition", _) => (Kind::StorageClassChanged, None, None),
        ("IntelligentTiering", _) => (Kind::AccessTierChanged, None, None),
        ("ObjectTagging", Some("Put")) => (Kind::ObjectTagsAdded, None, None),
        ("ObjectTagging", Some("Delete")) => (Kind::ObjectTagsDeleted, None, None),
        ("ObjectAcl", Some("Put")) => (Kind::ObjectAclUpdated, None, None),
        _ => (Kind::OtherS3, Some(event_name.to_owned()), None),
    }
}

/// `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":...,"Bucket":...,"RequestId":...,"HostId":...}`
pub(crate) fn test_event(obj: Map<String, Value>) -> Event {
    let original = Value::Object(obj);
    let text = |name: &str| str_at(&original, &[name]);
    let mut event = test_event_from(
        text("Service"),
        text("Bucket"),
        text("Time"),
        text("RequestId"),
    );
    event.original = original.into();
    event
}

/// The test event with these fields (either reader's); `original` is the caller's to set.
pub(crate) fn test_event_from(
    service: Option<&str>,
    bucket: Option<&str>,
    time: Option<&str>,
    request_id: Option<&str>,
) -> Event {
    let mut event = Event::new(Kind::TestEvent, Path::S3, Value::Null);
    event.bucket = bucket.map(str::to_owned);
    event.time = time.map(str::to_owned);
    event.request_id = request_id.map(str::to_owned);
    event.provenance.source = service.map(str::to_owned);
    event.id = id::hashed(
        "s3test",
        &[
            bucket.unwrap_or(""),
            time.unwrap_or(""),
            request_id.unwrap_or(""),
        ],
    );
    event
}
