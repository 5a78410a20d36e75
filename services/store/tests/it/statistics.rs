//! The statistics counters the one path keeps, against a recount from the rows: after real
//! workflows (re-handling, second receipts, disclosures replaced, co-handlers, re-assignment,
//! refused events), on both backends, and with concurrent writers on PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use cohandle_store::{queries, statistics, Engine, Source};
use cohandle_workflows::event::DisputeDecision;
use cohandle_workflows::{Actor, ActorKind, Body, Event};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement};
use serde_json::json;

use crate::support::*;

/// Handlers the generated proposals draw from.
const AGENCIES: [&str; 6] = [
    "cq-kjj", "cq-jw", "cq-czj", "cq-jtj", "cq-sthjj", "cq-nyncw",
];

/// One generated proposal's path through the workflow.
#[derive(Debug, Clone)]
struct Shape {
    key: String,
    /// The lead at assignment, when it disputes and the task moves to `lead`.
    disputed_by: Option<&'static str>,
    lead: &'static str,
    co: Vec<&'static str>,
    class: &'static str,
    meeting: bool,
    late: bool,
    /// One receipt, or a dissatisfied one and the receipt after re-handling.
    receipts: Vec<&'static str>,
    disclosures: Vec<&'static str>,
}

/// A small deterministic generator, so that a failure names the proposal that caused it.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn shape(n: usize) -> Shape {
    let mut rng = Lcg(n as u64 + 1);
    let mut pool: Vec<&'static str> = AGENCIES.to_vec();
    let mut take = |rng: &mut Lcg| pool.remove(rng.below(pool.len()));
    let lead = take(&mut rng);
    let disputed_by = (rng.below(5) == 0).then(|| take(&mut rng));
    let co = (0..rng.below(3)).map(|_| take(&mut rng)).collect();
    let satisfaction = ["satisfied", "basically_satisfied", "dissatisfied"];
    let receipts = match rng.below(3) {
        0 => vec!["dissatisfied", satisfaction[rng.below(3)]],
        _ => vec![satisfaction[rng.below(2)]],
    };
    let scopes = ["full", "summary", "withheld"];
    Shape {
        key: format!("cq-stat-{n:04}"),
        disputed_by,
        lead,
        co,
        class: ["A", "B", "C", "D"][rng.below(4)],
        meeting: rng.below(2) == 0,
        late: rng.below(4) == 0,
        receipts,
        disclosures: (0..rng.below(3)).map(|_| scopes[rng.below(3)]).collect(),
    }
}

fn body(value: serde_json::Value) -> Body {
    serde_json::from_value(value).unwrap()
}

fn congress_office() -> Actor {
    Actor {
        agency: code("cq-rdgw"),
        kind: ActorKind::CongressOffice,
    }
}

