//! Resource policies on queues and topics: the one statement `bridge` owns, merged into
//! whatever else the policy says.
//!
//! Least privilege: a statement lets one service principal (`events.amazonaws.com`,
//! `sns.amazonaws.com` or `s3.amazonaws.com`) perform one action on one resource, and only
//! for the listed source ARNs (`aws:SourceArn`) — without that condition any rule, topic
//! or bucket in any account could write to the queue. Bucket ARNs carry no account, so
//! S3 grants also pin `aws:SourceAccount`. Statements `bridge` did not write (other Sids) are
//! kept as they are, in order.

use serde_json::{json, Value};

/// The statement `bridge` owns in one resource policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Statement id; identifies the statement as `bridge`'s (per stack and principal).
    pub sid: String,
    /// `events.amazonaws.com` or `sns.amazonaws.com`.
    pub service: String,
    /// `sqs:SendMessage` or `sns:Publish`.
    pub action: String,
    /// The queue or topic ARN.
    pub resource: String,
    /// Rule, topic or bucket ARNs allowed to send. Empty means the statement is removed.
    pub source_arns: Vec<String>,
    /// The account the sources must belong to (`aws:SourceAccount`); set for S3, whose
    /// bucket ARNs name no account.
    pub source_account: Option<String>,
}

impl Grant {
    /// `bridge`'s statement id for a stack and service, e.g. `bridge-orders-events`.
    pub fn sid_for(stack: &str, service: &str) -> String {
        let short = service.split('.').next().unwrap_or(service);
        let clean: String = stack
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("bridge-{clean}-{short}")
    }

    fn statement(&self) -> Value {
        let mut arns = self.source_arns.clone();
        arns.sort();
        arns.dedup();
        let source: Value = if arns.len() == 1 {
            Value::String(arns[0].clone())
        } else {
            json!(arns)
        };
        let mut condition = json!({ "ArnEquals": { "aws:SourceArn": source } });
        if let Some(account) = &self.source_account {
            condition["StringEquals"] = json!({ "aws:SourceAccount": account });
        }
        json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Principal": { "Service": self.service },
            "Action": self.action,
            "Resource": self.resource,
            "Condition": condition
        })
    }
}

/// The `aws:SourceArn` values of the statement `sid` in a policy document (empty when the
/// statement or the document is missing or unreadable).
pub fn source_arns(policy: Option<&str>, sid: &str) -> Vec<String> {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return Vec::new(),
    };
    let Some(ours) = statements
        .iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
    else {
        return Vec::new();
    };
    let mut arns = Vec::new();
    if let Some(Value::Object(ops)) = ours.get("Condition") {
        for keys in ops.values() {
            match keys.get("aws:SourceArn") {
                Some(Value::String(a)) => arns.push(a.clone()),
                Some(Value::Array(list)) => {
                    arns.extend(list.iter().filter_map(Value::as_str).map(str::to_string))
                }
                _ => {}
            }
        }
    }
    arns
}

/// Error for a policy that is not a JSON object with a `Statement` list.
#[derive(Debug, thiserror::Error)]
#[error(
    "existing policy on {resource} is not valid policy JSON ({reason}); fix or remove it first"
)]
pub struct PolicyError {
    pub resource: String,
    pub reason: String,
}

/// Merges `grant` into `existing` (a raw policy document, or none). Returns the new
/// document, or `None` when nothing changes — so an up-to-date policy is never rewritten.
/// Returns `Some("")` only when the result would be an empty policy that `bridge` alone
/// created; callers then clear the attribute.
pub fn merge(existing: Option<&str>, grant: &Grant) -> Result<Option<String>, PolicyError> {
    let bad = |reason: String| PolicyError {
        resource: grant.resource.clone(),
        reason,
    };
    let existing = existing.map(str::trim).filter(|s| !s.is_empty());
    let mut doc: Value = match existing {
        Some(text) => serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let Some(obj) = doc.as_object_mut() else {
        return Err(bad("not a JSON object".into()));
    };
    let statements = match obj.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(list)) => list,
        // A single statement may be written as an object.
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err(bad("Statement is neither a list nor an object".into())),
    };
    let before = statements.clone();
    let mut kept: Vec<Value> = statements
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(grant.sid.as_str()))
        .collect();
    if !grant.source_arns.is_empty() {
        kept.push(grant.statement());
    }
    if same_statements(&before, &kept) {
        return Ok(None);
    }
    if kept.is_empty() && existing.is_some_and(|_| only_bridge(&before, &grant.sid)) {
        return Ok(Some(String::new()));
    }
    obj.entry("Version").or_insert_with(|| json!("2012-10-17"));
    obj.insert("Statement".into(), Value::Array(kept));
    Ok(Some(doc.to_string()))
}

