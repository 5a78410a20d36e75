//! The `cohandle` binary for a test that runs it.

use std::path::{Path, PathBuf};

/// `$COHANDLE_BIN` when set; otherwise built with cargo (a no-op when it is fresh, e.g.
/// after `cargo test --workspace`) into the calling test's target directory.
pub fn cohandle() -> PathBuf {
    if let Ok(bin) = std::env::var("COHANDLE_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = std::process::Command::new(cargo)
        .args(["build", "-p", "cohandle-cli", "--bin", "cohandle"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .is_ok_and(|status| status.success());
    assert!(built, "cargo build -p cohandle-cli failed");
    // A test runs from <target>/debug/deps/; the binary is in <target>/debug/.
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("<target>/debug/deps/")
        .join(format!("cohandle{}", std::env::consts::EXE_SUFFIX))
}
