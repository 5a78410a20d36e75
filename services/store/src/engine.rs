//! The one path for every state change. Whatever the door (bus, API, timer, CLI), an event
//! goes through [`Engine::apply_batch`]: load the proposal, let the domain decide, and write
//! the state (version-checked), history, inbox, outbox and timers in ONE transaction.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use cohandle_workflows::definition::DeadlineKind;
use cohandle_workflows::engine::{china_date, Change, Effect, Notification, Recipient};
use cohandle_workflows::model::{ContactMethod, DisclosureScope};
use cohandle_workflows::{
    apply, Body, Calendar, Catalog, Definition, Event, Proposal, Rejection, RejectionCode,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::bulk::{self, Conflict};
use crate::clock::Clock;
use crate::entities::{disclosure, feedback, history, inbox, outbox, proposal, reply, task, timer};
use crate::history::{row_hash, GENESIS};
use crate::statistics::Deltas;
use crate::Error;

/// How often a batch is retried when a concurrent writer changed one of its proposals.
const MAX_ATTEMPTS: u32 = 50;

/// The door an event came through, kept in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Bus,
    Api,
    Timer,
    Cli,
    Replay,
    /// Past cases brought in with their historical times (`cohandle demo`, imports): each
    /// event is decided at the time it gives, never later than the clock, and marked so in
    /// the inbox. No door that takes input from outside uses it.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bus => "bus",
            Self::Api => "api",
            Self::Timer => "timer",
            Self::Cli => "cli",
            Self::Replay => "replay",
            Self::Import => "import",
        }
    }

    /// The moment an event is decided and recorded at: the engine's clock, except for the
    /// engine's own timers (their scheduled moment, when the monitor runs late) and imports
    /// (the time they give). Either is capped by the clock.
    pub fn decided_at(self, event: &Event, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Timer | Self::Import => event.occurred_at.trunc_subsecs(6).min(now),
            Self::Bus | Self::Api | Self::Cli | Self::Replay => now,
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        version: i64,
        state: String,
        changes: Vec<Change>,
    },
    Rejected(Rejection),
    /// The event id was seen before; nothing changed. Carries the first outcome.
    Duplicate(Recorded),
}

/// An outcome as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub applied: bool,
    pub code: Option<String>,
    pub message: String,
    pub version: i64,
    /// Whether the copy is the same request as the first event with its id (see
    /// [`crate::idempotency::same_request`]). False: the id was reused for another event,
    /// which every door refuses (`idempotency_key_reused`, `event_id_reused`).
    pub same_request: bool,
}

impl Outcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }
}

/// Timers fired in one pass, with the outcome of each one's event.
#[derive(Debug, Default)]
pub struct FiredTimers {
    pub timers: Vec<timer::Model>,
    pub outcomes: Vec<Outcome>,
    /// How many fired later than [`crate::monitor::LATE_AFTER`] after their moment.
    pub late: usize,
    /// Due timers taken but left pending for a later pass: their proposal was being
    /// changed by another transaction.
    pub busy: usize,
}

/// PostgreSQL: locks the proposals of the timers taken, in key order and without waiting
/// (`FOR UPDATE SKIP LOCKED`), and returns those that exist but are held elsewhere (a
/// proposal that does not exist is no obstacle: its timers' events are refused and
/// recorded).
async fn busy_proposals(
    txn: &DatabaseTransaction,
    taken: &[timer::Model],
) -> Result<Vec<String>, Error> {
    let mut keys: Vec<&str> = taken.iter().map(|t| t.proposal_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let locked = proposal_keys(txn, "ORDER BY key FOR UPDATE SKIP LOCKED", &keys).await?;
    if locked.len() == keys.len() {
        return Ok(Vec::new());
    }
    let others: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !locked.contains(*k))
        .collect();
    Ok(proposal_keys(txn, "", &others).await?.into_iter().collect())
}

/// PostgreSQL: which of `keys` are stored proposals (`lock`: the clause that locks them).
async fn proposal_keys(
    txn: &DatabaseTransaction,
    lock: &str,
    keys: &[&str],
) -> Result<std::collections::HashSet<String>, Error> {
    if keys.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let rows = txn
        .query_all(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT key FROM proposals WHERE key = ANY($1) {lock}"),
            [bulk::text_array(keys.iter().copied())],
        ))
        .await?;
    rows.into_iter()
        .map(|row| row.try_get::<String>("", "key").map_err(Error::from))
        .collect()
}

