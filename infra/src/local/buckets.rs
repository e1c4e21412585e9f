//! Local buckets: a directory per bucket, scanned for changes that become S3 events.
//!
//! The reference is a scan: it compares each file's size and modification time with what the
//! database remembers, hashes only files that changed, and emits `Object Created` for new or
//! rewritten files and `Object Deleted` for vanished ones. Scanning is deterministic (tests
//! call [`Store::scan_buckets`] and get exactly the changes), works the same on every OS and
//! file system, and cannot miss events while nothing runs: the remembered listing lives in
//! SQLite, updated in the same transaction that delivers the events, so a restart neither
//! re-emits nor misses a change. What a scan cannot see (changes quicker than the interval
//! between two scans) a file-system watcher reports as [`Observation`]s, delivered by
//! [`Store::apply_observations`] against the same remembered listing ([`super::watch`]).
//!
//! Each change is delivered as S3 does:
//! - buckets with EventBridge delivery on get an `aws.s3` event on the default bus;
//! - each declared notification (queue or topic, event-name and prefix/suffix filters) gets a
//!   native `{"Records": [...]}` message.
//!
//! Known differences: hidden files (name starting with `.`) are ignored, so editors' temp files
//! do not become objects; a file still being written may be seen twice (two Object Created),
//! where S3 objects appear atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::clock::rfc3339_millis;
use super::queue::send_tx;
use super::routing::{envelope, route_event, routes_for, Routed};
use super::sns::{publish_tx, PublishRequest};
use super::store::{next_counter, record_activity, record_delivery, Ctx, Store};
use super::write_tx::WriteTx;
use super::{arn_service, md5_file, md5_hex, new_id, GroupCommit, LocalError, Result};
use crate::local::queue::SendRequest;

/// A local bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSpec {
    pub name: String,
    /// The directory holding the bucket's objects.
    pub dir: PathBuf,
    /// Send `aws.s3` events to the default bus (S3's "Amazon EventBridge" setting).
    pub eventbridge: bool,
    pub notifications: Vec<NotificationSpec>,
}

/// A native S3 event notification to a queue or topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSpec {
    pub id: String,
    pub target_arn: String,
    /// `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ...
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Deleted,
}

/// One detected change and where its events went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Change {
    pub bucket: String,
    pub key: String,
    pub kind: ChangeKind,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequencer: String,
    /// EventBridge deliveries (rule → target).
    pub routed: Vec<Routed>,
    /// Native notification deliveries: (target ARN, outcome).
    pub notified: Vec<(String, String)>,
}

/// A changed file as the scan found it.
struct Seen {
    size: i64,
    mtime_ns: i64,
    etag: String,
}

/// An object as a file shows it: size, modification time and MD5 (the ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    pub size: i64,
    pub mtime_ns: i64,
    pub etag: String,
}

/// What a file-system watcher saw happen to one file ([`super::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub bucket: String,
    pub key: String,
    /// The file now (`None`: removed).
    pub state: Option<ObjectState>,
    /// A completed write: an `Object Created` even if the file looks as last reported (a
    /// second quick write read after it was overwritten again), as each PUT is an event.
    /// Otherwise only a difference from the remembered listing is a change.
    pub every_write: bool,
}

struct FileState {
    size: i64,
    mtime_ns: i64,
}

