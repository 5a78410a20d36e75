//! The store as the operator's command line (`cohandle`) uses it, on the engine's
//! database: a proposal's timeline and deadlines for the demo, the statistics, and the
//! holiday files loaded at run time. Plain types, never the tables' rows.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::timer;
use crate::queries::{self, Statistics};
use crate::{calendars, Engine, Error};

/// One step of a proposal's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub event_type: String,
    /// The task's agency, or none for the proposal itself.
    pub agency: Option<String>,
    pub from_state: String,
    pub to_state: String,
    pub actor_agency: String,
    pub actor_role: String,
}

/// A proposal's history, in order.
pub async fn timeline(engine: &Engine, key: &str) -> Result<Vec<Step>, Error> {
    Ok(queries::timeline(engine.db(), key)
        .await?
        .into_iter()
        .map(|row| Step {
            seq: row.seq,
            occurred_at: row.occurred_at,
            event_type: row.event_type,
            agency: row.agency,
            from_state: row.from_state,
            to_state: row.to_state,
            actor_agency: row.actor_agency,
            actor_role: row.actor_role,
        })
        .collect())
}

/// A deadline of a proposal (its expiry timer) and how it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub agency: String,
    /// `reply`, `co_handler_opinion`, `dispute_window` …
    pub deadline: String,
    pub due_on: NaiveDate,
    /// `pending`, `claimed`, `fired` or `cancelled`.
    pub state: String,
}

/// The deadlines of proposal `key`, earliest first.
pub async fn deadlines(engine: &Engine, key: &str) -> Result<Vec<Deadline>, Error> {
    Ok(timer::Entity::find()
        .filter(timer::Column::ProposalKey.eq(key))
        .filter(timer::Column::Kind.eq("expiry"))
        .order_by_asc(timer::Column::DueOn)
        .all(engine.db())
        .await?
        .into_iter()
        .map(|t| Deadline {
            agency: t.agency,
            deadline: t.deadline,
            due_on: t.due_on,
            state: t.state,
        })
        .collect())
}

/// The statistics over every agency, or one.
pub async fn statistics(engine: &Engine, agency: Option<&str>) -> Result<Statistics, Error> {
    queries::statistics(engine.db(), agency).await
}

/// Keeps a holiday file in the database (see [`calendars::record`]); false when it was
/// loaded before.
pub async fn record_calendar(
    engine: &Engine,
    name: &str,
    text: &str,
    forced: &[String],
) -> Result<bool, Error> {
    calendars::record(engine.db(), name, text, forced, engine.clock().now()).await
}

/// The holiday files loaded at run time.
pub async fn loaded_calendars(engine: &Engine) -> Result<Vec<calendars::Loaded>, Error> {
    calendars::list(engine.db()).await
}
