//! Idempotent retries, and invalid requests: each answered 4xx with a problem document,
//! and nothing changes.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_retry_answers_the_first_outcome_and_changes_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let first = app
            .post(
                "assigner",
                "/v1/proposals",
                "assign-1",
                assignment("cq-i", "2020-02-26"),
            )
            .await;
        expect(&first, 201);
        assert!(!first.replayed());
        assert_eq!(first.headers["location"], "/v1/proposals/cq-i");
        let again = app
            .post(
                "assigner",
                "/v1/proposals",
                "assign-1",
                assignment("cq-i", "2020-02-26"),
            )
            .await;
        expect(&again, 201);
        assert!(again.replayed());
        assert_eq!(again.body, first.body);

        let signed = app
            .post("lead", "/v1/proposals/cq-i/sign-for", "sign-1", json!({}))
            .await;
        expect(&signed, 200);
        assert_eq!(signed.body["version"], 2);
        assert_eq!(signed.body["changes"][0]["to"], "handling");
        let before = app.version_and_inbox("cq-i").await;
        for _ in 0..3 {
            let retry = app
                .post("lead", "/v1/proposals/cq-i/sign-for", "sign-1", json!({}))
                .await;
            expect(&retry, 200);
            assert!(retry.replayed());
            assert_eq!(retry.body, signed.body);
        }
        assert_eq!(app.version_and_inbox("cq-i").await, before);

        // A refusal is an outcome too: its retry answers the same refusal.
        let refused = app
            .post("lead", "/v1/proposals/cq-i/sign-for", "sign-2", json!({}))
            .await;
        expect(&refused, 409);
        assert_eq!(refused.code(), "wrong_state");
        assert!(refused.is_problem() && !refused.replayed());
        let retried = app
            .post("lead", "/v1/proposals/cq-i/sign-for", "sign-2", json!({}))
            .await;
        expect(&retried, 409);
        assert!(retried.replayed());
        assert_eq!(retried.body, refused.body);

        // The same key for a different request is refused, not confused with the first.
        let reused = app
            .post(
                "lead",
                "/v1/proposals/cq-i/dispute",
                "sign-1",
                json!({"reason": "x"}),
            )
            .await;
        expect(&reused, 422);
        assert_eq!(reused.code(), "idempotency_key_reused");
        // Another caller's key is not the lead's: the same key is another event.
        let by_other = app
            .post(
                "jw",
                "/v1/proposals/cq-i/acknowledgement",
                "sign-1",
                json!({}),
            )
            .await;
        expect(&by_other, 200);
        assert!(!by_other.replayed());
        assert_eq!(by_other.body["event_id"], "http/cq-jw/agency/sign-1");

        let metrics = app.get("", "/metrics").await;
        let text = metrics.body.as_str().unwrap();
        assert!(
            text.contains(r#"cohandle_events_applied_total{source="api",event="sign_for"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"cohandle_events_duplicate_total{source="api",event="sign_for"}"#));
        assert!(text.contains(
            r#"cohandle_events_rejected_total{source="api",event="sign_for",code="wrong_state"} 1"#
        ));
        assert!(text.contains(r#"cohandle_http_requests_total{method="POST",route="/v1/proposals/{key}/sign-for",status="200"} 4"#));
    }
}

#[tokio::test]
async fn a_write_needs_a_valid_idempotency_key() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "a",
                assignment("cq-k", "2020-02-26"),
            )
            .await,
            201,
        );
        let before = app.version_and_inbox("cq-k").await;
        let missing = app
            .send(
                reqwest::Method::POST,
                "lead",
                "/v1/proposals/cq-k/sign-for",
                None,
                Some(&json!({})),
            )
            .await;
        expect(&missing, 400);
        assert_eq!(missing.code(), "idempotency_key_missing");
        let invalid = app
            .post(
                "lead",
                "/v1/proposals/cq-k/sign-for",
                "not a key!",
                json!({}),
            )
            .await;
        expect(&invalid, 400);
        assert_eq!(invalid.code(), "idempotency_key_invalid");
        assert!(missing.is_problem() && invalid.is_problem());
        assert_eq!(app.version_and_inbox("cq-k").await, before);
    }
}

