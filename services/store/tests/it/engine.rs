//! The one path: round trips, idempotency, rejections, batches, concurrency, hash chain.

use std::sync::Arc;

use cohandle_store::entities::{
    agency, disclosure, feedback, history, inbox, outbox, proposal, reply, task, timer,
};
use cohandle_store::history::verify;
use cohandle_store::{connect, Outcome, Source};
use cohandle_workflows::model::Opinion;
use cohandle_workflows::{Actor, ActorKind, Body, RejectionCode};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use sea_orm_migration::MigratorTrait;

use crate::support::*;

const KEY: &str = "cq-5-3-0942";

fn supervisor() -> Actor {
    Actor {
        agency: code("cq-dc"),
        kind: ActorKind::Supervisor,
    }
}

/// Case 0942 as events, in order.
fn case_events() -> Vec<cohandle_workflows::Event> {
    cohandle_workflows::cases::case_0942()
}

#[tokio::test]
async fn migrations_run_from_empty_and_again() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let conn = connect::connect_and_migrate(&db.url).await.unwrap();
        connect::migrate(&conn).await.unwrap();
        let applied = cohandle_store::migration::Migrator::get_applied_migrations(&conn)
            .await
            .unwrap();
        assert_eq!(
            applied.len(),
            cohandle_store::migration::Migrator::migrations().len(),
            "{backend:?}"
        );
        assert!(cohandle_store::calendars::list(&conn)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(proposal::Entity::find().count(&conn).await.unwrap(), 0);
        if backend == Backend::Postgres {
            // One text value a query returns (as `value`).
            let text = |sql: &'static str| {
                let conn = &conn;
                async move {
                    use sea_orm::{ConnectionTrait, Statement};
                    let row = conn
                        .query_one(Statement::from_string(conn.get_database_backend(), sql))
                        .await
                        .unwrap()
                        .unwrap();
                    row.try_get::<String>("", "value").unwrap()
                }
            };
            // The tables rewritten on every event keep room for heap-only updates.
            let options = text("SELECT array_to_string(reloptions, ',') AS value FROM pg_class WHERE relname = 'proposals'").await;
            assert_eq!(options, "fillfactor=70");
            // Every connection plans the one path's prepared statements with their values.
            let mode = text("SELECT current_setting('plan_cache_mode') AS value").await;
            assert_eq!(mode, "force_custom_plan");
        }
    }
}

#[tokio::test]
async fn every_entity_round_trips_through_the_one_path() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = engine_at(&db, clock.clone()).await;
        for e in case_events() {
            clock.set(e.occurred_at);
            let outcome = engine.apply(e.clone(), Source::Bus).await.unwrap();
            assert!(outcome.is_applied(), "{backend:?} {}: {outcome:?}", e.id);
        }
        let conn = engine.db();
        let (p, version) = engine.load(KEY).await.unwrap().unwrap();
        assert_eq!(p.state, "closed");
        assert_eq!(version, 12);
        let row = proposal::Entity::find_by_id(KEY)
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                row.state.as_str(),
                row.definition_name.as_str(),
                row.definition_version
            ),
            ("closed", "chongqing-deputy-suggestion", 1)
        );
        assert_eq!(row.assigned_on, date("2020-02-26"));
        let tasks = task::Entity::find()
            .filter(task::Column::ProposalKey.eq(KEY))
            .all(conn)
            .await
            .unwrap();
        assert_eq!(tasks.len(), 3);
        assert!(tasks.iter().all(|t| t.terminal), "{tasks:?}");
        let history = history::Entity::find()
            .filter(history::Column::ProposalKey.eq(KEY))
            .all(conn)
            .await
            .unwrap();
        assert!(history.len() >= 14, "{}", history.len());
        assert_eq!(
            inbox::Entity::find()
                .filter(inbox::Column::Outcome.eq("applied"))
                .count(conn)
                .await
                .unwrap(),
            12
        );
        assert!(outbox::Entity::find().count(conn).await.unwrap() > 10);
        let timers = timer::Entity::find().all(conn).await.unwrap();
        assert!(timers.iter().any(|t| t.state == "cancelled"));
        assert!(
            timers
                .iter()
                .all(|t| t.state != "pending" || t.deadline == "dispute_window"),
            "only the unfired dispute windows stay pending: {timers:?}"
        );
        let reply = reply::Entity::find().one(conn).await.unwrap().unwrap();
        assert_eq!(
            (
                reply.document_number.as_str(),
                reply.result_class.as_str(),
                reply.on_time
            ),
            ("渝科局函〔2020〕109号", "A", true)
        );
        assert_eq!(reply.due_on, Some(date("2020-05-26")));
        let feedback = feedback::Entity::find().one(conn).await.unwrap().unwrap();
        assert_eq!(feedback.satisfaction, "satisfied");
        let disclosure = disclosure::Entity::find().one(conn).await.unwrap().unwrap();
        assert_eq!(disclosure.index_number, "11500000MB15895317/2020-00762");
        // Agencies are plain rows.
        agency::Entity::insert(agency::ActiveModel {
            code: Set("cq-kjj".into()),
            name: Set("市科技局".into()),
            kind: Set("agency".into()),
            created_at: Set(at("2020-01-01")),
        })
        .exec(conn)
        .await
        .unwrap();
        assert_eq!(
            agency::Entity::find_by_id("cq-kjj")
                .one(conn)
                .await
                .unwrap()
                .unwrap()
                .name,
            "市科技局"
        );
        let report = verify(conn, None).await.unwrap();
        assert_eq!(report.broken, None);
        assert_eq!(report.rows, history.len());
    }
}

