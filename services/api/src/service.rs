//! What the handlers call once the caller is authenticated: every write through
//! [`Service::submit`] (and so through `Engine::apply_batch`), every read scoped to the
//! caller. The demo calls the same functions, so it replays a case exactly as the API would.
//!
//! Group commit: concurrent writes share one transaction. `submit` checks the caller's
//! access, then hands its event to the service's committer task and waits for the answer.
//! The committer takes the first event waiting, then whatever else arrives within
//! [`GroupCommit::window`], up to [`GroupCommit::max`], and decides them in arrival order
//! with one `Engine::apply_batch`; each request hears its own outcome. A refused event is
//! an outcome like any other and leaves the rest of the batch applied; a batch that fails
//! on a transient error is decided again by the store's retry policy; one that fails for
//! another reason is decided again event by event, so that only the events that fail on
//! their own fail. An event handed over is decided once whether or not its client is
//! still waiting. A window of zero decides every event in a transaction of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use backon::BackoffBuilder;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cohandle_store::handle::{Reads, Replica};
use cohandle_store::queries::{self, Counted, HistoryRow, TaskRow, TaskScope};
use cohandle_store::Recorded;
use cohandle_store::{Engine, Outcome, Source};
use cohandle_workflows::engine::{china_date, Change};
use cohandle_workflows::{Body, Event, EventId, Proposal, ProposalKey};
use tokio::sync::{mpsc, oneshot};
use tracing::instrument;

use crate::access::{self, Parties, Scope};
use crate::auth::{Principal, Role};
use crate::dto::{
    AgencyFigures, ChangeView, HeldOutcome, Me, ProposalSummary, ProposalView, StatisticsQuery,
    StatisticsView, TaskSummary, TaskView, TimelineEntry, TrendQuery, TrendView, WriteOutcome,
};
use crate::lists::Vocabulary;
use crate::metrics::Metrics;
use crate::ratelimit::{Limiter, RateLimit};
use crate::Error;

/// The most months one trend covers.
const MAX_TREND_MONTHS: i32 = 120;

/// How far ahead the deadline list looks when the request does not say.
pub const DEFAULT_HORIZON_DAYS: i64 = 30;

/// How many times a batch that failed on a transient error is decided again (waiting by
/// `cohandle_store::retry::policy`) before its requests are answered 503, to retry with
/// their key: about a second and a half in all.
const TRANSIENT_RETRIES: usize = 4;

/// The API's service layer over one engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Service {
    engine: Engine,
    source: Source,
    metrics: Arc<Metrics>,
    limiter: Arc<Limiter>,
    group: GroupCommit,
    /// The committer, started with the first write; a service's clones share it.
    committer: Arc<Committer>,
    /// Where supervisors' lists and statistics are read, when not the engine's database.
    replica: Option<Replica>,
}

/// The committer's queue (`None` until the first write) and what it has committed.
#[derive(Debug, Default)]
struct Committer {
    queue: Mutex<Option<mpsc::Sender<Submission>>>,
    transactions: AtomicU64,
    events: AtomicU64,
}

/// What a service's writes have committed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commits {
    /// Transactions that committed events of requests.
    pub transactions: u64,
    /// Events they decided (applied, refused or recognised as duplicates).
    pub events: u64,
}

/// How concurrent writes share transactions (`http.group_commit_window_ms`,
/// `http.group_commit_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// How long a batch waits for more events after its first (zero: every event is
    /// decided in a transaction of its own, concurrently with the others, as they come).
    pub window: StdDuration,
    /// Events decided in one transaction at most.
    pub max: usize,
}

impl GroupCommit {
    /// 2 ms and 128 events: a lone request waits 2 ms more; under load a batch fills while
    /// the previous one commits.
    pub const DEFAULT: Self = Self {
        window: StdDuration::from_millis(2),
        max: 128,
    };

    /// Every event in a transaction of its own.
    pub const OFF: Self = Self {
        window: StdDuration::ZERO,
        max: 1,
    };

