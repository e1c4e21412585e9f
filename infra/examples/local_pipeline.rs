//! The local pipeline of `benches/local_routing.rs` as a plain program, for instruction
//! counts (`valgrind --tool=callgrind`) and profiles (`perf record`), which a criterion
//! bench is too long for.
//!
//! `cargo run --release -p bridge-infra --example local_pipeline -- MODE RULES ROUNDS [full] [PRODUCERS] [CONSUMERS]`
//!
//! `full` commits accepted events with `synchronous=FULL` (as the bench); the default is
//! `NORMAL`, for instruction counts (an fsync is time, not instructions).
//!
//! - `single`: one thread: PutEvents (10 events, each matching one of RULES rules) →
//!   receive 10 → delete 10, ROUNDS times, with `synchronous=NORMAL` (an fsync is time, not
//!   instructions).
//! - `group`: PRODUCERS (default 8) threads put ROUNDS calls of 10 events each through one
//!   `GroupCommit` while CONSUMERS (default 2) threads receive and delete them through the
//!   same writer (run callgrind with `--separate-threads=yes` to see the writer's share).
//!
//! Subtract the same run with ROUNDS = 0 (set-up) and divide by the events.

// The bridge binary's allocator, so the numbers are what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use infra::local::{Durability, GroupCommit, ReceiveRequest};

#[path = "../benches/support/pipeline.rs"]
mod pipeline;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: local_pipeline single|group RULES ROUNDS [full|normal] [PRODUCERS] [CONSUMERS]";
    let mode = args.first().expect(usage).clone();
    let rules: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
    let dir = tempfile::tempdir().expect("tempdir");
    let durability = match args.get(3).map(String::as_str) {
        Some("full") => Durability::Full,
        _ => Durability::Normal,
    };
    let producers: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(8);
    let consumers: usize = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(2);
    let (mut store, batch) = pipeline::setup(dir.path(), rules, durability);
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
                pipeline::single_round(&mut store, &batch);
            }
        }
        "group" => {
            let writer = GroupCommit::new(store).expect("writer");
            pipeline::group_rounds(&writer, &batch, producers, consumers, rounds);
            let stats = writer.stats();
            eprintln!(
                "writer: {} calls, {} commits, {} fsyncs",
                stats.calls, stats.commits, stats.syncs
            );
            // Callgrind counts user-space instructions only; the writer's system calls (WAL
            // writes, wake-ups) are time it does not see.
            for (name, user, system) in thread_times() {
                eprintln!("{name}: user {user:.3} s, system {system:.3} s");
            }
        }
        other => panic!("{usage} (not {other})"),
    }
    let events = rounds * if mode == "group" { 10 * producers } else { 10 };
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{mode}: {events} events in {secs:.3} s ({:.0} events/s)",
        events as f64 / secs.max(1e-9)
    );
}

/// The user and system CPU seconds of this process's named threads (the store's writer and
/// syncer), from `/proc/self/task` (Linux; nothing elsewhere).
fn thread_times() -> Vec<(String, f64, f64)> {
    // `/proc` counts in clock ticks, 100 per second on Linux.
    const TICKS: f64 = 100.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the fields after the closing parenthesis, utime and stime
        // are the 14th and 15th of the line.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let name = head.split_once(" (").map_or("", |(_, n)| n);
        if !name.starts_with("bridge-local") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        out.push((name.to_string(), tick(11) / TICKS, tick(12) / TICKS));
    }
    out
}
