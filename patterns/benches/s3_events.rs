//! Matching throughput on the events this project exists for: S3 "Object Created" /
//! "Object Deleted" events as EventBridge delivers them, mixed with Quilt-style
//! `package-revision` events, against bucket- and package-scoped rules (10 / 1,000 /
//! 10,000), with a parse-only baseline (`serde_json` to a `Value`, same lines) in the
//! same run.
//!
//! Unlike citylots, these events are mostly strings no rule names (ids, ARNs, etags,
//! request ids): this is what the walker's validation floor costs on real traffic.
//! Events and rules are generated here, deterministically.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;
use common::{count_matches, matcher_of, parse_only};

const EVENTS: usize = 20_000;
const BUCKETS: usize = 50;

/// A small deterministic generator (64-bit LCG), so every run sees the same events.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[(self.next() % 16) as usize]))
            .collect()
    }
}

fn events() -> Vec<String> {
    let mut rng = Lcg(42);
    (0..EVENTS)
        .map(|i| {
            let id = format!("{}-{}-{}", rng.hex(8), rng.hex(4), rng.hex(12));
            let bucket = format!("bucket-{}", rng.next() as usize % BUCKETS);
            let time = format!("2026-12-02T{:02}:{:02}:{:02}Z", i / 3600 % 24, i / 60 % 60, i % 60);
            if i % 5 == 4 {
                let package = rng.next() % 5_000;
                return format!(
                    r#"{{"version": "0", "id": "{id}", "detail-type": "package-revision", "source": "com.quiltdata", "account": "123456789012", "time": "{time}", "region": "us-east-1", "resources": [], "detail": {{"type": "package-revision", "version": "0.1", "bucket": "{bucket}", "handle": "team/pkg{package}", "topHash": "{}"}}}}"#,
                    rng.hex(64)
                );
            }
            let created = i % 7 != 6;
            let extension = ["parquet", "csv", "json", "png"][(rng.next() % 4) as usize];
            let key = format!("data/{}/part-{i}.{extension}", rng.next() % 2_000);
            format!(
                r#"{{"version": "0", "id": "{id}", "detail-type": "{}", "source": "aws.s3", "account": "123456789012", "time": "{time}", "region": "us-east-1", "resources": ["arn:aws:s3:::{bucket}"], "detail": {{"version": "0", "bucket": {{"name": "{bucket}"}}, "object": {{"key": "{key}", "size": {}, "etag": "{}", "sequencer": "{}"}}, "request-id": "{}", "requester": "123456789012", "source-ip-address": "10.0.{}.{}", "reason": "{}"}}}}"#,
                if created { "Object Created" } else { "Object Deleted" },
                rng.next() % 10_000_000,
                rng.hex(32),
                rng.hex(18).to_uppercase(),
                rng.hex(16).to_uppercase(),
                rng.next() % 256,
                rng.next() % 256,
                if created { "PutObject" } else { "DeleteObject" },
            )
        })
        .collect()
}

/// Rules as this project's users write them: one bucket and a key prefix, suffix or
/// size range; deletions; Quilt packages by handle.
fn rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let bucket = format!("bucket-{}", i % BUCKETS);
            match i % 5 {
                0 => format!(
                    r#"{{"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {{"bucket": {{"name": ["{bucket}"]}}, "object": {{"key": [{{"prefix": "data/{}/"}}]}}}}}}"#,
                    i % 2_000
                ),
                1 => format!(
                    r#"{{"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {{"bucket": {{"name": ["{bucket}"]}}, "object": {{"key": [{{"suffix": "-{i}.parquet"}}]}}}}}}"#
                ),
                2 => format!(
                    r#"{{"source": ["aws.s3"], "detail": {{"bucket": {{"name": ["{bucket}"]}}, "object": {{"size": [{{"numeric": [">=", {}, "<", {}]}}]}}}}}}"#,
                    i * 1_000,
                    i * 1_000 + 1_000
                ),
                3 => format!(
                    r#"{{"source": ["aws.s3"], "detail-type": ["Object Deleted"], "detail": {{"bucket": {{"name": ["{bucket}"]}}, "object": {{"key": [{{"wildcard": "data/*/part-{i}.*"}}]}}}}}}"#
                ),
                _ => format!(
                    r#"{{"source": ["com.quiltdata"], "detail-type": ["package-revision"], "detail": {{"handle": ["team/pkg{}"]}}}}"#,
                    i % 5_000
                ),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("s3-events");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("parse-only", |b| b.iter(|| parse_only(&events)));
    for count in [10usize, 1_000, 10_000] {
        let m = matcher_of(&rules(count));
        eprintln!(
            "{count} rules: {} matches in {} events",
            count_matches(&m, &events),
            events.len()
        );
        group.bench_with_input(BenchmarkId::new("rules", count), &m, |b, m| {
            b.iter(|| count_matches(m, &events))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
