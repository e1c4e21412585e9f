//! Pattern JSON → validated alternatives, with event-ruler's rules and error wording.

use std::cell::RefCell;

use rustc_hash::FxHashMap;
use serde_json::{Map, Number, Value};

use crate::ast::{Alternative, AnythingBut, Condition, NumberLiteral, Range, Test};
use crate::cidr::Cidr;
use crate::fold::fold;
use crate::number::{comparable_key, number_end};
use crate::wildcard::Wildcard;
use crate::PatternError;

/// Most alternatives one pattern may expand to through `$or`.
pub const MAX_OR_COMBINATIONS: usize = 1000;
/// Most wildcard NFA states one field of one pattern may keep alive at once (counted
/// over the union of its wildcards, as event-ruler's byte machine would): calibrated so
/// that AWS's recorded accepted and rejected wildcard patterns fall on the same sides.
pub const MAX_WILDCARD_COMPLEXITY: usize = 12;

const OR: &str = "$or";

pub(crate) fn compile(pattern: &Value) -> Result<Vec<Alternative>, PatternError> {
    let Value::Object(map) = pattern else {
        return Err(err("", "Filter is not an object"));
    };
    let alternatives = object(map, "", "")?;
    check_wildcard_complexity(&alternatives)?;
    Ok(alternatives)
}

/// Compiles a pattern parsed from `text`, reading its numbers as written there.
///
/// serde_json keeps a number only as a double (or integer): `1E-325` reads as `0.0`,
/// `0.30000000000000000001` as `0.3`, a 21-digit id loses digits. event-ruler reads the
/// text, so that the first two are not comparable numbers (numeric rejects them) and
/// the id matches its own text exactly.
pub(crate) fn compile_text(pattern: &Value, text: &str) -> Result<Vec<Alternative>, PatternError> {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            WRITTEN.with(|w| w.borrow_mut().clear());
        }
    }
    let written = written_numbers(pattern, text);
    if written.is_empty() {
        return compile(pattern);
    }
    WRITTEN.with(|w| *w.borrow_mut() = written);
    let _clear = Clear;
    compile(pattern)
}

thread_local! {
    /// While [`compile_text`] runs: the text of each number of the pattern that its
    /// parsed form does not spell the same, by the address of that parsed `Number`.
    static WRITTEN: RefCell<FxHashMap<usize, String>> = RefCell::new(FxHashMap::default());
}

/// A pattern number's text: as written when [`compile_text`] knows it.
fn number_text(n: &Number) -> String {
    WRITTEN
        .with(|w| w.borrow().get(&(n as *const Number as usize)).cloned())
        .unwrap_or_else(|| n.to_string())
}

/// Pairs the number tokens of `text` with the numbers of `value` in document order (the
/// map keeps keys in order). Empty when they cannot be paired one to one (a repeated
/// key dropped a value) or nothing differs.
fn written_numbers(value: &Value, text: &str) -> FxHashMap<usize, String> {
    fn numbers<'v>(value: &'v Value, out: &mut Vec<&'v Number>) {
        match value {
            Value::Number(n) => out.push(n),
            Value::Array(items) => items.iter().for_each(|v| numbers(v, out)),
            Value::Object(map) => map.values().for_each(|v| numbers(v, out)),
            _ => {}
        }
    }
    let mut parsed = Vec::new();
    numbers(value, &mut parsed);
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(parsed.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let Some(end) = number_end(bytes, i) else {
                    return FxHashMap::default();
                };
                tokens.push(&text[i..end]);
                i = end;
            }
            _ => i += 1,
        }
    }
    let mut written = FxHashMap::default();
    if tokens.len() != parsed.len() {
        return written;
    }
    for (token, n) in tokens.into_iter().zip(parsed) {
        // The same number, or the pairing is off: then trust none of it.
        if token.parse::<f64>().ok() != n.as_f64() {
            return FxHashMap::default();
        }
        if n.to_string() != token {
            written.insert(n as *const Number as usize, token.to_string());
        }
    }
    written
}

