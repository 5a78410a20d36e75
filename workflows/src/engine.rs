//! `apply`: one event against one proposal, decided by its definition. No IO, no clock
//! reads: the caller passes the time it read, and carries out the effects returned.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, Calendar};
use crate::definition::{DeadlineBase, DeadlineKind, Definition, RestDayRule, Transition};
use crate::event::{Actor, ActorKind, Assignment, Body, Event, Role, TimerKind};
use crate::ids::{AgencyCode, ProposalKey};
use crate::model::{AssignmentMode, Deadline, Machine, Proposal, Task, TaskRole};
use crate::registry::{self, Call};

/// China keeps one time zone and no daylight saving: deadlines are dates there.
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The date an instant falls on in China.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china_offset()).date_naive()
}

/// Reminders go out at nine in the morning, China time.
fn reminder_moment(date: NaiveDate) -> DateTime<Utc> {
    moment(date, NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"))
}

/// A deadline has passed at the first moment of the day after it.
fn expiry_moment(due: NaiveDate) -> DateTime<Utc> {
    moment(due + Duration::days(1), NaiveTime::MIN)
}

fn moment(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    china_offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// A stable, machine-readable reason for a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The event is not allowed in the task's (or proposal's) current state.
    WrongState,
    /// The sender may not send this event here.
    ActorNotAllowed,
    /// A named guard of the definition refused the event.
    GuardFailed,
    /// The event is about a proposal the engine does not know (yet).
    UnknownProposal,
    /// The event names an agency with no task in the proposal.
    UnknownTask,
    /// The event's content breaks a rule of the domain.
    InvalidPayload,
    /// An assignment for a proposal that already exists.
    AlreadyExists,
    /// A deadline cannot be computed (e.g. outside the holiday data).
    Calendar,
    /// The event's time, or a date its document declares (sent, signed, written …), lies
    /// too far ahead of the event's own time and the engine's clock, or before its proposal
    /// was assigned.
    ClockSkew,
    /// An assignment whose key begins with no registered jurisdiction's code, or under a
    /// definition its jurisdiction does not use.
    WrongJurisdiction,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongState => "wrong_state",
            Self::ActorNotAllowed => "actor_not_allowed",
            Self::GuardFailed => "guard_failed",
            Self::UnknownProposal => "unknown_proposal",
            Self::UnknownTask => "unknown_task",
            Self::InvalidPayload => "invalid_payload",
            Self::AlreadyExists => "already_exists",
            Self::Calendar => "calendar",
            Self::ClockSkew => "clock_skew",
            Self::WrongJurisdiction => "wrong_jurisdiction",
        }
    }
}

/// Why an event was refused: a stable code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<calendar::Error> for Rejection {
    fn from(error: calendar::Error) -> Self {
        Self::new(RejectionCode::Calendar, error.to_string())
    }
}

/// A timer to keep: the monitor sends `TimerFired` with these fields at `fire_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSpec {
    /// Deterministic, so scheduling the same timer twice keeps one.
    pub id: String,
    pub agency: AgencyCode,
    pub deadline: String,
    pub kind: TimerKind,
    pub due: NaiveDate,
    pub generation: u32,
    pub fire_at: DateTime<Utc>,
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "to")]
pub enum Recipient {
    Agency(AgencyCode),
    Deputies(Vec<String>),
    Assigner(AgencyCode),
    CongressOffice,
    Supervisors,
}

/// A message to send once the decision is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub recipient: Recipient,
    /// The event that caused it.
    pub event: String,
    /// The task it concerns, when it concerns one.
    pub agency: Option<AgencyCode>,
    /// The task's state after the event.
    pub state: Option<String>,
    /// The running deadlines of the task `agency` names, after the event: what it must meet
    /// by when, each marked when it is provisional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<DeadlineNotice>,
}

/// A running deadline as a notification states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineNotice {
    pub name: String,
    pub due: NaiveDate,
    /// The due date lies in a year whose official holiday arrangement is not loaded yet.
    pub provisional: bool,
}

/// An intended side effect, carried out by the caller after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    ScheduleTimer(TimerSpec),
    /// Drop pending timers of a task's deadline (all its deadlines when `deadline` is None).
    CancelTimers {
        agency: AgencyCode,
        deadline: Option<String>,
    },
    Notify(Notification),
}

/// One state change, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub machine: Machine,
    /// The task's agency; `None` for the proposal machine.
    pub agency: Option<AgencyCode>,
    pub from: String,
    pub to: String,
    pub event: String,
    pub role: Role,
    /// The line of the definition's transition that applied (0 for a task's creation).
    pub rule_line: usize,
    /// What else the change did that the states do not show, e.g. a deadline moved.
    pub detail: Option<String>,
}

