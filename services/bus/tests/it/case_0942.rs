//! Case 0942 end to end over the bus: the assigner and every agency publish as their own
//! RabbitMQ users, and each answers only after its task reached its own queue.

use std::time::Duration;

use cohandle_store::inspection;
use cohandle_store::{Engine, Source};

use crate::support::*;

const KEY: &str = "cq-5-3-0942";

/// The history as the engine writes it when the same events are applied directly.
pub async fn reference(events: Vec<cohandle_workflows::Event>) -> Vec<Step> {
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    for outcome in engine.apply_batch(events, Source::Cli).await.unwrap() {
        assert!(outcome.is_applied(), "{outcome:?}");
    }
    steps(&engine, None).await
}

/// One history row without its times and hashes.
pub type Step = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

pub async fn steps(engine: &Engine, key: Option<&str>) -> Vec<Step> {
    inspection::history(engine, key)
        .await
        .unwrap()
        .into_iter()
        .map(|h| {
            (
                h.proposal_key,
                h.seq,
                h.event_id,
                h.event_type,
                h.machine,
                h.agency,
                h.from_state,
                h.to_state,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_0942_goes_from_assignment_to_feedback_with_each_agency_on_its_own_queue() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let relay = spawn_relay(&engine, &broker);
    let assigner = broker.agency("cq-zfbgt").await;
    let lead = broker.agency("cq-kjj").await;
    let jw = broker.agency("cq-jw").await;
    let czj = broker.agency("cq-czj").await;
    let congress = broker.agency("cq-rdgw").await;
    let events = case();
    let by_id = |suffix: &str| {
        events
            .iter()
            .find(|e| e.id.as_str() == format!("{KEY}-{suffix}"))
            .unwrap()
    };

    assigner.send(by_id("assign")).await;
    // Each handler's task arrives on its own queue; each answers from there.
    let mut lead_saw = lead.expect_notification("assign").await;
    lead.send(by_id("sign-for")).await;
    jw.expect_notification("assign").await;
    jw.send(by_id("ack-jw")).await;
    czj.expect_notification("assign").await;
    czj.send(by_id("ack-czj")).await;
    jw.send(by_id("opinion-jw")).await;
    czj.send(by_id("opinion-czj")).await;
    // The lead hears both opinions before it drafts the reply.
    lead_saw.extend(lead.expect_notification("submit_opinion").await);
    lead_saw.extend(lead.expect_notification("submit_opinion").await);
    for step in ["contact", "draft", "sign", "reply"] {
        lead.send(by_id(step)).await;
    }
    // The congress office hears that the reply went out, and returns the deputy's receipt.
    congress.expect_notification("send_reply").await;
    congress.send(by_id("feedback")).await;
    lead_saw.extend(lead.expect_notification("record_feedback").await);
    // Every message carries its own id (consumers drop a copy by it) and its type.
    let ids: std::collections::BTreeSet<&str> =
        lead_saw.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), lead_saw.len());
    assert!(lead_saw.iter().all(|m| !m.message_id.is_empty()
        && m.kind == "cohandle.v1.Notification"
        && m.routing_key == "agency.cq-kjj"));
    lead.send(by_id("disclosure")).await;

    eventually(
        Duration::from_secs(30),
        "all 12 events are decided",
        || async { inbox_count(&engine).await == 12 },
    )
    .await;
    let decisions = inspection::decisions(&engine).await.unwrap();
    let refused: Vec<_> = decisions
        .iter()
        .filter(|d| d.outcome != "applied")
        .collect();
    assert!(refused.is_empty(), "refused: {refused:#?}");
    let sources: Vec<&str> = decisions.iter().map(|d| d.source.as_str()).collect();
    assert!(sources.iter().all(|s| *s == "bus"));

    // The same history as the engine writes for the same events applied directly.
    assert_eq!(steps(&engine, Some(KEY)).await, reference(case()).await);
    let verification = inspection::verify_history(&engine, None).await.unwrap();
    assert_eq!(verification.broken, None);
    let (proposal, _) = engine.load(KEY).await.unwrap().unwrap();
    assert_eq!(proposal.state, reference_state().await);

    // Every outbox row is published and marked sent (the relay counts a page once its
    // transaction has committed, so the count is awaited too).
    eventually(Duration::from_secs(20), "the outbox is drained", || async {
        inspection::counts(&engine).await.unwrap().outbox_unsent == 0
            && relay.stats.published() == outbox_count(&engine).await
            && worker.stats.snapshot().applied == 12
    })
    .await;
    assert_eq!(relay.stats.published(), outbox_count(&engine).await);
    let stats = worker.stats.snapshot();
    assert_eq!(
        (stats.applied, stats.rejected, stats.dead_lettered),
        (12, 0, 0)
    );
    worker.stop().await;
    relay.stop().await;
}

async fn reference_state() -> String {
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    engine.apply_batch(case(), Source::Cli).await.unwrap();
    engine.load(KEY).await.unwrap().unwrap().0.state
}

const CASE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/dev/bus/case-0942.json"
);

/// `deploy/dev/bus/case-0942.json` (for `cohandle emit`) is case 0942, envelope by envelope.
#[test]
fn the_shipped_case_file_is_case_0942_as_proto3_json() {
    let text = std::fs::read_to_string(CASE_FILE).unwrap();
    let envelopes: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let decoded: Vec<_> = envelopes
        .iter()
        .map(|e| {
            cohandle_proto::decode("application/json", &serde_json::to_vec(e).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(decoded, case());
}

/// Writes the file afresh: `cargo test -p cohandle-bus --test it -- --ignored write_case_file`.
#[test]
#[ignore]
fn write_case_file() {
    let envelopes: Vec<serde_json::Value> = case()
        .iter()
        .map(|e| serde_json::from_slice(&cohandle_proto::encode_json(e)).unwrap())
        .collect();
    let text = serde_json::to_string_pretty(&envelopes).unwrap() + "\n";
    std::fs::create_dir_all(std::path::Path::new(CASE_FILE).parent().unwrap()).unwrap();
    std::fs::write(CASE_FILE, text).unwrap();
}
