//! The shapes of requests and answers, as the OpenAPI document shows them.
//!
//! Request bodies mirror the domain's payloads (`cohandle_workflows::model`) with an optional
//! `occurred_at`, and never an actor: the token decides who sends. Every request type denies
//! unknown fields. Conversions to the domain are written out field by field and enums are
//! mirrored both ways, so a change in the domain breaks the build here instead of drifting.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cohandle_workflows::event::{Assignment, DisputeDecision, Handler};
use cohandle_workflows::model;
use cohandle_workflows::{AgencyCode, Body, ProposalKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Mirrors a unit-only domain enum, with conversions both ways written as exhaustive matches.
/// The wire names are the variants' names in snake case, written at the enum (`rename_all`)
/// rather than per variant: utoipa does not read a `rename` whose text comes from a macro
/// argument, and would document `DeputySuggestion` where the server speaks
/// `deputy_suggestion`. `$text` states each name; a test checks it against serde and the
/// document. `verbatim` keeps the variants' own names (`A`, `B` …).
macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        mirror!(@enum [#[serde(rename_all = "snake_case")]] $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text),+ });
    };
    (verbatim $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        mirror!(@enum [] $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text),+ });
    };
    (@enum [$($naming:tt)*] $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        $($naming)*
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant with the name it has on the wire.
            pub const WIRE_NAMES: &'static [(Self, &'static str)] = &[$(($name::$variant, $text)),+];
        }

        impl From<$name> for model::$name {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => model::$name::$variant),+ }
            }
        }

        impl From<model::$name> for $name {
            fn from(value: model::$name) -> Self {
                match value { $(model::$name::$variant => $name::$variant),+ }
            }
        }
    };
}

mirror!(
    /// 人大代表建议 or 政协提案.
    ProposalKind { DeputySuggestion = "deputy_suggestion", CppccProposal = "cppcc_proposal" }
);
mirror!(
    /// How the assignment spreads the work: one handler, a lead with co-handlers, or split.
    AssignmentMode { Sole = "sole", LeadWithCoHandlers = "lead_with_co_handlers", Split = "split" }
);
mirror!(
    /// An agency's part: lead (主办), co-handler (会办/协办) or split handler (分办).
    TaskRole { Lead = "lead", CoHandler = "co_handler", Split = "split" }
);
mirror!(
    /// Whether the deputy agreed to publish the full text.
    DisclosureConsent { FullText = "full_text", TitleOnly = "title_only" }
);
mirror!(
    verbatim
    /// Result class of a reply: A solved, B being solved, C later, D for reference.
    ResultClass { A = "A", B = "B", C = "C", D = "D" }
);
mirror!(
    /// The deputy's satisfaction on the receipt (回执).
    Satisfaction {
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
    }
);
mirror!(
    /// How the lead spoke with the deputy.
    ContactMethod { Phone = "phone", Meeting = "meeting", Letter = "letter" }
);
mirror!(
    /// How much of a reply is published.
    DisclosureScope { Full = "full", Summary = "summary", Withheld = "withheld" }
);

/// Documents a string with the pattern of a validated identifier.
macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl ToSchema for $name {}
    };
}

text_schema!(
    /// A proposal key: `a-z 0-9 - _ .` (ASCII, lower case), beginning with a letter or a digit,
    /// at most 128 characters.
    ProposalKeyText,
    ProposalKey::PATTERN,
    "cq-5-3-0942"
);
text_schema!(
    /// An agency code: `a-z 0-9 - _ .` (ASCII, lower case), beginning with a letter or a
    /// digit, at most 64 characters.
    AgencyCodeText,
    AgencyCode::PATTERN,
    "cq-jw"
);
text_schema!(
    /// A client's `Idempotency-Key`: `A-Z a-z 0-9 - _ . : /`, beginning with a letter or a
    /// digit, at most 128 characters.
    IdempotencyKeyText,
    cohandle_workflows::ids::IDEMPOTENCY_KEY_PATTERN,
    "jw-ack-0942"
);

/// The proposal as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalInfo {
    pub kind: ProposalKind,
    /// 第0942号 → `0942`.
    #[schema(example = "0942")]
    pub number: String,
    #[schema(example = "市五届人大三次会议")]
    pub session: String,
    pub title: String,
    #[serde(default)]
    pub category: String,
    pub lead_deputy: String,
    #[serde(default)]
    pub co_signers: Vec<String>,
    pub submitted_on: NaiveDate,
    #[serde(default)]
    pub session_closed_on: Option<NaiveDate>,
    pub disclosure_consent: DisclosureConsent,
    #[serde(default)]
    pub key_supervision: bool,
}

