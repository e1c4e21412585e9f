//! Whether a resource or key policy lets a service in: a small evaluator of the parts of
//! IAM policy documents that decide it (Effect, Principal, Action, the `aws:SourceArn` and
//! `aws:SourceAccount` conditions). A matching `Deny` wins over any `Allow`; a condition on
//! any other key is taken as met (doctor cannot know the request's other keys).

use serde_json::Value;

pub const EVENTS: &str = crate::plan::EVENTS;
pub const S3: &str = crate::plan::S3;

/// Whether `policy` lets `service` perform `action` on behalf of `source_arn` (in
/// `account`, when known).
pub fn admits(
    policy: Option<&str>,
    service: &str,
    action: &str,
    source_arn: &str,
    account: Option<&str>,
) -> bool {
    let statements = statements(policy);
    let applies = |s: &Value| {
        principal_matches(s.get("Principal"), service)
            && action_matches(s.get("Action"), action)
            && conditions_met(s.get("Condition"), source_arn, account)
    };
    let denied = statements.iter().any(|s| effect(s) == "Deny" && applies(s));
    !denied
        && statements
            .iter()
            .any(|s| effect(s) == "Allow" && applies(s))
}

/// Whether a KMS key policy lets `service` encrypt for and decrypt from the resources it
/// protects (`kms:GenerateDataKey*` and `kms:Decrypt`), conditions on other keys aside.
pub fn key_admits(policy: &str, service: &str) -> bool {
    let statements = statements(Some(policy));
    let allowed = |action: &str| {
        let applies = |s: &Value| {
            principal_matches(s.get("Principal"), service)
                && action_matches(s.get("Action"), action)
        };
        !statements.iter().any(|s| effect(s) == "Deny" && applies(s))
            && statements
                .iter()
                .any(|s| effect(s) == "Allow" && applies(s))
    };
    allowed("kms:GenerateDataKey") && allowed("kms:Decrypt")
}

fn statements(policy: Option<&str>) -> Vec<Value> {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

fn effect(s: &Value) -> &str {
    s.get("Effect").and_then(Value::as_str).unwrap_or("")
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn principal_matches(p: Option<&Value>, service: &str) -> bool {
    match p {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            strings(map.get("Service")).contains(&service) || strings(map.get("AWS")).contains(&"*")
        }
        _ => false,
    }
}

fn action_matches(a: Option<&Value>, action: &str) -> bool {
    strings(a)
        .iter()
        .any(|pattern| glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase()))
}

fn conditions_met(c: Option<&Value>, source_arn: &str, account: Option<&str>) -> bool {
    let Some(Value::Object(ops)) = c else {
        return true;
    };
    for (op, keys) in ops {
        let Value::Object(keys) = keys else { continue };
        let op = op.trim_end_matches("IfExists");
        for (key, values) in keys {
            let values = strings(Some(values));
            let actual = match key.to_ascii_lowercase().as_str() {
                "aws:sourcearn" => source_arn,
                "aws:sourceaccount" => match account {
                    Some(a) => a,
                    None => continue,
                },
                _ => continue,
            };
            let met = match op {
                "ArnEquals" | "StringEquals" => values.contains(&actual),
                "ArnLike" | "StringLike" => values.iter().any(|v| glob(v, actual)),
                "ArnNotEquals" | "StringNotEquals" => !values.contains(&actual),
                "ArnNotLike" | "StringNotLike" => !values.iter().any(|v| glob(v, actual)),
                _ => true,
            };
            if !met {
                return false;
            }
        }
    }
    true
}

/// IAM wildcard matching: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/orders";

    #[test]
    fn bridge_grants_admit_their_rule_only() {
        let grant = crate::aws::policy::Grant {
            sid: "bridge-s-events".into(),
            service: EVENTS.into(),
            action: "sqs:SendMessage".into(),
            resource: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            source_arns: vec![RULE.into()],
            source_account: None,
        };
        let doc = crate::aws::policy::merge(None, &grant).unwrap().unwrap();
        assert!(admits(Some(&doc), EVENTS, "sqs:SendMessage", RULE, None));
        assert!(!admits(
            Some(&doc),
            EVENTS,
            "sqs:SendMessage",
            "arn:aws:events:us-east-1:123456789012:rule/other",
            None
        ));
        assert!(!admits(Some(&doc), S3, "sqs:SendMessage", RULE, None));
        assert!(!admits(None, EVENTS, "sqs:SendMessage", RULE, None));
    }

    #[test]
    fn wildcards_likes_accounts_and_denies() {
        let doc = r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
            "Action": "sqs:*", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/*"}}}}"#;
        assert!(admits(Some(doc), EVENTS, "sqs:SendMessage", RULE, None));
        let deny = r#"{"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage",
             "Condition": {"StringNotEquals": {"aws:SourceAccount": "999999999999"}}}]}"#;
        assert!(!admits(
            Some(deny),
            EVENTS,
            "sqs:SendMessage",
            RULE,
            Some("123456789012")
        ));
        assert!(admits(
            Some(deny),
            EVENTS,
            "sqs:SendMessage",
            RULE,
            Some("999999999999")
        ));
        let account = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SQS:SendMessage", "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}]}"#;
        assert!(!admits(
            Some(account),
            S3,
            "sqs:SendMessage",
            "arn:aws:s3:::b",
            Some("2")
        ));
        assert!(admits(
            Some(account),
            S3,
            "sqs:SendMessage",
            "arn:aws:s3:::b",
            Some("1")
        ));
    }

    #[test]
    fn key_policies_must_let_the_service_generate_and_decrypt() {
        let good = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}]}"#;
        assert!(key_admits(good, EVENTS));
        assert!(!key_admits(good, S3));
        let account_only = r#"{"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}"#;
        assert!(!key_admits(account_only, EVENTS));
        let decrypt_only = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "kms:Decrypt"}]}"#;
        assert!(!key_admits(decrypt_only, EVENTS));
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(!glob("abc", "abcd"));
    }
}
