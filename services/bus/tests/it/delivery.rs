//! What the worker does with duplicates, out-of-order events, malformed bodies and senders
//! that claim to be someone else.

use std::time::Duration;

use cohandle_bus::dead_letter;
use cohandle_bus::identity::Directory;
use cohandle_bus::publish::{publish_inbound, Inbound};
use cohandle_bus::replay::{self, Correction, Replayed, Which};
use cohandle_proto::{ContentType, RejectedReason};
use cohandle_store::dead_letters::Filter;
use cohandle_store::{bus_door, inspection};
use cohandle_workflows::RejectionCode;

use crate::case_0942::reference;
use crate::support::*;

pub(crate) fn event(suffix: &str) -> cohandle_workflows::Event {
    case()
        .into_iter()
        .find(|e| e.id.as_str() == format!("cq-5-3-0942-{suffix}"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_delivery_is_acknowledged_and_changes_nothing_twice() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let assigner = broker.agency("cq-zfbgt").await;
    let jw = broker.agency("cq-jw").await;

    // Twice in a row (likely one batch), then again later (another batch).
    assigner.send(&event("assign")).await;
    assigner.send(&event("assign")).await;
    jw.send(&event("ack-jw")).await;
    eventually(
        Duration::from_secs(20),
        "both events are decided",
        || async { inbox_count(&engine).await == 2 },
    )
    .await;
    jw.send(&event("ack-jw")).await;
    assigner.send(&event("assign")).await;
    eventually(
        Duration::from_secs(20),
        "every copy is acknowledged",
        || async {
            let s = worker.stats.snapshot();
            s.applied + s.duplicates == 5
        },
    )
    .await;

    let stats = worker.stats.snapshot();
    assert_eq!((stats.applied, stats.duplicates, stats.rejected), (2, 3, 0));
    assert_eq!(
        crate::case_0942::steps(&engine, None).await,
        reference(vec![event("assign"), event("ack-jw")]).await
    );
    for n in 0..4 {
        assert_eq!(
            broker
                .ready(&cohandle_bus::topology::partition_queue(n))
                .await,
            0
        );
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_before_its_assignment_is_refused_kept_and_replayed_once() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    // An engine that holds nothing refuses at once what a holding one refuses when the
    // event's window ends: the refusal, its answer and its replay are the same.
    let engine = db.engine().await.with_hold_window(Duration::ZERO);
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let relay = spawn_relay(&engine, &broker);
    let assigner = broker.agency("cq-zfbgt").await;
    let jw = broker.agency("cq-jw").await;

    // 市教委's acknowledgement overtakes the assignment.
    jw.send(&event("ack-jw")).await;
    eventually(
        Duration::from_secs(20),
        "the early event is decided",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;
    let refused = bus_door::decision(&engine, "cq-5-3-0942-ack-jw")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (refused.outcome.as_str(), refused.code.as_deref()),
        ("rejected", Some("unknown_proposal"))
    );
    // Its sender hears why, on its own queue.
    let notice = jw.receive(Duration::from_secs(20)).await.unwrap();
    assert_eq!(notice.kind, "cohandle.v1.Rejected");
    let rejected = cohandle_proto::decode_rejected(&notice.content_type, &notice.body).unwrap();
    assert!(
        matches!(rejected.reason, RejectedReason::Refused(r) if r.code == RejectionCode::UnknownProposal)
    );
    assert_eq!(history_count(&engine).await, 0);

    // Parked: listed as waiting for its proposal.
    let parked = replay::parked(&engine, &Filter::default()).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(!parked[0].proposal_exists);

    assigner.send(&event("assign")).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 2 },
    )
    .await;
    assert!(replay::parked(&engine, &Filter::default()).await.unwrap()[0].proposal_exists);

    let result = replay::refused(&engine, "cq-5-3-0942-ack-jw")
        .await
        .unwrap();
    assert!(
        matches!(&result, Replayed::Applied { event_id, .. } if event_id == "cq-5-3-0942-ack-jw/replay-1"),
        "{result:?}"
    );
    // The history names the replay, and the inbox says where it came from.
    let rows: Vec<_> = inspection::history(&engine, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event_id == "cq-5-3-0942-ack-jw/replay-1")
        .collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.actor_agency == "cq-jw"));
    let replayed = bus_door::decision(&engine, "cq-5-3-0942-ack-jw/replay-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (replayed.source.as_str(), replayed.outcome.as_str()),
        ("replay", "applied")
    );
    // Replaying again does nothing; nothing waits any more.
    assert!(matches!(
        replay::refused(&engine, "cq-5-3-0942-ack-jw")
            .await
            .unwrap(),
        Replayed::AlreadyReplayed { .. }
    ));
    assert!(replay::parked(&engine, &Filter::default())
        .await
        .unwrap()
        .is_empty());
    // The same transitions as in order (under the replay's id).
    let mut expected = reference(vec![event("assign"), event("ack-jw")]).await;
    for step in &mut expected {
        if step.2 == "cq-5-3-0942-ack-jw" {
            step.2 = "cq-5-3-0942-ack-jw/replay-1".to_owned();
        }
    }
    assert_eq!(crate::case_0942::steps(&engine, None).await, expected);
    assert_eq!(
        inspection::verify_history(&engine, None)
            .await
            .unwrap()
            .broken,
        None
    );
    worker.stop().await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_body_is_dead_lettered_with_its_reason_and_replayed_once_fixed() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let relay = spawn_relay(&engine, &broker);
    let assigner = broker.agency("cq-zfbgt").await;
    let jw = broker.agency("cq-jw").await;
    assigner.send(&event("assign")).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;
    let before = (
        inbox_count(&engine).await,
        history_count(&engine).await,
        outbox_count(&engine).await,
    );
    // Drain the task notice so that only the refusal notice is left to read.
    jw.expect_notification("assign").await;

    // A misspelt field: not a message of the contract.
    let good = String::from_utf8(cohandle_proto::encode_json(&event("ack-jw"))).unwrap();
    let bad = good.replace("\"acknowledge\"", "\"acknowledgment\"");
    assert_ne!(good, bad);
    jw.send_raw(bad.as_bytes(), Some("cq-5-3-0942")).await;
    eventually(Duration::from_secs(20), "it is dead-lettered", || async {
        worker.stats.snapshot().dead_lettered == 1
    })
    .await;

    let letters = dead_letter::list(&engine, &Filter::default())
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.code, "malformed");
    assert!(
        letter.reason.contains("acknowledgment"),
        "{}",
        letter.reason
    );
    assert_eq!(letter.sender.as_deref(), Some("cq-jw"));
    assert_eq!(letter.body, bad.as_bytes());
    // Nothing else changed.
    assert_eq!(
        before,
        (
            inbox_count(&engine).await,
            history_count(&engine).await,
            outbox_count(&engine).await
        )
    );
    // The sender hears that its message was malformed.
    let notice = jw.receive(Duration::from_secs(20)).await.unwrap();
    let rejected = cohandle_proto::decode_rejected(&notice.content_type, &notice.body).unwrap();
    assert!(
        matches!(rejected.reason, RejectedReason::Malformed(_)),
        "{rejected:?}"
    );

    // Replaying it unchanged fails and keeps it; with the body fixed it is applied.
    let results = replay::dead_letters(&engine, &Directory::default(), Which::Id(&letter.id), None)
        .await
        .unwrap();
    assert!(matches!(results[0].1, Replayed::Failed(_)), "{results:?}");
    let fixed = Correction {
        content_type: ContentType::Json,
        body: good.into_bytes(),
    };
    let results = replay::dead_letters(
        &engine,
        &Directory::default(),
        Which::Id(&letter.id),
        Some(&fixed),
    )
    .await
    .unwrap();
    assert!(
        matches!(&results[0].1, Replayed::Applied { event_id, .. } if event_id == "cq-5-3-0942-ack-jw"),
        "{results:?}"
    );
    let row = bus_door::decision(&engine, "cq-5-3-0942-ack-jw")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.source.as_str(), row.outcome.as_str()),
        ("replay", "applied")
    );
    // Marked replayed, with the outcome, and no longer waiting.
    assert!(dead_letter::list(&engine, &Filter::default())
        .await
        .unwrap()
        .is_empty());
    let all = Filter {
        replayed: true,
        ..Filter::default()
    };
    let kept = dead_letter::list(&engine, &all).await.unwrap();
    assert!(
        kept[0]
            .replay_outcome
            .as_deref()
            .is_some_and(|o| o.starts_with("applied")),
        "{kept:?}"
    );
    worker.stop().await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_claiming_another_agency_is_refused() {
    let broker = Broker::new().await;
    broker.declare().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
    let relay = spawn_relay(&engine, &broker);
    let assigner = broker.agency("cq-zfbgt").await;
    assigner.send(&event("assign")).await;
    eventually(
        Duration::from_secs(20),
        "the assignment is applied",
        || async { inbox_count(&engine).await == 1 },
    )
    .await;
    let jw_ack = event("ack-jw");

    // The broker itself stops the plain forgeries: 市财政局 may not use 市教委's routing
    // keys, nor set 市教委's user-id.
    let czj = broker.agency("cq-czj").await;
    let foreign_key = Inbound::event(&jw_ack, ContentType::Json, "cq-czj");
    assert_eq!(foreign_key.routing_key, "cq-jw.acknowledge");
    assert!(publish_inbound(&czj.channel, &foreign_key).await.is_err());
    let czj = broker.agency("cq-czj").await;
    let mut forged_user = Inbound::event(&jw_ack, ContentType::Json, "cq-jw");
    forged_user.routing_key = "cq-czj.acknowledge".to_owned();
    assert!(publish_inbound(&czj.channel, &forged_user).await.is_err());

    // What gets through (its own key and user-id, someone else's name in the envelope)
    // is refused by the worker.
    let czj = broker.agency("cq-czj").await;
    let mut claim = Inbound::event(&jw_ack, ContentType::Json, "cq-czj");
    claim.routing_key = "cq-czj.acknowledge".to_owned();
    publish_inbound(&czj.channel, &claim).await.unwrap();
    eventually(Duration::from_secs(20), "it is dead-lettered", || async {
        worker.stats.snapshot().dead_lettered == 1
    })
    .await;
    let letters = dead_letter::list(&engine, &Filter::default())
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].code, "identity_mismatch");
    assert_eq!(letters[0].sender.as_deref(), Some("cq-czj"));
    assert_eq!(letters[0].event_id.as_deref(), Some("cq-5-3-0942-ack-jw"));
    // A replay checks the sender again, and refuses again.
    let results = replay::dead_letters(&engine, &Directory::default(), Which::All, None)
        .await
        .unwrap();
    assert!(
        matches!(&results[0].1, Replayed::Failed(why) if why.contains("cq-czj")),
        "{results:?}"
    );

    // Nothing was applied or recorded in 市教委's name: its own message still goes through.
    assert_eq!(inbox_count(&engine).await, 1);
    let notices = czj.expect_notification("assign").await;
    let _ = notices;
    let notice = czj.receive(Duration::from_secs(20)).await.unwrap();
    let rejected = cohandle_proto::decode_rejected(&notice.content_type, &notice.body).unwrap();
    assert!(
        matches!(rejected.reason, RejectedReason::Refused(r) if r.code == RejectionCode::ActorNotAllowed)
    );
    let jw = broker.agency("cq-jw").await;
    jw.send(&jw_ack).await;
    eventually(
        Duration::from_secs(20),
        "the genuine one is applied",
        || async {
            bus_door::decision(&engine, "cq-5-3-0942-ack-jw")
                .await
                .unwrap()
                .is_some_and(|r| r.outcome == "applied")
        },
    )
    .await;

    // An agency the engine does not know is refused too, and replayable once registered.
    broker.agency_user("cq-jjxxw").await;
    let stranger = broker.agency("cq-jjxxw").await;
    let mut unknown = event("ack-czj");
    unknown.actor.agency = cohandle_workflows::AgencyCode::parse("cq-jjxxw").unwrap();
    unknown.id = cohandle_workflows::EventId::parse("evt-jjxxw-ack").unwrap();
    stranger.send(&unknown).await;
    eventually(Duration::from_secs(20), "it is dead-lettered", || async {
        worker.stats.snapshot().dead_lettered == 2
    })
    .await;
    register(&engine, "cq-jjxxw", "agency").await;
    let letters = dead_letter::list(&engine, &Filter::default())
        .await
        .unwrap();
    // The refused claim is still there: a failed replay keeps a dead letter.
    assert_eq!(letters.len(), 2);
    let stranger_letter = letters.iter().find(|l| l.code == "unknown_sender").unwrap();
    assert_eq!(stranger_letter.sender.as_deref(), Some("cq-jjxxw"));
    let results = replay::dead_letters(
        &engine,
        &Directory::default(),
        Which::Id(&stranger_letter.id),
        None,
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 1);
    // Now known, it reaches the engine, which refuses it (it has no task) and records that.
    assert!(
        matches!(&results[0].1, Replayed::Refused { code, .. } if code == "actor_not_allowed"),
        "{results:?}"
    );
    worker.stop().await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_message_goes_round_the_retry_queue_to_its_partition_then_to_the_dead_letters() {
    use cohandle_bus::topology::{self, partition_queue, Topology};
    use lapin::options::BasicNackOptions;

    let broker = Broker::new().await;
    let topology = Topology {
        retry_delay: Duration::from_millis(300),
        ..Topology::default()
    };
    let (_connection, channel) = broker.operator().await;
    topology::declare(&channel, &topology.plan()).await.unwrap();
    let jw = broker.agency("cq-jw").await;
    jw.send(&event("ack-jw")).await;

    // Taken and refused without requeueing, as the worker does with an event that keeps
    // failing: the broker moves it to the retry queue, and back after the delay.
    // (Quorum queues with a single active consumer allow no basic.get: consume.)
    let mut consumers = Vec::new();
    for n in 0..topology.partitions {
        let queue = partition_queue(n);
        let consumer = channel
            .basic_consume(&queue, &queue, Default::default(), Default::default())
            .await
            .unwrap();
        consumers.push(futures::StreamExt::map(consumer, move |d| {
            (queue.clone(), d.unwrap())
        }));
    }
    let mut deliveries = futures::stream::select_all(consumers);
    let mut home = None;
    for round in 1..=2u64 {
        let (queue, delivery) = tokio::time::timeout(
            Duration::from_secs(20),
            futures::StreamExt::next(&mut deliveries),
        )
        .await
        .unwrap()
        .unwrap();
        // Same partition every time: the proposal header travels with it.
        assert_eq!(home.get_or_insert(queue.clone()), &queue);
        assert_eq!(dead_letter::retry_rounds(&delivery.properties), round - 1);
        assert_eq!(
            delivery.properties.user_id().as_ref().map(|u| u.as_str()),
            Some("cq-jw"),
            "the validated sender survives the round trip"
        );
        channel
            .basic_nack(
                delivery.delivery_tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: false,
                },
            )
            .await
            .unwrap();
    }

    drop(deliveries);
    // Its consumers must go, so that the worker gets the message. The channel may already
    // be closing (a third round delivered to a consumer whose stream is dropped): that
    // ends them too.
    if let Err(error) = channel.close(200, "done").await {
        assert!(
            matches!(error, lapin::Error::InvalidChannelState(_)),
            "{error}"
        );
    }
    // A worker allowing two rounds dead-letters it when it comes back the third time.
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let mut options = worker_options(&broker, "test-worker");
    options.topology = topology;
    options.max_retry_rounds = 2;
    let worker = spawn_worker(&engine, options);
    eventually(Duration::from_secs(20), "it is dead-lettered", || async {
        worker.stats.snapshot().dead_lettered == 1
    })
    .await;
    assert_eq!(inbox_count(&engine).await, 0);
    let letters = dead_letter::list(&engine, &Filter::default())
        .await
        .unwrap();
    assert_eq!(letters[0].code, "retries_exhausted");
    assert_eq!(letters[0].sender.as_deref(), Some("cq-jw"));
    assert_eq!(letters[0].event_id.as_deref(), Some("cq-5-3-0942-ack-jw"));
    worker.stop().await;
}

#[tokio::test]
async fn senders_are_the_registered_agencies_and_the_configured_ones() {
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = db.engine().await;
    let directory = Directory::new(&[
        ("cq-fgw".to_owned(), "agency".to_owned()),
        // The table wins where both name an agency.
        ("cq-jw".to_owned(), "supervisor".to_owned()),
        ("cq-bad".to_owned(), "emperor".to_owned()),
    ]);
    let known = directory
        .resolve(
            &engine,
            ["cq-fgw", "cq-jw", "cq-bad", "cq-nobody"].map(str::to_owned),
        )
        .await
        .unwrap();
    use cohandle_workflows::ActorKind;
    assert_eq!(known.get("cq-fgw"), Some(&ActorKind::Agency));
    assert_eq!(known.get("cq-jw"), Some(&ActorKind::Agency));
    assert_eq!(known.get("cq-bad"), None);
    assert_eq!(known.get("cq-nobody"), None);
}
