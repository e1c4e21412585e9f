//! The fast path of [`super::normalize_with`]: the common AWS shapes read in one pass into
//! borrowed structs, with no `serde_json::Value` tree; `original` keeps the text.
//!
//! Shapes: EventBridge events (`aws.s3` changes, S3 API calls recorded by CloudTrail,
//! `package-revision`, other custom events with an `id`), native S3 records,
//! `s3:TestEvent`, and any of these inside one SNS
//! notification envelope (its `Message` unescaped once). Everything else — and anything
//! unusual about these: a duplicate key, a field of an unexpected type, a body nesting
//! deeper than serde_json's default 128 levels, anything the `Value`-based reader would
//! refuse or describe in an error — returns `None`, and the caller normalizes the body the careful way, which has
//! the final word. So this path only has to be right when it answers: it answers exactly
//! what the careful path would (checked on every fixture by `tests/tests/normalize.rs`).
//!
//! Every byte of the body is read by a validating parse (typed fields, or [`Checked`] for
//! fields not read): a number out of range, a lone surrogate or bad nesting in a field no
//! one reads must still make the body "not JSON", as the `Value` parse says.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::eventbridge::{
    s3_calls_from, s3_change_from, CallFields, S3Detail, CLOUDTRAIL_DETAIL_TYPE,
};
use super::s3::{record_event, test_event_from, RecordFields};
use super::{id, CustomEvent, Event, Kind, PackageRevision, Path, RawJson};

/// Normalizes `body` if it is one of the shapes above, read without surprises; `None` means
/// "ask the careful path".
pub(crate) fn normalize(body: &str) -> Option<Vec<Event>> {
    let top: Top = serde_json::from_str(body).ok()?;
    let Some(sns_type) = &top.sns_type else {
        return shapes(top, body);
    };
    if sns_type.as_str() != "Notification" {
        return None;
    }
    // SNS envelope: `Message` was unescaped into its own buffer (or borrowed, if it had no
    // escapes); the events inside are read from it.
    let inner_text = top.message?.0;
    let inner: Top = serde_json::from_str(&inner_text).ok()?;
    if inner.sns_type.is_some() {
        return None;
    }
    let mut events = shapes(inner, &inner_text)?;
    let topic_arn = top.topic_arn.map(Str::owned);
    let message_id = top.message_id.map(Str::owned);
    let attributes = top.attributes.map(|a| a.0).unwrap_or_default();
    for event in &mut events {
        event.provenance.sns_topic_arn.clone_from(&topic_arn);
        event.provenance.sns_message_id.clone_from(&message_id);
        for (name, value) in &attributes {
            event
                .metadata
                .insert(name.as_str().to_owned(), value.as_str().to_owned());
        }
    }
    Some(events)
}

/// A body that is not an SNS envelope (`text` is the body the fields were read from).
fn shapes(top: Top, text: &str) -> Option<Vec<Event>> {
    if let Some(records) = top.records {
        return native_records(records);
    }
    if top
        .event
        .as_ref()
        .is_some_and(|e| e.as_str() == "s3:TestEvent")
    {
        let mut event = test_event_from(
            opt_str(&top.service),
            opt_str(&top.bucket),
            opt_str(&top.test_time),
            opt_str(&top.request_id),
        );
        event.original = RawJson::from_valid_text(text);
        return Some(vec![event]);
    }
    if top.detail_type.is_some() && top.source.is_some() {
        return eventbridge(top, text);
    }
    None
}

