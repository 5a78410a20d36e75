//! Jurisdictions: a congress or CPPCC of one level (the NPC, a municipality's congress, a
//! district's CPPCC …) that assigns proposals under its own rules and is watched by its own
//! supervisors. Levels nest through `parent`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jurisdictions")]
pub struct Model {
    /// The code, also the prefix of its proposals' keys (`<code>-…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    /// The jurisdiction whose supervisors also oversee this one.
    pub parent: Option<String>,
    /// national, provincial, municipal, district, county … (for people; rules do not read it).
    pub level: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
