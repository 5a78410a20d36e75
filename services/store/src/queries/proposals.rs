//! Proposals: a scoped, filtered list; one proposal; who its parties are.

use chrono::NaiveDate;
use cohandle_workflows::model::DefinitionRef;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, LikeExpr, NullOrdering, Order, Query, SelectStatement, SimpleExpr,
    UnionType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QuerySelect,
};

use super::page::Page;
use super::scope::{proposals_with_task, Overdue, Scope};
use super::tasks::{tasks_of, TaskRow};
use crate::entities::proposal::{self, Column};
use crate::entities::task;
use crate::handle::{connection, Handle};
use crate::Error;

/// A proposal as a list shows it (its document aside).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct ProposalRow {
    pub key: String,
    pub definition_name: String,
    pub definition_version: i32,
    /// The jurisdiction it belongs to (its key's prefix).
    pub jurisdiction: String,
    pub kind: String,
    pub number: String,
    pub session: String,
    pub title: String,
    pub assigner: String,
    pub mode: String,
    pub state: String,
    pub key_supervision: bool,
    pub assigned_on: NaiveDate,
    /// The earliest running obligation of any active task.
    pub due_on: Option<NaiveDate>,
    pub version: i64,
}

impl ProposalRow {
    /// The definition version it runs under.
    pub fn definition(&self) -> Result<DefinitionRef, Error> {
        definition_ref(
            &self.key,
            self.definition_name.clone(),
            self.definition_version,
        )
    }
}

const ROW_COLUMNS: [Column; 15] = [
    Column::Key,
    Column::DefinitionName,
    Column::DefinitionVersion,
    Column::Jurisdiction,
    Column::Kind,
    Column::Number,
    Column::Session,
    Column::Title,
    Column::Assigner,
    Column::Mode,
    Column::State,
    Column::KeySupervision,
    Column::AssignedOn,
    Column::DueOn,
    Column::Version,
];

/// What a proposal list shows besides the caller's scope; every field given narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposalFilter {
    pub state: Option<String>,
    pub session: Option<String>,
    pub kind: Option<String>,
    /// Only proposals whose earliest running obligation falls before this day.
    pub due_before: Option<NaiveDate>,
    pub overdue: Option<Overdue>,
    pub key_supervision: Option<bool>,
    /// Only proposals in which this agency has an active task.
    pub agency: Option<String>,
    /// Only proposals assigned on or after this day.
    pub assigned_from: Option<NaiveDate>,
    /// Only proposals assigned on or before this day.
    pub assigned_to: Option<NaiveDate>,
    /// Only proposals of these jurisdictions (none when empty), within the scope.
    pub jurisdictions: Option<Vec<String>>,
}

/// What a proposal search looks for besides the filter; every field given narrows it. Text
/// matches are substrings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposalSearch {
    /// Part of the proposal's number, e.g. `0942`.
    pub number: Option<String>,
    /// Words that must all occur in the title (split on white space).
    pub title: Option<String>,
    /// Part of the name of its lead deputy (or member) or of a co-signer.
    pub person: Option<String>,
    /// Its category, exactly.
    pub category: Option<String>,
}

impl ProposalSearch {
    /// Whether it looks for text (number, title, person or category).
    pub fn is_text(&self) -> bool {
        self.number.is_some()
            || self.title.is_some()
            || self.person.is_some()
            || self.category.is_some()
    }
}

/// The order of a proposal list; each ends with the key, so that it is total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProposalOrder {
    /// By key.
    #[default]
    Key,
    /// By the day it was assigned, earliest first.
    AssignedOn,
    /// By the earliest running obligation, earliest first; those with none last.
    DueOn,
}

/// Where the next page of a proposal list begins: after the last row of the previous one,
/// in the order the list is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalAfter {
    Key(String),
    AssignedOn(NaiveDate, String),
    DueOn(Option<NaiveDate>, String),
}

impl ProposalAfter {
    /// The position of `row` in `order`.
    pub fn of(order: ProposalOrder, row: &ProposalRow) -> Self {
        let key = row.key.clone();
        match order {
            ProposalOrder::Key => Self::Key(key),
            ProposalOrder::AssignedOn => Self::AssignedOn(row.assigned_on, key),
            ProposalOrder::DueOn => Self::DueOn(row.due_on, key),
        }
    }

