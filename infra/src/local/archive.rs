//! Archives and replays on the local backend.
//!
//! Every event a bus accepts that matches one of the bus's archives is stored in
//! `archived_events` inside the transaction that accepts it ([`archive_tx`], called from
//! routing), so an accepted event is archived exactly when it is routed. Events carrying
//! `replay-name` are not archived: AWS's managed archive rule adds
//! `"replay-name": [{"exists": false}]` to the archive's pattern for the same reason.
//!
//! A replay is a row in `replays` with a cursor (`last_id`, the archived event replayed up
//! to). [`Store::replay_step`] replays one batch and moves the cursor in the same
//! transaction as the deliveries, so a replay interrupted anywhere (even `kill -9`) resumes
//! from its cursor: every event of the window is delivered at least once, and a batch
//! whose transaction committed is never delivered twice.

use rules::desired::{self, Desired};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::plan::{same_pattern, Note, Step};

use super::clock::rfc3339_seconds;
use super::routing::{deliver_to_rule, routes_for, Routed};
use super::store::{record_activity, Store};
use super::write_tx::WriteTx;
use super::{LocalError, Result};

/// An archive as the local state stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSpec {
    pub name: String,
    pub bus: String,
    /// The event pattern (JSON text); `None` archives every event on the bus.
    pub pattern: Option<String>,
    /// 0 keeps events forever.
    pub retention_days: u32,
    pub description: Option<String>,
}

/// A replay's parameters and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub name: String,
    pub archive: String,
    pub bus: String,
    /// The window, by the events' `time` (epoch milliseconds, both ends included).
    pub from_ms: i64,
    pub to_ms: i64,
    /// Only these rules of the bus get the events; empty: every rule.
    pub rules: Vec<String>,
    /// `RUNNING` or `COMPLETED`.
    pub state: String,
    /// Events of the window replayed so far.
    pub replayed: u64,
    /// Events of the window still to replay.
    pub remaining: u64,
}

impl Replay {
    pub fn is_final(&self) -> bool {
        self.state != "RUNNING"
    }
}

const DAY_MS: i64 = 86_400_000;

