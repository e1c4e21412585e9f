//! Messages per second through `normalize`, against parsing the same bodies to a
//! `serde_json::Value` (the floor: every normalizer has to parse), in one group and one run.
//!
//! Corpus: every `*.body.json` fixture in bridge/tests/fixtures/normalize (native S3, test
//! events, EventBridge S3 and custom, SNS-wrapped, moto-captured), each a message.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/normalize");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".body.json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn bench(c: &mut Criterion) {
    let bodies = corpus();
    assert!(!bodies.is_empty(), "no fixture bodies found");
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.bench_function("parse_only_serde_json_value", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for body in &bodies {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                    n += usize::from(v.is_object());
                }
            }
            std::hint::black_box(n)
        })
    });
    group.bench_function("normalize", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for body in &bodies {
                if let Ok(events) = bridge::event::normalize(body) {
                    n += events.len();
                }
            }
            std::hint::black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
