//! The bus door as an integrator reads it (README, `proto/README.md`, the `.proto` files):
//! every message sent gets the outcome the contract promises, every answer can be matched
//! to what was sent, and every dead letter is kept in the database for the operators.

use std::time::Duration;

use cohandle_bus::replay::{self, Replayed};
use cohandle_bus::{dead_letter, relay, worker};
use cohandle_proto::RejectedReason;
use cohandle_store::bus_door::{self, Decision};
use cohandle_store::dead_letters::{DeadLetter, Filter};
use cohandle_store::Engine;
use cohandle_workflows::{EventId, ProposalKey};

use crate::delivery::event;
use crate::support::*;

const KEY: &str = "cq-5-3-0942";

/// Case 0942 assigned over the bus, with a worker and a relay running.
struct Door {
    broker: Broker,
    _db: TestDb,
    engine: Engine,
    worker: Running<worker::Stats>,
    relay: Running<relay::Stats>,
}

impl Door {
    async fn open() -> Self {
        let broker = Broker::new().await;
        broker.declare().await;
        let db = TestDb::new(Backend::Sqlite).await;
        // Refused at once rather than held: the answers a holding engine gives when an
        // event's window ends (`handover.rs` has the holding engine on the bus).
        let engine = db.engine().await.with_hold_window(Duration::ZERO);
        let worker = spawn_worker(&engine, worker_options(&broker, "test-worker"));
        let relay = spawn_relay(&engine, &broker);
        broker.agency("cq-zfbgt").await.send(&event("assign")).await;
        eventually(Duration::from_secs(20), "the assignment is applied", || {
            let engine = engine.clone();
            async move { inbox_count(&engine).await == 1 }
        })
        .await;
        Self {
            broker,
            _db: db,
            engine,
            worker,
            relay,
        }
    }

    async fn letters(&self, filter: &Filter) -> Vec<DeadLetter> {
        dead_letter::list(&self.engine, filter).await.unwrap()
    }

    async fn dead_lettered(&self, n: u64) {
        eventually(Duration::from_secs(20), "it is dead-lettered", || async {
            self.worker.stats.snapshot().dead_lettered == n
        })
        .await;
    }

    async fn inbox(&self, event_id: &str) -> Option<Decision> {
        bus_door::decision(&self.engine, event_id).await.unwrap()
    }

    async fn decided(&self, event_id: &str) -> Decision {
        eventually(Duration::from_secs(20), "the event is decided", || async {
            self.inbox(event_id).await.is_some()
        })
        .await;
        self.inbox(event_id).await.unwrap()
    }

    async fn close(self) {
        self.worker.stop().await;
        self.relay.stop().await;
    }
}

fn json_of(event: &cohandle_workflows::Event) -> serde_json::Value {
    serde_json::from_slice(&cohandle_proto::encode_json(event)).unwrap()
}

fn bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn id_of(rejected: &cohandle_proto::Rejected) -> Option<&str> {
    rejected.event_id.as_ref().map(EventId::as_str)
}

