//! The append-only history: one row per state change, chained by hash per proposal.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub proposal_key: String,
    /// 1, 2, 3, … within the proposal; unique with it.
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub machine: String,
    pub agency: Option<String>,
    pub from_state: String,
    pub to_state: String,
    pub actor_agency: String,
    pub actor_role: String,
    pub occurred_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
    pub definition_version: i32,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// What the change did beyond its states, e.g. "reply deadline moved from … to …".
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
