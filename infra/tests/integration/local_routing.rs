//! PutEvents routing, SNS fan-out and local buckets, end to end through the store.

use crate::local_support;

use std::collections::BTreeMap;

use infra::local::buckets::ChangeKind;
use infra::local::{
    BucketSpec, FilterScope, InputTransformer, MessageAttribute, NotificationSpec, PublishRequest,
    PutEventsEntry, QueueSpec, ReceiveRequest, Redrive, RuleSpec, RuleState, Store,
    SubscriptionSpec, TargetSpec, TopicSpec,
};
use local_support::{drain, rule, store};
use serde_json::{json, Value};

#[test]
fn matching_event_reaches_queue_in_eventbridge_shape() {
    let (_d, mut s) = store();
    let q = s.put_queue(&QueueSpec::new("packages")).expect("queue");
    s.put_queue(&QueueSpec::new("other")).expect("queue");
    rule(
        &mut s,
        "quilt",
        r#"{"source": ["com.quiltdata"], "detail": {"bucket": [{"prefix": "prod-"}]}}"#,
        &[TargetSpec::new("q", q)],
    );
    let entries = [
        PutEventsEntry {
            resources: vec!["arn:aws:s3:::prod-data".into()],
            time: Some("2026-11-22T10:00:00Z".into()),
            ..PutEventsEntry::new(
                "com.quiltdata",
                "package-revision",
                r#"{"bucket": "prod-data", "n": 1}"#,
            )
        },
        PutEventsEntry::new(
            "com.quiltdata",
            "package-revision",
            r#"{"bucket": "dev-data"}"#,
        ),
    ];
    let out = s.put_events(&entries).expect("put events");
    assert_eq!(out.failed_entry_count, 0);
    let id = out.entries[0].event_id.clone().expect("event id");
    assert_eq!(out.routed.len(), 1);
    assert_eq!(out.routed[0].rule, "default/quilt");
    assert_eq!(out.routed[0].outcome, "delivered");

    let got = drain(&mut s, "packages");
    assert_eq!(got.len(), 1, "only the prod- event matches");
    assert_eq!(
        got[0].body,
        json!({
            "version": "0", "id": id, "detail-type": "package-revision", "source": "com.quiltdata",
            "account": "000000000000", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::prod-data"], "detail": {"bucket": "prod-data", "n": 1}
        })
        .to_string(),
        "field order and values as AWS sends them"
    );
    assert!(drain(&mut s, "other").is_empty());
    let activity = s.activity_since(0, 100).expect("activity");
    assert!(activity.iter().any(|a| a.message_id == id
        && a.origin == "rule default/quilt"
        && a.outcome == "delivered"));
}

