//! What each target of a project would receive for one event, offline: the rules whose
//! pattern matches, and per target the exact body the local backend delivers (the event,
//! `Input`, `InputPath` or the `InputTransformer` result; an SNS envelope aside).
//!
//! `bridge test` checks a project's sample events against these, so a project's own CI
//! proves its routing without an account.

use std::collections::BTreeMap;

use rules::desired::Desired;
use serde_json::Value;

use super::transform::{target_input, RouteInfo};
use super::translate::Resolver;

/// Rule name → target id → body.
pub type Deliveries = BTreeMap<String, BTreeMap<String, String>>;

/// The deliveries of `event_json` (one event, as EventBridge hands it to rules). Reserved
/// transformer variables use the event's own `time` as its ingestion time, so the result
/// is the same on every run.
pub fn deliveries(
    desired: &Desired,
    event_json: &str,
    resolver: Resolver<'_>,
) -> Result<Deliveries, String> {
    let event: Value =
        serde_json::from_str(event_json).map_err(|e| format!("not a JSON event: {e}"))?;
    if !event.is_object() {
        return Err("an event is a JSON object".to_string());
    }
    let ingestion_time = event
        .get("time")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut out = Deliveries::new();
    // Scheduled rules match no event: they fire on their own.
    for rule in desired.rules.iter().filter(|r| r.enabled) {
        let Some(pattern) = &rule.pattern else {
            continue;
        };
        let pattern =
            patterns::Pattern::parse(pattern).map_err(|e| format!("rule {}: {e}", rule.name))?;
        if !pattern.matches_value(&event) {
            continue;
        }
        let arn = crate::arn::rule_arn(
            &resolver.config.region,
            &resolver.config.account,
            &rule.bus,
            &rule.name,
        );
        let route = RouteInfo {
            rule_name: &rule.name,
            rule_arn: &arn,
            ingestion_time: &ingestion_time,
        };
        let mut targets = BTreeMap::new();
        for t in &rule.targets {
            let spec = resolver.target(t);
            let body = target_input(&spec, &event, event_json, &route)
                .map_err(|e| format!("rule {} target {}: {e}", rule.name, t.id))?;
            targets.insert(t.id.clone(), body);
        }
        out.insert(rule.name.clone(), targets);
    }
    Ok(out)
}
