//! What the handlers call once the caller is authenticated: every write through
//! [`Service::submit`] (and so through `Engine::apply`), every read scoped to the caller.
//! The demo calls the same functions, so it replays a case exactly as the API would.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohandle_store::entities::{history, proposal, task};
use cohandle_store::Recorded;
use cohandle_store::{queries, Engine, Outcome, Source};
use cohandle_workflows::engine::{china_date, Change};
use cohandle_workflows::model::DefinitionRef;
use cohandle_workflows::{Body, Event, EventId, Proposal, ProposalKey};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tracing::instrument;

use crate::access::{self, Parties, Scope};
use crate::auth::{Principal, Role};
use crate::dto::{
    AgencyFigures, ChangeView, DeadlineEntry, DeadlineQuery, Deadlines, Me, ProposalQuery,
    ProposalSummary, ProposalView, StatisticsQuery, StatisticsView, TaskQuery, TaskSummary,
    TaskView, TimelineEntry, WriteOutcome,
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

impl From<&history::Model> for ChangeView {
    fn from(h: &history::Model) -> Self {
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

fn db_error(e: sea_orm::DbErr) -> Error {
    Error::Store(cohandle_store::Error::from(e))
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

    fn db(&self) -> &DatabaseConnection {
        self.engine.db()
    }

    /// Today in China, by the engine's clock.
    pub fn today(&self) -> NaiveDate {
        china_date(self.engine.clock().now())
    }

    // --- writes --------------------------------------------------------------------------

    /// Sends one event as `principal` through the engine's one path. A retry with the same
    /// id answers the first outcome; the same id for a different request is refused.
    #[instrument(skip_all, fields(proposal = %command.proposal, event_id = %command.id, event = command.body.name(), agency = %principal.agency))]
    pub async fn submit(&self, principal: &Principal, command: Command) -> Result<Written, Error> {
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
            } => Ok(Written {
                outcome: WriteOutcome {
                    event_id: event.id.to_string(),
                    proposal: event.proposal.to_string(),
                    event: name.to_owned(),
                    version,
                    state,
                    changes: changes.iter().map(ChangeView::from).collect(),
                },
                replayed: false,
            }),
            Outcome::Rejected(rejection) => Err(Error::Rejected {
                code: rejection.code.as_str().to_owned(),
                message: rejection.message,
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
        let Some((assigner, definition, tasks)) = self.parties(key.as_str()).await? else {
            return Ok(());
        };
        let parties = Parties {
            assigner: &assigner,
            definition: &definition,
            tasks: &tasks,
        };
        if parties.sees_proposal(&scope) {
            Ok(())
        } else {
            Err(not_yours(principal, key.as_str()))
        }
    }

    /// The first outcome of an event id, answered again, if the request is the same.
    async fn replay(&self, event: &Event, first: Recorded) -> Result<Written, Error> {
        let id = event.id.to_string();
        if !first.same_request {
            return Err(Error::KeyReused { key: id });
        }
        if !first.applied {
            return Err(Error::Rejected {
                code: first.code.unwrap_or_else(|| "rejected".to_owned()),
                message: first.message,
                replayed: true,
            });
        }
        let rows = history::Entity::find()
            .filter(history::Column::EventId.eq(id.as_str()))
            .filter(history::Column::ProposalKey.eq(event.proposal.as_str()))
            .order_by_asc(history::Column::Seq)
            .all(self.db())
            .await
            .map_err(db_error)?;
        let last_seq = rows.last().map_or(i64::MAX, |r| r.seq);
        let state = history::Entity::find()
            .filter(history::Column::ProposalKey.eq(event.proposal.as_str()))
            .filter(history::Column::Machine.eq("proposal"))
            .filter(history::Column::Seq.lte(last_seq))
            .order_by_desc(history::Column::Seq)
            .one(self.db())
            .await
            .map_err(db_error)?
            .map(|h| h.to_state)
            .unwrap_or_default();
        Ok(Written {
            outcome: WriteOutcome {
                event_id: id,
                proposal: event.proposal.to_string(),
                event: event.body.name().to_owned(),
                version: first.version,
                state,
                changes: rows.iter().map(ChangeView::from).collect(),
            },
            replayed: true,
        })
    }

    // --- reads ---------------------------------------------------------------------------

    /// What `principal` sees.
    fn scope(&self, principal: &Principal) -> Scope {
        Scope::of(principal, self.engine.catalog())
    }

    /// A proposal's assigner, definition and tasks; `None` when there is no such proposal.
    async fn parties(
        &self,
        key: &str,
    ) -> Result<Option<(String, DefinitionRef, Vec<task::Model>)>, Error> {
        let head: Option<(String, String, i32)> = proposal::Entity::find_by_id(key.to_owned())
            .select_only()
            .column(proposal::Column::Assigner)
            .column(proposal::Column::DefinitionName)
            .column(proposal::Column::DefinitionVersion)
            .into_tuple()
            .one(self.db())
            .await
            .map_err(db_error)?;
        let Some((assigner, name, version)) = head else {
            return Ok(None);
        };
        let definition = definition_ref(key, name, version)?;
        let tasks = queries::tasks_of(self.db(), key).await?;
        Ok(Some((assigner, definition, tasks)))
    }

    /// Proposals the caller may see, filtered, a page at a time.
    #[instrument(skip_all, fields(agency = %principal.agency))]
    pub async fn list_proposals(
        &self,
        principal: &Principal,
        query: ProposalQuery,
    ) -> Result<Page<ProposalSummary>, Error> {
        let limit = pagination::limit(query.limit)?;
        let mut find = proposal::Entity::find()
            .order_by_asc(proposal::Column::Key)
            .limit(limit + 1);
        if let Some(cursor) = query.cursor {
            let (after,): (String,) = Cursor::new(cursor).decode()?;
            find = find.filter(proposal::Column::Key.gt(after));
        }
        if let Some(state) = query.state {
            find = find.filter(proposal::Column::State.eq(state));
        }
        if let Some(session) = query.session {
            find = find.filter(proposal::Column::Session.eq(session));
        }
        if let Some(kind) = query.kind {
            find = find.filter(proposal::Column::Kind.eq(kind));
        }
        if let Some(before) = query.due_before {
            find = find.filter(proposal::Column::DueOn.lt(before));
        }
        let today = self.today();
        match query.overdue {
            Some(true) => find = find.filter(proposal::Column::DueOn.lt(today)),
            Some(false) => {
                find = find.filter(
                    Condition::any()
                        .add(proposal::Column::DueOn.is_null())
                        .add(proposal::Column::DueOn.gte(today)),
                );
            }
            None => {}
        }
        if let Some(flag) = query.key_supervision {
            find = find.filter(proposal::Column::KeySupervision.eq(flag));
        }
        if let Some(agency) = query.agency {
            find =
                find.filter(proposal::Column::Key.in_subquery(proposals_with_task(&agency, true)));
        }
        match self.scope(principal) {
            Scope::All => {}
            Scope::Own(me) => {
                find = find.filter(
                    Condition::any()
                        .add(proposal::Column::Assigner.eq(me.as_str()))
                        .add(
                            proposal::Column::Key
                                .in_subquery(proposals_with_task(me.as_str(), false)),
                        ),
                );
            }
            Scope::Relays(definitions) => find = find.filter(under(&definitions)),
        }
        let rows = find.all(self.db()).await.map_err(db_error)?;
        Page::from_rows(rows, limit, |p| Cursor::encode(&(p.key.clone(),)))
            .map(|page| page.map(ProposalSummary::from))
    }

    /// One proposal with its tasks and timeline, as far as the caller may see them.
    #[instrument(skip_all, fields(proposal = %key, agency = %principal.agency))]
    pub async fn proposal(
        &self,
        principal: &Principal,
        key: &ProposalKey,
    ) -> Result<ProposalView, Error> {
        let row = proposal::Entity::find_by_id(key.to_string())
            .one(self.db())
            .await
            .map_err(db_error)?
            .ok_or_else(|| not_found(key.as_str()))?;
        let tasks = queries::tasks_of(self.db(), key.as_str()).await?;
        let scope = self.scope(principal);
        let definition = definition_ref(
            key.as_str(),
            row.definition_name.clone(),
            row.definition_version,
        )?;
        let parties = Parties {
            assigner: &row.assigner,
            definition: &definition,
            tasks: &tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str()));
        }
        let document: Proposal = serde_json::from_str(&row.document)
            .map_err(|e| corrupt(format!("proposal {key}: {e}")))?;
        let task_views = tasks
            .iter()
            .map(|t| task_view(&document, t, parties.sees_task(&scope, &t.agency)))
            .collect::<Result<Vec<_>, _>>()?;
        let timeline = queries::timeline(self.db(), key.as_str())
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
        let (assigner, definition, tasks) = self
            .parties(key.as_str())
            .await?
            .ok_or_else(|| not_found(key.as_str()))?;
        let scope = self.scope(principal);
        let parties = Parties {
            assigner: &assigner,
            definition: &definition,
            tasks: &tasks,
        };
        if !parties.sees_proposal(&scope) {
            return Err(not_yours(principal, key.as_str()));
        }
        // A task moved away and back has two rows: the active one is the task.
        let row = tasks
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
        let within = self.task_scope(principal, query.agency)?;
        let mut find = task::Entity::find()
            .order_by_asc(task::Column::ProposalKey)
            .order_by_asc(task::Column::Position)
            .limit(limit + 1);
        if let Some(cursor) = query.cursor {
            let (key, position): (String, i32) = Cursor::new(cursor).decode()?;
            find = find.filter(
                Condition::any()
                    .add(task::Column::ProposalKey.gt(key.clone()))
                    .add(
                        Condition::all()
                            .add(task::Column::ProposalKey.eq(key))
                            .add(task::Column::Position.gt(position)),
                    ),
            );
        }
        find = within.filter(find);
        if let Some(state) = query.state {
            find = find.filter(task::Column::State.eq(state));
        }
        match query.open {
            Some(true) => {
                find = find
                    .filter(task::Column::Active.eq(true))
                    .filter(task::Column::Terminal.eq(false));
            }
            Some(false) => {
                find = find.filter(
                    Condition::any()
                        .add(task::Column::Active.eq(false))
                        .add(task::Column::Terminal.eq(true)),
                );
            }
            None => {}
        }
        let rows = find.all(self.db()).await.map_err(db_error)?;
        Page::from_rows(rows, limit, |t| {
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
        let within = self.task_scope(principal, query.agency)?;
        let mut find = task::Entity::find()
            .filter(task::Column::Active.eq(true))
            .filter(task::Column::Terminal.eq(false))
            .filter(task::Column::DueOn.is_not_null())
            .filter(task::Column::DueOn.lte(until))
            .order_by_asc(task::Column::DueOn)
            .order_by_asc(task::Column::ProposalKey)
            .order_by_asc(task::Column::Position)
            .limit(limit + 1);
        if let Some(cursor) = query.cursor {
            let (due, key, position): (NaiveDate, String, i32) = Cursor::new(cursor).decode()?;
            find = find.filter(
                Condition::any()
                    .add(task::Column::DueOn.gt(due))
                    .add(
                        Condition::all()
                            .add(task::Column::DueOn.eq(due))
                            .add(task::Column::ProposalKey.gt(key.clone())),
                    )
                    .add(
                        Condition::all()
                            .add(task::Column::DueOn.eq(due))
                            .add(task::Column::ProposalKey.eq(key))
                            .add(task::Column::Position.gt(position)),
                    ),
            );
        }
        find = within.filter(find);
        match query.overdue {
            Some(true) => find = find.filter(task::Column::DueOn.lt(today)),
            Some(false) => find = find.filter(task::Column::DueOn.gte(today)),
            None => {}
        }
        if let Some(flag) = query.key_supervision {
            find = find.filter(task::Column::KeySupervision.eq(flag));
        }
        if let Some(definition) = query.definition {
            let mut under = Query::select();
            under
                .column(proposal::Column::Key)
                .from(proposal::Entity)
                .and_where(Expr::col(proposal::Column::DefinitionName).eq(definition));
            find = find.filter(task::Column::ProposalKey.in_subquery(under));
        }
        let rows = find.all(self.db()).await.map_err(db_error)?;
        let page = Page::from_rows(rows, limit, |t| {
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
            (_, None) => task::Entity::find()
                .select_only()
                .column(task::Column::Agency)
                .distinct()
                .order_by_asc(task::Column::Agency)
                .into_tuple()
                .all(self.db())
                .await
                .map_err(db_error)?,
        };
        let overall = queries::statistics(self.db(), None).await?.into();
        let mut per_agency = Vec::with_capacity(agencies.len());
        for agency in agencies {
            let figures = queries::statistics(self.db(), Some(&agency)).await?.into();
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
        self.db().ping().await.map_err(db_error)
    }
}

/// Proposal keys in which `agency` has a task (only active ones, when `active_only`).
fn proposals_with_task(agency: &str, active_only: bool) -> sea_orm::sea_query::SelectStatement {
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

/// The part of the tasks a list may show: one agency's, the proposals an assigner
/// assigned (plus its own tasks), those under a congress office's definitions.
struct TaskScope {
    agency: Option<String>,
    assigner: Option<String>,
    definitions: Option<Vec<DefinitionRef>>,
}

impl TaskScope {
    fn filter(self, mut find: sea_orm::Select<task::Entity>) -> sea_orm::Select<task::Entity> {
        if let Some(agency) = self.agency {
            find = find.filter(task::Column::Agency.eq(agency));
        }
        if let Some(assigner) = self.assigner {
            let mut assigned = Query::select();
            assigned
                .column(proposal::Column::Key)
                .from(proposal::Entity)
                .and_where(Expr::col(proposal::Column::Assigner).eq(assigner.as_str()));
            find = find.filter(
                Condition::any()
                    .add(task::Column::Agency.eq(assigner))
                    .add(task::Column::ProposalKey.in_subquery(assigned)),
            );
        }
        if let Some(definitions) = self.definitions {
            let mut relayed = Query::select();
            relayed
                .column(proposal::Column::Key)
                .from(proposal::Entity)
                .cond_where(under(&definitions));
            find = find.filter(task::Column::ProposalKey.in_subquery(relayed));
        }
        find
    }
}

fn definition_ref(key: &str, name: String, version: i32) -> Result<DefinitionRef, Error> {
    let version = u32::try_from(version)
        .map_err(|_| corrupt(format!("proposal {key}: definition version {version}")))?;
    Ok(DefinitionRef { name, version })
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

fn task_view(document: &Proposal, row: &task::Model, with_record: bool) -> Result<TaskView, Error> {
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
