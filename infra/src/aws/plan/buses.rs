//! Declared event buses beside the project's own (created and owned like it), and the
//! stack's `events:PutEvents` statements in bus policies.

use super::*;
use crate::aws::bus_policy;
use crate::aws::read::BusFacts;

impl Planner<'_> {
    /// A bus by name: the project's or another one read.
    pub(super) fn bus_facts(&self, name: &str) -> Option<&BusFacts> {
        self.facts
            .bus
            .iter()
            .chain(&self.facts.other_buses)
            .find(|b| b.name == name)
    }

    /// Declared buses other than `default` and the project's: created when missing, retagged
    /// when owned, noted when someone else's.
    pub(super) fn declared_buses(&mut self) {
        for bus in &self.spec.buses {
            if bus.name == "default" || bus.name == self.spec.bus {
                continue;
            }
            match self.bus_facts(&bus.name) {
                None => self.steps.push(Step::CreateBus {
                    name: bus.name.clone(),
                }),
                Some(b) if !self.owns(&b.tags) => self.notes.push(Note::NotOwned {
                    kind: "event bus",
                    name: b.name.clone(),
                }),
                Some(b) => {
                    let (name, tags) = (b.name.clone(), b.tags.clone());
                    self.retag(Tagged::Bus(name), &tags);
                }
            }
        }
    }

    /// One step per bus whose stack statements differ from the declared grants: declared
    /// buses, and any bus whose policy still holds the stack's statements (a grant or a bus
    /// no longer declared). A bus someone else owns gets no statements written.
    pub(super) fn bus_policies(&mut self) {
        let mut names: BTreeSet<String> = self.spec.buses.iter().map(|b| b.name.clone()).collect();
        for b in self.facts.bus.iter().chain(&self.facts.other_buses) {
            if !bus_policy::own_sids(b.policy.as_deref(), &self.spec.stack).is_empty() {
                names.insert(b.name.clone());
            }
        }
        for name in names {
            let grants: Vec<rules::buses::Grantee> = self
                .spec
                .buses
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.grants.clone())
                .unwrap_or_default();
            let facts = self.bus_facts(&name);
            // `default` is nobody's to own; another existing bus must be the stack's.
            if name != "default" && !grants.is_empty() && facts.is_some_and(|b| !self.owns(&b.tags))
            {
                continue;
            }
            let actual =
                bus_policy::own_sids(facts.and_then(|b| b.policy.as_deref()), &self.spec.stack);
            let mut wanted: Vec<String> = grants
                .iter()
                .map(|g| bus_policy::sid(&self.spec.stack, g))
                .collect();
            wanted.sort();
            wanted.dedup();
            if actual != wanted {
                self.steps.push(Step::BusPolicy { bus: name, grants });
            }
        }
    }

    /// Owned buses that are neither the project's nor declared: deleted with prune (their
    /// policy goes with them), else noted.
    pub(super) fn prune_buses(&mut self) {
        let doomed: Vec<String> = self
            .facts
            .other_buses
            .iter()
            .filter(|b| {
                b.name != "default"
                    && self.owns(&b.tags)
                    && !self.spec.buses.iter().any(|d| d.name == b.name)
            })
            .map(|b| b.name.clone())
            .collect();
        for name in doomed {
            if self.prune {
                self.steps.push(Step::DeleteBus { name });
            } else {
                self.notes.push(Note::WouldPrune {
                    kind: "event bus",
                    name,
                });
            }
        }
        let deleted: BTreeSet<String> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::DeleteBus { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        self.steps.retain(|s| match s {
            Step::BusPolicy { bus, grants } => !(grants.is_empty() && deleted.contains(bus)),
            _ => true,
        });
    }

    /// A bus target's ARN, when known now: an ARN as given, a declared bus by the ARN AWS
    /// reported for it.
    pub(super) fn bus_target_arn(&self, bus: &str) -> Option<String> {
        if bus.starts_with("arn:") {
            return Some(bus.to_string());
        }
        self.bus_facts(bus).map(|b| b.arn.clone())
    }
}
