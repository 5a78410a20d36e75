//! Every event id the engine has decided, with its outcome: the idempotency record.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub proposal_key: String,
    pub event_type: String,
    pub actor_agency: String,
    /// applied or rejected.
    pub outcome: String,
    pub code: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// The proposal's version after the event (applied) or when it was refused.
    pub version: i64,
    /// bus, api, timer, cli, replay.
    pub source: String,
    /// The event itself, so a refused one can be looked at and replayed.
    #[sea_orm(column_type = "Text")]
    pub event: String,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
