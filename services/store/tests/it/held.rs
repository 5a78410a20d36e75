//! Held events: an event that arrives before the step it depends on waits with its proposal,
//! is applied when that step arrives (in arrival order, in the same transaction), and is
//! refused and answered when its window ends; its id is decided once throughout.

use std::time::Duration;

use cohandle_store::entities::{held_event, history, inbox, outbox};
use cohandle_store::held::{self, Filter};
use cohandle_store::history::verify;
use cohandle_store::Clock;
use cohandle_store::{monitor, Engine, Outcome, Source};
use cohandle_workflows::model::Opinion;
use cohandle_workflows::{Body, Event, RejectionCode};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::support::*;

const KEY: &str = "cq-5-3-0942";

fn opinion(id: &str, from: &str) -> Event {
    event(
        id,
        KEY,
        agency(from),
        "2020-02-27",
        Body::SubmitOpinion(Opinion {
            document_number: "渝教函〔2020〕1号".into(),
            summary: "同意".into(),
            submitted_on: None,
        }),
    )
}

fn acknowledge(id: &str, from: &str) -> Event {
    event(id, KEY, agency(from), "2020-02-27", Body::Acknowledge)
}

async fn inbox_row(engine: &Engine, id: &str) -> inbox::Model {
    inbox::Entity::find_by_id(id.to_owned())
        .one(engine.db())
        .await
        .unwrap()
        .unwrap()
}

async fn refusals_answered(engine: &Engine) -> Vec<String> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("rejected"))
        .all(engine.db())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event_id)
        .collect()
}

async fn held_now(engine: &Engine) -> Vec<String> {
    held::list(engine, &Filter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.event_id)
        .collect()
}

/// The events of proposal `KEY`'s history, in the order they were applied.
async fn applied_in_order(engine: &Engine) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for row in history::Entity::find()
        .filter(history::Column::ProposalKey.eq(KEY))
        .order_by_asc(history::Column::Seq)
        .all(engine.db())
        .await
        .unwrap()
    {
        if !ids.contains(&row.event_id) {
            ids.push(row.event_id);
        }
    }
    ids
}

#[tokio::test]
async fn a_step_that_overtook_the_one_before_it_is_held_then_applied_when_that_one_arrives() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        engine
            .apply(assign("a1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();

        // 市教委's opinion overtook its acknowledgement.
        let outcome = engine
            .apply(opinion("o1", "cq-jw"), Source::Bus)
            .await
            .unwrap();
        let Outcome::Held { why, until } = &outcome else {
            panic!("{backend:?}: {outcome:?}")
        };
        assert_eq!(why.code, RejectionCode::WrongState);
        assert_eq!(*until - at("2020-02-26"), chrono::Duration::minutes(10));
        let row = inbox_row(&engine, "o1").await;
        assert_eq!(
            (row.outcome.as_str(), row.code.as_deref()),
            ("held", Some("wrong_state"))
        );
        assert!(row.message.contains("acknowledged"), "{}", row.message);
        assert_eq!(held_now(&engine).await, ["o1"]);
        assert!(
            refusals_answered(&engine).await.is_empty(),
            "nothing is answered yet"
        );
        assert_eq!(engine.load(KEY).await.unwrap().unwrap().1, 1);

        // A copy is a copy of a held event, under the window it was held for.
        let copy = engine
            .apply(opinion("o1", "cq-jw"), Source::Bus)
            .await
            .unwrap();
        let Outcome::Duplicate(first) = copy else {
            panic!("{copy:?}")
        };
        assert!(first.same_request && !first.applied);
        assert_eq!(first.held_until, Some(*until));
        let mut other = opinion("o1", "cq-jw");
        other.body = Body::Acknowledge;
        let Outcome::Duplicate(reused) = engine.apply(other, Source::Bus).await.unwrap() else {
            panic!()
        };
        assert!(!reused.same_request, "another event under a held id");

        // The acknowledgement arrives: both apply, in the transaction that applied it.
        let outcome = engine
            .apply(acknowledge("k1", "cq-jw"), Source::Api)
            .await
            .unwrap();
        assert!(outcome.is_applied(), "{outcome:?}");
        let (proposal, version) = engine.load(KEY).await.unwrap().unwrap();
        assert_eq!(version, 3, "{backend:?}");
        assert_eq!(proposal.task(&code("cq-jw")).unwrap().state, "opinion_sent");
        assert_eq!(applied_in_order(&engine).await, ["a1", "k1", "o1"]);
        let row = inbox_row(&engine, "o1").await;
        assert_eq!(
            (
                row.outcome.as_str(),
                row.code,
                row.version,
                row.source.as_str()
            ),
            ("applied", None, 3, "bus")
        );
        assert!(held_now(&engine).await.is_empty());
        assert!(refusals_answered(&engine).await.is_empty());
        assert_eq!(verify(engine.db(), Some(KEY)).await.unwrap().broken, None);

        // Its final outcome is the one a copy gets from now on.
        let Outcome::Duplicate(now) = engine
            .apply(opinion("o1", "cq-jw"), Source::Bus)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(now.applied && now.held_until.is_none());
    }
}