/// Marks timers fired (by `owner`, late or not); returns how many were late.
async fn mark_fired(
    txn: &DatabaseTransaction,
    owner: &str,
    rows: &[timer::Model],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    use sea_orm::sea_query::Expr;

    let late_before = now - crate::monitor::LATE_AFTER;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let sql =
            "UPDATE timers SET state = 'fired', fired_at = $1, claimed_at = $1, claimed_by = $2, \
                   late = (fire_at < $3) WHERE id = ANY($4)";
        txn.execute(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql,
            [
                now.into(),
                owner.into(),
                late_before.into(),
                bulk::text_array(rows.iter().map(|t| t.id.as_str())),
            ],
        ))
        .await?;
        return Ok(rows.iter().filter(|t| t.fire_at < late_before).count());
    }
    let mut late_count = 0;
    for late in [false, true] {
        let ids: Vec<String> = rows
            .iter()
            .filter(|t| (t.fire_at < late_before) == late)
            .map(|t| t.id.clone())
            .collect();
        if late {
            late_count = ids.len();
        }
        for chunk in ids.chunks(500) {
            timer::Entity::update_many()
                .col_expr(timer::Column::State, Expr::value("fired"))
                .col_expr(timer::Column::FiredAt, Expr::value(now))
                .col_expr(timer::Column::ClaimedBy, Expr::value(owner))
                .col_expr(timer::Column::ClaimedAt, Expr::value(now))
                .col_expr(timer::Column::Late, Expr::value(late))
                .filter(timer::Column::Id.is_in(chunk.iter().cloned()))
                .exec(txn)
                .await?;
        }
    }
    Ok(late_count)
}

/// The engine: cheap to clone, shared by every role.
#[derive(Debug, Clone)]
pub struct Engine {
    db: DatabaseConnection,
    catalog: Arc<Catalog>,
    calendar: Arc<RwLock<Calendars>>,
    clock: Arc<dyn Clock>,
}

/// The calendar an engine counts working days with: its base corrected by the holiday files
/// loaded into the database (see [`crate::calendars`]), looked up again now and then.
#[derive(Debug)]
struct Calendars {
    base: Arc<Calendar>,
    current: Arc<Calendar>,
    /// The newest loaded file `current` includes.
    newest: i64,
    /// When the database was last asked; `None`: not yet. Never, for a fixed calendar.
    checked: Option<Instant>,
    follows_database: bool,
}

/// A proposal as read in this transaction, and what the batch did to it.
struct Loaded {
    proposal: Option<Proposal>,
    /// The proposal as read, to write only the task rows that changed.
    original: Option<Proposal>,
    version_read: i64,
    version: i64,
    exists: bool,
    seq: i64,
    last_hash: String,
    dirty: bool,
}

/// Everything a batch writes, collected before the writes.
#[derive(Default)]
struct Writes {
    history: Vec<history::ActiveModel>,
    inbox: Vec<inbox::ActiveModel>,
    outbox: Vec<outbox::ActiveModel>,
    timer_effects: Vec<(String, Effect)>,
    replies: Vec<reply::ActiveModel>,
    feedback: Vec<feedback::ActiveModel>,
    disclosures: Vec<disclosure::ActiveModel>,
    statistics: Deltas,
}

