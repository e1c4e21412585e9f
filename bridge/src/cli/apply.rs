//! `bridge apply`: make the backend match the project — plan, confirm, apply, report.

use std::process::ExitCode;

use anyhow::Context;
use infra::local::{Clock, Store};

use super::shared::{
    confirm, load_desired, load_project, local_config, plan_local, use_color, Backend, Target,
};

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
    /// Print what was done as a JSON document (`bridge schema apply` describes it) instead of
    /// text. Needs `--yes` on AWS, since no prompt can be shown.
    #[arg(long)]
    pub json: bool,
}

fn print_json(
    plan: &infra::plan::Plan,
    done: Vec<String>,
    failed: Option<(String, String)>,
    not_done: Vec<String>,
) -> anyhow::Result<()> {
    let document = infra::plan::ApplyDocument {
        format_version: infra::plan::PLAN_FORMAT_VERSION,
        plan: infra::plan::PlanDocument::from(plan),
        succeeded: failed.is_none(),
        failed: failed.map(|(step, error)| infra::plan::Failure { step, error }),
        done,
        not_done,
    };
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.target)?;
    let desired = load_desired(&args.target, &project)?;
    if let Backend::Local(state_dir) = args.target.backend(&project) {
        let config = local_config(Some(&project));
        let plan = plan_local(&state_dir, &config, &desired, args.prune)?;
        if !args.json {
            println!("local state: {}", state_dir.display());
            print!("{}", plan.render(use_color()));
        }
        if plan.is_empty() {
            if args.json {
                print_json(&plan, Vec::new(), None, Vec::new())?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        // No confirmation: local state is the developer's own sandbox.
        let mut store = Store::open_with(&state_dir, config, Clock::System)
            .with_context(|| format!("opening local state in {}", state_dir.display()))?;
        let done = store
            .apply(&desired, &plan)
            .context("applying the project to the local state")?;
        if args.json {
            print_json(&plan, done, None, Vec::new())?;
        } else {
            println!("Applied {} change(s) to the local state.", done.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let aws = args.target.connect(project.file.region.clone())?;
    let (plan, facts) = aws.plan(&desired, args.prune)?;
    super::shared::warn_about_keys(&aws, &desired)?;
    if !args.json {
        print!("{}", plan.render(use_color()));
    }
    if plan.is_empty() {
        if args.json {
            print_json(&plan, Vec::new(), None, Vec::new())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm("apply these changes", args.yes)? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let bar = super::progress::bar(plan.steps.len() as u64, "applying");
    let report = aws.apply_observed(&desired, &plan, &facts, &mut |_| bar.inc(1));
    bar.finish_and_clear();
    if args.json {
        print_json(
            &plan,
            report.done.clone(),
            report.failed.clone(),
            report.not_done.clone(),
        )?;
    } else {
        print!("{report}");
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
