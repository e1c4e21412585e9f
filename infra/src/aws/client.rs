//! SDK clients built from the standard AWS configuration chain.
//!
//! Credentials, region and profile come from where every AWS tool looks (environment,
//! `~/.aws/config`, `AWS_PROFILE`, container/instance metadata, `credential_process`), so
//! `bridge` behaves like the AWS CLI. `AWS_ENDPOINT_URL` is honoured by that chain too;
//! an explicit endpoint (`--endpoint-url`) wins over it and is how tests reach moto.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::AwsError;

/// What the user may override on top of the standard configuration chain.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// A local AWS-compatible server (moto, LocalStack), or a VPC endpoint.
    pub endpoint_url: Option<String>,
    /// Overrides `AWS_REGION` / the profile's region.
    pub region: Option<String>,
    /// Overrides `AWS_PROFILE`.
    pub profile: Option<String>,
}

/// One client per service `bridge` manages, all sharing one configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    /// Read only: `bridge doctor` reads the policies of the keys queues and topics use.
    pub kms: aws_sdk_kms::Client,
    /// The resolved region (ARNs and the plan mention it).
    pub region: String,
}

impl AwsClients {
    /// Resolves the configuration chain and builds the clients.
    ///
    /// Fails early, with the fix, when no region can be found: every later call would
    /// fail with a far less helpful message.
    pub async fn from_env(settings: &AwsSettings) -> Result<AwsClients, AwsError> {
        let config = config_loader(settings).load().await;
        AwsClients::from_sdk_config(&config, settings)
    }

    /// Builds the clients from an already loaded configuration (tests use this to supply
    /// dummy credentials without touching the process environment).
    pub fn from_sdk_config(
        config: &SdkConfig,
        settings: &AwsSettings,
    ) -> Result<AwsClients, AwsError> {
        let region = config
            .region()
            .map(|r| r.as_ref().to_string())
            .ok_or(AwsError::NoRegion)?;
        Ok(AwsClients::from_config(
            config,
            settings.endpoint_url.is_some(),
            region,
        ))
    }

    fn from_config(config: &SdkConfig, custom_endpoint: bool, region: String) -> AwsClients {
        // Local servers serve every bucket on one host; virtual-hosted style would need
        // wildcard DNS (`bucket.127.0.0.1`) that does not exist.
        let path_style = custom_endpoint || config.endpoint_url().is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        AwsClients {
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kms: aws_sdk_kms::Client::new(config),
            region,
        }
    }
}

/// The configuration loader: standard chain plus the user's overrides.
///
/// The HTTPS client is set explicitly (rustls with the `ring` provider and the system's
/// root certificates) because the SDK's default one pulls in aws-lc, a large C build.
pub fn config_loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile.clone());
    }
    loader
}
