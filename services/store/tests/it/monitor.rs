//! The deadline monitor: every timer kind, exactly once under two racing monitors,
//! catch-up after downtime, extensions, stopped clocks and calendar corrections.

use std::sync::Arc;

use cohandle_store::entities::{history, inbox, outbox, timer};
use cohandle_store::monitor::{self, catch_up, fire_due};
use cohandle_store::{calendars, Clock, Engine, ManualClock, Outcome, Source};
use cohandle_workflows::calendar::YearStatus;
use cohandle_workflows::model::{Dispatch, Draft, ResultClass, Signature};
use cohandle_workflows::{Body, Calendar, Event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::support::*;

async fn timers(engine: &Engine, key: &str, deadline: &str, state: &str) -> Vec<timer::Model> {
    timer::Entity::find()
        .filter(timer::Column::ProposalKey.eq(key))
        .filter(timer::Column::Deadline.eq(deadline))
        .filter(timer::Column::State.eq(state))
        .order_by_asc(timer::Column::FireAt)
        .all(engine.db())
        .await
        .unwrap()
}

async fn apply_ok(engine: &Engine, clock: &ManualClock, event: Event) {
    clock.set(event.occurred_at);
    let outcome = engine.apply(event, Source::Api).await.unwrap();
    assert!(outcome.is_applied(), "{outcome:?}");
}

fn sole(id: &str, key: &str, day: &str) -> Event {
    let mut e = assign(id, key, day);
    if let Body::Assign(a) = &mut e.body {
        a.mode = cohandle_workflows::model::AssignmentMode::Sole;
        a.handlers.truncate(1);
    }
    e
}

/// The lead of a sole proposal drafts, signs and sends on `day`.
async fn reply(engine: &Engine, clock: &ManualClock, key: &str, day: &str) {
    let lead = || agency("cq-kjj");
    apply_ok(
        engine,
        clock,
        event(&format!("{key}-sign-for"), key, lead(), day, Body::SignFor),
    )
    .await;
    let draft = Body::DraftReply(Draft {
        result_class: ResultClass::A,
        document_number: "渝科局函〔2020〕1号".into(),
        summary: "s".into(),
        co_handler_views: vec![],
        commits_funds: false,
    });
    apply_ok(
        engine,
        clock,
        event(&format!("{key}-draft"), key, lead(), day, draft),
    )
    .await;
    let sign = Body::SignReply(Signature {
        signer: "许洪斌".into(),
        title: "局长".into(),
        principal_head: true,
        signed_on: date(day),
    });
    apply_ok(
        engine,
        clock,
        event(&format!("{key}-sign"), key, lead(), day, sign),
    )
    .await;
    let send = Body::SendReply(Dispatch {
        sent_on: date(day),
        deputies: vec!["郎平权".into()],
        copies: vec![],
    });
    apply_ok(
        engine,
        clock,
        event(&format!("{key}-send"), key, lead(), day, send),
    )
    .await;
}

#[tokio::test]
async fn every_timer_kind_fires_through_the_one_path() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        apply_ok(&engine, &clock, assign("a", "cq-p1", "2020-02-26")).await;

        // Dispute windows close after 4 March.
        clock.set(at("2020-03-05"));
        let pass = fire_due(&engine, "m", 100).await.unwrap();
        assert_eq!((pass.claimed, pass.applied), (3, 3), "{backend:?}");
        let (p, _) = engine.load("cq-p1").await.unwrap().unwrap();
        assert!(p
            .tasks
            .iter()
            .all(|t| !t.deadlines.contains_key("dispute_window")));

        // Co-handlers are reminded a week and a day before 26 March, then escalated.
        clock.set(at("2020-03-27"));
        let pass = catch_up(&engine, "m", 100).await.unwrap();
        assert_eq!(
            pass.applied, 6,
            "two reminders and an expiry for each co-handler"
        );
        let escalations = outbox::Entity::find()
            .filter(outbox::Column::RoutingKey.eq("supervisors.cq"))
            .filter(outbox::Column::Payload.contains("\"expiry\""))
            .count(engine.db())
            .await
            .unwrap();
        assert_eq!(
            escalations, 2,
            "each overdue opinion is escalated to supervisors"
        );
        assert_eq!(
            history::Entity::find()
                .filter(history::Column::EventType.eq("reminder"))
                .count(engine.db())
                .await
                .unwrap(),
            4
        );

        // A sole proposal whose deputy never returns the receipt: the window closes it.
        apply_ok(&engine, &clock, sole("b", "cq-p2", "2020-03-27")).await;
        reply(&engine, &clock, "cq-p2", "2020-04-01").await;
        clock.set(at("2020-12-31"));
        catch_up(&engine, "m", 100).await.unwrap();
        let (p2, _) = engine.load("cq-p2").await.unwrap().unwrap();
        assert_eq!(p2.state, "closed");
        assert!(timer::Entity::find()
            .filter(timer::Column::State.is_in(["pending", "claimed"]))
            .all(engine.db())
            .await
            .unwrap()
            .is_empty());
    }
}

