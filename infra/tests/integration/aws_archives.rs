//! Archives against moto through the real SDK: create with the ownership marker, a no-op
//! re-plan, a retention change as one UpdateArchive, a same-named foreign archive left
//! alone (a `!` note), destroy deleting only the stack's archive (then its bus); and what
//! moto does with StartReplay/DescribeReplay.

use crate::aws_support;

use aws_support::{clients, endpoint, unique};
use infra::aws::apply::{apply_plan, plan_stack};
use infra::aws::archives::{self, ReplayRequest};
use infra::aws::AwsClients;
use infra::plan::{Note, Step};
use rules::desired::{Archive, Desired};

async fn apply(aws: &AwsClients, spec: &Desired, prune: bool) -> (Vec<Step>, Vec<Note>) {
    let (plan, facts) = plan_stack(aws, spec, prune).await.expect("plan");
    let report = apply_plan(aws, spec, &plan, &facts).await;
    assert!(report.succeeded(), "apply failed:\n{plan}\n{report}");
    (plan.steps, plan.notes)
}

#[tokio::test]
async fn archives_are_created_updated_and_destroyed_only_when_owned() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let stack = unique("shop");
    let bus = unique("orders-bus");
    let mine = unique("orders-archive");
    let foreign = unique("foreign-archive");

    // Someone else's archive (on the default bus) that the project happens to declare too.
    let default_bus = infra::aws::read::read_bus(&aws, "default")
        .await
        .expect("read")
        .expect("default bus");
    aws.eventbridge
        .create_archive()
        .archive_name(&foreign)
        .event_source_arn(&default_bus.arn)
        .description("the audit team's archive")
        .send()
        .await
        .expect("CreateArchive (foreign)");

    let mut spec = Desired {
        stack: stack.clone(),
        bus: bus.clone(),
        archives: vec![
            Archive {
                name: mine.clone(),
                pattern: Some(r#"{"source":["shop"]}"#.into()),
                retention_days: 30,
                description: Some("orders".into()),
            },
            Archive {
                name: foreign.clone(),
                ..Archive::default()
            },
        ],
        ..Desired::default()
    };
    let (steps, notes) = apply(&aws, &spec, false).await;
    assert!(
        matches!(&steps[0], Step::CreateBus { name } if name == &bus),
        "{steps:?}"
    );
    assert!(matches!(&steps[1], Step::CreateArchive { archive } if archive.name == mine));
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(
        notes,
        [Note::NotOwned {
            kind: "archive",
            name: foreign.clone()
        }]
    );
    let created = archives::describe_archive(&aws, &mine)
        .await
        .expect("describe")
        .expect("created");
    assert_eq!(created.retention_days, 30);
    assert!(created
        .event_source_arn
        .ends_with(&format!("event-bus/{bus}")));
    assert_eq!(
        rules::archive::owned_description(created.description.as_deref(), &stack),
        Some(Some("orders".to_string()))
    );

    // Re-planning is a no-op; a retention change is one UpdateArchive.
    let (plan, _) = plan_stack(&aws, &spec, false).await.expect("plan");
    assert!(plan.is_empty(), "{plan}");
    spec.archives[0].retention_days = 7;
    let (steps, _) = apply(&aws, &spec, false).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(
        matches!(&steps[0], Step::UpdateArchive { changes, .. } if changes == &["retention"]),
        "{steps:?}"
    );
    let updated = archives::describe_archive(&aws, &mine)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.retention_days, 7);
    assert!(plan_stack(&aws, &spec, false).await.unwrap().0.is_empty());

    // Destroy: the stack's archive goes (before its bus); the foreign one stays as it was.
    let (steps, _) = apply(&aws, &Desired::empty(&stack, &bus), true).await;
    let names: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        names,
        [
            format!("delete archive {mine} and the events it holds"),
            format!("delete event bus {bus}")
        ]
    );
    assert!(archives::describe_archive(&aws, &mine)
        .await
        .unwrap()
        .is_none());
    let kept = archives::describe_archive(&aws, &foreign)
        .await
        .unwrap()
        .expect("foreign archive kept");
    assert_eq!(
        kept.description.as_deref(),
        Some("the audit team's archive")
    );
    aws.eventbridge
        .delete_archive()
        .archive_name(&foreign)
        .send()
        .await
        .expect("clean up");
}

/// moto accepts StartReplay and reports the replay through DescribeReplay; what it
/// delivers is not AWS's (see docs/testing.md), so only the calls and states are checked.
#[tokio::test]
async fn a_replay_is_started_and_described() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint).await;
    let stack = unique("shop");
    let bus = unique("replay-bus");
    let name = unique("replay-archive");
    let spec = Desired {
        stack: stack.clone(),
        bus: bus.clone(),
        archives: vec![Archive {
            name: name.clone(),
            ..Archive::default()
        }],
        ..Desired::default()
    };
    apply(&aws, &spec, false).await;
    let archive = archives::describe_archive(&aws, &name)
        .await
        .unwrap()
        .unwrap();
    let replay = unique("replay");
    let started = archives::start_replay(
        &aws,
        &ReplayRequest {
            name: replay.clone(),
            archive_arn: archive.arn.clone(),
            bus_arn: archive.event_source_arn.clone(),
            from_ms: 0,
            to_ms: 1_795_392_000_000,
            rule_arns: vec![],
        },
    )
    .await;
    match started {
        Ok(arn) => {
            assert!(arn.ends_with(&format!("replay/{replay}")), "{arn}");
            let status = archives::describe_replay(&aws, &replay)
                .await
                .expect("describe");
            assert!(status.is_final(), "{status:?}");
            assert_eq!(status.state, "COMPLETED");
        }
        Err(e) => panic!("StartReplay on moto: {e}"),
    }
    apply(&aws, &Desired::empty(&stack, &bus), true).await;
}
