//! Command-line interface: one module per subcommand, each `run(args) -> Result<ExitCode>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod match_events;
pub mod test_pattern;

/// Event-driven pipelines on AWS, from JSON files in your repo.
#[derive(Debug, Parser)]
#[command(name = "bridge", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test one event against one event pattern (exit 0 match, 1 no match, 2 error).
    TestPattern(test_pattern::Args),
    /// Stream JSONL events from stdin through a directory of patterns; print matches.
    Match(match_events::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::TestPattern(args) => test_pattern::run(args),
        Command::Match(args) => match_events::run(args),
    }
}
