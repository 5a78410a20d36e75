//! Smoke tests: every benchmark runs at a small size and reports sane figures. No timing
//! assertions: speed is judged by the printed figures, not by tests.

#![allow(clippy::unwrap_used)]

fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_benchmark_fires_every_due_timer() {
    let report = cohandle_bench::timers::run(&postgres_server(), 3_000, 240, 2)
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
    assert_eq!(queries.latencies.len(), 5);
    let stats = cohandle_store::queries::statistics(&db, None)
        .await
        .unwrap();
    assert_eq!(
        stats.handler_tasks,
        2_000 + 1,
        "the seeded leads and the case's lead"
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