fn list_files(root: &Path) -> Result<HashMap<String, FileState>> {
    let mut out = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir != root => continue,
            Err(source) => return Err(LocalError::Io { path: dir, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| LocalError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let Ok(rel) = path.strip_prefix(root) else {
                    continue;
                };
                let key: Vec<&str> = rel
                    .components()
                    .filter_map(|c| c.as_os_str().to_str())
                    .collect();
                out.insert(
                    key.join("/"),
                    FileState {
                        size: meta.len() as i64,
                        mtime_ns: mtime_ns(&meta),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// S3's URL encoding of keys in native notifications (`+` for space, `/` kept).
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn event_name_matches(filters: &[String], event_name: &str) -> bool {
    let full = format!("s3:{event_name}");
    filters.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => full.starts_with(prefix),
        None => *f == full,
    })
}

struct BucketRow {
    dir: PathBuf,
    eventbridge: bool,
    notifications: Vec<NotificationSpec>,
}

fn load_bucket(tx: &Connection, name: &str) -> Result<BucketRow> {
    let (dir, eventbridge): (String, bool) = tx
        .query_row(
            "SELECT dir, eventbridge FROM buckets WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| LocalError::NoSuchBucket(name.to_string()))?;
    let mut stmt = tx.prepare_cached(
        "SELECT id, target_arn, events, prefix, suffix FROM bucket_notifications WHERE bucket = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([name], |r| {
        let events: String = r.get(2)?;
        Ok(NotificationSpec {
            id: r.get(0)?,
            target_arn: r.get(1)?,
            events: serde_json::from_str(&events).unwrap_or_default(),
            prefix: r.get(3)?,
            suffix: r.get(4)?,
        })
    })?;
    Ok(BucketRow {
        dir: PathBuf::from(dir),
        eventbridge,
        notifications: rows.collect::<Result<_, _>>()?,
    })
}

impl Store {
    /// Creates or updates a local bucket. A new bucket's existing files are recorded without
    /// events (as enabling notifications on S3 does not announce existing objects).
    pub fn put_bucket(&mut self, spec: &BucketSpec) -> Result<()> {
        let name_ok = (3..=63).contains(&spec.name.len())
            && spec
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !name_ok {
            return Err(LocalError::invalid(
                format!("bucket {:?}", spec.name),
                "a bucket name has 3 to 63 characters: lowercase letters, digits, '-' and '.'",
            ));
        }
        std::fs::create_dir_all(&spec.dir).map_err(|source| LocalError::Io {
            path: spec.dir.clone(),
            source,
        })?;
        let dir = std::fs::canonicalize(&spec.dir).map_err(|source| LocalError::Io {
            path: spec.dir.clone(),
            source,
        })?;
        let files = list_files(&dir)?;
        let mut hashed = Vec::new();
        for (key, st) in &files {
            let path = dir.join(key);
            let Ok((_, etag)) = md5_file(&path) else {
                continue;
            };
            hashed.push((key.clone(), st.size, st.mtime_ns, etag));
        }
        self.write(|tx, ctx| {
            let existed: Option<String> =
                tx.query_row("SELECT dir FROM buckets WHERE name = ?1", [&spec.name], |r| r.get(0)).optional()?;
            let had_targets: Vec<String> = tx
                .prepare_cached("SELECT target_arn FROM bucket_notifications WHERE bucket = ?1")?
                .query_map([&spec.name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let dir_text = dir.to_string_lossy().to_string();
            tx.execute(
                "INSERT INTO buckets (name, dir, eventbridge) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET dir = excluded.dir, eventbridge = excluded.eventbridge",
                params![spec.name, dir_text, spec.eventbridge],
            )?;
            tx.execute("DELETE FROM bucket_notifications WHERE bucket = ?1", [&spec.name])?;
            for n in &spec.notifications {
                let events = serde_json::to_string(&n.events).unwrap_or_else(|_| "[]".into());
                tx.execute(
                    "INSERT INTO bucket_notifications (bucket, id, target_arn, events, prefix, suffix) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![spec.name, n.id, n.target_arn, events, n.prefix, n.suffix],
                )?;
            }
            // Saving a notification configuration makes S3 send `s3:TestEvent` to its
            // destinations; here each destination the bucket did not send to before gets one.
            let mut tested: Vec<&str> = Vec::new();
            for n in &spec.notifications {
                let target = n.target_arn.as_str();
                if had_targets.iter().any(|h| h == target) || tested.contains(&target) {
                    continue;
                }
                tested.push(target);
                let body = test_event(ctx, &spec.name).to_string();
                let outcome = notify(tx, ctx, target, body)?;
                record_activity(
                    tx,
                    ctx,
                    "s3:TestEvent",
                    &format!("bucket {} notification {}", spec.name, n.id),
                    target,
                    &outcome,
                )?;
            }
            if existed.as_deref() != Some(dir_text.as_str()) {
                tx.execute("DELETE FROM bucket_objects WHERE bucket = ?1", [&spec.name])?;
                for (key, size, mtime, etag) in &hashed {
                    tx.execute(
                        "INSERT INTO bucket_objects (bucket, key, size, mtime_ns, etag) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![spec.name, key, size, mtime, etag],
                    )?;
                }
            }
            Ok(())
        })?;
        self.flush_outbox_after_commit();
        Ok(())
    }

    pub fn delete_bucket(&mut self, name: &str) -> Result<bool> {
        self.write(|tx, _| Ok(tx.execute("DELETE FROM buckets WHERE name = ?1", [name])? > 0))
    }

    pub fn list_buckets(&mut self) -> Result<Vec<BucketSpec>> {
        let names: Vec<String> = self.read(|tx, _| {
            let mut stmt = tx.prepare("SELECT name FROM buckets ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let mut out = Vec::new();
        for name in names {
            let row = self.read(|tx, _| load_bucket(tx, &name))?;
            out.push(BucketSpec {
                name,
                dir: row.dir,
                eventbridge: row.eventbridge,
                notifications: row.notifications,
            });
        }
        Ok(out)
    }

    /// Scans every bucket once; returns the changes, each already delivered.
    pub fn scan_buckets(&mut self) -> Result<Vec<S3Change>> {
        self.scan_buckets_via(None)
    }

    /// [`Store::scan_buckets`], the changes delivered in `group`'s commits when there is a
    /// group (this store only reads and hashes); see [`Store::write_via`].
    pub fn scan_buckets_via(&mut self, group: Option<&GroupCommit>) -> Result<Vec<S3Change>> {
        let mut out = Vec::new();
        for bucket in self.list_buckets()? {
            out.extend(self.scan_bucket_via(&bucket.name, |_| false, group)?);
        }
        Ok(out)
    }

    /// Scans one bucket and delivers the events of its changes in one transaction.
    pub fn scan_bucket(&mut self, name: &str) -> Result<Vec<S3Change>> {
        self.scan_bucket_except(name, |_| false)
    }

    /// [`Store::scan_bucket`], leaving alone new or changed files for which `skip` says so
    /// (files a watcher knows are still being written).
    pub fn scan_bucket_except(
        &mut self,
        name: &str,
        skip: impl Fn(&str) -> bool,
    ) -> Result<Vec<S3Change>> {
        self.scan_bucket_via(name, skip, None)
    }

    /// [`Store::scan_bucket_except`], the changes delivered through `group` when there is
    /// one ([`Store::write_via`]).
    pub fn scan_bucket_via(
        &mut self,
        name: &str,
        skip: impl Fn(&str) -> bool,
        group: Option<&GroupCommit>,
    ) -> Result<Vec<S3Change>> {
        let scan = self.look_at_bucket(name, skip)?;
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        self.write_via(group, move |w| w.apply_scan(&scan))
    }

    /// The first half of a scan, which writes nothing: the bucket's files compared with the
    /// remembered listing, changed files hashed. [`WriteTx::apply_scan`] delivers what it
    /// found (on a group commit's writer, say, while this ran on another thread).
    pub fn look_at_bucket(
        &mut self,
        name: &str,
        skip: impl Fn(&str) -> bool,
    ) -> Result<BucketScan> {
        let (row, known) = self.read(|tx, _| {
            let row = load_bucket(tx, name)?;
            let mut stmt = tx.prepare_cached(
                "SELECT key, size, mtime_ns FROM bucket_objects WHERE bucket = ?1",
            )?;
            let known: HashMap<String, FileState> = stmt
                .query_map([name], |r| {
                    Ok((
                        r.get(0)?,
                        FileState {
                            size: r.get(1)?,
                            mtime_ns: r.get(2)?,
                        },
                    ))
                })?
                .collect::<Result<_, _>>()?;
            Ok((row, known))
        })?;
        // A bucket directory removed while `bridge dev` runs is an emptied bucket: its
        // objects are reported deleted and the directory is made again, so that files
        // written there later are seen.
        let files = match list_files(&row.dir) {
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&row.dir).map_err(|source| LocalError::Io {
                    path: row.dir.clone(),
                    source,
                })?;
                HashMap::new()
            }
            other => other?,
        };
        // (key, Some(new state)) for created/overwritten, (key, None) for deleted.
        let mut changes: Vec<(String, Option<Seen>)> = Vec::new();
        for (key, st) in &files {
            let same = known
                .get(key)
                .map(|k| k.size == st.size && k.mtime_ns == st.mtime_ns)
                .unwrap_or(false);
            if same || skip(key) {
                continue;
            }
            let Ok((size, etag)) = md5_file(&row.dir.join(key)) else {
                continue;
            };
            changes.push((
                key.clone(),
                Some(Seen {
                    size: size as i64,
                    mtime_ns: st.mtime_ns,
                    etag,
                }),
            ));
        }
        for key in known.keys() {
            if !files.contains_key(key) {
                changes.push((key.clone(), None));
            }
        }
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(BucketScan {
            bucket: name.to_string(),
            known,
            changes,
        })
    }

    /// Delivers what a file-system watcher saw, in order, in one transaction: see
    /// [`WriteTx::apply_observations`].
    pub fn apply_observations(
        &mut self,
        observations: &[Observation],
        reported: impl FnMut(&str, &str, &ObjectState) -> bool,
    ) -> Result<Vec<S3Change>> {
        self.write_with(|w| w.apply_observations(observations, reported))
    }

    /// The objects of a bucket as its directory holds them now (hidden files excluded),
    /// sorted by key: `(key, size, modification time in ns)`.
    pub fn list_objects(&mut self, bucket: &str) -> Result<Vec<(String, u64, i64)>> {
        let dir = self.bucket_dir(bucket)?;
        let files = match list_files(&dir) {
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                HashMap::new()
            }
            other => other?,
        };
        let mut out: Vec<(String, u64, i64)> = files
            .into_iter()
            .map(|(k, st)| (k, st.size as u64, st.mtime_ns))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The directory of bucket `name` ([`LocalError::NoSuchBucket`] if there is none).
    pub fn bucket_dir(&mut self, name: &str) -> Result<PathBuf> {
        self.read(|tx, _| load_bucket(tx, name).map(|row| row.dir))
    }

    /// The ETag recorded for an object, if the file still has the recorded size and
    /// modification time (otherwise the next scan will hash it again).
    pub fn object_etag(
        &mut self,
        bucket: &str,
        key: &str,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Option<String>> {
        self.read(|tx, _| {
            Ok(tx
                .prepare_cached(
                    "SELECT etag FROM bucket_objects WHERE bucket = ?1 AND key = ?2 AND size = ?3 AND mtime_ns = ?4",
                )?
                .query_row(params![bucket, key, size as i64, mtime_ns], |r| r.get(0))
                .optional()?)
        })
    }

    /// Makes `staged` the object `key` and delivers its S3 events, in one transaction: see
    /// [`WriteTx::commit_object`].
    pub fn commit_object(
        &mut self,
        bucket: &str,
        key: &str,
        staged: &Path,
        etag: &str,
        reason: CreatedReason,
    ) -> Result<S3Change> {
        self.write_with(|w| w.commit_object(bucket, key, staged, etag, reason))
    }

    /// DeleteObject in one transaction: see [`WriteTx::delete_object`].
    pub fn delete_object(&mut self, bucket: &str, key: &str) -> Result<Option<S3Change>> {
        self.write_with(|w| w.delete_object(bucket, key))
    }

    /// The file an object key names inside its bucket's directory. Keys that would leave the
    /// directory or name a hidden file (`..`, empty segments, a segment starting with `.`)
    /// are refused: the directory listing could not show them as the same key.
    pub fn object_path(&mut self, bucket: &str, key: &str) -> Result<PathBuf> {
        let dir = self.bucket_dir(bucket)?;
        Ok(dir.join(object_rel_path(key)?))
    }
}

/// What [`Store::look_at_bucket`] found in a bucket's directory, for
/// [`WriteTx::apply_scan`] to deliver.
pub struct BucketScan {
    bucket: String,
    /// The remembered listing the files were compared with.
    known: HashMap<String, FileState>,
    /// (key, Some(new state)) for created or overwritten files, (key, None) for deleted
    /// ones, by key.
    changes: Vec<(String, Option<Seen>)>,
}

impl BucketScan {
    /// Whether the scan found no change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl WriteTx<'_> {
    /// Delivers the changes a scan found ([`Store::look_at_bucket`]), each with its events;
    /// returns them.
    pub fn apply_scan(&mut self, scan: &BucketScan) -> Result<Vec<S3Change>> {
        let name = scan.bucket.as_str();
        let row = load_bucket(self.tx, name)?;
        let mut out = Vec::with_capacity(scan.changes.len());
        for (key, state) in &scan.changes {
            // The listing was read before this transaction: another writer (`bridge dev
            // --serve`'s PutObject/DeleteObject) may have changed this key's record since,
            // announcing its own change. Then this scan's view is stale: the key is left to
            // the next scan, which compares the file with the new record.
            let current: Option<(i64, i64)> = self
                .tx
                .prepare_cached(
                    "SELECT size, mtime_ns FROM bucket_objects WHERE bucket = ?1 AND key = ?2",
                )?
                .query_row(params![name, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if current != scan.known.get(key).map(|k| (k.size, k.mtime_ns)) {
                continue;
            }
            // The file too may have changed since it was listed and hashed (a server
            // PutObject then DeleteObject meanwhile leaves the record as it was): only what
            // is still on disk now, under the write lock, is announced.
            if on_disk(&row.dir, key) != state.as_ref().map(|s| (s.size, s.mtime_ns)) {
                continue;
            }
            let change = match state {
                Some(Seen {
                    size,
                    mtime_ns,
                    etag,
                }) => Change::Created {
                    size: *size,
                    mtime_ns: *mtime_ns,
                    etag: etag.clone(),
                    reason: CreatedReason::Put,
                },
                None => Change::Deleted,
            };
            out.push(record_change(
                self.tx,
                self.ctx,
                self.routes,
                name,
                &row,
                key,
                change,
            )?);
        }
        Ok(out)
    }

    /// Delivers what a file-system watcher saw, in order. A removal is a change if the
    /// object is remembered; a file is a change if it differs from what is remembered, or is
    /// a completed write ([`Observation::every_write`]) that `reported` does not say was
    /// already delivered. Observations of buckets that no longer exist are dropped.
    pub fn apply_observations(
        &mut self,
        observations: &[Observation],
        mut reported: impl FnMut(&str, &str, &ObjectState) -> bool,
    ) -> Result<Vec<S3Change>> {
        let tx = self.tx;
        let mut rows: HashMap<String, Option<BucketRow>> = HashMap::new();
        let mut out = Vec::new();
        for o in observations {
            if !rows.contains_key(&o.bucket) {
                let row = match load_bucket(tx, &o.bucket) {
                    Ok(row) => Some(row),
                    Err(LocalError::NoSuchBucket(_)) => None,
                    Err(e) => return Err(e),
                };
                rows.insert(o.bucket.clone(), row);
            }
            let Some(Some(row)) = rows.get(&o.bucket) else {
                continue;
            };
            let known: Option<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT size, mtime_ns FROM bucket_objects WHERE bucket = ?1 AND key = ?2",
                )?
                .query_row(params![o.bucket, o.key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let change = match &o.state {
                None if known.is_some() => Change::Deleted,
                None => continue,
                Some(st) => {
                    let same = known == Some((st.size, st.mtime_ns));
                    if same && (!o.every_write || reported(&o.bucket, &o.key, st)) {
                        continue;
                    }
                    // A file seen as it was (not a completed write) is announced only if it
                    // is still so on disk now, under the write lock: the watcher read it a
                    // while ago, and `dev --serve` may have deleted or replaced it since,
                    // announcing that itself. A later observation or scan sees what is there.
                    if !o.every_write && on_disk(&row.dir, &o.key) != Some((st.size, st.mtime_ns)) {
                        continue;
                    }
                    Change::Created {
                        size: st.size,
                        mtime_ns: st.mtime_ns,
                        etag: st.etag.clone(),
                        reason: CreatedReason::Put,
                    }
                }
            };
            out.push(record_change(
                tx,
                self.ctx,
                self.routes,
                &o.bucket,
                row,
                &o.key,
                change,
            )?);
        }
        Ok(out)
    }

    /// Makes `staged` (a complete file in the bucket's directory, under a hidden name the
    /// scanner ignores) the object `key`, and delivers its S3 events: the rename happens
    /// under the database's write lock, so a concurrent scan sees the file only together
    /// with its record and never announces it a second time. The change is durable once the
    /// transaction commits (the caller fsyncs `staged` first).
    pub fn commit_object(
        &mut self,
        bucket: &str,
        key: &str,
        staged: &Path,
        etag: &str,
        reason: CreatedReason,
    ) -> Result<S3Change> {
        self.change_object(bucket, key, |path, _| {
            let io = |source| LocalError::Io {
                path: path.to_path_buf(),
                source,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::rename(staged, path).map_err(io)?;
            let meta = std::fs::metadata(path).map_err(io)?;
            Ok(Some(Change::Created {
                size: meta.len() as i64,
                mtime_ns: mtime_ns(&meta),
                etag: etag.to_string(),
                reason,
            }))
        })
    }

    /// DeleteObject: removes the file and delivers `Object Deleted`. Deleting a key that
    /// does not exist succeeds and emits nothing (as S3 answers 204 and, without
    /// versioning, sends no event for a key that was never there). Empty parent directories
    /// are left in place.
    pub fn delete_object(&mut self, bucket: &str, key: &str) -> Result<Option<S3Change>> {
        let change = self.change_object(bucket, key, |path, known| {
            let existed = match std::fs::remove_file(path) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(source) => {
                    return Err(LocalError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            };
            Ok((existed || known).then_some(Change::Deleted))
        });
        match change {
            Ok(c) => Ok(Some(c)),
            Err(LocalError::Invalid { what, .. }) if what == NO_CHANGE => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The file of `bucket/key` (see [`Store::object_path`]).
    pub fn object_path(&mut self, bucket: &str, key: &str) -> Result<PathBuf> {
        let row = load_bucket(self.tx, bucket)?;
        Ok(row.dir.join(object_rel_path(key)?))
    }

    /// `act` on the object's file (its path, and whether the object is remembered), then
    /// the change it returns recorded and announced.
    fn change_object(
        &mut self,
        bucket: &str,
        key: &str,
        act: impl FnOnce(&Path, bool) -> Result<Option<Change>>,
    ) -> Result<S3Change> {
        let row = load_bucket(self.tx, bucket)?;
        let path = row.dir.join(object_rel_path(key)?);
        let known = self
            .tx
            .prepare_cached("SELECT 1 FROM bucket_objects WHERE bucket = ?1 AND key = ?2")?
            .query_row(params![bucket, key], |_| Ok(()))
            .optional()?
            .is_some();
        let Some(change) = act(&path, known)? else {
            return Err(LocalError::invalid(NO_CHANGE, ""));
        };
        record_change(self.tx, self.ctx, self.routes, bucket, &row, key, change)
    }
}

const NO_CHANGE: &str = "no change";

/// Why an object was created, as S3 says it: the `reason` of the EventBridge event and the
/// `eventName` of native notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedReason {
    Put,
    Copy,
    CompleteMultipartUpload,
}

impl CreatedReason {
    fn reason(self) -> &'static str {
        match self {
            CreatedReason::Put => "PutObject",
            CreatedReason::Copy => "CopyObject",
            CreatedReason::CompleteMultipartUpload => "CompleteMultipartUpload",
        }
    }
    fn event_name(self) -> &'static str {
        match self {
            CreatedReason::Put => "ObjectCreated:Put",
            CreatedReason::Copy => "ObjectCreated:Copy",
            CreatedReason::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
        }
    }
}

/// A change to record and announce.
enum Change {
    Created {
        size: i64,
        mtime_ns: i64,
        etag: String,
        reason: CreatedReason,
    },
    Deleted,
}

/// The size and modification time of `key`'s file in `dir` as it is now; `None` if it is
/// gone or not a file.
fn on_disk(dir: &Path, key: &str) -> Option<(i64, i64)> {
    std::fs::metadata(dir.join(key))
        .ok()
        .filter(|m| m.is_file())
        .map(|m| (m.len() as i64, mtime_ns(&m)))
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The relative path of an object key, or why the key cannot be a file of the bucket.
pub fn object_rel_path(key: &str) -> Result<PathBuf> {
    let bad = |why: &str| {
        LocalError::invalid(
            format!("object key {key:?}"),
            format!("{why}: a local bucket keeps each object as a file named by its key"),
        )
    };
    if key.is_empty() || key.len() > 1024 {
        return Err(bad("a key has 1 to 1024 bytes"));
    }
    let mut path = PathBuf::new();
    for segment in key.split('/') {
        if segment.is_empty() || segment == ".." || segment == "." {
            return Err(bad("empty, '.' and '..' path segments are not supported"));
        }
        if segment.starts_with('.') {
            return Err(bad(
                "segments starting with '.' are hidden files, not supported",
            ));
        }
        if segment.contains('\0') {
            return Err(bad("NUL is not supported"));
        }
        path.push(segment);
    }
    Ok(path)
}

/// Records one change in the remembered listing and delivers its events (EventBridge and
/// native notifications), inside the caller's transaction.
fn record_change(
    tx: &Connection,
    ctx: &Ctx,
    routes: &mut super::routes::RouteCache,
    name: &str,
    row: &BucketRow,
    key: &str,
    change: Change,
) -> Result<S3Change> {
    let sequencer = format!("{:016X}", next_counter(tx, "s3_sequencer")?);
    let request_id = new_id().replace('-', "").to_uppercase()[..16].to_string();
    let reason = match &change {
        Change::Created {
            size,
            mtime_ns,
            etag,
            reason,
        } => {
            tx.execute(
                "INSERT OR REPLACE INTO bucket_objects (bucket, key, size, mtime_ns, etag) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, key, size, mtime_ns, etag],
            )?;
            Some(*reason)
        }
        Change::Deleted => {
            tx.execute(
                "DELETE FROM bucket_objects WHERE bucket = ?1 AND key = ?2",
                params![name, key],
            )?;
            None
        }
    };
    let (size, etag) = match change {
        Change::Created { size, etag, .. } => (Some(size as u64), Some(etag)),
        Change::Deleted => (None, None),
    };
    let mut change = S3Change {
        bucket: name.to_string(),
        key: key.to_string(),
        kind: if reason.is_some() {
            ChangeKind::Created
        } else {
            ChangeKind::Deleted
        },
        size,
        etag,
        sequencer: sequencer.clone(),
        routed: Vec::new(),
        notified: Vec::new(),
    };
    if row.eventbridge {
        let event_id = new_id();
        let event = eventbridge_event(ctx, &event_id, name, &change, &request_id, reason);
        let bus_routes = routes_for(routes, tx, ctx, "default")?;
        route_event(
            tx,
            ctx,
            bus_routes,
            "default",
            &event_id,
            &event,
            &mut change.routed,
        )?;
    }
    let event_name = match reason {
        Some(r) => r.event_name(),
        None => "ObjectRemoved:Delete",
    };
    for n in &row.notifications {
        let wanted = event_name_matches(&n.events, event_name)
            && n.prefix
                .as_deref()
                .map(|p| key.starts_with(p))
                .unwrap_or(true)
            && n.suffix
                .as_deref()
                .map(|s| key.ends_with(s))
                .unwrap_or(true);
        if !wanted {
            continue;
        }
        let records =
            native_records(ctx, name, &n.id, event_name, &change, &request_id).to_string();
        let outcome = notify(tx, ctx, &n.target_arn, records.clone())?;
        record_delivery(
            tx,
            ctx,
            &sequencer,
            &format!("bucket {name} notification {}", n.id),
            &n.target_arn,
            &outcome,
            Some(&records),
        )?;
        change.notified.push((n.target_arn.clone(), outcome));
    }
    Ok(change)
}

fn notify(tx: &Connection, ctx: &Ctx, target: &str, body: String) -> Result<String> {
    let result = match arn_service(target) {
        Some("sqs") => send_tx(tx, ctx, target, &SendRequest::body(body)).map(|_| ()),
        Some("sns") => {
            let publish = PublishRequest {
                subject: Some("Amazon S3 Notification".into()),
                ..PublishRequest::message(body)
            };
            publish_tx(tx, ctx, target, &publish, None).map(|_| ())
        }
        _ => return Ok(format!("not deliverable locally: {target}")),
    };
    match result {
        Ok(()) => Ok("delivered".into()),
        Err(
            e @ (LocalError::NoSuchQueue(_)
            | LocalError::NoSuchTopic(_)
            | LocalError::Invalid { .. }),
        ) => Ok(format!("not delivered: {e}")),
        Err(e) => Err(e),
    }
}

/// A sample of the `aws.s3` event S3 sends to EventBridge for a new (`created`) or deleted
/// object, exactly as the local backend emits it: what `bridge test new --s3` writes.
/// `now_ms` is the event's time; ids and the sequencer derive from the inputs, so the same
/// inputs give the same event.
pub fn sample_eventbridge_event(
    created: bool,
    bucket: &str,
    key: &str,
    size: u64,
    region: &str,
    account: &str,
    now_ms: i64,
) -> Value {
    let ctx = Ctx {
        now_ms,
        region,
        account,
        cache: Default::default(),
    };
    let digest = md5_hex(format!("{bucket}/{key}/{size}/{now_ms}/{created}").as_bytes());
    let change = S3Change {
        bucket: bucket.to_string(),
        key: key.to_string(),
        kind: if created {
            ChangeKind::Created
        } else {
            ChangeKind::Deleted
        },
        size: created.then_some(size),
        etag: created.then(|| md5_hex(key.as_bytes())),
        sequencer: digest[..16].to_ascii_uppercase(),
        routed: Vec::new(),
        notified: Vec::new(),
    };
    let event_id = format!(
        "{}-{}-{}-{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[12..16],
        &digest[16..20],
        &digest[20..32]
    );
    eventbridge_event(
        &ctx,
        &event_id,
        bucket,
        &change,
        &digest[..16].to_ascii_uppercase(),
        created.then_some(CreatedReason::Put),
    )
}

/// The `detail.event-version` of the S3 events EventBridge receives, as in the current
/// examples of the Amazon S3 User Guide ("EventBridge event message structure").
pub const EVENTBRIDGE_DETAIL_VERSION: &str = "1.1";

/// The ETag S3 reports on deletions: the empty object's MD5, as in every `Object Deleted`
/// example of the Amazon S3 User Guide ("EventBridge event message structure").
pub const DELETED_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// The `aws.s3` event S3 sends to EventBridge: exactly the fields of the Amazon S3 User
/// Guide's current examples ("EventBridge event message structure", Object Created and
/// Object Deleted using DeleteObject), less `version-id` (local buckets are unversioned, and
/// S3 sends it only for versioned ones) and `aws-generated-tags` (only for buckets that carry
/// such tags).
fn eventbridge_event(
    ctx: &Ctx,
    event_id: &str,
    bucket: &str,
    change: &S3Change,
    request_id: &str,
    reason: Option<CreatedReason>,
) -> Value {
    let reason = reason.unwrap_or(CreatedReason::Put).reason();
    let (detail_type, detail) = match change.kind {
        ChangeKind::Created => (
            "Object Created",
            json!({
                "version": "0",
                "event-version": EVENTBRIDGE_DETAIL_VERSION,
                "bucket": {"name": bucket},
                "object": {"key": change.key, "size": change.size, "etag": change.etag, "sequencer": change.sequencer},
                "request-id": request_id,
                "requester": ctx.account,
                "source-ip-address": "127.0.0.1",
                "reason": reason
            }),
        ),
        ChangeKind::Deleted => (
            "Object Deleted",
            json!({
                "version": "0",
                "event-version": EVENTBRIDGE_DETAIL_VERSION,
                "bucket": {"name": bucket},
                "object": {"key": change.key, "etag": DELETED_ETAG, "sequencer": change.sequencer},
                "request-id": request_id,
                "requester": ctx.account,
                "source-ip-address": "127.0.0.1",
                "reason": "DeleteObject",
                "deletion-type": "Permanently Deleted"
            }),
        ),
    };
    envelope(
        ctx,
        event_id,
        detail_type,
        "aws.s3",
        ctx.now_ms,
        &[format!("arn:aws:s3:::{bucket}")],
        detail,
    )
}

/// The message S3 sends to a destination when a notification configuration is saved, as the
/// Amazon S3 User Guide ("Event message structure") shows it: `Service`, `Event`
/// (`s3:TestEvent`), `Time`, `Bucket`, `RequestId`, `HostId`.
fn test_event(ctx: &Ctx, bucket: &str) -> Value {
    let request_id = new_id().replace('-', "").to_uppercase()[..16].to_string();
    json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": rfc3339_millis(ctx.now_ms),
        "Bucket": bucket,
        "RequestId": request_id,
        "HostId": format!("local/{request_id}")
    })
}

/// The `eventVersion` of native notifications: "Starting with version 2.4, Amazon S3 uses a
/// single unified version for all event types"; the Amazon S3 User Guide's "Event message
/// structure" currently shows version 2.5.
pub const NATIVE_EVENT_VERSION: &str = "2.5";

/// The native S3 notification (`{"Records": [...]}`). `configuration_id` is the `Id` of the
/// notification configuration as stored on the bucket (`bridge:<stack>:<id>` for a stack's).
fn native_records(
    ctx: &Ctx,
    bucket: &str,
    configuration_id: &str,
    event_name: &str,
    change: &S3Change,
    request_id: &str,
) -> Value {
    let object = match change.kind {
        ChangeKind::Created => json!({
            "key": encode_key(&change.key),
            "size": change.size,
            "eTag": change.etag,
            "sequencer": change.sequencer
        }),
        ChangeKind::Deleted => {
            json!({"key": encode_key(&change.key), "sequencer": change.sequencer})
        }
    };
    json!({"Records": [{
        "eventVersion": NATIVE_EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": ctx.region,
        "eventTime": rfc3339_millis(ctx.now_ms),
        "eventName": event_name,
        "userIdentity": {"principalId": format!("AWS:{}:local", ctx.account)},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": format!("local/{request_id}")},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": ctx.account}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": object
        }
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_like_s3() {
        assert_eq!(encode_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(encode_key("a/b c/ü&x=1"), "a/b+c/%C3%BC%26x%3D1");
    }

    #[test]
    fn event_name_filters() {
        let f = vec!["s3:ObjectCreated:*".to_string()];
        assert!(event_name_matches(&f, "ObjectCreated:Put"));
        assert!(!event_name_matches(&f, "ObjectRemoved:Delete"));
        assert!(event_name_matches(
            &["s3:ObjectRemoved:Delete".to_string()],
            "ObjectRemoved:Delete"
        ));
    }
}
