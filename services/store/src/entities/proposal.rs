//! One row per proposal: its whole domain state as a JSON document, with the columns the
//! supervisors' queries filter on, and the version for optimistic concurrency.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub definition_name: String,
    pub definition_version: i32,
    /// The jurisdiction the key belongs to (see `jurisdictions`); empty for a proposal
    /// assigned before its jurisdiction was registered.
    #[sea_orm(default_value = "")]
    pub jurisdiction: String,
    pub kind: String,
    pub number: String,
    pub session: String,
    pub title: String,
    /// The lead deputy's (or member's) and the co-signers' names, for the search by person
    /// (a plain `LIKE`, no document to parse); empty before it was kept.
    #[sea_orm(column_type = "Text", default_value = "")]
    pub people: String,
    pub assigner: String,
    pub mode: String,
    pub state: String,
    pub key_supervision: bool,
    pub assigned_on: Date,
    /// The earliest running obligation of any active task.
    pub due_on: Option<Date>,
    /// Bumped by every accepted event; an update names the version it read.
    pub version: i64,
    #[sea_orm(column_type = "Text")]
    pub document: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The last history row's sequence number and hash, so that appending needs no lookup.
    pub history_seq: i64,
    pub history_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
