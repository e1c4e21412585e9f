//! `bridge dev --serve`: real clients (the AWS SDK for Rust, boto3, `bridge consume`'s AWS
//! code path) against the served local backend, over HTTP on a free port.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use infra::aws::AwsClients;
use infra::local::{ReceiveRequest, ServedResource, Store};
use serde_json::{json, Value};
use support::{bridge_bin, moto};

/// A project with a bucket (EventBridge on, native notifications to `native-q`), rules that
/// send S3 events to `events-q` and shop orders to the topic `alerts` (subscribed by
/// `alerts-q`), and a FIFO queue.
fn write_project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("rules")).expect("project dir");
    let file = json!({
        "stack": "serve-test",
        "buckets": [{"name": "media", "eventbridge": true,
            "notifications": [{"id": "native", "queue": "native-q",
                "events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]}],
        "queues": [{"name": "events-q"}, {"name": "native-q"}, {"name": "alerts-q"},
            {"name": "work-q", "visibility_timeout": 30},
            {"name": "jobs.fifo", "fifo": true, "content_based_deduplication": true}],
        "topics": [{"name": "alerts", "subscriptions": [{"protocol": "sqs", "endpoint": "alerts-q"}]}]
    });
    std::fs::write(project.join("bridge.json"), file.to_string()).expect("bridge.json");
    let s3_rule = json!({"description": "every S3 event", "event_pattern": {"source": ["aws.s3"]},
        "targets": [{"id": "q", "queue": "events-q"}]});
    std::fs::write(project.join("rules/s3-all.json"), s3_rule.to_string()).expect("rule");
    let orders = json!({"event_pattern": {"source": ["shop"], "detail-type": ["order"]},
        "targets": [{"id": "alerts", "topic": "alerts"}]});
    std::fs::write(project.join("rules/orders.json"), orders.to_string()).expect("rule");
    project
}

/// A running `bridge dev --serve 127.0.0.1:0`; killed (SIGKILL) when dropped.
struct Served {
    child: Child,
    endpoint: String,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dev(project: &Path, state: &Path) -> (Child, String) {
    let mut child = Command::new(bridge_bin())
        .arg("dev")
        .arg("--project")
        .arg(project)
        .arg("--local")
        .arg(state)
        .args(["--serve", "127.0.0.1:0", "--interval-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn bridge dev --serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = loop {
        let line = lines
            .next()
            .expect("bridge dev exited before serving")
            .expect("read stdout");
        if let Some(rest) = line.split("on http://").nth(1) {
            let addr = rest.split_whitespace().next().expect("address");
            break format!("http://{addr}");
        }
    };
    // Keep draining stdout so `dev` never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, endpoint)
}

fn serve() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = write_project(dir.path());
    let state = dir.path().join("state");
    let (child, endpoint) = start_dev(&project, &state);
    Served {
        child,
        endpoint,
        state,
        _dir: dir,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn queue_url(endpoint: &str, name: &str) -> String {
    format!("{endpoint}/000000000000/{name}")
}

/// Receives one message (long polling up to 10 s), deletes it, returns its body.
async fn take_one(c: &AwsClients, url: &str) -> Value {
    let out = c
        .sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(10)
        .send()
        .await
        .expect("receive");
    let m = out.messages().first().cloned().expect("a message arrived");
    c.sqs
        .delete_message()
        .queue_url(url)
        .receipt_handle(m.receipt_handle().expect("handle"))
        .send()
        .await
        .expect("delete");
    serde_json::from_str(m.body().expect("body")).expect("JSON body")
}

async fn assert_empty(c: &AwsClients, url: &str, wait: i32) {
    let out = c
        .sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(wait)
        .send()
        .await
        .expect("receive");
    assert!(
        out.messages().is_empty(),
        "{url} should be empty, got {:?}",
        out.messages().first().and_then(|m| m.body())
    );
}

#[test]
fn sdk_objects_become_events_once_with_the_right_reason() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        let events = queue_url(&s.endpoint, "events-q");
        let native = queue_url(&s.endpoint, "native-q");

        let listed = c.s3.list_buckets().send().await.expect("list buckets");
        assert!(listed.buckets().iter().any(|b| b.name() == Some("media")));

        let put =
            c.s3.put_object()
                .bucket("media")
                .key("in/a b.txt")
                .body(ByteStream::from_static(b"hello world"))
                .send()
                .await
                .expect("put object");
        let etag = put.e_tag().expect("etag").trim_matches('"').to_string();
        assert_eq!(etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        // The object is the file of the bucket directory.
        let file = s.state.join("buckets/media/in/a b.txt");
        assert_eq!(std::fs::read(&file).expect("object file"), b"hello world");

        let event = take_one(&c, &events).await;
        assert_eq!(event["detail-type"], "Object Created");
        assert_eq!(event["detail"]["reason"], "PutObject");
        assert_eq!(event["detail"]["object"]["key"], "in/a b.txt");
        assert_eq!(event["detail"]["object"]["size"], 11);
        assert_eq!(event["detail"]["object"]["etag"], etag.as_str());
        // First, the s3:TestEvent S3 sends when the notification configuration is saved.
        let test = take_one(&c, &native).await;
        assert_eq!(test["Event"], "s3:TestEvent");
        let records = take_one(&c, &native).await;
        assert_eq!(records["Records"][0]["eventName"], "ObjectCreated:Put");
        assert_eq!(records["Records"][0]["s3"]["object"]["key"], "in/a+b.txt");
        // The directory scan (every 20 ms) does not announce the file a second time.
        assert_empty(&c, &events, 1).await;
        assert_empty(&c, &native, 0).await;

        let got =
            c.s3.get_object()
                .bucket("media")
                .key("in/a b.txt")
                .send()
                .await
                .expect("get object");
        assert_eq!(got.e_tag(), Some(format!("\"{etag}\"").as_str()));
        let body = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(&body[..], b"hello world");
        let ranged =
            c.s3.get_object()
                .bucket("media")
                .key("in/a b.txt")
                .range("bytes=6-")
                .send()
                .await
                .expect("ranged get");
        assert_eq!(
            &ranged.body.collect().await.expect("body").into_bytes()[..],
            b"world"
        );
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("in/a b.txt")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_length(), Some(11));
        let missing = c.s3.head_object().bucket("media").key("nope").send().await;
        assert!(missing.is_err(), "HEAD of a missing key fails");
        let missing = c.s3.get_object().bucket("media").key("nope").send().await;
        let err = missing.expect_err("GET of a missing key fails");
        assert!(
            err.as_service_error().is_some_and(|e| e.is_no_such_key()),
            "{err:?}"
        );

        c.s3.copy_object()
            .bucket("media")
            .key("copies/c.txt")
            .copy_source("media/in/a%20b.txt")
            .send()
            .await
            .expect("copy object");
        let event = take_one(&c, &events).await;
        assert_eq!(event["detail"]["reason"], "CopyObject");
        assert_eq!(event["detail"]["object"]["key"], "copies/c.txt");
        let records = take_one(&c, &native).await;
        assert_eq!(records["Records"][0]["eventName"], "ObjectCreated:Copy");

        let listed =
            c.s3.list_objects_v2()
                .bucket("media")
                .delimiter("/")
                .send()
                .await
                .expect("list");
        let prefixes: Vec<&str> = listed
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect();
        assert_eq!(prefixes, ["copies/", "in/"]);
        let listed =
            c.s3.list_objects_v2()
                .bucket("media")
                .prefix("in/")
                .send()
                .await
                .expect("list");
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["in/a b.txt"]);
        let paged =
            c.s3.list_objects_v2()
                .bucket("media")
                .max_keys(1)
                .send()
                .await
                .expect("list page");
        assert_eq!(paged.is_truncated(), Some(true));
        let rest =
            c.s3.list_objects_v2()
                .bucket("media")
                .continuation_token(paged.next_continuation_token().expect("token"))
                .send()
                .await
                .expect("next page");
        let keys: Vec<&str> = rest.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["in/a b.txt"]);

        c.s3.delete_object()
            .bucket("media")
            .key("copies/c.txt")
            .send()
            .await
            .expect("delete");
        let event = take_one(&c, &events).await;
        assert_eq!(event["detail-type"], "Object Deleted");
        assert_eq!(event["detail"]["reason"], "DeleteObject");
        let records = take_one(&c, &native).await;
        assert_eq!(records["Records"][0]["eventName"], "ObjectRemoved:Delete");
        assert!(!s.state.join("buckets/media/copies/c.txt").exists());

        // Multipart: two parts (5 MiB + 1 byte), assembled into one file and one event.
        let created =
            c.s3.create_multipart_upload()
                .bucket("media")
                .key("big.bin")
                .send()
                .await
                .expect("create multipart");
        let id = created.upload_id().expect("upload id");
        let mut parts = Vec::new();
        for (n, body) in [(1, vec![7u8; 5 * 1024 * 1024]), (2, vec![9u8; 1])] {
            let part =
                c.s3.upload_part()
                    .bucket("media")
                    .key("big.bin")
                    .upload_id(id)
                    .part_number(n)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .expect("upload part");
            parts.push(
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(n)
                    .e_tag(part.e_tag().expect("part etag"))
                    .build(),
            );
        }
        let done =
            c.s3.complete_multipart_upload()
                .bucket("media")
                .key("big.bin")
                .upload_id(id)
                .multipart_upload(
                    aws_sdk_s3::types::CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .expect("complete multipart");
        assert!(done.e_tag().expect("etag").ends_with("-2\""));
        let event = take_one(&c, &events).await;
        assert_eq!(event["detail"]["reason"], "CompleteMultipartUpload");
        assert_eq!(event["detail"]["object"]["size"], 5 * 1024 * 1024 + 1);
        let records = take_one(&c, &native).await;
        assert_eq!(
            records["Records"][0]["eventName"],
            "ObjectCreated:CompleteMultipartUpload"
        );
        let size = std::fs::metadata(s.state.join("buckets/media/big.bin"))
            .expect("assembled file")
            .len();
        assert_eq!(size, 5 * 1024 * 1024 + 1);

        // An aborted upload leaves nothing; a part of an unknown upload is NoSuchUpload.
        let created =
            c.s3.create_multipart_upload()
                .bucket("media")
                .key("gone.bin")
                .send()
                .await
                .expect("create multipart");
        c.s3.abort_multipart_upload()
            .bucket("media")
            .key("gone.bin")
            .upload_id(created.upload_id().expect("id"))
            .send()
            .await
            .expect("abort");
        let err =
            c.s3.upload_part()
                .bucket("media")
                .key("gone.bin")
                .upload_id(created.upload_id().expect("id"))
                .part_number(1)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .expect_err("aborted upload");
        assert_eq!(err.into_service_error().meta().code(), Some("NoSuchUpload"));

        let deleted =
            c.s3.delete_objects()
                .bucket("media")
                .delete(
                    aws_sdk_s3::types::Delete::builder()
                        .objects(
                            aws_sdk_s3::types::ObjectIdentifier::builder()
                                .key("big.bin")
                                .build()
                                .expect("id"),
                        )
                        .objects(
                            aws_sdk_s3::types::ObjectIdentifier::builder()
                                .key("in/a b.txt")
                                .build()
                                .expect("id"),
                        )
                        .build()
                        .expect("delete"),
                )
                .send()
                .await
                .expect("delete objects");
        assert_eq!(deleted.deleted().len(), 2);
        let mut keys = vec![
            take_one(&c, &events).await["detail"]["object"]["key"].clone(),
            take_one(&c, &events).await["detail"]["object"]["key"].clone(),
        ];
        keys.sort_by_key(|k| k.to_string());
        assert_eq!(keys, [json!("big.bin"), json!("in/a b.txt")]);
        assert_empty(&c, &events, 1).await;
    });
}

#[test]
fn put_events_reach_a_topic_and_its_queue_and_rules_are_readable() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let out = c
            .eventbridge
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("shop")
                    .detail_type("order")
                    .detail(r#"{"id": 7}"#)
                    .build(),
            )
            .entries(
                PutEventsRequestEntry::builder()
                    .source("shop")
                    .detail_type("order")
                    .detail("not json")
                    .build(),
            )
            .send()
            .await
            .expect("put events");
        assert_eq!(out.failed_entry_count(), 1);
        let entries = out.entries();
        let id = entries[0].event_id().expect("accepted").to_string();
        assert_eq!(entries[1].error_code(), Some("MalformedDetail"));

        let envelope = take_one(&c, &queue_url(&s.endpoint, "alerts-q")).await;
        assert_eq!(envelope["Type"], "Notification");
        let event: Value =
            serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("event");
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["detail"]["id"], 7);

        let yes = c
            .eventbridge
            .test_event_pattern()
            .event_pattern(r#"{"detail": {"n": [{"numeric": [">", 5]}]}}"#)
            .event(
                json!({"id": "1", "account": "1", "source": "s", "time": "2026-01-01T00:00:00Z",
                "region": "us-east-1", "detail-type": "d", "resources": [], "detail": {"n": 5.5}})
                .to_string(),
            )
            .send()
            .await
            .expect("test event pattern");
        assert!(yes.result());
        let bad = c
            .eventbridge
            .test_event_pattern()
            .event_pattern(r#"{"detail": {"n": [{"numeric": [">", "x"]}]}}"#)
            .event("{}")
            .send()
            .await
            .expect_err("invalid pattern");
        assert!(
            bad.as_service_error()
                .is_some_and(|e| e.is_invalid_event_pattern_exception()),
            "{bad:?}"
        );

        let rules = c.eventbridge.list_rules().send().await.expect("list rules");
        let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
        assert_eq!(names, ["orders", "s3-all"]);
        let rule = c
            .eventbridge
            .describe_rule()
            .name("orders")
            .send()
            .await
            .expect("describe");
        assert!(rule.event_pattern().expect("pattern").contains("shop"));
        let targets = c
            .eventbridge
            .list_targets_by_rule()
            .rule("orders")
            .send()
            .await
            .expect("targets");
        assert_eq!(
            targets.targets()[0].arn(),
            "arn:aws:sns:us-east-1:000000000000:alerts"
        );
        let missing = c
            .eventbridge
            .describe_rule()
            .name("nope")
            .send()
            .await
            .expect_err("missing rule");
        assert!(
            missing
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()),
            "{missing:?}"
        );

        // SNS (query protocol) through the SDK: Publish and the listings.
        let topics = c.sns.list_topics().send().await.expect("list topics");
        let arn = topics.topics()[0].topic_arn().expect("arn").to_string();
        assert!(arn.ends_with(":alerts"));
        let subs = c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(&arn)
            .send()
            .await
            .expect("subscriptions");
        assert_eq!(subs.subscriptions()[0].protocol(), Some("sqs"));
        c.sns
            .publish()
            .topic_arn(&arn)
            .message("direct")
            .subject("hi")
            .send()
            .await
            .expect("publish");
        let envelope = take_one(&c, &queue_url(&s.endpoint, "alerts-q")).await;
        assert_eq!(envelope["Message"], "direct");
        assert_eq!(envelope["Subject"], "hi");
        let batch = c
            .sns
            .publish_batch()
            .topic_arn(&arn)
            .publish_batch_request_entries(
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id("a")
                    .message("one")
                    .build()
                    .expect("entry"),
            )
            .publish_batch_request_entries(
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id("b")
                    .message("two")
                    .build()
                    .expect("entry"),
            )
            .send()
            .await
            .expect("publish batch");
        assert_eq!(batch.successful().len(), 2);
        let mut got = vec![
            take_one(&c, &queue_url(&s.endpoint, "alerts-q")).await["Message"].clone(),
            take_one(&c, &queue_url(&s.endpoint, "alerts-q")).await["Message"].clone(),
        ];
        got.sort_by_key(|v| v.to_string());
        assert_eq!(got, [json!("one"), json!("two")]);
        let err = c
            .sns
            .publish()
            .topic_arn("arn:aws:sns:us-east-1:000000000000:nope")
            .message("x")
            .send()
            .await
            .expect_err("no such topic");
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_not_found_exception()),
            "{err:?}"
        );
    });
}

