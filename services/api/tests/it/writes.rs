//! Every write endpoint, accepted in a path of the workflow where it belongs.

use serde_json::{json, Value};

use crate::support::*;

/// Sends a step with a fresh idempotency key and expects it accepted; returns the outcome.
/// A `null` body is sent as no body at all.
async fn step(app: &TestApp, who: &str, path: &str, body: Value) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let body = (!body.is_null()).then_some(body);
    let answer = app
        .send(reqwest::Method::POST, who, path, Some(&key), body.as_ref())
        .await;
    assert!(
        answer.status.is_success(),
        "{:?} {who} {path}: {} {}",
        app.backend,
        answer.status,
        answer.body
    );
    answer.body
}

async fn task_state(app: &TestApp, key: &str, agency: &str) -> Value {
    let answer = app
        .get("supervisor", &format!("/v1/proposals/{key}/tasks/{agency}"))
        .await;
    expect(&answer, 200);
    answer.body
}

/// Assigned, signed for, both co-handlers' opinions in: ready to draft.
async fn ready_to_draft(app: &TestApp, key: &str) {
    let p = format!("/v1/proposals/{key}");
    let created = app
        .post(
            "assigner",
            "/v1/proposals",
            &format!("{key}-assign"),
            assignment(key, "2020-02-26"),
        )
        .await;
    expect(&created, 201);
    assert_eq!(created.body["state"], "open");
    step(app, "lead", &format!("{p}/sign-for"), json!({})).await;
    for (who, number) in [("jw", "渝教函〔2020〕31号"), ("czj", "渝财函〔2020〕57号")] {
        let ack = step(app, who, &format!("{p}/acknowledgement"), json!({})).await;
        assert_eq!(ack["changes"][0]["to"], "acknowledged");
        let opinion = step(
            app,
            who,
            &format!("{p}/opinion"),
            json!({"document_number": number, "summary": "意见", "submitted_on": "2020-02-26"}),
        )
        .await;
        assert_eq!(opinion["changes"][0]["to"], "opinion_sent");
    }
}

fn draft(class: &str) -> Value {
    json!({
        "result_class": class,
        "document_number": "渝科局函〔2020〕109号",
        "summary": "复函",
        "co_handler_views": ["cq-jw", "cq-czj"],
        "commits_funds": false
    })
}

/// Signs and sends the reply on `day`: the engine's clock is moved there, since a letter
/// cannot be dated after the moment it is recorded.
async fn sign_and_send(app: &TestApp, p: &str, day: &str) {
    app.clock.set(at(day));
    step(
        app,
        "lead",
        &format!("{p}/signature"),
        json!({"signer": "许洪斌", "title": "局长", "principal_head": true, "signed_on": day}),
    )
    .await;
    let sent = step(
        app,
        "lead",
        &format!("{p}/reply"),
        json!({"sent_on": day, "deputies": ["郎平权"], "copies": ["市人大常委会人代工委"]}),
    )
    .await;
    assert_eq!(sent["changes"][0]["to"], "replied");
}

#[tokio::test]
async fn disputes_decisions_and_declines() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let p = "/v1/proposals/cq-d";
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "d",
                assignment("cq-d", "2020-02-26"),
            )
            .await,
            201,
        );

        step(
            &app,
            "lead",
            &format!("{p}/dispute"),
            json!({"reason": "不属于本单位职责"}),
        )
        .await;
        assert_eq!(
            task_state(&app, "cq-d", "cq-kjj").await["record"]["dispute"]["reason"],
            "不属于本单位职责"
        );
        step(
            &app,
            "assigner",
            &format!("{p}/tasks/cq-kjj/dispute-decision"),
            json!({"decision": "keep", "reason": "职责相关"}),
        )
        .await;
        assert!(task_state(&app, "cq-d", "cq-kjj").await["record"]["dispute"].is_null());

        step(
            &app,
            "jw",
            &format!("{p}/dispute"),
            json!({"reason": "应由市经信委会办"}),
        )
        .await;
        let moved = step(
            &app,
            "assigner",
            &format!("{p}/tasks/cq-jw/dispute-decision"),
            json!({"decision": "reassign", "to": "cq-jxw", "reason": "同意调整"}),
        )
        .await;
        assert!(moved["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["to"] == "reassigned"));
        let view = app.get("supervisor", "/v1/proposals/cq-d").await;
        let tasks = view.body["tasks"].as_array().unwrap();
        assert!(tasks
            .iter()
            .any(|t| t["agency"] == "cq-jxw" && t["active"] == true));
        assert!(tasks
            .iter()
            .any(|t| t["agency"] == "cq-jw" && t["active"] == false));

        step(
            &app,
            "czj",
            &format!("{p}/decline"),
            json!({"reason": "无相关职能"}),
        )
        .await;
        assert_eq!(
            task_state(&app, "cq-d", "cq-czj").await["state"],
            "declined"
        );
    }
}

