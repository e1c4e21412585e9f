//! A `bridge tail` session on the local backend: a temporary queue and a rule on a bus that
//! sends it every matching event, removed when the tail exits (as [`crate::aws::tail`] does
//! on AWS). Both carry a [`crate::TAIL_PREFIX`] name, so syncing a project never prunes them.

use super::{QueueSpec, Result, RuleSpec, RuleState, Store, TargetSpec};

/// The id of the session rule's one target.
const TARGET_ID: &str = "tail";

/// A running session's rule and queue (they share the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailSession {
    pub bus: String,
    pub name: String,
}

impl Store {
    /// Creates a session's queue and rule for `pattern` on `bus`; nothing is left behind
    /// when that fails.
    pub fn start_tail(&mut self, bus: &str, pattern: String) -> Result<TailSession> {
        let session = TailSession {
            bus: bus.to_string(),
            name: crate::tail_session_name(),
        };
        let queue_arn = self.put_queue(&QueueSpec {
            retention_secs: 3600,
            ..QueueSpec::new(&session.name)
        })?;
        let created = self
            .put_rule(&RuleSpec {
                bus: bus.to_string(),
                name: session.name.clone(),
                pattern: Some(pattern),
                schedule: None,
                state: RuleState::Enabled,
                description: Some("bridge tail: temporary, deleted when the tail exits".into()),
            })
            .and_then(|_| {
                self.put_targets(
                    bus,
                    &session.name,
                    &[TargetSpec::new(TARGET_ID, &queue_arn)],
                )
            });
        if let Err(e) = created {
            self.end_tail(&session)?;
            return Err(e);
        }
        Ok(session)
    }

    /// Removes a session's target, rule and queue (whichever exist).
    pub fn end_tail(&mut self, session: &TailSession) -> Result<()> {
        let (bus, name) = (&session.bus, &session.name);
        if self.list_rules(Some(bus))?.iter().any(|r| &r.name == name) {
            self.remove_targets(bus, name, &[TARGET_ID.to_string()])?;
            self.delete_rule(bus, name)?;
        }
        self.delete_queue(name)?;
        Ok(())
    }

    /// Removes the sessions a killed tail left on `bus`; returns their names.
    pub fn clean_up_tails(&mut self, bus: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for rule in self.list_rules(Some(bus))? {
            if rule.name.starts_with(crate::TAIL_PREFIX) {
                let session = TailSession {
                    bus: bus.to_string(),
                    name: rule.name,
                };
                self.end_tail(&session)?;
                removed.push(session.name);
            }
        }
        Ok(removed)
    }
}
