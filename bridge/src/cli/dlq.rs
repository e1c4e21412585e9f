//! `bridge dlq`: what is in a dead-letter queue, and moving its messages back.
//!
//! - `bridge dlq QUEUE` (or `bridge dlq show QUEUE`): the count, and per message its id,
//!   receive count, `bridge-dead-letter-reason`, EventBridge's dead-letter attributes, its
//!   other attributes, and the normalized event (or why it does not normalize). Locally this
//!   is a peek that changes nothing; SQS cannot peek, so on AWS each message shown is
//!   received (its receive count goes up) and released at once.
//! - `bridge dlq redrive QUEUE [--to SOURCE] [--max N]`: moves messages back, at-least-once
//!   (a copy is sent before the original is deleted). The work is library code
//!   (`infra::local::dead_letters`, `infra::aws::dead_letters`); this file only prints.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context};
use bridge::consumer::DEAD_LETTER_REASON_ATTRIBUTE;
use bridge::event::{normalize_with, Strictness};
use infra::aws::blocking::BlockingAws;
use infra::aws::dead_letters as aws_dlq;
use infra::local::clock::rfc3339_millis;
use infra::local::Store;
use serde_json::{json, Map, Value};

use super::args::{AwsArgs, LocalArg};

/// The message attributes EventBridge puts on an event it dead-letters
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html>).
pub const EVENTBRIDGE_DLQ_ATTRIBUTES: &[&str] = &[
    "RULE_ARN",
    "TARGET_ARN",
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "EXHAUSTED_RETRY_CONDITION",
    "RETRY_ATTEMPTS",
];

/// How much of a body that does not normalize is printed (all of it with `--json`).
const BODY_PREVIEW: usize = 500;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub show: ShowArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// What is in a dead-letter queue (the same as `bridge dlq QUEUE`).
    Show(ShowArgs),
    /// Move a dead-letter queue's messages back (at-least-once: each copy is sent before
    /// its original is deleted).
    Redrive(RedriveArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The dead-letter queue: a name, a queue URL or an ARN.
    #[arg(value_name = "QUEUE", required = true)]
    pub queue: Option<String>,
    #[command(flatten)]
    pub local: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Show at most this many messages, oldest first (the count covers all of them). On
    /// AWS each one shown is received, which raises its receive count.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max: usize,
    /// One JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Normalize as `bridge consume --strict` does (AWS event shapes only).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    /// The dead-letter queue: a name, a queue URL or an ARN.
    #[arg(value_name = "QUEUE")]
    pub queue: String,
    /// Where to move the messages (default: the one queue whose redrive policy names QUEUE).
    #[arg(long, value_name = "SOURCE")]
    pub to: Option<String>,
    /// Move at most this many messages (default: every visible one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
    #[command(flatten)]
    pub local: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::Redrive(redrive_args)) => redrive(redrive_args),
        Some(Command::Show(show_args)) => show(show_args),
        None => show(args.show),
    }
}

/// One message, whichever backend it came from.
struct Shown {
    id: String,
    receive_count: u32,
    sent_ms: Option<i64>,
    /// Locally: visible, in_flight or delayed.
    state: Option<&'static str>,
    group_id: Option<String>,
    /// name → (data type, value as JSON: a string, or `{"hex": …}` for binary).
    attributes: BTreeMap<String, (String, Value)>,
    body: String,
}

