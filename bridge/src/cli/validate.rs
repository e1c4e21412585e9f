//! `bridge validate`: load the project and report every problem at once.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory or its `bridge.json` (default: the current directory).
    #[arg(long, conflicts_with = "dir")]
    pub project: Option<PathBuf>,
    /// The same, given positionally: `bridge validate examples/quilt`.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args
        .project
        .or(args.dir)
        .unwrap_or_else(|| PathBuf::from("."));
    match rules::load(&path) {
        Ok(project) => {
            for w in &project.warnings {
                eprintln!("warning: {w}");
            }
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
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            for rule in &project.rules {
                let Some(expr) = rule.schedule() else {
                    continue;
                };
                // A rate counts from the rule's creation: shown as if created now.
                let next = rules::schedule::Schedule::parse(expr)
                    .ok()
                    .and_then(|s| s.next_after(now, now))
                    .map_or("never".to_string(), rules::schedule::format_utc);
                println!("  rule {}: {expr}, next {next}", rule.name);
            }
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
