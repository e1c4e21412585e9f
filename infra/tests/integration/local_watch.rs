//! Bucket directories watched as they change (`infra::local::watch`), beside the scan: quick
//! changes that a scan cannot see (a file created and deleted between two scans, a file
//! written twice between two scans) become the events S3 would send.
//!
//! No timing is asserted: each test waits, with a generous limit, for the events it expects.

use std::path::Path;
use std::time::{Duration, Instant};

use infra::local::buckets::ChangeKind;
use infra::local::{BucketSpec, BucketWatcher, QueueSpec, S3Change, Store};

const PATIENCE: Duration = Duration::from_secs(30);

/// A store with one bucket `data` (EventBridge on), and its directory.
fn bucket() -> (tempfile::TempDir, Store, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path().join("state")).expect("open");
    store.put_queue(&QueueSpec::new("unused")).expect("queue");
    let bucket_dir = dir.path().join("buckets").join("data");
    store
        .put_bucket(&BucketSpec {
            name: "data".into(),
            dir: bucket_dir.clone(),
            eventbridge: true,
            notifications: Vec::new(),
        })
        .expect("bucket");
    let bucket_dir = std::fs::canonicalize(&bucket_dir).expect("canonical");
    (dir, store, bucket_dir)
}

fn watcher(store: &mut Store) -> BucketWatcher {
    BucketWatcher::start(&store.list_buckets().expect("buckets")).expect("this platform watches")
}

/// Delivers what the watcher sees, and scans when it asks to (as `bridge dev` does), until
/// `done` says the changes so far are enough (or the patience runs out); returns them.
fn collect(
    w: &mut BucketWatcher,
    store: &mut Store,
    done: impl Fn(&[S3Change]) -> bool,
) -> Vec<S3Change> {
    let start = Instant::now();
    let mut out = Vec::new();
    while !done(&out) && start.elapsed() < PATIENCE {
        w.wait(Duration::from_millis(200));
        out.extend(w.deliver(store).expect("deliver"));
        if w.wants_scan() {
            out.extend(w.scan(store).expect("scan"));
        }
    }
    out
}

fn kinds(changes: &[S3Change], key: &str) -> Vec<ChangeKind> {
    changes
        .iter()
        .filter(|c| c.key == key)
        .map(|c| c.kind)
        .collect()
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dir");
    }
    std::fs::write(path, text).expect("write");
}

/// Polling cannot see a file that comes and goes between two scans; the watcher reports
/// both, as S3 reports the PUT and the DELETE.
#[test]
fn a_file_created_and_deleted_between_two_scans_is_seen() {
    let (_d, mut store, dir) = bucket();
    // What a scan sees: nothing at all.
    write(&dir.join("gone.txt"), "here for an instant");
    std::fs::remove_file(dir.join("gone.txt")).expect("rm");
    assert!(store.scan_buckets().expect("scan").is_empty());

    let mut w = watcher(&mut store);
    write(&dir.join("quick.txt"), "here for an instant");
    std::fs::remove_file(dir.join("quick.txt")).expect("rm");
    let changes = collect(&mut w, &mut store, |c| kinds(c, "quick.txt").len() >= 2);
    assert_eq!(
        kinds(&changes, "quick.txt"),
        [ChangeKind::Created, ChangeKind::Deleted],
        "{changes:?}"
    );
    // Delivered like any other change: routed to EventBridge's default bus.
    assert!(changes.iter().all(|c| c.sequencer.len() == 16));
    // The reconciliation agrees: nothing left to report.
    assert!(w.scan(&mut store).expect("scan").is_empty());
}

