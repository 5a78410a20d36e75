//! Reads for what checks the engine from outside — integration tests, the benchmark, the
//! fault campaign's audit — on the engine's database: every history row, every decision,
//! how many rows each table holds. Nothing that serves users calls these.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::bus_door::Decision;
use crate::entities::{history, inbox, outbox};
use crate::history::Verification;
use crate::{Engine, Error};

/// One history row, without its times and hashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HistoryRow {
    pub proposal_key: String,
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    /// `proposal`, `lead`, `co_handler` …
    pub machine: String,
    pub agency: Option<String>,
    pub from_state: String,
    pub to_state: String,
    pub actor_agency: String,
}

/// Every history row (or one proposal's), by proposal and sequence.
pub async fn history(engine: &Engine, proposal: Option<&str>) -> Result<Vec<HistoryRow>, Error> {
    let mut query = history::Entity::find()
        .order_by_asc(history::Column::ProposalKey)
        .order_by_asc(history::Column::Seq);
    if let Some(key) = proposal {
        query = query.filter(history::Column::ProposalKey.eq(key));
    }
    Ok(query
        .all(engine.db())
        .await?
        .into_iter()
        .map(|h| HistoryRow {
            proposal_key: h.proposal_key,
            seq: h.seq,
            event_id: h.event_id,
            event_type: h.event_type,
            machine: h.machine,
            agency: h.agency,
            from_state: h.from_state,
            to_state: h.to_state,
            actor_agency: h.actor_agency,
        })
        .collect())
}

/// Every decision the inbox holds, oldest first.
pub async fn decisions(engine: &Engine) -> Result<Vec<Decision>, Error> {
    Ok(inbox::Entity::find()
        .order_by_asc(inbox::Column::RecordedAt)
        .all(engine.db())
        .await?
        .into_iter()
        .map(Decision::from)
        .collect())
}

/// How many rows the tables of the one path hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub decisions: u64,
    pub applied: u64,
    pub history: u64,
    pub outbox: u64,
    pub outbox_unsent: u64,
}

pub async fn counts(engine: &Engine) -> Result<Counts, Error> {
    let db = engine.db();
    Ok(Counts {
        decisions: inbox::Entity::find().count(db).await?,
        applied: inbox::Entity::find()
            .filter(inbox::Column::Outcome.eq("applied"))
            .count(db)
            .await?,
        history: history::Entity::find().count(db).await?,
        outbox: outbox::Entity::find().count(db).await?,
        outbox_unsent: outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .count(db)
            .await?,
    })
}

/// [`crate::history::verify`] on the engine's database.
pub async fn verify_history(
    engine: &Engine,
    proposal: Option<&str>,
) -> Result<Verification, Error> {
    crate::history::verify(engine.db(), proposal).await
}
