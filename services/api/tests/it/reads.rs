//! The reads: filters, cursors, limits, deadlines with working days, statistics, health.

use cohandle_workflows::Calendar;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::support::*;

fn keys(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Three proposals: cq-a (key supervision), cq-b (another session), cq-c (assigned later).
async fn three_proposals(app: &TestApp) {
    let mut a = assignment("cq-a", "2020-02-26");
    a["info"]["key_supervision"] = json!(true);
    let mut b = assignment("cq-b", "2020-02-26");
    b["info"]["session"] = json!("市五届人大四次会议");
    b["handlers"] =
        json!([{"agency": "cq-kjj", "role": "lead"}, {"agency": "cq-czj", "role": "co_handler"}]);
    let c = assignment("cq-c", "2020-02-26");
    for (key, body) in [("cq-a", a), ("cq-b", b), ("cq-c", c)] {
        expect(&app.post("assigner", "/v1/proposals", key, body).await, 201);
    }
    expect(
        &app.post("lead", "/v1/proposals/cq-c/sign-for", "c-sign", json!({}))
            .await,
        200,
    );
}

#[tokio::test]
async fn proposals_filter_and_page_by_cursor() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        let all = app.get("supervisor", "/v1/proposals").await;
        expect(&all, 200);
        assert_eq!(keys(&all.body), ["cq-a", "cq-b", "cq-c"]);
        assert!(all.body["next_cursor"].is_null());

        let cases = [
            ("state=open", vec!["cq-a", "cq-b", "cq-c"]),
            ("state=closed", vec![]),
            ("key_supervision=true", vec!["cq-a"]),
            ("session=%E5%B8%82%E4%BA%94%E5%B1%8A%E4%BA%BA%E5%A4%A7%E5%9B%9B%E6%AC%A1%E4%BC%9A%E8%AE%AE", vec!["cq-b"]),
            ("kind=deputy_suggestion", vec!["cq-a", "cq-b", "cq-c"]),
            ("kind=cppcc_proposal", vec![]),
            ("agency=cq-jw", vec!["cq-a", "cq-c"]),
            ("due_before=2020-03-27", vec!["cq-a", "cq-b", "cq-c"]),
            ("due_before=2020-03-26", vec![]),
            ("overdue=true", vec![]),
            ("overdue=false", vec!["cq-a", "cq-b", "cq-c"]),
            ("agency=cq-jw&key_supervision=false", vec!["cq-c"]),
        ];
        for (query, expected) in cases {
            let answer = app
                .get("supervisor", &format!("/v1/proposals?{query}"))
                .await;
            expect(&answer, 200);
            assert_eq!(keys(&answer.body), expected, "{query}");
        }

        // A month on, the co-handlers' opinions are overdue.
        app.advance_to(at("2020-04-01")).await;
        let overdue = app.get("supervisor", "/v1/proposals?overdue=true").await;
        assert_eq!(keys(&overdue.body), ["cq-a", "cq-b", "cq-c"]);

        // Page by page with a cursor.
        let mut seen = Vec::new();
        let mut path = "/v1/proposals?limit=1".to_owned();
        loop {
            let page = app.get("supervisor", &path).await;
            expect(&page, 200);
            seen.extend(keys(&page.body));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/proposals?limit=1&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, ["cq-a", "cq-b", "cq-c"]);

        for (query, code) in [
            ("limit=201", "invalid_limit"),
            ("limit=0", "invalid_limit"),
            ("cursor=garbage", "invalid_cursor"),
            ("colour=red", "query_invalid"),
            ("overdue=perhaps", "query_invalid"),
        ] {
            let answer = app
                .get("supervisor", &format!("/v1/proposals?{query}"))
                .await;
            expect(&answer, 400);
            assert_eq!(answer.code(), code, "{query}");
            assert!(answer.is_problem());
        }
        expect(&app.get("supervisor", "/v1/proposals?limit=200").await, 200);

        // An agency's list holds its own proposals only.
        let czj = app.get("czj", "/v1/proposals").await;
        assert_eq!(keys(&czj.body), ["cq-a", "cq-b", "cq-c"]);
        let jw = app.get("jw", "/v1/proposals").await;
        assert_eq!(keys(&jw.body), ["cq-a", "cq-c"]);
    }
}

