//! `cohandle demo` as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// `cohandle demo | head -1`: the reader goes away after the first line, while the demo
/// still has the case to replay and its timeline to print.
#[test]
fn a_reader_that_stops_early_ends_the_demo_quietly() {
    let db = std::env::temp_dir().join(format!("cohandle-demo-pipe-{}.db", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohandle"))
        .arg("demo")
        .env(
            "COHANDLE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cohandle starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("the first line");
    // The reader is dropped here: every later write meets a closed pipe.
    let output = child.wait_with_output().expect("cohandle ends");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.starts_with("Case 0942"), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}