fn read_replay(tx: &Connection, name: &str) -> Result<Option<Replay>> {
    let row: Option<(String, String, i64, i64, String, String, i64)> = tx
        .query_row(
            "SELECT archive, bus, from_ms, to_ms, rules, state, last_id FROM replays WHERE name = ?1",
            [name],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((archive, bus, from_ms, to_ms, rules, state, last_id)) = row else {
        return Ok(None);
    };
    let count = |op: &str| -> Result<u64> {
        let n: i64 = tx.query_row(
            &format!(
                "SELECT COUNT(*) FROM archived_events WHERE archive = ?1 AND time_ms BETWEEN ?2 AND ?3 AND id {op} ?4"
            ),
            params![archive, from_ms, to_ms, last_id],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    };
    Ok(Some(Replay {
        name: name.to_string(),
        replayed: count("<=")?,
        remaining: count(">")?,
        archive,
        bus,
        from_ms,
        to_ms,
        rules: serde_json::from_str(&rules).unwrap_or_default(),
        state,
    }))
}

impl Store {
    /// Creates or replaces an archive (its archived events are kept).
    pub fn put_archive(&mut self, a: &ArchiveSpec) -> Result<()> {
        self.write(|tx, ctx| {
            let bus: i64 =
                tx.query_row("SELECT COUNT(*) FROM buses WHERE name = ?1", [&a.bus], |r| {
                    r.get(0)
                })?;
            if bus == 0 {
                return Err(LocalError::NoSuchBus(a.bus.clone()));
            }
            tx.execute(
                "INSERT INTO archives (name, bus, pattern, retention_days, description, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET pattern = ?3, retention_days = ?4, description = ?5",
                params![a.name, a.bus, a.pattern, a.retention_days, a.description, ctx.now_ms],
            )?;
            Ok(())
        })
    }

    /// Deletes an archive with its events (and its replays' records).
    pub fn delete_archive(&mut self, name: &str) -> Result<()> {
        self.write(|tx, _| {
            tx.execute("DELETE FROM replays WHERE archive = ?1", [name])?;
            tx.execute("DELETE FROM archived_events WHERE archive = ?1", [name])?;
            tx.execute("DELETE FROM archives WHERE name = ?1", [name])?;
            Ok(())
        })
    }

    pub fn list_archives(&mut self) -> Result<Vec<ArchiveSpec>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare(
                "SELECT name, bus, pattern, retention_days, description FROM archives ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(ArchiveSpec {
                    name: r.get(0)?,
                    bus: r.get(1)?,
                    pattern: r.get(2)?,
                    retention_days: r.get(3)?,
                    description: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        })
    }

    /// The number of events an archive holds now.
    pub fn archived_count(&mut self, archive: &str) -> Result<u64> {
        self.read(|tx, _| {
            let n: i64 = tx.query_row(
                "SELECT COUNT(*) FROM archived_events WHERE archive = ?1",
                [archive],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }

    /// Deletes archived events older than their archive's retention (counted from when
    /// each was archived); returns how many went. Archives with retention 0 keep all.
    pub fn expire_archives(&mut self) -> Result<usize> {
        self.write_with(|w| w.expire_archives())
    }

    /// Starts replay `name` of `archive`'s events whose `time` is in `from_ms..=to_ms` to
    /// the archive's bus (only to `rules` when some are named), or resumes it when a
    /// replay of that name with the same parameters exists and has not completed. A
    /// completed replay's name cannot be used again (as on AWS).
    pub fn start_replay(
        &mut self,
        name: &str,
        archive: &str,
        from_ms: i64,
        to_ms: i64,
        rules: &[String],
    ) -> Result<Replay> {
        if from_ms > to_ms {
            return Err(LocalError::invalid(
                format!("replay {name}"),
                "the start of the window is after its end",
            ));
        }
        self.write(|tx, ctx| {
            if let Some(existing) = read_replay(tx, name)? {
                let same = existing.archive == archive
                    && existing.from_ms == from_ms
                    && existing.to_ms == to_ms
                    && existing.rules == rules;
                if existing.is_final() || !same {
                    return Err(LocalError::invalid(
                        format!("replay {name}"),
                        format!(
                            "a replay of this name already exists ({}, archive {}, {} to {}); \
                             give another name",
                            existing.state.to_lowercase(),
                            existing.archive,
                            rfc3339_seconds(existing.from_ms),
                            rfc3339_seconds(existing.to_ms)
                        ),
                    ));
                }
                return Ok(existing);
            }
            let bus: Option<String> = tx
                .query_row("SELECT bus FROM archives WHERE name = ?1", [archive], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(bus) = bus else {
                return Err(LocalError::invalid(
                    format!("archive {archive}"),
                    "no such archive in the local state (declare it in bridge.json's `archives` and apply)",
                ));
            };
            for rule in rules {
                let n: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM rules WHERE bus = ?1 AND name = ?2",
                    params![bus, rule],
                    |r| r.get(0),
                )?;
                if n == 0 {
                    return Err(LocalError::NoSuchRule {
                        bus: bus.clone(),
                        rule: rule.clone(),
                    });
                }
            }
            tx.execute(
                "INSERT INTO replays (name, archive, bus, from_ms, to_ms, rules, state, last_id, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'RUNNING', 0, ?7)",
                params![
                    name,
                    archive,
                    bus,
                    from_ms,
                    to_ms,
                    serde_json::to_string(rules).unwrap_or_else(|_| "[]".into()),
                    ctx.now_ms
                ],
            )?;
            record_activity(
                tx,
                ctx,
                name,
                &format!("replay {name}"),
                &format!("archive {archive}"),
                &format!(
                    "started: events of {} to {} to bus {bus}{}",
                    rfc3339_seconds(from_ms),
                    rfc3339_seconds(to_ms),
                    if rules.is_empty() {
                        String::new()
                    } else {
                        format!(" (rules {})", rules.join(", "))
                    }
                ),
            )?;
            read_replay(tx, name)?.ok_or_else(|| LocalError::invalid(name, "replay vanished"))
        })
    }

    /// The replay called `name`, if there is one.
    pub fn replay(&mut self, name: &str) -> Result<Option<Replay>> {
        self.read(|tx, _| read_replay(tx, name))
    }

    /// Replays that have not completed, oldest first (`bridge dev` resumes them).
    pub fn running_replays(&mut self) -> Result<Vec<String>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare(
                "SELECT name FROM replays WHERE state = 'RUNNING' ORDER BY started_ms, name",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        })
    }

    /// Replays the next `batch` events of replay `name` in one transaction: each, with
    /// `replay-name` set, goes to the bus's matching rules (or the named ones among them),
    /// and the cursor moves past it. When none is left the replay is `COMPLETED`.
    pub fn replay_step(&mut self, name: &str, batch: usize) -> Result<(Replay, Vec<Routed>)> {
        self.write_with(|w| w.replay_step(name, batch))
    }
}

impl WriteTx<'_> {
    /// [`Store::expire_archives`] in this transaction. Relaxed ([`WriteTx::relaxed`]): an
    /// expiry lost to power failure is done again by the next one.
    pub fn expire_archives(&mut self) -> Result<usize> {
        self.relaxed();
        Ok(self.tx.execute(
            "DELETE FROM archived_events WHERE id IN (
               SELECT e.id FROM archived_events e JOIN archives a ON a.name = e.archive
               WHERE a.retention_days > 0 AND e.archived_ms <= ?1 - a.retention_days * ?2)",
            params![self.ctx.now_ms, DAY_MS],
        )?)
    }

    /// [`Store::replay_step`] in this transaction.
    pub fn replay_step(&mut self, name: &str, batch: usize) -> Result<(Replay, Vec<Routed>)> {
        let (tx, ctx) = (self.tx, self.ctx);
        let Some(replay) = read_replay(tx, name)? else {
            return Err(LocalError::invalid(
                format!("replay {name}"),
                "no such replay",
            ));
        };
        let mut routed = Vec::new();
        if replay.is_final() {
            return Ok((replay, routed));
        }
        let last_id: i64 =
            tx.query_row("SELECT last_id FROM replays WHERE name = ?1", [name], |r| {
                r.get(0)
            })?;
        let events: Vec<(i64, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, event FROM archived_events
                 WHERE archive = ?1 AND time_ms BETWEEN ?2 AND ?3 AND id > ?4 ORDER BY id LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    replay.archive,
                    replay.from_ms,
                    replay.to_ms,
                    last_id,
                    batch as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let ingestion_time = rfc3339_seconds(ctx.now_ms);
        let mut cursor = last_id;
        for (id, text) in &events {
            cursor = *id;
            let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            map.insert("replay-name".into(), Value::String(name.to_string()));
            let event = Value::Object(map);
            let event_id = event["id"].as_str().unwrap_or_default().to_string();
            record_activity(
                tx,
                ctx,
                &event_id,
                &format!("replay {name}"),
                &format!("bus {}", replay.bus),
                "replayed",
            )?;
            let bus_routes = routes_for(self.routes, tx, ctx, &replay.bus)?;
            let mut matched: Vec<&str> = bus_routes.matcher.matches_value(&event);
            matched.sort_unstable();
            matched.dedup();
            let event_json = event.to_string();
            for rule_name in matched {
                if !replay.rules.is_empty() && !replay.rules.iter().any(|r| r == rule_name) {
                    continue;
                }
                let Some(rule) = bus_routes.rule(rule_name) else {
                    continue;
                };
                deliver_to_rule(
                    tx,
                    ctx,
                    rule_name,
                    rule,
                    &event_id,
                    &super::event_doc::EventDoc::new(&event_json, &event),
                    &ingestion_time,
                    false,
                    &mut routed,
                )?;
            }
        }
        tx.execute(
            "UPDATE replays SET last_id = ?2 WHERE name = ?1",
            params![name, cursor],
        )?;
        if events.len() < batch {
            tx.execute(
                "UPDATE replays SET state = 'COMPLETED', ended_ms = ?2 WHERE name = ?1",
                params![name, ctx.now_ms],
            )?;
            let done = read_replay(tx, name)?;
            record_activity(
                tx,
                ctx,
                name,
                &format!("replay {name}"),
                &format!("archive {}", replay.archive),
                &format!(
                    "completed: {} events replayed",
                    done.as_ref().map_or(0, |r| r.replayed)
                ),
            )?;
        }
        let after = read_replay(tx, name)?;
        let after = after.ok_or_else(|| LocalError::invalid(name, "replay vanished"))?;
        Ok((after, routed))
    }
}

