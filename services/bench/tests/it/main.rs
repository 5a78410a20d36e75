//! Smoke tests: every benchmark runs at a small size and reports sane figures. No timing
//! assertions: speed is judged by the printed figures, not by tests.

#![allow(clippy::unwrap_used)]

use cohandle_testkit::db::postgres_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_benchmark_decides_and_applies_every_event() {
    let workdir =
        std::env::temp_dir().join(format!("cohandle-bench-bus-test-{}", std::process::id()));
    let options = cohandle_bench::bus::Options {
        postgres: postgres_server(),
        amqp: vec![cohandle_testkit::vhost::broker_host()],
        management: "http://127.0.0.1:15672/api".to_owned(),
        binary: cohandle_testkit::binary::cohandle(),
        // Two, so that the standby's path is run too.
        workers: 2,
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
        // Every event writes at least its inbox row, and the inbox is indexed.
        let inbox = phase.writes.iter().find(|w| w.table == "inbox").unwrap();
        assert_eq!(inbox.inserted, phase.events as i64, "{:?}", phase.writes);
        assert!(phase.rows_per_event > 1.0, "{phase:?}");
        assert!(
            phase.index_entries_per_event >= phase.rows_per_event,
            "{phase:?}"
        );
        // Each partition has one active consumer, one of the two workers.
        assert_eq!(phase.workers.len(), 2);
        let mut held: Vec<u16> = phase
            .workers
            .iter()
            .flat_map(|w| w.partitions.clone())
            .collect();
        held.sort_unstable();
        assert_eq!(held, vec![0, 1, 2, 3], "{:?}", phase.workers);
        assert_eq!(phase.partition_leaders.len(), 4);
        assert!(phase.workers.iter().all(|w| w.cpu_seconds > 0.0));
    }
    assert!(report.sustained.latency_p50_ms.is_finite());
    assert!(report.raw_msgs_per_second > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_benchmark_fires_every_due_timer() {
    let report = cohandle_bench::timers::run(&postgres_server(), 3_000, 240, 2, 100)
        .await
        .unwrap();
    let fired = &report.outcome;
    assert!(
        fired.timers_fired >= 240,
        "every due timer fired: {fired:?}"
    );
    assert_eq!(fired.due_left_pending, 0, "no due timer left behind");
    assert_eq!(
        fired.timers_fired + fired.future_pending,
        3_000,
        "the future timers are untouched: {fired:?}"
    );
    assert_eq!(
        fired.timer_decisions, fired.timers_fired,
        "each fired timer has its decision recorded"
    );
    assert_eq!(
        fired.distinct_timer_decisions, fired.timer_decisions,
        "no timer fired twice"
    );
    assert!(report.fired_per_second > 0.0 && report.raw_claim_per_second > 0.0);
}

#[tokio::test]
async fn queries_and_raw_postgres_benchmarks_run() {
    let scratch = cohandle_testkit::db::ScratchDb::create(&postgres_server())
        .await
        .unwrap();
    let db = cohandle_store::connect::connect_and_migrate(&scratch.url)
        .await
        .unwrap();
    let raw = cohandle_bench::pg_raw::run(&db, 128).await.unwrap();
    assert!(raw.one_per_transaction_per_second > 0.0);
    let queries = cohandle_bench::queries::run(&db, 2_000, 3).await.unwrap();
    for latency in &queries.latencies {
        assert!(
            latency.p50_ms > 0.0 && latency.p99_ms >= latency.p50_ms,
            "{latency:?}"
        );
    }
    // Every page answered 200 through HTTP (the run fails otherwise), and each is reported.
    let pages: Vec<&str> = queries
        .latencies
        .iter()
        .filter(|l| l.query.starts_with("page "))
        .map(|l| l.query.as_str())
        .collect();
    assert_eq!(pages.len(), 14, "{pages:?}");
    assert!(pages.iter().any(|p| p.starts_with("page /statistics:")));
    let timeline = cohandle_store::queries::timeline(&db, "cq-5-3-0942")
        .await
        .unwrap();
    assert!(
        !timeline.is_empty(),
        "the timed timeline query reads the case's history"
    );
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
    assert_api_report(&report);
    assert!(report.engine_events_per_second.unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_benchmark_takes_every_step_once_through_http_into_postgres() {
    let report = cohandle_bench::api_postgres::run(&postgres_server(), 24, 8)
        .await
        .unwrap();
    assert_eq!(report.database, "postgres");
    assert_api_report(&report);
}

fn assert_api_report(report: &cohandle_bench::api_sqlite::Report) {
    assert!(report.events >= 24 * 2, "{report:?}");
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.before.group_commit_window_ms, 0);
    assert!(report.after.group_commit_window_ms > 0);
    for pass in [&report.before, &report.after] {
        assert_eq!(pass.refused, 0, "{report:?}");
        assert_eq!(pass.applied, report.events as u64, "{report:?}");
        assert!(
            pass.p50_ms > 0.0 && pass.p99_ms >= pass.p50_ms,
            "{report:?}"
        );
    }
}