#[test]
fn sqs_semantics_through_the_sdk() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        let url = c
            .sqs
            .get_queue_url()
            .queue_name("work-q")
            .send()
            .await
            .expect("get queue url")
            .queue_url()
            .expect("url")
            .to_string();
        assert_eq!(url, queue_url(&s.endpoint, "work-q"));
        let err = c
            .sqs
            .get_queue_url()
            .queue_name("nope")
            .send()
            .await
            .expect_err("missing queue");
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()),
            "{err:?}"
        );
        let listed = c
            .sqs
            .list_queues()
            .queue_name_prefix("work")
            .send()
            .await
            .expect("list");
        assert_eq!(listed.queue_urls(), std::slice::from_ref(&url));

        let batch = c
            .sqs
            .send_message_batch()
            .queue_url(&url)
            .entries(
                SendMessageBatchRequestEntry::builder()
                    .id("a")
                    .message_body("first")
                    .message_attributes(
                        "color",
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value("red")
                            .build()
                            .expect("attr"),
                    )
                    .build()
                    .expect("entry"),
            )
            .entries(
                SendMessageBatchRequestEntry::builder()
                    .id("b")
                    .message_body("second")
                    .build()
                    .expect("entry"),
            )
            .send()
            .await
            .expect("send batch");
        assert_eq!(batch.successful().len(), 2);
        assert!(batch.successful()[0].md5_of_message_attributes().is_some());

        let attrs = c
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("attributes");
        let a = attrs.attributes().expect("attributes");
        assert_eq!(
            a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .map(String::as_str),
            Some("2")
        );

        let got = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let msgs = got.messages();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].body(), Some("first"));
        let color = msgs[0]
            .message_attributes()
            .and_then(|m| m.get("color"))
            .and_then(|v| v.string_value());
        assert_eq!(color, Some("red"));
        let count = msgs[0]
            .attributes()
            .and_then(|m| m.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str);
        assert_eq!(count, Some("1"));
        // In flight: nothing to receive; released with visibility 0, it comes back.
        assert_empty(&c, &url, 0).await;
        c.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(msgs[1].receipt_handle().expect("handle"))
            .visibility_timeout(0)
            .send()
            .await
            .expect("change visibility");
        let again = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive again");
        let m = &again.messages()[0];
        assert_eq!(m.body(), Some("second"));
        assert_eq!(
            m.attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .map(String::as_str),
            Some("2")
        );
        // A batch change: the newest handle keeps it in flight, the superseded one fails.
        let changed = c
            .sqs
            .change_message_visibility_batch()
            .queue_url(&url)
            .entries(
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id("new")
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .visibility_timeout(30)
                    .build()
                    .expect("entry"),
            )
            .entries(
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id("old")
                    .receipt_handle(msgs[1].receipt_handle().expect("handle"))
                    .visibility_timeout(30)
                    .build()
                    .expect("entry"),
            )
            .send()
            .await
            .expect("change visibility batch");
        let ok: Vec<&str> = changed.successful().iter().map(|e| e.id()).collect();
        let failed: Vec<&str> = changed.failed().iter().map(|e| e.id()).collect();
        assert_eq!((ok, failed), (vec!["new"], vec!["old"]));
        assert_empty(&c, &url, 0).await;
        // The first receive's handle of "second" is superseded; the new one works.
        let deleted = c
            .sqs
            .delete_message_batch()
            .queue_url(&url)
            .entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id("old")
                    .receipt_handle(msgs[1].receipt_handle().expect("handle"))
                    .build()
                    .expect("entry"),
            )
            .entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id("first")
                    .receipt_handle(msgs[0].receipt_handle().expect("handle"))
                    .build()
                    .expect("entry"),
            )
            .entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id("second")
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .build()
                    .expect("entry"),
            )
            .send()
            .await
            .expect("delete batch");
        assert_eq!(deleted.successful().len(), 2);
        assert_eq!(deleted.failed()[0].id(), "old");
        assert_eq!(deleted.failed()[0].code(), "ReceiptHandleIsInvalid");

        // Long polling returns with the message sent while it waits (not at its 20 s end).
        let waiter = {
            let c = c.clone();
            let url = url.clone();
            tokio::spawn(async move {
                c.sqs
                    .receive_message()
                    .queue_url(&url)
                    .wait_time_seconds(20)
                    .send()
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.sqs
            .send_message()
            .queue_url(&url)
            .message_body("late")
            .send()
            .await
            .expect("send");
        let got = waiter.await.expect("join").expect("long poll");
        assert_eq!(got.messages()[0].body(), Some("late"));

        // FIFO: per-group order, a group blocked while its message is in flight.
        let fifo = queue_url(&s.endpoint, "jobs.fifo");
        for (group, body) in [("g1", "g1-a"), ("g1", "g1-b"), ("g2", "g2-a")] {
            c.sqs
                .send_message()
                .queue_url(&fifo)
                .message_body(body)
                .message_group_id(group)
                .send()
                .await
                .expect("send fifo");
        }
        let receive_one = || async {
            let got = c
                .sqs
                .receive_message()
                .queue_url(&fifo)
                .send()
                .await
                .expect("receive fifo");
            got.messages()
                .iter()
                .filter_map(|m| m.body())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(receive_one().await, ["g1-a"]);
        // g1 is blocked while g1-a is in flight: the next message is g2's.
        assert_eq!(receive_one().await, ["g2-a"]);
        assert!(receive_one().await.is_empty());

        c.sqs
            .purge_queue()
            .queue_url(&fifo)
            .send()
            .await
            .expect("purge");
        let mut store = Store::open(&s.state).expect("state");
        assert_eq!(store.queue_counts("jobs.fifo").expect("counts").visible, 0);
        assert_eq!(
            store.queue_counts("jobs.fifo").expect("counts").in_flight,
            0
        );
    });
}

#[test]
fn unsupported_operations_answer_aws_errors_naming_them() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        // An upload whose Content-Type is a form is still an upload (not a query-protocol call).
        c.s3.put_object()
            .bucket("media")
            .key("form.txt")
            .content_type("application/x-www-form-urlencoded")
            .body(ByteStream::from_static(b"Action=SendMessage"))
            .send()
            .await
            .expect("put a form-typed object");
        assert_eq!(
            std::fs::read(s.state.join("buckets/media/form.txt")).expect("object file"),
            b"Action=SendMessage"
        );
        let err = c
            .sqs
            .list_dead_letter_source_queues()
            .queue_url(queue_url(&s.endpoint, "events-q"))
            .send()
            .await
            .expect_err("unsupported");
        let meta = err.into_service_error();
        // SQS's JSON protocol carries the query-compatible code, which the SDK reports.
        assert_eq!(
            meta.meta().code(),
            Some("AWS.SimpleQueueService.UnsupportedOperation")
        );
        assert!(meta
            .meta()
            .message()
            .unwrap_or("")
            .contains("ListDeadLetterSourceQueues"));
        let err = c
            .eventbridge
            .create_event_bus()
            .name("b")
            .send()
            .await
            .expect_err("unsupported");
        let e = err.into_service_error();
        assert_eq!(e.meta().code(), Some("UnknownOperationException"));
        assert!(e.meta().message().unwrap_or("").contains("CreateEventBus"));
        // Versioning is not served: S3's error for an operation it does not implement.
        let err =
            c.s3.put_bucket_versioning()
                .bucket("media")
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect_err("unsupported");
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("NotImplemented")
        );
        let err = c
            .sns
            .create_topic()
            .name("t")
            .send()
            .await
            .expect_err("unsupported");
        let e = err.into_service_error();
        assert_eq!(e.meta().code(), Some("InvalidAction"));
        assert!(e.meta().message().unwrap_or("").contains("CreateTopic"));
        let err =
            c.s3.get_object_tagging()
                .bucket("media")
                .key("k")
                .send()
                .await
                .expect_err("unsupported");
        let e = err.into_service_error();
        assert_eq!(e.meta().code(), Some("NotImplemented"));
        let err =
            c.s3.put_object()
                .bucket("nope")
                .key("k")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .expect_err("no bucket");
        assert_eq!(err.into_service_error().meta().code(), Some("NoSuchBucket"));
    });
    // Virtual-host-style addressing, with a raw request.
    std::fs::write(s.state.join("buckets/media/v.txt"), b"vhost").expect("file");
    let addr = s.endpoint.trim_start_matches("http://");
    let port = addr.rsplit(':').next().expect("port");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET /v.txt HTTP/1.1\r\nHost: media.localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("vhost"), "{response}");
}

