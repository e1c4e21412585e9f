//! Local pipeline throughput: PutEvents (batches of 10) → rule matching → queue → receive →
//! batch delete, with 10 and 1,000 rules on the bus, as in real use: an accepted event is
//! fsync'd before PutEvents returns (`synchronous=FULL`), receives and deletes commit without
//! an fsync of their own (a lost one is a redelivery).
//!
//! - `put10_match_queue_receive_delete`: one thread, one call after the other.
//! - `group_commit` (the headline): 8 producer threads each putting batches of 10 through
//!   one [`GroupCommit`] (concurrent calls share a commit and its fsync) while 2 consumer
//!   threads receive and delete through the same writer until every event is consumed.
//! - `consume_receive10_delete10`: draining a backlog, 10 messages per receive and delete.
//!
//! Run: `cargo bench -p bridge-infra --bench local_routing`.

// The bridge binary's allocator, so the numbers are what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use infra::local::{Durability, GroupCommit, PutEventsEntry, ReceiveRequest, Store};

#[path = "support/pipeline.rs"]
mod pipeline;

/// Producer threads in the group commit bench.
const PRODUCERS: usize = 8;
/// Consumer threads in the group commit bench.
const CONSUMERS: usize = 2;

fn setup(rules: usize, durability: Durability) -> (tempfile::TempDir, Store, Vec<PutEventsEntry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, batch) = pipeline::setup(dir.path(), rules, durability);
    (dir, store, batch)
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("local_pipeline");
    group.throughput(Throughput::Elements(10));
    group.sample_size(20);
    for (durability, label) in [(Durability::Full, "full"), (Durability::Normal, "normal")] {
        for rules in [10usize, 1000] {
            let (_dir, mut store, batch) = setup(rules, durability);
            let id = BenchmarkId::new(
                format!("put10_match_queue_receive_delete/sync_{label}"),
                rules,
            );
            group.bench_with_input(id, &rules, |b, _| {
                b.iter(|| pipeline::single_round(&mut store, &batch))
            });
        }
    }
    group.finish();
}

/// Receives and deletes up to 10 messages; returns how many.
fn consume10(store: &mut Store) -> usize {
    let got = store
        .receive_messages("bench", ReceiveRequest::default())
        .expect("receive");
    let handles: Vec<String> = got.into_iter().map(|m| m.receipt_handle).collect();
    if !handles.is_empty() {
        store.delete_messages("bench", &handles).expect("delete");
    }
    handles.len()
}

fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("local_pipeline");
    group.throughput(Throughput::Elements((10 * PRODUCERS) as u64));
    group.sample_size(20);
    for rules in [10usize, 1000] {
        let (_dir, store, batch) = setup(rules, Durability::Full);
        let writer = GroupCommit::new(store).expect("writer");
        let id = BenchmarkId::new(
            format!("group_commit_{PRODUCERS}_producers_{CONSUMERS}_consumers/sync_full"),
            rules,
        );
        group.bench_with_input(id, &rules, |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                pipeline::group_rounds(&writer, &batch, PRODUCERS, CONSUMERS, iters as usize);
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn consume(c: &mut Criterion) {
    let mut group = c.benchmark_group("local_consume");
    group.throughput(Throughput::Elements(10));
    group.sample_size(20);
    let (_dir, mut store, batch) = setup(10, Durability::Full);
    group.bench_function("consume_receive10_delete10/sync_full", |b| {
        b.iter_custom(|iters| {
            // The backlog is filled untimed, 25 calls per commit.
            let calls: Vec<&[PutEventsEntry]> = vec![&batch; 25];
            let mut filled = 0;
            while filled < iters {
                for out in store.put_events_group(&calls).expect("fill") {
                    out.expect("put events");
                }
                filled += 25;
            }
            let mut elapsed = Duration::ZERO;
            let start = Instant::now();
            for _ in 0..iters {
                assert_eq!(consume10(&mut store), 10);
            }
            elapsed += start.elapsed();
            // Leftovers from rounding up to 25 calls.
            while consume10(&mut store) > 0 {}
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline, group_commit, consume);
criterion_main!(benches);
