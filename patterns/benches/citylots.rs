//! Matching throughput on citylots-shaped events (see `../shared/bench/`), per rule-set
//! category (5 rules each, as event-ruler's benchmark), against a parse-only baseline
//! (`serde_json` to a `Value`, same lines) measured in the same run, and with 10 /
//! 1,000 / 10,000 rules.
//!
//! The floor is measured in the same run too: simd-json (a Rust port of simdjson) parsing
//! the same lines to a borrowed tree, and to its tape only (every byte validated, no
//! tree). Each category also runs through `matches_trusted_str_into` (`…-trusted`), which
//! skips unnamed subtrees by their brackets instead of validating them.
//!
//! Data: `$BRIDGE_BENCH_DATA` or `target/bench-data/`; generated there on first use by
//! `../shared/bench/gen_citylots_like.py` (about 30 s). `BRIDGE_BENCH_EVENTS` picks how
//! many events are matched per iteration (default 20,000; the whole file has 213,068).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use patterns::Matcher;
use simd_json::prelude::*;

mod common;
use common::{count_matches, matcher_of, parse_only};
#[path = "common/citylots_rules.rs"]
mod citylots_rules;
use citylots_rules::{rules, CATEGORIES};

/// `count_matches` through `matches_trusted_str_into`.
fn count_trusted_matches(m: &Matcher, events: &[String]) -> usize {
    let mut names = Vec::new();
    events
        .iter()
        .map(|e| {
            m.matches_trusted_str_into(e, &mut names)
                .expect("valid event");
            names.len()
        })
        .sum()
}

/// The SIMD floor: every event parsed by simd-json to a borrowed tree (copied first into
/// a buffer it may write to, as it requires).
fn simd_parse_only(events: &[String]) -> usize {
    let mut buffers = simd_json::Buffers::default();
    let mut text = Vec::new();
    events
        .iter()
        .map(|e| {
            text.clear();
            text.extend_from_slice(e.as_bytes());
            let value =
                simd_json::to_borrowed_value_with_buffers(&mut text, &mut buffers).expect("valid");
            value.as_object().map_or(0, |o| o.len())
        })
        .sum()
}

/// The SIMD floor without a tree: simd-json's tape only (stage 1's structural index and
/// stage 2's validation; strings unescaped, numbers converted).
fn simd_skip_only(events: &[String]) -> usize {
    let mut buffers = simd_json::Buffers::default();
    let mut text = Vec::new();
    events
        .iter()
        .map(|e| {
            text.clear();
            text.extend_from_slice(e.as_bytes());
            let tape = simd_json::to_tape_with_buffers(&mut text, &mut buffers).expect("valid");
            tape.0.len()
        })
        .sum()
}

fn data_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::var_os("BRIDGE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench-data"))
}

fn load_events() -> Vec<String> {
    let dir = data_dir();
    let file = dir.join("citylots2.json.gz");
    if !file.exists() {
        std::fs::create_dir_all(&dir).expect("create bench data dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/bench/gen_citylots_like.py");
        let status = Command::new("python3")
            .arg(&script)
            .current_dir(&dir)
            .status()
            .expect("run python3");
        assert!(status.success(), "{} failed", script.display());
    }
    let limit: usize = std::env::var("BRIDGE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let reader = BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&file).expect("open data"),
    ));
    reader
        .lines()
        .take(limit)
        .map(|l| l.expect("read line"))
        .collect()
}

/// `events` with the string value of each of `fields` made unique by a `#<n>` suffix
/// (`"STREET": "JEFFERSON"` becomes `"STREET": "JEFFERSON#17"`), the text otherwise
/// unchanged.
fn with_unique_values(events: &[String], fields: &[&str]) -> Vec<String> {
    let mut n = 0usize;
    events
        .iter()
        .map(|event| {
            let mut event = event.clone();
            for field in fields {
                let opening = format!("\"{field}\": \"");
                let Some(at) = event.find(&opening) else {
                    continue;
                };
                let start = at + opening.len();
                let Some(len) = event[start..].find('"') else {
                    continue;
                };
                n += 1;
                event.insert_str(start + len, &format!("#{n}"));
            }
            event
        })
        .collect()
}

