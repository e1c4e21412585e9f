//! An event bus's resource policy: the stack's `events:PutEvents` statements, one per
//! grant, merged into whatever else the policy says.
//!
//! The stack's statements are recognised by their `Sid`, `bridge-<stack>-put-…` (the part
//! after it names the grant: `acct-<id>`, `org-<o-id>`, `arn-<hash>`); every other
//! statement is kept exactly as it was, in order — as [`super::policy`] keeps foreign
//! statements of queue and topic policies. Least privilege: each statement allows one
//! action (`events:PutEvents`) on one resource (the bus); an organization grant is `*`
//! only under an `aws:PrincipalOrgID` condition, and a bare `*` is never written.

use serde_json::{json, Value};

use super::policy::PolicyError;
use rules::buses::Grantee;

/// The Sid prefix of a stack's statements in bus policies.
pub fn sid_prefix(stack: &str) -> String {
    let clean: String = stack
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("bridge-{clean}-put-")
}

/// The statement id of one grant (at most 64 characters, as PutPermission allows).
pub fn sid(stack: &str, grant: &Grantee) -> String {
    let mut sid = format!("{}{}", sid_prefix(stack), grant.sid_part());
    sid.truncate(64);
    sid
}

/// The statement granting `grant` `events:PutEvents` on the bus `bus_arn`.
pub fn statement(stack: &str, grant: &Grantee, bus_arn: &str) -> Value {
    let partition = crate::arn::partition_of(bus_arn);
    let mut s = json!({
        "Sid": sid(stack, grant),
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": bus_arn,
    });
    match grant {
        Grantee::Account(a) => {
            s["Principal"] = json!({ "AWS": format!("arn:{partition}:iam::{a}:root") })
        }
        Grantee::Principal(p) => s["Principal"] = json!({ "AWS": p }),
        Grantee::Organization(o) => {
            s["Principal"] = json!("*");
            s["Condition"] = json!({ "StringEquals": { "aws:PrincipalOrgID": o } });
        }
    }
    s
}

