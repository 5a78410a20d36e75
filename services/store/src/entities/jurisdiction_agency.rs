//! Which agencies serve which jurisdictions: an assigner assigns, a supervisor watches and a
//! congress office relays within the jurisdictions it belongs to (and, for a supervisor,
//! those below them). An agency may serve several jurisdictions of its level.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jurisdiction_agencies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jurisdiction: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    pub joined_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