/// Rules spread over many fields and operators, each distinct, so that no two are the
/// same entry in the index.
fn generated_rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 5 {
            0 => format!(r#"{{"properties": {{"MAPBLKLOT": ["{:07}"]}}}}"#, i * 7919 % 10_000_000),
            1 => format!(r#"{{"properties": {{"STREET": [{{"prefix": "S{i}"}}]}}}}"#),
            2 => format!(r#"{{"properties": {{"BLOCK_NUM": ["{:04}"], "ST_TYPE": ["ST"]}}}}"#, i % 10_000),
            3 => format!(r#"{{"geometry": {{"firstCoordinates": {{"x": [{{"numeric": ["=", -122.{i}]}}]}}}}}}"#),
            _ => format!(r#"{{"properties": {{"STREET": [{{"equals-ignore-case": "street{i}"}}]}}}}"#),
        })
        .collect()
}

/// `n` rules of one operator on one field, each distinct: disjoint numeric ranges over
/// the coordinates' span, wildcards that start with `*`, or that start and end with it.
/// Indexes that scanned such rules one by one made 10,000 of them 8x (ranges) and 200x
/// (wildcards) slower than 10.
fn operator_rules(operator: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match operator {
            "ranges" => {
                let low = -123.0 + i as f64 / n as f64;
                let high = low + 0.5 / n as f64;
                format!(
                    r#"{{"geometry": {{"firstCoordinates": {{"x": [{{"numeric": [">=", {low:?}, "<", {high:?}]}}]}}}}}}"#
                )
            }
            "suffix-wildcards" => {
                format!(r#"{{"properties": {{"STREET": [{{"wildcard": "*ET{i}"}}]}}}}"#)
            }
            _ => format!(r#"{{"properties": {{"STREET": [{{"wildcard": "*ET{i}*"}}]}}}}"#),
        })
        .collect()
}

/// `name` through `matches_str_into` and, as `name-trusted`, `matches_trusted_str_into`,
/// after checking that both find the same matches.
fn both(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, m: &Matcher, events: &[String]) {
    let count = count_matches(m, events);
    assert_eq!(
        count_trusted_matches(m, events),
        count,
        "{name}: trusted walk"
    );
    eprintln!("{name}: {count} matches in {} events", events.len());
    group.bench_function(name, |b| b.iter(|| count_matches(m, events)));
    group.bench_function(format!("{name}-trusted"), |b| {
        b.iter(|| count_trusted_matches(m, events))
    });
}

fn bench(c: &mut Criterion) {
    let events = load_events();
    let n = events.len() as u64;
    let mut group = c.benchmark_group("citylots");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    if n > 50_000 {
        // The whole file: an iteration takes up to a second, so no growing samples.
        group.sampling_mode(SamplingMode::Flat);
    }
    group.bench_function("parse-only", |b| b.iter(|| parse_only(&events)));
    group.bench_function("simd-json-parse-only", |b| {
        b.iter(|| simd_parse_only(&events))
    });
    group.bench_function("simd-json-skip-only", |b| {
        b.iter(|| simd_skip_only(&events))
    });
    let mut all = Vec::new();
    for category in CATEGORIES {
        let sources = rules(category);
        all.extend(sources.iter().copied());
        both(&mut group, category, &matcher_of(&sources), &events);
    }
    let m = matcher_of(&all);
    both(&mut group, "COMBINED", &m, &events);
    // Every value of the fields whose lookups are remembered made unique: the worst
    // case for a stream whose strings never repeat (see `patterns::memo`).
    let unique = with_unique_values(&events, &["STREET", "ST_TYPE"]);
    both(&mut group, "COMBINED-unique-values", &m, &unique);
    group.finish();

    let mut group = c.benchmark_group("rule-count");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for count in [10usize, 1_000, 10_000] {
        let sources = generated_rules(count);
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let m = matcher_of(&refs);
        eprintln!(
            "{count} rules: {} matches in {n} events",
            count_matches(&m, &events)
        );
        group.bench_with_input(BenchmarkId::from_parameter(count), &m, |b, m| {
            b.iter(|| count_matches(m, &events))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rule-count-by-operator");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for operator in ["ranges", "suffix-wildcards", "infix-wildcards"] {
        for count in [10usize, 10_000] {
            let sources = operator_rules(operator, count);
            let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
            let m = matcher_of(&refs);
            eprintln!(
                "{count} {operator}: {} matches in {n} events",
                count_matches(&m, &events)
            );
            group.bench_with_input(BenchmarkId::new(operator, count), &m, |b, m| {
                b.iter(|| count_matches(m, &events))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
