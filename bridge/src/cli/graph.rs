//! `bridge graph`: the project's wiring as a picture — Mermaid or Graphviz text, or an SVG /
//! HTML page drawn by bridge itself (no graphviz or browser needed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use rules::desired::Desired;
use rules::graph::Graph;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
    Svg,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.project.unwrap_or_else(|| PathBuf::from("."));
    let project = rules::load(&dir).map_err(|d| {
        for e in &d.0 {
            eprintln!("error: {e}");
        }
        anyhow::anyhow!(
            "{} problem(s) in the project at {}",
            d.0.len(),
            dir.display()
        )
    })?;
    let desired = Desired::from_project(&project, None)?;
    let graph = Graph::of(&desired);
    let text = match args.format {
        Format::Mermaid => graph.mermaid(),
        Format::Dot => graph.dot(),
        Format::Svg => graph.svg(),
        Format::Html => graph.html(&format!("bridge: {}", desired.stack)),
    };
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
