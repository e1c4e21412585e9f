//! Who may put events on a local bus (`allow_put_events_from`), and the check
//! `put-event --local --account ID` goes through — so a cross-account set-up can be tried
//! without AWS. The local account itself may always put events on its own buses.
//!
//! Organizations do not exist locally: an organization grant is kept (and planned like on
//! AWS) but admits no `--account`, since the local state cannot tell which accounts belong
//! to it.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use super::store::Store;
use super::{LocalError, Result};
use rules::buses::Grantee;

fn encode(g: &Grantee) -> String {
    match g {
        Grantee::Account(a) => format!("account:{a}"),
        Grantee::Organization(o) => format!("organization:{o}"),
        Grantee::Principal(p) => format!("principal:{p}"),
    }
}

fn decode(s: &str) -> Option<Grantee> {
    let (kind, value) = s.split_once(':')?;
    let value = value.to_string();
    match kind {
        "account" => Some(Grantee::Account(value)),
        "organization" => Some(Grantee::Organization(value)),
        "principal" => Some(Grantee::Principal(value)),
        _ => None,
    }
}

impl Store {
    /// Replaces a bus's grants (the bus must exist).
    pub fn set_bus_grants(&mut self, bus: &str, grants: &[Grantee]) -> Result<()> {
        self.write(|tx, _| {
            let n: i64 =
                tx.query_row("SELECT COUNT(*) FROM buses WHERE name = ?1", [bus], |r| {
                    r.get(0)
                })?;
            if n == 0 {
                return Err(LocalError::NoSuchBus(bus.to_string()));
            }
            tx.execute("DELETE FROM bus_grants WHERE bus = ?1", [bus])?;
            for g in grants {
                tx.execute(
                    "INSERT OR IGNORE INTO bus_grants (bus, grantee) VALUES (?1, ?2)",
                    params![bus, encode(g)],
                )?;
            }
            Ok(())
        })
    }

    /// Every bus's grants (buses without grants are left out), sorted.
    pub fn list_bus_grants(&mut self) -> Result<BTreeMap<String, Vec<Grantee>>> {
        self.read(|tx, _| {
            let mut stmt =
                tx.prepare("SELECT bus, grantee FROM bus_grants ORDER BY bus, grantee")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out: BTreeMap<String, Vec<Grantee>> = BTreeMap::new();
            for row in rows {
                let (bus, grantee) = row?;
                if let Some(g) = decode(&grantee) {
                    out.entry(bus).or_default().push(g);
                }
            }
            for grants in out.values_mut() {
                grants.sort();
            }
            Ok(out)
        })
    }
}

/// Whether `account` may put events on `bus`: the local account always, another one when
/// the bus grants it (its account id, or its `root` principal).
pub(crate) fn may_put_events(
    tx: &Connection,
    local_account: &str,
    bus: &str,
    account: &str,
) -> Result<bool> {
    if account == local_account {
        return Ok(true);
    }
    let mut stmt = tx.prepare_cached("SELECT grantee FROM bus_grants WHERE bus = ?1")?;
    let rows = stmt.query_map([bus], |r| r.get::<_, String>(0))?;
    for row in rows {
        if decode(&row?).is_some_and(|g| g.account() == Some(account)) {
            return Ok(true);
        }
    }
    Ok(false)
}
