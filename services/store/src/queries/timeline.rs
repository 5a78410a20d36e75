//! A proposal's history: its whole timeline, and the changes one event made.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::history::{self, Column};
use crate::handle::{connection, Handle};
use crate::Error;

/// One state change of a proposal's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub proposal_key: String,
    /// Its place in the proposal's history: 1, 2, 3 …
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    /// `proposal`, or the task's machine.
    pub machine: String,
    /// The task's agency; `None` for the proposal's own changes.
    pub agency: Option<String>,
    pub from_state: String,
    pub to_state: String,
    pub actor_agency: String,
    pub actor_role: String,
    /// The time the sender gives for the event.
    pub occurred_at: DateTime<Utc>,
    /// When the engine recorded the step.
    pub recorded_at: DateTime<Utc>,
    pub definition_version: i32,
    /// The event's content, as JSON.
    pub payload: String,
    pub detail: Option<String>,
}

impl From<history::Model> for HistoryRow {
    fn from(h: history::Model) -> Self {
        Self {
            proposal_key: h.proposal_key,
            seq: h.seq,
            event_id: h.event_id,
            event_type: h.event_type,
            machine: h.machine,
            agency: h.agency,
            from_state: h.from_state,
            to_state: h.to_state,
            actor_agency: h.actor_agency,
            actor_role: h.actor_role,
            occurred_at: h.occurred_at,
            recorded_at: h.recorded_at,
            definition_version: h.definition_version,
            payload: h.payload,
            detail: h.detail,
        }
    }
}

/// Every history row of a proposal, in order.
pub async fn timeline(store: &impl Handle, key: &str) -> Result<Vec<HistoryRow>, Error> {
    let rows = history::Entity::find()
        .filter(Column::ProposalKey.eq(key))
        .order_by_asc(Column::Seq)
        .all(connection(store))
        .await?;
    Ok(rows.into_iter().map(HistoryRow::from).collect())
}

/// The changes one event made to a proposal, in order.
pub async fn event_changes(
    store: &impl Handle,
    key: &str,
    event_id: &str,
) -> Result<Vec<HistoryRow>, Error> {
    let rows = history::Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::ProposalKey.eq(key))
        .order_by_asc(Column::Seq)
        .all(connection(store))
        .await?;
    Ok(rows.into_iter().map(HistoryRow::from).collect())
}

/// The proposal's own state as of history row `seq`; `None` before its first change.
pub async fn state_after(
    store: &impl Handle,
    key: &str,
    seq: i64,
) -> Result<Option<String>, Error> {
    Ok(history::Entity::find()
        .filter(Column::ProposalKey.eq(key))
        .filter(Column::Machine.eq("proposal"))
        .filter(Column::Seq.lte(seq))
        .order_by_desc(Column::Seq)
        .one(connection(store))
        .await?
        .map(|h| h.to_state))
}
