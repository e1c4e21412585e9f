//! What the end-to-end tests in `tests/tests/` share. They are integration tests of the
//! `bridge` package (see `bridge/Cargo.toml`), so Cargo builds the binary they drive and
//! hands them its path.
#![allow(dead_code)]

pub mod moto;
pub mod tail;

use std::path::PathBuf;

/// The `bridge` binary Cargo built for these tests.
pub fn bridge_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bridge"))
}

/// The repository root (for `examples/` and `../shared/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bridge/ lives inside the workspace")
        .to_path_buf()
}

/// `../shared/` beside the repository root.
pub fn shared_dir() -> PathBuf {
    repo_root().join("..").join("shared")
}