#[test]
fn entry_validation_is_per_entry_like_aws() {
    let (_d, mut s) = store();
    let out = s
        .put_events(&[
            PutEventsEntry::new("app", "t", "[1, 2]"),
            PutEventsEntry {
                source: None,
                ..PutEventsEntry::new("x", "t", "{}")
            },
            PutEventsEntry::new("aws.s3", "t", "{}"),
            PutEventsEntry {
                event_bus_name: Some("nope".into()),
                ..PutEventsEntry::new("app", "t", "{}")
            },
            PutEventsEntry::new(
                "app",
                "t",
                format!(r#"{{"big": "{}"}}"#, "x".repeat(300_000)),
            ),
            PutEventsEntry::new("app", "ok", "{}"),
        ])
        .expect("put events");
    let codes: Vec<Option<&str>> = out
        .entries
        .iter()
        .map(|e| e.error_code.as_deref())
        .collect();
    assert_eq!(
        codes,
        [
            Some("MalformedDetail"),
            Some("InvalidArgument"),
            Some("NotAuthorizedForSourceException"),
            Some("ResourceNotFoundException"),
            Some("InvalidArgument"),
            None
        ]
    );
    assert_eq!(out.failed_entry_count, 5);
    assert_eq!(
        out.entries[1].error_message.as_deref(),
        Some("Parameter Source is not valid. Reason: Source is a required argument.")
    );
    assert!(out.entries[5].event_id.is_some());
    let eleven = vec![PutEventsEntry::new("a", "b", "{}"); 11];
    assert!(
        s.put_events(&eleven).is_err(),
        "more than 10 entries is rejected as a whole"
    );
}

#[test]
fn input_transformer_output_is_exact() {
    let (_d, mut s) = store();
    let q = s.put_queue(&QueueSpec::new("t")).expect("queue");
    let target = TargetSpec {
        input_transformer: Some(InputTransformer {
            input_paths_map: BTreeMap::from([
                ("bucket".to_string(), "$.detail.bucket".to_string()),
                ("n".to_string(), "$.detail.n".to_string()),
            ]),
            input_template: r#"{"where": <bucket>, "msg": "<bucket> has <n> files", "rule": "<aws.events.rule-name>"}"#.into(),
        }),
        ..TargetSpec::new("t", q)
    };
    rule(&mut s, "r", r#"{"source": ["app"]}"#, &[target]);
    s.put_events(&[PutEventsEntry::new(
        "app",
        "x",
        r#"{"bucket": "b1", "n": 3}"#,
    )])
    .expect("put");
    let got = drain(&mut s, "t");
    assert_eq!(
        got[0].body,
        r#"{"where": "b1", "msg": "b1 has 3 files", "rule": "r"}"#
    );
}

#[test]
fn sns_fan_out_envelope_raw_filter_and_email_outbox() {
    let (_d, mut s) = store();
    let topic = s.put_topic(&TopicSpec::new("alerts")).expect("topic");
    assert_eq!(topic, "arn:aws:sns:us-east-1:000000000000:alerts");
    let wrapped = s.put_queue(&QueueSpec::new("wrapped")).expect("queue");
    let raw = s.put_queue(&QueueSpec::new("raw")).expect("queue");
    let filtered = s.put_queue(&QueueSpec::new("filtered")).expect("queue");
    let sub_arn = s
        .subscribe(&SubscriptionSpec::new(&topic, "sqs", &wrapped))
        .expect("sub");
    s.subscribe(&SubscriptionSpec {
        raw_message_delivery: true,
        ..SubscriptionSpec::new(&topic, "sqs", &raw)
    })
    .expect("sub");
    s.subscribe(&SubscriptionSpec {
        filter_policy: Some(r#"{"severity": ["high"]}"#.into()),
        ..SubscriptionSpec::new(&topic, "sqs", &filtered)
    })
    .expect("sub");
    s.subscribe(&SubscriptionSpec {
        filter_policy: Some(r#"{"level": [{"numeric": [">", 3]}]}"#.into()),
        filter_policy_scope: FilterScope::MessageBody,
        ..SubscriptionSpec::new(&topic, "email", "ops@example.com")
    })
    .expect("email sub");

    let attrs = BTreeMap::from([("severity".to_string(), MessageAttribute::string("low"))]);
    let id = s
        .publish(
            &topic,
            &PublishRequest {
                subject: Some("Disk".into()),
                attributes: attrs,
                ..PublishRequest::message(r#"{"level": 5}"#)
            },
        )
        .expect("publish");

    let got = drain(&mut s, "wrapped");
    let env: Value = serde_json::from_str(&got[0].body).expect("envelope JSON");
    let keys: Vec<&str> = env
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Type",
            "MessageId",
            "TopicArn",
            "Subject",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
            "MessageAttributes"
        ]
    );
    assert_eq!(env["Type"], "Notification");
    assert_eq!(env["MessageId"], id.as_str());
    assert_eq!(env["TopicArn"], topic.as_str());
    assert_eq!(env["Message"], r#"{"level": 5}"#);
    assert_eq!(env["Timestamp"], "2026-11-23T00:00:00.000Z");
    assert_eq!(
        env["MessageAttributes"],
        json!({"severity": {"Type": "String", "Value": "low"}})
    );
    assert_eq!(
        env["UnsubscribeURL"],
        format!(
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={sub_arn}"
        )
    );

    let raw_got = drain(&mut s, "raw");
    assert_eq!(raw_got[0].body, r#"{"level": 5}"#);
    assert_eq!(
        raw_got[0].message_attributes["severity"].string_value,
        "low"
    );
    assert!(
        drain(&mut s, "filtered").is_empty(),
        "severity low does not pass the filter"
    );

    let outbox: Vec<_> = std::fs::read_dir(s.outbox_dir())
        .expect("outbox")
        .collect::<Result<_, _>>()
        .expect("entries");
    assert_eq!(outbox.len(), 1);
    let eml = std::fs::read_to_string(outbox[0].path()).expect("eml");
    assert!(eml.contains("To: ops@example.com\r\n"), "{eml}");
    assert!(eml.contains("Subject: Disk\r\n"), "{eml}");
    assert!(eml.contains("{\"level\": 5}"), "{eml}");
    assert!(outbox[0].file_name().to_string_lossy().ends_with(".eml"));

    let attrs = BTreeMap::from([("severity".to_string(), MessageAttribute::string("high"))]);
    s.publish(
        &topic,
        &PublishRequest {
            attributes: attrs,
            ..PublishRequest::message(r#"{"level": 1}"#)
        },
    )
    .expect("publish");
    assert_eq!(drain(&mut s, "filtered").len(), 1, "severity high passes");
    assert_eq!(
        std::fs::read_dir(s.outbox_dir()).expect("outbox").count(),
        1,
        "level 1 is filtered from e-mail"
    );
}

#[test]
fn events_reach_topic_targets_and_fifo_queues() {
    let (_d, mut s) = store();
    let topic = s.put_topic(&TopicSpec::new("t")).expect("topic");
    let q = s.put_queue(&QueueSpec::new("via-topic")).expect("queue");
    s.subscribe(&SubscriptionSpec {
        raw_message_delivery: true,
        ..SubscriptionSpec::new(&topic, "sqs", &q)
    })
    .expect("sub");
    let fifo = s.put_queue(&QueueSpec::new("ordered.fifo")).expect("fifo");
    let fifo_target = TargetSpec {
        message_group_id: Some("g".into()),
        ..TargetSpec::new("f", fifo)
    };
    rule(
        &mut s,
        "all",
        r#"{"source": ["app"]}"#,
        &[TargetSpec::new("topic", topic), fifo_target],
    );
    let out = s
        .put_events(&[PutEventsEntry::new("app", "x", "{}")])
        .expect("put");
    assert_eq!(
        out.routed
            .iter()
            .filter(|r| r.outcome == "delivered")
            .count(),
        2,
        "{:?}",
        out.routed
    );
    let via = drain(&mut s, "via-topic");
    let event: Value = serde_json::from_str(&via[0].body).expect("event JSON");
    assert_eq!(event["source"], "app");
    let ordered = drain(&mut s, "ordered.fifo");
    assert_eq!(ordered[0].attributes["MessageGroupId"], "g");
    // A FIFO queue deduplicates an event's deliveries by the event's id.
    let event_id = out.entries[0].event_id.as_deref().expect("event id");
    assert_eq!(ordered[0].attributes["MessageDeduplicationId"], event_id);
}

#[test]
fn undeliverable_targets_go_to_the_target_dlq() {
    let (_d, mut s) = store();
    let dlq = s.put_queue(&QueueSpec::new("target-dlq")).expect("queue");
    let missing = "arn:aws:sqs:us-east-1:000000000000:missing";
    rule(
        &mut s,
        "r",
        r#"{"source": ["app"]}"#,
        &[TargetSpec {
            dead_letter_arn: Some(dlq),
            ..TargetSpec::new("m", missing)
        }],
    );
    let out = s
        .put_events(&[PutEventsEntry::new("app", "x", "{}")])
        .expect("put");
    assert!(
        out.routed[0]
            .outcome
            .starts_with("not delivered (RESOURCE_NOT_FOUND)"),
        "{:?}",
        out.routed
    );
    let dead = drain(&mut s, "target-dlq");
    assert_eq!(
        dead[0].message_attributes["ERROR_CODE"].string_value,
        "RESOURCE_NOT_FOUND"
    );
    assert_eq!(
        dead[0].message_attributes["TARGET_ARN"].string_value,
        missing
    );
    // Every attribute the EventBridge user guide lists for dead-letter messages ("Error
    // Code, Error Message, the Exhausted Retry Condition, Rule ARN, Retry Attempts, and the
    // Target ARN"), and no other.
    let mut names: Vec<&str> = dead[0]
        .message_attributes
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ERROR_CODE",
            "ERROR_MESSAGE",
            "EXHAUSTED_RETRY_CONDITION",
            "RETRY_ATTEMPTS",
            "RULE_ARN",
            "TARGET_ARN"
        ]
    );
    let attr = |k: &str| dead[0].message_attributes[k].string_value.clone();
    assert_eq!(attr("EXHAUSTED_RETRY_CONDITION"), "MaximumRetryAttempts");
    assert_eq!(attr("RETRY_ATTEMPTS"), "0");
    assert_eq!(
        attr("RULE_ARN"),
        "arn:aws:events:us-east-1:000000000000:rule/r"
    );
    assert!(!attr("ERROR_MESSAGE").is_empty());
}

#[test]
fn rule_changes_are_seen_by_other_store_handles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = Store::open(dir.path()).expect("open a");
    let mut b = Store::open(dir.path()).expect("open b");
    let q = a.put_queue(&QueueSpec::new("q")).expect("queue");
    b.put_events(&[PutEventsEntry::new("app", "x", "{}")])
        .expect("put before the rule");
    rule(
        &mut a,
        "r",
        r#"{"source": ["app"]}"#,
        &[TargetSpec::new("q", q)],
    );
    b.put_events(&[PutEventsEntry::new("app", "x", "{}")])
        .expect("put after the rule");
    assert_eq!(
        drain(&mut a, "q").len(),
        1,
        "b recompiled its matcher after a's change"
    );
    a.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "r".into(),
        pattern: Some(r#"{"source": ["app"]}"#.into()),
        schedule: None,
        state: RuleState::Disabled,
        description: None,
    })
    .expect("disable");
    b.put_events(&[PutEventsEntry::new("app", "x", "{}")])
        .expect("put while disabled");
    assert!(drain(&mut a, "q").is_empty());
}

#[test]
fn bucket_changes_emit_eventbridge_and_native_events_once() {
    let (d, mut s) = store();
    let eb_q = s.put_queue(&QueueSpec::new("s3-eb")).expect("queue");
    let native_q = s.put_queue(&QueueSpec::new("s3-native")).expect("queue");
    rule(
        &mut s,
        "s3",
        r#"{"source": ["aws.s3"], "detail": {"bucket": {"name": ["data"]}}}"#,
        &[TargetSpec::new("q", eb_q)],
    );
    let dir = d.path().join("buckets").join("data");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("before.txt"), "existing").expect("write");
    s.put_bucket(&BucketSpec {
        name: "data".into(),
        dir: dir.clone(),
        eventbridge: true,
        notifications: vec![NotificationSpec {
            id: "csv".into(),
            target_arn: native_q,
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("in/".into()),
            suffix: Some(".csv".into()),
        }],
    })
    .expect("bucket");
    assert!(
        s.scan_buckets().expect("scan").is_empty(),
        "existing files are not announced"
    );

    std::fs::create_dir_all(dir.join("in")).expect("dir");
    std::fs::write(dir.join("in/my file.csv"), "a,b\n").expect("write");
    let changes = s.scan_buckets().expect("scan");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "in/my file.csv");
    assert_eq!(changes[0].kind, ChangeKind::Created);
    assert!(
        s.scan_buckets().expect("rescan").is_empty(),
        "no change, no event"
    );

    let eb = drain(&mut s, "s3-eb");
    let event: Value = serde_json::from_str(&eb[0].body).expect("event");
    assert_eq!(event["source"], "aws.s3");
    assert_eq!(event["detail-type"], "Object Created");
    assert_eq!(event["resources"], json!(["arn:aws:s3:::data"]));
    let detail = &event["detail"];
    // Exactly the fields of the Amazon S3 User Guide's current Object Created example
    // ("EventBridge event message structure"), less `version-id` (unversioned bucket).
    let mut fields: Vec<&str> = detail
        .as_object()
        .expect("detail")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "bucket",
            "event-version",
            "object",
            "reason",
            "request-id",
            "requester",
            "source-ip-address",
            "version"
        ]
    );
    let mut object: Vec<&str> = detail["object"]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    object.sort_unstable();
    assert_eq!(object, ["etag", "key", "sequencer", "size"]);
    assert_eq!(detail["event-version"], "1.1");
    assert_eq!(detail["object"]["key"], "in/my file.csv");
    assert_eq!(detail["object"]["size"], 4);
    assert_eq!(detail["object"]["etag"], "f69f5b72bc79a92dc70c63c9aa142e36");
    assert_eq!(detail["reason"], "PutObject");
    assert_eq!(detail["source-ip-address"], "127.0.0.1");

    let native = drain(&mut s, "s3-native");
    assert_eq!(native.len(), 2, "the test event, then the record");
    let test: Value = serde_json::from_str(&native[0].body).expect("test event");
    assert_eq!(test["Event"], "s3:TestEvent");
    assert_eq!(test["Bucket"], "data");
    let records: Value = serde_json::from_str(&native[1].body).expect("records");
    let r = &records["Records"][0];
    // Amazon S3 User Guide, "Event message structure": one version for all event types
    // since 2.4; the current one is 2.5.
    assert_eq!(r["eventVersion"], "2.5");
    assert_eq!(r["eventSource"], "aws:s3");
    assert_eq!(r["eventName"], "ObjectCreated:Put");
    assert_eq!(r["s3"]["configurationId"], "csv");
    assert_eq!(r["s3"]["object"]["key"], "in/my+file.csv");
    assert_eq!(
        r["s3"]["object"]["eTag"],
        "f69f5b72bc79a92dc70c63c9aa142e36"
    );
    let first_seq = r["s3"]["object"]["sequencer"]
        .as_str()
        .expect("sequencer")
        .to_string();

    std::fs::remove_file(dir.join("in/my file.csv")).expect("rm");
    std::fs::write(dir.join("before.txt"), "rewritten!").expect("overwrite");
    let changes = s.scan_buckets().expect("scan");
    let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("before.txt", ChangeKind::Created),
            ("in/my file.csv", ChangeKind::Deleted)
        ]
    );
    assert!(changes[1].sequencer > first_seq, "sequencers increase");
    let eb = drain(&mut s, "s3-eb");
    let types: Vec<String> = eb
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(&m.body).expect("json")["detail-type"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["Object Created", "Object Deleted"]);
    let deleted: Value = serde_json::from_str(&eb[1].body).expect("json");
    assert_eq!(deleted["detail"]["deletion-type"], "Permanently Deleted");
    assert_eq!(deleted["detail"]["reason"], "DeleteObject");
    // The Object Deleted examples carry the empty object's ETag, and no size.
    let mut object: Vec<&str> = deleted["detail"]["object"]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    object.sort_unstable();
    assert_eq!(object, ["etag", "key", "sequencer"]);
    assert_eq!(
        deleted["detail"]["object"]["etag"],
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(deleted["detail"]["event-version"], "1.1");
    assert!(
        drain(&mut s, "s3-native").is_empty(),
        "deletes and non-csv keys are not in the native filter"
    );

    // A fresh process sees the same remembered listing: nothing is re-emitted.
    let mut again = Store::open(s.dir()).expect("reopen");
    assert!(again.scan_buckets().expect("scan").is_empty());
}