impl From<ProposalInfo> for model::ProposalInfo {
    fn from(v: ProposalInfo) -> Self {
        Self {
            kind: v.kind.into(),
            number: v.number,
            session: v.session,
            title: v.title,
            category: v.category,
            lead_deputy: v.lead_deputy,
            co_signers: v.co_signers,
            submitted_on: v.submitted_on,
            session_closed_on: v.session_closed_on,
            disclosure_consent: v.disclosure_consent.into(),
            key_supervision: v.key_supervision,
        }
    }
}

impl From<model::ProposalInfo> for ProposalInfo {
    fn from(v: model::ProposalInfo) -> Self {
        Self {
            kind: v.kind.into(),
            number: v.number,
            session: v.session,
            title: v.title,
            category: v.category,
            lead_deputy: v.lead_deputy,
            co_signers: v.co_signers,
            submitted_on: v.submitted_on,
            session_closed_on: v.session_closed_on,
            disclosure_consent: v.disclosure_consent.into(),
            key_supervision: v.key_supervision,
        }
    }
}

/// One agency's part in an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerPart {
    #[schema(value_type = AgencyCodeText)]
    pub agency: AgencyCode,
    pub role: TaskRole,
}

/// Assigns (交办) a new proposal to its handling agencies.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The new proposal's key, unique across sessions.
    #[schema(value_type = ProposalKeyText)]
    pub key: ProposalKey,
    /// When it happened, as the sender says: kept as its claim, no later than now (plus the allowed skew); deadlines count by the moment the step is recorded. Now when absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Workflow definition name; its newest version is kept for the proposal's life.
    #[schema(example = "chongqing-deputy-suggestion")]
    pub definition: String,
    pub info: ProposalInfo,
    pub mode: AssignmentMode,
    pub handlers: Vec<HandlerPart>,
    pub assigned_on: NaiveDate,
}

impl AssignRequest {
    pub fn into_body(self) -> Body {
        Body::Assign(Assignment {
            definition: self.definition,
            info: self.info.into(),
            mode: self.mode.into(),
            handlers: self
                .handlers
                .into_iter()
                .map(|h| Handler {
                    agency: h.agency,
                    role: h.role.into(),
                })
                .collect(),
            assigned_on: self.assigned_on,
        })
    }
}

/// A step with nothing to say but when it happened (sign for, acknowledge, approve, resume).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// When it happened, as the sender says: kept as its claim, no later than now (plus the allowed skew); deadlines count by the moment the step is recorded. Now when absent. The body may be left empty.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A step that gives a reason (dispute, decline, return a draft, refuse, pause the clock).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub reason: String,
}

/// A step that records a note (progress, conclusion of a follow-up, consultation).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub note: String,
}

/// A co-handler's written opinion (协办意见).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpinionRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(example = "渝教函〔2020〕31号")]
    pub document_number: String,
    pub summary: String,
    #[serde(default)]
    pub submitted_on: Option<NaiveDate>,
}

/// The lead disagrees with a co-handler's opinion; the assigner settles it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisagreementRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(value_type = AgencyCodeText)]
    pub co_handler: AgencyCode,
    pub reason: String,
}

/// The assigner's settlement of a disagreement.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub resolution: String,
}

/// How the lead spoke with the deputy before replying.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub method: ContactMethod,
    pub on: NaiveDate,
    #[serde(default)]
    pub deputy_agreed: bool,
    #[serde(default)]
    pub note: String,
}

/// The lead's draft reply (答复函).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub result_class: ResultClass,
    #[schema(example = "渝科局函〔2020〕109号")]
    pub document_number: String,
    pub summary: String,
    /// The co-handlers whose views the draft states.
    #[serde(default)]
    #[schema(value_type = Vec<AgencyCodeText>)]
    pub co_handler_views: Vec<AgencyCode>,
    #[serde(default)]
    pub commits_funds: bool,
}

/// The agency head's signature (审签).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub signer: String,
    pub title: String,
    pub principal_head: bool,
    pub signed_on: NaiveDate,
}

/// The reply as sent to the deputies.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub sent_on: NaiveDate,
    pub deputies: Vec<String>,
    #[serde(default)]
    pub copies: Vec<String>,
}

/// The deputy's feedback receipt (回执), relayed by the congress office.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub satisfaction: Satisfaction,
    #[serde(default)]
    pub comments: String,
    pub received_on: NaiveDate,
}

/// A request for more time on the reply.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub until: NaiveDate,
    pub reason: String,
}

/// The publication record (公开) of a reply.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    pub index_number: String,
    pub topic: String,
    pub genre: String,
    pub issuing_body: String,
    pub written_on: NaiveDate,
    #[serde(default)]
    pub published_on: Option<NaiveDate>,
    pub scope: DisclosureScope,
    /// Required when the scope is not full.
    #[serde(default)]
    pub withheld_reason: Option<String>,
}

