//! Event buses as targets, and who may put events on a bus: the shapes and checks shared by
//! the loader, the desired state and both backends.
//!
//! AWS's rules this follows (cited in `docs/buses.md`):
//! - a rule's target may be another event bus, named by its ARN; EventBridge assumes the
//!   target's `RoleArn` to put the event there. A role is required for a bus in the same
//!   account ("Sending events between event buses in the same account and Region") and for
//!   a bus in another region ("Sending and receiving events between AWS Regions"); for a bus
//!   in another account of the same region it is required only when that account granted
//!   yours through an organization (PutPermission's documentation), so bridge accepts it
//!   without one there.
//! - an event is delivered to an event bus target only once: an event that arrived over a
//!   bus target is not forwarded to a further bus (`THIRD_ACCOUNT_HOP_DETECTED`; "EventBridge
//!   can't route events received from a sender event bus to a third event bus").
//! - `PutPermission` grants `events:PutEvents` to an account, or to `*` with an
//!   `aws:PrincipalOrgID` condition (an organization); a bare `*` would let every AWS
//!   account in, so bridge refuses it.

use std::fmt;

use crate::model::GranteeDecl;

/// Who a bus lets put events on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grantee {
    /// A 12-digit account id.
    Account(String),
    /// Every account of an AWS Organization (`o-…`).
    Organization(String),
    /// One IAM principal, by ARN.
    Principal(String),
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Account(a) => write!(f, "account {a}"),
            Grantee::Organization(o) => write!(f, "organization {o}"),
            Grantee::Principal(p) => write!(f, "principal {p}"),
        }
    }
}

impl Grantee {
    /// Reads a declared grant; `Err((message, fix))` for one bridge refuses.
    pub fn from_decl(decl: &GranteeDecl) -> Result<Grantee, (String, String)> {
        match decl {
            GranteeDecl::Organization(o) => {
                if is_organization_id(&o.organization) {
                    Ok(Grantee::Organization(o.organization.clone()))
                } else {
                    Err((
                        format!("`{}` is not an organization id", o.organization),
                        "use the id AWS Organizations shows, `o-` and 10–32 of a-z 0-9".into(),
                    ))
                }
            }
            GranteeDecl::Principal(p) if p == "*" => Err((
                "`*` would let every AWS account put events on this bus".into(),
                "name the accounts, or grant an organization: `{ \"organization\": \"o-…\" }`"
                    .into(),
            )),
            GranteeDecl::Principal(p) if is_account_id(p) => Ok(Grantee::Account(p.clone())),
            GranteeDecl::Principal(p) if principal_account(p).is_some() => {
                Ok(Grantee::Principal(p.clone()))
            }
            GranteeDecl::Principal(p) => Err((
                format!("`{p}` is neither an account id nor an IAM principal ARN"),
                "use a 12-digit account id, an ARN such as `arn:aws:iam::111122223333:role/sender`, \
                 or `{ \"organization\": \"o-…\" }`"
                    .into(),
            )),
        }
    }

    /// The account this grant admits as a whole (`arn:…:iam::ACCOUNT:root` is the account).
    pub fn account(&self) -> Option<&str> {
        match self {
            Grantee::Account(a) => Some(a),
            Grantee::Principal(p) if p.ends_with(":root") => principal_account(p),
            _ => None,
        }
    }

    /// The statement id part naming this grant (`[A-Za-z0-9-_]`, short): the account id,
    /// the organization id, or a hash of the principal ARN.
    pub fn sid_part(&self) -> String {
        match self {
            Grantee::Account(a) => format!("acct-{a}"),
            Grantee::Organization(o) => format!("org-{o}"),
            Grantee::Principal(p) => format!("arn-{:016x}", fnv1a(p.as_bytes())),
        }
    }
}

/// 64-bit FNV-1a: a stable, dependency-free name for a principal ARN in a statement id.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The account of an IAM principal ARN (`arn:<partition>:iam::<account>:<type>/<name>` or
/// `…:root`); `None` when it is not one.
pub fn principal_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (
            Some("arn"),
            Some(partition),
            Some("iam" | "sts"),
            Some(""),
            Some(account),
            Some(rest),
        ) if partition.starts_with("aws") && is_account_id(account) && !rest.is_empty() => {
            Some(account)
        }
        _ => None,
    }
}

