//! The rows one decision writes, built from the domain's values: history (hash-chained),
//! inbox, proposal, task projection and timers. Pure: nothing here touches the database.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use cohandle_workflows::definition::DeadlineKind;
use cohandle_workflows::engine::{Change, TimerSpec};
use cohandle_workflows::{Definition, Event, Proposal, Rejection};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::IntoActiveModel;

use crate::entities::{history, inbox, proposal, task, timer};
use crate::history::{row_hash, GENESIS};
use crate::outcome::Source;
use crate::Error;

/// The history row of one change, chained to `prev` (the hash of the row before it).
pub(crate) fn history_row(
    event: &Event,
    change: &Change,
    seq: i64,
    prev: &str,
    now: DateTime<Utc>,
    version: u32,
) -> history::Model {
    let mut row = history::Model {
        id: 0,
        proposal_key: event.proposal.to_string(),
        seq,
        event_id: event.id.to_string(),
        event_type: change.event.clone(),
        machine: change.machine.as_str().to_owned(),
        agency: change.agency.as_ref().map(ToString::to_string),
        from_state: change.from.clone(),
        to_state: change.to.clone(),
        actor_agency: event.actor.agency.to_string(),
        actor_role: change.role.as_str().to_owned(),
        occurred_at: event.occurred_at.trunc_subsecs(6),
        recorded_at: now,
        definition_version: version as i32,
        payload: serde_json::to_string(&event.body).expect("event bodies serialize"),
        detail: change.detail.clone(),
        prev_hash: prev.to_owned(),
        hash: String::new(),
    };
    row.hash = row_hash(&row);
    row
}

/// A history row to insert: its id is the database's.
pub(crate) fn history_insert(row: history::Model) -> history::ActiveModel {
    let mut active = row.into_active_model();
    active.id = NotSet;
    active
}

/// The inbox row of an event: how it was decided, and what is kept of it (see
/// [`crate::idempotency::stored`]).
pub(crate) fn inbox_row(
    event: &Event,
    source: Source,
    rejection: Option<&Rejection>,
    message: &str,
    version: i64,
    now: DateTime<Utc>,
) -> inbox::Model {
    inbox::Model {
        event_id: event.id.to_string(),
        proposal_key: event.proposal.to_string(),
        event_type: event.body.name().to_owned(),
        actor_agency: event.actor.agency.to_string(),
        outcome: if rejection.is_some() {
            "rejected"
        } else {
            "applied"
        }
        .to_owned(),
        code: rejection.map(|r| r.code.as_str().to_owned()),
        message: message.to_owned(),
        version,
        source: source.as_str().to_owned(),
        event: crate::idempotency::stored(event, rejection.map(|r| r.code)),
        recorded_at: now,
    }
}

/// The inbox row of an event held because `why` refuses it now: its id is decided as held
/// (a copy is a copy) until its final outcome replaces this row.
pub(crate) fn held_inbox_row(
    event: &Event,
    source: Source,
    why: &Rejection,
    version: i64,
    now: DateTime<Utc>,
) -> inbox::Model {
    inbox::Model {
        outcome: crate::held::HELD.to_owned(),
        ..inbox_row(event, source, Some(why), &why.message, version, now)
    }
}

/// The earliest running obligation of a task: what supervisors chase.
fn obligation(
    def: &Definition,
    task: &cohandle_workflows::model::Task,
) -> Option<(NaiveDate, String)> {
    task.deadlines
        .iter()
        .filter(|(name, d)| {
            !d.is_paused()
                && def
                    .deadlines
                    .get(*name)
                    .is_some_and(|r| r.kind == DeadlineKind::Obligation)
        })
        .map(|(name, d)| (d.due, name.clone()))
        .min()
}