/// The queue and its messages, whichever backend.
struct Report {
    queue: String,
    backend: &'static str,
    location: String,
    counts: (u64, u64, u64),
    sources: Vec<String>,
    /// AWS: looking received the messages.
    receive_counts_raised: bool,
    messages: Vec<Shown>,
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(queue) = args.queue.as_deref() else {
        bail!("name the dead-letter queue: bridge dlq QUEUE");
    };
    let report = match args.local.dir() {
        Some(dir) => {
            let mut store = Store::open_existing(&dir)?;
            let peek = store.peek_messages(queue, args.max)?;
            let sources = store
                .dead_letter_sources(&peek.queue)?
                .into_iter()
                .map(|s| format!("{} (maxReceiveCount {})", s.queue, s.max_receive_count))
                .collect();
            Report {
                queue: peek.queue.clone(),
                backend: "local",
                location: format!("local state {}", dir.display()),
                counts: (
                    peek.counts.visible,
                    peek.counts.in_flight,
                    peek.counts.delayed,
                ),
                sources,
                receive_counts_raised: false,
                messages: peek
                    .messages
                    .into_iter()
                    .map(|m| Shown {
                        id: m.message_id,
                        receive_count: m.receive_count,
                        sent_ms: Some(m.sent_ms),
                        state: Some(match m.state {
                            infra::local::MessageState::Visible => "visible",
                            infra::local::MessageState::InFlight => "in flight",
                            infra::local::MessageState::Delayed => "delayed",
                        }),
                        group_id: m.group_id,
                        attributes: m
                            .message_attributes
                            .into_iter()
                            .map(|(k, a)| (k, (a.data_type, Value::String(a.string_value))))
                            .collect(),
                        body: m.body,
                    })
                    .collect(),
            }
        }
        None => {
            let aws = BlockingAws::connect(&args.aws.settings())?;
            let clients = aws.clients();
            let (q, peek, sources) = aws.block_on(async {
                let q = aws_dlq::resolve(clients, queue).await?;
                let sources = aws_dlq::dead_letter_sources(clients, &q).await?;
                let peek = aws_dlq::peek(clients, &q, args.max).await?;
                Ok::<_, infra::aws::AwsError>((q, peek, sources))
            })?;
            Report {
                queue: q.name.clone(),
                backend: "aws",
                location: q.url.clone(),
                counts: (
                    peek.counts.visible,
                    peek.counts.in_flight,
                    peek.counts.delayed,
                ),
                sources: sources
                    .iter()
                    .map(|u| u.rsplit('/').next().unwrap_or(u).to_string())
                    .collect(),
                receive_counts_raised: !peek.messages.is_empty(),
                messages: peek
                    .messages
                    .into_iter()
                    .map(|m| Shown {
                        id: m.message_id,
                        receive_count: m.receive_count,
                        sent_ms: m.sent_ms,
                        state: None,
                        group_id: m.group_id,
                        attributes: m
                            .message_attributes
                            .into_iter()
                            .map(|(k, a)| {
                                let value = match (a.string_value, a.binary_value) {
                                    (Some(s), _) => Value::String(s),
                                    (None, Some(b)) => json!({ "hex": hex(&b) }),
                                    (None, None) => Value::Null,
                                };
                                (k, (a.data_type, value))
                            })
                            .collect(),
                        body: m.body,
                    })
                    .collect(),
            }
        }
    };
    let strictness = if args.strict {
        Strictness::Strict
    } else {
        Strictness::Lenient
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&report, strictness))?
        );
    } else {
        print_text(&report, strictness);
    }
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The message's events, or why it does not normalize.
fn normalized(body: &str, strictness: Strictness) -> Result<Vec<Value>, String> {
    match normalize_with(body, strictness) {
        Ok(events) => events
            .iter()
            .map(|e| serde_json::to_value(e).map_err(|e| e.to_string()))
            .collect(),
        Err(e) => Err(e.to_string()),
    }
}

fn message_json(m: &Shown, strictness: Strictness) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(m.id));
    out.insert("receive_count".into(), json!(m.receive_count));
    out.insert("sent".into(), json!(m.sent_ms.map(rfc3339_millis)));
    if let Some(state) = m.state {
        out.insert("state".into(), json!(state.replace(' ', "_")));
    }
    if let Some(group) = &m.group_id {
        out.insert("group_id".into(), json!(group));
    }
    let reason = m
        .attributes
        .get(DEAD_LETTER_REASON_ATTRIBUTE)
        .map(|(_, v)| v.clone());
    out.insert("reason".into(), reason.unwrap_or(Value::Null));
    let mut eventbridge = Map::new();
    let mut others = Map::new();
    for (name, (data_type, value)) in &m.attributes {
        if name == DEAD_LETTER_REASON_ATTRIBUTE {
            continue;
        }
        if EVENTBRIDGE_DLQ_ATTRIBUTES.contains(&name.as_str()) {
            eventbridge.insert(name.clone(), value.clone());
        } else {
            others.insert(
                name.clone(),
                json!({ "data_type": data_type, "value": value }),
            );
        }
    }
    out.insert("eventbridge".into(), Value::Object(eventbridge));
    out.insert("attributes".into(), Value::Object(others));
    out.insert("body".into(), json!(m.body));
    match normalized(&m.body, strictness) {
        Ok(events) => out.insert("events".into(), Value::Array(events)),
        Err(e) => out.insert("normalize_error".into(), json!(e)),
    };
    Value::Object(out)
}

fn to_json(r: &Report, strictness: Strictness) -> Value {
    json!({
        "queue": r.queue,
        "backend": r.backend,
        "location": r.location,
        "count": r.counts.0 + r.counts.1 + r.counts.2,
        "visible": r.counts.0,
        "in_flight": r.counts.1,
        "delayed": r.counts.2,
        "dead_letter_queue_of": r.sources,
        "receive_counts_raised": r.receive_counts_raised,
        "messages": r.messages.iter().map(|m| message_json(m, strictness)).collect::<Vec<_>>(),
    })
}

