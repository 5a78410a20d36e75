//! Group commit: concurrent writes share one transaction, and each request still hears its
//! own outcome, idempotent by its key, in the order the requests arrived.

use std::time::Duration;

use cohandle_api::GroupCommit;
use futures::future::join_all;
use serde_json::{json, Value};

use crate::support::*;

/// A window wide enough that requests sent together (or a few milliseconds apart) on a busy
/// machine share one transaction.
const WIDE: GroupCommit = GroupCommit {
    window: Duration::from_millis(400),
    max: 1_000,
};

/// The transactions committed since `before`.
fn transactions_since(app: &TestApp, before: cohandle_api::Commits) -> u64 {
    app.service.commits().transactions - before.transactions
}

#[tokio::test]
async fn concurrent_requests_share_a_transaction_and_each_hears_its_own_outcome() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(backend, WIDE).await;
        let keys: Vec<String> = (0..12).map(|n| format!("cq-2020-g{n:03}")).collect();
        let before = app.service.commits();
        let created = join_all(keys.iter().map(|key| assign(&app, key))).await;
        for (key, answer) in keys.iter().zip(&created) {
            expect(answer, 201);
            assert_eq!(answer.body["proposal"], key.as_str(), "{backend:?}");
            assert_eq!(answer.body["event"], "assign");
            assert_eq!(answer.body["version"], 1);
            assert!(!answer.replayed());
        }
        assert!(
            transactions_since(&app, before) < 4,
            "{backend:?}: 12 assignments sent together took {} transactions",
            transactions_since(&app, before)
        );

        // Each lead's step answers with its own proposal and its own changes.
        let before = app.service.commits();
        let signed = join_all(keys.iter().map(|key| {
            let app = &app;
            async move {
                let path = format!("/v1/proposals/{key}/sign-for");
                app.post("lead", &path, &format!("{key}-sign"), json!({}))
                    .await
            }
        }))
        .await;
        for (key, answer) in keys.iter().zip(&signed) {
            expect(answer, 200);
            assert_eq!(answer.body["proposal"], key.as_str(), "{backend:?}");
            assert_eq!(answer.body["event"], "sign_for");
            assert_eq!(answer.body["version"], 2);
            assert_eq!(answer.body["changes"][0]["agency"], "cq-kjj");
            let (version, _) = app.version_and_inbox(key).await;
            assert_eq!(version, Some(2), "{backend:?} {key}");
        }
        assert!(transactions_since(&app, before) < 4, "{backend:?}");
        assert_eq!(
            queries_decided(&app).await,
            24,
            "{backend:?}: every request decided once"
        );
    }
}

#[tokio::test]
async fn a_key_sent_twice_in_one_batch_is_applied_once_and_answered_alike() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(backend, WIDE).await;
        let key = "cq-2020-g100";
        let before = app.service.commits();
        let assign = assignment(key, "2020-02-26");
        let mut other = assign.clone();
        other["info"]["title"] = json!("另一个标题");
        let (first, copy, reused) = tokio::join!(
            app.post("assigner", "/v1/proposals", "assign-once", assign.clone()),
            app.post("assigner", "/v1/proposals", "assign-once", assign.clone()),
            app.post("assigner", "/v1/proposals", "assign-once", other),
        );
        assert_eq!(
            transactions_since(&app, before),
            1,
            "{backend:?}: the three requests share one transaction"
        );
        let answers = [&first, &copy, &reused];
        let accepted: Vec<&&Answer> = answers.iter().filter(|a| a.status == 201).collect();
        // Which of the three arrives first is the client's race: the first of them applies,
        // the same request again is its copy, the different one reuses a spent key.
        let refused: Vec<&&Answer> = answers.iter().filter(|a| a.status == 422).collect();
        if reused.status == 422 {
            assert_eq!(reused.code(), "idempotency_key_reused", "{backend:?}");
            assert_eq!(accepted.len(), 2, "{backend:?}: {answers:?}");
            assert_eq!(
                accepted.iter().filter(|a| a.replayed()).count(),
                1,
                "{backend:?}: one first answer, one replay"
            );
            assert_eq!(outcome(accepted[0]), outcome(accepted[1]), "{backend:?}");
        } else {
            // The different request came first: both copies of the other reuse its key.
            expect(&reused, 201);
            assert_eq!(refused.len(), 2, "{backend:?}: {answers:?}");
            assert!(refused.iter().all(|a| a.code() == "idempotency_key_reused"));
        }
        let (version, inbox) = app.version_and_inbox(key).await;
        assert_eq!(version, Some(1), "{backend:?}: applied once");
        assert_eq!(inbox, 1, "{backend:?}: one inbox row for the key");

        // Sent again later, it is the same outcome, replayed.
        let again = app
            .post("assigner", "/v1/proposals", "assign-once", assign)
            .await;
        if reused.status == 422 {
            expect(&again, 201);
            assert!(again.replayed());
            assert_eq!(outcome(&again), outcome(accepted[0]));
        }
    }
}

