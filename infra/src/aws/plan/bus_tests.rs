//! Planner tests for declared buses and bus policies (what moto cannot show: a bus someone
//! else owns, statements of another stack, a policy AWS re-serialized).

use super::*;
use crate::aws::bus_policy;
use crate::aws::read::BusFacts;
use rules::buses::Grantee;
use rules::desired::Bus;
use rules::owner::ownership_tags;

const ACCOUNT: &str = "111122223333";

fn bus(name: &str, tags: BTreeMap<String, String>, policy: Option<String>) -> BusFacts {
    BusFacts {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{name}"),
        tags,
        policy,
    }
}

fn policy_of(stack: &str, grants: &[Grantee], bus_name: &str, foreign: bool) -> String {
    let arn = format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus_name}");
    let mut statements: Vec<Value> = grants
        .iter()
        .map(|g| bus_policy::statement(stack, g, &arn))
        .collect();
    if foreign {
        statements.insert(
            0,
            serde_json::json!({"Sid": "theirs", "Effect": "Allow", "Principal": "*",
                "Action": "events:PutEvents", "Resource": arn}),
        );
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

fn declared(buses: Vec<Bus>) -> Desired {
    Desired {
        buses,
        ..Desired::empty("shop", "default")
    }
}

fn policy_steps(plan: &Plan) -> Vec<(String, Vec<Grantee>)> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::BusPolicy { bus, grants } => Some((bus.clone(), grants.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn declared_buses_are_created_and_granted_and_a_foreign_one_is_left_alone() {
    let grant = vec![Grantee::Account("222222222222".into())];
    let spec = declared(vec![
        Bus {
            name: "audit".into(),
            grants: grant.clone(),
        },
        Bus {
            name: "theirs".into(),
            grants: grant.clone(),
        },
    ]);
    let facts = AccountFacts {
        other_buses: vec![bus("theirs", BTreeMap::new(), None)],
        ..AccountFacts::default()
    };
    let plan = plan(&spec, &facts, false);
    assert!(plan.steps.contains(&Step::CreateBus {
        name: "audit".into()
    }));
    assert_eq!(policy_steps(&plan), vec![("audit".to_string(), grant)]);
    assert!(plan
        .notes
        .iter()
        .any(|n| matches!(n, Note::NotOwned { kind: "event bus", name } if name == "theirs")));
}

#[test]
fn statements_compare_by_id_and_only_the_stack_s_are_planned() {
    let grants = vec![
        Grantee::Account("222222222222".into()),
        Grantee::Organization("o-abcdef1234".into()),
    ];
    // The same grants, written before (a foreign statement and another stack's beside).
    let mut text = policy_of("shop", &grants, "default", true);
    let other = policy_of(
        "billing",
        &[Grantee::Account("444444444444".into())],
        "default",
        false,
    );
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let other: Value = serde_json::from_str(&other).unwrap();
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .push(other["Statement"][0].clone());
    text = doc.to_string();
    let facts = AccountFacts {
        other_buses: vec![bus("default", BTreeMap::new(), Some(text))],
        ..AccountFacts::default()
    };
    let mut spec = declared(vec![Bus {
        name: "default".into(),
        grants: grants.clone(),
    }]);
    assert!(plan(&spec, &facts, false).is_empty());
    // One grant less: one step, with the grants that stay.
    spec.buses[0].grants.pop();
    assert_eq!(
        policy_steps(&plan(&spec, &facts, false)),
        vec![("default".to_string(), vec![grants[0].clone()])]
    );
    // Not declared any more (destroy): the stack's statements are removed, nothing else.
    let destroy = plan(&Desired::empty("shop", "default"), &facts, true);
    assert_eq!(
        policy_steps(&destroy),
        vec![("default".to_string(), vec![])]
    );
    // Another stack plans nothing on this policy but its own statement.
    let billing = plan(&Desired::empty("billing", "default"), &facts, true);
    assert_eq!(
        policy_steps(&billing),
        vec![("default".to_string(), vec![])]
    );
    assert!(billing
        .render(false)
        .contains("remove bridge's events:PutEvents statements"));
}

#[test]
fn an_owned_bus_no_longer_declared_is_pruned_with_its_policy() {
    let grants = vec![Grantee::Account("222222222222".into())];
    let facts = AccountFacts {
        other_buses: vec![bus(
            "audit",
            ownership_tags("shop"),
            Some(policy_of("shop", &grants, "audit", false)),
        )],
        ..AccountFacts::default()
    };
    let spec = declared(vec![]);
    let kept = plan(&spec, &facts, false);
    assert!(kept
        .notes
        .iter()
        .any(|n| matches!(n, Note::WouldPrune { kind: "event bus", name } if name == "audit")));
    let pruned = plan(&spec, &facts, true);
    assert!(pruned.steps.contains(&Step::DeleteBus {
        name: "audit".into()
    }));
    // The policy goes with the bus: no separate step.
    assert!(policy_steps(&pruned).is_empty(), "{pruned}");
}

#[test]
fn a_bus_target_resolves_to_the_declared_bus_arn_and_shows_the_account_of_an_arn() {
    let mut t = rules::desired::Target::new("fwd", Destination::Bus("audit".into()));
    t.role_arn = Some("arn:aws:iam::111122223333:role/fwd".into());
    let cross = rules::desired::Target::new(
        "central",
        Destination::Bus("arn:aws:events:eu-west-1:999999999999:event-bus/central".into()),
    );
    let spec = Desired {
        rules: vec![rules::desired::Rule {
            name: "r".into(),
            bus: "default".into(),
            pattern: Some(r#"{"source":["a"]}"#.into()),
            enabled: true,
            targets: vec![t, cross],
            ..rules::desired::Rule::default()
        }],
        ..declared(vec![Bus {
            name: "audit".into(),
            grants: vec![],
        }])
    };
    let facts = AccountFacts {
        other_buses: vec![bus("audit", ownership_tags("shop"), None)],
        ..AccountFacts::default()
    };
    let text = plan(&spec, &facts, false).render(false);
    assert!(
        text.contains("add fwd -> event bus audit as role arn:aws:iam::111122223333:role/fwd"),
        "{text}"
    );
    assert!(
        text.contains("add central -> event bus central in account 999999999999, region eu-west-1"),
        "{text}"
    );
    // The role is a difference AWS would show.
    let planner = Planner {
        spec: &spec,
        facts: &facts,
        prune: false,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    let resolved = planner
        .resolve_target(&spec.rules[0].targets[0])
        .expect("resolved");
    assert_eq!(
        resolved.arn,
        format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/audit")
    );
    assert_eq!(
        resolved.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/fwd")
    );
}

#[test]
fn a_same_account_or_cross_region_bus_arn_without_a_role_is_refused() {
    use crate::aws::apply::check_bus_roles;
    let target = |arn: &str| rules::desired::Target::new("fwd", Destination::Bus(arn.into()));
    let spec_with = |t| Desired {
        rules: vec![rules::desired::Rule {
            name: "r".into(),
            bus: "default".into(),
            pattern: Some("{}".into()),
            enabled: true,
            targets: vec![t],
            ..rules::desired::Rule::default()
        }],
        ..Desired::empty("shop", "default")
    };
    let same = spec_with(target(&format!(
        "arn:aws:events:us-east-1:{ACCOUNT}:event-bus/other"
    )));
    let err = check_bus_roles(&same, Some(ACCOUNT), "us-east-1").expect_err("same account");
    assert!(err.to_string().contains("role_arn"), "{err}");
    let other_region = spec_with(target("arn:aws:events:eu-west-1:999999999999:event-bus/c"));
    assert!(check_bus_roles(&other_region, Some(ACCOUNT), "us-east-1").is_err());
    let cross_account = spec_with(target("arn:aws:events:us-east-1:999999999999:event-bus/c"));
    assert!(check_bus_roles(&cross_account, Some(ACCOUNT), "us-east-1").is_ok());
}
