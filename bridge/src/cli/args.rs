//! Options several subcommands share: which backend (`--local [DIR]`) and which AWS
//! account or endpoint.

use std::path::PathBuf;

use infra::aws::AwsSettings;

/// `--local [DIR]`: use the embedded backend, with its state in DIR (default `.bridge`).
#[derive(Debug, Clone, clap::Args)]
pub struct LocalArg {
    /// Use the embedded local backend instead of AWS; state lives in DIR (default `.bridge`).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = infra::local::DEFAULT_STATE_DIR, conflicts_with = "endpoint_url")]
    pub local: Option<PathBuf>,
}

/// Which AWS account/endpoint to talk to (ignored with `--local`). Everything else comes
/// from the standard configuration chain, as for the AWS CLI.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// A local AWS-compatible server (moto, LocalStack); overrides AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS profile (default: AWS_PROFILE).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

impl AwsArgs {
    pub(crate) fn settings(&self) -> AwsSettings {
        AwsSettings {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        }
    }
}
