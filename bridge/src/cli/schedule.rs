//! `bridge schedule next RULE`: when a scheduled rule fires next, in UTC.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use rules::schedule::{format_utc, parse_utc, Schedule};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the next firing times of a scheduled rule (UTC, one a line).
    Next(NextArgs),
}

#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// The rule's name (its `name`, or its file name without `.json`).
    pub rule: String,
    /// The project directory or its `bridge.json` (default: the current directory).
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// How many firing times to print.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub count: u32,
    /// Start after this time (`YYYY-MM-DDThh:mm[:ss]Z`) instead of now. A rate counts from
    /// it, as if the rule were created then (EventBridge counts from the rule's creation).
    #[arg(long)]
    pub after: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Next(args) => next(args),
    }
}

fn next(args: NextArgs) -> anyhow::Result<ExitCode> {
    let path = args.project.unwrap_or_else(|| PathBuf::from("."));
    let project = rules::load(&path).map_err(|d| anyhow!("{d}"))?;
    let rule = project
        .rules
        .iter()
        .find(|r| r.name == args.rule)
        .ok_or_else(|| {
            let names: Vec<&str> = project.rules.iter().map(|r| r.name.as_str()).collect();
            anyhow!(
                "no rule `{}` in {} (rules: {})",
                args.rule,
                project.path.display(),
                names.join(", ")
            )
        })?;
    let Some(expr) = rule.schedule() else {
        bail!(
            "rule `{}` ({}) matches events; it has no `schedule`",
            rule.name,
            rule.source.display()
        );
    };
    let schedule = Schedule::parse(expr).with_context(|| rule.source.display().to_string())?;
    let start = match &args.after {
        Some(t) => parse_utc(t)
            .ok_or_else(|| anyhow!("--after {t}: give a UTC time like 2026-01-31T04:00:00Z"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    };
    let times = schedule.upcoming(start, start, args.count as usize);
    if times.is_empty() {
        eprintln!(
            "rule `{}` ({expr}) never fires after {}",
            rule.name,
            format_utc(start)
        );
        return Ok(ExitCode::from(1));
    }
    for t in times {
        println!("{}", format_utc(t));
    }
    Ok(ExitCode::SUCCESS)
}
