//! `bridge destroy`: delete everything the stack owns (tagged `bridge:stack=<stack>`).
//! Nothing else is touched; bucket notification settings are left as they are.

use std::process::ExitCode;

use infra::aws::stack::StackSpec;

use super::plan::{confirm, use_color, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Destroy without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only the stack name matters: destroy works even when the project files are gone.
    let stack = args.target.stack_name()?;
    let nothing = StackSpec::empty(&stack, "default");
    let aws = args.target.connect()?;
    let (plan, facts) = aws.plan(&nothing, true)?;
    print!("{}", plan.render(use_color()));
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(&format!("destroy stack {stack}"), args.yes)? {
        println!("Destroy cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let report = aws.apply(&nothing, &plan, &facts);
    print!("{report}");
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