/// The shape's events, in order, with the ones the engine must refuse marked `false`.
fn events(s: &Shape) -> Vec<(Event, bool)> {
    let key = s.key.as_str();
    let mut out: Vec<(Event, bool)> = Vec::new();
    let mut push = |name: &str, actor: Actor, day: &str, b: Body, applied: bool| {
        let id = format!("{key}-{}-{name}", out.len());
        out.push((event(&id, key, actor, day, b), applied));
    };
    let first_lead = s.disputed_by.unwrap_or(s.lead);
    let mut handlers = vec![json!({"agency": first_lead, "role": "lead"})];
    handlers.extend(
        s.co.iter()
            .map(|c| json!({"agency": c, "role": "co_handler"})),
    );
    push(
        "assign",
        assigner(),
        "2020-02-26",
        body(json!({"type": "assign", "data": {
            "definition": "chongqing-deputy-suggestion",
            "info": {"kind": "deputy_suggestion", "number": key, "session": "市五届人大三次会议",
                     "title": "关于加强科技创新的建议", "category": "科技", "lead_deputy": "郎平权",
                     "co_signers": [], "submitted_on": "2020-01-12", "session_closed_on": "2020-01-16",
                     "disclosure_consent": "full_text", "key_supervision": false},
            "mode": if s.co.is_empty() { "sole" } else { "lead_with_co_handlers" },
            "handlers": handlers,
            "assigned_on": "2020-02-26"}})),
        true,
    );
    if let Some(first) = s.disputed_by {
        push(
            "dispute",
            agency(first),
            "2020-02-27",
            body(json!({"type": "dispute", "data": {"reason": "不属于本单位职责"}})),
            true,
        );
        push(
            "decide",
            assigner(),
            "2020-02-27",
            Body::DecideDispute {
                agency: code(first),
                decision: DisputeDecision::Reassign {
                    to: code(s.lead),
                    reason: "调整承办单位".into(),
                },
            },
            true,
        );
    }
    push(
        "sign-for",
        agency(s.lead),
        "2020-02-27",
        body(json!({"type": "sign_for"})),
        true,
    );
    for c in &s.co {
        push(
            "ack",
            agency(c),
            "2020-02-28",
            body(json!({"type": "acknowledge"})),
            true,
        );
        push(
            "opinion",
            agency(c),
            "2020-03-16",
            body(json!({"type": "submit_opinion", "data": {
                "document_number": format!("{c}函〔2020〕1号"), "summary": "协办意见",
                "submitted_on": "2020-03-16"}})),
            true,
        );
    }
    push(
        "contact",
        agency(s.lead),
        "2020-04-03",
        body(json!({"type": "record_contact", "data": {
            "method": if s.meeting { "meeting" } else { "phone" }, "on": "2020-04-03",
            "deputy_agreed": true, "note": ""}})),
        true,
    );
    // The reply falls due on 2020-05-26; a late one goes out in June.
    let rounds = if s.late {
        [
            ["2020-05-29", "2020-06-01", "2020-06-15"],
            ["2020-06-20", "2020-06-22", "2020-07-06"],
        ]
    } else {
        [
            ["2020-04-08", "2020-04-10", "2020-04-24"],
            ["2020-05-06", "2020-05-08", "2020-05-20"],
        ]
    };
    for (satisfaction, [drafted, sent, received]) in s.receipts.iter().zip(rounds) {
        push(
            "draft",
            agency(s.lead),
            drafted,
            body(json!({"type": "draft_reply", "data": {
                "result_class": s.class, "document_number": format!("{key}函"), "summary": "复函",
                "co_handler_views": s.co, "commits_funds": false}})),
            true,
        );
        push(
            "sign",
            agency(s.lead),
            sent,
            body(json!({"type": "sign_reply", "data": {
                "signer": "许洪斌", "title": "局长", "principal_head": true, "signed_on": sent}})),
            true,
        );
        push(
            "reply",
            agency(s.lead),
            sent,
            body(json!({"type": "send_reply", "data": {
                "sent_on": sent, "deputies": ["郎平权"], "copies": []}})),
            true,
        );
        push(
            "feedback",
            congress_office(),
            received,
            body(
                json!({"type": "record_feedback", "data": {"agency": s.lead, "feedback": {
                "satisfaction": satisfaction, "comments": "", "received_on": received}}}),
            ),
            true,
        );
    }
    for (i, scope) in s.disclosures.iter().enumerate() {
        let day = format!("2020-09-{:02}", 16 + i);
        push(
            "disclosure",
            agency(s.lead),
            &day,
            disclosure(scope, &day),
            true,
        );
    }
    // Refused: a second signing-for, and a disclosure by someone who is not the lead.
    push(
        "sign-for-again",
        agency(s.lead),
        "2020-10-09",
        body(json!({"type": "sign_for"})),
        false,
    );
    let intruder = s.co.first().copied().unwrap_or("cq-wsjkw");
    push(
        "foreign-disclosure",
        agency(intruder),
        "2020-10-09",
        disclosure("full", "2020-10-09"),
        false,
    );
    out
}

fn disclosure(scope: &str, day: &str) -> Body {
    let reason = (scope != "full").then_some("privacy");
    body(json!({"type": "record_disclosure", "data": {
        "index_number": "11500000MB15895317/2020-00762", "topic": "科技", "genre": "人大建议办理",
        "issuing_body": "市科技局", "written_on": "2020-04-10", "published_on": day,
        "scope": scope, "withheld_reason": reason}}))
}