fn err(at: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        message: message.into(),
        path: at.to_string(),
        line: None,
        column: None,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// `field`: the flattened field name so far; `at`: the location in the pattern document.
fn object(
    map: &Map<String, Value>,
    field: &str,
    at: &str,
) -> Result<Vec<Alternative>, PatternError> {
    if map.is_empty() {
        return Err(err(at, "Empty objects are not allowed"));
    }
    let mut alternatives: Vec<Alternative> = vec![Vec::new()];
    for (key, value) in map {
        let here = join(at, key);
        let branch = if key == OR {
            or(value, field, &here)?
        } else {
            let name = join(field, key);
            match value {
                Value::Object(inner) => object(inner, &name, &here)?,
                Value::Array(items) => vec![vec![leaf(items, &name, &here)?]],
                _ => {
                    return Err(err(
                        &here,
                        format!("\"{key}\" must be an object or an array"),
                    ))
                }
            }
        };
        alternatives = product(alternatives, branch, &here)?;
    }
    Ok(alternatives)
}

fn or(value: &Value, field: &str, at: &str) -> Result<Vec<Alternative>, PatternError> {
    let Value::Array(items) = value else {
        return Err(err(at, "It must be an Array followed with $or."));
    };
    let mut union = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(err(
                &format!("{at}[{i}]"),
                "Only JSON object is allowed in array of $or relationship.",
            ));
        };
        union.extend(object(map, field, &format!("{at}[{i}]"))?);
        if union.len() > MAX_OR_COMBINATIONS {
            return Err(too_many_combinations(at));
        }
    }
    if items.len() < 2 {
        return Err(err(
            at,
            "There must have at least 2 Objects in $or relationship.",
        ));
    }
    Ok(union)
}

fn too_many_combinations(at: &str) -> PatternError {
    err(
        at,
        format!("The $or expressions expand to more than {MAX_OR_COMBINATIONS} combinations; split the rule"),
    )
}

/// Every alternative so far combined with every alternative of the next key.
fn product(
    left: Vec<Alternative>,
    right: Vec<Alternative>,
    at: &str,
) -> Result<Vec<Alternative>, PatternError> {
    if left.len().saturating_mul(right.len()) > MAX_OR_COMBINATIONS {
        return Err(too_many_combinations(at));
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in &right {
            let mut combined = l.clone();
            for condition in r {
                if combined.iter().any(|c| c.path == condition.path) {
                    return Err(err(
                        at,
                        format!("Path `{}` cannot be allowed multiple times", condition.path),
                    ));
                }
                combined.push(condition.clone());
            }
            out.push(combined);
        }
    }
    Ok(out)
}

fn leaf(items: &[Value], field: &str, at: &str) -> Result<Condition, PatternError> {
    if items.is_empty() {
        return Err(err(at, "Empty arrays are not allowed"));
    }
    let mut tests = Vec::with_capacity(items.len());
    let mut absent_ok = false;
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match item {
            Value::String(s) => tests.push(Test::ExactString(s.clone())),
            Value::Number(n) => tests.push(Test::ExactNumber(number_literal(&number_text(n)))),
            Value::Bool(true) => tests.push(Test::True),
            Value::Bool(false) => tests.push(Test::False),
            Value::Null => tests.push(Test::Null),
            Value::Object(map) => match expression(map, &here)? {
                Some(test) => tests.push(test),
                None => absent_ok = true,
            },
            Value::Array(_) => {
                return Err(err(
                    &here,
                    "Match value must be String, number, true, false, or null",
                ))
            }
        }
    }
    Ok(Condition {
        path: field.to_string(),
        tests,
        absent_ok,
    })
}

fn number_literal(text: &str) -> NumberLiteral {
    NumberLiteral {
        text: text.to_string(),
        key: comparable_key(text),
    }
}