#[tokio::test]
async fn invalid_bodies_get_problems_and_change_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "a",
                assignment("cq-b", "2020-02-26"),
            )
            .await,
            201,
        );
        expect(
            &app.post("jw", "/v1/proposals/cq-b/acknowledgement", "ack", json!({}))
                .await,
            200,
        );
        let before = app.version_and_inbox("cq-b").await;
        let opinion = "/v1/proposals/cq-b/opinion";
        let cases = [
            (
                "wrong type",
                json!({"document_number": "d", "summary": 5}),
                422,
                "body_invalid",
            ),
            (
                "missing field",
                json!({"summary": "s"}),
                422,
                "body_invalid",
            ),
            (
                "unknown field",
                json!({"document_number": "d", "summary": "s", "colour": "red"}),
                422,
                "body_invalid",
            ),
            (
                "an actor in the body",
                json!({"document_number": "d", "summary": "s", "actor": {"agency": "cq-kjj", "kind": "assigner"}}),
                422,
                "body_invalid",
            ),
            (
                "bad date",
                json!({"document_number": "d", "summary": "s", "submitted_on": "yesterday"}),
                422,
                "body_invalid",
            ),
            ("not an object", json!(["d", "s"]), 422, "body_invalid"),
        ];
        for (what, body, status, code) in cases {
            let answer = app
                .post(
                    "jw",
                    opinion,
                    &format!("bad-{}", what.replace(' ', "-")),
                    body,
                )
                .await;
            assert_eq!(answer.status.as_u16(), status, "{what}: {}", answer.body);
            assert_eq!(answer.code(), code, "{what}");
            assert!(answer.is_problem(), "{what}: {:?}", answer.headers);
        }
        let unknown = app
            .post(
                "jw",
                opinion,
                "bad-unknown",
                json!({"document_number": "d", "summary": "s", "colour": 1}),
            )
            .await;
        assert!(unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field"));

        let malformed = app
            .post_raw(
                "jw",
                opinion,
                "bad-json",
                "application/json",
                b"{\"document_number\": ".to_vec(),
            )
            .await;
        expect(&malformed, 400);
        assert_eq!(malformed.code(), "body_malformed");
        let not_json = app
            .post_raw(
                "jw",
                opinion,
                "bad-type",
                "text/plain",
                b"document_number=d".to_vec(),
            )
            .await;
        expect(&not_json, 415);
        assert_eq!(not_json.code(), "body_not_json");
        let huge = json!({"document_number": "d", "summary": "长".repeat(40_000)})
            .to_string()
            .into_bytes();
        assert!(huge.len() > cohandle_api::BODY_LIMIT);
        let too_large = app
            .post_raw("jw", opinion, "bad-size", "application/json", huge)
            .await;
        expect(&too_large, 413);
        assert_eq!(too_large.code(), "body_too_large");
        assert!(malformed.is_problem() && not_json.is_problem() && too_large.is_problem());

        // Ids are parsed at the door: a bad agency code in a body or a path.
        let bad_code = app
            .post(
                "assigner",
                "/v1/proposals/cq-b/tasks/cq-jw/dispute-decision",
                "bad-code",
                json!({"decision": "reassign", "to": "no such agency!", "reason": "r"}),
            )
            .await;
        expect(&bad_code, 422);
        let needs_to = app
            .post(
                "assigner",
                "/v1/proposals/cq-b/tasks/cq-jw/dispute-decision",
                "bad-to",
                json!({"decision": "reassign", "reason": "r"}),
            )
            .await;
        expect(&needs_to, 422);
        assert_eq!(needs_to.code(), "body_invalid");
        let bad_path = app
            .post(
                "assigner",
                "/v1/proposals/cq-b/tasks/bad%20code/extension/approval",
                "bad-path",
                json!({}),
            )
            .await;
        expect(&bad_path, 400);
        assert_eq!(bad_path.code(), "path_invalid");
        let bad_assignment = app
            .post(
                "assigner",
                "/v1/proposals",
                "bad-assign",
                json!({"key": "cq-c", "definition": "chongqing-deputy-suggestion"}),
            )
            .await;
        expect(&bad_assignment, 422);

        assert_eq!(
            app.version_and_inbox("cq-b").await,
            before,
            "an invalid request changed something"
        );
        let none = app.get("supervisor", "/v1/proposals/cq-c").await;
        expect(&none, 404);
        assert_eq!(none.code(), "proposal_not_found");

        // A valid body after all that is still accepted.
        expect(
            &app.post(
                "jw",
                opinion,
                "good",
                json!({"document_number": "d", "summary": "s"}),
            )
            .await,
            200,
        );
    }
}

