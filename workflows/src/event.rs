//! Events: what an actor says happened to a proposal. The vocabulary is fixed here (it is
//! the wire contract); which event is allowed when, and from whom, is the definition's.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

use crate::ids::{AgencyCode, EventId, ProposalKey};
use crate::model::{
    AssignmentMode, Contact, Disclosure, Dispatch, Draft, Feedback, Opinion, ProposalInfo,
    Signature, TaskRole,
};

/// Who sends an event, as authenticated by the door it came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The congress office or government office that assigns (交办) and coordinates.
    Assigner,
    /// A handling agency: its role in a proposal follows from its task there.
    Agency,
    /// The congress deputy work office (人代工委), relaying deputies' receipts.
    CongressOffice,
    /// A supervisor (督办).
    Supervisor,
    /// The deadline monitor.
    Timer,
}

/// The sender of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub agency: AgencyCode,
    pub kind: ActorKind,
}

/// The role an actor plays for one event, as definitions name it in `actors = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    Assigner,
    /// The agency of a handler task (the lead, a sole handler or a split handler).
    Lead,
    CoHandler,
    CongressOffice,
    Supervisor,
    Timer,
    /// The engine itself, for transitions it raises (never named in a definition).
    Engine,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Assigner,
        Role::Lead,
        Role::CoHandler,
        Role::CongressOffice,
        Role::Supervisor,
        Role::Timer,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One event addressed to one proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub proposal: ProposalKey,
    pub actor: Actor,
    pub occurred_at: DateTime<Utc>,
    pub body: Body,
}

/// One agency's part in an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub agency: AgencyCode,
    pub role: TaskRole,
}

/// The assignment (交办) that creates a proposal in the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Definition name; the newest version loaded is taken, and kept for life.
    pub definition: String,
    pub info: ProposalInfo,
    pub mode: AssignmentMode,
    pub handlers: Vec<Handler>,
    pub assigned_on: NaiveDate,
}

/// The assigner's decision on a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision", deny_unknown_fields)]
pub enum DisputeDecision {
    /// The agency keeps the task.
    Keep { reason: String },
    /// The task moves to another agency.
    Reassign { to: AgencyCode, reason: String },
}

/// What a timer says when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum TimerKind {
    Reminder,
    Expiry,
}

/// The body of an event: one variant per event of the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "data")]
pub enum Body {
    Assign(Assignment),
    /// An agency signs for its task (签收).
    SignFor,
    Acknowledge,
    Dispute {
        reason: String,
    },
    DecideDispute {
        agency: AgencyCode,
        decision: DisputeDecision,
    },
    SubmitOpinion(Opinion),
    Decline {
        reason: String,
    },
    RaiseDisagreement {
        co_handler: AgencyCode,
        reason: String,
    },
    SettleDisagreement {
        co_handler: AgencyCode,
        resolution: String,
    },
    RecordContact(Contact),
    DraftReply(Draft),
    ReturnDraft {
        reason: String,
    },
    SignReply(Signature),
    SendReply(Dispatch),
    RecordFeedback {
        agency: AgencyCode,
        feedback: Feedback,
    },
    ReportProgress {
        note: String,
    },
    ConcludeFollowUp {
        note: String,
    },
    RecordConsultation {
        note: String,
    },
    RequestExtension {
        until: NaiveDate,
        reason: String,
    },
    ApproveExtension {
        agency: AgencyCode,
    },
    RefuseExtension {
        agency: AgencyCode,
        reason: String,
    },
    RecordDisclosure(Disclosure),
    /// Stops a deadline's clock for a reason the definition allows (e.g. waiting on the deputy).
    PauseClock {
        reason: String,
    },
    /// Restarts a stopped clock with the time that was left.
    ResumeClock,
    /// Recomputes every deadline after the holiday calendar was corrected or extended.
    RecomputeDeadlines {
        reason: String,
    },
    MergeInto {
        target: ProposalKey,
    },
    Absorb {
        source: ProposalKey,
        deputies: Vec<String>,
    },
    Urge {
        agency: AgencyCode,
        note: String,
    },
    /// Sent by the deadline monitor.
    TimerFired {
        agency: AgencyCode,
        deadline: String,
        kind: TimerKind,
        due: NaiveDate,
        generation: u32,
    },
}

