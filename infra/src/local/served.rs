//! What `bridge dev --serve` keeps beside the project's resources: the queues and rules its
//! clients make over the wire (CreateQueue, PutRule — a `bridge tail --endpoint-url`
//! session's, an application's own), with their tags, and the metadata of uploaded objects.
//!
//! Resources made over the wire are not the project's: [`super::LocalFacts`] leaves them
//! out, so `bridge plan --local` shows no change for them and `apply --local` (and `dev`'s
//! re-apply) never changes or prunes them. They route events exactly as declared rules do
//! (they are rows of the same tables); `served_resources` only says who made them. The
//! other way round, the wire may not change what the project declares
//! ([`LocalError::NotServed`]): its next apply would undo the change. A name the project
//! comes to declare becomes the project's: [`Store::put_queue`] and [`Store::put_rule`] (the
//! project's apply) drop its `served_resources` row, and its plan shows it created, then in step.
//!
//! Object metadata (Content-Type & co., `x-amz-meta-*`) is kept per bucket and key with the
//! ETag of the object it describes, written before the object is committed (so that a
//! consumer of the object's event already sees it) and valid only while the object has that
//! ETag: a file you drop into the directory yourself has none, and a deleted object's goes
//! with it (triggers on `bucket_objects`).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::events::{put_rule_tx, validate_rule};
use super::queue::{put_queue_tx, validate_spec};
use super::write_tx::WriteTx;
use super::{name_from_arn, LocalError, QueueSpec, Result, RuleSpec, Store};

/// The kinds of resources the wire can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServedKind {
    Queue,
    Rule,
}

impl ServedKind {
    fn as_str(self) -> &'static str {
        match self {
            ServedKind::Queue => "queue",
            ServedKind::Rule => "rule",
        }
    }
}

/// One resource made over the wire: `bus` is empty for a queue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServedResource {
    pub kind: ServedKind,
    pub bus: String,
    pub name: String,
}

impl ServedResource {
    pub fn queue(name: &str) -> ServedResource {
        ServedResource {
            kind: ServedKind::Queue,
            bus: String::new(),
            name: name_from_arn(name).to_string(),
        }
    }

    pub fn rule(bus: &str, name: &str) -> ServedResource {
        ServedResource {
            kind: ServedKind::Rule,
            bus: bus.to_string(),
            name: name.to_string(),
        }
    }

    fn label(&self) -> String {
        match self.kind {
            ServedKind::Queue => format!("queue {}", self.name),
            ServedKind::Rule => format!("rule {} on event bus {}", self.name, self.bus),
        }
    }
}

/// What CreateQueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedQueue {
    pub arn: String,
    /// `false`: the queue was there already with the attributes asked for.
    pub created: bool,
}

/// An object's HTTP metadata and user metadata (`x-amz-meta-<name>`, names lowercase).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMetadata {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub user: BTreeMap<String, String>,
}

impl ObjectMetadata {
    pub fn is_empty(&self) -> bool {
        self == &ObjectMetadata::default()
    }
}

/// The attribute (in SQS's words) in which `wanted` differs from `existing`, among `given`.
fn first_difference(existing: &QueueSpec, wanted: &QueueSpec, given: &[String]) -> Option<String> {
    let same_json = |a: &Option<String>, b: &Option<String>| {
        let parse = |t: &Option<String>| {
            t.as_deref()
                .map(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        };
        parse(a) == parse(b)
    };
    given
        .iter()
        .find(|name| match name.as_str() {
            "VisibilityTimeout" => {
                existing.visibility_timeout_secs != wanted.visibility_timeout_secs
            }
            "DelaySeconds" => existing.delay_secs != wanted.delay_secs,
            "MessageRetentionPeriod" => existing.retention_secs != wanted.retention_secs,
            "FifoQueue" => existing.fifo != wanted.fifo,
            "ContentBasedDeduplication" => {
                existing.content_based_dedup != wanted.content_based_dedup
            }
            "RedrivePolicy" => existing.redrive != wanted.redrive,
            "Policy" => !same_json(&existing.policy, &wanted.policy),
            _ => false,
        })
        .cloned()
}

fn load_tags(tx: &Connection, r: &ServedResource) -> Result<Option<BTreeMap<String, String>>> {
    let text: Option<String> = tx
        .prepare_cached(
            "SELECT tags FROM served_resources WHERE kind = ?1 AND bus = ?2 AND name = ?3",
        )?
        .query_row(params![r.kind.as_str(), r.bus, r.name], |row| row.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t).unwrap_or_default()))
}