#[tokio::test]
async fn domain_refusals_carry_the_engine_code() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Before its assignment, a proposal is unknown: the step is held (202) until the
        // assignment arrives, and applied with it.
        let early = app
            .post(
                "jw",
                "/v1/proposals/cq-r/acknowledgement",
                "early",
                json!({}),
            )
            .await;
        expect(&early, 202);
        assert_eq!(early.code(), "unknown_proposal");
        assert_eq!(early.body["status"], "held");
        assert!(early.body["held_until"].is_string(), "{}", early.body);
        let retried = app
            .post(
                "jw",
                "/v1/proposals/cq-r/acknowledgement",
                "early",
                json!({}),
            )
            .await;
        expect(&retried, 202);
        assert!(retried.replayed());
        assert_eq!(retried.body, early.body);
        let held = app.get("jw", "/v1/held-events").await;
        expect(&held, 200);
        assert_eq!(held.body["items"][0]["event_id"], "http/cq-jw/agency/early");
        assert_eq!(held.body["items"][0]["code"], "unknown_proposal");
        // Another agency does not see what jw sent; a supervisor sees everything held.
        let others = app.get("lead", "/v1/held-events").await;
        assert_eq!(others.body["items"], json!([]));
        let all = app.get("supervisor", "/v1/held-events?proposal=cq-r").await;
        assert_eq!(all.body["items"].as_array().map(Vec::len), Some(1));
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "a",
                assignment("cq-r", "2020-02-26"),
            )
            .await,
            201,
        );
        let twice = app
            .post(
                "assigner",
                "/v1/proposals",
                "a2",
                assignment("cq-r", "2020-02-26"),
            )
            .await;
        expect(&twice, 409);
        assert_eq!(twice.code(), "already_exists");
        // The held acknowledgement came in with the assignment; its retry now says so.
        let applied = app
            .post(
                "jw",
                "/v1/proposals/cq-r/acknowledgement",
                "early",
                json!({}),
            )
            .await;
        expect(&applied, 200);
        assert!(applied.replayed());
        assert_eq!(applied.body["changes"][0]["to"], "acknowledged");
        let held = app.get("supervisor", "/v1/held-events").await;
        assert_eq!(held.body["items"], json!([]));
        // A step from the far future: refused by the engine's clock.
        let future = app
            .post(
                "jw",
                "/v1/proposals/cq-r/acknowledgement",
                "future",
                json!({"occurred_at": "2031-01-01T00:00:00Z"}),
            )
            .await;
        expect(&future, 422);
        assert_eq!(future.code(), "clock_skew");
        // The lead cannot draft before the co-handlers' opinions are in.
        expect(
            &app.post("lead", "/v1/proposals/cq-r/sign-for", "s", json!({}))
                .await,
            200,
        );
        let draft = app
            .post(
                "lead",
                "/v1/proposals/cq-r/draft",
                "d",
                json!({"result_class": "A", "document_number": "n", "summary": "s"}),
            )
            .await;
        // Held too: the opinions it waits for may still come.
        expect(&draft, 202);
        assert_eq!(draft.code(), "guard_failed");
        assert!(!draft.is_problem());
        // A second sign-for can never fit: refused at once.
        let again = app
            .post("lead", "/v1/proposals/cq-r/sign-for", "s2", json!({}))
            .await;
        expect(&again, 409);
        assert_eq!(again.code(), "wrong_state");
        assert!(again.is_problem());
        // Feedback for an agency with no task.
        let feedback = app
            .post(
                "congress",
                "/v1/proposals/cq-r/tasks/cq-nobody/feedback",
                "f",
                json!({"satisfaction": "satisfied", "received_on": "2020-02-27"}),
            )
            .await;
        expect(&feedback, 422);
        assert_eq!(feedback.code(), "unknown_task");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app(Backend::Sqlite).await;
    let missing = app.get("supervisor", "/v1/nothing").await;
    expect(&missing, 404);
    assert!(missing.is_problem());
    let wrong_method = app
        .send(
            reqwest::Method::PUT,
            "supervisor",
            "/v1/proposals",
            None,
            None,
        )
        .await;
    expect(&wrong_method, 405);
    assert!(wrong_method.is_problem());
}

