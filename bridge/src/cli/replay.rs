//! `bridge replay`: re-send an archive's events of a time window to its bus's rules.
//!
//! On AWS: `StartReplay` (only to the named rules with `--rule`, as the destination's
//! `FilterArns`), then `DescribeReplay` every few seconds until it completed, failed or was
//! cancelled; Ctrl-C sends `CancelReplay` and waits for the replay to stop.
//!
//! Locally (`--local`): the replay runs in this process, batch by batch, each batch in one
//! transaction with its cursor, so a replay that was interrupted (even by `kill -9`)
//! continues where it stopped when the same command runs again, or when `bridge dev` runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use infra::aws::archives::{self, ReplayRequest};
use infra::aws::AwsClients;
use infra::local::clock::{parse_rfc3339, rfc3339_seconds};
use infra::local::Store;
use rules::archive::name_problem;

use super::args::{AwsArgs, LocalArg};

/// AWS's limit on replay names.
const MAX_REPLAY_NAME: usize = 64;
/// Events per local transaction.
const LOCAL_BATCH: usize = 100;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive to replay from.
    #[arg(long)]
    pub archive: String,
    /// Start of the window (RFC 3339, e.g. 2026-01-31T00:00:00Z), by the events' `time`.
    #[arg(long, value_name = "TIME")]
    pub from: String,
    /// End of the window (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// Only to this rule of the archive's bus (repeatable); default: every rule.
    #[arg(long = "rule", value_name = "RULE")]
    pub rules: Vec<String>,
    /// The replay's name (1–64 of A-Z a-z 0-9 . - _). Default on AWS: the archive and the
    /// current time; locally: the archive and the window, so re-running the same command
    /// resumes an interrupted replay.
    #[arg(long)]
    pub name: Option<String>,
    /// The project directory, for the default `--local` state directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[command(flatten)]
    pub local: LocalArg,
    #[command(flatten)]
    pub aws: AwsArgs,
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<i64> {
    parse_rfc3339(text)
        .ok_or_else(|| anyhow!("--{flag} {text}: not an RFC 3339 time (e.g. 2026-01-31T04:00:00Z)"))
}

/// A name made of the allowed characters only, at most 64 long.
fn replay_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let clean: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean.chars().take(MAX_REPLAY_NAME).collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let from_ms = parse_time("from", &args.from)?;
    let to_ms = parse_time("to", &args.to)?;
    if from_ms > to_ms {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    if let Some(p) = name_problem("archive", &args.archive, rules::archive::MAX_NAME) {
        bail!("--archive: {p}");
    }
    if let Some(p) = args
        .name
        .as_deref()
        .and_then(|n| name_problem("replay", n, MAX_REPLAY_NAME))
    {
        bail!("--name: {p}");
    }
    let project_dir = args.project.clone().unwrap_or_else(|| PathBuf::from("."));
    let local_dir = args.local.dir_or(|| match rules::load(&project_dir) {
        Ok(project) => project.local_state_dir(),
        Err(_) => PathBuf::from(infra::local::DEFAULT_STATE_DIR),
    });
    match local_dir {
        Some(dir) => run_local(&args, &dir, from_ms, to_ms),
        None => run_aws(&args, from_ms, to_ms),
    }
}

fn run_local(
    args: &Args,
    dir: &std::path::Path,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<ExitCode> {
    let mut store = Store::open_existing(dir)?;
    let from = rfc3339_seconds(from_ms).replace(':', "");
    let to = rfc3339_seconds(to_ms).replace(':', "");
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| replay_name(&[&args.archive, &from, &to]));
    store.expire_archives()?;
    let replay = store
        .start_replay(&name, &args.archive, from_ms, to_ms, &args.rules)
        .with_context(|| format!("local state in {}", dir.display()))?;
    if replay.replayed > 0 {
        println!(
            "replay {name}: resuming after {} of {} events",
            replay.replayed,
            replay.replayed + replay.remaining
        );
    } else {
        println!(
            "replay {name}: {} events of archive {} to bus {}",
            replay.remaining, replay.archive, replay.bus
        );
    }
    loop {
        let (replay, routed) = store.replay_step(&name, LOCAL_BATCH)?;
        for r in &routed {
            println!("  {} {} → {}  {}", r.event_id, r.rule, r.target, r.outcome);
        }
        if replay.is_final() {
            println!(
                "replay {name}: {} ({} events replayed)",
                replay.state, replay.replayed
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
}

fn run_aws(args: &Args, from_ms: i64, to_ms: i64) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let aws = AwsClients::from_env(&args.aws.settings()).await?;
        let archive = archives::describe_archive(&aws, &args.archive)
            .await?
            .ok_or_else(|| anyhow!("archive {} does not exist in {}", args.archive, aws.region))?;
        let bus_arn = archive.event_source_arn.clone();
        // arn:partition:events:region:account:event-bus/NAME
        let parts: Vec<&str> = bus_arn.splitn(6, ':').collect();
        let (region, account, bus) = match parts.as_slice() {
            [_, _, _, region, account, resource] => (
                *region,
                *account,
                resource.strip_prefix("event-bus/").unwrap_or(resource),
            ),
            _ => bail!(
                "archive {}: unexpected event source {bus_arn}",
                args.archive
            ),
        };
        let rule_arns = args
            .rules
            .iter()
            .map(|r| infra::arn::rule_arn(region, account, bus, r))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| replay_name(&[&args.archive, &now.to_string()]));
        let request = ReplayRequest {
            name: name.clone(),
            archive_arn: archive.arn.clone(),
            bus_arn: bus_arn.clone(),
            from_ms,
            to_ms,
            rule_arns,
        };
        archives::start_replay(&aws, &request).await?;
        println!(
            "replay {name}: started, archive {} → bus {bus}{} (Ctrl-C cancels it)",
            args.archive,
            if args.rules.is_empty() {
                String::new()
            } else {
                format!(", rules {}", args.rules.join(", "))
            }
        );
        watch(&aws, &name).await
    })
}

/// Polls DescribeReplay until the replay ends, printing each change; the first Ctrl-C
/// cancels it (then it keeps watching until AWS says it stopped).
async fn watch(aws: &AwsClients, name: &str) -> anyhow::Result<ExitCode> {
    let mut last = None;
    let mut cancelled = false;
    let signal = super::shutdown_signal();
    tokio::pin!(signal);
    loop {
        let status = archives::describe_replay(aws, name).await?;
        let line = format!(
            "{}{}{}",
            status.state,
            status
                .last_replayed_ms
                .map(|t| format!(", replayed up to {}", rfc3339_seconds(t)))
                .unwrap_or_default(),
            status
                .reason
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        if last.as_ref() != Some(&line) {
            println!("replay {name}: {line}");
            last = Some(line);
        }
        if status.is_final() {
            return Ok(if status.state == "COMPLETED" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = &mut signal, if !cancelled => {
                cancelled = true;
                println!("replay {name}: cancelling");
                archives::cancel_replay(aws, name).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_valid_replay_names() {
        let long = "a".repeat(48);
        for parts in [
            vec!["orders", "2026-01-01T000000Z", "2026-01-02T000000Z"],
            vec![long.as_str(), "2026-01-01T000000Z", "2026-01-02T000000Z"],
        ] {
            let name = replay_name(&parts);
            assert!(
                name_problem("replay", &name, MAX_REPLAY_NAME).is_none(),
                "{name}"
            );
        }
        assert_eq!(replay_name(&["a b", "c:d"]), "a-b-c-d");
    }
}
