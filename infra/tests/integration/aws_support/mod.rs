//! Shared set-up for the tests that run against an AWS-compatible server (moto).
//!
//! The server is found through `BRIDGE_TEST_ENDPOINT`. These tests fail — loudly, with the
//! fix — when it is unset, because a silently skipped AWS suite looks exactly like a
//! passing one. `BRIDGE_SKIP_AWS_TESTS=1` skips them on purpose.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use infra::aws::AwsClients;

#[path = "../../../../tests/support/moto.rs"]
mod moto;
pub use moto::{clients, endpoint, unique, REGION};

/// Creates the bucket `name` (in the clients' region).
pub async fn create_bucket(aws: &AwsClients, name: &str) {
    aws.s3
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("CreateBucket");
}

/// The URL of the queue `name`.
pub async fn queue_url(aws: &AwsClients, name: &str) -> String {
    aws.sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .expect("GetQueueUrl")
        .queue_url()
        .expect("url")
        .to_string()
}

/// Receives messages from a queue until `want` arrived or ~10 s passed; returns bodies.
pub async fn receive(aws: &AwsClients, queue_url: &str, want: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let out = aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_string());
            if let Some(handle) = m.receipt_handle() {
                aws.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        if bodies.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bodies
}