    /// From the settings; a window of 0 turns grouping off whatever the maximum.
    pub fn from_settings(window_ms: u64, max: usize) -> Result<Self, String> {
        if window_ms == 0 {
            return Ok(Self::OFF);
        }
        if max == 0 {
            return Err(
                "http.group_commit_max must be at least 1 when http.group_commit_window_ms is set"
                    .to_owned(),
            );
        }
        if window_ms > 1_000 {
            return Err(format!(
                "http.group_commit_window_ms is {window_ms}: every write would wait that long; at most 1000"
            ));
        }
        Ok(Self {
            window: StdDuration::from_millis(window_ms),
            max,
        })
    }

    fn grouped(self) -> bool {
        !self.window.is_zero() && self.max > 1
    }
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One event handed to the committer, with where its outcome goes.
#[derive(Debug)]
struct Submission {
    event: Event,
    answer: oneshot::Sender<Result<Outcome, cohandle_store::Error>>,
}

/// What decides the submissions: the engine, the door they came through, where they count.
#[derive(Debug, Clone)]
struct Decider {
    engine: Engine,
    source: Source,
    metrics: Arc<Metrics>,
    committer: Arc<Committer>,
}

/// An event to send: the client's idempotency key is its id.
#[derive(Debug, Clone)]
pub struct Command {
    pub id: EventId,
    pub proposal: ProposalKey,
    /// When it happened; the engine's clock reading when absent.
    pub occurred_at: Option<DateTime<Utc>>,
    pub body: Body,
}

/// What a write came to: applied, or held with its proposal until an earlier step arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Written(Written),
    /// Held (see `cohandle_store::held`): its final outcome is still to come.
    Held {
        held: HeldOutcome,
        /// The answer repeats the first outcome of an id seen before.
        replayed: bool,
    },
}

/// An accepted event, first time or replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub outcome: WriteOutcome,
    /// The answer repeats the first outcome of an id seen before.
    pub replayed: bool,
}

impl From<&Change> for ChangeView {
    fn from(c: &Change) -> Self {
        Self {
            machine: c.machine.as_str().to_owned(),
            agency: c.agency.as_ref().map(ToString::to_string),
            from: c.from.clone(),
            to: c.to.clone(),
            event: c.event.clone(),
            role: c.role.as_str().to_owned(),
        }
    }
}

impl From<&HistoryRow> for ChangeView {
    fn from(h: &HistoryRow) -> Self {
        Self {
            machine: h.machine.clone(),
            agency: h.agency.clone(),
            from: h.from_state.clone(),
            to: h.to_state.clone(),
            event: h.event_type.clone(),
            role: h.actor_role.clone(),
        }
    }
}

fn corrupt(what: String) -> Error {
    Error::Store(cohandle_store::Error::Corrupt(what))
}

