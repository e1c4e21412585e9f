//! End-to-end delivery through the real SDK against moto, using the resources exactly as
//! `bridge`'s writer creates them: PutEvents / PutObject → rule → SQS, and SNS → SQS.

use crate::aws_support;

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_support::{clients, create_bucket, endpoint, receive, unique};
use infra::aws::read::{self, TargetFacts};
use infra::aws::write::Writer;
use rules::owner::{owned_by, ownership_tags};

fn sqs_target(id: &str, arn: &str) -> TargetFacts {
    TargetFacts {
        id: id.to_string(),
        arn: arn.to_string(),
        input: None,
        input_path: None,
        input_transformer: None,
        dead_letter_arn: None,
        message_group_id: None,
        maximum_retry_attempts: None,
        maximum_event_age_seconds: None,
        role_arn: None,
    }
}

#[tokio::test]
async fn put_events_reaches_the_queue_through_a_rule() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let writer = Writer::new(&aws);
    let stack = unique("stack");
    let tags = ownership_tags(&stack);
    let (url, queue_arn) = writer
        .create_queue(&unique("orders-q"), &BTreeMap::new(), &tags)
        .await
        .expect("create queue");
    let source = unique("app.orders");
    let rule = unique("orders-rule");
    // A bus of its own: moto iterates a bus's rules unlocked while it delivers, so the
    // other tests' rules on `default` could fail this PutEvents mid-way (and the SDK's
    // retry would then deliver twice).
    let bus = unique("orders-bus");
    aws.eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("create bus");
    let pattern = serde_json::json!({ "source": [source], "detail-type": ["OrderPlaced"] });
    let rule_arn = writer
        .put_rule(&bus, &rule, &pattern.to_string(), true, None, &tags)
        .await
        .expect("put rule");
    writer
        .put_targets(&bus, &rule, &[sqs_target("q", &queue_arn)])
        .await
        .expect("put targets");
    assert_eq!(writer.write_calls(), 3);

    // The readers see what was written, including the ownership tags.
    let rules = read::read_rules(&aws, &bus).await.expect("read rules");
    let seen = rules
        .iter()
        .find(|r| r.name == rule)
        .expect("rule is listed");
    assert_eq!(seen.arn, rule_arn);
    assert!(owned_by(&seen.tags, &stack), "rule tags: {:?}", seen.tags);
    assert_eq!(seen.targets.len(), 1);
    assert_eq!(seen.targets[0].arn, queue_arn);
    let queue = read::read_queue(&aws, &url)
        .await
        .expect("read")
        .expect("exists");
    assert!(
        owned_by(&queue.tags, &stack),
        "queue tags: {:?}",
        queue.tags
    );

    let entry = PutEventsRequestEntry::builder()
        .source(&source)
        .detail_type("OrderPlaced")
        .detail(r#"{"order":"o-1"}"#)
        .event_bus_name(&bus)
        .build();
    let other = PutEventsRequestEntry::builder()
        .source(&source)
        .detail_type("OrderCancelled")
        .detail(r#"{"order":"o-2"}"#)
        .event_bus_name(&bus)
        .build();
    let out = aws
        .eventbridge
        .put_events()
        .entries(entry)
        .entries(other)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count(), 0);
    let bodies = receive(&aws, &url, 1).await;
    assert_eq!(
        bodies.len(),
        1,
        "exactly the matching event arrives: {bodies:?}"
    );
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("event JSON");
    assert_eq!(event["source"], source.as_str());
    assert_eq!(event["detail"]["order"], "o-1");
}

#[tokio::test]
async fn put_object_reaches_the_queue_through_eventbridge() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let writer = Writer::new(&aws);
    let tags = ownership_tags(&unique("stack"));
    let bucket = unique("uploads");
    create_bucket(&aws, &bucket).await;
    let (url, queue_arn) = writer
        .create_queue(&unique("uploads-q"), &BTreeMap::new(), &tags)
        .await
        .expect("create queue");
    let rule = unique("uploads-rule");
    let pattern = serde_json::json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": { "bucket": { "name": [bucket] } }
    });
    writer
        .put_rule("default", &rule, &pattern.to_string(), true, None, &tags)
        .await
        .expect("put rule");
    writer
        .put_targets("default", &rule, &[sqs_target("q", &queue_arn)])
        .await
        .expect("put targets");
    writer
        .set_bucket_eventbridge(&bucket, true)
        .await
        .expect("enable EventBridge");

    aws.s3
        .put_object()
        .bucket(&bucket)
        .key("in/report.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"a,b\n"))
        .send()
        .await
        .expect("PutObject");
    let bodies = receive(&aws, &url, 1).await;
    let created: Vec<serde_json::Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .filter(|e: &serde_json::Value| e["detail-type"] == "Object Created")
        .collect();
    assert_eq!(created.len(), 1, "one Object Created event: {bodies:?}");
    assert_eq!(created[0]["source"], "aws.s3");
    assert_eq!(created[0]["detail"]["bucket"]["name"], bucket.as_str());
    assert_eq!(created[0]["detail"]["object"]["key"], "in/report.csv");
}

#[tokio::test]
async fn sns_delivers_to_a_subscribed_queue() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let writer = Writer::new(&aws);
    let stack = unique("stack");
    let tags = ownership_tags(&stack);
    let topic = writer
        .create_topic(&unique("alerts"), &BTreeMap::new(), &tags)
        .await
        .expect("create topic");
    let (url, queue_arn) = writer
        .create_queue(&unique("alerts-q"), &BTreeMap::new(), &tags)
        .await
        .expect("create queue");
    let raw = BTreeMap::from([("RawMessageDelivery".to_string(), "true".to_string())]);
    let sub = writer
        .subscribe(&topic, "sqs", &queue_arn, &raw)
        .await
        .expect("subscribe");
    assert!(sub.is_some(), "an SQS subscription is confirmed at once");
    let pending = writer
        .subscribe(&topic, "email", "ops@example.com", &BTreeMap::new())
        .await
        .expect("subscribe email");
    let facts = read::read_topic(&aws, &topic).await.expect("read topic");
    assert!(owned_by(&facts.tags, &stack));
    assert_eq!(facts.subscriptions.len(), 2);
    let email = facts
        .subscriptions
        .iter()
        .find(|s| s.protocol == "email")
        .expect("email subscription listed");
    // moto confirms email subscriptions at once; AWS leaves them pending. Either way the
    // reader's view must agree with what Subscribe returned.
    assert_eq!(email.pending, pending.is_none());

    aws.sns
        .publish()
        .topic_arn(&topic)
        .message(r#"{"alert":"disk"}"#)
        .send()
        .await
        .expect("Publish");
    let bodies = receive(&aws, &url, 1).await;
    assert_eq!(
        bodies,
        vec![r#"{"alert":"disk"}"#.to_string()],
        "raw delivery"
    );
}
