//! `spawn_app`: each test gets its own database (a fresh PostgreSQL database, or a fresh
//! SQLite file), its own server on port 0, and a token for each party of case 0942.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_api::tokens::{self, NewToken};
use cohandle_api::{GroupCommit, RateLimit, Role, Service};
pub use cohandle_store::handle::Replica;
use cohandle_store::{connect, queries, Engine, ManualClock};
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::{AgencyCode, Body, Calendar, Catalog, Event};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub use cohandle_testkit::{Backend, TestDb, BACKENDS};

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Ten in the morning, China time, on `day`.
pub fn at(day: &str) -> DateTime<Utc> {
    china_offset()
        .from_local_datetime(&date(day).and_hms_opt(10, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Registers an agency of `kind` (tokens are issued only to registered agencies), serving
/// the tests' jurisdiction.
pub async fn register(engine: &Engine, code: &str, kind: &str) {
    cohandle_testkit::agencies::register(engine, code, kind).await;
}

/// The parties of the tests: name → (agency, role).
pub const PARTIES: &[(&str, &str, Role)] = &[
    ("assigner", "cq-zfbgt", Role::Assigner),
    ("lead", "cq-kjj", Role::Agency),
    ("jw", "cq-jw", Role::Agency),
    ("czj", "cq-czj", Role::Agency),
    ("congress", "cq-rdgw", Role::CongressOffice),
    ("supervisor", "cq-dc", Role::Supervisor),
    ("admin", "cq-admin", Role::Admin),
    ("outsider", "cq-other", Role::Agency),
];

/// The party that speaks for each role in role-wide tests.
pub fn party_of(role: Role) -> &'static str {
    match role {
        Role::Assigner => "assigner",
        Role::Agency => "lead",
        Role::CongressOffice => "congress",
        Role::Supervisor => "supervisor",
        Role::Admin => "admin",
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json")
            && self.body["status"] == self.status.as_u16()
            && self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:cohandle:problem:"))
            && self.body["title"].is_string()
            && self.body["detail"].is_string()
    }

    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub tokens: BTreeMap<&'static str, String>,
    pub backend: Backend,
    /// The server's service (a clone), to read what its writes committed.
    pub service: Service,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped last: the server and its pool go first.
    pub db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A server on port 0 over a database of its own, its clock on 2020-02-26, with the default
/// per-token rate limit.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_limited(backend, Some(RateLimit::DEFAULT)).await
}

/// The same server with another per-token rate limit (`None`: none).
pub async fn spawn_app_limited(backend: Backend, limit: Option<RateLimit>) -> TestApp {
    spawn_app_with(backend, limit, GroupCommit::DEFAULT, None, None).await
}

/// The same server reading supervisors' lists and statistics from `replica`.
pub async fn spawn_app_reading_from(backend: Backend, replica: Replica) -> TestApp {
    spawn_app_with(
        backend,
        Some(RateLimit::DEFAULT),
        GroupCommit::DEFAULT,
        None,
        Some(replica),
    )
    .await
}

/// The same server, no rate limit, grouping concurrent writes by `group`.
/// The group-commit tests' server: its refusals are at once (no event is held), so that a
/// batch holds refused and applied events side by side.
pub async fn spawn_app_grouped(backend: Backend, group: GroupCommit) -> TestApp {
    spawn_app_with(backend, None, group, Some(std::time::Duration::ZERO), None).await
}

async fn spawn_app_with(
    backend: Backend,
    limit: Option<RateLimit>,
    group: GroupCommit,
    hold_window: Option<std::time::Duration>,
    replica: Option<Replica>,
) -> TestApp {
    let db = TestDb::new(backend).await;
    let conn = connect::connect_and_migrate(&db.url).await.unwrap();
    let clock = Arc::new(ManualClock::new(at("2020-02-26")));
    let mut engine = Engine::new(
        conn,
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
        clock.clone(),
    );
    if let Some(window) = hold_window {
        engine = engine.with_hold_window(window);
    }
    let mut secrets = BTreeMap::new();
    for (_, agency, role) in PARTIES {
        register(&engine, agency, role.kind().unwrap_or("supervisor")).await;
    }
    for (name, agency, role) in PARTIES {
        let new = NewToken {
            agency: AgencyCode::parse(*agency).unwrap(),
            role: *role,
            name: Some((*name).to_owned()),
            expires_in_days: None,
        };
        let issued = tokens::create(&engine, at("2020-01-01"), new)
            .await
            .unwrap();
        secrets.insert(*name, issued.secret);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut service = Service::new(engine.clone())
        .with_rate_limit(limit)
        .with_group_commit(group);
    if let Some(replica) = replica {
        service = service.with_replica(replica);
    }
    tokio::spawn(cohandle_api::serve(listener, service.clone(), async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        engine,
        clock,
        tokens: secrets,
        backend,
        service,
        stop: Some(stop),
        db,
    }
}

impl TestApp {
    /// Sends a request as `who` (a party name, or "" for no token).
    pub async fn send(
        &self,
        method: Method,
        who: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(secret) = self.tokens.get(who) {
            request = request.bearer_auth(secret);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn get(&self, who: &str, path: &str) -> Answer {
        self.send(Method::GET, who, path, None, None).await
    }

    pub async fn post(&self, who: &str, path: &str, key: &str, body: Value) -> Answer {
        self.send(Method::POST, who, path, Some(key), Some(&body))
            .await
    }

    /// Sends a raw body with a content type, for the malformed-body tests.
    pub async fn post_raw(
        &self,
        who: &str,
        path: &str,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.tokens[who])
            .header("Idempotency-Key", key)
            .header("content-type", content_type)
            .body(body);
        read(request.send().await.unwrap()).await
    }

    /// The stored version of a proposal, and how many events the inbox holds.
    pub async fn version_and_inbox(&self, key: &str) -> (Option<i64>, u64) {
        let version = queries::proposal(&self.engine, key)
            .await
            .unwrap()
            .map(|p| p.row.version);
        let inbox = queries::events_decided(&self.engine).await.unwrap();
        (version, inbox)
    }

    /// Assigns proposal `key` (lead cq-kjj, co-handlers cq-jw and cq-czj, on 2020-02-26) as
    /// the assigner, which must create it.
    pub async fn assign(&self, key: &str) {
        let key_header = format!("{key}-assign");
        let created = self
            .post(
                "assigner",
                "/v1/proposals",
                &key_header,
                assignment(key, "2020-02-26"),
            )
            .await;
        expect(&created, 201);
    }

    /// Gives party `name` a token of `agency` and `role`, written straight into the tokens
    /// table (as one issued before the checks that refuse it now would be).
    pub async fn token_as(&mut self, name: &'static str, agency: &str, role: Role) {
        use cohandle_store::tokens::{self as stored, Token};
        let secret = format!("{}test-{name}-{agency}", cohandle_api::auth::SECRET_PREFIX);
        let row = stored::NewToken {
            token: Token {
                id: format!("tok_test_{name}"),
                name: name.to_owned(),
                agency: agency.to_owned(),
                role: role.as_str().to_owned(),
                created_at: at("2020-01-01"),
                expires_at: None,
                revoked_at: None,
            },
            secret_hash: cohandle_api::auth::secret_hash(&secret),
        };
        stored::insert(&self.engine, row).await.unwrap();
        self.tokens.insert(name, secret);
    }

    /// Moves the clock and lets the monitor fire whatever fell due, as `serve` would.
    pub async fn advance_to(&self, moment: DateTime<Utc>) {
        self.clock.set(moment);
        cohandle_store::monitor::catch_up(&self.engine, "test", 100)
            .await
            .unwrap();
    }

    /// Sends a recorded event over HTTP as its sender, with the event's id as the key.
    pub async fn replay(&self, event: &Event) -> Answer {
        let (path, body) = http_request(event);
        let who = PARTIES
            .iter()
            .find(|(_, agency, _)| *agency == event.actor.agency.as_str())
            .map(|(name, _, _)| *name)
            .unwrap();
        self.post(who, &path, event.id.as_str(), body).await
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

/// The request that carries a recorded event: its endpoint and body (the event's content,
/// the same field names, plus `occurred_at`).
pub fn http_request(event: &Event) -> (String, Value) {
    let key = event.proposal.as_str();
    let mut data = serde_json::to_value(&event.body).unwrap()["data"].take();
    if data.is_null() {
        data = json!({});
    }
    let path = match &event.body {
        Body::Assign(_) => {
            data["key"] = json!(key);
            "/v1/proposals".to_owned()
        }
        Body::SignFor => format!("/v1/proposals/{key}/sign-for"),
        Body::Acknowledge => format!("/v1/proposals/{key}/acknowledgement"),
        Body::SubmitOpinion(_) => format!("/v1/proposals/{key}/opinion"),
        Body::RecordContact(_) => format!("/v1/proposals/{key}/contacts"),
        Body::DraftReply(_) => format!("/v1/proposals/{key}/draft"),
        Body::SignReply(_) => format!("/v1/proposals/{key}/signature"),
        Body::SendReply(_) => format!("/v1/proposals/{key}/reply"),
        Body::RecordFeedback { agency, feedback } => {
            data = serde_json::to_value(feedback).unwrap();
            format!("/v1/proposals/{key}/tasks/{agency}/feedback")
        }
        Body::RecordDisclosure(_) => format!("/v1/proposals/{key}/disclosure"),
        other => panic!("no request for {}", other.name()),
    };
    data["occurred_at"] = json!(event.occurred_at);
    (path, data)
}

/// The assignment of case 0942 under another key, with the given handlers' codes.
pub fn assignment(key: &str, day: &str) -> Value {
    json!({
        "key": key,
        "definition": "chongqing-deputy-suggestion",
        "info": {
            "kind": "deputy_suggestion",
            "number": key,
            "session": "市五届人大三次会议",
            "title": "关于对渝东南地区制造企业科学研究大力扶持的建议",
            "category": "科技",
            "lead_deputy": "郎平权",
            "submitted_on": "2020-01-12",
            "session_closed_on": "2020-01-16",
            "disclosure_consent": "full_text",
            "key_supervision": false
        },
        "mode": "lead_with_co_handlers",
        "handlers": [
            {"agency": "cq-kjj", "role": "lead"},
            {"agency": "cq-jw", "role": "co_handler"},
            {"agency": "cq-czj", "role": "co_handler"}
        ],
        "assigned_on": day,
        "occurred_at": at(day)
    })
}

/// Asserts an answer's status, showing the body when it differs.
#[track_caller]
pub fn expect(answer: &Answer, status: u16) {
    assert_eq!(
        answer.status.as_u16(),
        status,
        "unexpected answer: {}",
        answer.body
    );
}

/// A GET answered as CSV (asked with `accept`, or by the path's `format=csv`): its content
/// type and text, the byte-order mark kept.
pub async fn get_csv(
    app: &TestApp,
    who: &str,
    path: &str,
    accept: Option<&str>,
) -> (String, String) {
    let mut request = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&app.tokens[who]);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = response.bytes().await.unwrap();
    (content_type, String::from_utf8(bytes.to_vec()).unwrap())
}
