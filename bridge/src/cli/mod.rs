//! Command-line interface: one module per subcommand, each `run(args) -> Result<ExitCode>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Event-driven pipelines on AWS, from JSON files in your repo.
#[derive(Debug, Parser)]
#[command(name = "bridge", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {}
}
