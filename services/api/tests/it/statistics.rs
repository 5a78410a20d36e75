//! The statistics a supervisor reports: obligations past due count against the on-time
//! rates, co-handlers' opinions are timed, figures are narrowed to a session, a kind or a
//! period of assignment, and the month-by-month trend; as JSON and as CSV.

use serde_json::{json, Value};

use crate::support::*;

fn figures<'a>(view: &'a Value, agency: &str) -> &'a Value {
    view["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agency"] == agency)
        .map(|a| &a["figures"])
        .unwrap_or_else(|| panic!("no figures of {agency}: {view}"))
}

#[tokio::test]
async fn obligations_past_due_and_still_open_count_against_the_on_time_rates() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Assigned, signed for, acknowledged by both co-handlers; cq-jw sends its opinion on
        // 16 March, cq-czj none.
        for event in &cohandle_workflows::cases::case_0942()[..5] {
            app.advance_to(event.occurred_at).await;
            assert!(app.replay(event).await.status.is_success());
        }
        let stats = app.get("supervisor", "/v1/statistics").await;
        expect(&stats, 200);
        let overall = &stats.body["overall"];
        assert_eq!(overall["opinions"], 1);
        assert_eq!(overall["opinion_on_time_rate"], 1.0);
        assert_eq!(overall["overdue_opinions"], 0);
        assert_eq!(overall["on_time_rate"], Value::Null, "nothing due yet");
        assert_eq!(figures(&stats.body, "cq-czj")["co_handler_tasks"], 1);

        // The opinions were due on 26 March: cq-czj's is past due and still open.
        app.advance_to(at("2020-04-01")).await;
        let stats = app.get("supervisor", "/v1/statistics").await;
        assert_eq!(stats.body["today"], "2020-04-01");
        assert_eq!(stats.body["overall"]["overdue_opinions"], 1);
        assert_eq!(stats.body["overall"]["opinion_on_time_rate"], 0.5);
        assert_eq!(figures(&stats.body, "cq-czj")["opinion_on_time_rate"], 0.0);
        assert_eq!(figures(&stats.body, "cq-jw")["opinion_on_time_rate"], 1.0);

        // The reply was due on 26 May and is not sent: the lead is not punctual, it is late.
        app.advance_to(at("2020-06-01")).await;
        let stats = app.get("supervisor", "/v1/statistics").await;
        let kjj = figures(&stats.body, "cq-kjj");
        assert_eq!(kjj["replies"], 0);
        assert_eq!(kjj["overdue_replies"], 1);
        assert_eq!(kjj["on_time_rate"], 0.0);
        assert_eq!(stats.body["overall"]["on_time_rate"], 0.0);
        // The lead reads the same of itself.
        let own = app.get("lead", "/v1/statistics").await;
        expect(&own, 200);
        assert_eq!(own.body["agencies"].as_array().unwrap().len(), 1);
        assert_eq!(figures(&own.body, "cq-kjj")["overdue_replies"], 1);
        assert_eq!(own.body["overall"]["overdue_opinions"], 1);
        // And the CSV says so.
        let (_, text) = get_csv(&app, "supervisor", "/v1/statistics?format=csv", None).await;
        let text = text.trim_start_matches('\u{feff}');
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("cq-kjj,"))
            .unwrap()
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
        assert_eq!(row[column("overdue_replies")], "1", "{text}");
        assert_eq!(row[column("on_time_rate")], "0.0000", "{text}");
    }
}

/// Case 0942 (session 三次会议, assigned 26 February), and three more proposals: one of the
/// same session assigned 26 February, one of session 四次会议 assigned 10 March, one assigned
/// 20 April.
async fn four_proposals(app: &TestApp) {
    for event in cohandle_workflows::cases::case_0942() {
        app.advance_to(event.occurred_at).await;
        assert!(app.replay(&event).await.status.is_success());
    }
    for (key, day, session) in [
        ("cq-t-1", "2020-02-26", None),
        ("cq-t-2", "2020-03-10", Some("市五届人大四次会议")),
        ("cq-t-3", "2020-04-20", None),
    ] {
        let mut body = assignment(key, day);
        if let Some(session) = session {
            body["info"]["session"] = json!(session);
        }
        let created = app
            .post("assigner", "/v1/proposals", &format!("{key}-assign"), body)
            .await;
        expect(&created, 201);
    }
}