impl Engine {
    pub fn new(
        db: DatabaseConnection,
        catalog: Arc<Catalog>,
        calendar: Arc<Calendar>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            catalog,
            calendar: Arc::new(RwLock::new(Calendars {
                base: calendar.clone(),
                current: calendar,
                newest: 0,
                checked: None,
                follows_database: true,
            })),
            clock,
        }
    }

    /// The same engine computing deadlines with exactly this calendar, whatever holiday
    /// files the database holds.
    pub fn with_calendar(&self, calendar: Arc<Calendar>) -> Self {
        Self {
            calendar: Arc::new(RwLock::new(Calendars {
                base: calendar.clone(),
                current: calendar,
                newest: 0,
                checked: None,
                follows_database: false,
            })),
            ..self.clone()
        }
    }

    /// Rebuilds the calendar when a holiday file was loaded since it was last built.
    pub async fn refresh_calendar(&self) -> Result<(), Error> {
        let (base, seen) = {
            let state = self.calendars();
            (state.base.clone(), state.newest)
        };
        let newest = crate::calendars::newest(&self.db).await?;
        let rebuilt = if newest == seen {
            None
        } else {
            Some(crate::calendars::build(&self.db, &base).await?)
        };
        let mut state = self
            .calendar
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((calendar, newest)) = rebuilt {
            tracing::info!(newest, years = ?calendar.years(), "holiday calendar reloaded");
            state.current = Arc::new(calendar);
            state.newest = newest;
        }
        state.checked = Some(Instant::now());
        Ok(())
    }

    /// Looks for a newly loaded holiday file at most every [`crate::calendars::REFRESH`]. A
    /// failed look keeps the calendar as it is (the batch's own queries report the database).
    pub async fn keep_calendar_current(&self) {
        let due = {
            let state = self.calendars();
            state.follows_database
                && state
                    .checked
                    .is_none_or(|at| at.elapsed() >= crate::calendars::REFRESH)
        };
        if due {
            if let Err(error) = self.refresh_calendar().await {
                tracing::warn!(%error, "could not look for newly loaded holiday files");
                let mut state = self
                    .calendar
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                state.checked = Some(Instant::now());
            }
        }
    }

    fn calendars(&self) -> std::sync::RwLockReadGuard<'_, Calendars> {
        self.calendar.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The calendar as last built: the base and every holiday file loaded when it was built.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendars().current.clone()
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Applies one event.
    #[instrument(skip_all, fields(proposal = %event.proposal, event_id = %event.id, event = event.body.name()))]
    pub async fn apply(&self, event: Event, source: Source) -> Result<Outcome, Error> {
        let mut outcomes = self.apply_batch(vec![event], source).await?;
        Ok(outcomes.pop().expect("one outcome per event"))
    }

    /// Applies many events in one transaction and returns one outcome per event, in order.
    /// A rejection never rolls back the others; events for one proposal apply in order.
    #[instrument(skip_all, fields(events = events.len(), source = source.as_str()))]
    pub async fn apply_batch(
        &self,
        events: Vec<Event>,
        source: Source,
    ) -> Result<Vec<Outcome>, Error> {
        self.keep_calendar_current().await;
        for attempt in 1..=MAX_ATTEMPTS {
            let txn = self.db.begin().await?;
            match self.decide_and_write(&txn, &events, source).await {
                Ok(outcomes) => match txn.commit().await {
                    Ok(()) => return Ok(outcomes),
                    Err(error) => match Error::from(error) {
                        Error::Conflict => continue,
                        other => return Err(other),
                    },
                },
                Err(Error::Conflict) => {
                    txn.rollback().await?;
                    tracing::debug!(attempt, "batch overtaken by a concurrent change; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::TooManyConflicts(MAX_ATTEMPTS))
    }

    /// Fires up to `limit` due timers, oldest first: takes them (PostgreSQL: `FOR UPDATE
    /// SKIP LOCKED`), applies their `TimerFired` events and marks them fired by `owner`, in
    /// one transaction.
    pub async fn fire_due_timers(&self, owner: &str, limit: u64) -> Result<FiredTimers, Error> {
        // Proposals found held by another transaction, whose timers this pass leaves alone.
        let mut avoid: Vec<String> = Vec::new();
        let mut busy = 0;
        self.keep_calendar_current().await;
        for attempt in 1..=MAX_ATTEMPTS {
            let txn = self.db.begin().await?;
            let now = self.clock.now().trunc_subsecs(6);
            let mut due = timer::Entity::find()
                .filter(timer::Column::State.eq("pending"))
                .filter(timer::Column::FireAt.lte(now))
                .order_by_asc(timer::Column::State)
                .order_by_asc(timer::Column::FireAt)
                .order_by_asc(timer::Column::Id)
                .limit(limit);
            if !avoid.is_empty() {
                due = due.filter(timer::Column::ProposalKey.is_not_in(avoid.iter().cloned()));
            }
            let postgres = txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
            if postgres {
                due = due.lock_with_behavior(
                    sea_orm::sea_query::LockType::Update,
                    sea_orm::sea_query::LockBehavior::SkipLocked,
                );
            }
            let timers = due.all(&txn).await?;
            if postgres && !timers.is_empty() {
                // A claimer keeps no timer of a proposal another transaction holds (that one
                // may be cancelling it, and would wait for this one): such a page is given
                // back whole and taken again without those proposals.
                let held = busy_proposals(&txn, &timers).await?;
                if !held.is_empty() {
                    busy += timers
                        .iter()
                        .filter(|t| held.contains(&t.proposal_key))
                        .count();
                    txn.rollback().await?;
                    avoid.extend(held);
                    continue;
                }
            }
            if timers.is_empty() {
                txn.commit().await?;
                return Ok(FiredTimers {
                    busy,
                    ..FiredTimers::default()
                });
            }
            let events = timers
                .iter()
                .map(crate::monitor::timer_event)
                .collect::<Result<Vec<_>, _>>()?;
            // Marked before the decisions, so that the counters stay the transaction's last
            // write (every batch touching the same agencies waits on them until the commit).
            let late = mark_fired(&txn, owner, &timers, now).await?;
            match self.decide_and_write(&txn, &events, Source::Timer).await {
                Ok(outcomes) => match txn.commit().await {
                    Ok(()) => {
                        return Ok(FiredTimers {
                            timers,
                            outcomes,
                            late,
                            busy,
                        })
                    }
                    Err(error) => match Error::from(error) {
                        Error::Conflict => continue,
                        other => return Err(other),
                    },
                },
                Err(Error::Conflict) => {
                    txn.rollback().await?;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::TooManyConflicts(MAX_ATTEMPTS))
    }

    async fn decide_and_write(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
        source: Source,
    ) -> Result<Vec<Outcome>, Error> {
        let now = self.clock.now().trunc_subsecs(6);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        // Each decided id with its first outcome and event (`None`: a row that does not read
        // back, whose copies count as the same request).
        let mut seen: HashMap<String, (Recorded, Option<Event>)> =
            bulk::find_by_keys::<inbox::Entity, _>(txn, inbox::Column::EventId, &ids, "")
                .await?
                .into_iter()
                .map(|row| {
                    let first = serde_json::from_str(&row.event).ok();
                    (row.event_id.clone(), (recorded(&row), first))
                })
                .collect();
        // Lock every proposal of the batch in key order first: two batches that share
        // proposals then queue instead of deadlocking.
        let mut keys: Vec<&str> = events.iter().map(|e| e.proposal.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut loaded = load_many(txn, &keys).await?;
        let calendar = self.calendar();
        let mut writes = Writes::default();
        let mut outcomes = Vec::with_capacity(events.len());

        for event in events {
            if let Some((first, first_event)) = seen.get(event.id.as_str()) {
                let same_request = first_event
                    .as_ref()
                    .is_none_or(|first| crate::idempotency::same_request(first, event));
                outcomes.push(Outcome::Duplicate(Recorded {
                    same_request,
                    ..first.clone()
                }));
                continue;
            }
            let key = event.proposal.to_string();
            let entry = loaded
                .get_mut(&key)
                .expect("every proposal of the batch is loaded");
            let decided_at = source.decided_at(event, now);
            let decided = self
                .definition_for(entry.proposal.as_ref(), event)
                .and_then(|def| {
                    apply(&def, &calendar, entry.proposal.as_ref(), event, decided_at)
                        .map(|d| (def, d))
                });
            let outcome = match decided {
                Ok((def, decision)) => {
                    entry.version += 1;
                    entry.dirty = true;
                    for change in &decision.changes {
                        entry.seq += 1;
                        let row = history_row(
                            event,
                            change,
                            entry.seq,
                            &entry.last_hash,
                            now,
                            def.version,
                        );
                        entry.last_hash = row.hash.clone();
                        writes.history.push(history_active(row));
                    }
                    project(
                        &mut writes,
                        entry.proposal.as_ref(),
                        &decision.proposal,
                        event,
                        china_date(decided_at),
                    );
                    for (n, effect) in decision.effects.iter().enumerate() {
                        match effect {
                            Effect::Notify(notification) => {
                                writes
                                    .outbox
                                    .push(notification_row(event, n, notification, now));
                            }
                            _ => writes.timer_effects.push((key.clone(), effect.clone())),
                        }
                    }
                    let state = decision.proposal.state.clone();
                    entry.proposal = Some(decision.proposal);
                    writes.inbox.push(inbox_row(
                        event,
                        source,
                        None,
                        &format!("applied; proposal is {state}"),
                        entry.version,
                        now,
                    ));
                    Outcome::Applied {
                        version: entry.version,
                        state,
                        changes: decision.changes,
                    }
                }
                Err(rejection) => {
                    writes.inbox.push(inbox_row(
                        event,
                        source,
                        Some(&rejection),
                        &rejection.message,
                        entry.version,
                        now,
                    ));
                    writes.outbox.push(rejection_row(event, &rejection, now));
                    Outcome::Rejected(rejection)
                }
            };
            seen.insert(
                event.id.to_string(),
                (
                    recorded_outcome(&outcome, entry.version),
                    Some(event.clone()),
                ),
            );
            outcomes.push(outcome);
        }

        self.write(txn, loaded, writes, now).await?;
        Ok(outcomes)
    }

    fn definition_for(
        &self,
        current: Option<&Proposal>,
        event: &Event,
    ) -> Result<Arc<Definition>, Rejection> {
        let found = match (current, &event.body) {
            (Some(p), _) => self.catalog.get(&p.definition),
            (None, Body::Assign(a)) => self.catalog.latest(&a.definition),
            (None, _) => {
                return Err(Rejection::new(
                    RejectionCode::UnknownProposal,
                    format!(
                        "proposal {} has not been assigned yet; an event for it before its assignment is refused and can be replayed once the assignment is in",
                        event.proposal
                    ),
                ))
            }
        };
        found.map_err(|e| Rejection::new(RejectionCode::InvalidPayload, e.to_string()))
    }

    async fn write(
        &self,
        txn: &DatabaseTransaction,
        loaded: HashMap<String, Loaded>,
        writes: Writes,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut updates = Vec::new();
        let mut inserts = Vec::new();
        let mut tasks = Vec::new();
        let mut deltas = writes.statistics;
        let mut entries: Vec<(&String, &Loaded)> = loaded.iter().filter(|(_, e)| e.dirty).collect();
        entries.sort_by_key(|(key, _)| *key);
        for (_, entry) in entries {
            let proposal = entry
                .proposal
                .as_ref()
                .expect("dirty entries hold a proposal");
            let def = self
                .catalog
                .get(&proposal.definition)
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            let mut row = proposal_row(proposal, &def, entry.version, now)?;
            row.history_seq = entry.seq;
            row.history_hash = entry.last_hash.clone();
            let before = entry
                .original
                .as_ref()
                .map(|p| task_models(p, &def))
                .unwrap_or_default();
            let after = task_models(proposal, &def);
            deltas.tasks(&before, &after);
            tasks.extend(
                after
                    .into_iter()
                    .filter(|t| !before.contains(t))
                    .map(task_active),
            );
            if entry.exists {
                updates.push((row, entry.version_read));
            } else {
                inserts.push(proposal_active(row));
            }
        }
        update_proposals(txn, updates).await?;
        bulk::insert(txn, inserts, Conflict::Fail).await?;
        bulk::insert(txn, tasks, Conflict::Update(&["proposal_key", "position"])).await?;
        bulk::insert(txn, writes.history, Conflict::Fail).await?;
        bulk::insert(txn, writes.inbox, Conflict::Fail).await?;
        bulk::insert(txn, writes.outbox, Conflict::Fail).await?;
        // Timer effects in order: a cancellation drops what this batch scheduled before it
        // (in memory) and, in one statement, what was stored before the batch.
        let mut schedule: Vec<(String, cohandle_workflows::engine::TimerSpec)> = Vec::new();
        let mut cancel_one: Vec<[String; 3]> = Vec::new();
        let mut cancel_all: Vec<[String; 2]> = Vec::new();
        for (key, effect) in writes.timer_effects {
            match effect {
                Effect::ScheduleTimer(spec) => schedule.push((key, spec)),
                Effect::CancelTimers { agency, deadline } => {
                    schedule.retain(|(k, t)| {
                        !(k == &key
                            && t.agency == agency
                            && deadline.as_ref().is_none_or(|d| d == &t.deadline))
                    });
                    match deadline {
                        Some(deadline) => cancel_one.push([key, agency.to_string(), deadline]),
                        None => cancel_all.push([key, agency.to_string()]),
                    }
                }
                Effect::Notify(_) => {}
            }
        }
        cancel_timers(txn, ["proposal_key", "agency", "deadline"], cancel_one).await?;
        cancel_timers(txn, ["proposal_key", "agency"], cancel_all).await?;
        let rows = schedule
            .into_iter()
            .map(|(key, spec)| timer::ActiveModel {
                id: Set(spec.id),
                proposal_key: Set(key),
                agency: Set(spec.agency.to_string()),
                deadline: Set(spec.deadline),
                kind: Set(timer_kind(spec.kind).to_owned()),
                due_on: Set(spec.due),
                generation: Set(spec.generation as i32),
                fire_at: Set(spec.fire_at),
                state: Set("pending".to_owned()),
                claimed_by: Set(None),
                claimed_at: Set(None),
                fired_at: Set(None),
                late: Set(false),
            })
            .collect();
        bulk::insert(txn, rows, Conflict::Ignore(&["id"])).await?;
        let by_round = Conflict::Update(&["proposal_key", "agency", "round"]);
        bulk::insert(txn, writes.replies, by_round).await?;
        bulk::insert(txn, writes.feedback, by_round).await?;
        let by_agency = Conflict::Update(&["proposal_key", "agency"]);
        bulk::insert(txn, writes.disclosures, by_agency).await?;
        // Last, so that the counter rows every writer shares stay locked the least time.
        crate::statistics::apply(txn, &deltas).await?;
        Ok(())
    }

    /// The stored proposal and its version.
    pub async fn load(&self, key: &str) -> Result<Option<(Proposal, i64)>, Error> {
        let mut loaded = load_many(&self.db, &[key]).await?;
        Ok(loaded
            .remove(key)
            .and_then(|entry| entry.proposal.map(|p| (p, entry.version))))
    }
}

/// A random pause that grows with the attempt, so that writers who collided spread out.
fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let ceiling_micros = 500u64 << attempt.min(7);
    std::time::Duration::from_micros(random % ceiling_micros)
}

/// Reads (and on PostgreSQL locks, in key order) the proposals of a batch in one query.
async fn load_many(
    db: &impl ConnectionTrait,
    keys: &[&str],
) -> Result<HashMap<String, Loaded>, Error> {
    let rows = bulk::find_by_keys::<proposal::Entity, _>(
        db,
        proposal::Column::Key,
        keys,
        "ORDER BY key FOR UPDATE",
    )
    .await?;
    let mut loaded = HashMap::with_capacity(keys.len());
    for row in rows {
        let proposal: Proposal = serde_json::from_str(&row.document)
            .map_err(|e| Error::Corrupt(format!("proposal {}: {e}", row.key)))?;
        loaded.insert(
            row.key.clone(),
            Loaded {
                original: Some(proposal.clone()),
                proposal: Some(proposal),
                version_read: row.version,
                version: row.version,
                exists: true,
                seq: row.history_seq,
                last_hash: row.history_hash,
                dirty: false,
            },
        );
    }
    for key in keys {
        loaded.entry((*key).to_owned()).or_insert_with(|| Loaded {
            proposal: None,
            original: None,
            version_read: 0,
            version: 0,
            exists: false,
            seq: 0,
            last_hash: GENESIS.to_owned(),
            dirty: false,
        });
    }
    Ok(loaded)
}

/// Version-checked updates of many proposals in one statement: a row whose version moved
/// on (a concurrent writer won) is not updated, and the batch is decided again.
async fn update_proposals(
    txn: &DatabaseTransaction,
    rows: Vec<(proposal::Model, i64)>,
) -> Result<(), Error> {
    use sea_orm::{DatabaseBackend, Statement, Value};

    const COLUMNS: &str = "key, version_read, state, due_on, version, document, updated_at, history_seq, history_hash";
    const SET: &str =
        "state = v.state, due_on = v.due_on, version = v.version, document = v.document, \
         updated_at = v.updated_at, history_seq = v.history_seq, history_hash = v.history_hash";
    let backend = txn.get_database_backend();
    if rows.is_empty() {
        return Ok(());
    }
    if backend == DatabaseBackend::Postgres {
        let records: Vec<serde_json::Value> = rows
            .iter()
            .map(|(row, version_read)| {
                serde_json::json!({
                    "key": row.key,
                    "version_read": version_read,
                    "state": row.state,
                    "due_on": row.due_on,
                    "version": row.version,
                    "document": row.document,
                    "updated_at": row.updated_at,
                    "history_seq": row.history_seq,
                    "history_hash": row.history_hash,
                })
            })
            .collect();
        let sql = format!(
            "UPDATE proposals SET {SET} FROM json_to_recordset($1::json) AS v(key text, version_read bigint, \
             state text, due_on date, version bigint, document text, updated_at timestamptz, \
             history_seq bigint, history_hash text) \
             WHERE proposals.key = v.key AND proposals.version = v.version_read"
        );
        let payload = serde_json::Value::Array(records).to_string();
        let updated = txn
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(payload)],
            ))
            .await?
            .rows_affected();
        if updated != rows.len() as u64 {
            return Err(Error::Conflict);
        }
        return Ok(());
    }
    // SQLite names the columns of a VALUES list itself, so there the rows come as SELECTs.
    let names: Vec<&str> = COLUMNS.split(", ").collect();
    for chunk in rows.chunks(200) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 9);
        let mut selects = Vec::with_capacity(chunk.len());
        for (row, version_read) in chunk {
            let fields: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    format!("{} AS {name}", placeholder(backend, values.len() + i + 1))
                })
                .collect();
            selects.push(format!("SELECT {}", fields.join(", ")));
            values.extend([
                row.key.clone().into(),
                (*version_read).into(),
                row.state.clone().into(),
                row.due_on.into(),
                row.version.into(),
                row.document.clone().into(),
                row.updated_at.into(),
                row.history_seq.into(),
                row.history_hash.clone().into(),
            ]);
        }
        let sql = format!(
            "UPDATE proposals SET {SET} FROM ({}) AS v \
             WHERE proposals.key = v.key AND proposals.version = v.version_read",
            selects.join(" UNION ALL ")
        );
        let updated = txn
            .execute(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
        if updated != chunk.len() as u64 {
            return Err(Error::Conflict);
        }
    }
    Ok(())
}

