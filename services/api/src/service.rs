//! What the handlers call once the caller is authenticated: every write through
//! [`Service::submit`] (and so through `Engine::apply`), every read scoped to the caller.
//! The demo calls the same functions, so it replays a case exactly as the API would.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohandle_store::queries::{
    self, DeadlineFilter, HistoryRow, Overdue, ProposalFilter, TaskFilter, TaskRow, TaskScope,
};
use cohandle_store::Recorded;
use cohandle_store::{Engine, Outcome, Source};
use cohandle_workflows::engine::{china_date, Change};
use cohandle_workflows::{Body, Event, EventId, Proposal, ProposalKey};
use tracing::instrument;

use crate::access::{self, Parties, Scope};
use crate::auth::{Principal, Role};
use crate::dto::{
    AgencyFigures, ChangeView, DeadlineEntry, DeadlineQuery, Deadlines, HeldOutcome, Me,
    ProposalQuery, ProposalSummary, ProposalView, StatisticsQuery, StatisticsView, TaskQuery,
    TaskSummary, TaskView, TimelineEntry, WriteOutcome,
};
use crate::metrics::Metrics;
use crate::pagination::{self, Cursor, Page};
use crate::ratelimit::{Limiter, RateLimit};
use crate::Error;

/// How far ahead the deadline list looks when the request does not say.
pub const DEFAULT_HORIZON_DAYS: i64 = 30;

