//! Loading a project: every file parsed, every reference resolved, every pattern compiled,
//! and *all* problems reported together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use patterns::Pattern;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{
    FilterPolicyScope, ProjectFile, Protocol, QueueDecl, RuleFile, RuleState, TargetDecl, TopicDecl,
};
use crate::names::{
    bucket_name_problem, bus_name_problem, is_arn, queue_or_topic_problem, rule_name_problem,
    stack_name_problem,
};
use crate::transformer;

/// The AWS managed SQS key: its key policy cannot grant `events.amazonaws.com`, so
/// EventBridge deliveries to a queue encrypted with it fail.
const AWS_MANAGED_SQS_KEY: &str = "alias/aws/sqs";

/// The project file name looked for in a project directory.
pub const PROJECT_FILE: &str = "bridge.json";

/// A loaded, valid project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project file.
    pub path: PathBuf,
    pub file: ProjectFile,
    /// Rules in file-name order.
    pub rules: Vec<Rule>,
    /// Settings that are valid but almost certainly not what was meant (`bridge validate`
    /// prints them and still succeeds).
    pub warnings: Vec<Diagnostic>,
    /// The archives of the project's bus, patterns compiled.
    pub archives: Vec<crate::archive::Archive>,
}

/// One rule, resolved: name and bus defaulted, pattern compiled or schedule checked.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub bus: String,
    pub description: Option<String>,
    pub state: RuleState,
    /// What the rule reacts to: events matching a pattern, or a schedule.
    pub trigger: Trigger,
    pub targets: Vec<TargetDecl>,
    /// The rule file.
    pub source: PathBuf,
}

/// What starts a rule: exactly one of an event pattern and a schedule.
#[derive(Debug, Clone)]
pub enum Trigger {
    Pattern(Pattern),
    /// The expression as written (valid: [`crate::schedule::Schedule::parse`] accepts it).
    Schedule(String),
}

impl Rule {
    /// The rule's event pattern; `None` for a scheduled rule.
    pub fn pattern(&self) -> Option<&Pattern> {
        match &self.trigger {
            Trigger::Pattern(p) => Some(p),
            Trigger::Schedule(_) => None,
        }
    }

    /// The rule's schedule expression; `None` for an event-pattern rule.
    pub fn schedule(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Pattern(_) => None,
            Trigger::Schedule(s) => Some(s),
        }
    }
}

impl Project {
    /// The directory holding the project file.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The embedded backend's state directory: `local_state_dir` (default `.bridge`),
    /// relative to the project file, so it does not depend on where `bridge` runs.
    pub fn local_state_dir(&self) -> PathBuf {
        self.dir().join(
            self.file
                .local_state_dir
                .as_deref()
                .unwrap_or(crate::model::DEFAULT_LOCAL_STATE_DIR),
        )
    }

    pub fn queue(&self, name: &str) -> Option<&QueueDecl> {
        self.file.queues.iter().find(|q| q.name == name)
    }

    pub fn topic(&self, name: &str) -> Option<&TopicDecl> {
        self.file.topics.iter().find(|t| t.name == name)
    }
}

/// Loads `path`: a project directory (holding `bridge.json`) or the project file itself.
pub fn load(path: &Path) -> Result<Project, Diagnostics> {
    let project_path = if path.is_dir() {
        path.join(PROJECT_FILE)
    } else {
        path.to_path_buf()
    };
    let mut diags = Vec::new();
    let Some(file) = parse_file::<ProjectFile>(&project_path, "a project file", &mut diags) else {
        return Err(Diagnostics(diags));
    };
    check_project(&project_path, &file, &mut diags);
    let archives = crate::archive::check(&project_path, &file.archives, &mut diags);
    let dir = project_path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let rules_dir = dir.join(&file.rules_dir);
    let mut rule_files: Vec<PathBuf> = match std::fs::read_dir(&rules_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    &project_path,
                    "$.rules_dir",
                    format!("cannot read rules directory {}: {e}", rules_dir.display()),
                )
                .hint("create it, or point `rules_dir` at the directory holding your rule files"),
            );
            Vec::new()
        }
    };
    rule_files.sort();
    let mut rules = Vec::new();
    let mut seen: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for rule_path in &rule_files {
        let Some(rule_file) = parse_file::<RuleFile>(rule_path, "a rule file", &mut diags) else {
            continue;
        };
        if let Some(rule) = check_rule(rule_path, rule_file, &file, &mut diags) {
            let key = (rule.bus.clone(), rule.name.clone());
            if let Some(first) = seen.get(&key) {
                diags.push(
                    Diagnostic::new(
                        rule_path,
                        "$.name",
                        format!(
                            "rule `{}` on bus `{}` is already defined in {}",
                            rule.name,
                            rule.bus,
                            first.display()
                        ),
                    )
                    .hint("give one of them another name"),
                );
            } else {
                seen.insert(key, rule_path.clone());
                rules.push(rule);
            }
        }
    }
    if diags.is_empty() {
        let warnings = warnings(&project_path, &file, &rules);
        Ok(Project {
            path: project_path,
            file,
            rules,
            warnings,
            archives,
        })
    } else {
        Err(Diagnostics(diags))
    }
}