impl Service {
    /// A service whose events are recorded as coming through the API.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            source: Source::Api,
            metrics: Arc::new(Metrics::default()),
            limiter: Arc::new(Limiter::new(Some(RateLimit::DEFAULT))),
            group: GroupCommit::DEFAULT,
            committer: Arc::default(),
            replica: None,
        }
    }

    /// The same service reading supervisors' lists and statistics from `replica`
    /// (`database.read_url`): they may lag behind the writes by [`Self::replica_lag`].
    pub fn with_replica(mut self, replica: Replica) -> Self {
        self.replica = Some(replica);
        self
    }

    /// Where `principal`'s lists and statistics are read: a supervisor's from the replica
    /// when there is one (it watches, and a few seconds behind is no harm); everyone
    /// else's, who acts on what it reads, from the engine's database.
    pub fn reads(&self, principal: &Principal) -> Reads<'_> {
        match (&self.replica, principal.role) {
            (Some(replica), Role::Supervisor) => Reads::Replica(replica),
            _ => Reads::Primary(&self.engine),
        }
    }

    /// How far the replica is behind, in seconds; `None` without one (or when what
    /// `database.read_url` names is no replica).
    pub async fn replica_lag(&self) -> Result<Option<f64>, Error> {
        match &self.replica {
            Some(replica) => Ok(cohandle_store::handle::replica_lag(replica).await?),
            None => Ok(None),
        }
    }

    /// Whether there is a replica to read from.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The same service grouping concurrent writes by `group` (its own committer).
    pub fn with_group_commit(mut self, group: GroupCommit) -> Self {
        self.group = group;
        self.committer = Arc::default();
        self
    }

    /// The same service with another per-token rate limit (`None`: no limit).
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limiter = Arc::new(Limiter::new(limit));
        self
    }

    /// Takes one request from the caller's rate-limit bucket; in-process callers have none.
    pub fn admit(&self, principal: &Principal) -> Result<(), Error> {
        match &principal.token_id {
            Some(token) => self.limiter.admit(token),
            None => Ok(()),
        }
    }

    /// The same service counting into `metrics` (shared with the other roles of a process).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Arc::new(metrics);
        self.committer = Arc::default();
        self
    }

    /// The same service for another door (the demo records its events as `cli`).
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self.committer = Arc::default();
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How concurrent writes share transactions.
    pub fn group_commit(&self) -> GroupCommit {
        self.group
    }

    /// What this service's writes have committed so far.
    pub fn commits(&self) -> Commits {
        Commits {
            transactions: self.committer.transactions.load(Ordering::Relaxed),
            events: self.committer.events.load(Ordering::Relaxed),
        }
    }

    /// Today in China, by the engine's clock.
    pub fn today(&self) -> NaiveDate {
        china_date(self.engine.clock().now())
    }

    // --- writes --------------------------------------------------------------------------

    /// Sends one event as `principal` through the engine's one path, in the next group
    /// commit. A retry with the same id answers the first outcome; the same id for a
    /// different request is refused.
    #[instrument(skip_all, fields(proposal = %command.proposal, event_id = %command.id, event = command.body.name(), agency = %principal.agency))]
    pub async fn submit(
        &self,
        principal: &Principal,
        command: Command,
    ) -> Result<Submitted, Error> {
        let name = command.body.name();
        access::may_send(principal, name)?;
        let actor = principal.actor().ok_or_else(|| {
            Error::forbidden(
                "role_not_allowed",
                format!("a {} token sends no events", principal.role),
            )
        })?;
        if principal.role == Role::Assigner && name == "assign" {
            self.engine.keep_jurisdictions_current().await;
            access::may_assign(
                principal,
                &self.engine.jurisdictions(),
                command.proposal.as_str(),
            )?;
        }
        self.may_act_on(principal, &command.proposal).await?;
        let event = Event {
            id: command.id,
            proposal: command.proposal,
            actor,
            occurred_at: command
                .occurred_at
                .unwrap_or_else(|| self.engine.clock().now()),
            body: command.body,
        };
        let outcome = self.decide(event.clone()).await?;
        match outcome {
            Outcome::Applied {
                version,
                state,
                changes,
            } => Ok(Submitted::Written(Written {
                outcome: WriteOutcome {
                    event_id: event.id.to_string(),
                    proposal: event.proposal.to_string(),
                    event: name.to_owned(),
                    version,
                    state,
                    changes: changes.iter().map(ChangeView::from).collect(),
                },
                replayed: false,
            })),
            Outcome::Rejected(rejection) => Err(Error::Rejected {
                code: rejection.code.as_str().to_owned(),
                message: rejection.message,
                replayed: false,
            }),
            Outcome::Held { why, until } => Ok(Submitted::Held {
                held: HeldOutcome::new(&event, why.code.as_str(), &why.message, until),
                replayed: false,
            }),
            Outcome::Duplicate(first) => self.replay(&event, first).await,
        }
    }

    /// Hands `event` to the committer (or, with grouping off, to a task of its own) and
    /// waits for its outcome. Once handed over it is decided even if this wait is dropped.
    async fn decide(&self, event: Event) -> Result<Outcome, Error> {
        let (answer, answered) = oneshot::channel();
        let submission = Submission { event, answer };
        let decider = Decider {
            engine: self.engine.clone(),
            source: self.source,
            metrics: Arc::clone(&self.metrics),
            committer: Arc::clone(&self.committer),
        };
        if self.group.grouped() {
            let queue = self.queue(&decider);
            if let Err(mpsc::error::SendError(submission)) = queue.send(submission).await {
                // The committer ended (a panic in a batch ends only that batch's task, so
                // this is a runtime going away): decide this one on its own.
                tokio::spawn(decider.decide(vec![submission]));
            }
        } else {
            tokio::spawn(decider.decide(vec![submission]));
        }
        match answered.await {
            Ok(outcome) => Ok(outcome?),
            Err(_) => Err(Error::Internal(
                "the group commit deciding this event ended without an outcome (see the error before)"
                    .to_owned(),
            )),
        }
    }

    /// The committer's queue, starting the committer when there is none.
    fn queue(&self, decider: &Decider) -> mpsc::Sender<Submission> {
        let mut slot = self
            .committer
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(queue) if !queue.is_closed() => queue.clone(),
            _ => {
                let (queue, received) = mpsc::channel(self.group.max.saturating_mul(4));
                tokio::spawn(commit_groups(decider.clone(), self.group, received));
                *slot = Some(queue.clone());
                queue
            }
        }
    }

    /// An agency acts only on proposals it assigned or has a task in. An unknown proposal is
    /// left to the engine, which refuses it as `unknown_proposal` (and keeps it for replay).
    async fn may_act_on(&self, principal: &Principal, key: &ProposalKey) -> Result<(), Error> {
        let scope = self.scope(principal);
        if scope == Scope::All {
            return Ok(());
        }
        let Some(stored) = queries::parties(&self.engine, key.as_str()).await? else {
            return Ok(());
        };
        let parties = Parties {
            assigner: &stored.assigner,
            definition: &stored.definition,
            jurisdiction: &stored.jurisdiction,
            tasks: &stored.tasks,
        };
        if parties.sees_proposal(&scope) {
            Ok(())
        } else {
            Err(not_yours(principal, key.as_str(), &stored.jurisdiction))
        }
    }

    /// The first outcome of an event id, answered again, if the request is the same.
    async fn replay(&self, event: &Event, first: Recorded) -> Result<Submitted, Error> {
        let id = event.id.to_string();
        if !first.same_request {
            return Err(Error::KeyReused { key: id });
        }
        if let Some(until) = first.held_until {
            let code = first.code.as_deref().unwrap_or_default();
            return Ok(Submitted::Held {
                held: HeldOutcome::new(event, code, &first.message, until),
                replayed: true,
            });
        }
        if !first.applied {
            return Err(Error::Rejected {
                code: first.code.unwrap_or_else(|| "rejected".to_owned()),
                message: first.message,
                replayed: true,
            });
        }
        let key = event.proposal.as_str();
        let rows = queries::event_changes(&self.engine, key, &id).await?;
        let last_seq = rows.last().map_or(i64::MAX, |r| r.seq);
        let state = queries::state_after(&self.engine, key, last_seq)
            .await?
            .unwrap_or_default();
        Ok(Submitted::Written(Written {
            outcome: WriteOutcome {
                event_id: id,
                proposal: event.proposal.to_string(),
                event: event.body.name().to_owned(),
                version: first.version,
                state,
                changes: rows.iter().map(ChangeView::from).collect(),
            },
            replayed: true,
        }))
    }

    // --- reads ---------------------------------------------------------------------------

    /// What `principal` sees.
    pub fn scope(&self, principal: &Principal) -> Scope {
        access::scope(
            principal,
            &self.engine.catalog(),
            &self.engine.jurisdictions(),
        )
    }

    /// One proposal with its tasks and timeline, as far as the caller may see them.
    #[instrument(skip_all, fields(proposal = %key, agency = %principal.agency))]
    pub async fn proposal(
        &self,
        principal: &Principal,
        key: &ProposalKey,
    ) -> Result<ProposalView, Error> {
        let stored = queries::proposal(&self.engine, key.as_str())
            .await?
            .ok_or_else(|| not_found(key.as_str()))?;
        let row = stored.row;
        let tasks = queries::tasks_of(&self.engine, key.as_str()).await?;
        let scope = self.scope(principal);
        let definition = row.definition()?;
        let parties = Parties {
            assigner: &row.assigner,
            definition: &definition,
            jurisdiction: &row.jurisdiction,
            tasks: &tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str(), &row.jurisdiction));
        }
        let document: Proposal = serde_json::from_str(&stored.document)
            .map_err(|e| corrupt(format!("proposal {key}: {e}")))?;
        let task_views = tasks
            .iter()
            .map(|t| task_view(&document, t, parties.sees_task(&scope, &t.agency)))
            .collect::<Result<Vec<_>, _>>()?;
        let timeline = queries::timeline(&self.engine, key.as_str())
            .await?
            .into_iter()
            .filter(|h| {
                h.agency
                    .as_deref()
                    .is_none_or(|a| parties.sees_task(&scope, a))
            })
            .map(TimelineEntry::from)
            .collect();
        Ok(ProposalView {
            info: document.info.clone().into(),
            merged_into: document.merged_into.as_ref().map(ToString::to_string),
            merged_deputies: document.merged_deputies.clone(),
            summary: ProposalSummary::from(row),
            tasks: task_views,
            timeline,
        })
    }

    /// One agency's task in a proposal, with its record.
    #[instrument(skip_all, fields(proposal = %key, task = %agency, agency = %principal.agency))]
    pub async fn task(
        &self,
        principal: &Principal,
        key: &ProposalKey,
        agency: &cohandle_workflows::AgencyCode,
    ) -> Result<TaskView, Error> {
        let stored = queries::parties(&self.engine, key.as_str())
            .await?
            .ok_or_else(|| not_found(key.as_str()))?;
        let scope = self.scope(principal);
        let parties = Parties {
            assigner: &stored.assigner,
            definition: &stored.definition,
            jurisdiction: &stored.jurisdiction,
            tasks: &stored.tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str(), &stored.jurisdiction));
        }
        // A task moved away and back has two rows: the active one is the task.
        let row = stored
            .tasks
            .iter()
            .filter(|t| t.agency == agency.as_str())
            .max_by_key(|t| (t.active, t.position))
            .ok_or_else(|| {
                Error::not_found(
                    "task_not_found",
                    format!("agency {agency} has no task in proposal {key}"),
                )
            })?;
        if !parties.sees_task(&scope, agency.as_str()) {
            return Err(Error::forbidden(
                "not_your_task",
                format!(
                    "the task of {agency} in proposal {key} is not {}'s to read: an agency reads its own task, a lead also its co-handlers', an assigner those of the proposals it assigned",
                    principal.agency
                ),
            ));
        }
        let (document, _) = self
            .engine
            .load(key.as_str())
            .await?
            .ok_or_else(|| not_found(key.as_str()))?;
        task_view(&document, row, true)
    }

    /// Resolves the `agency` filter of a task or deadline list against the caller's scope.
    pub fn task_scope(
        &self,
        principal: &Principal,
        agency: Option<String>,
    ) -> Result<TaskScope, Error> {
        let scope = |agency, assigner, definitions| TaskScope {
            agency,
            assigner,
            definitions,
            jurisdictions: None,
        };
        match (principal.role, agency) {
            (Role::Agency, Some(other)) if other != principal.agency.as_str() => Err(Error::forbidden(
                "not_your_agency",
                format!("an agency token reads its own tasks only: {} may not list those of {other}", principal.agency),
            )),
            (Role::Agency, _) => Ok(scope(Some(principal.agency.to_string()), None, None)),
            (Role::Assigner, agency) => Ok(scope(agency, Some(principal.agency.to_string()), None)),
            (Role::CongressOffice, agency) => {
                let Scope::Relays(definitions) = self.scope(principal) else {
                    unreachable!("a congress office's scope is the definitions it relays for")
                };
                Ok(scope(agency, None, Some(definitions)))
            }
            (Role::Supervisor, agency) => {
                let Scope::Within(jurisdictions) = self.scope(principal) else {
                    unreachable!("a supervisor's scope is its jurisdictions")
                };
                Ok(TaskScope {
                    jurisdictions: Some(jurisdictions),
                    ..scope(agency, None, None)
                })
            }
            (_, agency) => Ok(scope(agency, None, None)),
        }
    }

    /// Figures overall and per agency. An agency token sees the overall figures and its own;
    /// a supervisor those of the proposals of its jurisdictions. Obligations past due today
    /// count against the on-time rates.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn statistics(
        &self,
        principal: &Principal,
        query: StatisticsQuery,
    ) -> Result<StatisticsView, Error> {
        let catalog = self.engine.catalog();
        let counted = Counted {
            session: query.session,
            kind: Vocabulary::Kind.check(&catalog, "kind", query.kind)?,
            ..self.counted(principal, query.agency)?
        };
        let counted = Counted {
            assigned_from: query.assigned_from,
            assigned_to: query.assigned_to,
            ..counted
        };
        if let (Some(from), Some(to)) = (counted.assigned_from, counted.assigned_to) {
            if from > to {
                return Err(Error::bad_request(
                    "invalid_period",
                    format!("assigned_from {from} is after assigned_to {to}"),
                ));
            }
        }
        let today = self.today();
        let report = queries::statistics_report(
            &self.reads(principal),
            &self.engine.jurisdictions(),
            &counted,
            today,
        )
        .await?;
        // The overall figures are never narrowed to the agency asked for (an agency's own).
        let overall = match counted.agency {
            Some(_) => {
                let everyone = Counted {
                    agency: None,
                    ..counted.clone()
                };
                queries::statistics_report(
                    &self.reads(principal),
                    &self.engine.jurisdictions(),
                    &everyone,
                    today,
                )
                .await?
                .overall
            }
            None => report.overall,
        };
        Ok(StatisticsView {
            today,
            overall: overall.into(),
            agencies: report
                .agencies
                .into_iter()
                .map(|(agency, figures)| AgencyFigures {
                    agency,
                    figures: figures.into(),
                })
                .collect(),
        })
    }

    /// The month-by-month trend of the proposals the caller's figures count.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn trend(
        &self,
        principal: &Principal,
        query: TrendQuery,
    ) -> Result<TrendView, Error> {
        let catalog = self.engine.catalog();
        let counted = Counted {
            session: query.session,
            kind: Vocabulary::Kind.check(&catalog, "kind", query.kind)?,
            ..self.counted(principal, query.agency)?
        };
        let today = self.today();
        let to = query.to.unwrap_or(today);
        let from = match query.from {
            Some(from) => from,
            None => to
                .with_day(1)
                .and_then(|first| first.checked_sub_months(chrono::Months::new(11)))
                .unwrap_or(to),
        };
        let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
        if !(1..=MAX_TREND_MONTHS).contains(&months) {
            return Err(Error::bad_request(
                "invalid_period",
                format!(
                    "from {from} to {to} is {months} month(s); a trend covers 1 to {MAX_TREND_MONTHS}"
                ),
            ));
        }
        let months = queries::statistics_trend(
            &self.reads(principal),
            &self.engine.jurisdictions(),
            &counted,
            from,
            to,
        )
        .await?;
        Ok(TrendView {
            from,
            to,
            months: months.into_iter().map(Into::into).collect(),
        })
    }

    /// The proposals and agency the caller's figures count: a supervisor's jurisdictions, an
    /// agency's own figures.
    fn counted(&self, principal: &Principal, agency: Option<String>) -> Result<Counted, Error> {
        let within = match self.scope(principal) {
            Scope::Within(codes) => Some(codes),
            _ => None,
        };
        let agency = match (principal.role, agency) {
            (Role::Agency, Some(other)) if other != principal.agency.as_str() => {
                return Err(Error::forbidden(
                    "not_your_agency",
                    format!("an agency token reads its own figures only: {} may not read those of {other}", principal.agency),
                ))
            }
            (Role::Agency, _) => Some(principal.agency.to_string()),
            (_, agency) => agency,
        };
        Ok(Counted {
            within,
            agency,
            ..Counted::default()
        })
    }

    pub fn me(&self, principal: &Principal) -> Me {
        Me {
            token_id: principal.token_id.clone(),
            name: principal.name.clone(),
            agency: principal.agency.to_string(),
            role: principal.role,
            jurisdictions: principal.jurisdictions.clone(),
        }
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), Error> {
        Ok(cohandle_store::handle::ping(&self.engine).await?)
    }
}

