//! AWS's naming rules, checked before any API call rejects them.

fn all(name: &str, allowed: impl Fn(char) -> bool) -> bool {
    name.chars().all(allowed)
}

/// Stack names: 1–64 of `A-Z a-z 0-9 - _` (they end up in tags, notification ids and
/// policy statement ids). The one rule for `bridge.json`'s `stack` and for `--stack`.
pub fn stack_name_problem(name: &str) -> Option<String> {
    if name.is_empty()
        || name.len() > 64
        || !all(name, |c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Some(format!("`{name}` is not a valid stack name"));
    }
    None
}

/// EventBridge rule names and target ids: 1–64 of `A-Z a-z 0-9 . - _`.
pub fn rule_name_problem(name: &str) -> Option<String> {
    if name.is_empty()
        || name.len() > 64
        || !all(name, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        return Some(format!(
            "`{name}` is not a valid name: use 1–64 of A-Z a-z 0-9 . - _"
        ));
    }
    None
}

/// Event bus names: 1–256 of `A-Z a-z 0-9 . - _ /`.
pub fn bus_name_problem(name: &str) -> Option<String> {
    if name.is_empty()
        || name.len() > 256
        || !all(name, |c| c.is_ascii_alphanumeric() || ".-_/".contains(c))
    {
        return Some(format!(
            "`{name}` is not a valid event bus name: use 1–256 of A-Z a-z 0-9 . - _ /"
        ));
    }
    None
}

/// SQS queue names (max 80) and SNS topic names (max 256): `A-Z a-z 0-9 - _`, and the
/// `.fifo` suffix exactly when FIFO.
pub fn queue_or_topic_problem(kind: &str, name: &str, fifo: bool, max: usize) -> Option<String> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if name.is_empty()
        || name.len() > max
        || !all(base, |c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Some(format!(
            "`{name}` is not a valid {kind} name: use 1–{max} of A-Z a-z 0-9 - _"
        ));
    }
    match (fifo, name.ends_with(".fifo")) {
        (true, false) => Some(format!("FIFO {kind} `{name}` must end in `.fifo`")),
        (false, true) => Some(format!(
            "{kind} `{name}` ends in `.fifo` but is not declared `\"fifo\": true`"
        )),
        _ => None,
    }
}

/// S3 bucket names: 3–63 of lowercase letters, digits, `.` and `-`, starting and ending
/// with a letter or digit.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.len() < 3
        || name.len() > 63
        || !all(name, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)
        })
        || !edge_ok(name.chars().next())
        || !edge_ok(name.chars().last())
    {
        return Some(format!(
            "`{name}` is not a valid bucket name: use 3–63 lowercase letters, digits, `.` and `-`"
        ));
    }
    // S3's naming rules: "Bucket names must not be formatted as an IP address (for example,
    // 192.168.5.4)" (Amazon S3 User Guide, general purpose bucket naming rules).
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(format!(
            "`{name}` is not a valid bucket name: S3 refuses names formatted as an IP address"
        ));
    }
    None
}

pub fn is_arn(reference: &str) -> bool {
    reference.starts_with("arn:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        assert!(rule_name_problem("png-uploads.v2_x").is_none());
        assert!(rule_name_problem("has space").is_some());
        assert!(rule_name_problem(&"x".repeat(65)).is_some());
        assert!(queue_or_topic_problem("queue", "jobs.fifo", true, 80).is_none());
        assert!(queue_or_topic_problem("queue", "jobs", true, 80).is_some());
        assert!(queue_or_topic_problem("queue", "jobs.fifo", false, 80).is_some());
        assert!(queue_or_topic_problem("queue", "a.b", false, 80).is_some());
        assert!(bucket_name_problem("raw-data").is_none());
        assert!(bucket_name_problem("Raw").is_some());
        assert!(bucket_name_problem("-ab").is_some());
        assert!(bus_name_problem("aws.partner/x").is_none());
    }
}
