//! Held events: an event that arrives before the step it depends on (a later step of a
//! proposal overtaking an earlier one, after a worker handover or across the two doors) is
//! held with its proposal instead of refused. The engine tries a proposal's held events
//! again, in arrival order, each time the proposal changes, in the same transaction; the
//! monitor ends the window of those that still do not fit ([`Expiring`], part of its claim),
//! and they are refused as they would have been at once.
//!
//! Which refusals may fit later is [`may_fit_later`]; everything else is final. The inbox
//! keeps a held event's id as `held` (a copy is a copy), and its final outcome replaces
//! `held` once, under the row lock of its `held_events` row.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cohandle_workflows::engine::may_be_allowed_later;
use cohandle_workflows::{Definition, Event, Proposal, Rejection, RejectionCode};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{held_event, inbox};
use crate::handle::{connection, Handle};
use crate::outcome::Source;
use crate::Error;

/// How long an event is held by default before it is refused (`engine.hold_window`).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Whether a refusal may turn into an application once an earlier step arrives, so that the
/// event is held rather than refused. `now` is the proposal as the event met it, with the
/// definition it runs under.
///
/// Held: an event for a proposal not assigned yet (`unknown_proposal`); one the proposal's
/// present state does not allow (`wrong_state`) while a state that allows it can still be
/// reached ([`may_be_allowed_later`]); one a guard refuses (`guard_failed`) — each what a
/// missing earlier step leaves. Only for events a sender sends through the bus or the API,
/// whose order a handover or the other door can change; the engine's own timers, the
/// command line, imports and replays are decided at once.
///
/// Final, whatever the door: a sender who may not send the event (`actor_not_allowed`), an
/// assignment of a proposal that exists (`already_exists`), content that breaks a rule
/// (`invalid_payload`, `unknown_task`, `clock_skew`, `calendar`), a step the proposal or
/// task is past for good (a second sign-for), and any event for a proposal merged into
/// another. Malformed messages, unknown senders and reused ids never reach the engine's
/// decision (dead letters, or the door's refusal of a reused key).
pub(crate) fn may_fit_later(
    source: Source,
    rejection: &Rejection,
    event: &Event,
    now: Option<(&Proposal, &Definition)>,
) -> bool {
    if !matches!(source, Source::Bus | Source::Api) {
        return false;
    }
    if now.is_some_and(|(proposal, _)| proposal.merged_into.is_some()) {
        return false;
    }
    match rejection.code {
        RejectionCode::UnknownProposal | RejectionCode::GuardFailed => true,
        RejectionCode::WrongState => {
            now.is_none_or(|(proposal, def)| may_be_allowed_later(def, proposal, event))
        }
        _ => false,
    }
}

/// A held event, as the engine works on it in one transaction.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    /// Its `held_events` row, when it was held by an earlier transaction.
    pub(crate) stored: Option<i64>,
    pub(crate) event: Event,
    pub(crate) source: Source,
    pub(crate) held_at: DateTime<Utc>,
    pub(crate) until: DateTime<Utc>,
    /// The refusal it would get now.
    pub(crate) why: Rejection,
}

impl Waiting {
    /// The row that keeps it held.
    pub(crate) fn row(&self) -> held_event::ActiveModel {
        held_event::ActiveModel {
            id: NotSet,
            event_id: Set(self.event.id.to_string()),
            proposal_key: Set(self.event.proposal.to_string()),
            event_type: Set(self.event.body.name().to_owned()),
            actor_agency: Set(self.event.actor.agency.to_string()),
            source: Set(self.source.as_str().to_owned()),
            code: Set(self.why.code.as_str().to_owned()),
            message: Set(self.why.message.clone()),
            event: Set(serde_json::to_string(&self.event).expect("events serialize")),
            held_at: Set(self.held_at),
            held_until: Set(self.until),
        }
    }

    fn read(row: held_event::Model) -> Result<Self, Error> {
        let corrupt = |what: String| Error::Corrupt(format!("held event {}: {what}", row.event_id));
        let event: Event = serde_json::from_str(&row.event).map_err(|e| corrupt(e.to_string()))?;
        let source = match row.source.as_str() {
            "bus" => Source::Bus,
            "api" => Source::Api,
            other => return Err(corrupt(format!("held from an unknown door {other:?}"))),
        };
        let code: RejectionCode = serde_json::from_value(serde_json::Value::String(row.code))
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            stored: Some(row.id),
            event,
            source,
            held_at: row.held_at,
            until: row.held_until,
            why: Rejection::new(code, row.message),
        })
    }
}

/// The held events of `keys`' proposals, each list in arrival order. On PostgreSQL their
/// rows are locked (in arrival order): the one transaction that decides a held event for
/// good deletes its row, so no other decides it again.
pub(crate) async fn load(
    txn: &DatabaseTransaction,
    keys: &[&str],
) -> Result<HashMap<String, Vec<Waiting>>, Error> {
    let mut held: HashMap<String, Vec<Waiting>> = HashMap::new();
    let rows = crate::bulk::find_by_keys::<held_event::Entity, _>(
        txn,
        held_event::Column::ProposalKey,
        keys,
        "ORDER BY id FOR UPDATE",
    )
    .await?;
    let mut rows = rows;
    rows.sort_by_key(|row| row.id);
    for row in rows {
        let waiting = Waiting::read(row)?;
        held.entry(waiting.event.proposal.to_string())
            .or_default()
            .push(waiting);
    }
    Ok(held)
}

