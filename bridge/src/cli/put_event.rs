//! `bridge put-event`: send custom events to an event bus, as PutEvents does.
//!
//! Events come from flags (`--source`, `--detail-type`, `--detail`) or as JSON lines from a
//! file or standard input (`--file -`), each line either a PutEvents entry (`Source`,
//! `DetailType`, `Detail`, ...) or a whole event (`source`, `detail-type`, `detail`, ...).
//! Lines are sent in batches of ten (PutEvents' limit). Each accepted event's id is printed on
//! standard output once its batch is durably accepted; rejected entries are reported on
//! standard error with AWS's error code, and make the exit code 1.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use infra::aws::AwsClients;
use infra::local::{PutEventsEntry, PutEventsResultEntry, Store};

use super::args::{AwsArgs, LocalArg};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The event's source, e.g. `com.example.orders`.
    #[arg(long, conflicts_with = "file")]
    pub source: Option<String>,
    /// The event's detail-type.
    #[arg(long, conflicts_with = "file")]
    pub detail_type: Option<String>,
    /// The detail: a JSON object, or `@path` to read it from a file.
    #[arg(long, conflicts_with = "file")]
    pub detail: Option<String>,
    /// A resource ARN of the event (repeatable).
    #[arg(long = "resource", conflicts_with = "file")]
    pub resources: Vec<String>,
    /// The event's time (RFC 3339); default now.
    #[arg(long, conflicts_with = "file")]
    pub time: Option<String>,
    /// The event bus (name or ARN) for entries that do not name one.
    #[arg(long, default_value = "default")]
    pub bus: String,
    /// Read events as JSON lines from this file (`-` for standard input).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// With `--local`: put the events as this account (12 digits) would, from another
    /// account: refused unless the bus's `allow_put_events_from` grants it. Default: the
    /// local account.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(account) = &args.account {
        if args.target.dir().is_none() {
            anyhow::bail!(
                "--account {account} needs --local: on AWS the sender's account is the one \
                 your credentials belong to"
            );
        }
        if !rules::buses::is_account_id(account) {
            anyhow::bail!("--account {account}: an account id is 12 digits");
        }
    }
    let (accepted, failed) = match args.target.dir() {
        Some(dir) => {
            // Events put into a directory with no state would go nowhere: that is a
            // mistake (a wrong --local), not an empty state to create.
            let mut store = Store::open_existing(&dir)?;
            let mut sender = LocalSender {
                store: &mut store,
                account: args.account.as_deref(),
                report: Report::default(),
                group: LOCAL_GROUP,
                pending: Vec::new(),
            };
            send_all(&args, &mut sender)?;
            (sender.report.accepted, sender.report.failed)
        }
        None => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let clients = runtime.block_on(AwsClients::from_env(&args.aws.settings()))?;
            let mut sender = AwsSender {
                runtime: &runtime,
                clients: &clients,
                report: Report::default(),
            };
            send_all(&args, &mut sender)?;
            (sender.report.accepted, sender.report.failed)
        }
    };
    if failed > 0 {
        eprintln!(
            "{failed} entr{} failed, {accepted} accepted",
            if failed == 1 { "y" } else { "ies" }
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn send_all(args: &Args, sender: &mut dyn Sender) -> anyhow::Result<()> {
    match &args.file {
        Some(path) => send_lines(args, path, sender)?,
        None => {
            let entry = entry_from_flags(args)?;
            sender.send(&[entry], &["command line".to_string()])?
        }
    }
    sender.finish()
}

/// Where a batch of at most ten entries goes.
trait Sender {
    /// Sends the entries (or keeps them for [`Sender::finish`]); `places` names each entry's
    /// origin for error messages.
    fn send(&mut self, entries: &[PutEventsEntry], places: &[String]) -> anyhow::Result<()>;

    /// Sends what [`Sender::send`] kept.
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// At most this many batches of ten share one commit in `put-event --local` (one fsync for
/// 250 events instead of 25), when lines arrive faster than they are committed.
const LOCAL_GROUP: usize = 25;

/// Counts, and prints each entry's outcome: the id on stdout, a failure on stderr.
#[derive(Debug, Default)]
struct Report {
    failed: usize,
    accepted: usize,
}

impl Report {
    fn record(
        &mut self,
        results: &[PutEventsResultEntry],
        places: &[String],
    ) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        for (result, place) in results.iter().zip(places) {
            match (&result.event_id, &result.error_code) {
                (Some(id), None) => {
                    writeln!(stdout, "{id}")?;
                    self.accepted += 1;
                }
                (_, code) => {
                    self.failed += 1;
                    eprintln!(
                        "{place}: {}: {}",
                        code.as_deref().unwrap_or("Error"),
                        result.error_message.as_deref().unwrap_or("rejected")
                    );
                }
            }
        }
        stdout.flush()?;
        Ok(())
    }
}

/// Sends batches to the local store, and shows where each event was routed.
struct LocalSender<'a> {
    store: &'a mut Store,
    /// `--account`: the sending account, when not the local one.
    account: Option<&'a str>,
    report: Report,
    /// How many batches share one commit.
    group: usize,
    /// Batches waiting for their commit, with their places.
    pending: Vec<(Vec<PutEventsEntry>, Vec<String>)>,
}

impl Sender for LocalSender<'_> {
    fn send(&mut self, entries: &[PutEventsEntry], places: &[String]) -> anyhow::Result<()> {
        self.pending.push((entries.to_vec(), places.to_vec()));
        if self.pending.len() >= self.group {
            self.finish()?;
        }
        Ok(())
    }

    /// Commits the waiting batches in one transaction ([`Store::put_events_group_as`]), then
    /// reports every accepted event; a batch refused as a whole ends the command after the
    /// others' events are reported (they were accepted).
    fn finish(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let calls: Vec<&[PutEventsEntry]> = pending.iter().map(|(e, _)| e.as_slice()).collect();
        let outs = self
            .store
            .put_events_group_as(&calls, self.account)
            .context("PutEvents on the local backend")?;
        let mut refused = None;
        for ((_, places), out) in pending.iter().zip(outs) {
            match out {
                Ok(out) => {
                    self.report.record(&out.entries, places)?;
                    for r in &out.routed {
                        eprintln!("  {} → {} ({})", r.rule, r.target, r.outcome);
                    }
                }
                Err(e) => {
                    let place = places.first().cloned().unwrap_or_default();
                    refused.get_or_insert((place, e));
                }
            }
        }
        match refused {
            Some((place, e)) => {
                Err(anyhow::Error::new(e)
                    .context(format!("PutEvents on the local backend ({place})")))
            }
            None => Ok(()),
        }
    }
}

