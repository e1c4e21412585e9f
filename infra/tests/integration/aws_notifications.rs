//! Native S3 notifications and project tags against moto, through plan/apply like
//! `bridge apply`: created from empty next to someone else's queue, topic and Lambda
//! configurations; re-apply makes zero write calls; a changed prefix is an update; prune
//! and destroy remove only the stack's configurations; PutObject delivers `Records[]`.

use crate::aws_support;

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    Event, LambdaFunctionConfiguration, NotificationConfiguration, QueueConfiguration,
    TopicConfiguration,
};
use aws_support::{clients, create_bucket, endpoint, queue_url, receive, unique, REGION};
use infra::aws::apply::{apply_plan, plan_stack};
use infra::aws::read;
use infra::aws::s3_notify::{self, notification_id, NotificationKind};
use infra::aws::AwsClients;
use infra::plan::{Note, Step, Tagged};
use rules::desired::{
    Bucket, Desired, Destination, Notification, NotificationDestination, Queue, Rule, Target, Topic,
};
use rules::owner::{owned_by, MANAGED_BY_KEY, STACK_KEY};
use serde_json::Value;

/// Plans and applies; asserts success; returns (steps, notes, write calls).
async fn apply(aws: &AwsClients, spec: &Desired, prune: bool) -> (Vec<Step>, Vec<Note>, usize) {
    let (plan, facts) = plan_stack(aws, spec, prune).await.expect("plan");
    let report = apply_plan(aws, spec, &plan, &facts).await;
    assert!(report.succeeded(), "apply failed:\n{plan}\n{report}");
    (plan.steps, plan.notes, report.write_calls)
}

/// Plans with `prune`, expects no step, and applies anyway: zero write calls.
async fn assert_no_op(aws: &AwsClients, spec: &Desired, prune: bool) {
    let (plan, facts) = plan_stack(aws, spec, prune).await.expect("plan");
    assert!(plan.is_empty(), "expected no changes, got:\n{plan}");
    let report = apply_plan(aws, spec, &plan, &facts).await;
    assert_eq!(report.write_calls, 0, "a no-op apply made write calls");
}

async fn create_queue(aws: &AwsClients, name: &str) -> (String, String) {
    let url = aws
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_string();
    let queue = read::read_queue(aws, &url)
        .await
        .expect("read")
        .expect("queue");
    (url, queue.arn)
}

async fn put_object(aws: &AwsClients, bucket: &str, key: &str) {
    aws.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("PutObject");
}

/// Someone else's queue, topic and Lambda configurations on `bucket`.
async fn foreign_configurations(aws: &AwsClients, bucket: &str) -> (String, String) {
    let (_, queue_arn) = create_queue(aws, &unique("foreign-q")).await;
    let topic_arn = aws
        .sns
        .create_topic()
        .name(unique("foreign-t"))
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("arn")
        .to_string();
    let doc = NotificationConfiguration::builder()
        .queue_configurations(
            QueueConfiguration::builder()
                .id("ops-queue")
                .queue_arn(&queue_arn)
                .events(Event::from("s3:ObjectRemoved:*"))
                .build()
                .expect("queue configuration"),
        )
        .topic_configurations(
            TopicConfiguration::builder()
                .id("ops-topic")
                .topic_arn(&topic_arn)
                .events(Event::from("s3:ObjectRemoved:*"))
                .build()
                .expect("topic configuration"),
        )
        .lambda_function_configurations(
            LambdaFunctionConfiguration::builder()
                .id("thumbnails")
                .lambda_function_arn(format!(
                    "arn:aws:lambda:{REGION}:123456789012:function:thumbnails"
                ))
                .events(Event::from("s3:ObjectRemoved:Delete"))
                .build()
                .expect("lambda configuration"),
        )
        .build();
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(doc)
        .send()
        .await
        .expect("PutBucketNotificationConfiguration");
    (queue_arn, topic_arn)
}

struct Names {
    stack: String,
    bucket: String,
    uploads: String,
    alerts: String,
}

fn names() -> Names {
    Names {
        stack: unique("media"),
        // Bucket names: lower case, at most 63 characters.
        bucket: unique("nb").to_lowercase(),
        uploads: unique("uploads"),
        alerts: unique("alerts"),
    }
}

