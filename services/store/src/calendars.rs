//! The holiday files an operator loaded (`cohandle calendar correct`), kept in the database so
//! that every role counts working days with them, without a restart: an engine looks for a
//! newer file at most every [`REFRESH`] and rebuilds its calendar from its base (the shipped
//! arrangement, and `calendar.corrections` when set) and every loaded file in order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cohandle_workflows::Calendar;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};

use crate::entities::calendar_file;
use crate::Error;

/// How often an engine looks for a newly loaded holiday file.
pub const REFRESH: Duration = Duration::from_secs(30);

/// A loaded holiday file, as `cohandle calendar status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub id: i64,
    pub name: String,
    pub sha256: String,
    pub years: (i32, i32),
    pub forced: Vec<String>,
    pub loaded_at: DateTime<Utc>,
}

/// The SHA-256 of a file's content, hex.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Keeps a checked holiday file; the same content again is a no-op (returns `false`).
/// `forced` lists the contradictions of the statutory holidays it was taken with.
pub async fn record(
    db: &impl ConnectionTrait,
    name: &str,
    text: &str,
    forced: &[String],
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let sha256 = digest(text);
    let known = calendar_file::Entity::find()
        .filter(calendar_file::Column::Sha256.eq(sha256.clone()))
        .one(db)
        .await?;
    if known.is_some() {
        return Ok(false);
    }
    calendar_file::Entity::insert(calendar_file::ActiveModel {
        name: Set(name.to_owned()),
        sha256: Set(sha256),
        content: Set(text.to_owned()),
        forced: Set((!forced.is_empty()).then(|| forced.join("\n"))),
        loaded_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(true)
}

/// The id of the newest loaded file (0 when none): what an engine compares to see whether
/// its calendar is current.
pub async fn newest(db: &impl ConnectionTrait) -> Result<i64, Error> {
    let id: Option<i64> = calendar_file::Entity::find()
        .select_only()
        .column_as(calendar_file::Column::Id.max(), "id")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(id.unwrap_or(0))
}

/// `base` corrected by every loaded file, in the order they were loaded, and the newest id.
pub async fn build(db: &impl ConnectionTrait, base: &Calendar) -> Result<(Calendar, i64), Error> {
    let mut calendar = base.clone();
    let mut newest = 0;
    for file in files(db).await? {
        calendar = calendar
            .corrected_by(&parse(&file)?.calendar)
            .map_err(|e| Error::Corrupt(format!("holiday file {}: {e}", file.name)))?;
        newest = file.id;
    }
    Ok((calendar, newest))
}

/// Every loaded file, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Loaded>, Error> {
    files(db)
        .await?
        .into_iter()
        .map(|file| {
            let parsed = parse(&file)?;
            Ok(Loaded {
                id: file.id,
                name: file.name,
                sha256: file.sha256,
                years: parsed.calendar.years(),
                forced: parsed.overridden,
                loaded_at: file.loaded_at,
            })
        })
        .collect()
}

async fn files(db: &impl ConnectionTrait) -> Result<Vec<calendar_file::Model>, Error> {
    Ok(calendar_file::Entity::find()
        .order_by_asc(calendar_file::Column::Id)
        .all(db)
        .await?)
}

/// A stored file was checked when it was loaded (and forced past the statutory rules only
/// by the operator's choice, which is kept), so it is read back forced.
fn parse(file: &calendar_file::Model) -> Result<cohandle_workflows::calendar::YearFile, Error> {
    Calendar::year_file(&file.name, &file.content, true)
        .map_err(|e| Error::Corrupt(format!("holiday file {}: {e}", file.name)))
}