/// `bridge consume --endpoint-url` (the AWS code path) against the served backend.
#[test]
fn bridge_consume_reads_a_served_queue() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        c.s3.put_object()
            .bucket("media")
            .key("report.csv")
            .body(ByteStream::from_static(b"a,b"))
            .send()
            .await
            .expect("put");
    });
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bridge_bin());
    cmd.args([
        "consume",
        "--endpoint-url",
        &s.endpoint,
        "--queue",
        "events-q",
    ])
    .args(["--jsonl", "--max-messages", "1", "--idle-exit", "10"]);
    moto::dummy_credentials(&mut cmd, home.path());
    let out = cmd.output().expect("run consume");
    assert!(out.status.success(), "{}", moto::text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    let event: Value = serde_json::from_str(line.lines().next().expect("one event")).expect("JSON");
    assert_eq!(event["kind"], "object_created");
    assert_eq!(event["key"], "report.csv");
    assert_eq!(event["bucket"], "media");
    // Consumed means deleted.
    let mut store = Store::open(&s.state).expect("state");
    let counts = store.queue_counts("events-q").expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 0));
}

/// boto3 (installed with pip when missing, like moto): uploads, SQS over JSON and over the
/// query protocol, SNS publish. The script is `tests/serve/boto3_check.py`.
#[test]
fn boto3_runs_unchanged_against_the_served_backend() {
    let s = serve();
    let script = support::repo_root().join("tests/serve/boto3_check.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let has_boto3 = Command::new(&python)
        .args(["-c", "import boto3"])
        .status()
        .map(|st| st.success())
        .unwrap_or(false);
    if !has_boto3 {
        let st = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "boto3"])
            .status()
            .expect("run pip");
        assert!(st.success(), "pip install boto3 failed");
    }
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("BRIDGE_BUCKET_DIR", s.state.join("buckets/media"));
    moto::dummy_credentials(&mut cmd, home.path());
    let out = cmd.output().expect("run boto3 script");
    assert!(out.status.success(), "{}", moto::text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("boto3: all checks passed"));
}

