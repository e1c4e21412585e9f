//! `plan --local` / `apply --local`: the one desired state planned and applied on the local
//! state, with the same plan (steps and words) as on AWS.

use std::collections::BTreeMap;

use infra::local::{LocalFacts, PutEventsEntry, ReceiveRequest, Resolver, Store};
use infra::plan::Plan;
use rules::desired::{
    Bucket, DeadLetter, Desired, Destination, Endpoint, Queue, Rule, Subscription, Target, Topic,
};

/// Plans `desired` against what `store` holds.
fn plan(store: &mut Store, desired: &Desired, prune: bool) -> Plan {
    let facts = LocalFacts::read(store).expect("read facts");
    let config = store.config().clone();
    let dir = store.dir().to_path_buf();
    let resolver = Resolver {
        config: &config,
        state_dir: &dir,
    };
    infra::local::plan::plan(desired, &facts, resolver, prune).expect("plan")
}

/// Each step's first line, as the plan prints it (`+ create queue orders`).
fn step_lines(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| {
            let text = format!("{} {s}", s.symbol());
            text.lines().next().unwrap_or_default().to_string()
        })
        .collect()
}

fn stack() -> Desired {
    let mut target = Target::new("to-queue", Destination::Queue("orders".into()));
    target.input_transformer = Some((
        BTreeMap::from([("total".to_string(), "$.detail.total".to_string())]),
        r#"{"total": <total>}"#.to_string(),
    ));
    Desired {
        stack: "demo".into(),
        bus: "default".into(),
        queues: vec![
            Queue {
                name: "orders-dlq".into(),
                ..Queue::default()
            },
            Queue {
                name: "orders".into(),
                attributes: BTreeMap::from([("VisibilityTimeout".to_string(), "45".to_string())]),
                dead_letter: Some(DeadLetter {
                    queue: "orders-dlq".into(),
                    max_receive_count: 4,
                }),
            },
            Queue {
                name: "fanout".into(),
                ..Queue::default()
            },
        ],
        topics: vec![Topic {
            name: "order-topic".into(),
            attributes: BTreeMap::new(),
        }],
        subscriptions: vec![
            Subscription {
                topic: "order-topic".into(),
                endpoint: Endpoint::Queue("fanout".into()),
                attributes: BTreeMap::from([(
                    "RawMessageDelivery".to_string(),
                    "true".to_string(),
                )]),
            },
            Subscription {
                topic: "order-topic".into(),
                endpoint: Endpoint::Other {
                    protocol: "email".into(),
                    endpoint: "ops@example.com".into(),
                },
                attributes: BTreeMap::new(),
            },
        ],
        rules: vec![Rule {
            bus: "default".into(),
            name: "big-orders".into(),
            pattern: Some(
                r#"{"source": ["shop"], "detail": {"total": [{"numeric": [">=", 100]}]}}"#.into(),
            ),
            schedule: None,
            enabled: true,
            description: Some("orders of 100 or more".into()),
            targets: vec![
                target,
                Target::new("to-topic", Destination::Topic("order-topic".into())),
            ],
        }],
        buckets: vec![Bucket::eventbridge("uploads")],
        tags: BTreeMap::new(),
        archives: Vec::new(),
        adopt: Default::default(),
        buses: Vec::new(),
    }
}

