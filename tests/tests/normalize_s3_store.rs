//! Lazy object reads: an event normalized from a native S3 record (form-encoded key) reads
//! its object through `S3Objects` against an AWS-compatible server, and through a local
//! directory.
//!
//! The S3 test needs `BRIDGE_TEST_ENDPOINT` (see `scripts/moto-server.sh`; `scripts/test`
//! sets it) and fails loudly, with the fix, when it is unset; `BRIDGE_SKIP_AWS_TESTS=1`
//! skips it on purpose.

use bridge::event::{normalize, LocalDirStore, StoreError};
use infra::aws::S3Objects;

use crate::support::moto;
use moto::{clients, endpoint, unique};

/// A native S3 record for `bucket`/`encoded_key` as S3 sends it (key form-encoded).
fn native_body(bucket: &str, encoded_key: &str, version_id: Option<&str>) -> String {
    let mut object = serde_json::json!({
        "key": encoded_key,
        "size": 5,
        "eTag": "0123456789abcdef0123456789abcdef",
        "sequencer": "0055AED6DCD90281E5"
    });
    if let Some(v) = version_id {
        object["versionId"] = serde_json::Value::from(v);
    }
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R1", "x-amz-id-2": "H1"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "test",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": object
        }
    }]})
    .to_string()
}

#[test]
fn s3_objects_reads_the_decoded_key_and_pinned_version() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("normalize-read");
    let key = "dir with space/1+1 = 2 café 100%.txt";
    let setup = tokio::runtime::Runtime::new().expect("runtime");
    let (s3, first_version) = setup.block_on(async {
        let aws = clients(&endpoint).await;
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("CreateBucket");
        aws.s3
            .put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("PutBucketVersioning");
        let first = aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"first".to_vec().into())
            .send()
            .await
            .expect("PutObject 1");
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"second".to_vec().into())
            .send()
            .await
            .expect("PutObject 2");
        (aws.s3, first.version_id().map(str::to_owned))
    });
    // The blocking reader runs its own runtime: not from inside `setup`.
    let objects = S3Objects::new(s3);

    // S3 form-encodes keys in native records: space as `+`, `+` as %2B, `%` as %25.
    let encoded = "dir+with+space/1%2B1+%3D+2+caf%C3%A9+100%25.txt";
    let latest = normalize(&native_body(&bucket, encoded, None)).expect("normalizes");
    assert_eq!(latest[0].key.as_deref(), Some(key));
    let bytes = latest[0]
        .read_object(&objects)
        .expect("the event names an object")
        .expect("reads the object");
    assert_eq!(bytes, b"second");

    let pinned =
        normalize(&native_body(&bucket, encoded, first_version.as_deref())).expect("normalizes");
    let bytes = pinned[0]
        .read_object(&objects)
        .expect("the event names an object")
        .expect("reads the first version");
    assert_eq!(bytes, b"first");

    let missing = normalize(&native_body(&bucket, "no+such+key", None)).expect("normalizes");
    match missing[0].read_object(&objects) {
        Some(Err(StoreError::NotFound { bucket: b, key: k })) => {
            assert_eq!(b, bucket);
            assert_eq!(k, "no such key");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    drop(setup);
}

#[test]
fn local_dir_store_reads_bucket_slash_key_and_refuses_escapes() {
    let root = tempfile::tempdir().expect("tempdir");
    let key = "dir with space/1+1 = 2 café 100%.txt";
    let path = root.path().join("local-bucket").join(key);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(&path, b"local bytes").expect("write");
    let store = LocalDirStore::new(root.path());

    let encoded = "dir+with+space/1%2B1+%3D+2+caf%C3%A9+100%25.txt";
    let events = normalize(&native_body("local-bucket", encoded, None)).expect("normalizes");
    let bytes = events[0]
        .read_object(&store)
        .expect("the event names an object")
        .expect("reads");
    assert_eq!(bytes, b"local bytes");

    let escape = normalize(&native_body("local-bucket", "..%2F..%2Fetc%2Fpasswd", None))
        .expect("normalizes");
    assert!(matches!(
        escape[0].read_object(&store),
        Some(Err(StoreError::InvalidKey { .. }))
    ));
}
