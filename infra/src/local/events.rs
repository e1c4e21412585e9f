//! Event buses, rules and targets (the EventBridge control plane).
//!
//! Every change bumps `rules_generation`, so each process's compiled matchers (see
//! [`super::routing`]) notice that they are stale even when another process made the change.

use rusqlite::{params, Connection, OptionalExtension};

use super::rule::{RuleSpec, RuleState, TargetSpec};
use super::store::{next_counter, Ctx, Store};
use super::{LocalError, Result};

fn bus_exists(tx: &Connection, bus: &str) -> Result<()> {
    let n: i64 = tx.query_row("SELECT COUNT(*) FROM buses WHERE name = ?1", [bus], |r| {
        r.get(0)
    })?;
    if n == 0 {
        return Err(LocalError::NoSuchBus(bus.to_string()));
    }
    Ok(())
}

fn validate_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(LocalError::invalid(
            format!("{what} {name:?}"),
            "a name has 1 to 64 characters: letters, digits, '.', '-' and '_'",
        ));
    }
    Ok(())
}

pub(crate) fn load_targets(tx: &Connection, bus: &str, rule: &str) -> Result<Vec<TargetSpec>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, arn, input, input_path, input_transformer, message_group_id, dead_letter_arn
         FROM targets WHERE bus = ?1 AND rule = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![bus, rule], |r| {
        let transformer: Option<String> = r.get(4)?;
        Ok(TargetSpec {
            id: r.get(0)?,
            arn: r.get(1)?,
            input: r.get(2)?,
            input_path: r.get(3)?,
            input_transformer: transformer.and_then(|t| serde_json::from_str(&t).ok()),
            message_group_id: r.get(5)?,
            dead_letter_arn: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn load_rules(tx: &Connection, bus: Option<&str>) -> Result<Vec<RuleSpec>> {
    let mut stmt = tx.prepare_cached(
        "SELECT bus, name, pattern, state, description, schedule FROM rules WHERE ?1 IS NULL OR bus = ?1 ORDER BY bus, name",
    )?;
    let rows = stmt.query_map([bus], |r| {
        let schedule: Option<String> = r.get(5)?;
        let pattern: String = r.get(2)?;
        Ok(RuleSpec {
            bus: r.get(0)?,
            name: r.get(1)?,
            // A scheduled rule stores '' as its (NOT NULL) pattern.
            pattern: if schedule.is_some() {
                None
            } else {
                Some(pattern)
            },
            schedule,
            state: RuleState::parse(&r.get::<_, String>(3)?),
            description: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// What [`Store::put_rule`] checks before writing: the name, and exactly one of a valid
/// event pattern (the project's engine, AWS's semantics) and a valid schedule.
pub(crate) fn validate_rule(rule: &RuleSpec) -> Result<()> {
    validate_name("rule", &rule.name)?;
    let what = || format!("rule {}", rule.name);
    match (&rule.pattern, &rule.schedule) {
        (Some(pattern), None) => {
            patterns::Pattern::parse(pattern).map_err(|e| {
                LocalError::invalid(
                    format!("event pattern of rule {}", rule.name),
                    e.to_string(),
                )
            })?;
        }
        (None, Some(schedule)) => {
            rules::schedule::Schedule::parse(schedule).map_err(|e| {
                LocalError::invalid(
                    format!("schedule expression of rule {}", rule.name),
                    e.to_string(),
                )
            })?;
            if rule.bus != "default" {
                return Err(LocalError::invalid(
                    what(),
                    "scheduled rules run only on the default event bus",
                ));
            }
        }
        _ => {
            return Err(LocalError::invalid(
                what(),
                "a rule has exactly one of an event pattern and a schedule expression",
            ))
        }
    }
    Ok(())
}

/// [`Store::put_rule`] inside the caller's transaction (the rule already validated).
pub(crate) fn put_rule_tx(tx: &Connection, ctx: &Ctx, rule: &RuleSpec) -> Result<String> {
    bus_exists(tx, &rule.bus)?;
    // A new or changed schedule starts counting now: a rate from now, and no slot
    // before now is fired. An unchanged schedule keeps its anchor and progress, except that
    // a rule enabled or disabled is fired up to now: the slots it skipped while disabled are
    // not made up (as on AWS), without a write per tick while it is disabled.
    tx.execute(
            "INSERT INTO rules (bus, name, pattern, state, description, schedule, schedule_anchor_ms, last_fired_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT(bus, name) DO UPDATE SET pattern = excluded.pattern, state = excluded.state,
                 description = excluded.description,
                 schedule_anchor_ms = CASE WHEN rules.schedule IS excluded.schedule
                     THEN rules.schedule_anchor_ms ELSE excluded.schedule_anchor_ms END,
                 last_fired_ms = CASE WHEN rules.schedule IS excluded.schedule
                     AND rules.state = excluded.state
                     THEN rules.last_fired_ms ELSE excluded.last_fired_ms END,
                 schedule = excluded.schedule",
            params![
                rule.bus,
                rule.name,
                rule.pattern.as_deref().unwrap_or_default(),
                rule.state.as_str(),
                rule.description,
                rule.schedule,
                rule.schedule.as_ref().map(|_| ctx.now_ms),
            ],
        )?;
    next_counter(tx, "rules_generation")?;
    Ok(ctx.rule_arn(&rule.bus, &rule.name))
}

impl Store {
    /// Creates an event bus (a no-op if it exists); returns its ARN.
    pub fn put_bus(&mut self, name: &str) -> Result<String> {
        validate_name("event bus", name)?;
        self.write(|tx, ctx| {
            tx.execute(
                "INSERT OR IGNORE INTO buses (name, created_ms) VALUES (?1, ?2)",
                params![name, ctx.now_ms],
            )?;
            Ok(ctx.bus_arn(name))
        })
    }

    /// Deletes a bus with its rules and targets. The default bus cannot be deleted.
    pub fn delete_bus(&mut self, name: &str) -> Result<bool> {
        if name == "default" {
            return Err(LocalError::invalid(
                "event bus default",
                "the default event bus cannot be deleted",
            ));
        }
        self.write(|tx, _| {
            tx.execute("DELETE FROM targets WHERE bus = ?1", [name])?;
            tx.execute("DELETE FROM rules WHERE bus = ?1", [name])?;
            tx.execute("DELETE FROM bus_grants WHERE bus = ?1", [name])?;
            // Its archives, their events and replays go with it.
            tx.execute("DELETE FROM replays WHERE bus = ?1", [name])?;
            tx.execute(
                "DELETE FROM archived_events WHERE archive IN (SELECT name FROM archives WHERE bus = ?1)",
                [name],
            )?;
            tx.execute("DELETE FROM archives WHERE bus = ?1", [name])?;
            let n = tx.execute("DELETE FROM buses WHERE name = ?1", [name])?;
            next_counter(tx, "rules_generation")?;
            Ok(n > 0)
        })
    }

    pub fn list_buses(&mut self) -> Result<Vec<String>> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare("SELECT name FROM buses ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// PutRule: creates or updates a rule (its targets are kept). Returns the rule ARN.
    pub fn put_rule(&mut self, rule: &RuleSpec) -> Result<String> {
        validate_rule(rule)?;
        self.write(|tx, ctx| {
            // Declared now (by the project, or a local tail): no longer made over the wire
            // (`super::served`).
            tx.execute(
                "DELETE FROM served_resources WHERE kind = 'rule' AND bus = ?1 AND name = ?2",
                params![rule.bus, rule.name],
            )?;
            put_rule_tx(tx, ctx, rule)
        })
    }

    /// DeleteRule. Like AWS, a rule that still has targets cannot be deleted.
    pub fn delete_rule(&mut self, bus: &str, name: &str) -> Result<bool> {
        self.write(|tx, _| {
            let targets: i64 = tx.query_row(
                "SELECT COUNT(*) FROM targets WHERE bus = ?1 AND rule = ?2",
                params![bus, name],
                |r| r.get(0),
            )?;
            if targets > 0 {
                return Err(LocalError::invalid(
                    format!("rule {name} on bus {bus}"),
                    "Rule can't be deleted since it has targets; remove its targets first",
                ));
            }
            let n = tx.execute(
                "DELETE FROM rules WHERE bus = ?1 AND name = ?2",
                params![bus, name],
            )?;
            next_counter(tx, "rules_generation")?;
            Ok(n > 0)
        })
    }

    /// Rules of one bus, or of every bus.
    pub fn list_rules(&mut self, bus: Option<&str>) -> Result<Vec<RuleSpec>> {
        self.read(|tx, _| load_rules(tx, bus))
    }

    /// PutTargets: adds or replaces targets by id.
    pub fn put_targets(&mut self, bus: &str, rule: &str, targets: &[TargetSpec]) -> Result<()> {
        for t in targets {
            if t.id.is_empty() || t.id.len() > 64 {
                return Err(LocalError::invalid(
                    format!("target of rule {rule}"),
                    "a target id has 1 to 64 characters",
                ));
            }
            let set = [
                t.input.is_some(),
                t.input_path.is_some(),
                t.input_transformer.is_some(),
            ];
            if set.iter().filter(|s| **s).count() > 1 {
                return Err(LocalError::invalid(
                    format!("target {} of rule {rule}", t.id),
                    "only one of Input, InputPath and InputTransformer may be set",
                ));
            }
            if let Some(input) = &t.input {
                serde_json::from_str::<serde_json::Value>(input).map_err(|e| {
                    LocalError::invalid(
                        format!("Input of target {} of rule {rule}", t.id),
                        format!("must be valid JSON: {e}"),
                    )
                })?;
            }
        }
        self.write(|tx, _| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM rules WHERE bus = ?1 AND name = ?2", params![bus, rule], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(LocalError::NoSuchRule { bus: bus.to_string(), rule: rule.to_string() });
            }
            for t in targets {
                let transformer = t.input_transformer.as_ref().map(|x| serde_json::to_string(x).unwrap_or_default());
                tx.execute(
                    "INSERT OR REPLACE INTO targets (bus, rule, id, arn, input, input_path, input_transformer,
                         message_group_id, dead_letter_arn) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![bus, rule, t.id, t.arn, t.input, t.input_path, transformer, t.message_group_id, t.dead_letter_arn],
                )?;
            }
            next_counter(tx, "rules_generation")?;
            Ok(())
        })
    }

    /// RemoveTargets by id.
    pub fn remove_targets(&mut self, bus: &str, rule: &str, ids: &[String]) -> Result<()> {
        self.write(|tx, _| {
            for id in ids {
                tx.execute(
                    "DELETE FROM targets WHERE bus = ?1 AND rule = ?2 AND id = ?3",
                    params![bus, rule, id],
                )?;
            }
            next_counter(tx, "rules_generation")?;
            Ok(())
        })
    }

    pub fn list_targets(&mut self, bus: &str, rule: &str) -> Result<Vec<TargetSpec>> {
        self.read(|tx, _| load_targets(tx, bus, rule))
    }

    /// The ARN of a rule.
    pub fn rule_arn(&self, bus: &str, rule: &str) -> String {
        crate::arn::rule_arn(&self.config.region, &self.config.account, bus, rule)
    }
}