/// A declared archive in local terms (on the stack's bus).
pub fn archive_spec(desired: &Desired, a: &desired::Archive) -> ArchiveSpec {
    ArchiveSpec {
        name: a.name.clone(),
        bus: desired.bus.clone(),
        pattern: a.pattern.clone(),
        retention_days: a.retention_days,
        description: a.description.clone(),
    }
}

/// The archive steps of the local plan: create or update what is declared (the local state
/// is the project's, so every archive in it is the stack's), and, with `prune`, delete what
/// is not (noted otherwise). Returns `(steps, prune steps, notes)`: the prune steps go
/// before anything a bus deletion would need.
pub(crate) fn plan_archives(
    desired: &Desired,
    actual: &[ArchiveSpec],
    prune: bool,
) -> (Vec<Step>, Vec<Step>, Vec<Note>) {
    let (mut steps, mut pruned, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for a in &desired.archives {
        let wanted = archive_spec(desired, a);
        let Some(have) = actual.iter().find(|e| e.name == a.name) else {
            steps.push(Step::CreateArchive { archive: a.clone() });
            continue;
        };
        if have.bus != wanted.bus {
            // AWS cannot move an archive to another bus either.
            notes.push(Note::NotOwned {
                kind: "archive",
                name: format!("{} (on bus {})", a.name, have.bus),
            });
            continue;
        }
        let mut changes = Vec::new();
        if !same_pattern(have.pattern.as_deref(), wanted.pattern.as_deref()) {
            changes.push("pattern".to_string());
        }
        if have.retention_days != wanted.retention_days {
            changes.push("retention".to_string());
        }
        if have.description != wanted.description {
            changes.push("description".to_string());
        }
        if !changes.is_empty() {
            steps.push(Step::UpdateArchive {
                archive: a.clone(),
                changes,
            });
        }
    }
    for e in actual {
        if desired.archives.iter().any(|a| a.name == e.name) {
            continue;
        }
        if prune {
            pruned.push(Step::DeleteArchive {
                name: e.name.clone(),
            });
        } else {
            notes.push(Note::WouldPrune {
                kind: "archive",
                name: e.name.clone(),
            });
        }
    }
    (steps, pruned, notes)
}
