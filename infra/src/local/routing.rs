//! PutEvents: validate entries, build EventBridge's envelope, match rules, deliver to targets.
//!
//! Accepting an event and delivering it to every matching target happen in one transaction,
//! so an event whose id was returned is durably in its queues (or topics' queues and outbox),
//! and an event whose call failed left no trace. Matching uses one compiled
//! [`patterns::Matcher`] per bus, rebuilt when `rules_generation` changes.

use std::cell::Cell;
use std::sync::Arc;

use rusqlite::Connection;

use serde_json::{json, Map, Value};

use super::clock::{parse_rfc3339, rfc3339_seconds};
use super::detail_json::{write_detail, write_str};
use super::event_doc::EventDoc;
use super::events::{load_rules, load_targets};
use super::queue::{send_tx, send_tx_of, MessageAttribute, SendRequest};
use super::routes::{BusRoutes, RouteCache, RouteRule, SharedRoutes};
use super::rule::{RuleState, TargetSpec};
use super::sns::{publish_tx, PublishRequest};
use super::store::{
    begin_activity, counter, record_delivery_of, set_activity_outcome, Body, Ctx, OpenGroup, Store,
};
use super::transform::{target_input, RouteInfo};
use super::write_tx::{run_write, WriteJob, WriteOut, WriteTx};
use super::{arn_service, new_id, LocalError, Result};
pub use crate::put_events::{PutEventsEntry, PutEventsResultEntry, MAX_ENTRIES, MAX_ENTRY_BYTES};
use rules::schedule::Schedule;

/// One delivery of a routed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub event_id: String,
    /// `bus/rule`.
    pub rule: String,
    pub target: String,
    /// `delivered`, or why not.
    pub outcome: String,
}

/// PutEvents' result, plus what was routed where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutEventsOutput {
    pub failed_entry_count: usize,
    pub entries: Vec<PutEventsResultEntry>,
    pub routed: Vec<Routed>,
}

fn build_routes(tx: &Connection, ctx: &Ctx, bus: &str, generation: i64) -> Result<BusRoutes> {
    let mut matcher = patterns::Matcher::new();
    let mut rules = Vec::new();
    for rule in load_rules(tx, Some(bus))? {
        if rule.state != RuleState::Enabled {
            continue;
        }
        // Patterns were validated on the way in; one that no longer parses (an older engine
        // accepted it) is skipped rather than stopping all routing.
        // Scheduled rules match no events: they fire from `fire_due_schedules`.
        let Some(Ok(pattern)) = rule.pattern.as_deref().map(patterns::Pattern::parse) else {
            continue;
        };
        matcher.add(rule.name.clone(), &pattern);
        let targets = load_targets(tx, bus, &rule.name)?;
        let route = RouteRule::new(ctx.rule_arn(bus, &rule.name), bus, &rule.name, targets);
        rules.push((rule.name, route));
    }
    let mut routes = BusRoutes::new(generation, matcher);
    for (name, rule) in rules {
        routes.add_rule(name, rule);
    }
    Ok(routes)
}

/// The routes of `bus`, rebuilt if rules changed since they were compiled.
pub(crate) fn routes_for<'r>(
    cache: &'r mut RouteCache,
    tx: &Connection,
    ctx: &Ctx,
    bus: &str,
) -> Result<&'r BusRoutes> {
    let generation = counter(tx, "rules_generation")?;
    routes_at(cache, tx, ctx, bus, generation)
}

/// [`routes_for`] with the transaction's `rules_generation` already read.
fn routes_at<'r>(
    cache: &'r mut RouteCache,
    tx: &Connection,
    ctx: &Ctx,
    bus: &str,
    generation: i64,
) -> Result<&'r BusRoutes> {
    let stale = cache
        .local
        .get(bus)
        .map(|r| r.generation != generation)
        .unwrap_or(true);
    if stale {
        let routes = build_routes(tx, ctx, bus, generation)?;
        cache.insert(bus, routes);
    }
    cache
        .local
        .get(bus)
        .map(|r| &**r)
        .ok_or_else(|| LocalError::NoSuchBus(bus.to_string()))
}

fn bus_name(name_or_arn: &str) -> &str {
    // Most callers give a name: no `:`, no search for the ARN's part.
    if !name_or_arn.as_bytes().contains(&b':') {
        return name_or_arn;
    }
    match name_or_arn.split_once(":event-bus/") {
        Some((_, name)) => name,
        None => name_or_arn,
    }
}

fn entry_error(code: &str, message: impl Into<String>) -> PutEventsResultEntry {
    PutEventsResultEntry {
        event_id: None,
        error_code: Some(code.into()),
        error_message: Some(message.into()),
    }
}

/// Validates an entry as PutEvents does; returns its time, and writes its `detail` as the
/// envelope holds it (see [`write_detail`]) into `detail`.
fn validate(
    entry: &PutEventsEntry,
    now_ms: i64,
    detail: &mut Vec<u8>,
) -> Result<i64, PutEventsResultEntry> {
    let required = |field: &str| {
        entry_error(
            "InvalidArgument",
            format!("Parameter {field} is not valid. Reason: {field} is a required argument."),
        )
    };
    let source = entry
        .source
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("Source"))?;
    let detail_type = entry
        .detail_type
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("DetailType"))?;
    let detail_text = entry
        .detail
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("Detail"))?;
    if source.starts_with("aws.") {
        return Err(entry_error(
            "NotAuthorizedForSourceException",
            "Not authorized for the source.",
        ));
    }
    let size = source.len()
        + detail_type.len()
        + detail_text.len()
        + entry.resources.iter().map(String::len).sum::<usize>()
        + if entry.time.is_some() { 14 } else { 0 };
    if size > MAX_ENTRY_BYTES {
        return Err(entry_error(
            "InvalidArgument",
            format!("Entry size {size} bytes is over the limit of {MAX_ENTRY_BYTES} bytes."),
        ));
    }
    detail.clear();
    if !write_detail(detail_text, detail) {
        return Err(entry_error("MalformedDetail", "Detail is malformed."));
    }
    let time_ms = match &entry.time {
        None => now_ms,
        Some(t) => parse_rfc3339(t).ok_or_else(|| {
            entry_error(
                "InvalidArgument",
                format!("Parameter Time is not valid: {t:?} is not an RFC 3339 timestamp."),
            )
        })?,
    };
    Ok(time_ms)
}