fn spec(n: &Names, prefix: &str) -> Desired {
    Desired {
        queues: vec![Queue {
            name: n.uploads.clone(),
            ..Queue::default()
        }],
        topics: vec![Topic {
            name: n.alerts.clone(),
            attributes: BTreeMap::new(),
        }],
        buckets: vec![Bucket {
            name: n.bucket.clone(),
            eventbridge: false,
            notifications: vec![
                Notification {
                    id: "uploads".into(),
                    destination: NotificationDestination::Queue(n.uploads.clone()),
                    events: vec!["s3:ObjectCreated:*".into()],
                    prefix: Some(prefix.into()),
                    suffix: Some(".csv".into()),
                },
                Notification {
                    id: "deletions".into(),
                    destination: NotificationDestination::Topic(n.alerts.clone()),
                    events: vec!["s3:ObjectRemoved:Delete".into()],
                    prefix: None,
                    suffix: None,
                },
            ],
        }],
        ..Desired::empty(&n.stack, "default")
    }
}

/// The bucket's document, straight from S3.
async fn document(aws: &AwsClients, bucket: &str) -> s3_notify::BucketNotifications {
    s3_notify::read(&aws.s3, bucket)
        .await
        .expect("read notifications")
}

fn ids(doc: &s3_notify::BucketNotifications) -> Vec<String> {
    let mut ids: Vec<String> = doc
        .configurations
        .iter()
        .filter_map(|c| c.id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn notifications_are_created_next_to_foreign_ones_and_reapply_is_a_no_op() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let n = names();
    create_bucket(&aws, &n.bucket).await;
    let (foreign_queue, foreign_topic) = foreign_configurations(&aws, &n.bucket).await;
    let spec = spec(&n, "in/");

    let (steps, _, writes) = apply(&aws, &spec, false).await;
    let pos = |f: &dyn Fn(&Step) -> bool| steps.iter().position(f).expect("step present");
    let bucket_step = pos(&|s| matches!(s, Step::ConfigureBucket { .. }));
    assert!(
        pos(&|s| matches!(s, Step::Grant { service, .. } if *service == "s3.amazonaws.com"))
            < bucket_step,
        "{steps:?}"
    );
    assert!(pos(&|s| matches!(s, Step::CreateQueue { .. })) < bucket_step);
    assert!(
        writes >= steps.len(),
        "{writes} writes for {} steps",
        steps.len()
    );

    let doc = document(&aws, &n.bucket).await;
    let ours_uploads = notification_id(&n.stack, "uploads");
    let ours_deletions = notification_id(&n.stack, "deletions");
    let mut want = vec![
        "ops-queue".to_string(),
        "ops-topic".into(),
        "thumbnails".into(),
        ours_uploads.clone(),
        ours_deletions.clone(),
    ];
    want.sort();
    assert_eq!(ids(&doc), want, "{doc:?}");
    let kept: Vec<&str> = doc
        .configurations
        .iter()
        .filter(|c| c.id.as_deref().is_some_and(|id| !id.starts_with("bridge:")))
        .map(|c| c.arn.as_str())
        .collect();
    assert!(kept.contains(&foreign_queue.as_str()), "{doc:?}");
    assert!(kept.contains(&foreign_topic.as_str()), "{doc:?}");
    assert_eq!(doc.count(NotificationKind::Lambda), 1, "{doc:?}");
    let uploads = doc
        .configurations
        .iter()
        .find(|c| c.id.as_deref() == Some(ours_uploads.as_str()))
        .expect("ours");
    assert_eq!(uploads.kind, NotificationKind::Queue);
    assert!(uploads.arn.ends_with(&n.uploads));
    assert_eq!(uploads.prefix.as_deref(), Some("in/"));
    assert_eq!(uploads.suffix.as_deref(), Some(".csv"));
    let deletions = doc
        .configurations
        .iter()
        .find(|c| c.id.as_deref() == Some(ours_deletions.as_str()))
        .expect("ours");
    assert_eq!(deletions.kind, NotificationKind::Topic);
    assert_eq!(
        deletions.events,
        vec!["s3:ObjectRemoved:Delete".to_string()]
    );

    // The queue lets S3 in for this bucket and this account only.
    let queue = read::read_queue(&aws, &queue_url(&aws, &n.uploads).await)
        .await
        .expect("read")
        .expect("queue");
    let account = queue.arn.split(':').nth(4).expect("account").to_string();
    let policy: Value = serde_json::from_str(queue.policy().expect("policy")).expect("json");
    let st = policy["Statement"]
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["Principal"]["Service"] == "s3.amazonaws.com")
        .expect("S3 statement")
        .clone();
    assert_eq!(st["Sid"], format!("bridge-{}-s3", n.stack));
    assert_eq!(st["Action"], "sqs:SendMessage");
    assert_eq!(st["Resource"], queue.arn.as_str());
    assert_eq!(
        st["Condition"]["ArnEquals"]["aws:SourceArn"],
        format!("arn:aws:s3:::{}", n.bucket)
    );
    assert_eq!(
        st["Condition"]["StringEquals"]["aws:SourceAccount"],
        account
    );
    let topic = read::read_topics(&aws)
        .await
        .expect("topics")
        .into_iter()
        .find(|t| t.name == n.alerts)
        .expect("topic");
    let policy: Value = serde_json::from_str(topic.policy().expect("policy")).expect("json");
    assert!(
        policy["Statement"]
            .as_array()
            .expect("list")
            .iter()
            .any(|s| {
                s["Principal"]["Service"] == "s3.amazonaws.com" && s["Action"] == "sns:Publish"
            }),
        "{policy}"
    );

    assert_no_op(&aws, &spec, true).await;
    assert_no_op(&aws, &spec, false).await;
}

