//! The embedded local backend: the whole S3 → EventBridge → SQS/SNS path with no AWS account.
//!
//! State lives in one SQLite database (`<state dir>/state.sqlite3`, WAL, `synchronous=FULL`).
//! Every mutation is one `BEGIN IMMEDIATE` transaction, and an event is accepted and delivered
//! to every matching target in the *same* transaction: after `put_events` returns an event id,
//! the event is durably in its queues; if the process dies first, the call failed as a whole.
//!
//! - [`store`]: opening the database, schema migrations, the transaction discipline.
//! - [`queue`]: SQS semantics (visibility, receive counts, redrive to DLQ, FIFO groups, dedup).
//! - [`dead_letters`]: what is in a dead-letter queue (a peek that changes nothing), and
//!   moving its messages back, one transaction per batch.
//! - [`sns`]: topics, subscriptions, filter policies, SNS envelopes, the e-mail outbox.
//! - [`events`]: buses, rules and targets.
//! - [`routing`]: PutEvents: validation, envelope, matching, delivery.
//! - [`group`]: group commit: calls from many threads sharing one commit (fsync): PutEvents,
//!   sends, receives, deletes, and any other write through [`WriteTx`] (`write_tx`: S3
//!   object changes and scans, Publish, PurgeQueue, schedules, replays), which runs alone
//!   ([`Store::write_with`]) or in a group ([`GroupCommit::write`]).
//! - [`transform`]: target input (`Input`, `InputPath`, `InputTransformer`).
//! - [`buckets`]: local buckets as directories, and the S3 events their changes emit.
//! - [`watch`]: bucket directories watched as they change (`notify`), beside the scan.
//! - [`clock`]: injectable time and AWS timestamp formats.
//! - [`translate`]: the one desired state (`rules::desired`) in local terms.
//! - [`plan`]: the local state's facts diffed against it into a [`crate::plan::Plan`].
//! - [`apply`]: that plan carried out on the store.
//! - [`deliveries`]: what each target would receive for an event, offline (`bridge test`).
//! - [`tail`]: a `bridge tail` session's temporary rule and queue.
//! - [`archive`]: archives (events stored as they are accepted) and resumable replays.
//! - [`served`]: the queues and rules `bridge dev --serve`'s clients make over the wire
//!   (not the project's: plan and apply leave them alone), and uploaded objects' metadata.
//! - [`inspect`]: read-only views for the local console: events with their deliveries and
//!   bodies, the outbox.
//!
//! Known differences from AWS (deliberate or not yet done):
//! - Nothing is signed: SNS envelopes carry a placeholder `Signature`/`SigningCertURL`.
//! - `http`/`https`/`lambda` endpoints and non-SQS/SNS rule targets are not called; the
//!   activity log records them as not deliverable locally. E-mail goes to `outbox/*.eml`.
//! - Subscriptions need no confirmation. Retry policies and maximum event age are ignored
//!   (local delivery either succeeds at once or fails for good, then goes to the target DLQ).
//! - FIFO content-based deduplication hashes with MD5 (SQS uses SHA-256); only the id differs.
//! - Retention is enforced when a receive reaches an expired message.
//! - Bucket scans use size + modification time: a rewrite that keeps both is not seen, and a
//!   file caught mid-write yields two Object Created events (S3 objects appear atomically).
//!   `bridge dev` also watches the directories ([`watch`]), so a file created and deleted
//!   between two scans, or written twice, is seen; with polling only (`dev --poll`, or no
//!   watching on the platform) it is not. A watched change is read when it is handled: a
//!   write quickly followed by another reports the later content, and a file already gone
//!   reports size 0 and the empty object's ETag. Quick changes held in memory are lost if the
//!   process dies before committing them.
//! - Local buckets are unversioned: no `version-id` / `versionId` in S3 events.
//! - A rule target's dead-letter messages say `RETRY_ATTEMPTS` `0` and
//!   `EXHAUSTED_RETRY_CONDITION` `MaximumRetryAttempts`: local delivery is never retried.
//! - Scheduled rules fire only while something calls [`Store::fire_due_schedules`] (`bridge
//!   dev` does, every tick); slots missed meanwhile fire late, with their own `time`, where
//!   AWS would have fired them on time. A new or changed schedule starts counting at the
//!   change, as AWS counts a rate from the rule's creation.
//! - Archives: an event is archived the moment it is accepted (AWS may take minutes); a
//!   replay runs in `bridge replay --local` (or resumes in `bridge dev`), batch by batch.

pub mod apply;
pub mod archive;
mod archiving;
pub mod buckets;
pub mod bus_grants;
pub mod clock;
pub mod dead_letters;
pub mod deliveries;
mod detail_json;
mod event_doc;
pub mod events;
pub mod group;
mod hot;
pub mod inspect;
mod message_body;
mod message_row;
pub mod plan;
pub mod queue;
mod queue_row;
pub mod routes;
pub mod routing;
pub mod rule;
pub mod served;
pub mod sns;
pub mod store;
pub mod tail;
pub mod transform;
pub mod translate;
pub mod watch;
mod write_tx;

