//! The checks on hand-made worlds, above all what a test server cannot produce: KMS key
//! policies and pending e-mail subscriptions.

use super::*;
use rules::desired::{Bucket, Endpoint, Queue, Rule, Subscription, Target, Topic};

const ACCOUNT: &str = "123456789012";

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
}
fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:us-east-1:{ACCOUNT}:{name}")
}
fn rule_arn(name: &str) -> String {
    format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{name}")
}

fn grant(service: &str, action: &str, source: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": action,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}}}]})
    .to_string()
}

/// A project: bucket `raw` (EventBridge on), rule `uploads` → queue `q`, topic `alerts`
/// with an e-mail subscription.
fn desired(pattern: &str) -> Desired {
    Desired {
        stack: "s".into(),
        bus: "default".into(),
        queues: vec![Queue {
            name: "q".into(),
            ..Queue::default()
        }],
        topics: vec![Topic {
            name: "alerts".into(),
            ..Topic::default()
        }],
        subscriptions: vec![Subscription {
            topic: "alerts".into(),
            endpoint: Endpoint::Other {
                protocol: "email".into(),
                endpoint: "ops@example.com".into(),
            },
            attributes: BTreeMap::new(),
        }],
        rules: vec![Rule {
            name: "uploads".into(),
            pattern: Some(pattern.into()),
            bus: "default".into(),
            enabled: true,
            targets: vec![Target::new("q", Destination::Queue("q".into()))],
            ..Rule::default()
        }],
        buckets: vec![Bucket::eventbridge("raw")],
        ..Desired::default()
    }
}

const GOOD_PATTERN: &str = r#"{"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": ["raw"]}}}"#;

/// Everything as it should be.
fn world() -> World {
    World {
        backend: "aws",
        region: "us-east-1".into(),
        account: Some(ACCOUNT.into()),
        policies_enforced: true,
        rules: vec![RuleState {
            name: "uploads".into(),
            arn: rule_arn("uploads"),
            enabled: true,
            targets: vec![TargetState {
                id: "q".into(),
                arn: queue_arn("q"),
                ..TargetState::default()
            }],
        }],
        queues: vec![Sink {
            name: "q".into(),
            arn: queue_arn("q"),
            policy: Some(grant(
                policy::EVENTS,
                "sqs:SendMessage",
                &rule_arn("uploads"),
            )),
            ..Sink::default()
        }],
        topics: vec![Sink {
            name: "alerts".into(),
            arn: topic_arn("alerts"),
            subscriptions: vec![("email".into(), "ops@example.com".into(), false)],
            ..Sink::default()
        }],
        buckets: vec![BucketState {
            name: "raw".into(),
            eventbridge: Some(true),
            notifications: Vec::new(),
        }],
        key_policies: BTreeMap::new(),
    }
}

fn problems(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_healthy_world_passes_every_check() {
    let checks = check(&desired(GOOD_PATTERN), &world());
    assert_eq!(problems(&checks), Vec::<String>::new());
    let lines: Vec<String> = checks.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&"✓ bucket raw: sends its events to EventBridge".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("✓ rule uploads pattern")),
        "{lines:#?}"
    );
}

#[test]
fn a_pending_email_subscription_is_reported_with_the_fix() {
    let mut w = world();
    w.topics[0].subscriptions[0].2 = true;
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("✗ topic alerts subscription ops@example.com: pending confirmation"),
        "{}",
        p[0]
    );
    assert!(p[0].contains("confirmation message"), "{}", p[0]);
}

#[test]
fn the_aws_managed_sqs_key_cannot_be_used_by_eventbridge() {
    let mut w = world();
    w.queues[0].kms_key = Some("alias/aws/sqs".into());
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("AWS-managed key alias/aws/sqs"), "{}", p[0]);
}

#[test]
fn a_customer_key_must_let_the_service_use_it() {
    let mut w = world();
    w.queues[0].kms_key = Some("alias/orders".into());
    let account_only = r#"{"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}"#;
    w.key_policies.insert(
        "alias/orders".into(),
        KeyPolicy::Customer(account_only.into()),
    );
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("policy of KMS key alias/orders"), "{}", p[0]);
    assert!(p[0].contains("events.amazonaws.com"), "{}", p[0]);

    let good = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}]}"#;
    w.key_policies
        .insert("alias/orders".into(), KeyPolicy::Customer(good.into()));
    assert_eq!(
        problems(&check(&desired(GOOD_PATTERN), &w)),
        Vec::<String>::new()
    );

    w.key_policies.insert(
        "alias/orders".into(),
        KeyPolicy::Unreadable("NotFoundException: no such key".into()),
    );
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert!(
        p[0].contains("could not be read: NotFoundException"),
        "{p:#?}"
    );

    // A key id whose key turns out to be AWS-managed cannot be fixed by a policy statement.
    w.queues[0].kms_key = Some("0f1e2d3c".into());
    w.key_policies
        .insert("0f1e2d3c".into(), KeyPolicy::AwsManaged);
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("AWS-managed KMS key 0f1e2d3c"), "{}", p[0]);
}

