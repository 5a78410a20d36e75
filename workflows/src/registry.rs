//! The named guards and effects that definitions may use, and the recording of each
//! event's content on its task. Definitions name them; this file is the only code behind
//! those names.

use std::fmt;

use crate::definition::{PrincipalHeadWhen, SecondDissatisfaction};
use crate::engine::{Rejection, RejectionCode, Step};
use crate::event::{Body, DisputeDecision};
use crate::model::{
    Deadline, Disclosure, DisclosureScope, Dispute, ExtensionRequest, Machine, Task, TaskRole,
};

/// A guard or effect as a definition writes it: `name` or `name(argument)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub name: String,
    pub arg: Option<String>,
}

impl Call {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let ident = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let (name, arg) = match text.split_once('(') {
            None => (text, None),
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(arg) => (name, Some(arg.trim())),
                None => return Err(format!("{text:?} opens a parenthesis it does not close")),
            },
        };
        if !ident(name) || arg.is_some_and(|a| !ident(a)) {
            return Err(format!(
                "{text:?} is not of the form name or name(argument), in lower_snake_case"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            arg: arg.map(str::to_owned),
        })
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(arg) => write!(f, "{}({arg})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Guard,
    Effect,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guard => "guard",
            Self::Effect => "effect",
        }
    }
}

/// What a guard or effect takes between its parentheses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Deadline,
    Recipient,
}

/// Who `notify(...)` may address.
pub const RECIPIENTS: &[&str] = &[
    "agency",
    "lead",
    "co_handlers",
    "handlers",
    "deputies",
    "assigner",
    "congress_office",
    "supervisors",
];

