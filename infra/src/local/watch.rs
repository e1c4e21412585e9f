//! Watching local bucket directories as they change (inotify on Linux, FSEvents on macOS,
//! ReadDirectoryChangesW on Windows, through the `notify` crate), so that changes quicker than
//! a scan interval are seen: a file created and deleted between two scans, or written twice.
//!
//! The watcher does not replace the scan ([`Store::scan_buckets`]), it runs beside it: the
//! scan stays the reconciliation (at start, after a restart, when the platform reports that
//! it dropped events, when a directory appears, and every few seconds), and it alone decides
//! what a restart catches up on. What the watcher adds is what a scan cannot see:
//!
//! - each completed write of a file (Linux: the file closed after it was written, or renamed
//!   into the bucket) is one `Object Created`, even when a second write follows before a scan
//!   could notice the first — as each PUT to S3 is one event;
//! - a file that was written and is gone before bridge could read it still gets its
//!   `Object Created` (size 0 and the empty object's ETag: its content is unknown), then its
//!   `Object Deleted`;
//! - the file's size and ETag are read when the watcher handles the event, so an event for a
//!   write that was quickly followed by another carries the later content.
//!
//! Observations live in memory until [`BucketWatcher::deliver`] commits them with their
//! events, so a crash loses only the quick changes of the last instants whose files no longer
//! show them (what the scan then finds is delivered after the restart, as before).

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, EventKindMask, RecommendedWatcher, RecursiveMode, Watcher};

use super::buckets::{mtime_ns, ChangeKind, ObjectState, Observation, S3Change, DELETED_ETAG};
use super::{md5_file, BucketSpec, GroupCommit, LocalError, Result, Store};

/// What the event handler (the watcher's thread) hands to [`BucketWatcher::deliver`].
#[derive(Default)]
struct Shared {
    observations: Vec<Observation>,
    /// A full scan is needed: events were dropped, a directory appeared or vanished.
    rescan: bool,
    /// Bucket roots whose directory was removed: watched again after the scan remade it.
    lost_roots: HashSet<String>,
    /// Files created or modified and not yet closed after writing (Linux), by (bucket, key):
    /// the scan leaves their creation to the close, so a half-written file is not announced.
    writing: HashSet<(String, String)>,
}

struct Root {
    bucket: String,
    dir: PathBuf,
}

/// Watches every local bucket directory of a store; see the module documentation.
pub struct BucketWatcher {
    watcher: RecommendedWatcher,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    roots: Arc<Vec<Root>>,
    /// Creations the scan reported, by (bucket, key) → (size, ETag): the watcher's own
    /// report of the same write, arriving later, is then not a second event.
    scanned: HashMap<(String, String), (u64, String)>,
}

impl BucketWatcher {
    /// Starts watching `buckets` (their directories must exist). Fails where the platform
    /// has no watching or refuses it (e.g. the inotify watch limit): the caller then polls.
    pub fn start(buckets: &[BucketSpec]) -> Result<BucketWatcher> {
        let roots: Arc<Vec<Root>> = Arc::new(
            buckets
                .iter()
                .map(|b| Root {
                    bucket: b.name.clone(),
                    dir: b.dir.clone(),
                })
                .collect(),
        );
        let shared: Arc<(Mutex<Shared>, Condvar)> = Arc::default();
        let handler = {
            let shared = Arc::clone(&shared);
            let roots = Arc::clone(&roots);
            let mut dirty: HashSet<(String, String)> = HashSet::new();
            move |event: notify::Result<Event>| {
                let (lock, wake) = &*shared;
                let mut state = lock_shared(lock);
                match event {
                    Ok(event) => handle(&roots, &mut state, &mut dirty, event),
                    Err(_) => state.rescan = true,
                }
                wake.notify_all();
            }
        };
        let config = notify::Config::default()
            .with_event_kinds(EventKindMask::CORE | EventKindMask::ACCESS_CLOSE);
        let mut watcher = RecommendedWatcher::new(handler, config).map_err(watch_error)?;
        for root in roots.iter() {
            watcher
                .watch(&root.dir, RecursiveMode::Recursive)
                .map_err(watch_error)?;
        }
        Ok(BucketWatcher {
            watcher,
            shared,
            roots,
            scanned: HashMap::new(),
        })
    }

    /// Waits up to `timeout` for something to deliver (returns at once if there is).
    pub fn wait(&self, timeout: Duration) {
        let (lock, wake) = &*self.shared;
        let state = lock_shared(lock);
        if state.observations.is_empty() && !state.rescan {
            let _ = wake.wait_timeout(state, timeout);
        }
    }

