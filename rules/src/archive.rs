//! Archives of the project's bus: checked, resolved, and how a backend marks the ones a
//! stack owns.
//!
//! EventBridge archives take no tags (`TagResource` does not accept archive ARNs), so the
//! ownership tags cannot be used. The one free field an archive returns is its
//! `Description`: `bridge` appends [`owner_marker`] to it, and an archive is a stack's only
//! when its description ends with exactly that stack's marker. An archive created by anyone
//! else has no marker (or another stack's) and is never changed or deleted.

use std::collections::BTreeSet;
use std::path::Path;

use patterns::Pattern;

use crate::diagnostic::Diagnostic;
use crate::model::ArchiveDecl;

/// An archive, resolved: its pattern compiled (`None`: every event on the bus).
#[derive(Debug, Clone)]
pub struct Archive {
    pub name: String,
    pub pattern: Option<Pattern>,
    /// 0 keeps events forever.
    pub retention_days: u32,
    pub description: Option<String>,
}

/// AWS's limit on `ArchiveName` (CreateArchive: length 1–48, `[\.\-_A-Za-z0-9]+`).
pub const MAX_NAME: usize = 48;
/// What a user may write in `description`: AWS allows 512 characters, and the ownership
/// marker takes at most 98 (with a 64-character stack name).
pub const MAX_DESCRIPTION: usize = 400;

/// Archive names and replay names: `[\.\-_A-Za-z0-9]+`, 1–`max` characters.
pub fn name_problem(kind: &str, name: &str, max: usize) -> Option<String> {
    if name.is_empty()
        || name.len() > max
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        return Some(format!(
            "`{name}` is not a valid {kind} name: use 1–{max} of A-Z a-z 0-9 . - _"
        ));
    }
    None
}

/// The text `bridge` appends to the description of every archive a stack creates.
pub fn owner_marker(stack: &str) -> String {
    format!("[managed-by=bridge bridge:stack={stack}]")
}

/// The description `bridge` writes: the declared one (if any), then the marker.
pub fn description_with_marker(description: Option<&str>, stack: &str) -> String {
    match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{d} {}", owner_marker(stack)),
        None => owner_marker(stack),
    }
}

/// When `actual` (an archive's description) carries `stack`'s marker: the declared part
/// (`None` when there was none). `None` when the archive is not the stack's.
pub fn owned_description(actual: Option<&str>, stack: &str) -> Option<Option<String>> {
    let rest = actual?.strip_suffix(&owner_marker(stack))?;
    let rest = rest.strip_suffix(' ').unwrap_or(rest);
    Some((!rest.is_empty()).then(|| rest.to_string()))
}

/// Checks `bridge.json`'s `archives` (`path` is the project file); every problem becomes a
/// diagnostic with its JSON path and a fix. Returns the archives that are valid.
pub(crate) fn check(
    path: &Path,
    decls: &[ArchiveDecl],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Archive> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, a) in decls.iter().enumerate() {
        let before = diags.len();
        let at = format!("$.archives[{i}]");
        let mut push = |place: String, message: String, hint: &str| {
            diags.push(Diagnostic::new(path, place, message).hint(hint))
        };
        if let Some(p) = name_problem("archive", &a.name, MAX_NAME) {
            push(format!("{at}.name"), p, "rename the archive");
        }
        if !seen.insert(a.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("archive `{}` is declared twice", a.name),
                "archive names are unique in an account and region: rename or remove one",
            );
        }
        if let Some(d) = &a.description {
            let n = d.chars().count();
            if n > MAX_DESCRIPTION {
                push(
                    format!("{at}.description"),
                    format!("{n} characters; an archive's description takes {MAX_DESCRIPTION} here (AWS allows 512, and bridge appends its ownership marker)"),
                    "shorten the description",
                );
            }
        }
        let pattern = match (&a.event_pattern, &a.pattern_file) {
            (None, None) => None,
            (Some(_), Some(_)) => {
                push(
                    at.clone(),
                    "give at most one of `event_pattern` and `pattern_file`".into(),
                    "inline the pattern or point at a file, not both (neither archives every event)",
                );
                None
            }
            (Some(value), None) => match Pattern::from_value(value) {
                Ok(p) => Some(p),
                Err(e) => {
                    let place = if e.path.is_empty() {
                        format!("{at}.event_pattern")
                    } else {
                        format!("{at}.event_pattern.{}", e.path)
                    };
                    push(
                        place,
                        format!("invalid event pattern: {}", e.message),
                        "see the EventBridge event-pattern reference",
                    );
                    None
                }
            },
            (None, Some(file)) => {
                let pattern_path = path.parent().unwrap_or(Path::new(".")).join(file);
                match std::fs::read_to_string(&pattern_path) {
                    Err(e) => {
                        push(
                            format!("{at}.pattern_file"),
                            format!("cannot read {}: {e}", pattern_path.display()),
                            "the path is relative to bridge.json",
                        );
                        None
                    }
                    Ok(text) => match Pattern::parse(&text) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            let place = match (e.line, e.column) {
                                (Some(l), Some(c)) => {
                                    format!("{}:{l}:{c}", pattern_path.display())
                                }
                                _ => pattern_path.display().to_string(),
                            };
                            push(
                                format!("{at}.pattern_file"),
                                format!("invalid event pattern in {place}: {}", e.message),
                                "see the EventBridge event-pattern reference",
                            );
                            None
                        }
                    },
                }
            }
        };
        if let Some(size) = pattern
            .as_ref()
            .map(|p| p.as_value().to_string().chars().count())
            .filter(|n| *n > 4096)
        {
            push(
                format!("{at}.event_pattern"),
                format!("the pattern is {size} characters as sent; EventBridge allows 4096"),
                "shorten the pattern",
            );
        }
        if diags.len() == before {
            out.push(Archive {
                name: a.name.clone(),
                pattern,
                retention_days: a.retention_days,
                description: a.description.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_round_trips_and_names_one_stack() {
        let d = description_with_marker(Some("orders, 30 days"), "shop");
        assert_eq!(
            owned_description(Some(&d), "shop"),
            Some(Some("orders, 30 days".to_string()))
        );
        assert_eq!(owned_description(Some(&d), "other"), None);
        assert_eq!(owned_description(Some(&d), "op"), None);
        let bare = description_with_marker(None, "shop");
        assert_eq!(owned_description(Some(&bare), "shop"), Some(None));
        assert_eq!(owned_description(Some("someone's archive"), "shop"), None);
        assert_eq!(owned_description(None, "shop"), None);
        // The longest marker still leaves room for the longest description AWS allows.
        let longest = description_with_marker(Some(&"d".repeat(MAX_DESCRIPTION)), &"s".repeat(64));
        assert!(longest.chars().count() <= 512, "{}", longest.len());
    }

    #[test]
    fn names_follow_aws_grammar() {
        assert!(name_problem("archive", "orders.v2_all-events", MAX_NAME).is_none());
        assert!(name_problem("archive", &"a".repeat(48), MAX_NAME).is_none());
        for bad in ["", "has space", "a/b", "ü", &"a".repeat(49)] {
            assert!(name_problem("archive", bad, MAX_NAME).is_some(), "{bad:?}");
        }
    }
}
