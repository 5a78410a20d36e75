//! Durable timers: what fires, for which task and deadline, and when.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "timers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub proposal_key: String,
    pub agency: String,
    pub deadline: String,
    /// reminder or expiry.
    pub kind: String,
    pub due_on: Date,
    pub generation: i32,
    pub fire_at: DateTimeUtc,
    /// pending, fired or cancelled.
    pub state: String,
    /// The monitor that fired it, and when.
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTimeUtc>,
    pub fired_at: Option<DateTimeUtc>,
    pub late: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