/// Two monitors race over 10,000 due timers on PostgreSQL: each fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_monitors_fire_ten_thousand_timers_exactly_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let clock = clock("2020-02-26");
    let engine = db.engine(clock.clone()).await;
    // 834 proposals with a lead and two co-handlers hold 12 timers each.
    let assignments: Vec<Event> = (0..834)
        .map(|i| assign(&format!("a{i}"), &format!("cq-p{i:04}"), "2020-02-26"))
        .collect();
    for chunk in assignments.chunks(100) {
        let outcomes = engine
            .apply_batch(chunk.to_vec(), Source::Api)
            .await
            .unwrap();
        assert!(outcomes.iter().all(Outcome::is_applied));
    }
    let due = timer::Entity::find().count(engine.db()).await.unwrap();
    assert_eq!(due, 10_008);
    clock.set(at("2020-12-31"));

    let race = |name: &'static str| {
        let engine = engine.clone();
        tokio::spawn(async move { catch_up(&engine, name, 200).await.unwrap() })
    };
    let (a, b) = (race("monitor-a"), race("monitor-b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(
        a.claimed + b.claimed,
        10_008,
        "every timer claimed once: {a:?} {b:?}"
    );
    assert_eq!(a.applied + b.applied, 10_008);
    assert_eq!(a.duplicates + b.duplicates, 0, "no timer was fired twice");
    assert!(
        a.claimed > 0 && b.claimed > 0,
        "both monitors worked: {a:?} {b:?}"
    );

    let fired_events = inbox::Entity::find()
        .filter(inbox::Column::Source.eq("timer"))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(fired_events, 10_008);
    let applied = inbox::Entity::find()
        .filter(inbox::Column::Source.eq("timer"))
        .filter(inbox::Column::Outcome.eq("applied"))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(applied, 10_008);
    let timer_history = history::Entity::find()
        .filter(history::Column::EventType.is_in(["reminder", "expiry"]))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(timer_history, 10_008, "one history row per firing");
    let left = timer::Entity::find()
        .filter(timer::Column::State.ne("fired"))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        cohandle_store::history::verify(engine.db(), None)
            .await
            .unwrap()
            .broken,
        None
    );
}