/// Applies the events one by one, the clock at each event's time, checking each outcome.
async fn drive(engine: &Engine, clock: &cohandle_store::ManualClock, events: Vec<(Event, bool)>) {
    for (e, applied) in events {
        clock.set(e.occurred_at);
        let outcome = engine.apply(e.clone(), Source::Bus).await.unwrap();
        assert_eq!(outcome.is_applied(), applied, "{}: {outcome:?}", e.id);
    }
}

#[derive(Debug, FromQueryResult)]
struct Agency {
    agency: String,
}

/// Every agency's counters, and their sum, equal the recount from the rows, and the
/// statistics read from them equal the statistics computed from the rows; so does every
/// counter of every jurisdiction.
async fn assert_counters_match_rows(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    let agencies: BTreeSet<String> = Agency::find_by_statement(Statement::from_string(
        backend,
        "SELECT agency FROM tasks UNION SELECT agency FROM statistics_counters \
         UNION SELECT agency FROM disclosures",
    ))
    .all(db)
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.agency)
    .collect();
    assert!(agencies.len() > 1, "{agencies:?}");
    let scopes = agencies.iter().map(|a| Some(a.as_str())).chain([None]);
    for scope in scopes {
        assert_eq!(
            statistics::counters(db, scope).await.unwrap(),
            statistics::recount_counters(db, scope).await.unwrap(),
            "{backend:?} {scope:?}"
        );
        assert_eq!(
            queries::statistics(db, scope).await.unwrap(),
            statistics::recount(db, scope).await.unwrap(),
            "{backend:?} {scope:?}"
        );
    }
    assert_eq!(statistics::drift(db).await.unwrap(), vec![], "{backend:?}");
}

/// A database of `backend` holding case 0942, driven through the engine (keep the `TestDb`).
async fn case_0942_stored(backend: Backend) -> (TestDb, Engine) {
    let db = TestDb::new(backend).await;
    let clock = clock("2020-02-26");
    let engine = db.engine(clock.clone()).await;
    let case = cohandle_workflows::cases::case_0942();
    drive(
        &engine,
        &clock,
        case.into_iter().map(|e| (e, true)).collect(),
    )
    .await;
    (db, engine)
}

#[tokio::test]
async fn case_0942_moves_the_counters_of_its_agencies() {
    for backend in BACKENDS {
        let (_db, engine) = case_0942_stored(backend).await;
        let kjj = queries::statistics(engine.db(), Some("cq-kjj"))
            .await
            .unwrap();
        assert_eq!((kjj.handler_tasks, kjj.completed, kjj.replies), (1, 1, 1));
        assert_eq!(kjj.published_share, Some(1.0));
        let jw = statistics::counters(engine.db(), Some("cq-jw"))
            .await
            .unwrap();
        // A co-handler has no handler's figures: its task, and its opinion, sent on time.
        let expected: BTreeMap<String, i64> = [
            ("co_handler_tasks", 1),
            ("opinions", 1),
            ("opinions_on_time", 1),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
        assert_eq!(jw, expected);
        assert_counters_match_rows(engine.db()).await;
    }
}

#[tokio::test]
async fn generated_workflows_keep_the_counters_equal_to_the_rows() {
    let shapes: Vec<Shape> = (0..40).map(shape).collect();
    assert!(shapes.iter().any(|s| s.disputed_by.is_some()));
    assert!(shapes.iter().any(|s| s.receipts.len() == 2));
    assert!(shapes.iter().any(|s| s.disclosures.len() == 2));
    assert!(shapes.iter().any(|s| s.late));
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let clock = clock("2020-02-26");
        let engine = db.engine(clock.clone()).await;
        for (n, s) in shapes.iter().enumerate() {
            drive(&engine, &clock, events(s)).await;
            if n % 10 == 9 {
                assert_counters_match_rows(engine.db()).await;
            }
        }
        let all = queries::statistics(engine.db(), None).await.unwrap();
        assert!(all.handler_tasks >= 40 && all.replies >= 40, "{all:?}");
        assert!(all.on_time_rate.is_some_and(|r| r < 1.0), "{all:?}");
        // An upgraded database is filled from its rows: a rebuild changes nothing.
        let before = statistics::counters(engine.db(), None).await.unwrap();
        statistics::rebuild(engine.db()).await.unwrap();
        assert_eq!(
            statistics::counters(engine.db(), None).await.unwrap(),
            before
        );
    }
}

