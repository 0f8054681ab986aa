//! The end-to-end harness: real function binaries, run through the Lambda Runtime API, against
//! moto server. Used by the tests in `tests/tests/`, the local demo and the benchmark.

pub mod binaries;
pub mod certificates;
pub mod inbox;
pub mod moto;
pub mod rotation;
pub mod runtime;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;