fn save_tags(
    tx: &Connection,
    now_ms: i64,
    r: &ServedResource,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    let text = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
    tx.prepare_cached(
        "INSERT INTO served_resources (kind, bus, name, tags, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, bus, name) DO UPDATE SET tags = excluded.tags",
    )?
    .execute(params![r.kind.as_str(), r.bus, r.name, text, now_ms])?;
    Ok(())
}

fn exists(tx: &Connection, r: &ServedResource) -> Result<bool> {
    let found = match r.kind {
        ServedKind::Queue => tx
            .prepare_cached("SELECT 1 FROM queues WHERE name = ?1")?
            .query_row([&r.name], |_| Ok(()))
            .optional()?,
        ServedKind::Rule => tx
            .prepare_cached("SELECT 1 FROM rules WHERE bus = ?1 AND name = ?2")?
            .query_row(params![r.bus, r.name], |_| Ok(()))
            .optional()?,
    };
    Ok(found.is_some())
}

fn missing(r: &ServedResource) -> LocalError {
    match r.kind {
        ServedKind::Queue => LocalError::NoSuchQueue(r.name.clone()),
        ServedKind::Rule => LocalError::NoSuchRule {
            bus: r.bus.clone(),
            rule: r.name.clone(),
        },
    }
}

/// The resource's tags if it exists and was made over the wire; [`LocalError::NotServed`]
/// if it is the project's, a not-found error if it does not exist.
fn served_tags(tx: &Connection, r: &ServedResource) -> Result<BTreeMap<String, String>> {
    if !exists(tx, r)? {
        return Err(missing(r));
    }
    load_tags(tx, r)?.ok_or_else(|| LocalError::NotServed { what: r.label() })
}

