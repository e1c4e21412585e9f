//! Messages per second through `normalize`, and through normalize + dispatch to a no-op
//! handler (the consumer runtime over an in-memory queue), against parsing the same bodies
//! to a `serde_json::Value` (the floor the issue measures against), in one group and one run.
//! After criterion's report it prints both as multiples of parse-only, from interleaved
//! rounds (the machine is shared: alternating the variants cancels drift in its load).
//! Dispatch is measured in the steady state: one consumer run takes many passes over the
//! bodies (a line with a consumer started for every pass shows its start-up too).
//!
//! Corpus: every `*.body.json` fixture in bridge/tests/fixtures/normalize that normalizes
//! (native S3, test events, EventBridge S3, CloudTrail and custom, SNS-wrapped,
//! moto-captured), each a message; the `error-*` bodies are left out, since a consumer
//! dead-letters them instead of dispatching them.
//!
//! `BRIDGE_BENCH_COUNT=parse|normalize|dispatch|careful|dispatch-careful|dispatch-nothing` runs only that, over the corpus
//! `BRIDGE_BENCH_REPS` times (default 100), and exits: for instruction counts under
//! `valgrind --tool=callgrind` (subtract a run with `BRIDGE_BENCH_REPS=0`).
//! `BRIDGE_BENCH_ONLY=TEXT` takes only the bodies whose file name contains TEXT (e.g.
//! `cloudtrail`, `native`, `sns`), for ratios and instruction counts by shape.

// The binary's allocator (its `mimalloc` feature), so the numbers are what users run.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bridge::consumer::ConsumerOptions;
use bridge::event::Strictness;
use criterion::{criterion_group, Criterion, Throughput};

#[path = "support/mod.rs"]
mod support;

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/normalize");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.ends_with(".body.json") && !n.starts_with("error-"))
        })
        .collect();
    paths.sort();
    let bodies: Vec<String> = paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    for (path, body) in paths.iter().zip(&bodies) {
        if let Err(e) = bridge::event::normalize(body) {
            panic!("{} does not normalize: {e}", path.display());
        }
    }
    paths
        .iter()
        .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(Option::unwrap_or_default)
        .zip(bodies)
        .collect()
}

/// The corpus's bodies (with `BRIDGE_BENCH_ONLY=TEXT`, those whose file name contains TEXT).
fn bodies() -> Vec<String> {
    let only = std::env::var("BRIDGE_BENCH_ONLY").unwrap_or_default();
    corpus()
        .into_iter()
        .filter(|(name, _)| name.contains(&only))
        .map(|(_, body)| body)
        .collect()
}

fn parse_only(bodies: &[String]) -> usize {
    let mut n = 0usize;
    for body in bodies {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
            n += usize::from(v.is_object());
        }
    }
    black_box(n)
}

fn normalize(bodies: &[String]) -> usize {
    let mut n = 0usize;
    for body in bodies {
        if let Ok(events) = bridge::event::normalize(body) {
            n += events.len();
        }
    }
    black_box(n)
}

/// The `Value` path alone (what `normalize` was before its fast path), for comparison.
fn normalize_careful(bodies: &[String]) -> usize {
    let mut n = 0usize;
    for body in bodies {
        if let Ok(events) = bridge::event::normalize_careful(body, Strictness::Strict) {
            n += events.len();
        }
    }
    black_box(n)
}

/// The corpus queued `times` over, for one consumer run.
fn queue(bodies: &[String], times: usize) -> support::MemorySource {
    let all: Vec<String> = (0..times).flat_map(|_| bodies.iter().cloned()).collect();
    support::MemorySource::with_bodies(&all)
}

/// One consumer run over the corpus queued `times` over (a consumer is started once per
/// run: with `times` = 1 its start-up and wind-down are paid for every 85 bodies).
fn dispatch(runtime: &tokio::runtime::Runtime, bodies: &[String], times: usize) -> Duration {
    let options = support::drain_options(bodies.len() * times);
    support::drain_timed(runtime, queue(bodies, times), options)
}

fn dispatch_careful(
    runtime: &tokio::runtime::Runtime,
    bodies: &[String],
    times: usize,
) -> Duration {
    let options = ConsumerOptions {
        normalize: Arc::new(|body: &str| {
            bridge::event::normalize_careful(body, Strictness::Lenient)
        }),
        ..support::drain_options(bodies.len() * times)
    };
    support::drain_timed(runtime, queue(bodies, times), options)
}

