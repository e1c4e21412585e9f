//! `bridge test-pattern`: does one event match one pattern? Like AWS TestEventPattern,
//! but offline. Exit codes follow grep: 0 match, 1 no match, 2 error. `--explain` adds
//! why: the `$or` alternative that matched, or the first field that failed.

use std::path::PathBuf;
use std::process::ExitCode;

use super::shared::{load_pattern, read};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event pattern (JSON file).
    #[arg(long)]
    pub pattern: PathBuf,
    /// The event (JSON file; `-` for standard input).
    #[arg(long)]
    pub event: PathBuf,
    /// After MATCH / NO MATCH, say why: the `$or` alternative that matched, or for each
    /// alternative the first field whose test failed and the values the event has there.
    #[arg(long)]
    pub explain: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match check(&args) {
        Ok((matched, why)) => {
            println!("{}", if matched { "MATCH" } else { "NO MATCH" });
            if let Some(why) = why {
                println!("{why}");
            }
            Ok(if matched {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Whether the event matches, and with `--explain` why.
fn check(args: &Args) -> Result<(bool, Option<String>), String> {
    let pattern = load_pattern(&args.pattern)?;
    let event = read(&args.event)?;
    let invalid = |e: patterns::EventError| format!("{}: invalid event: {e}", args.event.display());
    if args.explain {
        let why = pattern.explain(&event).map_err(invalid)?;
        return Ok((why.matched(), Some(why.to_string())));
    }
    pattern
        .matches_str(&event)
        .map(|m| (m, None))
        .map_err(invalid)
}