/// The assigner's decision on an agency's dispute of its task: keep it with the agency, or
/// move it to another (`to`, which only a reassignment carries).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
pub enum DisputeDecisionRequest {
    /// The agency keeps the task.
    Keep {
        #[serde(default)]
        occurred_at: Option<DateTime<Utc>>,
        reason: String,
    },
    /// The task moves to another agency.
    Reassign {
        #[serde(default)]
        occurred_at: Option<DateTime<Utc>>,
        /// The agency that takes the task over.
        #[schema(value_type = AgencyCodeText)]
        to: AgencyCode,
        reason: String,
    },
}

impl DisputeDecisionRequest {
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Keep { occurred_at, .. } | Self::Reassign { occurred_at, .. } => *occurred_at,
        }
    }

    pub fn decision(self) -> DisputeDecision {
        match self {
            Self::Keep { reason, .. } => DisputeDecision::Keep { reason },
            Self::Reassign { to, reason, .. } => DisputeDecision::Reassign { to, reason },
        }
    }
}

/// Merge this proposal into an identical one (并案).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(value_type = ProposalKeyText)]
    pub target: ProposalKey,
}

/// Take in the deputies of a proposal merged into this one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbsorbRequest {
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(value_type = ProposalKeyText)]
    pub source: ProposalKey,
    pub deputies: Vec<String>,
}

// --- answers ---------------------------------------------------------------------------

/// One state change an event made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    /// proposal, handler or co_handler.
    pub machine: String,
    /// The task's agency; absent for the proposal machine.
    pub agency: Option<String>,
    pub from: String,
    pub to: String,
    pub event: String,
    /// The part the sender played: assigner, lead, co_handler, congress_office, engine …
    pub role: String,
}

/// An accepted event. A retry with the same `Idempotency-Key` answers this again, unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteOutcome {
    /// The event's id: `http/<agency>/<role>/<Idempotency-Key>`, the key scoped to its caller.
    pub event_id: String,
    pub proposal: String,
    pub event: String,
    /// The proposal's version after the event.
    pub version: i64,
    /// The proposal's state after the event.
    pub state: String,
    pub changes: Vec<ChangeView>,
}

/// An event held with its proposal (202): it arrived before the step it depends on (an
/// assignment, or an earlier step of the same proposal) and is tried again each time the
/// proposal changes. If it still does not fit at `held_until` it is refused with `code`, and
/// the refusal is sent to the sender's queue (`rejected.<agency>`). A retry with the same
/// `Idempotency-Key` answers the event's outcome so far: this again while it is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldOutcome {
    /// The event's id: `http/<agency>/<role>/<Idempotency-Key>`.
    pub event_id: String,
    pub proposal: String,
    pub event: String,
    /// Always `held`.
    #[schema(example = "held")]
    pub status: String,
    /// The refusal it would get now: `unknown_proposal`, `wrong_state` or `guard_failed`.
    pub code: String,
    /// Why it does not fit yet, for a person.
    pub message: String,
    /// When it is refused if the step it waits for has not arrived.
    pub held_until: DateTime<Utc>,
}

impl HeldOutcome {
    pub fn new(
        event: &cohandle_workflows::Event,
        code: &str,
        message: &str,
        until: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: event.id.to_string(),
            proposal: event.proposal.to_string(),
            event: event.body.name().to_owned(),
            status: "held".to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            held_until: until,
        }
    }
}

/// An event held now, as the held-event list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldEventView {
    pub event_id: String,
    pub proposal: String,
    pub event: String,
    /// The sender's agency.
    pub agency: String,
    /// The door it came through: `bus` or `api`.
    pub source: String,
    /// The refusal it would get now.
    pub code: String,
    pub message: String,
    pub held_at: DateTime<Utc>,
    /// When it is refused if it still does not fit.
    pub held_until: DateTime<Utc>,
}

impl From<cohandle_store::held::HeldEvent> for HeldEventView {
    fn from(h: cohandle_store::held::HeldEvent) -> Self {
        Self {
            event_id: h.event_id,
            proposal: h.proposal_key,
            event: h.event_type,
            agency: h.agency,
            source: h.source,
            code: h.code,
            message: h.message,
            held_at: h.held_at,
            held_until: h.until,
        }
    }
}

/// Events held now, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldEvents {
    pub items: Vec<HeldEventView>,
}

/// Filters for the held-event list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HeldQuery {
    /// Only this proposal's.
    #[param(value_type = Option<ProposalKeyText>)]
    pub proposal: Option<String>,
    /// At most this many, oldest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// A proposal in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProposalSummary {
    pub key: String,
    pub kind: String,
    pub number: String,
    pub session: String,
    pub title: String,
    pub assigner: String,
    pub mode: String,
    pub state: String,
    pub key_supervision: bool,
    pub assigned_on: NaiveDate,
    /// The earliest running obligation of any active task.
    pub due_on: Option<NaiveDate>,
    pub version: i64,
    /// `name@version` of the workflow definition it runs under.
    pub definition: String,
}

