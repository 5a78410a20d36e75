//! One row per published reply (公开).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disclosures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    pub index_number: String,
    pub topic: String,
    pub scope: String,
    pub withheld_reason: Option<String>,
    pub written_on: Date,
    pub published_on: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
