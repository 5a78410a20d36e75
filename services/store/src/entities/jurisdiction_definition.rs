//! The workflow definitions a jurisdiction may assign under, by name (every version).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jurisdiction_definitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jurisdiction: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub definition: String,
    pub allowed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
