//! The access audit: who read or wrote what, when, with which outcome. The HTTP door
//! records every request; `cohandle audit search` reads them back.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::NotSet;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::access_audit;
use crate::handle::{connection, Handle};
use crate::Error;

/// One request, as recorded.
pub type Entry = access_audit::Model;

/// One request as a JSON object, as the log line and `cohandle audit search` print it.
pub fn as_json(entry: &Entry) -> serde_json::Value {
    serde_json::json!({
        "at": entry.at,
        "token_id": entry.token_id,
        "agency": entry.agency,
        "role": entry.role,
        "method": entry.method,
        "route": entry.route,
        "proposal": entry.proposal_key,
        "status": entry.status,
        "code": entry.code,
        "latency_us": entry.latency_us,
    })
}

/// Keeps one request.
pub async fn record(store: &impl Handle, entry: Entry) -> Result<(), Error> {
    let mut row = entry.into_active_model();
    row.id = NotSet;
    access_audit::Entity::insert(row)
        .exec(connection(store))
        .await?;
    Ok(())
}

/// What to look for; every field given narrows the search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub agency: Option<String>,
    pub token_id: Option<String>,
    pub role: Option<String>,
    pub proposal_key: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only refused requests (status 400 and above).
    pub refused: bool,
    pub limit: u64,
}

/// The requests that match, oldest first.
pub async fn search(store: &impl Handle, search: &Search) -> Result<Vec<Entry>, Error> {
    use access_audit::Column;
    let mut find = access_audit::Entity::find()
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .limit(search.limit);
    if let Some(agency) = &search.agency {
        find = find.filter(Column::Agency.eq(agency.as_str()));
    }
    if let Some(token) = &search.token_id {
        find = find.filter(Column::TokenId.eq(token.as_str()));
    }
    if let Some(role) = &search.role {
        find = find.filter(Column::Role.eq(role.as_str()));
    }
    if let Some(key) = &search.proposal_key {
        find = find.filter(Column::ProposalKey.eq(key.as_str()));
    }
    if let Some(since) = search.since {
        find = find.filter(Column::At.gte(since));
    }
    if let Some(until) = search.until {
        find = find.filter(Column::At.lt(until));
    }
    if search.refused {
        find = find.filter(Column::Status.gte(400));
    }
    Ok(find.all(connection(store)).await?)
}
