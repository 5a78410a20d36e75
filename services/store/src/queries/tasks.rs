//! Tasks: one proposal's, a scoped list, the running obligations by due date.

use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Expr, Func, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::page::Page;
use super::scope::{Overdue, TaskScope};
use crate::entities::{proposal, reply, task};
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

/// What narrows a task or deadline list besides its filter; every field given narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMatch {
    /// The proposal's session, e.g. `市五届人大三次会议`.
    pub session: Option<String>,
    /// The proposal's kind: `deputy_suggestion`, `cppcc_proposal`.
    pub kind: Option<String>,
    /// The task's role: `lead`, `co_handler`, `split`.
    pub role: Option<String>,
    /// The name of its earliest running deadline, e.g. `reply`, `co_handler_opinion`.
    pub deadline: Option<String>,
    /// Only those past due by at least, or at most, so many days.
    pub days_overdue: Option<DaysOverdue>,
    /// Only tasks of proposals whose latest reply sent has this result class (`A`–`D`).
    pub result_class: Option<String>,
}

/// Days past the due date on a day, bounded below, above or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaysOverdue {
    pub today: NaiveDate,
    pub at_least: Option<u32>,
    pub at_most: Option<u32>,
}

impl TaskMatch {
    fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(session) = &self.session {
            all = all.add(task::Column::Session.eq(session.as_str()));
        }
        if let Some(kind) = &self.kind {
            all = all.add(task::Column::Kind.eq(kind.as_str()));
        }
        if let Some(role) = &self.role {
            all = all.add(task::Column::Role.eq(role.as_str()));
        }
        if let Some(deadline) = &self.deadline {
            all = all.add(task::Column::DueDeadline.eq(deadline.as_str()));
        }
        if let Some(days) = self.days_overdue {
            let before = |n: u32| days.today - chrono::Days::new(u64::from(n));
            if let Some(n) = days.at_least {
                all = all.add(task::Column::DueOn.lte(before(n)));
            }
            if let Some(n) = days.at_most {
                all = all.add(task::Column::DueOn.gte(before(n)));
            }
        }
        if let Some(class) = &self.result_class {
            all = all.add(task::Column::ProposalKey.in_subquery(replied_as(class)));
        }
        all
    }
}

/// The proposals whose latest reply sent (the highest round, of any of its agencies) has
/// the result class `class`.
fn replied_as(class: &str) -> sea_orm::sea_query::SelectStatement {
    let (r, later) = (Alias::new("r"), Alias::new("l"));
    let mut newer = Query::select();
    newer
        .expr(Expr::val(1))
        .from_as(reply::Entity, later.clone())
        .and_where(
            Expr::col((later.clone(), reply::Column::ProposalKey))
                .equals((r.clone(), reply::Column::ProposalKey)),
        )
        .and_where(
            Expr::col((later, reply::Column::Round))
                .gt(Expr::col((r.clone(), reply::Column::Round))),
        );
    let mut replied = Query::select();
    replied
        .column((r.clone(), reply::Column::ProposalKey))
        .from_as(reply::Entity, r.clone())
        .and_where(Expr::col((r, reply::Column::ResultClass)).eq(class))
        .and_where(Expr::exists(newer).not());
    replied
}

/// Tasks by proposal and position, a page after `after` (a proposal key and position).
pub async fn list_tasks(
    store: &impl Handle,
    filter: &TaskFilter,
    after: Option<(String, i32)>,
    limit: u64,
) -> Result<Page<TaskRow>, Error> {
    list_matching_tasks(store, filter, &TaskMatch::default(), after, limit).await
}

/// Tasks that pass `filter` and `matching`, by proposal and position, a page after `after`.
pub async fn list_matching_tasks(
    store: &impl Handle,
    filter: &TaskFilter,
    matching: &TaskMatch,
    after: Option<(String, i32)>,
    limit: u64,
) -> Result<Page<TaskRow>, Error> {
    let mut find = tasks_passing(filter, matching)
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
    let models = find.all(connection(store)).await?;
    Ok(Page::of(rows(models), limit))
}

/// How many tasks pass `filter` and `matching`.
pub async fn count_tasks(
    store: &impl Handle,
    filter: &TaskFilter,
    matching: &TaskMatch,
) -> Result<u64, Error> {
    Ok(tasks_passing(filter, matching)
        .count(connection(store))
        .await?)
}

fn tasks_passing(filter: &TaskFilter, matching: &TaskMatch) -> Select<task::Entity> {
    let mut find = filter.within.filter(task::Entity::find());
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
    find.filter(matching.condition())
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
    matching_deadlines(store, filter, &TaskMatch::default(), after, limit).await
}

