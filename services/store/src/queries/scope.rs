//! What a caller sees, as conditions on the proposals and tasks tables.

use chrono::NaiveDate;
use cohandle_workflows::model::DefinitionRef;
use cohandle_workflows::AgencyCode;
use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, QueryFilter};

use crate::entities::{proposal, task};

/// The proposals a caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every proposal and task.
    All,
    /// Only what this agency assigned or has a task in.
    Own(AgencyCode),
    /// A congress office's: the proposals run under these definitions, with every task.
    Relays(Vec<DefinitionRef>),
    /// A supervisor's: every proposal and task of these jurisdictions (none when empty).
    Within(Vec<String>),
}

/// The part of the tasks a list may show: one agency's, the proposals an assigner assigned
/// (plus its own tasks), those under a congress office's definitions. Every field given
/// narrows it; none: every task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskScope {
    pub agency: Option<String>,
    pub assigner: Option<String>,
    pub definitions: Option<Vec<DefinitionRef>>,
    pub jurisdictions: Option<Vec<String>>,
}

/// Past due or not on a day: a running obligation whose due date is before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdue {
    /// Only those past due on the day.
    On(NaiveDate),
    /// Only those not past due on the day (with no due date, or one on or after it).
    NotOn(NaiveDate),
}

impl Scope {
    pub(crate) fn condition(&self) -> Option<Condition> {
        match self {
            Self::All => None,
            Self::Own(me) => Some(
                Condition::any()
                    .add(proposal::Column::Assigner.eq(me.as_str()))
                    .add(
                        proposal::Column::Key.in_subquery(proposals_with_task(me.as_str(), false)),
                    ),
            ),
            Self::Relays(definitions) => Some(under(definitions)),
            Self::Within(codes) => Some(
                Condition::all().add(proposal::Column::Jurisdiction.is_in(codes.iter().cloned())),
            ),
        }
    }
}

impl TaskScope {
    pub(crate) fn filter<Q: QueryFilter>(&self, mut find: Q) -> Q {
        if let Some(agency) = &self.agency {
            find = find.filter(task::Column::Agency.eq(agency.as_str()));
        }
        if let Some(assigner) = &self.assigner {
            let mut assigned = Query::select();
            assigned
                .column(proposal::Column::Key)
                .from(proposal::Entity)
                .and_where(Expr::col(proposal::Column::Assigner).eq(assigner.as_str()));
            find = find.filter(
                Condition::any()
                    .add(task::Column::Agency.eq(assigner.as_str()))
                    .add(task::Column::ProposalKey.in_subquery(assigned)),
            );
        }
        if let Some(definitions) = &self.definitions {
            let mut relayed = Query::select();
            relayed
                .column(proposal::Column::Key)
                .from(proposal::Entity)
                .cond_where(under(definitions));
            find = find.filter(task::Column::ProposalKey.in_subquery(relayed));
        }
        if let Some(codes) = &self.jurisdictions {
            find = find.filter(task::Column::Jurisdiction.is_in(codes.iter().cloned()));
        }
        find
    }
}

/// Proposal keys in which `agency` has a task (only active ones, when `active_only`).
pub(crate) fn proposals_with_task(agency: &str, active_only: bool) -> SelectStatement {
    let mut select = Query::select();
    select
        .column(task::Column::ProposalKey)
        .from(task::Entity)
        .and_where(Expr::col(task::Column::Agency).eq(agency));
    if active_only {
        select.and_where(Expr::col(task::Column::Active).eq(true));
    }
    select
}

/// Proposals run under one of `definitions` (none when the list is empty).
fn under(definitions: &[DefinitionRef]) -> Condition {
    definitions
        .iter()
        .fold(Condition::any().add(Expr::value(false)), |any, d| {
            any.add(
                Condition::all()
                    .add(proposal::Column::DefinitionName.eq(d.name.as_str()))
                    .add(proposal::Column::DefinitionVersion.eq(i64::from(d.version))),
            )
        })
}
