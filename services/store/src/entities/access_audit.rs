//! The access audit (等保 2.0): one row per HTTP request, read or write, kept for auditors.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_audit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When the request arrived.
    pub at: DateTimeUtc,
    /// The bearer token's id; none for a request without a valid token.
    pub token_id: Option<String>,
    pub agency: Option<String>,
    pub role: Option<String>,
    pub method: String,
    /// The route template (`/v1/proposals/{key}`), or the raw path when none matched.
    #[sea_orm(column_type = "Text")]
    pub route: String,
    /// The proposal the request named, in its path or (an assignment) its `Location`.
    pub proposal_key: Option<String>,
    pub status: i32,
    /// The problem's `code` of a refused request.
    pub code: Option<String>,
    /// From the request's arrival to its answer, in microseconds.
    pub latency_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