/// EventBridge's default quota on an event pattern's size, in characters (adjustable).
const DEFAULT_PATTERN_CHARS: usize = 2048;
/// The most a quota increase allows: beyond it `PutRule` always fails.
const MAX_PATTERN_CHARS: usize = 4096;

/// Valid settings that defeat themselves.
///
/// EventBridge publishes to SNS without message attributes, so a filter policy on message
/// attributes (SNS's default scope) drops every event a rule sends to the topic.
fn warnings(path: &Path, file: &ProjectFile, rules: &[Rule]) -> Vec<Diagnostic> {
    let targeted: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.targets.iter())
        .filter_map(|t| t.topic.as_deref())
        .collect();
    let mut out = Vec::new();
    for rule in rules {
        let Some(pattern) = rule.pattern() else {
            continue;
        };
        let size = pattern.as_value().to_string().chars().count();
        if size > DEFAULT_PATTERN_CHARS {
            out.push(
                Diagnostic::new(
                    &rule.source,
                    "$",
                    format!(
                        "the pattern is {size} characters as sent; EventBridge's default quota \
                         is {DEFAULT_PATTERN_CHARS}, so `apply` fails unless the account's \
                         quota was raised (to at most {MAX_PATTERN_CHARS})"
                    ),
                )
                .hint("request the quota increase, or split the rule"),
            );
        }
    }
    for rule in rules {
        for (i, target) in rule.targets.iter().enumerate() {
            let Some(t) = &target.input_transformer else {
                continue;
            };
            let names =
                crate::transformer::quoted_non_strings(&t.input_paths_map, &t.input_template);
            if names.is_empty() {
                continue;
            }
            let listed: Vec<String> = names.iter().map(|n| format!("<{n}>")).collect();
            out.push(
                Diagnostic::new(
                    &rule.source,
                    format!("$.targets[{i}].input_transformer.input_template"),
                    format!(
                        "{} inside quotes: EventBridge inserts values there without escaping \
                         them, and {} JSON with quotes in it, so the target receives invalid JSON",
                        listed.join(", "),
                        if names.len() == 1 { "this one is" } else { "these are" }
                    ),
                )
                .hint("put the placeholder outside quotes (`\"x\": <name>`), where its value is inserted as JSON"),
            );
        }
    }
    for (i, topic) in file.topics.iter().enumerate() {
        if !targeted.contains(topic.name.as_str()) {
            continue;
        }
        for (j, s) in topic.subscriptions.iter().enumerate() {
            if s.filter_policy.is_some()
                && s.filter_policy_scope != Some(FilterPolicyScope::MessageBody)
            {
                out.push(
                    Diagnostic::new(
                        path,
                        format!("$.topics[{i}].subscriptions[{j}].filter_policy"),
                        format!(
                            "rules publish to `{}` without message attributes, so this message-attribute filter drops all their events",
                            topic.name
                        ),
                    )
                    .hint("set `\"filter_policy_scope\": \"MessageBody\"` to filter on the event itself"),
                );
            }
        }
    }
    out
}