#[tokio::test]
async fn events_before_their_assignment_wait_for_it_and_apply_in_arrival_order() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        // One batch, as a worker takes it: the opinion, then the acknowledgement it needs,
        // then a stranger's acknowledgement, all before the assignment.
        let outcomes = engine
            .apply_batch(
                vec![
                    opinion("o1", "cq-jw"),
                    acknowledge("k1", "cq-jw"),
                    acknowledge("k9", "cq-fgw"),
                    event("s1", KEY, agency("cq-kjj"), "2020-02-26", Body::SignFor),
                ],
                Source::Bus,
            )
            .await
            .unwrap();
        for outcome in &outcomes {
            let Outcome::Held { why, .. } = outcome else {
                panic!("{backend:?}: {outcome:?}")
            };
            assert_eq!(why.code, RejectionCode::UnknownProposal);
        }
        assert_eq!(held_now(&engine).await, ["o1", "k1", "k9", "s1"]);

        let outcome = engine
            .apply(assign("a1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        assert!(outcome.is_applied(), "{outcome:?}");
        // In arrival order, each as soon as it fits: the acknowledgement, then the opinion
        // that needed it; the sign-for. The stranger turned out not to be a handler: a
        // final refusal, answered at once.
        assert_eq!(applied_in_order(&engine).await, ["a1", "k1", "o1", "s1"]);
        assert_eq!(engine.load(KEY).await.unwrap().unwrap().1, 4);
        let stranger = inbox_row(&engine, "k9").await;
        assert_eq!(
            (stranger.outcome.as_str(), stranger.code.as_deref()),
            ("rejected", Some("actor_not_allowed"))
        );
        assert_eq!(refusals_answered(&engine).await, ["k9"]);
        assert!(held_now(&engine).await.is_empty());
        assert_eq!(verify(engine.db(), Some(KEY)).await.unwrap().broken, None);
        let decided = inbox::Entity::find().count(engine.db()).await.unwrap();
        assert_eq!(decided, 5, "each id decided once");
    }
}

#[tokio::test]
async fn a_held_event_still_out_of_place_when_its_window_ends_is_refused_and_answered() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        engine
            .apply(assign("a1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        let outcome = engine
            .apply(opinion("o1", "cq-jw"), Source::Api)
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Held { .. }), "{outcome:?}");

        // Within the window the monitor leaves it alone.
        clock.advance(chrono::Duration::minutes(9));
        let pass = monitor::fire_due(&engine, "test", 100).await.unwrap();
        assert_eq!(pass.expired, 0);
        assert_eq!(held_now(&engine).await, ["o1"]);

        clock.advance(chrono::Duration::minutes(2));
        let pass = monitor::fire_due(&engine, "test", 100).await.unwrap();
        assert_eq!(pass.expired, 1, "{backend:?}");
        let row = inbox_row(&engine, "o1").await;
        assert_eq!(
            (
                row.outcome.as_str(),
                row.code.as_deref(),
                row.source.as_str()
            ),
            ("rejected", Some("wrong_state"), "api")
        );
        assert!(row.message.contains("held from"), "{}", row.message);
        assert_eq!(refusals_answered(&engine).await, ["o1"]);
        assert!(held_now(&engine).await.is_empty());
        assert_eq!(engine.load(KEY).await.unwrap().unwrap().1, 1);

        // Decided once: a copy now gets the refusal, and the acknowledgement that comes too
        // late applies alone.
        let Outcome::Duplicate(first) = engine
            .apply(opinion("o1", "cq-jw"), Source::Api)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (first.applied, first.code.as_deref(), first.held_until),
            (false, Some("wrong_state"), None)
        );
        assert!(engine
            .apply(acknowledge("k1", "cq-jw"), Source::Api)
            .await
            .unwrap()
            .is_applied());
        assert_eq!(applied_in_order(&engine).await, ["a1", "k1"]);
        let pass = monitor::fire_due(&engine, "test", 100).await.unwrap();
        assert_eq!(pass.expired, 0);
    }
}