#[test]
fn filter_policies_compare_number_attributes_as_numbers() {
    let (_d, mut s) = store();
    let topic = s.put_topic(&TopicSpec::new("prices")).expect("topic");
    let q = s.put_queue(&QueueSpec::new("expensive")).expect("queue");
    s.subscribe(&SubscriptionSpec {
        raw_message_delivery: true,
        filter_policy: Some(
            r#"{"price": [{"numeric": [">=", 100]}], "sku": [{"prefix": "A-"}]}"#.into(),
        ),
        ..SubscriptionSpec::new(&topic, "sqs", &q)
    })
    .expect("sub");
    let publish = |s: &mut Store, price: &str, sku: &str| {
        let attrs = BTreeMap::from([
            (
                "price".to_string(),
                MessageAttribute {
                    data_type: "Number".into(),
                    string_value: price.into(),
                },
            ),
            ("sku".to_string(), MessageAttribute::string(sku)),
        ]);
        s.publish(
            &topic,
            &PublishRequest {
                attributes: attrs,
                ..PublishRequest::message(format!("{sku}@{price}"))
            },
        )
        .expect("publish");
    };
    publish(&mut s, "150", "A-1");
    publish(&mut s, "99.5", "A-2");
    publish(&mut s, "1e3", "B-3");
    publish(&mut s, "1e3", "A-4");
    let bodies: Vec<String> = drain(&mut s, "expensive")
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["A-1@150", "A-4@1e3"]);
}

