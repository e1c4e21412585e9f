//! Consumer throughput: messages/s through normalize + dispatch to a no-op handler, from an
//! in-memory source (the runtime's own cost) and from the local SQLite store (receive, batch
//! delete), against a parse-only baseline over the same bodies in the same run.
//!
//! With `BRIDGE_TEST_ENDPOINT` set (a moto server, `scripts/moto-server.sh`), also through
//! real SQS calls. Then memory under a backlog (peak RSS growth while consuming 10,000 vs 100,000 queued
//! messages), printed after the criterion results.
//!
//! `cargo bench -p bridge --bench consumer`; compare the `elem/s` of the three lines.

// The binary's allocator (its `mimalloc` feature), so the numbers are what users run.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge::consumer::{ConsumerOptions, LocalSource, SqsSource};
use criterion::{criterion_group, Criterion, Throughput};
use infra::local::{Clock, Config, Durability, QueueSpec, SendRequest, Store};
use support::{drain_timed, MemorySource};

#[path = "support/mod.rs"]
mod support;

const MESSAGES: usize = 2_000;

/// Fewer through moto, which handles about a hundred messages a second.
const SQS_MESSAGES: usize = 200;

fn bodies() -> Vec<String> {
    (0..MESSAGES)
        .map(|n| {
            serde_json::json!({
                "version": "0", "id": format!("id-{n}"), "detail-type": "Object Created",
                "source": "aws.s3", "account": "123456789012", "time": "2026-11-23T00:00:00Z",
                "region": "us-east-1", "resources": ["arn:aws:s3:::bucket"],
                "detail": { "version": "0", "bucket": { "name": "bucket" },
                    "object": { "key": format!("data/{n}.json"), "size": 1024, "etag": "abc", "sequencer": format!("{n:016X}") },
                    "request-id": "r", "requester": "123456789012", "reason": "PutObject" }
            })
            .to_string()
        })
        .collect()
}

fn options() -> ConsumerOptions {
    support::drain_options(MESSAGES)
}

fn bench(c: &mut Criterion) {
    let bodies = bodies();
    let runtime = support::runtime();
    let mut group = c.benchmark_group("consumer");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("parse-only baseline", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(serde_json::from_str::<serde_json::Value>(body).ok());
            }
        })
    });

    group.bench_function("normalize only", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(bridge::event::normalize(body).ok());
            }
        })
    });

    group.bench_function("normalize+dispatch, memory source", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| drain_timed(&runtime, MemorySource::with_bodies(&bodies), options()))
                .sum()
        })
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        durability: Durability::Normal,
        ..Config::default()
    };
    let store = Store::open_with(dir.path(), config, Clock::System).expect("store");
    let store = Arc::new(Mutex::new(store));
    store
        .lock()
        .expect("lock")
        .put_queue(&QueueSpec::new("bench"))
        .expect("queue");
    group.bench_function("normalize+dispatch, local store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                {
                    let mut s = store.lock().expect("lock");
                    for body in &bodies {
                        s.send_message("bench", &SendRequest::body(body.clone()))
                            .expect("send");
                    }
                }
                let source = LocalSource::shared(store.clone(), "bench").expect("source");
                total += drain_timed(&runtime, source, options());
            }
            total
        })
    });
    group.finish();
    if let Ok(endpoint) = std::env::var("BRIDGE_TEST_ENDPOINT") {
        bench_sqs(c, &runtime, &bodies[..SQS_MESSAGES], &endpoint);
    }
}

