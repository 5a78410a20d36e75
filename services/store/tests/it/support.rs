//! Each test gets its own database: a fresh PostgreSQL database, or a fresh SQLite file.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_store::ManualClock;
use cohandle_workflows::engine::china_offset;
use cohandle_workflows::event::{Assignment, Handler};
use cohandle_workflows::model::{
    AssignmentMode, DisclosureConsent, ProposalInfo, ProposalKind, TaskRole,
};
use cohandle_workflows::{Actor, ActorKind, AgencyCode, Body, Event, EventId, ProposalKey};

pub use cohandle_testkit::{Backend, TestDb, BACKENDS};

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
