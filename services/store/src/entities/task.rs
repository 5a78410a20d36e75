//! One row per task (an agency's part in a proposal), rewritten with its proposal.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_key: String,
    /// Position of the task in its proposal (re-assignment adds one).
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub agency: String,
    pub role: String,
    pub state: String,
    pub active: bool,
    pub terminal: bool,
    pub due_on: Option<Date>,
    pub due_deadline: Option<String>,
    pub session: String,
    pub kind: String,
    pub key_supervision: bool,
    /// The proposal's jurisdiction, so that a supervisor's deadline list needs no join.
    #[sea_orm(default_value = "")]
    pub jurisdiction: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