/// The outcome of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub proposal: Proposal,
    pub changes: Vec<Change>,
    pub effects: Vec<Effect>,
}

/// Decides one event. `current` is `None` for a proposal the engine has not seen; `now` is
/// the moment the engine records the step (its clock reading; for an import, the past
/// moment the import brings). That moment, never a date the event's document declares,
/// decides whether a deadline is met: a declared date is kept as the document's claim and
/// must lie between the assignment and the event's time (plus the allowed skew).
pub fn apply(
    definition: &Definition,
    calendar: &Calendar,
    current: Option<&Proposal>,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Decision, Rejection> {
    let skew = Duration::hours(i64::from(definition.settings.max_clock_skew_hours));
    if event.occurred_at > now + skew {
        return Err(Rejection::new(
            RejectionCode::ClockSkew,
            format!(
                "the event says it happened at {}, more than {} hours after the engine's clock ({now})",
                event.occurred_at, definition.settings.max_clock_skew_hours
            ),
        ));
    }
    // PostgreSQL cannot store a NUL in text, and no document of the domain holds one: refuse
    // it here, as content, rather than fail the write (a 500, or a poison message retried
    // until it is dead-lettered).
    if serde_json::to_string(&event.body).is_ok_and(|json| json.contains("\\u0000")) {
        return Err(Rejection::new(
            RejectionCode::InvalidPayload,
            "a text field holds a NUL character (U+0000), which no text of a proposal may hold",
        ));
    }
    if let Some(existing) = current {
        // Nothing happens to a proposal before it was assigned: a timestamp before the
        // assignment date is a clock far off (or a forged backdating), refused like one
        // from the future.
        if china_date(event.occurred_at) < existing.assigned_on {
            return Err(Rejection::new(
                RejectionCode::ClockSkew,
                format!(
                    "the event says it happened at {}, before proposal {} was assigned on {}",
                    event.occurred_at, existing.key, existing.assigned_on
                ),
            ));
        }
    }
    check_declared_dates(event, current, now, skew)?;
    let mut step = Step {
        definition,
        calendar,
        event,
        date: china_date(now),
        proposal: None,
        changes: Vec::new(),
        effects: Vec::new(),
    };
    match (&event.body, current) {
        (Body::Assign(assignment), None) => step.assign(assignment)?,
        (Body::Assign(_), Some(existing)) => {
            return Err(Rejection::new(
                RejectionCode::AlreadyExists,
                format!("proposal {} is already assigned (state {})", existing.key, existing.state),
            ))
        }
        (_, None) => {
            return Err(Rejection::new(
                RejectionCode::UnknownProposal,
                format!(
                    "proposal {} has not been assigned yet; an event for it before its assignment is applied once the assignment is in (held until then, or replayed)",
                    event.proposal
                ),
            ))
        }
        (body, Some(existing)) => {
            if existing.definition != definition.reference() {
                return Err(Rejection::new(
                    RejectionCode::InvalidPayload,
                    format!(
                        "proposal {} runs under {}, not {}",
                        existing.key,
                        existing.definition,
                        definition.reference()
                    ),
                ));
            }
            step.proposal = Some(existing.clone());
            if crate::event::PROPOSAL_EVENTS.contains(&body.name()) {
                step.proposal_event()?;
            } else {
                step.task_event()?;
            }
        }
    }
    let proposal = step
        .proposal
        .take()
        .expect("every accepted path leaves a proposal");
    let mut effects = step.effects;
    // Deadlines are told as they stand after the whole event, whichever effect came first.
    for effect in &mut effects {
        if let Effect::Notify(notice) = effect {
            notice.deadlines = notice
                .agency
                .as_ref()
                .and_then(|agency| proposal.task(agency))
                .filter(|task| task.active)
                .map(|task| {
                    task.deadlines
                        .iter()
                        .filter(|(_, d)| !d.is_paused())
                        .map(|(name, d)| DeadlineNotice {
                            name: name.clone(),
                            due: d.due,
                            provisional: d.provisional,
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    Ok(Decision {
        proposal,
        changes: step.changes,
        effects,
    })
}

/// Whether an event refused as `wrong_state` could be allowed after later steps: a state
/// that allows it can still be reached, by the transitions of its machine, from the state
/// it met. `false` for a step its proposal or task is past for good (a second sign-for, an
/// acknowledgement after the opinion, any task event of a merged proposal): no step that
/// arrives later can make it fit. `true` when the task it concerns cannot be told.
pub fn may_be_allowed_later(definition: &Definition, proposal: &Proposal, event: &Event) -> bool {
    let name = event.body.name();
    let (machine, state) = if crate::event::PROPOSAL_EVENTS.contains(&name) {
        (Machine::Proposal, proposal.state.as_str())
    } else {
        if proposal.merged_into.is_some() {
            return false;
        }
        let agency = match (event.body.target_agency(), event.actor.kind) {
            (Some(agency), _) => Some(agency),
            (None, ActorKind::Agency) => Some(&event.actor.agency),
            (None, _) => proposal.lead().map(|lead| &lead.agency),
        };
        let task = agency.and_then(|a| proposal.tasks.iter().find(|t| &t.agency == a && t.active));
        let Some(task) = task else {
            return true;
        };
        (task.role.machine(), task.state.as_str())
    };
    let transitions = &definition.machine(machine).transitions;
    let mut reachable = vec![state];
    let mut next = 0;
    while let Some(&here) = reachable.get(next) {
        next += 1;
        for transition in transitions {
            if !transition.from.iter().any(|f| f == here || f == "*") {
                continue;
            }
            if transition.event == name {
                return true;
            }
            if let Some(to) = transition.to.as_deref() {
                if !reachable.contains(&to) {
                    reachable.push(to);
                }
            }
        }
    }
    false
}

/// The dates an event's document declares (written, signed, sent, received …), by field.
fn declared_dates(body: &Body) -> Vec<(&'static str, NaiveDate)> {
    match body {
        Body::Assign(a) => vec![("assigned_on", a.assigned_on)],
        Body::SubmitOpinion(o) => o
            .submitted_on
            .map(|d| ("submitted_on", d))
            .into_iter()
            .collect(),
        Body::RecordContact(c) => vec![("on", c.on)],
        Body::SignReply(s) => vec![("signed_on", s.signed_on)],
        Body::SendReply(d) => vec![("sent_on", d.sent_on)],
        Body::RecordFeedback { feedback, .. } => vec![("received_on", feedback.received_on)],
        Body::RecordDisclosure(d) => std::iter::once(("written_on", d.written_on))
            .chain(d.published_on.map(|p| ("published_on", p)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A declared date lies between the proposal's assignment and the event's own time (the
/// earlier of the time it gives and the time it is recorded) plus the allowed skew: a
/// document cannot be dated after it reached the engine, nor before its proposal existed.
fn check_declared_dates(
    event: &Event,
    current: Option<&Proposal>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(), Rejection> {
    let latest = china_date(event.occurred_at.min(now) + skew);
    for (field, date) in declared_dates(&event.body) {
        if date > latest {
            return Err(Rejection::new(
                RejectionCode::ClockSkew,
                format!(
                    "{field} is {date}, after the event's own time ({}, recorded {now}) and the allowed skew",
                    event.occurred_at
                ),
            ));
        }
        let before_assignment = |p: &&Proposal| date < p.assigned_on;
        if let Some(existing) = current
            .filter(|_| !matches!(event.body, Body::Assign(_)))
            .filter(before_assignment)
        {
            return Err(Rejection::new(
                RejectionCode::ClockSkew,
                format!(
                    "{field} is {date}, before proposal {} was assigned on {}",
                    existing.key, existing.assigned_on
                ),
            ));
        }
    }
    Ok(())
}

/// The working state of one `apply`.
pub(crate) struct Step<'a> {
    pub(crate) definition: &'a Definition,
    pub(crate) calendar: &'a Calendar,
    pub(crate) event: &'a Event,
    /// The date (in China) the engine records the step on: what deadlines are met by.
    pub(crate) date: NaiveDate,
    pub(crate) proposal: Option<Proposal>,
    pub(crate) changes: Vec<Change>,
    pub(crate) effects: Vec<Effect>,
}

fn reject(code: RejectionCode, message: impl Into<String>) -> Rejection {
    Rejection::new(code, message)
}

impl Step<'_> {
    pub(crate) fn proposal(&self) -> &Proposal {
        self.proposal.as_ref().expect("set before any transition")
    }

    pub(crate) fn proposal_mut(&mut self) -> &mut Proposal {
        self.proposal.as_mut().expect("set before any transition")
    }

    fn role_of(&self, actor: &Actor, task: Option<&Task>) -> Result<Role, Rejection> {
        let proposal = self.proposal.as_ref();
        Ok(match actor.kind {
            ActorKind::Assigner => {
                if let Some(p) = proposal {
                    if p.assigner != actor.agency {
                        return Err(reject(
                            RejectionCode::ActorNotAllowed,
                            format!(
                                "{} is not the assigner of proposal {} ({} is)",
                                actor.agency, p.key, p.assigner
                            ),
                        ));
                    }
                }
                Role::Assigner
            }
            ActorKind::CongressOffice => {
                let offices = &self.definition.settings.congress_offices;
                if !offices.contains(&actor.agency) {
                    return Err(reject(
                        RejectionCode::ActorNotAllowed,
                        format!(
                            "{} does not relay receipts for proposals under {}: its congress offices are {}",
                            actor.agency,
                            self.definition.reference(),
                            offices.iter().map(AgencyCode::as_str).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                Role::CongressOffice
            }
            ActorKind::Supervisor => Role::Supervisor,
            ActorKind::Timer => Role::Timer,
            ActorKind::Agency => match task {
                Some(t) if t.agency == actor.agency => match t.role {
                    TaskRole::Lead | TaskRole::Split => Role::Lead,
                    TaskRole::CoHandler => Role::CoHandler,
                },
                Some(t) => {
                    return Err(reject(
                        RejectionCode::ActorNotAllowed,
                        format!(
                            "agency {} may not act on the task of {}",
                            actor.agency, t.agency
                        ),
                    ))
                }
                None => {
                    return Err(reject(
                        RejectionCode::ActorNotAllowed,
                        format!("agency {} has no task in this proposal", actor.agency),
                    ))
                }
            },
        })
    }

    /// Picks the transition: right state, then right actor, then the first whose guards pass.
    fn choose(
        &self,
        machine: Machine,
        state: &str,
        role: Role,
        task: Option<usize>,
        event_name: &str,
    ) -> Result<&Transition, Rejection> {
        let def = self.definition.machine(machine);
        let on_event: Vec<&Transition> = def
            .transitions
            .iter()
            .filter(|t| t.event == event_name)
            .collect();
        let in_state: Vec<&Transition> = on_event
            .iter()
            .copied()
            .filter(|t| t.from.iter().any(|f| f == state))
            .collect();
        let whose = match task {
            Some(i) => format!("the task of {}", self.proposal().tasks[i].agency),
            None => "the proposal".to_owned(),
        };
        if in_state.is_empty() {
            let allowed: Vec<&str> = on_event
                .iter()
                .flat_map(|t| t.from.iter().map(String::as_str))
                .collect();
            let hint = if allowed.is_empty() {
                format!(
                    "{event_name} is not an event of the {} machine",
                    machine.as_str()
                )
            } else {
                format!("it is allowed in {}", allowed.join(", "))
            };
            return Err(reject(
                RejectionCode::WrongState,
                format!("{event_name} is not allowed while {whose} is {state}: {hint}"),
            ));
        }
        let for_role: Vec<&Transition> = in_state
            .into_iter()
            .filter(|t| t.actors.contains(&role))
            .collect();
        if for_role.is_empty() {
            return Err(reject(
                RejectionCode::ActorNotAllowed,
                format!(
                    "the {} may not send {event_name} for {whose}",
                    role.as_str()
                ),
            ));
        }
        let mut first_failure = None;
        for transition in for_role {
            match transition
                .guards
                .iter()
                .try_for_each(|g| registry::check_guard(self, task, g))
            {
                Ok(()) => return Ok(transition),
                Err(reason) => {
                    first_failure.get_or_insert(reason);
                }
            }
        }
        Err(reject(
            RejectionCode::GuardFailed,
            first_failure.unwrap_or_default(),
        ))
    }

    fn run_effects(&mut self, effects: &[Call], task: Option<usize>) -> Result<(), Rejection> {
        for effect in effects {
            registry::run_effect(self, task, effect)?;
        }
        Ok(())
    }

    fn assign(&mut self, assignment: &Assignment) -> Result<(), Rejection> {
        check_assignment(self.definition, &self.event.proposal, assignment)?;
        let actor = &self.event.actor;
        let role = self.role_of(actor, None)?;
        let def = self.definition;
        let proposal_machine = def.machine(Machine::Proposal);
        let initial = proposal_machine.initial.clone();
        let mut proposal = Proposal {
            key: self.event.proposal.clone(),
            definition: def.reference(),
            info: assignment.info.clone(),
            assigner: actor.agency.clone(),
            mode: assignment.mode,
            assigned_on: assignment.assigned_on,
            state: initial.clone(),
            merged_into: None,
            merged_deputies: Vec::new(),
            tasks: Vec::new(),
        };
        for handler in &assignment.handlers {
            let machine = def.machine(handler.role.machine());
            proposal.tasks.push(Task::new(
                handler.agency.clone(),
                handler.role,
                machine.initial.clone(),
            ));
        }
        self.proposal = Some(proposal);
        let transition = self
            .choose(Machine::Proposal, &initial, role, None, "assign")?
            .clone();
        self.move_proposal(&transition, role)?;
        for index in 0..self.proposal().tasks.len() {
            self.create_task(index)?;
        }
        Ok(())
    }

    /// Runs the on-create effects of a new task and records its birth in the history.
    pub(crate) fn create_task(&mut self, index: usize) -> Result<(), Rejection> {
        let task = &self.proposal().tasks[index];
        let machine = task.role.machine();
        let (agency, state) = (task.agency.clone(), task.state.clone());
        self.changes.push(Change {
            machine,
            agency: Some(agency),
            from: String::new(),
            to: state,
            event: self.event.body.name().to_owned(),
            role: Role::Assigner,
            rule_line: 0,
            detail: None,
        });
        let on_create = self.definition.machine(machine).on_create.clone();
        self.run_effects(&on_create, Some(index))
    }

    fn move_proposal(&mut self, transition: &Transition, role: Role) -> Result<(), Rejection> {
        let from = self.proposal().state.clone();
        if let Some(to) = &transition.to {
            self.proposal_mut().state = to.clone();
        }
        self.changes.push(Change {
            machine: Machine::Proposal,
            agency: None,
            from,
            to: self.proposal().state.clone(),
            event: transition.event.clone(),
            role,
            rule_line: transition.line,
            detail: None,
        });
        self.run_effects(&transition.effects, None)
    }

    fn proposal_event(&mut self) -> Result<(), Rejection> {
        let role = self.role_of(&self.event.actor, None)?;
        let state = self.proposal().state.clone();
        let name = self.event.body.name();
        let transition = self
            .choose(Machine::Proposal, &state, role, None, name)?
            .clone();
        match &self.event.body {
            Body::MergeInto { target } => {
                if target == &self.proposal().key {
                    return Err(reject(
                        RejectionCode::InvalidPayload,
                        "a proposal cannot be merged into itself",
                    ));
                }
                self.proposal_mut().merged_into = Some(target.clone());
                let agencies: Vec<AgencyCode> = self
                    .proposal()
                    .tasks
                    .iter()
                    .map(|t| t.agency.clone())
                    .collect();
                for agency in agencies {
                    self.effects.push(Effect::CancelTimers {
                        agency,
                        deadline: None,
                    });
                }
                for task in &mut self.proposal_mut().tasks {
                    task.deadlines.clear();
                }
            }
            Body::Absorb { source, deputies } => {
                if deputies.is_empty() {
                    return Err(reject(
                        RejectionCode::InvalidPayload,
                        format!("merging {source} brings no deputies to reply to"),
                    ));
                }
                let p = self.proposal_mut();
                for deputy in deputies {
                    if !p.merged_deputies.contains(deputy)
                        && !p.info.deputies().any(|d| d == deputy)
                    {
                        p.merged_deputies.push(deputy.clone());
                    }
                }
            }
            _ => {}
        }
        self.move_proposal(&transition, role)
    }

    fn target_task(&self) -> Result<usize, Rejection> {
        let body = &self.event.body;
        let actor = &self.event.actor;
        let proposal = self.proposal();
        let agency = match (body.target_agency(), actor.kind, body) {
            (Some(agency), _, _) => agency.clone(),
            (None, ActorKind::Agency, _) => actor.agency.clone(),
            (None, _, Body::SettleDisagreement { .. }) => match proposal.lead() {
                Some(lead) => lead.agency.clone(),
                None => {
                    return Err(reject(
                        RejectionCode::UnknownTask,
                        "the proposal has no lead agency",
                    ))
                }
            },
            (None, _, _) => {
                return Err(reject(
                    RejectionCode::UnknownTask,
                    format!(
                        "{} must name the agency whose task it concerns",
                        body.name()
                    ),
                ))
            }
        };
        let named = body.target_agency().is_some();
        proposal
            .tasks
            .iter()
            .position(|t| t.agency == agency && t.active)
            .ok_or_else(|| {
                // An agency acting on a proposal it has no part in is refused as a sender;
                // an event naming a task that does not exist is about an unknown task.
                let code = if named {
                    RejectionCode::UnknownTask
                } else {
                    RejectionCode::ActorNotAllowed
                };
                reject(
                    code,
                    format!("agency {agency} has no task in proposal {}", proposal.key),
                )
            })
    }

    fn task_event(&mut self) -> Result<(), Rejection> {
        if let Some(target) = &self.proposal().merged_into {
            return Err(reject(
                RejectionCode::WrongState,
                format!(
                    "proposal {} was merged into {target}; send its events there",
                    self.proposal().key
                ),
            ));
        }
        let index = self.target_task()?;
        let task = &self.proposal().tasks[index];
        let role = self.role_of(&self.event.actor, Some(task))?;
        let machine = task.role.machine();
        let state = task.state.clone();
        let agency = task.agency.clone();
        let transition = self
            .choose(machine, &state, role, Some(index), self.event.body.name())?
            .clone();
        registry::record(self, index)?;
        if let Some(to) = &transition.to {
            self.proposal_mut().tasks[index].state = to.clone();
        }
        self.changes.push(Change {
            machine,
            agency: Some(agency),
            from: state,
            to: self.proposal().tasks[index].state.clone(),
            event: transition.event.clone(),
            role,
            rule_line: transition.line,
            detail: None,
        });
        self.run_effects(&transition.effects, Some(index))?;
        self.complete_if_done()
    }

    /// Raises `tasks_completed` on the proposal once every handler task is terminal.
    fn complete_if_done(&mut self) -> Result<(), Rejection> {
        let def = self.definition;
        let handler = def.machine(Machine::Handler);
        let done = self
            .proposal()
            .tasks
            .iter()
            .filter(|t| t.active && t.role.machine() == Machine::Handler)
            .all(|t| handler.is_terminal(&t.state));
        if !done {
            return Ok(());
        }
        let state = self.proposal().state.clone();
        let transition = def
            .machine(Machine::Proposal)
            .transitions
            .iter()
            .find(|t| t.event == "tasks_completed" && t.from.contains(&state))
            .cloned();
        match transition {
            Some(t) => self.move_proposal(&t, Role::Engine),
            None => Ok(()),
        }
    }

    /// Starts (or restarts) a deadline on a task and schedules its timers.
    pub(crate) fn start_deadline(&mut self, index: usize, name: &str) -> Result<(), Rejection> {
        let rule = self
            .definition
            .deadlines
            .get(name)
            .expect("validation checks deadline names")
            .clone();
        let proposal = self.proposal();
        let task = &proposal.tasks[index];
        let base = match rule.from {
            DeadlineBase::Assignment => proposal.assigned_on,
            DeadlineBase::Receipt => task.acknowledged_on.unwrap_or(self.date),
            DeadlineBase::SessionClose => proposal.info.session_closed_on.ok_or_else(|| {
                reject(
                    RejectionCode::InvalidPayload,
                    format!("deadline {name} counts from the session's close, but the proposal gives no session_closed_on"),
                )
            })?,
            DeadlineBase::Event => self.date,
        };
        let due = self.due_date(base, rule.duration)?;
        let generation = task.deadlines.get(name).map_or(0, |d| d.generation + 1);
        let deadline = Deadline {
            started_on: base,
            duration: rule.duration,
            due,
            generation,
            fixed: false,
            paused_on: None,
            provisional: false,
            counts_from: None,
        };
        self.set_deadline(index, name, deadline)
    }

    pub(crate) fn due_date(
        &self,
        base: NaiveDate,
        duration: crate::calendar::DurationSpec,
    ) -> Result<NaiveDate, Rejection> {
        let due = self.calendar.add(base, duration)?;
        Ok(match self.definition.settings.due_on_rest_day {
            RestDayRule::Keep => due,
            RestDayRule::NextWorkingDay => self.calendar.roll_to_working_day(due)?,
        })
    }

    /// Puts a deadline in place, replacing any earlier one of that name and its timers. A
    /// due date in a year without the official arrangement is marked provisional.
    pub(crate) fn set_deadline(
        &mut self,
        index: usize,
        name: &str,
        mut deadline: Deadline,
    ) -> Result<(), Rejection> {
        deadline.provisional = self.calendar.is_provisional(deadline.due);
        let agency = self.proposal().tasks[index].agency.clone();
        let had = self.proposal_mut().tasks[index]
            .deadlines
            .insert(name.to_owned(), deadline.clone())
            .is_some();
        if had {
            self.effects.push(Effect::CancelTimers {
                agency: agency.clone(),
                deadline: Some(name.to_owned()),
            });
        }
        let rule = &self.definition.deadlines[name];
        let key = &self.proposal().key;
        let timer = |kind: TimerKind, suffix: &str, fire_at| {
            Effect::ScheduleTimer(TimerSpec {
                id: format!("{key}/{agency}/{name}/{}/{suffix}", deadline.generation),
                agency: agency.clone(),
                deadline: name.to_owned(),
                kind,
                due: deadline.due,
                generation: deadline.generation,
                fire_at,
            })
        };
        let mut scheduled = Vec::new();
        if rule.kind == DeadlineKind::Obligation {
            let reminders = &self.definition.reminders;
            let offsets = if self.proposal().info.key_supervision
                && !reminders.key_supervision_before.is_empty()
            {
                &reminders.key_supervision_before
            } else {
                &reminders.before
            };
            for offset in offsets {
                let day = self.calendar.sub(deadline.due, *offset)?;
                if day > deadline.started_on {
                    scheduled.push(timer(
                        TimerKind::Reminder,
                        &format!("remind-{offset}"),
                        reminder_moment(day),
                    ));
                }
            }
        }
        scheduled.push(timer(
            TimerKind::Expiry,
            "expiry",
            expiry_moment(deadline.due),
        ));
        self.effects.extend(scheduled);
        Ok(())
    }

    /// Stops a deadline's clock: its timers go, and the time left is kept in the unit the
    /// deadline counts in, so that resuming restarts it with exactly that.
    pub(crate) fn pause_deadline(&mut self, index: usize, name: &str) -> Result<(), Rejection> {
        let date = self.date;
        let calendar = self.calendar;
        let working = self.definition.deadlines[name]
            .duration
            .counts_working_days();
        let task = &mut self.proposal_mut().tasks[index];
        let agency = task.agency.clone();
        let Some(deadline) = task.deadlines.get_mut(name) else {
            return Err(reject(
                RejectionCode::GuardFailed,
                format!("no {name} deadline is running"),
            ));
        };
        let left = if working {
            calendar.working_days_between(date, deadline.due)?
        } else {
            u32::try_from((deadline.due - date).num_days().max(0)).unwrap_or(0)
        };
        deadline.paused_on = Some(date);
        deadline.duration = crate::calendar::DurationSpec {
            amount: left,
            unit: if working {
                crate::calendar::Unit::WorkingDays
            } else {
                crate::calendar::Unit::Days
            },
        };
        deadline.generation += 1;
        deadline.fixed = false;
        self.effects.push(Effect::CancelTimers {
            agency,
            deadline: Some(name.to_owned()),
        });
        Ok(())
    }

    /// Restarts a stopped clock from the event's date with the time that was left.
    pub(crate) fn resume_deadline(&mut self, index: usize, name: &str) -> Result<(), Rejection> {
        let Some(paused) = self.proposal().tasks[index].deadlines.get(name).cloned() else {
            return Err(reject(
                RejectionCode::GuardFailed,
                format!("no {name} deadline is stopped"),
            ));
        };
        let due = self.due_date(self.date, paused.duration)?;
        let resumed = Deadline {
            started_on: self.date,
            duration: paused.duration,
            due,
            generation: paused.generation + 1,
            fixed: false,
            paused_on: None,
            provisional: false,
            counts_from: Some(paused.base()),
        };
        self.set_deadline(index, name, resumed)
    }

    /// After a calendar correction: every computed, running deadline is computed again and
    /// moved when its date changed, with the old and new dates in the history.
    pub(crate) fn recompute_deadlines(&mut self) -> Result<(), Rejection> {
        for index in 0..self.proposal().tasks.len() {
            let task = &self.proposal().tasks[index];
            if !task.active {
                continue;
            }
            let (agency, state, machine) =
                (task.agency.clone(), task.state.clone(), task.role.machine());
            let deadlines: Vec<(String, Deadline)> = task
                .deadlines
                .iter()
                .filter(|(_, d)| !d.is_paused())
                .map(|(n, d)| (n.clone(), d.clone()))
                .collect();
            for (name, deadline) in deadlines {
                let due = if deadline.fixed {
                    deadline.due
                } else {
                    self.due_date(deadline.started_on, deadline.duration)?
                };
                let confirmed = deadline.provisional && !self.calendar.is_provisional(due);
                if due == deadline.due && !confirmed {
                    continue;
                }
                let detail = if due == deadline.due {
                    format!("{name} deadline {due} confirmed by the official holiday arrangement (was provisional)")
                } else {
                    format!("{name} deadline moved from {} to {due}", deadline.due)
                };
                self.changes.push(Change {
                    machine,
                    agency: Some(agency.clone()),
                    from: state.clone(),
                    to: state.clone(),
                    event: self.event.body.name().to_owned(),
                    role: Role::Timer,
                    rule_line: 0,
                    detail: Some(detail),
                });
                let moved = Deadline {
                    due,
                    generation: deadline.generation + 1,
                    ..deadline
                };
                self.set_deadline(index, &name, moved)?;
            }
        }
        Ok(())
    }

    pub(crate) fn stop_deadline(&mut self, index: usize, name: Option<&str>) {
        let task = &mut self.proposal_mut().tasks[index];
        let agency = task.agency.clone();
        let removed = match name {
            Some(name) => task.deadlines.remove(name).is_some(),
            None => {
                let any = !task.deadlines.is_empty();
                task.deadlines.clear();
                any
            }
        };
        if removed {
            self.effects.push(Effect::CancelTimers {
                agency,
                deadline: name.map(str::to_owned),
            });
        }
    }

    pub(crate) fn notify(&mut self, index: Option<usize>, to: &str) {
        let proposal = self.proposal();
        let task = index.map(|i| &proposal.tasks[i]);
        let recipients: Vec<Recipient> = match to {
            "agency" => task
                .map(|t| Recipient::Agency(t.agency.clone()))
                .into_iter()
                .collect(),
            "lead" => proposal
                .lead()
                .map(|t| Recipient::Agency(t.agency.clone()))
                .into_iter()
                .collect(),
            "co_handlers" => proposal
                .co_handlers()
                .map(|t| Recipient::Agency(t.agency.clone()))
                .collect(),
            "handlers" => proposal
                .tasks
                .iter()
                .filter(|t| t.active)
                .map(|t| Recipient::Agency(t.agency.clone()))
                .collect(),
            "deputies" => vec![Recipient::Deputies(proposal.all_deputies())],
            "assigner" => vec![Recipient::Assigner(proposal.assigner.clone())],
            "congress_office" => vec![Recipient::CongressOffice],
            "supervisors" => vec![Recipient::Supervisors],
            _ => unreachable!("validation checks recipients"),
        };
        // A notice about the proposal as a whole follows the proposal's change just made
        // (`tasks_completed` when the last task finished, not the step that finished it):
        // it names that change, the proposal's state after it, and the agency whose task's
        // step caused it, if one did.
        let whole = match task {
            Some(_) => None,
            None => self
                .changes
                .last()
                .filter(|c| c.machine == Machine::Proposal),
        };
        let event = whole.map_or(self.event.body.name(), |c| c.event.as_str());
        let agency = match task {
            Some(t) => Some(t.agency.clone()),
            None => whole.and_then(|_| {
                self.changes
                    .iter()
                    .rev()
                    .skip(1)
                    .find(|c| c.machine != Machine::Proposal)
                    .and_then(|c| c.agency.clone())
            }),
        };
        let state = task
            .map(|t| t.state.clone())
            .or_else(|| whole.map(|c| c.to.clone()));
        let notifications: Vec<Notification> = recipients
            .into_iter()
            .map(|recipient| Notification {
                recipient,
                event: event.to_owned(),
                agency: agency.clone(),
                state: state.clone(),
                deadlines: Vec::new(),
            })
            .collect();
        self.effects
            .extend(notifications.into_iter().map(Effect::Notify));
    }
}

fn check_assignment(
    definition: &Definition,
    key: &ProposalKey,
    assignment: &Assignment,
) -> Result<(), Rejection> {
    let invalid = |message: String| Err(reject(RejectionCode::InvalidPayload, message));
    if assignment.info.kind != definition.kind {
        return invalid(format!(
            "definition {} handles {}, not {}",
            definition.name,
            definition.kind.as_str(),
            assignment.info.kind.as_str()
        ));
    }
    if assignment.assigned_on < assignment.info.submitted_on {
        return invalid(format!(
            "proposal {key} is assigned on {} before it was submitted on {}",
            assignment.assigned_on, assignment.info.submitted_on
        ));
    }
    let info = &assignment.info;
    for (field, value, max) in [
        ("number", &info.number, 64),
        ("session", &info.session, 200),
        ("title", &info.title, 500),
        ("lead_deputy", &info.lead_deputy, 100),
    ] {
        if value.trim().is_empty() || value.chars().count() > max {
            return invalid(format!(
                "{field} must be non-empty and at most {max} characters"
            ));
        }
    }
    let handlers = &assignment.handlers;
    let count = |role| handlers.iter().filter(|h| h.role == role).count();
    let shape_ok = match assignment.mode {
        AssignmentMode::Sole => handlers.len() == 1 && count(TaskRole::Lead) == 1,
        AssignmentMode::LeadWithCoHandlers => {
            count(TaskRole::Lead) == 1
                && count(TaskRole::CoHandler) >= 1
                && count(TaskRole::Split) == 0
        }
        AssignmentMode::Split => handlers.len() >= 2 && count(TaskRole::Split) == handlers.len(),
    };
    if !shape_ok {
        return invalid(match assignment.mode {
            AssignmentMode::Sole => "sole handling names exactly one agency, as lead".to_owned(),
            AssignmentMode::LeadWithCoHandlers => {
                "lead + co-handlers names exactly one lead and at least one co-handler".to_owned()
            }
            AssignmentMode::Split => {
                "split handling names at least two agencies, each as split".to_owned()
            }
        });
    }
    for (i, h) in handlers.iter().enumerate() {
        if handlers[..i].iter().any(|other| other.agency == h.agency) {
            return invalid(format!(
                "agency {} is named twice; each agency has one task",
                h.agency
            ));
        }
    }
    Ok(())
}
