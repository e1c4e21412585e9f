//! The one moto helper every crate's AWS tests share (included with `#[path]` by the
//! end-to-end tests, `infra`'s and `bridge`'s): the server they talk to, unique resource
//! names, SDK clients with dummy credentials, and the environment `bridge` runs in.
//!
//! The server is found through `BRIDGE_TEST_ENDPOINT`. These tests fail — loudly, with the
//! fix — when it is unset, because a silently skipped AWS suite looks exactly like a
//! passing one. `BRIDGE_SKIP_AWS_TESTS=1` skips them on purpose.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::config::Credentials;
use infra::aws::blocking::BlockingAws;
use infra::aws::{client as sdk_client, AwsClients, AwsSettings};

/// The moto endpoint from `BRIDGE_TEST_ENDPOINT`; `None` when `BRIDGE_SKIP_AWS_TESTS=1`
/// skips AWS tests on purpose. Panics with the fix when neither is set.
pub fn endpoint() -> Option<String> {
    if std::env::var("BRIDGE_SKIP_AWS_TESTS").as_deref() == Ok("1") {
        eprintln!("BRIDGE_SKIP_AWS_TESTS=1: skipping a test that needs an AWS-compatible server");
        return None;
    }
    match std::env::var("BRIDGE_TEST_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "BRIDGE_TEST_ENDPOINT is not set. The AWS tests need a local moto server:\n  \
             scripts/moto-server.sh start 5000\n  \
             export BRIDGE_TEST_ENDPOINT=http://127.0.0.1:5000\n\
             (or set BRIDGE_SKIP_AWS_TESTS=1 to skip them on purpose)"
        ),
    }
}

/// A resource name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}{n}", std::process::id())
}

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";

/// Settings for the test server.
pub fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint.to_string()),
        region: Some(REGION.to_string()),
        profile: None,
    }
}

/// Async clients for the test server with dummy credentials (moto accepts any).
pub async fn clients(endpoint: &str) -> AwsClients {
    let settings = settings(endpoint);
    let config = sdk_client::config_loader(&settings)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    AwsClients::from_sdk_config(&config, &settings).expect("region is set")
}

/// An SDK client for setting up and inspecting resources, with dummy credentials (the
/// test process's environment is set once, before any client is built).
pub fn client(endpoint: &str) -> BlockingAws {
    static ENV: Once = Once::new();
    ENV.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
    BlockingAws::connect(&settings(endpoint)).expect("connect to moto")
}

/// Gives `cmd` dummy credentials for the test server and hides the user's AWS
/// configuration (never real credentials); `dir` holds the files that do not exist.
pub fn dummy_credentials<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Creates SQS queue `name` on the test server, with a redrive policy when `dead_letter`
/// names one (the DLQ's ARN and `maxReceiveCount`); returns its URL.
pub fn create_queue(aws: &BlockingAws, name: &str, dead_letter: Option<(&str, u32)>) -> String {
    let mut req = aws.clients().sqs.create_queue().queue_name(name);
    if let Some((arn, max_receive_count)) = dead_letter {
        let policy = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": max_receive_count,
        });
        req = req.attributes("RedrivePolicy".into(), policy.to_string());
    }
    let out = aws.block_on(req.send()).expect("create queue");
    out.queue_url().expect("queue url").to_string()
}

/// Attribute `name` (`QueueArn`, `Policy`, `ApproximateNumberOfMessagesNotVisible`, ...) of
/// the queue at `url`; `None` when the server does not report it.
pub fn queue_attribute(aws: &BlockingAws, url: &str, name: &str) -> Option<String> {
    let out = aws
        .block_on(
            aws.clients()
                .sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(name.into())
                .send(),
        )
        .expect("queue attributes");
    out.attributes()?.get(&name.into()).cloned()
}

/// The ARN of the queue at `url`, as the server reports it.
pub fn queue_arn(aws: &BlockingAws, url: &str) -> String {
    queue_attribute(aws, url, "QueueArn").expect("QueueArn")
}

/// Queue `name` whose messages move to its dead-letter queue `<name>-dlq` after
/// `max_receive_count` receives; returns the queue's URL and the DLQ's.
pub fn queue_with_dlq(aws: &BlockingAws, name: &str, max_receive_count: u32) -> (String, String) {
    let dlq_url = create_queue(aws, &format!("{name}-dlq"), None);
    let dlq_arn = queue_arn(aws, &dlq_url);
    let url = create_queue(aws, name, Some((&dlq_arn, max_receive_count)));
    (url, dlq_url)
}
