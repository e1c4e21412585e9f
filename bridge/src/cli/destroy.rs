//! `bridge destroy`: delete everything the stack owns (tagged `bridge:stack=<stack>`).
//! Nothing else is touched: on buckets, only the stack's own notification configurations
//! (ids `bridge:<stack>:…`, found through the stack's S3 grants) are removed; EventBridge
//! delivery and everyone else's configurations stay.
//!
//! On the local backend the whole state goes (queues with their messages, topics, rules,
//! the outbox): it belongs to the project alone. Bucket directories are the user's files
//! and are kept.

use std::process::ExitCode;

use infra::aws::stack::StackSpec;

use std::path::{Path, PathBuf};

use super::plan::{confirm, load_project, load_stack, use_color, Backend, Target};

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
    let local = match (&args.target.local, &project) {
        (Some(dir), _) if !dir.as_os_str().is_empty() => Some(dir.clone()),
        (_, Ok(project)) => match args.target.backend(project) {
            Backend::Local(dir) => Some(dir),
            Backend::Aws => None,
        },
        (Some(_), Err(_)) => Some(PathBuf::from(infra::local::DEFAULT_STATE_DIR)),
        (None, Err(_)) => None,
    };
    if let Some(dir) = local {
        return destroy_local(&dir, args.yes);
    }
    // Only the stack (and its bus) matter: with --stack, destroy works even when the
    // project files are gone.
    let loaded = project.and_then(|p| load_stack(&args.target, &p));
    let (stack, bus, region) = match (&args.target.stack, loaded) {
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

/// Deletes the local state database and outbox in `dir`, after confirmation.
fn destroy_local(dir: &Path, yes: bool) -> anyhow::Result<ExitCode> {
    let database = dir.join("state.sqlite3");
    if !database.exists() {
        println!("No local state in {}; nothing to destroy.", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
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
    for name in ["state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("removing {}: {e}", path.display()),
        }
    }
    let outbox = dir.join("outbox");
    if outbox.exists() {
        std::fs::remove_dir_all(&outbox)
            .map_err(|e| anyhow::anyhow!("removing {}: {e}", outbox.display()))?;
    }
    println!("Destroyed the local state in {}.", dir.display());
    Ok(ExitCode::SUCCESS)
}
