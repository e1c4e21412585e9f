//! `bridge plan`: what `apply` would change in AWS, without changing anything.
//!
//! Also home of what `plan`, `apply` and `destroy` share: the AWS connection options, the
//! project → stack loading, and the confirmation prompt.
//!
//! Until the `rules` crate's project model is wired in, a project is read by convention
//! (as `bridge dev` does): each `patterns/*.json` is a rule on the default bus, named after
//! the file, whose target is the queue `<stack>-events`. [`load_stack`] is the one place
//! to replace with the real model.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use infra::aws::blocking::BlockingAws;
use infra::aws::stack::{Destination, QueueSpec, RuleSpec, StackSpec, TargetSpec};
use infra::aws::AwsSettings;

/// Where the project is and which AWS account/endpoint to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The stack name stored in the `bridge:stack` tag (default: the project directory's name).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
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

impl Target {
    pub(crate) fn project_dir(&self) -> PathBuf {
        self.project.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    pub(crate) fn stack_name(&self) -> anyhow::Result<String> {
        if let Some(stack) = &self.stack {
            return valid_name(stack, "--stack").map(|_| stack.clone());
        }
        let dir = self.project_dir();
        let dir = std::fs::canonicalize(&dir)
            .with_context(|| format!("project directory {}", dir.display()))?;
        let name: String = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bridge")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        Ok(name)
    }

    pub(crate) fn connect(&self) -> anyhow::Result<BlockingAws> {
        let settings = AwsSettings {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        };
        Ok(BlockingAws::connect(&settings)?)
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also plan deleting what the stack owns but no longer declares.
    #[arg(long)]
    pub prune: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let spec = load_stack(&args.target)?;
    let aws = args.target.connect()?;
    let (plan, _) = aws.plan(&spec, args.prune)?;
    print!("{}", plan.render(use_color()));
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Colour only for a terminal, and never when `NO_COLOR` is set (no-color.org).
pub(crate) fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Asks for confirmation on a terminal. Without one (CI, pipes) it refuses instead of
/// waiting for input that will never come.
pub(crate) fn confirm(what: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to {what} without confirmation: standard input is not a terminal. \
             Review the plan above and re-run with --yes"
        );
    }
    print!("Do you want to {what}? Only 'yes' is accepted: ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    Ok(answer.trim() == "yes")
}

/// The project's declared state for AWS (by convention until the `rules` model lands).
pub(crate) fn load_stack(target: &Target) -> anyhow::Result<StackSpec> {
    let dir = target.project_dir();
    let stack = target.stack_name()?;
    let queue = format!("{stack}-events");
    let rules = pattern_rules(&dir)?
        .into_iter()
        .map(|(name, pattern)| RuleSpec {
            name,
            pattern,
            enabled: true,
            description: Some(format!("bridge stack {stack}")),
            targets: vec![TargetSpec::new("events", Destination::Queue(queue.clone()))],
        })
        .collect();
    Ok(StackSpec {
        bus: "default".into(),
        queues: vec![QueueSpec {
            name: queue,
            ..QueueSpec::default()
        }],
        rules,
        ..StackSpec::empty(&stack, "default")
    })
}

/// Every `patterns/*.json` as (rule name, pattern text), validated, sorted by name.
fn pattern_rules(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let patterns = dir.join("patterns");
    let entries = std::fs::read_dir(&patterns).with_context(|| {
        format!(
            "reading {} (a project keeps its event patterns there, one rule per file)",
            patterns.display()
        )
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", patterns.display()))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        valid_name(&name, &path.display().to_string())?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        patterns::Pattern::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: invalid event pattern: {e}", path.display()))?;
        out.push((name, text));
    }
    out.sort();
    Ok(out)
}

/// EventBridge rule and stack names: 1-64 of letters, digits, `.`, `-`, `_`.
fn valid_name(name: &str, origin: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        bail!(
            "{origin}: name {name:?} is not a valid rule/stack name \
             (1-64 letters, digits, '.', '-', '_'); rename it"
        );
    }
    Ok(())
}