/// A claimer never waits for a proposal while holding timers: the timers of a proposal that
/// another transaction is changing stay pending for a later pass (no deadlock between two
/// monitors, or a monitor and a bus batch cancelling the same timers).
#[tokio::test]
async fn the_timers_of_a_proposal_being_changed_wait_for_a_later_pass() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    let db = TestDb::new(Backend::Postgres).await;
    let clock = clock("2020-02-26");
    let engine = db.engine(clock.clone()).await;
    apply_ok(&engine, &clock, assign("a1", "cq-p1", "2020-02-26")).await;
    apply_ok(&engine, &clock, assign("a2", "cq-p2", "2020-02-26")).await;
    clock.set(at("2020-12-31"));

    let other = engine.db().begin().await.unwrap();
    other
        .execute(Statement::from_string(
            other.get_database_backend(),
            "SELECT key FROM proposals WHERE key = 'cq-p1' FOR UPDATE",
        ))
        .await
        .unwrap();
    // A claimer that waited for p1 would never return while `other` is open.
    let pass = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        fire_due(&engine, "m", 100),
    )
    .await
    .expect("the claimer waited for a proposal held elsewhere")
    .unwrap();
    assert_eq!((pass.claimed, pass.busy), (12, 12), "{pass:?}");
    let p1_pending = timer::Entity::find()
        .filter(timer::Column::ProposalKey.eq("cq-p1"))
        .filter(timer::Column::State.eq("pending"))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(p1_pending, 12, "p1's timers were left as they were");
    other.rollback().await.unwrap();

    let pass = fire_due(&engine, "m", 100).await.unwrap();
    assert_eq!(
        (pass.claimed, pass.applied, pass.busy),
        (12, 12, 0),
        "{pass:?}"
    );
    let left = timer::Entity::find()
        .filter(timer::Column::State.eq("pending"))
        .count(engine.db())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_monitor_that_was_down_catches_up_in_due_order_and_marks_lateness() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        apply_ok(&engine, &clock, assign("a", "cq-p1", "2020-02-26")).await;
        // Down from the assignment until July: twelve timers came due meanwhile.
        clock.set(at("2020-07-01"));
        let pass = catch_up(&engine, "m", 5).await.unwrap();
        assert_eq!(
            (pass.claimed, pass.applied, pass.late),
            (12, 12, 12),
            "{backend:?}"
        );
        let fired: Vec<chrono::DateTime<chrono::Utc>> = history::Entity::find()
            .filter(history::Column::EventType.is_in(["reminder", "expiry"]))
            .order_by_asc(history::Column::Seq)
            .all(engine.db())
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.occurred_at)
            .collect();
        assert!(
            fired.windows(2).all(|w| w[0] <= w[1]),
            "fired in due order: {fired:?}"
        );
        let late = timer::Entity::find()
            .filter(timer::Column::Late.eq(true))
            .count(engine.db())
            .await
            .unwrap();
        assert_eq!(late, 12);
    }
}

#[tokio::test]
async fn an_approved_extension_moves_the_deadline_and_its_reminders() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-03-02");
        let engine = db.engine(clock.clone()).await;
        apply_ok(&engine, &clock, sole("a", "cq-p1", "2020-03-02")).await;
        let request = Body::RequestExtension {
            until: date("2020-07-31"),
            reason: "涉及多部门".into(),
        };
        apply_ok(
            &engine,
            &clock,
            event("r", "cq-p1", agency("cq-kjj"), "2020-05-01", request),
        )
        .await;
        apply_ok(
            &engine,
            &clock,
            event(
                "x",
                "cq-p1",
                assigner(),
                "2020-05-06",
                Body::ApproveExtension {
                    agency: code("cq-kjj"),
                },
            ),
        )
        .await;
        // The expiry of 2 June is kept as met; its reminders, which can no longer fire,
        // are gone.
        let old = timers(&engine, "cq-p1", "reply", "cancelled").await;
        assert_eq!(
            old.iter()
                .map(|t| (t.kind.as_str(), t.due_on))
                .collect::<Vec<_>>(),
            [("expiry", date("2020-06-02"))]
        );
        let reminders = timer::Entity::find()
            .filter(timer::Column::ProposalKey.eq("cq-p1"))
            .filter(timer::Column::Kind.eq("reminder"))
            .filter(timer::Column::DueOn.eq(date("2020-06-02")))
            .count(engine.db())
            .await
            .unwrap();
        assert_eq!(reminders, 0);
        let new = timers(&engine, "cq-p1", "reply", "pending").await;
        assert_eq!(
            new.iter().map(|t| t.due_on).collect::<Vec<_>>(),
            vec![date("2020-07-31"); 3]
        );
        // The old due date passes quietly.
        clock.set(at("2020-06-10"));
        let pass = catch_up(&engine, "m", 100).await.unwrap();
        assert_eq!(
            history::Entity::find()
                .filter(history::Column::EventType.eq("expiry"))
                .filter(history::Column::Payload.contains("\"reply\""))
                .count(engine.db())
                .await
                .unwrap(),
            0,
            "{pass:?}"
        );
        clock.set(at("2020-07-25"));
        catch_up(&engine, "m", 100).await.unwrap();
        assert_eq!(
            timers(&engine, "cq-p1", "reply", "fired").await.len(),
            1,
            "the week-before reminder of the new date"
        );
    }
}