fn print_text(r: &Report, strictness: Strictness) {
    let (visible, in_flight, delayed) = r.counts;
    let total = visible + in_flight + delayed;
    println!(
        "queue {} ({}): {total} message(s) ({visible} visible, {in_flight} in flight, {delayed} delayed){}",
        r.queue,
        r.location,
        if r.backend == "aws" { ", approximate" } else { "" }
    );
    if r.sources.is_empty() {
        println!("no queue names it as its dead-letter queue");
    } else {
        println!("dead-letter queue of: {}", r.sources.join(", "));
    }
    if r.receive_counts_raised {
        println!(
            "note: SQS cannot peek: each message below was received (its receive count went up by 1) and released at once"
        );
    }
    if total > r.messages.len() as u64 {
        println!(
            "showing the oldest {} (--max N shows more)",
            r.messages.len()
        );
    }
    for (i, m) in r.messages.iter().enumerate() {
        println!();
        let mut head = format!(
            "{}. message {}  receive count {}",
            i + 1,
            m.id,
            m.receive_count
        );
        if let Some(sent) = m.sent_ms {
            head.push_str(&format!("  sent {}", rfc3339_millis(sent)));
        }
        if let Some(state) = m.state {
            head.push_str(&format!("  {state}"));
        }
        if let Some(group) = &m.group_id {
            head.push_str(&format!("  group {group}"));
        }
        println!("{head}");
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match m.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE) {
            Some((_, reason)) => println!("   reason: {}", text(reason)),
            None => println!("   reason: (no {DEAD_LETTER_REASON_ATTRIBUTE} attribute)"),
        }
        for name in EVENTBRIDGE_DLQ_ATTRIBUTES {
            if let Some((_, v)) = m.attributes.get(*name) {
                println!("   {name}: {}", text(v));
            }
        }
        for (name, (data_type, v)) in &m.attributes {
            if name != DEAD_LETTER_REASON_ATTRIBUTE
                && !EVENTBRIDGE_DLQ_ATTRIBUTES.contains(&name.as_str())
            {
                println!("   attribute {name} ({data_type}): {}", text(v));
            }
        }
        match normalized(&m.body, strictness) {
            Ok(events) => {
                for mut e in events {
                    // The text form leaves out empty fields (`--json` has them all).
                    if let Value::Object(fields) = &mut e {
                        fields.retain(|_, v| !v.is_null());
                    }
                    println!("   event: {e}");
                }
            }
            Err(e) => {
                println!("   does not normalize: {e}");
                let preview: String = m.body.chars().take(BODY_PREVIEW).collect();
                let cut = if preview.len() < m.body.len() {
                    " …"
                } else {
                    ""
                };
                println!("   body: {preview}{cut}");
            }
        }
    }
}

/// A progress bar on stderr, drawn only when both stdout and stderr are terminals.
fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} redrive [{bar:30}] {pos}/{len} moved ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

fn redrive(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    match args.local.dir() {
        Some(dir) => {
            let mut store = Store::open_existing(&dir)?;
            let visible = store.queue_counts(&args.queue)?.visible;
            let bar = progress_bar(Some(args.max.map_or(visible, |m| m.min(visible))));
            let report = store.redrive(&args.queue, args.to.as_deref(), args.max, &mut |n| {
                bar.set_position(n)
            });
            bar.finish_and_clear();
            let report = report.with_context(|| format!("redrive of {}", args.queue))?;
            println!(
                "moved {} message(s) from {} to {} (each batch of up to {} in one transaction)",
                report.moved,
                report.from,
                report.to,
                infra::local::dead_letters::REDRIVE_BATCH
            );
            let left = report.left.visible + report.left.in_flight + report.left.delayed;
            if left > 0 {
                println!(
                    "{left} message(s) left in {} ({} visible, {} in flight, {} delayed)",
                    report.from, report.left.visible, report.left.in_flight, report.left.delayed
                );
            }
        }
        None => {
            let aws = BlockingAws::connect(&args.aws.settings())?;
            let clients = aws.clients();
            let bar = progress_bar(None);
            let report = aws.block_on(async {
                let from = aws_dlq::resolve(clients, &args.queue).await?;
                let to = aws_dlq::destination(clients, &from, args.to.as_deref()).await?;
                aws_dlq::redrive(clients, &from, &to, args.max, &mut |p| {
                    if let Some(total) = p.total {
                        bar.set_length(total.max(p.moved));
                    }
                    bar.set_position(p.moved);
                })
                .await
            });
            bar.finish_and_clear();
            let report = report.with_context(|| format!("redrive of {}", args.queue))?;
            match &report.method {
                aws_dlq::Method::MoveTask { task_handle } => println!(
                    "moved {} message(s) from {} to {} with SQS's message move task {task_handle}",
                    report.moved, report.from.name, report.to.name
                ),
                aws_dlq::Method::ReceiveSendDelete { why } => {
                    println!(
                        "SQS's message move task does not apply: {why}; moving by receive, send, delete instead"
                    );
                    println!(
                        "moved {} message(s) from {} to {} (at-least-once: each original deleted only after its copy was sent)",
                        report.moved, report.from.name, report.to.name
                    );
                }
            }
            if report.duplicated > 0 {
                println!(
                    "warning: {} original(s) could not be deleted after their copy was sent: they are in both queues",
                    report.duplicated
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