/// Two writes of one file between two scans: a scan reports one creation, the watcher one
/// per completed write (each PUT is an event on S3), and the last one carries the final
/// content.
#[test]
fn a_file_written_twice_between_two_scans_is_seen_twice() {
    let (_d, mut store, dir) = bucket();
    std::fs::create_dir(dir.join("in")).expect("dir");
    let mut w = watcher(&mut store);
    write(&dir.join("in/twice.txt"), "first");
    write(&dir.join("in/twice.txt"), "second, longer");
    let changes = collect(&mut w, &mut store, |c| kinds(c, "in/twice.txt").len() >= 2);
    assert_eq!(
        kinds(&changes, "in/twice.txt"),
        [ChangeKind::Created, ChangeKind::Created],
        "{changes:?}"
    );
    let last = changes
        .iter()
        .rev()
        .find(|c| c.key == "in/twice.txt")
        .expect("a change");
    assert_eq!(last.size, Some("second, longer".len() as u64));
    assert!(w.scan(&mut store).expect("scan").is_empty(), "reconciled");

    // A plain rewrite later, a rename into the bucket and a removal: one event each.
    write(&dir.join("in/twice.txt"), "third");
    let outside = dir.parent().expect("parent").join("outside.txt");
    write(&outside, "moved in");
    std::fs::rename(&outside, dir.join("moved.txt")).expect("rename");
    std::fs::remove_file(dir.join("in/twice.txt")).expect("rm");
    let changes = collect(&mut w, &mut store, |c| c.len() >= 3);
    let got: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
    assert_eq!(
        got,
        [
            ("in/twice.txt", ChangeKind::Created),
            ("moved.txt", ChangeKind::Created),
            ("in/twice.txt", ChangeKind::Deleted),
        ]
    );
    assert!(w.scan(&mut store).expect("scan").is_empty(), "reconciled");
}

/// What the scan reported is not reported again when the watcher's own report of the same
/// write arrives later.
#[test]
fn a_write_the_scan_reported_first_is_one_event() {
    let (_d, mut store, dir) = bucket();
    let mut w = watcher(&mut store);
    write(&dir.join("once.txt"), "one write");
    let scanned = w.scan(&mut store).expect("scan");
    let mut all = scanned.clone();
    // The watcher's report arrives (or already did); wait for a later marker file, which
    // comes after it.
    write(&dir.join("marker.txt"), "after");
    all.extend(collect(&mut w, &mut store, |c| {
        c.iter().any(|c| c.key == "marker.txt")
    }));
    assert_eq!(kinds(&all, "once.txt"), [ChangeKind::Created], "{all:?}");
}

#[test]
fn a_file_seen_before_it_was_deleted_is_not_announced_after() {
    use infra::local::buckets::{ObjectState, Observation};
    let (_d, mut store, dir) = bucket();
    let path = dir.join("late.bin");
    write(&path, "seen by the watcher, then deleted");
    let meta = std::fs::metadata(&path).expect("metadata");
    let mtime_ns = meta
        .modified()
        .expect("mtime")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_nanos() as i64;
    // What the watcher read when the file was renamed into place (not a completed write)…
    let seen = Observation {
        bucket: "data".into(),
        key: "late.bin".into(),
        state: Some(ObjectState {
            size: meta.len() as i64,
            mtime_ns,
            etag: "0123456789abcdef0123456789abcdef".into(),
        }),
        every_write: false,
    };
    // …delivered after the file was gone (`dev --serve`'s DeleteObject, say): no event.
    std::fs::remove_file(&path).expect("remove");
    let changes = store
        .apply_observations(std::slice::from_ref(&seen), |_, _, _| false)
        .expect("apply");
    assert!(changes.is_empty(), "{changes:?}");
    // The same observation while the file is there is an object.
    write(&path, "seen by the watcher, then deleted");
    let meta = std::fs::metadata(&path).expect("metadata");
    let mut now = seen.clone();
    if let Some(st) = now.state.as_mut() {
        st.mtime_ns = meta
            .modified()
            .expect("mtime")
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_nanos() as i64;
    }
    let changes = store
        .apply_observations(&[now], |_, _, _| false)
        .expect("apply");
    assert_eq!(kinds(&changes, "late.bin"), [ChangeKind::Created]);
}
