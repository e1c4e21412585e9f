//! `bridge apply`: make AWS match the project — plan, confirm, apply, report.

use std::process::ExitCode;

use super::plan::{confirm, load_project, load_stack, sync_local, use_color, Backend, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Apply without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Also delete what the stack owns but no longer declares.
    #[arg(long)]
    pub prune: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.target)?;
    if let Backend::Local(state_dir) = args.target.backend(&project) {
        // No confirmation: local state is the developer's own sandbox.
        sync_local(&project, &state_dir, true)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (spec, region) = load_stack(&args.target, &project)?;
    let aws = args.target.connect(region)?;
    let (plan, facts) = aws.plan(&spec, args.prune)?;
    print!("{}", plan.render(use_color()));
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm("apply these changes", args.yes)? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let report = aws.apply(&spec, &plan, &facts);
    print!("{report}");
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