fn native_records(records: Vec<&RawValue>) -> Option<Vec<Event>> {
    if records.is_empty() {
        return None;
    }
    records
        .into_iter()
        .map(|raw| {
            let r: Record = serde_json::from_str(raw.get()).ok()?;
            let lifecycle = r.lifecycle_event_data.and_then(|l| l.transition_event_data);
            let restore = r.glacier_event_data.and_then(|g| g.restore_event_data);
            let fields = RecordFields {
                event_name: r.event_name.as_ref()?.as_str(),
                bucket: r.s3.bucket.name.as_ref().map(Str::as_str),
                key: r.s3.object.key.as_ref().map(Str::as_str),
                version_id: r.s3.object.version_id.as_ref().map(Str::as_str),
                size: r.s3.object.size.map(|s| s.0),
                etag: r.s3.object.e_tag.as_ref().map(Str::as_str),
                sequencer: r.s3.object.sequencer.as_ref().map(Str::as_str),
                time: r.event_time.as_ref().and_then(|t| t.0.as_deref()),
                region: r.aws_region.as_ref().map(Str::as_str),
                request_id: r
                    .response_elements
                    .as_ref()
                    .and_then(|e| e.0.as_ref())
                    .map(Str::as_str),
                source_ip: lax_str(&r.request_parameters, |p| &p.source_ip_address),
                requester: lax_str(&r.user_identity, |p| &p.principal_id),
                source: r.event_source.as_ref().map(Str::as_str),
                rule: r.s3.configuration_id.as_ref().map(Str::as_str),
                storage_class: lifecycle
                    .as_ref()
                    .and_then(|l| l.destination_storage_class.as_ref())
                    .or(restore
                        .as_ref()
                        .and_then(|g| g.lifecycle_restore_storage_class.as_ref()))
                    .map(Str::as_str),
                access_tier: r
                    .intelligent_tiering_event_data
                    .as_ref()
                    .and_then(|i| i.destination_access_tier.as_ref())
                    .map(Str::as_str),
                restore_expiry_time: restore
                    .as_ref()
                    .and_then(|g| g.lifecycle_restoration_expiry_time.as_ref())
                    .map(Str::as_str),
            };
            let mut event = record_event(&fields);
            event.original = RawJson::from_valid_text(raw.get());
            Some(event)
        })
        .collect()
}

fn opt_str<'a>(s: &'a Option<Str<'_>>) -> Option<&'a str> {
    s.as_ref().map(Str::as_str)
}

fn lax_str<'a, T>(
    field: &'a Option<Lax<T>>,
    get: impl Fn(&'a T) -> &'a Option<Str<'a>>,
) -> Option<&'a str> {
    let inner = field.as_ref()?.0.as_ref()?;
    get(inner).as_ref().map(Str::as_str)
}