/// Parses one JSON file into `T` (`what` names it: "a rule file"); a syntax or shape error
/// becomes one diagnostic with its line, column and JSON path. A UTF-8 byte order mark
/// (which some Windows editors write) is skipped; a file that is not a JSON object says so.
fn parse_file<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::new(path, "$", format!("cannot read: {e}")));
            return None;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if let Some((line, column, found)) = not_an_object(text) {
        diags.push(Diagnostic {
            file: path.to_path_buf(),
            path: "$".to_string(),
            line: Some(line),
            column: Some(column),
            message: format!("{what} must be a JSON object (`{{ ... }}`), found {found}"),
            hint: Some("see `bridge schema` for the expected shape".to_string()),
        });
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => Some(v),
        Err(e) => {
            let json_path = match e.path().to_string().as_str() {
                "." | "" => "$".to_string(),
                p => format!("$.{p}"),
            };
            let inner = e.into_inner();
            let message = inner.to_string();
            let message = match message.rfind(" at line ") {
                Some(at) => message[..at].to_string(),
                None => message,
            };
            let hint = if message.starts_with("unknown field") {
                "remove the field or fix its spelling (see `bridge schema`)"
            } else if message.starts_with("missing field") {
                "add the field"
            } else if inner.is_syntax() || inner.is_eof() {
                "fix the JSON syntax"
            } else {
                "see `bridge schema` for the expected shape"
            };
            diags.push(Diagnostic {
                file: path.to_path_buf(),
                path: json_path,
                line: Some(inner.line()),
                column: Some(inner.column()),
                message,
                hint: Some(hint.to_string()),
            });
            None
        }
    }
}

/// Where the top-level value starts (1-based line and column) and what it is, when it is
/// JSON but not an object. `None` for an object, and for text the parser will report.
fn not_an_object(text: &str) -> Option<(usize, usize, &'static str)> {
    let start = text.find(|c: char| !matches!(c, ' ' | '\t' | '\n' | '\r'))?;
    let found = match text[start..].chars().next()? {
        '[' => "an array",
        '"' => "a string",
        '-' | '0'..='9' => "a number",
        't' | 'f' => "a boolean",
        'n' => "null",
        _ => return None,
    };
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column, found))
}