/// An event bus ARN, split: `arn:<partition>:events:<region>:<account>:event-bus/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> BusArn<'a> {
    pub fn parse(arn: &'a str) -> Option<BusArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("events"), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let name = rest.strip_prefix("event-bus/")?;
        (partition.starts_with("aws")
            && !region.is_empty()
            && is_account_id(account)
            && crate::names::bus_name_problem(name).is_none())
        .then_some(BusArn {
            partition,
            region,
            account,
            name,
        })
    }
}

/// Whether `arn` is an IAM role ARN (`arn:<partition>:iam::<account>:role/<path/name>`).
pub fn is_role_arn(arn: &str) -> bool {
    principal_account(arn).is_some()
        && arn
            .splitn(6, ':')
            .nth(5)
            .is_some_and(|r| r.strip_prefix("role/").is_some_and(|n| !n.is_empty()))
}

/// Why a bus target needs a role it does not have, given where the rule runs; `None` when
/// AWS accepts it without one. `here` is `(account, region)`; either may be unknown.
pub fn missing_role(
    target_bus: &BusArn<'_>,
    here_account: Option<&str>,
    here_region: Option<&str>,
) -> Option<&'static str> {
    if here_region.is_some_and(|r| r != target_bus.region) {
        return Some("EventBridge puts events on a bus in another region only with an IAM role");
    }
    if here_account == Some(target_bus.account) {
        return Some(
            "EventBridge puts events on another bus of the same account only with an IAM role",
        );
    }
    None
}

/// Checks `buses` in the project file: names, duplicates, grants.
pub(crate) fn check_declared(
    path: &std::path::Path,
    file: &crate::model::ProjectFile,
    diags: &mut Vec<crate::Diagnostic>,
) {
    let mut push = |at: String, message: String, hint: String| {
        diags.push(crate::Diagnostic::new(path, at, message).hint(hint))
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, b) in file.buses.iter().enumerate() {
        let at = format!("$.buses[{i}]");
        if let Some(p) = crate::names::bus_name_problem(&b.name) {
            push(format!("{at}.name"), p, "rename the bus".into());
        }
        if !seen.insert(b.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("event bus `{}` is declared twice", b.name),
                "merge the declarations".into(),
            );
        }
        let mut grants = std::collections::BTreeSet::new();
        for (j, g) in b.allow_put_events_from.iter().enumerate() {
            let at = format!("{at}.allow_put_events_from[{j}]");
            match Grantee::from_decl(g) {
                Err((message, fix)) => push(at, message, fix),
                Ok(g) => {
                    if !grants.insert(g.clone()) {
                        push(
                            at,
                            format!("{g} is granted twice"),
                            "remove one of them".into(),
                        );
                    }
                }
            }
        }
    }
}

