//! One row per reply sent (答复函), for the statistics.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "replies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    /// 1 for the first reply, 2 after re-handling, …
    #[sea_orm(primary_key, auto_increment = false)]
    pub round: i32,
    pub document_number: String,
    pub result_class: String,
    pub signer: String,
    pub signed_on: Date,
    /// The date the letter declares it was sent: the agency's claim.
    pub sent_on: Date,
    /// The date (in China) the engine recorded the reply on, which decides `on_time`;
    /// unknown for replies recorded before it was kept.
    pub recorded_on: Option<Date>,
    pub due_on: Option<Date>,
    /// Recorded by the due date (`recorded_on <= due_on`), whatever `sent_on` says.
    pub on_time: bool,
    pub met_deputy: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
