//! Power loss, not only `kill -9`: an event PutEvents acknowledged through [`GroupCommit`]
//! under `Durability::Full` is in the state the disk would hold had the power gone out.
//!
//! `kill -9` (the `local_crash` and `local_group_commit` tests) keeps whatever the process
//! wrote, fsynced or not, because the kernel still holds it; a power loss keeps only what
//! was fsynced. The writer commits with `synchronous=NORMAL` and a second thread fsyncs the
//! WAL before answering, so only a power-loss model shows whether that fsync covers every
//! acknowledged event. The model is `power_loss_shim.c`, preloaded into a child process of
//! this test binary: at every fsync of a state file it copies the file as it stands into an
//! image directory. Opening the image after the child is killed is opening the state after
//! a power cut at the last fsync. A second test runs the same model with
//! `Durability::Normal` (no fsync per commit) and sees acknowledged events go missing, so the
//! model is not vacuous.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use infra::local::{
    Clock, Config, Durability, GroupCommit, PutEventsEntry, QueueSpec, RuleSpec, RuleState, Store,
    TargetSpec,
};

use crate::local_support::drain;

/// Set (to `full` or `normal`) in the child process that puts the events.
const CHILD: &str = "BRIDGE_TEST_POWER_LOSS_CHILD";
/// The state directory, for the child.
const STATE: &str = "BRIDGE_TEST_POWER_LOSS_STATE";
const QUEUE: &str = "power";

