//! S3 notification settings against moto: enabling EventBridge must keep every existing
//! queue configuration (PutBucketNotificationConfiguration replaces the whole document).

use crate::aws_support;

use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_support::{clients, create_bucket, endpoint, receive, unique};
use infra::aws::{s3_notify, write::Writer};

#[tokio::test]
async fn enabling_eventbridge_keeps_a_foreign_queue_configuration() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let bucket = unique("keep-cfg");
    create_bucket(&aws, &bucket).await;
    let queue = unique("foreign-s3-q");
    let url = aws
        .sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .expect("CreateQueue");
    let url = url.queue_url().expect("url").to_string();
    let arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("QueueArn");
    let foreign = QueueConfiguration::builder()
        .id("someone-elses")
        .queue_arn(&arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .expect("queue configuration");
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(foreign)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketNotificationConfiguration");

    let writer = Writer::new(&aws);
    let wrote = writer
        .set_bucket_eventbridge(&bucket, true)
        .await
        .expect("enable EventBridge");
    assert!(wrote, "EventBridge was off, so enabling it must write");
    assert_eq!(writer.write_calls(), 1);

    let after = s3_notify::read(&aws.s3, &bucket).await.expect("read back");
    assert_eq!(
        after.count(s3_notify::NotificationKind::Queue),
        1,
        "the foreign queue configuration was lost"
    );
    let raw = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(&bucket)
        .send()
        .await
        .expect("GetBucketNotificationConfiguration");
    let kept = &raw.queue_configurations()[0];
    assert_eq!(kept.queue_arn(), arn);
    assert_eq!(kept.id(), Some("someone-elses"));

    // The foreign configuration still delivers: an upload reaches the queue directly.
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key("still-delivered.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("PutObject");
    let bodies = receive(&aws, &url, 1).await;
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("still-delivered.txt") && b.contains("Records")),
        "the foreign S3 -> SQS notification stopped delivering: {bodies:?}"
    );
}

#[tokio::test]
async fn disabling_eventbridge_when_off_makes_no_write() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let bucket = unique("off-already");
    create_bucket(&aws, &bucket).await;
    let writer = Writer::new(&aws);
    let wrote = writer
        .set_bucket_eventbridge(&bucket, false)
        .await
        .expect("disable EventBridge");
    assert!(!wrote);
    assert_eq!(writer.write_calls(), 0);
}