fn eventbridge(top: Top, text: &str) -> Option<Vec<Event>> {
    let detail_type = top.detail_type.as_ref()?;
    let source = top.source.as_ref()?;
    let detail = top.detail?;
    if let Some(time) = &top.time {
        // What the careful path checks (`check_time`) and what its typed read accepts.
        let time = time.as_str();
        chrono::DateTime::parse_from_rfc3339(time).ok()?;
        time.parse::<chrono::DateTime<chrono::FixedOffset>>().ok()?;
    }
    let (source, detail_type) = (source.as_str(), detail_type.as_str());
    let eb_id = || {
        top.id
            .as_ref()
            .map(Str::as_str)
            .filter(|id| !id.is_empty())
            .map(|id| format!("eb-{id}"))
    };
    let mut event = if source == "aws.s3" {
        if detail_type == CLOUDTRAIL_DETAIL_TYPE {
            return cloudtrail(&top, source, detail.get(), text);
        }
        let d: S3DetailIn = serde_json::from_str(detail.get()).ok()?;
        let object = d.object.as_ref();
        let fields = S3Detail {
            reason: d.reason.as_ref().map(Str::as_str),
            deletion_type: d.deletion_type.as_ref().map(Str::as_str),
            bucket: d
                .bucket
                .as_ref()
                .and_then(|b| b.name.as_ref())
                .map(Str::as_str),
            key: object.and_then(|o| o.key.as_ref()).map(Str::as_str),
            version_id: object.and_then(|o| o.version_id.as_ref()).map(Str::as_str),
            size: Ok(object.and_then(|o| o.size.as_ref()).map(|s| s.0)),
            etag: object.and_then(|o| o.etag.as_ref()).map(Str::as_str),
            etag_moto: object.and_then(|o| o.e_tag.as_ref()).map(Str::as_str),
            sequencer: object.and_then(|o| o.sequencer.as_ref()).map(Str::as_str),
            request_id: d.request_id.as_ref().map(Str::as_str),
            source_ip: d.source_ip.as_ref().map(Str::as_str),
            requester: d.requester.as_ref().map(Str::as_str),
            destination_storage_class: d.destination_storage_class.as_ref().map(Str::as_str),
            source_storage_class: d.source_storage_class.as_ref().map(Str::as_str),
            destination_access_tier: d.destination_access_tier.as_ref().map(Str::as_str),
            restore_expiry_time: d.restore_expiry_time.as_ref().map(Str::as_str),
        };
        let mut event = s3_change_from(detail_type, &fields).ok()?;
        envelope(
            &mut event,
            &top.time,
            &top.region,
            &top.account,
            source,
            top.resources.as_deref(),
        );
        event.id = id::s3_change_id(&event);
        event.original = RawJson::from_valid_text(text);
        return Some(vec![event]);
    } else if detail_type == "package-revision" {
        let d: PackageIn = serde_json::from_str(detail.get()).ok()?;
        let package = PackageRevision {
            revision_type: d.revision_type.map(Str::owned),
            bucket: d.bucket?.owned(),
            handle: d.handle?.owned(),
            top_hash: d.top_hash?.owned(),
        };
        let mut event = Event::new(Kind::PackageRevision, Path::Eventbridge, Value::Null);
        event.bucket = Some(package.bucket.clone());
        event.package = Some(package);
        event.custom = Some(CustomEvent {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: RawJson::from_valid_text(detail.get()),
        });
        // Without an id, the careful path hashes the detail's canonical JSON.
        event.id = eb_id()?;
        event
    } else {
        // The detail is kept as text: validated here, parsed if someone reads it.
        serde_json::from_str::<Checked>(detail.get()).ok()?;
        let mut event = Event::new(Kind::Custom, Path::Eventbridge, Value::Null);
        event.custom = Some(CustomEvent {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: RawJson::from_valid_text(detail.get()),
        });
        // Without an id, the careful path hashes the whole event's canonical JSON.
        event.id = eb_id()?;
        event
    };
    envelope(
        &mut event,
        &top.time,
        &top.region,
        &top.account,
        source,
        top.resources.as_deref(),
    );
    event.original = RawJson::from_valid_text(text);
    Some(vec![event])
}

/// An S3 API call recorded by CloudTrail (`detail` is its record); as
/// `eventbridge::cloudtrail::s3_calls`, through the same mapping.
fn cloudtrail<'a>(top: &Top, source: &str, detail: &'a str, text: &str) -> Option<Vec<Event>> {
    let d: CallIn<'a> = serde_json::from_str(detail).ok()?;
    let params = d.request_parameters.as_ref();
    let response = d.response_elements.as_ref();
    let param = |get: for<'x> fn(&'x CallParams<'a>) -> Option<&'x str>| params.and_then(get);
    let answer = |get: for<'x> fn(&'x CallResponse<'a>) -> Option<&'x str>| response.and_then(get);
    let call = CallFields {
        operation: opt_str(&d.event_name),
        bucket: param(|p| opt_str(&p.bucket_name)),
        error_code: opt_str(&d.error_code),
        request_id: opt_str(&d.request_id),
        source_ip: opt_str(&d.source_ip),
        requester: d
            .user_identity
            .as_ref()
            .and_then(|u| opt_str(&u.principal_id)),
        key: param(|p| opt_str(&p.key)).or_else(|| param(|p| opt_str(&p.key_upper))),
        etag: answer(|r| opt_str(&r.etag)),
        requested_version: param(|p| opt_str(&p.version_id)),
        response_version: answer(|r| opt_str(&r.version_id)),
        delete_marker: answer(|r| opt_str(&r.delete_marker)),
    };
    // Anything the careful path would call an error is left to it (to word it).
    let entries = params
        .and_then(|p| p.delete.as_ref())
        .and_then(|d| d.object.as_ref());
    let mut events = s3_calls_from(&call, || match entries {
        Some(entries) if !entries.0.is_empty() => entries
            .0
            .iter()
            .map(|e| Some((e.key.as_ref()?.as_str(), opt_str(&e.version_id))))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| super::NormalizeError::NotJson(String::new())),
        _ => Err(super::NormalizeError::NotJson(String::new())),
    })
    .ok()?;
    let original = RawJson::from_valid_text(text);
    for event in &mut events {
        envelope(
            event,
            &top.time,
            &top.region,
            &top.account,
            source,
            top.resources.as_deref(),
        );
        event.id = id::s3_change_id(event);
        event.original = original.clone();
    }
    Some(events)
}