#[tokio::test]
async fn a_changed_prefix_updates_and_prune_and_destroy_remove_only_the_stacks() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let n = names();
    create_bucket(&aws, &n.bucket).await;
    foreign_configurations(&aws, &n.bucket).await;
    let mut spec = spec(&n, "in/");
    apply(&aws, &spec, false).await;

    // Another stack's configuration on the same bucket.
    let other = unique("other");
    let mut theirs = self::spec(&n, "theirs/");
    theirs.stack = other.clone();
    theirs.queues.clear();
    theirs.topics.clear();
    theirs.buckets[0].notifications.truncate(1);
    theirs.buckets[0].notifications[0].destination =
        NotificationDestination::Queue(create_queue(&aws, &unique("other-q")).await.1);
    apply(&aws, &theirs, false).await;

    spec.buckets[0].notifications[0].prefix = Some("incoming/".into());
    let (steps, _, writes) = apply(&aws, &spec, false).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    let Step::ConfigureBucket { put, remove, .. } = &steps[0] else {
        panic!("{steps:?}");
    };
    assert!(remove.is_empty());
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].changes, vec!["prefix in/".to_string()]);
    assert_eq!(writes, 1);
    let doc = document(&aws, &n.bucket).await;
    let ours = notification_id(&n.stack, "uploads");
    let uploads = doc
        .configurations
        .iter()
        .find(|c| c.id.as_deref() == Some(ours.as_str()))
        .expect("ours");
    assert_eq!(uploads.prefix.as_deref(), Some("incoming/"));
    assert_no_op(&aws, &spec, true).await;

    // Dropped from the declaration: noted without --prune, removed with it.
    spec.buckets[0].notifications.retain(|x| x.id != "uploads");
    let (plan, _) = plan_stack(&aws, &spec, false).await.expect("plan");
    assert!(plan.is_empty(), "{plan}");
    assert!(
        plan.notes.iter().any(|note| matches!(
            note,
            Note::WouldPrune { kind: "notification", name } if name.starts_with("uploads of bucket")
        )),
        "{plan}"
    );
    let (steps, _, _) = apply(&aws, &spec, true).await;
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, Step::ConfigureBucket { remove, .. } if remove == &["uploads"])),
        "{steps:?}"
    );
    // The queue no longer receives from the bucket: bridge's S3 statement is gone, after
    // the bucket write.
    let bucket_step = steps
        .iter()
        .position(|s| matches!(s, Step::ConfigureBucket { .. }))
        .expect("bucket step");
    let narrowing = steps
        .iter()
        .position(|s| matches!(s, Step::Grant { sources, .. } if sources.is_empty()))
        .expect("grant removed");
    assert!(bucket_step < narrowing, "{steps:?}");
    let queue = read::read_queue(&aws, &queue_url(&aws, &n.uploads).await)
        .await
        .expect("read")
        .expect("queue");
    assert!(
        !queue
            .policy()
            .unwrap_or_default()
            .contains("s3.amazonaws.com"),
        "{:?}",
        queue.policy()
    );
    let doc = document(&aws, &n.bucket).await;
    let left = ids(&doc);
    assert!(!left.contains(&ours), "{left:?}");
    assert!(left.contains(&notification_id(&n.stack, "deletions")));
    assert!(
        left.contains(&notification_id(&other, "uploads")),
        "{left:?}"
    );
    assert_no_op(&aws, &spec, true).await;

    // Destroy: an empty declaration finds the bucket through the stack's topic grant.
    let empty = Desired::empty(&n.stack, "default");
    let (steps, _, _) = apply(&aws, &empty, true).await;
    assert!(
        steps.iter().any(|s| matches!(
            s,
            Step::ConfigureBucket { bucket, remove, .. } if bucket == &n.bucket && remove == &["deletions"]
        )),
        "{steps:?}"
    );
    let mut left = ids(&document(&aws, &n.bucket).await);
    left.sort();
    let mut want = vec![
        "ops-queue".to_string(),
        "ops-topic".into(),
        "thumbnails".into(),
        notification_id(&other, "uploads"),
    ];
    want.sort();
    assert_eq!(left, want);
    assert_no_op(&aws, &empty, true).await;
}

