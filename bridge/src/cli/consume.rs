//! `bridge consume`: read an SQS queue (or a local one), normalize every message into
//! events, and hand each event to a handler: JSON lines on stdout (default), a command
//! (`--exec`), or an HTTP endpoint (`--http`). Only handled messages are deleted.
//!
//! Counters go to stderr (never message bodies); `--metrics` prints a summary on exit.
//! SIGINT/SIGTERM stop receiving, let running handlers finish within `--shutdown-grace`,
//! release the rest (visibility 0) and exit 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use bridge::consumer::{
    normalized_strict, pass_through, Consumer, ConsumerOptions, Exec, Http, JsonlStdout,
    LocalSource, MessageSource, Metrics, OnUnparseable, SqsSource,
};
use infra::aws::AwsClients;
use infra::local::Store;

use super::args::{AwsArgs, LocalArg};
use super::shutdown_signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unparseable {
    /// Move it to the queue's dead-letter queue (left in place if there is none).
    DeadLetter,
    /// Log it and leave it for redelivery.
    Leave,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("handler").args(["exec", "http", "jsonl"])))]
pub struct Args {
    /// The queue: a name, a queue URL, or (local) a name or ARN.
    #[arg(long, value_name = "NAME|URL")]
    pub queue: String,
    #[command(flatten)]
    pub local: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Run `sh -c CMD` per event, the event as JSON on stdin; exit 0 means done.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// POST each event as JSON to this http:// or https:// URL; a 2xx status means done
    /// (redirects are not followed).
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// Print each event as one JSON line on stdout (the default handler).
    #[arg(long)]
    pub jsonl: bool,
    /// Handle only events matching this event pattern file; others are acked and counted.
    #[arg(long, value_name = "FILE")]
    pub pattern: Option<PathBuf>,
    /// Events handled at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Messages per receive (1 to 10).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub batch_size: u32,
    /// Long-poll wait per receive, seconds (0 to 20).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub wait: u32,
    /// Visibility timeout, seconds; renewed every half of it while a handler runs.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=43200))]
    pub visibility_timeout: u32,
    /// Do not renew visibility while handlers run.
    #[arg(long)]
    pub no_heartbeat: bool,
    /// Per-event handler time limit, seconds (the command is killed after it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub handler_timeout: u64,
    /// Stop after receiving this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit after this many seconds without a message.
    #[arg(long, value_name = "S")]
    pub idle_exit: Option<u64>,
    /// What to do with a message body that does not normalize.
    #[arg(long, value_enum, default_value_t = Unparseable::DeadLetter)]
    pub on_unparseable: Unparseable,
    /// Skip events whose id was already handled within this many seconds.
    #[arg(long, value_name = "S")]
    pub dedup_window: Option<u64>,
    /// On SIGINT/SIGTERM, how long running handlers may finish before release, seconds.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Do not normalize: each body, parsed as JSON, is the event.
    #[arg(long, conflicts_with = "strict")]
    pub raw: bool,
    /// Accept AWS event shapes only: a body of any other shape (a custom JSON message, an
    /// SNS notification of text, an SNS confirmation) is dead-lettered (or left, with
    /// `--on-unparseable leave`) instead of handled as a `message` / `sns_confirmation` event.
    #[arg(long)]
    pub strict: bool,
    /// Print counters on stderr every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    pub progress: u64,
    /// Print a summary of the counters on exit.
    #[arg(long)]
    pub metrics: bool,
}

enum Chosen {
    Jsonl,
    Exec(Exec),
    Http(Box<Http>),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = options(&args)?;
    let handler_timeout = Duration::from_secs(args.handler_timeout);
    let chosen = match (&args.exec, &args.http) {
        (Some(command), _) => Chosen::Exec(Exec {
            command: command.clone(),
            timeout: handler_timeout,
        }),
        (None, Some(url)) => Chosen::Http(Box::new(Http::new(url, handler_timeout)?)),
        (None, None) => Chosen::Jsonl,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let metrics = runtime.block_on(async {
        match &args.local.dir() {
            Some(dir) => {
                let store = Store::open(dir)
                    .with_context(|| format!("opening local state in {}", dir.display()))?;
                let source = LocalSource::new(store, &args.queue)?;
                Ok::<_, anyhow::Error>(consume(source, options, chosen).await)
            }
            None => {
                let clients = AwsClients::from_env(&args.aws.settings()).await?;
                let source = SqsSource::connect(clients.sqs.clone(), &args.queue).await?;
                Ok(consume(source, options, chosen).await)
            }
        }
    })?;
    if args.metrics {
        eprintln!("bridge consume: summary: {metrics}");
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &Args) -> anyhow::Result<ConsumerOptions> {
    let pattern = match &args.pattern {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading pattern file {}", path.display()))?;
            Some(
                patterns::Pattern::parse(&text)
                    .map_err(|e| anyhow!("pattern file {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let mut options = ConsumerOptions {
        concurrency: args.concurrency as usize,
        batch_size: args.batch_size,
        wait_secs: args.wait,
        visibility_secs: args.visibility_timeout,
        heartbeat: !args.no_heartbeat,
        handler_timeout: Duration::from_secs(args.handler_timeout),
        on_unparseable: match args.on_unparseable {
            Unparseable::DeadLetter => OnUnparseable::DeadLetter,
            Unparseable::Leave => OnUnparseable::Leave,
        },
        pattern,
        dedup_window: args.dedup_window.map(Duration::from_secs),
        max_messages: args.max_messages,
        idle_exit: args.idle_exit.map(Duration::from_secs),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        progress_every: (args.progress > 0).then(|| Duration::from_secs(args.progress)),
        ..ConsumerOptions::default()
    };
    if args.raw {
        options.normalize = pass_through();
    } else if args.strict {
        options.normalize = normalized_strict();
    }
    Ok(options)
}

async fn consume<S: MessageSource>(source: S, options: ConsumerOptions, chosen: Chosen) -> Metrics {
    if source.is_fifo() && options.concurrency > 1 {
        eprintln!(
            "bridge consume: {} is FIFO: each batch is handled in order on one task; batches run in parallel",
            source.describe()
        );
    }
    eprintln!("bridge consume: reading {}", source.describe());
    let consumer = Consumer::new(source, options);
    match chosen {
        Chosen::Jsonl => consumer.run(JsonlStdout, shutdown_signal()).await,
        Chosen::Exec(exec) => consumer.run(exec, shutdown_signal()).await,
        Chosen::Http(http) => consumer.run(*http, shutdown_signal()).await,
    }
}
