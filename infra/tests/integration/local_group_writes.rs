//! Writes of any kind joining the group commit (`GroupCommit::write`): S3 object commits and
//! SNS publishes from many threads share one transaction and one fsync, a write that fails
//! (or panics) leaves no trace and does not fail the others, and a write that changed
//! nothing that must last is answered without an fsync.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use infra::local::{
    BucketSpec, CreatedReason, GroupCommit, LocalError, PublishRequest, QueueSpec, Store,
    SubscriptionSpec, TargetSpec, TopicSpec,
};
use serde_json::Value;

use super::local_support::{drain, rule};

/// A state with bucket `data` (S3 events to the default bus, rule `s3` → queue `s3-q`) and
/// topic `news` (subscribed by queue `news-q`); the bucket's directory.
fn state(dir: &Path) -> PathBuf {
    let mut s = Store::open(dir.join("state")).expect("open");
    let s3_q = s.put_queue(&QueueSpec::new("s3-q")).expect("queue");
    let news_q = s.put_queue(&QueueSpec::new("news-q")).expect("queue");
    rule(
        &mut s,
        "s3",
        r#"{"source": ["aws.s3"]}"#,
        &[TargetSpec::new("q", s3_q)],
    );
    s.put_topic(&TopicSpec::new("news")).expect("topic");
    s.subscribe(&SubscriptionSpec::new("news", "sqs", news_q))
        .expect("subscription");
    let bucket = dir.join("buckets").join("data");
    s.put_bucket(&BucketSpec {
        name: "data".into(),
        dir: bucket.clone(),
        eventbridge: true,
        notifications: Vec::new(),
    })
    .expect("bucket");
    bucket
}

/// A complete file staged in the bucket's hidden staging directory, as the server stages
/// an upload.
fn stage(bucket: &Path, name: &str, body: &str) -> PathBuf {
    let staging = bucket.join(".staging");
    std::fs::create_dir_all(&staging).expect("staging dir");
    let file = staging.join(name);
    std::fs::write(&file, body).expect("stage");
    file
}

/// [`state`] in `dir` behind a group writer that [`hold_writer`] holds: the bucket's
/// directory, the writer, and what releases it.
fn held_group(dir: &Path) -> (PathBuf, Arc<GroupCommit>, mpsc::Sender<()>) {
    let bucket = state(dir);
    let group =
        Arc::new(GroupCommit::new(Store::open(dir.join("state")).expect("open")).expect("writer"));
    let release = hold_writer(&group);
    (bucket, group, release)
}

/// Holds the writer busy until the returned sender is dropped or sent to, so that calls
/// queue behind it; returns once the writer runs the holding job.
fn hold_writer(group: &Arc<GroupCommit>) -> mpsc::Sender<()> {
    let (release, held) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let g = Arc::clone(group);
    std::thread::spawn(move || {
        g.with_store(move |_| {
            let _ = started.send(());
            let _ = held.recv();
        })
        .expect("hold the writer");
    });
    running.recv().expect("the writer runs the holding job");
    release
}

