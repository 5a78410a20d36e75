//! The reads of the doors, each the very function the API (and the workbench over it) calls,
//! so that what `cohandle bench queries` times is what users run: proposal and task lists
//! with the caller's scope, filters and cursors ([`proposals`], [`tasks`]), one proposal's
//! timeline and the changes of one event ([`timeline`]), its deadline timers ([`timers`]),
//! the statistics. Each takes a [`Handle`] (an engine or a connection) and answers plain rows
//! of its own, never the tables' models. Reads only; nothing here writes.

use std::collections::BTreeMap;

use serde::Serialize;

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
pub use proposals::{list_proposals, parties, proposal, Parties, ProposalFilter, ProposalRow};
pub use scope::{Overdue, Scope, TaskScope};
pub use tasks::{
    deadlines, list_tasks, task_agencies, tasks_of, DeadlineFilter, TaskFilter, TaskRow,
};
pub use timeline::{event_changes, state_after, timeline, HistoryRow};
pub use timers::{deadline_timers, DeadlineTimer};

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

/// Statistics over every agency, or one, read from the counters the one path keeps
/// ([`crate::statistics`]).
pub async fn statistics(store: &impl Handle, agency: Option<&str>) -> Result<Statistics, Error> {
    crate::statistics::read(connection(store), agency).await
}
