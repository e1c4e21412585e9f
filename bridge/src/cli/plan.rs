//! `bridge plan`: what `apply` would change, without changing anything — on AWS or on the
//! local backend, the same plan in the same words. Never writes, not even an empty state.

use std::process::ExitCode;

use super::shared::{
    load_desired, load_project, local_config, plan_local, use_color, Backend, Target,
};

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
    /// Print the plan as a JSON document (`bridge schema plan` describes it).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.target)?;
    let desired = load_desired(&args.target, &project)?;
    let plan = match args.target.backend(&project) {
        Backend::Local(state_dir) => {
            if !args.json {
                println!("local state: {}", state_dir.display());
            }
            let config = local_config(Some(&project));
            plan_local(&state_dir, &config, &desired, args.prune)?
        }
        Backend::Aws => {
            let aws = args.target.connect(project.file.region.clone())?;
            let plan = aws.plan(&desired, args.prune)?.0;
            super::shared::warn_about_keys(&aws, &desired)?;
            plan
        }
    };
    if args.json {
        let document = infra::plan::PlanDocument::from(&plan);
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", plan.render(use_color()));
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
