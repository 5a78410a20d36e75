//! One row per co-handler's opinion (协办意见), for the statistics: when it was recorded and
//! whether by its due date.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "opinions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    /// The date (in China) the engine recorded the opinion on.
    pub recorded_on: Date,
    /// The co-handler's opinion deadline then, if it had one.
    pub due_on: Option<Date>,
    /// Recorded by the due date (or with no deadline to meet).
    pub on_time: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
