//! Planner tests: small fixture builders for facts and declarations, one behaviour each.

use super::*;
use crate::aws::read::{BucketFacts, SubscriptionFacts};
use crate::aws::s3_notify::BucketNotifications;
use rules::desired::{Bucket, Queue, Rule, Subscription, Topic};
use rules::owner::ownership_tags;

const ACCOUNT: &str = "111122223333";

fn queue(name: &str, tags: BTreeMap<String, String>) -> QueueFacts {
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
    QueueFacts {
        name: name.into(),
        url: format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}"),
        attributes: BTreeMap::from([("QueueArn".to_string(), arn.clone())]),
        arn,
        tags,
    }
}

fn topic(name: &str, subs: Vec<SubscriptionFacts>) -> TopicFacts {
    TopicFacts {
        name: name.into(),
        arn: format!("arn:aws:sns:us-east-1:{ACCOUNT}:{name}"),
        attributes: BTreeMap::new(),
        tags: ownership_tags("shop"),
        subscriptions: subs,
    }
}

fn email_spec(topic: &str, address: &str) -> Subscription {
    Subscription {
        topic: topic.into(),
        endpoint: Endpoint::Other {
            protocol: "email".into(),
            endpoint: address.into(),
        },
        attributes: BTreeMap::new(),
    }
}

#[test]
fn a_pending_email_subscription_is_never_recreated() {
    let pending = SubscriptionFacts {
        arn: None,
        protocol: "email".into(),
        endpoint: "ops@example.com".into(),
        pending: true,
        attributes: BTreeMap::new(),
    };
    let facts = AccountFacts {
        topics: vec![topic("alerts", vec![pending])],
        ..AccountFacts::default()
    };
    let spec = Desired {
        topics: vec![Topic {
            name: "alerts".into(),
            attributes: BTreeMap::new(),
        }],
        subscriptions: vec![email_spec("alerts", "ops@example.com")],
        ..Desired::empty("shop", "default")
    };
    let plan = plan(&spec, &facts, true);
    assert!(plan.is_empty(), "{plan}");
    assert!(
        plan.notes.iter().any(|n| matches!(n, Note::Pending { .. })),
        "{plan}"
    );
    assert!(plan.render(false).contains("pending confirmation"));

    // Undeclared and pending: cannot be removed either, even with prune.
    let spec = Desired {
        subscriptions: vec![],
        ..spec
    };
    let plan = super::plan(&spec, &facts, true);
    assert!(plan.is_empty(), "{plan}");
    assert!(plan.notes.iter().any(|n| matches!(n, Note::Pending { .. })));
}

#[test]
fn unowned_and_other_stacks_resources_are_only_noted() {
    let facts = AccountFacts {
        queues: vec![
            queue("theirs", BTreeMap::new()),
            queue("other-stack", ownership_tags("billing")),
            queue("ours-old", ownership_tags("shop")),
        ],
        ..AccountFacts::default()
    };
    let spec = Desired {
        queues: vec![Queue {
            name: "theirs".into(),
            attributes: BTreeMap::from([("VisibilityTimeout".into(), "5".into())]),
            dead_letter: None,
        }],
        ..Desired::empty("shop", "default")
    };
    let pruned = plan(&spec, &facts, true);
    assert_eq!(
        pruned.steps,
        vec![Step::DeleteQueue {
            name: "ours-old".into()
        }],
        "{pruned}"
    );
    assert!(pruned.notes.contains(&Note::NotOwned {
        kind: "queue",
        name: "theirs".into()
    }));
    let kept = plan(&spec, &facts, false);
    assert!(kept.is_empty(), "{kept}");
    assert!(kept.notes.contains(&Note::WouldPrune {
        kind: "queue",
        name: "ours-old".into()
    }));
    assert!(kept.render(false).contains("apply --prune"));
}