use std::path::PathBuf;

pub use buckets::{
    BucketScan, BucketSpec, CreatedReason, NotificationSpec, ObjectState, Observation, S3Change,
};
pub use clock::Clock;
pub use dead_letters::{DeadLetterSource, MessageState, Peek, RedriveReport, StoredMessage};
pub use group::GroupCommit;
pub use inspect::{Delivery, EventRecord, OutboxMail};
pub use plan::LocalFacts;
pub use queue::{
    MessageAttribute, QueueCounts, QueueSpec, ReceiveRequest, ReceivedMessage, Redrive, SendRequest,
};
pub use routing::{PreparedPutEvents, PutEventsEntry, PutEventsOutput, PutEventsResultEntry};
pub use rule::{InputTransformer, RuleSpec, RuleState, TargetSpec};
pub use served::{CreatedQueue, ObjectMetadata, ServedKind, ServedResource};
pub use sns::{FilterScope, PublishRequest, Subscription, SubscriptionSpec, TopicSpec};
pub use store::{Activity, Config, Durability, Store, DATABASE_FILE};
pub use tail::TailSession;
pub use translate::Resolver;
pub use watch::BucketWatcher;
pub use write_tx::WriteTx;

/// The account id every local ARN carries (as LocalStack and moto do).
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// The default state directory, relative to the project.
pub const DEFAULT_STATE_DIR: &str = rules::model::DEFAULT_LOCAL_STATE_DIR;

/// Everything that can go wrong in the local backend.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot open local state {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("local state is at schema version {found}, newer than this bridge supports ({supported}); upgrade bridge or use another --local directory")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("local state: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the specified queue does not exist: {0} (AWS.SimpleQueueService.NonExistentQueue)")]
    NoSuchQueue(String),
    #[error("topic does not exist: {0} (NotFound)")]
    NoSuchTopic(String),
    #[error("subscription does not exist: {0} (NotFound)")]
    NoSuchSubscription(String),
    #[error("event bus {0} does not exist (ResourceNotFoundException)")]
    NoSuchBus(String),
    #[error("rule {rule} does not exist on event bus {bus} (ResourceNotFoundException)")]
    NoSuchRule { bus: String, rule: String },
    #[error("bucket does not exist: {0} (NoSuchBucket)")]
    NoSuchBucket(String),
    #[error("the receipt handle is not valid for this queue or has been superseded by a later receive: {0} (ReceiptHandleIsInvalid)")]
    InvalidReceipt(String),
    #[error("message is not in flight: {0} (MessageNotInflight)")]
    NotInFlight(String),
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("the local state in {} is in use by `bridge dev`{}; stop it first (one `bridge dev` per state directory)", dir.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse { dir: PathBuf, pid: Option<u32> },
    #[error("{}", no_redrive_destination(dlq, sources))]
    NoRedriveDestination { dlq: String, sources: Vec<String> },
    #[error("queue {name} already exists with a different {attribute} (QueueAlreadyExists)")]
    QueueExists { name: String, attribute: String },
    #[error("{what} is declared by the project (bridge.json, rules/): change it there, not over the wire")]
    NotServed { what: String },
    #[error("no local state in {}: run `bridge apply --local` or `bridge dev` first", .0.display())]
    NoState(PathBuf),
}

impl LocalError {
    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> LocalError {
        LocalError::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

fn no_redrive_destination(dlq: &str, sources: &[String]) -> String {
    match sources {
        [] => format!(
            "no queue names {dlq} as its dead-letter queue (redrive policy), so a redrive has no \
             default destination: name the queue to move the messages to (--to QUEUE)"
        ),
        _ => format!(
            "{} queues name {dlq} as their dead-letter queue ({}): name the one to move the \
             messages to (--to QUEUE)",
            sources.len(),
            sources.join(", ")
        ),
    }
}

pub type Result<T, E = LocalError> = std::result::Result<T, E>;

/// The last `:`-separated part of an ARN (`arn:aws:sqs:r:a:name` → `name`), or the text itself.
pub(crate) fn name_from_arn(arn_or_name: &str) -> &str {
    if !arn_or_name.starts_with("arn:") {
        return arn_or_name;
    }
    // After the fifth `:` (routing asks once per delivery: bytes, not a `str` splitter).
    let mut colons = arn_or_name.bytes().enumerate().filter(|&(_, b)| b == b':');
    match colons.nth(4) {
        Some((at, _)) => &arn_or_name[at + 1..],
        None => arn_or_name,
    }
}

/// The service part of an ARN (`sqs`, `sns`, `lambda`, ...), if it is one.
pub(crate) fn arn_service(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    // Between the second and third `:` (or the end), looked for as bytes.
    let partition_end = rest.bytes().position(|b| b == b':')?;
    let service = &rest[partition_end + 1..];
    let end = service
        .bytes()
        .position(|b| b == b':')
        .unwrap_or(service.len());
    Some(&service[..end])
}

/// A new UUID, as text: event and message ids, receipt nonces.
///
/// Version 7 (RFC 9562): the first 48 bits are the time in milliseconds, the other 74 bits
/// random. Ids made one after the other sort together, so the index of events kept for the
/// console (`bus_events`, keyed by id) grows at its end instead of at a random page per
/// event, and a commit writes a few pages of it rather than one per event.
///
/// The random bits come from a per-thread generator (wyrand) seeded once from the operating
/// system's randomness, not from one `getrandom` call per id: the ids are unique, not secret
/// (nothing local is protected by guessing one being hard).
pub(crate) fn new_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    fn next(state: &Cell<u64>) -> u64 {
        // wyrand (Wang Yi): a 64-bit state stepped by a constant, mixed by a 128-bit multiply.
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let m = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (m as u64) ^ ((m >> 64) as u64)
    }
    let (hi, lo) = STATE.with(|s| (next(s), next(s)));
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&hi.to_le_bytes());
    random[8..].copy_from_slice(&lo.to_le_bytes()[..2]);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text).to_string()
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(bytes);
    let mut text = String::with_capacity(2 * digest.len());
    for b in digest {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 15)]));
    }
    text
}

