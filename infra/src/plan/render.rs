//! How a plan reads: one line per step (details indented below it), then the notes and a
//! summary — the same on both backends.

use std::fmt;

use serde_json::Value;

use super::{AttrChange, Note, Plan, PolicyResource, Source, Step};
use rules::desired::{Endpoint, Notification};

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateBus { name } => write!(f, "create event bus {name}"),
            Step::CreateQueue {
                name,
                attributes,
                dead_letter,
            } => {
                write!(f, "create queue {name}")?;
                for (k, v) in attributes {
                    write!(f, "\n      {k} = {v}")?;
                }
                if let Some(d) = dead_letter {
                    write!(
                        f,
                        "\n      dead-letter queue {} after {} receives",
                        d.queue, d.max_receive_count
                    )?;
                }
                Ok(())
            }
            Step::UpdateQueue {
                name,
                changes,
                dead_letter,
            } => {
                write!(f, "update queue {name}")?;
                write_changes(f, changes)?;
                if let Some(d) = dead_letter {
                    write!(
                        f,
                        "\n      dead-letter queue -> {} after {} receives",
                        d.queue, d.max_receive_count
                    )?;
                }
                Ok(())
            }
            Step::CreateTopic { name, attributes } => {
                write!(f, "create topic {name}")?;
                for (k, v) in attributes {
                    write!(f, "\n      {k} = {v}")?;
                }
                Ok(())
            }
            Step::UpdateTopic { name, changes } => {
                write!(f, "update topic {name}")?;
                write_changes(f, changes)
            }
            Step::Grant {
                resource,
                service,
                sources,
            } => {
                let what = match resource {
                    PolicyResource::Queue(q) => format!("queue {q}"),
                    PolicyResource::Topic(t) => format!("topic {t}"),
                };
                if sources.is_empty() {
                    write!(f, "policy of {what}: remove bridge's {service} statement")
                } else {
                    let from: Vec<String> = sources
                        .iter()
                        .map(|s| match s {
                            Source::Rule(r) => format!("rule {r}"),
                            Source::Topic(t) => format!("topic {t}"),
                            Source::Bucket(b) => format!("bucket {b}"),
                        })
                        .collect();
                    write!(
                        f,
                        "policy of {what}: allow {service} only from {} (other statements kept)",
                        from.join(", ")
                    )
                }
            }
            Step::ConfigureBucket {
                bucket,
                enable_eventbridge,
                put,
                remove,
            } => {
                write!(
                    f,
                    "bucket {bucket}: notification settings (configurations of others kept)"
                )?;
                if *enable_eventbridge {
                    write!(f, "\n      send S3 events to EventBridge")?;
                }
                for p in put {
                    let verb = if p.new { "add" } else { "update" };
                    write!(f, "\n      {verb} {}: {}", p.spec.id, describe(&p.spec))?;
                    if !p.changes.is_empty() {
                        write!(f, " (was: {})", p.changes.join("; "))?;
                    }
                }
                for id in remove {
                    write!(f, "\n      remove {id}")?;
                }
                Ok(())
            }
            Step::Adopt { resource } => write!(
                f,
                "adopt {resource}: tag it as the stack's (managed-by=bridge, bridge:stack)"
            ),
            Step::Retag {
                resource,
                set,
                unset,
            } => {
                write!(f, "tags of {resource}")?;
                write_changes(f, set)?;
                for k in unset {
                    write!(f, "\n      {k}: remove")?;
                }
                Ok(())
            }
            Step::CreateRule { rule } => {
                write!(f, "create rule {}", rule.name)?;
                if !rule.enabled {
                    write!(f, " (disabled)")?;
                }
                write_trigger(f, rule, true, true)
            }
            Step::UpdateRule { rule, changes } => {
                write!(f, "update rule {}: {}", rule.name, changes.join(", "))?;
                write_trigger(
                    f,
                    rule,
                    changes.iter().any(|c| c == "pattern"),
                    changes.iter().any(|c| c == "schedule"),
                )
            }
            Step::PutTargets {
                rule,
                targets,
                new_ids,
            } => {
                write!(f, "targets of rule {rule}:")?;
                for t in targets {
                    let verb = if new_ids.contains(&t.id) {
                        "add"
                    } else {
                        "update"
                    };
                    write!(f, "\n      {verb} {} -> {}", t.id, t.destination)?;
                    if let Some(dlq) = &t.dead_letter_queue {
                        write!(f, " (dead-letter queue {dlq})")?;
                    }
                }
                Ok(())
            }
            Step::RemoveTargets { rule, ids } => {
                write!(f, "remove targets {} of rule {rule}", ids.join(", "))
            }
            Step::Subscribe {
                topic, endpoint, ..
            } => match endpoint {
                Endpoint::Queue(q) => write!(f, "subscribe queue {q} to topic {topic}"),
                Endpoint::Other { protocol, endpoint } => {
                    write!(f, "subscribe {protocol} {endpoint} to topic {topic}")
                }
            },
            Step::UpdateSubscription {
                topic,
                endpoint,
                changes,
                ..
            } => {
                write!(f, "update subscription {endpoint} of topic {topic}")?;
                write_changes(f, changes)
            }
            Step::Unsubscribe {
                topic, endpoint, ..
            } => write!(f, "unsubscribe {endpoint} from topic {topic}"),
            Step::DeleteRule { name, target_ids } => {
                write!(f, "delete rule {name}")?;
                if !target_ids.is_empty() {
                    write!(f, " and its targets {}", target_ids.join(", "))?;
                }
                Ok(())
            }
            Step::DeleteTopic { name } => write!(f, "delete topic {name}"),
            Step::DeleteQueue { name } => write!(f, "delete queue {name}"),
            Step::DeleteBus { name } => write!(f, "delete event bus {name}"),
        }
    }
}