type GuardFn = fn(&Step<'_>, Option<usize>, Option<&str>) -> Result<(), String>;
type EffectFn = fn(&mut Step<'_>, Option<usize>, Option<&str>) -> Result<(), Rejection>;

const GUARDS: &[(&str, ArgKind, GuardFn)] = &[
    ("all_co_handlers_done", ArgKind::None, all_co_handlers_done),
    ("no_open_disagreement", ArgKind::None, no_open_disagreement),
    (
        "co_handler_views_included",
        ArgKind::None,
        co_handler_views_included,
    ),
    (
        "deputy_agreement_if_required",
        ArgKind::None,
        deputy_agreement_if_required,
    ),
    ("signer_authorized", ArgKind::None, signer_authorized),
    (
        "every_deputy_addressed",
        ArgKind::None,
        every_deputy_addressed,
    ),
    ("within_window", ArgKind::Deadline, within_window),
    ("no_pending_dispute", ArgKind::None, no_pending_dispute),
    ("dispute_pending", ArgKind::None, dispute_pending),
    ("dispute_upheld", ArgKind::None, dispute_upheld),
    ("dispute_dismissed", ArgKind::None, dispute_dismissed),
    ("satisfied", ArgKind::None, satisfied),
    (
        "first_dissatisfaction",
        ArgKind::None,
        first_dissatisfaction,
    ),
    (
        "repeated_dissatisfaction",
        ArgKind::None,
        repeated_dissatisfaction,
    ),
    ("follow_up_class", ArgKind::None, follow_up_class),
    ("not_follow_up_class", ArgKind::None, not_follow_up_class),
    ("extension_requested", ArgKind::None, extension_requested),
    (
        "extension_within_max",
        ArgKind::Deadline,
        extension_within_max,
    ),
    ("timer_current", ArgKind::None, timer_current),
    ("deadline_is", ArgKind::Deadline, deadline_is),
    (
        "consultation_required",
        ArgKind::None,
        consultation_required,
    ),
    ("deadline_running", ArgKind::Deadline, deadline_running),
    ("deadline_paused", ArgKind::Deadline, deadline_paused),
];

const EFFECTS: &[(&str, ArgKind, EffectFn)] = &[
    ("start_deadline", ArgKind::Deadline, start_deadline),
    ("stop_deadline", ArgKind::Deadline, stop_deadline),
    ("stop_all_deadlines", ArgKind::None, stop_all_deadlines),
    ("extend_deadline", ArgKind::Deadline, extend_deadline),
    ("notify", ArgKind::Recipient, notify),
    ("reassign_task", ArgKind::None, reassign_task),
    ("pause_deadline", ArgKind::Deadline, pause_deadline),
    ("resume_deadline", ArgKind::Deadline, resume_deadline),
    ("recompute_deadlines", ArgKind::None, recompute_deadlines),
];

pub fn names(kind: Kind) -> Vec<&'static str> {
    match kind {
        Kind::Guard => GUARDS.iter().map(|g| g.0).collect(),
        Kind::Effect => EFFECTS.iter().map(|e| e.0).collect(),
    }
}

pub fn arg_kind(kind: Kind, name: &str) -> Option<ArgKind> {
    match kind {
        Kind::Guard => GUARDS.iter().find(|g| g.0 == name).map(|g| g.1),
        Kind::Effect => EFFECTS.iter().find(|e| e.0 == name).map(|e| e.1),
    }
}

pub(crate) fn check_guard(step: &Step<'_>, task: Option<usize>, call: &Call) -> Result<(), String> {
    let (_, _, guard) = GUARDS
        .iter()
        .find(|g| g.0 == call.name)
        .expect("validation checks guard names");
    guard(step, task, call.arg.as_deref())
}

pub(crate) fn run_effect(
    step: &mut Step<'_>,
    task: Option<usize>,
    call: &Call,
) -> Result<(), Rejection> {
    let (_, _, effect) = EFFECTS
        .iter()
        .find(|e| e.0 == call.name)
        .expect("validation checks effect names");
    effect(step, task, call.arg.as_deref())
}

fn the_task<'s>(step: &'s Step<'_>, task: Option<usize>) -> Result<&'s Task, String> {
    task.map(|i| &step.proposal().tasks[i])
        .ok_or_else(|| "this guard applies to task events only".to_owned())
}

// ---------------------------------------------------------------------------------------
// Guards. Each returns the sentence a person reads when it refuses.

fn all_co_handlers_done(step: &Step<'_>, _: Option<usize>, _: Option<&str>) -> Result<(), String> {
    if !step.definition.settings.co_handler_opinion_required {
        return Ok(());
    }
    let co = step.definition.machine(Machine::CoHandler);
    let missing: Vec<String> = step
        .proposal()
        .co_handlers()
        .filter(|t| !co.is_terminal(&t.state))
        .map(|t| format!("{} ({})", t.agency, t.state))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "co-handlers have not all sent their opinion: {}",
            missing.join(", ")
        ))
    }
}

fn no_open_disagreement(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    let task = the_task(step, task)?;
    if task.disagreements.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = task.disagreements.keys().map(|a| a.as_str()).collect();
        Err(format!(
            "the disagreement with {} must be settled by the government office before the lead replies",
            names.join(", ")
        ))
    }
}

fn co_handler_views_included(
    step: &Step<'_>,
    _: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    let Body::DraftReply(draft) = &step.event.body else {
        return Ok(());
    };
    let missing: Vec<&str> = step
        .proposal()
        .co_handlers()
        .filter(|t| t.opinion.is_some() && !draft.co_handler_views.contains(&t.agency))
        .map(|t| t.agency.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the draft must state the views of the co-handlers {}",
            missing.join(", ")
        ))
    }
}

fn deputy_agreement_if_required(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    if !step.definition.settings.deputy_agreement_before_reply {
        return Ok(());
    }
    if the_task(step, task)?
        .contacts
        .iter()
        .any(|c| c.deputy_agreed)
    {
        Ok(())
    } else {
        Err("this jurisdiction requires the deputy's agreement, recorded with record_contact, before a formal reply".into())
    }
}

