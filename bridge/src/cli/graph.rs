//! `bridge graph`: the project's wiring as a picture — Mermaid or Graphviz text, or an SVG /
//! HTML page drawn by bridge itself (no graphviz or browser needed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use rules::desired::Desired;
use rules::graph::{Graph, NodeKind};

use super::shared::{local_config, Backend, Target};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
    Svg,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Draw what exists (the project's bus in the account, or with `--local` the local
    /// state) instead of the files; what the project does not declare, and what is not the
    /// stack's, is marked.
    #[arg(long)]
    pub live: bool,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.target.project_dir();
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
    let desired = Desired::from_project(&project, args.target.stack.as_deref())?;
    let graph = if args.live {
        live_graph(&args.target, &project, &desired)?
    } else {
        Graph::of(&desired)
    };
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

/// What exists, drawn with the files' model and layout; rules, queues and topics the
/// project does not declare are marked `undeclared`, those not the stack's `unowned`.
fn live_graph(
    target: &Target,
    project: &rules::Project,
    desired: &Desired,
) -> anyhow::Result<Graph> {
    let live = match target.backend(project) {
        Backend::Local(state_dir) => {
            let config = local_config(Some(project));
            let facts = infra::local::LocalFacts::read_dir(&state_dir, &config)
                .with_context(|| format!("local state in {}", state_dir.display()))?;
            infra::live::from_local(&facts, &desired.stack, &desired.bus)
        }
        Backend::Aws => {
            let aws = target.connect(project.file.region.clone())?;
            let facts = aws.block_on(infra::aws::import::read_for_import(
                aws.clients(),
                &desired.bus,
                "",
            ))?;
            let names = infra::live::bucket_names(&facts, desired);
            let buckets = aws.block_on(infra::aws::read::read_buckets(aws.clients(), &names))?;
            infra::live::from_aws(&facts, &buckets, &desired.stack)
        }
    };
    let declared = infra::live::declared(desired);
    let mut graph = Graph::of(&live.desired);
    for node in &mut graph.nodes {
        let kind = match node.kind {
            NodeKind::Rule => "rule",
            NodeKind::Queue => "queue",
            NodeKind::Topic => "topic",
            NodeKind::Bucket => "bucket",
            _ => continue,
        };
        let key = (kind, node.label.clone());
        let mut marks = Vec::new();
        if !declared.contains(&key) {
            marks.push("undeclared");
        }
        // Buckets are nobody's: bridge never creates them, only their notifications.
        if kind != "bucket" && !live.owned.contains(&key) {
            marks.push("unowned");
        }
        if !marks.is_empty() {
            let marks = marks.join(", ");
            node.detail = Some(match node.detail.take() {
                Some(d) => format!("{d} · {marks}"),
                None => marks,
            });
        }
    }
    Ok(graph)
}
