//! `bridge dev`: the whole pipeline on the embedded backend, in one process.
//!
//! Applies the project to the local state, watches the local buckets (directories), and prints
//! every routed event (`rule → target`) as it happens, including events that other processes
//! (`bridge put-event --local`) send. `--example` runs the repository's `examples/` and makes
//! a few demo events itself (files written to and removed from a local bucket, a Quilt
//! package-revision event), so a newcomer sees events flowing without any setup.
//!
//! The project is the same `bridge.json` + `rules/*.json` that `plan`/`apply` use for AWS,
//! loaded and validated by the `rules` crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::args::LocalArg;
use anyhow::{bail, Context};
use infra::local::clock::rfc3339_seconds;
use infra::local::{Activity, Clock, Config, GroupCommit, PutEventsEntry, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR", conflicts_with = "example")]
    pub project: Option<PathBuf>,
    /// Run the repository's `examples/` and generate demo events.
    #[arg(long)]
    pub example: bool,
    #[command(flatten)]
    pub local: LocalArg,
    /// Scan once, print what was routed, and exit.
    #[arg(long, conflicts_with = "for_secs")]
    pub once: bool,
    /// Run for this many seconds, then exit (default: until interrupted).
    #[arg(long = "for", value_name = "SECONDS")]
    pub for_secs: Option<u64>,
    /// How often to scan the local buckets when polling (and to check for due schedules and
    /// other processes' activity), in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub interval_ms: u64,
    /// Only poll the bucket directories every `--interval-ms`, without file-system watching
    /// (a file created and deleted between two scans then produces no event).
    #[arg(long)]
    pub poll: bool,
    /// Serve the local console (wiring, live events, queues, outbox, a send form) in a
    /// browser, on 127.0.0.1 unless --ui-addr says otherwise.
    #[arg(long, conflicts_with = "once")]
    pub ui: bool,
    /// The console's address (implies --ui; port 0: any free port; default
    /// 127.0.0.1:8472). Not loopback: reachable from the network, with a warning.
    #[arg(long, value_name = "ADDR", conflicts_with = "once")]
    pub ui_addr: Option<std::net::SocketAddr>,
    /// Also answer AWS's own APIs (S3, SQS, SNS, EventBridge data plane) on ADDR, so that
    /// unchanged SDK code runs against the local backend (`AWS_ENDPOINT_URL=http://ADDR`).
    /// Signatures are accepted, not verified. Port 0 picks a free port (printed).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = bridge::serve::DEFAULT_ADDR)]
    pub serve: Option<std::net::SocketAddr>,
}

/// With watching, how often a full scan reconciles the buckets anyway (it also runs when the
/// platform says it dropped events, and when a directory appears or vanishes).
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