#[test]
fn plan_then_apply_then_nothing_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let desired = stack();
    let first = plan(&mut store, &desired, true);
    let lines = step_lines(&first);
    assert!(
        lines.contains(&"+ create queue orders".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"+ create rule big-orders".to_string()),
        "{lines:#?}"
    );
    assert!(
        store.list_queues().expect("queues").is_empty(),
        "plan changes nothing"
    );

    let applied = store.apply(&desired, &first).expect("apply");
    assert_eq!(
        applied.len(),
        first.steps.len(),
        "apply does what plan said"
    );
    assert!(plan(&mut store, &desired, true).is_empty(), "converged");
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
    // Without prune, what is no longer declared is only noted, and nothing changes.
    let kept = plan(&mut store, &smaller, false);
    assert!(kept.is_empty(), "{kept}");
    assert_eq!(kept.notes.len(), 3, "{kept}");
    let removal = plan(&mut store, &smaller, true);
    assert_eq!(
        step_lines(&removal),
        [
            "- bucket uploads: notification settings (configurations of others kept)",
            "- unsubscribe ops@example.com from topic order-topic",
            "- delete rule big-orders and its targets to-queue, to-topic",
        ]
    );
    store.apply(&smaller, &removal).expect("apply");
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
    let desired = Desired::from_project(&project, None).expect("desired");
    let config = infra::local::Config::default();
    let resolver = Resolver {
        config: &config,
        state_dir: dir.path(),
    };
    let facts = LocalFacts::read_dir(dir.path(), &config).expect("no state yet");
    let first = infra::local::plan::plan(&desired, &facts, resolver, true).expect("plan");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "planning creates no files"
    );
    let lines = step_lines(&first);
    for expected in [
        "+ create queue example-events",
        "+ create topic package-alerts",
        "+ create rule quilt-package-revision",
    ] {
        assert!(
            lines.contains(&expected.to_string()),
            "{expected} missing from {lines:#?}"
        );
    }
    let mut store = Store::open(dir.path()).expect("open");
    let applied = store.apply(&desired, &first).expect("apply");
    assert_eq!(applied.len(), first.steps.len());
    let again = plan(&mut store, &desired, false);
    assert!(again.is_empty(), "{again}");
    assert!(again.notes.is_empty(), "{again}");
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

/// A scheduled rule: created and updated with the same words on both backends, and a
/// changed schedule is one update on the local state.
#[test]
fn a_scheduled_rule_plans_in_the_same_words_on_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let mut desired = Desired {
        queues: vec![Queue {
            name: "ticks".into(),
            ..Queue::default()
        }],
        rules: vec![Rule {
            name: "nightly".into(),
            pattern: None,
            schedule: Some("cron(0 4 * * ? *)".into()),
            bus: "default".into(),
            enabled: true,
            description: None,
            targets: vec![Target::new("q", Destination::Queue("ticks".into()))],
        }],
        ..Desired::empty("sched", "default")
    };
    let rule_step = |plan: &Plan| {
        plan.steps
            .iter()
            .map(|s| format!("{} {s}", s.symbol()))
            .find(|s| s.contains(" rule nightly") && !s.contains("policy"))
            .expect("a rule step")
    };
    let local = plan(&mut store, &desired, false);
    let aws = infra::aws::plan::plan(&desired, &infra::aws::read::AccountFacts::default(), false);
    assert_eq!(
        rule_step(&local),
        "+ create rule nightly\n      schedule cron(0 4 * * ? *) (UTC)"
    );
    assert_eq!(rule_step(&local), rule_step(&aws));
    store.apply(&desired, &local).expect("apply");
    assert!(plan(&mut store, &desired, false).is_empty());

    desired.rules[0].schedule = Some("rate(1 hour)".into());
    let changed = plan(&mut store, &desired, false);
    assert_eq!(changed.steps.len(), 1, "{changed}");
    assert_eq!(
        rule_step(&changed),
        "~ update rule nightly: schedule\n      schedule rate(1 hour) (UTC)"
    );
    store.apply(&desired, &changed).expect("apply");
    let rules = store.list_rules(None).expect("rules");
    assert_eq!(rules[0].schedule.as_deref(), Some("rate(1 hour)"));
    assert!(plan(&mut store, &desired, false).is_empty());
}

