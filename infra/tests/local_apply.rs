//! `plan --local` / `apply --local`: the AWS stack declaration applied to the local state.

use std::collections::BTreeMap;

use infra::aws::stack::{
    BucketSpec, DeadLetter, Destination, Endpoint, QueueSpec, RuleSpec, StackSpec,
    SubscriptionSpec, TargetSpec, TopicSpec,
};
use infra::local::{PutEventsEntry, ReceiveRequest, Store};

fn stack() -> StackSpec {
    let mut target = TargetSpec::new("to-queue", Destination::Queue("orders".into()));
    target.input_transformer = Some((
        BTreeMap::from([("total".to_string(), "$.detail.total".to_string())]),
        r#"{"total": <total>}"#.to_string(),
    ));
    StackSpec {
        stack: "demo".into(),
        bus: "default".into(),
        queues: vec![
            QueueSpec {
                name: "orders-dlq".into(),
                ..QueueSpec::default()
            },
            QueueSpec {
                name: "orders".into(),
                attributes: BTreeMap::from([("VisibilityTimeout".to_string(), "45".to_string())]),
                dead_letter: Some(DeadLetter {
                    queue: "orders-dlq".into(),
                    max_receive_count: 4,
                }),
            },
            QueueSpec {
                name: "fanout".into(),
                ..QueueSpec::default()
            },
        ],
        topics: vec![TopicSpec {
            name: "order-topic".into(),
            attributes: BTreeMap::new(),
        }],
        subscriptions: vec![
            SubscriptionSpec {
                topic: "order-topic".into(),
                endpoint: Endpoint::Queue("fanout".into()),
                attributes: BTreeMap::from([(
                    "RawMessageDelivery".to_string(),
                    "true".to_string(),
                )]),
            },
            SubscriptionSpec {
                topic: "order-topic".into(),
                endpoint: Endpoint::Other {
                    protocol: "email".into(),
                    endpoint: "ops@example.com".into(),
                },
                attributes: BTreeMap::new(),
            },
        ],
        rules: vec![RuleSpec {
            name: "big-orders".into(),
            pattern: r#"{"source": ["shop"], "detail": {"total": [{"numeric": [">=", 100]}]}}"#
                .into(),
            enabled: true,
            description: Some("orders of 100 or more".into()),
            targets: vec![
                target,
                TargetSpec::new("to-topic", Destination::Topic("order-topic".into())),
            ],
        }],
        buckets: vec![BucketSpec::eventbridge("uploads")],
        tags: BTreeMap::new(),
    }
}

#[test]
fn plan_then_apply_then_nothing_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let desired = store.desired_from_stack(&stack()).expect("translate");
    let plan = store.plan(&desired, true).expect("plan");
    let lines: Vec<String> = plan.iter().map(ToString::to_string).collect();
    assert!(lines.contains(&"+ queue orders".to_string()), "{lines:#?}");
    assert!(
        lines.contains(&"+ rule default/big-orders".to_string()),
        "{lines:#?}"
    );
    assert!(
        store.list_queues().expect("queues").is_empty(),
        "plan changes nothing"
    );

    let applied = store.apply(&desired, true).expect("apply");
    assert_eq!(applied, plan, "apply does what plan said");
    assert!(
        store.plan(&desired, true).expect("plan again").is_empty(),
        "converged"
    );
    let orders = store
        .list_queues()
        .expect("queues")
        .into_iter()
        .find(|q| q.name == "orders")
        .expect("orders");
    assert_eq!(orders.visibility_timeout_secs, 45);
    assert_eq!(
        orders.redrive.expect("redrive").dead_letter_target_arn,
        "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
    );
    assert!(dir.path().join("buckets/uploads").is_dir());

    let out = store
        .put_events(&[
            PutEventsEntry::new("shop", "order", r#"{"total": 150}"#),
            PutEventsEntry::new("shop", "order", r#"{"total": 5}"#),
        ])
        .expect("put");
    assert_eq!(out.routed.len(), 2, "{:?}", out.routed);
    let got = store
        .receive_messages("orders", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, r#"{"total": 150}"#);
    let fan = store
        .receive_messages("fanout", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(fan.len(), 1, "rule → topic → raw SQS subscription");
    assert_eq!(
        std::fs::read_dir(store.outbox_dir())
            .expect("outbox")
            .count(),
        1
    );

    // Dropping the rule from the declaration removes it (and its targets) with prune.
    let mut smaller = stack();
    smaller.rules.clear();
    smaller.subscriptions.truncate(1);
    smaller.buckets.clear();
    let desired = store.desired_from_stack(&smaller).expect("translate");
    let removed: Vec<String> = store
        .apply(&desired, true)
        .expect("apply")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        removed,
        [
            "- subscription arn:aws:sns:us-east-1:000000000000:order-topic → email:ops@example.com",
            "- rule default/big-orders",
            "- bucket uploads (its directory is kept)"
        ]
    );
    assert_eq!(store.list_subscriptions(None).expect("subs").len(), 1);
    assert!(store.list_buckets().expect("buckets").is_empty());
    assert!(store.list_rules(None).expect("rules").is_empty());
}

#[test]
fn the_example_project_plans_then_applies_then_converges() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples");
    let project = rules::load(&root).expect("example project loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = infra::local::project::sync_project(dir.path(), &project, false).expect("plan");
    let lines: Vec<String> = plan.iter().map(ToString::to_string).collect();
    for expected in [
        "+ queue example-events",
        "+ topic package-alerts",
        "+ rule default/quilt-package-revision",
    ] {
        assert!(
            lines.contains(&expected.to_string()),
            "{expected} missing from {lines:#?}"
        );
    }
    let applied = infra::local::project::sync_project(dir.path(), &project, true).expect("apply");
    assert_eq!(applied, plan);
    let again =
        infra::local::project::sync_project(dir.path(), &project, false).expect("plan again");
    assert!(again.is_empty(), "{again:?}");
    let mut store = Store::open(dir.path()).expect("open");
    let example = store
        .list_queues()
        .expect("queues")
        .into_iter()
        .find(|q| q.name == "example-events")
        .expect("queue");
    assert_eq!(example.visibility_timeout_secs, 60);
    let targets = store
        .list_targets("default", "quilt-package-revision")
        .expect("targets");
    let alerts = targets
        .iter()
        .find(|t| t.id == "alerts")
        .expect("alerts target");
    assert!(alerts.input_transformer.is_some());
}