#[tokio::test]
async fn tasks_list_an_agencys_own_and_page() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        let own = app.get("jw", "/v1/tasks").await;
        expect(&own, 200);
        let items = own.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items
            .iter()
            .all(|t| t["agency"] == "cq-jw" && t["state"] == "assigned"));
        let handling = app.get("lead", "/v1/tasks?state=handling").await;
        assert_eq!(handling.body["items"].as_array().unwrap().len(), 1);
        let all = app.get("supervisor", "/v1/tasks?open=true").await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 8);
        let finished = app.get("supervisor", "/v1/tasks?open=false").await;
        assert_eq!(finished.body["items"], json!([]));
        let assigner = app.get("assigner", "/v1/tasks?agency=cq-czj").await;
        assert_eq!(assigner.body["items"].as_array().unwrap().len(), 3);

        let mut count = 0;
        let mut path = "/v1/tasks?limit=3".to_owned();
        loop {
            let page = app.get("supervisor", &path).await;
            count += page.body["items"].as_array().unwrap().len();
            match page.body["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/tasks?limit=3&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(count, 8);
    }
}

#[tokio::test]
async fn deadlines_count_working_days_over_the_official_calendar() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        app.advance_to(at("2020-03-20")).await;
        let answer = app
            .get("supervisor", "/v1/deadlines?until=2020-06-30")
            .await;
        expect(&answer, 200);
        assert_eq!(answer.body["today"], "2020-03-20");
        let items = answer.body["items"].as_array().unwrap();
        // 5 co-handler opinions due 2020-03-26, 3 replies due 2020-05-26.
        assert_eq!(items.len(), 8);
        let calendar = Calendar::china_official();
        let first = &items[0];
        assert_eq!(first["deadline"], "co_handler_opinion");
        assert_eq!(first["due_on"], "2020-03-26");
        let expected = calendar
            .working_days_between(date("2020-03-20"), date("2020-03-26"))
            .unwrap();
        assert_eq!(first["working_days_left"], i64::from(expected));
        assert_eq!(first["days_left"], 6);
        let reply = items.iter().find(|d| d["deadline"] == "reply").unwrap();
        // 2020-05-26: the May Day holiday (5 days, two make-up Saturdays) is counted out.
        let expected = calendar
            .working_days_between(date("2020-03-20"), date("2020-05-26"))
            .unwrap();
        assert_eq!(reply["working_days_left"], i64::from(expected));
        assert!(items
            .windows(2)
            .all(|w| w[0]["due_on"].as_str() <= w[1]["due_on"].as_str()));

        let soon = app
            .get("supervisor", "/v1/deadlines?until=2020-04-01")
            .await;
        assert_eq!(soon.body["items"].as_array().unwrap().len(), 5);
        let kjj = app.get("lead", "/v1/deadlines?until=2020-06-30").await;
        assert!(kjj.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["agency"] == "cq-kjj"));
        let paged = app
            .get("supervisor", "/v1/deadlines?until=2020-06-30&limit=5")
            .await;
        let cursor = paged.body["next_cursor"].as_str().unwrap().to_owned();
        let rest = app
            .get(
                "supervisor",
                &format!("/v1/deadlines?until=2020-06-30&limit=5&cursor={cursor}"),
            )
            .await;
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 3);

        // After the due date: overdue, with the working days past it.
        app.advance_to(at("2020-04-01")).await;
        let overdue = app.get("supervisor", "/v1/deadlines?overdue=true").await;
        let items = overdue.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        let past = calendar
            .working_days_between(date("2020-03-26"), date("2020-04-01"))
            .unwrap();
        assert!(items
            .iter()
            .all(|d| d["overdue"] == true && d["working_days_left"] == -i64::from(past)));
        let upcoming = app
            .get("supervisor", "/v1/deadlines?overdue=false&until=2020-06-30")
            .await;
        assert_eq!(upcoming.body["items"].as_array().unwrap().len(), 3);
        let forbidden = app.get("jw", "/v1/deadlines?agency=cq-kjj").await;
        expect(&forbidden, 403);
    }
}