    /// Whether the platform asked for a full scan since the last [`BucketWatcher::scan`].
    pub fn wants_scan(&self) -> bool {
        lock_shared(&self.shared.0).rescan
    }

    /// Delivers what the watcher saw since the last call, in order, each change with its
    /// events in one transaction; returns the changes.
    pub fn deliver(&mut self, store: &mut Store) -> Result<Vec<S3Change>> {
        self.deliver_via(store, None)
    }

    /// [`BucketWatcher::deliver`], in `group`'s commits when there is a group (see
    /// [`Store::write_via`]).
    pub fn deliver_via(
        &mut self,
        store: &mut Store,
        group: Option<&GroupCommit>,
    ) -> Result<Vec<S3Change>> {
        let observations = std::mem::take(&mut lock_shared(&self.shared.0).observations);
        if observations.is_empty() {
            return Ok(Vec::new());
        }
        // The write gets a copy, kept only if it commits.
        let mut scanned = self.scanned.clone();
        let (changes, scanned) = store.write_via(group, move |w| {
            let changes = w.apply_observations(&observations, |bucket, key, state| {
                // The scan reported this very write already (its close arrived after the
                // scan).
                let id = (bucket.to_string(), key.to_string());
                if scanned.get(&id) == Some(&(state.size as u64, state.etag.clone())) {
                    scanned.remove(&id);
                    return true;
                }
                false
            })?;
            Ok((changes, scanned))
        })?;
        self.scanned = scanned;
        Ok(changes)
    }

    /// A full scan (the reconciliation), remembering the creations it reported; files being
    /// written are left to the watcher. Buckets whose directory was removed are watched again
    /// once the scan made it again.
    pub fn scan(&mut self, store: &mut Store) -> Result<Vec<S3Change>> {
        self.scan_via(store, None)
    }

    /// [`BucketWatcher::scan`], the changes delivered in `group`'s commits when there is a
    /// group (`store` reads and hashes; see [`Store::write_via`]).
    pub fn scan_via(
        &mut self,
        store: &mut Store,
        group: Option<&GroupCommit>,
    ) -> Result<Vec<S3Change>> {
        let writing = {
            let mut state = lock_shared(&self.shared.0);
            state.rescan = false;
            state.writing.clone()
        };
        let mut out = Vec::new();
        for root in self.roots.iter() {
            let changes = store.scan_bucket_via(
                &root.bucket,
                |key| writing.contains(&(root.bucket.clone(), key.to_string())),
                group,
            )?;
            out.extend(changes);
        }
        self.scanned.clear();
        for c in &out {
            if c.kind == ChangeKind::Created {
                self.scanned.insert(
                    (c.bucket.clone(), c.key.clone()),
                    (c.size.unwrap_or(0), c.etag.clone().unwrap_or_default()),
                );
            }
        }
        let lost = std::mem::take(&mut lock_shared(&self.shared.0).lost_roots);
        for root in self.roots.iter().filter(|r| lost.contains(&r.bucket)) {
            // The scan made the directory again; a failure is retried after the next scan.
            if self
                .watcher
                .watch(&root.dir, RecursiveMode::Recursive)
                .is_err()
            {
                let mut state = lock_shared(&self.shared.0);
                state.lost_roots.insert(root.bucket.clone());
                state.rescan = true;
            }
        }
        Ok(out)
    }
}

fn lock_shared(lock: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn watch_error(e: notify::Error) -> LocalError {
    LocalError::Io {
        path: e.paths.first().cloned().unwrap_or_default(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The bucket and key of a path under one of the roots; `None` for the roots themselves,
/// paths elsewhere, and hidden names (which the scan ignores too).
fn locate<'a>(roots: &'a [Root], path: &Path) -> Option<(&'a Root, String)> {
    let root = roots.iter().find(|r| path.starts_with(&r.dir))?;
    let rel = path.strip_prefix(&root.dir).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return None;
        };
        let name = name.to_str()?;
        if name.starts_with('.') {
            return None;
        }
        parts.push(name);
    }
    if parts.is_empty() {
        return None;
    }
    Some((root, parts.join("/")))
}

/// The object a file is now, read at once; `None` if it is gone or not a file.
fn read_state(path: &Path) -> Option<ObjectState> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mtime_ns = mtime_ns(&meta);
    let (size, etag) = md5_file(path).ok()?;
    Some(ObjectState {
        size: size as i64,
        mtime_ns,
        etag,
    })
}

