//! What the project commands (`plan`, `apply`, `destroy`) share: where the project is,
//! which backend it goes to, loading it into the one desired state, planning on either
//! backend, colour and confirmation. Commands import this module, never each other.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use infra::aws::blocking::BlockingAws;
use infra::local::{Config, LocalFacts, Resolver};
use infra::plan::Plan;
use patterns::Pattern;
use rules::desired::Desired;

use super::args::{AwsArgs, LocalArg};

/// Where the project is and which backend (and AWS account/endpoint) to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The stack name stored in the `bridge:stack` tag (default: the project's `stack`).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub local: LocalArg,
    /// Use AWS even when the project's `backend` is `local`.
    #[arg(long = "aws", conflicts_with = "local")]
    pub force_aws: bool,
}

/// Where a project command goes.
pub(crate) enum Backend {
    Aws,
    /// The embedded backend, with its state directory.
    Local(PathBuf),
}

impl Target {
    pub(crate) fn project_dir(&self) -> PathBuf {
        self.project.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// `--local [DIR]` or `--aws` when given, else the project's `backend`. A bare
    /// `--local` means the project's `local_state_dir` (default `.bridge` beside it).
    pub(crate) fn backend(&self, project: &rules::Project) -> Backend {
        if let Some(dir) = self.local.dir_or(|| project.local_state_dir()) {
            return Backend::Local(dir);
        }
        match (self.force_aws, project.file.backend) {
            (false, rules::model::Backend::Local) => Backend::Local(project.local_state_dir()),
            _ => Backend::Aws,
        }
    }

    /// Connects with the standard chain; `--region` wins over the project's region.
    pub(crate) fn connect(&self, project_region: Option<String>) -> anyhow::Result<BlockingAws> {
        let mut settings = self.aws.settings();
        settings.region = settings.region.or(project_region);
        Ok(BlockingAws::connect(&settings)?)
    }
}

/// Loads and validates the project (every problem reported at once) and prints its
/// warnings, so `plan` and `apply` show what `validate` shows.
pub(crate) fn load_project(target: &Target) -> anyhow::Result<rules::Project> {
    let dir = target.project_dir();
    match rules::load(&dir) {
        Ok(project) => {
            for w in &project.warnings {
                eprintln!("warning: {w}");
            }
            Ok(project)
        }
        Err(diagnostics) => {
            for d in &diagnostics.0 {
                eprintln!("error: {d}");
            }
            bail!(
                "{} problem(s) in the project at {}; nothing was planned",
                diagnostics.0.len(),
                dir.display()
            );
        }
    }
}

/// Warns (standard error) about declared queues whose KMS key would refuse the services
/// that deliver to them (`infra::doctor::key_warnings`); reads only the keys of queues
/// encrypted with a customer-managed key.
pub(crate) fn warn_about_keys(aws: &BlockingAws, desired: &Desired) -> anyhow::Result<()> {
    for w in aws.block_on(infra::doctor::read_key_warnings(aws.clients(), desired))? {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// The project as the one desired state; `--stack` overrides its stack name.
pub(crate) fn load_desired(target: &Target, project: &rules::Project) -> anyhow::Result<Desired> {
    if let Some(stack) = &target.stack {
        if let Some(problem) = rules::names::stack_name_problem(stack) {
            bail!("--stack: {problem} (use 1–64 of A-Z a-z 0-9 - _)");
        }
    }
    Ok(Desired::from_project(project, target.stack.as_deref())?)
}

/// The local backend's settings for a project (its region; the local account).
pub(crate) fn local_config(project: Option<&rules::Project>) -> Config {
    let defaults = Config::default();
    Config {
        region: project
            .and_then(|p| p.file.region.clone())
            .unwrap_or(defaults.region.clone()),
        ..defaults
    }
}

/// Plans `desired` against the local state in `state_dir` without writing anything.
pub(crate) fn plan_local(
    state_dir: &Path,
    config: &Config,
    desired: &Desired,
    prune: bool,
) -> anyhow::Result<Plan> {
    let facts = LocalFacts::read_dir(state_dir, config)
        .with_context(|| format!("local state in {}", state_dir.display()))?;
    let resolver = Resolver { config, state_dir };
    Ok(infra::local::plan::plan(desired, &facts, resolver, prune)?)
}

/// Whether to colour standard output (`--color`, `NO_COLOR`).
pub(crate) fn use_color() -> bool {
    super::color::stdout()
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

/// Reads and validates a pattern file (`-`: standard input); the error names the file and
/// the place in it.
pub(crate) fn load_pattern(path: &Path) -> Result<Pattern, String> {
    let text = read(path)?;
    Pattern::parse(&text).map_err(|e| format!("{}: invalid event pattern: {e}", path.display()))
}

/// A file's text, or standard input for `-`.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
