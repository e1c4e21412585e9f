//! `bridge import`: an existing deployment into project files — the bus's rules, their
//! targets and the queues and topics they name, its archives and grants, the stack's
//! tags — so that `bridge plan` on the result changes nothing but ownership. Reads AWS
//! only; `--adopt` writes an `adopt` list that the next `apply` (never `import`) tags as
//! the stack's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use infra::aws::blocking::BlockingAws;
use infra::aws::import::{import, read_for_import, stack_name};

use super::args::{AwsArgs, LocalArg};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event bus whose rules to import (`default` or a custom bus).
    #[arg(long, value_name = "BUS")]
    pub bus: String,
    /// Only rules whose name starts with this.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub rule_prefix: String,
    /// Where to write bridge.json, rules/ and patterns/ (must not hold a bridge.json yet).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The stack name (default: the imported rules' `bridge:stack` tag, else the bus name).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Take over what was imported: list it under `adopt`, so that `bridge apply` tags it
    /// as the stack's (the plan shows it first; import itself never writes to AWS).
    #[arg(long)]
    pub adopt: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Not supported: the local state is one project's already (kept so that the AWS
    /// options' `--local` exclusion holds, and to say so).
    #[command(flatten)]
    pub local: LocalArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(stack) = &args.stack {
        if let Some(problem) = rules::names::stack_name_problem(stack) {
            bail!("--stack: {problem} (use 1–64 of A-Z a-z 0-9 - _)");
        }
    }
    if args.local.dir().is_some() {
        bail!("import reads an AWS account; the local state is already a project's (use its bridge.json)");
    }
    let project_file = args.dir.join("bridge.json");
    if project_file.exists() {
        bail!(
            "{} exists already: import into a new directory (--dir DIR)",
            project_file.display()
        );
    }
    let aws = BlockingAws::connect(&args.aws.settings())?;
    let spinner = super::progress::spinner(format!("reading event bus {}", args.bus));
    let facts = aws.block_on(read_for_import(aws.clients(), &args.bus, &args.rule_prefix));
    spinner.finish_and_clear();
    let facts = facts?;
    let stack = stack_name(&facts, args.stack.as_deref());
    let imported = import(&facts, &stack, args.adopt);
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    let bar = super::progress::bar(imported.rules.len() as u64 + 1, "writing files");
    write_json(&project_file, &serde_json::to_value(&imported.project)?)?;
    bar.inc(1);
    for (name, rule, pattern) in &imported.rules {
        if let Some(pattern) = pattern {
            write_json(
                &args.dir.join("patterns").join(format!("{name}.json")),
                pattern,
            )?;
        }
        write_json(
            &args.dir.join("rules").join(format!("{name}.json")),
            &serde_json::to_value(rule)?,
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let p = &imported.project;
    let grants: usize = p.buses.iter().map(|b| b.allow_put_events_from.len()).sum();
    println!(
        "Imported {} rule(s), {} queue(s), {} topic(s), {} archive(s), {grants} bus grant(s) \
         from event bus {} into {} (stack {stack}).",
        imported.rules.len(),
        p.queues.len(),
        p.topics.len(),
        p.archives.len(),
        args.bus,
        args.dir.display()
    );
    let adopted = p.adopt.queues.len()
        + p.adopt.topics.len()
        + p.adopt.rules.len()
        + usize::from(p.adopt.event_bus);
    if args.adopt {
        println!(
            "{adopted} resource(s) listed under \"adopt\": `bridge apply` tags them as the stack's."
        );
    }
    // The result must load: say so now rather than at the next plan.
    if let Err(diagnostics) = rules::load(&args.dir) {
        for d in &diagnostics.0 {
            eprintln!("error: {d}");
        }
        bail!(
            "the imported project does not validate ({} problem(s)); fix the files above",
            diagnostics.0.len()
        );
    }
    println!("Next: bridge plan --project {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
