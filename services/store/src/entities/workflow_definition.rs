//! Workflow definitions deployed at run time (`cohandle workflows deploy`, and the shipped
//! ones by `migrate`): immutable versions, which every role loads without a restart.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_definitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The file's name as it was deployed.
    pub file: String,
    /// The TOML text as deployed.
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Who deployed it: an operator's name, `migrate` for the shipped definitions, or the
    /// admin token that deployed it over the API.
    pub deployed_by: String,
    pub deployed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