const EXAMPLE_BUCKET: &str = "raw-data";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project_dir = if args.example {
        examples_dir()?
    } else {
        args.project.clone().unwrap_or_else(|| PathBuf::from("."))
    };
    let project = match rules::load(&project_dir) {
        Ok(p) => p,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            bail!(
                "the project in {} has problems (listed above)",
                project_dir.display()
            );
        }
    };
    println!(
        "bridge dev: project {} (stack {})",
        project.path.display(),
        project.file.stack
    );
    // --local, else the project's own `local_state_dir`, else `.bridge` here (where
    // `put-event --local` and `consume --local` look by default).
    // `dev` is always local: a bare `--local` is the same as none.
    let state_dir = match (args.local.dir(), &project.file.local_state_dir) {
        (Some(dir), _) if args.local.explicit_dir() => dir,
        (_, Some(_)) => project.local_state_dir(),
        _ => PathBuf::from(infra::local::DEFAULT_STATE_DIR),
    };
    let config = Config {
        region: project
            .file
            .region
            .clone()
            .unwrap_or_else(|| Config::default().region),
        ..Config::default()
    };
    // One `dev` per state directory, held until this process ends.
    let _lock = infra::local::StateLock::acquire(&state_dir)?;
    let mut store = Store::open_with(&state_dir, config, Clock::System)
        .with_context(|| format!("opening local state in {}", state_dir.display()))?;
    let desired = rules::desired::Desired::from_project(&project, None)?;
    println!(
        "local state: {} (delete the directory to start over)",
        store.database_path().display()
    );
    store.prune_activity(10_000)?;
    let mut last_id = store.last_activity_id()?;
    // `dev` mirrors the project: what it no longer declares goes (prune).
    let plan = store
        .sync(&desired, true)
        .context("applying the project to the local state")?;
    for step in &plan.steps {
        println!("  {} {step}", step.symbol());
    }
    if plan.is_empty() {
        println!("  (local state already matches the project)");
    }
    for bucket in store.list_buckets()? {
        println!(
            "bucket {}: {} (files written here become S3 events)",
            bucket.name,
            bucket.dir.display()
        );
    }
    println!("e-mail outbox: {}", store.outbox_dir().display());
    // One writer for the process: the bucket scans, schedules and replays below, and the
    // server's requests (--serve), share its transactions and fsyncs instead of queueing for
    // SQLite's lock. `store` stays for reads.
    let writer = Arc::new(
        Store::open_with(&state_dir, store.config().clone(), Clock::System)
            .and_then(GroupCommit::new)
            .with_context(|| format!("opening local state in {}", state_dir.display()))?,
    );
    if args.ui || args.ui_addr.is_some() {
        let addr = match args.ui_addr {
            Some(addr) => addr,
            None => crate::ui::DEFAULT_ADDR
                .parse()
                .context("the console's default address")?,
        };
        let console = crate::ui::start(crate::ui::Options {
            addr,
            state_dir: state_dir.clone(),
            config: store.config().clone(),
            stack: desired.stack.clone(),
            project: project.path.clone(),
            graph_svg: rules::graph::Graph::of(&desired).svg(),
        })?;
        if !console.addr.ip().is_loopback() {
            eprintln!(
                "warning: the console listens on {}, which other machines can reach: anyone there \
                 can read message bodies and send events (use a 127.0.0.1 address to keep it local)",
                console.addr
            );
        }
        println!("console: {}", console.url());
    }
    if let Some(addr) = args.serve {
        if !bridge::serve::is_loopback(&addr) {
            eprintln!(
                "warning: --serve {addr} is reachable from other machines, and requests are not authenticated (signatures are not verified); use 127.0.0.1 unless that is what you want"
            );
        }
        let server = bridge::serve::start(bridge::serve::ServeOptions {
            addr,
            state_dir: state_dir.clone(),
            config: store.config().clone(),
            writer: Some(Arc::clone(&writer)),
        })?;
        println!(
            "serving S3, SQS, SNS and EventBridge on http://{0} (export AWS_ENDPOINT_URL=http://{0}; see docs/serve.md)",
            server.addr
        );
    }
    println!("routing (rule → target):");

    if args.example {
        demo_events(&mut store, &writer, &mut last_id)?;
    }
    let deadline = args
        .for_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    // Bucket directories are watched (inotify and the like) unless `--poll` (or `--once`)
    // says otherwise or the platform cannot; the periodic scan stays as the reconciliation.
    let interval = Duration::from_millis(args.interval_ms.max(10));
    let mut watcher = None;
    if !args.once && !args.poll {
        match infra::local::BucketWatcher::start(&store.list_buckets()?) {
            Ok(w) => {
                println!(
                    "watching the bucket directories (changes are seen as they happen; a full scan reconciles every {} s)",
                    RECONCILE_EVERY.as_secs()
                );
                watcher = Some(w);
            }
            Err(e) => eprintln!(
                "bridge dev: cannot watch the bucket directories ({e}); polling them every {} ms",
                interval.as_millis()
            ),
        }
    } else if args.poll {
        println!(
            "polling the bucket directories every {} ms (--poll)",
            interval.as_millis()
        );
    }
    let mut last_full_scan: Option<Instant> = None;
    let mut last_scan_error = None;
    let mut last_tick_error = None;
    let mut last_expiry = None;
    loop {
        // A failed scan (a bucket directory that cannot be read or made again) is
        // reported once and retried: `dev` keeps routing the rest.
        let scan_due = watcher.as_ref().is_none_or(|w| {
            w.wants_scan() || last_full_scan.is_none_or(|t| t.elapsed() >= RECONCILE_EVERY)
        });
        let scanned = (|| -> infra::local::Result<()> {
            if let Some(w) = watcher.as_mut() {
                w.deliver_via(&mut store, Some(&writer))?;
            }
            if scan_due {
                match watcher.as_mut() {
                    Some(w) => w.scan_via(&mut store, Some(&writer))?,
                    None => store.scan_buckets_via(Some(&writer))?,
                };
                last_full_scan = Some(Instant::now());
            }
            Ok(())
        })();
        report_once(
            &mut last_scan_error,
            scanned.map_err(|e| format!("scanning local buckets: {e}")),
        );
        // Schedules, archives' retention, replays left running (by an interrupted
        // `bridge replay --local`, one batch per tick): a write that fails changed nothing
        // (each is its own transaction) and the next tick tries again, so an error is
        // reported once while it repeats and `dev` goes on serving.
        let maintained = (|| -> anyhow::Result<()> {
            writer
                .write(|w| w.fire_due_schedules())
                .context("firing scheduled rules")?;
            if last_expiry.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(60)) {
                writer
                    .write(|w| w.expire_archives())
                    .context("expiring archived events")?;
                last_expiry = Some(Instant::now());
            }
            for name in store.running_replays()? {
                let step = name.clone();
                writer
                    .write(move |w| w.replay_step(&step, 100))
                    .with_context(|| format!("resuming replay {name}"))?;
            }
            Ok(())
        })();
        report_once(
            &mut last_tick_error,
            maintained.map_err(|e| format!("{e:#}")),
        );
        print_activity(&mut store, &mut last_id)?;
        if args.once || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        match &watcher {
            Some(w) => w.wait(interval),
            None => std::thread::sleep(interval),
        }
    }
    println!("queues:");
    for q in store.list_queues()? {
        let c = store.queue_counts(&q.name)?;
        println!(
            "  {}: {} available, {} in flight, {} delayed",
            q.name, c.visible, c.in_flight, c.delayed
        );
    }
    let w = writer.stats();
    println!(
        "writer: {} calls in {} commits, {} fsyncs",
        w.calls, w.commits, w.syncs
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints activity newer than `last_id` and advances it.
/// Reports a step of the loop that failed (it is tried again every tick) once while the
/// same error repeats; `last` is forgotten once the step succeeds.
fn report_once(last: &mut Option<String>, outcome: Result<(), String>) {
    match outcome {
        Ok(()) => *last = None,
        Err(text) => {
            if last.as_ref() != Some(&text) {
                eprintln!("bridge dev: {text}; retrying");
            }
            *last = Some(text);
        }
    }
}

fn print_activity(store: &mut Store, last_id: &mut i64) -> anyhow::Result<()> {
    loop {
        let rows = store.activity_since(*last_id, 500)?;
        if rows.is_empty() {
            return Ok(());
        }
        for a in &rows {
            println!("{}", render(a));
            *last_id = a.id;
        }
    }
}

fn short(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, service, _, _, name] => format!("{service}:{name}"),
        _ => arn.to_string(),
    }
}

