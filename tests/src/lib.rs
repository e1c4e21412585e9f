//! Support for the end-to-end tests in `tests/tests/`: they drive the real `bridge` binary.

pub mod moto;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `bridge` binary, built once per test process.
///
/// Cargo only exposes `CARGO_BIN_EXE_*` to tests of the package that owns the binary, so
/// this crate builds it itself (a no-op when it is already fresh) in the same target dir.
pub fn bridge_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ lives inside the workspace")
            .to_path_buf();
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "bridge", "--bin", "bridge"])
            .current_dir(&workspace)
            .status()
            .expect("run cargo build for the bridge binary");
        assert!(status.success(), "cargo build -p bridge failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    workspace.join(p)
                }
            })
            .unwrap_or_else(|| workspace.join("target"));
        let bin = target
            .join("debug")
            .join(format!("bridge{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "bridge binary not found at {}", bin.display());
        bin
    })
    .clone()
}

/// The repository root (for `examples/` and `../shared/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// `../shared/` beside the repository root.
pub fn shared_dir() -> PathBuf {
    repo_root().join("..").join("shared")
}