/// Statement lists compare as sets of JSON values with `aws:SourceArn` lists sorted, so a
/// policy AWS re-serialized (whitespace, key order, list order) is not seen as changed.
fn same_statements(a: &[Value], b: &[Value]) -> bool {
    let norm = |list: &[Value]| {
        let mut v: Vec<String> = list.iter().map(normalized).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

fn normalized(statement: &Value) -> String {
    let mut s = statement.clone();
    if let Some(Value::Object(cond)) = s.get_mut("Condition") {
        for (_, op) in cond.iter_mut() {
            if let Value::Object(keys) = op {
                for (_, v) in keys.iter_mut() {
                    if let Value::Array(list) = v {
                        list.sort_by_key(|x| x.to_string());
                        if list.len() == 1 {
                            *v = list[0].clone();
                        }
                    }
                }
            }
        }
    }
    canonical(&s)
}

/// JSON with object keys sorted, for comparison.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(list) => {
            format!(
                "[{}]",
                list.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

fn only_bridge(statements: &[Value], sid: &str) -> bool {
    statements
        .iter()
        .all(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(arns: &[&str]) -> Grant {
        Grant {
            sid: Grant::sid_for("shop", "events.amazonaws.com"),
            service: "events.amazonaws.com".into(),
            action: "sqs:SendMessage".into(),
            resource: "arn:aws:sqs:us-east-1:111122223333:orders".into(),
            source_arns: arns.iter().map(|s| s.to_string()).collect(),
            source_account: None,
        }
    }

    const RULE_A: &str = "arn:aws:events:us-east-1:111122223333:rule/a";
    const RULE_B: &str = "arn:aws:events:us-east-1:111122223333:rule/b";

    #[test]
    fn fresh_policy_has_one_least_privilege_statement() {
        let out = merge(None, &grant(&[RULE_A])).unwrap().expect("a write");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(st["Sid"], "bridge-shop-events");
        assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(st["Action"], "sqs:SendMessage");
        assert_eq!(st["Condition"]["ArnEquals"]["aws:SourceArn"], RULE_A);
    }

    #[test]
    fn foreign_statements_are_kept_in_order() {
        let existing = json!({
            "Version": "2012-10-17",
            "Id": "theirs",
            "Statement": [
                {"Sid": "ops", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                 "Action": "sqs:*", "Resource": "*"},
                {"Sid": "bridge-shop-events", "Effect": "Allow", "Action": "sqs:SendMessage",
                 "Principal": {"Service": "events.amazonaws.com"}, "Resource": "x",
                 "Condition": {"ArnEquals": {"aws:SourceArn": RULE_A}}}
            ]
        })
        .to_string();
        let out = merge(Some(&existing), &grant(&[RULE_A, RULE_B]))
            .unwrap()
            .expect("a write");
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["Id"], "theirs");
        let list = doc["Statement"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Sid"], "ops");
        assert_eq!(
            list[1]["Condition"]["ArnEquals"]["aws:SourceArn"],
            json!([RULE_A, RULE_B])
        );
    }

    #[test]
    fn an_up_to_date_policy_is_not_rewritten_even_if_reserialized() {
        let first = merge(None, &grant(&[RULE_B, RULE_A])).unwrap().unwrap();
        // AWS may hand the document back with other spacing and key order.
        let reparsed: Value = serde_json::from_str(&first).unwrap();
        let pretty = serde_json::to_string_pretty(&reparsed).unwrap();
        assert_eq!(
            merge(Some(&pretty), &grant(&[RULE_A, RULE_B])).unwrap(),
            None
        );
    }

    #[test]
    fn removing_the_last_source_drops_only_bridges_statement() {
        let existing = json!({"Statement": [
            {"Sid": "ops", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
        ]})
        .to_string();
        let with = merge(Some(&existing), &grant(&[RULE_A])).unwrap().unwrap();
        let without = merge(Some(&with), &grant(&[])).unwrap().unwrap();
        let doc: Value = serde_json::from_str(&without).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(doc["Statement"][0]["Sid"], "ops");

        let only_ours = merge(None, &grant(&[RULE_A])).unwrap().unwrap();
        assert_eq!(
            merge(Some(&only_ours), &grant(&[])).unwrap(),
            Some(String::new())
        );
        assert_eq!(merge(None, &grant(&[])).unwrap(), None);
    }

    #[test]
    fn an_s3_grant_pins_the_bucket_and_the_account() {
        let grant = Grant {
            sid: Grant::sid_for("shop", "s3.amazonaws.com"),
            service: "s3.amazonaws.com".into(),
            action: "sqs:SendMessage".into(),
            resource: "arn:aws:sqs:us-east-1:111122223333:uploads".into(),
            source_arns: vec!["arn:aws:s3:::raw-data".into()],
            source_account: Some("111122223333".into()),
        };
        let out = merge(None, &grant).unwrap().expect("a write");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Sid"], "bridge-shop-s3");
        assert_eq!(st["Principal"]["Service"], "s3.amazonaws.com");
        assert_eq!(
            st["Condition"]["ArnEquals"]["aws:SourceArn"],
            "arn:aws:s3:::raw-data"
        );
        assert_eq!(
            st["Condition"]["StringEquals"]["aws:SourceAccount"],
            "111122223333"
        );
        assert_eq!(merge(Some(&out), &grant).unwrap(), None);
        assert_eq!(
            source_arns(Some(&out), "bridge-shop-s3"),
            vec!["arn:aws:s3:::raw-data".to_string()]
        );
        assert!(source_arns(Some(&out), "bridge-other-s3").is_empty());
        assert!(source_arns(Some("{not json"), "bridge-shop-s3").is_empty());
        // Losing the account pin is a change.
        let unpinned = Grant {
            source_account: None,
            ..grant
        };
        assert!(merge(Some(&out), &unpinned).unwrap().is_some());
    }

    #[test]
    fn invalid_existing_policy_is_an_error_not_an_overwrite() {
        let err = merge(Some("{not json"), &grant(&[RULE_A])).unwrap_err();
        assert!(err.to_string().contains("orders"), "{err}");
        assert!(merge(Some("[1]"), &grant(&[RULE_A])).is_err());
    }
}
