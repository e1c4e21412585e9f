//! What the local-backend tests share.
#![allow(dead_code)]

use infra::local::{
    Clock, Config, ReceiveRequest, ReceivedMessage, RuleSpec, RuleState, Store, TargetSpec,
};

/// The tests' fixed "now" (the manual clock of [`store`]).
pub const NOW: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

/// A fresh store in a temporary directory (kept alive by the returned guard), default
/// settings, its clock stopped at [`NOW`].
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_with(
        dir.path().join("state"),
        Config::default(),
        Clock::manual(NOW),
    )
    .expect("open");
    (dir, store)
}

/// An enabled rule `name` on the default bus with `pattern` and `targets`.
pub fn rule(s: &mut Store, name: &str, pattern: &str, targets: &[TargetSpec]) {
    s.put_rule(&RuleSpec {
        bus: "default".into(),
        name: name.into(),
        pattern: Some(pattern.into()),
        schedule: None,
        state: RuleState::Enabled,
        description: None,
    })
    .expect("rule");
    s.put_targets("default", name, targets).expect("targets");
}

/// Receives and deletes everything `q` holds now; returns it in receive order.
pub fn drain(s: &mut Store, q: &str) -> Vec<ReceivedMessage> {
    let mut all = Vec::new();
    loop {
        let got = s
            .receive_messages(q, ReceiveRequest::default())
            .expect("receive");
        if got.is_empty() {
            return all;
        }
        for m in &got {
            s.delete_message(q, &m.receipt_handle).expect("delete");
        }
        all.extend(got);
    }
}
