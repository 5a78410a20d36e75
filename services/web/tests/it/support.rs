//! `spawn_app`: each test gets its own PostgreSQL database (or SQLite file), a server on port 0 with the API
//! and the workbench, a token per party of case 0942, and case 0942's assignment under the
//! key [`KEY`], made on 2020-01-20 with the clock on 2020-02-26 (so the co-handlers'
//! opinions, due 2020-02-20, are overdue).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_api::dto::AssignRequest;
use cohandle_api::tokens::{self, NewToken};
use cohandle_api::{Command, Principal, Role, Service};
use cohandle_store::{connect, queries, Engine, ManualClock};
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::{AgencyCode, Calendar, Catalog, EventId, ProposalKey};
use reqwest::redirect::Policy;
use serde_json::json;

pub const KEY: &str = "cq-5-3-0942";

/// The parties: name → (agency, role).
pub const PARTIES: &[(&str, &str, Role)] = &[
    ("assigner", "cq-zfbgt", Role::Assigner),
    ("lead", "cq-kjj", Role::Agency),
    ("jw", "cq-jw", Role::Agency),
    ("czj", "cq-czj", Role::Agency),
    ("congress", "cq-rdgw", Role::CongressOffice),
    ("supervisor", "cq-dc", Role::Supervisor),
    ("admin", "cq-admin", Role::Admin),
];

pub use cohandle_testkit::{Backend, TestDb};

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

pub struct TestApp {
    pub address: String,
    pub engine: Engine,
    pub secrets: BTreeMap<&'static str, String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The assignment of case 0942: cq-kjj leads, cq-jw and cq-czj co-handle.
pub fn assignment(key: &str, day: &str) -> AssignRequest {
    serde_json::from_value(json!({
        "key": key,
        "definition": "chongqing-deputy-suggestion",
        "info": {
            "kind": "deputy_suggestion",
            "number": "第0942号",
            "session": "市五届人大三次会议",
            "title": "关于对渝东南地区制造企业科学研究大力扶持的建议",
            "category": "科技",
            "lead_deputy": "郎平权",
            "submitted_on": "2020-01-12",
            "session_closed_on": "2020-01-16",
            "disclosure_consent": "full_text",
            "key_supervision": true
        },
        "mode": "lead_with_co_handlers",
        "handlers": [
            {"agency": "cq-kjj", "role": "lead"},
            {"agency": "cq-jw", "role": "co_handler"},
            {"agency": "cq-czj", "role": "co_handler"}
        ],
        "assigned_on": day,
        "occurred_at": at(day)
    }))
    .unwrap()
}

/// A server over PostgreSQL.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Postgres).await
}

pub async fn spawn_app_on(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    let conn = connect::connect_and_migrate(&db.url).await.unwrap();
    let clock = Arc::new(ManualClock::new(at("2020-01-20")));
    let engine = Engine::new(
        conn,
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
        clock.clone(),
    );
    let mut secrets = BTreeMap::new();
    for (_, agency, role) in PARTIES {
        // Tokens are issued only to registered agencies of the role's kind.
        cohandle_testkit::agencies::register(&engine, agency, role.kind().unwrap_or("supervisor"))
            .await;
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
    let service = Service::new(engine.clone());
    let assigner = Principal::in_process(AgencyCode::parse("cq-zfbgt").unwrap(), Role::Assigner)
        .serving(vec![cohandle_testkit::agencies::JURISDICTION.to_owned()]);
    let request = assignment(KEY, "2020-01-20");
    let command = Command {
        id: EventId::parse("assign-0942").unwrap(),
        proposal: ProposalKey::parse(KEY).unwrap(),
        occurred_at: request.occurred_at,
        body: request.into_body(),
    };
    service.submit(&assigner, command).await.unwrap();
    clock.set(at("2020-02-26"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(cohandle_web::serve(listener, service, async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        engine,
        secrets,
        stop: Some(stop),
        _db: db,
    }
}

/// A browser-like client: keeps cookies, follows no redirect (the tests look at them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of the field `name` in the first form of `html` that contains `marker`
/// (e.g. `data-step="acknowledge"`), or in the whole page when `marker` is empty.
pub fn field(html: &str, marker: &str, name: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let form = &html[html[..start].rfind("<form").unwrap_or(0)..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let attr = format!("name=\"{name}\" value=\"");
    let at = form
        .find(&attr)
        .unwrap_or_else(|| panic!("no field {name} in {form}"))
        + attr.len();
    form[at..at + form[at..].find('"').unwrap()].to_owned()
}

/// An answer read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

pub async fn read(response: reqwest::Response) -> Page {
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> Page {
        read(client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn post(&self, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Page {
        read(client.post(self.url(path)).form(form).send().await.unwrap()).await
    }

    /// A client signed in as `who`.
    pub async fn signed_in(&self, who: &str) -> reqwest::Client {
        let client = browser();
        let form = self.get(&client, "/signin").await;
        let csrf = field(&form.text, "action=\"/signin\"", "csrf");
        let answer = self
            .post(
                &client,
                "/signin",
                &[("token", &self.secrets[who]), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(answer.status, 303, "{}", answer.text);
        client
    }

    /// Takes `step` on the task page at `path` through its form, as a browser would, and
    /// expects it accepted.
    pub async fn take(
        &self,
        client: &reqwest::Client,
        path: &str,
        step: &str,
        fields: &[(&str, &str)],
    ) {
        let page = self.get(client, path).await;
        let marker = format!("data-step=\"{step}\"");
        let csrf = field(&page.text, &marker, "csrf");
        let key = field(&page.text, &marker, "idempotency_key");
        let mut form = vec![("csrf", csrf.as_str()), ("idempotency_key", key.as_str())];
        form.extend_from_slice(fields);
        let answer = self
            .post(client, &format!("{path}/steps/{step}"), &form)
            .await;
        assert_eq!(answer.status, 303, "{step}: {}", answer.text);
    }

    /// How many events the inbox holds (accepted and refused).
    pub async fn inbox(&self) -> u64 {
        queries::events_decided(&self.engine).await.unwrap()
    }

    /// The state of `agency`'s task in the proposal.
    pub async fn task_state(&self, agency: &str) -> String {
        let (proposal, _) = self.engine.load(KEY).await.unwrap().unwrap();
        proposal
            .task(&AgencyCode::parse(agency).unwrap())
            .unwrap()
            .state
            .clone()
    }
}