fn check_project(path: &Path, file: &ProjectFile, diags: &mut Vec<Diagnostic>) {
    crate::buses::check_declared(path, file, diags);
    let mut push = |at: String, message: String, hint: &str| {
        diags.push(Diagnostic::new(path, at, message).hint(hint))
    };
    if let Some(p) = stack_name_problem(&file.stack) {
        push("$.stack".into(), p, "use 1–64 of A-Z a-z 0-9 - _");
    }
    if let Some(p) = bus_name_problem(&file.bus) {
        push("$.bus".into(), p, "use `default` or your custom bus name");
    }
    let queue_names: BTreeSet<&str> = file.queues.iter().map(|q| q.name.as_str()).collect();
    let topic_names: BTreeSet<&str> = file.topics.iter().map(|t| t.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, q) in file.queues.iter().enumerate() {
        let at = format!("$.queues[{i}]");
        if let Some(p) = queue_or_topic_problem("queue", &q.name, q.fifo, 80) {
            push(format!("{at}.name"), p, "rename the queue");
        }
        if !seen.insert(q.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("queue `{}` is declared twice", q.name),
                "remove one declaration",
            );
        }
        let ranges = [
            ("visibility_timeout", q.visibility_timeout, 0, 43_200),
            ("message_retention", q.message_retention, 60, 1_209_600),
            ("delay", q.delay, 0, 900),
        ];
        for (field, value, lo, hi) in ranges {
            if let Some(v) = value {
                if v < lo || v > hi {
                    push(
                        format!("{at}.{field}"),
                        format!("{v} is out of range"),
                        &format!("use {lo}–{hi} seconds"),
                    );
                }
            }
        }
        if let Some(enc) = &q.encryption {
            let uuid = enc.len() == 36 && enc.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            let known = matches!(enc.as_str(), "sqs" | "none")
                || enc.starts_with("alias/")
                || enc.starts_with("arn:aws:kms:")
                || uuid;
            if !known {
                push(
                    format!("{at}.encryption"),
                    format!("`{enc}` is not an encryption setting"),
                    "use `sqs`, `none`, or a KMS key id, `alias/…` or key ARN",
                );
            }
        }
        if q.content_based_deduplication && !q.fifo {
            push(
                format!("{at}.content_based_deduplication"),
                "content-based deduplication needs a FIFO queue".into(),
                "set `\"fifo\": true` or remove it",
            );
        }
        if let Some(dl) = &q.dead_letter {
            if !(1..=1000).contains(&dl.max_receive_count) {
                push(
                    format!("{at}.dead_letter.max_receive_count"),
                    format!("{} is out of range", dl.max_receive_count),
                    "use 1–1000",
                );
            }
            if dl.queue == q.name {
                push(
                    format!("{at}.dead_letter.queue"),
                    "a queue cannot be its own dead-letter queue".into(),
                    "declare a separate queue",
                );
            } else if !is_arn(&dl.queue) {
                match file.queues.iter().find(|d| d.name == dl.queue) {
                    None => push(
                        format!("{at}.dead_letter.queue"),
                        format!("unknown queue `{}`", dl.queue),
                        "declare it under `queues`, or give an SQS ARN",
                    ),
                    Some(d) if d.fifo != q.fifo => push(
                        format!("{at}.dead_letter.queue"),
                        format!(
                            "dead-letter queue `{}` must be {} like `{}`",
                            d.name,
                            if q.fifo { "FIFO" } else { "standard" },
                            q.name
                        ),
                        "use a queue of the same type",
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (i, t) in file.topics.iter().enumerate() {
        let at = format!("$.topics[{i}]");
        if let Some(p) = queue_or_topic_problem("topic", &t.name, t.fifo, 256) {
            push(format!("{at}.name"), p, "rename the topic");
        }
        if !seen.insert(t.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("topic `{}` is declared twice", t.name),
                "remove one declaration",
            );
        }
        for (j, s) in t.subscriptions.iter().enumerate() {
            let at = format!("{at}.subscriptions[{j}]");
            if t.fifo && s.protocol != Protocol::Sqs {
                push(
                    format!("{at}.protocol"),
                    format!(
                        "FIFO topic `{}` cannot deliver by {}",
                        t.name,
                        s.protocol.as_str()
                    ),
                    "FIFO topics deliver to SQS queues only; use a standard topic",
                );
            }
            if s.protocol == Protocol::Sqs && !t.fifo {
                let fifo_queue = if is_arn(&s.endpoint) {
                    s.endpoint.ends_with(".fifo")
                } else {
                    file.queues.iter().any(|q| q.name == s.endpoint && q.fifo)
                };
                if fifo_queue {
                    push(
                        format!("{at}.endpoint"),
                        format!(
                            "standard topic `{}` cannot deliver to FIFO queue `{}`",
                            t.name, s.endpoint
                        ),
                        "subscribe a standard queue, or make the topic FIFO",
                    );
                }
            }
            match s.protocol {
                Protocol::Email => {
                    let ok = s.endpoint.split_once('@').is_some_and(|(user, host)| {
                        !user.is_empty() && host.contains('.') && !host.ends_with('.')
                    });
                    if !ok {
                        push(
                            format!("{at}.endpoint"),
                            format!("`{}` is not an e-mail address", s.endpoint),
                            "e.g. ops@example.com",
                        );
                    }
                    if s.raw_message_delivery {
                        push(
                            format!("{at}.raw_message_delivery"),
                            "raw delivery is not available for e-mail".into(),
                            "remove it",
                        );
                    }
                }
                Protocol::Https => {
                    if !s.endpoint.starts_with("https://") || s.endpoint.len() <= "https://".len() {
                        push(
                            format!("{at}.endpoint"),
                            format!("`{}` is not an https:// URL", s.endpoint),
                            "e.g. https://hooks.example.com/bridge",
                        );
                    }
                }
                Protocol::Sqs => {
                    if !is_arn(&s.endpoint) && !queue_names.contains(s.endpoint.as_str()) {
                        push(
                            format!("{at}.endpoint"),
                            format!("unknown queue `{}`", s.endpoint),
                            "declare it under `queues`, or give an SQS ARN",
                        );
                    }
                }
            }
            if let Some(policy) = &s.filter_policy {
                if !policy.is_object() {
                    push(
                        format!("{at}.filter_policy"),
                        "a filter policy must be a JSON object".into(),
                        "e.g. {\"type\": [\"created\"]}",
                    );
                } else if let Err(e) = Pattern::from_value(policy) {
                    // SNS's filter language is a subset of EventBridge's pattern language,
                    // and the local backend matches filter policies with the same engine.
                    let place = if e.path.is_empty() {
                        String::new()
                    } else {
                        format!(".{}", e.path)
                    };
                    push(
                        format!("{at}.filter_policy{place}"),
                        format!("invalid filter policy: {}", e.message),
                        "see the SNS subscription filter policy reference",
                    );
                } else if s.filter_policy_scope != Some(FilterPolicyScope::MessageBody) {
                    if let Some((key, _)) = policy
                        .as_object()
                        .into_iter()
                        .flatten()
                        .find(|(k, v)| v.is_object() && k.as_str() != "$or")
                    {
                        push(
                            format!("{at}.filter_policy{}", transformer::member(key)),
                            "message attributes are flat: a nested filter only applies to the message body".into(),
                            "set `\"filter_policy_scope\": \"MessageBody\"`, or flatten the policy",
                        );
                    }
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (i, b) in file.buckets.iter().enumerate() {
        let at = format!("$.buckets[{i}]");
        if let Some(p) = bucket_name_problem(&b.name) {
            push(format!("{at}.name"), p, "use the bucket's real name");
        }
        if !seen.insert(b.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("bucket `{}` is declared twice", b.name),
                "merge the declarations",
            );
        }
        let mut ids = BTreeSet::new();
        for (j, n) in b.notifications.iter().enumerate() {
            let at = format!("{at}.notifications[{j}]");
            if !ids.insert(n.id.as_str()) {
                push(
                    format!("{at}.id"),
                    format!("notification id `{}` is used twice", n.id),
                    "ids must be unique within a bucket",
                );
            }
            let fifo_destination = match (&n.queue, &n.topic) {
                (Some(name), None) | (None, Some(name)) if is_arn(name) => name.ends_with(".fifo"),
                (Some(q), None) => file.queues.iter().any(|d| &d.name == q && d.fifo),
                (None, Some(t)) => file.topics.iter().any(|d| &d.name == t && d.fifo),
                _ => false,
            };
            if fifo_destination {
                push(
                    at.clone(),
                    "S3 cannot send notifications to a FIFO queue or topic".into(),
                    "use a standard queue or topic, or route through EventBridge (`eventbridge: true` and a rule)",
                );
            }
            match (&n.queue, &n.topic) {
                (Some(q), None) => {
                    if !is_arn(q) && !queue_names.contains(q.as_str()) {
                        push(
                            format!("{at}.queue"),
                            format!("unknown queue `{q}`"),
                            "declare it under `queues`, or give an SQS ARN",
                        );
                    }
                }
                (None, Some(t)) => {
                    if !is_arn(t) && !topic_names.contains(t.as_str()) {
                        push(
                            format!("{at}.topic"),
                            format!("unknown topic `{t}`"),
                            "declare it under `topics`, or give an SNS ARN",
                        );
                    }
                }
                _ => push(
                    at.clone(),
                    "give exactly one of `queue` and `topic`".into(),
                    "a notification delivers to one destination",
                ),
            }
            for (k, event) in n.events.iter().enumerate() {
                if !event.starts_with("s3:") {
                    push(
                        format!("{at}.events[{k}]"),
                        format!("`{event}` is not an S3 event type"),
                        "e.g. s3:ObjectCreated:*",
                    );
                }
            }
        }
    }
}

fn check_rule(
    path: &Path,
    rule: RuleFile,
    project: &ProjectFile,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let before = diags.len();
    let mut push = |at: String, message: String, hint: String| {
        diags.push(Diagnostic::new(path, at, message).hint(hint))
    };
    let name = rule.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if let Some(p) = rule_name_problem(&name) {
        let at = if rule.name.is_some() { "$.name" } else { "$" };
        push(at.into(), p, "set `name`, or rename the file".into());
    }
    let bus = rule.bus.clone().unwrap_or_else(|| project.bus.clone());
    // An inherited bus is the project file's problem, reported there once.
    if let Some(p) = rule.bus.as_deref().and_then(bus_name_problem) {
        push(
            "$.bus".into(),
            p,
            "use `default` or your custom bus name".into(),
        );
    }
    let trigger = match (&rule.event_pattern, &rule.pattern_file, &rule.schedule) {
        (None, None, Some(expr)) => {
            let mut ok = true;
            if let Err(e) = crate::schedule::Schedule::parse(expr) {
                push(
                    "$.schedule".into(),
                    format!("invalid schedule expression: {}", e.message),
                    e.hint,
                );
                ok = false;
            }
            if bus != "default" {
                let at = if rule.bus.is_some() {
                    "$.bus"
                } else {
                    "$.schedule"
                };
                push(
                    at.into(),
                    format!("scheduled rules run only on the `default` event bus, not `{bus}`"),
                    "set `\"bus\": \"default\"` in this rule file".into(),
                );
                ok = false;
            }
            ok.then(|| Trigger::Schedule(expr.clone()))
        }
        (Some(value), None, None) => match Pattern::from_value(value) {
            Ok(p) => Some(Trigger::Pattern(p)),
            Err(e) => {
                let at = if e.path.is_empty() {
                    "$.event_pattern".to_string()
                } else {
                    format!("$.event_pattern.{}", e.path)
                };
                push(
                    at,
                    format!("invalid event pattern: {}", e.message),
                    "see the EventBridge event-pattern reference".into(),
                );
                None
            }
        },
        (None, Some(file), None) => {
            let pattern_path = path.parent().unwrap_or(Path::new(".")).join(file);
            match std::fs::read_to_string(&pattern_path) {
                Err(e) => {
                    push(
                        "$.pattern_file".into(),
                        format!("cannot read {}: {e}", pattern_path.display()),
                        "the path is relative to this rule file".into(),
                    );
                    None
                }
                Ok(text) => match Pattern::parse(&text) {
                    Ok(p) => Some(Trigger::Pattern(p)),
                    Err(e) => {
                        let place = match (e.line, e.column) {
                            (Some(l), Some(c)) => format!("{}:{l}:{c}", pattern_path.display()),
                            _ if e.path.is_empty() => pattern_path.display().to_string(),
                            _ => format!("{} at {}", pattern_path.display(), e.path),
                        };
                        push(
                            "$.pattern_file".into(),
                            format!("invalid event pattern in {place}: {}", e.message),
                            "see the EventBridge event-pattern reference".into(),
                        );
                        None
                    }
                },
            }
        }
        _ => {
            push(
                "$".into(),
                "give exactly one of `event_pattern`, `pattern_file` and `schedule`".into(),
                "inline the pattern, point at a pattern file, or give a schedule such as `rate(5 minutes)`".into(),
            );
            None
        }
    };
    if let Some(size) = trigger
        .as_ref()
        .and_then(|t| match t {
            Trigger::Pattern(p) => Some(p.as_value().to_string().chars().count()),
            Trigger::Schedule(_) => None,
        })
        .filter(|n| *n > MAX_PATTERN_CHARS)
    {
        let at = if rule.pattern_file.is_some() {
            "$.pattern_file"
        } else {
            "$.event_pattern"
        };
        push(
            at.into(),
            format!(
                "the pattern is {size} characters as sent; EventBridge allows \
                 {DEFAULT_PATTERN_CHARS} (4,096 with a quota increase, no more)"
            ),
            "split the rule into several rules, or shorten the pattern (e.g. a prefix \
             instead of many exact values)"
                .into(),
        );
    }
    if let Some(d) = rule
        .description
        .as_deref()
        .filter(|d| d.chars().count() > 512)
    {
        push(
            "$.description".into(),
            format!("{} characters; EventBridge allows 512", d.chars().count()),
            "shorten the description".into(),
        );
    }
    if rule.targets.is_empty() || rule.targets.len() > 5 {
        push(
            "$.targets".into(),
            format!("{} targets; a rule has 1–5", rule.targets.len()),
            "split the rule, or add a target".into(),
        );
    }
    let mut ids = BTreeSet::new();
    for (i, t) in rule.targets.iter().enumerate() {
        let at = format!("$.targets[{i}]");
        if let Some(p) = rule_name_problem(&t.id) {
            push(format!("{at}.id"), p, "rename the target".into());
        }
        if !ids.insert(t.id.as_str()) {
            push(
                format!("{at}.id"),
                format!("target id `{}` is used twice", t.id),
                "ids must be unique within a rule".into(),
            );
        }
        // Whether the destination is FIFO; `None` when it is unknown (already reported).
        let fifo = match (&t.queue, &t.topic) {
            (Some(_), _) | (_, Some(_)) if t.bus.is_some() => {
                push(
                    at.clone(),
                    "give exactly one of `queue`, `topic` and `bus`".into(),
                    "a target delivers to one destination".into(),
                );
                None
            }
            (Some(q), None) if is_arn(q) => Some(q.ends_with(".fifo")),
            (Some(q), None) => match project.queues.iter().find(|d| &d.name == q) {
                Some(d) => Some(d.fifo),
                None => {
                    push(
                        format!("{at}.queue"),
                        format!("unknown queue `{q}`"),
                        "declare it under `queues` in the project file, or give an SQS ARN".into(),
                    );
                    None
                }
            },
            (None, Some(topic)) if is_arn(topic) => Some(topic.ends_with(".fifo")),
            (None, Some(topic)) => match project.topics.iter().find(|d| &d.name == topic) {
                Some(d) => Some(d.fifo),
                None => {
                    push(
                        format!("{at}.topic"),
                        format!("unknown topic `{topic}`"),
                        "declare it under `topics` in the project file, or give an SNS ARN".into(),
                    );
                    None
                }
            },
            (None, None) if t.bus.is_some() => {
                crate::buses::check_target(t, &bus, project, |place, message, fix| {
                    push(format!("{at}{place}"), message, fix)
                });
                None
            }
            _ => {
                push(
                    at.clone(),
                    "give exactly one of `queue`, `topic` and `bus`".into(),
                    "a target delivers to one destination".into(),
                );
                None
            }
        };
        if t.bus.is_none() && t.role_arn.is_some() {
            push(
                format!("{at}.role_arn"),
                "`role_arn` is only used for event bus targets".into(),
                "remove it (queue and topic targets are granted by their policies)".into(),
            );
        }
        if let Some(q) = t
            .queue
            .as_ref()
            .and_then(|q| project.queues.iter().find(|d| &d.name == q))
        {
            if q.encryption.as_deref() == Some(AWS_MANAGED_SQS_KEY) {
                push(
                    format!("{at}.queue"),
                    format!("queue `{}` is encrypted with the AWS managed key {AWS_MANAGED_SQS_KEY}, which EventBridge cannot use", q.name),
                    "set its `encryption` to `sqs` (SSE-SQS) or a customer managed KMS key".into(),
                );
            }
        }
        match (fifo, &t.message_group_id) {
            (Some(true), None) => push(
                format!("{at}.message_group_id"),
                "FIFO destinations need a message group id".into(),
                "add `\"message_group_id\": \"…\"`".into(),
            ),
            (Some(false), Some(_)) => push(
                format!("{at}.message_group_id"),
                "only FIFO destinations take a message group id".into(),
                "remove it".into(),
            ),
            _ => {}
        }
        let inputs = [
            t.input.is_some(),
            t.input_path.is_some(),
            t.input_transformer.is_some(),
        ];
        if inputs.iter().filter(|x| **x).count() > 1 {
            push(
                at.clone(),
                "give at most one of `input`, `input_path` and `input_transformer`".into(),
                "EventBridge applies one".into(),
            );
        }
        if let Some(p) = &t.input_path {
            if !p.starts_with('$') || transformer::check_jsonpath(p).is_err() {
                push(
                    format!("{at}.input_path"),
                    format!("`{p}` is not a valid JSONPath"),
                    "e.g. `$.detail`".into(),
                );
            }
        }
        if let Some(tr) = &t.input_transformer {
            for (key, message, hint) in
                transformer::problems(&tr.input_paths_map, &tr.input_template)
            {
                push(format!("{at}.input_transformer.{key}"), message, hint);
            }
        }
        if let Some(r) = &t.retry_policy {
            if r.maximum_retry_attempts.is_some_and(|n| n > 185) {
                push(
                    format!("{at}.retry_policy.maximum_retry_attempts"),
                    "out of range".into(),
                    "use 0–185".into(),
                );
            }
            if r.maximum_event_age_seconds
                .is_some_and(|n| !(60..=86_400).contains(&n))
            {
                push(
                    format!("{at}.retry_policy.maximum_event_age_seconds"),
                    "out of range".into(),
                    "use 60–86400".into(),
                );
            }
        }
        if let Some(dlq) = &t.dead_letter_queue {
            let declared = project.queues.iter().find(|q| &q.name == dlq);
            if !is_arn(dlq) && declared.is_none() {
                push(
                    format!("{at}.dead_letter_queue"),
                    format!("unknown queue `{dlq}`"),
                    "declare it under `queues`, or give an SQS ARN".into(),
                );
            } else if declared.map_or(dlq.ends_with(".fifo"), |q| q.fifo) {
                push(
                    format!("{at}.dead_letter_queue"),
                    format!("`{dlq}` is a FIFO queue; EventBridge dead-letter queues are standard queues"),
                    "declare a standard queue for undeliverable events".into(),
                );
            }
        }
    }
    if diags.len() > before {
        return None;
    }
    Some(Rule {
        name,
        bus,
        description: rule.description,
        state: rule.state,
        trigger: trigger?,
        targets: rule.targets,
        source: path.to_path_buf(),
    })
}