#[tokio::test]
async fn put_object_delivers_records_natively_and_eventbridge_still_gets_its_events() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let n = names();
    create_bucket(&aws, &n.bucket).await;
    let events_queue = unique("s3-events");
    let mut spec = spec(&n, "in/");
    spec.buckets[0].eventbridge = true;
    spec.queues.push(Queue {
        name: events_queue.clone(),
        ..Queue::default()
    });
    spec.rules.push(Rule {
        bus: "default".into(),
        name: unique("s3-created"),
        pattern: Some(
            serde_json::json!({
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": { "bucket": { "name": [n.bucket] } }
            })
            .to_string(),
        ),
        schedule: None,
        enabled: true,
        description: None,
        targets: vec![Target::new(
            "events",
            Destination::Queue(events_queue.clone()),
        )],
    });
    apply(&aws, &spec, false).await;

    let uploads = queue_url(&aws, &n.uploads).await;
    put_object(&aws, &n.bucket, "in/report.csv").await;
    put_object(&aws, &n.bucket, "in/report.txt").await;
    put_object(&aws, &n.bucket, "elsewhere/report.csv").await;
    let bodies = receive(&aws, &uploads, 2).await;
    let records: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).expect("JSON body"))
        // S3 announces a new configuration with an s3:TestEvent.
        .filter(|v| v["Event"] != "s3:TestEvent")
        .collect();
    assert_eq!(records.len(), 1, "{bodies:?}");
    let record = &records[0]["Records"][0];
    // S3 URL-encodes keys but keeps `/`; moto encodes it too (see README's moto table).
    let key = record["s3"]["object"]["key"].as_str().expect("key");
    assert_eq!(key.replace("%2F", "/"), "in/report.csv");
    assert_eq!(record["s3"]["bucket"]["name"], n.bucket.as_str());
    assert_eq!(
        record["s3"]["configurationId"],
        notification_id(&n.stack, "uploads")
    );
    assert!(
        record["eventName"]
            .as_str()
            .is_some_and(|e| e.starts_with("ObjectCreated:")),
        "{record}"
    );

    // The same document kept EventBridge delivery on: the rule sees every upload.
    let events = receive(&aws, &queue_url(&aws, &events_queue).await, 3).await;
    let keys: Vec<String> = events
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter(|v| v["detail-type"] == "Object Created")
        .filter_map(|v| v["detail"]["object"]["key"].as_str().map(str::to_string))
        .collect();
    assert!(
        keys.contains(&"elsewhere/report.csv".to_string()),
        "{events:?}"
    );

    apply(&aws, &Desired::empty(&n.stack, "default"), true).await;
}

