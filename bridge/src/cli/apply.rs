//! `bridge apply`: make AWS match the project — plan, confirm, apply, report.

use std::process::ExitCode;

use super::args::LocalArg;
use super::plan::{confirm, load_stack, sync_local, use_color, Target};

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
    /// Apply to the embedded local backend instead of AWS, without asking: local state
    /// is the developer's own sandbox.
    #[command(flatten)]
    pub local: LocalArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(state_dir) = &args.local.local {
        sync_local(&args.target, state_dir, true)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (spec, region) = load_stack(&args.target)?;
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