impl From<cohandle_store::queries::ProposalRow> for ProposalSummary {
    fn from(p: cohandle_store::queries::ProposalRow) -> Self {
        Self {
            definition: format!("{}@{}", p.definition_name, p.definition_version),
            key: p.key,
            kind: p.kind,
            number: p.number,
            session: p.session,
            title: p.title,
            assigner: p.assigner,
            mode: p.mode,
            state: p.state,
            key_supervision: p.key_supervision,
            assigned_on: p.assigned_on,
            due_on: p.due_on,
            version: p.version,
        }
    }
}

/// A task in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskSummary {
    pub proposal: String,
    /// The task's position in its proposal (a re-assignment adds one).
    pub position: i32,
    pub agency: String,
    pub role: String,
    pub state: String,
    /// False once the task was re-assigned away.
    pub active: bool,
    /// Finished: nothing more is expected of it.
    pub terminal: bool,
    /// The earliest running obligation and its name.
    pub due_on: Option<NaiveDate>,
    pub due_deadline: Option<String>,
    pub session: String,
    pub kind: String,
    pub key_supervision: bool,
}

impl From<cohandle_store::queries::TaskRow> for TaskSummary {
    fn from(t: cohandle_store::queries::TaskRow) -> Self {
        Self {
            proposal: t.proposal_key,
            position: t.position,
            agency: t.agency,
            role: t.role,
            state: t.state,
            active: t.active,
            terminal: t.terminal,
            due_on: t.due_on,
            due_deadline: t.due_deadline,
            session: t.session,
            kind: t.kind,
            key_supervision: t.key_supervision,
        }
    }
}

/// A task with its record, when the caller may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// The task's whole record as the engine keeps it (deadlines, opinion, draft, signature,
    /// replies, feedback, extension, disclosure …); absent when it is another agency's.
    #[schema(value_type = Option<Object>)]
    pub record: Option<serde_json::Value>,
}

/// One row of a proposal's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub seq: i64,
    pub event_id: String,
    pub event: String,
    pub machine: String,
    pub agency: Option<String>,
    pub from: String,
    pub to: String,
    pub actor_agency: String,
    pub actor_role: String,
    /// The time the sender gives for the event: its claim (for an imported past event, the
    /// historical time it was decided at).
    pub occurred_at: DateTime<Utc>,
    /// When the engine recorded the step; deadlines are met or missed by it (imports aside).
    pub recorded_at: DateTime<Utc>,
    /// The event's content, with the dates its document declares (`sent_on`, `signed_on` …).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<cohandle_store::queries::HistoryRow> for TimelineEntry {
    fn from(h: cohandle_store::queries::HistoryRow) -> Self {
        Self {
            payload: serde_json::from_str(&h.payload).unwrap_or(serde_json::Value::Null),
            seq: h.seq,
            event_id: h.event_id,
            event: h.event_type,
            machine: h.machine,
            agency: h.agency,
            from: h.from_state,
            to: h.to_state,
            actor_agency: h.actor_agency,
            actor_role: h.actor_role,
            occurred_at: h.occurred_at,
            recorded_at: h.recorded_at,
        }
    }
}

/// One proposal with its tasks and its whole timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    #[serde(flatten)]
    pub summary: ProposalSummary,
    pub info: ProposalInfo,
    pub merged_into: Option<String>,
    pub merged_deputies: Vec<String>,
    pub tasks: Vec<TaskView>,
    /// Every state change, in order; an agency sees the rows of the tasks it may see.
    pub timeline: Vec<TimelineEntry>,
}

/// A running obligation with its due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineEntry {
    pub proposal: String,
    pub position: i32,
    pub agency: String,
    pub role: String,
    pub state: String,
    /// The deadline's name in the definition, e.g. `reply`, `co_handler_opinion`.
    pub deadline: Option<String>,
    pub due_on: NaiveDate,
    /// Working days from today to the due date over the holiday calendar: after today up to
    /// and including the due date; negative (working days past it) when overdue; absent
    /// outside the years whose working days can be counted.
    pub working_days_left: Option<i64>,
    /// The due date lies in a year whose official holiday arrangement is not loaded yet: it
    /// was counted over the weekends and statutory holidays, and may move when the State
    /// Council General Office's notice is loaded (`cohandle calendar correct`).
    pub provisional: bool,
    /// Calendar days from today to the due date; negative when overdue.
    pub days_left: i64,
    pub overdue: bool,
    pub session: String,
    pub kind: String,
    pub key_supervision: bool,
}

/// A running obligation with what a supervisor needs of its proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineRow {
    #[serde(flatten)]
    pub entry: DeadlineEntry,
    /// The proposal's number, e.g. `第0942号`.
    pub number: String,
    pub title: String,
    /// Its lead deputy (or CPPCC member).
    pub lead_deputy: String,
    /// The agency of its active lead task; absent under split handling.
    pub lead_agency: Option<String>,
}

