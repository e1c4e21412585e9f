//! `plan --json`: the document a real plan becomes, and its committed JSON Schema.

use std::path::PathBuf;

use infra::local::{Config, LocalFacts, Resolver};
use infra::plan::{PlanDocument, PLAN_FORMAT_VERSION};
use rules::desired::Desired;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_committed_plan_schema_is_current() {
    let path = root().join("schema/plan.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema/plan.schema.json");
    let committed: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        committed,
        PlanDocument::schema(),
        "regenerate: bridge schema plan > schema/plan.schema.json"
    );
}

#[test]
fn the_committed_apply_schema_is_current() {
    let path = root().join("schema/apply.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema/apply.schema.json");
    let committed: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        committed,
        infra::plan::ApplyDocument::schema(),
        "regenerate: bridge schema apply > schema/apply.schema.json"
    );
}

#[test]
fn a_real_plan_becomes_a_document_that_reads_back_and_counts_its_steps() {
    let project = rules::load(&root().join("examples")).expect("example loads");
    let desired = Desired::from_project(&project, None).expect("desired");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default();
    let facts = LocalFacts::read_dir(dir.path(), &config).expect("facts");
    let resolver = Resolver {
        config: &config,
        state_dir: dir.path(),
    };
    let plan = infra::local::plan::plan(&desired, &facts, resolver, false).expect("plan");
    let document = PlanDocument::from(&plan);
    let text = serde_json::to_string(&document).expect("serialize");
    // The schema's own `deny_unknown_fields` types read it back unchanged.
    let back: PlanDocument = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, document);
    assert_eq!(document.format_version, PLAN_FORMAT_VERSION);
    assert_eq!(document.backend, "local");
    assert_eq!(document.stack, "bridge-example");
    assert_eq!(document.steps.len(), plan.steps.len());
    let s = &document.summary;
    assert_eq!(s.add + s.change + s.destroy, document.steps.len());
    let queue = document
        .steps
        .iter()
        .find(|st| st.kind == "queue" && st.resource == "example-events")
        .expect("the queue step");
    assert_eq!(queue.action, "create");
    assert!(
        queue.text.starts_with("create queue example-events"),
        "{}",
        queue.text
    );
    assert!(document
        .steps
        .iter()
        .any(|st| st.kind == "rule" && st.resource == "quilt-package-revision"));
    for st in &document.steps {
        assert!(
            ["create", "update", "delete"].contains(&st.action.as_str()),
            "{st:?}"
        );
    }
}
