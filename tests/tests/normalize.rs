//! `bridge::event::normalize` against the fixture corpus (bridge/tests/fixtures/normalize):
//! golden outputs, native-vs-EventBridge equivalence, and property tests.
//!
//! Fixtures: `<name>.body.json` is an SQS message body exactly as received; `<name>.expected.json`
//! is the golden output (`{"events": [...]}` or `{"error": "..."}`). `error-*` bodies are malformed on purpose. `aws-*` bodies follow the AWS
//! documentation's examples; `moto-*` bodies were captured from a moto server by
//! `scripts/capture-moto-fixtures.py`. Run with `BLESS=1` to rewrite the goldens deliberately.

use std::path::{Path, PathBuf};

use bridge::event::{normalize, Event, NormalizeError, SHAPES_TRIED};
use proptest::prelude::*;
use serde_json::{json, Value};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/normalize")
}

fn body(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.body.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn events(name: &str) -> Vec<Event> {
    normalize(&body(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn one(name: &str) -> Event {
    let mut events = events(name);
    assert_eq!(events.len(), 1, "{name} holds one event");
    events.remove(0)
}

fn golden(result: Result<Vec<Event>, NormalizeError>) -> Value {
    match result {
        Ok(events) => json!({ "events": events }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[test]
fn every_fixture_matches_its_golden_output() {
    let bless = std::env::var("BLESS").as_deref() == Ok("1");
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".body.json").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 70,
        "the corpus is all there: {}",
        names.len()
    );
    let mut mismatches = Vec::new();
    for name in &names {
        let actual = golden(normalize(&body(name)));
        let path = fixtures_dir().join(format!("{name}.expected.json"));
        let mut text = serde_json::to_string_pretty(&actual).expect("serializes");
        text.push('\n');
        if bless {
            std::fs::write(&path, text).expect("write golden");
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&path) {
            Ok(s) => serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            Err(_) => {
                mismatches.push(format!("{name}: no golden (run with BLESS=1)"));
                continue;
            }
        };
        if expected != actual {
            mismatches.push(format!(
                "{name}: output differs from {}:\n{text}",
                path.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn every_fixture_normalizes_and_every_event_round_trips_through_json() {
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(name) = name.strip_suffix(".body.json") else {
            continue;
        };
        if name.starts_with("error-") {
            assert!(
                normalize(&body(name)).is_err(),
                "{name} is a malformed body"
            );
            continue;
        }
        for event in events(name) {
            let text = serde_json::to_string(&event).expect("serializes");
            let back: Event = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, event, "{name}");
            assert!(!event.id.is_empty(), "{name}: every event has an id");
        }
    }
}

/// The fields the issue requires to agree between the native and the EventBridge path.
fn change(e: &Event) -> Value {
    json!({
        "kind": e.kind, "bucket": e.bucket, "key": e.key, "size": e.size, "etag": e.etag,
        "sequencer": e.sequencer, "version_id": e.version_id, "deletion_type": e.deletion_type,
        "reason": e.reason, "id": e.id,
    })
}

#[test]
fn the_same_change_normalizes_the_same_natively_and_through_eventbridge() {
    // (native body, record index, EventBridge body): one pair per kind both paths carry.
    let pairs = [
        (
            "aws-native-created-put-and-multipart",
            0,
            "aws-eventbridge-object-created-put",
        ),
        (
            "aws-native-created-put-and-multipart",
            1,
            "aws-eventbridge-object-created-multipart",
        ),
        (
            "aws-native-created-post",
            0,
            "aws-eventbridge-object-created-post",
        ),
        (
            "aws-native-created-copy",
            0,
            "aws-eventbridge-object-created-copy",
        ),
        (
            "aws-native-removed-delete",
            0,
            "aws-eventbridge-object-deleted-permanently",
        ),
        (
            "aws-native-removed-delete-marker",
            0,
            "aws-eventbridge-object-deleted-delete-marker",
        ),
        (
            "aws-native-lifecycle-expiration-delete",
            0,
            "aws-eventbridge-object-deleted-lifecycle",
        ),
        (
            "aws-native-lifecycle-expiration-delete-marker",
            0,
            "aws-eventbridge-object-deleted-lifecycle-delete-marker",
        ),
        (
            "aws-native-restore-post",
            0,
            "aws-eventbridge-restore-initiated",
        ),
        (
            "aws-native-restore-completed",
            0,
            "aws-eventbridge-restore-completed",
        ),
        (
            "aws-native-restore-delete",
            0,
            "aws-eventbridge-restore-expired",
        ),
        (
            "aws-native-lifecycle-transition",
            0,
            "aws-eventbridge-storage-class-changed",
        ),
        (
            "aws-native-intelligent-tiering",
            0,
            "aws-eventbridge-access-tier-changed",
        ),
        ("aws-native-tagging-put", 0, "aws-eventbridge-tags-added"),
        (
            "aws-native-tagging-delete",
            0,
            "aws-eventbridge-tags-deleted",
        ),
        ("aws-native-acl-put", 0, "aws-eventbridge-acl-updated"),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (native, index, eventbridge) in pairs {
        let n = &events(native)[index];
        let e = one(eventbridge);
        assert_eq!(change(n), change(&e), "{native}[{index}] vs {eventbridge}");
        assert_eq!(n.provenance.path, bridge::event::Path::S3);
        assert_eq!(e.provenance.path, bridge::event::Path::Eventbridge);
        kinds.insert(format!("{:?}", n.kind));
    }
    assert_eq!(kinds.len(), 11, "every kind both paths carry: {kinds:?}");
}

#[test]
fn moto_native_sns_raw_and_eventbridge_bodies_agree_on_the_object() {
    // moto's native records carry no sequencer or version id, so compare what both carry.
    let pick = |e: &Event| json!({"kind": e.kind, "bucket": e.bucket, "key": e.key, "size": e.size, "etag": e.etag});
    for (native, sns, raw, eventbridge, key) in [
        (
            "moto-native-01-objectcreated-put-reports-monthly-report-csv",
            "moto-sns-01-objectcreated-put-reports-monthly-report-csv",
            "moto-sns-raw-01-objectcreated-put-reports-monthly-report-csv",
            "moto-eventbridge-00-object-created-reports-monthly-report-csv",
            "reports/monthly report.csv",
        ),
        (
            "moto-native-03-objectcreated-put-math-1-1-2-txt",
            "moto-sns-02-objectcreated-put-math-1-1-2-txt",
            "moto-sns-raw-02-objectcreated-put-math-1-1-2-txt",
            "moto-eventbridge-02-object-created-math-1-1-2-txt",
            "math/1+1=2.txt",
        ),
        (
            "moto-native-05-objectcreated-put-unicode-caf-txt",
            "moto-sns-03-objectcreated-put-unicode-caf-txt",
            "moto-sns-raw-03-objectcreated-put-unicode-caf-txt",
            "moto-eventbridge-04-object-created-unicode-caf-txt",
            "unicode/café-€-日本.txt",
        ),
        (
            "moto-native-07-objectcreated-put-percent-100-25-done-txt",
            "moto-sns-04-objectcreated-put-percent-100-25-done-txt",
            "moto-sns-raw-04-objectcreated-put-percent-100-25-done-txt",
            "moto-eventbridge-06-object-created-percent-100-25-done-txt",
            "percent/100%25 done%.txt",
        ),
    ] {
        let n = one(native);
        assert_eq!(n.key.as_deref(), Some(key), "{native}");
        for other in [sns, raw, eventbridge] {
            assert_eq!(pick(&n), pick(&one(other)), "{native} vs {other}");
        }
        let via_sns = one(sns);
        assert!(
            via_sns.provenance.sns_topic_arn.is_some(),
            "{sns} remembers its topic"
        );
        assert!(
            one(raw).provenance.sns_topic_arn.is_none(),
            "{raw}: raw delivery is the bare body"
        );
    }
}

#[test]
fn an_sns_envelope_adds_provenance_and_metadata_and_nothing_else() {
    let direct = &events("aws-native-created-put-and-multipart")[0];
    let mut via = one("aws-sns-native-created");
    assert_eq!(
        via.provenance.sns_topic_arn.as_deref(),
        Some("arn:aws:sns:us-west-2:111122223333:bridge-s3-events")
    );
    assert_eq!(
        via.metadata.get("team").map(String::as_str),
        Some("analytics")
    );
    assert_eq!(via.metadata.get("priority").map(String::as_str), Some("3"));
    via.provenance.sns_topic_arn = None;
    via.provenance.sns_message_id = None;
    via.metadata.clear();
    assert_eq!(&via, direct);

    let direct = one("aws-eventbridge-object-created-put");
    let mut via = one("aws-sns-eventbridge-created");
    via.provenance.sns_topic_arn = None;
    via.provenance.sns_message_id = None;
    assert_eq!(via, direct);
}

#[test]
fn native_keys_are_decoded_and_eventbridge_keys_are_not() {
    let key = "reports/2024 Q1/résumé + notes 100%.txt";
    assert_eq!(
        events("aws-native-created-put-and-multipart")[0]
            .key
            .as_deref(),
        Some(key)
    );
    assert_eq!(
        events("aws-native-created-put-and-multipart")[1]
            .key
            .as_deref(),
        Some("big/video — final.mp4")
    );
    assert_eq!(
        one("aws-eventbridge-object-created-put").key.as_deref(),
        Some(key)
    );
    // moto: `percent/100%25 done%.txt` is the literal key; natively it arrives as ...100%2525...
    assert_eq!(
        one("moto-eventbridge-06-object-created-percent-100-25-done-txt")
            .key
            .as_deref(),
        Some("percent/100%25 done%.txt")
    );
}

#[test]
fn test_events_are_recognized_not_errors() {
    for name in [
        "aws-native-test-event",
        "aws-sns-test-event",
        "moto-native-00-test-event",
        "moto-sns-00-test-event",
        "moto-sns-raw-00-test-event",
    ] {
        let e = one(name);
        assert_eq!(e.kind, bridge::event::Kind::TestEvent, "{name}");
        assert!(e.bucket.is_some(), "{name}");
    }
}

#[test]
fn package_revisions_are_first_class_and_other_custom_events_are_kept_whole() {
    let p = one("aws-custom-package-revision");
    assert_eq!(p.kind, bridge::event::Kind::PackageRevision);
    let package = p.package.as_ref().expect("package");
    assert_eq!(package.handle, "analytics/q1 résumé");
    assert_eq!(package.bucket, "amzn-s3-demo-bucket");
    assert_eq!(p.id, "eb-0c5e1b5e-6c55-4a3e-8b0e-7a1f7d1a2b3c");

    let c = one("aws-custom-other");
    assert_eq!(c.kind, bridge::event::Kind::Custom);
    let custom = c.custom.as_ref().expect("custom");
    assert_eq!(custom.source, "com.example.orders");
    assert_eq!(custom.detail_type, "Order Shipped");
    assert_eq!(custom.detail["items"][0]["qty"], 2);
    assert_eq!(
        c.original["resources"][0],
        "arn:aws:example:us-west-2:111122223333:order/42"
    );
}

/// CloudTrail-recorded S3 calls (`detail-type: AWS API Call via CloudTrail`) give the kinds,
/// reasons and deletion types the native and EventBridge paths give for the same change.
/// The bodies follow AWS's S3 data event log entries
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html>)
/// inside the EventBridge envelope.
#[test]
fn cloudtrail_s3_calls_normalize_to_the_kinds_of_the_other_paths() {
    use bridge::event::{DeletionType, Kind, Path};
    let pick =
        |e: &Event| json!({"kind": e.kind, "reason": e.reason, "deletion_type": e.deletion_type});
    // (CloudTrail body, a body of the same change on another path, record index there)
    let same = [
        (
            "aws-cloudtrail-put-object",
            "aws-native-created-put-and-multipart",
            0,
        ),
        (
            "aws-cloudtrail-put-object",
            "aws-eventbridge-object-created-put",
            0,
        ),
        (
            "aws-cloudtrail-copy-object",
            "aws-eventbridge-object-created-copy",
            0,
        ),
        ("aws-cloudtrail-copy-object", "aws-native-created-copy", 0),
        (
            "aws-cloudtrail-complete-multipart-upload",
            "aws-eventbridge-object-created-multipart",
            0,
        ),
        (
            "aws-cloudtrail-delete-object-marker",
            "aws-eventbridge-object-deleted-delete-marker",
            0,
        ),
        (
            "aws-cloudtrail-delete-object-marker",
            "aws-native-removed-delete-marker",
            0,
        ),
    ];
    for (cloudtrail, other, index) in same {
        let ct = one(cloudtrail);
        assert_eq!(
            pick(&ct),
            pick(&events(other)[index]),
            "{cloudtrail} vs {other}"
        );
        assert_eq!(ct.provenance.path, Path::Cloudtrail, "{cloudtrail}");
        assert_eq!(ct.provenance.source.as_deref(), Some("aws.s3"));
        assert_eq!(ct.bucket.as_deref(), Some("amzn-s3-demo-bucket1"));
        assert!(ct.id.starts_with("s3-"), "{cloudtrail}: {}", ct.id);
    }

    let put = one("aws-cloudtrail-put-object");
    assert_eq!(
        put.key.as_deref(),
        Some("reports/monthly report.csv"),
        "CloudTrail keys are not encoded"
    );
    assert_eq!(put.version_id.as_deref(), Some("3HL4kqtJvjVBH40Nrjfkd"));
    assert_eq!(put.request_id.as_deref(), Some("8E111111EXAMPLE"));
    assert_eq!(put.source_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(put.requester.as_deref(), Some("AIDAJDPLRKLG7UEXAMPLE"));
    assert_eq!(put.time.as_deref(), Some("2019-02-01T03:18:19Z"));
    assert_eq!(put.account.as_deref(), Some("111122223333"));

    // DeleteObjects: one event per key, each with its own id.
    let deleted = events("aws-cloudtrail-delete-objects");
    let keys: Vec<_> = deleted.iter().map(|e| e.key.as_deref()).collect();
    assert_eq!(keys, [Some("tmp/a.txt"), Some("tmp/b.txt")]);
    assert!(deleted.iter().all(|e| e.kind == Kind::ObjectRemoved));
    assert_eq!(deleted[0].deletion_type, None);
    assert_eq!(deleted[1].version_id.as_deref(), Some("Vb1"));
    assert_eq!(
        deleted[1].deletion_type,
        Some(DeletionType::PermanentlyDeleted)
    );
    assert_ne!(deleted[0].id, deleted[1].id);

    // The shape of AWS's documented PutObject data event (the S3 on Outposts example in the
    // page above): `Key` capitalized, the new version and ETag in `responseElements`.
    let documented = one("aws-cloudtrail-put-object-documented-shape");
    assert_eq!(documented.kind, Kind::ObjectCreated);
    assert_eq!(documented.reason.as_deref(), Some("Put"));
    assert_eq!(documented.key.as_deref(), Some("uploads/data.csv"));
    assert_eq!(documented.version_id.as_deref(), Some("002"));
    assert_eq!(
        documented.etag.as_deref(),
        Some("0f343b0931126a20f133d67c2b018a3b")
    );

    // A call that failed changed nothing.
    let denied = one("aws-cloudtrail-put-object-denied");
    assert_eq!(denied.kind, Kind::OtherS3);
    assert_eq!(
        denied.reason.as_deref(),
        Some("PutObject failed: AccessDenied")
    );

    let err = normalize(&body("error-cloudtrail-delete-objects-without-keys"))
        .expect_err("no key to delete")
        .to_string();
    assert!(err.contains("requestParameters.delete.Object"), "{err}");
}

#[test]
fn a_body_of_no_known_shape_says_which_shapes_were_tried() {
    for body in [r#"{"hello":"world"}"#, "[]", "42", r#""Records""#, "{}"] {
        let err = normalize(body).expect_err(body).to_string();
        for shape in SHAPES_TRIED {
            assert!(err.contains(shape), "{body}: {err} should name {shape}");
        }
    }
    assert!(matches!(
        normalize("{not json"),
        Err(NormalizeError::NotJson(_))
    ));
}

/// Legitimate messages of no AWS shape: what input transformers produce, SNS text
/// notifications, SNS confirmations. Lenient: events of their own kinds; strict: errors.
#[test]
fn messages_of_no_aws_shape_are_message_events_unless_strict() {
    use bridge::event::{normalize_with, Kind, Path, Strictness};
    let lenient = |body: &str| normalize_with(body, Strictness::Lenient);
    // An input transformer's output: a JSON string, a custom object, a number.
    for (body, json) in [
        (r#""order 42 shipped""#, json!("order 42 shipped")),
        (
            r#"{"order": 42, "state": "shipped"}"#,
            json!({"order": 42, "state": "shipped"}),
        ),
        ("42", json!(42)),
        ("[]", json!([])),
    ] {
        let events = lenient(body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(events.len(), 1, "{body}");
        let m = &events[0];
        assert_eq!(m.kind, Kind::Message, "{body}");
        assert_eq!(m.provenance.path, Path::Unknown);
        let message = m.message.as_ref().expect("the body is kept");
        assert_eq!(message.json, json, "{body}");
        assert_eq!(message.text, None);
        assert_eq!(m.original, json);
        assert!(m.id.starts_with("msg-"), "{}", m.id);
        assert_eq!(
            lenient(body).expect("again")[0].id,
            m.id,
            "the id is stable"
        );
        let text = serde_json::to_string(m).expect("serializes");
        assert_eq!(
            &serde_json::from_str::<Event>(&text).expect("reads back"),
            m
        );
        assert!(normalize(body).is_err(), "strict: {body} is no AWS shape");
    }
    assert_ne!(
        lenient("1").expect("1")[0].id,
        lenient("2").expect("2")[0].id
    );

    // An SNS notification whose Message is text: kept as text, provenance kept.
    let sns_text = r#"{"Type": "Notification", "MessageId": "m-7", "TopicArn": "arn:aws:sns:us-west-2:111122223333:alerts",
        "Subject": "disk", "Message": "disk 91% full", "Timestamp": "2026-11-23T00:00:00.000Z",
        "MessageAttributes": {"severity": {"Type": "String", "Value": "high"}}}"#;
    let m = &lenient(sns_text).expect("text notification")[0];
    assert_eq!(m.kind, Kind::Message);
    let message = m.message.as_ref().expect("kept");
    assert_eq!(message.text.as_deref(), Some("disk 91% full"));
    assert_eq!(message.json, Value::Null);
    assert_eq!(
        m.provenance.sns_topic_arn.as_deref(),
        Some("arn:aws:sns:us-west-2:111122223333:alerts")
    );
    assert_eq!(m.provenance.sns_message_id.as_deref(), Some("m-7"));
    assert_eq!(m.metadata["severity"], "high");
    assert_eq!(m.id, "sns-m-7");
    assert_eq!(
        m.original["Subject"], "disk",
        "the envelope is the original"
    );
    assert!(matches!(
        normalize(sns_text),
        Err(NormalizeError::Malformed { .. })
    ));
    // ... and one whose Message is custom JSON.
    let sns_json = r#"{"Type": "Notification", "MessageId": "m-8", "TopicArn": "arn:aws:sns:us-west-2:111122223333:orders",
        "Message": "{\"order\": 42}"}"#;
    let m = &lenient(sns_json).expect("custom JSON notification")[0];
    assert_eq!(m.kind, Kind::Message);
    assert_eq!(m.message.as_ref().expect("kept").json, json!({"order": 42}));
    assert_eq!(
        m.provenance.sns_topic_arn.as_deref(),
        Some("arn:aws:sns:us-west-2:111122223333:orders")
    );
    assert_eq!(m.id, "sns-m-8");
    assert!(matches!(
        normalize(sns_json),
        Err(NormalizeError::UnknownShape { .. })
    ));

    // SNS confirmations: marked as such, the URL kept but never visited.
    for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
        let body = json!({
            "Type": kind, "MessageId": "c-1", "Token": "2336412f37",
            "TopicArn": "arn:aws:sns:us-west-2:111122223333:orders",
            "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:111122223333:orders.",
            "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
            "Timestamp": "2026-11-23T00:00:00.000Z", "SignatureVersion": "1"
        })
        .to_string();
        let c = &lenient(&body).expect("confirmation")[0];
        assert_eq!(c.kind, Kind::SnsConfirmation, "{kind}");
        assert_eq!(c.reason.as_deref(), Some(kind));
        assert_eq!(c.id, "sns-c-1");
        assert!(c
            .message
            .as_ref()
            .and_then(|m| m.text.as_deref())
            .is_some_and(|t| t.contains("subscribe")));
        assert!(c.original["SubscribeURL"].is_string());
        assert_eq!(
            serde_json::to_value(c.kind).expect("kind"),
            "sns_confirmation"
        );
        assert!(matches!(
            normalize(&body),
            Err(NormalizeError::UnknownShape { .. })
        ));
    }

    // Not JSON stays an error either way; AWS shapes are unchanged.
    assert!(matches!(
        lenient("not json"),
        Err(NormalizeError::NotJson(_))
    ));
    let aws = body("aws-eventbridge-object-created-put");
    assert_eq!(lenient(&aws).expect("aws"), normalize(&aws).expect("aws"));
    assert!(
        lenient(&body("error-records-not-an-array")).is_err(),
        "a broken AWS shape is still an error"
    );
}

/// One size rule for both S3 paths: an integer or a string of digits; anything else is
/// an error naming the field. And an EventBridge `time` that is not RFC 3339 is an error
/// naming the field and the value.
#[test]
fn sizes_follow_one_rule_on_both_paths_and_a_bad_time_is_named() {
    let mut native: Value =
        serde_json::from_str(&body("aws-native-created-put-and-multipart")).expect("JSON");
    let mut eventbridge: Value =
        serde_json::from_str(&body("aws-eventbridge-object-created-put")).expect("JSON");
    native["Records"][0]["s3"]["object"]["size"] = json!("5");
    eventbridge["detail"]["object"]["size"] = json!("5");
    let n = &normalize(&native.to_string()).expect("a numeric string size is accepted natively")[0];
    let e = &normalize(&eventbridge.to_string()).expect("and through EventBridge")[0];
    assert_eq!(n.size, Some(5));
    assert_eq!(e.size, Some(5));
    assert_eq!(change(n), change(e), "the same change either way");

    for bad in [
        json!("5 bytes"),
        json!(-1),
        json!(1.5),
        json!(""),
        json!({"n": 5}),
    ] {
        native["Records"][0]["s3"]["object"]["size"] = bad.clone();
        eventbridge["detail"]["object"]["size"] = bad.clone();
        let err = normalize(&native.to_string())
            .expect_err("a bad size")
            .to_string();
        assert!(
            err.contains("Records[0]") && err.contains("`s3.object.size`"),
            "{err}"
        );
        let err = normalize(&eventbridge.to_string())
            .expect_err("a bad size")
            .to_string();
        assert!(err.contains("`detail.object.size`"), "{err}");
        assert!(err.contains(&bad.to_string()), "the value is named: {err}");
    }

    let mut eventbridge: Value =
        serde_json::from_str(&body("aws-eventbridge-object-created-put")).expect("JSON");
    for bad in ["yesterday", "2021-11-12 00:00:00", "2021-11-12T00:00:00"] {
        eventbridge["time"] = json!(bad);
        let err = normalize(&eventbridge.to_string())
            .expect_err(bad)
            .to_string();
        assert!(err.contains("`time`") && err.contains("RFC 3339"), "{err}");
        assert!(err.contains(bad), "the value is named: {err}");
    }
    eventbridge["time"] = json!("2021-11-12T00:00:00.123+02:00");
    assert!(
        normalize(&eventbridge.to_string()).is_ok(),
        "RFC 3339 with an offset"
    );
}

/// Bodies made to trip the fast path: it must leave each to the careful path or answer
/// exactly what that says (events, or the error's text).
fn tricky_bodies() -> Vec<String> {
    let eb = |detail: &str, extra: &str| {
        format!(
            r#"{{{extra}"version":"0","id":"e-1","detail-type":"Object Created","source":"aws.s3","account":"1","time":"2026-11-23T00:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::b"],"detail":{detail}}}"#
        )
    };
    let s3 = |object: &str| {
        format!(
            r#"{{"version":"0","bucket":{{"name":"b"}},"object":{{"key":"k","etag":"e","sequencer":"1"{object}}},"reason":"PutObject"}}"#
        )
    };
    let record = |extra: &str, user: &str| {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-23T00:00:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{user},"requestParameters":{{"sourceIPAddress":"1.2.3.4"}},"responseElements":{{"x-amz-request-id":"R"}},"s3":{{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{{"name":"b","arn":"arn:aws:s3:::b"}},"object":{{"key":"a+b%21","size":5,"eTag":"e","sequencer":"1"}}}}{extra}}}]}}"#
        )
    };
    let sns = |message: &str, extra: &str| {
        format!(
            r#"{{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":{message}{extra},"Timestamp":"2026-11-23T00:00:00.000Z"}}"#
        )
    };
    let ct = |detail: &str| {
        format!(
            r#"{{"version":"0","id":"e-2","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"1","time":"2026-11-23T00:00:00Z","region":"us-east-1","resources":[],"detail":{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"P"}},"awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","requestID":"R","eventID":"E","readOnly":false,"additionalEventData":{{"bytesTransferredIn":20,"x":[1.5,null,true]}}{detail}}}}}"#
        )
    };
    let put = r#","eventName":"PutObject","requestParameters":{"bucketName":"b","Host":"h","key":"k"},"responseElements":{"x-amz-version-id":"v","ETag":"\"e\""}"#;
    let put_response = r#""responseElements":{"x-amz-version-id":"v","ETag":"\"e\""}"#;
    let delete = |objects: &str| {
        format!(
            r#","eventName":"DeleteObjects","requestParameters":{{"bucketName":"b","delete":{{"xmlns":"x","Object":{objects},"Quiet":"false"}}}},"responseElements":null"#
        )
    };
    let user = r#""userIdentity":{"type":"IAMUser","principalId":"P"}"#;
    let plain = s3("");
    let mut bodies = vec![
        ct(put),
        ct(&put.replace("PutObject", "DeleteObject")),
        ct(&put.replace("PutObject", "GetObjectAcl")),
        ct(&format!(r#"{put},"errorCode":"AccessDenied""#)),
        ct(&format!(r#"{put},"errorCode":null"#)),
        ct(&format!(r#"{put},"errorCode":5"#)),
        ct(&format!(r#"{put},"eventName":"PutObject""#)),
        ct(&put.replace(r#""eventName":"PutObject","#, "")),
        ct(&put.replace(r#""PutObject""#, "null")),
        ct(&put.replace(r#""bucketName":"b","#, "")),
        ct(&put.replace(r#""bucketName":"b""#, r#""bucketName":["b"]"#)),
        ct(&put.replace(r#""key":"k""#, r#""key":5,"Key":"K""#)),
        ct(&put.replace(r#""key":"k""#, r#""Key":"K""#)),
        ct(&put.replace(r#""key":"k""#, r#""key":"k","versionId":"v0""#)),
        ct(&put.replace(r#""ETag":"\"e\"""#, r#""ETag":"\"\"""#)),
        ct(&put.replace(r#""x-amz-version-id":"v""#, r#""x-amz-version-id":"""#)),
        ct(&put.replace("PutObject", "DeleteObject").replace(
            r#""x-amz-version-id":"v""#,
            r#""x-amz-delete-marker":"true""#,
        )),
        ct(&put
            .replace("PutObject", "DeleteObject")
            .replace(r#""x-amz-version-id":"v""#, r#""x-amz-delete-marker":true"#)),
        ct(&put.replace(put_response, r#""responseElements":null"#)),
        ct(&put.replace(put_response, r#""responseElements":"none""#)),
        ct(&put.replace(r#""requestParameters":{"#, r#""requestParameters":5,"x":{"#)),
        ct(&format!(r#"{put},"zz":1e400"#)),
        ct(&format!(r#"{put},"zz":"\ud800""#)),
        ct(&delete(
            r#"[{"Key":"a"},{"Key":"b","VersionId":"v"},{"Key":"c","VersionId":""}]"#,
        )),
        ct(&delete(r#"{"Key":"a","VersionId":"v"}"#)),
        ct(&delete("[]")),
        ct(&delete("null")),
        ct(&delete(r#"[{"Key":"a"},5]"#)),
        ct(&delete(r#"[{"Key":"a"},{"VersionId":"v"}]"#)),
        ct(&delete(r#"[{"Key":"a","VersionId":5}]"#)),
        ct(&delete(r#"[{"Key":5}]"#)),
        ct(&format!(r#"{},"errorCode":"AccessDenied""#, delete("null"))),
        ct(put).replace(user, r#""userIdentity":{"principalId":5}"#),
        ct(put).replace(user, r#""userIdentity":"P""#),
        ct(put).replace(user, r#""userIdentity":null"#),
        ct(put).replace(r#""source":"aws.s3""#, r#""source":"aws.s4""#),
        ct(put).replace(r#""time":"2026-11-23T00:00:00Z""#, r#""time":"yesterday""#),
        ct(put).replace(r#","detail":{"#, r#","detail":{"requestParameters":{},"#),
        eb(&plain, ""),
        eb(&plain, r#""zz":1e400,"#),
        eb(&plain, r#""zz":"\ud800","#),
        eb(&plain, r#""zz":"\ud83d\ude00","#),
        eb(&plain, r#""zz":100000000000000000000000,"#),
        eb(
            &plain,
            r#""zz":{"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]},"#,
        ),
        eb(&plain, r#""source":"other","#),
        eb(&plain, r#""detail-type":null,"#),
        eb(&plain, r#""Event":"s3:TestEvent","#),
        eb(&plain, r#""Type":"Other","#),
        eb(&plain, r#""Records":null,"#),
        eb(&s3(r#","size":"5""#), ""),
        eb(&s3(r#","size":-1"#), ""),
        eb(&s3(r#","size":-0"#), ""),
        eb(&s3(r#","size":1.5"#), ""),
        eb(&s3(r#","size":18446744073709551615"#), ""),
        eb(&s3(r#","size":"""#), ""),
        eb(&s3(r#","size":null"#), ""),
        eb(&s3(r#","zz":1e999"#), ""),
        eb(&s3(r#","version-id":"""#), ""),
        eb(r#"{"bucket":["b"],"object":{"key":"k"}}"#, ""),
        eb(r#"{"bucket":null}"#, ""),
        eb("null", ""),
        eb(r#"{"bucket":{"name":"b","name":"c"}}"#, ""),
        eb(&plain, r#""time":"2026-11-23 00:00:00","#).replacen(
            r#","time":"2026-11-23T00:00:00Z""#,
            "",
            1,
        ),
        eb(&plain, r#""time":5,"#).replacen(r#","time":"2026-11-23T00:00:00Z""#, "", 1),
        eb(&plain, r#""time":null,"#).replacen(r#","time":"2026-11-23T00:00:00Z""#, "", 1),
        eb(&plain, "").replace("\"detail-type\"", "\"detail\\u002dtype\""),
        eb(&plain, "").replace(r#""id":"e-1","#, ""),
        eb(
            r#"{"type":"created","bucket":"b","handle":"h","topHash":"t"}"#,
            "",
        )
        .replace("aws.s3", "com.quiltdata")
        .replace("Object Created", "package-revision"),
        eb(r#"{"type":"created","bucket":"b","topHash":"t"}"#, "")
            .replace("aws.s3", "com.quiltdata")
            .replace("Object Created", "package-revision"),
        eb(r#"{"n":[1,2.5,"x",null,true],"m":{"\u00e9":"\n"}}"#, "").replace("aws.s3", "orders"),
        eb(r#"{"n":1e400}"#, "").replace("aws.s3", "orders"),
        eb("[1]", "")
            .replace("aws.s3", "orders")
            .replace(r#""id":"e-1","#, ""),
        eb(&plain, "").replace("Object Created", "AWS API Call via CloudTrail"),
        eb(&plain, "").replace(r#""resources":["arn:aws:s3:::b"]"#, r#""resources":[null]"#),
        format!("[{}]", eb(&plain, "")),
        format!("  {}  \n", eb(&plain, "")),
        record("", r#"{"principalId":"AWS:P"}"#),
        record("", r#"["AWS:P"]"#),
        record("", r#""AWS:P""#),
        record("", "null"),
        record("", r#"{"principalId":5}"#),
        record(
            r#","glacierEventData":{"restoreEventData":{"lifecycleRestorationExpiryTime":"t","lifecycleRestoreStorageClass":"GLACIER"}}"#,
            "{}",
        ),
        record(
            r#","lifecycleEventData":{"transitionEventData":{"destinationStorageClass":"GLACIER"}}"#,
            "{}",
        ),
        record(r#","lifecycleEventData":5"#, "{}"),
        record(r#","eventName":"ObjectRemoved:Delete""#, "{}"),
        record("", "{}").replace(
            r#""eventTime":"2026-11-23T00:00:00.000Z""#,
            r#""eventTime":"2026-11-23T00:49:43.793203""#,
        ),
        record("", "{}").replace(
            r#""eventTime":"2026-11-23T00:00:00.000Z""#,
            r#""eventTime":[1e999]"#,
        ),
        record("", "{}").replace(r#""x-amz-request-id":"R""#, r#""x-amz-request-id":5"#),
        record("", "{}").replace(r#""size":5"#, r#""size":"7""#),
        record("", "{}").replace(r#","eventName":"ObjectCreated:Put""#, ""),
        record("", "{}").replace(r#""Records":["#, r#""Records":[5,"#),
        r#"{"Records":[]}"#.to_owned(),
        r#"{"Records":null}"#.to_owned(),
        r#"{"Records":{}}"#.to_owned(),
    ];
    let inner = [
        eb(&plain, ""),
        ct(put),
        record("", "{}"),
        eb(r#"{"n":1}"#, "").replace("aws.s3", "orders"),
        "not json".to_owned(),
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#.to_owned(),
        sns(&Value::String(eb(&plain, "")).to_string(), ""),
        eb(&plain, r#""zz":1e400,"#),
    ];
    for message in &inner {
        let quoted = Value::String(message.clone()).to_string();
        bodies.push(sns(&quoted, ""));
        bodies.push(sns(
            &quoted,
            r#","MessageAttributes":{"a":{"Type":"String","Value":"1"},"b":{"Type":"Binary"},"a":{"Type":"String","Value":"2"}}"#,
        ));
        bodies.push(sns(
            &quoted,
            r#","MessageAttributes":{"a":{"Type":"Number","Value":5}}"#,
        ));
        bodies.push(sns(&quoted, r#","Subject":null,"SignatureVersion":"1""#));
    }
    bodies.push(sns("null", ""));
    bodies.push(sns("5", ""));
    bodies.push(sns(&Value::String(eb(&plain, "")).to_string(), "").replace(
        r#""Type":"Notification""#,
        r#""Type":"SubscriptionConfirmation""#,
    ));
    bodies
}

#[test]
fn the_fast_path_answers_as_the_careful_one_or_not_at_all() {
    use bridge::event::{normalize_careful, normalize_fast, normalize_with, Strictness};
    let mut bodies: Vec<(String, String)> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let name = name.strip_suffix(".body.json")?.to_owned();
            Some((name.clone(), body(&name)))
        })
        .collect();
    bodies.sort();
    let fixtures = bodies.len();
    bodies.extend(
        tricky_bodies()
            .into_iter()
            .enumerate()
            .map(|(i, b)| (format!("tricky #{i}"), b)),
    );
    let mut fast_answers = Vec::new();
    for (name, body) in &bodies {
        for strictness in [Strictness::Strict, Strictness::Lenient] {
            let careful = golden(normalize_careful(body, strictness));
            let both = golden(normalize_with(body, strictness));
            assert_eq!(both, careful, "{name} ({strictness:?}): {body}");
        }
        if let Some(events) = normalize_fast(body) {
            assert_eq!(
                golden(Ok(events.clone())),
                golden(normalize_careful(body, Strictness::Strict)),
                "{name}: {body}"
            );
            // `original` is the text of what it stands for: it reads back as the same JSON.
            for event in &events {
                let reread: Value = serde_json::from_str(event.original.as_str()).expect("JSON");
                assert_eq!(event.original, reread, "{name}");
            }
            fast_answers.push(name.clone());
        }
    }
    // The fast path does answer for the common shapes (or the benches measure nothing).
    for expected in [
        "aws-eventbridge-object-created-put",
        "aws-native-created-copy",
        "aws-sns-eventbridge-created",
        "aws-sns-native-created",
        "aws-custom-package-revision",
        "aws-custom-other",
        "aws-native-test-event",
        "aws-sns-test-event",
        "moto-eventbridge-00-object-created-reports-monthly-report-csv",
        "moto-native-01-objectcreated-put-reports-monthly-report-csv",
        "moto-sns-01-objectcreated-put-reports-monthly-report-csv",
        "aws-cloudtrail-put-object",
        "aws-cloudtrail-delete-objects",
        "tricky #0",
    ] {
        assert!(
            fast_answers.iter().any(|n| n == expected),
            "{expected} took the careful path"
        );
    }
    let careful: Vec<&str> = bodies[..fixtures]
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !fast_answers.iter().any(|n| n == name))
        .collect();
    eprintln!(
        "fast path answered {} of {} bodies; fixtures left to the careful path: {}",
        fast_answers.len(),
        bodies.len(),
        careful.join(", ")
    );
}

/// A custom EventBridge event whose `detail` nests `levels` levels (the envelope adds one).
fn nested_event(levels: usize) -> String {
    let mut detail = String::new();
    for _ in 0..levels {
        detail.push_str(r#"{"a":["#);
    }
    detail.push('7');
    for _ in 0..levels {
        detail.push_str("]}");
    }
    format!(
        r#"{{"version":"0","id":"deep-1","detail-type":"deep","source":"test","time":"2026-11-23T00:00:00Z","resources":[],"detail":{detail}}}"#
    )
}

/// serde_json stops at 128 levels; bridge takes bodies up to MAX_JSON_DEPTH (above the
/// 1100 EventBridge's PutEvents processes) and refuses deeper ones with a clear error. Run
/// on a thread with tokio's default worker stack (2 MiB): what handlers do with the event
/// (serialize, match, clone, drop) must fit there too.
#[test]
fn deep_events_normalize_up_to_the_limit_and_deeper_ones_are_refused() {
    use bridge::event::{normalize_with, Strictness, MAX_JSON_DEPTH};
    let run = || {
        // 150 levels: 75 objects and 75 arrays, plus the envelope.
        let events = normalize(&nested_event(75)).expect("150 levels deep normalizes");
        assert_eq!(events[0].id, "eb-deep-1");
        let mut leaf: &Value = &events[0].custom.as_ref().expect("custom").detail;
        for _ in 0..75 {
            leaf = &leaf["a"][0];
        }
        assert_eq!(leaf, &json!(7));

        // At the limit: the envelope plus (MAX_JSON_DEPTH - 1) levels of detail.
        let at_limit = nested_event((MAX_JSON_DEPTH - 1) / 2);
        let events = normalize(&at_limit).expect("at the limit");
        let text = serde_json::to_string(&events[0]).expect("serializes");
        let pattern = patterns::Pattern::parse(r#"{"kind": ["custom"]}"#).expect("pattern");
        assert!(pattern.matches_value(&events[0].handler_json()));
        let copy = events.clone();
        drop(events);
        drop(copy);
        assert!(text.len() > MAX_JSON_DEPTH);
        // Through SNS too: the Message is parsed on its own.
        let sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": at_limit}).to_string();
        assert_eq!(
            normalize(&sns).expect("SNS at the limit")[0].id,
            "eb-deep-1"
        );

        // Beyond it, however far: an error that says so, no stack overflow.
        for levels in [MAX_JSON_DEPTH / 2 + 1, 100_000] {
            let body = nested_event(levels);
            for strictness in [Strictness::Strict, Strictness::Lenient] {
                let err = normalize_with(&body, strictness).expect_err("too deep");
                assert!(matches!(err, NormalizeError::TooDeep { .. }), "{err}");
                assert!(
                    err.to_string()
                        .contains(&format!("more than {MAX_JSON_DEPTH} levels")),
                    "{err}"
                );
            }
            let sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": body}).to_string();
            assert!(matches!(
                normalize(&sns),
                Err(NormalizeError::TooDeep { .. })
            ));
        }
        let deep_array = "[".repeat(1_000_000);
        assert!(matches!(
            normalize(&deep_array),
            Err(NormalizeError::TooDeep { .. })
        ));
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow");
}

/// Arbitrary JSON, biased towards the keys the shapes look at so the fuzzing reaches inside.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("Records".to_owned()),
        Just("Type".to_owned()),
        Just("Message".to_owned()),
        Just("Event".to_owned()),
        Just("source".to_owned()),
        Just("detail-type".to_owned()),
        Just("detail".to_owned()),
        Just("s3".to_owned()),
        Just("object".to_owned()),
        Just("key".to_owned()),
        Just("bucket".to_owned()),
        Just("name".to_owned()),
        Just("eventName".to_owned()),
        Just("size".to_owned()),
        "[a-z%+]{0,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("Notification".to_owned()),
            Just("s3:TestEvent".to_owned()),
            Just("aws.s3".to_owned()),
            Just("Object Created".to_owned()),
            Just("package-revision".to_owned()),
            Just("ObjectCreated:Put".to_owned()),
            Just("{\"Records\":[{}]}".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalize_never_panics_on_arbitrary_json(value in arb_json()) {
        let _ = normalize(&value.to_string());
        let _ = bridge::event::normalize_with(&value.to_string(), bridge::event::Strictness::Lenient);
    }

    #[test]
    fn the_fast_path_agrees_with_the_careful_one_on_arbitrary_json(value in arb_json()) {
        use bridge::event::{normalize_careful, normalize_with, Strictness};
        let body = value.to_string();
        for strictness in [Strictness::Strict, Strictness::Lenient] {
            prop_assert_eq!(
                golden(normalize_with(&body, strictness)),
                golden(normalize_careful(&body, strictness))
            );
        }
    }

    #[test]
    fn normalize_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = normalize(&text);
    }

    #[test]
    fn a_bare_object_without_shape_keys_is_an_unknown_shape(
        map in prop::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..5)
    ) {
        let body = serde_json::to_string(&map).expect("serializes");
        let err = normalize(&body).expect_err("no shape key");
        prop_assert!(matches!(err, NormalizeError::UnknownShape { .. }), "{err}");
    }
}
