//! Proposals: a scoped, filtered list; one proposal; who its parties are.

use chrono::NaiveDate;
use cohandle_workflows::model::DefinitionRef;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::page::Page;
use super::scope::{proposals_with_task, Overdue, Scope};
use super::tasks::{tasks_of, TaskRow};
use crate::entities::proposal::{self, Column};
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
}

/// The proposals `scope` sees that pass `filter`, by key, a page after the key `after`.
pub async fn list_proposals(
    store: &impl Handle,
    scope: &Scope,
    filter: &ProposalFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<ProposalRow>, Error> {
    let mut find = proposal::Entity::find()
        .select_only()
        .columns(ROW_COLUMNS)
        .order_by_asc(Column::Key)
        .limit(limit + 1);
    if let Some(after) = after {
        find = find.filter(Column::Key.gt(after));
    }
    if let Some(state) = &filter.state {
        find = find.filter(Column::State.eq(state.as_str()));
    }
    if let Some(session) = &filter.session {
        find = find.filter(Column::Session.eq(session.as_str()));
    }
    if let Some(kind) = &filter.kind {
        find = find.filter(Column::Kind.eq(kind.as_str()));
    }
    if let Some(before) = filter.due_before {
        find = find.filter(Column::DueOn.lt(before));
    }
    match filter.overdue {
        Some(Overdue::On(today)) => find = find.filter(Column::DueOn.lt(today)),
        Some(Overdue::NotOn(today)) => {
            find = find.filter(
                Condition::any()
                    .add(Column::DueOn.is_null())
                    .add(Column::DueOn.gte(today)),
            );
        }
        None => {}
    }
    if let Some(flag) = filter.key_supervision {
        find = find.filter(Column::KeySupervision.eq(flag));
    }
    if let Some(agency) = &filter.agency {
        find = find.filter(Column::Key.in_subquery(proposals_with_task(agency, true)));
    }
    if let Some(visible) = scope.condition() {
        find = find.filter(visible);
    }
    let rows = find
        .into_model::<ProposalRow>()
        .all(connection(store))
        .await?;
    Ok(Page::of(rows, limit))
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