/// A write that completed, for a file that may already be gone.
fn written(root: &Root, key: String, path: &Path) -> Observation {
    let state = read_state(path).unwrap_or_else(|| ObjectState {
        size: 0,
        mtime_ns: 0,
        etag: DELETED_ETAG.to_string(),
    });
    Observation {
        bucket: root.bucket.clone(),
        key,
        state: Some(state),
        every_write: true,
    }
}

fn handle(roots: &[Root], state: &mut Shared, dirty: &mut HashSet<(String, String)>, event: Event) {
    if event.need_rescan() {
        state.rescan = true;
    }
    let is_root = |p: &Path| roots.iter().find(|r| r.dir == p);
    match event.kind {
        // A file closed after it was opened for writing (inotify's IN_CLOSE_WRITE): one
        // completed write, if it really wrote.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            for path in &event.paths {
                let Some((root, key)) = locate(roots, path) else {
                    continue;
                };
                let id = (root.bucket.clone(), key.clone());
                state.writing.remove(&id);
                if dirty.remove(&id) {
                    state.observations.push(written(root, key, path));
                } else if let Some(now) = read_state(path) {
                    // Opened for writing and closed: a change only if it looks changed.
                    state.observations.push(Observation {
                        bucket: root.bucket.clone(),
                        key,
                        state: Some(now),
                        every_write: false,
                    });
                }
            }
        }
        EventKind::Create(CreateKind::Folder) => state.rescan = true,
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            for path in &event.paths {
                if path.is_dir() {
                    state.rescan = true;
                    continue;
                }
                let Some((root, key)) = locate(roots, path) else {
                    continue;
                };
                if cfg!(any(target_os = "linux", target_os = "android")) {
                    // The close after writing follows and reports the write.
                    let id = (root.bucket.clone(), key);
                    dirty.insert(id.clone());
                    state.writing.insert(id);
                } else if let Some(now) = read_state(path) {
                    state.observations.push(Observation {
                        bucket: root.bucket.clone(),
                        key,
                        state: Some(now),
                        every_write: false,
                    });
                }
            }
        }
        EventKind::Modify(ModifyKind::Name(mode)) => {
            // `Both` carries [from, to]; `From` / `To` one path each; `Any` one path whose
            // side is unknown (then what is there now decides).
            let (from, to): (Vec<&PathBuf>, Vec<&PathBuf>) = match mode {
                RenameMode::Both => (
                    event.paths.first().into_iter().collect(),
                    event.paths.get(1).into_iter().collect(),
                ),
                RenameMode::From => (event.paths.iter().collect(), Vec::new()),
                RenameMode::To => (Vec::new(), event.paths.iter().collect()),
                _ => event.paths.iter().partition(|p| !p.exists()),
            };
            for path in from {
                if is_root(path).is_some() {
                    state.rescan = true;
                    continue;
                }
                let Some((root, key)) = locate(roots, path) else {
                    continue;
                };
                // A directory moved away: the scan finds what it held.
                state.rescan = true;
                let id = (root.bucket.clone(), key.clone());
                dirty.remove(&id);
                state.writing.remove(&id);
                state.observations.push(Observation {
                    bucket: root.bucket.clone(),
                    key,
                    state: None,
                    every_write: false,
                });
            }
            for path in to {
                if path.is_dir() {
                    state.rescan = true;
                    continue;
                }
                // A file renamed into place is an object if it differs from what is recorded
                // (`dev --serve` renames objects into place and records them itself).
                if let (Some((root, key)), Some(now)) = (locate(roots, path), read_state(path)) {
                    state.observations.push(Observation {
                        bucket: root.bucket.clone(),
                        key,
                        state: Some(now),
                        every_write: false,
                    });
                }
            }
        }
        EventKind::Remove(kind) => {
            for path in &event.paths {
                if let Some(root) = is_root(path) {
                    state.lost_roots.insert(root.bucket.clone());
                    state.rescan = true;
                    continue;
                }
                if kind == RemoveKind::Folder {
                    state.rescan = true;
                    continue;
                }
                let Some((root, key)) = locate(roots, path) else {
                    continue;
                };
                let id = (root.bucket.clone(), key.clone());
                dirty.remove(&id);
                state.writing.remove(&id);
                state.observations.push(Observation {
                    bucket: root.bucket.clone(),
                    key,
                    state: None,
                    every_write: false,
                });
            }
        }
        EventKind::Other if event.need_rescan() => {}
        _ => {}
    }
}
