//! `bridge dev --serve` through the wire, with the AWS SDK for Rust: one SendMessage →
//! ReceiveMessage → DeleteMessage round trip, and one PutEvents (routed by a rule to a queue),
//! each a real HTTP request answered after an fsync'd SQLite commit.
//!
//! With `BRIDGE_TEST_ENDPOINT` set (a moto server, `scripts/moto-server.sh`), the same calls
//! against moto in the same run, for comparison.
//!
//! `cargo bench -p bridge --bench serve`

// The binary's allocator (its `mimalloc` feature), so the numbers are what users run.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use bridge::serve::{start, ServeOptions};
use criterion::{criterion_group, Criterion};
use infra::aws::{AwsClients, AwsSettings};
use infra::local::{Config, QueueSpec, RuleSpec, RuleState, Store, TargetSpec};

struct Target {
    name: &'static str,
    clients: AwsClients,
    queue_url: String,
}

fn clients(runtime: &tokio::runtime::Runtime, endpoint: &str) -> AwsClients {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let settings = AwsSettings {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        profile: None,
    };
    runtime
        .block_on(AwsClients::from_env(&settings))
        .expect("clients")
}

/// The served local backend: a queue, and a rule sending `bench` events to a second queue.
fn served(runtime: &tokio::runtime::Runtime, dir: &std::path::Path) -> Target {
    let mut store = Store::open(dir).expect("state");
    store.put_queue(&QueueSpec::new("bench-q")).expect("queue");
    let events = store
        .put_queue(&QueueSpec::new("bench-events"))
        .expect("queue");
    store
        .put_rule(&RuleSpec {
            bus: "default".into(),
            name: "bench".into(),
            pattern: Some(r#"{"source": ["bench"]}"#.into()),
            schedule: None,
            state: RuleState::Enabled,
            description: None,
        })
        .expect("rule");
    store
        .put_targets("default", "bench", &[TargetSpec::new("q", events)])
        .expect("target");
    let server = start(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("address"),
        state_dir: dir.to_path_buf(),
        config: Config::default(),
        writer: None,
    })
    .expect("serve");
    let endpoint = format!("http://{}", server.addr);
    Target {
        name: "bridge dev --serve",
        clients: clients(runtime, &endpoint),
        queue_url: format!("{endpoint}/000000000000/bench-q"),
    }
}

/// moto: the same queue, bus rule and target, made through the SDK.
fn moto(runtime: &tokio::runtime::Runtime, endpoint: &str) -> Target {
    let clients = clients(runtime, endpoint);
    let suffix = std::process::id();
    let (queue_url, bus) = runtime.block_on(async {
        let url = clients
            .sqs
            .create_queue()
            .queue_name(format!("bench-q-{suffix}"))
            .send()
            .await
            .expect("queue")
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let events = clients
            .sqs
            .create_queue()
            .queue_name(format!("bench-events-{suffix}"))
            .send()
            .await
            .expect("queue");
        let events_arn = clients
            .sqs
            .get_queue_attributes()
            .queue_url(events.queue_url().unwrap_or_default())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap_or_default();
        let bus = format!("bench-bus-{suffix}");
        clients
            .eventbridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("bus");
        clients
            .eventbridge
            .put_rule()
            .name("bench")
            .event_bus_name(&bus)
            .event_pattern(r#"{"source": ["bench"]}"#)
            .send()
            .await
            .expect("rule");
        clients
            .eventbridge
            .put_targets()
            .rule("bench")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("q")
                    .arn(events_arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("targets");
        (url, bus)
    });
    std::env::set_var("BRIDGE_BENCH_MOTO_BUS", bus);
    Target {
        name: "moto",
        clients,
        queue_url,
    }
}

fn bench_serve(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut targets = vec![served(&runtime, dir.path())];
    if let Ok(endpoint) = std::env::var("BRIDGE_TEST_ENDPOINT") {
        targets.push(moto(&runtime, &endpoint));
    }
    let mut group = c.benchmark_group("serve");
    group.sample_size(30);
    for t in &targets {
        let bus = if t.name == "moto" {
            std::env::var("BRIDGE_BENCH_MOTO_BUS").unwrap_or_else(|_| "default".into())
        } else {
            "default".into()
        };
        group.bench_function(
            format!("{}: SendMessage+ReceiveMessage+DeleteMessage", t.name),
            |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        t.clients
                            .sqs
                            .send_message()
                            .queue_url(&t.queue_url)
                            .message_body("x")
                            .send()
                            .await
                            .expect("send");
                        let got = t
                            .clients
                            .sqs
                            .receive_message()
                            .queue_url(&t.queue_url)
                            .send()
                            .await
                            .expect("receive");
                        for m in got.messages() {
                            t.clients
                                .sqs
                                .delete_message()
                                .queue_url(&t.queue_url)
                                .receipt_handle(m.receipt_handle().unwrap_or_default())
                                .send()
                                .await
                                .expect("delete");
                        }
                        black_box(got.messages().len())
                    })
                })
            },
        );
        group.bench_function(format!("{}: PutEvents (1 entry, routed)", t.name), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let out = t
                        .clients
                        .eventbridge
                        .put_events()
                        .entries(
                            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                                .source("bench")
                                .detail_type("tick")
                                .detail(r#"{"n": 1}"#)
                                .event_bus_name(&bus)
                                .build(),
                        )
                        .send()
                        .await
                        .expect("put events");
                    black_box(out.failed_entry_count())
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_serve);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