fn single<'a>(
    map: &'a Map<String, Value>,
    at: &str,
) -> Result<(&'a String, &'a Value), PatternError> {
    let mut entries = map.iter();
    let Some(first) = entries.next() else {
        return Err(err(at, "Match expression name not found"));
    };
    if entries.next().is_some() {
        return Err(err(at, "Only one key allowed in match expression"));
    }
    Ok(first)
}

/// One `{ "operator": … }` object. `Ok(None)` is `{"exists": false}`.
fn expression(map: &Map<String, Value>, at: &str) -> Result<Option<Test>, PatternError> {
    let (op, value) = single(map, at)?;
    let here = format!("{at}.{op}");
    let string = |message: &str| match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(err(&here, message)),
    };
    let test = match op.as_str() {
        "exact" => Test::ExactString(string("exact match pattern must be a string")?),
        "prefix" => match value {
            Value::Object(inner) => {
                Test::PrefixIgnoreCase(ignore_case_inner(inner, "prefix", &here)?)
            }
            _ => Test::Prefix(string("prefix match pattern must be a string")?),
        },
        "suffix" => match value {
            Value::Object(inner) => {
                Test::SuffixIgnoreCase(ignore_case_inner(inner, "suffix", &here)?)
            }
            _ => Test::Suffix(string("suffix match pattern must be a string")?),
        },
        "equals-ignore-case" => Test::EqualsIgnoreCase(
            fold(&string(
                "equals-ignore-case match pattern must be a string",
            )?)
            .into_owned(),
        ),
        "wildcard" => {
            let text = string("wildcard match pattern must be a string")?;
            Test::Wildcard(Wildcard::parse(&text).map_err(|m| err(&here, m))?)
        }
        "anything-but" => Test::AnythingBut(anything_but(value, &here)?),
        "numeric" => Test::Numeric(numeric(value, &here)?),
        "cidr" => {
            let text = string("cidr match pattern must be a string")?;
            Test::Cidr(Cidr::parse(&text).map_err(|m| err(&here, m))?)
        }
        "exists" => match value {
            Value::Bool(true) => Test::Exists,
            Value::Bool(false) => return Ok(None),
            _ => {
                return Err(err(
                    &here,
                    "exists match pattern must be either true or false.",
                ))
            }
        },
        other => return Err(err(at, format!("Unrecognized match type {other}"))),
    };
    Ok(Some(test))
}

/// `{"prefix": {"equals-ignore-case": "…"}}` and the suffix twin.
fn ignore_case_inner(
    inner: &Map<String, Value>,
    outer: &str,
    at: &str,
) -> Result<String, PatternError> {
    let mut entries = inner.iter();
    let Some((op, value)) = entries.next() else {
        let capitalized = if outer == "prefix" {
            "Prefix"
        } else {
            "Suffix"
        };
        return Err(err(at, format!("{capitalized} expression name not found")));
    };
    if op != "equals-ignore-case" {
        return Err(err(at, format!("Unsupported {outer} pattern: {op}")));
    }
    let Value::String(s) = value else {
        return Err(err(
            &format!("{at}.{op}"),
            "equals-ignore-case match pattern must be a string",
        ));
    };
    if entries.next().is_some() {
        return Err(err(at, "Only one key allowed in match expression"));
    }
    Ok(fold(s).into_owned())
}

