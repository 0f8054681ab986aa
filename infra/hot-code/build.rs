//! The build script of every function crate (each `Cargo.toml` names this file).
//!
//! A process's resident memory is mostly its binary's code: the kernel maps up to 64 KB of the
//! file around every page a process touches, and the code one function runs is spread over the
//! whole `.text` of its 8 MB binary. In release builds this places the functions that a run
//! executes together, ahead of the rest, by the linker script `hot-code.ld` beside the crate's
//! `Cargo.toml` (an `INSERT BEFORE .text` script, read by LLD through zig, as cargo lambda and
//! `sam build` link, and by LLD directly). `infra/hot-code.sh` writes those scripts from traces of
//! the benchmark's runs. A function missing from a script is only placed with the rest: a stale
//! script costs memory, never correctness.
//!
//! With `HOT_CODE_MAP_DIR` set (by `infra/hot-code.sh` only), the linker also writes its map
//! there, which names the function at every address of the traced binary.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=HOT_CODE_MAP_DIR");
    let (Ok(crate_dir), Ok(name)) = (env::var("CARGO_MANIFEST_DIR"), env::var("CARGO_PKG_NAME"))
    else {
        return;
    };
    let script = Path::new(&crate_dir).join("hot-code.ld");
    // Watching a file that does not exist would rerun this script, and relink, on every build;
    // the crate's directory changes when a script is added.
    if script.exists() {
        println!("cargo:rerun-if-changed=hot-code.ld");
    } else {
        println!("cargo:rerun-if-changed=.");
    }
    if env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    if script.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
    if let Ok(map_dir) = env::var("HOT_CODE_MAP_DIR") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map_dir}/{name}.map");
    }
}