/// The Sids of the stack's statements in a policy document (sorted; empty when there is
/// no policy or it does not read).
pub fn own_sids(policy: Option<&str>, stack: &str) -> Vec<String> {
    let prefix = sid_prefix(stack);
    let mut sids: Vec<String> = statements(policy)
        .iter()
        .filter_map(|s| s.get("Sid").and_then(Value::as_str))
        .filter(|sid| sid.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    sids.sort();
    sids
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

/// What to write after merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusPolicyWrite {
    /// The policy is already as wanted.
    Unchanged,
    /// Write this whole document (PutPermission with `Policy`).
    Put(String),
    /// Nothing is left and everything there was the stack's: remove the policy
    /// (RemovePermission with `RemoveAllPermissions`).
    RemoveAll,
}

/// Replaces the stack's statements in `existing` with one per grant in `grants`, keeping
/// every other statement as it is.
pub fn merge(
    existing: Option<&str>,
    stack: &str,
    grants: &[Grantee],
    bus_arn: &str,
) -> Result<BusPolicyWrite, PolicyError> {
    let bad = |reason: String| PolicyError {
        resource: bus_arn.to_string(),
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
    let before = match obj.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(list)) => list,
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err(bad("Statement is neither a list nor an object".into())),
    };
    let prefix = sid_prefix(stack);
    let ours = |s: &Value| {
        s.get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| sid.starts_with(&prefix))
    };
    let mut after: Vec<Value> = before.iter().filter(|s| !ours(s)).cloned().collect();
    let foreign = after.len();
    let mut wanted: Vec<&Grantee> = grants.iter().collect();
    wanted.sort();
    wanted.dedup();
    after.extend(wanted.into_iter().map(|g| statement(stack, g, bus_arn)));
    if before == after {
        return Ok(BusPolicyWrite::Unchanged);
    }
    if after.is_empty() {
        return Ok(if foreign == 0 && !before.is_empty() {
            BusPolicyWrite::RemoveAll
        } else {
            BusPolicyWrite::Unchanged
        });
    }
    obj.entry("Version").or_insert_with(|| json!("2012-10-17"));
    obj.insert("Statement".into(), Value::Array(after));
    Ok(BusPolicyWrite::Put(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUS: &str = "arn:aws:events:eu-west-1:111111111111:event-bus/orders";

    fn foreign() -> Value {
        json!({
            "Sid": "ops-team",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::999999999999:root" },
            "Action": "events:PutEvents",
            "Resource": BUS
        })
    }

    fn doc(statements: Vec<Value>) -> String {
        json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
    }

    #[test]
    fn one_statement_per_grant_scoped_to_put_events_on_the_bus() {
        let grants = [
            Grantee::Account("222222222222".into()),
            Grantee::Organization("o-abcdef1234".into()),
            Grantee::Principal("arn:aws:iam::333333333333:role/sender".into()),
        ];
        let BusPolicyWrite::Put(text) = merge(None, "shop", &grants, BUS).unwrap() else {
            panic!("a new policy");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        let list = v["Statement"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        for s in list {
            assert_eq!(s["Action"], "events:PutEvents");
            assert_eq!(s["Resource"], BUS);
            assert!(s["Sid"].as_str().unwrap().starts_with("bridge-shop-put-"));
            // A wildcard principal only ever with the organization condition.
            if s["Principal"] == "*" {
                assert_eq!(
                    s["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
                    "o-abcdef1234"
                );
            }
        }
        assert!(list
            .iter()
            .any(|s| s["Principal"]["AWS"] == "arn:aws:iam::222222222222:root"));
        assert_eq!(own_sids(Some(&text), "shop").len(), 3);
        assert!(own_sids(Some(&text), "other").is_empty());
        // Merging the same grants again changes nothing.
        assert_eq!(
            merge(Some(&text), "shop", &grants, BUS).unwrap(),
            BusPolicyWrite::Unchanged
        );
    }

    #[test]
    fn foreign_statements_are_kept_exactly_and_only_ours_removed() {
        let ours = statement("shop", &Grantee::Account("222222222222".into()), BUS);
        let other_stack = statement("billing", &Grantee::Account("444444444444".into()), BUS);
        let existing = doc(vec![foreign(), ours, other_stack.clone()]);
        let BusPolicyWrite::Put(text) = merge(Some(&existing), "shop", &[], BUS).unwrap() else {
            panic!("our statement goes");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Statement"], json!([foreign(), other_stack]));
        // Changing the grant replaces ours, after the foreign ones.
        let BusPolicyWrite::Put(text) = merge(
            Some(&existing),
            "shop",
            &[Grantee::Account("555555555555".into())],
            BUS,
        )
        .unwrap() else {
            panic!("changed");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Statement"][0], foreign());
        assert_eq!(v["Statement"].as_array().unwrap().len(), 3);
        assert_eq!(
            v["Statement"][2]["Principal"]["AWS"],
            "arn:aws:iam::555555555555:root"
        );
    }

    #[test]
    fn a_policy_of_only_ours_is_removed_and_an_unreadable_one_refused() {
        let ours = statement("shop", &Grantee::Account("222222222222".into()), BUS);
        let existing = doc(vec![ours]);
        assert_eq!(
            merge(Some(&existing), "shop", &[], BUS).unwrap(),
            BusPolicyWrite::RemoveAll
        );
        assert_eq!(
            merge(None, "shop", &[], BUS).unwrap(),
            BusPolicyWrite::Unchanged
        );
        assert!(merge(Some("{not json"), "shop", &[], BUS).is_err());
    }

    #[test]
    fn long_principal_sids_stay_within_64_characters() {
        let g = Grantee::Principal(format!(
            "arn:aws:iam::333333333333:role/{}",
            "x".repeat(200)
        ));
        assert!(sid(&"s".repeat(64), &g).len() <= 64);
    }
}
