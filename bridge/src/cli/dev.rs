//! `bridge dev`: the whole pipeline on the embedded backend, in one process.
//!
//! Applies the project to the local state, watches the local buckets (directories), and prints
//! every routed event (`rule → target`) as it happens, including events that other processes
//! (`bridge put-event --local`) send. `--example` runs the repository's `examples/` and makes
//! a few demo events itself (files written to and removed from a local bucket, a Quilt
//! package-revision event), so a newcomer sees events flowing without any setup.
//!
//! Until the `rules` crate's project model is wired in, a project is read by convention: each
//! `patterns/*.json` file is a rule (named after the file) on the default bus whose target is
//! the local queue `events`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use infra::local::clock::rfc3339_seconds;
use infra::local::{
    Activity, BucketSpec, DesiredRule, InputTransformer, LocalDesired, NotificationSpec,
    PutEventsEntry, QueueSpec, Redrive, RuleSpec, RuleState, Store, SubscriptionSpec, TargetSpec,
    TopicSpec,
};

use super::put_event::entry_from_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR", conflicts_with = "example")]
    pub project: Option<PathBuf>,
    /// Run the repository's `examples/` and generate demo events.
    #[arg(long)]
    pub example: bool,
    /// Where local state lives (default `.bridge`).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = infra::local::DEFAULT_STATE_DIR)]
    pub local: Option<PathBuf>,
    /// Scan once, print what was routed, and exit.
    #[arg(long, conflicts_with = "for_secs")]
    pub once: bool,
    /// Run for this many seconds, then exit (default: until interrupted).
    #[arg(long = "for", value_name = "SECONDS")]
    pub for_secs: Option<u64>,
    /// How often to scan the local buckets, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub interval_ms: u64,
}

const EXAMPLE_QUEUE: &str = "example-events";
const EXAMPLE_BUCKET: &str = "raw-data";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let state_dir = args
        .local
        .clone()
        .unwrap_or_else(|| PathBuf::from(infra::local::DEFAULT_STATE_DIR));
    let mut store = Store::open(&state_dir)
        .with_context(|| format!("opening local state in {}", state_dir.display()))?;
    let desired = if args.example {
        let examples = examples_dir()?;
        println!("bridge dev: example project {}", examples.display());
        example_project(&examples, store.dir())?
    } else {
        let project = args.project.clone().unwrap_or_else(|| PathBuf::from("."));
        println!("bridge dev: project {}", project.display());
        conventional_project(&project)?
    };
    println!(
        "local state: {} (delete the directory to start over)",
        store.database_path().display()
    );
    let mut last_id = store.last_activity_id()?;
    let applied = store
        .apply(&desired, true)
        .context("applying the project to the local state")?;
    for change in &applied {
        println!("  {change}");
    }
    if applied.is_empty() {
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
    println!("routing (rule → target):");

    if args.example {
        demo_events(&mut store, &mut last_id)?;
    }
    let deadline = args
        .for_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    loop {
        store.scan_buckets().context("scanning local buckets")?;
        print_activity(&mut store, &mut last_id)?;
        if args.once || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(args.interval_ms.max(10)));
    }
    println!("queues:");
    for q in store.list_queues()? {
        let c = store.queue_counts(&q.name)?;
        println!(
            "  {}: {} available, {} in flight, {} delayed",
            q.name, c.visible, c.in_flight, c.delayed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints activity newer than `last_id` and advances it.
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
    if here.join("patterns").is_dir() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples");
    if built.join("patterns").is_dir() {
        return Ok(std::fs::canonicalize(&built).unwrap_or(built));
    }
    bail!(
        "no examples/ directory here or at {}; run from the repository root",
        built.display()
    )
}

/// Every `patterns/*.json` of `dir` as (rule name, pattern text), sorted by name.
fn pattern_rules(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let patterns = dir.join("patterns");
    let entries =
        std::fs::read_dir(&patterns).with_context(|| format!("reading {}", patterns.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", patterns.display()))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        patterns::Pattern::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: invalid event pattern: {e}", path.display()))?;
        out.push((name, text));
    }
    out.sort();
    Ok(out)
}

fn rule(name: &str, pattern: &str) -> RuleSpec {
    RuleSpec {
        bus: "default".into(),
        name: name.into(),
        pattern: pattern.into(),
        state: RuleState::Enabled,
        description: None,
    }
}