/// `$n` on PostgreSQL, `?n` on SQLite.
pub(crate) fn placeholder(backend: sea_orm::DatabaseBackend, n: usize) -> String {
    match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// Rows as a list of `(…, …)` tuples of placeholders, with their values in order.
pub(crate) fn value_tuples<const N: usize>(
    backend: sea_orm::DatabaseBackend,
    rows: &[[sea_orm::Value; N]],
) -> (String, Vec<sea_orm::Value>) {
    let mut values = Vec::with_capacity(rows.len() * N);
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let marks: Vec<String> = (1..=N)
            .map(|i| placeholder(backend, values.len() + i))
            .collect();
        tuples.push(format!("({})", marks.join(", ")));
        values.extend(row.iter().cloned());
    }
    (tuples.join(", "), values)
}

/// Cancels the pending timers whose `columns` match one of `keys`, in few statements.
async fn cancel_timers<const N: usize>(
    txn: &DatabaseTransaction,
    columns: [&str; N],
    keys: Vec<[String; N]>,
) -> Result<(), Error> {
    use sea_orm::{Statement, Value};

    if keys.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    if backend == sea_orm::DatabaseBackend::Postgres {
        // One array per column, joined on the timers_task index: one statement text for any
        // number of keys.
        let arrays: Vec<String> = (1..=N).map(|i| format!("${i}::text[]")).collect();
        let matches: Vec<String> = columns
            .iter()
            .map(|c| format!("timers.{c} = c.{c}"))
            .collect();
        let sql = format!(
            "UPDATE timers SET state = 'cancelled' FROM unnest({}) AS c({}) \
             WHERE timers.state = 'pending' AND {}",
            arrays.join(", "),
            columns.join(", "),
            matches.join(" AND ")
        );
        let values: Vec<Value> = (0..N)
            .map(|i| bulk::text_array(keys.iter().map(|k| k[i].clone())))
            .collect();
        txn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        return Ok(());
    }
    let keys: Vec<[Value; N]> = keys.into_iter().map(|k| k.map(Value::from)).collect();
    for chunk in keys.chunks(300) {
        let (tuples, values) = value_tuples(backend, chunk);
        let sql = format!(
            "UPDATE timers SET state = 'cancelled' WHERE state = 'pending' AND ({}) IN ({tuples})",
            columns.join(", ")
        );
        txn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

fn recorded(row: &inbox::Model) -> Recorded {
    Recorded {
        applied: row.outcome == "applied",
        code: row.code.clone(),
        message: row.message.clone(),
        version: row.version,
        same_request: true,
    }
}

fn recorded_outcome(outcome: &Outcome, version: i64) -> Recorded {
    match outcome {
        Outcome::Applied { state, .. } => Recorded {
            applied: true,
            code: None,
            message: format!("applied; proposal is {state}"),
            version,
            same_request: true,
        },
        Outcome::Rejected(r) => Recorded {
            applied: false,
            code: Some(r.code.as_str().to_owned()),
            message: r.message.clone(),
            version,
            same_request: true,
        },
        Outcome::Duplicate(first) => first.clone(),
    }
}

fn timer_kind(kind: cohandle_workflows::event::TimerKind) -> &'static str {
    match kind {
        cohandle_workflows::event::TimerKind::Reminder => "reminder",
        cohandle_workflows::event::TimerKind::Expiry => "expiry",
    }
}

fn history_row(
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

fn history_active(m: history::Model) -> history::ActiveModel {
    {
        history::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            proposal_key: Set(m.proposal_key),
            seq: Set(m.seq),
            event_id: Set(m.event_id),
            event_type: Set(m.event_type),
            machine: Set(m.machine),
            agency: Set(m.agency),
            from_state: Set(m.from_state),
            to_state: Set(m.to_state),
            actor_agency: Set(m.actor_agency),
            actor_role: Set(m.actor_role),
            occurred_at: Set(m.occurred_at),
            recorded_at: Set(m.recorded_at),
            definition_version: Set(m.definition_version),
            payload: Set(m.payload),
            detail: Set(m.detail),
            prev_hash: Set(m.prev_hash),
            hash: Set(m.hash),
        }
    }
}

fn inbox_row(
    event: &Event,
    source: Source,
    rejection: Option<&Rejection>,
    message: &str,
    version: i64,
    now: DateTime<Utc>,
) -> inbox::ActiveModel {
    inbox::ActiveModel {
        event_id: Set(event.id.to_string()),
        proposal_key: Set(event.proposal.to_string()),
        event_type: Set(event.body.name().to_owned()),
        actor_agency: Set(event.actor.agency.to_string()),
        outcome: Set(if rejection.is_some() {
            "rejected"
        } else {
            "applied"
        }
        .to_owned()),
        code: Set(rejection.map(|r| r.code.as_str().to_owned())),
        message: Set(message.to_owned()),
        version: Set(version),
        source: Set(source.as_str().to_owned()),
        event: Set(serde_json::to_string(event).expect("events serialize")),
        recorded_at: Set(now),
    }
}

/// The routing key a notification travels under on the outbound exchange.
pub fn routing_key(recipient: &Recipient) -> String {
    match recipient {
        Recipient::Agency(a) => format!("agency.{a}"),
        Recipient::Assigner(a) => format!("agency.{a}"),
        Recipient::Deputies(_) => "deputies".to_owned(),
        Recipient::CongressOffice => "congress_office".to_owned(),
        Recipient::Supervisors => "supervisors".to_owned(),
    }
}

/// The body of an outbound message, as the relay publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub message_id: String,
    pub proposal: String,
    pub event_id: String,
    #[serde(flatten)]
    pub body: OutboundBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OutboundBody {
    Notification(Notification),
    Rejected(Rejection),
}

fn notification_row(
    event: &Event,
    n: usize,
    notification: &Notification,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    let message = OutboundMessage {
        message_id: format!("{}#{n}", event.id),
        proposal: event.proposal.to_string(),
        event_id: event.id.to_string(),
        body: OutboundBody::Notification(notification.clone()),
    };
    outbox_row(
        message,
        "notification",
        routing_key(&notification.recipient),
        now,
    )
}

fn rejection_row(event: &Event, rejection: &Rejection, now: DateTime<Utc>) -> outbox::ActiveModel {
    let message = OutboundMessage {
        message_id: format!("{}#rejected", event.id),
        proposal: event.proposal.to_string(),
        event_id: event.id.to_string(),
        body: OutboundBody::Rejected(rejection.clone()),
    };
    outbox_row(
        message,
        "rejected",
        format!("rejected.{}", event.actor.agency),
        now,
    )
}

fn outbox_row(
    message: OutboundMessage,
    kind: &str,
    routing_key: String,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        message_id: Set(message.message_id.clone()),
        proposal_key: Set(message.proposal.clone()),
        event_id: Set(message.event_id.clone()),
        kind: Set(kind.to_owned()),
        routing_key: Set(routing_key),
        payload: Set(serde_json::to_string(&message).expect("messages serialize")),
        created_at: Set(now),
        sent_at: Set(None),
    }
}