/// What every EventBridge event takes from its envelope (as `eventbridge::envelope`).
fn envelope(
    event: &mut Event,
    time: &Option<Str>,
    region: &Option<Str>,
    account: &Option<Str>,
    source: &str,
    resources: Option<&[Str]>,
) {
    event.time = time.as_ref().map(|s| s.as_str().to_owned());
    event.region = region.as_ref().map(|s| s.as_str().to_owned());
    event.account = account.as_ref().map(|s| s.as_str().to_owned());
    event.provenance.source = Some(source.to_owned());
    event.provenance.resources = resources
        .map(|r| r.iter().map(|s| s.as_str().to_owned()).collect())
        .unwrap_or_default();
}

/// The top level of a body: the fields of every shape handled here. A field of the wrong
/// type, or a known field twice, fails the read (and the careful path takes over).
#[derive(Deserialize)]
struct Top<'a> {
    // SNS notification envelope.
    #[serde(rename = "Type", borrow, default)]
    sns_type: Option<Str<'a>>,
    #[serde(rename = "Message", borrow, default)]
    message: Option<Str<'a>>,
    #[serde(rename = "TopicArn", borrow, default)]
    topic_arn: Option<Str<'a>>,
    #[serde(rename = "MessageId", borrow, default)]
    message_id: Option<Str<'a>>,
    #[serde(rename = "MessageAttributes", borrow, default)]
    attributes: Option<Attributes<'a>>,
    #[serde(rename = "Timestamp", borrow, default)]
    _timestamp: Option<Str<'a>>,
    #[serde(rename = "Subject", borrow, default)]
    _subject: Option<Str<'a>>,
    #[serde(rename = "SignatureVersion", borrow, default)]
    _signature_version: Option<Str<'a>>,
    #[serde(rename = "Signature", borrow, default)]
    _signature: Option<Str<'a>>,
    #[serde(rename = "SigningCertURL", borrow, default)]
    _signing_cert_url: Option<Str<'a>>,
    #[serde(rename = "UnsubscribeURL", borrow, default)]
    _unsubscribe_url: Option<Str<'a>>,
    // S3 event notification, test event.
    #[serde(rename = "Records", borrow, default, deserialize_with = "present")]
    records: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Event", borrow, default, deserialize_with = "present")]
    event: Option<Str<'a>>,
    #[serde(rename = "Service", borrow, default)]
    service: Option<Str<'a>>,
    #[serde(rename = "Bucket", borrow, default)]
    bucket: Option<Str<'a>>,
    #[serde(rename = "Time", borrow, default)]
    test_time: Option<Str<'a>>,
    #[serde(rename = "RequestId", borrow, default)]
    request_id: Option<Str<'a>>,
    #[serde(rename = "HostId", borrow, default)]
    _host_id: Option<Str<'a>>,
    // EventBridge event (`aws_lambda_events`' `EventBridgeEvent` types).
    #[serde(rename = "version", borrow, default)]
    _version: Option<Str<'a>>,
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(rename = "detail-type", borrow, default, deserialize_with = "present")]
    detail_type: Option<Str<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    source: Option<Str<'a>>,
    #[serde(borrow, default)]
    account: Option<Str<'a>>,
    #[serde(borrow, default)]
    time: Option<Str<'a>>,
    #[serde(borrow, default)]
    region: Option<Str<'a>>,
    #[serde(borrow, default)]
    resources: Option<Vec<Str<'a>>>,
    #[serde(borrow, default, deserialize_with = "present")]
    detail: Option<&'a RawValue>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `detail` of an `aws.s3` EventBridge event.
