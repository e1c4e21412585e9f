//! `bridge plan`: what `apply` would change in AWS, without changing anything.
//!
//! Also home of what `plan`, `apply` and `destroy` share: the AWS connection options, the
//! project → stack loading, and the confirmation prompt.
//!
//! The project is `bridge.json` plus `rules/*.json` (see `bridge validate`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use infra::aws::blocking::BlockingAws;
use infra::aws::project::stack_from_project;
use infra::aws::stack::StackSpec;

use super::args::AwsArgs;

/// Where the project is and which AWS account/endpoint to talk to.
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
    /// Use the embedded local backend (state in DIR; default: the project's
    /// `local_state_dir`, else `.bridge` beside `bridge.json`).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["endpoint_url", "force_aws"])]
    pub local: Option<PathBuf>,
    /// Use AWS even when the project's `backend` is `local`.
    #[arg(long = "aws")]
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

    /// `--local [DIR]` or `--aws` when given, else the project's `backend`.
    pub(crate) fn backend(&self, project: &rules::Project) -> Backend {
        match (&self.local, self.force_aws, project.file.backend) {
            (Some(dir), _, _) if !dir.as_os_str().is_empty() => Backend::Local(dir.clone()),
            (Some(_), _, _) | (None, false, rules::model::Backend::Local) => {
                Backend::Local(project.local_state_dir())
            }
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
    let project = load_project(&args.target)?;
    if let Backend::Local(state_dir) = args.target.backend(&project) {
        // Local state belongs to the project alone: undeclared rules are always pruned.
        let changes = sync_local(&project, &state_dir, false)?;
        let changed = args.detailed_exitcode && !changes.is_empty();
        return Ok(if changed {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    let (spec, region) = load_stack(&args.target, &project)?;
    let aws = args.target.connect(region)?;
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

/// Loads and validates the project (every problem reported at once).
pub(crate) fn load_project(target: &Target) -> anyhow::Result<rules::Project> {
    let dir = target.project_dir();
    match rules::load(&dir) {
        Ok(project) => Ok(project),
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

/// Plans (or, with `execute`, applies) the project against the local backend in
/// `state_dir`, printing one line per change; returns the changes.
pub(crate) fn sync_local(
    project: &rules::Project,
    state_dir: &std::path::Path,
    execute: bool,
) -> anyhow::Result<Vec<infra::local::Applied>> {
    let changes = infra::local::project::sync_project(state_dir, project, execute)
        .with_context(|| format!("local state in {}", state_dir.display()))?;
    println!("local state: {}", state_dir.display());
    if changes.is_empty() {
        println!("No changes. The local state matches the project.");
    }
    for change in &changes {
        println!("  {change}");
    }
    Ok(changes)
}

/// The project's declared state for AWS: `bridge.json` + `rules/*.json`, loaded and
/// validated by the `rules` crate (every problem reported at once), then translated.
///
/// Returns the stack and the project's `region` (used when `--region` is not given).
pub(crate) fn load_stack(
    target: &Target,
    project: &rules::Project,
) -> anyhow::Result<(StackSpec, Option<String>)> {
    if let Some(stack) = &target.stack {
        valid_name(stack, "--stack")?;
    }
    let converted = stack_from_project(project, target.stack.as_deref())?;
    for w in &converted.warnings {
        eprintln!("warning: {w}");
    }
    Ok((converted.spec, project.file.region.clone()))
}

/// Stack names: 1-64 of letters, digits, `.`, `-`, `_` (they end up in rule tags and Sids).
fn valid_name(name: &str, origin: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        bail!(
            "{origin}: {name:?} is not a valid stack name \
             (1-64 letters, digits, '.', '-', '_')"
        );
    }
    Ok(())
}
