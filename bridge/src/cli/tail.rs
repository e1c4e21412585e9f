//! `bridge tail`: watch the events on a bus that match a pattern, as they arrive.
//!
//! A tail creates a temporary queue and a rule that feeds it (with a queue policy that
//! admits only that rule), streams what arrives as JSON lines, and deletes both when it
//! exits — at `--max-events`, after `--for`, or on Ctrl-C/SIGTERM. A tail killed with
//! `kill -9` cannot clean up; `bridge tail --cleanup` removes such leftovers.
//!
//! Events are printed as EventBridge delivered them; `--normalize` prints the normalized
//! event (the shape `bridge consume` hands to handlers) instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bridge::consumer::{
    normalized, pass_through, Consumer, ConsumerOptions, JsonlStdout, LocalSource, MessageSource,
    SourceError, SqsSource,
};
use infra::aws::{tail, AwsClients};
use infra::local::Store;

use super::args::{AwsArgs, LocalArg};
use super::shutdown_signal;

/// The pattern used without `--pattern` / `--rule`: every event on the bus (EventBridge
/// has no empty pattern; every event has a string `source`).
const EVERY_EVENT: &str = r#"{"source": [{"prefix": ""}]}"#;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show only events matching this event pattern file (default: every event).
    #[arg(long, value_name = "FILE", conflicts_with = "rule")]
    pub pattern: Option<PathBuf>,
    /// Show the events an existing rule on the bus matches (its pattern is copied).
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
    /// The event bus.
    #[arg(long, default_value = "default")]
    pub bus: String,
    /// Print normalized events instead of the events as delivered.
    #[arg(long)]
    pub normalize: bool,
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    pub for_secs: Option<u64>,
    /// Delete what killed tail sessions left behind on the bus, then exit.
    #[arg(long, conflicts_with_all = ["pattern", "rule", "max_events", "for_secs"])]
    pub cleanup: bool,
    #[command(flatten)]
    pub local: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &args.local.dir() {
        Some(dir) => {
            let store = Store::open(dir)
                .with_context(|| format!("opening local state in {}", dir.display()))?;
            runtime.block_on(tail_local(&args, store))
        }
        None => runtime.block_on(tail_aws(&args)),
    }
}

/// The pattern from `--pattern`, checked here first so a typo fails before anything is
/// created (with the place in the pattern, as `bridge validate` reports it).
fn pattern_from_file(args: &Args) -> anyhow::Result<Option<String>> {
    let Some(path) = &args.pattern else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading pattern file {}", path.display()))?;
    patterns::Pattern::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(Some(text))
}

fn options(args: &Args) -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 1,
        max_messages: args.max_events,
        normalize: if args.normalize {
            normalized()
        } else {
            pass_through()
        },
        shutdown_grace: Duration::from_secs(5),
        ..ConsumerOptions::default()
    }
}

/// Ctrl-C, SIGTERM, or the end of `--for`.
async fn stop_when(for_secs: Option<u64>) {
    match for_secs {
        Some(secs) => {
            tokio::select! {
                () = shutdown_signal() => {}
                () = tokio::time::sleep(Duration::from_secs(secs)) => {}
            }
        }
        None => shutdown_signal().await,
    }
}

/// Streams until told to stop; `false` when the queue could not be read at all.
async fn stream<S: MessageSource>(source: Result<S, SourceError>, args: &Args) -> bool {
    let source = match source {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: {e}");
            return false;
        }
    };
    let metrics = Consumer::new(source, options(args))
        .run(JsonlStdout, stop_when(args.for_secs))
        .await;
    eprintln!(
        "bridge tail: {} event(s) shown, {} message(s) could not be read",
        metrics.handled, metrics.dead_lettered
    );
    true
}

async fn tail_aws(args: &Args) -> anyhow::Result<ExitCode> {
    let aws = AwsClients::from_env(&args.aws.settings()).await?;
    if args.cleanup {
        let left = tail::leftovers(&aws, &args.bus).await?;
        let mut failed = 0;
        for made in &left {
            let errors = tail::delete(&aws, made).await;
            for e in &errors {
                eprintln!("error: {e}");
            }
            failed += errors.len();
            eprintln!("bridge tail: removed {}", made.name);
        }
        eprintln!("bridge tail: {} leftover session(s) found", left.len());
        return Ok(exit_code(failed == 0));
    }
    let pattern = match (pattern_from_file(args)?, &args.rule) {
        (Some(p), _) => p,
        (None, Some(rule)) => {
            let out = aws
                .eventbridge
                .describe_rule()
                .name(rule)
                .event_bus_name(&args.bus)
                .send()
                .await
                .map_err(|e| {
                    infra::aws::AwsError::call("DescribeRule", format!("rule {rule}"), e)
                })?;
            match out.event_pattern() {
                Some(p) => p.to_string(),
                None => bail!("rule {rule} has no event pattern (a scheduled rule?)"),
            }
        }
        (None, None) => EVERY_EVENT.to_string(),
    };
    let name = tail::session_name();
    let made = tail::create(&aws, &name, &args.bus, &pattern).await?;
    eprintln!(
        "bridge tail: rule {name} on bus {} → queue {name}; waiting for events (Ctrl-C to stop)",
        args.bus
    );
    let streamed = stream(
        SqsSource::connect(aws.sqs.clone(), &made.queue_url).await,
        args,
    )
    .await;
    let errors = tail::delete(&aws, &made).await;
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        eprintln!("bridge tail: removed rule and queue {name}");
    } else {
        eprintln!("bridge tail: some of {name} is left; `bridge tail --cleanup` removes it");
    }
    Ok(exit_code(streamed && errors.is_empty()))
}

async fn tail_local(args: &Args, mut store: Store) -> anyhow::Result<ExitCode> {
    if args.cleanup {
        let removed = store.clean_up_tails(&args.bus)?;
        for name in &removed {
            eprintln!("bridge tail: removed {name}");
        }
        eprintln!("bridge tail: {} leftover session(s) found", removed.len());
        return Ok(ExitCode::SUCCESS);
    }
    let pattern = match (pattern_from_file(args)?, &args.rule) {
        (Some(p), _) => p,
        (None, Some(rule)) => store
            .list_rules(Some(&args.bus))?
            .into_iter()
            .find(|r| &r.name == rule)
            .ok_or_else(|| anyhow!("rule {rule} does not exist on local bus {}", args.bus))?
            .pattern
            .ok_or_else(|| {
                anyhow!("rule {rule} is a scheduled rule: it has no event pattern to tail")
            })?,
        (None, None) => EVERY_EVENT.to_string(),
    };
    let session = store.start_tail(&args.bus, pattern)?;
    let name = &session.name;
    eprintln!(
        "bridge tail: rule {name} on local bus {} → queue {name}; waiting for events (Ctrl-C to stop)",
        args.bus
    );
    let store = Arc::new(Mutex::new(store));
    let streamed = stream(LocalSource::shared(store.clone(), name), args).await;
    let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
    store.end_tail(&session)?;
    eprintln!("bridge tail: removed rule and queue {name}");
    Ok(exit_code(streamed))
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