/// Deadlines as of a day, each with its proposal's number, title, lead deputy and lead agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineList {
    /// Today in China, by the engine's clock.
    pub today: NaiveDate,
    pub items: Vec<DeadlineRow>,
    pub next_cursor: Option<String>,
    /// Every deadline the filters select, when asked for with `total=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The figures supervisors report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// Lead, sole and split tasks.
    pub handler_tasks: i64,
    /// Co-handlers' tasks.
    pub co_handler_tasks: i64,
    pub completed: i64,
    /// 办结率: completed / handler tasks.
    pub completion_rate: Option<f64>,
    /// First replies sent.
    pub replies: i64,
    /// 按时答复率: first replies recorded by their due date, over the first replies sent
    /// plus the reply obligations past due and still open today.
    pub on_time_rate: Option<f64>,
    /// Reply obligations past due and still open today (they count against the on-time rate).
    pub overdue_replies: i64,
    /// Satisfied or basically satisfied on the first receipt.
    pub first_time_satisfaction_rate: Option<f64>,
    /// Satisfied or basically satisfied on the last receipt.
    pub final_satisfaction_rate: Option<f64>,
    /// 见面率: first replies preceded by a meeting with the deputy.
    pub meeting_rate: Option<f64>,
    /// Share of first replies per result class A/B/C/D.
    pub class_shares: BTreeMap<String, f64>,
    /// Replies published in full, over replies.
    pub published_share: Option<f64>,
    /// Co-handlers' opinions sent.
    pub opinions: i64,
    /// Co-handlers' opinions recorded by their due date, over the opinions sent plus those
    /// past due and still open today.
    pub opinion_on_time_rate: Option<f64>,
    /// Co-handlers' opinions past due and still open today.
    pub overdue_opinions: i64,
}

impl From<cohandle_store::queries::Statistics> for Figures {
    fn from(s: cohandle_store::queries::Statistics) -> Self {
        Self {
            handler_tasks: s.handler_tasks,
            co_handler_tasks: s.co_handler_tasks,
            completed: s.completed,
            completion_rate: s.completion_rate,
            replies: s.replies,
            on_time_rate: s.on_time_rate,
            first_time_satisfaction_rate: s.first_time_satisfaction_rate,
            final_satisfaction_rate: s.final_satisfaction_rate,
            meeting_rate: s.meeting_rate,
            class_shares: s.class_shares,
            published_share: s.published_share,
            overdue_replies: s.overdue_replies,
            opinions: s.opinions,
            opinion_on_time_rate: s.opinion_on_time_rate,
            overdue_opinions: s.overdue_opinions,
        }
    }
}

/// One agency's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgencyFigures {
    pub agency: String,
    pub figures: Figures,
}

/// Figures overall and per agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatisticsView {
    /// The day the overdue obligations are counted on (in China).
    pub today: NaiveDate,
    pub overall: Figures,
    pub agencies: Vec<AgencyFigures>,
}

/// One month of the trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Proposals assigned in the month.
    pub assigned: i64,
    /// First replies recorded in the month.
    pub replies: i64,
    /// Of those, recorded by their due date.
    pub replies_on_time: i64,
    pub on_time_rate: Option<f64>,
    /// First feedback receipts received in the month.
    pub receipts: i64,
    /// Of those, satisfied or basically satisfied.
    pub satisfied: i64,
    pub satisfaction_rate: Option<f64>,
    /// Co-handlers' opinions recorded in the month.
    pub opinions: i64,
    /// Of those, recorded by their due date.
    pub opinions_on_time: i64,
    pub opinion_on_time_rate: Option<f64>,
}

impl From<cohandle_store::queries::Month> for TrendMonth {
    fn from(m: cohandle_store::queries::Month) -> Self {
        Self {
            month: m.month,
            assigned: m.assigned,
            replies: m.replies,
            replies_on_time: m.replies_on_time,
            on_time_rate: m.on_time_rate,
            receipts: m.receipts,
            satisfied: m.satisfied,
            satisfaction_rate: m.satisfaction_rate,
            opinions: m.opinions,
            opinions_on_time: m.opinions_on_time,
            opinion_on_time_rate: m.opinion_on_time_rate,
        }
    }
}

/// The month-by-month trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub months: Vec<TrendMonth>,
}

/// The caller, as its token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub token_id: Option<String>,
    pub name: String,
    pub agency: String,
    pub role: crate::auth::Role,
    /// The jurisdictions the agency serves.
    pub jurisdictions: Vec<String>,
}

/// Health and readiness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// What an operator should act on although the service is ready, e.g. that next year's
    /// holiday arrangement is not loaded yet (from 1 November).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// With a replica (`database.read_url`): how many seconds it is behind the primary, which
    /// is how stale supervisors' lists and statistics may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_lag_seconds: Option<f64>,
}

// --- list filters ----------------------------------------------------------------------

