//! The lists as supervisors search them: search, sort, totals, filters refused when they name
//! nothing, deadlines with their proposals, CSV.

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

/// cq-a (assigned 26 February), cq-b (24 February; another title, deputy and category; no
/// task of cq-czj), cq-c (20 February).
async fn three_proposals(app: &TestApp) {
    let a = assignment("cq-a", "2020-02-26");
    let mut b = assignment("cq-b", "2020-02-24");
    b["info"]["number"] = json!("第0017号");
    b["info"]["title"] = json!("关于加快轨道交通建设的建议");
    b["info"]["lead_deputy"] = json!("王小明");
    b["info"]["co_signers"] = json!(["李红"]);
    b["info"]["category"] = json!("交通");
    b["handlers"] =
        json!([{"agency": "cq-kjj", "role": "lead"}, {"agency": "cq-jw", "role": "co_handler"}]);
    let c = assignment("cq-c", "2020-02-20");
    for (key, body) in [("cq-a", a), ("cq-b", b), ("cq-c", c)] {
        expect(&app.post("assigner", "/v1/proposals", key, body).await, 201);
    }
}

#[tokio::test]
async fn proposals_are_searched_sorted_and_counted() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        let cases = [
            ("number=0017", vec!["cq-b"]),
            ("number=cq-", vec!["cq-a", "cq-c"]),
            ("number=%25", vec![]),
            ("number=_", vec![]),
            ("title=%E8%BD%A8%E9%81%93+%E4%BA%A4%E9%80%9A", vec!["cq-b"]), // 轨道 交通
            ("title=%E8%BD%A8%E9%81%93+%E7%A7%91%E5%AD%A6", vec![]),       // 轨道 科学
            ("title=%E6%89%B6%E6%8C%81", vec!["cq-a", "cq-c"]),            // 扶持
            ("person=%E5%B0%8F%E6%98%8E", vec!["cq-b"]),                   // 小明
            ("person=%E6%9D%8E%E7%BA%A2", vec!["cq-b"]),                   // 李红 (co-signer)
            ("person=%E9%83%8E", vec!["cq-a", "cq-c"]),                    // 郎
            ("category=%E4%BA%A4%E9%80%9A", vec!["cq-b"]),                 // 交通
            ("category=%E4%BA%A4", vec![]),                                // exactly
            ("title=+++", vec!["cq-a", "cq-b", "cq-c"]),
            ("sort=assigned_on", vec!["cq-c", "cq-b", "cq-a"]),
            ("sort=due_on", vec!["cq-c", "cq-b", "cq-a"]),
            ("sort=key&person=%E9%83%8E", vec!["cq-a", "cq-c"]),
            ("agency=cq-czj", vec!["cq-a", "cq-c"]),
            (
                "assigned_from=2020-02-21&assigned_to=2020-02-25",
                vec!["cq-b"],
            ),
            ("assigned_from=2020-02-24", vec!["cq-a", "cq-b"]),
            (
                "assigned_to=2020-02-24&sort=assigned_on",
                vec!["cq-c", "cq-b"],
            ),
            (
                "assigned_from=2020-02-26&assigned_to=2020-02-26",
                vec!["cq-a"],
            ),
            ("jurisdiction=cq", vec!["cq-a", "cq-b", "cq-c"]),
        ];
        for (query, expected) in cases {
            let answer = app
                .get("supervisor", &format!("/v1/proposals?{query}"))
                .await;
            expect(&answer, 200);
            assert_eq!(keys(&answer.body), expected, "{query} ({backend:?})");
            assert!(answer.body.get("total").is_none(), "{query}");
        }

        // Totals count past the page, within the caller's scope: an agency sees what it has
        // a task in, the assigner what it assigned.
        for (who, query, expected_total, page) in [
            ("supervisor", "limit=1&total=true", 3, vec!["cq-a"]),
            (
                "supervisor",
                "total=true&person=%E9%83%8E",
                2,
                vec!["cq-a", "cq-c"],
            ),
            (
                "czj",
                "total=true&sort=assigned_on",
                2,
                vec!["cq-c", "cq-a"],
            ),
            (
                "jw",
                "total=true&sort=due_on&limit=2",
                3,
                vec!["cq-c", "cq-b"],
            ),
            (
                "assigner",
                "total=true&sort=assigned_on",
                3,
                vec!["cq-c", "cq-b", "cq-a"],
            ),
            ("outsider", "total=true", 0, vec![]),
        ] {
            let answer = app.get(who, &format!("/v1/proposals?{query}")).await;
            expect(&answer, 200);
            assert_eq!(answer.body["total"], expected_total, "{who} {query}");
            assert_eq!(keys(&answer.body), page, "{who} {query} ({backend:?})");
        }

        // Every order pages by its own cursor, for every scope.
        for who in ["supervisor", "jw", "assigner"] {
            for sort in ["key", "assigned_on", "due_on"] {
                let mut seen = Vec::new();
                let mut path = format!("/v1/proposals?limit=1&sort={sort}");
                loop {
                    let page = app.get(who, &path).await;
                    expect(&page, 200);
                    seen.extend(keys(&page.body));
                    match page.body["next_cursor"].as_str() {
                        Some(cursor) => {
                            path = format!("/v1/proposals?limit=1&sort={sort}&cursor={cursor}")
                        }
                        None => break,
                    }
                }
                let whole = app.get(who, &format!("/v1/proposals?sort={sort}")).await;
                assert_eq!(seen, keys(&whole.body), "{who} {sort}");
                assert_eq!(seen.len(), 3, "{who} {sort}");
            }
        }

        // A cursor is read only in the order that gave it out.
        let first = app
            .get("supervisor", "/v1/proposals?limit=1&sort=assigned_on")
            .await;
        let cursor = first.body["next_cursor"].as_str().unwrap();
        for other in ["key", "due_on"] {
            let refused = app
                .get(
                    "supervisor",
                    &format!("/v1/proposals?sort={other}&cursor={cursor}"),
                )
                .await;
            expect(&refused, 400);
            assert_eq!(refused.code(), "invalid_cursor", "{other}");
        }
    }
}