fn write_changes(f: &mut fmt::Formatter<'_>, changes: &[AttrChange]) -> fmt::Result {
    for c in changes {
        write!(
            f,
            "\n      {}: {} -> {}",
            c.key,
            c.from.as_deref().unwrap_or("(unset)"),
            c.to
        )?;
    }
    Ok(())
}

/// `queue uploads on s3:ObjectCreated:* (prefix in/, suffix .csv)`.
fn describe(n: &Notification) -> String {
    let mut out = format!("{} on {}", n.destination, n.events.join(", "));
    let filters: Vec<String> = [("prefix", &n.prefix), ("suffix", &n.suffix)]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k} {v}"))
        })
        .collect();
    if !filters.is_empty() {
        out.push_str(&format!(" ({})", filters.join(", ")));
    }
    out
}

fn compact_json(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_string())
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::NotOwned { kind, name } => write!(
                f,
                "{kind} {name} exists but is not owned by this stack: left unchanged \
                 (never modified or deleted by bridge)"
            ),
            Note::WouldPrune { kind, name } => write!(
                f,
                "{kind} {name} is owned by this stack but no longer declared: \
                 deleted by `apply --prune`"
            ),
            Note::Pending { topic, endpoint } => write!(
                f,
                "subscription of {endpoint} to topic {topic} is pending confirmation \
                 (left as is; confirm it from the message AWS sent)"
            ),
            Note::Ungranted { kind, name, by } => write!(
                f,
                "{by} sends to {kind} {name}, which is not owned by this stack: bridge adds no \
                 grant to its policy, so AWS denies the delivery unless the {kind}'s own policy \
                 admits {by}"
            ),
            Note::Missing { kind, name, by } => write!(
                f,
                "{kind} {name} (used by {by}) is neither declared nor found in the account"
            ),
        }
    }
}

impl Plan {
    /// The plan as text; with `color`, ANSI colours (green add, yellow change, red delete,
    /// dim notes).
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, text: String| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text
            }
        };
        let mut out = format!("Stack {} on event bus {}:\n", self.stack, self.bus);
        for step in &self.steps {
            let sym = step.symbol();
            let code = match sym {
                '+' => "32",
                '-' => "31",
                _ => "33",
            };
            out.push_str(&paint(code, format!("  {sym} {step}")));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&paint("2", format!("  ! {note}")));
            out.push('\n');
        }
        if self.steps.is_empty() {
            out.push_str(&format!(
                "No changes. {} matches the declared state.\n",
                self.backend.display_name()
            ));
        } else {
            let (a, c, d) = self.counts();
            out.push_str(&format!(
                "Plan: {a} to add, {c} to change, {d} to destroy.\n"
            ));
        }
        out
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// A rule's event pattern or schedule, the same words on every backend:
/// `pattern {...}` or `schedule cron(0 4 * * ? *) (UTC)`.
fn write_trigger(
    f: &mut fmt::Formatter<'_>,
    rule: &rules::desired::Rule,
    pattern: bool,
    schedule: bool,
) -> fmt::Result {
    if let (true, Some(p)) = (pattern, &rule.pattern) {
        write!(f, "\n      pattern {}", compact_json(p))?;
    }
    if let (true, Some(s)) = (schedule, &rule.schedule) {
        write!(f, "\n      schedule {s} (UTC)")?;
    }
    Ok(())
}
