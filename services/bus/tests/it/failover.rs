//! Publishers and consumers given several broker nodes (`amqp.url` as a list) connect to
//! the first that answers; a publisher whose connection is cut mid-stream publishes the
//! same messages again until each is confirmed, marked sent exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cohandle_bus::topology;
use cohandle_store::Source;
use cohandle_testkit::vhost::broker_host;
use lapin::options::{BasicAckOptions, BasicGetOptions};

use crate::support::*;

/// `amqp.url` listing first a node that does not answer (nothing listens on port 1), then
/// the test's broker.
fn dead_node_first(broker: &Broker) -> String {
    let live = broker.url();
    let dead = live.replacen(&broker_host(), "127.0.0.1:1", 1);
    assert_ne!(dead, live);
    format!("{dead},{live}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_given_a_dead_node_first_connect_to_the_live_one() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let mut options = worker_options(&broker, "test-worker");
    options.url = dead_node_first(&broker);
    let worker = spawn_worker(&engine, options);
    let relay = spawn_relay_with(&engine, relay_options(&dead_node_first(&broker)));

    let assigner = broker.agency("cq-zfbgt").await;
    let lead = broker.agency("cq-kjj").await;
    assigner.send(&case()[0]).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;
    lead.expect_notification("assign").await;
    assert_eq!(worker.stats.snapshot().sessions, 1);
    worker.stop().await;
    relay.stop().await;

    // Every node dead: a clear error naming the setting's problem, not a hang.
    let dead = dead_node_first(&broker)
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let error = cohandle_bus::connect::connect_url(&format!("{dead},{dead}"), "test-dead")
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_cut_off_mid_stream_gets_every_message_confirmed_and_marked_once() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine().await;
    // The outbox of forty proposals' cases, written straight through the engine.
    for n in 0..40 {
        for event in case_for(&format!("cq-5-3-relay-{n:02}")) {
            let outcome = engine.apply(event, Source::Bus).await.unwrap();
            assert!(outcome.is_applied(), "{outcome:?}");
        }
    }
    let total = outbox_count(&engine).await;
    assert!(total > 400, "{total}");

    let mut options = relay_options(&dead_node_first(&broker));
    options.page = 5;
    let relay = spawn_relay_with(&engine, options);
    // Cut off twice from the broker's side, mid-stream.
    let mut cuts = 0;
    for share in [10, 3] {
        eventually(
            Duration::from_secs(60),
            "the relay publishes its share",
            || async { relay.stats.published() >= total / share },
        )
        .await;
        if relay.stats.published() < total {
            cuts += broker.drop_connections("test-relay", true).await;
        }
    }
    eventually(
        Duration::from_secs(60),
        "every outbox row is confirmed and marked",
        || async { relay.stats.published() >= total },
    )
    .await;
    // Nothing marked twice: one confirm counted per row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.stats.published(), total);
    relay.stop().await;
    assert!(cuts >= 1, "the relay was cut off mid-stream");

    // Every message arrived; a copy of one arrives with the same message_id, which is how
    // consumers tell it for a duplicate.
    let (_connection, channel) = broker.operator().await;
    let mut queues: Vec<String> = AGENCIES
        .iter()
        .map(|(code, _)| topology::agency_queue(code))
        .collect();
    queues.push(topology::UNROUTED.to_owned());
    queues.push(topology::DEPUTIES_QUEUE.to_owned());
    let mut seen = HashSet::new();
    let mut copies = 0;
    for queue in &queues {
        let mut in_queue: HashMap<String, u32> = HashMap::new();
        while let Some(message) = channel
            .basic_get(queue, BasicGetOptions { no_ack: false })
            .await
            .unwrap()
        {
            message
                .delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .unwrap();
            let id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(ToString::to_string)
                .unwrap();
            *in_queue.entry(id.clone()).or_default() += 1;
            seen.insert(id);
        }
        copies += in_queue.values().map(|n| n - 1).sum::<u32>();
    }
    eprintln!("{total} outbox rows, {cuts} cut(s), {copies} copies seen by consumers");
    assert_eq!(seen.len() as u64, total);
}