#[tokio::test]
async fn unknown_filter_values_are_refused_naming_the_parameter_and_the_allowed_values() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        let cases = [
            ("/v1/proposals?state=bogus", "state", "open"),
            ("/v1/proposals?kind=bogus", "kind", "cppcc_proposal"),
            ("/v1/proposals?sort=title", "sort", "assigned_on"),
            ("/v1/proposals?format=xlsx", "format", "csv"),
            ("/v1/tasks?state=open_ish", "state", "acknowledged"),
            ("/v1/tasks?role=chief", "role", "co_handler"),
            ("/v1/tasks?kind=petition", "kind", "deputy_suggestion"),
            ("/v1/tasks?deadline=soon", "deadline", "co_handler_opinion"),
            (
                "/v1/deadlines?definition=nowhere",
                "definition",
                "cppcc-proposal",
            ),
            ("/v1/deadlines?deadline=soon", "deadline", "reply"),
            ("/v1/deadlines?role=chief", "role", "lead"),
            ("/v1/deadlines?kind=petition", "kind", "deputy_suggestion"),
            ("/v1/deadlines?result_class=E", "result_class", "D"),
            ("/v1/tasks?result_class=a", "result_class", "A"),
            ("/v1/statistics?format=pdf", "format", "json"),
        ];
        for (path, parameter, one_allowed) in cases {
            let answer = app.get("supervisor", path).await;
            expect(&answer, 400);
            assert!(answer.is_problem(), "{path}: {}", answer.body);
            assert_eq!(answer.code(), "unknown_filter_value", "{path}");
            let detail = answer.body["detail"].as_str().unwrap();
            assert!(detail.starts_with(parameter), "{path}: {detail}");
            assert!(detail.contains(one_allowed), "{path}: {detail}");
        }
        // The values they name are taken.
        for path in [
            "/v1/proposals?state=open&kind=deputy_suggestion&sort=due_on&format=json",
            "/v1/tasks?state=acknowledged&role=co_handler&kind=deputy_suggestion&deadline=co_handler_opinion",
            "/v1/deadlines?definition=chongqing-deputy-suggestion&deadline=reply&role=lead&kind=deputy_suggestion",
        ] {
            expect(&app.get("supervisor", path).await, 200);
        }
        let reversed = app
            .get(
                "supervisor",
                "/v1/proposals?assigned_from=2020-02-26&assigned_to=2020-02-20",
            )
            .await;
        expect(&reversed, 400);
        assert_eq!(reversed.code(), "invalid_period");
        let inverted = app
            .get(
                "supervisor",
                "/v1/deadlines?min_days_overdue=5&max_days_overdue=1",
            )
            .await;
        expect(&inverted, 400);
        assert!(inverted.body["detail"]
            .as_str()
            .unwrap()
            .contains("min_days_overdue"));
    }
}