impl Store {
    /// CreateQueue over the wire: makes the queue (with `tags`) unless it exists. An existing
    /// queue is answered as SQS does: its ARN when every attribute in `given` has the value
    /// asked for, else [`LocalError::QueueExists`] naming the first that differs.
    pub fn create_served_queue(
        &mut self,
        spec: &QueueSpec,
        given: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<CreatedQueue> {
        validate_spec(spec)?;
        let existing = self
            .list_queues()?
            .into_iter()
            .find(|q| q.name == spec.name);
        if let Some(existing) = existing {
            if let Some(attribute) = first_difference(&existing, spec, given) {
                return Err(LocalError::QueueExists {
                    name: spec.name.clone(),
                    attribute,
                });
            }
            return Ok(CreatedQueue {
                arn: self.queue_arn(&spec.name),
                created: false,
            });
        }
        self.write(|tx, ctx| {
            let r = ServedResource::queue(&spec.name);
            if exists(tx, &r)? {
                // Made by someone else since the check above: answer as for an existing one.
                return Ok(CreatedQueue {
                    arn: ctx.queue_arn(&spec.name),
                    created: false,
                });
            }
            let arn = put_queue_tx(tx, ctx, spec)?;
            save_tags(tx, ctx.now_ms, &r, tags)?;
            Ok(CreatedQueue { arn, created: true })
        })
    }

    /// SetQueueAttributes over the wire: `spec` replaces the settings of a queue made over
    /// the wire (a project's queue is changed in the project, [`LocalError::NotServed`]).
    pub fn set_served_queue(&mut self, spec: &QueueSpec) -> Result<()> {
        validate_spec(spec)?;
        self.write(|tx, ctx| {
            served_tags(tx, &ServedResource::queue(&spec.name))?;
            put_queue_tx(tx, ctx, spec)?;
            Ok(())
        })
    }

    /// DeleteQueue over the wire: a queue made over the wire, with its messages.
    pub fn delete_served_queue(&mut self, name: &str) -> Result<()> {
        self.write(|tx, _| {
            let r = ServedResource::queue(name);
            served_tags(tx, &r)?;
            tx.execute("DELETE FROM queues WHERE name = ?1", [&r.name])?;
            Ok(())
        })
    }

    /// PutRule over the wire: creates or updates a rule made over the wire (tags are added to
    /// the ones it has). A rule the project declares (or a `bridge tail --local` session's)
    /// is [`LocalError::NotServed`].
    pub fn put_served_rule(
        &mut self,
        rule: &RuleSpec,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        validate_rule(rule)?;
        self.write(|tx, ctx| {
            let r = ServedResource::rule(&rule.bus, &rule.name);
            let mut all = if exists(tx, &r)? {
                served_tags(tx, &r)?
            } else {
                BTreeMap::new()
            };
            let arn = put_rule_tx(tx, ctx, rule)?;
            all.extend(tags.clone());
            save_tags(tx, ctx.now_ms, &r, &all)?;
            Ok(arn)
        })
    }

    /// Checks that a rule exists and was made over the wire (before PutTargets,
    /// RemoveTargets, DeleteRule on it).
    pub fn check_served_rule(&mut self, bus: &str, name: &str) -> Result<()> {
        self.read(|tx, _| served_tags(tx, &ServedResource::rule(bus, name)).map(|_| ()))
    }

    /// A resource's tags: those given over the wire; none for the project's resources.
    pub fn served_tags(&mut self, r: &ServedResource) -> Result<BTreeMap<String, String>> {
        self.read(|tx, _| {
            if !exists(tx, r)? {
                return Err(missing(r));
            }
            Ok(load_tags(tx, r)?.unwrap_or_default())
        })
    }

    /// TagQueue / TagResource (`add`) and UntagQueue / UntagResource (`remove`) on a
    /// resource made over the wire.
    pub fn retag_served(
        &mut self,
        r: &ServedResource,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        self.write(|tx, ctx| {
            let mut tags = served_tags(tx, r)?;
            tags.extend(add.clone());
            for k in remove {
                tags.remove(k);
            }
            save_tags(tx, ctx.now_ms, r, &tags)
        })
    }

    /// Every resource made over the wire (for [`super::LocalFacts`] to leave out).
    pub fn served_resources(&mut self) -> Result<BTreeSet<ServedResource>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare_cached("SELECT kind, bus, name FROM served_resources")?;
            let rows = stmt.query_map([], |r| {
                let kind: String = r.get(0)?;
                Ok(ServedResource {
                    kind: if kind == "rule" {
                        ServedKind::Rule
                    } else {
                        ServedKind::Queue
                    },
                    bus: r.get(1)?,
                    name: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<BTreeSet<_>, _>>()?)
        })
    }

    /// Keeps `meta` for the object `bucket/key` that will have (or has) `etag`; an empty
    /// `meta` removes what was kept.
    pub fn put_object_metadata(
        &mut self,
        bucket: &str,
        key: &str,
        etag: &str,
        meta: &ObjectMetadata,
    ) -> Result<()> {
        self.write_with(|w| w.put_object_metadata(bucket, key, etag, meta))
    }

    /// The metadata kept for `bucket/key` while it has `etag` (none: default metadata).
    pub fn object_metadata(
        &mut self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<ObjectMetadata> {
        self.read(|tx, _| {
            let row = tx
                .prepare_cached(
                    "SELECT content_type, content_encoding, cache_control, content_disposition,
                            user_metadata
                     FROM object_metadata WHERE bucket = ?1 AND key = ?2 AND etag = ?3",
                )?
                .query_row(params![bucket, key, etag], |r| {
                    let user: String = r.get(4)?;
                    Ok(ObjectMetadata {
                        content_type: r.get(0)?,
                        content_encoding: r.get(1)?,
                        cache_control: r.get(2)?,
                        content_disposition: r.get(3)?,
                        user: serde_json::from_str(&user).unwrap_or_default(),
                    })
                })
                .optional()?;
            Ok(row.unwrap_or_default())
        })
    }
}

impl WriteTx<'_> {
    /// Keeps `meta` for the object `bucket/key` that will have (or has) `etag`; an empty
    /// `meta` removes what was kept.
    pub fn put_object_metadata(
        &mut self,
        bucket: &str,
        key: &str,
        etag: &str,
        meta: &ObjectMetadata,
    ) -> Result<()> {
        if meta.is_empty() {
            self.tx.execute(
                "DELETE FROM object_metadata WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
            )?;
            return Ok(());
        }
        let user = serde_json::to_string(&meta.user).unwrap_or_else(|_| "{}".into());
        self.tx.execute(
            "INSERT OR REPLACE INTO object_metadata (bucket, key, etag, content_type,
                 content_encoding, cache_control, content_disposition, user_metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                bucket,
                key,
                etag,
                meta.content_type,
                meta.content_encoding,
                meta.cache_control,
                meta.content_disposition,
                user
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::{Clock, Config, RuleState, TargetSpec};

    fn store(dir: &std::path::Path) -> Store {
        Store::open_with(dir, Config::default(), Clock::System).expect("store")
    }

    #[test]
    fn queues_made_over_the_wire_are_created_once_tagged_and_removed_with_their_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = store(dir.path());
        let tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
        let spec = QueueSpec {
            retention_secs: 3600,
            ..QueueSpec::new("wire-q")
        };
        let given = vec!["MessageRetentionPeriod".to_string()];
        let made = s.create_served_queue(&spec, &given, &tags).expect("create");
        assert!(made.created);
        // The same again: the existing queue.
        let again = s.create_served_queue(&spec, &given, &tags).expect("again");
        assert_eq!((again.created, again.arn), (false, made.arn));
        // A different value: SQS's QueueAlreadyExists, naming the attribute.
        let other = QueueSpec {
            retention_secs: 60,
            ..spec.clone()
        };
        match s.create_served_queue(&other, &given, &tags) {
            Err(LocalError::QueueExists { attribute, .. }) => {
                assert_eq!(attribute, "MessageRetentionPeriod")
            }
            other => panic!("expected QueueExists, got {other:?}"),
        }
        let r = ServedResource::queue("wire-q");
        assert_eq!(s.served_tags(&r).expect("tags"), tags);
        s.retag_served(
            &r,
            &BTreeMap::from([("k".to_string(), "v".to_string())]),
            &["team".to_string()],
        )
        .expect("retag");
        assert_eq!(
            s.served_tags(&r).expect("tags"),
            BTreeMap::from([("k".to_string(), "v".to_string())])
        );
        assert!(s.served_resources().expect("served").contains(&r));
        // Not the project's: the facts plan and apply work from leave it out.
        let facts = crate::local::LocalFacts::read(&mut s).expect("facts");
        assert!(facts.queues.is_empty(), "{:?}", facts.queues);
        s.delete_served_queue("wire-q").expect("delete");
        assert!(s.served_resources().expect("served").is_empty());
        assert!(matches!(
            s.delete_served_queue("wire-q"),
            Err(LocalError::NoSuchQueue(_))
        ));
    }

    #[test]
    fn the_projects_queues_and_rules_are_not_changed_over_the_wire() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = store(dir.path());
        s.put_queue(&QueueSpec::new("project-q")).expect("queue");
        let rule = RuleSpec {
            bus: "default".into(),
            name: "project-rule".into(),
            pattern: Some(r#"{"source": ["x"]}"#.into()),
            schedule: None,
            state: RuleState::Enabled,
            description: None,
        };
        s.put_rule(&rule).expect("rule");
        assert!(matches!(
            s.delete_served_queue("project-q"),
            Err(LocalError::NotServed { .. })
        ));
        assert!(matches!(
            s.put_served_rule(&rule, &BTreeMap::new()),
            Err(LocalError::NotServed { .. })
        ));
        assert!(matches!(
            s.check_served_rule("default", "project-rule"),
            Err(LocalError::NotServed { .. })
        ));
        assert!(matches!(
            s.check_served_rule("default", "nope"),
            Err(LocalError::NoSuchRule { .. })
        ));
        // The project's resources have no tags, and can be read.
        assert!(s
            .served_tags(&ServedResource::queue("project-q"))
            .expect("tags")
            .is_empty());
        // A rule made over the wire, removed the usual way, takes its record with it.
        let wire = RuleSpec {
            name: "wire-rule".into(),
            ..rule
        };
        s.put_served_rule(&wire, &BTreeMap::new())
            .expect("wire rule");
        let facts = crate::local::LocalFacts::read(&mut s).expect("facts");
        let names: Vec<&str> = facts.rules.iter().map(|(r, _)| r.name.as_str()).collect();
        assert_eq!(names, ["project-rule"]);
        s.put_targets(
            "default",
            "wire-rule",
            &[TargetSpec::new("t", s.queue_arn("project-q"))],
        )
        .expect("targets");
        s.remove_targets("default", "wire-rule", &["t".to_string()])
            .expect("remove");
        s.delete_rule("default", "wire-rule").expect("delete");
        assert!(s.served_resources().expect("served").is_empty());
        // A queue made over the wire that the project comes to declare is the project's.
        s.create_served_queue(&QueueSpec::new("adopted"), &[], &BTreeMap::new())
            .expect("wire queue");
        s.put_queue(&QueueSpec::new("adopted")).expect("declared");
        assert!(s.served_resources().expect("served").is_empty());
        assert!(matches!(
            s.delete_served_queue("adopted"),
            Err(LocalError::NotServed { .. })
        ));
    }
}
