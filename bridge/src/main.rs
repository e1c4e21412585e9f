//! The `bridge` binary: a thin CLI over the workspace libraries.

// Allocations made on one thread and freed on another (the local pipeline's envelopes and
// answers) are where glibc's malloc is slowest; see bridge/Cargo.toml's `mimalloc` feature.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod ui;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let verbose = args.verbose;
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            let detail = err
                .chain()
                .find_map(|e| e.downcast_ref::<infra::aws::AwsError>())
                .and_then(|e| e.detail());
            match (verbose, detail) {
                (true, Some(detail)) => eprintln!("detail: {detail}"),
                (false, Some(_)) => eprintln!("(-v prints the AWS SDK's whole error)"),
                _ => {}
            }
            ExitCode::from(1)
        }
    }
}