#[test]
fn constant_input_and_input_path_targets() {
    let (_d, mut s) = store();
    let q = s.put_queue(&QueueSpec::new("shaped")).expect("queue");
    rule(
        &mut s,
        "r",
        r#"{"source": ["app"]}"#,
        &[
            TargetSpec {
                input: Some(r#"{"fixed": true}"#.into()),
                ..TargetSpec::new("a", &q)
            },
            TargetSpec {
                input_path: Some("$.detail.order".into()),
                ..TargetSpec::new("b", &q)
            },
        ],
    );
    s.put_events(&[PutEventsEntry::new("app", "x", r#"{"order": {"id": 7}}"#)])
        .expect("put");
    let mut bodies: Vec<String> = drain(&mut s, "shaped")
        .into_iter()
        .map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, [r#"{"fixed": true}"#, r#"{"id":7}"#]);
    let bad = s.put_targets(
        "default",
        "r",
        &[TargetSpec {
            input: Some("not json".into()),
            ..TargetSpec::new("c", &q)
        }],
    );
    assert!(bad.is_err(), "Input must be JSON");
    let missing_rule = s.put_targets("default", "nope", &[TargetSpec::new("c", &q)]);
    assert!(missing_rule.is_err());
    let bad_pattern = s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "bad".into(),
        pattern: Some(r#"{"source": []}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    });
    assert!(bad_pattern.is_err(), "patterns are validated by the engine");
}

#[test]
fn custom_bus_events_only_match_that_bus() {
    let (_d, mut s) = store();
    s.put_bus("orders").expect("bus");
    let q = s.put_queue(&QueueSpec::new("q")).expect("queue");
    s.put_rule(&RuleSpec {
        bus: "orders".into(),
        name: "r".into(),
        pattern: Some(r#"{"source": ["app"]}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    s.put_targets("orders", "r", &[TargetSpec::new("q", &q)])
        .expect("targets");
    let on_custom = PutEventsEntry {
        event_bus_name: Some("arn:aws:events:us-east-1:000000000000:event-bus/orders".into()),
        ..PutEventsEntry::new("app", "x", "{}")
    };
    let out = s
        .put_events(&[PutEventsEntry::new("app", "x", "{}"), on_custom])
        .expect("put");
    assert_eq!(out.failed_entry_count, 0);
    assert_eq!(out.routed.len(), 1);
    assert_eq!(out.routed[0].rule, "orders/r");
    assert_eq!(drain(&mut s, "q").len(), 1);
}

#[test]
fn a_removed_bucket_directory_empties_the_bucket_and_is_made_again() {
    let (d, mut s) = store();
    let q = s.put_queue(&QueueSpec::new("s3-eb")).expect("queue");
    rule(
        &mut s,
        "s3",
        r#"{"source": ["aws.s3"]}"#,
        &[TargetSpec::new("q", q)],
    );
    let dir = d.path().join("buckets").join("gone");
    s.put_bucket(&BucketSpec {
        name: "gone".into(),
        dir: dir.clone(),
        eventbridge: true,
        notifications: Vec::new(),
    })
    .expect("bucket");
    std::fs::write(dir.join("a.txt"), "a").expect("write");
    assert_eq!(s.scan_buckets().expect("scan").len(), 1);

    std::fs::remove_dir_all(&dir).expect("remove the bucket directory");
    let changes = s
        .scan_buckets()
        .expect("a scan of a removed directory succeeds");
    let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
    assert_eq!(kinds, [("a.txt", ChangeKind::Deleted)]);
    assert!(dir.is_dir(), "the bucket directory is made again");

    std::fs::write(dir.join("b.txt"), "b").expect("write into the new directory");
    let changes = s.scan_buckets().expect("scan");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "b.txt");
    assert_eq!(changes[0].kind, ChangeKind::Created);
}

/// What `bridge dev --serve` does for PutObject/CopyObject/DeleteObject: the file is renamed
/// into place and its events delivered in one transaction, with S3's reason; a later scan
/// does not announce it again, and keys that cannot be files are refused.
#[test]
fn committed_objects_carry_their_reason_and_are_not_rescanned() {
    let (d, mut s) = store();
    let eb_q = s.put_queue(&QueueSpec::new("s3-eb")).expect("queue");
    let native_q = s.put_queue(&QueueSpec::new("s3-native")).expect("queue");
    rule(
        &mut s,
        "s3",
        r#"{"source": ["aws.s3"]}"#,
        &[TargetSpec::new("q", eb_q)],
    );
    let dir = d.path().join("buckets").join("data");
    s.put_bucket(&BucketSpec {
        name: "data".into(),
        dir: dir.clone(),
        eventbridge: true,
        notifications: vec![NotificationSpec {
            id: "all".into(),
            target_arn: native_q,
            events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
            prefix: None,
            suffix: None,
        }],
    })
    .expect("bucket");
    let staging = dir.join(".staging");
    std::fs::create_dir_all(&staging).expect("staging");
    let staged = staging.join("upload");
    std::fs::write(&staged, "copied").expect("stage");

    let change = s
        .commit_object(
            "data",
            "a/b.txt",
            &staged,
            "etag-1",
            infra::local::CreatedReason::Copy,
        )
        .expect("commit");
    assert_eq!(change.kind, ChangeKind::Created);
    assert_eq!(change.size, Some(6));
    assert!(!staged.exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("a/b.txt")).expect("object file"),
        "copied"
    );
    let event: Value = serde_json::from_str(&drain(&mut s, "s3-eb")[0].body).expect("event");
    assert_eq!(event["detail"]["reason"], "CopyObject");
    assert_eq!(event["detail"]["object"]["etag"], "etag-1");
    // [0] is the s3:TestEvent sent when the configuration was saved.
    let native: Value = serde_json::from_str(&drain(&mut s, "s3-native")[1].body).expect("records");
    assert_eq!(native["Records"][0]["eventName"], "ObjectCreated:Copy");
    assert!(
        s.scan_buckets().expect("scan").is_empty(),
        "not announced twice"
    );
    assert_eq!(
        s.object_etag("data", "a/b.txt", 6, {
            let m = std::fs::metadata(dir.join("a/b.txt")).expect("meta");
            m.modified()
                .expect("mtime")
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after epoch")
                .as_nanos() as i64
        })
        .expect("etag"),
        Some("etag-1".into())
    );

    let deleted = s.delete_object("data", "a/b.txt").expect("delete");
    assert_eq!(deleted.map(|c| c.kind), Some(ChangeKind::Deleted));
    let event: Value = serde_json::from_str(&drain(&mut s, "s3-eb")[0].body).expect("event");
    assert_eq!(event["detail"]["reason"], "DeleteObject");
    assert!(s.scan_buckets().expect("scan").is_empty());
    assert!(
        s.delete_object("data", "a/b.txt")
            .expect("delete again")
            .is_none(),
        "deleting a missing key emits nothing"
    );
    assert!(drain(&mut s, "s3-eb").is_empty());

    for bad in ["../x", "a//b", ".hidden", "a/./b", ""] {
        assert!(s.object_path("data", bad).is_err(), "{bad:?} is refused");
    }
    assert!(matches!(
        s.object_path("nope", "k"),
        Err(infra::local::LocalError::NoSuchBucket(_))
    ));
}

/// A rule's plain delivery to a queue keeps the envelope once: the message row names the
/// console's copy in `bus_events` and keeps an empty body. A transformed delivery keeps its
/// own body. Each reads back whole when received, when moved to the dead-letter queue by
/// its receive count, when peeked there and when redriven back.
#[test]
fn a_delivered_envelope_is_stored_once_and_reads_back_whole_everywhere() {
    let (_d, mut s) = store();
    let dlq = s.put_queue(&QueueSpec::new("plain-dlq")).expect("dlq");
    let mut spec = QueueSpec::new("plain");
    spec.redrive = Some(Redrive {
        dead_letter_target_arn: dlq,
        max_receive_count: 1,
    });
    let plain = s.put_queue(&spec).expect("queue");
    let shaped = s.put_queue(&QueueSpec::new("shaped")).expect("queue");
    let mut transformed = TargetSpec::new("shaped", shaped);
    transformed.input_path = Some("$.detail".into());
    rule(
        &mut s,
        "all",
        r#"{"source": ["com.example"]}"#,
        &[TargetSpec::new("plain", plain), transformed],
    );
    let out = s
        .put_events(&[PutEventsEntry::new("com.example", "order", r#"{"n": 7}"#)])
        .expect("put");
    let id = out.entries[0].event_id.clone().expect("accepted");

    let db = rusqlite::Connection::open(s.database_path()).expect("open the state");
    let rows: Vec<(String, String, Option<i64>)> = db
        .prepare(
            "SELECT q.name, m.body, m.event_row FROM messages m JOIN queues q ON q.id = m.queue_id
             ORDER BY q.name",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("plain", ""));
    let envelope_row = rows[0].2.expect("the plain message names its envelope");
    let envelope: String = db
        .query_row(
            "SELECT envelope FROM bus_events WHERE id = ?1",
            [envelope_row],
            |r| r.get(0),
        )
        .expect("the envelope");
    assert_eq!(rows[1], ("shaped".into(), r#"{"n":7}"#.into(), None));

    let again = ReceiveRequest {
        visibility_timeout_secs: Some(0),
        ..ReceiveRequest::default()
    };
    let got = s.receive_messages("plain", again).expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, envelope);
    let parsed: Value = serde_json::from_str(&envelope).expect("JSON");
    assert_eq!(parsed["id"], id.as_str());
    assert_eq!(parsed["detail"], json!({"n": 7}));
    // Received once already: the next receive moves it to the dead-letter queue.
    assert!(s
        .receive_messages("plain", again)
        .expect("receive")
        .is_empty());
    let peeked = s.peek_messages("plain-dlq", 10).expect("peek");
    assert_eq!(peeked.messages.len(), 1);
    assert_eq!(peeked.messages[0].body, envelope);
    let report = s
        .redrive("plain-dlq", None, None, &mut |_| {})
        .expect("redrive");
    assert_eq!(report.moved, 1);
    let back = drain(&mut s, "plain");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, envelope);
    let shaped = drain(&mut s, "shaped");
    assert_eq!(shaped.len(), 1);
    assert_eq!(shaped[0].body, r#"{"n":7}"#);
}