/// EventBridge's envelope, with AWS's field order.
pub(crate) fn envelope(
    ctx: &Ctx,
    id: &str,
    detail_type: &str,
    source: &str,
    time_ms: i64,
    resources: &[String],
    detail: Value,
) -> Value {
    let mut m = Map::new();
    m.insert("version".into(), json!("0"));
    m.insert("id".into(), json!(id));
    m.insert("detail-type".into(), json!(detail_type));
    m.insert("source".into(), json!(source));
    m.insert("account".into(), json!(ctx.account));
    m.insert("time".into(), json!(rfc3339_seconds(time_ms)));
    m.insert("region".into(), json!(ctx.region));
    m.insert("resources".into(), json!(resources));
    m.insert("detail".into(), detail);
    Value::Object(m)
}

/// [`envelope`] serialized, written straight to JSON text (the same bytes as
/// `envelope(..).to_string()`) without building the envelope as a [`Value`] first. `detail`
/// is the detail's JSON text as serde_json writes it (see [`write_detail`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn envelope_json(
    region: &str,
    account: &str,
    id: &str,
    detail_type: &str,
    source: &str,
    time: &str,
    resources: &[String],
    detail: &[u8],
) -> String {
    let strings = id.len()
        + detail_type.len()
        + source.len()
        + account.len()
        + time.len()
        + region.len()
        + resources.iter().map(|r| r.len() + 3).sum::<usize>()
        + detail.len();
    let mut out = Vec::with_capacity(128 + strings);
    out.extend_from_slice(br#"{"version":"0","id":"#);
    write_str(&mut out, id);
    out.extend_from_slice(br#","detail-type":"#);
    write_str(&mut out, detail_type);
    out.extend_from_slice(br#","source":"#);
    write_str(&mut out, source);
    out.extend_from_slice(br#","account":"#);
    write_str(&mut out, account);
    out.extend_from_slice(br#","time":"#);
    write_str(&mut out, time);
    out.extend_from_slice(br#","region":"#);
    write_str(&mut out, region);
    out.extend_from_slice(br#","resources":["#);
    for (n, resource) in resources.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(&mut out, resource);
    }
    out.extend_from_slice(br#"],"detail":"#);
    out.extend_from_slice(detail);
    out.push(b'}');
    // Every piece is UTF-8: strings, and the detail (written from a `str`).
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Why a call with this many entries is refused, if it is.
fn check_entry_count(entries: &[PutEventsEntry]) -> std::result::Result<(), String> {
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(format!(
            "{} entries: a call takes 1 to {MAX_ENTRIES} entries",
            entries.len()
        ));
    }
    Ok(())
}

/// One entry of a [`PreparedPutEvents`], accepted so far (its bus may still turn out not to
/// exist when the writer looks).
struct PreparedEvent {
    id: String,
    /// The envelope as JSON, the body most targets get.
    json: String,
    /// The rules it matched (sorted by name, distinct), as places in the routes that matched
    /// it ([`BusRoutes::at`]), and their `rules_generation`, when the bus's routes were
    /// published when it was prepared.
    matched: Option<(i64, Vec<usize>)>,
}

/// One prepared entry: the event, or why the entry is refused.
type PreparedEntry = std::result::Result<PreparedEvent, PutEventsResultEntry>;

/// A PutEvents call made ready outside the writer's transaction: entries validated, ids
/// given, envelopes built and serialized and matched against the last published routes, so
/// that the writer (one thread for every caller, with [`super::GroupCommit`]) only checks
/// and writes. See [`Store::prepare_put_events`].
pub struct PreparedPutEvents {
    sender: Option<String>,
    /// `Err`: the call itself is refused (too few or many entries), why. Else per entry its
    /// bus and the event, or the entry's error.
    entries: std::result::Result<Vec<(String, PreparedEntry)>, String>,
}

impl std::fmt::Debug for PreparedPutEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPutEvents")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

/// What preparing a call needs from a store, cheap to clone into other threads.
#[derive(Debug, Clone)]
pub(crate) struct Preparer {
    pub(crate) clock: super::Clock,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) routes: SharedRoutes,
}

impl Preparer {
    pub(crate) fn prepare(
        &self,
        entries: &[PutEventsEntry],
        sender: Option<&str>,
    ) -> PreparedPutEvents {
        let entries = check_entry_count(entries).map(|()| {
            let ctx = Ctx {
                now_ms: self.clock.now_ms(),
                region: &self.region,
                account: &self.account,
                cache: Default::default(),
            };
            let now = rfc3339_seconds(ctx.now_ms);
            // The routes of each bus the call names (mostly one), looked up once.
            let mut buses: Vec<(&str, Option<Arc<BusRoutes>>)> = Vec::with_capacity(1);
            for entry in entries {
                let bus = bus_name(entry.event_bus_name.as_deref().unwrap_or("default"));
                if !buses.iter().any(|(b, _)| *b == bus) {
                    let routes = self.routes.read().ok().and_then(|r| r.get(bus).cloned());
                    buses.push((bus, routes));
                }
            }
            // Buffers for every entry's detail and matches.
            let mut detail = Vec::new();
            let mut matched = Vec::new();
            entries
                .iter()
                .map(|entry| {
                    let bus = bus_name(entry.event_bus_name.as_deref().unwrap_or("default"));
                    let routes = buses
                        .iter()
                        .find(|(b, _)| *b == bus)
                        .and_then(|(_, routes)| routes.as_deref());
                    let buffers = (&mut detail, &mut matched);
                    let prepared = prepare_entry(&ctx, entry, sender, routes, &now, buffers);
                    (bus.to_string(), prepared)
                })
                .collect()
        });
        PreparedPutEvents {
            sender: sender.map(str::to_string),
            entries,
        }
    }
}

/// `buffers`: for the entry's detail text, and the names of the rules it matches.
fn prepare_entry<'r>(
    ctx: &Ctx,
    entry: &PutEventsEntry,
    sender: Option<&str>,
    routes: Option<&'r BusRoutes>,
    now: &str,
    (detail, matched): (&mut Vec<u8>, &mut Vec<&'r str>),
) -> std::result::Result<PreparedEvent, PutEventsResultEntry> {
    let time_ms = validate(entry, ctx.now_ms, detail)?;
    let id = new_id();
    // Most entries carry no time of their own: the call's `now`, formatted once.
    let given;
    let time = if time_ms == ctx.now_ms {
        now
    } else {
        given = rfc3339_seconds(time_ms);
        &given
    };
    let json = envelope_json(
        ctx.region,
        sender.unwrap_or(ctx.account),
        &id,
        entry.detail_type.as_deref().unwrap_or_default(),
        entry.source.as_deref().unwrap_or_default(),
        time,
        &entry.resources,
        detail,
    );
    let matched = routes.map(|r| {
        match_rules_into(r, &EventDoc::from_json(&json), matched);
        (
            r.generation,
            matched.iter().filter_map(|&n| r.place(n)).collect(),
        )
    });
    Ok(PreparedEvent { id, json, matched })
}

/// The rules of `routes` that `event` matches, sorted by name and distinct, as their places
/// ([`BusRoutes::at`]).
///
/// Its text was written by serde_json (an envelope built here, or a parsed event written
/// out again), so it is valid JSON: the matcher's trusted walk, which skips what no rule
/// names without validating it, is safe on it.
fn match_rules(routes: &BusRoutes, event: &EventDoc) -> Vec<usize> {
    let mut matched = Vec::new();
    match_rules_into(routes, event, &mut matched);
    matched.iter().filter_map(|&n| routes.place(n)).collect()
}

/// [`match_rules`] into `matched` (cleared first).
fn match_rules_into<'r>(routes: &'r BusRoutes, event: &EventDoc, matched: &mut Vec<&'r str>) {
    if routes
        .matcher
        .matches_trusted_str_into(event.json, matched)
        .is_err()
    {
        *matched = routes.matcher.matches_value(event.value());
    }
    matched.sort_unstable();
    matched.dedup();
}

fn refused(why: &str) -> LocalError {
    LocalError::invalid("PutEvents", why)
}

/// One prepared PutEvents call's work inside a transaction, at `generation` of the rules.
fn put_events_tx(
    tx: &Connection,
    ctx: &Ctx,
    routes: &mut RouteCache,
    generation: i64,
    call: &PreparedPutEvents,
) -> Result<PutEventsOutput> {
    let entries = match &call.entries {
        Ok(entries) => entries,
        Err(why) => return Err(refused(why)),
    };
    if let Some(account) = &call.sender {
        for (bus, _) in entries {
            if !super::bus_grants::may_put_events(tx, ctx.account, bus, account)? {
                return Err(LocalError::invalid(
                    format!("PutEvents from account {account}"),
                    format!(
                        "AccessDeniedException: account {account} is not authorized to perform \
                         events:PutEvents on event bus {bus}: the bus does not grant it (add \
                         \"{account}\" to its `allow_put_events_from` in bridge.json and apply)"
                    ),
                ));
            }
        }
    }
    let mut out = PutEventsOutput {
        failed_entry_count: 0,
        entries: Vec::with_capacity(entries.len()),
        routed: Vec::new(),
    };
    // The routes of the bus of the entry before (a call's entries mostly share one).
    let mut last: Option<(&str, Arc<BusRoutes>)> = None;
    for (bus, prepared) in entries {
        let p = match prepared {
            Ok(p) => p,
            Err(e) => {
                out.failed_entry_count += 1;
                out.entries.push(e.clone());
                continue;
            }
        };
        let bus_routes = match &last {
            Some((b, r)) if *b == bus.as_str() => r,
            _ => {
                // Routes compiled at this generation mean the bus exists: deleting a bus
                // moves the generation.
                let known = routes
                    .local
                    .get(bus.as_str())
                    .is_some_and(|r| r.generation == generation);
                if !known {
                    let exists: i64 = tx
                        .prepare_cached("SELECT COUNT(*) FROM buses WHERE name = ?1")?
                        .query_row([bus], |r| r.get(0))?;
                    if exists == 0 {
                        out.failed_entry_count += 1;
                        out.entries.push(entry_error(
                            "ResourceNotFoundException",
                            format!("Event bus {bus} does not exist."),
                        ));
                        continue;
                    }
                }
                routes_at(routes, tx, ctx, bus, generation)?;
                let current = routes
                    .local
                    .get(bus.as_str())
                    .cloned()
                    .ok_or_else(|| LocalError::NoSuchBus(bus.to_string()))?;
                &last.insert((bus.as_str(), current)).1
            }
        };
        let event = EventDoc::from_json(&p.json);
        let matched_here;
        let matched: &[usize] = match &p.matched {
            Some((at, places)) if *at == bus_routes.generation => places,
            _ => {
                matched_here = match_rules(bus_routes, &event);
                &matched_here
            }
        };
        deliver_event(
            tx,
            ctx,
            bus_routes,
            bus,
            &p.id,
            &event,
            matched,
            false,
            &mut out.routed,
        )?;
        out.entries.push(PutEventsResultEntry {
            event_id: Some(p.id.clone()),
            error_code: None,
            error_message: None,
        });
    }
    Ok(out)
}

impl Store {
    /// PutEvents: up to 10 entries, all accepted-and-delivered in one transaction.
    ///
    /// Per-entry problems (missing source, malformed detail, unknown bus, ...) come back as
    /// per-entry errors, as from AWS; `Err` means nothing was accepted.
    pub fn put_events(&mut self, entries: &[PutEventsEntry]) -> Result<PutEventsOutput> {
        self.put_events_as(entries, None)
    }

    /// [`Self::put_events`] sent by another account (`None`: the local account): refused
    /// as a whole, as AWS refuses the call, unless every bus named grants that account
    /// (`allow_put_events_from`); its events carry that `account`.
    pub fn put_events_as(
        &mut self,
        entries: &[PutEventsEntry],
        sender: Option<&str>,
    ) -> Result<PutEventsOutput> {
        let mut outs = self.put_events_group_as(&[entries], sender)?;
        outs.pop()
            .unwrap_or_else(|| Err(LocalError::invalid("PutEvents", "no result for the call")))
    }

    /// Group commit: several PutEvents calls (each up to 10 entries) in one transaction, so
    /// that they share one commit (one fsync under [`super::Durability::Full`]). A call that
    /// fails (`Err` in its slot) leaves no trace and does not stop the others (see
    /// [`Self::commit_group`]). The outer `Err` means the commit failed and nothing of any call
    /// was accepted. Results are in the order of `calls`; no call is acknowledged before the
    /// commit that holds its events.
    pub fn put_events_group(
        &mut self,
        calls: &[&[PutEventsEntry]],
    ) -> Result<Vec<Result<PutEventsOutput>>> {
        self.put_events_group_as(calls, None)
    }

    /// [`Self::put_events_group`] with every call sent by `sender` (see [`Self::put_events_as`]).
    pub fn put_events_group_as(
        &mut self,
        calls: &[&[PutEventsEntry]],
        sender: Option<&str>,
    ) -> Result<Vec<Result<PutEventsOutput>>> {
        let preparer = self.preparer();
        let prepared: Vec<PreparedPutEvents> = calls
            .iter()
            .map(|entries| preparer.prepare(entries, sender))
            .collect();
        let refs: Vec<&PreparedPutEvents> = prepared.iter().collect();
        self.put_prepared_group(&refs)
    }

    /// Prepares a PutEvents call without touching the database (so on any thread, while the
    /// store is busy elsewhere): see [`PreparedPutEvents`]. Commit it with
    /// [`Self::put_prepared_group`].
    pub fn prepare_put_events(
        &self,
        entries: &[PutEventsEntry],
        sender: Option<&str>,
    ) -> PreparedPutEvents {
        self.preparer().prepare(entries, sender)
    }

    pub(crate) fn preparer(&self) -> Preparer {
        Preparer {
            clock: self.clock.clone(),
            region: self.config.region.clone(),
            account: self.config.account.clone(),
            routes: Arc::clone(&self.routes.shared),
        }
    }

    /// [`Self::put_events_group`] for calls already prepared.
    pub fn put_prepared_group(
        &mut self,
        calls: &[&PreparedPutEvents],
    ) -> Result<Vec<Result<PutEventsOutput>>> {
        let calls: Vec<GroupCall> = calls.iter().map(|c| GroupCall::Put(c)).collect();
        Ok(self
            .commit_group(&calls, false)?
            .into_iter()
            .map(|out| match out {
                GroupOut::Put(out) => out,
                _ => Err(LocalError::invalid("PutEvents", "no result for the call")),
            })
            .collect())
    }

    /// Group commit of PutEvents, SendMessage(Batch), receive and delete calls, and writes
    /// ([`super::GroupCommit::write`]): one transaction (a call that fails leaves no trace
    /// and does not stop the others: the group then runs again with a savepoint per call;
    /// writes run last, each under a savepoint of its own, and at most once), one commit.
    /// The outer `Err` means the commit failed and nothing was accepted.
    ///
    /// `sync_later`: commit without an fsync even when the group holds accepted events or
    /// sent messages, because the caller fsyncs the WAL itself before it acknowledges them
    /// ([`super::GroupCommit`], whose writer goes on with the next group meanwhile).
    pub(crate) fn commit_group(
        &mut self,
        calls: &[GroupCall],
        sync_later: bool,
    ) -> Result<Vec<GroupOut>> {
        // First every call straight in the transaction: a savepoint per call costs a copy of
        // every page the call is the first to touch (SQLite's statement journal), and calls
        // rarely fail. If one does, the transaction is rolled back and the group runs again
        // with a savepoint per call. A single call needs none: its failure is the group's.
        if calls.len() > 1 {
            if let Some(outs) = self.run_group(calls, sync_later, false)? {
                return Ok(outs);
            }
        }
        match self.run_group(calls, sync_later, calls.len() > 1)? {
            Some(outs) => Ok(outs),
            None => Err(LocalError::invalid("group commit", "a call failed")),
        }
    }

    /// One try of [`Self::commit_group`]: `Ok(None)` (and nothing committed) if a call
    /// failed and `savepoints` is off. With `savepoints`, a call that fails is rolled back
    /// to its savepoint and its error is its result.
    fn run_group(
        &mut self,
        calls: &[GroupCall],
        sync_later: bool,
        savepoints: bool,
    ) -> Result<Option<Vec<GroupOut>>> {
        // Only accepted events and sent messages must survive power loss: a group of
        // receives and deletes alone commits without an fsync (see `Store::write_relaxed`).
        let durable = !sync_later && calls.iter().any(GroupCall::is_durable);
        let OpenGroup {
            tx: group_tx,
            mut ctx,
            routes,
        } = self.begin_group(durable)?;
        let tx = group_tx.conn;
        // Its calls change no queue and no archive.
        ctx.cache.on = true;
        let generation = ctx.cache.counter(tx, "rules_generation")?;
        let mut outs: Vec<Option<GroupOut>> = calls.iter().map(|_| None).collect();
        for (call, slot) in calls.iter().zip(outs.iter_mut()) {
            // Writes run after the other calls (below).
            if let GroupCall::Write(_) = call {
                continue;
            }
            if let GroupCall::Put(PreparedPutEvents {
                entries: Err(why), ..
            }) = call
            {
                *slot = Some(GroupOut::Put(Err(refused(why))));
                continue;
            }
            let run = |tx: &Connection, routes: &mut RouteCache| match call {
                GroupCall::Put(put) => {
                    put_events_tx(tx, &ctx, routes, generation, put).map(|o| GroupOut::Put(Ok(o)))
                }
                GroupCall::Send(queue, reqs) => super::queue::send_batch_tx(tx, &ctx, queue, reqs)
                    .map(|o| GroupOut::Send(Ok(o))),
                GroupCall::Receive(queue, req) => super::queue::receive_tx(tx, &ctx, queue, *req)
                    .map(|o| GroupOut::Receive(Ok(o))),
                GroupCall::Delete(queue, handles) => {
                    super::queue::delete_batch_tx(tx, &ctx, queue, handles)
                        .map(|o| GroupOut::Delete(Ok(o)))
                }
                GroupCall::Write(_) => {
                    Err(LocalError::invalid("group commit", "a write out of turn"))
                }
            };
            // The rows the call held back are written when it succeeded (`TxCache::flush`).
            let run = |tx: &Connection, routes: &mut RouteCache| {
                let out = run(tx, routes)?;
                ctx.cache.flush(tx)?;
                Ok(out)
            };
            if !savepoints {
                match run(tx, routes) {
                    Ok(out) => *slot = Some(out),
                    // A single call's error is the group's; else try again with savepoints
                    // (dropping `tx` rolls it back).
                    Err(e) if calls.len() == 1 => return Err(e),
                    Err(_) => return Ok(None),
                }
                continue;
            }
            // One savepoint at a time, so one name (and cached statements) serves every call.
            tx.prepare_cached("SAVEPOINT group_call")?.execute([])?;
            match run(tx, routes) {
                Ok(out) => {
                    tx.prepare_cached("RELEASE group_call")?.execute([])?;
                    *slot = Some(out);
                }
                Err(e) => {
                    ctx.cache.discard();
                    tx.prepare_cached("ROLLBACK TO group_call")?.execute([])?;
                    tx.prepare_cached("RELEASE group_call")?.execute([])?;
                    *slot = Some(match call {
                        GroupCall::Put(_) => GroupOut::Put(Err(e)),
                        GroupCall::Send(..) => GroupOut::Send(Err(e)),
                        GroupCall::Receive(..) => GroupOut::Receive(Err(e)),
                        GroupCall::Delete(..) => GroupOut::Delete(Err(e)),
                        GroupCall::Write(_) => GroupOut::Write(Err(e)),
                    });
                }
            }
        }
        // Writes last, once the other calls can no longer send the group round again
        // (a write must not run twice), each under its own savepoint.
        for (call, slot) in calls.iter().zip(outs.iter_mut()) {
            let GroupCall::Write(job) = call else {
                continue;
            };
            let out = match job.take() {
                Some(job) => run_write(tx, &ctx, routes, job)?,
                None => Err(LocalError::invalid(
                    "group commit",
                    "the transaction that held this write failed to commit; it was not run again",
                )),
            };
            *slot = Some(GroupOut::Write(out));
        }
        let mail = ctx.cache.outbox_pending(tx)?;
        group_tx.commit()?;
        if mail {
            self.flush_outbox_after_commit();
        }
        Ok(Some(
            outs.into_iter()
                .map(|o| {
                    o.unwrap_or_else(|| {
                        GroupOut::Put(Err(LocalError::invalid(
                            "group commit",
                            "no result for the call",
                        )))
                    })
                })
                .collect(),
        ))
    }
}

/// One call in a group commit ([`Store::commit_group`]).
pub(crate) enum GroupCall<'a> {
    Put(&'a PreparedPutEvents),
    /// SendMessageBatch (or one SendMessage) to a queue.
    Send(&'a str, &'a [super::queue::SendRequest]),
    /// ReceiveMessage (without waiting).
    Receive(&'a str, super::queue::ReceiveRequest),
    /// DeleteMessageBatch.
    Delete(&'a str, &'a [String]),
    /// Any other write ([`super::GroupCommit::write`]), taken out when it runs.
    Write(&'a Cell<Option<WriteJob>>),
}

impl GroupCall<'_> {
    /// Whether the call's changes must survive power loss before it is answered: accepted
    /// events and sent messages must; a lost receive or delete is only a redelivery. A
    /// write may (it says so once it ran: [`GroupOut::needs_sync`]).
    pub(crate) fn is_durable(&self) -> bool {
        matches!(
            self,
            GroupCall::Put(_) | GroupCall::Send(..) | GroupCall::Write(_)
        )
    }
}

/// A call's result in a group commit, in the shape of its [`GroupCall`].
pub(crate) enum GroupOut {
    Put(Result<PutEventsOutput>),
    Send(Result<Vec<Result<String>>>),
    Receive(Result<Vec<super::queue::Received>>),
    Delete(Result<Vec<Result<()>>>),
    /// A write's answer, and whether its changes must survive power loss.
    Write(Result<(WriteOut, bool)>),
}

impl GroupOut {
    /// Whether the caller may be answered only after an fsync: its call was durable
    /// ([`GroupCall::is_durable`]) and, for a write, it succeeded and changed what must
    /// survive power loss.
    pub(crate) fn needs_sync(&self, call: &GroupCall) -> bool {
        match self {
            GroupOut::Write(out) => matches!(out, Ok((_, true))),
            _ => call.is_durable(),
        }
    }
}

/// Matches one event against a bus's rules and delivers it to every target of every match.
pub(crate) fn route_event(
    tx: &Connection,
    ctx: &Ctx,
    routes: &BusRoutes,
    bus: &str,
    event_id: &str,
    event: &Value,
    routed: &mut Vec<Routed>,
) -> Result<()> {
    let json = event.to_string();
    let event = EventDoc::new(&json, event);
    route_event_hop(tx, ctx, routes, bus, event_id, &event, false, routed)
}

/// [`route_event`] for an event that arrived over an event bus target (`forwarded`): such
/// an event is not forwarded to a further bus (see [`forward_to_bus`]).
#[allow(clippy::too_many_arguments)]
fn route_event_hop(
    tx: &Connection,
    ctx: &Ctx,
    routes: &BusRoutes,
    bus: &str,
    event_id: &str,
    event: &EventDoc,
    forwarded: bool,
    routed: &mut Vec<Routed>,
) -> Result<()> {
    let matched = match_rules(routes, event);
    deliver_event(
        tx, ctx, routes, bus, event_id, event, &matched, forwarded, routed,
    )
}

/// An event entering `bus`: archived, recorded, and delivered to the rules it `matched`
/// (places in `routes`, [`BusRoutes::at`]).
#[allow(clippy::too_many_arguments)]
fn deliver_event(
    tx: &Connection,
    ctx: &Ctx,
    routes: &BusRoutes,
    bus: &str,
    event_id: &str,
    event: &EventDoc,
    matched: &[usize],
    forwarded: bool,
    routed: &mut Vec<Routed>,
) -> Result<()> {
    super::archiving::archive_tx(tx, ctx, bus, event)?;
    event.record(tx, ctx, bus, event_id)?;
    let ingestion_time = ctx.cache.ingestion_time(ctx.now_ms);
    for &place in matched {
        let Some((rule_name, rule)) = routes.at(place) else {
            continue;
        };
        deliver_to_rule(
            tx,
            ctx,
            rule_name,
            rule,
            event_id,
            event,
            ingestion_time,
            forwarded,
            routed,
        )?;
    }
    Ok(())
}

/// Delivers one event to every target of one rule (input transformation, dead-letter queue,
/// activity), as EventBridge does once the rule matched or its schedule fired.
#[allow(clippy::too_many_arguments)]
pub(crate) fn deliver_to_rule(
    tx: &Connection,
    ctx: &Ctx,
    rule_name: &str,
    rule: &RouteRule,
    event_id: &str,
    event: &EventDoc,
    ingestion_time: &str,
    forwarded: bool,
    routed: &mut Vec<Routed>,
) -> Result<()> {
    let origin = rule.origin();
    for target in &rule.targets {
        let route = RouteInfo {
            rule_name,
            rule_arn: &rule.arn,
            ingestion_time,
        };
        let activity_origin = &rule.activity_origin;
        let service = arn_service(&target.arn);
        let forwards = service == Some("events");
        let plain = target.input.is_none()
            && target.input_path.is_none()
            && target.input_transformer.is_none();
        let input = if forwards || plain {
            Ok(event.json.to_string())
        } else {
            target_input(target, event.value(), event.json, &route)
        };
        // A topic's activity row goes first, so that it is listed before the fan-out it
        // causes; other targets cause none, and get one row with the outcome (one write).
        // Either row keeps the body the target was handed, for the local console.
        let activity = match service {
            Some("sns") => Some(begin_activity(
                tx,
                ctx,
                event_id,
                activity_origin,
                &target.arn,
                input.as_deref().ok(),
                event.recorded.get(),
            )?),
            _ => None,
        };
        // The envelope is in `bus_events` when it was recorded there (not for a replayed
        // event, whose envelope has its `replay-name`): the activity row need not copy it.
        let keep_envelope = (plain || forwards) && event.recorded.get().is_some();
        let body = match keep_envelope {
            true => None,
            false => input.as_ref().ok().cloned(),
        };
        let outcome = if forwards {
            forward_to_bus(tx, ctx, &target.arn, event_id, event, forwarded, routed)?
        } else {
            match input {
                // A plain target's body is the envelope recorded in `bus_events`, if it was.
                Ok(body) => {
                    let envelope_row = event.recorded.get().filter(|_| plain);
                    deliver(tx, ctx, target, event_id, body, envelope_row)?
                }
                Err(message) => Err(("INPUT_TRANSFORMATION_FAILED", message)),
            }
        };
        let outcome = match outcome {
            Ok(()) => "delivered".to_string(),
            Err((code, message)) => {
                let mut text = format!("not delivered ({code}): {message}");
                if let Some(dlq) = &target.dead_letter_arn {
                    // "EventBridge includes event metadata and message attributes in the
                    // message, including: the Error Code, Error Message, the Exhausted Retry
                    // Condition, Rule ARN, Retry Attempts, and the Target ARN" (EventBridge
                    // user guide, using dead-letter queues). A local failure is final at the
                    // first attempt (as AWS treats a missing target or permission): no
                    // retries were made, and none would be.
                    let attrs = [
                        ("ERROR_CODE", code.to_string()),
                        ("ERROR_MESSAGE", message.clone()),
                        (
                            "EXHAUSTED_RETRY_CONDITION",
                            "MaximumRetryAttempts".to_string(),
                        ),
                        ("RETRY_ATTEMPTS", "0".to_string()),
                        ("RULE_ARN", rule.arn.clone()),
                        ("TARGET_ARN", target.arn.clone()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), MessageAttribute::string(v)))
                    .collect();
                    let send = SendRequest {
                        body: event.json.to_string(),
                        attributes: attrs,
                        ..SendRequest::default()
                    };
                    match send_tx(tx, ctx, dlq, &send) {
                        Ok(_) => text.push_str(&format!("; sent to dead-letter queue {dlq}")),
                        Err(e @ (LocalError::NoSuchQueue(_) | LocalError::Invalid { .. })) => {
                            text.push_str(&format!("; dead-letter queue failed too: {e}"))
                        }
                        Err(e) => return Err(e),
                    }
                }
                text
            }
        };
        match activity {
            Some(id) => set_activity_outcome(tx, id, &outcome)?,
            None => record_delivery_of(
                tx,
                ctx,
                event_id,
                activity_origin,
                &target.arn,
                &outcome,
                if keep_envelope {
                    Body::Envelope
                } else {
                    Body::Text(body.as_deref())
                },
                event.recorded.get(),
            )?,
        }
        routed.push(Routed {
            event_id: event_id.to_string(),
            rule: origin.to_string(),
            target: target.arn.clone(),
            outcome,
        });
    }
    Ok(())
}

/// At most this many slots of one rule are fired per call; the rest follow on the next call
/// (`last_fired_ms` only moves past slots that were delivered, so none is lost).
const MAX_SLOTS_PER_CALL: usize = 1000;

impl Store {
    /// Fires every scheduled rule whose next slot is due (at or before the clock's now): for
    /// each slot, the event EventBridge sends (`source` `aws.events`, `detail-type`
    /// `Scheduled Event`, `resources` [the rule's ARN], `detail` {}, `time` the slot) goes to
    /// that rule's targets — not through pattern matching.
    ///
    /// Each slot's deliveries and the rule's `last_fired_ms` commit in one transaction, so a
    /// slot is delivered exactly once into the local queues and topics: a crash before the
    /// commit leaves the slot due (it fires after the restart), a crash after it leaves it
    /// fired. Slots missed while nothing ran (`bridge dev` stopped) fire on the next call,
    /// oldest first, each with its own `time`. A disabled rule fires nothing, and the slots
    /// it skipped are not made up when it is enabled again (as on AWS).
    pub fn fire_due_schedules(&mut self) -> Result<Vec<Routed>> {
        self.write_with(|w| w.fire_due_schedules())
    }
}

impl WriteTx<'_> {
    /// [`Store::fire_due_schedules`] in this transaction.
    pub fn fire_due_schedules(&mut self) -> Result<Vec<Routed>> {
        let (tx, ctx) = (self.tx, self.ctx);
        let now_ms = ctx.now_ms;
        let scheduled: Vec<(String, String, String, String, i64, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT bus, name, schedule, state, schedule_anchor_ms, last_fired_ms FROM rules
                 WHERE schedule IS NOT NULL ORDER BY bus, name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, Option<i64>>(4)?.unwrap_or(now_ms),
                    r.get::<_, Option<i64>>(5)?.unwrap_or(now_ms),
                ))
            })?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let mut routed = Vec::new();
        for (bus, name, expression, state, anchor_ms, last_fired_ms) in scheduled {
            // Enabling it again moves `last_fired_ms` to then (`put_rule_tx`).
            if RuleState::parse(&state) != RuleState::Enabled {
                continue;
            }
            // Expressions were validated on the way in; one that no longer parses is skipped.
            let Ok(schedule) = Schedule::parse(&expression) else {
                continue;
            };
            let rule = RouteRule::new(
                ctx.rule_arn(&bus, &name),
                &bus,
                &name,
                load_targets(tx, &bus, &name)?,
            );
            let ingestion_time = rfc3339_seconds(now_ms);
            let mut last = last_fired_ms;
            for _ in 0..MAX_SLOTS_PER_CALL {
                let Some(slot) = schedule
                    .next_after(last, anchor_ms)
                    .filter(|s| *s <= now_ms)
                else {
                    break;
                };
                let id = new_id();
                let event = envelope(
                    ctx,
                    &id,
                    "Scheduled Event",
                    "aws.events",
                    slot,
                    std::slice::from_ref(&rule.arn),
                    json!({}),
                );
                let event_json = event.to_string();
                let doc = EventDoc::new(&event_json, &event);
                doc.record(tx, ctx, &bus, &id)?;
                deliver_to_rule(
                    tx,
                    ctx,
                    &name,
                    &rule,
                    &id,
                    &doc,
                    &ingestion_time,
                    false,
                    &mut routed,
                )?;
                last = slot;
            }
            if last != last_fired_ms {
                tx.execute(
                    "UPDATE rules SET last_fired_ms = ?3 WHERE bus = ?1 AND name = ?2",
                    rusqlite::params![bus, name, last],
                )?;
            }
        }
        Ok(routed)
    }
}

type Delivery = std::result::Result<(), (&'static str, String)>;

/// An event bus target: the event itself (same `id`, unchanged) re-enters routing on that
/// bus, in the same transaction, when the bus is in the local state (this account and
/// region). As on AWS, an event is delivered to an event bus target only once: one that
/// already arrived over a bus target is not forwarded again (`THIRD_ACCOUNT_HOP_DETECTED`),
/// which also ends every loop between buses after one hop.
fn forward_to_bus(
    tx: &Connection,
    ctx: &Ctx,
    bus_arn: &str,
    event_id: &str,
    event: &EventDoc,
    forwarded: bool,
    routed: &mut Vec<Routed>,
) -> Result<Delivery> {
    if forwarded {
        return Ok(Err((
            "THIRD_ACCOUNT_HOP_DETECTED",
            format!(
                "Event ingestion rejected for event {event_id} because an event can be sent to \
                 an event bus target only once. This event was previously delivered to an \
                 event bus target."
            ),
        )));
    }
    let Some(arn) = rules::buses::BusArn::parse(bus_arn) else {
        return Ok(Err((
            "SDK_CLIENT_ERROR",
            format!("{bus_arn} is not an event bus ARN"),
        )));
    };
    if arn.account != ctx.account || arn.region != ctx.region {
        return Ok(Err((
            "NOT_DELIVERABLE_LOCALLY",
            format!(
                "event bus {} is in account {}, region {}: outside the local state (account {}, \
                 region {})",
                arn.name, arn.account, arn.region, ctx.account, ctx.region
            ),
        )));
    }
    let exists: i64 = tx.query_row(
        "SELECT COUNT(*) FROM buses WHERE name = ?1",
        [arn.name],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(Err((
            "RESOURCE_NOT_FOUND",
            format!("Event bus {} does not exist.", arn.name),
        )));
    }
    let generation = counter(tx, "rules_generation")?;
    let routes = build_routes(tx, ctx, arn.name, generation)?;
    route_event_hop(tx, ctx, &routes, arn.name, event_id, event, true, routed)?;
    Ok(Ok(()))
}

/// Sends one body to one target. Target-side problems are `Ok(Err(..))`; storage errors are `Err`.
/// `envelope_row`: the `bus_events` row whose envelope `body` is, if it is one; a queue's
/// message names it rather than copying it.
fn deliver(
    tx: &Connection,
    ctx: &Ctx,
    target: &TargetSpec,
    event_id: &str,
    body: String,
    envelope_row: Option<i64>,
) -> Result<Delivery> {
    let result = match arn_service(&target.arn) {
        Some("sqs") => {
            // Only a FIFO queue (whose name, and so ARN, ends in `.fifo`) reads the id.
            let fifo = target.arn.ends_with(".fifo");
            let send = SendRequest {
                body,
                group_id: target.message_group_id.clone(),
                dedup_id: fifo.then(|| event_id.to_string()),
                ..SendRequest::default()
            };
            send_tx_of(tx, ctx, &target.arn, &send, envelope_row).map(|_| ())
        }
        Some("sns") => {
            let publish = PublishRequest {
                message: body,
                group_id: target.message_group_id.clone(),
                dedup_id: Some(event_id.to_string()),
                ..PublishRequest::default()
            };
            publish_tx(tx, ctx, &target.arn, &publish, None).map(|_| ())
        }
        other => {
            return Ok(Err((
                "NOT_DELIVERABLE_LOCALLY",
                format!("{} targets are not run locally", other.unwrap_or("non-ARN")),
            )))
        }
    };
    match result {
        Ok(()) => Ok(Ok(())),
        Err(e @ (LocalError::NoSuchQueue(_) | LocalError::NoSuchTopic(_))) => {
            Ok(Err(("RESOURCE_NOT_FOUND", e.to_string())))
        }
        Err(e @ LocalError::Invalid { .. }) => Ok(Err(("SDK_CLIENT_ERROR", e.to_string()))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod envelope_tests {
    use super::*;

    /// The envelope written straight to text is byte for byte the envelope built as a
    /// `Value` and serialized, whatever the strings hold.
    #[test]
    fn the_envelope_written_as_text_is_the_serialized_envelope() {
        let ctx = Ctx {
            now_ms: 1_700_000_000_123,
            region: "eu-west-1",
            account: "123456789012",
            cache: Default::default(),
        };
        let odd = [
            "plain",
            "",
            "quote \" backslash \\ slash /",
            "controls \u{0} \u{1f} \n \t",
            "unicode é ✓ 🚀",
        ];
        let raw = r#"{"n": 1.50, "big": 12345678901234567890, "neg": -0.0, "a": [true, null, {"x": "\u0041"}], "s": "é"}"#;
        for (k, text) in odd.into_iter().enumerate() {
            let detail: Value = serde_json::from_str(raw).expect("detail");
            // Every other one without resources.
            let resources = match k % 2 {
                0 => vec![text.to_string(), "arn:aws:s3:::b".to_string()],
                _ => vec![],
            };
            let built = envelope(
                &ctx,
                "id-1",
                text,
                text,
                ctx.now_ms,
                &resources,
                detail.clone(),
            )
            .to_string();
            let mut detail_text = Vec::new();
            assert!(write_detail(raw, &mut detail_text));
            let written = envelope_json(
                ctx.region,
                ctx.account,
                "id-1",
                text,
                text,
                &rfc3339_seconds(ctx.now_ms),
                &resources,
                &detail_text,
            );
            assert_eq!(written, built, "{text:?}");
        }
    }
}
