//! S3 API calls recorded by CloudTrail and delivered by EventBridge (`source: aws.s3`,
//! `detail-type: AWS API Call via CloudTrail`). The `detail` is the CloudTrail record as AWS
//! documents it for S3 data events ("CloudTrail log file entries for Amazon S3",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html>):
//! `eventName` is the API operation, `requestParameters.bucketName` and `.key` (`.Key` in
//! the documented PutObject example) name the object, `responseElements` may hold the new
//! `x-amz-version-id` and `ETag`, and `requestID`, `sourceIPAddress` and
//! `userIdentity.principalId` say who asked.
//!
//! `aws_lambda_events`' `AWSAPICall` type is not used: it requires fields this mapping does
//! not read (`userAgent`, `eventType`, `eventID`, ...), and a record without one of them
//! still names its object.
//!
//! The calls that change objects map to the kinds the native and EventBridge S3 paths give
//! (PutObject -> `object_created` with reason `Put`, DeleteObject -> `object_removed`, ...);
//! DeleteObjects gives one event per key in `requestParameters.delete.Object`. A call that
//! failed (`errorCode` set) changed nothing: it is `other_s3` with the operation and the
//! error as its reason. CloudTrail keys are not URL-encoded. Records carry no sequencer, so
//! the de-duplication id falls back to the event time (see [`super::id`]).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::event::{str_at, DeletionType, Event, Kind, NormalizeError, Path};

pub(crate) const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

const SHAPE: &str = "EventBridge aws.s3 CloudTrail event";

pub(super) fn s3_calls(typed: &EventBridgeEvent<Value>) -> Result<Vec<Event>, NormalizeError> {
    let d = &typed.detail;
    let text = |path: &[&str]| str_at(d, path);
    let call = CallFields {
        operation: text(&["eventName"]),
        bucket: text(&["requestParameters", "bucketName"]),
        error_code: text(&["errorCode"]),
        request_id: text(&["requestID"]),
        source_ip: text(&["sourceIPAddress"]),
        requester: text(&["userIdentity", "principalId"]),
        key: text(&["requestParameters", "key"]).or_else(|| text(&["requestParameters", "Key"])),
        etag: text(&["responseElements", "ETag"]),
        requested_version: text(&["requestParameters", "versionId"]),
        response_version: text(&["responseElements", "x-amz-version-id"]),
        delete_marker: text(&["responseElements", "x-amz-delete-marker"]),
    };
    s3_calls_from(&call, || deleted_objects(d))
}

/// The `detail` fields of a CloudTrail S3 call that become [`Event`] fields, as strings
/// where the JSON has strings (both readers, the `Value` one here and the borrowed one in
/// `event::fast`, fill this in; one mapping, [`s3_calls_from`], turns it into events).
pub(crate) struct CallFields<'a> {
    /// `eventName`, the API operation.
    pub operation: Option<&'a str>,
    /// `requestParameters.bucketName`.
    pub bucket: Option<&'a str>,
    pub error_code: Option<&'a str>,
    /// `requestID`.
    pub request_id: Option<&'a str>,
    /// `sourceIPAddress`.
    pub source_ip: Option<&'a str>,
    /// `userIdentity.principalId`.
    pub requester: Option<&'a str>,
    /// `requestParameters.key` when a string, else `requestParameters.Key`.
    pub key: Option<&'a str>,
    /// `responseElements.ETag`.
    pub etag: Option<&'a str>,
    /// `requestParameters.versionId`.
    pub requested_version: Option<&'a str>,
    /// `responseElements.x-amz-version-id`.
    pub response_version: Option<&'a str>,
    /// `responseElements.x-amz-delete-marker`.
    pub delete_marker: Option<&'a str>,
}

