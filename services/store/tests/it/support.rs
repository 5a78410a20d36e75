//! Each test gets its own database: a fresh PostgreSQL database, or a fresh SQLite file.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_store::{connect, Engine, ManualClock};
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::event::{Assignment, Handler};
use cohandle_workflows::model::{
    AssignmentMode, DisclosureConsent, ProposalInfo, ProposalKind, TaskRole,
};
use cohandle_workflows::{
    Actor, ActorKind, AgencyCode, Body, Calendar, Catalog, Event, EventId, ProposalKey,
};
use sea_orm::{ConnectionTrait, Database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The server the PostgreSQL tests use; `deploy/dev/ensure-postgres.sh` starts it.
pub fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database of its own for one test, dropped (PostgreSQL) or deleted (SQLite) after it.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let name = format!("cohandle_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = Database::connect(format!("{}/postgres", postgres_server()))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = format!("{}/{name}", postgres_server());
                Self {
                    url,
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }

    pub async fn engine(&self, clock: Arc<ManualClock>) -> Engine {
        let db = connect::connect_and_migrate(&self.url).await.unwrap();
        Engine::new(
            db,
            Arc::new(Catalog::shipped()),
            Arc::new(Calendar::china_official()),
            clock,
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Postgres {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let server = postgres_server();
            // Dropping from a fresh runtime on another thread: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
                        let _ = admin.execute_unprepared(&sql).await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn at(day: &str) -> DateTime<Utc> {
    china_offset()
        .from_local_datetime(&date(day).and_hms_opt(10, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub fn clock(day: &str) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(day)))
}

pub fn code(s: &str) -> AgencyCode {
    AgencyCode::parse(s).unwrap()
}

pub fn agency(s: &str) -> Actor {
    Actor {
        agency: code(s),
        kind: ActorKind::Agency,
    }
}

pub fn assigner() -> Actor {
    Actor {
        agency: code("cq-zfbgt"),
        kind: ActorKind::Assigner,
    }
}

pub fn event(id: &str, key: &str, actor: Actor, day: &str, body: Body) -> Event {
    Event {
        id: EventId::parse(id).unwrap(),
        proposal: ProposalKey::parse(key).unwrap(),
        actor,
        occurred_at: at(day),
        body,
    }
}

pub fn assign(id: &str, key: &str, day: &str) -> Event {
    let body = Body::Assign(Assignment {
        definition: "chongqing-deputy-suggestion".into(),
        info: ProposalInfo {
            kind: ProposalKind::DeputySuggestion,
            number: "0942".into(),
            session: "市五届人大三次会议".into(),
            title: "关于对渝东南地区制造企业科学研究大力扶持的建议".into(),
            category: "科技".into(),
            lead_deputy: "郎平权".into(),
            co_signers: vec![],
            submitted_on: date("2020-01-12"),
            session_closed_on: None,
            disclosure_consent: DisclosureConsent::FullText,
            key_supervision: false,
        },
        mode: AssignmentMode::LeadWithCoHandlers,
        handlers: vec![
            Handler {
                agency: code("cq-kjj"),
                role: TaskRole::Lead,
            },
            Handler {
                agency: code("cq-jw"),
                role: TaskRole::CoHandler,
            },
            Handler {
                agency: code("cq-czj"),
                role: TaskRole::CoHandler,
            },
        ],
        assigned_on: date(day),
    });
    event(id, key, assigner(), day, body)
}