/// The committer: takes the first submission waiting, then whatever arrives within the
/// window, up to the maximum, and decides them as one batch before taking the next. Ends
/// when every clone of its service is gone and the queue is empty.
async fn commit_groups(
    decider: Decider,
    group: GroupCommit,
    mut queue: mpsc::Receiver<Submission>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + group.window;
        while batch.len() < group.max {
            // What is already waiting is taken even once the window is over.
            match tokio::time::timeout_at(until, queue.recv()).await {
                Ok(Some(next)) => batch.push(next),
                Ok(None) | Err(_) => break,
            }
        }
        // Its own task: a panic while deciding loses that batch's answers, not the committer.
        let decided = tokio::spawn(decider.clone().decide(batch)).await;
        if let Err(error) = decided {
            tracing::error!(message = "A group commit ended without deciding", %error);
        }
    }
}

impl Decider {
    /// Decides `batch` in one transaction, in order, and answers each submission.
    async fn decide(self, batch: Vec<Submission>) {
        let events: Vec<Event> = batch.iter().map(|s| s.event.clone()).collect();
        let results = match self.apply(events.clone()).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(error) if error.is_transient() => {
                tracing::warn!(events = events.len(), %error, "a group commit failed on a transient error; its requests are answered 503");
                events.iter().map(|_| Err(transient_copy(&error))).collect()
            }
            Err(error) if events.len() > 1 => {
                tracing::error!(message = "Failed to apply a group commit; applying its events one by one", events = events.len(), %error);
                let mut results = Vec::with_capacity(events.len());
                for event in events {
                    results.push(
                        self.apply(vec![event])
                            .await
                            .map(|mut outcomes| outcomes.pop().expect("one outcome per event")),
                    );
                }
                results
            }
            Err(error) => vec![Err(error)],
        };
        for (submission, result) in batch.into_iter().zip(results) {
            if let Ok(outcome) = &result {
                self.metrics
                    .event(self.source, submission.event.body.name(), outcome);
            }
            // A client that went away no longer listens; its event is decided all the same.
            let _ = submission.answer.send(result);
        }
    }

    /// `Engine::apply_batch`, decided again on a transient error by the store's policy,
    /// at most [`TRANSIENT_RETRIES`] times.
    async fn apply(&self, events: Vec<Event>) -> Result<Vec<Outcome>, cohandle_store::Error> {
        let mut waits = cohandle_store::retry::policy()
            .with_max_times(TRANSIENT_RETRIES)
            .build();
        loop {
            match self.engine.apply_batch(events.clone(), self.source).await {
                Ok(outcomes) => {
                    let counts = &self.committer;
                    counts.transactions.fetch_add(1, Ordering::Relaxed);
                    counts
                        .events
                        .fetch_add(outcomes.len() as u64, Ordering::Relaxed);
                    return Ok(outcomes);
                }
                Err(error) if error.is_transient() => match waits.next() {
                    Some(wait) => {
                        tracing::debug!(%error, ?wait, events = events.len(), "a group commit failed on a transient error; deciding it again");
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(error),
                },
                Err(error) => return Err(error),
            }
        }
    }
}

