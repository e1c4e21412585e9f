//! Shared set-up for the tests that run against an AWS-compatible server (moto).
//!
//! The server is found through `BRIDGE_TEST_ENDPOINT`. These tests fail — loudly, with the
//! fix — when it is unset, because a silently skipped AWS suite looks exactly like a
//! passing one. `BRIDGE_SKIP_AWS_TESTS=1` skips them on purpose.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::config::Credentials;
use infra::aws::{client, AwsClients, AwsSettings};

/// The test server's endpoint, or `None` when the AWS tests are skipped on purpose.
pub fn endpoint() -> Option<String> {
    if std::env::var("BRIDGE_SKIP_AWS_TESTS").as_deref() == Ok("1") {
        eprintln!("BRIDGE_SKIP_AWS_TESTS=1: skipping a test that needs an AWS-compatible server");
        return None;
    }
    match std::env::var("BRIDGE_TEST_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "BRIDGE_TEST_ENDPOINT is not set. The AWS integration tests need a local moto server:\n  \
             scripts/moto-server.sh start 5000\n  \
             export BRIDGE_TEST_ENDPOINT=http://127.0.0.1:5000\n\
             (or set BRIDGE_SKIP_AWS_TESTS=1 to skip them on purpose)"
        ),
    }
}

pub const REGION: &str = "us-east-1";

pub fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint.to_string()),
        region: Some(REGION.to_string()),
        profile: None,
    }
}

/// Clients for the test server with dummy credentials (moto accepts any).
pub async fn clients(endpoint: &str) -> AwsClients {
    let settings = settings(endpoint);
    let config = client::config_loader(&settings)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    AwsClients::from_sdk_config(&config, &settings).expect("region is set")
}

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}{n}", std::process::id())
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