#[tokio::test]
async fn a_batch_of_many_proposals_moves_the_counters_once() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        // Past workflows brought in after the fact: an import, decided at their own times.
        let engine = db.engine(clock("2020-12-31")).await;
        let plans: Vec<Vec<(Event, bool)>> = (100..120).map(|n| events(&shape(n))).collect();
        // Step i of every proposal in one batch: a batch carries many proposals, and
        // several events of one when the plans have different lengths.
        let longest = plans.iter().map(Vec::len).max().unwrap();
        for chunk in (0..longest).collect::<Vec<_>>().chunks(3) {
            let batch: Vec<(Event, bool)> = chunk
                .iter()
                .flat_map(|i| plans.iter().filter_map(|p| p.get(*i).cloned()))
                .collect();
            let (events, expected): (Vec<Event>, Vec<bool>) = batch.into_iter().unzip();
            let outcomes = engine
                .apply_batch(events.clone(), Source::Import)
                .await
                .unwrap();
            for ((outcome, applied), e) in outcomes.iter().zip(expected).zip(&events) {
                assert_eq!(
                    outcome.is_applied(),
                    applied,
                    "{backend:?} {}: {outcome:?}",
                    e.id
                );
            }
        }
        assert_counters_match_rows(engine.db()).await;
    }
}

/// Writers on different proposals of the same agencies, in parallel: every batch adds to
/// the same counter rows, and none is lost or deadlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_count() {
    let db = TestDb::new(Backend::Postgres).await;
    let engine = db.engine(clock("2020-12-31")).await;
    const WRITERS: usize = 6;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let engine = engine.clone();
        writers.push(tokio::spawn(async move {
            let plans: Vec<Vec<(Event, bool)>> =
                (0..8).map(|i| events(&shape(1000 + w * 8 + i))).collect();
            let longest = plans.iter().map(Vec::len).max().unwrap();
            for i in 0..longest {
                let batch: Vec<Event> = plans
                    .iter()
                    .filter_map(|p| p.get(i).map(|(e, _)| e.clone()))
                    .collect();
                engine.apply_batch(batch, Source::Bus).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let all = queries::statistics(engine.db(), None).await.unwrap();
    assert_eq!(all.handler_tasks, (WRITERS * 8) as i64);
    assert_counters_match_rows(engine.db()).await;
}

#[tokio::test]
async fn a_counter_changed_outside_the_engine_is_found_and_rebuilt() {
    use sea_orm::ConnectionTrait;

    for backend in BACKENDS {
        let (_db, engine) = case_0942_stored(backend).await;
        assert_eq!(statistics::drift(engine.db()).await.unwrap(), vec![]);

        engine
            .db()
            .execute_unprepared(
                "UPDATE statistics_counters SET value = value + 2 WHERE scope = 'cq' AND agency = 'cq-kjj' AND name = 'replies'; \
                 DELETE FROM statistics_counters WHERE scope = '*' AND agency = 'cq-kjj' AND name = 'completed'; \
                 UPDATE statistics_months SET value = 5 WHERE scope = 'agency:cq-jw' AND name = 'opinions'",
            )
            .await
            .unwrap();
        let found = statistics::drift(engine.db()).await.unwrap();
        let seen: Vec<(&str, String, i64, i64)> = found
            .iter()
            .map(|d| (d.table, d.key.join(" "), d.stored, d.counted))
            .collect();
        let session = "市五届人大三次会议 deputy_suggestion";
        assert_eq!(
            seen,
            vec![
                (
                    "statistics_counters",
                    format!("* {session} cq-kjj completed"),
                    0,
                    1
                ),
                (
                    "statistics_counters",
                    format!("cq {session} cq-kjj replies"),
                    3,
                    1
                ),
                (
                    "statistics_months",
                    format!("agency:cq-jw {session} 2020-03 opinions"),
                    5,
                    1
                ),
            ],
            "{backend:?}"
        );

        statistics::rebuild(engine.db()).await.unwrap();
        assert_eq!(statistics::drift(engine.db()).await.unwrap(), vec![]);
        assert_counters_match_rows(engine.db()).await;
    }
}