/// The earliest running obligation of a task: what supervisors chase.
fn obligation(
    def: &Definition,
    task: &cohandle_workflows::model::Task,
) -> Option<(chrono::NaiveDate, String)> {
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

fn proposal_row(
    p: &Proposal,
    def: &Definition,
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
        kind: p.info.kind.as_str().to_owned(),
        number: p.info.number.clone(),
        session: p.info.session.clone(),
        title: p.info.title.clone(),
        assigner: p.assigner.to_string(),
        mode: serde_json::to_value(p.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
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

fn proposal_active(m: proposal::Model) -> proposal::ActiveModel {
    {
        proposal::ActiveModel {
            key: Set(m.key),
            definition_name: Set(m.definition_name),
            definition_version: Set(m.definition_version),
            kind: Set(m.kind),
            number: Set(m.number),
            session: Set(m.session),
            title: Set(m.title),
            assigner: Set(m.assigner),
            mode: Set(m.mode),
            state: Set(m.state),
            key_supervision: Set(m.key_supervision),
            assigned_on: Set(m.assigned_on),
            due_on: Set(m.due_on),
            version: Set(m.version),
            document: Set(m.document),
            created_at: Set(m.created_at),
            updated_at: Set(m.updated_at),
            history_seq: Set(m.history_seq),
            history_hash: Set(m.history_hash),
        }
    }
}

fn task_models(p: &Proposal, def: &Definition) -> Vec<task::Model> {
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
            }
        })
        .collect()
}