/// The size and MD5 (hex) of the file at `path`, read in 1 MiB chunks so that memory stays
/// flat however large the file is.
pub(crate) fn md5_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, format!("{:x}", hasher.finalize())))
}

/// The lock file `bridge dev` holds in its state directory (see [`StateLock`]).
pub const LOCK_FILE: &str = "dev.lock";

/// An exclusive lock on a state directory: an `flock` on `<dir>/dev.lock`, held until
/// dropped (or the process ends, however it ends). `bridge dev` holds one for its whole
/// run, so that a second `dev` on the same state fails at once, and `bridge destroy
/// --local` takes one to refuse while a `dev` runs. Other commands (`put-event`,
/// `consume`, `tail`) share the state through SQLite and take no lock.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the lock on `dir` (created if missing) without waiting, and writes this
    /// process's id into the lock file. Fails with [`LocalError::InUse`], naming the
    /// holder's pid, when another process holds it.
    pub fn acquire(dir: &std::path::Path) -> Result<StateLock> {
        use std::io::{Read, Seek, Write};
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| LocalError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LocalError::InUse {
                    dir: dir.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LocalError::Io { path, source })
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(io(&path))?;
        Ok(StateLock { _file: file })
    }
}

/// Deletes the local state in `dir`: the database (with its WAL files) and the e-mail
/// outbox. Bucket directories are the user's files and are kept.
pub fn destroy_state(dir: &std::path::Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("{DATABASE_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LocalError::Io { path, source }),
        }
    }
    let outbox = dir.join("outbox");
    match std::fs::remove_dir_all(&outbox) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LocalError::Io {
            path: outbox,
            source,
        }),
    }
}

#[cfg(test)]
mod id_tests {
    use super::{md5_hex, new_id};

    #[test]
    fn md5_is_lower_case_hex() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn ids_are_distinct_version_7_uuids_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id()).collect();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(
                id,
                &parsed.hyphenated().to_string(),
                "lower-case, hyphenated"
            );
            assert!(seen.insert(id.clone()), "{id} made twice");
        }
        // Time-ordered across milliseconds (within one, the random bits order them).
        let ms = |id: &str| u64::from_str_radix(&id.replace('-', "")[..12], 16).expect("hex");
        assert!(ids.windows(2).all(|w| ms(&w[0]) <= ms(&w[1])));
    }
}

#[cfg(test)]
mod arn_tests {
    use super::{arn_service, name_from_arn};

    /// The byte scans give what splitting on `:` gave, for ARNs, names and odd texts.
    #[test]
    fn arn_parts_are_what_splitting_on_colons_gives() {
        let texts = [
            "arn:aws:sqs:us-east-1:123456789012:orders",
            "arn:aws:sns:eu-west-1:123456789012:topic:with:colons",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "arn:aws:sqs",
            "arn:aws:sqs:",
            "arn:aws",
            "arn:",
            "arn:::::",
            "arn:aws:lambda:r:a",
            "arn:é:✓:r:a:näme",
            "orders",
            "",
            "not:an:arn:at:all:x",
        ];
        for text in texts {
            let service = text
                .starts_with("arn:")
                .then(|| text.split(':').nth(2))
                .flatten();
            assert_eq!(arn_service(text), service, "{text:?}");
            let name = if text.starts_with("arn:") {
                text.splitn(6, ':').nth(5).unwrap_or(text)
            } else {
                text
            };
            assert_eq!(name_from_arn(text), name, "{text:?}");
        }
    }
}
