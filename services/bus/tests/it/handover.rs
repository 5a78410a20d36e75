//! A standby worker takes a partition over while events are in flight: the broker hands it
//! later events of a proposal before the earlier ones its predecessor never acknowledged,
//! and the engine holds each such event until the step it depends on is in. Nothing is
//! replayed by hand.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cohandle_store::held;
use cohandle_workflows::Event;

use crate::case_0942::{reference, steps, Step};
use crate::support::*;

const PROPOSALS: usize = 20;

/// An event's change of a machine: (event, machine, the task's agency).
type Change = (String, String, Option<String>);
/// A machine of a proposal: (machine, the task's agency).
type Machine = (String, Option<String>);

/// A proposal's history as the set of its changes by event (event, machine, task), and the
/// state each machine ended in: what must be the same however independent steps of
/// different senders interleave (the two co-handlers' acknowledgements have no order
/// between them, nor the lead's disclosure and the congress office's feedback receipt).
fn changes(steps: &[Step]) -> (Vec<Change>, BTreeMap<Machine, String>) {
    let mut changes: Vec<_> = steps
        .iter()
        .map(|s| (s.3.clone(), s.4.clone(), s.5.clone()))
        .collect();
    changes.sort();
    let mut ordered: Vec<&Step> = steps.iter().collect();
    ordered.sort_by_key(|s| s.1);
    let ended = ordered
        .into_iter()
        .map(|s| ((s.4.clone(), s.5.clone()), s.7.clone()))
        .collect();
    (changes, ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standby_takes_over_a_partition_in_flight_and_every_event_is_applied_in_order() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine().await;
    let keys: Vec<String> = (0..PROPOSALS)
        .map(|n| format!("cq-5-3-handover-{n:02}"))
        .collect();
    let cases: Vec<Vec<Event>> = keys.iter().map(|k| case_for(k)).collect();
    let total = cases.iter().map(Vec::len).sum::<usize>() as u64;

    // Every proposal's events, each published in its order by its own agency, step by step
    // across the proposals, wait in the partition queues.
    let mut agencies = Vec::new();
    for (code, _) in AGENCIES {
        agencies.push(broker.agency(code).await);
    }
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

    // The active worker subscribes first and takes a batch of each partition, whose commit
    // waits on a slow database, with more deliveries prefetched behind it; the standby
    // subscribes to every partition too and waits (single active consumer).
    let slow = db.hold_writes("inbox").await;
    let active = spawn_worker(&engine, worker_options(&broker, "test-worker-active"));
    broker.wait_partitions_consumed_by(4, 1).await;
    let standby = spawn_worker(&engine, worker_options(&broker, "test-worker-standby"));
    broker.wait_partitions_consumed_by(4, 2).await;

    // Mid-stream the active worker is stopped (SIGTERM, as a rolling update or a scale-down
    // stops it): it finishes the batches in hand and cancels its consumers, which activates
    // the standby at once, and closes its connection without acknowledging the deliveries
    // it had not come to, which the broker hands back behind the later events the standby
    // already has.
    let active_stats = active.stats.clone();
    let stopping = tokio::spawn(active.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    slow.release().await;
    stopping.await.unwrap();
    let handed_over = inbox_count(&engine).await;
    assert!(
        handed_over < total / 2,
        "{handed_over} of {total} decided before the handover"
    );

    eventually(
        Duration::from_secs(60),
        "the standby has applied every event",
        || async {
            cohandle_store::inspection::counts(&engine)
                .await
                .unwrap()
                .applied
                == total
        },
    )
    .await;

    let took_over = standby.stats.snapshot();
    eprintln!(
        "active: {:?}; standby: {took_over:?}",
        active_stats.snapshot()
    );
    assert!(
        took_over.held > 0,
        "the standby was handed later events before earlier ones, and held them"
    );
    let counts = cohandle_store::inspection::counts(&engine).await.unwrap();
    assert_eq!(
        counts.decisions, total,
        "every event decided once, and applied: none refused, none still held"
    );
    assert!(held::list(&engine, &held::Filter::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(took_over.rejected + active_stats.snapshot().rejected, 0);
    assert_eq!(took_over.dead_lettered, 0);

    // Each proposal went through the same changes as case 0942 applied in order, each
    // event after the steps it depends on, each sender's events in the order it sent them,
    // and its hash chain holds.
    let reference = reference(case()).await;
    let final_state = reference
        .iter()
        .rev()
        .find(|s| s.4 == "proposal")
        .map(|s| s.7.clone())
        .unwrap();
    let published_order: HashMap<&str, usize> = cases
        .iter()
        .flat_map(|events| events.iter().enumerate().map(|(n, e)| (e.id.as_str(), n)))
        .collect();
    for (key, events) in keys.iter().zip(&cases) {
        let history = steps(&engine, Some(key)).await;
        assert_eq!(changes(&history), changes(&reference), "{key}");
        let mut applied: Vec<&str> = Vec::new();
        for step in &history {
            if applied.last() != Some(&step.2.as_str()) && !applied.contains(&step.2.as_str()) {
                applied.push(step.2.as_str());
            }
        }
        for sender in events.iter().map(|e| e.actor.agency.as_str()) {
            let order: Vec<usize> = applied
                .iter()
                .filter(|id| {
                    events
                        .iter()
                        .any(|e| e.id.as_str() == **id && e.actor.agency.as_str() == sender)
                })
                .map(|id| published_order[id])
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "{key}: {sender}'s events applied as {order:?}"
            );
        }
        let (proposal, _) = engine.load(key).await.unwrap().unwrap();
        assert_eq!(proposal.state, final_state, "{key}");
    }
    assert_eq!(
        cohandle_store::inspection::verify_history(&engine, None)
            .await
            .unwrap()
            .broken,
        None
    );
    standby.stop().await;
    for n in 0..4 {
        assert_eq!(
            broker
                .ready(&cohandle_bus::topology::partition_queue(n))
                .await,
            0
        );
    }
}