/// Every write the server acknowledged (SendMessage, PutEvents, PutObject) survives `kill -9`
/// of `bridge dev --serve` at a random moment.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = write_project(dir.path());
    let state = dir.path().join("state");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1);
    eprintln!("kill moment seed: {seed}");
    let mut acked_messages = Vec::new();
    let mut acked_events = Vec::new();
    let mut acked_objects = Vec::new();
    for round in 0..3u64 {
        let (mut child, endpoint) = start_dev(&project, &state);
        let kill_after = Duration::from_millis(200 + (seed.wrapping_mul(round + 7) % 500));
        let rt = runtime();
        let (m, e, o) = rt.block_on(async {
            let c = moto::clients(&endpoint).await;
            let url = queue_url(&endpoint, "work-q");
            // The server being killed shows as a dispatch/response failure; any other error
            // is a bug.
            fn gone<E: std::fmt::Debug, R: std::fmt::Debug>(e: aws_sdk_sqs::error::SdkError<E, R>) {
                use aws_sdk_sqs::error::SdkError;
                assert!(
                    matches!(
                        e,
                        SdkError::DispatchFailure(_)
                            | SdkError::ResponseError(_)
                            | SdkError::TimeoutError(_)
                    ),
                    "a write failed while the server was up: {e:?}"
                );
            }
            let writer = tokio::spawn(async move {
                let (mut m, mut e, mut o) = (Vec::new(), Vec::new(), Vec::new());
                for i in 0u32.. {
                    let body = format!("r{round}-m{i}");
                    match i % 3 {
                        0 => match c
                            .sqs
                            .send_message()
                            .queue_url(&url)
                            .message_body(&body)
                            .send()
                            .await
                        {
                            Ok(out) => m.push(out.message_id().unwrap_or_default().to_string()),
                            Err(err) => {
                                gone(err);
                                break;
                            }
                        },
                        1 => {
                            let entry =
                                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                                    .source("shop")
                                    .detail_type("order")
                                    .detail(json!({"n": body}).to_string())
                                    .build();
                            match c.eventbridge.put_events().entries(entry).send().await {
                                Ok(out) => e.push(
                                    out.entries()[0].event_id().unwrap_or_default().to_string(),
                                ),
                                Err(err) => {
                                    gone(err);
                                    break;
                                }
                            }
                        }
                        _ => match c
                            .s3
                            .put_object()
                            .bucket("media")
                            .key(format!("k/{body}"))
                            .body(ByteStream::from(body.clone().into_bytes()))
                            .send()
                            .await
                        {
                            Ok(_) => o.push(format!("k/{body}")),
                            Err(err) => {
                                gone(err);
                                break;
                            }
                        },
                    }
                }
                (m, e, o)
            });
            tokio::time::sleep(kill_after).await;
            child.kill().expect("kill -9");
            child.wait().expect("reap");
            writer.await.expect("writer")
        });
        assert!(
            !m.is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );
        acked_messages.extend(m);
        acked_events.extend(e);
        acked_objects.extend(o);
    }
    assert!(
        !acked_events.is_empty() && !acked_objects.is_empty(),
        "every kind of write was acknowledged before some kill"
    );
    let mut store = Store::open(&state).expect("state opens cleanly after kill -9");
    let drain = |store: &mut Store, queue: &str| {
        let mut out = Vec::new();
        loop {
            let got = store
                .receive_messages(queue, ReceiveRequest::default())
                .expect("receive");
            if got.is_empty() {
                return out;
            }
            out.extend(got);
        }
    };
    let ids: std::collections::HashSet<String> = drain(&mut store, "work-q")
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    for id in &acked_messages {
        assert!(ids.contains(id), "acknowledged message {id} was lost");
    }
    let events: std::collections::HashSet<String> = drain(&mut store, "alerts-q")
        .into_iter()
        .filter_map(|m| {
            let env: Value = serde_json::from_str(&m.body).ok()?;
            let event: Value = serde_json::from_str(env["Message"].as_str()?).ok()?;
            event["id"].as_str().map(str::to_string)
        })
        .collect();
    for id in &acked_events {
        assert!(events.contains(id), "acknowledged event {id} was lost");
    }
    let announced: std::collections::HashSet<String> = drain(&mut store, "events-q")
        .into_iter()
        .filter_map(|m| {
            let event: Value = serde_json::from_str(&m.body).ok()?;
            event["detail"]["object"]["key"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    for key in &acked_objects {
        let file = state.join("buckets/media").join(key);
        assert!(file.is_file(), "acknowledged object {key} is not on disk");
        assert!(
            announced.contains(key),
            "acknowledged object {key} has no event"
        );
    }
}

/// Every message `queue` of the state holds now (received, not deleted).
fn drain_state(store: &mut Store, queue: &str) -> Vec<infra::local::ReceivedMessage> {
    let mut out = Vec::new();
    loop {
        let got = store
            .receive_messages(queue, ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

/// The object keys of the S3 events in `events-q`, in order.
fn announced_keys(store: &mut Store) -> Vec<String> {
    drain_state(store, "events-q")
        .into_iter()
        .filter_map(|m| {
            let event: Value = serde_json::from_str(&m.body).ok()?;
            event["detail"]["object"]["key"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// 100 uploads and 20 publishes at once share the process's one writer with `dev`'s own
/// scanner (`--interval-ms 20`): each is acknowledged, each upload has its file and
/// exactly one event (the scan does not announce a served upload again), each publish
/// reaches the topic's queue.
#[test]
fn concurrent_uploads_and_publishes_each_get_exactly_one_event() {
    const UPLOADS: usize = 100;
    const PUBLISHES: usize = 20;
    let mut s = serve();
    let rt = runtime();
    rt.block_on(async {
        let c = moto::clients(&s.endpoint).await;
        let arn = c.sns.list_topics().send().await.expect("topics").topics()[0]
            .topic_arn()
            .expect("arn")
            .to_string();
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..UPLOADS {
            let c = c.clone();
            calls.spawn(async move {
                c.s3.put_object()
                    .bucket("media")
                    .key(format!("many/{i:03}"))
                    .body(ByteStream::from(format!("upload {i}").into_bytes()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("upload {i}: {e:?}"))
            });
        }
        for i in 0..PUBLISHES {
            let (c, arn) = (c.clone(), arn.clone());
            calls.spawn(async move {
                c.sns
                    .publish()
                    .topic_arn(&arn)
                    .message(format!("p{i}"))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("publish {i}: {e:?}"))
            });
        }
        while let Some(done) = calls.join_next().await {
            done.expect("task").expect("acknowledged");
        }
    });
    // A few of `dev`'s scans run over the uploaded files.
    std::thread::sleep(Duration::from_millis(300));
    let _ = s.child.kill();
    let _ = s.child.wait();
    let mut store = Store::open(&s.state).expect("state");
    let mut keys = announced_keys(&mut store);
    keys.sort();
    let expected: Vec<String> = (0..UPLOADS).map(|i| format!("many/{i:03}")).collect();
    assert_eq!(keys, expected, "each upload announced exactly once");
    for i in 0..UPLOADS {
        let file = s.state.join("buckets/media").join(format!("many/{i:03}"));
        assert_eq!(
            std::fs::read_to_string(&file).expect("object file"),
            format!("upload {i}")
        );
    }
    let mut published: Vec<String> = drain_state(&mut store, "alerts-q")
        .into_iter()
        .filter_map(|m| {
            let envelope: Value = serde_json::from_str(&m.body).ok()?;
            envelope["Message"].as_str().map(str::to_string)
        })
        .collect();
    published.sort();
    let mut expected: Vec<String> = (0..PUBLISHES).map(|i| format!("p{i}")).collect();
    expected.sort();
    assert_eq!(published, expected);
}

/// Uploads from 16 clients at once, `bridge dev --serve` killed (SIGKILL) at a random
/// moment: every upload acknowledged before the kill has its file and its event.
#[test]
fn concurrent_acknowledged_uploads_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = write_project(dir.path());
    let state = dir.path().join("state");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1);
    eprintln!("kill moment seed: {seed}");
    let mut acked = Vec::new();
    for round in 0..2u64 {
        let (mut child, endpoint) = start_dev(&project, &state);
        let kill_after = Duration::from_millis(300 + (seed.wrapping_mul(round + 3) % 700));
        let rt = runtime();
        let got = rt.block_on(async {
            let c = moto::clients(&endpoint).await;
            let mut clients = tokio::task::JoinSet::new();
            for client in 0..16u32 {
                let c = c.clone();
                clients.spawn(async move {
                    let mut acked = Vec::new();
                    for i in 0u32.. {
                        let key = format!("r{round}/c{client}/{i}");
                        let sent =
                            c.s3.put_object()
                                .bucket("media")
                                .key(&key)
                                .body(ByteStream::from(key.clone().into_bytes()))
                                .send()
                                .await;
                        match sent {
                            Ok(_) => acked.push(key),
                            Err(e) => {
                                use aws_sdk_s3::error::SdkError;
                                assert!(
                                    matches!(
                                        e,
                                        SdkError::DispatchFailure(_)
                                            | SdkError::ResponseError(_)
                                            | SdkError::TimeoutError(_)
                                    ),
                                    "an upload failed while the server was up: {e:?}"
                                );
                                break;
                            }
                        }
                    }
                    acked
                });
            }
            tokio::time::sleep(kill_after).await;
            child.kill().expect("kill -9");
            child.wait().expect("reap");
            let mut all = Vec::new();
            while let Some(done) = clients.join_next().await {
                all.extend(done.expect("client"));
            }
            all
        });
        assert!(
            !got.is_empty(),
            "round {round}: nothing acknowledged before the kill"
        );
        acked.extend(got);
    }
    let mut store = Store::open(&state).expect("state opens cleanly after kill -9");
    let announced: std::collections::HashSet<String> =
        announced_keys(&mut store).into_iter().collect();
    for key in &acked {
        let file = state.join("buckets/media").join(key);
        assert_eq!(
            std::fs::read_to_string(&file).ok().as_deref(),
            Some(key.as_str()),
            "acknowledged object {key} is not on disk"
        );
        assert!(
            announced.contains(key),
            "acknowledged object {key} has no event"
        );
    }
}

/// `--serve` on an address other machines can reach warns that nothing is authenticated.
#[test]
fn a_non_loopback_address_gets_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = write_project(dir.path());
    let out = Command::new(bridge_bin())
        .arg("dev")
        .arg("--project")
        .arg(&project)
        .arg("--local")
        .arg(dir.path().join("state"))
        .args(["--serve", "0.0.0.0:0", "--once"])
        .output()
        .expect("run dev");
    assert!(out.status.success(), "{}", moto::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: --serve 0.0.0.0:0 is reachable from other machines")
            && stderr.contains("not verified"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("serving S3, SQS, SNS and EventBridge on http://0.0.0.0:"),
        "{stdout}"
    );
}

/// `bridge tail --endpoint-url` against `bridge dev --serve`, as against AWS: its temporary
/// queue and rule are made over the wire, it prints the events put through the endpoint,
/// and on Ctrl-C it removes both; `--cleanup` removes what a `kill -9`ed tail left.
#[test]
fn bridge_tail_against_the_served_backend_shows_events_and_cleans_up() {
    let s = serve();
    let home = tempfile::tempdir().expect("tempdir");
    let tail_cmd = |args: &[&str]| {
        let mut cmd = Command::new(bridge_bin());
        moto::dummy_credentials(&mut cmd, home.path());
        cmd.arg("tail")
            .args(args)
            .args(["--endpoint-url", &s.endpoint]);
        cmd
    };
    let mut tail = support::tail::Tail::spawn(tail_cmd(&[]));
    let name = tail.ready();
    // The session's queue and rule are the wire's, not the project's.
    let served = Store::open(&s.state)
        .expect("state")
        .served_resources()
        .expect("served");
    assert!(served.contains(&ServedResource::queue(&name)), "{served:?}");
    assert!(served.contains(&ServedResource::rule("default", &name)));
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        c.eventbridge
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("shop")
                    .detail_type("order")
                    .detail(r#"{"tail": 1}"#)
                    .build(),
            )
            .send()
            .await
            .expect("put events");
    });
    let event = tail.next_line();
    assert_eq!(event["source"], "shop");
    assert_eq!(event["detail"]["tail"], 1);
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        c.s3.put_object()
            .bucket("media")
            .key("tailed.txt")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put object");
    });
    let event = tail.next_line();
    assert_eq!(event["source"], "aws.s3");
    assert_eq!(event["detail"]["object"]["key"], "tailed.txt");

    let status = Command::new("kill")
        .args(["-INT", &tail.child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let rest = tail.rest_of_stderr();
    let exit = tail.child.wait().expect("wait for bridge tail");
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("removed rule and queue"), "{rest}");
    let leftovers = |name: String| {
        runtime().block_on(async {
            let c = moto::clients(&s.endpoint).await;
            let rules = c
                .eventbridge
                .list_rules()
                .name_prefix(&name)
                .send()
                .await
                .expect("list rules");
            let queues = c
                .sqs
                .list_queues()
                .queue_name_prefix(&name)
                .send()
                .await
                .expect("list queues");
            rules.rules().len() + queues.queue_urls().len()
        })
    };
    assert_eq!(leftovers(name.clone()), 0, "rule or queue left behind");
    assert!(Store::open(&s.state)
        .expect("state")
        .served_resources()
        .expect("served")
        .is_empty());

    // A tail killed with -9 leaves its queue and rule; --cleanup finds and removes them.
    let mut killed = support::tail::Tail::spawn(tail_cmd(&[]));
    let killed_name = killed.ready();
    killed.child.kill().expect("SIGKILL the tail");
    let _ = killed.child.wait();
    assert_eq!(leftovers(killed_name.clone()), 2, "kill -9 cannot clean up");
    let out = tail_cmd(&["--cleanup"]).output().expect("tail --cleanup");
    let report = moto::text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("1 leftover session(s) found"), "{report}");
    assert_eq!(leftovers(killed_name), 0, "{report}");
}

/// CreateQueue, SetQueueAttributes, tags, DeleteQueue, PutRule, PutTargets, RemoveTargets,
/// DeleteRule through the SDK, with AWS's error codes; what they make routes events like a
/// declared rule, is not a change for `plan --local`, and survives `dev`'s re-apply.
#[test]
fn control_plane_calls_make_resources_the_project_leaves_alone() {
    let mut s = serve();
    let c_rt = runtime();
    let wire_q = queue_url(&s.endpoint, "wire-q");
    c_rt.block_on(async {
        use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Tag, Target};
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let c = moto::clients(&s.endpoint).await;
        let url = c
            .sqs
            .create_queue()
            .queue_name("wire-q")
            .attributes(A::VisibilityTimeout, "45")
            .tags("team", "blue")
            .send()
            .await
            .expect("create queue");
        assert_eq!(url.queue_url(), Some(wire_q.as_str()));
        // The same again: the same queue. Another value: QueueAlreadyExists.
        c.sqs
            .create_queue()
            .queue_name("wire-q")
            .attributes(A::VisibilityTimeout, "45")
            .send()
            .await
            .expect("create the same queue again");
        let e = c
            .sqs
            .create_queue()
            .queue_name("wire-q")
            .attributes(A::VisibilityTimeout, "46")
            .send()
            .await
            .expect_err("a different attribute");
        let e = e.into_service_error();
        assert!(e.is_queue_name_exists(), "{e:?}");
        assert!(e
            .meta()
            .message()
            .unwrap_or("")
            .contains("VisibilityTimeout"));
        let e = c
            .sqs
            .create_queue()
            .queue_name("bad-q")
            .attributes(A::from("Colour"), "red")
            .send()
            .await
            .expect_err("unknown attribute");
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("InvalidAttributeName")
        );
        let e = c
            .sqs
            .create_queue()
            .queue_name("bad-q")
            .attributes(A::DelaySeconds, "901")
            .send()
            .await
            .expect_err("out of range");
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("InvalidAttributeValue")
        );
        c.sqs
            .set_queue_attributes()
            .queue_url(&wire_q)
            .attributes(A::Policy, r#"{"Version": "2012-10-17", "Statement": []}"#)
            .attributes(A::MessageRetentionPeriod, "600")
            .send()
            .await
            .expect("set attributes");
        let attrs = c
            .sqs
            .get_queue_attributes()
            .queue_url(&wire_q)
            .attribute_names(A::All)
            .send()
            .await
            .expect("attributes");
        let attrs = attrs.attributes().expect("attributes");
        assert_eq!(
            attrs.get(&A::VisibilityTimeout).map(String::as_str),
            Some("45")
        );
        assert_eq!(
            attrs.get(&A::MessageRetentionPeriod).map(String::as_str),
            Some("600")
        );
        assert!(attrs
            .get(&A::Policy)
            .is_some_and(|p| p.contains("2012-10-17")));
        c.sqs
            .tag_queue()
            .queue_url(&wire_q)
            .tags("env", "dev")
            .send()
            .await
            .expect("tag");
        c.sqs
            .untag_queue()
            .queue_url(&wire_q)
            .tag_keys("team")
            .send()
            .await
            .expect("untag");
        let tags = c
            .sqs
            .list_queue_tags()
            .queue_url(&wire_q)
            .send()
            .await
            .expect("tags");
        let tags = tags.tags().expect("tags");
        assert_eq!(tags.len(), 1);
        assert_eq!(tags.get("env").map(String::as_str), Some("dev"));
        // The project's queues are changed in the project.
        let e = c
            .sqs
            .delete_queue()
            .queue_url(queue_url(&s.endpoint, "events-q"))
            .send()
            .await
            .expect_err("a project queue");
        let e = e.into_service_error();
        assert_eq!(
            e.meta().code(),
            Some("AWS.SimpleQueueService.UnsupportedOperation")
        );
        assert!(e.meta().message().unwrap_or("").contains("bridge.json"));
        let e = c
            .sqs
            .tag_queue()
            .queue_url(queue_url(&s.endpoint, "nope"))
            .tags("a", "b")
            .send()
            .await
            .expect_err("no such queue");
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );

        // EventBridge: a pattern AWS would refuse is refused in AWS's words.
        let e = c
            .eventbridge
            .put_rule()
            .name("wire-rule")
            .event_pattern(r#"{"source": "shop"}"#)
            .send()
            .await
            .expect_err("invalid pattern");
        let e = e.into_service_error();
        assert!(e.is_invalid_event_pattern_exception(), "{e:?}");
        assert!(e
            .meta()
            .message()
            .unwrap_or("")
            .starts_with("Event pattern is not valid. Reason: "));
        let project_rule = c
            .eventbridge
            .list_rules()
            .send()
            .await
            .expect("list rules")
            .rules()
            .iter()
            .find(|r| r.event_pattern().is_some_and(|p| p.contains("order")))
            .and_then(|r| r.name().map(str::to_string))
            .expect("the project's orders rule");
        let e = c
            .eventbridge
            .put_rule()
            .name(&project_rule)
            .event_pattern(r#"{"source": ["x"]}"#)
            .send()
            .await
            .expect_err("a project rule");
        assert!(e.into_service_error().is_managed_rule_exception());
        let arn = c
            .eventbridge
            .put_rule()
            .name("wire-rule")
            .event_pattern(r#"{"source": ["shop"], "detail-type": ["order"]}"#)
            .tags(
                Tag::builder()
                    .key("owner")
                    .value("me")
                    .build()
                    .expect("tag"),
            )
            .send()
            .await
            .expect("put rule")
            .rule_arn()
            .expect("arn")
            .to_string();
        assert!(arn.ends_with(":rule/wire-rule"), "{arn}");
        let e = c
            .eventbridge
            .put_targets()
            .rule("no-such-rule")
            .targets(
                Target::builder()
                    .id("t")
                    .arn("arn:aws:sqs:us-east-1:000000000000:wire-q")
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect_err("no rule");
        assert!(e.into_service_error().is_resource_not_found_exception());
        let out = c
            .eventbridge
            .put_targets()
            .rule("wire-rule")
            .targets(
                Target::builder()
                    .id("whole")
                    .arn("arn:aws:sqs:us-east-1:000000000000:wire-q")
                    .input_path("$.detail")
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("put targets");
        assert_eq!(out.failed_entry_count(), 0);
        let tags = c
            .eventbridge
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .expect("tags");
        assert_eq!(tags.tags().len(), 1);
        assert_eq!(tags.tags()[0].key(), "owner");
        c.eventbridge
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("shop")
                    .detail_type("order")
                    .detail(r#"{"wire": true}"#)
                    .build(),
            )
            .send()
            .await
            .expect("put events");
        assert_eq!(take_one(&c, &wire_q).await, json!({"wire": true}));
        // The declared rule still routed it too.
        take_one(&c, &queue_url(&s.endpoint, "alerts-q")).await;
    });

    // `plan --local` shows no change for them, and `dev`'s re-apply (with prune) keeps them.
    let out = Command::new(bridge_bin())
        .args(["plan", "--project"])
        .arg(s._dir.path().join("project"))
        .arg("--local")
        .arg(&s.state)
        .output()
        .expect("plan --local");
    let plan = moto::text(&out);
    assert!(out.status.success(), "{plan}");
    assert!(
        !plan.contains("wire-q") && !plan.contains("wire-rule"),
        "{plan}"
    );
    let _ = s.child.kill();
    let _ = s.child.wait();
    let (child, endpoint) = start_dev(&s._dir.path().join("project"), &s.state);
    s.child = child;
    s.endpoint = endpoint;
    let wire_q = queue_url(&s.endpoint, "wire-q");
    c_rt.block_on(async {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let c = moto::clients(&s.endpoint).await;
        c.eventbridge
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("shop")
                    .detail_type("order")
                    .detail(r#"{"again": true}"#)
                    .build(),
            )
            .send()
            .await
            .expect("put events");
        assert_eq!(take_one(&c, &wire_q).await, json!({"again": true}));
        // DeleteRule with targets: AWS's ValidationException; then removed the usual way.
        let e = c
            .eventbridge
            .delete_rule()
            .name("wire-rule")
            .send()
            .await
            .expect_err("targets left");
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("ValidationException")
        );
        c.eventbridge
            .remove_targets()
            .rule("wire-rule")
            .ids("whole")
            .send()
            .await
            .expect("remove targets");
        c.eventbridge
            .delete_rule()
            .name("wire-rule")
            .send()
            .await
            .expect("delete rule");
        // Deleting it again succeeds, as on AWS.
        c.eventbridge
            .delete_rule()
            .name("wire-rule")
            .send()
            .await
            .expect("delete a missing rule");
        c.sqs
            .delete_queue()
            .queue_url(&wire_q)
            .send()
            .await
            .expect("delete queue");
        let e = c
            .sqs
            .delete_queue()
            .queue_url(&wire_q)
            .send()
            .await
            .expect_err("gone");
        assert_eq!(
            e.into_service_error().meta().code(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
    });
}

/// PutObject, CopyObject (COPY and REPLACE) and multipart uploads keep Content-Type & co.
/// and `x-amz-meta-*`; GetObject and HeadObject return them; a file dropped by hand has
/// none (S3's `binary/octet-stream`); deleting the object removes them.
#[test]
fn object_metadata_is_kept_copied_and_removed_with_the_object() {
    let s = serve();
    runtime().block_on(async {
        let c = moto::clients(&s.endpoint).await;
        c.s3.put_object()
            .bucket("media")
            .key("doc.html")
            .body(ByteStream::from_static(b"<p>hi</p>"))
            .content_type("text/html; charset=utf-8")
            .content_encoding("identity")
            .cache_control("max-age=60")
            .content_disposition("inline")
            .metadata("colour", "blue")
            .metadata("Owner", "Ann")
            .send()
            .await
            .expect("put");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("doc.html")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
        assert_eq!(head.content_encoding(), Some("identity"));
        assert_eq!(head.cache_control(), Some("max-age=60"));
        assert_eq!(head.content_disposition(), Some("inline"));
        let meta = head.metadata().expect("metadata");
        assert_eq!(meta.get("colour").map(String::as_str), Some("blue"));
        assert_eq!(meta.get("owner").map(String::as_str), Some("Ann"));
        let got =
            c.s3.get_object()
                .bucket("media")
                .key("doc.html")
                .send()
                .await
                .expect("get");
        assert_eq!(got.content_type(), Some("text/html; charset=utf-8"));
        assert_eq!(
            got.metadata()
                .and_then(|m| m.get("colour"))
                .map(String::as_str),
            Some("blue")
        );
        // GetObject's response-* overrides.
        let got =
            c.s3.get_object()
                .bucket("media")
                .key("doc.html")
                .response_content_type("text/plain")
                .send()
                .await
                .expect("get");
        assert_eq!(got.content_type(), Some("text/plain"));

        // CopyObject keeps the metadata by default, and replaces it with REPLACE.
        c.s3.copy_object()
            .bucket("media")
            .key("copy.html")
            .copy_source("media/doc.html")
            .send()
            .await
            .expect("copy");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("copy.html")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("colour"))
                .map(String::as_str),
            Some("blue")
        );
        c.s3.copy_object()
            .bucket("media")
            .key("copy.html")
            .copy_source("media/doc.html")
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type("text/plain")
            .metadata("colour", "red")
            .send()
            .await
            .expect("copy with REPLACE");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("copy.html")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("text/plain"));
        assert_eq!(head.cache_control(), None);
        let meta = head.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.len(), 1, "{meta:?}");
        assert_eq!(meta.get("colour").map(String::as_str), Some("red"));
        let e =
            c.s3.copy_object()
                .bucket("media")
                .key("copy.html")
                .copy_source("media/copy.html")
                .send()
                .await
                .expect_err("a copy onto itself that changes nothing");
        assert_eq!(e.into_service_error().meta().code(), Some("InvalidRequest"));

        // Multipart: the metadata given at CreateMultipartUpload.
        let up =
            c.s3.create_multipart_upload()
                .bucket("media")
                .key("big.bin")
                .content_type("application/x-big")
                .metadata("parts", "1")
                .send()
                .await
                .expect("create upload");
        let id = up.upload_id().expect("id").to_string();
        let part =
            c.s3.upload_part()
                .bucket("media")
                .key("big.bin")
                .upload_id(&id)
                .part_number(1)
                .body(ByteStream::from_static(b"only part"))
                .send()
                .await
                .expect("part");
        c.s3.complete_multipart_upload()
            .bucket("media")
            .key("big.bin")
            .upload_id(&id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .parts(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().expect("etag"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("complete");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("big.bin")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("application/x-big"));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("parts"))
                .map(String::as_str),
            Some("1")
        );

        // No Content-Type given (the SDK always sends one: a raw request): S3's default.
        let addr = s.endpoint.trim_start_matches("http://").to_string();
        let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            conn,
            "PUT /media/plain HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        )
        .expect("request");
        let mut response = String::new();
        conn.read_to_string(&mut response).expect("response");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("plain")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("binary/octet-stream"));

        // A file written over the object by hand has no metadata.
        std::fs::write(s.state.join("buckets/media/doc.html"), b"<p>by hand</p>").expect("write");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("doc.html")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("binary/octet-stream"));
        assert!(head.metadata().is_none_or(|m| m.is_empty()));

        // Deleted, then the same bytes written by hand (the same ETag): the metadata went
        // with the object.
        c.s3.delete_object()
            .bucket("media")
            .key("copy.html")
            .send()
            .await
            .expect("delete");
        std::fs::write(s.state.join("buckets/media/copy.html"), b"<p>hi</p>").expect("write");
        let head =
            c.s3.head_object()
                .bucket("media")
                .key("copy.html")
                .send()
                .await
                .expect("head");
        assert_eq!(head.content_type(), Some("binary/octet-stream"));
        assert!(head.metadata().is_none_or(|m| m.is_empty()));
    });
}