/// Checks a `{ "bus": … }` target of a rule on `rule_bus`; pushes `(JSON path under the
/// target, message, fix)` for each problem.
pub(crate) fn check_target(
    t: &crate::model::TargetDecl,
    rule_bus: &str,
    project: &crate::model::ProjectFile,
    mut push: impl FnMut(&str, String, String),
) {
    let Some(bus) = &t.bus else {
        return;
    };
    if let Some(role) = &t.role_arn {
        if !is_role_arn(role) {
            push(
                ".role_arn",
                format!("`{role}` is not an IAM role ARN"),
                "e.g. `arn:aws:iam::111122223333:role/bridge-forward`".into(),
            );
        }
    }
    let same_bus = |name: &str| name == rule_bus;
    if crate::names::is_arn(bus) {
        let Some(arn) = BusArn::parse(bus) else {
            push(
                ".bus",
                format!("`{bus}` is not an event bus ARN"),
                "use `arn:aws:events:<region>:<account>:event-bus/<name>`, or a bus declared under `buses`".into(),
            );
            return;
        };
        if t.role_arn.is_none() {
            if let Some(why) = missing_role(&arn, None, project.region.as_deref()) {
                push(
                    ".role_arn",
                    format!("{why} (the target is in {}, the project in {})", arn.region, project.region.as_deref().unwrap_or("?")),
                    "add `\"role_arn\"`: a role EventBridge may assume (trust `events.amazonaws.com`) allowed `events:PutEvents` on that bus".into(),
                );
            }
        }
    } else {
        let declared = bus == &project.bus || project.buses.iter().any(|b| &b.name == bus);
        if !declared {
            push(
                ".bus",
                format!("unknown event bus `{bus}`"),
                "declare it under `buses` in the project file, or give an event bus ARN".into(),
            );
        } else if same_bus(bus) {
            push(
                ".bus",
                format!("the rule is on `{bus}` itself"),
                "forward to another bus; a rule's own bus already sees the event".into(),
            );
        } else if t.role_arn.is_none() {
            push(
                ".role_arn",
                format!("EventBridge puts events on another bus of the same account only with an IAM role, and `{bus}` is this project's"),
                "add `\"role_arn\"`: a role EventBridge may assume (trust `events.amazonaws.com`) allowed `events:PutEvents` on that bus".into(),
            );
        }
    }
    if t.input.is_some() || t.input_path.is_some() || t.input_transformer.is_some() {
        push(
            "",
            "a bus target forwards the event itself; `input`, `input_path` and `input_transformer` do not apply".into(),
            "remove them, and shape the event on the receiving bus's rules".into(),
        );
    }
    if t.message_group_id.is_some() {
        push(
            ".message_group_id",
            "only FIFO destinations take a message group id".into(),
            "remove it".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OrganizationDecl;

    fn principal(s: &str) -> GranteeDecl {
        GranteeDecl::Principal(s.into())
    }

    #[test]
    fn grantees_are_read_and_a_bare_wildcard_is_refused() {
        assert_eq!(
            Grantee::from_decl(&principal("111122223333")),
            Ok(Grantee::Account("111122223333".into()))
        );
        let role = "arn:aws:iam::111122223333:role/sender";
        assert_eq!(
            Grantee::from_decl(&principal(role)),
            Ok(Grantee::Principal(role.into()))
        );
        let org = GranteeDecl::Organization(OrganizationDecl {
            organization: "o-abcdef1234".into(),
        });
        assert_eq!(
            Grantee::from_decl(&org),
            Ok(Grantee::Organization("o-abcdef1234".into()))
        );
        for bad in ["*", "11112222333", "arn:aws:s3:::bucket", "someone"] {
            assert!(Grantee::from_decl(&principal(bad)).is_err(), "{bad}");
        }
        let bad_org = GranteeDecl::Organization(OrganizationDecl {
            organization: "o-x".into(),
        });
        assert!(Grantee::from_decl(&bad_org).is_err());
        assert_eq!(
            Grantee::Principal("arn:aws:iam::111122223333:root".into()).account(),
            Some("111122223333")
        );
        assert_eq!(Grantee::Principal(role.into()).account(), None);
    }

    #[test]
    fn sid_parts_are_short_stable_and_distinct() {
        let a = Grantee::Principal("arn:aws:iam::111122223333:role/a".into()).sid_part();
        let b = Grantee::Principal("arn:aws:iam::111122223333:role/b".into()).sid_part();
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn bus_arns_parse_and_roles_are_required_where_aws_requires_them() {
        let arn = "arn:aws:events:eu-west-1:222233334444:event-bus/central";
        let bus = BusArn::parse(arn).expect("a bus ARN");
        assert_eq!(
            (bus.region, bus.account, bus.name),
            ("eu-west-1", "222233334444", "central")
        );
        assert!(BusArn::parse("arn:aws:sqs:eu-west-1:222233334444:q").is_none());
        assert!(BusArn::parse("arn:aws:events:eu-west-1:2222:event-bus/x").is_none());
        // Another account, same region: no role needed.
        assert!(missing_role(&bus, Some("111122223333"), Some("eu-west-1")).is_none());
        // Another region: needed, whoever owns it.
        assert!(missing_role(&bus, Some("111122223333"), Some("us-east-1")).is_some());
        // The same account: needed.
        assert!(missing_role(&bus, Some("222233334444"), Some("eu-west-1")).is_some());
        assert!(is_role_arn("arn:aws:iam::111122223333:role/forward"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/me"));
    }
}