#[tokio::test]
async fn a_refused_event_in_a_batch_leaves_the_others_applied() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(backend, WIDE).await;
        app.assign("cq-2020-g200").await;
        app.assign("cq-2020-g201").await;
        let before = app.service.commits();
        // The engine refuses a step for a proposal never assigned (and keeps the refusal).
        let (a, unknown, b) = tokio::join!(
            app.post(
                "lead",
                "/v1/proposals/cq-2020-g200/sign-for",
                "g200-sign",
                json!({})
            ),
            app.post(
                "lead",
                "/v1/proposals/cq-2020-g299/sign-for",
                "g299-sign",
                json!({})
            ),
            app.post(
                "lead",
                "/v1/proposals/cq-2020-g201/sign-for",
                "g201-sign",
                json!({})
            ),
        );
        assert_eq!(
            transactions_since(&app, before),
            1,
            "{backend:?}: one transaction for the three"
        );
        expect(&a, 200);
        expect(&b, 200);
        assert_eq!(a.body["proposal"], "cq-2020-g200");
        assert_eq!(b.body["proposal"], "cq-2020-g201");
        assert_eq!(
            unknown.code(),
            "unknown_proposal",
            "{backend:?}: {unknown:?}"
        );
        assert!(unknown.is_problem() && !unknown.replayed());
        for key in ["cq-2020-g200", "cq-2020-g201"] {
            let (version, _) = app.version_and_inbox(key).await;
            assert_eq!(
                version,
                Some(2),
                "{backend:?} {key}: assigned and signed for"
            );
        }
        let (version, _) = app.version_and_inbox("cq-2020-g299").await;
        assert_eq!(version, None);
        // Each refusal is kept under its key, as in a transaction of its own.
        let again = app
            .post(
                "lead",
                "/v1/proposals/cq-2020-g299/sign-for",
                "g299-sign",
                json!({}),
            )
            .await;
        assert_eq!(again.code(), "unknown_proposal");
        assert!(again.replayed());
    }
}

