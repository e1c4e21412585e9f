//! `bridge schema`: the JSON Schema of the project file or of a rule file, for editors
//! (`"$schema": "…"` in the files), or of `plan --json`'s document. The same schemas are committed under `schema/`.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// `bridge.json`
    Project,
    /// `rules/*.json`
    Rule,
    /// The document `bridge plan --json` prints.
    Plan,
    /// The document `bridge apply --json` prints.
    Apply,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum, default_value = "project")]
    pub which: Which,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let schema = match args.which {
        Which::Project => rules::project_schema(),
        Which::Rule => rules::rule_schema(),
        Which::Plan => infra::plan::PlanDocument::schema(),
        Which::Apply => infra::plan::ApplyDocument::schema(),
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
