//! `bridge validate`: load the project and report every problem at once.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory or its `bridge.json` (default: the current directory).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match rules::load(&args.project) {
        Ok(project) => {
            let targets: usize = project.rules.iter().map(|r| r.targets.len()).sum();
            println!(
                "{}: valid — stack `{}`, {} rule(s), {} target(s), {} queue(s), {} topic(s), {} bucket(s)",
                project.path.display(),
                project.file.stack,
                project.rules.len(),
                targets,
                project.file.queues.len(),
                project.file.topics.len(),
                project.file.buckets.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            for d in &diagnostics.0 {
                eprintln!("error: {d}");
            }
            eprintln!("{} problem(s) found", diagnostics.0.len());
            Ok(ExitCode::from(1))
        }
    }
}
