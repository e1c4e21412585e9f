//! `bridge test`: the project's own golden tests, offline. A project keeps sample events in
//! `events/` (or `tests/`) and, in `expected.json` there, per event file the rules it must
//! reach and the exact body each of their targets receives (as the local backend delivers
//! it: the event, or `input` / `input_path` / the transformer's result). `--update` writes
//! what the project does now (snapshot style); review the diff before committing it.
//!
//! An entry may also be a plain list of rule names: then only the rules are checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use infra::local::deliveries::{deliveries, Deliveries};
use infra::local::Resolver;
use rules::desired::Desired;
use serde_json::{Map, Value};

use super::shared::local_config;

/// The file of expectations inside a test directory.
const EXPECTED: &str = "expected.json";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<TestCommand>,
    /// The project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Write what the project delivers now into each `expected.json` (snapshot style).
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum TestCommand {
    /// Write a sample event in AWS's exact shape, to add to `events/`.
    New(NewArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum S3Change {
    ObjectCreated,
    ObjectDeleted,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The S3 event EventBridge delivers for this change.
    #[arg(long, value_enum)]
    pub s3: S3Change,
    #[arg(long)]
    pub bucket: String,
    #[arg(long)]
    pub key: String,
    /// The object's size in bytes (created objects).
    #[arg(long, default_value_t = 0)]
    pub size: u64,
    /// The event's time, RFC 3339 (default: now).
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn new_event(args: NewArgs) -> anyhow::Result<ExitCode> {
    let now_ms = match &args.time {
        Some(t) => infra::local::clock::parse_rfc3339(t).ok_or_else(|| {
            anyhow::anyhow!("--time {t:?} is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)")
        })?,
        None => infra::local::Clock::System.now_ms(),
    };
    let event = infra::local::buckets::sample_eventbridge_event(
        matches!(args.s3, S3Change::ObjectCreated),
        &args.bucket,
        &args.key,
        args.size,
        &args.region,
        &args.account,
        now_ms,
    );
    let text = serde_json::to_string_pretty(&event)? + "\n";
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(TestCommand::New(new)) = args.command {
        return new_event(new);
    }
    let dir = args.project.unwrap_or_else(|| PathBuf::from("."));
    let project = match rules::load(&dir) {
        Ok(project) => project,
        Err(diagnostics) => {
            for d in &diagnostics.0 {
                eprintln!("error: {d}");
            }
            bail!(
                "{} problem(s) in the project at {}",
                diagnostics.0.len(),
                dir.display()
            );
        }
    };
    let root = project
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.clone());
    let desired = Desired::from_project(&project, None)?;
    let config = local_config(Some(&project));
    let state_dir = project.local_state_dir();
    let resolver = Resolver {
        config: &config,
        state_dir: &state_dir,
    };
    let test_dirs: Vec<PathBuf> = ["events", "tests"]
        .iter()
        .map(|d| root.join(d))
        .filter(|d| d.is_dir())
        .collect();
    if test_dirs.is_empty() {
        bail!(
            "{}: no events/ or tests/ directory with sample events; add one with an event \
             file and run `bridge test --update` to record what it reaches",
            root.display()
        );
    }
    let (mut checked, mut failed) = (0, 0);
    for test_dir in &test_dirs {
        let samples = sample_files(test_dir)?;
        let expected_path = test_dir.join(EXPECTED);
        let mut expected = read_expected(&expected_path)?;
        let mut updated = Map::new();
        for name in &samples {
            let path = test_dir.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let actual = deliveries(&desired, &text, resolver)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            checked += 1;
            let shown = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if args.update {
                updated.insert(name.clone(), snapshot(&actual));
                println!("updated {shown}: {}", rule_list(&actual));
                continue;
            }
            let problems = match expected.remove(name) {
                None => vec![format!(
                    "no entry in {EXPECTED}: run `bridge test --update` to record it"
                )],
                Some(want) => compare(&want, &actual),
            };
            if problems.is_empty() {
                println!("ok   {shown} → {}", rule_list(&actual));
            } else {
                failed += 1;
                println!("FAIL {shown}");
                for p in problems {
                    println!("       {p}");
                }
            }
        }
        if args.update {
            let text = serde_json::to_string_pretty(&Value::Object(updated))? + "\n";
            std::fs::write(&expected_path, text)
                .with_context(|| format!("writing {}", expected_path.display()))?;
        } else {
            for stale in expected.keys() {
                failed += 1;
                println!(
                    "FAIL {}: {EXPECTED} lists {stale}, which is not a sample event here",
                    test_dir.display()
                );
            }
        }
    }
    if args.update {
        println!("{checked} event(s) recorded; review the diff before committing it");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{checked} event(s) checked: {} as expected, {failed} not",
        checked - failed.min(checked)
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The sample events of a test directory: every `*.json` but `expected.json`, sorted.
fn sample_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && name != EXPECTED {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn read_expected(path: &Path) -> anyhow::Result<Map<String, Value>> {
    if !path.exists() {
        return Ok(Map::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!(
            "{}: must be an object of event file → expectations",
            path.display()
        ),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// A body as the expectations keep it: JSON when it is JSON (readable, and compared as
/// JSON), else the text.
fn body_value(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

fn snapshot(actual: &Deliveries) -> Value {
    Value::Object(
        actual
            .iter()
            .map(|(rule, targets)| {
                let targets = targets
                    .iter()
                    .map(|(id, body)| (id.clone(), body_value(body)))
                    .collect();
                (rule.clone(), Value::Object(targets))
            })
            .collect(),
    )
}

fn rule_list(actual: &Deliveries) -> String {
    if actual.is_empty() {
        "no rule".to_string()
    } else {
        actual.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// What differs between an expectation and the deliveries, one readable line each.
fn compare(want: &Value, actual: &Deliveries) -> Vec<String> {
    let got_rules: Vec<&String> = actual.keys().collect();
    let want_rules: BTreeMap<String, Option<&Map<String, Value>>> = match want {
        Value::Array(names) => names
            .iter()
            .map(|n| (n.as_str().unwrap_or_default().to_string(), None))
            .collect(),
        Value::Object(rules) => rules
            .iter()
            .map(|(name, targets)| (name.clone(), targets.as_object()))
            .collect(),
        _ => {
            return vec![
                "an entry is a list of rule names or an object rule → target → body".into(),
            ]
        }
    };
    let mut out = Vec::new();
    for rule in want_rules.keys() {
        if !actual.contains_key(rule) {
            out.push(format!("- rule {rule}: expected to match, did not"));
        }
    }
    for rule in &got_rules {
        if !want_rules.contains_key(*rule) {
            out.push(format!("+ rule {rule}: matched, not expected"));
        }
    }
    for (rule, targets) in &want_rules {
        let (Some(targets), Some(got)) = (targets, actual.get(rule)) else {
            continue;
        };
        for (id, body) in got {
            match targets.get(id) {
                None => out.push(format!(
                    "+ rule {rule} target {id}: receives a body, not expected"
                )),
                Some(want_body) if *want_body != body_value(body) => {
                    out.push(format!("~ rule {rule} target {id}:"));
                    out.push(format!("    expected {}", compact(want_body)));
                    out.push(format!("    got      {}", compact(&body_value(body))));
                }
                Some(_) => {}
            }
        }
        for id in targets.keys().filter(|id| !got.contains_key(*id)) {
            out.push(format!(
                "- rule {rule} target {id}: expected, the rule has no such target"
            ));
        }
    }
    out
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got() -> Deliveries {
        BTreeMap::from([(
            "r".to_string(),
            BTreeMap::from([("q".to_string(), r#"{"a": 1}"#.to_string())]),
        )])
    }

    #[test]
    fn bodies_compare_as_json_and_every_difference_is_named() {
        assert!(compare(&serde_json::json!({"r": {"q": {"a": 1}}}), &got()).is_empty());
        assert!(compare(&serde_json::json!(["r"]), &got()).is_empty());
        let changed = compare(&serde_json::json!({"r": {"q": {"a": 2}}}), &got());
        assert_eq!(changed[0], "~ rule r target q:", "{changed:?}");
        let missing = compare(&serde_json::json!({"s": {}}), &got());
        assert!(missing.contains(&"- rule s: expected to match, did not".to_string()));
        assert!(missing.contains(&"+ rule r: matched, not expected".to_string()));
        assert_eq!(body_value("Package x"), Value::String("Package x".into()));
    }
}
