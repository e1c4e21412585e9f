//! `bridge normalize`: reads SQS message bodies, one per line (JSONL), and prints every
//! normalized event they carry, one JSON object per line (see `schema/event.schema.json`).
//!
//! A line of no AWS event shape prints a `message` (or `sns_confirmation`) event, as
//! `bridge consume` hands it to handlers; with `--strict` it is an error instead. A line that
//! is not JSON (or not UTF-8), or is a broken AWS shape, is reported on stderr with its line
//! number (and, under `--strict`, the shapes tried); the rest still go through, and the
//! exit code is 2 at the end if any line failed.
//! Bodies are never echoed to stderr (they may hold data the user did not mean to log).

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use bridge::event::{normalize_with, Strictness};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accept AWS event shapes only, as `bridge consume --strict` does: a line of any other
    /// shape is an error instead of a `message` / `sns_confirmation` event.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let strictness = if args.strict {
        Strictness::Strict
    } else {
        Strictness::Lenient
    };
    let failed = normalize_lines(
        stdin.lock(),
        &mut BufWriter::new(stdout.lock()),
        strictness,
        |n, e| {
            eprintln!("error: standard input, line {n}: {e}");
        },
    )?;
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
    strictness: Strictness,
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
        match normalize_with(body, strictness) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run_lines(input: &[u8], strictness: Strictness) -> (String, Vec<(usize, String)>, usize) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let failed = normalize_lines(input, &mut out, strictness, |n, e| {
            errors.push((n, e.to_string()))
        })
        .expect("in-memory I/O");
        (
            String::from_utf8(out).expect("UTF-8 output"),
            errors,
            failed,
        )
    }

    #[test]
    fn a_line_that_is_not_utf8_is_still_an_error_when_lenient() {
        let input = b"{\"order\": 1}\n\"caf\xe9\"\n\"ok\"\n";
        let (out, errors, failed) = run_lines(input, Strictness::Lenient);
        assert_eq!(failed, 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 2);
        assert!(errors[0].1.contains("not UTF-8"), "{errors:?}");
        assert_eq!(out.lines().count(), 2, "lines 1 and 3 are messages: {out}");
        let (_, errors, failed) = run_lines(input, Strictness::Strict);
        assert_eq!(
            failed, 3,
            "strict: the two messages are errors too: {errors:?}"
        );
    }
}
