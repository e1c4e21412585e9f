//! Crash safety of the local backend: `kill -9` a writer at random moments, then check that
//! every event whose id `bridge put-event --local` printed (it prints only after the commit)
//! is in the target queue, and that the state opens cleanly afterwards.

use crate::support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infra::local::{
    PutEventsEntry, QueueSpec, ReceiveRequest, RuleSpec, RuleState, Store, TargetSpec,
};
use serde_json::Value;
use support::{bridge_bin, repo_root};

/// A cheap pseudo-random number (xorshift seeded from the clock): varied kill moments
/// without a dependency. The seed is printed so a failure can be reasoned about.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn kill_9_loses_no_accepted_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    {
        let mut s = Store::open(&state).expect("open");
        let q = s.put_queue(&QueueSpec::new("crash")).expect("queue");
        s.put_rule(&RuleSpec {
            bus: "default".into(),
            name: "crash".into(),
            pattern: Some(r#"{"source": ["crash.test"]}"#.into()),
            schedule: None,
            state: RuleState::Enabled,
            description: None,
        })
        .expect("rule");
        s.put_targets("default", "crash", &[TargetSpec::new("q", q)])
            .expect("target");
        // Warm the database so the first kill does not land before anything exists.
        s.put_events(&[PutEventsEntry::new("crash.test", "warmup", "{}")])
            .expect("warmup");
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("kill-moment seed: {seed}");
    let mut rng = Rng(seed);
    let mut acknowledged: Vec<String> = Vec::new();
    let mut seq = 0u64;
    for round in 0..6 {
        let mut child = Command::new(bridge_bin())
            .args(["put-event", "--local"])
            .arg(&state)
            .args(["--file", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bridge put-event");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let start = seq;
        let writer = std::thread::spawn(move || {
            let mut n = start;
            loop {
                let line = format!(
                    "{{\"Source\":\"crash.test\",\"DetailType\":\"tick\",\"Detail\":{{\"seq\":{n}}}}}\n"
                );
                if stdin.write_all(line.as_bytes()).is_err() {
                    return n;
                }
                n += 1;
                if n - start > 200_000 {
                    return n;
                }
            }
        });
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while let Ok(n) = r.read_line(&mut line) {
                // Only complete lines count: a line cut by the kill was never acknowledged.
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                let id = line.trim().to_string();
                if id.len() == 36 {
                    ids.push(id);
                }
                line.clear();
            }
            ids
        });
        let delay = 50 + rng.next() % 300;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        seq = writer.join().expect("writer thread");
        let ids = reader.join().expect("reader thread");
        eprintln!(
            "round {round}: killed after {delay} ms, {} events acknowledged",
            ids.len()
        );
        acknowledged.extend(ids);
    }
    assert!(
        !acknowledged.is_empty(),
        "the writer acknowledged no event before being killed: the test proved nothing"
    );

    let mut s = Store::open(&state).expect("state opens cleanly after the kills");
    let mut received: HashSet<String> = HashSet::new();
    loop {
        let got = s
            .receive_messages("crash", ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            break;
        }
        for m in got {
            let event: Value = serde_json::from_str(&m.body).expect("queued body is an event");
            received.insert(event["id"].as_str().expect("event id").to_string());
            s.delete_message("crash", &m.receipt_handle)
                .expect("delete");
        }
    }
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !received.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        acknowledged.len(),
        missing.first()
    );
    assert!(received.len() >= acknowledged.len());
}

/// `kill -9` of `bridge dev` while files keep arriving in a local bucket: after a restart,
/// every file has produced its Object Created event (the remembered listing and the delivered
/// events commit together, so a change is either fully handled or seen again).
#[test]
fn kill_9_of_dev_misses_no_bucket_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let project = repo_root().join("examples");
    let dev = |extra: &[&str]| {
        let mut cmd = Command::new(bridge_bin());
        cmd.arg("dev")
            .arg("--project")
            .arg(&project)
            .arg("--local")
            .arg(&state)
            .args(extra);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    let status = dev(&["--once"]).status().expect("first dev run");
    assert!(status.success());
    let uploads = state.join("buckets").join("raw-data").join("uploads");
    std::fs::create_dir_all(&uploads).expect("uploads dir");

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("kill-moment seed: {seed}");
    let mut rng = Rng(seed);
    let mut written = Vec::new();
    for round in 0..5 {
        let mut child = dev(&["--for", "30", "--interval-ms", "5"])
            .spawn()
            .expect("spawn dev");
        let deadline = std::time::Instant::now() + Duration::from_millis(150 + rng.next() % 400);
        while std::time::Instant::now() < deadline {
            let key = format!("f{round}-{}.png", written.len());
            std::fs::write(uploads.join(&key), key.as_bytes()).expect("write file");
            written.push(format!("uploads/{key}"));
            std::thread::sleep(Duration::from_millis(3));
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    let status = dev(&["--once"]).status().expect("final dev run");
    assert!(status.success(), "dev starts cleanly after the kills");

    let mut s = Store::open(&state).expect("open");
    let mut created: HashSet<String> = HashSet::new();
    loop {
        let got = s
            .receive_messages("example-events", ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            break;
        }
        for m in got {
            let event: Value = serde_json::from_str(&m.body).expect("event");
            if event["detail-type"] == "Object Created" {
                created.insert(
                    event["detail"]["object"]["key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            s.delete_message("example-events", &m.receipt_handle)
                .expect("delete");
        }
    }
    let missing: Vec<&String> = written.iter().filter(|k| !created.contains(*k)).collect();
    assert!(!written.is_empty());
    assert!(
        missing.is_empty(),
        "{} of {} files produced no event, e.g. {:?}",
        missing.len(),
        written.len(),
        missing.first()
    );
}
