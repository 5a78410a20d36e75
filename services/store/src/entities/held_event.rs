//! Events held with their proposal because an earlier step they depend on has not arrived:
//! tried again whenever the proposal changes, refused when their window ends. A row lives
//! from the event's arrival until its final outcome replaces `held` in the inbox.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_events")]
pub struct Model {
    /// Arrival order: held events are tried again in it.
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub event_id: String,
    pub proposal_key: String,
    pub event_type: String,
    pub actor_agency: String,
    /// The door it came through (bus, api).
    pub source: String,
    /// Why it does not fit yet: the refusal it would get now (`unknown_proposal`,
    /// `wrong_state`, `guard_failed`).
    pub code: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// The event itself, as the inbox keeps it.
    #[sea_orm(column_type = "Text")]
    pub event: String,
    pub held_at: DateTimeUtc,
    /// When the window ends: a held event that still does not fit then is refused.
    pub held_until: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