/// The runtime's own cost: every body "normalizes" to no event (nothing to handle).
fn dispatch_nothing(
    runtime: &tokio::runtime::Runtime,
    bodies: &[String],
    times: usize,
) -> Duration {
    let options = ConsumerOptions {
        normalize: Arc::new(|_: &str| Ok(Vec::new())),
        ..support::drain_options(bodies.len() * times)
    };
    support::drain_timed(runtime, queue(bodies, times), options)
}

/// How many passes over the corpus one consumer run takes in the ratios (a consumer runs
/// for long; its start-up is not a per-message cost).
const PASSES_PER_RUN: usize = 10;

fn bench(c: &mut Criterion) {
    let bodies = bodies();
    let runtime = support::runtime();
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.bench_function("parse_only_serde_json_value", |b| {
        b.iter(|| parse_only(&bodies))
    });
    group.bench_function("normalize", |b| b.iter(|| normalize(&bodies)));
    // One consumer run over `iters` passes: the steady state, as for parse-only.
    group.bench_function("normalize+dispatch, memory source", |b| {
        b.iter_custom(|iters| dispatch(&runtime, &bodies, iters as usize))
    });
    group.finish();
}

/// Ratios from interleaved rounds of about 0.3 s each.
fn ratios() {
    let bodies = bodies();
    let runtime = support::runtime();
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reps = 100;
    // Consumer runs of PASSES_PER_RUN passes each: as many bodies as `reps` passes.
    let runs = reps / PASSES_PER_RUN;
    let timed = |f: &dyn Fn()| support::timed(reps, f);
    support::interleaved_ratios(
        &format!("normalize, {} bodies", bodies.len()),
        9,
        &mut [
            ("parse-only", &mut || {
                timed(&|| {
                    parse_only(&bodies);
                })
            }),
            ("normalize", &mut || {
                timed(&|| {
                    normalize(&bodies);
                })
            }),
            ("normalize+dispatch", &mut || {
                (0..runs)
                    .map(|_| dispatch(&runtime, &bodies, PASSES_PER_RUN))
                    .sum()
            }),
            (
                "normalize+dispatch, a consumer started for every pass over the bodies",
                &mut || (0..reps).map(|_| dispatch(&runtime, &bodies, 1)).sum(),
            ),
            (
                "normalize+dispatch on a current-thread runtime (no hand-offs between threads)",
                &mut || {
                    (0..runs)
                        .map(|_| dispatch(&one_thread, &bodies, PASSES_PER_RUN))
                        .sum()
                },
            ),
            (
                "dispatch alone (no event: the runtime's own cost)",
                &mut || {
                    (0..runs)
                        .map(|_| dispatch_nothing(&runtime, &bodies, PASSES_PER_RUN))
                        .sum()
                },
            ),
            (
                "normalize, Value path only (as before the fast path)",
                &mut || {
                    timed(&|| {
                        normalize_careful(&bodies);
                    })
                },
            ),
            ("normalize+dispatch, Value path only", &mut || {
                (0..runs)
                    .map(|_| dispatch_careful(&runtime, &bodies, PASSES_PER_RUN))
                    .sum()
            }),
        ],
    );
}

/// One variant only, a fixed number of times (for instruction counts); with
/// `BRIDGE_BENCH_ONLY=TEXT`, over the bodies of the corpus whose file name contains TEXT.
fn count(what: &str) {
    let bodies = bodies();
    let reps: usize = std::env::var("BRIDGE_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100);
    let runtime = support::runtime();
    for _ in 0..reps {
        match what {
            "parse" => {
                parse_only(&bodies);
            }
            "normalize" => {
                normalize(&bodies);
            }
            "dispatch" => drop(dispatch(&runtime, &bodies, 1)),
            "careful" => {
                normalize_careful(&bodies);
            }
            "dispatch-careful" => drop(dispatch_careful(&runtime, &bodies, 1)),
            "dispatch-nothing" => drop(dispatch_nothing(&runtime, &bodies, 1)),
            other => panic!(
                "BRIDGE_BENCH_COUNT={other}: parse, normalize, dispatch, careful, dispatch-careful or dispatch-nothing"
            ),
        }
    }
    println!("{what}: {reps} × {} bodies", bodies.len());
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(what) = std::env::var("BRIDGE_BENCH_COUNT") {
        count(&what);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Not when run as a test (`cargo test --benches` runs each bench once) or listed.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        ratios();
    }
}