fn anything_but(value: &Value, at: &str) -> Result<AnythingBut, PatternError> {
    match value {
        Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
        Value::Number(n) => Ok(AnythingBut::Numbers(vec![anything_but_number(
            &number_text(n),
            at,
        )?])),
        Value::Array(items) => {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => strings.push(s.clone()),
                    Value::Number(n) => {
                        numbers.push(anything_but_number(&number_text(n), &format!("{at}[{i}]"))?)
                    }
                    _ => {
                        return Err(err(
                            &format!("{at}[{i}]"),
                            "Inside anything but list, start|null|boolean is not supported.",
                        ))
                    }
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok(AnythingBut::Strings(strings)),
                (true, false) => Ok(AnythingBut::Numbers(numbers)),
                _ => Err(err(
                    at,
                    "Inside anything but list, either all values are number or string, mixed type is not supported",
                )),
            }
        }
        Value::Object(map) => {
            let Some((op, inner)) = map.iter().next() else {
                return Err(err(at, "Anything-But expression name not found"));
            };
            let here = format!("{at}.{op}");
            if map.len() > 1 {
                return Err(err(at, "Only one key allowed in match expression"));
            }
            let kind = match op.as_str() {
                "equals-ignore-case" | "prefix" | "suffix" | "wildcard" => op.as_str(),
                other => {
                    return Err(err(
                        at,
                        format!("Unsupported anything-but pattern: {other}"),
                    ))
                }
            };
            let values: Vec<(String, String)> = match inner {
                Value::String(s) => vec![(s.clone(), here.clone())],
                Value::Array(items) => {
                    let mut v = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let item_at = format!("{here}[{i}]");
                        match item {
                            Value::String(s) => v.push((s.clone(), item_at)),
                            _ => return Err(err(&item_at, anything_but_type_message(kind))),
                        }
                    }
                    if v.is_empty() {
                        return Err(err(&here, "Empty arrays are not allowed"));
                    }
                    v
                }
                Value::Number(_) | Value::Bool(_) | Value::Null | Value::Object(_) => {
                    return Err(err(&here, anything_but_type_message(kind)))
                }
            };
            if matches!(kind, "prefix" | "suffix") {
                if let Some((_, empty_at)) = values.iter().find(|(s, _)| s.is_empty()) {
                    return Err(err(empty_at, "Null prefix/suffix not allowed"));
                }
            }
            Ok(match kind {
                "equals-ignore-case" => AnythingBut::IgnoreCase(
                    values.iter().map(|(s, _)| fold(s).into_owned()).collect(),
                ),
                "prefix" => AnythingBut::Prefixes(values.into_iter().map(|(s, _)| s).collect()),
                "suffix" => AnythingBut::Suffixes(values.into_iter().map(|(s, _)| s).collect()),
                _ => AnythingBut::Wildcards(
                    values
                        .iter()
                        .map(|(s, a)| Wildcard::parse(s).map_err(|m| err(a, m)))
                        .collect::<Result<_, _>>()?,
                ),
            })
        }
        Value::Null | Value::Bool(_) => Err(err(
            at,
            "Value of anything-but must be an array or single string/number value.",
        )),
    }
}

fn anything_but_type_message(kind: &str) -> &'static str {
    match kind {
        "equals-ignore-case" => "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        "wildcard" => "wildcard match pattern must be a string",
        _ => "prefix/suffix match pattern must be a string",
    }
}

fn anything_but_number(text: &str, at: &str) -> Result<u64, PatternError> {
    comparable_key(text).ok_or_else(|| err(at, format!("Cannot compare number : {text}")))
}