/// A project by convention: `patterns/*.json` → rules → the queue `events`.
fn conventional_project(dir: &Path) -> anyhow::Result<LocalDesired> {
    let queue = QueueSpec::new("events");
    let arn = format!(
        "arn:aws:sqs:us-east-1:{}:events",
        infra::local::LOCAL_ACCOUNT
    );
    let rules = pattern_rules(dir)?
        .into_iter()
        .map(|(name, text)| DesiredRule {
            rule: rule(&name, &text),
            targets: vec![TargetSpec::new("events", &arn)],
        })
        .collect();
    Ok(LocalDesired {
        queues: vec![queue],
        rules,
        ..LocalDesired::default()
    })
}

/// The example project: the example patterns as rules, a queue with a DLQ, a topic with an
/// e-mail subscription fed through an input transformer, and a local bucket with EventBridge
/// delivery on and a native notification.
fn example_project(examples: &Path, state_dir: &Path) -> anyhow::Result<LocalDesired> {
    let arn = |service: &str, name: &str| {
        format!(
            "arn:aws:{service}:us-east-1:{}:{name}",
            infra::local::LOCAL_ACCOUNT
        )
    };
    let dlq = QueueSpec::new(format!("{EXAMPLE_QUEUE}-dlq"));
    let queue = QueueSpec {
        redrive: Some(Redrive {
            dead_letter_target_arn: arn("sqs", &dlq.name),
            max_receive_count: 3,
        }),
        ..QueueSpec::new(EXAMPLE_QUEUE)
    };
    let uploads = QueueSpec::new("raw-data-uploads");
    let topic = TopicSpec::new("package-alerts");
    let mut rules = Vec::new();
    for (name, text) in pattern_rules(examples)? {
        let mut targets = vec![TargetSpec::new("queue", arn("sqs", EXAMPLE_QUEUE))];
        if name.contains("quilt") {
            targets.push(TargetSpec {
                input_transformer: Some(InputTransformer {
                    input_paths_map: [
                        ("handle", "$.detail.handle"),
                        ("bucket", "$.detail.bucket"),
                        ("hash", "$.detail.topHash"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                    input_template: "Package <handle> has a new revision <hash> in s3://<bucket>"
                        .into(),
                }),
                ..TargetSpec::new("alerts", arn("sns", &topic.name))
            });
        }
        rules.push(DesiredRule {
            rule: rule(&name, &text),
            targets,
        });
    }
    let bucket = BucketSpec {
        name: EXAMPLE_BUCKET.into(),
        dir: state_dir.join("buckets").join(EXAMPLE_BUCKET),
        eventbridge: true,
        notifications: vec![NotificationSpec {
            id: "uploads".into(),
            target_arn: arn("sqs", &uploads.name),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("uploads/".into()),
            suffix: None,
        }],
    };
    Ok(LocalDesired {
        queues: vec![dlq, queue, uploads],
        topics: vec![topic.clone()],
        subscriptions: vec![SubscriptionSpec::new(
            arn("sns", &topic.name),
            "email",
            "data-team@example.com",
        )],
        rules,
        buckets: vec![bucket],
        ..LocalDesired::default()
    })
}

/// Makes events happen: an upload, a non-matching file, a deletion, a Quilt package revision.
fn demo_events(store: &mut Store, last_id: &mut i64) -> anyhow::Result<()> {
    let bucket = store
        .list_buckets()?
        .into_iter()
        .find(|b| b.name == EXAMPLE_BUCKET)
        .context("the example bucket is missing")?;
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
    store.scan_buckets()?;
    print_activity(store, last_id)?;

    println!("demo: deleting {txt}");
    let path = bucket.dir.join(&txt);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    store.scan_buckets()?;
    print_activity(store, last_id)?;

    let event_file = examples_dir()?
        .join("events")
        .join("quilt-package-revision.json");
    let text = std::fs::read_to_string(&event_file)
        .with_context(|| format!("reading {}", event_file.display()))?;
    let compact: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", event_file.display()))?;
    let mut entry: PutEventsEntry = entry_from_json(&compact.to_string(), "default")
        .with_context(|| event_file.display().to_string())?;
    entry.time = None;
    println!(
        "demo: put-event {} / {}",
        entry.source.as_deref().unwrap_or(""),
        entry.detail_type.as_deref().unwrap_or("")
    );
    let out = store.put_events(&[entry])?;
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