/// Compiles the shim with the machine's C compiler into `dir`.
fn build_shim(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/power_loss_shim.c");
    let lib = dir.join("libpower_loss.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(&source)
        .args(["-ldl", "-lpthread"])
        .output()
        .unwrap_or_else(|e| panic!("this test needs a C compiler (`{cc}`, or set CC): {e}"));
    assert!(
        out.status.success(),
        "compiling {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// A closed state with the queue and a rule that sends every `power.test` event to it.
fn make_state(state: &Path) {
    let mut s = Store::open(state).expect("open");
    let q = s.put_queue(&QueueSpec::new(QUEUE)).expect("queue");
    s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: "power".into(),
        pattern: Some(r#"{"source": ["power.test"]}"#.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    s.put_targets("default", "power", &[TargetSpec::new("q", q)])
        .expect("target");
}

/// Copies the regular files of `from` into `to` (a cleanly closed state is on disk whole).
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// What the child acknowledged before it was killed, and the image it left.
struct Run {
    acknowledged: Vec<String>,
    image: PathBuf,
    base_db_len: u64,
    _tmp: tempfile::TempDir,
}

/// Runs the child under the shim until it has acknowledged `stop_after` events (or says it
/// is idle), kills it with SIGKILL, and returns every event id it acknowledged.
fn run_child(test: &str, mode: &str, stop_after: usize) -> Run {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical tempdir");
    let (state, image) = (root.join("state"), root.join("image"));
    make_state(&state);
    copy_files(&state, &image);
    let base_db_len = std::fs::metadata(image.join(infra::local::DATABASE_FILE))
        .expect("the closed state's database")
        .len();
    let shim = build_shim(&root);

    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--exact", &format!("{module}::{test}")])
        .args(["--test-threads", "1", "--nocapture", "--quiet"])
        .env(CHILD, mode)
        .env(STATE, &state)
        .env("LD_PRELOAD", &shim)
        .env("POWER_LOSS_WATCH", &state)
        .env("POWER_LOSS_IMAGE", &image)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut acknowledged = Vec::new();
    let record = |acknowledged: &mut Vec<String>, line: &str| {
        if let Some(id) = line.strip_prefix("ack ") {
            acknowledged.push(id.to_string());
        }
    };
    for line in lines.by_ref() {
        let line = line.expect("child output");
        record(&mut acknowledged, &line);
        if line == "idle" || acknowledged.len() >= stop_after {
            break;
        }
    }
    child.kill().expect("SIGKILL the child");
    // Every line it printed before it died was printed after its fsync: all count.
    for line in lines {
        record(&mut acknowledged, &line.expect("child output"));
    }
    let status = child.wait().expect("wait for the child");
    assert!(
        !status.success(),
        "the child must have been killed: {status:?}"
    );
    for entry in std::fs::read_dir(&image).expect("image dir") {
        let path = entry.expect("image entry").path();
        if path.extension().is_some_and(|e| e == "copying") {
            std::fs::remove_file(path).expect("remove a half-made copy");
        }
    }
    Run {
        acknowledged,
        image,
        base_db_len,
        _tmp: tmp,
    }
}

/// The event ids in the state's queue.
fn queued_ids(state: &Path) -> HashSet<String> {
    let mut s = Store::open(state).expect("open the image as a state");
    drain(&mut s, QUEUE)
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("body is JSON");
            v["id"].as_str().expect("event id").to_string()
        })
        .collect()
}

/// The child's side: `threads` producers put batches of ten through one writer and print
/// `ack <event id>` for every event of a call that returned; `calls` per thread, then
/// `idle` and a wait for the kill.
fn child_puts(durability: Durability, threads: usize, calls: usize) {
    let state = std::env::var_os(STATE).expect("state dir");
    let config = Config {
        durability,
        ..Config::default()
    };
    let store = Store::open_with(state, config, Clock::System).expect("open");
    let writer = GroupCommit::new(store).expect("writer");
    std::thread::scope(|scope| {
        for t in 0..threads {
            let writer = &writer;
            scope.spawn(move || {
                for call in 0..calls {
                    let entries: Vec<PutEventsEntry> = (0..10)
                        .map(|k| {
                            PutEventsEntry::new(
                                "power.test",
                                "t",
                                format!(
                                    r#"{{"thread": {t}, "call": {call}, "k": {k}, "pad": "{}"}}"#,
                                    "x".repeat(200)
                                ),
                            )
                        })
                        .collect();
                    let out = writer.put_events(entries).expect("put events");
                    assert_eq!(out.failed_entry_count, 0);
                    let mut text = String::new();
                    for e in &out.entries {
                        let id = e.event_id.as_deref().expect("an accepted entry has an id");
                        text.push_str(&format!("ack {id}\n"));
                    }
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(text.as_bytes()).expect("stdout");
                    stdout.flush().expect("stdout");
                }
            });
        }
    });
    println!("idle");
    std::io::stdout().flush().expect("stdout");
    std::thread::sleep(std::time::Duration::from_secs(120));
    panic!("the parent did not kill this child");
}

#[test]
fn acknowledged_events_survive_a_power_cut_at_the_last_fsync() {
    if let Some(mode) = std::env::var_os(CHILD) {
        assert_eq!(mode, "full");
        return child_puts(Durability::Full, 4, 10_000);
    }
    let run = run_child(
        "acknowledged_events_survive_a_power_cut_at_the_last_fsync",
        "full",
        5_000,
    );
    assert!(
        run.acknowledged.len() >= 5_000,
        "{}",
        run.acknowledged.len()
    );
    let wal = run
        .image
        .join(format!("{}-wal", infra::local::DATABASE_FILE));
    assert!(
        wal.is_file(),
        "no fsynced WAL in the image: the shim was not loaded, or nothing was fsynced"
    );
    // 5,000 events of ~1.5 KB fill the WAL past SQLite's checkpoint (1,000 pages), so the
    // run also crossed a checkpoint (the database grew) and a WAL restart.
    let db_len = std::fs::metadata(run.image.join(infra::local::DATABASE_FILE))
        .expect("image database")
        .len();
    assert!(
        db_len > run.base_db_len,
        "no checkpoint in the run: {db_len} bytes"
    );
    let queued = queued_ids(&run.image);
    let lost: Vec<&String> = run
        .acknowledged
        .iter()
        .filter(|id| !queued.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events lost at the power cut, e.g. {:?}",
        lost.len(),
        run.acknowledged.len(),
        lost.first()
    );
}

#[test]
fn the_model_loses_what_no_fsync_covered() {
    if let Some(mode) = std::env::var_os(CHILD) {
        assert_eq!(mode, "normal");
        // Few enough events that SQLite does not checkpoint (which would fsync the WAL).
        return child_puts(Durability::Normal, 1, 5);
    }
    let run = run_child(
        "the_model_loses_what_no_fsync_covered",
        "normal",
        usize::MAX,
    );
    assert_eq!(run.acknowledged.len(), 50);
    let queued = queued_ids(&run.image);
    let kept = run
        .acknowledged
        .iter()
        .filter(|id| queued.contains(*id))
        .count();
    assert_eq!(
        kept, 0,
        "with synchronous=NORMAL nothing was fsynced, yet {kept} events are in the image"
    );
}
