//! Holiday files loaded with `cohandle calendar correct`: every role counts working days over
//! the shipped arrangement corrected by these, in the order they were loaded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The file's name as the operator gave it.
    pub name: String,
    /// SHA-256 of the content, hex: loading the same file again is a no-op.
    #[sea_orm(unique)]
    pub sha256: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// The contradictions of the statutory holidays the file was forced past, one a line.
    #[sea_orm(column_type = "Text", nullable)]
    pub forced: Option<String>,
    pub loaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