    /// The order this position belongs to.
    pub fn order(&self) -> ProposalOrder {
        match self {
            Self::Key(_) => ProposalOrder::Key,
            Self::AssignedOn(..) => ProposalOrder::AssignedOn,
            Self::DueOn(..) => ProposalOrder::DueOn,
        }
    }

    fn condition(&self) -> Condition {
        match self {
            Self::Key(key) => Condition::all().add(Column::Key.gt(key.as_str())),
            Self::AssignedOn(day, key) => Condition::any().add(Column::AssignedOn.gt(*day)).add(
                Condition::all()
                    .add(Column::AssignedOn.eq(*day))
                    .add(Column::Key.gt(key.as_str())),
            ),
            Self::DueOn(Some(day), key) => Condition::any()
                .add(Column::DueOn.gt(*day))
                .add(Column::DueOn.is_null())
                .add(
                    Condition::all()
                        .add(Column::DueOn.eq(*day))
                        .add(Column::Key.gt(key.as_str())),
                ),
            Self::DueOn(None, key) => Condition::all()
                .add(Column::DueOn.is_null())
                .add(Column::Key.gt(key.as_str())),
        }
    }
}

/// The proposals `scope` sees that pass `filter`, by key, a page after the key `after`.
pub async fn list_proposals(
    store: &impl Handle,
    scope: &Scope,
    filter: &ProposalFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<ProposalRow>, Error> {
    let after = after.map(|key| ProposalAfter::Key(key.to_owned()));
    search_proposals(
        store,
        scope,
        filter,
        &ProposalSearch::default(),
        ProposalOrder::Key,
        after.as_ref(),
        limit,
    )
    .await
}

/// The proposals `scope` sees that pass `filter` and `search`, in `order`, a page after
/// `after` (which must be a position in the same order).
///
/// An agency's own proposals (those it assigned or has a task in) are read as two ordered
/// branches, each stopping at the page's length, and merged: so the read stops after the
/// page's rows instead of gathering every task of the agency first.
pub async fn search_proposals(
    store: &impl Handle,
    scope: &Scope,
    filter: &ProposalFilter,
    search: &ProposalSearch,
    order: ProposalOrder,
    after: Option<&ProposalAfter>,
    limit: u64,
) -> Result<Page<ProposalRow>, Error> {
    let db = connection(store);
    let backend = db.get_database_backend();
    if after.is_some_and(|a| a.order() != order) {
        return Err(Error::Corrupt(
            "a proposal list resumed in another order than it was read in".to_owned(),
        ));
    }
    let narrowed = |extra: Condition| {
        let mut select = Query::select();
        select
            .columns(ROW_COLUMNS)
            .from(proposal::Entity)
            .cond_where(matching(backend, filter, search))
            .cond_where(extra);
        if let Some(after) = after {
            select.cond_where(after.condition());
        }
        ordered(&mut select, order);
        select.limit(limit + 1);
        select
    };
    let statement = match scope {
        Scope::Own(me) => {
            let mut tasked = Query::select();
            tasked
                .expr(Expr::val(1))
                .from_as(task::Entity, Alias::new("t"))
                .and_where(
                    Expr::col((Alias::new("t"), task::Column::ProposalKey))
                        .equals((proposal::Entity, Column::Key)),
                )
                .and_where(Expr::col((Alias::new("t"), task::Column::Agency)).eq(me.as_str()));
            let with_task = narrowed(Condition::all().add(Expr::exists(tasked)));
            let assigned = narrowed(Condition::all().add(Column::Assigner.eq(me.as_str())));
            let mut merged = Query::select();
            merged
                .column(Asterisk)
                .from_subquery(with_task, Alias::new("a"))
                .union(
                    UnionType::Distinct,
                    Query::select()
                        .column(Asterisk)
                        .from_subquery(assigned, Alias::new("b"))
                        .to_owned(),
                );
            let mut page = Query::select();
            page.column(Asterisk).from_subquery(merged, Alias::new("u"));
            ordered(&mut page, order);
            page.limit(limit + 1);
            page
        }
        Scope::Within(_) => {
            // The page's keys first, from the index of the jurisdictions' due dates alone
            // (it holds the key), then the page's rows: a municipality's forty districts
            // have thousands of proposals past due, of which a page reads fifty.
            let mut keys = Query::select();
            keys.column(Column::Key)
                .from(proposal::Entity)
                .cond_where(matching(backend, filter, search))
                .cond_where(scope.condition().unwrap_or_else(Condition::all));
            if let Some(after) = after {
                keys.cond_where(after.condition());
            }
            if backend == DbBackend::Postgres && search.is_text() {
                // A text search matches few rows the planner cannot estimate: walking the
                // whole key order for them costs more than finding the jurisdictions'
                // matches first and sorting those. The subquery's OFFSET keeps it apart.
                keys.columns([Column::AssignedOn, Column::DueOn]).offset(0);
                let mut found = Query::select();
                found
                    .column(Alias::new("key"))
                    .from_subquery(keys, Alias::new("found"));
                keys = found;
            }
            ordered(&mut keys, order);
            keys.limit(limit + 1);
            let mut page = Query::select();
            page.columns(ROW_COLUMNS)
                .from(proposal::Entity)
                .and_where(Column::Key.in_subquery(keys));
            ordered(&mut page, order);
            page
        }
        other => narrowed(other.condition().unwrap_or_else(Condition::all)),
    };
    let rows = ProposalRow::find_by_statement(backend.build(&statement))
        .all(db)
        .await?;
    Ok(Page::of(rows, limit))
}

/// How many proposals `scope` sees that pass `filter` and `search`.
pub async fn count_proposals(
    store: &impl Handle,
    scope: &Scope,
    filter: &ProposalFilter,
    search: &ProposalSearch,
) -> Result<u64, Error> {
    let db = connection(store);
    let backend = db.get_database_backend();
    let keys = |extra: Condition| {
        Query::select()
            .column(Column::Key)
            .from(proposal::Entity)
            .cond_where(matching(backend, filter, search))
            .cond_where(extra)
            .to_owned()
    };
    let counted = match scope {
        Scope::Own(me) => {
            let mut keys = keys(Condition::all().add(Column::Assigner.eq(me.as_str())));
            keys.union(
                UnionType::Distinct,
                Query::select()
                    .column(Column::Key)
                    .from(proposal::Entity)
                    .cond_where(matching(backend, filter, search))
                    .and_where(Column::Key.in_subquery(proposals_with_task(me.as_str(), false)))
                    .to_owned(),
            );
            keys
        }
        other => keys(other.condition().unwrap_or_else(Condition::all)),
    };
    let mut count = Query::select();
    count
        .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
        .from_subquery(counted, Alias::new("c"));
    let row = db
        .query_one(backend.build(&count))
        .await?
        .ok_or_else(|| Error::Corrupt("a count answered no row".to_owned()))?;
    let n: i64 = row.try_get("", "n")?;
    u64::try_from(n).map_err(|_| Error::Corrupt(format!("a count of {n}")))
}

fn ordered(select: &mut SelectStatement, order: ProposalOrder) {
    let key = Alias::new("key");
    match order {
        ProposalOrder::Key => {}
        ProposalOrder::AssignedOn => {
            select.order_by(Alias::new("assigned_on"), Order::Asc);
        }
        ProposalOrder::DueOn => {
            select.order_by_with_nulls(Alias::new("due_on"), Order::Asc, NullOrdering::Last);
        }
    }
    select.order_by(key, Order::Asc);
}

/// The filter and the search as one condition on the proposals table.
fn matching(backend: DbBackend, filter: &ProposalFilter, search: &ProposalSearch) -> Condition {
    let mut all = Condition::all();
    if let Some(state) = &filter.state {
        all = all.add(Column::State.eq(state.as_str()));
    }
    if let Some(session) = &filter.session {
        all = all.add(Column::Session.eq(session.as_str()));
    }
    if let Some(kind) = &filter.kind {
        all = all.add(Column::Kind.eq(kind.as_str()));
    }
    if let Some(before) = filter.due_before {
        all = all.add(Column::DueOn.lt(before));
    }
    match filter.overdue {
        Some(Overdue::On(today)) => all = all.add(Column::DueOn.lt(today)),
        Some(Overdue::NotOn(today)) => {
            all = all.add(
                Condition::any()
                    .add(Column::DueOn.is_null())
                    .add(Column::DueOn.gte(today)),
            );
        }
        None => {}
    }
    if let Some(flag) = filter.key_supervision {
        all = all.add(Column::KeySupervision.eq(flag));
    }
    if let Some(agency) = &filter.agency {
        all = all.add(Column::Key.in_subquery(proposals_with_task(agency, true)));
    }
    if let Some(from) = filter.assigned_from {
        all = all.add(Column::AssignedOn.gte(from));
    }
    if let Some(to) = filter.assigned_to {
        all = all.add(Column::AssignedOn.lte(to));
    }
    if let Some(codes) = &filter.jurisdictions {
        all = all.add(Column::Jurisdiction.is_in(codes.iter().cloned()));
    }
    if let Some(number) = &search.number {
        all = all.add(contains(
            Expr::col((proposal::Entity, Column::Number)),
            number,
        ));
    }
    if let Some(title) = &search.title {
        for word in title.split_whitespace() {
            all = all.add(contains(Expr::col((proposal::Entity, Column::Title)), word));
        }
    }
    if let Some(person) = &search.person {
        all = all.add(Condition::all().add(contains(
            Expr::col((proposal::Entity, Column::People)),
            person,
        )));
    }
    if let Some(category) = &search.category {
        all = all.add(Expr::expr(document_field(backend, "category")).eq(category.as_str()));
    }
    all
}

/// A field of the proposal's information in its document, as text (a list as its JSON).
fn document_field(backend: DbBackend, field: &'static str) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust(format!(
            "(CAST(\"proposals\".\"document\" AS jsonb) #>> '{{info,{field}}}')"
        )),
        _ => Expr::cust(format!(
            "json_extract(\"proposals\".\"document\", '$.info.{field}')"
        )),
    }
}