async fn engine_at(db: &TestDb, clock: Arc<cohandle_store::ManualClock>) -> cohandle_store::Engine {
    db.engine(clock).await
}

#[tokio::test]
async fn a_duplicate_returns_the_first_outcome_and_changes_nothing() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        let first = engine
            .apply(assign("e1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        assert!(first.is_applied());
        let history_before = history::Entity::find().count(engine.db()).await.unwrap();
        let again = engine
            .apply(assign("e1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        let Outcome::Duplicate(recorded) = again else {
            panic!("{again:?}")
        };
        assert!(recorded.applied);
        assert_eq!(recorded.version, 1);
        assert_eq!(engine.load(KEY).await.unwrap().unwrap().1, 1);
        assert_eq!(
            history::Entity::find().count(engine.db()).await.unwrap(),
            history_before
        );
        // A refused event's duplicate is recognised too.
        let refused = event("e2", KEY, agency("cq-jw"), "2020-02-27", Body::SignFor);
        assert!(matches!(
            engine.apply(refused.clone(), Source::Bus).await.unwrap(),
            Outcome::Rejected(_)
        ));
        let Outcome::Duplicate(recorded) = engine.apply(refused, Source::Bus).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (recorded.applied, recorded.code.as_deref()),
            (false, Some("wrong_state"))
        );
    }
}

#[tokio::test]
async fn a_rejected_event_is_recorded_with_its_reason_and_changes_nothing_else() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        // Refused at once, as a holding engine refuses it when its window ends.
        let engine = db
            .engine(clock("2020-02-26"))
            .await
            .with_hold_window(std::time::Duration::ZERO);
        engine
            .apply(assign("e1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        let counts = |conn| async move {
            (
                history::Entity::find().count(conn).await.unwrap(),
                timer::Entity::find().count(conn).await.unwrap(),
                outbox::Entity::find()
                    .filter(outbox::Column::Kind.eq("notification"))
                    .count(conn)
                    .await
                    .unwrap(),
            )
        };
        let before = counts(engine.db()).await;
        let opinion_first = event(
            "e2",
            KEY,
            agency("cq-jw"),
            "2020-02-27",
            Body::SubmitOpinion(Opinion {
                document_number: "x".into(),
                summary: "s".into(),
                submitted_on: None,
            }),
        );
        let Outcome::Rejected(rejection) = engine.apply(opinion_first, Source::Api).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(rejection.code, RejectionCode::WrongState);
        assert_eq!(counts(engine.db()).await, before);
        assert_eq!(engine.load(KEY).await.unwrap().unwrap().1, 1);
        let row = inbox::Entity::find_by_id("e2")
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                row.outcome.as_str(),
                row.code.as_deref(),
                row.source.as_str()
            ),
            ("rejected", Some("wrong_state"), "api")
        );
        assert!(row.message.contains("assigned"), "{}", row.message);
        assert!(
            row.event.contains("submit_opinion"),
            "the refused event is kept for replay"
        );
        let answer = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("rejected"))
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.routing_key, "rejected.cq-jw");
    }
}