#[tokio::test]
async fn figures_by_session_kind_and_period_and_the_monthly_trend() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        four_proposals(&app).await;
        let handler_tasks = |query: &'static str| {
            let app = &app;
            async move {
                let stats = app
                    .get("supervisor", &format!("/v1/statistics{query}"))
                    .await;
                expect(&stats, 200);
                (
                    stats.body["overall"]["handler_tasks"].as_i64().unwrap(),
                    stats.body["overall"]["co_handler_tasks"].as_i64().unwrap(),
                )
            }
        };
        assert_eq!(handler_tasks("").await, (4, 8));
        // 市五届人大四次会议
        let fourth = "?session=%E5%B8%82%E4%BA%94%E5%B1%8A%E4%BA%BA%E5%A4%A7%E5%9B%9B%E6%AC%A1%E4%BC%9A%E8%AE%AE";
        assert_eq!(handler_tasks(fourth).await, (1, 2));
        assert_eq!(
            handler_tasks("?assigned_from=2020-02-26&assigned_to=2020-03-31").await,
            (3, 6)
        );
        assert_eq!(handler_tasks("?assigned_from=2020-04-01").await, (1, 2));
        assert_eq!(handler_tasks("?kind=cppcc_proposal").await, (0, 0));
        assert_eq!(handler_tasks("?kind=deputy_suggestion").await, (4, 8));
        // Narrowed to the case's session and February, only the case has a reply.
        let narrowed = app
            .get(
                "supervisor",
                "/v1/statistics?assigned_to=2020-02-29&agency=cq-kjj",
            )
            .await;
        assert_eq!(narrowed.body["agencies"][0]["figures"]["replies"], 1);
        assert_eq!(narrowed.body["agencies"][0]["figures"]["handler_tasks"], 2);

        let refused = app.get("supervisor", "/v1/statistics?kind=bogus").await;
        expect(&refused, 400);
        assert_eq!(refused.code(), "unknown_filter_value");
        let backwards = app
            .get(
                "supervisor",
                "/v1/statistics?assigned_from=2020-05-01&assigned_to=2020-04-01",
            )
            .await;
        expect(&backwards, 400);
        assert_eq!(backwards.code(), "invalid_period");

        let trend = app
            .get(
                "supervisor",
                "/v1/statistics/trend?from=2020-01-15&to=2020-06-30",
            )
            .await;
        expect(&trend, 200);
        let months = trend.body["months"].as_array().unwrap();
        let names: Vec<&str> = months
            .iter()
            .map(|m| m["month"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
        );
        let month = |name: &str| months.iter().find(|m| m["month"] == name).unwrap();
        assert_eq!(month("2020-01")["assigned"], 0);
        assert_eq!(month("2020-02")["assigned"], 2);
        assert_eq!(month("2020-03")["assigned"], 1);
        assert_eq!(month("2020-03")["opinions"], 2);
        assert_eq!(month("2020-03")["opinion_on_time_rate"], 1.0);
        assert_eq!(month("2020-04")["assigned"], 1);
        assert_eq!(month("2020-04")["replies"], 1);
        assert_eq!(month("2020-04")["on_time_rate"], 1.0);
        assert_eq!(month("2020-04")["receipts"], 1);
        assert_eq!(month("2020-05")["replies"], 0);
        assert_eq!(month("2020-05")["on_time_rate"], Value::Null);
        // Counted from the rows (narrowed to a kind every proposal has), the same months as
        // from the counters.
        let counted_from_rows = app
            .get(
                "supervisor",
                "/v1/statistics/trend?from=2020-01-15&to=2020-06-30&kind=deputy_suggestion",
            )
            .await;
        assert_eq!(counted_from_rows.body["months"], trend.body["months"]);
        // An agency's own trend: its tasks and its rows.
        let own = app
            .get("jw", "/v1/statistics/trend?from=2020-01-01&to=2020-06-30")
            .await;
        expect(&own, 200);
        let own_months = own.body["months"].as_array().unwrap();
        let sum =
            |name: &str| -> i64 { own_months.iter().map(|m| m[name].as_i64().unwrap()).sum() };
        assert_eq!(
            (sum("assigned"), sum("opinions"), sum("replies")),
            (4, 1, 0)
        );
        // The same, asked by a supervisor for that agency (counted from the rows).
        let asked = app
            .get(
                "supervisor",
                "/v1/statistics/trend?from=2020-01-01&to=2020-06-30&agency=cq-jw",
            )
            .await;
        assert_eq!(asked.body["months"], own.body["months"]);
        // The session narrows the trend too.
        let fourth = app
            .get(
                "supervisor",
                "/v1/statistics/trend?from=2020-01-01&to=2020-06-30&session=%E5%B8%82%E4%BA%94%E5%B1%8A%E4%BA%BA%E5%A4%A7%E5%9B%9B%E6%AC%A1%E4%BC%9A%E8%AE%AE",
            )
            .await;
        let assigned: i64 = fourth.body["months"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["assigned"].as_i64().unwrap())
            .sum();
        assert_eq!(assigned, 1);

        let too_long = app
            .get(
                "supervisor",
                "/v1/statistics/trend?from=2000-01-01&to=2020-06-30",
            )
            .await;
        expect(&too_long, 400);
        assert_eq!(too_long.code(), "invalid_period");
        let not_yours = app.get("jw", "/v1/statistics/trend?agency=cq-kjj").await;
        expect(&not_yours, 403);
        assert_eq!(not_yours.code(), "not_your_agency");

        let (_, text) = get_csv(
            &app,
            "supervisor",
            "/v1/statistics/trend?from=2020-01-01&to=2020-06-30",
            Some("text/csv"),
        )
        .await;
        assert!(
            text.starts_with("\u{feff}month,assigned,replies,"),
            "{text}"
        );
        assert!(text.contains("\r\n2020-02,2,0,"), "{text}");
    }
}
