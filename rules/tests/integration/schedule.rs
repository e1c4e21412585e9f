//! Every example and stated rule of AWS's "Schedule expressions for rules" (rate and cron)
//! as data: `fixtures/schedule_expressions.jsonl`, one expression a line, with the firings
//! that follow a fixed start (UTC) or the error it gets.

use rules::schedule::{format_utc, parse_utc, Schedule};
use serde_json::Value;

#[test]
fn aws_documented_schedule_expressions() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schedule_expressions.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut cases = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let expr = case["expr"].as_str().expect("expr");
        let doc = case["doc"].as_str().unwrap_or_default();
        match (&case["next"], &case["error"]) {
            (Value::Array(want), Value::Null) => {
                let schedule = Schedule::parse(expr)
                    .unwrap_or_else(|e| panic!("line {} {expr} ({doc}): {e}", i + 1));
                let from = parse_utc(case["from"].as_str().expect("from")).expect("from time");
                // A rate is anchored at the start here, as if the rule were created then.
                let got: Vec<String> = schedule
                    .upcoming(from, from, want.len())
                    .into_iter()
                    .map(format_utc)
                    .collect();
                let want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
                assert_eq!(got, want, "line {} {expr} ({doc})", i + 1);
            }
            (Value::Null, Value::String(message)) => {
                let e = Schedule::parse(expr)
                    .expect_err(&format!("line {} {expr} should be invalid ({doc})", i + 1));
                assert!(
                    e.message.contains(message.as_str()),
                    "line {} {expr}: got `{}`, want `{message}`",
                    i + 1,
                    e.message
                );
                assert!(!e.hint.is_empty());
            }
            _ => panic!("line {}: give `next` or `error`", i + 1),
        }
        cases += 1;
    }
    assert!(cases >= 50, "{cases} cases");
}