/// Filters for the proposal list; every one narrows it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// The proposal's state, e.g. `open`, `closed`.
    pub state: Option<String>,
    /// Only proposals in which this agency has an active task.
    pub agency: Option<String>,
    pub session: Option<String>,
    /// `deputy_suggestion` or `cppcc_proposal`.
    pub kind: Option<String>,
    /// Only proposals whose earliest running obligation falls due before this date.
    pub due_before: Option<NaiveDate>,
    /// `true`: only proposals with a running obligation past due today; `false`: none past due.
    pub overdue: Option<bool>,
    /// Only key-supervision proposals (重点督办), or only the others.
    pub key_supervision: Option<bool>,
    /// Part of the proposal's number, e.g. `0942`.
    pub number: Option<String>,
    /// Words that must all occur in the title, separated by spaces.
    pub title: Option<String>,
    /// Part of the name of the lead deputy (or CPPCC member) or of a co-signer.
    pub person: Option<String>,
    /// The proposal's category, exactly as assigned.
    pub category: Option<String>,
    /// Only proposals assigned on or after this day (`YYYY-MM-DD`).
    pub assigned_from: Option<NaiveDate>,
    /// Only proposals assigned on or before this day (`YYYY-MM-DD`).
    pub assigned_to: Option<NaiveDate>,
    /// Only proposals of this jurisdiction and of those below it: a registered code
    /// (e.g. `cq-yz`), for a supervisor one it watches.
    pub jurisdiction: Option<String>,
    /// The order of the list: by `key` (the default), by `assigned_on`, or by `due_on` (the
    /// earliest running obligation; those with none last). Each ends with the key.
    #[param(inline, value_type = Option<ProposalSort>)]
    pub sort: Option<String>,
    /// `true`: the answer also counts every proposal the filters select (`total`).
    pub total: Option<bool>,
    /// `csv`: the page as CSV (UTF-8 with a byte-order mark), as `Accept: text/csv` asks.
    #[param(inline, value_type = Option<ListFormat>)]
    pub format: Option<String>,
    /// From the previous page's `next_cursor`, with the same `sort`.
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// Filters for the task list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Whose tasks; an agency token may name only itself (the default for it).
    pub agency: Option<String>,
    /// The task's state, e.g. `assigned`, `handling`, `replied`.
    pub state: Option<String>,
    /// `true`: only active tasks that are not finished; `false`: only finished or moved ones.
    pub open: Option<bool>,
    /// The proposal's session, e.g. `市五届人大三次会议`.
    pub session: Option<String>,
    #[param(inline, value_type = Option<ProposalKind>)]
    pub kind: Option<String>,
    #[param(inline, value_type = Option<TaskRole>)]
    pub role: Option<String>,
    /// The name of the task's earliest running deadline, e.g. `reply`, `co_handler_opinion`:
    /// one of the deadlines of the deployed definitions.
    pub deadline: Option<String>,
    /// Only tasks of proposals of this jurisdiction and of those below it: a registered code
    /// (e.g. `cq-yz`), for a supervisor one it watches.
    pub jurisdiction: Option<String>,
    /// Only tasks of proposals whose latest reply sent has this result class.
    #[param(inline, value_type = Option<ResultClass>)]
    pub result_class: Option<String>,
    /// `true`: the answer also counts every task the filters select (`total`).
    pub total: Option<bool>,
    /// `csv`: the page as CSV (UTF-8 with a byte-order mark), as `Accept: text/csv` asks.
    #[param(inline, value_type = Option<ListFormat>)]
    pub format: Option<String>,
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// Filters for the deadline list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    /// The last due date to include (default: 30 days from today). Overdue ones are included.
    pub until: Option<NaiveDate>,
    /// Whose deadlines; an agency token may name only itself.
    pub agency: Option<String>,
    /// `true`: only overdue; `false`: only upcoming.
    pub overdue: Option<bool>,
    pub key_supervision: Option<bool>,
    /// Only proposals handled under this workflow definition (its name, e.g.
    /// `chongqing-deputy-suggestion`).
    pub definition: Option<String>,
    /// The proposal's session, e.g. `市五届人大三次会议`.
    pub session: Option<String>,
    #[param(inline, value_type = Option<ProposalKind>)]
    pub kind: Option<String>,
    #[param(inline, value_type = Option<TaskRole>)]
    pub role: Option<String>,
    /// The deadline's name, e.g. `reply`, `co_handler_opinion`: one of the deadlines of the
    /// deployed definitions.
    pub deadline: Option<String>,
    /// Only deadlines of proposals of this jurisdiction and of those below it: a registered code
    /// (e.g. `cq-yz`), for a supervisor one it watches.
    pub jurisdiction: Option<String>,
    /// Only tasks of proposals whose latest reply sent has this result class.
    #[param(inline, value_type = Option<ResultClass>)]
    pub result_class: Option<String>,
    /// Only those at least this many calendar days past due (1: every overdue one).
    #[param(minimum = 0, maximum = 36500)]
    pub min_days_overdue: Option<u32>,
    /// Only those at most this many calendar days past due (0 with `overdue=true`: none).
    #[param(minimum = 0, maximum = 36500)]
    pub max_days_overdue: Option<u32>,
    /// `true`: the answer also counts every deadline the filters select (`total`).
    pub total: Option<bool>,
    /// `csv`: the page as CSV (UTF-8 with a byte-order mark), as `Accept: text/csv` asks.
    #[param(inline, value_type = Option<ListFormat>)]
    pub format: Option<String>,
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// Which agency's figures.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// One agency only; an agency token may name only itself.
    pub agency: Option<String>,
    /// Proposals of this session only (e.g. `市五届人大三次会议`).
    pub session: Option<String>,
    /// Proposals of this kind only.
    #[param(inline, value_type = Option<ProposalKind>)]
    pub kind: Option<String>,
    /// Proposals assigned on or after this day (`YYYY-MM-DD`).
    pub assigned_from: Option<NaiveDate>,
    /// Proposals assigned on or before this day (`YYYY-MM-DD`).
    pub assigned_to: Option<NaiveDate>,
    /// `csv`: the figures as CSV (UTF-8 with a byte-order mark), as `Accept: text/csv` asks.
    #[param(inline, value_type = Option<ListFormat>)]
    pub format: Option<String>,
}