/// The events of a CloudTrail S3 call (not yet their envelope fields or ids). `deleted`
/// gives the `(Key, VersionId)` of each object a successful DeleteObjects names; it is
/// called only then.
pub(crate) fn s3_calls_from<'a>(
    call: &CallFields<'a>,
    deleted: impl FnOnce() -> Result<Vec<(&'a str, Option<&'a str>)>, NormalizeError>,
) -> Result<Vec<Event>, NormalizeError> {
    let operation = call
        .operation
        .ok_or_else(|| NormalizeError::malformed(SHAPE, "`detail.eventName` must be a string"))?;
    let bucket = call.bucket.ok_or_else(|| {
        NormalizeError::malformed(
            SHAPE,
            "`detail.requestParameters.bucketName` must be a string",
        )
    })?;
    let failed = call.error_code;
    let (kind, reason) = match (failed, operation) {
        (Some(code), _) => (Kind::OtherS3, Some(format!("{operation} failed: {code}"))),
        (None, "PutObject") => (Kind::ObjectCreated, Some("Put".to_owned())),
        (None, "PostObject") => (Kind::ObjectCreated, Some("Post".to_owned())),
        (None, "CopyObject") => (Kind::ObjectCreated, Some("Copy".to_owned())),
        (None, "CompleteMultipartUpload") => (
            Kind::ObjectCreated,
            Some("CompleteMultipartUpload".to_owned()),
        ),
        (None, "DeleteObject" | "DeleteObjects") => (Kind::ObjectRemoved, None),
        (None, "RestoreObject") => (Kind::ObjectRestoreInitiated, None),
        (None, "PutObjectTagging") => (Kind::ObjectTagsAdded, None),
        (None, "DeleteObjectTagging") => (Kind::ObjectTagsDeleted, None),
        (None, "PutObjectAcl") => (Kind::ObjectAclUpdated, None),
        (None, other) => (Kind::OtherS3, Some(other.to_owned())),
    };
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let mut base = Event::new(kind, Path::Cloudtrail, Value::Null);
    base.reason = reason;
    base.bucket = Some(bucket.to_owned());
    base.request_id = owned(call.request_id);
    base.source_ip = owned(call.source_ip);
    base.requester = owned(call.requester);
    // (`awsRegion` is not read: the envelope's `region` is the event's.)

    if operation == "DeleteObjects" && failed.is_none() {
        return Ok(deleted()?
            .into_iter()
            .map(|(key, version)| {
                let mut event = base.clone();
                event.key = Some(key.to_owned());
                event.version_id = version.filter(|v| !v.is_empty()).map(str::to_owned);
                event.deletion_type = event
                    .version_id
                    .as_ref()
                    .map(|_| DeletionType::PermanentlyDeleted);
                event
            })
            .collect());
    }
    let mut event = base;
    event.key = owned(call.key);
    event.etag = call
        .etag
        .map(|etag| etag.trim_matches('"'))
        .filter(|etag| !etag.is_empty())
        .map(str::to_owned);
    let requested_version = call.requested_version;
    event.version_id = requested_version
        .or(call.response_version)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    if kind == Kind::ObjectRemoved {
        // As S3 says in the response: deleting a version removes it for good; a delete
        // without one, on a versioned bucket, adds a delete marker.
        event.deletion_type = if requested_version.is_some() {
            Some(DeletionType::PermanentlyDeleted)
        } else if call.delete_marker == Some("true") {
            Some(DeletionType::DeleteMarkerCreated)
        } else {
            None
        };
    }
    Ok(vec![event])
}

/// DeleteObjects: one `(Key, VersionId)` per `requestParameters.delete.Object` entry.
/// CloudTrail renders the XML request as JSON, so a single entry may be an object rather
/// than an array of one.
fn deleted_objects(detail: &Value) -> Result<Vec<(&str, Option<&str>)>, NormalizeError> {
    let entries: Vec<&Value> = match detail
        .get("requestParameters")
        .and_then(|p| p.get("delete"))
        .and_then(|p| p.get("Object"))
    {
        Some(Value::Array(entries)) => entries.iter().collect(),
        Some(entry @ Value::Object(_)) => vec![entry],
        _ => Vec::new(),
    };
    if entries.is_empty() {
        return Err(NormalizeError::malformed(
            SHAPE,
            "DeleteObjects: `detail.requestParameters.delete.Object` lists no object",
        ));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let key = str_at(entry, &["Key"]).ok_or_else(|| {
                NormalizeError::malformed(
                    SHAPE,
                    format!("DeleteObjects: `detail.requestParameters.delete.Object[{i}].Key` must be a string"),
                )
            })?;
            Ok((key, str_at(entry, &["VersionId"])))
        })
        .collect()
}