/// What S3 and SNS do when a project is applied, as AWS documents it:
/// - a native notification's `s3.configurationId` is the `Id` stored on the bucket,
///   `bridge:<stack>:<id>` on AWS (infra::aws::s3_notify), and now locally too, while the
///   plan keeps naming the declared id;
/// - native records carry the current `eventVersion` (Amazon S3 User Guide, "Event message
///   structure": 2.5, one version for every event type since 2.4);
/// - saving a notification configuration sends `s3:TestEvent` (`Service`, `Event`, `Time`,
///   `Bucket`, `RequestId`, `HostId`, same page) to each destination that is new to the
///   bucket, and to no other;
/// - a topic's e-mails come from its `DisplayName` (SNS Developer Guide, "Creating an
///   Amazon SNS topic": the display name goes with the sending address).
#[test]
fn notifications_are_named_tested_and_mailed_as_on_aws() {
    use rules::desired::{Notification, NotificationDestination};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let notification = |id: &str, to: NotificationDestination| Notification {
        id: id.into(),
        destination: to,
        events: vec!["s3:ObjectCreated:*".into()],
        prefix: None,
        suffix: Some(".csv".into()),
    };
    let mut desired = Desired {
        stack: "demo".into(),
        bus: "default".into(),
        queues: vec![Queue {
            name: "native".into(),
            ..Queue::default()
        }],
        topics: vec![Topic {
            name: "alerts".into(),
            attributes: BTreeMap::from([("DisplayName".to_string(), "Shop alerts".to_string())]),
        }],
        subscriptions: vec![Subscription {
            topic: "alerts".into(),
            endpoint: Endpoint::Other {
                protocol: "email".into(),
                endpoint: "ops@example.com".into(),
            },
            attributes: BTreeMap::new(),
        }],
        rules: Vec::new(),
        buckets: vec![Bucket {
            name: "uploads".into(),
            eventbridge: false,
            notifications: vec![notification(
                "csv",
                NotificationDestination::Queue("native".into()),
            )],
        }],
        tags: BTreeMap::new(),
        ..Desired::default()
    };
    let first = plan(&mut store, &desired, true);
    let text = first.to_string();
    assert!(
        text.contains("csv") && !text.contains("bridge:"),
        "the plan names the declared id: {text}"
    );
    store.apply(&desired, &first).expect("apply");
    assert!(plan(&mut store, &desired, true).is_empty(), "converged");

    let got = store
        .receive_messages("native", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(
        got.len(),
        1,
        "one s3:TestEvent when the configuration is saved"
    );
    let test: serde_json::Value = serde_json::from_str(&got[0].body).expect("json");
    let mut keys: Vec<&str> = test
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["Bucket", "Event", "HostId", "RequestId", "Service", "Time"]
    );
    assert_eq!(test["Service"], "Amazon S3");
    assert_eq!(test["Event"], "s3:TestEvent");
    assert_eq!(test["Bucket"], "uploads");
    store
        .delete_message("native", &got[0].receipt_handle)
        .expect("delete");

    let bucket_dir = dir.path().join("buckets/uploads");
    std::fs::write(bucket_dir.join("a.csv"), "x,y\n").expect("write");
    assert_eq!(store.scan_buckets().expect("scan").len(), 1);
    let got = store
        .receive_messages("native", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 1);
    let records: serde_json::Value = serde_json::from_str(&got[0].body).expect("json");
    let record = &records["Records"][0];
    assert_eq!(record["eventVersion"], "2.5");
    assert_eq!(record["s3"]["configurationId"], "bridge:demo:csv");
    store
        .delete_message("native", &got[0].receipt_handle)
        .expect("delete");

    // A second destination: only it gets a test event; re-applying sends none.
    desired.buckets[0].notifications.push(notification(
        "csv-mail",
        NotificationDestination::Topic("alerts".into()),
    ));
    let second = plan(&mut store, &desired, true);
    store.apply(&desired, &second).expect("apply");
    assert!(plan(&mut store, &desired, true).is_empty(), "converged");
    let mails: Vec<String> = std::fs::read_dir(store.outbox_dir())
        .expect("outbox")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(mails.len(), 1, "the topic got one test event: {mails:?}");
    assert!(mails[0].contains("s3:TestEvent"), "{}", mails[0]);
    assert!(
        mails[0].starts_with("From: Shop alerts <no-reply@sns.amazonaws.com>\r\n"),
        "{}",
        mails[0]
    );
    assert!(
        store
            .receive_messages("native", ReceiveRequest::default())
            .expect("receive")
            .is_empty(),
        "the queue got no second test event"
    );

    // A changed display name is planned as a topic update and used from then on.
    desired.topics[0]
        .attributes
        .insert("DisplayName".into(), "Ops \"desk\"".into());
    let third = plan(&mut store, &desired, true);
    assert_eq!(
        third.steps.len(),
        1,
        "only the topic changes: {:?}",
        step_lines(&third)
    );
    store.apply(&desired, &third).expect("apply");
    let topics = store.list_topics().expect("topics");
    assert_eq!(topics[0].display_name.as_deref(), Some("Ops \"desk\""));
}