#[tokio::test]
async fn a_stopped_clock_fires_nothing_until_it_runs_again() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-09-01");
        let engine = db.engine(clock.clone()).await;
        apply_ok(&engine, &clock, sole("a", "cq-p1", "2020-09-01")).await;
        apply_ok(
            &engine,
            &clock,
            event("s", "cq-p1", agency("cq-kjj"), "2020-09-02", Body::SignFor),
        )
        .await;
        apply_ok(
            &engine,
            &clock,
            event(
                "p",
                "cq-p1",
                agency("cq-kjj"),
                "2020-09-25",
                Body::PauseClock {
                    reason: "waiting_for_deputy".into(),
                },
            ),
        )
        .await;
        assert!(timers(&engine, "cq-p1", "reply", "pending")
            .await
            .is_empty());
        // Past the original due date (1 December) while stopped: nothing fires for the reply.
        clock.set(at("2020-12-05"));
        catch_up(&engine, "m", 100).await.unwrap();
        assert!(timers(&engine, "cq-p1", "reply", "fired").await.is_empty());
        // 67 days were left; from 7 December that is 12 February 2021, in the Spring Festival
        // holiday (11–17 February), so the due date is the next working day, 18 February.
        apply_ok(
            &engine,
            &clock,
            event(
                "r",
                "cq-p1",
                agency("cq-kjj"),
                "2020-12-07",
                Body::ResumeClock,
            ),
        )
        .await;
        let pending = timers(&engine, "cq-p1", "reply", "pending").await;
        assert_eq!(
            pending.iter().map(|t| t.due_on).collect::<Vec<_>>(),
            vec![date("2021-02-18"); 3],
            "{backend:?}"
        );
        let row = cohandle_store::entities::proposal::Entity::find_by_id("cq-p1")
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.due_on, Some(date("2021-02-18")));
    }
}

#[tokio::test]
async fn a_calendar_correction_recomputes_open_deadlines_and_records_the_move() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-08-03");
        let engine = db.engine(clock.clone()).await;
        apply_ok(&engine, &clock, sole("a", "cq-p1", "2020-08-03")).await;
        reply(&engine, &clock, "cq-p1", "2020-09-25").await;
        // 20 working days from 25 September: 27 Sep (1), 28–30 (4), 9 Oct (5), 10 Oct (6),
        // 12–16 (11), 19–23 (16), 26–29 (20).
        assert_eq!(
            timers(&engine, "cq-p1", "feedback", "pending").await[0].due_on,
            date("2020-10-29")
        );

        let mut year: String = cohandle_workflows::calendar::CHINA_OFFICIAL_TSV
            .lines()
            .filter(|l| l.starts_with("2020-"))
            .map(|l| format!("{l}\n"))
            .collect();
        year.push_str("2020-10-09\tholiday\tcorrection\n");
        let corrected = Arc::new(
            engine
                .calendar()
                .corrected_by(&Calendar::from_tsv("fix.tsv", &year).unwrap())
                .unwrap(),
        );
        let fixed = engine.with_calendar(corrected);
        let report = monitor::recompute_all(&fixed, "fix-1", "2020 corrected")
            .await
            .unwrap();
        assert_eq!(
            (report.proposals, report.deadlines_moved),
            (1, 1),
            "{backend:?}"
        );
        assert_eq!(
            timers(&engine, "cq-p1", "feedback", "pending").await[0].due_on,
            date("2020-10-30")
        );
        assert_eq!(
            timers(&engine, "cq-p1", "feedback", "cancelled")
                .await
                .len(),
            1
        );
        let row = history::Entity::find()
            .filter(history::Column::Detail.is_not_null())
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.detail.as_deref(),
            Some("feedback deadline moved from 2020-10-29 to 2020-10-30")
        );
        // The same correction again changes nothing.
        let again = monitor::recompute_all(&fixed, "fix-1", "2020 corrected")
            .await
            .unwrap();
        assert_eq!(again.deadlines_moved, 0);
        assert_eq!(
            cohandle_store::history::verify(engine.db(), None)
                .await
                .unwrap()
                .broken,
            None
        );
    }
}