#[derive(Deserialize)]
struct S3DetailIn<'a> {
    #[serde(rename = "version", borrow, default)]
    _version: Option<Str<'a>>,
    #[serde(borrow, default)]
    reason: Option<Str<'a>>,
    #[serde(rename = "deletion-type", borrow, default)]
    deletion_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    bucket: Option<BucketIn<'a>>,
    #[serde(borrow, default)]
    object: Option<ObjectIn<'a>>,
    #[serde(rename = "request-id", borrow, default)]
    request_id: Option<Str<'a>>,
    #[serde(rename = "source-ip-address", borrow, default)]
    source_ip: Option<Str<'a>>,
    #[serde(borrow, default)]
    requester: Option<Str<'a>>,
    #[serde(rename = "destination-storage-class", borrow, default)]
    destination_storage_class: Option<Str<'a>>,
    #[serde(rename = "source-storage-class", borrow, default)]
    source_storage_class: Option<Str<'a>>,
    #[serde(rename = "destination-access-tier", borrow, default)]
    destination_access_tier: Option<Str<'a>>,
    #[serde(rename = "restore-expiry-time", borrow, default)]
    restore_expiry_time: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct BucketIn<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct ObjectIn<'a> {
    #[serde(borrow, default)]
    key: Option<Str<'a>>,
    #[serde(default)]
    size: Option<Size>,
    #[serde(borrow, default)]
    etag: Option<Str<'a>>,
    #[serde(rename = "eTag", borrow, default)]
    e_tag: Option<Str<'a>>,
    #[serde(rename = "version-id", borrow, default)]
    version_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    sequencer: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `detail` of an `AWS API Call via CloudTrail` event from `aws.s3`: the fields
/// `CallFields` takes.
#[derive(Deserialize)]
struct CallIn<'a> {
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Str<'a>>,
    #[serde(rename = "errorCode", borrow, default)]
    error_code: Option<Str<'a>>,
    #[serde(rename = "requestID", borrow, default)]
    request_id: Option<Str<'a>>,
    #[serde(rename = "sourceIPAddress", borrow, default)]
    source_ip: Option<Str<'a>>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<Principal<'a>>,
    #[serde(rename = "requestParameters", borrow, default)]
    request_parameters: Option<CallParams<'a>>,
    #[serde(rename = "responseElements", borrow, default)]
    response_elements: Option<CallResponse<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(rename = "bucketName", borrow, default)]
    bucket_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    key: Option<Str<'a>>,
    #[serde(rename = "Key", borrow, default)]
    key_upper: Option<Str<'a>>,
    #[serde(rename = "versionId", borrow, default)]
    version_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    delete: Option<DeleteIn<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct DeleteIn<'a> {
    #[serde(rename = "Object", borrow, default)]
    object: Option<OneOrMany<DeletedIn<'a>>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct DeletedIn<'a> {
    #[serde(rename = "Key", borrow, default)]
    key: Option<Str<'a>>,
    #[serde(rename = "VersionId", borrow, default)]
    version_id: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct CallResponse<'a> {
    #[serde(rename = "ETag", borrow, default)]
    etag: Option<Str<'a>>,
    #[serde(rename = "x-amz-version-id", borrow, default)]
    version_id: Option<Str<'a>>,
    #[serde(rename = "x-amz-delete-marker", borrow, default)]
    delete_marker: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// An array of objects, or one object standing for an array of one (CloudTrail's rendering
/// of a repeated XML element).
struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OneOrMany<T>, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany<T>, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element()? {
                    all.push(one);
                }
                Ok(OneOrMany(all))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneOrMany<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|one| OneOrMany(vec![one]))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// `detail` of a `package-revision` event.