fn task_active(m: task::Model) -> task::ActiveModel {
    task::ActiveModel {
        proposal_key: Set(m.proposal_key),
        position: Set(m.position),
        agency: Set(m.agency),
        role: Set(m.role),
        state: Set(m.state),
        active: Set(m.active),
        terminal: Set(m.terminal),
        due_on: Set(m.due_on),
        due_deadline: Set(m.due_deadline),
        session: Set(m.session),
        kind: Set(m.kind),
        key_supervision: Set(m.key_supervision),
    }
}

/// Rows for the statistics tables, written when an event adds to them, and what they change
/// in the counters.
/// `recorded_on` is the date the engine recorded the event on: a reply is on time when it
/// was recorded by its due date, whatever date the letter declares.
fn project(
    writes: &mut Writes,
    before: Option<&Proposal>,
    after: &Proposal,
    event: &Event,
    recorded_on: NaiveDate,
) {
    let agency = match &event.body {
        Body::SendReply(_) | Body::RecordDisclosure(_) => event.actor.agency.clone(),
        Body::RecordFeedback { agency, .. } => agency.clone(),
        _ => return,
    };
    let Some(task) = after.task(&agency) else {
        return;
    };
    let key = after.key.to_string();
    let was = before.and_then(|p| p.task(&agency));
    match &event.body {
        Body::SendReply(dispatch) => {
            let due_before = was.and_then(|t| {
                ["rehandling", "reply"]
                    .iter()
                    .find_map(|n| t.deadlines.get(*n))
                    .map(|d| d.due)
            });
            let (Some(draft), Some(signature)) = (&task.draft, &task.signature) else {
                return;
            };
            let round = task.replies.len() as i32;
            let result_class = format!("{:?}", draft.result_class);
            let on_time = due_before.is_none_or(|due| recorded_on <= due);
            let met_deputy = task
                .contacts
                .iter()
                .any(|c| c.method == ContactMethod::Meeting);
            writes
                .statistics
                .reply(agency.as_str(), round, &result_class, on_time, met_deputy);
            writes.replies.push(reply::ActiveModel {
                proposal_key: Set(key),
                agency: Set(agency.to_string()),
                round: Set(round),
                document_number: Set(draft.document_number.clone()),
                result_class: Set(result_class),
                signer: Set(signature.signer.clone()),
                signed_on: Set(signature.signed_on),
                sent_on: Set(dispatch.sent_on),
                recorded_on: Set(Some(recorded_on)),
                due_on: Set(due_before),
                on_time: Set(on_time),
                met_deputy: Set(met_deputy),
            });
        }
        Body::RecordFeedback { feedback: f, .. } => {
            let round = task.feedback.len() as i32;
            writes.statistics.feedback(
                agency.as_str(),
                round,
                f.satisfaction.is_satisfied(),
                was.and_then(|t| t.feedback.last())
                    .map(|previous| previous.satisfaction.is_satisfied()),
            );
            writes.feedback.push(feedback::ActiveModel {
                proposal_key: Set(key),
                agency: Set(agency.to_string()),
                round: Set(round),
                satisfaction: Set(serde_json::to_value(f.satisfaction)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()),
                received_on: Set(f.received_on),
            });
        }
        Body::RecordDisclosure(d) => {
            let full = |scope| scope == DisclosureScope::Full;
            writes.statistics.disclosure(
                agency.as_str(),
                full(d.scope),
                was.and_then(|t| t.disclosure.as_ref())
                    .map(|p| full(p.scope)),
            );
            writes.disclosures.push(disclosure::ActiveModel {
                proposal_key: Set(key),
                agency: Set(agency.to_string()),
                index_number: Set(d.index_number.clone()),
                topic: Set(d.topic.clone()),
                scope: Set(serde_json::to_value(d.scope)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()),
                withheld_reason: Set(d.withheld_reason.clone()),
                written_on: Set(d.written_on),
                published_on: Set(d.published_on),
            });
        }
        _ => {}
    }
}