#[tokio::test]
async fn handling_with_disagreement_extension_clock_and_follow_up() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let p = "/v1/proposals/cq-h";
        ready_to_draft(&app, "cq-h").await;

        step(
            &app,
            "lead",
            &format!("{p}/disagreements"),
            json!({"co_handler": "cq-jw", "reason": "意见与实际不符"}),
        )
        .await;
        step(
            &app,
            "assigner",
            &format!("{p}/disagreements/cq-jw/settlement"),
            json!({"resolution": "以主办单位意见为准"}),
        )
        .await;

        step(
            &app,
            "lead",
            &format!("{p}/extension"),
            json!({"until": "2020-07-15", "reason": "需要实地调研"}),
        )
        .await;
        step(
            &app,
            "assigner",
            &format!("{p}/tasks/cq-kjj/extension/approval"),
            json!({}),
        )
        .await;
        let lead = task_state(&app, "cq-h", "cq-kjj").await;
        assert_eq!(lead["record"]["deadlines"]["reply"]["due"], "2020-07-15");
        step(
            &app,
            "lead",
            &format!("{p}/extension"),
            json!({"until": "2020-08-01", "reason": "再延"}),
        )
        .await;
        step(
            &app,
            "assigner",
            &format!("{p}/tasks/cq-kjj/extension/refusal"),
            json!({"reason": "不再延期"}),
        )
        .await;

        step(
            &app,
            "lead",
            &format!("{p}/clock/pause"),
            json!({"reason": "waiting_for_deputy"}),
        )
        .await;
        assert!(
            task_state(&app, "cq-h", "cq-kjj").await["record"]["deadlines"]["reply"]["paused_on"]
                .is_string()
        );
        step(&app, "lead", &format!("{p}/clock/resume"), Value::Null).await;

        app.clock.set(at("2020-03-20"));
        step(&app, "lead", &format!("{p}/contacts"), json!({"method": "meeting", "on": "2020-03-20", "deputy_agreed": true, "note": "沟通见面"})).await;
        step(&app, "lead", &format!("{p}/draft"), draft("B")).await;
        let returned = step(
            &app,
            "lead",
            &format!("{p}/draft/return"),
            json!({"reason": "请补充数据"}),
        )
        .await;
        assert_eq!(returned["changes"][0]["to"], "handling");
        step(&app, "lead", &format!("{p}/draft"), draft("B")).await;
        sign_and_send(&app, p, "2020-04-10").await;

        app.clock.set(at("2020-04-24"));
        let feedback = step(
            &app,
            "congress",
            &format!("{p}/tasks/cq-kjj/feedback"),
            json!({"satisfaction": "satisfied", "received_on": "2020-04-24"}),
        )
        .await;
        assert_eq!(feedback["changes"][0]["to"], "following_up");
        step(
            &app,
            "lead",
            &format!("{p}/progress"),
            json!({"note": "项目已启动"}),
        )
        .await;
        let concluded = step(
            &app,
            "lead",
            &format!("{p}/follow-up/conclusion"),
            json!({"note": "已完成"}),
        )
        .await;
        assert_eq!(concluded["state"], "closed");
        app.clock.set(at("2020-09-16"));
        step(&app, "lead", &format!("{p}/disclosure"), json!({
            "index_number": "11500000MB15895317/2020-00763", "topic": "科技", "genre": "人大建议办理",
            "issuing_body": "市科技局", "written_on": "2020-04-10", "published_on": "2020-09-16", "scope": "full"
        }))
        .await;
        let stats = app.get("supervisor", "/v1/statistics?agency=cq-kjj").await;
        assert_eq!(stats.body["agencies"][0]["figures"]["meeting_rate"], 1.0);
        assert_eq!(
            stats.body["agencies"][0]["figures"]["class_shares"]["B"],
            1.0
        );
    }
}

#[tokio::test]
async fn a_second_dissatisfaction_ends_in_consultation() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let p = "/v1/proposals/cq-c";
        ready_to_draft(&app, "cq-c").await;
        step(&app, "lead", &format!("{p}/draft"), draft("A")).await;
        sign_and_send(&app, p, "2020-04-10").await;
        app.clock.set(at("2020-04-24"));
        let first = step(&app, "congress", &format!("{p}/tasks/cq-kjj/feedback"), json!({"satisfaction": "dissatisfied", "comments": "未解决", "received_on": "2020-04-24"})).await;
        assert_eq!(first["changes"][0]["to"], "rehandling");
        step(&app, "lead", &format!("{p}/draft"), draft("A")).await;
        sign_and_send(&app, p, "2020-05-10").await;
        app.clock.set(at("2020-05-20"));
        let second = step(
            &app,
            "congress",
            &format!("{p}/tasks/cq-kjj/feedback"),
            json!({"satisfaction": "dissatisfied", "received_on": "2020-05-20"}),
        )
        .await;
        assert_eq!(second["changes"][0]["to"], "escalated");
        let closed = step(
            &app,
            "lead",
            &format!("{p}/consultation"),
            json!({"note": "面商"}),
        )
        .await;
        assert_eq!(closed["state"], "closed");
        let stats = app.get("supervisor", "/v1/statistics?agency=cq-kjj").await;
        let figures = &stats.body["agencies"][0]["figures"];
        assert_eq!(figures["first_time_satisfaction_rate"], 0.0);
        assert_eq!(figures["final_satisfaction_rate"], 0.0);
    }
}

#[tokio::test]
async fn merging_and_absorbing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for key in ["cq-m1", "cq-m2"] {
            expect(
                &app.post(
                    "assigner",
                    "/v1/proposals",
                    key,
                    assignment(key, "2020-02-26"),
                )
                .await,
                201,
            );
        }
        step(
            &app,
            "assigner",
            "/v1/proposals/cq-m2/absorption",
            json!({"source": "cq-m1", "deputies": ["另一代表"]}),
        )
        .await;
        let merged = step(
            &app,
            "assigner",
            "/v1/proposals/cq-m1/merge",
            json!({"target": "cq-m2"}),
        )
        .await;
        assert_eq!(merged["state"], "merged");
        let m2 = app.get("assigner", "/v1/proposals/cq-m2").await;
        assert_eq!(m2.body["merged_deputies"], json!(["另一代表"]));
        let m1 = app.get("assigner", "/v1/proposals/cq-m1").await;
        assert_eq!(m1.body["merged_into"], "cq-m2");
    }
}
