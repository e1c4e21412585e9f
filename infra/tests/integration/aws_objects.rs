//! `S3Objects` against moto: reading an object back, pinned to a version.

use crate::aws_support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_support::{clients, create_bucket, endpoint, unique};
use infra::aws::S3Objects;

#[tokio::test]
async fn get_object_reads_the_exact_version_an_event_names() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let bucket = unique("objects");
    create_bucket(&aws, &bucket).await;
    aws.s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketVersioning");
    let put = |body: &'static [u8]| {
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key("dir/data.json")
            .body(ByteStream::from_static(body))
            .send()
    };
    let first = put(b"{\"v\":1}").await.expect("PutObject v1");
    put(b"{\"v\":2}").await.expect("PutObject v2");

    let objects = S3Objects::new(aws.s3.clone());
    let latest = objects
        .get_object(&bucket, "dir/data.json", None)
        .await
        .expect("latest");
    assert_eq!(latest, b"{\"v\":2}");
    let v1 = objects
        .get_object(&bucket, "dir/data.json", first.version_id())
        .await
        .expect("version 1");
    assert_eq!(v1, b"{\"v\":1}");

    let missing = objects
        .get_object(&bucket, "no/such/key", None)
        .await
        .expect_err("missing key");
    let message = missing.to_string();
    assert!(
        message.contains("GetObject") && message.contains("no/such/key"),
        "{message}"
    );
}

#[test]
fn get_object_blocking_works_outside_a_runtime() {
    let Some(endpoint) = endpoint() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bucket = unique("objects-blocking");
    let aws = runtime.block_on(async {
        let aws = clients(&endpoint).await;
        create_bucket(&aws, &bucket).await;
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key("k")
            .body(ByteStream::from_static(b"hello"))
            .send()
            .await
            .expect("PutObject");
        aws
    });
    drop(runtime);
    let objects = S3Objects::new(aws.s3.clone());
    assert_eq!(
        objects
            .get_object_blocking(&bucket, "k", None)
            .expect("get"),
        b"hello"
    );
}
