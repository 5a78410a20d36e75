//! `cohandle-tools`, as a developer runs it: the benchmark suite at small sizes, against the
//! `cohandle` binary of the same build.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use cohandle_testkit::db::postgres_server;

/// `cohandle-tools bench --quick`: the whole suite in one run, as a user runs it, at small sizes.
#[test]
fn the_whole_suite_runs_in_one_command_and_writes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_cohandle-tools"))
        .env("COHANDLE_BIN", cohandle_testkit::binary::cohandle())
        .args([
            "bench",
            "--quick",
            "--postgres",
            &postgres_server(),
            "--json",
        ])
        .arg(&json)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for heading in [
        "The RabbitMQ door end to end",
        "SQLite and PostgreSQL through the API",
        "the supervisors' queries",
        "whole suite:",
    ] {
        assert!(stdout.contains(heading), "no {heading:?} in\n{stdout}");
    }
    let figures: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(figures["bus"]["raw_msgs_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(
        figures["bus"]["catch_up"]["applied"],
        figures["bus"]["events"]
    );
    for database in ["sqlite", "postgres"] {
        let api = &figures["api"][database];
        for pass in ["before", "after"] {
            assert_eq!(api[pass]["refused"], 0, "{database} {pass}: {api}");
            assert_eq!(
                api[pass]["applied"], api["events"],
                "{database} {pass}: {api}"
            );
        }
    }
    let latencies = figures["postgres"]["queries"]["latencies"]
        .as_array()
        .unwrap();
    assert!(!latencies.is_empty());
    for latency in latencies {
        assert!(latency["p50_ms"].as_f64().unwrap() > 0.0, "{latency}");
    }
}