/// Against an AWS-compatible server (moto, when `BRIDGE_TEST_ENDPOINT` is set): the same
/// bodies through real SQS calls (SendMessageBatch to fill, then receive, normalize,
/// dispatch, DeleteMessageBatch). Mostly measures the server.
fn bench_sqs(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    bodies: &[String],
    endpoint: &str,
) {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let settings = infra::aws::AwsSettings {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        profile: None,
    };
    let clients = runtime
        .block_on(infra::aws::AwsClients::from_env(&settings))
        .expect("clients");
    let name = format!("bench-consumer-{}", std::process::id());
    let url = runtime
        .block_on(clients.sqs.create_queue().queue_name(&name).send())
        .expect("create queue")
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let mut group = c.benchmark_group("consumer-sqs");
    group.throughput(Throughput::Elements(SQS_MESSAGES as u64));
    group.sample_size(10);
    group.bench_function("normalize+dispatch, SQS on moto", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                runtime.block_on(async {
                    for (n, chunk) in bodies.chunks(10).enumerate() {
                        let mut call = clients.sqs.send_message_batch().queue_url(&url);
                        for (i, body) in chunk.iter().enumerate() {
                            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                                .id(format!("{n}-{i}"))
                                .message_body(body)
                                .build()
                                .expect("entry");
                            call = call.entries(entry);
                        }
                        call.send().await.expect("send batch");
                    }
                });
                let source = runtime
                    .block_on(SqsSource::connect(clients.sqs.clone(), &url))
                    .expect("source");
                let options = ConsumerOptions {
                    max_messages: Some(SQS_MESSAGES as u64),
                    ..options()
                };
                total += drain_timed(runtime, source, options);
            }
            total
        })
    });
    group.finish();
    let _ = runtime.block_on(clients.sqs.delete_queue().queue_url(&url).send());
}

/// Peak resident memory of this process so far, in KiB (Linux; 0 elsewhere).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Memory under a backlog: consumes backlogs of 10,000 and then 100,000 messages from the
/// local store and prints how much the process's peak memory grew during each. Bounded
/// in-flight work means the larger backlog needs no more memory than the smaller one.
fn backlog_memory() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let body = bodies().swap_remove(0);
    for backlog in [10_000u64, 100_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            durability: Durability::Normal,
            ..Config::default()
        };
        let mut store = Store::open_with(dir.path(), config, Clock::System).expect("store");
        store.put_queue(&QueueSpec::new("backlog")).expect("queue");
        for _ in 0..backlog {
            store
                .send_message("backlog", &SendRequest::body(body.clone()))
                .expect("send");
        }
        // Resets the peak to the current size (Linux), so filling the queue is not counted.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = peak_rss_kib();
        let source = LocalSource::new(store, "backlog").expect("source");
        let options = ConsumerOptions {
            wait_secs: 0,
            max_messages: Some(backlog),
            idle_exit: Some(Duration::from_secs(5)),
            ..ConsumerOptions::default()
        };
        let took = drain_timed(&runtime, source, options);
        println!(
            "consumer/backlog {backlog}: peak memory grew {} KiB while consuming ({:.0} msg/s)",
            peak_rss_kib().saturating_sub(before),
            backlog as f64 / took.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);

/// The in-memory lines as multiples of parse-only, from interleaved rounds.
fn ratios() {
    let bodies = bodies();
    let runtime = support::runtime();
    let reps = 20;
    let timed = |f: &dyn Fn()| support::timed(reps, f);
    support::interleaved_ratios(
        &format!("consumer, {MESSAGES} EventBridge S3 bodies"),
        9,
        &mut [
            ("parse-only", &mut || {
                timed(&|| {
                    for body in &bodies {
                        black_box(serde_json::from_str::<serde_json::Value>(body).ok());
                    }
                })
            }),
            ("normalize only", &mut || {
                timed(&|| {
                    for body in &bodies {
                        black_box(bridge::event::normalize(body).ok());
                    }
                })
            }),
            ("normalize+dispatch, memory source", &mut || {
                (0..reps)
                    .map(|_| drain_timed(&runtime, MemorySource::with_bodies(&bodies), options()))
                    .sum()
            }),
            (
                "normalize+dispatch, Value path only (as before the fast path)",
                &mut || {
                    let careful = || ConsumerOptions {
                        normalize: Arc::new(|body: &str| {
                            bridge::event::normalize_careful(
                                body,
                                bridge::event::Strictness::Lenient,
                            )
                        }),
                        ..options()
                    };
                    (0..reps)
                        .map(|_| {
                            drain_timed(&runtime, MemorySource::with_bodies(&bodies), careful())
                        })
                        .sum()
                },
            ),
        ],
    );
}

fn main() {
    benches();
    backlog_memory();
    Criterion::default().configure_from_args().final_summary();
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        ratios();
    }
}
