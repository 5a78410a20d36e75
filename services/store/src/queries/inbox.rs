//! The inbox, counted: every event the engine decided, applied or refused, is one row, so a
//! request that never reached the engine leaves the count as it was.

use sea_orm::{EntityTrait, PaginatorTrait};

use crate::entities::inbox;
use crate::handle::{connection, Handle};
use crate::Error;

/// How many events the engine has decided.
pub async fn events_decided(store: &impl Handle) -> Result<u64, Error> {
    Ok(inbox::Entity::find().count(connection(store)).await?)
}
