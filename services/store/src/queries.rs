//! The supervisors' reads: lists with filters and cursors, one proposal's timeline,
//! upcoming and overdue deadlines, statistics. Reads only; nothing here writes.

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::entities::{history, proposal, task};
use crate::Error;

/// Filters for the proposal list; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    pub state: Option<String>,
    /// Only proposals in which this agency has an active task.
    pub agency: Option<String>,
    pub session: Option<String>,
    pub kind: Option<String>,
    pub due_before: Option<NaiveDate>,
    /// Only proposals with a running obligation past due on `today`.
    pub overdue_on: Option<NaiveDate>,
    pub key_supervision: Option<bool>,
}

/// One page of a list; `next` is the cursor for the page after it.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Lists proposals ordered by key, after the `after` cursor.
pub async fn list_proposals(
    db: &DatabaseConnection,
    filter: &ProposalFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<proposal::Model>, Error> {
    let mut query = proposal::Entity::find()
        .order_by_asc(proposal::Column::Key)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(proposal::Column::Key.gt(after));
    }
    if let Some(state) = &filter.state {
        query = query.filter(proposal::Column::State.eq(state.as_str()));
    }
    if let Some(session) = &filter.session {
        query = query.filter(proposal::Column::Session.eq(session.as_str()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(proposal::Column::Kind.eq(kind.as_str()));
    }
    if let Some(before) = filter.due_before {
        query = query.filter(proposal::Column::DueOn.lt(before));
    }
    if let Some(today) = filter.overdue_on {
        query = query.filter(proposal::Column::DueOn.lt(today));
    }
    if let Some(flag) = filter.key_supervision {
        query = query.filter(proposal::Column::KeySupervision.eq(flag));
    }
    if let Some(agency) = &filter.agency {
        let mut tasks_of = Query::select();
        tasks_of
            .column(task::Column::ProposalKey)
            .from(task::Entity)
            .and_where(Expr::col(task::Column::Agency).eq(agency.as_str()))
            .and_where(Expr::col(task::Column::Active).eq(true));
        query = query.filter(Condition::all().add(proposal::Column::Key.in_subquery(tasks_of)));
    }
    let mut items = query.all(db).await?;
    let next = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|p| p.key.clone())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The tasks of one proposal.
pub async fn tasks_of(db: &DatabaseConnection, key: &str) -> Result<Vec<task::Model>, Error> {
    Ok(task::Entity::find()
        .filter(task::Column::ProposalKey.eq(key))
        .order_by_asc(task::Column::Position)
        .all(db)
        .await?)
}

/// An agency's active tasks, ordered by proposal key, after the cursor.
pub async fn tasks_of_agency(
    db: &DatabaseConnection,
    agency: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<task::Model>, Error> {
    let mut query = task::Entity::find()
        .filter(task::Column::Agency.eq(agency))
        .filter(task::Column::Active.eq(true))
        .order_by_asc(task::Column::ProposalKey)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(task::Column::ProposalKey.gt(after));
    }
    let mut items = query.all(db).await?;
    let next = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|t| t.proposal_key.clone())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Every history row of a proposal, in order.
pub async fn timeline(db: &DatabaseConnection, key: &str) -> Result<Vec<history::Model>, Error> {
    Ok(history::Entity::find()
        .filter(history::Column::ProposalKey.eq(key))
        .order_by_asc(history::Column::Seq)
        .all(db)
        .await?)
}

/// Open tasks whose obligation falls due before `until` (overdue ones included), earliest first.
pub async fn deadlines(
    db: &DatabaseConnection,
    until: NaiveDate,
    agency: Option<&str>,
    limit: u64,
) -> Result<Vec<task::Model>, Error> {
    let mut query = task::Entity::find()
        .filter(task::Column::Active.eq(true))
        .filter(task::Column::Terminal.eq(false))
        .filter(task::Column::DueOn.is_not_null())
        .filter(task::Column::DueOn.lte(until))
        .order_by_asc(task::Column::DueOn)
        .order_by_asc(task::Column::ProposalKey)
        .limit(limit);
    if let Some(agency) = agency {
        query = query.filter(task::Column::Agency.eq(agency));
    }
    Ok(query.all(db).await?)
}

pub use crate::statistics::Statistics;

/// Statistics over every agency, or one, read from the counters the one path keeps
/// ([`crate::statistics`]).
pub async fn statistics(
    db: &DatabaseConnection,
    agency: Option<&str>,
) -> Result<Statistics, Error> {
    crate::statistics::read(db, agency).await
}
