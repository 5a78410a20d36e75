//! Smoke tests: every benchmark runs at a small size and reports sane figures. No timing
//! assertions: speed is judged by the printed figures, not by tests.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_benchmark_decides_and_applies_every_event() {
    let workdir =
        std::env::temp_dir().join(format!("cohandle-bench-bus-test-{}", std::process::id()));
    let options = cohandle_bench::bus::Options {
        postgres: postgres_server(),
        amqp: std::env::var("COHANDLE_TEST_AMQP_HOST")
            .unwrap_or_else(|_| "127.0.0.1:5672".to_owned()),
        management: "http://127.0.0.1:15672/api".to_owned(),
        binary: cohandle_campaign::children::test_binary(),
        proposals: 30,
        naive_proposals: 10,
        raw_messages: 500,
        in_flight: 16,
        confirm_window: 64,
        workdir,
        log_statements: false,
    };
    let report = cohandle_bench::bus::run(&options).await.unwrap();
    assert!(
        report.events >= 30 * 6,
        "every proposal has at least six steps"
    );
    assert_eq!(report.naive_applied, report.naive_events);
    for phase in [&report.sustained, &report.half_load, &report.catch_up] {
        assert_eq!(
            phase.events, report.events,
            "the same workload in each phase"
        );
        assert_eq!(
            phase.undecided, 0,
            "every published event has its inbox row"
        );
        assert_eq!(
            phase.rejected, 0,
            "the plans are valid, so nothing is refused"
        );
        assert_eq!(phase.applied, phase.events);
        assert_eq!(phase.dead_letters, 0);
        assert!(
            phase.worker_peak_rss_mib > 0.0,
            "the worker's VmHWM was read"
        );
    }
    assert!(report.sustained.latency_p50_ms.is_finite());
    assert!(report.raw_msgs_per_second > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_benchmark_fires_every_due_timer() {
    let report = cohandle_bench::timers::run(&postgres_server(), 3_000, 240, 2, 100)
        .await
        .unwrap();
    assert_eq!(report.due, 240);
    assert_eq!(report.pending, 3_000);
    assert!(report.fired_per_second > 0.0 && report.raw_claim_per_second > 0.0);
}

#[tokio::test]
async fn queries_and_raw_postgres_benchmarks_run() {
    let scratch = cohandle_bench::scratch::ScratchDb::create(&postgres_server())
        .await
        .unwrap();
    let db = cohandle_store::connect::connect_and_migrate(&scratch.url)
        .await
        .unwrap();
    let raw = cohandle_bench::pg_raw::run(&db, 128).await.unwrap();
    assert!(raw.one_per_transaction_per_second > 0.0);
    let queries = cohandle_bench::queries::run(&db, 2_000, 3).await.unwrap();
    assert_eq!(queries.latencies.len(), 7);
    let stats = cohandle_store::queries::statistics(&db, None)
        .await
        .unwrap();
    assert_eq!(
        stats.handler_tasks,
        2_000 + 1,
        "the seeded leads and the case's lead"
    );
    assert_eq!(
        cohandle_store::statistics::counters(&db, None)
            .await
            .unwrap(),
        cohandle_store::statistics::recount_counters(&db, None)
            .await
            .unwrap(),
        "the counters are rebuilt from the seeded rows"
    );
    scratch.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_benchmark_takes_every_step_once_through_http_into_sqlite() {
    let report = cohandle_bench::api_sqlite::run(24, 4).await.unwrap();
    assert!(report.events >= 24 * 2, "{report:?}");
    assert_eq!(report.refused, 0);
    assert_eq!(report.applied, report.events as u64);
    assert!(report.p50_ms > 0.0 && report.p99_ms >= report.p50_ms);
    assert!(report.engine_events_per_second > 0.0);
}

/// `cohandle bench --quick`: the whole suite in one run, as a user runs it, at small sizes.
#[test]
fn the_whole_suite_runs_in_one_command_and_writes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::new(cohandle_campaign::children::test_binary())
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
        "SQLite through the API",
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
    assert_eq!(figures["api_sqlite"]["refused"], 0);
    assert_eq!(
        figures["api_sqlite"]["applied"],
        figures["api_sqlite"]["events"]
    );
    assert_eq!(
        figures["postgres"]["queries"]["latencies"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}
