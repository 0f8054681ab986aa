//! Where the function binaries under test are, building them when needed.

use crate::{workspace_root, Result};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the function binaries: `E2E_FUNCTIONS_DIR` when set (the benchmark
/// points it at release builds), else the workspace's debug build, which this builds once per
/// process (`cargo build --workspace --bins`, the same feature set as `cargo test --workspace`,
/// so nothing is compiled twice).
pub fn functions_dir() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Ok(dir) = std::env::var("E2E_FUNCTIONS_DIR") {
                return Ok(PathBuf::from(dir));
            }
            let root = workspace_root();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--workspace", "--bins", "--quiet"])
                .current_dir(&root)
                .status()
                .map_err(|e| format!("cannot run cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build --workspace --bins failed: {status}"));
            }
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join("target"));
            Ok(target.join("debug"))
        })
        .clone()
        .map_err(Into::into)
}

pub fn function_binary(name: &str) -> Result<PathBuf> {
    let path = functions_dir()?.join(name);
    if !path.is_file() {
        return Err(format!("function binary {} not found", path.display()).into());
    }
    Ok(path)
}
