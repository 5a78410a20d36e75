//! What waits, as the roles' gauges show it: the outbox rows not yet published and the age
//! of the oldest, the due timers not yet fired; and whether the database answers at all.
//! Each is one indexed read (`outbox_unsent`, `timers_due`), cheap enough for every scrape.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{outbox, timer};
use crate::{Engine, Error};

/// The outbox rows waiting to be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub rows: u64,
    /// When the oldest of them was written; `None` when nothing waits.
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox backlog.
pub async fn outbox(engine: &Engine) -> Result<Backlog, Error> {
    let db = engine.db();
    let unsent = || outbox::Entity::find().filter(outbox::Column::SentAt.is_null());
    let rows = unsent().count(db).await?;
    let oldest = unsent()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .order_by_asc(outbox::Column::Id)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?;
    Ok(Backlog { rows, oldest })
}

/// Timers pending whose moment has come (by the engine's clock).
pub async fn timers_due(engine: &Engine) -> Result<u64, Error> {
    Ok(timer::Entity::find()
        .filter(timer::Column::State.eq("pending"))
        .filter(timer::Column::FireAt.lte(engine.clock().now()))
        .count(engine.db())
        .await?)
}

/// Whether the database answers (readiness).
pub async fn ping(engine: &Engine) -> Result<(), Error> {
    Ok(engine.db().ping().await?)
}
