//! The one entry for every state change. Whatever the door (bus, API, monitor, CLI), events
//! are decided by [`Engine::decide`]: in ONE transaction it takes the events (handed over,
//! or claimed inside the transaction, as the monitor claims due timers), loads their
//! proposals, lets the domain decide, and writes the state (version-checked), history,
//! inbox, outbox and timers; a batch overtaken by a concurrent change is decided again,
//! waiting by [`crate::retry::policy`]. [`Engine::apply`] and [`Engine::apply_batch`] are
//! that entry for events a door hands over.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use backon::BackoffBuilder;
use chrono::{DateTime, SubsecRound, Utc};
use cohandle_workflows::{
    Body, Calendar, Catalog, Definition, Event, Proposal, Rejection, RejectionCode,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use tracing::instrument;

use crate::batch::Batch;
use crate::clock::Clock;
use crate::held::Expiring;
use crate::outcome::{Outcome, Source};
use crate::write::{load_many, write};
use crate::Error;

/// How often a batch is decided again when a concurrent writer changed one of its
/// proposals before the engine gives up (a transient error: the door may try later).
const MAX_ATTEMPTS: usize = 50;

/// Where the events of one decision come from, taken inside its transaction before
/// anything is decided, and again on every attempt. What the claim marks (the monitor marks
/// its timers fired) commits or rolls back with the decisions.
pub trait Claim: Send {
    /// What the claim reports once its transaction committed.
    type Taken: Send;

    /// The events to decide, in order, and the claim's report. `now` is the transaction's
    /// moment, the one the decisions are recorded at.
    fn take(
        &mut self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(Vec<Event>, Self::Taken), Error>> + Send;

    /// Held events whose window ended, taken by `take` with its events: decided for good in
    /// the same transaction (see [`crate::held`]). Only the monitor's claim takes any.
    fn expiring(&mut self) -> Vec<Expiring> {
        Vec::new()
    }
}

/// Events a door hands over, decided as they are.
#[derive(Debug, Clone)]
pub struct Given(pub Vec<Event>);

impl Claim for Given {
    type Taken = ();

    async fn take(
        &mut self,
        _txn: &DatabaseTransaction,
        _now: DateTime<Utc>,
    ) -> Result<(Vec<Event>, ()), Error> {
        Ok((self.0.clone(), ()))
    }
}

/// The engine: cheap to clone, shared by every role.
#[derive(Debug, Clone)]
pub struct Engine {
    db: DatabaseConnection,
    catalog: Arc<RwLock<crate::definitions::Followed>>,
    jurisdictions: Arc<RwLock<crate::jurisdictions::Followed>>,
    calendar: Arc<RwLock<Calendars>>,
    clock: Arc<dyn Clock>,
    /// How long an event that does not fit yet is held before it is refused.
    hold_window: chrono::Duration,
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

impl Engine {
    pub fn new(
        db: DatabaseConnection,
        catalog: Arc<Catalog>,
        calendar: Arc<Calendar>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            catalog: Arc::new(RwLock::new(crate::definitions::Followed::new(catalog))),
            jurisdictions: Arc::default(),
            calendar: Arc::new(RwLock::new(Calendars {
                base: calendar.clone(),
                current: calendar,
                newest: 0,
                checked: None,
                follows_database: true,
            })),
            clock,
            hold_window: chrono::Duration::from_std(crate::held::DEFAULT_WINDOW)
                .expect("the default window is a few minutes"),
        }
    }

    /// The same engine holding events that do not fit yet for `window` (see
    /// [`crate::held`]); zero refuses them at once.
    pub fn with_hold_window(&self, window: std::time::Duration) -> Self {
        Self {
            hold_window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            ..self.clone()
        }
    }

    /// How long an event that does not fit yet is held before it is refused.
    pub fn hold_window(&self) -> chrono::Duration {
        self.hold_window
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

    /// The connection, for the store's own modules (and its integration tests).
    #[cfg(not(feature = "test-internals"))]
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The connection, for the store's own modules (and its integration tests).
    #[cfg(feature = "test-internals")]
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The definitions as last loaded: the catalog the engine was built with and every
    /// version deployed into the database by then.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .current()
    }

    /// Loads the definitions deployed since the catalog was last built, now.
    pub async fn refresh_definitions(&self) -> Result<(), Error> {
        crate::definitions::follow(&self.db, &self.catalog, true).await
    }

    /// Looks for newly deployed definitions at most every [`crate::definitions::REFRESH`]; a
    /// failed look keeps the catalog as it is (the batch's own queries report the database).
    pub async fn keep_definitions_current(&self) {
        if let Err(error) = crate::definitions::follow(&self.db, &self.catalog, false).await {
            tracing::warn!(%error, "could not look for newly deployed workflow definitions");
        }
    }

    /// The jurisdictions as last read (see [`crate::jurisdictions`]).
    pub fn jurisdictions(&self) -> Arc<crate::jurisdictions::Registry> {
        self.jurisdictions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .current()
    }

    /// Reads the jurisdictions again, now.
    pub async fn refresh_jurisdictions(&self) -> Result<(), Error> {
        crate::jurisdictions::follow(&self.db, &self.jurisdictions, true).await
    }

    /// Reads the jurisdictions again when [`crate::jurisdictions::REFRESH`] has passed; a
    /// failed read keeps them as they are.
    pub async fn keep_jurisdictions_current(&self) {
        if let Err(error) = crate::jurisdictions::follow(&self.db, &self.jurisdictions, false).await
        {
            tracing::warn!(%error, "could not read the jurisdictions again");
        }
    }

    /// The calendar as last built: the base and every holiday file loaded when it was built.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendars().current.clone()
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// THE entry: every state change goes through here. Takes `claim`'s events and decides
    /// them in one transaction, one outcome per event, in order; a rejection never rolls back
    /// the others, and events for one proposal apply in order. A batch overtaken by a
    /// concurrent change rolls back whole and is decided again, waiting by
    /// [`crate::retry::policy`], at most [`MAX_ATTEMPTS`] times.
    #[instrument(skip_all, fields(source = source.as_str()))]
    pub async fn decide<C: Claim>(
        &self,
        claim: &mut C,
        source: Source,
    ) -> Result<(Vec<Outcome>, C::Taken), Error> {
        self.keep_calendar_current().await;
        self.keep_definitions_current().await;
        let mut waits = crate::retry::policy()
            .with_max_times(MAX_ATTEMPTS - 1)
            .build();
        for attempt in 1.. {
            match self.attempt(claim, source).await {
                Err(Error::Conflict) => match waits.next() {
                    Some(wait) => {
                        tracing::debug!(
                            attempt,
                            ?wait,
                            "batch overtaken by a concurrent change; deciding it again"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(Error::TooManyConflicts(attempt)),
                },
                done => return done,
            }
        }
        unreachable!("the attempts end by returning")
    }

    /// One transaction: take, decide, write, commit.
    async fn attempt<C: Claim>(
        &self,
        claim: &mut C,
        source: Source,
    ) -> Result<(Vec<Outcome>, C::Taken), Error> {
        let txn = self.db.begin().await?;
        let now = self.clock.now().trunc_subsecs(6);
        let decided = async {
            let (events, taken) = claim.take(&txn, now).await?;
            let expiring = claim.expiring();
            let outcomes = if events.is_empty() && expiring.is_empty() {
                Vec::new()
            } else {
                self.decide_and_write(&txn, &events, &expiring, source, now)
                    .await?
            };
            Ok::<_, Error>((outcomes, taken))
        }
        .await;
        match decided {
            Ok(done) => {
                txn.commit().await?;
                Ok(done)
            }
            Err(error) => {
                if let Err(rollback) = txn.rollback().await {
                    tracing::debug!(%rollback, "rolling back a failed batch failed too");
                }
                Err(error)
            }
        }
    }

    /// Applies one event: [`Engine::decide`] for one handed-over event.
    #[instrument(skip_all, fields(proposal = %event.proposal, event_id = %event.id, event = event.body.name()))]
    pub async fn apply(&self, event: Event, source: Source) -> Result<Outcome, Error> {
        let mut outcomes = self.apply_batch(vec![event], source).await?;
        Ok(outcomes.pop().expect("one outcome per event"))
    }

    /// Applies many events in one transaction: [`Engine::decide`] for handed-over events.
    #[instrument(skip_all, fields(events = events.len(), source = source.as_str()))]
    pub async fn apply_batch(
        &self,
        events: Vec<Event>,
        source: Source,
    ) -> Result<Vec<Outcome>, Error> {
        Ok(self.decide(&mut Given(events), source).await?.0)
    }

    async fn decide_and_write(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
        expiring: &[Expiring],
        source: Source,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, Error> {
        let mut batch = Batch::load(self, txn, events, expiring, now).await?;
        let outcomes = events
            .iter()
            .map(|event| batch.decide(event, source))
            .collect();
        for ending in expiring {
            batch.expire(ending);
        }
        batch.finish();
        write(
            txn,
            &self.catalog(),
            &batch.registry,
            batch.loaded,
            batch.writes,
            now,
        )
        .await?;
        Ok(outcomes)
    }

    /// The jurisdictions a batch is decided with: read again first when an assignment names
    /// a jurisdiction or definition not known yet (one registered a moment ago), and at most
    /// every [`crate::jurisdictions::REFRESH`] otherwise.
    pub(crate) async fn registry_for(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
    ) -> Result<Arc<crate::jurisdictions::Registry>, Error> {
        let registry = self.jurisdictions();
        let unknown = events.iter().any(|e| match &e.body {
            Body::Assign(a) => registry
                .refuses(e.proposal.as_str(), &a.definition)
                .is_some(),
            _ => false,
        });
        crate::jurisdictions::follow(txn, &self.jurisdictions, unknown).await?;
        Ok(self.jurisdictions())
    }

    pub(crate) fn definition_for(
        &self,
        registry: &crate::jurisdictions::Registry,
        current: Option<&Proposal>,
        event: &Event,
    ) -> Result<Arc<Definition>, Rejection> {
        let found = match (current, &event.body) {
            (Some(p), _) => self.catalog().get(&p.definition),
            (None, Body::Assign(a)) => {
                if let Some(reason) = registry.refuses(event.proposal.as_str(), &a.definition) {
                    return Err(Rejection::new(RejectionCode::WrongJurisdiction, reason));
                }
                self.catalog().latest(&a.definition)
            }
            (None, _) => {
                return Err(Rejection::new(
                    RejectionCode::UnknownProposal,
                    format!(
                        "proposal {} has not been assigned yet; an event for it before its assignment is applied once the assignment is in (held until then, or replayed)",
                        event.proposal
                    ),
                ))
            }
        };
        found.map_err(|e| Rejection::new(RejectionCode::InvalidPayload, e.to_string()))
    }

    /// The stored proposal and its version.
    pub async fn load(&self, key: &str) -> Result<Option<(Proposal, i64)>, Error> {
        let mut loaded = load_many(&self.db, &[key]).await?;
        Ok(loaded
            .remove(key)
            .and_then(|entry| entry.proposal.map(|p| (p, entry.version))))
    }
}