/// The API's service layer over one engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Service {
    engine: Engine,
    source: Source,
    metrics: Arc<Metrics>,
    limiter: Arc<Limiter>,
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
        }
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
        self
    }

    /// The same service for another door (the demo records its events as `cli`).
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Today in China, by the engine's clock.
    pub fn today(&self) -> NaiveDate {
        china_date(self.engine.clock().now())
    }

    // --- writes --------------------------------------------------------------------------

    /// Sends one event as `principal` through the engine's one path. A retry with the same
    /// id answers the first outcome; the same id for a different request is refused.
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
        let outcome = self.engine.apply(event.clone(), self.source).await?;
        self.metrics.event(self.source, name, &outcome);
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
            tasks: &stored.tasks,
        };
        if parties.sees_proposal(&scope) {
            Ok(())
        } else {
            Err(not_yours(principal, key.as_str()))
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
    fn scope(&self, principal: &Principal) -> Scope {
        access::scope(principal, &self.engine.catalog())
    }

    /// Proposals the caller may see, filtered, a page at a time.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn list_proposals(
        &self,
        principal: &Principal,
        query: ProposalQuery,
    ) -> Result<Page<ProposalSummary>, Error> {
        let limit = pagination::limit(query.limit)?;
        let after = match query.cursor {
            Some(cursor) => Some(Cursor::new(cursor).decode::<(String,)>()?.0),
            None => None,
        };
        let today = self.today();
        let filter = ProposalFilter {
            state: query.state,
            session: query.session,
            kind: query.kind,
            due_before: query.due_before,
            overdue: overdue(query.overdue, today),
            key_supervision: query.key_supervision,
            agency: query.agency,
        };
        let scope = self.scope(principal);
        let page =
            queries::list_proposals(&self.engine, &scope, &filter, after.as_deref(), limit).await?;
        Page::from_store(page, |p| Cursor::encode(&(p.key.clone(),)))
            .map(|page| page.map(ProposalSummary::from))
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
            tasks: &tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str()));
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
            tasks: &stored.tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str()));
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
    fn task_scope(
        &self,
        principal: &Principal,
        agency: Option<String>,
    ) -> Result<TaskScope, Error> {
        let scope = |agency, assigner, definitions| TaskScope {
            agency,
            assigner,
            definitions,
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
            (_, agency) => Ok(scope(agency, None, None)),
        }
    }

    /// Tasks: an agency's own, an assigner's proposals', or (supervisors) anyone's.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn list_tasks(
        &self,
        principal: &Principal,
        query: TaskQuery,
    ) -> Result<Page<TaskSummary>, Error> {
        let limit = pagination::limit(query.limit)?;
        let after = match query.cursor {
            Some(cursor) => Some(Cursor::new(cursor).decode::<(String, i32)>()?),
            None => None,
        };
        let filter = TaskFilter {
            within: self.task_scope(principal, query.agency)?,
            state: query.state,
            open: query.open,
        };
        let page = queries::list_tasks(&self.engine, &filter, after, limit).await?;
        Page::from_store(page, |t| {
            Cursor::encode(&(t.proposal_key.clone(), t.position))
        })
        .map(|page| page.map(TaskSummary::from))
    }

    /// Running obligations due by `until`, overdue ones first, with the working days left.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn deadlines(
        &self,
        principal: &Principal,
        query: DeadlineQuery,
    ) -> Result<Deadlines, Error> {
        let limit = pagination::limit(query.limit)?;
        let today = self.today();
        let until = query
            .until
            .unwrap_or(today + Duration::days(DEFAULT_HORIZON_DAYS));
        let after = match query.cursor {
            Some(cursor) => Some(Cursor::new(cursor).decode::<(NaiveDate, String, i32)>()?),
            None => None,
        };
        let filter = DeadlineFilter {
            within: self.task_scope(principal, query.agency)?,
            until,
            overdue: overdue(query.overdue, today),
            key_supervision: query.key_supervision,
            definition: query.definition,
        };
        let page = queries::deadlines(&self.engine, &filter, after, limit).await?;
        let page = Page::from_store(page, |t| {
            Cursor::encode(&(t.due_on, t.proposal_key.clone(), t.position))
        })?;
        let calendar = self.engine.calendar();
        let items = page
            .items
            .into_iter()
            .filter_map(|t| {
                let due = t.due_on?;
                let working_days_left = if due >= today {
                    calendar
                        .working_days_between(today, due)
                        .ok()
                        .map(i64::from)
                } else {
                    calendar
                        .working_days_between(due, today)
                        .ok()
                        .map(|n| -i64::from(n))
                };
                Some(DeadlineEntry {
                    proposal: t.proposal_key,
                    position: t.position,
                    agency: t.agency,
                    role: t.role,
                    state: t.state,
                    deadline: t.due_deadline,
                    due_on: due,
                    working_days_left,
                    provisional: calendar.is_provisional(due),
                    days_left: (due - today).num_days(),
                    overdue: due < today,
                    session: t.session,
                    kind: t.kind,
                    key_supervision: t.key_supervision,
                })
            })
            .collect();
        Ok(Deadlines {
            today,
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Figures overall and per agency. An agency token sees the overall figures and its own.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn statistics(
        &self,
        principal: &Principal,
        query: StatisticsQuery,
    ) -> Result<StatisticsView, Error> {
        let agencies: Vec<String> = match (principal.role, query.agency) {
            (Role::Agency, Some(other)) if other != principal.agency.as_str() => {
                return Err(Error::forbidden(
                    "not_your_agency",
                    format!("an agency token reads its own figures only: {} may not read those of {other}", principal.agency),
                ))
            }
            (Role::Agency, _) => vec![principal.agency.to_string()],
            (_, Some(agency)) => vec![agency],
            (_, None) => queries::task_agencies(&self.engine).await?,
        };
        let overall = queries::statistics(&self.engine, None).await?.into();
        let mut per_agency = Vec::with_capacity(agencies.len());
        for agency in agencies {
            let figures = queries::statistics(&self.engine, Some(&agency))
                .await?
                .into();
            per_agency.push(AgencyFigures { agency, figures });
        }
        Ok(StatisticsView {
            overall,
            agencies: per_agency,
        })
    }

    pub fn me(&self, principal: &Principal) -> Me {
        Me {
            token_id: principal.token_id.clone(),
            name: principal.name.clone(),
            agency: principal.agency.to_string(),
            role: principal.role,
        }
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), Error> {
        Ok(cohandle_store::handle::ping(&self.engine).await?)
    }
}

/// The `overdue` filter of a list, judged on `today`.
fn overdue(wanted: Option<bool>, today: NaiveDate) -> Option<Overdue> {
    wanted.map(|past| {
        if past {
            Overdue::On(today)
        } else {
            Overdue::NotOn(today)
        }
    })
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

fn not_yours(principal: &Principal, key: &str) -> Error {
    Error::forbidden(
        "not_your_proposal",
        format!(
            "proposal {key} is not {}'s: it neither assigned it nor has a task in it",
            principal.agency
        ),
    )
}