#[test]
fn the_plan_warns_about_keys_that_would_refuse_the_queues_senders() {
    let mut d = desired(GOOD_PATTERN);
    d.queues[0]
        .attributes
        .insert("KmsMasterKeyId".into(), "alias/orders".into());
    let account_only = r#"{"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}"#;
    let events_only = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}]}"#;
    let mut keys = BTreeMap::new();
    // Not read (or not customer-managed): nothing to say.
    assert!(key_warnings(&d, &keys).is_empty());
    keys.insert(
        "alias/orders".into(),
        KeyPolicy::Customer(account_only.into()),
    );
    let w = key_warnings(&d, &keys);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(
            "queue q: the policy of KMS key alias/orders does not let events.amazonaws.com use it"
        ),
        "{}",
        w[0]
    );
    keys.insert(
        "alias/orders".into(),
        KeyPolicy::Customer(events_only.into()),
    );
    assert!(key_warnings(&d, &keys).is_empty());
    // A bucket notifying the queue too: S3 must be let in as well.
    d.buckets[0]
        .notifications
        .push(rules::desired::Notification {
            id: "n".into(),
            destination: NotificationDestination::Queue("q".into()),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: None,
            suffix: None,
        });
    let w = key_warnings(&d, &keys);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].contains("does not let s3.amazonaws.com use it"),
        "{}",
        w[0]
    );
    // A queue nothing delivers to needs no grant.
    d.rules.clear();
    d.buckets.clear();
    keys.insert("alias/orders".into(), KeyPolicy::AwsManaged);
    assert!(key_warnings(&d, &keys).is_empty());
}

#[test]
fn policies_and_disabled_rules_and_fifo_group_ids() {
    let mut w = world();
    w.queues[0].policy = Some(grant(policy::EVENTS, "sqs:SendMessage", &rule_arn("other")));
    w.rules[0].enabled = false;
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].starts_with("✗ rule uploads: is disabled"), "{}", p[0]);
    assert!(
        p[1].contains("does not let events.amazonaws.com sqs:SendMessage"),
        "{}",
        p[1]
    );

    let mut w = world();
    w.queues[0].fifo = true;
    let p = problems(&check(&desired(GOOD_PATTERN), &w));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("needs a message group id"), "{}", p[0]);
    w.rules[0].targets[0].message_group_id = Some("g".into());
    assert!(problems(&check(&desired(GOOD_PATTERN), &w)).is_empty());
}

#[test]
fn patterns_that_can_never_match_what_the_buckets_send() {
    let cases = [
        (
            r#"{"source": ["aws.s3"], "detail-type": ["Object Create"]}"#,
            "did you mean \"Object Created\"?",
        ),
        (
            r#"{"source": ["s3"], "detail-type": ["Object Created"]}"#,
            "never matches S3's events",
        ),
        (
            r#"{"source": ["aws.s3"], "detail": {"bucket": {"name": ["elsewhere"]}}}"#,
            "bucket [\"elsewhere\"] is none of the buckets declared",
        ),
        (
            r#"{"source": ["aws.s3"], "detail-type": [{"prefix": "Object Cr"}], "detail": {"bucket": {"name": [{"anything-but": "raw"}]}}}"#,
            "is none of the buckets declared",
        ),
    ];
    for (pattern, want) in cases {
        let p = problems(&check(&desired(pattern), &world()));
        assert_eq!(p.len(), 1, "{pattern}: {p:#?}");
        assert!(p[0].starts_with("✗ rule uploads pattern:"), "{}", p[0]);
        assert!(p[0].contains(want), "{pattern}: {}", p[0]);
    }
    // Not about S3: not judged. A key prefix is no mistake.
    for pattern in [
        r#"{"source": ["com.example"], "detail-type": ["Order Placed"]}"#,
        r#"{"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "nothing-yet/"}]}}}"#,
        r#"{"source": [{"prefix": "aws."}], "detail-type": [{"anything-but": "Object Deleted"}]}"#,
    ] {
        assert!(
            problems(&check(&desired(pattern), &world())).is_empty(),
            "{pattern}"
        );
    }
    // About S3, but no bucket sends to EventBridge.
    let mut d = desired(GOOD_PATTERN);
    d.buckets.clear();
    let p = problems(&check(&d, &world()));
    assert!(
        p.iter().any(|l| l.contains("no declared bucket sends")),
        "{p:#?}"
    );
}

#[test]
fn bucket_delivery_off_and_a_missing_dead_letter_queue() {
    let mut w = world();
    w.buckets[0].eventbridge = Some(false);
    let mut d = desired(GOOD_PATTERN);
    d.rules[0].targets[0].dead_letter_queue = Some("dlq".into());
    w.rules[0].targets[0].dead_letter_arn = Some(queue_arn("dlq"));
    let p = problems(&check(&d, &w));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("EventBridge delivery is off"), "{}", p[0]);
    assert!(
        p[1].contains("dead-letter queue arn:aws:sqs:us-east-1:123456789012:dlq does not exist"),
        "{}",
        p[1]
    );
}