fn signer_authorized(step: &Step<'_>, task: Option<usize>, _: Option<&str>) -> Result<(), String> {
    let Body::SignReply(signature) = &step.event.body else {
        return Ok(());
    };
    let task = the_task(step, task)?;
    let key = step.proposal().info.key_supervision;
    let funds = task.draft.as_ref().is_some_and(|d| d.commits_funds);
    let required = step
        .definition
        .settings
        .principal_head_signs_when
        .iter()
        .find(|when| match when {
            PrincipalHeadWhen::Always => true,
            PrincipalHeadWhen::KeySupervision => key,
            PrincipalHeadWhen::CommitsFunds => funds,
        });
    match required {
        Some(why) if !signature.principal_head => Err(format!(
            "the agency's principal head must sign this reply ({}), not {} {}",
            match why {
                PrincipalHeadWhen::Always => "always required here",
                PrincipalHeadWhen::KeySupervision => "a key-supervision item",
                PrincipalHeadWhen::CommitsFunds => "it commits projects or funds",
            },
            signature.title,
            signature.signer
        )),
        _ => Ok(()),
    }
}

fn every_deputy_addressed(
    step: &Step<'_>,
    _: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    let Body::SendReply(dispatch) = &step.event.body else {
        return Ok(());
    };
    let missing: Vec<String> = step
        .proposal()
        .all_deputies()
        .into_iter()
        .filter(|d| !dispatch.deputies.contains(d))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "each deputy gets a reply; missing: {}",
            missing.join(", ")
        ))
    }
}

fn within_window(step: &Step<'_>, task: Option<usize>, arg: Option<&str>) -> Result<(), String> {
    let name = arg.unwrap_or_default();
    match the_task(step, task)?.deadlines.get(name) {
        Some(d) if step.date <= d.due => Ok(()),
        Some(d) => Err(format!("the {name} closed on {}", d.due)),
        None => Err(format!("the {name} is not open")),
    }
}

fn no_pending_dispute(step: &Step<'_>, task: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match &the_task(step, task)?.dispute {
        None => Ok(()),
        Some(d) => Err(format!(
            "a dispute raised on {} waits for the assigner's decision",
            d.raised_on
        )),
    }
}

fn dispute_pending(step: &Step<'_>, task: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match the_task(step, task)?.dispute {
        Some(_) => Ok(()),
        None => Err("there is no dispute to decide".into()),
    }
}

fn dispute_upheld(step: &Step<'_>, _: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match &step.event.body {
        Body::DecideDispute {
            decision: DisputeDecision::Reassign { .. },
            ..
        } => Ok(()),
        _ => Err("the decision keeps the task where it is".into()),
    }
}

fn dispute_dismissed(step: &Step<'_>, _: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match &step.event.body {
        Body::DecideDispute {
            decision: DisputeDecision::Keep { .. },
            ..
        } => Ok(()),
        _ => Err("the decision re-assigns the task".into()),
    }
}

fn feedback_satisfied(step: &Step<'_>) -> Option<bool> {
    match &step.event.body {
        Body::RecordFeedback { feedback, .. } => Some(feedback.satisfaction.is_satisfied()),
        _ => None,
    }
}

fn satisfied(step: &Step<'_>, _: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match feedback_satisfied(step) {
        Some(true) => Ok(()),
        _ => Err("the deputy is not satisfied".into()),
    }
}

fn first_dissatisfaction(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    if feedback_satisfied(step) != Some(false) {
        return Err("the deputy is satisfied".into());
    }
    match the_task(step, task)?.dissatisfied_count() {
        0 => Ok(()),
        n => Err(format!("the deputy was dissatisfied {n} time(s) before")),
    }
}

fn repeated_dissatisfaction(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    if feedback_satisfied(step) != Some(false) {
        return Err("the deputy is satisfied".into());
    }
    match the_task(step, task)?.dissatisfied_count() {
        0 => Err("this is the first dissatisfaction".into()),
        _ => Ok(()),
    }
}

fn reply_class_is_follow_up(step: &Step<'_>, task: Option<usize>) -> Result<bool, String> {
    let task = the_task(step, task)?;
    Ok(task.draft.as_ref().is_some_and(|d| {
        step.definition
            .settings
            .follow_up_classes
            .contains(&d.result_class)
    }))
}

