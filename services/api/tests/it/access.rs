//! The access matrix, generated: every endpoint of the OpenAPI document × every role (and
//! no token), allowed or refused as the table below says. Then the scope rules: an agency
//! sees its own proposals and tasks only, a supervisor writes nothing.

use std::collections::BTreeSet;

use cohandle_api::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const ASSIGNER: &[Role] = &[Role::Assigner];
const AGENCY: &[Role] = &[Role::Agency];
const CONGRESS: &[Role] = &[Role::CongressOffice];
const ADMIN: &[Role] = &[Role::Admin];
const EVERY_ROLE: &[Role] = &Role::ALL;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// No token needed.
    Public,
    Roles(&'static [Role]),
}

struct Endpoint {
    method: Method,
    /// The path as the OpenAPI document writes it.
    template: &'static str,
    allowed: Allowed,
    /// A valid body (writes).
    body: Option<Value>,
}

fn endpoint(
    method: Method,
    template: &'static str,
    allowed: &'static [Role],
    body: Value,
) -> Endpoint {
    let body = (method != Method::GET && method != Method::DELETE).then_some(body);
    Endpoint {
        method,
        template,
        allowed: Allowed::Roles(allowed),
        body,
    }
}

fn read(template: &'static str) -> Endpoint {
    endpoint(Method::GET, template, EVERY_ROLE, Value::Null)
}

fn public(template: &'static str) -> Endpoint {
    Endpoint {
        method: Method::GET,
        template,
        allowed: Allowed::Public,
        body: None,
    }
}

