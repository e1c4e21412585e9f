//! Ratios to the parse-only baseline that hold on a machine whose speed drifts: the
//! `serde_json::Value` parse and the matcher take turns on batches of events (each batch
//! parsed, then matched, the order swapped every batch), so a slowdown of the machine
//! lasting longer than a batch weighs on both sides alike. The criterion bench measures
//! the baseline once per run, seconds or minutes away from the row it is compared with.
//!
//!     cargo run --release -p bridge-patterns --example interleaved -- EVENTS LIMIT BATCH ROUNDS MODE CATEGORY...
//!
//! `BATCH` events are parsed or matched at a time: the whole `LIMIT` works on the same
//! data as one criterion iteration (small batches stay in cache, which flatters the
//! parse more than the matcher). `MODE` is `trusted` (`Matcher::matches_trusted_str_into`)
//! or `validating` (`Matcher::matches_str_into`); a `CATEGORY` is one of the citylots
//! bench's rule sets (`EXACT`, `PREFIX`, …) or `COMBINED` (all of them). `EVENTS` is a
//! JSONL file, plain or `.gz` (the bench's `citylots2.json.gz`). Prints, per category,
//! parse time ÷ match time over all rounds, and the lowest and highest of the rounds.

use std::time::{Duration, Instant};

use patterns::Matcher;

mod shared;

#[path = "../benches/common/citylots_rules.rs"]
mod citylots_rules;
use citylots_rules::{rules, CATEGORIES};

// The benches' own matcher builder and baseline, so that the ratios are theirs
// (`count_matches` is not used here).
#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;
use common::{matcher_of, parse_only};

fn matcher_for(category: &str) -> Result<Matcher, String> {
    let sources: Vec<&str> = match category {
        "COMBINED" => CATEGORIES.iter().flat_map(|c| rules(c)).collect(),
        c if CATEGORIES.contains(&c) => rules(c),
        other => return Err(format!("no category {other}: {CATEGORIES:?} or COMBINED")),
    };
    Ok(matcher_of(&sources))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        return Err(
            "usage: interleaved EVENTS LIMIT BATCH ROUNDS trusted|validating CATEGORY...".into(),
        );
    }
    let limit: usize = args[2].parse()?;
    let batch_len: usize = args[3].parse::<usize>()?.max(1);
    let rounds: usize = args[4].parse()?;
    let trusted = match args[5].as_str() {
        "trusted" => true,
        "validating" => false,
        other => return Err(format!("MODE is trusted or validating, not {other}").into()),
    };
    let events = shared::read_lines(&args[1], limit)?;
    for category in &args[6..] {
        let matcher = matcher_for(category)?;
        let mut names = Vec::new();
        let mut matches = 0usize;
        let mut run = |batch: &[String]| -> Result<Duration, patterns::EventError> {
            let start = Instant::now();
            for event in batch {
                if trusted {
                    matcher.matches_trusted_str_into(event, &mut names)?;
                } else {
                    matcher.matches_str_into(event, &mut names)?;
                }
                matches += names.len();
            }
            Ok(start.elapsed())
        };
        let (mut parsing, mut matching) = (Duration::ZERO, Duration::ZERO);
        let mut per_round = Vec::new();
        for _ in 0..rounds {
            let (mut p, mut m) = (Duration::ZERO, Duration::ZERO);
            for (i, batch) in events.chunks(batch_len).enumerate() {
                let timed_parse = |p: &mut Duration| {
                    let start = Instant::now();
                    std::hint::black_box(parse_only(batch));
                    *p += start.elapsed();
                };
                if i % 2 == 0 {
                    timed_parse(&mut p);
                    m += run(batch)?;
                } else {
                    m += run(batch)?;
                    timed_parse(&mut p);
                }
            }
            per_round.push(p.as_secs_f64() / m.as_secs_f64());
            parsing += p;
            matching += m;
        }
        per_round.sort_by(f64::total_cmp);
        println!(
            "{category}: {:.2}x parse-only (rounds {:.2} to {:.2}; {:.0} ns per event matched; {matches} matches)",
            parsing.as_secs_f64() / matching.as_secs_f64(),
            per_round.first().copied().unwrap_or(0.0),
            per_round.last().copied().unwrap_or(0.0),
            matching.as_secs_f64() * 1e9 / (rounds * events.len()) as f64,
        );
    }
    Ok(())
}