#[tokio::test]
async fn one_proposals_steps_in_one_batch_apply_in_the_order_they_arrived() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(backend, WIDE).await;
        let key = "cq-2020-g300";
        app.assign(key).await;
        let p = format!("/v1/proposals/{key}");
        let before = app.service.commits();
        // Each request leaves 60 ms after the one before, well inside one window.
        let staggered =
            |n: u64, who: &'static str, path: String, idem: &'static str, body: Value| {
                let app = &app;
                async move {
                    tokio::time::sleep(Duration::from_millis(60 * n)).await;
                    app.post(who, &path, idem, body).await
                }
            };
        let (signed, acknowledged, opinion) = tokio::join!(
            staggered(0, "lead", format!("{p}/sign-for"), "g300-sign", json!({})),
            staggered(
                1,
                "jw",
                format!("{p}/acknowledgement"),
                "g300-ack",
                json!({})
            ),
            staggered(
                2,
                "jw",
                format!("{p}/opinion"),
                "g300-opinion",
                json!({"document_number": "渝教函〔2020〕31号", "summary": "意见", "submitted_on": "2020-02-26"})
            ),
        );
        assert_eq!(
            transactions_since(&app, before),
            1,
            "{backend:?}: the three steps share one transaction"
        );
        for (answer, version) in [(&signed, 2), (&acknowledged, 3), (&opinion, 4)] {
            expect(answer, 200);
            assert_eq!(
                answer.body["version"], version,
                "{backend:?}: {}",
                answer.body
            );
        }
        assert_eq!(opinion.body["changes"][0]["to"], "opinion_sent");
        let view = app.get("supervisor", &p).await;
        expect(&view, 200);
        let events: Vec<&str> = view.body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["event"].as_str().unwrap())
            .collect();
        let order: Vec<&str> = events
            .iter()
            .copied()
            .filter(|e| matches!(*e, "sign_for" | "acknowledge" | "submit_opinion"))
            .collect();
        let mut deduped = order.clone();
        deduped.dedup();
        assert_eq!(
            deduped,
            ["sign_for", "acknowledge", "submit_opinion"],
            "{backend:?}: {events:?}"
        );
    }
}

#[tokio::test]
async fn a_request_whose_client_left_is_decided_once() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(
            backend,
            GroupCommit {
                window: Duration::from_secs(5),
                max: 1_000,
            },
        )
        .await;
        let key = "cq-2020-g400";
        let created = app
            .client
            .post(format!("{}/v1/proposals", app.address))
            .bearer_auth(&app.tokens["assigner"])
            .header("Idempotency-Key", "g400-assign")
            .json(&assignment(key, "2020-02-26"))
            // Long enough to reach the committer on a busy machine, well before the window ends.
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        assert!(
            created.is_err_and(|e| e.is_timeout()),
            "{backend:?}: the client gave up before the window closed"
        );
        // The event was handed to the committer: it is decided when the window closes.
        let mut version = None;
        for _ in 0..300 {
            (version, _) = app.version_and_inbox(key).await;
            if version.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(version, Some(1), "{backend:?}: decided without its client");
        let again = app
            .post(
                "assigner",
                "/v1/proposals",
                "g400-assign",
                assignment(key, "2020-02-26"),
            )
            .await;
        expect(&again, 201);
        assert!(
            again.replayed(),
            "{backend:?}: decided once, answered again"
        );
        let (version, inbox) = app.version_and_inbox(key).await;
        assert_eq!((version, inbox), (Some(1), 1), "{backend:?}");
    }
}

#[tokio::test]
async fn a_window_of_zero_gives_every_request_its_own_transaction() {
    for backend in BACKENDS {
        let app = spawn_app_grouped(backend, GroupCommit::OFF).await;
        let keys: Vec<String> = (0..6).map(|n| format!("cq-2020-g5{n:02}")).collect();
        let before = app.service.commits();
        let created = join_all(keys.iter().map(|key| assign(&app, key))).await;
        for (key, answer) in keys.iter().zip(&created) {
            expect(answer, 201);
            assert_eq!(answer.body["proposal"], key.as_str());
        }
        assert_eq!(transactions_since(&app, before), 6, "{backend:?}");
    }
}

/// Assigns `key` as the assigner, with `<key>-assign` as the key.
async fn assign(app: &TestApp, key: &str) -> Answer {
    let idempotency_key = format!("{key}-assign");
    app.post(
        "assigner",
        "/v1/proposals",
        &idempotency_key,
        assignment(key, "2020-02-26"),
    )
    .await
}

/// What a replay must repeat of an accepted answer.
fn outcome(answer: &Answer) -> Value {
    json!([
        answer.body["event_id"],
        answer.body["proposal"],
        answer.body["version"],
        answer.body["state"],
        answer.body["changes"],
    ])
}

async fn queries_decided(app: &TestApp) -> u64 {
    cohandle_store::queries::events_decided(&app.engine)
        .await
        .unwrap()
}