fn wait_until_waiting(group: &GroupCommit, calls: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while group.stats().waiting < calls {
        assert!(
            Instant::now() < deadline,
            "only {} of {calls} calls reached the writer's queue",
            group.stats().waiting
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn s3_keys(s: &mut Store) -> Vec<String> {
    let mut keys: Vec<String> = drain(s, "s3-q")
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_str(&m.body).expect("event");
            event["detail"]["object"]["key"]
                .as_str()
                .expect("key")
                .to_string()
        })
        .collect();
    keys.sort();
    keys
}

fn news(s: &mut Store) -> Vec<String> {
    let mut messages: Vec<String> = drain(s, "news-q")
        .iter()
        .map(|m| {
            let envelope: Value = serde_json::from_str(&m.body).expect("envelope");
            envelope["Message"].as_str().expect("message").to_string()
        })
        .collect();
    messages.sort();
    messages
}

#[test]
fn concurrent_uploads_and_publishes_share_one_commit_and_one_fsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bucket, group, release) = held_group(dir.path());
    let before = group.stats();
    const UPLOADS: usize = 60;
    const PUBLISHES: usize = 40;
    let mut callers = Vec::new();
    for i in 0..UPLOADS {
        let g = Arc::clone(&group);
        let staged = stage(&bucket, &format!("u{i}"), &format!("body {i}"));
        callers.push(std::thread::spawn(move || {
            let key = format!("up/{i:03}");
            g.write(move |w| {
                let change = w.commit_object(
                    "data",
                    &key,
                    &staged,
                    &format!("etag{i}"),
                    CreatedReason::Put,
                )?;
                Ok(change.key)
            })
        }));
    }
    for i in 0..PUBLISHES {
        let g = Arc::clone(&group);
        callers.push(std::thread::spawn(move || {
            g.write(move |w| w.publish("news", &PublishRequest::message(format!("n{i:03}"))))
        }));
    }
    wait_until_waiting(&group, (UPLOADS + PUBLISHES) as u64);
    drop(release);
    for c in callers {
        c.join().expect("caller").expect("acknowledged");
    }
    let after = group.stats();
    assert_eq!(
        after.commits - before.commits,
        1,
        "{} writes queued together share one commit",
        UPLOADS + PUBLISHES
    );
    assert_eq!(after.syncs - before.syncs, 1, "and one fsync");

    let mut s = group.into_store_checked();
    let keys = s3_keys(&mut s);
    assert_eq!(keys.len(), UPLOADS, "every upload's event was delivered");
    assert_eq!(keys[0], "up/000");
    for i in 0..UPLOADS {
        let file = bucket.join(format!("up/{i:03}"));
        assert_eq!(
            std::fs::read_to_string(&file).expect("object file"),
            format!("body {i}")
        );
    }
    assert_eq!(news(&mut s).len(), PUBLISHES, "every publish was delivered");
    assert!(
        s.scan_buckets().expect("scan").is_empty(),
        "the scan does not announce the committed objects again"
    );
}

/// A caller's call on the writer, run on a thread of its own.
type Call = Box<dyn FnOnce(&GroupCommit) -> Result<String, LocalError> + Send>;

#[test]
fn a_failing_or_panicking_write_leaves_no_trace_and_does_not_fail_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bucket, group, release) = held_group(dir.path());
    let before = group.stats();
    let spawn = |f: Call| {
        let g = Arc::clone(&group);
        std::thread::spawn(move || f(&g))
    };
    let staged_ok = stage(&bucket, "ok", "kept");
    let staged_bad = stage(&bucket, "bad", "rolled back");
    let callers = vec![
        spawn(Box::new(move |g| {
            g.write(move |w| {
                w.commit_object("data", "kept.txt", &staged_ok, "e1", CreatedReason::Put)
                    .map(|c| c.key)
            })
        })),
        // Publishes and uploads, then fails: none of it may stay.
        spawn(Box::new(move |g| {
            g.write(move |w| {
                w.publish("news", &PublishRequest::message("from the failing write"))?;
                w.commit_object("data", "gone.txt", &staged_bad, "e2", CreatedReason::Put)?;
                Err(LocalError::NoSuchTopic("made up, to fail".into()))
            })
        })),
        spawn(Box::new(|g| {
            g.write(|w| {
                w.publish("news", &PublishRequest::message("from the panicking write"))?;
                panic!("a write that panics");
            })
        })),
        // An error of the store itself (no such topic) fails only its own call.
        spawn(Box::new(|g| {
            g.write(|w| w.publish("no-such-topic", &PublishRequest::message("x")))
        })),
        spawn(Box::new(|g| {
            g.write(|w| w.publish("news", &PublishRequest::message("kept")))
        })),
    ];
    wait_until_waiting(&group, callers.len() as u64);
    drop(release);
    let results: Vec<Result<String, LocalError>> = callers
        .into_iter()
        .map(|c| c.join().expect("caller"))
        .collect();
    assert_eq!(results[0].as_deref().ok(), Some("kept.txt"));
    assert!(
        matches!(results[1], Err(LocalError::NoSuchTopic(_))),
        "{:?}",
        results[1]
    );
    assert!(
        results[2]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("panicked")),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(LocalError::NoSuchTopic(_))),
        "{:?}",
        results[3]
    );
    assert!(results[4].is_ok(), "{:?}", results[4]);
    assert_eq!(
        group.stats().commits - before.commits,
        1,
        "the failures did not split the group"
    );

    let mut s = group.into_store_checked();
    assert_eq!(s3_keys(&mut s), vec!["kept.txt".to_string()]);
    assert_eq!(news(&mut s), vec!["kept".to_string()]);
    // The failed write's rename happened before it failed (the file is written first,
    // then recorded): the next scan announces it, as a file that appeared.
    assert_eq!(
        s.scan_buckets()
            .expect("scan")
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>(),
        vec!["gone.txt"]
    );
}

