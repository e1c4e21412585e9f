//! The schemas committed under `schema/` are the ones the code generates (regenerate with
//! `bridge schema project > schema/bridge-project.schema.json` and
//! `bridge schema rule > schema/rule.schema.json`).

use std::path::PathBuf;

fn committed(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schema")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn committed_schemas_are_current() {
    assert_eq!(
        committed("bridge-project.schema.json"),
        rules::project_schema(),
        "regenerate schema/bridge-project.schema.json"
    );
    assert_eq!(
        committed("rule.schema.json"),
        rules::rule_schema(),
        "regenerate schema/rule.schema.json"
    );
}

#[test]
fn schemas_reject_unknown_fields() {
    for schema in [rules::project_schema(), rules::rule_schema()] {
        assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    }
}
