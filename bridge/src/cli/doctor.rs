//! `bridge doctor`: why events do not arrive. Reads what exists (the account, or the local
//! state) and checks it against the project, one line per check with ✓ or ✗ and the fix.
//! Never writes. Exit 0 when every check passes, 1 when any fails.

use std::process::ExitCode;

use anyhow::{bail, Context};
use infra::doctor::{check, read_world};
use infra::local::{Clock, Store, DATABASE_FILE};

use super::shared::{load_desired, load_project, local_config, Backend, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.target)?;
    let desired = load_desired(&args.target, &project)?;
    let world = match args.target.backend(&project) {
        Backend::Local(state_dir) => {
            println!("local state: {}", state_dir.display());
            if !state_dir.join(DATABASE_FILE).is_file() {
                bail!(
                    "no local state in {}: run `bridge apply --local` or `bridge dev` first",
                    state_dir.display()
                );
            }
            let config = local_config(Some(&project));
            let mut store = Store::open_with(&state_dir, config.clone(), Clock::System)
                .with_context(|| format!("opening local state in {}", state_dir.display()))?;
            infra::doctor::world_from_local(&mut store, &config)
                .with_context(|| format!("reading local state in {}", state_dir.display()))?
        }
        Backend::Aws => {
            let aws = args.target.connect(project.file.region.clone())?;
            aws.block_on(read_world(aws.clients(), &desired))?
        }
    };
    let checks = check(&desired, &world);
    let problems = checks.iter().filter(|c| !c.ok).count();
    let color = super::shared::use_color();
    for c in &checks {
        let line = c.to_string();
        match (color, c.ok) {
            (true, true) => println!("\x1b[32m{line}\x1b[0m"),
            (true, false) => println!("\x1b[31m{line}\x1b[0m"),
            _ => println!("{line}"),
        }
    }
    if problems == 0 {
        println!("{} checks passed.", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} of {} checks failed.", checks.len());
        Ok(ExitCode::from(1))
    }
}