#[test]
fn a_write_that_changes_nothing_lasting_is_answered_without_an_fsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _bucket = state(dir.path());
    let group =
        GroupCommit::new(Store::open(dir.path().join("state")).expect("open")).expect("writer");
    group
        .write(|w| w.publish("news", &PublishRequest::message("one")))
        .expect("publish");
    let before = group.stats();
    let gone = group
        .write(|w| w.delete_object("data", "never-there.txt"))
        .expect("delete");
    assert!(gone.is_none(), "no event for a key that was never there");
    let purged = group.write(|w| w.purge_queue("news-q")).expect("purge");
    assert_eq!(purged, 1);
    let after = group.stats();
    assert_eq!(after.commits - before.commits, 2);
    assert_eq!(
        after.syncs, before.syncs,
        "a no-op delete and a purge (a lost purge is a redelivery) wait for no fsync"
    );
    group
        .write(|w| w.publish("news", &PublishRequest::message("two")))
        .expect("publish");
    assert_eq!(
        group.stats().syncs,
        after.syncs + 1,
        "a publish waits for one"
    );
}

/// A call that fails in a group sends the group round again with a savepoint per call;
/// writes run after the other calls, so none is run twice or lost.
#[test]
fn writes_and_put_events_share_a_group_and_a_failing_send_does_not_undo_a_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bucket, group, release) = held_group(dir.path());
    let before = group.stats();
    let staged = stage(&bucket, "u", "x");
    let upload = {
        let g = Arc::clone(&group);
        std::thread::spawn(move || {
            g.write(move |w| {
                w.commit_object("data", "with-puts.txt", &staged, "e", CreatedReason::Put)
            })
        })
    };
    let put = {
        let g = Arc::clone(&group);
        std::thread::spawn(move || {
            g.put_events(vec![infra::local::PutEventsEntry::new("app", "t", "{}")])
        })
    };
    // A send to a queue that does not exist fails as a call.
    let bad = {
        let g = Arc::clone(&group);
        std::thread::spawn(move || {
            g.send_messages("no-such-queue", vec![infra::local::SendRequest::body("x")])
        })
    };
    wait_until_waiting(&group, 3);
    drop(release);
    upload.join().expect("upload").expect("committed");
    let put = put.join().expect("put").expect("accepted");
    assert_eq!(put.failed_entry_count, 0);
    let bad = bad.join().expect("send");
    assert!(matches!(bad, Err(LocalError::NoSuchQueue(_))), "{bad:?}");
    assert_eq!(group.stats().commits - before.commits, 1);
    let mut s = group.into_store_checked();
    assert_eq!(s3_keys(&mut s), vec!["with-puts.txt".to_string()]);
    assert_eq!(
        s.event_record(&put.entries[0].event_id.clone().expect("event id"))
            .expect("read")
            .and_then(|r| r.bus),
        Some("default".to_string()),
        "the put was accepted in the same commit"
    );
}

/// The store back from an `Arc`'d writer, once every caller let go of it.
trait IntoStore {
    fn into_store_checked(self) -> Store;
}

impl IntoStore for Arc<GroupCommit> {
    fn into_store_checked(self) -> Store {
        Arc::into_inner(self)
            .expect("no caller holds the writer")
            .into_store()
            .expect("the writer stops")
    }
}

impl IntoStore for GroupCommit {
    fn into_store_checked(self) -> Store {
        self.into_store().expect("the writer stops")
    }
}