fn follow_up_class(step: &Step<'_>, task: Option<usize>, _: Option<&str>) -> Result<(), String> {
    if reply_class_is_follow_up(step, task)? {
        Ok(())
    } else {
        Err("the reply's class needs no follow-up".into())
    }
}

fn not_follow_up_class(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    if reply_class_is_follow_up(step, task)? {
        Err("the reply's class stays under follow-up".into())
    } else {
        Ok(())
    }
}

fn extension_requested(
    step: &Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), String> {
    match &the_task(step, task)?.extension {
        Some(ExtensionRequest { approved: None, .. }) => Ok(()),
        _ => Err("no extension request is waiting for a decision".into()),
    }
}

fn extension_within_max(
    step: &Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), String> {
    let name = arg.unwrap_or_default();
    let task = the_task(step, task)?;
    let (Some(request), Some(deadline)) = (&task.extension, task.deadlines.get(name)) else {
        return Err(format!("there is no running {name} deadline to extend"));
    };
    if request.until <= deadline.due {
        return Err(format!(
            "{} is not later than the current due date {}",
            request.until, deadline.due
        ));
    }
    let Some(max) = step.definition.deadlines[name].max else {
        return Ok(());
    };
    // From the date the rule counts from, however long the clock was stopped since.
    let base = deadline.base();
    let limit = step.calendar.add(base, max).map_err(|e| e.to_string())?;
    if request.until <= limit {
        Ok(())
    } else {
        Err(format!(
            "{} is beyond the longest allowed, {max} from {base} ({limit})",
            request.until
        ))
    }
}

fn timer_current(step: &Step<'_>, task: Option<usize>, _: Option<&str>) -> Result<(), String> {
    let Body::TimerFired {
        deadline,
        due,
        generation,
        ..
    } = &step.event.body
    else {
        return Err("only a timer may send this".into());
    };
    match the_task(step, task)?.deadlines.get(deadline) {
        Some(d) if d.generation == *generation && d.due == *due => Ok(()),
        Some(d) => Err(format!(
            "stale timer: the {deadline} deadline is now due {} (generation {}), not {due} (generation {generation})",
            d.due, d.generation
        )),
        None => Err(format!("stale timer: the {deadline} deadline is no longer running")),
    }
}

fn deadline_is(step: &Step<'_>, _: Option<usize>, arg: Option<&str>) -> Result<(), String> {
    match &step.event.body {
        Body::TimerFired { deadline, .. } if Some(deadline.as_str()) == arg => Ok(()),
        _ => Err(format!(
            "the timer is not for the {} deadline",
            arg.unwrap_or_default()
        )),
    }
}

fn consultation_required(step: &Step<'_>, _: Option<usize>, _: Option<&str>) -> Result<(), String> {
    match step.definition.settings.second_dissatisfaction {
        SecondDissatisfaction::Consultation => Ok(()),
        SecondDissatisfaction::WrittenExplanation => Err(
            "this jurisdiction answers a second dissatisfaction with a written explanation".into(),
        ),
    }
}

fn deadline_running(step: &Step<'_>, task: Option<usize>, arg: Option<&str>) -> Result<(), String> {
    let name = arg.unwrap_or_default();
    match the_task(step, task)?.deadlines.get(name) {
        Some(d) if !d.is_paused() => Ok(()),
        Some(d) => Err(format!(
            "the {name} clock has been stopped since {}",
            d.paused_on.unwrap_or_default()
        )),
        None => Err(format!("no {name} deadline is running")),
    }
}

fn deadline_paused(step: &Step<'_>, task: Option<usize>, arg: Option<&str>) -> Result<(), String> {
    let name = arg.unwrap_or_default();
    match the_task(step, task)?.deadlines.get(name) {
        Some(d) if d.is_paused() => Ok(()),
        _ => Err(format!("the {name} clock is not stopped")),
    }
}

// ---------------------------------------------------------------------------------------
// Effects.

fn index_of(task: Option<usize>) -> Result<usize, Rejection> {
    task.ok_or_else(|| {
        Rejection::new(
            RejectionCode::InvalidPayload,
            "this effect applies to task events only",
        )
    })
}