/// `text` occurs in `expr`, its own `%`, `_` and `\` taken literally. Case counts (a
/// plain `LIKE`, whose selectivity the planner can estimate from the column's statistics).
fn contains(expr: impl Into<SimpleExpr>, text: &str) -> SimpleExpr {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(expr).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// A proposal with its document (JSON, as the engine keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProposal {
    pub row: ProposalRow,
    pub document: String,
}

/// One proposal; `None` when there is no such proposal.
pub async fn proposal(store: &impl Handle, key: &str) -> Result<Option<StoredProposal>, Error> {
    let Some(model) = proposal::Entity::find_by_id(key.to_owned())
        .one(connection(store))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(StoredProposal {
        row: ProposalRow {
            key: model.key,
            definition_name: model.definition_name,
            definition_version: model.definition_version,
            jurisdiction: model.jurisdiction,
            kind: model.kind,
            number: model.number,
            session: model.session,
            title: model.title,
            assigner: model.assigner,
            mode: model.mode,
            state: model.state,
            key_supervision: model.key_supervision,
            assigned_on: model.assigned_on,
            due_on: model.due_on,
            version: model.version,
        },
        document: model.document,
    }))
}

/// Who takes part in a proposal: its assigner, its definition and its tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    pub assigner: String,
    pub definition: DefinitionRef,
    pub jurisdiction: String,
    pub tasks: Vec<TaskRow>,
}

/// A proposal's parties; `None` when there is no such proposal.
pub async fn parties(store: &impl Handle, key: &str) -> Result<Option<Parties>, Error> {
    let head: Option<(String, String, i32, String)> = proposal::Entity::find_by_id(key.to_owned())
        .select_only()
        .column(Column::Assigner)
        .column(Column::DefinitionName)
        .column(Column::DefinitionVersion)
        .column(Column::Jurisdiction)
        .into_tuple()
        .one(connection(store))
        .await?;
    let Some((assigner, name, version, jurisdiction)) = head else {
        return Ok(None);
    };
    Ok(Some(Parties {
        assigner,
        definition: definition_ref(key, name, version)?,
        jurisdiction,
        tasks: tasks_of(store, key).await?,
    }))
}

fn definition_ref(key: &str, name: String, version: i32) -> Result<DefinitionRef, Error> {
    let version = u32::try_from(version)
        .map_err(|_| Error::Corrupt(format!("proposal {key}: definition version {version}")))?;
    Ok(DefinitionRef { name, version })
}