/// A year file of the notice's form for 2027 (test data, not the official arrangement).
const A_2027_NOTICE: &str = include_str!("../../../../workflows/tests/data/a-2027-notice.tsv");

async fn details(engine: &Engine) -> Vec<String> {
    history::Entity::find()
        .filter(history::Column::Detail.is_not_null())
        .order_by_asc(history::Column::Id)
        .all(engine.db())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|h| h.detail)
        .collect()
}

#[tokio::test]
async fn loading_next_years_notice_moves_provisional_deadlines_and_confirms_the_rest() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2026-12-01");
        let engine = db.engine(clock.clone()).await;
        // p1: assigned on 1 December 2026, its reply due 1 March 2027 (3 months): provisional.
        apply_ok(&engine, &clock, sole("a1", "cq-p1", "2026-12-01")).await;
        // p2: replied on 20 January 2027, still without the notice: the feedback window, 20
        // working days over the statutory Spring Festival (5 and 8 February off), ends on 19
        // February.
        apply_ok(&engine, &clock, sole("a2", "cq-p2", "2026-12-01")).await;
        reply(&engine, &clock, "cq-p2", "2027-01-20").await;
        let feedback = timers(&engine, "cq-p2", "feedback", "pending").await;
        assert_eq!(feedback[0].due_on, date("2027-02-19"), "{backend:?}");
        assert!(details(&engine).await.is_empty());

        // Loaded into the database, as `cohandle calendar correct` does: every engine on
        // that database (here a second one, as another role would be) picks it up.
        Calendar::year_file("2027.tsv", A_2027_NOTICE, false).unwrap();
        let other_role = db.engine(clock.clone()).await;
        let no_forcing: &[String] = &[];
        let at = clock.now();
        assert!(
            calendars::record(engine.db(), "2027.tsv", A_2027_NOTICE, no_forcing, at)
                .await
                .unwrap()
        );
        assert!(
            !calendars::record(engine.db(), "again.tsv", A_2027_NOTICE, no_forcing, at)
                .await
                .unwrap()
        );
        assert_eq!(
            other_role.calendar().year_status(2027),
            YearStatus::Provisional
        );
        other_role.refresh_calendar().await.unwrap();
        assert_eq!(
            other_role.calendar().year_status(2027),
            YearStatus::Official
        );
        let report = monitor::recompute_all(&other_role, "notice-2027", "2027 arrangement loaded")
            .await
            .unwrap();
        assert_eq!(
            (report.deadlines_moved, report.refused),
            (2, 0),
            "{backend:?}"
        );
        // Officially 9–11 February are off too and Sunday 14 February is worked: 23 February.
        assert_eq!(
            timers(&engine, "cq-p2", "feedback", "pending").await[0].due_on,
            date("2027-02-23")
        );
        let mut recorded = details(&engine).await;
        recorded.sort();
        assert_eq!(
            recorded,
            [
                "feedback deadline moved from 2027-02-19 to 2027-02-23",
                "reply deadline 2027-03-01 confirmed by the official holiday arrangement (was provisional)",
            ]
        );
        let row = cohandle_store::entities::proposal::Entity::find_by_id("cq-p1")
            .one(engine.db())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !row.document.contains("\"provisional\""),
            "{}",
            row.document
        );
    }
}
