//! A small world that sends events to one proposal and keeps what was accepted.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cohandle_workflows::engine::{china_offset, Change, Decision, Effect, Rejection, TimerSpec};
use cohandle_workflows::event::{Assignment, Handler};
use cohandle_workflows::model::{
    AssignmentMode, Contact, ContactMethod, DisclosureConsent, Dispatch, Draft, Feedback, Machine,
    Opinion, ProposalInfo, ProposalKind, ResultClass, Satisfaction, Signature, TaskRole,
};
use cohandle_workflows::{
    apply, Actor, ActorKind, AgencyCode, Body, Calendar, Catalog, Definition, Event, EventId,
    Proposal, ProposalKey,
};

pub const ASSIGNER: &str = "cq-zfbgt";
pub const CONGRESS: &str = "cq-rdgw";

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test dates are valid")
}

/// Ten in the morning, China time, on `day`.
pub fn at(day: &str) -> DateTime<Utc> {
    china_offset()
        .from_local_datetime(&date(day).and_hms_opt(10, 0, 0).expect("valid"))
        .single()
        .expect("fixed offset")
        .with_timezone(&Utc)
}

pub fn code(s: &str) -> AgencyCode {
    AgencyCode::parse(s).expect("test codes are valid")
}

pub fn agency(s: &str) -> Actor {
    Actor {
        agency: code(s),
        kind: ActorKind::Agency,
    }
}
pub fn assigner() -> Actor {
    Actor {
        agency: code(ASSIGNER),
        kind: ActorKind::Assigner,
    }
}
pub fn congress() -> Actor {
    Actor {
        agency: code(CONGRESS),
        kind: ActorKind::CongressOffice,
    }
}
pub fn supervisor() -> Actor {
    Actor {
        agency: code("cq-dc"),
        kind: ActorKind::Supervisor,
    }
}
fn timer_actor() -> Actor {
    timer()
}
pub fn timer() -> Actor {
    Actor {
        agency: code("cohandle-monitor"),
        kind: ActorKind::Timer,
    }
}

pub fn info(kind: ProposalKind) -> ProposalInfo {
    ProposalInfo {
        kind,
        number: "0942".into(),
        session: "市五届人大三次会议".into(),
        title: "关于对渝东南地区制造企业科学研究大力扶持的建议".into(),
        category: "科技".into(),
        lead_deputy: "郎平权".into(),
        co_signers: vec![],
        submitted_on: date("2020-01-12"),
        session_closed_on: Some(date("2020-01-16")),
        disclosure_consent: DisclosureConsent::FullText,
        key_supervision: false,
    }
}

pub fn assignment(
    definition: &Definition,
    mode: AssignmentMode,
    handlers: &[(&str, TaskRole)],
    on: &str,
) -> Body {
    Body::Assign(Assignment {
        definition: definition.name.clone(),
        info: info(definition.kind),
        mode,
        handlers: handlers
            .iter()
            .map(|(a, role)| Handler {
                agency: code(a),
                role: *role,
            })
            .collect(),
        assigned_on: date(on),
    })
}

pub fn opinion(number: &str, on: &str) -> Body {
    Body::SubmitOpinion(Opinion {
        document_number: number.into(),
        summary: "协办意见".into(),
        submitted_on: Some(date(on)),
    })
}

pub fn draft(class: ResultClass, views: &[&str]) -> Body {
    Body::DraftReply(Draft {
        result_class: class,
        document_number: "渝科局函〔2020〕109号".into(),
        summary: "答复函".into(),
        co_handler_views: views.iter().map(|v| code(v)).collect(),
        commits_funds: false,
    })
}

pub fn sign(on: &str, principal: bool) -> Body {
    Body::SignReply(Signature {
        signer: "许洪斌".into(),
        title: if principal { "局长" } else { "副局长" }.into(),
        principal_head: principal,
        signed_on: date(on),
    })
}

pub fn send(on: &str, deputies: &[&str]) -> Body {
    Body::SendReply(Dispatch {
        sent_on: date(on),
        deputies: deputies.iter().map(|d| (*d).to_owned()).collect(),
        copies: vec!["人代工委".into(), "市政府办公厅".into()],
    })
}

pub fn feedback(agency_code: &str, satisfaction: Satisfaction, on: &str) -> Body {
    Body::RecordFeedback {
        agency: code(agency_code),
        feedback: Feedback {
            satisfaction,
            comments: String::new(),
            received_on: date(on),
        },
    }
}

pub fn contact(on: &str, agreed: bool) -> Body {
    Body::RecordContact(Contact {
        method: ContactMethod::Phone,
        on: date(on),
        deputy_agreed: agreed,
        note: String::new(),
    })
}

