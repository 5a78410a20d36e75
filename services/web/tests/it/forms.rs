//! The agencies' forms: each posts one event through `Service::submit`; the idempotency key
//! in the form makes a second post the same step; the CSRF token, the role and the task's
//! owner are checked; the engine's refusal comes back beside the form.

use crate::support::{field, spawn_app, spawn_app_on, Backend, TestApp, KEY};

fn task_path(agency: &str) -> String {
    format!("/proposals/{KEY}/tasks/{agency}")
}

#[tokio::test]
async fn a_co_handler_acknowledges_and_submits_its_opinion_once_per_form() {
    let app = spawn_app().await;
    let client = app.signed_in("jw").await;
    assert_eq!(app.get(&client, "/").await.location(), "/tasks");
    let tasks = app.get(&client, "/tasks").await;
    assert!(tasks.text.contains(&task_path("cq-jw")), "{}", tasks.text);

    let page = app.get(&client, &task_path("cq-jw")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    // Only the step the state allows: acknowledge, not yet the opinion.
    assert!(
        page.text.contains("data-step=\"acknowledge\""),
        "{}",
        page.text
    );
    assert!(!page.text.contains("data-step=\"submit_opinion\""));
    let csrf = field(&page.text, "data-step=\"acknowledge\"", "csrf");
    let key = field(&page.text, "data-step=\"acknowledge\"", "idempotency_key");
    let path = format!("{}/steps/acknowledge", task_path("cq-jw"));
    let before = app.inbox().await;
    let first = app
        .post(
            &client,
            &path,
            &[("csrf", &csrf), ("idempotency_key", &key)],
        )
        .await;
    assert_eq!(first.status, 303, "{}", first.text);
    // A double click: the same form again is the same step.
    let second = app
        .post(
            &client,
            &path,
            &[("csrf", &csrf), ("idempotency_key", &key)],
        )
        .await;
    assert_eq!(second.status, 303, "{}", second.text);
    assert_eq!(app.inbox().await, before + 1);
    assert_eq!(app.task_state("cq-jw").await, "acknowledged");

    let page = app.get(&client, first.location()).await;
    assert!(page.text.contains("已提交"), "{}", page.text);
    let marker = "data-step=\"submit_opinion\"";
    let key = field(&page.text, marker, "idempotency_key");
    let path = format!("{}/steps/submit_opinion", task_path("cq-jw"));
    let empty = app
        .post(
            &client,
            &path,
            &[
                ("csrf", &csrf),
                ("idempotency_key", &key),
                ("document_number", "渝教函〔2020〕12号"),
                ("summary", " "),
            ],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.text.contains("请填写意见内容"), "{}", empty.text);
    let sent = app
        .post(
            &client,
            &path,
            &[
                ("csrf", &csrf),
                ("idempotency_key", &key),
                ("document_number", "渝教函〔2020〕12号"),
                ("summary", "支持科研扶持"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    assert_eq!(app.task_state("cq-jw").await, "opinion_sent");
}

#[tokio::test]
async fn the_proposal_page_changes_its_etag_when_a_step_is_taken() {
    let app = spawn_app().await;
    let supervisor = app.signed_in("supervisor").await;
    let path = format!("/proposals/{KEY}");
    let etag = app.get(&supervisor, &path).await.headers["etag"].clone();
    let ask = || {
        supervisor
            .get(app.url(&path))
            .header("if-none-match", etag.clone())
            .send()
    };
    assert_eq!(ask().await.unwrap().status().as_u16(), 304);
    let jw = app.signed_in("jw").await;
    app.take(&jw, &task_path("cq-jw"), "acknowledge", &[]).await;
    let changed = ask().await.unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    assert!(changed
        .text()
        .await
        .unwrap()
        .contains("data-event=\"acknowledge\""));
}

#[tokio::test]
async fn the_engines_refusal_is_a_sentence_on_the_page() {
    let app = spawn_app().await;
    let client = app.signed_in("jw").await;
    let page = app.get(&client, &task_path("cq-jw")).await;
    let csrf = field(&page.text, "data-step=\"acknowledge\"", "csrf");
    // An opinion before the acknowledgement: not offered, and held by the engine if sent,
    // until the acknowledgement arrives.
    let refused = app
        .post(
            &client,
            &format!("{}/steps/submit_opinion", task_path("cq-jw")),
            &[
                ("csrf", &csrf),
                ("idempotency_key", "web-early-opinion"),
                ("document_number", "x"),
                ("summary", "y"),
            ],
        )
        .await;
    assert_eq!(refused.status, 202, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("这一步已收到，但当前办理状态下不能进行这一步。前一步到达后将自动办理"),
        "{}",
        refused.text
    );
    assert_eq!(app.task_state("cq-jw").await, "assigned");

    // The acknowledgement brings the held opinion in with it; a second acknowledgement can
    // never fit again, and is refused at once.
    let ack = &[("csrf", csrf.as_str()), ("idempotency_key", "web-ack")];
    let done = app
        .post(
            &client,
            &format!("{}/steps/acknowledge", task_path("cq-jw")),
            ack,
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(app.task_state("cq-jw").await, "opinion_sent");
    let again = &[("csrf", csrf.as_str()), ("idempotency_key", "web-ack-2")];
    let refused = app
        .post(
            &client,
            &format!("{}/steps/acknowledge", task_path("cq-jw")),
            again,
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.text.contains("当前办理状态下不能进行这一步"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let client = app.signed_in("jw").await;
    let before = app.inbox().await;
    let forged = app
        .post(
            &client,
            &format!("{}/steps/acknowledge", task_path("cq-jw")),
            &[("csrf", "0000"), ("idempotency_key", "web-forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.inbox().await, before);
}

#[tokio::test]
async fn a_supervisor_sees_no_form_and_is_refused_when_posting_one() {
    let app = spawn_app().await;
    let client = app.signed_in("supervisor").await;
    let page = app.get(&client, &task_path("cq-jw")).await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("data-step="), "{}", page.text);
    let csrf = field(&page.text, "action=\"/signout\"", "csrf");
    let before = app.inbox().await;
    let refused = app
        .post(
            &client,
            &format!("{}/steps/acknowledge", task_path("cq-jw")),
            &[("csrf", &csrf), ("idempotency_key", "web-supervisor")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.text.contains("role_not_allowed"),
        "{}",
        refused.text
    );
    assert_eq!(app.inbox().await, before);
}

#[tokio::test]
async fn another_agencys_task_is_refused_to_read_and_to_act_on() {
    let app = spawn_app().await;
    let client = app.signed_in("jw").await;
    let other = app.get(&client, &task_path("cq-czj")).await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert!(other.text.contains("not_your_task"));
    let page = app.get(&client, &task_path("cq-jw")).await;
    let csrf = field(&page.text, "data-step=\"acknowledge\"", "csrf");
    let refused = app
        .post(
            &client,
            &format!("{}/steps/acknowledge", task_path("cq-czj")),
            &[("csrf", &csrf), ("idempotency_key", "web-other")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(app.task_state("cq-czj").await, "assigned");
}

#[tokio::test]
async fn the_lead_drafts_signs_and_sends_and_the_congress_office_records_the_receipt() {
    whole_case_through_forms(spawn_app().await).await;
}

#[tokio::test]
async fn the_whole_case_through_forms_on_sqlite() {
    whole_case_through_forms(spawn_app_on(Backend::Sqlite).await).await;
}

async fn whole_case_through_forms(app: TestApp) {
    for who in ["jw", "czj"] {
        let client = app.signed_in(who).await;
        let path = task_path(&format!("cq-{who}"));
        app.take(&client, &path, "acknowledge", &[]).await;
        let opinion = [
            ("document_number", "协办意见〔2020〕1号"),
            ("summary", "同意"),
        ];
        app.take(&client, &path, "submit_opinion", &opinion).await;
    }
    let lead = app.signed_in("lead").await;
    let path = task_path("cq-kjj");
    app.take(&lead, &path, "sign_for", &[]).await;
    let draft = [
        ("result_class", "B"),
        ("document_number", "渝科局函〔2020〕109号"),
        ("summary", "列入计划，逐步解决"),
        ("co_handler_views", "cq-jw,cq-czj"),
    ];
    app.take(&lead, &path, "draft_reply", &draft).await;
    let signature = [
        ("signer", "许洪斌"),
        ("title", "局长"),
        ("principal_head", "yes"),
        ("on", "2020-02-26"),
    ];
    app.take(&lead, &path, "sign_reply", &signature).await;
    let dispatch = [
        ("on", "2020-02-26"),
        ("deputies", "郎平权"),
        ("copies", "市人大常委会人代工委"),
    ];
    app.take(&lead, &path, "send_reply", &dispatch).await;
    assert_eq!(app.task_state("cq-kjj").await, "replied");

    let congress = app.signed_in("congress").await;
    let waiting = app.get(&congress, "/tasks").await;
    assert!(waiting.text.contains(&path), "{}", waiting.text);
    let receipt = [
        ("satisfaction", "satisfied"),
        ("comments", "满意"),
        ("on", "2020-02-26"),
    ];
    app.take(&congress, &path, "record_feedback", &receipt)
        .await;
    assert_ne!(app.task_state("cq-kjj").await, "replied");
    let page = app.get(&congress, &format!("/proposals/{KEY}")).await;
    assert!(
        page.text.contains("渝科局函〔2020〕109号") && page.text.contains("回执：满意"),
        "{}",
        page.text
    );
}