fn start_deadline(
    step: &mut Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), Rejection> {
    step.start_deadline(index_of(task)?, arg.unwrap_or_default())
}

fn stop_deadline(
    step: &mut Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), Rejection> {
    step.stop_deadline(index_of(task)?, arg);
    Ok(())
}

fn stop_all_deadlines(
    step: &mut Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), Rejection> {
    step.stop_deadline(index_of(task)?, None);
    Ok(())
}

fn extend_deadline(
    step: &mut Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), Rejection> {
    let index = index_of(task)?;
    let name = arg.unwrap_or_default();
    let t = &mut step.proposal_mut().tasks[index];
    let until = match &mut t.extension {
        Some(request) => {
            request.approved = Some(true);
            request.until
        }
        None => {
            return Err(Rejection::new(
                RejectionCode::GuardFailed,
                "no extension was requested",
            ))
        }
    };
    let Some(current) = t.deadlines.get(name).cloned() else {
        return Err(Rejection::new(
            RejectionCode::GuardFailed,
            format!("no {name} deadline is running"),
        ));
    };
    step.set_deadline(
        index,
        name,
        Deadline {
            due: until,
            generation: current.generation + 1,
            fixed: true,
            ..current
        },
    )
}

fn pause_deadline(
    step: &mut Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), Rejection> {
    step.pause_deadline(index_of(task)?, arg.unwrap_or_default())
}

fn resume_deadline(
    step: &mut Step<'_>,
    task: Option<usize>,
    arg: Option<&str>,
) -> Result<(), Rejection> {
    step.resume_deadline(index_of(task)?, arg.unwrap_or_default())
}

fn recompute_deadlines(
    step: &mut Step<'_>,
    _: Option<usize>,
    _: Option<&str>,
) -> Result<(), Rejection> {
    step.recompute_deadlines()
}

fn notify(step: &mut Step<'_>, task: Option<usize>, arg: Option<&str>) -> Result<(), Rejection> {
    step.notify(task, arg.unwrap_or_default());
    Ok(())
}

fn reassign_task(
    step: &mut Step<'_>,
    task: Option<usize>,
    _: Option<&str>,
) -> Result<(), Rejection> {
    let index = index_of(task)?;
    let Body::DecideDispute {
        decision: DisputeDecision::Reassign { to, .. },
        ..
    } = &step.event.body
    else {
        return Err(Rejection::new(
            RejectionCode::InvalidPayload,
            "reassign_task needs a re-assignment decision",
        ));
    };
    if step.proposal().task(to).is_some() {
        return Err(Rejection::new(
            RejectionCode::InvalidPayload,
            format!("agency {to} already has a task in this proposal"),
        ));
    }
    step.stop_deadline(index, None);
    let old = &mut step.proposal_mut().tasks[index];
    old.active = false;
    let role = old.role;
    let initial = step.definition.machine(role.machine()).initial.clone();
    step.proposal_mut()
        .tasks
        .push(Task::new(to.clone(), role, initial));
    let new_index = step.proposal().tasks.len() - 1;
    step.create_task(new_index)
}

// ---------------------------------------------------------------------------------------
// Recording: what every accepted event writes on its task, whatever the definition says.

