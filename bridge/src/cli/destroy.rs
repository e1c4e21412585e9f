//! `bridge destroy`: delete everything the stack owns (tagged `bridge:stack=<stack>`).
//! Nothing else is touched: on buckets, only the stack's own notification configurations
//! (ids `bridge:<stack>:…`, found through the stack's S3 grants) are removed; EventBridge
//! delivery and everyone else's configurations stay.
//!
//! On the local backend the whole state goes (queues with their messages, topics, rules,
//! the outbox): it belongs to the project alone. Bucket directories are the user's files
//! and are kept.

use std::path::Path;
use std::process::ExitCode;

use rules::desired::Desired;

use super::shared::{confirm, load_desired, load_project, use_color, Backend, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Destroy without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.target);
    let local = match &project {
        Ok(project) => match args.target.backend(project) {
            Backend::Local(dir) => Some(dir),
            Backend::Aws => None,
        },
        // Without a project, a bare `--local` means `.bridge` here.
        Err(_) => args.target.local.dir(),
    };
    if let Some(dir) = local {
        return destroy_local(&dir, args.yes);
    }
    // Only the stack (and its bus) matter: with --stack, destroy works even when the
    // project files are gone.
    let loaded = project.and_then(|p| Ok((load_desired(&args.target, &p)?, p.file.region.clone())));
    let (stack, bus, region) = match (&args.target.stack, loaded) {
        (_, Ok((spec, region))) => (spec.stack, spec.bus, region),
        (Some(stack), Err(e)) => {
            eprintln!("warning: {e:#}; destroying stack {stack} on the default bus");
            (stack.clone(), "default".to_string(), None)
        }
        (None, Err(e)) => return Err(e),
    };
    let nothing = Desired::empty(&stack, &bus);
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

/// Deletes the local state database and outbox in `dir`, after confirmation.
fn destroy_local(dir: &Path, yes: bool) -> anyhow::Result<ExitCode> {
    if !dir.join(infra::local::DATABASE_FILE).exists() {
        println!("No local state in {}; nothing to destroy.", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    // Held until the state is gone: no `bridge dev` runs on it, nor starts meanwhile.
    let _lock = infra::local::StateLock::acquire(dir)?;
    println!(
        "- local state {} (queues and their messages, topics, rules, outbox; bucket directories are kept)",
        dir.display()
    );
    if !confirm(
        &format!("destroy the local state in {}", dir.display()),
        yes,
    )? {
        println!("Destroy cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    infra::local::destroy_state(dir)?;
    println!("Destroyed the local state in {}.", dir.display());
    Ok(ExitCode::SUCCESS)
}
