//! Event buses as targets and bus policies against moto through the real SDK: declared
//! buses are created and owned, a bus target carries its role, `allow_put_events_from`
//! becomes one `events:PutEvents` statement per grant, re-applying writes nothing, a
//! statement someone else wrote is kept through changes and `destroy`, and `destroy` deletes
//! the stack's buses.

use crate::aws_support;

use aws_support::{clients, endpoint, unique};
use infra::aws::apply::{apply_plan, plan_stack};
use infra::aws::{read, AwsClients};
use infra::plan::Step;
use rules::buses::Grantee;
use rules::desired::{Bus, Desired, Destination, Queue, Rule, Target};
use rules::owner::owned_by;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::123456789012:role/bridge-forward";

struct Names {
    stack: String,
    bus: String,
    audit: String,
    queue: String,
    rule: String,
}

fn spec(n: &Names, grants: Vec<Grantee>, default_grants: Vec<Grantee>) -> Desired {
    let mut forward = Target::new("to-audit", Destination::Bus(n.audit.clone()));
    forward.role_arn = Some(ROLE.into());
    Desired {
        queues: vec![Queue {
            name: n.queue.clone(),
            ..Queue::default()
        }],
        rules: vec![Rule {
            bus: n.bus.clone(),
            name: n.rule.clone(),
            pattern: Some(r#"{"source":["shop"]}"#.into()),
            enabled: true,
            targets: vec![
                forward,
                Target::new("q", Destination::Queue(n.queue.clone())),
            ],
            ..Rule::default()
        }],
        buses: vec![
            Bus {
                name: n.bus.clone(),
                grants,
            },
            Bus {
                name: n.audit.clone(),
                grants: vec![],
            },
            Bus {
                name: "default".into(),
                grants: default_grants,
            },
        ],
        ..Desired::empty(&n.stack, &n.bus)
    }
}

async fn apply(aws: &AwsClients, spec: &Desired, prune: bool) -> Vec<Step> {
    let (plan, facts) = plan_stack(aws, spec, prune).await.expect("plan");
    let report = apply_plan(aws, spec, &plan, &facts).await;
    assert!(report.succeeded(), "apply failed:\n{plan}\n{report}");
    plan.steps
}

async fn policy(aws: &AwsClients, bus: &str) -> Vec<Value> {
    let facts = read::read_bus(aws, bus).await.expect("read").expect("bus");
    let Some(text) = facts.policy else {
        return Vec::new();
    };
    let doc: Value = serde_json::from_str(&text).expect("json");
    doc["Statement"].as_array().cloned().unwrap_or_default()
}

fn sids(statements: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn bus_targets_and_grants_plan_apply_and_destroy() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let n = Names {
        stack: unique("fwd"),
        bus: unique("orders-bus"),
        audit: unique("audit-bus"),
        queue: unique("seen"),
        rule: unique("forward"),
    };
    let org = Grantee::Organization("o-abcdef1234".into());
    let first = spec(
        &n,
        vec![Grantee::Account("111122223333".into()), org.clone()],
        vec![Grantee::Account("333344445555".into())],
    );

    // Someone else's statement on the default bus, there before the stack.
    let foreign_sid = format!("ops-{}", n.stack);
    aws.eventbridge
        .put_permission()
        .event_bus_name("default")
        .action("events:PutEvents")
        .principal("999999999999")
        .statement_id(&foreign_sid)
        .send()
        .await
        .expect("PutPermission");

    let steps = apply(&aws, &first, false).await;
    let text: Vec<String> = steps.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(
        text.contains(&format!("create event bus {}", n.bus)),
        "{text}"
    );
    assert!(
        text.contains(&format!("create event bus {}", n.audit)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "add to-audit -> event bus {} as role {ROLE}",
            n.audit
        )),
        "{text}"
    );

    // Both buses are the stack's.
    let audit = read::read_bus(&aws, &n.audit)
        .await
        .expect("read")
        .expect("bus");
    assert!(owned_by(&audit.tags, &n.stack));
    // One statement per grant, events:PutEvents on that bus only; the organization grant
    // is `*` only under the aws:PrincipalOrgID condition.
    let statements = policy(&aws, &n.bus).await;
    assert_eq!(statements.len(), 2, "{statements:?}");
    let bus_arn = read::read_bus(&aws, &n.bus)
        .await
        .expect("read")
        .expect("bus")
        .arn;
    for s in &statements {
        assert_eq!(s["Action"], "events:PutEvents");
        assert_eq!(s["Resource"], bus_arn.as_str());
    }
    let by_org = statements
        .iter()
        .find(|s| s["Principal"] == "*")
        .expect("the organization statement");
    assert_eq!(
        by_org["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-abcdef1234"
    );
    assert!(statements
        .iter()
        .any(|s| s["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"));
    // The target carries the role and the audit bus's ARN.
    let targets = read::read_targets(&aws, &n.bus, &n.rule)
        .await
        .expect("targets");
    let forward = targets.iter().find(|t| t.id == "to-audit").expect("target");
    assert_eq!(forward.arn, audit.arn);
    assert_eq!(forward.role_arn.as_deref(), Some(ROLE));
    // The default bus: the foreign statement and ours.
    let on_default = sids(&policy(&aws, "default").await);
    assert!(on_default.contains(&foreign_sid), "{on_default:?}");
    let ours = format!("bridge-{}-put-acct-333344445555", n.stack);
    assert!(on_default.contains(&ours), "{on_default:?}");

    // Converged: nothing to plan, nothing written.
    let (plan, facts) = plan_stack(&aws, &first, true).await.expect("plan");
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(apply_plan(&aws, &first, &plan, &facts).await.write_calls, 0);

    // A foreign statement on the stack's bus, then a changed grant: only ours change.
    aws.eventbridge
        .put_permission()
        .event_bus_name(&n.bus)
        .action("events:PutEvents")
        .principal("999999999999")
        .statement_id("ops-team")
        .send()
        .await
        .expect("PutPermission");
    let second = spec(
        &n,
        vec![Grantee::Account("222222222222".into())],
        vec![Grantee::Account("333344445555".into())],
    );
    let steps = apply(&aws, &second, false).await;
    assert_eq!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::BusPolicy { .. }))
            .count(),
        1,
        "{steps:?}"
    );
    let statements = policy(&aws, &n.bus).await;
    assert_eq!(
        sids(&statements),
        vec![
            format!("bridge-{}-put-acct-222222222222", n.stack),
            "ops-team".to_string()
        ]
    );
    let foreign = statements
        .iter()
        .find(|s| s["Sid"] == "ops-team")
        .expect("kept");
    assert_eq!(
        foreign["Principal"]["AWS"],
        "arn:aws:iam::999999999999:root"
    );

    // destroy: rules, queue and both buses go; on the default bus only our statement goes.
    let steps = apply(&aws, &Desired::empty(&n.stack, &n.bus), true).await;
    let deleted: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::DeleteBus { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert!(deleted.contains(&n.bus.as_str()), "{steps:?}");
    assert!(deleted.contains(&n.audit.as_str()), "{steps:?}");
    assert!(read::read_bus(&aws, &n.audit)
        .await
        .expect("read")
        .is_none());
    let on_default = sids(&policy(&aws, "default").await);
    assert!(on_default.contains(&foreign_sid), "{on_default:?}");
    assert!(!on_default.contains(&ours), "{on_default:?}");
    // Nothing of the stack is left to remove (an empty declaration of a custom bus still
    // plans to create that bus, as it always did).
    let (plan, _) = plan_stack(&aws, &Desired::empty(&n.stack, &n.bus), true)
        .await
        .expect("plan");
    assert!(
        plan.steps
            .iter()
            .all(|s| matches!(s, Step::CreateBus { name } if *name == n.bus)),
        "{plan}"
    );
}

