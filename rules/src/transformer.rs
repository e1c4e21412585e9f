//! Input transformers: `input_paths_map` values must be JSONPath, and every placeholder in
//! `input_template` must be defined.

use std::collections::BTreeMap;

/// Variables EventBridge defines for every template.
pub const RESERVED_PLACEHOLDERS: [&str; 5] = [
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
];

/// Problems as (key in the transformer, message, fix).
pub fn problems(map: &BTreeMap<String, String>, template: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if map.len() > 100 {
        out.push((
            "input_paths_map".into(),
            format!("{} input paths; AWS allows at most 100", map.len()),
            "split the target or extract fewer fields".into(),
        ));
    }
    for (key, path) in map {
        let at = format!("input_paths_map{}", member(key));
        if RESERVED_PLACEHOLDERS.contains(&key.as_str()) || key.starts_with("aws.") {
            out.push((
                at.clone(),
                format!("`{key}` is reserved by EventBridge"),
                "pick a name that does not start with `aws.`".into(),
            ));
        } else if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            out.push((
                at.clone(),
                format!("`{key}` is not a valid placeholder name"),
                "use A-Z a-z 0-9 _ -".into(),
            ));
        }
        if !path.starts_with('$') {
            out.push((
                at,
                format!("`{path}` is not a JSONPath"),
                "start it with `$`, e.g. `$.detail.bucket`".into(),
            ));
        } else if let Err(e) = check_jsonpath(path) {
            out.push((
                at,
                format!("`{path}` is not a valid JSONPath: {e}"),
                "e.g. `$.detail.object.key`".into(),
            ));
        }
    }
    for name in placeholders(template) {
        if !map.contains_key(name) && !RESERVED_PLACEHOLDERS.contains(&name) {
            out.push((
                "input_template".into(),
                format!("placeholder `<{name}>` is not defined"),
                format!("add `{name}` to input_paths_map, or use one of <aws.events.rule-name>, <aws.events.event>, …"),
            ));
        }
    }
    out
}

/// How `key` is written after an object in a diagnostic's JSON path: `.key` when it is a
/// plain name, `['a.b c']` otherwise, so that the path stays unambiguous.
pub fn member(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!(".{key}")
    } else {
        format!("['{}']", key.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Checks a JSONPath as EventBridge accepts it (see [`to_rfc9535`]). The error is one
/// line: where the parser stopped and what it expected.
pub fn check_jsonpath(path: &str) -> Result<(), String> {
    jsonpath_rust::parser::parse_json_path(&to_rfc9535(path))
        .map(|_| ())
        .map_err(|e| one_line(&e.to_string()))
}

/// Condenses a multi-line parser report (`--> 1:5`, a caret drawing, `= expected …`) into
/// `at character 5: expected …`; other messages are returned as they are.
fn one_line(report: &str) -> String {
    let column = report
        .lines()
        .find_map(|l| l.split_once("--> ").map(|(_, pos)| pos.trim()))
        .and_then(|pos| pos.split(':').nth(1));
    let expected = report.lines().find_map(|l| l.trim().strip_prefix("= "));
    match (column, expected) {
        (Some(c), Some(e)) => format!("at character {c}: {e}"),
        _ => report.lines().next().unwrap_or(report).trim().to_string(),
    }
}

/// Rewrites EventBridge's JSONPath dialect into RFC 9535, which `jsonpath-rust` implements.
///
/// EventBridge accepts dotted names with `-` (AWS's own examples use
/// `$.detail.instance-id`, and S3 events have `source-ip-address`, `deletion-type`), but
/// RFC 9535 only allows letters, digits and `_` after a dot. Such segments become
/// bracketed names (`$.detail['instance-id']`); everything else is left as written.
/// Evaluators (the local backend) should query the rewritten path too.
pub fn to_rfc9535(path: &str) -> std::borrow::Cow<'_, str> {
    // Only the hyphen is added to RFC 9535's name characters; anything else stays as
    // written, so that `$.a%b` is still rejected.
    let needs_quoting = |name: &str| {
        name.contains('-')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || !c.is_ascii())
    };
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len() + 8);
    let mut changed = false;
    let mut i = 0;
    // Inside `[...]`, names are already quoted (or are indexes/filters): copy verbatim,
    // tracking quotes so a `]` inside a string does not end the bracket.
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str(&path[i..i + 2]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if depth > 0 {
            match c {
                b'\'' | b'"' => quote = Some(c),
                b'[' => depth += 1,
                b']' => depth -= 1,
                _ => {}
            }
        } else if c == b'[' {
            depth = 1;
        } else if c == b'.' {
            let dots = if path[i..].starts_with("..") { 2 } else { 1 };
            let start = i + dots;
            let end = path[start..]
                .find(['.', '['])
                .map_or(path.len(), |n| start + n);
            let name = &path[start..end];
            if needs_quoting(name) {
                changed = true;
                out.push_str(if dots == 2 { ".." } else { "" });
                out.push_str("['");
                out.push_str(name);
                out.push_str("']");
                i = end;
                continue;
            }
            out.push_str(&path[i..end]);
            i = end;
            continue;
        }
        let len = path[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&path[i..i + len]);
        i += len;
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// `<name>` occurrences, where `name` is made of placeholder characters (so `a < b` or
/// HTML-ish text with spaces is left alone, as AWS does).
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) => {
                let name = &after[..close];
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                {
                    out.push(name);
                    rest = &after[close + 1..];
                } else {
                    rest = after;
                }
            }
            None => break,
        }
    }
    out
}