pub(crate) fn record(step: &mut Step<'_>, index: usize) -> Result<(), Rejection> {
    let invalid = |m: String| Err(Rejection::new(RejectionCode::InvalidPayload, m));
    let date = step.date;
    let settings = &step.definition.settings;
    let body = &step.event.body;
    // Content checks first, so a refused event changes nothing.
    match body {
        Body::Dispute { reason }
        | Body::Decline { reason }
        | Body::ReturnDraft { reason }
        | Body::RequestExtension { reason, .. }
        | Body::RefuseExtension { reason, .. }
            if reason.trim().is_empty() =>
        {
            return invalid(format!("{} needs a written reason", body.name()));
        }
        Body::DraftReply(draft) => {
            if !settings.result_classes.contains(&draft.result_class) {
                return invalid(format!(
                    "result class {:?} is not used here; allowed: {:?}",
                    draft.result_class, settings.result_classes
                ));
            }
            if draft.document_number.trim().is_empty() {
                return invalid("a reply needs its document number (发文字号)".into());
            }
        }
        Body::RecordDisclosure(Disclosure {
            scope,
            withheld_reason,
            ..
        }) if *scope != DisclosureScope::Full => match withheld_reason {
            Some(reason)
                if settings.withheld_reasons.is_empty()
                    || settings.withheld_reasons.contains(reason) => {}
            Some(reason) => {
                return invalid(format!(
                    "{reason:?} is not a reason to withhold here; allowed: {}",
                    settings.withheld_reasons.join(", ")
                ))
            }
            None => return invalid("a disclosure that is not full must give the reason".into()),
        },
        Body::PauseClock { reason } | Body::RecomputeDeadlines { reason }
            if reason.trim().is_empty() =>
        {
            return invalid(format!("{} needs a reason", body.name()));
        }
        Body::PauseClock { reason } if !settings.pause_reasons.contains(reason) => {
            let allowed = if settings.pause_reasons.is_empty() {
                "none".to_owned()
            } else {
                settings.pause_reasons.join(", ")
            };
            return invalid(format!(
                "{reason:?} is not a reason to stop the clock here; allowed: {allowed}"
            ));
        }
        Body::RaiseDisagreement { co_handler, .. }
        | Body::SettleDisagreement { co_handler, .. } => {
            let is_co = step
                .proposal()
                .task(co_handler)
                .is_some_and(|t| t.role == TaskRole::CoHandler);
            if !is_co {
                return invalid(format!("{co_handler} is not a co-handler of this proposal"));
            }
        }
        _ => {}
    }
    let task = &mut step.proposal_mut().tasks[index];
    match body {
        Body::SignFor | Body::Acknowledge => task.acknowledged_on = Some(date),
        Body::Dispute { reason } => {
            task.dispute = Some(Dispute {
                reason: reason.clone(),
                raised_on: date,
            });
        }
        Body::DecideDispute { .. } => task.dispute = None,
        Body::SubmitOpinion(opinion) => {
            let mut opinion = opinion.clone();
            opinion.submitted_on.get_or_insert(date);
            task.opinion = Some(opinion);
        }
        Body::Decline { reason } => task.declined = Some(reason.clone()),
        Body::RaiseDisagreement { co_handler, reason } => {
            task.disagreements
                .insert(co_handler.clone(), reason.clone());
        }
        Body::SettleDisagreement { co_handler, .. }
            if task.disagreements.remove(co_handler).is_none() =>
        {
            return invalid(format!("there is no open disagreement with {co_handler}"));
        }
        Body::RecordContact(contact) => task.contacts.push(contact.clone()),
        Body::DraftReply(draft) => {
            task.draft = Some(draft.clone());
            task.signature = None;
        }
        Body::ReturnDraft { .. } => task.signature = None,
        Body::SignReply(signature) => task.signature = Some(signature.clone()),
        Body::SendReply(dispatch) => task.replies.push(dispatch.clone()),
        Body::RecordFeedback { feedback, .. } => task.feedback.push(feedback.clone()),
        Body::ReportProgress { note }
        | Body::ConcludeFollowUp { note }
        | Body::RecordConsultation { note } => {
            task.progress.push(note.clone());
        }
        Body::RequestExtension { until, reason } => {
            task.extension = Some(ExtensionRequest {
                until: *until,
                reason: reason.clone(),
                approved: None,
            });
        }
        Body::RefuseExtension { .. } => {
            if let Some(request) = &mut task.extension {
                request.approved = Some(false);
            }
        }
        Body::RecordDisclosure(disclosure) => task.disclosure = Some(disclosure.clone()),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_with_and_without_argument() {
        assert_eq!(
            Call::parse("notify(lead)").unwrap().arg.as_deref(),
            Some("lead")
        );
        assert_eq!(Call::parse("satisfied").unwrap().to_string(), "satisfied");
        assert!(Call::parse("notify(lead").is_err());
        assert!(Call::parse("Notify").is_err());
        assert!(Call::parse("notify(a b)").is_err());
    }
}
