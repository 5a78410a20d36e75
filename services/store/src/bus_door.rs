//! The store as the bus's door uses it, on the engine's database: the dead letters it
//! records, lists and marks replayed, and the inbox's decisions read back for replays (a
//! refused event, the replays tried since). The bus reaches no table but through here,
//! [`crate::agencies`] and [`crate::outbox_page`].

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::dead_letters::{self, Arrived, DeadLetter, Filter};
use crate::entities::inbox::{self, Column, Entity};
use crate::{Engine, Error, Source};

/// Records a dead letter (or a new sighting of one) at `now`.
pub async fn record_dead_letter(
    engine: &Engine,
    letter: Arrived,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    dead_letters::record(engine.db(), letter, now).await
}

/// The dead letters `filter` selects, oldest first; reading them changes nothing.
pub async fn dead_letters(engine: &Engine, filter: &Filter) -> Result<Vec<DeadLetter>, Error> {
    dead_letters::list(engine.db(), filter).await
}

/// The dead letters waiting for a replay under this id or event id.
pub async fn waiting(engine: &Engine, id: &str) -> Result<Vec<DeadLetter>, Error> {
    dead_letters::waiting(engine.db(), id).await
}

/// Marks a dead letter replayed at `now`, with what the replay came to.
pub async fn mark_replayed(
    engine: &Engine,
    id: &str,
    result: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    dead_letters::mark_replayed(engine.db(), id, result, now).await?;
    Ok(())
}

/// One event's decision as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub event_id: String,
    pub proposal_key: String,
    pub event_type: String,
    /// The sender the door authenticated.
    pub actor_agency: String,
    /// `applied` or `rejected`.
    pub outcome: String,
    /// The refusal's code, when refused.
    pub code: Option<String>,
    pub message: String,
    pub version: i64,
    /// The door it came through (`Source::as_str`).
    pub source: String,
    /// The event as JSON.
    pub event: String,
    pub recorded_at: DateTime<Utc>,
}

impl From<inbox::Model> for Decision {
    fn from(row: inbox::Model) -> Self {
        Self {
            event_id: row.event_id,
            proposal_key: row.proposal_key,
            event_type: row.event_type,
            actor_agency: row.actor_agency,
            outcome: row.outcome,
            code: row.code,
            message: row.message,
            version: row.version,
            source: row.source,
            event: row.event,
            recorded_at: row.recorded_at,
        }
    }
}

/// The decision on `event_id`, if it was decided.
pub async fn decision(engine: &Engine, event_id: &str) -> Result<Option<Decision>, Error> {
    Ok(Entity::find_by_id(event_id.to_owned())
        .one(engine.db())
        .await?
        .map(Decision::from))
}

/// Events a sender sent that were refused with one of `codes`, oldest first, as `filter`
/// selects them (`agency` is the sender, `since` the refusal's time; `replayed` is not
/// looked at). Replays and the monitor's own timers are left out.
pub async fn refused(
    engine: &Engine,
    codes: &[&str],
    filter: &Filter,
) -> Result<Vec<Decision>, Error> {
    let mut find = Entity::find()
        .filter(Column::Outcome.eq("rejected"))
        .filter(Column::Code.is_in(codes.iter().copied()))
        .filter(Column::Source.is_not_in([Source::Replay.as_str(), Source::Timer.as_str()]))
        .order_by_asc(Column::RecordedAt);
    if let Some(code) = &filter.code {
        find = find.filter(Column::Code.eq(code.as_str()));
    }
    if let Some(agency) = &filter.agency {
        find = find.filter(Column::ActorAgency.eq(agency.as_str()));
    }
    if let Some(proposal) = &filter.proposal {
        find = find.filter(Column::ProposalKey.eq(proposal.as_str()));
    }
    if let Some(since) = filter.since {
        find = find.filter(Column::RecordedAt.gte(since));
    }
    Ok(find
        .all(engine.db())
        .await?
        .into_iter()
        .map(Decision::from)
        .collect())
}

/// The replays decided on proposal `key`.
pub async fn replays(engine: &Engine, key: &str) -> Result<Vec<Decision>, Error> {
    Ok(Entity::find()
        .filter(Column::ProposalKey.eq(key))
        .filter(Column::Source.eq(Source::Replay.as_str()))
        .all(engine.db())
        .await?
        .into_iter()
        .map(Decision::from)
        .collect())
}
