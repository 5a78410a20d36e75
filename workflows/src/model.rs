//! The things the rules speak of: proposals, tasks, replies, feedback receipts, disclosure.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

use crate::calendar::DurationSpec;
use crate::ids::{AgencyCode, ProposalKey};

/// A deputy's suggestion (人大代表建议) or a CPPCC member's proposal (政协提案).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ProposalKind {
    DeputySuggestion,
    CppccProposal,
}

impl ProposalKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How an assignment (交办) spreads the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum AssignmentMode {
    /// One agency handles and replies.
    Sole,
    /// One lead (主办) replies; co-handlers (会办/协办) send it their opinions.
    LeadWithCoHandlers,
    /// Several agencies (分办) each handle their own part and reply on their own.
    Split,
}

/// The role of one task within its proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum TaskRole {
    Lead,
    CoHandler,
    Split,
}

impl TaskRole {
    /// Lead and split tasks run the handler machine; co-handler tasks their own.
    pub fn machine(self) -> Machine {
        match self {
            Self::Lead | Self::Split => Machine::Handler,
            Self::CoHandler => Machine::CoHandler,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The three state machines of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Machine {
    Proposal,
    Handler,
    CoHandler,
}

impl Machine {
    pub const ALL: [Machine; 3] = [Machine::Proposal, Machine::Handler, Machine::CoHandler];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Whether the deputy agreed that the full text may be published (国办发〔2014〕46号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureConsent {
    FullText,
    TitleOnly,
}

/// Result class of a reply (A solved or basically solved, B being solved, C later, D reference).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
)]
pub enum ResultClass {
    A,
    B,
    C,
    D,
}

/// The deputy's satisfaction on the feedback receipt (回执).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Dissatisfied,
}

impl Satisfaction {
    pub fn is_satisfied(self) -> bool {
        !matches!(self, Self::Dissatisfied)
    }
}

/// The proposal as submitted and assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalInfo {
    pub kind: ProposalKind,
    /// 第0942号
    pub number: String,
    /// 市五届人大三次会议
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

impl ProposalInfo {
    /// Every deputy who must receive a reply: the lead deputy and co-signers.
    pub fn deputies(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.lead_deputy.as_str()).chain(self.co_signers.iter().map(String::as_str))
    }
}

/// Which definition, at which version, a proposal runs under for its whole life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DefinitionRef {
    pub name: String,
    pub version: u32,
}

impl std::fmt::Display for DefinitionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// One proposal and its tasks: the whole state the domain decides on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub key: ProposalKey,
    pub definition: DefinitionRef,
    pub info: ProposalInfo,
    pub assigner: AgencyCode,
    pub mode: AssignmentMode,
    pub assigned_on: NaiveDate,
    /// State in the proposal machine.
    pub state: String,
    pub merged_into: Option<ProposalKey>,
    /// Deputies of identical items merged into this one (并案); each still gets a reply.
    pub merged_deputies: Vec<String>,
    pub tasks: Vec<Task>,
}

impl Proposal {
    pub fn task(&self, agency: &AgencyCode) -> Option<&Task> {
        self.tasks.iter().find(|t| &t.agency == agency && t.active)
    }

    pub fn task_mut(&mut self, agency: &AgencyCode) -> Option<&mut Task> {
        self.tasks
            .iter_mut()
            .find(|t| &t.agency == agency && t.active)
    }

    pub fn lead(&self) -> Option<&Task> {
        self.tasks
            .iter()
            .find(|t| t.role == TaskRole::Lead && t.active)
    }

    pub fn co_handlers(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .filter(|t| t.role == TaskRole::CoHandler && t.active)
    }

    pub fn all_deputies(&self) -> Vec<String> {
        self.info
            .deputies()
            .map(str::to_owned)
            .chain(self.merged_deputies.iter().cloned())
            .collect()
    }
}

/// One running deadline of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub started_on: NaiveDate,
    pub duration: DurationSpec,
    pub due: NaiveDate,
    /// Bumped each time the deadline is restarted or moved, so stale timers are recognised.
    pub generation: u32,
    /// Set by an approved extension: the due date is the assigner's, not computed.
    #[serde(default)]
    pub fixed: bool,
    /// While the clock is stopped: since when.
    #[serde(default)]
    pub paused_on: Option<NaiveDate>,
    /// The due date lies in a year whose official holiday arrangement is not loaded yet:
    /// counted over the statutory holidays, it may move when the arrangement comes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
    /// The date the rule counts from, kept through pauses (which restart `started_on`), so
    /// that the longest allowed extension is measured from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_from: Option<NaiveDate>,
}

