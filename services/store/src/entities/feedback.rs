//! One row per feedback receipt (回执).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub round: i32,
    pub satisfaction: String,
    pub received_on: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