#[tokio::test]
async fn tasks_filter_by_session_kind_role_and_deadline() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        let count = |query: &'static str| {
            let app = &app;
            async move {
                let answer = app
                    .get("supervisor", &format!("/v1/tasks?total=true&{query}"))
                    .await;
                expect(&answer, 200);
                let total = answer.body["total"].as_u64().unwrap();
                assert_eq!(
                    total as usize,
                    answer.body["items"].as_array().unwrap().len(),
                    "{query}"
                );
                (total, answer.body)
            }
        };
        assert_eq!(count("").await.0, 8);
        assert_eq!(count("role=lead").await.0, 3);
        let (co, body) = count("role=co_handler").await;
        assert_eq!(co, 5);
        assert!(body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["role"] == "co_handler" && t["due_deadline"] == "co_handler_opinion"));
        assert_eq!(count("deadline=co_handler_opinion").await.0, 5);
        assert_eq!(count("deadline=reply").await.0, 3);
        assert_eq!(count("kind=cppcc_proposal").await.0, 0);
        assert_eq!(
            count("session=%E5%B8%82%E4%BA%94%E5%B1%8A%E4%BA%BA%E5%A4%A7%E4%B8%89%E6%AC%A1%E4%BC%9A%E8%AE%AE")
                .await
                .0,
            8
        );
        assert_eq!(count("session=elsewhere").await.0, 0);
        // An agency's total is of its own tasks.
        let own = app.get("czj", "/v1/tasks?total=true").await;
        assert_eq!(own.body["total"], 2);
    }
}

#[tokio::test]
async fn deadlines_carry_their_proposal_and_filter_by_days_overdue() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        three_proposals(&app).await;
        // The co-handlers' opinions were due a month after assignment: 20, 24 and 26 March.
        app.advance_to(at("2020-03-30")).await;
        let all = app
            .get("supervisor", "/v1/deadlines?until=2020-12-31&total=true")
            .await;
        expect(&all, 200);
        assert_eq!(all.body["total"], 8);
        let items = all.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 8);
        for item in items {
            let proposal = item["proposal"].as_str().unwrap();
            assert_eq!(item["lead_agency"], "cq-kjj", "{item}");
            if proposal == "cq-b" {
                assert_eq!(item["number"], "第0017号");
                assert_eq!(item["title"], "关于加快轨道交通建设的建议");
                assert_eq!(item["lead_deputy"], "王小明");
            } else {
                assert_eq!(item["number"], proposal);
                assert_eq!(item["lead_deputy"], "郎平权");
            }
        }

        let proposals_of = |body: &Value| -> Vec<(String, String)> {
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["proposal"].as_str().unwrap().to_owned(),
                        d["agency"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        // Days past due on 30 March: cq-c 10, cq-b 6, cq-a 4.
        for (query, expected) in [
            (
                "min_days_overdue=5",
                vec![("cq-c", "cq-jw"), ("cq-c", "cq-czj"), ("cq-b", "cq-jw")],
            ),
            (
                "min_days_overdue=7",
                vec![("cq-c", "cq-jw"), ("cq-c", "cq-czj")],
            ),
            (
                "max_days_overdue=4&overdue=true",
                vec![("cq-a", "cq-jw"), ("cq-a", "cq-czj")],
            ),
            (
                "min_days_overdue=5&max_days_overdue=9",
                vec![("cq-b", "cq-jw")],
            ),
            (
                "deadline=co_handler_opinion&agency=cq-czj",
                vec![("cq-c", "cq-czj"), ("cq-a", "cq-czj")],
            ),
            ("role=lead&until=2020-05-21", vec![("cq-c", "cq-kjj")]),
        ] {
            let answer = app
                .get("supervisor", &format!("/v1/deadlines?{query}"))
                .await;
            expect(&answer, 200);
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(p, a)| (p.to_owned(), a.to_owned()))
                .collect();
            assert_eq!(
                proposals_of(&answer.body),
                expected,
                "{query} ({backend:?})"
            );
        }
        let none = app
            .get("supervisor", "/v1/deadlines?kind=cppcc_proposal&total=true")
            .await;
        assert_eq!(none.body["total"], 0);
        assert_eq!(none.body["items"], json!([]));
    }
}