#[test]
fn a_rule_target_the_stack_does_not_own_is_a_warning_not_a_silent_missing_grant() {
    let facts = AccountFacts {
        queues: vec![queue("theirs", BTreeMap::new())],
        ..AccountFacts::default()
    };
    let spec = Desired {
        queues: vec![Queue {
            name: "theirs".into(),
            ..Queue::default()
        }],
        rules: vec![Rule {
            bus: "default".into(),
            name: "r".into(),
            pattern: Some(r#"{"source":["a"]}"#.into()),
            schedule: None,
            enabled: true,
            description: None,
            targets: vec![Target::new("t", Destination::Queue("theirs".into()))],
        }],
        ..Desired::empty("shop", "default")
    };
    let planned = plan(&spec, &facts, false);
    assert!(
        planned.notes.contains(&Note::Ungranted {
            kind: "queue",
            name: "theirs".into(),
            by: "rule r".into()
        }),
        "{planned}"
    );
    assert!(planned
        .render(false)
        .contains("  ! rule r sends to queue theirs"));
    assert!(!planned
        .steps
        .iter()
        .any(|s| matches!(s, Step::Grant { .. })));
}

#[test]
fn no_subscription_is_added_to_a_topic_the_stack_does_not_own() {
    let mut foreign = topic("alerts", vec![]);
    foreign.tags = BTreeMap::new();
    let facts = AccountFacts {
        topics: vec![foreign],
        ..AccountFacts::default()
    };
    let spec = Desired {
        topics: vec![Topic {
            name: "alerts".into(),
            attributes: BTreeMap::new(),
        }],
        subscriptions: vec![email_spec("alerts", "ops@example.com")],
        ..Desired::empty("shop", "default")
    };
    let p = plan(&spec, &facts, true);
    assert!(p.is_empty(), "{p}");
    assert!(p.notes.contains(&Note::NotOwned {
        kind: "topic",
        name: "alerts".into()
    }));
}

#[test]
fn buckets_are_enabled_only_when_off_and_never_disabled() {
    let bucket = |name: &str, on: bool| BucketFacts {
        name: name.into(),
        notifications: BucketNotifications {
            eventbridge: on,
            configurations: vec![foreign_config()],
        },
    };
    let facts = AccountFacts {
        buckets: vec![bucket("on", true), bucket("off", false)],
        ..AccountFacts::default()
    };
    let spec = Desired {
        buckets: vec![Bucket::eventbridge("on"), Bucket::eventbridge("off")],
        ..Desired::empty("shop", "default")
    };
    let p = plan(&spec, &facts, true);
    assert_eq!(
        p.steps,
        vec![Step::ConfigureBucket {
            bucket: "off".into(),
            enable_eventbridge: true,
            put: vec![],
            remove: vec![],
        }]
    );
    assert!(p.render(false).contains("send S3 events to EventBridge"));
    // A bucket holding none of the stack's configurations is never changed.
    let none = plan(&Desired::empty("shop", "default"), &facts, true);
    assert!(none.is_empty(), "{none}");
}

const UPLOADS_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:uploads";

fn foreign_config() -> NotificationFacts {
    NotificationFacts {
        id: Some("theirs".into()),
        kind: NotificationKind::Queue,
        arn: "arn:aws:sqs:us-east-1:111122223333:theirs".into(),
        events: vec!["s3:ObjectRemoved:*".into()],
        prefix: None,
        suffix: None,
    }
}

fn uploads_spec(prefix: &str) -> Notification {
    Notification {
        id: "uploads".into(),
        destination: NotificationDestination::Queue("uploads".into()),
        events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
        prefix: Some(prefix.into()),
        suffix: None,
    }
}

/// The configuration as AWS hands it back: rule name `Prefix`, events reordered.
fn uploads_config(id: &str, prefix: &str) -> NotificationFacts {
    NotificationFacts {
        id: Some(id.into()),
        kind: NotificationKind::Queue,
        arn: UPLOADS_ARN.into(),
        events: vec!["s3:ObjectRemoved:*".into(), "s3:ObjectCreated:*".into()],
        prefix: Some(prefix.into()),
        suffix: Some(String::new()),
    }
}

/// The stack's uploads queue, with an S3 grant for `buckets`.
fn uploads_queue(buckets: &[&str]) -> QueueFacts {
    let mut q = queue("uploads", ownership_tags("shop"));
    if !buckets.is_empty() {
        let grant = Grant {
            sid: Grant::sid_for("shop", S3),
            service: S3.into(),
            action: "sqs:SendMessage".into(),
            resource: UPLOADS_ARN.into(),
            source_arns: buckets.iter().map(|b| bucket_arn("aws", b)).collect(),
            source_account: Some(ACCOUNT.into()),
        };
        let doc = policy::merge(None, &grant).unwrap().unwrap();
        q.attributes.insert("Policy".into(), doc);
    }
    q
}

fn notifying_spec(prefix: &str) -> Desired {
    Desired {
        queues: vec![Queue {
            name: "uploads".into(),
            ..Queue::default()
        }],
        buckets: vec![Bucket {
            name: "raw".into(),
            eventbridge: false,
            notifications: vec![uploads_spec(prefix)],
        }],
        ..Desired::empty("shop", "default")
    }
}

fn bucket_with(configs: Vec<NotificationFacts>) -> BucketFacts {
    BucketFacts {
        name: "raw".into(),
        notifications: BucketNotifications {
            eventbridge: false,
            configurations: configs,
        },
    }
}

#[test]
fn a_new_notification_is_granted_before_the_bucket_is_written() {
    let facts = AccountFacts {
        queues: vec![uploads_queue(&[])],
        buckets: vec![bucket_with(vec![foreign_config()])],
        ..AccountFacts::default()
    };
    let p = plan(&notifying_spec("in/"), &facts, false);
    assert_eq!(
        p.steps,
        vec![
            Step::Grant {
                resource: PolicyResource::Queue("uploads".into()),
                service: S3,
                sources: vec![Source::Bucket("raw".into())],
            },
            Step::ConfigureBucket {
                bucket: "raw".into(),
                enable_eventbridge: false,
                put: vec![NotificationChange {
                    spec: uploads_spec("in/"),
                    new: true,
                    changes: vec![],
                }],
                remove: vec![],
            },
        ],
        "{p}"
    );
    let text = p.render(false);
    assert!(
        text.contains("allow s3.amazonaws.com only from bucket raw"),
        "{text}"
    );
    assert!(
        text.contains(
            "add uploads: queue uploads on s3:ObjectCreated:*, s3:ObjectRemoved:* (prefix in/)"
        ),
        "{text}"
    );
    assert_eq!(p.counts(), (1, 1, 0));
}

#[test]
fn an_equivalent_notification_is_no_change_and_a_new_prefix_is_an_update() {
    let ours = notification_id("shop", "uploads");
    let facts = AccountFacts {
        queues: vec![uploads_queue(&["raw"])],
        buckets: vec![bucket_with(vec![
            foreign_config(),
            uploads_config(&ours, "in/"),
        ])],
        ..AccountFacts::default()
    };
    let same = plan(&notifying_spec("in/"), &facts, true);
    assert!(same.is_empty(), "{same}");

    let changed = plan(&notifying_spec("incoming/"), &facts, true);
    assert_eq!(changed.steps.len(), 1, "{changed}");
    let Step::ConfigureBucket { put, remove, .. } = &changed.steps[0] else {
        panic!("{changed}");
    };
    assert!(remove.is_empty());
    assert_eq!(put[0].changes, vec!["prefix in/".to_string()]);
    assert!(!put[0].new);
    assert!(
        changed.render(false).contains("update uploads:"),
        "{changed}"
    );
    assert!(
        changed.render(false).contains("(was: prefix in/)"),
        "{changed}"
    );
}

#[test]
fn only_the_stacks_undeclared_notifications_are_pruned() {
    let facts = AccountFacts {
        queues: vec![uploads_queue(&["raw"])],
        buckets: vec![bucket_with(vec![
            foreign_config(),
            uploads_config(&notification_id("shop", "uploads"), "in/"),
            uploads_config(&notification_id("shop", "old"), "old/"),
            uploads_config(&notification_id("shop-eu", "old"), "old/"),
            uploads_config("bridge-shop-old", "old/"),
        ])],
        ..AccountFacts::default()
    };
    let spec = notifying_spec("in/");
    let kept = plan(&spec, &facts, false);
    assert!(kept.is_empty(), "{kept}");
    // Nothing declared on the bucket any more: without prune the configuration stays,
    // and so does the grant it needs.
    let mut bare = spec.clone();
    bare.buckets.clear();
    let bare_plan = plan(&bare, &facts, false);
    assert!(bare_plan.is_empty(), "{bare_plan}");
    assert_eq!(bare_plan.notes.len(), 2, "{bare_plan}");
    assert_eq!(
        kept.notes,
        vec![Note::WouldPrune {
            kind: "notification",
            name: "old of bucket raw".into()
        }]
    );
    let pruned = plan(&spec, &facts, true);
    assert_eq!(
        pruned.steps,
        vec![Step::ConfigureBucket {
            bucket: "raw".into(),
            enable_eventbridge: false,
            put: vec![],
            remove: vec!["old".into()],
        }],
        "{pruned}"
    );
    assert_eq!(pruned.counts(), (0, 0, 1));
}

#[test]
fn destroy_removes_notifications_before_the_queue_and_dropped_buckets_lose_the_grant_after() {
    let ours = notification_id("shop", "uploads");
    let facts = AccountFacts {
        queues: vec![uploads_queue(&["raw"])],
        // Found through the grant: no longer declared.
        buckets: vec![bucket_with(vec![
            foreign_config(),
            uploads_config(&ours, "in/"),
        ])],
        ..AccountFacts::default()
    };
    let destroy = plan(&Desired::empty("shop", "default"), &facts, true);
    assert_eq!(
        destroy.steps,
        vec![
            Step::ConfigureBucket {
                bucket: "raw".into(),
                enable_eventbridge: false,
                put: vec![],
                remove: vec!["uploads".into()],
            },
            Step::DeleteQueue {
                name: "uploads".into()
            },
        ],
        "{destroy}"
    );

    // The bucket is swapped for another: grant both, write both buckets, then grant
    // only the new one.
    let mut spec = notifying_spec("in/");
    spec.buckets[0].name = "fresh".into();
    let swap = plan(&spec, &facts, true);
    let kinds: Vec<String> = swap
        .steps
        .iter()
        .map(|s| match s {
            Step::Grant { sources, .. } => format!("grant {sources:?}"),
            Step::ConfigureBucket { bucket, .. } => format!("bucket {bucket}"),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            r#"grant [Bucket("fresh"), Bucket("raw")]"#.to_string(),
            "bucket fresh".into(),
            "bucket raw".into(),
            r#"grant [Bucket("fresh")]"#.into(),
        ],
        "{swap}"
    );
}

#[test]
fn project_tags_drift_is_set_in_place_and_undeclared_tags_go_only_with_prune() {
    let mut tags = ownership_tags("shop");
    tags.insert("team".into(), "web".into());
    tags.insert("cost-center".into(), "42".into());
    tags.insert("aws:cloudformation:stack-name".into(), "x".into());
    let facts = AccountFacts {
        queues: vec![queue("orders", tags.clone())],
        ..AccountFacts::default()
    };
    let spec = Desired {
        queues: vec![Queue {
            name: "orders".into(),
            ..Queue::default()
        }],
        tags: BTreeMap::from([
            ("team".to_string(), "data".to_string()),
            ("env".to_string(), "prod".to_string()),
        ]),
        ..Desired::empty("shop", "default")
    };
    let p = plan(&spec, &facts, false);
    let retag: Vec<&Step> = p
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Retag { .. }))
        .collect();
    assert_eq!(
        retag,
        vec![&Step::Retag {
            resource: Tagged::Queue("orders".into()),
            set: vec![
                AttrChange {
                    key: "env".into(),
                    from: None,
                    to: "prod".into()
                },
                AttrChange {
                    key: "team".into(),
                    from: Some("web".into()),
                    to: "data".into()
                },
            ],
            unset: vec![],
        }],
        "{p}"
    );
    assert!(p.notes.contains(&Note::WouldPrune {
        kind: "tag",
        name: "cost-center of queue orders".into()
    }));
    assert!(p.render(false).contains("team: web -> data"), "{p}");
    let pruned = plan(&spec, &facts, true);
    assert!(pruned.steps.iter().any(|s| matches!(
        s,
        Step::Retag { unset, .. } if unset == &["cost-center".to_string()]
    )));

    // In line: nothing to do; a foreign queue's tags are never planned.
    let mut inline = ownership_tags("shop");
    inline.extend(spec.tags.clone());
    let facts = AccountFacts {
        queues: vec![queue("orders", inline), queue("theirs", BTreeMap::new())],
        ..AccountFacts::default()
    };
    let mut spec = spec;
    spec.queues.push(Queue {
        name: "theirs".into(),
        ..Queue::default()
    });
    let p = plan(&spec, &facts, true);
    assert!(
        !p.steps.iter().any(|s| matches!(s, Step::Retag { .. })),
        "{p}"
    );
}

