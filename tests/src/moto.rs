//! What the AWS end-to-end tests share: the moto server they talk to, unique resource
//! names, an SDK client with dummy credentials, and the environment `bridge` runs in.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use infra::aws::blocking::BlockingAws;
use infra::aws::AwsSettings;

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
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
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
    BlockingAws::connect(&AwsSettings {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        profile: None,
    })
    .expect("connect to moto")
}

/// Gives `cmd` dummy credentials for the test server and hides the user's AWS
/// configuration (never real credentials); `dir` holds the files that do not exist.
pub fn dummy_credentials<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
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