#[tokio::test]
async fn an_idempotency_key_cannot_be_squatted_by_another_caller() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Another agency writes first under jw's key: to a proposal that does not exist
        // (kept as unknown_proposal) and, as its assigner, to a real one.
        let squat = app
            .post(
                "outsider",
                "/v1/proposals/cq-nowhere/acknowledgement",
                "jw-ack-X",
                json!({}),
            )
            .await;
        assert_eq!(squat.code(), "unknown_proposal", "{}", squat.body);
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "jw-ack-X",
                assignment("cq-q", "2020-02-26"),
            )
            .await,
            201,
        );
        // jw's own acknowledgement under its key is its own event.
        let mine = app
            .post(
                "jw",
                "/v1/proposals/cq-q/acknowledgement",
                "jw-ack-X",
                json!({}),
            )
            .await;
        expect(&mine, 200);
        assert_eq!(mine.body["event_id"], "http/cq-jw/agency/jw-ack-X");
        let again = app
            .post(
                "jw",
                "/v1/proposals/cq-q/acknowledgement",
                "jw-ack-X",
                json!({}),
            )
            .await;
        expect(&again, 200);
        assert!(again.replayed());
    }
}

#[tokio::test]
async fn keys_outside_the_alphabet_are_refused_on_every_route() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for key in [
            "..",
            "ext-q/tasks/cq-jw",
            "\u{FF23}\u{FF31}-5-3-0942",
            "\u{441}q-5-3-0942",
            "CQ-5-3-0942",
        ] {
            let assigned = app
                .post(
                    "assigner",
                    "/v1/proposals",
                    "k",
                    assignment(key, "2020-02-26"),
                )
                .await;
            expect(&assigned, 422);
            assert_eq!(assigned.code(), "body_invalid", "{key}: {}", assigned.body);
            assert!(assigned.headers.get("location").is_none());
        }
        for path in [
            "/v1/proposals/%EF%BC%A3%EF%BC%B1-5-3-0942/sign-for",
            "/v1/proposals/%D1%81q-5-3-0942/sign-for",
            "/v1/proposals/cq-5-3-0942/tasks/%D1%81q-jw/feedback",
        ] {
            let who = if path.ends_with("feedback") {
                "congress"
            } else {
                "lead"
            };
            let refused = app.post(who, path, "k2", json!({})).await;
            expect(&refused, 400);
            assert_eq!(refused.code(), "path_invalid", "{path}");
        }
        assert_eq!(
            proposal_count(&app).await,
            0,
            "no proposal was created under a look-alike key"
        );
    }
}

async fn proposal_count(app: &TestApp) -> usize {
    use cohandle_store::queries::{self, ProposalFilter, Scope};
    let filter = ProposalFilter::default();
    queries::list_proposals(&app.engine, &Scope::All, &filter, None, 100)
        .await
        .unwrap()
        .items
        .len()
}