#[tokio::test]
async fn an_engine_that_holds_nothing_still_applies_what_another_held() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        engine
            .apply(assign("a1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        assert!(matches!(
            engine
                .apply(opinion("o1", "cq-jw"), Source::Bus)
                .await
                .unwrap(),
            Outcome::Held { .. }
        ));
        let apart = engine.with_hold_window(Duration::ZERO);
        assert!(apart
            .apply(acknowledge("k1", "cq-jw"), Source::Bus)
            .await
            .unwrap()
            .is_applied());
        assert!(held_now(&engine).await.is_empty(), "{backend:?}");
        assert_eq!(applied_in_order(&engine).await, ["a1", "k1", "o1"]);
    }
}

#[tokio::test]
async fn a_held_event_that_fits_by_the_end_of_its_window_is_applied_then() {
    // Held by a transaction that committed just after the one that brought the step it
    // needed had read the proposal's held events (an event for a proposal being assigned
    // at that moment: there is no row to queue on yet). Nothing changes the proposal
    // again; the monitor's last try applies it.
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        for e in [assign("a1", KEY, "2020-02-26"), acknowledge("k1", "cq-jw")] {
            assert!(engine.apply(e, Source::Bus).await.unwrap().is_applied());
        }
        let late = opinion("o1", "cq-jw");
        let now = clock.now();
        let json = serde_json::to_string(&late).unwrap();
        inbox::Entity::insert(sea_orm::IntoActiveModel::into_active_model(inbox::Model {
            event_id: "o1".into(),
            proposal_key: KEY.into(),
            event_type: "submit_opinion".into(),
            actor_agency: "cq-jw".into(),
            outcome: "held".into(),
            code: Some("unknown_proposal".into()),
            message: "held".into(),
            version: 0,
            source: "bus".into(),
            event: json.clone(),
            recorded_at: now,
        }))
        .exec(engine.db())
        .await
        .unwrap();
        held_event::Entity::insert(held_event::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            event_id: Set("o1".into()),
            proposal_key: Set(KEY.into()),
            event_type: Set("submit_opinion".into()),
            actor_agency: Set("cq-jw".into()),
            source: Set("bus".into()),
            code: Set("unknown_proposal".into()),
            message: Set("not assigned yet".into()),
            event: Set(json),
            held_at: Set(now),
            held_until: Set(now + chrono::Duration::minutes(10)),
        })
        .exec(engine.db())
        .await
        .unwrap();

        clock.advance(chrono::Duration::minutes(10));
        let pass = monitor::fire_due(&engine, "test", 100).await.unwrap();
        assert_eq!(pass.expired, 1, "{backend:?}");
        assert_eq!(applied_in_order(&engine).await, ["a1", "k1", "o1"]);
        let row = inbox_row(&engine, "o1").await;
        assert_eq!((row.outcome.as_str(), row.version), ("applied", 3));
        assert!(held_now(&engine).await.is_empty());
        assert!(refusals_answered(&engine).await.is_empty());
        assert_eq!(verify(engine.db(), Some(KEY)).await.unwrap().broken, None);
    }
}

#[tokio::test]
async fn final_refusals_and_the_engines_own_events_are_not_held() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let engine = db.engine(clock("2020-02-26")).await;
        engine
            .apply(assign("a1", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        // A sender that may not send the event: final, whatever arrives later.
        let outcome = engine
            .apply(acknowledge("x1", "cq-fgw"), Source::Bus)
            .await
            .unwrap();
        let Outcome::Rejected(refused) = outcome else {
            panic!("{backend:?}: {outcome:?}")
        };
        assert_eq!(refused.code, RejectionCode::ActorNotAllowed);
        // A step its task can never take (a co-handler's task has no sign-for).
        let outcome = engine
            .apply(
                event("x2", KEY, agency("cq-jw"), "2020-02-27", Body::SignFor),
                Source::Bus,
            )
            .await
            .unwrap();
        let Outcome::Rejected(refused) = outcome else {
            panic!("{backend:?}: {outcome:?}")
        };
        assert_eq!(refused.code, RejectionCode::WrongState);
        // An assignment of a proposal that exists.
        let again = engine
            .apply(assign("a2", KEY, "2020-02-26"), Source::Bus)
            .await
            .unwrap();
        assert!(
            matches!(again, Outcome::Rejected(ref r) if r.code == RejectionCode::AlreadyExists)
        );
        // The command line and replays are decided at once.
        for source in [Source::Cli, Source::Replay, Source::Import] {
            let id = format!("o-{}", source.as_str());
            let outcome = engine.apply(opinion(&id, "cq-jw"), source).await.unwrap();
            assert!(
                matches!(outcome, Outcome::Rejected(ref r) if r.code == RejectionCode::WrongState),
                "{source:?}: {outcome:?}"
            );
        }
        // A window of zero holds nothing.
        let outcome = engine
            .with_hold_window(Duration::ZERO)
            .apply(opinion("o-zero", "cq-jw"), Source::Bus)
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
        assert!(held_now(&engine).await.is_empty());
    }
}
