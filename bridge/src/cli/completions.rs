//! `bridge completions SHELL`: a completion script for the shell, generated from the same
//! clap definitions the commands use (so it never lists an option that does not exist).

use std::process::ExitCode;

use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "bridge", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
