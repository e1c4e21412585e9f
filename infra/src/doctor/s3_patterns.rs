//! Rules whose pattern can never match what the declared buckets send: checked with the
//! pattern engine against sample `aws.s3` events (the local backend's builder, one per
//! detail type S3 sends and per bucket declared with EventBridge delivery).
//!
//! A pattern is about S3 when its `source`, `detail-type` or `detail.bucket.name` could
//! only be S3's. Only those three fields are judged (a key prefix that matches nothing yet
//! is no mistake), each on its own first so the message says which one is wrong.

use patterns::Pattern;
use serde_json::{json, Map, Value};

use super::{at, Check, World};
use rules::desired::Desired;

/// Every `detail-type` S3 sends to EventBridge.
pub const S3_DETAIL_TYPES: &[&str] = &[
    "Object Created",
    "Object Deleted",
    "Object Restore Initiated",
    "Object Restore Completed",
    "Object Restore Expired",
    "Object Tags Added",
    "Object Tags Deleted",
    "Object ACL Updated",
    "Object Storage Class Changed",
    "Object Access Tier Changed",
];

/// Sample events: every S3 detail type from every bucket in `buckets`.
fn samples(buckets: &[&str], world: &World) -> Vec<Value> {
    let account = world.account.as_deref().unwrap_or("123456789012");
    let mut out = Vec::new();
    for bucket in buckets {
        let base = crate::local::buckets::sample_eventbridge_event(
            true,
            bucket,
            "doctor/sample.txt",
            1,
            &world.region,
            account,
            1_767_225_600_000,
        );
        for dt in S3_DETAIL_TYPES {
            let mut e = base.clone();
            e["detail-type"] = json!(dt);
            out.push(e);
        }
    }
    out
}

/// The pattern restricted to the given fields (`None` when it has none of them).
fn project(pattern: &Value, fields: &[&[&str]]) -> Option<Pattern> {
    let mut out = Value::Object(Map::new());
    let mut any = false;
    for path in fields {
        if let Some(v) = at(pattern, path) {
            let mut cursor = &mut out;
            for (i, key) in path.iter().enumerate() {
                if i + 1 == path.len() {
                    cursor[*key] = v.clone();
                } else {
                    if cursor.get(*key).is_none() {
                        cursor[*key] = Value::Object(Map::new());
                    }
                    cursor = &mut cursor[*key];
                }
            }
            any = true;
        }
    }
    if !any {
        return None;
    }
    Pattern::from_value(&out).ok()
}

const SOURCE: &[&str] = &["source"];
const DETAIL_TYPE: &[&str] = &["detail-type"];
const BUCKET: &[&str] = &["detail", "bucket", "name"];

pub(super) fn check(desired: &Desired, world: &World, out: &mut Vec<Check>) {
    let senders: Vec<&str> = desired
        .buckets
        .iter()
        .filter(|b| b.eventbridge)
        .map(|b| b.name.as_str())
        .collect();
    // Any bucket at all, to tell a wrong bucket from a wrong source or detail-type.
    let any_bucket = samples(&["any-bucket"], world);
    let declared = samples(&senders, world);
    for rule in &desired.rules {
        let Some(text) = &rule.pattern else { continue };
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        let subject = format!("rule {} pattern", rule.name);
        let source = project(&value, &[SOURCE]);
        let detail_type = project(&value, &[DETAIL_TYPE]);
        let bucket = project(&value, &[BUCKET]);
        let s3_source = source
            .as_ref()
            .is_some_and(|p| any_bucket.iter().any(|e| p.matches_value(e)));
        let s3_type = detail_type.as_ref().is_some_and(|p| {
            strings(at(&value, DETAIL_TYPE)).iter().any(|t| {
                S3_DETAIL_TYPES
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t) || close(s, t))
            }) || any_bucket.iter().any(|e| p.matches_value(e))
        });
        if !(s3_source || s3_type || bucket.is_some()) {
            continue;
        }
        if rule.bus != "default" {
            out.push(Check::bad(
                subject,
                format!(
                    "matches S3 events, but it is on bus {}: S3 sends only to the default bus",
                    rule.bus
                ),
                "put the rule on the default bus (or forward S3 events to this bus with a rule on default)",
            ));
            continue;
        }
        if !s3_source {
            out.push(Check::bad(
                subject,
                format!(
                    "source {} never matches S3's events (their source is \"aws.s3\")",
                    compact(at(&value, SOURCE))
                ),
                "use \"source\": [\"aws.s3\"]",
            ));
            continue;
        }
        if let Some(p) = &detail_type {
            if !any_bucket.iter().any(|e| p.matches_value(e)) {
                let wrong = compact(at(&value, DETAIL_TYPE));
                let hint = strings(at(&value, DETAIL_TYPE))
                    .iter()
                    .find_map(|t| S3_DETAIL_TYPES.iter().find(|s| close(s, t)))
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                out.push(Check::bad(
                    subject,
                    format!("detail-type {wrong} is none that S3 sends"),
                    format!("{hint}S3 sends {}", S3_DETAIL_TYPES.join(", ")),
                ));
                continue;
            }
        }
        if senders.is_empty() {
            out.push(Check::bad(
                subject,
                "matches S3 events, but no declared bucket sends its events to EventBridge",
                "declare the bucket in bridge.json with \"eventbridge\": true",
            ));
            continue;
        }
        if let Some(p) = &bucket {
            if !declared.iter().any(|e| p.matches_value(e)) {
                out.push(Check::bad(
                    subject,
                    format!(
                        "bucket {} is none of the buckets declared with EventBridge delivery ({})",
                        compact(at(&value, BUCKET)),
                        senders.join(", ")
                    ),
                    "declare the bucket in bridge.json with \"eventbridge\": true, or fix the name",
                ));
                continue;
            }
        }
        let together = project(&value, &[SOURCE, DETAIL_TYPE, BUCKET]);
        if together.is_some_and(|p| !declared.iter().any(|e| p.matches_value(e))) {
            out.push(Check::bad(
                subject,
                "its source, detail-type and bucket never match one S3 event together",
                "check the pattern against `bridge test new --s3 object-created --bucket B --key K`",
            ));
            continue;
        }
        out.push(Check::ok(
            subject,
            "can match what the declared buckets send",
        ));
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn compact(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_default()
}

/// Whether `b` looks like a misspelling of `a`: an edit distance of at most 3,
/// ignoring case.
fn close(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()] <= 3
}
