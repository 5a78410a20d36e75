//! The supervisors' reads: lists with filters and cursors, one proposal's timeline,
//! upcoming and overdue deadlines, statistics. Reads only; nothing here writes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement,
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

/// The figures supervisors report (办结率, 按时答复率, 满意率, 见面率, class shares, 公开率).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistics {
    pub handler_tasks: i64,
    pub completed: i64,
    pub completion_rate: Option<f64>,
    pub replies: i64,
    pub on_time_rate: Option<f64>,
    pub first_time_satisfaction_rate: Option<f64>,
    pub final_satisfaction_rate: Option<f64>,
    pub meeting_rate: Option<f64>,
    pub class_shares: BTreeMap<String, f64>,
    pub published_share: Option<f64>,
}

#[derive(Debug, FromQueryResult)]
struct Counts {
    total: Option<i64>,
    hits: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct ClassCount {
    result_class: String,
    n: i64,
}

fn rate(hits: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

async fn counts(
    db: &DatabaseConnection,
    sql: &str,
    agency: Option<&str>,
) -> Result<(i64, i64), Error> {
    let backend = db.get_database_backend();
    let (sql, values) = match agency {
        Some(a) => (
            sql.replace("/*agency*/", " AND agency = $1"),
            vec![a.into()],
        ),
        None => (sql.replace("/*agency*/", ""), vec![]),
    };
    let sql = if backend == sea_orm::DatabaseBackend::Sqlite {
        sql.replace("$1", "?1")
    } else {
        sql
    };
    let row = Counts::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .one(db)
        .await?;
    Ok(row.map_or((0, 0), |c| (c.total.unwrap_or(0), c.hits.unwrap_or(0))))
}

/// Statistics over every agency, or one.
pub async fn statistics(
    db: &DatabaseConnection,
    agency: Option<&str>,
) -> Result<Statistics, Error> {
    let (handler_tasks, completed) = counts(
        db,
        "SELECT COUNT(*) AS total, SUM(CASE WHEN terminal THEN 1 ELSE 0 END) AS hits FROM tasks WHERE active AND role <> 'co_handler' /*agency*/",
        agency,
    )
    .await?;
    let (replies, on_time) = counts(db, "SELECT COUNT(*) AS total, SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS hits FROM replies WHERE round = 1 /*agency*/", agency).await?;
    let (_, met) = counts(db, "SELECT COUNT(*) AS total, SUM(CASE WHEN met_deputy THEN 1 ELSE 0 END) AS hits FROM replies WHERE round = 1 /*agency*/", agency).await?;
    let (first_total, first_ok) = counts(
        db,
        "SELECT COUNT(*) AS total, SUM(CASE WHEN satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) AS hits FROM feedback WHERE round = 1 /*agency*/",
        agency,
    )
    .await?;
    let (final_total, final_ok) = counts(
        db,
        "SELECT COUNT(*) AS total, SUM(CASE WHEN satisfaction <> 'dissatisfied' THEN 1 ELSE 0 END) AS hits FROM feedback f \
         WHERE round = (SELECT MAX(round) FROM feedback g WHERE g.proposal_key = f.proposal_key AND g.agency = f.agency) /*agency*/",
        agency,
    )
    .await?;
    let (_, published) = counts(db, "SELECT COUNT(*) AS total, SUM(CASE WHEN scope = 'full' THEN 1 ELSE 0 END) AS hits FROM disclosures WHERE 1 = 1 /*agency*/", agency).await?;
    let backend = db.get_database_backend();
    let class_sql = match (agency, backend) {
        (Some(_), sea_orm::DatabaseBackend::Postgres) => "SELECT result_class, COUNT(*) AS n FROM replies WHERE round = 1 AND agency = $1 GROUP BY result_class",
        (Some(_), _) => "SELECT result_class, COUNT(*) AS n FROM replies WHERE round = 1 AND agency = ?1 GROUP BY result_class",
        (None, _) => "SELECT result_class, COUNT(*) AS n FROM replies WHERE round = 1 GROUP BY result_class",
    };
    let values: Vec<sea_orm::Value> = agency.map(|a| vec![a.into()]).unwrap_or_default();
    let classes =
        ClassCount::find_by_statement(Statement::from_sql_and_values(backend, class_sql, values))
            .all(db)
            .await?;
    let class_shares = classes
        .into_iter()
        .map(|c| (c.result_class, c.n as f64 / replies.max(1) as f64))
        .collect();
    Ok(Statistics {
        handler_tasks,
        completed,
        completion_rate: rate(completed, handler_tasks),
        replies,
        on_time_rate: rate(on_time, replies),
        first_time_satisfaction_rate: rate(first_ok, first_total),
        final_satisfaction_rate: rate(final_ok, final_total),
        meeting_rate: rate(met, replies),
        class_shares,
        published_share: rate(published, replies),
    })
}
