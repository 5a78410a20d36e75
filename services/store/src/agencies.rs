//! The registry of agencies: each code the engine takes events from, with the kind of actor
//! it is (`assigner`, `agency`, `congress_office` or `supervisor`). Tokens are issued only to
//! registered agencies, and the bus takes events only from registered senders.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entities::agency::{self, Column, Entity};
use crate::{Engine, Error};

/// A registered agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agency {
    pub code: String,
    /// Its name for people.
    pub name: String,
    /// assigner, agency, congress_office or supervisor.
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

impl From<agency::Model> for Agency {
    fn from(row: agency::Model) -> Self {
        Self {
            code: row.code,
            name: row.name,
            kind: row.kind,
            created_at: row.created_at,
        }
    }
}

/// What registering a code that is already registered does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Its name and kind become the new ones (an operator's correction).
    Update,
    /// It stays as it is (a set-up that may run twice).
    Keep,
}

/// Registers `agency`; a code already registered is updated or kept as `known` says.
pub async fn register(
    db: &impl ConnectionTrait,
    agency: Agency,
    known: Known,
) -> Result<(), Error> {
    let row = agency::ActiveModel {
        code: Set(agency.code),
        name: Set(agency.name),
        kind: Set(agency.kind),
        created_at: Set(agency.created_at),
    };
    let on_conflict = match known {
        Known::Update => OnConflict::column(Column::Code)
            .update_columns([Column::Name, Column::Kind])
            .to_owned(),
        Known::Keep => OnConflict::column(Column::Code).do_nothing().to_owned(),
    };
    Entity::insert(row)
        .on_conflict(on_conflict)
        .do_nothing()
        .exec(db)
        .await?;
    Ok(())
}

/// [`register`] on the engine's database.
pub async fn register_with(engine: &Engine, agency: Agency, known: Known) -> Result<(), Error> {
    register(engine.db(), agency, known).await
}

/// Every registered agency, by code.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Agency>, Error> {
    Ok(Entity::find()
        .order_by_asc(Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(Agency::from)
        .collect())
}

/// The registered agencies among `codes` (read fresh on every call, so that an agency
/// registered a moment ago is known at once).
pub async fn among(engine: &Engine, codes: Vec<String>) -> Result<Vec<Agency>, Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::Code.is_in(codes))
        .all(engine.db())
        .await?
        .into_iter()
        .map(Agency::from)
        .collect())
}

/// Every registered agency, on the engine's database.
pub async fn all(engine: &Engine) -> Result<Vec<Agency>, Error> {
    list(engine.db()).await
}
