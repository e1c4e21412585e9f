//! Matches every line of a JSONL file (plain or `.gz`) against a directory of pattern
//! files, `REPEAT` times, and prints the match count: a fixed workload for instruction
//! counting (`valgrind --tool=callgrind`), which, unlike wall time, is repeatable on a
//! busy machine.
//!
//!     cargo run --release -p bridge-patterns --example match_file -- PATTERN_DIR EVENTS [LIMIT] [REPEAT] [trusted]
//!
//! `trusted` matches through `Matcher::matches_trusted_str_into`.

use patterns::{Matcher, Pattern};

mod shared;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: match_file PATTERN_DIR EVENTS [LIMIT] [REPEAT] [trusted]".into());
    }
    let limit: usize = args.get(3).map_or(Ok(usize::MAX), |s| s.parse())?;
    let repeat: usize = args.get(4).map_or(Ok(1), |s| s.parse())?;
    let trusted = args.get(5).is_some_and(|s| s == "trusted");
    let mut matcher = Matcher::new();
    let mut paths: Vec<_> = std::fs::read_dir(&args[1])?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        matcher.add(name, &Pattern::parse(&std::fs::read_to_string(path)?)?);
    }
    let events = shared::read_lines(&args[2], limit)?;
    let mut matches = 0usize;
    let mut names = Vec::new();
    for _ in 0..repeat {
        for event in &events {
            if trusted {
                matcher.matches_trusted_str_into(event, &mut names)?;
            } else {
                matcher.matches_str_into(event, &mut names)?;
            }
            matches += names.len();
        }
    }
    println!("{} events x {repeat}: {matches} matches", events.len());
    Ok(())
}
