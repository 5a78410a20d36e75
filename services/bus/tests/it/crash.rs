//! Crashes and lost connections: no transition lost, none applied twice.

use std::time::Duration;

use crate::case_0942::{reference, steps, Step};
use crate::support::*;

const PROPOSALS: usize = 20;

/// Case 0942 for `PROPOSALS` proposals, published step by step (every proposal's first
/// event, then every proposal's second, …), each by its own agency's user.
async fn publish_all(broker: &Broker, keys: &[String]) {
    let mut agencies = Vec::new();
    for (code, _) in AGENCIES {
        agencies.push(broker.agency(code).await);
    }
    let cases: Vec<_> = keys.iter().map(|k| case_for(k)).collect();
    for step in 0..cases[0].len() {
        for events in &cases {
            let event = &events[step];
            let agency = agencies
                .iter()
                .find(|a| a.code == event.actor.agency.as_str())
                .unwrap();
            agency.send(event).await;
        }
    }
}

/// The expected history of proposal `key`: the reference run of case 0942 with its key and
/// ids moved.
fn moved(reference: &[Step], key: &str) -> Vec<Step> {
    reference
        .iter()
        .cloned()
        .map(|mut s| {
            s.0 = key.to_owned();
            s.2 = format!("{key}:{}", s.2);
            s
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_batch_and_restarted_loses_and_doubles_nothing() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine().await;
    let keys: Vec<String> = (0..PROPOSALS)
        .map(|n| format!("cq-5-3-crash-{n:02}"))
        .collect();
    let total = (PROPOSALS * case().len()) as u64;
    let publishing = publish_all(&broker, &keys);

    // Killed twice, at different points, while events keep arriving.
    let mut killed = 0;
    let kill_at = [total / 5, total / 2];
    let mut generation = 0;
    let mut worker = spawn_worker(
        &engine,
        worker_options(&broker, &format!("test-worker-{generation}")),
    );
    tokio::pin!(publishing);
    let mut published = false;
    let mut all_stats = Vec::new();
    loop {
        tokio::select! {
            () = &mut publishing, if !published => published = true,
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        let decided = inbox_count(&engine).await;
        if killed < kill_at.len() && decided >= kill_at[killed] {
            // A crash: the process is gone (task aborted, its transaction rolled back or
            // committed unacknowledged) and its socket with it (lapin closes a dropped
            // connection; should it linger, the broker closes it here). The successor
            // starts once the broker has taken back the crashed worker's deliveries: a
            // consumer already waiting when they return would get later messages first
            // (see ARCHITECTURE.md, "Ordering").
            all_stats.push(worker.stats.clone());
            worker.abort();
            broker
                .drop_connections(&format!("test-worker-{generation}"), false)
                .await;
            broker.wait_partitions_unconsumed(4).await;
            killed += 1;
            generation += 1;
            worker = spawn_worker(
                &engine,
                worker_options(&broker, &format!("test-worker-{generation}")),
            );
        }
        if published && decided == total {
            break;
        }
        assert!(decided <= total);
    }
    assert_eq!(killed, 2);

    let counts = cohandle_store::inspection::counts(&engine).await.unwrap();
    let not_applied = counts.decisions - counts.applied;
    assert_eq!(
        not_applied, 0,
        "every event applied, none refused for being out of order"
    );
    let reference = reference(case()).await;
    let mut expected: Vec<Step> = keys.iter().flat_map(|k| moved(&reference, k)).collect();
    expected.sort();
    let mut actual = steps(&engine, None).await;
    actual.sort();
    assert_eq!(actual.len(), expected.len());
    let differing: Vec<_> = actual
        .iter()
        .zip(&expected)
        .filter(|(a, e)| a != e)
        .take(6)
        .collect();
    let seen: Vec<_> = all_stats.iter().map(|s| s.snapshot()).collect();
    assert!(
        differing.is_empty(),
        "(actual, expected): {differing:#?} {seen:?} {:?}",
        worker.stats.snapshot()
    );
    assert_eq!(
        cohandle_store::inspection::verify_history(&engine, None)
            .await
            .unwrap()
            .broken,
        None
    );
    // What the workers saw: a worker killed between its commit and its ack never counted
    // that batch, whose redelivered copies its successor found as duplicates. The database
    // above is the proof; these counts show which crash points the run hit.
    all_stats.push(worker.stats.clone());
    let applied: u64 = all_stats.iter().map(|s| s.snapshot().applied).sum();
    let duplicates: u64 = all_stats.iter().map(|s| s.snapshot().duplicates).sum();
    let rejected: u64 = all_stats.iter().map(|s| s.snapshot().rejected).sum();
    eprintln!(
        "applied {applied}, duplicates {duplicates}, rejected {rejected} over {} workers",
        all_stats.len()
    );
    assert_eq!(rejected, 0);
    assert!(applied + duplicates >= total);
    worker.stop().await;
    for n in 0..4 {
        assert_eq!(
            broker
                .ready(&cohandle_bus::topology::partition_queue(n))
                .await,
            0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_broker_connection_is_reestablished_and_work_carries_on() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let assigner = broker.agency("cq-zfbgt").await;
    let lead = broker.agency("cq-kjj").await;
    let events = case();
    assigner.send(&events[0]).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;
    assert_eq!(worker.stats.snapshot().sessions, 1);

    assert!(broker.drop_connections("test-worker", true).await > 0);
    lead.send(&events[1]).await;
    eventually(
        Duration::from_secs(30),
        "the worker reconnects and applies the next event",
        || async { inbox_count(&engine).await == 2 },
    )
    .await;
    assert!(worker.stats.snapshot().sessions >= 2);
    assert_eq!(
        steps(&engine, None).await,
        reference(events[..2].to_vec()).await
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_database_is_down_the_batch_is_held_unacknowledged_then_applied() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let assigner = broker.agency("cq-zfbgt").await;
    let lead = broker.agency("cq-kjj").await;
    let events = case();
    assigner.send(&events[0]).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;

    db.go_down().await;
    lead.send(&events[1]).await;
    // The worker has it and holds it: not acknowledged, not sent anywhere else.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in 0..4 {
        let queue = cohandle_bus::topology::partition_queue(n);
        assert_eq!(broker.ready(&queue).await, 0, "{queue} holds nothing ready");
    }
    let stats = worker.stats.snapshot();
    assert_eq!(
        (stats.applied, stats.retried, stats.dead_lettered),
        (1, 0, 0)
    );
    assert_eq!(broker.ready(cohandle_bus::topology::RETRY_QUEUE).await, 0);

    db.come_back().await;
    // The worker counts an event once its transaction has committed, so both are awaited.
    eventually(
        Duration::from_secs(30),
        "the held event is applied",
        || async { inbox_count(&engine).await == 2 && worker.stats.snapshot().applied == 2 },
    )
    .await;
    let stats = worker.stats.snapshot();
    assert_eq!(
        (stats.applied, stats.retried, stats.dead_lettered),
        (2, 0, 0)
    );
    assert_eq!(
        steps(&engine, None).await,
        reference(events[..2].to_vec()).await
    );
    worker.stop().await;
}
