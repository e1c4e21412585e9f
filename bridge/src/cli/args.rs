//! Options several subcommands share: which backend (`--local [DIR]`) and which AWS
//! account or endpoint.

use std::path::PathBuf;

use infra::aws::AwsSettings;

/// `--local [DIR]`: use the embedded backend, with its state in DIR. The one definition of
/// the flag: every command that takes it flattens this, so a bare `--local` works everywhere.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LocalArg {
    /// Use the embedded local backend instead of AWS; state lives in DIR (default: the
    /// project's `local_state_dir` where there is a project, else `.bridge`).
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    local: Option<Option<PathBuf>>,
}

impl LocalArg {
    /// The state directory when `--local` was given: DIR, or `default()` for a bare flag.
    pub fn dir_or(&self, default: impl FnOnce() -> PathBuf) -> Option<PathBuf> {
        self.local
            .as_ref()
            .map(|dir| dir.clone().unwrap_or_else(default))
    }

    /// Whether `--local DIR` named a directory (not a bare `--local`, not absent).
    pub fn explicit_dir(&self) -> bool {
        matches!(self.local, Some(Some(_)))
    }

    /// The state directory when `--local` was given; a bare flag means `.bridge` here.
    pub fn dir(&self) -> Option<PathBuf> {
        self.dir_or(|| PathBuf::from(infra::local::DEFAULT_STATE_DIR))
    }
}

/// Which AWS account/endpoint to talk to (ignored with `--local`). Everything else comes
/// from the standard configuration chain, as for the AWS CLI.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// A local AWS-compatible server (moto, LocalStack); overrides AWS_ENDPOINT_URL.
    /// (Every command with these options also takes `--local`, which excludes it.)
    #[arg(long, value_name = "URL", conflicts_with = "local")]
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