#[derive(Deserialize)]
struct PackageIn<'a> {
    #[serde(rename = "type", borrow, default)]
    revision_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    bucket: Option<Str<'a>>,
    #[serde(borrow, default)]
    handle: Option<Str<'a>>,
    #[serde(rename = "topHash", borrow, default)]
    top_hash: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// A native S3 record: what `aws_lambda_events`' `S3EventRecord` accepts (after the careful
/// path's placeholders for `eventTime`, `userIdentity` and `requestParameters`), or less.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    #[serde(rename = "eventVersion", borrow, default)]
    _event_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    event_source: Option<Str<'a>>,
    #[serde(borrow, default)]
    aws_region: Option<Str<'a>>,
    #[serde(borrow, default)]
    event_time: Option<AnyStr<'a>>,
    #[serde(borrow, default)]
    event_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    user_identity: Option<Lax<Principal<'a>>>,
    #[serde(borrow, default)]
    request_parameters: Option<Lax<RequestParameters<'a>>>,
    #[serde(borrow, default)]
    response_elements: Option<RequestId<'a>>,
    #[serde(borrow)]
    s3: S3Entity<'a>,
    #[serde(borrow, default)]
    lifecycle_event_data: Option<LifecycleData<'a>>,
    #[serde(borrow, default)]
    glacier_event_data: Option<GlacierData<'a>>,
    #[serde(borrow, default)]
    intelligent_tiering_event_data: Option<TieringData<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Principal<'a> {
    #[serde(borrow, default)]
    principal_id: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
struct RequestParameters<'a> {
    #[serde(rename = "sourceIPAddress", borrow, default)]
    source_ip_address: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity<'a> {
    #[serde(rename = "s3SchemaVersion", borrow, default)]
    _schema_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    configuration_id: Option<Str<'a>>,
    #[serde(borrow)]
    bucket: S3Bucket<'a>,
    #[serde(borrow)]
    object: S3Object<'a>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Bucket<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(rename = "ownerIdentity", borrow, default)]
    _owner_identity: Option<Principal<'a>>,
    #[serde(rename = "arn", borrow, default)]
    _arn: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object<'a> {
    #[serde(borrow, default)]
    key: Option<Str<'a>>,
    #[serde(default)]
    size: Option<Size>,
    #[serde(rename = "urlDecodedKey", borrow, default)]
    _url_decoded_key: Option<Str<'a>>,
    #[serde(borrow, default)]
    version_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    e_tag: Option<Str<'a>>,
    #[serde(borrow, default)]
    sequencer: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleData<'a> {
    #[serde(borrow, default)]
    transition_event_data: Option<TransitionData<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransitionData<'a> {
    #[serde(borrow, default)]
    destination_storage_class: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlacierData<'a> {
    #[serde(borrow, default)]
    restore_event_data: Option<RestoreData<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreData<'a> {
    #[serde(borrow, default)]
    lifecycle_restore_storage_class: Option<Str<'a>>,
    #[serde(borrow, default)]
    lifecycle_restoration_expiry_time: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TieringData<'a> {
    #[serde(borrow, default)]
    destination_access_tier: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// A field that must be there when present: JSON `null` is not "absent" (fails instead).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A JSON string, borrowed from the text when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl Str<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }

    fn owned(self) -> String {
        self.0.into_owned()
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Str<'a>, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

/// Any JSON value, validated as a `Value` parse would (numbers in range, strings of
/// Unicode scalar values, nesting within serde_json's default limit), then dropped.
struct Checked;

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Checked, D::Error> {
        Checked::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

/// The fields of an object no struct above names. serde buffers them (which parses them
/// fully: validated like [`Checked`]) and hands them here to be dropped. A struct with such
/// a field reads only JSON objects (never an array, positionally).
struct Rest;

impl<'de> Deserialize<'de> for Rest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rest, D::Error> {
        struct RestVisitor;
        impl<'de> Visitor<'de> for RestVisitor {
            type Value = Rest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the other fields of an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rest, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Rest)
            }
        }
        deserializer.deserialize_map(RestVisitor)
    }
}

