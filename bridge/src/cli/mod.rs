//! Command-line interface: one module per subcommand, each `run(args) -> Result<ExitCode>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod apply;
pub mod args;
pub mod color;
pub mod completions;
pub mod consume;
pub mod destroy;
pub mod dev;
pub mod dlq;
pub mod doctor;
pub mod graph;
pub mod import;
pub mod match_events;
pub mod normalize;
pub mod plan;
pub mod progress;
pub mod put_event;
pub mod schedule;
pub mod schema;
pub mod shared;
pub mod tail;
pub mod test;
pub mod test_pattern;
pub mod validate;

/// Event-driven pipelines on AWS, from JSON files in your repo.
#[derive(Debug, Parser)]
#[command(name = "bridge", version, about)]
pub struct Cli {
    /// When to colour output: `auto` (a terminal, and `NO_COLOR` unset), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = color::ColorChoice::Auto)]
    pub color: color::ColorChoice,
    /// On an AWS error, also print the SDK's whole error chain.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the project on the embedded local backend and print events as they are routed.
    Dev(dev::Args),
    /// Read a queue, normalize each message into events, and hand them to a handler.
    Consume(consume::Args),
    /// What is in a dead-letter queue; `bridge dlq redrive QUEUE` moves its messages back.
    Dlq(dlq::Args),
    /// Send custom events to an event bus (PutEvents).
    PutEvent(put_event::Args),
    /// Stream the events on a bus that match a pattern (a temporary rule and queue).
    Tail(tail::Args),
    /// Test one event against one event pattern (exit 0 match, 1 no match, 2 error).
    TestPattern(test_pattern::Args),
    /// Stream JSONL events from stdin through a directory of patterns; print matches.
    Match(match_events::Args),
    /// Normalize SQS message bodies (JSONL on stdin) into events, one JSON object per line.
    Normalize(normalize::Args),
    /// Run the project's golden tests: sample events, the rules they reach, what targets get.
    Test(test::Args),
    /// Draw the project's wiring (Mermaid, Graphviz dot, SVG or HTML).
    Graph(graph::Args),
    /// Check a project (bridge.json + rule files) and report every problem at once.
    Validate(validate::Args),
    /// Print the JSON Schema of the project file or of a rule file.
    Schema(schema::Args),
    /// Scheduled rules: `bridge schedule next RULE` prints when it fires next (UTC).
    #[command(subcommand)]
    Schedule(schedule::Command),
    /// Why events do not arrive: check the account (or local state) against the project.
    Doctor(doctor::Args),
    /// Write the rules on an existing bus (and their queues and topics) as project files.
    Import(import::Args),
    /// Show what `apply` would change in AWS (exit 2 with --detailed-exitcode if anything).
    Plan(plan::Args),
    /// Make AWS match the project: create, update and (with --prune) delete owned resources.
    Apply(apply::Args),
    /// Delete everything the stack owns in AWS.
    Destroy(destroy::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    color::init(cli.color);
    match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Import(args) => import::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Destroy(args) => destroy::run(args),
        Command::Dev(args) => dev::run(args),
        Command::PutEvent(args) => put_event::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Dlq(args) => dlq::run(args),
        Command::TestPattern(args) => test_pattern::run(args),
        Command::Match(args) => match_events::run(args),
        Command::Normalize(args) => normalize::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Test(args) => test::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Schedule(command) => schedule::run(command),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
