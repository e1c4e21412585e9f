//! `bridge destroy`: delete everything the stack owns (tagged `bridge:stack=<stack>`).
//! Nothing else is touched; bucket notification settings are left as they are.

use std::process::ExitCode;

use infra::aws::stack::StackSpec;

use super::plan::{confirm, load_stack, use_color, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Destroy without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only the stack (and its bus) matter: with --stack, destroy works even when the
    // project files are gone.
    let (stack, bus, region) = match (&args.target.stack, load_stack(&args.target)) {
        (_, Ok((spec, region))) => (
            args.target.stack.clone().unwrap_or(spec.stack),
            spec.bus,
            region,
        ),
        (Some(stack), Err(e)) => {
            eprintln!("warning: {e:#}; destroying stack {stack} on the default bus");
            (stack.clone(), "default".to_string(), None)
        }
        (None, Err(e)) => return Err(e),
    };
    let nothing = StackSpec::empty(&stack, &bus);
    let aws = args.target.connect(region)?;
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
