//! Tasks: one proposal's, a scoped list, the running obligations by due date.

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::page::Page;
use super::scope::{Overdue, TaskScope};
use crate::entities::{proposal, task};
use crate::handle::{connection, Handle};
use crate::Error;

/// One agency's task in a proposal, as the task list keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub proposal_key: String,
    /// Its position in the proposal (a re-assignment adds one).
    pub position: i32,
    pub agency: String,
    pub role: String,
    pub state: String,
    /// False once the task was re-assigned away.
    pub active: bool,
    /// Finished: nothing more is expected of it.
    pub terminal: bool,
    /// The earliest running obligation and its name.
    pub due_on: Option<NaiveDate>,
    pub due_deadline: Option<String>,
    pub session: String,
    pub kind: String,
    pub key_supervision: bool,
}

impl From<task::Model> for TaskRow {
    fn from(t: task::Model) -> Self {
        Self {
            proposal_key: t.proposal_key,
            position: t.position,
            agency: t.agency,
            role: t.role,
            state: t.state,
            active: t.active,
            terminal: t.terminal,
            due_on: t.due_on,
            due_deadline: t.due_deadline,
            session: t.session,
            kind: t.kind,
            key_supervision: t.key_supervision,
        }
    }
}

fn rows(models: Vec<task::Model>) -> Vec<TaskRow> {
    models.into_iter().map(TaskRow::from).collect()
}

/// The tasks of one proposal, by position.
pub async fn tasks_of(store: &impl Handle, key: &str) -> Result<Vec<TaskRow>, Error> {
    let models = task::Entity::find()
        .filter(task::Column::ProposalKey.eq(key))
        .order_by_asc(task::Column::Position)
        .all(connection(store))
        .await?;
    Ok(rows(models))
}

/// What a task list shows besides its scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub within: TaskScope,
    pub state: Option<String>,
    /// Open (active and not finished) or not.
    pub open: Option<bool>,
}

/// Tasks by proposal and position, a page after `after` (a proposal key and position).
pub async fn list_tasks(
    store: &impl Handle,
    filter: &TaskFilter,
    after: Option<(String, i32)>,
    limit: u64,
) -> Result<Page<TaskRow>, Error> {
    let mut find = task::Entity::find()
        .order_by_asc(task::Column::ProposalKey)
        .order_by_asc(task::Column::Position)
        .limit(limit + 1);
    if let Some((key, position)) = after {
        find = find.filter(
            Condition::any()
                .add(task::Column::ProposalKey.gt(key.clone()))
                .add(
                    Condition::all()
                        .add(task::Column::ProposalKey.eq(key))
                        .add(task::Column::Position.gt(position)),
                ),
        );
    }
    find = filter.within.filter(find);
    if let Some(state) = &filter.state {
        find = find.filter(task::Column::State.eq(state.as_str()));
    }
    match filter.open {
        Some(true) => {
            find = find
                .filter(task::Column::Active.eq(true))
                .filter(task::Column::Terminal.eq(false));
        }
        Some(false) => {
            find = find.filter(
                Condition::any()
                    .add(task::Column::Active.eq(false))
                    .add(task::Column::Terminal.eq(true)),
            );
        }
        None => {}
    }
    let models = find.all(connection(store)).await?;
    Ok(Page::of(rows(models), limit))
}

/// Which running obligations a deadline list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineFilter {
    pub within: TaskScope,
    /// Due on or before this day (overdue ones included).
    pub until: NaiveDate,
    pub overdue: Option<Overdue>,
    pub key_supervision: Option<bool>,
    /// Only proposals run under the definition of this name.
    pub definition: Option<String>,
}

/// Open tasks with a running obligation due by `until`, earliest first (then by proposal and
/// position), a page after `after` (a due date, proposal key and position).
pub async fn deadlines(
    store: &impl Handle,
    filter: &DeadlineFilter,
    after: Option<(NaiveDate, String, i32)>,
    limit: u64,
) -> Result<Page<TaskRow>, Error> {
    let mut find = task::Entity::find()
        .filter(task::Column::Active.eq(true))
        .filter(task::Column::Terminal.eq(false))
        .filter(task::Column::DueOn.is_not_null())
        .filter(task::Column::DueOn.lte(filter.until))
        .order_by_asc(task::Column::DueOn)
        .order_by_asc(task::Column::ProposalKey)
        .order_by_asc(task::Column::Position)
        .limit(limit + 1);
    if let Some((due, key, position)) = after {
        find = find.filter(
            Condition::any()
                .add(task::Column::DueOn.gt(due))
                .add(
                    Condition::all()
                        .add(task::Column::DueOn.eq(due))
                        .add(task::Column::ProposalKey.gt(key.clone())),
                )
                .add(
                    Condition::all()
                        .add(task::Column::DueOn.eq(due))
                        .add(task::Column::ProposalKey.eq(key))
                        .add(task::Column::Position.gt(position)),
                ),
        );
    }
    find = filter.within.filter(find);
    match filter.overdue {
        Some(Overdue::On(today)) => find = find.filter(task::Column::DueOn.lt(today)),
        Some(Overdue::NotOn(today)) => find = find.filter(task::Column::DueOn.gte(today)),
        None => {}
    }
    if let Some(flag) = filter.key_supervision {
        find = find.filter(task::Column::KeySupervision.eq(flag));
    }
    if let Some(definition) = &filter.definition {
        let mut under = Query::select();
        under
            .column(proposal::Column::Key)
            .from(proposal::Entity)
            .and_where(Expr::col(proposal::Column::DefinitionName).eq(definition.as_str()));
        find = find.filter(task::Column::ProposalKey.in_subquery(under));
    }
    let models = find.all(connection(store)).await?;
    Ok(Page::of(rows(models), limit))
}

/// Every agency that holds or held a task, by code.
pub async fn task_agencies(store: &impl Handle) -> Result<Vec<String>, Error> {
    task_agencies_within(store, None).await
}

/// The agencies with a task in a proposal of `jurisdictions` (all, when `None`).
pub async fn task_agencies_within(
    store: &impl Handle,
    jurisdictions: Option<&[String]>,
) -> Result<Vec<String>, Error> {
    let mut find = task::Entity::find();
    if let Some(codes) = jurisdictions {
        find = find.filter(task::Column::Jurisdiction.is_in(codes.iter().cloned()));
    }
    Ok(find
        .select_only()
        .column(task::Column::Agency)
        .distinct()
        .order_by_asc(task::Column::Agency)
        .into_tuple()
        .all(connection(store))
        .await?)
}