/// The proposal row: its document and the columns queries filter on. The history columns
/// start at the chain's beginning; the writer sets them.
pub(crate) fn proposal_row(
    p: &Proposal,
    def: &Definition,
    jurisdiction: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<proposal::Model, Error> {
    let due_on = p
        .tasks
        .iter()
        .filter(|t| t.active)
        .filter_map(|t| obligation(def, t))
        .map(|(d, _)| d)
        .min();
    Ok(proposal::Model {
        key: p.key.to_string(),
        definition_name: p.definition.name.clone(),
        definition_version: p.definition.version as i32,
        jurisdiction: jurisdiction.to_owned(),
        kind: p.info.kind.as_str().to_owned(),
        number: p.info.number.clone(),
        session: p.info.session.clone(),
        title: p.info.title.clone(),
        people: std::iter::once(&p.info.lead_deputy)
            .chain(&p.info.co_signers)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        assigner: p.assigner.to_string(),
        mode: <&str>::from(p.mode).to_owned(),
        state: p.state.clone(),
        key_supervision: p.info.key_supervision,
        assigned_on: p.assigned_on,
        due_on,
        version,
        document: serde_json::to_string(p).map_err(|e| Error::Corrupt(e.to_string()))?,
        created_at: now,
        updated_at: now,
        history_seq: 0,
        history_hash: GENESIS.to_owned(),
    })
}

/// The task projection of a proposal, one row per task.
pub(crate) fn task_models(p: &Proposal, def: &Definition, jurisdiction: &str) -> Vec<task::Model> {
    p.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let due = obligation(def, t);
            task::Model {
                proposal_key: p.key.to_string(),
                position: i as i32,
                agency: t.agency.to_string(),
                role: t.role.as_str().to_owned(),
                state: t.state.clone(),
                active: t.active,
                terminal: def.machine(t.role.machine()).is_terminal(&t.state),
                due_on: due.as_ref().map(|d| d.0),
                due_deadline: due.map(|d| d.1),
                session: p.info.session.clone(),
                kind: p.info.kind.as_str().to_owned(),
                key_supervision: p.info.key_supervision,
                jurisdiction: jurisdiction.to_owned(),
            }
        })
        .collect()
}

/// A pending timer of proposal `key`.
pub(crate) fn timer_row(key: String, spec: TimerSpec) -> timer::ActiveModel {
    timer::ActiveModel {
        id: Set(spec.id),
        proposal_key: Set(key),
        agency: Set(spec.agency.to_string()),
        deadline: Set(spec.deadline),
        kind: Set(<&str>::from(spec.kind).to_owned()),
        due_on: Set(spec.due),
        generation: Set(spec.generation as i32),
        fire_at: Set(spec.fire_at),
        state: Set("pending".to_owned()),
        claimed_by: Set(None),
        claimed_at: Set(None),
        fired_at: Set(None),
        late: Set(false),
    }
}

#[cfg(test)]
mod tests {
    use cohandle_workflows::event::{Role, TimerKind};
    use cohandle_workflows::model::{
        AssignmentMode, DisclosureScope, Machine, ProposalKind, ResultClass, Satisfaction, TaskRole,
    };
    use serde::Serialize;

    /// The name stored for `value` reads back as it, and is the name the wire uses (serde).
    fn stored_as_on_the_wire<T>(values: &[T])
    where
        T: Copy + Serialize + std::fmt::Debug + PartialEq + std::str::FromStr,
        &'static str: From<T>,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for value in values {
            let stored = <&str>::from(*value);
            assert_eq!(serde_json::json!(stored), serde_json::json!(value));
            assert_eq!(stored.parse::<T>().expect("reads back"), *value);
        }
    }

    #[test]
    fn stored_names_are_the_wire_names() {
        use AssignmentMode::*;
        stored_as_on_the_wire(&[ProposalKind::DeputySuggestion, ProposalKind::CppccProposal]);
        stored_as_on_the_wire(&[Sole, LeadWithCoHandlers, Split]);
        stored_as_on_the_wire(&[TaskRole::Lead, TaskRole::CoHandler, TaskRole::Split]);
        stored_as_on_the_wire(&Machine::ALL);
        stored_as_on_the_wire(&[
            ResultClass::A,
            ResultClass::B,
            ResultClass::C,
            ResultClass::D,
        ]);
        stored_as_on_the_wire(&[
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Dissatisfied,
        ]);
        stored_as_on_the_wire(&[
            DisclosureScope::Full,
            DisclosureScope::Summary,
            DisclosureScope::Withheld,
        ]);
        stored_as_on_the_wire(&[TimerKind::Reminder, TimerKind::Expiry]);
        stored_as_on_the_wire(&Role::ALL);
    }
}
