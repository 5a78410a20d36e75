//! A proposal's deadlines, from its expiry timers: each deadline's due date, and whether it
//! was met (the timer cancelled by the step), missed (fired) or is still running.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::timer::{self, Column};
use crate::handle::{connection, Handle};
use crate::Error;

/// One generation of one deadline of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineTimer {
    pub agency: String,
    /// The deadline's name in the definition, e.g. `reply`.
    pub deadline: String,
    pub due_on: NaiveDate,
    /// A moved deadline gets a new generation.
    pub generation: i32,
    /// `pending`, `cancelled` (the step came in time) or `fired`.
    pub state: String,
}

/// The expiry timers of `agencies`' tasks in a proposal, by agency, deadline and generation.
pub async fn deadline_timers(
    store: &impl Handle,
    key: &str,
    agencies: &[&str],
) -> Result<Vec<DeadlineTimer>, Error> {
    let rows = timer::Entity::find()
        .filter(Column::ProposalKey.eq(key))
        .filter(Column::Kind.eq("expiry"))
        .filter(Column::Agency.is_in(agencies.iter().copied()))
        .order_by_asc(Column::Agency)
        .order_by_asc(Column::Deadline)
        .order_by_asc(Column::Generation)
        .all(connection(store))
        .await?;
    Ok(rows
        .into_iter()
        .map(|t| DeadlineTimer {
            agency: t.agency,
            deadline: t.deadline,
            due_on: t.due_on,
            generation: t.generation,
            state: t.state,
        })
        .collect())
}
