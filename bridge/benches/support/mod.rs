//! What the `normalize` and `consumer` benches share: an in-memory queue (the consumer
//! runtime's own cost, without storage) and ratios from interleaved rounds.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bridge::consumer::{
    handler_fn, Consumer, ConsumerOptions, Message, MessageSource, SourceError,
};

/// A queue in memory.
pub struct MemorySource(Mutex<VecDeque<Message>>);

impl MemorySource {
    /// A queue holding one message per body, in order.
    pub fn with_bodies(bodies: &[String]) -> MemorySource {
        let queue = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| Message {
                id: i.to_string(),
                receipt: i.to_string(),
                body: body.clone(),
                receive_count: 1,
                group_id: None,
                attributes: Default::default(),
            })
            .collect();
        MemorySource(Mutex::new(queue))
    }
}

impl MessageSource for MemorySource {
    async fn receive(&self, max: u32, _: u32, _: Option<u32>) -> Result<Vec<Message>, SourceError> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = (max as usize).min(q.len());
        Ok(q.drain(..n).collect())
    }
    async fn delete_batch(
        &self,
        r: &[String],
    ) -> Result<Vec<Result<(), SourceError>>, SourceError> {
        Ok(r.iter().map(|_| Ok(())).collect())
    }
    async fn change_visibility(&self, _: &str, _: u32) -> Result<(), SourceError> {
        Ok(())
    }
    async fn dead_letter(&self, _: &Message, _: &str) -> Result<(), SourceError> {
        Ok(())
    }
    fn is_fifo(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// Consumes `options.max_messages` messages with a no-op handler; returns the time taken.
/// Panics unless every one was handled: a bench that lost messages measures nothing.
pub fn drain_timed<S: MessageSource>(
    runtime: &tokio::runtime::Runtime,
    source: S,
    options: ConsumerOptions,
) -> Duration {
    let expected = options.max_messages;
    let start = Instant::now();
    let m = runtime.block_on(Consumer::new(source, options).run(
        handler_fn(|_| async { Ok(()) }),
        std::future::pending::<()>(),
    ));
    let took = start.elapsed();
    assert_eq!(Some(m.handled), expected, "{m}");
    took
}

/// Consumer options for draining `messages` from an in-memory queue as fast as it goes.
pub fn drain_options(messages: usize) -> ConsumerOptions {
    ConsumerOptions {
        wait_secs: 0,
        max_messages: Some(messages as u64),
        idle_exit: Some(Duration::from_secs(5)),
        ..ConsumerOptions::default()
    }
}

/// The consumer's runtime for benches: two workers, as on this machine's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// How long `reps` calls of `f` take.
pub fn timed(reps: usize, f: &dyn Fn()) -> Duration {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed()
}

/// Runs the variants in turn, `rounds` times (A, B, C, A, B, C, ...: slow drift in a shared
/// machine's load hits them alike), and prints each one's median rate as a multiple of the
/// first one's, within each round.
pub fn interleaved_ratios(
    title: &str,
    rounds: usize,
    variants: &mut [(&str, &mut dyn FnMut() -> Duration)],
) {
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        let times: Vec<f64> = variants
            .iter_mut()
            .map(|(_, run)| run().as_secs_f64())
            .collect();
        for (i, t) in times.iter().enumerate() {
            ratios[i].push(times[0] / t);
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    println!(
        "{title}: × {} (medians of {rounds} interleaved rounds, load average {load})",
        variants[0].0
    );
    for (i, (name, _)) in variants.iter().enumerate().skip(1) {
        let mut r = ratios[i].clone();
        r.sort_by(f64::total_cmp);
        println!("  {name}: {:.2}×", r[r.len() / 2]);
    }
}