#[tokio::test]
async fn every_list_and_the_statistics_answer_csv_that_excel_opens() {
    let app = spawn_app(Backend::Postgres).await;
    three_proposals(&app).await;
    let (content_type, text) = get_csv(
        &app,
        "supervisor",
        "/v1/proposals?format=csv&sort=assigned_on",
        None,
    )
    .await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("key,number,title,"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("cq-c,cq-c,关于对渝东南地区"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("cq-b,第0017号,关于加快轨道交通建设的建议,"),
        "{}",
        lines[2]
    );

    // Accept: text/csv asks for the same; format=json wins over it.
    let (_, deadlines) = get_csv(
        &app,
        "supervisor",
        "/v1/deadlines?until=2020-12-31",
        Some("text/csv"),
    )
    .await;
    let rows: Vec<&str> = deadlines.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 9);
    assert!(rows[0].starts_with("\u{feff}proposal,number,title,lead_deputy,lead_agency,"));
    assert!(rows
        .iter()
        .skip(1)
        .any(|r| r.starts_with("cq-b,第0017号,关于加快轨道交通建设的建议,王小明,cq-kjj,")));
    let (json_type, _) = get_csv(
        &app,
        "supervisor",
        "/v1/deadlines?format=json",
        Some("text/csv"),
    )
    .await;
    assert_eq!(json_type, "application/json");

    // A CSV page says where the next begins.
    let paged = app
        .client
        .get(format!("{}/v1/tasks?format=csv&limit=2", app.address))
        .bearer_auth(&app.tokens["supervisor"])
        .send()
        .await
        .unwrap();
    let next = paged.headers()["next-cursor"].to_str().unwrap().to_owned();
    let text = paged.text().await.unwrap();
    assert_eq!(text.split_terminator("\r\n").count(), 3, "{text}");
    let (_, rest) = get_csv(
        &app,
        "supervisor",
        &format!("/v1/tasks?format=csv&cursor={next}"),
        None,
    )
    .await;
    assert_eq!(rest.split_terminator("\r\n").count(), 7, "{rest}");

    let (_, figures) = get_csv(&app, "supervisor", "/v1/statistics?format=csv", None).await;
    let rows: Vec<&str> = figures.split_terminator("\r\n").collect();
    assert!(rows[0].starts_with("\u{feff}agency,handler_tasks,co_handler_tasks,completed,"));
    assert!(rows[1].starts_with("overall,3,"), "{}", rows[1]);
    assert!(rows.iter().any(|r| r.starts_with("cq-kjj,3,")), "{figures}");
}

#[tokio::test]
async fn the_document_declares_the_search_the_orders_the_totals_and_csv() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = app.get("", "/openapi.json").await.body;
    let params = |path: &str| -> Vec<Value> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .clone()
    };
    let param = |path: &str, name: &str| -> Value {
        params(path)
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    };
    for name in [
        "number",
        "title",
        "person",
        "category",
        "agency",
        "jurisdiction",
        "assigned_from",
        "assigned_to",
        "sort",
        "total",
        "format",
    ] {
        param("/v1/proposals", name);
    }
    assert_eq!(
        param("/v1/proposals", "sort")["schema"]["enum"],
        json!(["key", "assigned_on", "due_on"])
    );
    for path in ["/v1/tasks", "/v1/deadlines"] {
        for name in [
            "session",
            "kind",
            "role",
            "deadline",
            "jurisdiction",
            "result_class",
            "total",
            "format",
        ] {
            param(path, name);
        }
        assert_eq!(
            param(path, "result_class")["schema"]["enum"],
            json!(["A", "B", "C", "D"])
        );
        assert_eq!(
            param(path, "role")["schema"]["enum"],
            json!(["lead", "co_handler", "split"])
        );
    }
    for name in ["min_days_overdue", "max_days_overdue"] {
        assert_eq!(param("/v1/deadlines", name)["schema"]["minimum"], 0);
    }
    param("/v1/statistics", "format");
    for path in [
        "/v1/proposals",
        "/v1/tasks",
        "/v1/deadlines",
        "/v1/statistics",
    ] {
        let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        assert!(content["application/json"].is_object(), "{path}");
        assert!(content["text/csv"].is_object(), "{path}");
    }
    let deadline = &doc["components"]["schemas"]["DeadlineRow"];
    assert!(deadline.is_object(), "{doc}");
}