/// A transient error for each request of a batch that failed on `error`: they are
/// answered alike (503, retry with the same key).
fn transient_copy(error: &cohandle_store::Error) -> cohandle_store::Error {
    use cohandle_store::Error as E;
    match error {
        E::Conflict => E::Conflict,
        E::TooManyConflicts(n) => E::TooManyConflicts(*n),
        E::Unreachable { setting, message } => E::Unreachable {
            setting,
            message: message.clone(),
        },
        other => E::Unreachable {
            setting: cohandle_store::connect::SETTING,
            message: other.to_string(),
        },
    }
}

fn task_view(document: &Proposal, row: &TaskRow, with_record: bool) -> Result<TaskView, Error> {
    let record = if with_record {
        let task = usize::try_from(row.position)
            .ok()
            .and_then(|i| document.tasks.get(i))
            .ok_or_else(|| {
                corrupt(format!(
                    "proposal {} has no task at position {}",
                    row.proposal_key, row.position
                ))
            })?;
        Some(serde_json::to_value(task).map_err(|e| corrupt(e.to_string()))?)
    } else {
        None
    };
    Ok(TaskView {
        summary: TaskSummary::from(row.clone()),
        record,
    })
}

fn not_found(key: &str) -> Error {
    Error::not_found("proposal_not_found", format!("there is no proposal {key}"))
}

fn not_yours(principal: &Principal, key: &str, jurisdiction: &str) -> Error {
    if principal.role == Role::Supervisor {
        return access::outside(principal, key, jurisdiction);
    }
    Error::forbidden(
        "not_your_proposal",
        format!(
            "proposal {key} is not {}'s: it neither assigned it nor has a task in it",
            principal.agency
        ),
    )
}
