//! The reads of the doors, each the very function the API (and the workbench over it) calls,
//! so that what `cohandle bench queries` times is what users run: proposal and task lists
//! with the caller's scope, filters and cursors ([`proposals`], [`tasks`]), one proposal's
//! timeline and the changes of one event ([`timeline`]), its deadline timers ([`timers`]),
//! the statistics. Each takes a [`Handle`] (an engine or a connection) and answers plain rows
//! of its own, never the tables' models. Reads only; nothing here writes.

use crate::handle::{connection, Handle};
use crate::Error;

mod inbox;
mod page;
pub mod proposals;
mod scope;
pub mod tasks;
pub mod timeline;
pub mod timers;

pub use inbox::events_decided;
pub use page::Page;
pub use proposals::{
    count_proposals, list_proposals, parties, proposal, search_proposals, Parties, ProposalAfter,
    ProposalFilter, ProposalOrder, ProposalRow, ProposalSearch,
};
pub use scope::{Overdue, Scope, TaskScope};
pub use tasks::{
    count_deadlines, count_tasks, deadline_counts, deadlines, list_matching_tasks, list_tasks,
    matching_deadlines, proposal_heads, task_agencies, task_agencies_within, tasks_of, DaysOverdue,
    DeadlineCounts, DeadlineFilter, ProposalHead, TaskFilter, TaskMatch, TaskRow,
};
pub use timeline::{event_changes, state_after, timeline, HistoryRow};
pub use timers::{deadline_timers, DeadlineTimer};

pub use crate::statistics::{Counted, Month, Report, Statistics};

/// Statistics over every agency, or one, read from the counters the one path keeps
/// ([`crate::statistics`]), with no obligation counted as overdue.
pub async fn statistics(store: &impl Handle, agency: Option<&str>) -> Result<Statistics, Error> {
    crate::statistics::read(connection(store), agency).await
}

/// The figures of the proposals `counted` names, overall and per agency, with the
/// obligations past due on `today` counted against the on-time rates: from the counters of
/// the caller's jurisdictions, or from the rows when narrowed to a session, kind or period.
pub async fn statistics_report(
    store: &impl Handle,
    registry: &crate::jurisdictions::Registry,
    counted: &Counted,
    today: chrono::NaiveDate,
) -> Result<Report, Error> {
    crate::statistics::report(connection(store), registry, counted, today).await
}

/// The month-by-month trend from `from`'s month to `to`'s over the proposals `counted` names.
pub async fn statistics_trend(
    store: &impl Handle,
    registry: &crate::jurisdictions::Registry,
    counted: &Counted,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<Month>, Error> {
    crate::statistics::trend(connection(store), registry, counted, from, to).await
}