#[tokio::test]
async fn a_batch_returns_one_outcome_per_event_and_keeps_the_accepted_ones() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        // Refusing at once (`held.rs` has the same batch shape held).
        let engine = db
            .engine(clock("2020-02-27"))
            .await
            .with_hold_window(std::time::Duration::ZERO);
        let batch = vec![
            assign("b1", KEY, "2020-02-26"),
            event("b2", KEY, agency("cq-kjj"), "2020-02-27", Body::SignFor),
            event(
                "b3",
                KEY,
                agency("cq-jw"),
                "2020-02-27",
                Body::SubmitOpinion(Opinion {
                    document_number: "x".into(),
                    summary: "s".into(),
                    submitted_on: None,
                }),
            ),
            event("b4", KEY, agency("cq-jw"), "2020-02-27", Body::Acknowledge),
            event("b2", KEY, agency("cq-kjj"), "2020-02-27", Body::SignFor),
            event(
                "b5",
                "cq-unknown",
                agency("cq-kjj"),
                "2020-02-27",
                Body::SignFor,
            ),
            event(
                "b6",
                KEY,
                supervisor(),
                "2020-02-27",
                Body::Urge {
                    agency: code("cq-czj"),
                    note: "n".into(),
                },
            ),
        ];
        let outcomes = engine.apply_batch(batch, Source::Bus).await.unwrap();
        let kinds: Vec<&str> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Applied { .. } => "applied",
                Outcome::Rejected(_) => "rejected",
                Outcome::Held { .. } => "held",
                Outcome::Duplicate(_) => "duplicate",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "applied",
                "applied",
                "rejected",
                "applied",
                "duplicate",
                "rejected",
                "applied"
            ],
            "{backend:?}"
        );
        let Outcome::Rejected(unknown) = &outcomes[5] else {
            panic!()
        };
        assert_eq!(unknown.code, RejectionCode::UnknownProposal);
        let (p, version) = engine.load(KEY).await.unwrap().unwrap();
        assert_eq!(version, 4);
        assert_eq!(p.task(&code("cq-jw")).unwrap().state, "acknowledged");
        assert_eq!(inbox::Entity::find().count(engine.db()).await.unwrap(), 6);
        assert_eq!(verify(engine.db(), Some(KEY)).await.unwrap().broken, None);
    }
}

/// Eight writers race on one proposal; every event is applied once, one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_writers_on_one_proposal_lose_nothing() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-27")).await;
        engine
            .apply(assign("c0", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        const PER_WRITER: usize = 15;
        let mut writers = Vec::new();
        for w in 0..8 {
            let engine = engine.clone();
            writers.push(tokio::spawn(async move {
                let mut versions = Vec::new();
                for i in 0..PER_WRITER {
                    let note = format!("writer {w} notice {i}");
                    let e = event(
                        &format!("c-{w}-{i}"),
                        KEY,
                        supervisor(),
                        "2020-02-27",
                        Body::Urge {
                            agency: code("cq-kjj"),
                            note,
                        },
                    );
                    match engine.apply(e, Source::Api).await.unwrap() {
                        Outcome::Applied { version, .. } => versions.push(version),
                        other => panic!("{other:?}"),
                    }
                }
                versions
            }));
        }
        let mut all = Vec::new();
        for writer in writers {
            let versions = writer.await.unwrap();
            assert!(
                versions.windows(2).all(|w| w[0] < w[1]),
                "a writer's versions strictly increase: {versions:?}"
            );
            all.extend(versions);
        }
        all.sort_unstable();
        let expected: Vec<i64> = (2..=(1 + 8 * PER_WRITER as i64)).collect();
        assert_eq!(
            all, expected,
            "{backend:?}: each event got its own version, none lost, none shared"
        );
        assert_eq!(
            engine.load(KEY).await.unwrap().unwrap().1,
            1 + 8 * PER_WRITER as i64
        );
        let urges = history::Entity::find()
            .filter(history::Column::EventType.eq("urge"))
            .count(engine.db())
            .await
            .unwrap();
        assert_eq!(urges, 8 * PER_WRITER as u64);
        assert_eq!(
            verify(engine.db(), Some(KEY)).await.unwrap().broken,
            None,
            "the chain stays gap-free under contention"
        );
    }
}

#[tokio::test]
async fn a_tampered_history_row_is_found() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        for e in case_events().into_iter().take(5) {
            clock.set(e.occurred_at);
            engine.apply(e, Source::Bus).await.unwrap();
        }
        let conn = engine.db();
        assert_eq!(verify(conn, None).await.unwrap().broken, None);
        conn.execute_unprepared(&format!(
            "UPDATE history SET to_state = 'closed' WHERE proposal_key = '{KEY}' AND seq = 5"
        ))
        .await
        .unwrap();
        let broken = verify(conn, None)
            .await
            .unwrap()
            .broken
            .expect("tampering is found");
        assert_eq!(broken.seq, 5);
        assert!(broken.reason.contains("changed"), "{}", broken.reason);
        // Removing a row breaks the sequence.
        let db2 = TestDb::new(backend).await;
        let engine2 = db2.engine(clock.clone()).await;
        for e in case_events().into_iter().take(5) {
            engine2.apply(e, Source::Bus).await.unwrap();
        }
        engine2
            .db()
            .execute_unprepared(&format!(
                "DELETE FROM history WHERE proposal_key = '{KEY}' AND seq = 3"
            ))
            .await
            .unwrap();
        let broken = verify(engine2.db(), Some(KEY))
            .await
            .unwrap()
            .broken
            .expect("a removed row is found");
        assert_eq!(broken.seq, 4);
    }
}

