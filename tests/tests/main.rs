//! The integration tests of the `bridge` package, compiled as ONE test binary
//! (`cargo test -p bridge --test e2e`; one file's tests: `cargo test -p bridge --test e2e
//! serve::`). One binary links the AWS SDK and compiles `support/` once instead of once per
//! file (see docs/testing.md). Each file below is a module: add a new file here too — the
//! `every_test_file_is_a_module` test fails otherwise.
//!
//! The files named `*_cli`, `local_*`, `serve` and `ui_console` drive the real binary
//! (Cargo builds it for this target and hands its path over as `CARGO_BIN_EXE_bridge`); the
//! others (`consumer_local`, `normalize*`) test the `bridge` library.

#[path = "../support/mod.rs"]
mod support;

mod aws_cli;
mod aws_events_cli;
mod buses_cli;
mod consume_sqs;
mod consumer_local;
mod dlq_cli;
mod doctor_cli;
mod import_cli;
mod local_crash;
mod local_dev;
mod normalize;
mod normalize_cli;
mod normalize_s3_store;
mod normalize_schema;
mod pattern_cli;
mod replay_cli;
mod schedule_cli;
mod serve;
mod ui_console;
mod validate_cli;

/// Every `.rs` file in a merged test directory is declared as a module of its binary: a file
/// left out would compile into nothing and its tests would silently never run.
#[test]
fn every_test_file_is_a_module() {
    let root = support::repo_root();
    for (dir, main) in [
        ("tests/tests", include_str!("main.rs")),
        (
            "infra/tests/integration",
            include_str!("../../infra/tests/integration/main.rs"),
        ),
        (
            "patterns/tests/integration",
            include_str!("../../patterns/tests/integration/main.rs"),
        ),
        (
            "rules/tests/integration",
            include_str!("../../rules/tests/integration/main.rs"),
        ),
    ] {
        let declared: Vec<&str> = main
            .lines()
            .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
            .collect();
        for entry in std::fs::read_dir(root.join(dir)).expect("read test dir") {
            let path = entry.expect("dir entry").path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
                assert!(
                    declared.contains(&stem),
                    "{dir}/{stem}.rs is not declared in {dir}/main.rs: add `mod {stem};`"
                );
            }
        }
    }
}
