//! `schema/event.schema.json` describes the JSON `Event` serializes to: the same field names,
//! all required, the same kinds and deletion types. Keeps the published schema from drifting.

use std::collections::BTreeSet;
use std::path::Path;

use bridge::event::{normalize, DeletionType, Kind};
use serde_json::Value;

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/event.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn schema_kinds_are_the_event_kinds() {
    let schema = schema();
    let listed = strings(&schema["properties"]["kind"]["enum"]);
    let actual: BTreeSet<String> = Kind::ALL
        .into_iter()
        .map(|k| serde_json::to_value(k).expect("kind serializes"))
        .map(|v| v.as_str().expect("kind is a string").to_owned())
        .collect();
    assert_eq!(listed, actual);
    let deletion = strings(&schema["properties"]["deletion_type"]["enum"]);
    let actual: BTreeSet<String> = [
        DeletionType::PermanentlyDeleted,
        DeletionType::DeleteMarkerCreated,
    ]
    .into_iter()
    .map(|d| serde_json::to_value(d).expect("serializes"))
    .map(|v| v.as_str().expect("a string").to_owned())
    .collect();
    assert_eq!(deletion, actual);
}

#[test]
fn schema_fields_are_the_serialized_fields() {
    let schema = schema();
    let properties: BTreeSet<String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        strings(&schema["required"]),
        properties,
        "every field is required"
    );
    assert_eq!(schema["additionalProperties"], Value::Bool(false));

    // One event from each path, including an SNS-wrapped one so provenance is fully set.
    let body = r#"{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:111122223333:t",
        "Message":"{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"Object Created\",\"source\":\"aws.s3\",\"account\":\"111122223333\",\"time\":\"2021-11-12T00:00:00Z\",\"region\":\"us-east-1\",\"resources\":[],\"detail\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\",\"size\":1,\"etag\":\"e\",\"sequencer\":\"01\"},\"reason\":\"PutObject\"}}",
        "MessageAttributes":{"team":{"Type":"String","Value":"data"}}}"#;
    let events = normalize(body).expect("normalizes");
    let serialized = serde_json::to_value(&events[0]).expect("serializes");
    let fields: BTreeSet<String> = serialized
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(fields, properties);
    let provenance: BTreeSet<String> = serialized["provenance"]
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        provenance,
        strings(&schema["properties"]["provenance"]["required"])
    );
    assert_eq!(serialized["metadata"]["team"], "data");
}