/// Tags of the queue, topic, rule and bus, as read for planning.
async fn tags_of(
    aws: &AwsClients,
    spec: &Desired,
    queue: &str,
    topic: &str,
    rule: &str,
) -> Vec<BTreeMap<String, String>> {
    let facts = read::read_account(aws, &infra::aws::apply::scope(spec))
        .await
        .expect("read");
    let q = facts
        .queues
        .iter()
        .find(|x| x.name == queue)
        .expect("queue");
    let t = facts
        .topics
        .iter()
        .find(|x| x.name == topic)
        .expect("topic");
    let r = facts.rules.iter().find(|x| x.name == rule).expect("rule");
    let b = facts.bus.as_ref().expect("bus");
    vec![
        q.tags.clone(),
        t.tags.clone(),
        r.tags.clone(),
        b.tags.clone(),
    ]
}

#[tokio::test]
async fn project_tags_are_applied_and_drift_is_updated_in_place() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let stack = unique("tagged");
    let bus = unique("tagged-bus");
    let queue = unique("tagged-q");
    let topic = unique("tagged-t");
    let rule = unique("tagged-r");
    let mut spec = Desired {
        queues: vec![Queue {
            name: queue.clone(),
            ..Queue::default()
        }],
        topics: vec![Topic {
            name: topic.clone(),
            attributes: BTreeMap::new(),
        }],
        rules: vec![Rule {
            bus: bus.clone(),
            name: rule.clone(),
            pattern: Some(serde_json::json!({ "source": [unique("tagged.src")] }).to_string()),
            schedule: None,
            enabled: true,
            description: None,
            targets: vec![Target::new("q", Destination::Queue(queue.clone()))],
        }],
        tags: BTreeMap::from([
            ("team".to_string(), "data".to_string()),
            ("cost-center".to_string(), "42".to_string()),
        ]),
        ..Desired::empty(&stack, &bus)
    };
    apply(&aws, &spec, false).await;

    for tags in tags_of(&aws, &spec, &queue, &topic, &rule).await {
        assert!(owned_by(&tags, &stack), "{tags:?}");
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("data"),
            "{tags:?}"
        );
        assert_eq!(tags.get("cost-center").map(String::as_str), Some("42"));
    }
    assert_no_op(&aws, &spec, true).await;

    // A changed value: one TagResource per resource, nothing recreated.
    spec.tags.insert("team".into(), "platform".into());
    let (steps, _, writes) = apply(&aws, &spec, false).await;
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(steps
        .iter()
        .all(|s| matches!(s, Step::Retag { unset, .. } if unset.is_empty())));
    assert!(steps
        .iter()
        .any(|s| matches!(s, Step::Retag { resource: Tagged::Bus(b), .. } if b == &bus)));
    assert_eq!(writes, 4);
    for tags in tags_of(&aws, &spec, &queue, &topic, &rule).await {
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("platform"),
            "{tags:?}"
        );
    }
    assert_no_op(&aws, &spec, false).await;

    // A tag dropped from the project: noted, removed only with --prune; the ownership
    // tags stay.
    spec.tags.remove("cost-center");
    let (plan, _) = plan_stack(&aws, &spec, false).await.expect("plan");
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(
        plan.notes
            .iter()
            .filter(|note| matches!(note, Note::WouldPrune { kind: "tag", .. }))
            .count(),
        4,
        "{plan}"
    );
    let (_, _, writes) = apply(&aws, &spec, true).await;
    assert_eq!(writes, 4);
    for tags in tags_of(&aws, &spec, &queue, &topic, &rule).await {
        assert!(!tags.contains_key("cost-center"), "{tags:?}");
        assert!(tags.contains_key(MANAGED_BY_KEY) && tags.contains_key(STACK_KEY));
        assert!(owned_by(&tags, &stack));
    }
    assert_no_op(&aws, &spec, true).await;

    apply(&aws, &Desired::empty(&stack, &bus), true).await;
}