/// The policy under test, one row per endpoint.
fn table() -> Vec<Endpoint> {
    let post = Method::POST;
    let reason = json!({"reason": "matrix"});
    let note = json!({"note": "matrix"});
    vec![
        endpoint(
            post.clone(),
            "/v1/proposals",
            ASSIGNER,
            assignment("cq-matrix-new", "2020-02-26"),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/tasks/{agency}/dispute-decision",
            ASSIGNER,
            json!({"decision": "keep", "reason": "matrix"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/disagreements/{co_handler}/settlement",
            ASSIGNER,
            json!({"resolution": "matrix"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/tasks/{agency}/extension/approval",
            ASSIGNER,
            json!({}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/tasks/{agency}/extension/refusal",
            ASSIGNER,
            reason.clone(),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/merge",
            ASSIGNER,
            json!({"target": "cq-elsewhere"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/absorption",
            ASSIGNER,
            json!({"source": "cq-elsewhere", "deputies": ["某代表"]}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/sign-for",
            AGENCY,
            json!({}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/disagreements",
            AGENCY,
            json!({"co_handler": "cq-jw", "reason": "matrix"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/contacts",
            AGENCY,
            json!({"method": "phone", "on": "2020-02-27"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/draft",
            AGENCY,
            json!({"result_class": "A", "document_number": "X〔2020〕1号", "summary": "s"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/draft/return",
            AGENCY,
            reason.clone(),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/signature",
            AGENCY,
            json!({"signer": "s", "title": "局长", "principal_head": true, "signed_on": "2020-02-27"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/reply",
            AGENCY,
            json!({"sent_on": "2020-02-27", "deputies": ["郎平权"]}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/progress",
            AGENCY,
            note.clone(),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/follow-up/conclusion",
            AGENCY,
            note.clone(),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/consultation",
            AGENCY,
            note,
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/extension",
            AGENCY,
            json!({"until": "2020-06-30", "reason": "matrix"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/disclosure",
            AGENCY,
            json!({"index_number": "i", "topic": "t", "genre": "g", "issuing_body": "b", "written_on": "2020-02-27", "scope": "full"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/clock/pause",
            AGENCY,
            json!({"reason": "waiting_for_deputy"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/clock/resume",
            AGENCY,
            json!({}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/acknowledgement",
            AGENCY,
            json!({}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/opinion",
            AGENCY,
            json!({"document_number": "d", "summary": "s"}),
        ),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/dispute",
            AGENCY,
            reason.clone(),
        ),
        endpoint(post.clone(), "/v1/proposals/{key}/decline", AGENCY, reason),
        endpoint(
            post.clone(),
            "/v1/proposals/{key}/tasks/{agency}/feedback",
            CONGRESS,
            json!({"satisfaction": "satisfied", "received_on": "2020-02-27"}),
        ),
        endpoint(
            post,
            "/v1/tokens",
            ADMIN,
            json!({"agency": "cq-new", "role": "agency"}),
        ),
        endpoint(Method::DELETE, "/v1/tokens/{id}", ADMIN, Value::Null),
        endpoint(Method::GET, "/v1/tokens", ADMIN, Value::Null),
        endpoint(
            Method::POST,
            "/v1/definitions",
            ADMIN,
            json!({"file": "matrix.toml", "content": "name = 1"}),
        ),
        endpoint(Method::GET, "/v1/definitions", ADMIN, Value::Null),
        endpoint(
            Method::POST,
            "/v1/jurisdictions",
            ADMIN,
            json!({"code": "matrixj", "name": "matrix", "level": "district"}),
        ),
        endpoint(Method::GET, "/v1/jurisdictions", ADMIN, Value::Null),
        endpoint(
            Method::POST,
            "/v1/jurisdictions/{code}/agencies",
            ADMIN,
            json!({"agencies": []}),
        ),
        read("/v1/proposals"),
        read("/v1/proposals/{key}"),
        read("/v1/proposals/{key}/tasks/{agency}"),
        read("/v1/tasks"),
        read("/v1/deadlines"),
        read("/v1/statistics"),
        read("/v1/statistics/trend"),
        read("/v1/me"),
        read("/v1/held-events"),
        public("/healthz"),
        public("/readyz"),
        public("/metrics"),
    ]
}

#[tokio::test]
async fn the_table_covers_every_operation_of_the_document() {
    let doc = serde_json::to_value(cohandle_api::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = table()
        .iter()
        .map(|e| (e.method.to_string(), e.template.to_owned()))
        .collect();
    assert_eq!(
        documented, tabled,
        "every documented operation needs a row in the access table"
    );
}

#[tokio::test]
async fn every_role_on_every_endpoint_is_allowed_or_refused_as_the_table_says() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "matrix-assign",
                assignment("cq-matrix", "2020-02-26"),
            )
            .await,
            201,
        );
        register(&app.engine, "cq-spare", "agency").await;
        let spare = app
            .post(
                "admin",
                "/v1/tokens",
                "-",
                json!({"agency": "cq-spare", "role": "agency"}),
            )
            .await;
        expect(&spare, 201);
        let spare_id = spare.body["id"].as_str().unwrap().to_owned();

        let mut report = vec![format!(
            "{:<7} {:<62} anonymous  {}",
            "method",
            "path",
            Role::ALL.map(|r| format!("{:<16}", r.as_str())).join("")
        )];
        let mut n = 0;
        for e in table() {
            let path = e
                .template
                .replace("{key}", "cq-matrix")
                .replace("{agency}", "cq-kjj")
                .replace("{co_handler}", "cq-jw")
                .replace("{code}", "cq")
                .replace("{id}", &spare_id);
            let mut row = format!("{:<7} {:<62}", e.method.as_str(), e.template);
            // No token at all.
            let answer = app
                .send(
                    e.method.clone(),
                    "",
                    &path,
                    Some("matrix-anon"),
                    e.body.as_ref(),
                )
                .await;
            match e.allowed {
                Allowed::Public => assert!(answer.status.is_success(), "{path}: {}", answer.body),
                Allowed::Roles(_) => {
                    assert_eq!(
                        answer.status.as_u16(),
                        401,
                        "{} {path} without a token",
                        e.method
                    );
                    assert_eq!(answer.code(), "token_missing");
                    assert!(answer.is_problem() && answer.headers.contains_key("www-authenticate"));
                }
            }
            row.push_str(&format!(" {:<10}", answer.status.as_u16()));
            for role in Role::ALL {
                n += 1;
                let key = format!("matrix-{n}");
                let answer = app
                    .send(
                        e.method.clone(),
                        party_of(role),
                        &path,
                        Some(&key),
                        e.body.as_ref(),
                    )
                    .await;
                let allowed = match e.allowed {
                    Allowed::Public => true,
                    Allowed::Roles(roles) => roles.contains(&role),
                };
                let status = answer.status.as_u16();
                if allowed {
                    assert!(
                        status != 401 && answer.code() != "role_not_allowed" && status < 500,
                        "{role} should pass {} {path}: {status} {}",
                        e.method,
                        answer.body
                    );
                } else {
                    assert_eq!(
                        status, 403,
                        "{role} should be refused {} {path}: {}",
                        e.method, answer.body
                    );
                    assert_eq!(answer.code(), "role_not_allowed");
                    assert!(answer.is_problem());
                    assert!(!answer.body["detail"].as_str().unwrap().is_empty());
                }
                let mark = if allowed { "allowed" } else { "REFUSED" };
                row.push_str(&format!("{:<16}", format!("{mark} {status}")));
            }
            report.push(row);
        }
        if backend == Backend::Sqlite {
            println!("{}", report.join("\n"));
        }
    }
}

#[tokio::test]
async fn a_supervisor_token_cannot_write_and_nothing_changes() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "a",
                assignment("cq-s", "2020-02-26"),
            )
            .await,
            201,
        );
        let before = app.version_and_inbox("cq-s").await;
        for (i, e) in table()
            .into_iter()
            .filter(|e| e.method == Method::POST)
            .enumerate()
        {
            let path = e
                .template
                .replace("{key}", "cq-s")
                .replace("{agency}", "cq-kjj")
                .replace("{co_handler}", "cq-jw");
            let answer = app
                .send(
                    Method::POST,
                    "supervisor",
                    &path,
                    Some(&format!("sup-{i}")),
                    e.body.as_ref(),
                )
                .await;
            expect(&answer, 403);
            assert_eq!(answer.code(), "role_not_allowed");
        }
        assert_eq!(app.version_and_inbox("cq-s").await, before);
        // Reading is what supervisors do.
        expect(&app.get("supervisor", "/v1/proposals/cq-s").await, 200);
    }
}

#[tokio::test]
async fn agency_a_cannot_read_agency_b_task() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        expect(
            &app.post(
                "assigner",
                "/v1/proposals",
                "a",
                assignment("cq-p", "2020-02-26"),
            )
            .await,
            201,
        );
        expect(
            &app.post(
                "jw",
                "/v1/proposals/cq-p/acknowledgement",
                "jw-ack",
                json!({}),
            )
            .await,
            200,
        );
        expect(
            &app.post(
                "czj",
                "/v1/proposals/cq-p/acknowledgement",
                "czj-ack",
                json!({}),
            )
            .await,
            200,
        );

        // A co-handler reads its own task, not the other co-handler's nor the lead's.
        let own = app.get("jw", "/v1/proposals/cq-p/tasks/cq-jw").await;
        expect(&own, 200);
        assert_eq!(own.body["record"]["agency"], "cq-jw");
        for other in ["cq-czj", "cq-kjj"] {
            let answer = app
                .get("jw", &format!("/v1/proposals/cq-p/tasks/{other}"))
                .await;
            expect(&answer, 403);
            assert_eq!(answer.code(), "not_your_task");
            assert!(answer.is_problem());
        }
        // In the proposal, the other tasks show their state but not their record or history.
        let view = app.get("jw", "/v1/proposals/cq-p").await;
        expect(&view, 200);
        for task in view.body["tasks"].as_array().unwrap() {
            assert_eq!(
                task["record"].is_null(),
                task["agency"] != "cq-jw",
                "{task}"
            );
        }
        assert!(view.body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["agency"].is_null() || h["agency"] == "cq-jw"));
        // Nor list them.
        let list = app.get("jw", "/v1/tasks?agency=cq-czj").await;
        expect(&list, 403);
        assert_eq!(list.code(), "not_your_agency");
        let own_list = app.get("jw", "/v1/tasks").await;
        assert!(own_list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["agency"] == "cq-jw"));
        let stats = app.get("jw", "/v1/statistics?agency=cq-czj").await;
        expect(&stats, 403);

        // The lead reads its co-handlers' tasks; the assigner and supervisors read all.
        expect(
            &app.get("lead", "/v1/proposals/cq-p/tasks/cq-czj").await,
            200,
        );
        expect(
            &app.get("assigner", "/v1/proposals/cq-p/tasks/cq-jw").await,
            200,
        );
        expect(
            &app.get("supervisor", "/v1/proposals/cq-p/tasks/cq-jw")
                .await,
            200,
        );

        // An agency with no part in the proposal neither reads nor acts on it.
        for path in ["/v1/proposals/cq-p", "/v1/proposals/cq-p/tasks/cq-jw"] {
            let answer = app.get("outsider", path).await;
            expect(&answer, 403);
            assert_eq!(answer.code(), "not_your_proposal");
        }
        let before = app.version_and_inbox("cq-p").await;
        let write = app
            .post(
                "outsider",
                "/v1/proposals/cq-p/acknowledgement",
                "out-ack",
                json!({}),
            )
            .await;
        expect(&write, 403);
        assert_eq!(write.code(), "not_your_proposal");
        assert_eq!(app.version_and_inbox("cq-p").await, before);
        let listed = app.get("outsider", "/v1/proposals").await;
        assert_eq!(listed.body["items"], json!([]));

        // A co-handler sending the lead's step is refused by the engine: its task has none.
        let answer = app
            .post("jw", "/v1/proposals/cq-p/sign-for", "jw-sign", json!({}))
            .await;
        expect(&answer, 409);
        assert_eq!(answer.code(), "wrong_state");
    }
}

#[tokio::test]
async fn a_congress_office_acts_on_its_own_offices_proposals_only() {
    for backend in BACKENDS {
        let mut app = spawn_app(backend).await;
        // An office of no jurisdiction (a code that exists nowhere), and the CPPCC's office,
        // which relays for CPPCC proposals, not for deputies' suggestions.
        app.token_as("fake_office", "cq-nowhere", Role::CongressOffice)
            .await;
        app.token_as("cppcc_office", "cq-zxtaw", Role::CongressOffice)
            .await;
        app.assign("cq-p").await;
        let feedback = json!({"satisfaction": "satisfied", "received_on": "2020-02-26"});
        for office in ["fake_office", "cppcc_office"] {
            let before = app.version_and_inbox("cq-p").await;
            let write = app
                .post(
                    office,
                    "/v1/proposals/cq-p/tasks/cq-kjj/feedback",
                    "fb",
                    feedback.clone(),
                )
                .await;
            expect(&write, 403);
            assert_eq!(write.code(), "not_your_proposal", "{office}");
            assert_eq!(app.version_and_inbox("cq-p").await, before);
            expect(&app.get(office, "/v1/proposals/cq-p").await, 403);
            expect(
                &app.get(office, "/v1/proposals/cq-p/tasks/cq-kjj").await,
                403,
            );
            for list in [
                "/v1/proposals",
                "/v1/tasks",
                "/v1/deadlines?until=2021-01-01",
            ] {
                let listed = app.get(office, list).await;
                expect(&listed, 200);
                assert_eq!(listed.body["items"], json!([]), "{office} {list}");
            }
        }
        // The office the definition names reads and relays as before.
        expect(&app.get("congress", "/v1/proposals/cq-p").await, 200);
        let listed = app.get("congress", "/v1/tasks").await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(3));
        let write = app
            .post(
                "congress",
                "/v1/proposals/cq-p/tasks/cq-kjj/feedback",
                "fb",
                feedback,
            )
            .await;
        assert_eq!(write.code(), "wrong_state", "{}", write.body);
    }
}