/// Deletes the rows of held events decided for good.
pub(crate) async fn forget(txn: &DatabaseTransaction, ids: Vec<i64>) -> Result<(), Error> {
    for chunk in ids.chunks(500) {
        held_event::Entity::delete_many()
            .filter(held_event::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Replaces `held` with an event's final outcome in its inbox row: once, or the batch is
/// decided again (another transaction decided it first).
pub(crate) async fn settle_inbox(
    txn: &DatabaseTransaction,
    rows: Vec<inbox::Model>,
) -> Result<(), Error> {
    use sea_orm::sea_query::Expr;

    for row in rows {
        let updated = inbox::Entity::update_many()
            .col_expr(inbox::Column::Outcome, Expr::value(row.outcome))
            .col_expr(inbox::Column::Code, Expr::value(row.code))
            .col_expr(inbox::Column::Message, Expr::value(row.message))
            .col_expr(inbox::Column::Version, Expr::value(row.version))
            .col_expr(inbox::Column::Event, Expr::value(row.event))
            .col_expr(inbox::Column::RecordedAt, Expr::value(row.recorded_at))
            .filter(inbox::Column::EventId.eq(row.event_id))
            .filter(inbox::Column::Outcome.eq(HELD))
            .exec(txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Conflict);
        }
    }
    Ok(())
}

/// The inbox's outcome for an event held now.
pub(crate) const HELD: &str = "held";

/// Held events whose window has ended by the claim's moment, taken in the monitor's claim
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so monitors never share one) and decided for good
/// in its transaction: applied if they fit now, else refused and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub event_id: String,
    pub proposal_key: String,
}

/// Up to `limit` held events whose window ended by `now`, oldest first, not of the
/// proposals to avoid.
pub(crate) async fn expiring(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    avoid: &[String],
) -> Result<Vec<Expiring>, Error> {
    let mut due = held_event::Entity::find()
        .filter(held_event::Column::HeldUntil.lte(now))
        .order_by_asc(held_event::Column::HeldUntil)
        .order_by_asc(held_event::Column::Id)
        .limit(limit);
    if !avoid.is_empty() {
        due = due.filter(held_event::Column::ProposalKey.is_not_in(avoid.iter().cloned()));
    }
    if db.get_database_backend() == DatabaseBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(due
        .all(db)
        .await?
        .into_iter()
        .map(|row| Expiring {
            event_id: row.event_id,
            proposal_key: row.proposal_key,
        })
        .collect())
}

/// A held event as the operators and the API see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldEvent {
    pub event_id: String,
    pub proposal_key: String,
    pub event_type: String,
    /// The sender's agency.
    pub agency: String,
    /// The door it came through.
    pub source: String,
    /// The refusal it would get now, and why.
    pub code: String,
    pub message: String,
    pub held_at: DateTime<Utc>,
    /// When it is refused if it still does not fit.
    pub until: DateTime<Utc>,
}

impl From<held_event::Model> for HeldEvent {
    fn from(row: held_event::Model) -> Self {
        Self {
            event_id: row.event_id,
            proposal_key: row.proposal_key,
            event_type: row.event_type,
            agency: row.actor_agency,
            source: row.source,
            code: row.code,
            message: row.message,
            held_at: row.held_at,
            until: row.held_until,
        }
    }
}

/// Which held events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The sender.
    pub agency: Option<String>,
    pub proposal: Option<String>,
    /// Only those held at or after this moment.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, in arrival order; `None`: all.
    pub limit: Option<u64>,
}

/// The held events `filter` selects, in arrival order. Reading changes nothing.
pub async fn list(store: &impl Handle, filter: &Filter) -> Result<Vec<HeldEvent>, Error> {
    let mut find = held_event::Entity::find().order_by_asc(held_event::Column::Id);
    if let Some(agency) = &filter.agency {
        find = find.filter(held_event::Column::ActorAgency.eq(agency.as_str()));
    }
    if let Some(proposal) = &filter.proposal {
        find = find.filter(held_event::Column::ProposalKey.eq(proposal.as_str()));
    }
    if let Some(since) = filter.since {
        find = find.filter(held_event::Column::HeldAt.gte(since));
    }
    if let Some(limit) = filter.limit {
        find = find.limit(limit);
    }
    Ok(find
        .all(connection(store))
        .await?
        .into_iter()
        .map(HeldEvent::from)
        .collect())
}

/// How many events are held now (the roles' gauge).
pub async fn count(store: &impl Handle) -> Result<u64, Error> {
    Ok(held_event::Entity::find().count(connection(store)).await?)
}