/// [`deadlines`] that also pass `matching`.
pub async fn matching_deadlines(
    store: &impl Handle,
    filter: &DeadlineFilter,
    matching: &TaskMatch,
    after: Option<(NaiveDate, String, i32)>,
    limit: u64,
) -> Result<Page<TaskRow>, Error> {
    let mut find = deadlines_passing(filter, matching)
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
    let models = find.all(connection(store)).await?;
    Ok(Page::of(rows(models), limit))
}

/// How many running obligations [`matching_deadlines`] would list.
pub async fn count_deadlines(
    store: &impl Handle,
    filter: &DeadlineFilter,
    matching: &TaskMatch,
) -> Result<u64, Error> {
    Ok(deadlines_passing(filter, matching)
        .count(connection(store))
        .await?)
}

/// How many of the running obligations [`matching_deadlines`] would list are past due on
/// `today`, how many are not, and how many are of key supervision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineCounts {
    pub overdue: u64,
    pub upcoming: u64,
    pub key_supervision: u64,
}

/// The [`DeadlineCounts`] of what [`matching_deadlines`] would list, in one pass.
pub async fn deadline_counts(
    store: &impl Handle,
    filter: &DeadlineFilter,
    matching: &TaskMatch,
    today: NaiveDate,
) -> Result<DeadlineCounts, Error> {
    let past = Expr::case(Expr::col(task::Column::DueOn).lt(today), 1).finally(0);
    let key = Expr::case(Expr::col(task::Column::KeySupervision).eq(true), 1).finally(0);
    let counted: Option<(Option<i64>, i64, Option<i64>)> = deadlines_passing(filter, matching)
        .select_only()
        .column_as(
            SimpleExpr::from(Func::sum(SimpleExpr::Case(Box::new(past)))),
            "overdue",
        )
        .column_as(Expr::col(task::Column::ProposalKey).count(), "total")
        .column_as(
            SimpleExpr::from(Func::sum(SimpleExpr::Case(Box::new(key)))),
            "key_supervision",
        )
        .into_tuple()
        .one(connection(store))
        .await?;
    let (overdue, total, key) = counted.unwrap_or_default();
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    let overdue = count(overdue.unwrap_or_default());
    Ok(DeadlineCounts {
        overdue,
        upcoming: count(total).saturating_sub(overdue),
        key_supervision: count(key.unwrap_or_default()),
    })
}

fn deadlines_passing(filter: &DeadlineFilter, matching: &TaskMatch) -> Select<task::Entity> {
    let mut find = task::Entity::find()
        .filter(task::Column::Active.eq(true))
        .filter(task::Column::Terminal.eq(false))
        .filter(task::Column::DueOn.is_not_null())
        .filter(task::Column::DueOn.lte(filter.until));
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
    find.filter(matching.condition())
}

/// What a row of a deadline list shows of its proposal, so that a list needs no call per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalHead {
    pub key: String,
    pub number: String,
    pub title: String,
    /// Its lead deputy (or member), from its document.
    pub lead_deputy: String,
    /// The agency of its active lead task; none under split handling.
    pub lead_agency: Option<String>,
}

/// The heads of the proposals `keys`, in two reads whatever their number; a key with no
/// proposal is left out.
pub async fn proposal_heads(
    store: &impl Handle,
    keys: &[&str],
) -> Result<Vec<ProposalHead>, Error> {
    #[derive(serde::Deserialize)]
    struct Document {
        info: Info,
    }
    #[derive(serde::Deserialize)]
    struct Info {
        lead_deputy: String,
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let db = connection(store);
    let leads: Vec<(String, String)> = task::Entity::find()
        .select_only()
        .column(task::Column::ProposalKey)
        .column(task::Column::Agency)
        .filter(task::Column::ProposalKey.is_in(keys.iter().copied()))
        .filter(task::Column::Role.eq("lead"))
        .filter(task::Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    let heads: Vec<(String, String, String, String)> = proposal::Entity::find()
        .select_only()
        .column(proposal::Column::Key)
        .column(proposal::Column::Number)
        .column(proposal::Column::Title)
        .column(proposal::Column::Document)
        .filter(proposal::Column::Key.is_in(keys.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    heads
        .into_iter()
        .map(|(key, number, title, document)| {
            let document: Document = serde_json::from_str(&document)
                .map_err(|e| Error::Corrupt(format!("proposal {key}: {e}")))?;
            let lead_agency = leads
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, agency)| agency.clone());
            Ok(ProposalHead {
                key,
                number,
                title,
                lead_deputy: document.info.lead_deputy,
                lead_agency,
            })
        })
        .collect()
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