#[tokio::test]
async fn a_same_account_bus_arn_without_a_role_is_refused_at_plan_time() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let queue = unique("seen");
    let mut spec = Desired::empty(&unique("fwd"), "default");
    spec.queues.push(Queue {
        name: queue.clone(),
        ..Queue::default()
    });
    // Make the account known to the planner through a queue it reads.
    let aws_queue = apply(&aws, &spec, false).await;
    assert!(!aws_queue.is_empty());
    let account = "123456789012"; // moto's account
    spec.rules.push(Rule {
        bus: "default".into(),
        name: unique("forward"),
        pattern: Some(r#"{"source":["shop"]}"#.into()),
        enabled: true,
        targets: vec![Target::new(
            "to-other",
            Destination::Bus(format!(
                "arn:aws:events:{}:{account}:event-bus/other",
                aws.region
            )),
        )],
        ..Rule::default()
    });
    let err = plan_stack(&aws, &spec, false)
        .await
        .expect_err("refused without a role");
    let text = err.to_string();
    assert!(
        text.contains("another bus of the same account only with an IAM role"),
        "{text}"
    );
    assert!(text.contains("role_arn"), "{text}");
    // In another account of the same region, no role is needed.
    spec.rules[0].targets[0].destination = Destination::Bus(format!(
        "arn:aws:events:{}:210987654321:event-bus/central",
        aws.region
    ));
    let steps = apply(&aws, &spec, false).await;
    let text: Vec<String> = steps.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("event bus central in account 210987654321")),
        "{text:?}"
    );
    apply(&aws, &Desired::empty(&spec.stack, "default"), true).await;
}

/// `examples/rule-model` plans on moto: the schedule, the declared bus, the grant on the
/// default bus and both forwards (planned only: the default bus's policy is left alone).
#[tokio::test]
async fn the_rule_model_example_plans_on_aws() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rule-model");
    let project = rules::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let spec = Desired::from_project(&project, Some(&unique("rule-model"))).expect("desired");
    let (plan, _) = plan_stack(&aws, &spec, false).await.expect("plan");
    let text = plan.render(false);
    for wanted in [
        "create event bus order-audit",
        "policy of event bus default: allow events:PutEvents only from (other statements kept)\n      account 111122223333",
        "schedule cron(0 2 * * ? *) (UTC)",
        "add to-audit -> event bus order-audit as role arn:aws:iam::123456789012:role/rule-model-forward",
        "add to-central -> event bus central in account 222233334444, region us-east-1",
        "create archive rule-model-orders\n      pattern {\"source\":[\"com.example.orders\"]}\n      retention: 30 days",
    ] {
        assert!(text.contains(wanted), "{wanted:?} in\n{text}");
    }
}