fn proposal_of(rejected: &cohandle_proto::Rejected) -> Option<&str> {
    rejected.proposal.as_ref().map(ProposalKey::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_id_reused_for_another_event_is_refused_answered_and_listed() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let ack = event("ack-jw");
    jw.send(&ack).await;
    // The same id and content again: a duplicate, recognised and harmless.
    jw.send(&ack).await;
    // The same id for another event: refused.
    let mut other = event("opinion-jw");
    other.id = ack.id.clone();
    jw.send(&other).await;
    door.dead_lettered(1).await;
    assert_eq!(door.worker.stats.snapshot().duplicates, 1);

    let letters = door.letters(&Filter::default()).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].code, "event_id_reused");
    assert_eq!(letters[0].event_id.as_deref(), Some(ack.id.as_str()));
    assert_eq!(letters[0].sender.as_deref(), Some("cq-jw"));
    let (message, rejected) = jw.expect_rejected().await;
    assert!(
        matches!(&rejected.reason, RejectedReason::EventIdReused(why) if why.contains(ack.id.as_str())),
        "{rejected:?}"
    );
    assert_eq!(id_of(&rejected), Some(ack.id.as_str()));
    assert_eq!(rejected.correlation_id.as_deref(), Some(ack.id.as_str()));
    assert_eq!(
        message.headers.get("cohandle-event-id").map(String::as_str),
        Some(ack.id.as_str())
    );
    // The first event keeps its outcome.
    let row = door.inbox(ack.id.as_str()).await.unwrap();
    assert_eq!(
        (row.outcome.as_str(), row.event_type.as_str()),
        ("applied", "acknowledge")
    );
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_of_a_refused_event_hears_its_first_refusal_again_marked_as_a_repeat() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    // The opinion overtakes the acknowledgement: refused.
    let opinion = event("opinion-jw");
    jw.send(&opinion).await;
    let (_, first) = jw.expect_rejected().await;
    let RejectedReason::Refused(first_refusal) = &first.reason else {
        panic!("{first:?}")
    };
    assert!(!first.repeat);
    assert_eq!(id_of(&first), Some(opinion.id.as_str()));

    // Fixed in order, but sent again under the same id: the first refusal, repeated.
    jw.send(&event("ack-jw")).await;
    door.decided("cq-5-3-0942-ack-jw").await;
    jw.send(&opinion).await;
    let (message, again) = jw.expect_rejected().await;
    assert!(again.repeat, "{again:?}");
    assert!(
        matches!(&again.reason, RejectedReason::Refused(r) if r == first_refusal),
        "{again:?}"
    );
    assert_eq!(id_of(&again), Some(opinion.id.as_str()));
    assert_eq!(again.correlation_id.as_deref(), Some(opinion.id.as_str()));
    assert!(message.message_id.starts_with(opinion.id.as_str()));
    let row = door.inbox(opinion.id.as_str()).await.unwrap();
    assert_eq!(row.outcome, "rejected");

    // The id is used up; under a new one the step is applied.
    let mut fresh = opinion.clone();
    fresh.id = EventId::parse("cq-5-3-0942-opinion-jw-2").unwrap();
    jw.send(&fresh).await;
    assert_eq!(door.decided(fresh.id.as_str()).await.outcome, "applied");
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_message_is_answered_with_every_id_that_could_be_read() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let opinion = event("opinion-jw");
    let good = json_of(&opinion);
    let mut bad_date = good.clone();
    bad_date["submitOpinion"]["submittedOn"] = "2020-02-30".into();
    let mut no_version = good.clone();
    no_version.as_object_mut().unwrap().remove("schemaVersion");
    let mut no_body = good.clone();
    no_body.as_object_mut().unwrap().remove("submitOpinion");
    for (n, body) in [bad_date, no_version, no_body].iter().enumerate() {
        let message_id = format!("jw-message-{n}");
        jw.publish(
            "cq-jw.submit_opinion",
            &bytes(body),
            Some(KEY),
            Some(&message_id),
            true,
        )
        .await;
        let (message, rejected) = jw.expect_rejected().await;
        assert!(
            matches!(rejected.reason, RejectedReason::Malformed(_)),
            "{rejected:?}"
        );
        assert_eq!(id_of(&rejected), Some(opinion.id.as_str()), "{n}");
        assert_eq!(proposal_of(&rejected), Some(KEY), "{n}");
        assert_eq!(
            rejected.correlation_id.as_deref(),
            Some(message_id.as_str())
        );
        let header = |name: &str| message.headers.get(name).map(String::as_str);
        assert_eq!(header("cohandle-proposal"), Some(KEY));
        assert_eq!(header("cohandle-event-id"), Some(opinion.id.as_str()));
        assert_eq!(header("cohandle-correlation-id"), Some(message_id.as_str()));
    }
    // Nothing readable at all: still the sender's message id and every header.
    jw.publish(
        "cq-jw.submit_opinion",
        b"not json",
        Some(KEY),
        Some("jw-x"),
        true,
    )
    .await;
    let (message, rejected) = jw.expect_rejected().await;
    assert_eq!((id_of(&rejected), proposal_of(&rejected)), (None, None));
    assert_eq!(rejected.correlation_id.as_deref(), Some("jw-x"));
    for name in ["cohandle-proposal", "cohandle-event-id"] {
        assert_eq!(
            message.headers.get(name).map(String::as_str),
            Some(""),
            "{name}"
        );
    }
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_letters_are_kept_in_the_database_and_listing_them_disturbs_nothing() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let bad = br#"{"eventId": 31}"#;
    jw.publish("cq-jw.acknowledge", bad, Some(KEY), Some("jw-bad"), true)
        .await;
    door.dead_lettered(1).await;
    // The same message again is the same dead letter, seen twice.
    jw.publish("cq-jw.acknowledge", bad, Some(KEY), Some("jw-bad"), true)
        .await;
    door.dead_lettered(2).await;

    let listed = door.letters(&Filter::default()).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let letter = &listed[0];
    assert_eq!(
        (
            letter.code.as_str(),
            letter.field.as_deref(),
            letter.sender.as_deref()
        ),
        ("malformed", Some("event_id"), Some("cq-jw"))
    );
    assert_eq!(letter.body, bad);
    assert_eq!(letter.message_id.as_deref(), Some("jw-bad"));
    assert_eq!(letter.routing_key, "cq-jw.acknowledge");
    assert!(letter.headers.contains(KEY), "{}", letter.headers);
    assert_eq!(letter.times_seen, 2);
    assert!(letter.last_seen_at >= letter.first_seen_at);
    assert_eq!(letter.replayed_at, None);
    // Listing again, and again with filters, changes nothing.
    assert_eq!(door.letters(&Filter::default()).await, listed);
    let by = |code: &str, agency: &str| Filter {
        code: Some(code.to_owned()),
        agency: Some(agency.to_owned()),
        ..Filter::default()
    };
    assert_eq!(door.letters(&by("malformed", "cq-jw")).await, listed);
    assert!(door.letters(&by("malformed", "cq-czj")).await.is_empty());
    assert!(door
        .letters(&by("unknown_sender", "cq-jw"))
        .await
        .is_empty());
    assert_eq!(door.letters(&Filter::default()).await, listed);

    // The broker holds none of it: with the whole vhost (every queue) deleted, the dead
    // letter is still listed, unchanged.
    let engine = door.engine.clone();
    let db = door._db;
    door.worker.stop().await;
    door.relay.stop().await;
    drop(door.broker);
    assert_eq!(
        dead_letter::list(&engine, &Filter::default())
            .await
            .unwrap(),
        listed
    );
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_refusal_a_replay_could_apply_is_listed_and_filtered() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let czj = door.broker.agency("cq-czj").await;
    // A step before the one it needs, and a step before its proposal's assignment.
    let opinion = event("opinion-jw");
    jw.send(&opinion).await;
    let mut early = event("ack-czj");
    early.proposal = ProposalKey::parse("cq-5-3-0999").unwrap();
    early.id = EventId::parse("cq-5-3-0999-ack-czj").unwrap();
    czj.send(&early).await;
    let refused = door.decided(opinion.id.as_str()).await;
    door.decided(early.id.as_str()).await;
    let wrong = refused.code.clone().unwrap();
    assert_ne!(wrong, "unknown_proposal");

    let listed = |filter: Filter| {
        let engine = door.engine.clone();
        async move {
            let mut ids: Vec<String> = replay::parked(&engine, &filter)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.row.event_id)
                .collect();
            ids.sort();
            ids
        }
    };
    let both = vec![opinion.id.to_string(), early.id.to_string()];
    assert_eq!(listed(Filter::default()).await, both);
    let only = |f: fn(&mut Filter)| {
        let mut filter = Filter::default();
        f(&mut filter);
        filter
    };
    assert_eq!(
        listed(Filter {
            code: Some(wrong.clone()),
            ..Filter::default()
        })
        .await,
        vec![opinion.id.to_string()]
    );
    assert_eq!(
        listed(only(|f| f.agency = Some("cq-czj".to_owned()))).await,
        vec![early.id.to_string()]
    );
    assert_eq!(
        listed(only(|f| f.proposal = Some(KEY.to_owned()))).await,
        vec![opinion.id.to_string()]
    );
    let tomorrow = door.engine.clock().now() + chrono::Duration::days(1);
    assert!(listed(Filter {
        since: Some(tomorrow),
        ..Filter::default()
    })
    .await
    .is_empty());

    // Once its cause is gone, the replay applies it, and it is no longer listed.
    jw.send(&event("ack-jw")).await;
    door.decided("cq-5-3-0942-ack-jw").await;
    let result = replay::refused(&door.engine, opinion.id.as_str())
        .await
        .unwrap();
    assert!(matches!(result, Replayed::Applied { .. }), "{result:?}");
    assert_eq!(listed(Filter::default()).await, vec![early.id.to_string()]);
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_without_its_partition_header_is_refused_and_answered_before_it_is_applied() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let ack = event("ack-jw");
    let body = cohandle_proto::encode_json(&ack);
    jw.publish(
        "cq-jw.acknowledge",
        &body,
        None,
        Some(ack.id.as_str()),
        true,
    )
    .await;
    let (_, rejected) = jw.expect_rejected().await;
    assert!(
        matches!(&rejected.reason, RejectedReason::MissingPartitionHeader(why) if why.contains("cohandle-proposal")),
        "{rejected:?}"
    );
    assert_eq!(id_of(&rejected), Some(ack.id.as_str()));
    let letters = door.letters(&Filter::default()).await;
    assert_eq!(letters[0].code, "missing_partition_header");
    assert!(door.inbox(ack.id.as_str()).await.is_none());
    // It was not applied, so its id is free: sent again with the header, it is applied.
    jw.send(&ack).await;
    assert_eq!(door.decided(ack.id.as_str()).await.outcome, "applied");
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_of_the_wrong_type_is_refused_naming_its_field() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let mut opinion = json_of(&event("opinion-jw"));
    opinion["submitOpinion"]["documentNumber"] = 31.into();
    jw.publish(
        "cq-jw.submit_opinion",
        &bytes(&opinion),
        Some(KEY),
        None,
        true,
    )
    .await;
    let (_, rejected) = jw.expect_rejected().await;
    assert!(
        matches!(&rejected.reason, RejectedReason::Malformed(why)
            if why.starts_with("`submit_opinion.document_number`: invalid type: integer `31`")),
        "{rejected:?}"
    );
    let letters = door.letters(&Filter::default()).await;
    assert_eq!(
        letters[0].field.as_deref(),
        Some("submit_opinion.document_number")
    );
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_null_field_is_read_as_its_default_value() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let mut ack = json_of(&event("ack-jw"));
    ack["correlationId"] = serde_json::Value::Null;
    ack["causationId"] = serde_json::Value::Null;
    jw.publish("cq-jw.acknowledge", &bytes(&ack), Some(KEY), None, true)
        .await;
    assert_eq!(door.decided("cq-5-3-0942-ack-jw").await.outcome, "applied");
    assert!(door.letters(&Filter::default()).await.is_empty());
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_without_user_id_is_kept_but_answered_to_no_one_as_the_readme_says() {
    let door = Door::open().await;
    let jw = door.broker.agency("cq-jw").await;
    let ack = event("ack-jw");
    jw.publish(
        "cq-jw.acknowledge",
        &cohandle_proto::encode_json(&ack),
        Some(KEY),
        Some(ack.id.as_str()),
        false,
    )
    .await;
    door.dead_lettered(1).await;
    let letters = door.letters(&Filter::default()).await;
    assert_eq!(
        (letters[0].code.as_str(), letters[0].sender.as_deref()),
        ("missing_user_id", None)
    );
    // There is no one to answer: 市教委's queue holds its task and nothing else.
    jw.expect_notification("assign").await;
    assert!(jw.receive(Duration::from_secs(2)).await.is_none());

    let readme = include_str!("../../../../README.md");
    for promise in [
        "rabbitmq_consistent_hash_exchange",
        "cohandle.out.deputies",
        "without `user_id` gets no `Rejected`",
    ] {
        assert!(
            readme.contains(promise),
            "README.md does not say {promise:?}"
        );
    }
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_assigner_is_told_that_the_proposal_closed() {
    let door = Door::open().await;
    let assigner = door.broker.agency("cq-zfbgt").await;
    let rest: Vec<_> = case().into_iter().skip(1).collect();
    for outcome in door
        .engine
        .apply_batch(rest, cohandle_store::Source::Cli)
        .await
        .unwrap()
    {
        assert!(outcome.is_applied(), "{outcome:?}");
    }
    let seen = assigner.expect_notification("tasks_completed").await;
    let last = seen.last().unwrap();
    let notice = cohandle_proto::decode_notification(&last.content_type, &last.body).unwrap();
    assert_eq!(notice.notification.state.as_deref(), Some("closed"));
    assert_eq!(
        notice.notification.agency.as_ref().map(|a| a.as_str()),
        Some("cq-kjj"),
        "the lead's step closed it"
    );
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_assignment_in_a_jurisdiction_its_sender_does_not_serve_is_a_dead_letter_until_it_does()
{
    use cohandle_store::agencies::{self, Agency, Known};
    use cohandle_store::jurisdictions;

    let door = Door::open().await;
    // The municipal CPPCC's assigner: registered, serving cq-zx, not Chongqing's congress.
    let zx = "cq-zxzfb";
    agencies::register_with(
        &door.engine,
        Agency {
            code: zx.to_owned(),
            name: "市政协提案委".to_owned(),
            kind: "assigner".to_owned(),
            created_at: chrono::DateTime::UNIX_EPOCH,
        },
        Known::Update,
    )
    .await
    .unwrap();
    jurisdictions::join(&door.engine, "cq-zx", &[zx.to_owned()])
        .await
        .unwrap();
    door.broker.agency_user(zx).await;
    let (_connection, channel) = door.broker.operator().await;
    cohandle_bus::topology::declare(
        &channel,
        &cohandle_bus::topology::agency_plan(zx, "assigner"),
    )
    .await
    .unwrap();
    let mut assign = event("assign");
    assign.actor.agency = cohandle_workflows::AgencyCode::parse(zx).unwrap();
    assign.proposal = ProposalKey::parse("cq-2021-0077").unwrap();
    assign.id = EventId::parse("zx-assign-0077").unwrap();
    let sender = door.broker.agency(zx).await;
    sender.send(&assign).await;
    door.dead_lettered(1).await;
    let (_, rejected) = sender.expect_rejected().await;
    assert!(
        matches!(&rejected.reason, RejectedReason::Refused(r) if r.code == cohandle_workflows::RejectionCode::WrongJurisdiction),
        "{rejected:?}"
    );
    let letters = door.letters(&Filter::default()).await;
    let letter = letters
        .iter()
        .find(|l| l.code == "jurisdiction_not_yours")
        .unwrap_or_else(|| panic!("{letters:?}"));
    assert!(
        letter.reason.contains("cq-2021-0077") && letter.reason.contains("cq"),
        "{}",
        letter.reason
    );
    assert!(door.engine.load("cq-2021-0077").await.unwrap().is_none());

    // A replay while it still does not serve cq fails again; once it does, it applies.
    let results = replay::dead_letters(
        &door.engine,
        &cohandle_bus::identity::Directory::default(),
        replay::Which::Id(&letter.id),
        None,
    )
    .await
    .unwrap();
    assert!(
        matches!(&results[0].1, Replayed::Failed(why) if why.contains("does not serve")),
        "{results:?}"
    );
    jurisdictions::join(&door.engine, "cq", &[zx.to_owned()])
        .await
        .unwrap();
    let results = replay::dead_letters(
        &door.engine,
        &cohandle_bus::identity::Directory::default(),
        replay::Which::Id(&letter.id),
        None,
    )
    .await
    .unwrap();
    assert!(
        matches!(&results[0].1, Replayed::Applied { .. }),
        "{results:?}"
    );
    assert!(door.engine.load("cq-2021-0077").await.unwrap().is_some());
    door.worker.stop().await;
    door.relay.stop().await;
}