#[tokio::test]
async fn statistics_overall_and_per_agency() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for event in cohandle_workflows::cases::case_0942() {
            app.advance_to(event.occurred_at).await;
            assert!(app.replay(&event).await.status.is_success());
        }
        let all = app.get("supervisor", "/v1/statistics").await;
        expect(&all, 200);
        assert_eq!(all.body["overall"]["replies"], 1);
        assert_eq!(all.body["overall"]["on_time_rate"], 1.0);
        let agencies: Vec<&str> = all.body["agencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["agency"].as_str().unwrap())
            .collect();
        assert_eq!(agencies, ["cq-czj", "cq-jw", "cq-kjj"]);
        let own = app.get("lead", "/v1/statistics").await;
        expect(&own, 200);
        assert_eq!(own.body["agencies"].as_array().unwrap().len(), 1);
        assert_eq!(own.body["agencies"][0]["agency"], "cq-kjj");
        assert_eq!(own.body["agencies"][0]["figures"]["completion_rate"], 1.0);
    }
}

#[tokio::test]
async fn health_readiness_metrics_and_me() {
    let app = spawn_app(Backend::Postgres).await;
    let health = app.get("", "/healthz").await;
    expect(&health, 200);
    assert_eq!(health.body["status"], "ok");
    expect(&app.get("", "/readyz").await, 200);
    let me = app.get("congress", "/v1/me").await;
    expect(&me, 200);
    assert_eq!(me.body["agency"], "cq-rdgw");
    assert_eq!(me.body["role"], "congress_office");
    let metrics = app.get("", "/metrics").await;
    expect(&metrics, 200);
    assert!(metrics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"cohandle_http_requests_total{method="GET",route="/v1/me",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("# TYPE cohandle_http_request_duration_seconds histogram"));
}

/// 1 December 2026, with no official 2027 arrangement loaded: under every shipped definition
/// an assignment, a reply and a 不满意 receipt are applied, their deadlines in 2027 shown
/// as provisional; readiness and metrics tell the operator.
#[tokio::test]
async fn on_1_december_2026_steps_are_taken_with_provisional_deadlines() {
    let mut app = spawn_app(Backend::Postgres).await;
    let day = "2026-12-01";
    app.clock.set(at(day));
    // The CPPCC definition's receipts come from its own office (政协提案委).
    register(&app.engine, "cq-zxtaw", "congress_office").await;
    // The assigner and the supervisor serve the municipal CPPCC and the NPC's jurisdiction too.
    for jurisdiction in ["cq-zx", "npc"] {
        let agencies = ["cq-zfbgt".to_owned(), "cq-dc".to_owned()];
        cohandle_store::jurisdictions::join(&app.engine, jurisdiction, &agencies)
            .await
            .unwrap();
    }
    let office = cohandle_api::tokens::create(
        &app.engine,
        at("2026-11-30"),
        cohandle_api::tokens::NewToken {
            agency: cohandle_workflows::AgencyCode::parse("cq-zxtaw").unwrap(),
            role: cohandle_api::Role::CongressOffice,
            name: Some("cppcc office".to_owned()),
            expires_in_days: None,
        },
    )
    .await
    .unwrap();
    app.tokens.insert("cppcc_office", office.secret);
    for (n, definition) in [
        "chongqing-deputy-suggestion",
        "cppcc-proposal",
        "national-deputy-suggestion",
    ]
    .into_iter()
    .enumerate()
    {
        // Each under its own jurisdiction's key; the assigner serves all three.
        let key = match definition {
            "cppcc-proposal" => format!("cq-zx-p-2026-{n}"),
            "national-deputy-suggestion" => format!("npc-p-2026-{n}"),
            _ => format!("cq-p-2026-{n}"),
        };
        let mut body = assignment(&key, day);
        body["definition"] = json!(definition);
        body["info"]["submitted_on"] = json!("2026-11-20");
        body["info"]["session_closed_on"] = json!("2026-11-20");
        if definition == "cppcc-proposal" {
            body["info"]["kind"] = json!("cppcc_proposal");
        }
        body["mode"] = json!("sole");
        body["handlers"] = json!([{"agency": "cq-kjj", "role": "lead"}]);
        expect(
            &app.post("assigner", "/v1/proposals", &key, body).await,
            201,
        );
        let p = format!("/v1/proposals/{key}");
        let steps = [
            ("sign-for", json!({})),
            (
                "contacts",
                json!({"method": "phone", "on": day, "deputy_agreed": true, "note": "电话沟通"}),
            ),
            (
                "draft",
                json!({"result_class": "B", "document_number": "渝科局函〔2026〕1号",
                       "summary": "复函", "co_handler_views": [], "commits_funds": false}),
            ),
            (
                "signature",
                json!({"signer": "局长", "title": "局长", "principal_head": true, "signed_on": day}),
            ),
            (
                "reply",
                json!({"sent_on": day, "deputies": ["郎平权"], "copies": []}),
            ),
        ];
        for (step, body) in steps {
            let answer = app
                .post(
                    "lead",
                    &format!("{p}/{step}"),
                    &format!("{key}-{step}"),
                    body,
                )
                .await;
            expect(&answer, 200);
        }
        let office = if definition == "cppcc-proposal" {
            "cppcc_office"
        } else {
            "congress"
        };
        let receipt = app
            .post(
                office,
                &format!("{p}/tasks/cq-kjj/feedback"),
                &format!("{key}-feedback"),
                json!({"satisfaction": "dissatisfied", "comments": "未解决", "received_on": day}),
            )
            .await;
        expect(&receipt, 200);
        let deadlines = app
            .get("supervisor", "/v1/deadlines?until=2027-12-31&limit=200")
            .await;
        expect(&deadlines, 200);
        let items = deadlines.body["items"].as_array().unwrap();
        let rehandling = items
            .iter()
            .find(|d| d["proposal"] == key.as_str() && d["deadline"] == "rehandling")
            .unwrap_or_else(|| panic!("{definition}: {items:?}"));
        assert!(rehandling["due_on"].as_str().unwrap().starts_with("2027-"));
        assert_eq!(rehandling["provisional"], true, "{definition}");
        assert!(rehandling["working_days_left"].as_i64().unwrap() > 0);
        let proposal = app.get("supervisor", &p).await;
        let task = &proposal.body["tasks"][0];
        let record = task.to_string();
        assert!(
            record.contains("\"provisional\":true"),
            "{definition}: {record}"
        );
    }
    // The re-handling deadlines, by the result class of the latest reply sent (B for all
    // three); a second round's reply of another class moves its proposal to that class.
    let with_class = |class: &'static str| {
        let app = &app;
        async move {
            let answer = app
                .get(
                    "supervisor",
                    &format!("/v1/deadlines?until=2027-12-31&limit=200&result_class={class}"),
                )
                .await;
            expect(&answer, 200);
            let mut keys: Vec<String> = answer.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["proposal"].as_str().unwrap().to_owned())
                .collect();
            keys.sort();
            keys.dedup();
            keys
        }
    };
    assert_eq!(
        with_class("B").await,
        ["cq-p-2026-0", "cq-zx-p-2026-1", "npc-p-2026-2"]
    );
    assert!(with_class("A").await.is_empty());
    let conn = cohandle_store::connect::connect(&app.db.url).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO replies (proposal_key, agency, round, document_number, result_class, signer, \
         signed_on, sent_on, recorded_on, due_on, on_time, met_deputy) SELECT proposal_key, agency, \
         2, document_number, 'A', signer, signed_on, sent_on, recorded_on, due_on, on_time, \
         met_deputy FROM replies WHERE proposal_key = 'npc-p-2026-2'",
    )
    .await
    .unwrap();
    assert_eq!(with_class("B").await, ["cq-p-2026-0", "cq-zx-p-2026-1"]);
    assert_eq!(with_class("A").await, ["npc-p-2026-2"]);
    let unknown = app.get("supervisor", "/v1/deadlines?result_class=E").await;
    expect(&unknown, 400);
    assert_eq!(unknown.code(), "unknown_filter_value");

    let ready = app.get("", "/readyz").await;
    expect(&ready, 200);
    assert!(
        ready.body["warnings"][0].as_str().unwrap().contains("2027"),
        "{}",
        ready.body
    );
    let metrics = app.get("", "/metrics").await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"cohandle_calendar_year_official{year="2026"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"cohandle_calendar_year_official{year="2027"} 0"#),
        "{text}"
    );
}
