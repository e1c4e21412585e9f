//! Archives of the stack's bus. Archives take no tags: an archive is the stack's when its
//! description ends with the stack's marker (`rules::archive`); any other archive with a
//! declared name is never touched (a `!` note).

use super::*;
use rules::archive::owned_description;

impl Planner<'_> {
    /// Creates or updates the declared archives (after the bus exists).
    pub(super) fn archives(&mut self) {
        let bus_arn = self.facts.bus.as_ref().map(|b| b.arn.as_str());
        for archive in &self.spec.archives {
            let Some(actual) = self.facts.archives.iter().find(|a| a.name == archive.name)
            else {
                self.steps.push(Step::CreateArchive {
                    archive: archive.clone(),
                });
                continue;
            };
            let owned = owned_description(actual.description.as_deref(), &self.spec.stack);
            let Some(description) = owned.filter(|_| Some(actual.event_source_arn.as_str()) == bus_arn)
            else {
                self.notes.push(Note::NotOwned {
                    kind: "archive",
                    name: archive.name.clone(),
                });
                continue;
            };
            let mut changes = Vec::new();
            if !same_pattern(actual.event_pattern.as_deref(), archive.pattern.as_deref()) {
                changes.push("pattern".to_string());
            }
            if actual.retention_days != archive.retention_days {
                changes.push("retention".to_string());
            }
            if description.as_deref() != archive.description.as_deref() {
                changes.push("description".to_string());
            }
            if !changes.is_empty() {
                self.steps.push(Step::UpdateArchive {
                    archive: archive.clone(),
                    changes,
                });
            }
        }
    }

    /// Deletes (with prune) the stack's archives that are no longer declared: before the
    /// bus, which AWS does not delete while archives point at it.
    pub(super) fn prune_archives(&mut self) {
        for actual in &self.facts.archives {
            let declared = self.spec.archives.iter().any(|a| a.name == actual.name);
            if declared
                || owned_description(actual.description.as_deref(), &self.spec.stack).is_none()
            {
                continue;
            }
            if self.prune {
                self.steps.push(Step::DeleteArchive {
                    name: actual.name.clone(),
                });
            } else {
                self.notes.push(Note::WouldPrune {
                    kind: "archive",
                    name: actual.name.clone(),
                });
            }
        }
    }

    /// Whether `rule` is the rule AWS manages for one of the stack's archives
    /// (`Events-Archive-NAME`), which goes when the archive is deleted.
    pub(super) fn archive_rule_of_stack(&self, rule: &str) -> bool {
        rule.strip_prefix("Events-Archive-").is_some_and(|name| {
            self.facts.archives.iter().any(|a| {
                a.name == name
                    && owned_description(a.description.as_deref(), &self.spec.stack).is_some()
            })
        })
    }
}
