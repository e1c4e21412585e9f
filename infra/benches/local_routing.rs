//! Local pipeline throughput: PutEvents (batches of 10) → rule matching → queue → receive →
//! batch delete, with 10 and 1,000 rules on the bus. Every step is a durable (fsync'd) SQLite
//! transaction, as in real use.
//!
//! Run: `cargo bench -p bridge-infra --bench local_routing`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use infra::local::{
    Clock, Config, Durability, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec, RuleState,
    Store, TargetSpec,
};

fn setup(rules: usize, durability: Durability) -> (tempfile::TempDir, Store, Vec<PutEventsEntry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        durability,
        ..Config::default()
    };
    let mut store = Store::open_with(dir.path(), config, Clock::System).expect("open store");
    let q = store.put_queue(&QueueSpec::new("bench")).expect("queue");
    for i in 0..rules {
        let name = format!("rule-{i}");
        let pattern = format!(
            r#"{{"source": ["shop.orders"], "detail-type": ["order"], "detail": {{"customer": ["c{i}"], "total": [{{"numeric": [">", 10]}}]}}}}"#
        );
        store
            .put_rule(&RuleSpec {
                bus: "default".into(),
                name: name.clone(),
                pattern: Some(pattern),
                schedule: None,
                state: RuleState::Enabled,
                description: None,
            })
            .expect("rule");
        store
            .put_targets("default", &name, &[TargetSpec::new("q", &q)])
            .expect("target");
    }
    // Ten events, each matching exactly one rule.
    let batch = (0..10)
        .map(|k| {
            let customer = (k * 97) % rules;
            PutEventsEntry::new(
                "shop.orders",
                "order",
                format!(r#"{{"customer": "c{customer}", "total": 25.5, "items": [{{"sku": "A-{k}", "qty": 2}}], "note": "bench"}}"#),
            )
        })
        .collect();
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
                b.iter(|| {
                    let out = store.put_events(&batch).expect("put events");
                    assert_eq!(out.routed.len(), 10);
                    let got = store
                        .receive_messages("bench", ReceiveRequest::default())
                        .expect("receive");
                    assert_eq!(got.len(), 10);
                    let handles: Vec<String> = got.into_iter().map(|m| m.receipt_handle).collect();
                    store.delete_messages("bench", &handles).expect("delete");
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
