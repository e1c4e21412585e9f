//! `bridge match`: streams JSONL events through every pattern in a directory and prints,
//! for each event, the names of the patterns it matches.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use patterns::Matcher;

use super::shared::load_pattern;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of pattern files (`*.json`); each file's stem names its pattern.
    #[arg(long)]
    pub patterns: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let matcher = load_dir(&args.patterns)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    let mut line = Vec::new();
    let mut input = stdin.lock();
    let mut number = 0usize;
    loop {
        line.clear();
        // Bytes, not `read_line`: a line that is not UTF-8 is one bad line, reported and
        // skipped like the others, not the end of the stream.
        if input
            .read_until(b'\n', &mut line)
            .context("reading events from standard input")?
            == 0
        {
            break;
        }
        number += 1;
        let Ok(text) = std::str::from_utf8(&line) else {
            failed += 1;
            eprintln!(
                "error: standard input, line {number}: invalid event: the line is not UTF-8 text"
            );
            continue;
        };
        let event = text.trim_end_matches(['\n', '\r']);
        if event.trim().is_empty() {
            continue;
        }
        match matcher.matches_str(event) {
            Ok(names) => {
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({ "line": number, "rules": names }),
                )?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: standard input, line {number}: invalid event: {e}");
            }
        }
    }
    out.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Loads every `*.json` pattern in `dir`, reporting all invalid files at once.
pub fn load_dir(dir: &std::path::Path) -> anyhow::Result<Matcher> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading pattern directory {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut matcher = Matcher::new();
    let mut errors = Vec::new();
    for path in &paths {
        match load_pattern(path) {
            Ok(p) => {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                matcher.add(name, &p);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} invalid pattern file(s):\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    if paths.is_empty() {
        anyhow::bail!("{} holds no *.json pattern files", dir.display());
    }
    Ok(matcher)
}
