//! `bridge normalize`: reads SQS message bodies, one per line (JSONL), and prints every
//! normalized event they carry, one JSON object per line (see `schema/event.schema.json`).
//!
//! A line that is no known shape is reported on stderr with its line number and the shapes
//! tried; the rest still go through, and the exit code is 2 at the end if any line failed.
//! Bodies are never echoed to stderr (they may hold data the user did not mean to log).

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let failed = normalize_lines(stdin.lock(), &mut BufWriter::new(stdout.lock()), |n, e| {
        eprintln!("error: standard input, line {n}: {e}");
    })?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} line(s) could not be normalized");
        ExitCode::from(2)
    })
}

/// Normalizes each non-blank line of `input` into `out`; reports failures through
/// `on_error(line_number, error)` and returns how many lines failed.
fn normalize_lines(
    mut input: impl BufRead,
    out: &mut impl Write,
    mut on_error: impl FnMut(usize, &dyn std::fmt::Display),
) -> anyhow::Result<usize> {
    let mut failed = 0usize;
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading message bodies from standard input")?
            == 0
        {
            break;
        }
        number += 1;
        let Ok(text) = std::str::from_utf8(&line) else {
            failed += 1;
            on_error(number, &"the line is not UTF-8 text");
            continue;
        };
        let body = text.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() {
            continue;
        }
        match bridge::event::normalize(body) {
            Ok(events) => {
                for event in &events {
                    serde_json::to_writer(&mut *out, event).context("writing an event")?;
                    out.write_all(b"\n").context("writing an event")?;
                }
            }
            Err(e) => {
                failed += 1;
                on_error(number, &e);
            }
        }
    }
    out.flush().context("writing events to standard output")?;
    Ok(failed)
}