/// One proposal, its definition, and everything accepted so far.
pub struct World {
    pub definition: Arc<Definition>,
    pub calendar: Calendar,
    pub proposal: Option<Proposal>,
    pub changes: Vec<Change>,
    pub effects: Vec<Effect>,
    fired: BTreeSet<String>,
    seq: u32,
}

impl World {
    pub fn new(definition: &str) -> Self {
        Self::with(Catalog::shipped().latest(definition).expect("shipped"))
    }

    pub fn with(definition: Arc<Definition>) -> Self {
        Self {
            definition,
            calendar: Calendar::china_official(),
            proposal: None,
            changes: Vec::new(),
            effects: Vec::new(),
            fired: BTreeSet::new(),
            seq: 0,
        }
    }

    pub fn event(&mut self, actor: Actor, day: &str, body: Body) -> Event {
        self.seq += 1;
        Event {
            id: EventId::parse(format!("e-{}", self.seq)).expect("valid"),
            proposal: ProposalKey::parse("cq-5-3-0942").expect("valid"),
            actor,
            occurred_at: at(day),
            body,
        }
    }

    /// Sends an event; on acceptance keeps the new state. The engine's clock reads `day`.
    pub fn send(&mut self, actor: Actor, day: &str, body: Body) -> Result<Decision, Rejection> {
        let event = self.event(actor, day, body);
        self.apply(&event, at(day))
    }

    pub fn apply(&mut self, event: &Event, now: DateTime<Utc>) -> Result<Decision, Rejection> {
        let decision = apply(
            &self.definition,
            &self.calendar,
            self.proposal.as_ref(),
            event,
            now,
        )?;
        self.proposal = Some(decision.proposal.clone());
        self.changes.extend(decision.changes.iter().cloned());
        self.effects.extend(decision.effects.iter().cloned());
        Ok(decision)
    }

    /// Sends an event that must be accepted.
    pub fn ok(&mut self, actor: Actor, day: &str, body: Body) -> Decision {
        let name = body.name();
        self.send(actor, day, body)
            .unwrap_or_else(|r| panic!("{name} on {day} was refused: {r}"))
    }

    pub fn proposal(&self) -> &Proposal {
        self.proposal.as_ref().expect("assigned")
    }

    pub fn state_of(&self, agency_code: &str) -> String {
        self.proposal()
            .task(&code(agency_code))
            .expect("task exists")
            .state
            .clone()
    }

    pub fn due(&self, agency_code: &str, deadline: &str) -> Option<NaiveDate> {
        self.proposal()
            .task(&code(agency_code))
            .and_then(|t| t.deadlines.get(deadline))
            .map(|d| d.due)
    }

    /// Timers scheduled and neither cancelled nor fired yet, as the monitor would hold them.
    pub fn pending_timers(&self) -> Vec<TimerSpec> {
        let mut pending: Vec<TimerSpec> = Vec::new();
        for effect in &self.effects {
            match effect {
                Effect::ScheduleTimer(t) => {
                    pending.retain(|p| p.id != t.id);
                    pending.push(t.clone());
                }
                Effect::CancelTimers { agency, deadline } => pending.retain(|p| {
                    &p.agency != agency || deadline.as_ref().is_some_and(|d| d != &p.deadline)
                }),
                Effect::Notify(_) => {}
            }
        }
        pending.retain(|p| !self.fired.contains(&p.id));
        pending.sort_by_key(|p| p.fire_at);
        pending
    }

    /// Fires, in due order, every pending timer due by the end of `day`, as the monitor does.
    pub fn advance(&mut self, day: &str) {
        let end = at(day) + chrono::Duration::hours(14);
        while let Some(timer) = self.pending_timers().into_iter().find(|t| t.fire_at <= end) {
            self.fired.insert(timer.id.clone());
            let fired_on = cohandle_workflows::engine::china_date(timer.fire_at).to_string();
            let body = Body::TimerFired {
                agency: timer.agency,
                deadline: timer.deadline,
                kind: timer.kind,
                due: timer.due,
                generation: timer.generation,
            };
            self.ok(timer_actor(), &fired_on, body);
        }
    }

    /// The definition lines of every transition this world took.
    pub fn rules_taken(&self) -> BTreeSet<(Machine, usize)> {
        self.changes
            .iter()
            .filter(|c| c.rule_line > 0)
            .map(|c| (c.machine, c.rule_line))
            .collect()
    }
}

/// A lead with two co-handlers, assigned, signed for and acknowledged.
pub fn lead_with_two(definition: &str, day: &str) -> World {
    let mut w = World::new(definition);
    let def = w.definition.clone();
    w.ok(
        assigner(),
        day,
        assignment(
            &def,
            AssignmentMode::LeadWithCoHandlers,
            &[
                ("cq-kjj", TaskRole::Lead),
                ("cq-jw", TaskRole::CoHandler),
                ("cq-czj", TaskRole::CoHandler),
            ],
            day,
        ),
    );
    w
}