/// [`state`] with topic `news` also mailed to an address and rule `app` (source `app`) to
/// queue `app-q`, and the outbox blocked (a file where its directory goes), so e-mails
/// stay queued in the database until it is freed; the outbox's path.
fn mailing_state_with_a_blocked_outbox(dir: &Path) -> PathBuf {
    state(dir);
    let mut s = Store::open(dir.join("state")).expect("open");
    s.subscribe(&SubscriptionSpec::new("news", "email", "ops@example.com"))
        .expect("e-mail subscription");
    let app_q = s.put_queue(&QueueSpec::new("app-q")).expect("queue");
    rule(
        &mut s,
        "app",
        r#"{"source": ["app"]}"#,
        &[TargetSpec::new("q", app_q)],
    );
    let outbox = s.outbox_dir();
    let _ = std::fs::remove_dir_all(&outbox);
    std::fs::write(&outbox, "in the way").expect("block the outbox");
    outbox
}

/// Writing e-mails out follows the commit that queued them; its failure is not the
/// commit's. Before, it failed the group after its commit, so the writer ran each call
/// again alone: PutEvents and sends twice, writes not at all (answered "failed to
/// commit") though they had committed.
#[test]
fn an_outbox_that_cannot_be_written_fails_no_committed_call_and_repeats_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = mailing_state_with_a_blocked_outbox(dir.path());
    let group = Arc::new(
        GroupCommit::new(Store::open(dir.path().join("state")).expect("open")).expect("writer"),
    );
    let release = hold_writer(&group);
    let before = group.stats();
    let publish = |text: &'static str| {
        let g = Arc::clone(&group);
        std::thread::spawn(move || {
            g.write(move |w| w.publish("news", &PublishRequest::message(text)))
        })
    };
    let callers = [publish("one"), publish("two")];
    let put = {
        let g = Arc::clone(&group);
        std::thread::spawn(move || {
            g.put_events(vec![infra::local::PutEventsEntry::new("app", "t", "{}")])
        })
    };
    wait_until_waiting(&group, 3);
    drop(release);
    for caller in callers {
        let out = caller.join().expect("caller");
        assert!(
            out.is_ok(),
            "a committed publish is answered as such: {out:?}"
        );
    }
    let put = put.join().expect("put").expect("accepted");
    assert_eq!(put.failed_entry_count, 0);
    assert_eq!(
        group.stats().commits - before.commits,
        1,
        "one commit, not one per call"
    );
    let mut s = group.into_store_checked();
    assert_eq!(
        news(&mut s),
        vec!["one".to_string(), "two".to_string()],
        "each delivered once"
    );
    assert_eq!(drain(&mut s, "app-q").len(), 1, "the put was routed once");
    // The mails were kept: once the outbox is free, the next flush writes both.
    std::fs::remove_file(&outbox).expect("unblock");
    assert_eq!(s.flush_outbox().expect("flush"), 2);
    assert_eq!(s.outbox_mails(10).expect("outbox").len(), 2);
}

/// The console's store and the writer's flush the same queued e-mails at once: neither
/// fails, each mail is written once, and no temporary file is left behind.
#[test]
fn stores_flushing_the_outbox_at_once_do_not_fail_each_other() {
    const MAILS: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = mailing_state_with_a_blocked_outbox(dir.path());
    let state = dir.path().join("state");
    let mut s = Store::open(&state).expect("open");
    // Opened before there is mail (an open flushes the outbox).
    let second = Store::open(&state).expect("open a second store");
    for i in 0..MAILS {
        s.publish("news", &PublishRequest::message(format!("m{i}")))
            .expect("publish");
    }
    std::fs::remove_file(&outbox).expect("unblock");
    std::fs::create_dir(&outbox).expect("outbox dir");
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let flushers: Vec<_> = [s, second]
        .into_iter()
        .map(|mut store| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                store.flush_outbox()
            })
        })
        .collect();
    let mut written = 0;
    for f in flushers {
        written += f
            .join()
            .expect("flusher")
            .expect("a flush beside another succeeds");
    }
    assert!(
        written >= MAILS,
        "every mail was written by one of them ({written})"
    );
    let names: Vec<String> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), MAILS, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "{names:?}"
    );
    let mut s = Store::open(&state).expect("reopen");
    assert_eq!(s.flush_outbox().expect("flush"), 0, "none left queued");
}