fn numeric(value: &Value, at: &str) -> Result<Range, PatternError> {
    let Value::Array(items) = value else {
        return Err(err(at, "Value of numeric must be an array."));
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let operand = |i: usize, op: &str| -> Result<u64, PatternError> {
        let here = format!("{at}[{i}]");
        match items.get(i) {
            Some(Value::Number(n)) => {
                let t = number_text(n);
                comparable_key(&t)
                    .ok_or_else(|| err(&here, format!("Value of {op} must be numeric")))
            }
            _ => Err(err(&here, format!("Value of {op} must be numeric"))),
        }
    };
    let op = match items.first() {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(err(
                &format!("{at}[0]"),
                format!("Invalid member in numeric match: {}", text(other)),
            ))
        }
        None => return Err(err(at, "Empty arrays are not allowed")),
    };
    let range = match op {
        "=" => {
            let key = operand(1, "equals")?;
            if items.len() > 2 {
                return Err(err(at, "Too many elements in numeric expression"));
            }
            Range {
                low: Some((key, true)),
                high: Some((key, true)),
            }
        }
        "<" | "<=" => {
            let key = operand(1, op)?;
            if items.len() > 2 {
                return Err(err(at, "Too many elements in numeric expression"));
            }
            Range {
                low: None,
                high: Some((key, op == "<=")),
            }
        }
        ">" | ">=" => {
            let low = Some((operand(1, op)?, op == ">="));
            match items.get(2) {
                None => Range { low, high: None },
                Some(Value::String(top_op)) if top_op == "<" || top_op == "<=" => {
                    let top = operand(3, top_op)?;
                    if items.len() > 4 {
                        return Err(err(at, "Too many terms in numeric range expression"));
                    }
                    let range = Range {
                        low,
                        high: Some((top, top_op == "<=")),
                    };
                    if low.is_some_and(|(l, _)| l >= top) {
                        return Err(err(at, "Bottom must be less than top"));
                    }
                    range
                }
                Some(Value::String(bad)) => {
                    return Err(err(
                        &format!("{at}[2]"),
                        format!("Bad numeric range operator: {bad}"),
                    ))
                }
                Some(other) => {
                    return Err(err(
                        &format!("{at}[2]"),
                        format!("Bad value in numeric range: {}", text(other)),
                    ))
                }
            }
        }
        other => {
            return Err(err(
                &format!("{at}[0]"),
                format!("Unrecognized numeric range operator: {other}"),
            ))
        }
    };
    Ok(range)
}

fn check_wildcard_complexity(alternatives: &[Alternative]) -> Result<(), PatternError> {
    use std::collections::BTreeMap;
    let mut by_field: BTreeMap<&str, Vec<&Wildcard>> = BTreeMap::new();
    for condition in alternatives.iter().flatten() {
        for test in &condition.tests {
            let entry = by_field.entry(condition.path.as_str()).or_default();
            match test {
                Test::Wildcard(w) => entry.push(w),
                Test::AnythingBut(AnythingBut::Wildcards(ws)) => entry.extend(ws.iter()),
                _ => {}
            }
        }
    }
    for (field, mut wildcards) in by_field {
        let mut unique: Vec<&Wildcard> = Vec::with_capacity(wildcards.len());
        for w in wildcards.drain(..) {
            if !unique.contains(&w) {
                unique.push(w);
            }
        }
        wildcards = unique;
        if wildcards.is_empty() {
            continue;
        }
        if Wildcard::complexity(&wildcards, MAX_WILDCARD_COMPLEXITY + 1) > MAX_WILDCARD_COMPLEXITY {
            return Err(err(
                field,
                "Rule is too complex: use fewer wildcards, or a prefix/suffix match, on this field",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Pattern;

    /// Numbers are read as the pattern writes them, not as the double serde_json keeps.
    #[test]
    fn pattern_numbers_keep_their_text() {
        // 1E-325 is 0.0 as a double, and not a comparable number as written.
        assert!(Pattern::parse(r#"{"x": [{"numeric": ["=", 1E-325]}]}"#).is_err());
        assert!(Pattern::parse(r#"{"x": [{"numeric": [">", 0.30000000000000000001]}]}"#).is_err());
        assert!(Pattern::parse(r#"{"x": [{"anything-but": [1E-325]}]}"#).is_err());
        // 1E-320 is a double exactly (subnormal): fine.
        assert!(Pattern::parse(r#"{"x": [{"numeric": ["=", 1E-320]}]}"#).is_ok());
        // A 21-digit id matches its own text, not every number near its double.
        let id = Pattern::parse(r#"{"id": [123456789012345678901]}"#).unwrap();
        assert!(id.matches_str(r#"{"id": 123456789012345678901}"#).unwrap());
        assert!(!id.matches_str(r#"{"id": 123456789012345678902}"#).unwrap());
        // A string that looks like a number is not one; a repeated key keeps the last.
        let p = Pattern::parse(r#"{"a": ["1e2"], "n": [1e2], "k": [5], "k": [7]}"#).unwrap();
        assert!(p.matches_str(r#"{"a": "1e2", "n": 100, "k": 7}"#).unwrap());
    }
}