/// Which proposals' trend, and which months.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// One agency only; an agency token may name only itself.
    pub agency: Option<String>,
    /// Proposals of this session only.
    pub session: Option<String>,
    /// Proposals of this kind only.
    #[param(inline, value_type = Option<ProposalKind>)]
    pub kind: Option<String>,
    /// The first month: the month of this day (default: eleven months before today's).
    pub from: Option<NaiveDate>,
    /// The last month: the month of this day (default: today). At most 120 months in all.
    pub to: Option<NaiveDate>,
    /// `csv`: the months as CSV (UTF-8 with a byte-order mark), as `Accept: text/csv` asks.
    #[param(inline, value_type = Option<ListFormat>)]
    pub format: Option<String>,
}

/// The orders of the proposal list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalSort {
    Key,
    AssignedOn,
    DueOn,
}

impl ProposalSort {
    pub const WIRE_NAMES: &'static [(Self, &'static str)] = &[
        (Self::Key, "key"),
        (Self::AssignedOn, "assigned_on"),
        (Self::DueOn, "due_on"),
    ];
}

/// What a list or the statistics are answered as; `Accept: text/csv` also asks for CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    Json,
    Csv,
}

impl ListFormat {
    pub const WIRE_NAMES: &'static [(Self, &'static str)] =
        &[(Self::Json, "json"), (Self::Csv, "csv")];
}

/// Paging through tokens.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each mirrored enum's document lists exactly the words serde writes and reads.
    #[test]
    fn mirrored_enums_are_documented_as_they_are_spoken() {
        fn documented<M>(wire: &'static [(M, &'static str)])
        where
            M: Serialize
                + for<'de> Deserialize<'de>
                + utoipa::PartialSchema
                + PartialEq
                + std::fmt::Debug
                + Copy
                + 'static,
        {
            let schema = serde_json::to_value(M::schema()).unwrap();
            let listed: Vec<&str> = schema["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("no enum in {schema}"))
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let spoken: Vec<&str> = wire.iter().map(|(_, text)| *text).collect();
            assert_eq!(listed, spoken);
            for (variant, text) in wire {
                assert_eq!(serde_json::to_value(variant).unwrap(), *text);
                let read: M = serde_json::from_value(serde_json::json!(text)).unwrap();
                assert_eq!(read, *variant);
            }
        }
        documented(ProposalKind::WIRE_NAMES);
        documented(AssignmentMode::WIRE_NAMES);
        documented(TaskRole::WIRE_NAMES);
        documented(DisclosureConsent::WIRE_NAMES);
        documented(ResultClass::WIRE_NAMES);
        documented(Satisfaction::WIRE_NAMES);
        documented(ContactMethod::WIRE_NAMES);
        documented(DisclosureScope::WIRE_NAMES);
        documented(ProposalSort::WIRE_NAMES);
        documented(ListFormat::WIRE_NAMES);
    }

    /// The mirrors must read and write the same words as the domain.
    #[test]
    fn mirrored_enums_serialize_like_the_domain() {
        fn same<M, D>(values: &[M])
        where
            M: Serialize + Copy + Into<D>,
            D: Serialize,
        {
            for v in values {
                let mirror = serde_json::to_value(v).unwrap();
                let domain = serde_json::to_value((*v).into()).unwrap();
                assert_eq!(mirror, domain);
            }
        }
        same::<_, model::ProposalKind>(&[
            ProposalKind::DeputySuggestion,
            ProposalKind::CppccProposal,
        ]);
        same::<_, model::AssignmentMode>(&[
            AssignmentMode::Sole,
            AssignmentMode::LeadWithCoHandlers,
            AssignmentMode::Split,
        ]);
        same::<_, model::TaskRole>(&[TaskRole::Lead, TaskRole::CoHandler, TaskRole::Split]);
        same::<_, model::DisclosureConsent>(&[
            DisclosureConsent::FullText,
            DisclosureConsent::TitleOnly,
        ]);
        same::<_, model::ResultClass>(&[
            ResultClass::A,
            ResultClass::B,
            ResultClass::C,
            ResultClass::D,
        ]);
        same::<_, model::Satisfaction>(&[
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Dissatisfied,
        ]);
        same::<_, model::ContactMethod>(&[
            ContactMethod::Phone,
            ContactMethod::Meeting,
            ContactMethod::Letter,
        ]);
        same::<_, model::DisclosureScope>(&[
            DisclosureScope::Full,
            DisclosureScope::Summary,
            DisclosureScope::Withheld,
        ]);
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<ReasonRequest>(r#"{"reason":"x","actor":"cq-kjj"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field"));
    }

    #[test]
    fn a_dispute_decision_carries_to_exactly_when_it_reassigns() {
        let read = |json: serde_json::Value| serde_json::from_value::<DisputeDecisionRequest>(json);
        assert!(read(serde_json::json!({"decision": "keep", "reason": "r"})).is_ok());
        let moved = read(serde_json::json!({"decision": "reassign", "to": "cq-x", "reason": "r"}));
        assert!(matches!(
            moved.unwrap().decision(),
            DisputeDecision::Reassign { .. }
        ));
        assert!(
            read(serde_json::json!({"decision": "keep", "to": "cq-x", "reason": "r"})).is_err()
        );
        assert!(read(serde_json::json!({"decision": "reassign", "reason": "r"})).is_err());
    }
}

