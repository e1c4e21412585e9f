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
