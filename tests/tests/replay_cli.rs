//! `bridge replay --local` through the real binary: `kill -9` it in the middle of a replay,
//! run the same command again, and every archived event of the window reaches the rule's
//! queue at least once, with `replay-name` set; events outside the window never do.

use crate::support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infra::local::archive::ArchiveSpec;
use infra::local::{
    Clock, Config, Durability, PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec, RuleState,
    Store, TargetSpec,
};
use serde_json::Value;
use support::bridge_bin;

const EVENTS: u32 = 3000;

fn store(state: &std::path::Path) -> Store {
    let config = Config {
        durability: Durability::Normal,
        ..Config::default()
    };
    Store::open_with(state, config, Clock::System).expect("open")
}

fn replay(state: &std::path::Path) -> Command {
    let mut cmd = Command::new(bridge_bin());
    cmd.args(["replay", "--local"]).arg(state).args([
        "--archive",
        "all",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-31T23:59:59Z",
        "--rule",
        "replayed",
    ]);
    cmd
}

#[test]
fn kill_9_during_a_local_replay_then_rerun_delivers_every_archived_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    {
        let mut s = store(&state);
        s.put_archive(&ArchiveSpec {
            name: "all".into(),
            bus: "default".into(),
            pattern: None,
            retention_days: 0,
            description: None,
        })
        .expect("archive");
        for chunk in 0..EVENTS / 10 {
            let batch: Vec<PutEventsEntry> = (0..10)
                .map(|i| {
                    let n = chunk * 10 + i;
                    // One event in a hundred is outside the window (February).
                    let day = if n % 100 == 99 {
                        "2026-02-01"
                    } else {
                        "2026-01-15"
                    };
                    PutEventsEntry {
                        time: Some(format!("{day}T12:00:00Z")),
                        ..PutEventsEntry::new("shop", "Order Placed", format!(r#"{{"n": {n}}}"#))
                    }
                })
                .collect();
            s.put_events(&batch).expect("put");
        }
        // The rule the replay goes to exists only now: its queue holds replayed events only.
        let q = s.put_queue(&QueueSpec::new("replayed")).expect("queue");
        let other = s.put_queue(&QueueSpec::new("other")).expect("queue");
        for (name, queue) in [("replayed", q), ("other", other)] {
            s.put_rule(&RuleSpec {
                bus: "default".into(),
                name: name.into(),
                pattern: Some(r#"{"source": ["shop"]}"#.into()),
                schedule: None,
                state: RuleState::Enabled,
                description: None,
            })
            .expect("rule");
            s.put_targets("default", name, &[TargetSpec::new("q", queue)])
                .expect("target");
        }
    }

    // Kill the first run after it delivered its first batch, at a varied moment.
    let mut child = replay(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bridge replay");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut delivered_lines = 0;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if line.contains(" default/replayed → ") {
            delivered_lines += 1;
            if delivered_lines == 1 {
                break;
            }
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 200)));
    child.kill().expect("kill -9");
    child.wait().expect("wait");

    let interrupted = {
        let mut s = store(&state);
        let name = running_name(&mut s);
        let r = s.replay(&name).expect("read").expect("replay");
        eprintln!(
            "killed after {} of {} events",
            r.replayed,
            r.replayed + r.remaining
        );
        assert!(
            r.replayed > 0,
            "the first batch was committed before its lines were printed"
        );
        !r.is_final()
    };

    // The same command resumes it and completes.
    let out = replay(&state).output().expect("run bridge replay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if interrupted {
        assert!(text.contains("resuming after"), "{text}");
    }
    assert!(text.contains("COMPLETED"), "{text}");

    let mut s = store(&state);
    let mut seen = BTreeSet::new();
    loop {
        let got = s
            .receive_messages("replayed", ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            break;
        }
        for m in &got {
            let event: Value = serde_json::from_str(&m.body).expect("json");
            assert!(
                event["replay-name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("all-")),
                "{event}"
            );
            seen.insert(event["detail"]["n"].as_u64().expect("n") as u32);
            s.delete_message("replayed", &m.receipt_handle)
                .expect("delete");
        }
    }
    let window: BTreeSet<u32> = (0..EVENTS).filter(|n| n % 100 != 99).collect();
    assert_eq!(seen, window, "every event of the window, none outside it");
    // `--rule replayed`: the other matching rule got nothing.
    assert!(s
        .receive_messages("other", ReceiveRequest::default())
        .expect("receive")
        .is_empty());
    // Replayed events were not archived again.
    assert_eq!(s.archived_count("all").unwrap(), u64::from(EVENTS));
}

/// The one replay in the state (its default name comes from the archive and the window).
fn running_name(s: &mut Store) -> String {
    let running = s.running_replays().expect("list");
    match running.as_slice() {
        [one] => one.clone(),
        // It finished before the kill: find it by its default name.
        [] => "all-2026-01-01T000000Z-2026-01-31T235959Z".to_string(),
        more => panic!("more than one replay: {more:?}"),
    }
}

/// On AWS (moto): `bridge replay` finds the archive's bus, starts the replay and reports its
/// states until it completed (moto completes a replay at once: see docs/testing.md).
#[test]
fn replay_on_aws_starts_and_waits_for_the_replay() {
    let Some(endpoint) = support::moto::endpoint() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let aws = support::moto::client(&endpoint);
    let bus = support::moto::unique("replay-cli-bus");
    let archive = support::moto::unique("replay-cli");
    aws.block_on(async {
        let created = aws
            .clients()
            .eventbridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("CreateEventBus");
        aws.clients()
            .eventbridge
            .create_archive()
            .archive_name(&archive)
            .event_source_arn(created.event_bus_arn().expect("arn"))
            .send()
            .await
            .expect("CreateArchive");
    });
    let run = |args: &[&str]| {
        let mut cmd = Command::new(bridge_bin());
        support::moto::dummy_credentials(&mut cmd, dir.path());
        cmd.arg("replay")
            .args(args)
            .args(["--endpoint-url", &endpoint])
            .current_dir(dir.path())
            .output()
            .expect("run bridge replay")
    };
    let window = [
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-02T00:00:00+01:00",
    ];
    let out = run(&[
        &["--archive", archive.as_str(), "--rule", "r1"][..],
        &window[..],
    ]
    .concat());
    let text = support::moto::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("started, archive"), "{text}");
    assert!(text.contains(": COMPLETED"), "{text}");

    let out = run(&[&["--archive", "no-such-archive"][..], &window[..]].concat());
    assert!(!out.status.success());
    assert!(
        support::moto::text(&out).contains("archive no-such-archive does not exist"),
        "{}",
        support::moto::text(&out)
    );
    let out = run(&[
        "--archive",
        &archive,
        "--from",
        "yesterday",
        "--to",
        "2026-01-02T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(support::moto::text(&out).contains("--from yesterday: not an RFC 3339 time"));
    aws.block_on(async {
        let _ = aws
            .clients()
            .eventbridge
            .delete_archive()
            .archive_name(&archive)
            .send()
            .await;
        let _ = aws
            .clients()
            .eventbridge
            .delete_event_bus()
            .name(&bus)
            .send()
            .await;
    });
}

/// `bridge dev` applies the project's archive, archives what `put-event --local` sends,
/// resumes a replay left running, and prints it.
#[test]
fn dev_applies_archives_and_resumes_and_shows_a_running_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("rules")).expect("mkdir");
    std::fs::write(
        project.join("bridge.json"),
        r#"{"stack": "shop", "queues": [{"name": "orders"}],
            "archives": [{"name": "shop-events", "event_pattern": {"source": ["shop"]}, "retention_days": 30}]}"#,
    )
    .expect("bridge.json");
    std::fs::write(
        project.join("rules/orders.json"),
        r#"{"event_pattern": {"source": ["shop"]}, "targets": [{"id": "q", "queue": "orders"}]}"#,
    )
    .expect("rule");
    let state = dir.path().join("state");
    let dev = || {
        Command::new(bridge_bin())
            .args(["dev", "--once", "--project"])
            .arg(&project)
            .arg("--local")
            .arg(&state)
            .output()
            .expect("run bridge dev")
    };
    let out = dev();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("+ create archive shop-events"), "{text}");
    for (source, n) in [("shop", 1), ("other", 2), ("shop", 3)] {
        let out = Command::new(bridge_bin())
            .args(["put-event", "--local"])
            .arg(&state)
            .args(["--source", source, "--detail-type", "t", "--detail"])
            .arg(format!(r#"{{"n": {n}}}"#))
            .args(["--time", "2026-01-15T00:00:00Z"])
            .output()
            .expect("put-event");
        assert!(out.status.success());
    }
    {
        let mut s = store(&state);
        assert_eq!(s.archived_count("shop-events").unwrap(), 2);
        // The live deliveries are consumed, so the queue holds only what the replay sends.
        let live = s
            .receive_messages("orders", ReceiveRequest::default())
            .unwrap();
        assert_eq!(live.len(), 2);
        for m in &live {
            s.delete_message("orders", &m.receipt_handle).unwrap();
        }
        // A replay left running (as `kill -9` of `bridge replay --local` leaves one).
        s.start_replay("left-running", "shop-events", 0, i64::MAX / 2, &[])
            .expect("start");
    }
    let out = dev();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("replay left-running → bus default  replayed"),
        "{text}"
    );
    assert!(text.contains("completed: 2 events replayed"), "{text}");
    let mut s = store(&state);
    assert_eq!(
        s.replay("left-running").unwrap().unwrap().state,
        "COMPLETED"
    );
    let got = s
        .receive_messages("orders", ReceiveRequest::default())
        .unwrap();
    assert_eq!(got.len(), 2);
}
