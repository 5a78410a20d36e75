//! The short fault campaign and a short scale scenario, as CI runs them: real `cohandle`
//! processes on PostgreSQL and RabbitMQ of the campaign's own (the shared services on
//! 5432/5672 are not touched), about two and three minutes, one after the other (two at
//! once on two cores would measure the machine, not the engine).
//!
//! The binary: `$COHANDLE_BIN` when set; otherwise this test builds it with cargo (a no-op
//! when it is fresh, e.g. after `cargo test --workspace`) into the same target directory.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cohandle_campaign::{Options, Profile, Report};

/// One campaign at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn campaign(profile: Profile, load: Option<Duration>) -> Report {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG")
                .unwrap_or_else(|_| "warn,lapin=off,cohandle_bus::connect=error".into()),
        )
        .with_test_writer()
        .try_init();
    let seed = std::env::var("COHANDLE_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261127);
    let _turn = ONE_AT_A_TIME.lock().await;
    let report = cohandle_campaign::run(Options {
        profile,
        binary: cohandle_testkit::binary::cohandle(),
        seed,
        load,
    })
    .await
    .unwrap();
    println!("{}", report.table());
    let f = &report.findings;
    assert_eq!(f.lost, 0, "events lost");
    assert_eq!(f.doubled, 0, "events doubled");
    assert_eq!(f.unauthorised, 0, "unauthorised successes");
    assert_eq!(f.unexpected, 0, "unexpected outcomes");
    assert_eq!(f.out_of_order, 0, "proposals applied out of the order sent");
    assert_eq!(f.gaps, 0, "history gaps");
    assert!(f.broken_chain.is_none(), "{:?}", f.broken_chain);
    assert_eq!(f.chains_verified, f.chains_total);
    assert!(report.hostile_bus > 0 && report.hostile_api > 0);
    assert!(report.events_applied > 0);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_short_campaign_loses_nothing_doubles_nothing_and_lets_no_one_in() {
    let report = campaign(Profile::Short, None).await;
    assert!(report.faults.worker_kills >= 20);
}

/// A broker node killed, a worker killed for good, a broker node cut off, the database's
/// primary killed and its replica promoted: each fault's inputs all applied once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_scenario_survives_a_node_a_worker_a_partition_and_a_failover() {
    let report = campaign(Profile::Scale, Some(Duration::from_secs(150))).await;
    let rows = report.scale.as_ref().unwrap();
    // Before the faults, each of the four done (or, without network namespaces, the
    // partition skipped with its reason), and what no input is behind.
    assert_eq!(rows.len(), 6, "{rows:?}");
    for row in &rows[1..5] {
        assert!(!row.detail.is_empty(), "{row:?}");
        assert!(
            !row.skipped || row.detail.starts_with("skipped:"),
            "{row:?}"
        );
    }
    for row in rows {
        assert_eq!(row.found, Default::default(), "{row:?}");
    }
}

/// The audit's own recomputation of the hash chains agrees with the engine's on intact
/// rows, and finds a row changed behind the engine's back.
#[tokio::test]
async fn the_audit_recomputes_every_chain_and_finds_a_changed_row() {
    use cohandle_testkit::{Backend, TestDb};
    use sea_orm::{ConnectionTrait, Database};

    let db = TestDb::new(Backend::Postgres).await;
    let clock = std::sync::Arc::new(cohandle_store::ManualClock::new(
        chrono::DateTime::UNIX_EPOCH,
    ));
    let engine = db.engine(clock.clone()).await;
    cohandle_testkit::agencies::register_all(&engine, cohandle_testkit::agencies::CASE_0942).await;
    for event in cohandle_workflows::cases::case_0942() {
        clock.set(event.occurred_at);
        engine
            .apply(event, cohandle_store::Source::Cli)
            .await
            .unwrap();
    }
    let conn = Database::connect(&db.url).await.unwrap();
    let intact = cohandle_campaign::audit::verify_chains(&conn)
        .await
        .unwrap();
    assert_eq!(intact.verified, 1, "{intact:?}");
    assert_eq!(intact.broken, None);

    conn.execute_unprepared("UPDATE history SET to_state = 'closed' WHERE seq = 2")
        .await
        .unwrap();
    let changed = cohandle_campaign::audit::verify_chains(&conn)
        .await
        .unwrap();
    assert_eq!(changed.verified, 0);
    assert!(
        changed
            .broken
            .as_deref()
            .is_some_and(|b| b.contains("row 2")),
        "{changed:?}"
    );
}