fn render(a: &Activity) -> String {
    let time = rfc3339_seconds(a.at_ms);
    let origin = match a.origin.split_once(' ') {
        Some(("topic", arn)) => format!("topic {}", short(arn)),
        Some(("redrive", arn)) => format!("redrive {}", short(arn)),
        _ => a.origin.clone(),
    };
    format!(
        "{}  {origin} → {}  {}  [{}]",
        &time[11..19],
        short(&a.target),
        a.outcome,
        a.message_id
    )
}

/// `examples/` of the working directory, or of the source tree this binary was built from.
fn examples_dir() -> anyhow::Result<PathBuf> {
    let here = PathBuf::from("examples");
    if here.join("bridge.json").is_file() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples");
    if built.join("bridge.json").is_file() {
        return Ok(std::fs::canonicalize(&built).unwrap_or(built));
    }
    bail!(
        "no examples/ directory here or at {}; run from the repository root",
        built.display()
    )
}

/// Makes events happen: an upload, a non-matching file, a deletion, a Quilt package revision.
fn demo_events(store: &mut Store, writer: &GroupCommit, last_id: &mut i64) -> anyhow::Result<()> {
    let bucket = store
        .list_buckets()?
        .into_iter()
        .find(|b| b.name == EXAMPLE_BUCKET)
        .context("the example project declares no bucket raw-data")?;
    let stamp = store.clock().now_ms();
    let write = |key: &str, body: &str| -> anyhow::Result<()> {
        let path = bucket.dir.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))
    };
    let png = format!("uploads/cat-{stamp}.png");
    let txt = format!("uploads/notes-{stamp}.txt");
    println!("demo: writing {png} and {txt} into bucket {EXAMPLE_BUCKET}");
    write(&png, "\u{89}PNG not really")?;
    write(&txt, "hello")?;
    store.scan_buckets_via(Some(writer))?;
    print_activity(store, last_id)?;

    println!("demo: deleting {txt}");
    let path = bucket.dir.join(&txt);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    store.scan_buckets_via(Some(writer))?;
    print_activity(store, last_id)?;

    let event_file = examples_dir()?
        .join("events")
        .join("quilt-package-revision.json");
    let text = std::fs::read_to_string(&event_file)
        .with_context(|| format!("reading {}", event_file.display()))?;
    let compact: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", event_file.display()))?;
    let mut entry: PutEventsEntry = PutEventsEntry::from_json_line(&compact.to_string(), "default")
        .map_err(|e| anyhow::anyhow!("{}: {e}", event_file.display()))?;
    entry.time = None;
    println!(
        "demo: put-event {} / {}",
        entry.source.as_deref().unwrap_or(""),
        entry.detail_type.as_deref().unwrap_or("")
    );
    let out = writer.put_events(vec![entry])?;
    for e in &out.entries {
        if let Some(code) = &e.error_code {
            bail!(
                "demo event rejected: {code}: {}",
                e.error_message.as_deref().unwrap_or("")
            );
        }
    }
    print_activity(store, last_id)
}