/// Placeholders of `template` that sit inside quotes (in a template that is JSON: it starts
/// with `{`, `[` or `"`) and whose value is never a plain string — the whole-event variables,
/// `$`, `$.detail`, and paths that select many values (`*`, `..`, filters) and so yield an
/// array. EventBridge inserts values inside quotes without escaping them ("EventBridge doesn't
/// escape values extracted by Input Path, when populating the Input Template for a target":
/// EventBridge user guide, input transformation, common issues), so each of these makes the
/// target's input invalid JSON whenever its value holds a `"`. Each name is listed once.
pub fn quoted_non_strings<'a>(map: &BTreeMap<String, String>, template: &'a str) -> Vec<&'a str> {
    let json = matches!(
        template.trim_start().chars().next(),
        Some('{') | Some('[') | Some('"')
    );
    if !json {
        return Vec::new();
    }
    let never_string = |name: &str| -> bool {
        if name == "aws.events.event" || name == "aws.events.event.json" {
            return true;
        }
        let Some(path) = map.get(name) else {
            return false;
        };
        let path = path.trim();
        path == "$"
            || path == "$.detail"
            || path.contains('*')
            || path.contains("..")
            || path.contains("[?")
    };
    let mut out: Vec<&str> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch));
                if valid {
                    if in_string && never_string(name) && !out.contains(&name) {
                        out.push(name);
                    }
                    rest = &rest[end + 1..];
                    escaped = false;
                    continue;
                }
            }
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && in_string {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_objects_and_arrays_are_found_and_quoted_strings_are_not() {
        let m = map(&[
            ("detail", "$.detail"),
            ("keys", "$.detail.items[*].key"),
            ("key", "$.detail.object.key"),
        ]);
        assert_eq!(
            quoted_non_strings(
                &m,
                r#"{"d": "<detail>", "k": "<key>", "ks": "<keys> and <keys>", "e": "<aws.events.event>", "ok": <detail>}"#
            ),
            ["detail", "keys", "aws.events.event"]
        );
        assert_eq!(
            quoted_non_strings(&m, r#""Whole event: <aws.events.event.json>""#),
            ["aws.events.event.json"]
        );
        // Outside quotes, or in a text template, nothing to warn about.
        assert!(quoted_non_strings(&m, r#"{"d": <detail>, "e": <aws.events.event>}"#).is_empty());
        assert!(quoted_non_strings(&m, "text <detail>").is_empty());
        // An escaped quote does not end the string.
        assert_eq!(
            quoted_non_strings(&m, r#"{"a": "x\" <detail>"}"#),
            ["detail"]
        );
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hyphenated_names_are_bracketed_for_rfc_9535() {
        assert_eq!(to_rfc9535("$.detail.bucket.name"), "$.detail.bucket.name");
        assert_eq!(
            to_rfc9535("$.detail.source-ip-address"),
            "$.detail['source-ip-address']"
        );
        assert_eq!(to_rfc9535("$.detail-type"), "$['detail-type']");
        assert_eq!(
            to_rfc9535("$..instance-id[0].a-b"),
            "$..['instance-id'][0]['a-b']"
        );
        assert_eq!(to_rfc9535("$['a.b-c'].x-y"), "$['a.b-c']['x-y']");
        assert_eq!(to_rfc9535("$.a[*].b"), "$.a[*].b");
        assert_eq!(to_rfc9535("$.it's-odd"), "$.it's-odd");
        for ok in [
            "$.detail-type",
            "$.detail.instance-id",
            "$.detail.object.key",
            "$.a[0]",
            "$",
        ] {
            assert_eq!(check_jsonpath(ok), Ok(()), "{ok}");
        }
        for bad in ["$.[", "$.a[", "$.a..", "$.a%b", "$.it's-odd"] {
            let message = check_jsonpath(bad).expect_err(bad);
            assert!(!message.contains('\n'), "{bad}: one line, got {message:?}");
        }
        assert!(
            check_jsonpath("$.a%b").is_err_and(|m| m.starts_with("at character 4: expected")),
            "{:?}",
            check_jsonpath("$.a%b")
        );
    }

    #[test]
    fn odd_keys_are_bracketed_in_diagnostic_paths() {
        assert_eq!(member("bucket"), ".bucket");
        assert_eq!(member("ok-key_1"), ".ok-key_1");
        assert_eq!(member("aws.mine"), "['aws.mine']");
        assert_eq!(member("it's"), "['it\\'s']");
        assert_eq!(member(""), "['']");
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(
            placeholders("<a> and <b.c> but not < x > or <>"),
            ["a", "b.c"]
        );
    }

    #[test]
    fn reports_undefined_placeholders_and_bad_paths() {
        let p = problems(
            &map(&[("bucket", "$.detail.bucket"), ("key", "detail.key")]),
            "\"<bucket>/<key> by <who> in <aws.events.rule-name>\"",
        );
        let messages: Vec<&str> = p.iter().map(|(_, m, _)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`detail.key` is not a JSONPath",
                "placeholder `<who>` is not defined"
            ]
        );
        assert!(problems(&map(&[("x", "$.[")]), "<x>")
            .iter()
            .any(|(_, m, _)| m.contains("not a valid JSONPath")));
        assert!(problems(&map(&[("bucket", "$.detail.bucket")]), "<bucket>").is_empty());
    }
}