/// The name of every event, as definitions write it.
pub const EVENT_NAMES: &[&str] = &[
    "assign",
    "sign_for",
    "acknowledge",
    "dispute",
    "decide_dispute",
    "submit_opinion",
    "decline",
    "raise_disagreement",
    "settle_disagreement",
    "record_contact",
    "draft_reply",
    "return_draft",
    "sign_reply",
    "send_reply",
    "record_feedback",
    "report_progress",
    "conclude_follow_up",
    "record_consultation",
    "request_extension",
    "approve_extension",
    "refuse_extension",
    "record_disclosure",
    "merge_into",
    "absorb",
    "urge",
    "pause_clock",
    "resume_clock",
    "recompute_deadlines",
    "reminder",
    "expiry",
];

/// Events the engine raises itself, never accepted from outside.
pub const INTERNAL_EVENTS: &[&str] = &["tasks_completed"];

/// Events that concern the proposal as a whole rather than one task.
pub const PROPOSAL_EVENTS: &[&str] = &["assign", "merge_into", "absorb", "recompute_deadlines"];

impl Body {
    /// The event's name in definitions. A fired timer is `reminder` or `expiry`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Assign(_) => "assign",
            Self::SignFor => "sign_for",
            Self::Acknowledge => "acknowledge",
            Self::Dispute { .. } => "dispute",
            Self::DecideDispute { .. } => "decide_dispute",
            Self::SubmitOpinion(_) => "submit_opinion",
            Self::Decline { .. } => "decline",
            Self::RaiseDisagreement { .. } => "raise_disagreement",
            Self::SettleDisagreement { .. } => "settle_disagreement",
            Self::RecordContact(_) => "record_contact",
            Self::DraftReply(_) => "draft_reply",
            Self::ReturnDraft { .. } => "return_draft",
            Self::SignReply(_) => "sign_reply",
            Self::SendReply(_) => "send_reply",
            Self::RecordFeedback { .. } => "record_feedback",
            Self::ReportProgress { .. } => "report_progress",
            Self::ConcludeFollowUp { .. } => "conclude_follow_up",
            Self::RecordConsultation { .. } => "record_consultation",
            Self::RequestExtension { .. } => "request_extension",
            Self::ApproveExtension { .. } => "approve_extension",
            Self::RefuseExtension { .. } => "refuse_extension",
            Self::RecordDisclosure(_) => "record_disclosure",
            Self::MergeInto { .. } => "merge_into",
            Self::Absorb { .. } => "absorb",
            Self::Urge { .. } => "urge",
            Self::PauseClock { .. } => "pause_clock",
            Self::ResumeClock => "resume_clock",
            Self::RecomputeDeadlines { .. } => "recompute_deadlines",
            Self::TimerFired { kind, .. } => match kind {
                TimerKind::Reminder => "reminder",
                TimerKind::Expiry => "expiry",
            },
        }
    }

    /// The agency whose task the event is about, when the body names one; otherwise the
    /// sending agency's own task is meant.
    pub fn target_agency(&self) -> Option<&AgencyCode> {
        match self {
            Self::DecideDispute { agency, .. }
            | Self::RecordFeedback { agency, .. }
            | Self::ApproveExtension { agency }
            | Self::RefuseExtension { agency, .. }
            | Self::Urge { agency, .. }
            | Self::TimerFired { agency, .. } => Some(agency),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_name_is_in_the_vocabulary() {
        let bodies = [
            Body::SignFor,
            Body::Acknowledge,
            Body::Decline {
                reason: String::new(),
            },
            Body::Urge {
                agency: AgencyCode::parse("a").unwrap(),
                note: String::new(),
            },
        ];
        for body in bodies {
            assert!(EVENT_NAMES.contains(&body.name()), "{}", body.name());
        }
    }
}