/// An object size by the rule of `super::size_at`: a non-negative integer or a string of
/// decimal digits (null is `None` through `Option`); anything else fails the read.
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a string of digits")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("negative size"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom("not a size"));
                }
                v.parse().map(Size).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A value read as a string when it is one, and as nothing (but validated) otherwise:
/// `eventTime`, which the careful path reads verbatim when it is a string.
struct AnyStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for AnyStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AnyStr<'a>, D::Error> {
        struct AnyStrVisitor;
        impl<'de> Visitor<'de> for AnyStrVisitor {
            type Value = AnyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<AnyStr<'de>, A::Error> {
                CheckedVisitor.visit_seq(seq).map(|_| AnyStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyStr<'de>, A::Error> {
                CheckedVisitor.visit_map(map).map(|_| AnyStr(None))
            }
        }
        deserializer.deserialize_any(AnyStrVisitor)
    }
}

/// `userIdentity` / `requestParameters`: read when an object; any other scalar is what
/// the careful path replaces with `{}` (nothing); an array fails the read (the typed parse
/// would take it positionally).
struct Lax<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Lax<T>, D::Error> {
        struct LaxVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LaxVisitor<T> {
            type Value = Lax<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or a scalar")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lax<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lax(Some(t)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lax<T>, E> {
                Ok(Lax(None))
            }
        }
        deserializer.deserialize_any(LaxVisitor(PhantomData))
    }
}

/// `responseElements`: an object of strings (as the typed `HashMap<String, String>`
/// wants), of which `x-amz-request-id` is kept (the last one, if repeated).
struct RequestId<'a>(Option<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for RequestId<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RequestId<'a>, D::Error> {
        struct RequestIdVisitor;
        impl<'de> Visitor<'de> for RequestIdVisitor {
            type Value = RequestId<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestId<'de>, A::Error> {
                let mut id = None;
                while let Some((name, value)) = map.next_entry::<Str, Str>()? {
                    if name.as_str() == "x-amz-request-id" {
                        id = Some(value);
                    }
                }
                Ok(RequestId(id))
            }
        }
        deserializer.deserialize_map(RequestIdVisitor)
    }
}

/// SNS `MessageAttributes`: `{name: {"Type": ..., "Value": string}}`; attributes without a
/// string `Value` are left out, as the careful path does.
struct Attributes<'a>(Vec<(Str<'a>, Str<'a>)>);

#[derive(Deserialize)]
struct AttributeIn<'a> {
    #[serde(rename = "Type", borrow, default)]
    _data_type: Option<Str<'a>>,
    #[serde(rename = "Value", borrow, default)]
    value: Option<Str<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

impl<'de: 'a, 'a> Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Attributes<'a>, D::Error> {
        struct AttributesVisitor;
        impl<'de> Visitor<'de> for AttributesVisitor {
            type Value = Attributes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("SNS message attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some((name, attr)) = map.next_entry::<Str, AttributeIn>()? {
                    if let Some(value) = attr.value {
                        out.push((name, value));
                    }
                }
                Ok(Attributes(out))
            }
        }
        deserializer.deserialize_map(AttributesVisitor)
    }
}
