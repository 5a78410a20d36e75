//! Dead letters as the operators' work list: what a door could not take, recorded with its
//! reason, body and headers in the same step that acknowledges the delivery, listed without
//! being disturbed, and marked when a replay was decided. A copy that arrives again is the
//! same dead letter (same id), seen once more; one that arrives after its replay waits again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entities::dead_letter::{self, Column, Entity};
use crate::Error;

pub use crate::entities::dead_letter::Model as DeadLetter;

/// A dead letter as a door found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrived {
    pub id: String,
    pub code: String,
    pub reason: String,
    pub field: Option<String>,
    pub sender: Option<String>,
    pub routing_key: String,
    pub queue: String,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    /// The AMQP headers, a JSON object of strings.
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    pub event_id: Option<String>,
    pub proposal_key: Option<String>,
}

/// Records a dead letter that arrived at `now`: a new one, or one seen before (its last
/// sighting, count and reason move on; if it was replayed, it waits again).
pub async fn record(
    db: &impl ConnectionTrait,
    letter: Arrived,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = dead_letter::ActiveModel {
        id: Set(letter.id),
        code: Set(letter.code),
        reason: Set(letter.reason),
        field: Set(letter.field),
        sender: Set(letter.sender),
        routing_key: Set(letter.routing_key),
        queue: Set(letter.queue),
        content_type: Set(letter.content_type),
        message_id: Set(letter.message_id),
        headers: Set(letter.headers.to_string()),
        body: Set(letter.body),
        event_id: Set(letter.event_id),
        proposal_key: Set(letter.proposal_key),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
        times_seen: Set(1),
        replayed_at: Set(None),
        replay_outcome: Set(None),
    };
    let seen = Expr::col((Entity, Column::TimesSeen)).add(1);
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([
                    Column::Code,
                    Column::Reason,
                    Column::Field,
                    Column::LastSeenAt,
                    Column::ReplayedAt,
                    Column::ReplayOutcome,
                ])
                .value(Column::TimesSeen, seen)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub code: Option<String>,
    /// The sender.
    pub agency: Option<String>,
    pub proposal: Option<String>,
    /// Seen last at or after this moment.
    pub since: Option<DateTime<Utc>>,
    /// Also those already replayed.
    pub replayed: bool,
}

/// The dead letters `filter` selects, oldest first. Reading changes nothing.
pub async fn list(db: &impl ConnectionTrait, filter: &Filter) -> Result<Vec<DeadLetter>, Error> {
    let mut find = Entity::find()
        .order_by_asc(Column::FirstSeenAt)
        .order_by_asc(Column::Id);
    if !filter.replayed {
        find = find.filter(Column::ReplayedAt.is_null());
    }
    if let Some(code) = &filter.code {
        find = find.filter(Column::Code.eq(code.as_str()));
    }
    if let Some(agency) = &filter.agency {
        find = find.filter(Column::Sender.eq(agency.as_str()));
    }
    if let Some(proposal) = &filter.proposal {
        find = find.filter(Column::ProposalKey.eq(proposal.as_str()));
    }
    if let Some(since) = filter.since {
        find = find.filter(Column::LastSeenAt.gte(since));
    }
    Ok(find.all(db).await?)
}

/// The dead letters waiting for a replay whose id, or event id, is `id`.
pub async fn waiting(db: &impl ConnectionTrait, id: &str) -> Result<Vec<DeadLetter>, Error> {
    Ok(Entity::find()
        .filter(Column::ReplayedAt.is_null())
        .filter(
            Condition::any()
                .add(Column::Id.eq(id))
                .add(Column::EventId.eq(id)),
        )
        .order_by_asc(Column::FirstSeenAt)
        .all(db)
        .await?)
}

/// Marks a dead letter replayed: the engine decided it (`outcome` says how).
pub async fn mark_replayed(
    db: &impl ConnectionTrait,
    id: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::ReplayedAt, Expr::value(now))
        .col_expr(Column::ReplayOutcome, Expr::value(outcome))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