// --- onboarding (admin) -------------------------------------------------------------------

/// A workflow definition to deploy: its file name (for the record) and its TOML text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionUpload {
    /// e.g. `yz-cppcc-proposal.toml`.
    #[schema(max_length = 200)]
    pub file: String,
    /// The definition, as `cohandle workflows check` reads it.
    pub content: String,
}

/// What a deployment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionDeployment {
    pub name: String,
    pub version: u32,
    /// `false`: the same rules were deployed before under this version; nothing changed.
    pub new: bool,
}

/// A deployed definition version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeployedDefinitionView {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub file: String,
    /// SHA-256 of the deployed text, hex.
    pub sha256: String,
    pub deployed_by: String,
    pub deployed_at: DateTime<Utc>,
    /// Proposals that run on this version.
    pub proposals: u64,
}

impl From<cohandle_store::definitions::DeployedDefinition> for DeployedDefinitionView {
    fn from(d: cohandle_store::definitions::DeployedDefinition) -> Self {
        Self {
            name: d.name,
            version: d.version,
            title: d.title,
            file: d.file,
            sha256: d.sha256,
            deployed_by: d.deployed_by,
            deployed_at: d.deployed_at,
            proposals: d.proposals,
        }
    }
}

/// A jurisdiction to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJurisdictionRequest {
    /// a-z, 0-9 and single hyphens, beginning with a letter, at most 32 characters; it
    /// begins the keys of the jurisdiction's proposals (`<code>-<number>`).
    #[schema(example = "yz-zx")]
    pub code: String,
    #[schema(example = "政协重庆市渝中区委员会")]
    pub name: String,
    /// The jurisdiction whose supervisors also oversee this one.
    #[serde(default)]
    pub parent: Option<String>,
    /// national, provincial, municipal, district, county …
    #[schema(example = "district")]
    pub level: String,
    /// The definitions it assigns under, by name.
    #[serde(default)]
    pub definitions: Vec<String>,
}

/// A registered jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JurisdictionView {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: String,
    pub definitions: Vec<String>,
    /// The agencies that serve it.
    pub agencies: Vec<String>,
}

impl JurisdictionView {
    pub fn new(j: &cohandle_store::jurisdictions::Jurisdiction, agencies: Vec<String>) -> Self {
        Self {
            code: j.code.clone(),
            name: j.name.clone(),
            parent: j.parent.clone(),
            level: j.level.clone(),
            definitions: j.definitions.iter().cloned().collect(),
            agencies,
        }
    }
}

/// Agencies to register and make serve a jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionAgencies {
    #[schema(max_items = 1000)]
    pub agencies: Vec<AgencyEntry>,
}

/// One agency: its code, the kind of actor it is, its name for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    #[schema(example = "yz-fgw")]
    pub code: String,
    /// assigner, agency, congress_office or supervisor.
    #[schema(example = "agency")]
    pub kind: String,
    #[schema(example = "渝中区发展和改革委员会")]
    pub name: String,
}

/// The agencies now serving a jurisdiction (of those sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JurisdictionJoined {
    pub jurisdiction: String,
    pub agencies: Vec<String>,
}