/// Case 0942 up to the signature at its real times, then its reply recorded on `day` (long
/// after the reply deadline of 2020-05-26), still declaring `sent_on` 2020-04-10.
async fn reply_recorded_on(backend: Backend, day: &str, source: Source) -> reply::Model {
    let db = TestDb::new(backend).await;
    let clock = clock("2020-02-26");
    let engine = engine_at(&db, clock.clone()).await;
    let events = case_events();
    let send = events
        .iter()
        .position(|e| e.body.name() == "send_reply")
        .unwrap();
    for e in &events[..send] {
        clock.set(e.occurred_at);
        assert!(engine
            .apply(e.clone(), Source::Bus)
            .await
            .unwrap()
            .is_applied());
    }
    clock.set(at(day));
    let outcome = engine.apply(events[send].clone(), source).await.unwrap();
    assert!(outcome.is_applied(), "{outcome:?}");
    reply::Entity::find()
        .one(engine.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_reply_recorded_late_is_late_whatever_date_its_letter_declares() {
    for backend in BACKENDS {
        let late = reply_recorded_on(backend, "2020-09-01", Source::Api).await;
        assert_eq!(
            late.sent_on,
            date("2020-04-10"),
            "the letter's date is kept"
        );
        assert_eq!(late.recorded_on, Some(date("2020-09-01")));
        assert_eq!(late.due_on, Some(date("2020-05-26")));
        assert!(!late.on_time, "{backend:?}: recorded after its deadline");
        // An import is decided at the time it gives: the real case was on time.
        let imported = reply_recorded_on(backend, "2020-09-01", Source::Import).await;
        assert_eq!(imported.recorded_on, Some(date("2020-04-10")));
        assert!(imported.on_time, "{backend:?}");
    }
}

#[tokio::test]
async fn an_import_is_marked_in_the_inbox() {
    let db = TestDb::new(Backend::Sqlite).await;
    let engine = engine_at(&db, clock("2026-12-01")).await;
    let first = case_events().remove(0);
    assert!(engine
        .apply(first.clone(), Source::Import)
        .await
        .unwrap()
        .is_applied());
    let row = inbox::Entity::find_by_id(first.id.to_string())
        .one(engine.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.source, "import");
}

/// Anyone who may write can send to any key: a large event refused as `unknown_proposal`
/// leaves a bounded inbox row, and a copy is still told apart from another event.
#[tokio::test]
async fn a_large_event_to_an_unknown_proposal_leaves_a_bounded_row_and_is_still_recognised() {
    use cohandle_store::idempotency::UNKNOWN_PROPOSAL_BOUND;

    const NOWHERE: &str = "cq-5-3-9999";
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        let large = |reason: &str| {
            event(
                "nowhere-1",
                NOWHERE,
                agency("cq-jw"),
                "2020-02-26",
                Body::Dispute {
                    reason: reason.repeat(60 * 1024),
                },
            )
        };
        // Held for its window, and kept in the inbox as the refusal it would get.
        let first = engine.apply(large("x"), Source::Api).await.unwrap();
        let Outcome::Held { why, .. } = &first else {
            panic!("{first:?}")
        };
        assert_eq!(why.code, RejectionCode::UnknownProposal, "{backend:?}");
        let row = inbox::Entity::find_by_id("nowhere-1")
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.event.len() <= UNKNOWN_PROPOSAL_BOUND,
            "{backend:?}: {} bytes kept",
            row.event.len()
        );

        let again = engine.apply(large("x"), Source::Api).await.unwrap();
        let Outcome::Duplicate(copy) = again else {
            panic!("{again:?}")
        };
        assert!(copy.same_request, "{backend:?}");
        assert!(!copy.applied);
        assert_eq!(copy.code.as_deref(), Some("unknown_proposal"));

        let other = engine.apply(large("y"), Source::Api).await.unwrap();
        let Outcome::Duplicate(reused) = other else {
            panic!("{other:?}")
        };
        assert!(!reused.same_request, "{backend:?}");
        assert_eq!(inbox::Entity::find().count(engine.db()).await.unwrap(), 1);
    }
}