#[test]
fn a_reserialized_pattern_is_not_a_change_and_rendering_is_coloured_on_request() {
    let rule_arn = format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/r");
    let facts = AccountFacts {
        rules: vec![RuleFacts {
            name: "r".into(),
            arn: rule_arn,
            bus: "default".into(),
            event_pattern: Some("{\"source\": [\"a\"],  \"detail-type\": [\"x\"]}".into()),
            schedule_expression: None,
            enabled: true,
            description: None,
            tags: ownership_tags("shop"),
            targets: vec![],
        }],
        ..AccountFacts::default()
    };
    let mut spec = Desired {
        rules: vec![Rule {
            bus: "default".into(),
            name: "r".into(),
            pattern: Some(r#"{"detail-type":["x"],"source":["a"]}"#.into()),
            schedule: None,
            enabled: true,
            description: None,
            targets: vec![],
        }],
        ..Desired::empty("shop", "default")
    };
    assert!(plan(&spec, &facts, false).is_empty());
    spec.rules[0].pattern = Some(r#"{"source":["b"]}"#.into());
    let changed = plan(&spec, &facts, false);
    assert_eq!(changed.counts(), (0, 1, 0));
    let coloured = changed.render(true);
    assert!(coloured.contains("\x1b[33m"), "{coloured:?}");
    assert!(!changed.render(false).contains('\x1b'));
    assert!(changed.to_string().contains("update rule r: pattern"));
}

#[test]
fn a_schedule_is_compared_verbatim_and_switching_from_a_pattern_changes_both() {
    let facts = AccountFacts {
        rules: vec![RuleFacts {
            name: "r".into(),
            arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/r"),
            bus: "default".into(),
            event_pattern: None,
            schedule_expression: Some("rate(5 minutes)".into()),
            enabled: true,
            description: None,
            tags: ownership_tags("shop"),
            targets: vec![],
        }],
        ..AccountFacts::default()
    };
    let mut spec = Desired {
        rules: vec![Rule {
            bus: "default".into(),
            name: "r".into(),
            pattern: None,
            schedule: Some("rate(5 minutes)".into()),
            enabled: true,
            description: None,
            targets: vec![],
        }],
        ..Desired::empty("shop", "default")
    };
    assert!(plan(&spec, &facts, false).is_empty());
    spec.rules[0].schedule = Some("rate(10 minutes)".into());
    let changed = plan(&spec, &facts, false);
    assert!(
        matches!(&changed.steps[..], [Step::UpdateRule { changes, .. }] if changes == &["schedule"]),
        "{changed}"
    );
    assert!(changed
        .to_string()
        .contains("update rule r: schedule\n      schedule rate(10 minutes) (UTC)"));
    spec.rules[0].schedule = None;
    spec.rules[0].pattern = Some(r#"{"source":["a"]}"#.into());
    let switched = plan(&spec, &facts, false);
    assert!(
        matches!(&switched.steps[..], [Step::UpdateRule { changes, .. }] if changes == &["pattern", "schedule"]),
        "{switched}"
    );
    assert!(
        switched.to_string().contains(r#"pattern {"source":["a"]}"#),
        "{switched}"
    );
}

#[test]
fn adopt_tags_what_is_nobodys_first_and_never_takes_another_stacks() {
    let facts = AccountFacts {
        queues: vec![
            queue("legacy", BTreeMap::new()),
            queue("theirs", ownership_tags("other")),
            queue("mine", ownership_tags("shop")),
        ],
        ..AccountFacts::default()
    };
    let spec = Desired {
        stack: "shop".into(),
        bus: "default".into(),
        queues: ["legacy", "theirs", "mine"]
            .iter()
            .map(|n| Queue {
                name: n.to_string(),
                ..Queue::default()
            })
            .collect(),
        adopt: rules::desired::Adopt {
            queues: ["legacy", "theirs", "mine"]
                .iter()
                .map(|n| n.to_string())
                .collect(),
            ..Default::default()
        },
        ..Desired::default()
    };
    let plan = plan(&spec, &facts, false);
    assert_eq!(
        plan.steps[0],
        Step::Adopt {
            resource: Tagged::Queue("legacy".into())
        }
    );
    assert!(!plan.steps[1..]
        .iter()
        .any(|s| matches!(s, Step::Adopt { .. })));
    // Adopted, the queue is managed in the same plan: no "not owned" note for it.
    assert!(!plan.notes.iter().any(|n| n.to_string().contains("legacy")));
    assert!(plan.notes.iter().any(|n| n
        .to_string()
        .contains("theirs (another stack's: not adopted)")));
    assert!(plan.render(false).contains("adopt queue legacy"));

    // Without adopt, the foreign queue is only noted.
    let spec = Desired {
        adopt: Default::default(),
        ..spec
    };
    let plan = super::plan(&spec, &facts, false);
    assert!(!plan.steps.iter().any(|s| matches!(s, Step::Adopt { .. })));
}
