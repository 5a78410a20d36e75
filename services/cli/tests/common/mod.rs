//! What the command-line tests share: running `cohandle` on a SQLite file of the test's own.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cohandle ARGS` with `database.url` set to the SQLite file `db`.
pub fn cohandle(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .args(args)
        .env(
            "COHANDLE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .output()
        .expect("cohandle runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