impl Deadline {
    pub fn is_paused(&self) -> bool {
        self.paused_on.is_some()
    }

    /// The date the rule counts from, whatever pauses came since.
    pub fn base(&self) -> NaiveDate {
        self.counts_from.unwrap_or(self.started_on)
    }
}

/// One agency's part in a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub agency: AgencyCode,
    pub role: TaskRole,
    /// State in the task's machine (handler or co-handler).
    pub state: String,
    /// False once the task was re-assigned away; kept for the record.
    pub active: bool,
    pub deadlines: BTreeMap<String, Deadline>,
    pub acknowledged_on: Option<NaiveDate>,
    pub dispute: Option<Dispute>,
    pub opinion: Option<Opinion>,
    pub declined: Option<String>,
    /// Co-handlers this (lead) task disagrees with, until the government office settles it.
    pub disagreements: BTreeMap<AgencyCode, String>,
    pub contacts: Vec<Contact>,
    pub draft: Option<Draft>,
    pub signature: Option<Signature>,
    pub replies: Vec<Dispatch>,
    pub feedback: Vec<Feedback>,
    pub extension: Option<ExtensionRequest>,
    pub progress: Vec<String>,
    pub disclosure: Option<Disclosure>,
}

impl Task {
    pub fn new(agency: AgencyCode, role: TaskRole, state: String) -> Self {
        Self {
            agency,
            role,
            state,
            active: true,
            deadlines: BTreeMap::new(),
            acknowledged_on: None,
            dispute: None,
            opinion: None,
            declined: None,
            disagreements: BTreeMap::new(),
            contacts: Vec::new(),
            draft: None,
            signature: None,
            replies: Vec::new(),
            feedback: Vec::new(),
            extension: None,
            progress: Vec::new(),
            disclosure: None,
        }
    }

    pub fn dissatisfied_count(&self) -> usize {
        self.feedback
            .iter()
            .filter(|f| f.satisfaction == Satisfaction::Dissatisfied)
            .count()
    }
}

/// A request for re-assignment (申请调整).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub reason: String,
    pub raised_on: NaiveDate,
}

/// A co-handler's written opinion (协办意见), a numbered document of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opinion {
    pub document_number: String,
    pub summary: String,
    #[serde(default)]
    pub submitted_on: Option<NaiveDate>,
}

/// How the lead spoke with the deputy before replying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Phone,
    /// 沟通见面
    Meeting,
    Letter,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub method: ContactMethod,
    pub on: NaiveDate,
    /// Whether the deputy agreed with the planned reply.
    #[serde(default)]
    pub deputy_agreed: bool,
    #[serde(default)]
    pub note: String,
}

/// The lead's draft reply (答复函).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub result_class: ResultClass,
    /// 发文字号, e.g. 渝科局函〔2020〕109号
    pub document_number: String,
    pub summary: String,
    /// The co-handlers whose views the draft states.
    #[serde(default)]
    pub co_handler_views: Vec<AgencyCode>,
    /// Whether the reply commits projects or funds (then the principal head signs).
    #[serde(default)]
    pub commits_funds: bool,
}

/// The agency head's signature (审签).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub signer: String,
    pub title: String,
    pub principal_head: bool,
    pub signed_on: NaiveDate,
}

/// The reply as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    pub sent_on: NaiveDate,
    /// Every deputy the reply is addressed to.
    pub deputies: Vec<String>,
    /// Copies: 人代工委, the government office, the co-handlers.
    #[serde(default)]
    pub copies: Vec<String>,
}

/// The deputy's feedback receipt (回执), relayed by the congress office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub satisfaction: Satisfaction,
    #[serde(default)]
    pub comments: String,
    pub received_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    pub until: NaiveDate,
    pub reason: String,
    pub approved: Option<bool>,
}

/// How much of a reply is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum DisclosureScope {
    Full,
    Summary,
    Withheld,
}

/// The publication record (公开).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// 索引号, e.g. 11500000MB15895317/2020-00762
    pub index_number: String,
    /// 主题分类
    pub topic: String,
    /// 体裁分类, e.g. 人大建议办理
    pub genre: String,
    pub issuing_body: String,
    pub written_on: NaiveDate,
    pub published_on: Option<NaiveDate>,
    pub scope: DisclosureScope,
    /// Required when the scope is not full: state secret, trade secret, privacy, …
    #[serde(default)]
    pub withheld_reason: Option<String>,
}
