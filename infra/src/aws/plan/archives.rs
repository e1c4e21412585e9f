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
            let Some(actual) = self.facts.archives.iter().find(|a| a.name == archive.name) else {
                self.steps.push(Step::CreateArchive {
                    archive: archive.clone(),
                });
                continue;
            };
            let owned = owned_description(actual.description.as_deref(), &self.spec.stack);
            let Some(description) =
                owned.filter(|_| Some(actual.event_source_arn.as_str()) == bus_arn)
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

    /// Whether the bus can go as far as archives are concerned: none declared, and none of
    /// someone else's archiving it (the stack's own are deleted first).
    pub(super) fn bus_free_of_archives(&self) -> bool {
        let bus_arn = self.facts.bus.as_ref().map(|b| b.arn.as_str());
        self.spec.archives.is_empty()
            && !self.facts.archives.iter().any(|a| {
                Some(a.event_source_arn.as_str()) == bus_arn
                    && owned_description(a.description.as_deref(), &self.spec.stack).is_none()
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::archives::ArchiveFacts;
    use crate::aws::read::BusFacts;
    use rules::archive::description_with_marker;
    use rules::desired::Archive;
    use rules::owner::ownership_tags;

    const BUS: &str = "arn:aws:events:us-east-1:111122223333:event-bus/orders";

    fn facts(archives: Vec<ArchiveFacts>) -> AccountFacts {
        AccountFacts {
            bus: Some(BusFacts {
                name: "orders".into(),
                arn: BUS.into(),
                tags: ownership_tags("shop"),
                policy: None,
            }),
            archives,
            ..AccountFacts::default()
        }
    }

    fn actual(name: &str, bus: &str, description: Option<String>) -> ArchiveFacts {
        ArchiveFacts {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-1:111122223333:archive/{name}"),
            event_source_arn: bus.into(),
            event_pattern: Some(r#"{"source":["shop"]}"#.into()),
            retention_days: 30,
            description,
        }
    }

    fn declared(name: &str) -> Archive {
        Archive {
            name: name.into(),
            pattern: Some(r#"{ "source": ["shop"] }"#.into()),
            retention_days: 30,
            description: Some("orders".into()),
        }
    }

    fn spec(archives: Vec<Archive>) -> Desired {
        Desired {
            stack: "shop".into(),
            bus: "orders".into(),
            archives,
            ..Desired::default()
        }
    }

    #[test]
    fn an_owned_archive_compares_pattern_as_json_retention_and_description() {
        let mine = actual(
            "a",
            BUS,
            Some(description_with_marker(Some("orders"), "shop")),
        );
        let p = plan(
            &spec(vec![declared("a")]),
            &facts(vec![mine.clone()]),
            false,
        );
        assert!(p.steps.is_empty(), "{p}");
        let mut changed = declared("a");
        changed.pattern = None;
        changed.retention_days = 0;
        changed.description = None;
        let p = plan(&spec(vec![changed]), &facts(vec![mine]), false);
        assert!(
            matches!(&p.steps[..], [Step::UpdateArchive { changes, .. }]
                if changes == &["pattern", "retention", "description"]),
            "{p}"
        );
    }

    #[test]
    fn foreign_archives_are_never_touched() {
        let cases = [
            actual("a", BUS, Some("the audit team's".into())),
            actual("a", BUS, None),
            actual(
                "a",
                BUS,
                Some(description_with_marker(Some("orders"), "other")),
            ),
            // The stack's marker, but on another bus (a copy, or a stack renamed onto it).
            actual(
                "a",
                "arn:aws:events:us-east-1:111122223333:event-bus/default",
                Some(description_with_marker(Some("orders"), "shop")),
            ),
        ];
        for foreign in cases {
            // Declared: a note, and the bus stays (the project still declares an archive).
            let p = plan(
                &spec(vec![declared("a")]),
                &facts(vec![foreign.clone()]),
                true,
            );
            assert!(p.steps.is_empty(), "{foreign:?}: {p}");
            assert_eq!(
                p.notes,
                [Note::NotOwned {
                    kind: "archive",
                    name: "a".into()
                }]
            );
            // Undeclared, it is not pruned either (unless it carries this stack's marker).
            let p = plan(&spec(vec![]), &facts(vec![foreign.clone()]), true);
            let owned_elsewhere = foreign.event_source_arn != BUS;
            assert_eq!(
                p.steps
                    .iter()
                    .any(|s| matches!(s, Step::DeleteArchive { .. })),
                owned_elsewhere,
                "{foreign:?}: {p}"
            );
            // A foreign archive on the bus keeps the bus (AWS would refuse, and it is theirs).
            assert_eq!(
                p.steps.iter().any(|s| matches!(s, Step::DeleteBus { .. })),
                owned_elsewhere,
                "{foreign:?}: {p}"
            );
        }
    }

    #[test]
    fn prune_deletes_owned_archives_before_the_bus_and_their_managed_rule_does_not_block_it() {
        let mine = actual("a", BUS, Some(description_with_marker(None, "shop")));
        let mut f = facts(vec![mine]);
        f.rules.push(RuleFacts {
            name: "Events-Archive-a".into(),
            arn: "arn:aws:events:us-east-1:111122223333:rule/orders/Events-Archive-a".into(),
            bus: "orders".into(),
            event_pattern: Some("{}".into()),
            schedule_expression: None,
            enabled: true,
            description: None,
            tags: BTreeMap::new(),
            targets: vec![],
        });
        let p = plan(&spec(vec![]), &f, false);
        assert!(p.steps.is_empty());
        assert_eq!(
            p.notes,
            [Note::WouldPrune {
                kind: "archive",
                name: "a".into()
            }]
        );
        let p = plan(&Desired::empty("shop", "orders"), &f, true);
        let steps: Vec<String> = p.steps.iter().map(ToString::to_string).collect();
        assert_eq!(
            steps,
            [
                "delete archive a and the events it holds",
                "delete event bus orders"
            ]
        );
    }
}
