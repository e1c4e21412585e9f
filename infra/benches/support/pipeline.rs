//! The local pipeline the `local_routing` bench and the `local_pipeline` example both run:
//! one queue, RULES rules feeding it, and a batch of ten events each matching one rule.

use infra::local::{
    Clock, Config, Durability, GroupCommit, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec,
    RuleState, Store, TargetSpec,
};

/// A store in `dir` with the queue `bench`, `rules` rules targeting it, and the batch.
pub fn setup(
    dir: &std::path::Path,
    rules: usize,
    durability: Durability,
) -> (Store, Vec<PutEventsEntry>) {
    let config = Config {
        durability,
        ..Config::default()
    };
    let mut store = Store::open_with(dir, config, Clock::System).expect("open store");
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
            let customer = (k * 97) % rules.max(1);
            PutEventsEntry::new(
                "shop.orders",
                "order",
                format!(r#"{{"customer": "c{customer}", "total": 25.5, "items": [{{"sku": "A-{k}", "qty": 2}}], "note": "bench"}}"#),
            )
        })
        .collect();
    (store, batch)
}

/// One thread: PutEvents (the batch) → receive 10 → delete 10.
pub fn single_round(store: &mut Store, batch: &[PutEventsEntry]) {
    let out = store.put_events(batch).expect("put events");
    assert_eq!(out.routed.len(), 10);
    let got = store
        .receive_messages("bench", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 10);
    let handles: Vec<String> = got.into_iter().map(|m| m.receipt_handle).collect();
    store.delete_messages("bench", &handles).expect("delete");
}

/// `producers` threads each put the batch `rounds` times through `writer` while `consumers`
/// threads receive and delete (10 at a time) through the same writer until every event is
/// consumed. A consumer that finds the queue empty waits 200 µs before it asks again, as a
/// long poll would, instead of spinning on the writer.
pub fn group_rounds(
    writer: &GroupCommit,
    batch: &[PutEventsEntry],
    producers: usize,
    consumers: usize,
    rounds: usize,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = rounds * producers * batch.len();
    let consumed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..producers {
            s.spawn(|| {
                for _ in 0..rounds {
                    let out = writer.put_events(batch.to_vec()).expect("put events");
                    assert_eq!(out.routed.len(), batch.len());
                }
            });
        }
        for _ in 0..consumers.max(1) {
            s.spawn(|| {
                while consumed.load(Ordering::Relaxed) < total {
                    let got = writer
                        .receive_messages("bench", ReceiveRequest::default())
                        .expect("receive");
                    if got.is_empty() {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        continue;
                    }
                    consumed.fetch_add(got.len(), Ordering::Relaxed);
                    let handles = got.into_iter().map(|m| m.receipt_handle).collect();
                    for r in writer.delete_messages("bench", handles).expect("delete") {
                        r.expect("delete one");
                    }
                }
            });
        }
    });
}
