//! The local pipeline of `benches/local_routing.rs` as a plain program, for instruction
//! counts (`valgrind --tool=callgrind`) and profiles (`perf record`), which a criterion
//! bench is too long for.
//!
//! `cargo run --release -p bridge-infra --example local_pipeline -- MODE RULES ROUNDS [full]`
//!
//! `full` commits accepted events with `synchronous=FULL` (as the bench); the default is
//! `NORMAL`, for instruction counts (an fsync is time, not instructions).
//!
//! - `single`: one thread: PutEvents (10 events, each matching one of RULES rules) →
//!   receive 10 → delete 10, ROUNDS times, with `synchronous=NORMAL` (an fsync is time, not
//!   instructions).
//! - `group`: 4 producer threads put ROUNDS calls of 10 events each through one
//!   `GroupCommit` while the main thread receives and deletes them through the same writer
//!   (run callgrind with `--separate-threads=yes` to see the writer's share).
//!
//! Subtract the same run with ROUNDS = 0 (set-up) and divide by the events.

use infra::local::{
    Clock, Config, Durability, GroupCommit, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec,
    RuleState, Store, TargetSpec,
};

fn setup(
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: local_pipeline single|group RULES ROUNDS [full]";
    let mode = args.first().expect(usage).clone();
    let rules: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
    let dir = tempfile::tempdir().expect("tempdir");
    let durability = match args.get(3).map(String::as_str) {
        Some("full") => Durability::Full,
        _ => Durability::Normal,
    };
    let (mut store, batch) = setup(dir.path(), rules, durability);
    // Compile the routes before counting.
    store.put_events(&batch).expect("warm-up put");
    while !store
        .receive_messages("bench", ReceiveRequest::default())
        .expect("receive")
        .is_empty()
    {}
    let start = std::time::Instant::now();
    match mode.as_str() {
        "single" => {
            for _ in 0..rounds {
                let out = store.put_events(&batch).expect("put events");
                assert_eq!(out.routed.len(), 10);
                let got = store
                    .receive_messages("bench", ReceiveRequest::default())
                    .expect("receive");
                let handles: Vec<String> = got.into_iter().map(|m| m.receipt_handle).collect();
                assert_eq!(handles.len(), 10);
                store.delete_messages("bench", &handles).expect("delete");
            }
        }
        "group" => {
            let writer = GroupCommit::new(store).expect("writer");
            let total = rounds * 4 * 10;
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..rounds {
                            let out = writer.put_events(batch.clone()).expect("put events");
                            assert_eq!(out.routed.len(), 10);
                        }
                    });
                }
                let mut consumed = 0;
                while consumed < total {
                    let got = writer
                        .receive_messages("bench", ReceiveRequest::default())
                        .expect("receive");
                    if got.is_empty() {
                        std::thread::yield_now();
                        continue;
                    }
                    consumed += got.len();
                    let handles = got.into_iter().map(|m| m.receipt_handle).collect();
                    writer.delete_messages("bench", handles).expect("delete");
                }
            });
        }
        other => panic!("{usage} (not {other})"),
    }
    let events = rounds * if mode == "group" { 40 } else { 10 };
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{mode}: {events} events in {secs:.3} s ({:.0} events/s)",
        events as f64 / secs.max(1e-9)
    );
}