/// Sends batches to EventBridge; throttled entries are retried (see `infra::aws::events`).
struct AwsSender<'a> {
    runtime: &'a tokio::runtime::Runtime,
    clients: &'a AwsClients,
    report: Report,
}

impl Sender for AwsSender<'_> {
    fn send(&mut self, entries: &[PutEventsEntry], places: &[String]) -> anyhow::Result<()> {
        let results = self
            .runtime
            .block_on(infra::aws::events::put_events(self.clients, entries))
            .with_context(|| {
                format!(
                    "{} (after {} entr{} had been accepted)",
                    places.first().map(String::as_str).unwrap_or("PutEvents"),
                    self.report.accepted,
                    if self.report.accepted == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                )
            })?;
        self.report.record(&results, places)
    }
}

fn entry_from_flags(args: &Args) -> anyhow::Result<PutEventsEntry> {
    let detail = match args.detail.as_deref() {
        Some(d) => match d.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading --detail file {path}"))?,
            None => d.to_string(),
        },
        None => "{}".to_string(),
    };
    Ok(PutEventsEntry {
        source: args.source.clone(),
        detail_type: args.detail_type.clone(),
        detail: Some(detail),
        resources: args.resources.clone(),
        time: args.time.clone(),
        event_bus_name: Some(args.bus.clone()),
    })
}

fn send_lines(args: &Args, path: &Path, sender: &mut dyn Sender) -> anyhow::Result<()> {
    let (name, source): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
        ("standard input".into(), Box::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        (path.display().to_string(), Box::new(f))
    };
    let mut reader = BufReader::with_capacity(1 << 18, source);
    let mut batch = Vec::with_capacity(10);
    let mut places = Vec::with_capacity(10);
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .with_context(|| format!("reading {name}"))?
            == 0
        {
            break;
        }
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("{name} line {n}");
        let entry = PutEventsEntry::from_json_line(line.trim_end_matches(['\n', '\r']), &args.bus)
            .map_err(|e| anyhow::anyhow!("{place}: {e}"))?;
        batch.push(entry);
        places.push(place);
        if batch.len() == infra::aws::events::MAX_ENTRIES {
            sender.send(&batch, &places)?;
            batch.clear();
            places.clear();
            // Batches kept for one commit go as soon as no further line is at hand: a
            // writer that is slower than the commits is answered batch by batch.
            if !reader.buffer().contains(&b'\n') {
                sender.finish()?;
            }
        }
    }
    if !batch.is_empty() {
        sender.send(&batch, &places)?;
    }
    Ok(())
}
