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
        let at = format!("input_paths_map.{key}");
        if key.is_empty()
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
        if RESERVED_PLACEHOLDERS.contains(&key.as_str()) || key.starts_with("aws.") {
            out.push((
                at.clone(),
                format!("`{key}` is reserved by EventBridge"),
                "pick another name".into(),
            ));
        }
        if !path.starts_with('$') {
            out.push((
                at,
                format!("`{path}` is not a JSONPath"),
                "start it with `$`, e.g. `$.detail.bucket`".into(),
            ));
        } else if let Err(e) = jsonpath_rust::parser::parse_json_path(path) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
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
