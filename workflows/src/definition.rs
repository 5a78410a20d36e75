//! Workflow definitions as data: loading, validation that reports every problem at once,
//! and the catalog that keeps every version ever loaded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::calendar::DurationSpec;
use crate::event::{Role, EVENT_NAMES, INTERNAL_EVENTS, PROPOSAL_EVENTS};
use crate::ids::AgencyCode;
use crate::model::{DefinitionRef, Machine, ProposalKind, ResultClass};
use crate::registry::{self, ArgKind, Call};

/// A state named `*` in `from` stands for every non-terminal state of the machine.
pub const ANY_STATE: &str = "*";

/// The deadlines every definition must set, because the engine starts them by name.
pub const REQUIRED_DEADLINES: &[&str] = &[
    "dispute_window",
    "co_handler_opinion",
    "reply",
    "feedback",
    "rehandling",
];

/// One problem found in a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem of one definition file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The validated form.

/// Where a reply or other deadline is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineBase {
    /// The assignment date (交办之日).
    Assignment,
    /// The date the agency signed for its task (收到之日).
    Receipt,
    /// The close of the congress or CPPCC session (闭会之日).
    SessionClose,
    /// The date of the event that starts the deadline (the reply sent, the receipt returned).
    Event,
}

/// Whether a deadline is an obligation (reminded, escalated when overdue) or a window that
/// simply closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    Obligation,
    Window,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRule {
    pub duration: DurationSpec,
    pub from: DeadlineBase,
    pub kind: DeadlineKind,
    /// The longest an approved extension may reach, counted from the same base.
    pub max: Option<DurationSpec>,
}

/// What a due date that falls on a rest day becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestDayRule {
    Keep,
    NextWorkingDay,
}

/// What a second dissatisfaction leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondDissatisfaction {
    /// Face-to-face consultation (当面协商).
    Consultation,
    /// A written explanation (书面说明).
    WrittenExplanation,
}

/// When the principal head must sign instead of a deputy head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalHeadWhen {
    KeySupervision,
    CommitsFunds,
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub result_classes: Vec<ResultClass>,
    #[serde(default)]
    pub follow_up_classes: Vec<ResultClass>,
    pub co_handler_opinion_required: bool,
    pub deputy_agreement_before_reply: bool,
    #[serde(default)]
    pub principal_head_signs_when: Vec<PrincipalHeadWhen>,
    pub second_dissatisfaction: SecondDissatisfaction,
    pub due_on_rest_day: RestDayRule,
    /// Reasons a disclosure may be withheld or summarised.
    #[serde(default)]
    pub withheld_reasons: Vec<String>,
    /// How far an event's time may lie ahead of the engine's clock before it is refused.
    #[serde(default = "default_clock_skew")]
    pub max_clock_skew_hours: u32,
    /// Reasons for which a deadline's clock may be stopped (with `pause_deadline`).
    #[serde(default)]
    pub pause_reasons: Vec<String>,
    /// The congress offices (人代工委; for CPPCC proposals, the proposal committee) that relay
    /// deputies' receipts for the proposals under this definition: its jurisdiction's. Any
    /// other sender of the `congress_office` kind is refused (`actor_not_allowed`).
    #[serde(default)]
    pub congress_offices: Vec<AgencyCode>,
}

fn default_clock_skew() -> u32 {
    24
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    pub before: Vec<DurationSpec>,
    #[serde(default)]
    pub key_supervision_before: Vec<DurationSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDef {
    pub name: String,
    pub terminal: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub event: String,
    pub from: Vec<String>,
    /// `None` keeps the state (the event is recorded and its effects run).
    pub to: Option<String>,
    pub actors: Vec<Role>,
    pub guards: Vec<Call>,
    pub effects: Vec<Call>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDef {
    pub initial: String,
    pub states: Vec<StateDef>,
    pub transitions: Vec<Transition>,
    /// Effects run when a task of this machine is created (by assignment or re-assignment).
    pub on_create: Vec<Call>,
}

impl MachineDef {
    pub fn state(&self, name: &str) -> Option<&StateDef> {
        self.states.iter().find(|s| s.name == name)
    }

    pub fn is_terminal(&self, name: &str) -> bool {
        self.state(name).is_some_and(|s| s.terminal)
    }
}

/// A validated workflow definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub kind: ProposalKind,
    pub settings: Settings,
    pub deadlines: BTreeMap<String, DeadlineRule>,
    pub reminders: Reminders,
    pub machines: BTreeMap<Machine, MachineDef>,
}

impl Definition {
    /// Whether two definitions have the same rules, whatever their comments and layout (the
    /// line numbers kept for messages aside).
    pub fn same_rules(&self, other: &Definition) -> bool {
        let unlined = |d: &Definition| {
            let mut d = d.clone();
            for machine in d.machines.values_mut() {
                for transition in &mut machine.transitions {
                    transition.line = 0;
                }
            }
            d
        };
        unlined(self) == unlined(other)
    }

    pub fn reference(&self) -> DefinitionRef {
        DefinitionRef {
            name: self.name.clone(),
            version: self.version,
        }
    }

    pub fn machine(&self, machine: Machine) -> &MachineDef {
        self.machines
            .get(&machine)
            .expect("validation guarantees all three machines")
    }

    /// Parses and validates a definition; `file` names it in problems.
    pub fn load(file: &str, text: &str) -> Result<Definition, Problems> {
        let raw: RawDefinition = toml::from_str(text).map_err(|error| {
            let line = error.span().map(|span| line_of(text, span.start));
            Problems(vec![Problem {
                file: file.to_owned(),
                line,
                message: error.message().trim().to_owned(),
            }])
        })?;
        Validator {
            file,
            text,
            problems: Vec::new(),
        }
        .validate(raw)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------------------
// The file form.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: Spanned<String>,
    version: Spanned<u32>,
    title: String,
    kind: Spanned<String>,
    settings: Settings,
    #[serde(default)]
    deadlines: BTreeMap<String, Spanned<RawDeadline>>,
    reminders: Reminders,
    #[serde(default)]
    machines: BTreeMap<Spanned<String>, RawMachine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadline {
    duration: DurationSpec,
    from: DeadlineBase,
    kind: DeadlineKind,
    #[serde(default)]
    max: Option<DurationSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    initial: Spanned<String>,
    states: Vec<RawState>,
    #[serde(default)]
    on_create: Vec<Spanned<String>>,
    #[serde(default)]
    transitions: Vec<Spanned<RawTransition>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    name: Spanned<String>,
    #[serde(default)]
    terminal: bool,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    event: Spanned<String>,
    from: Vec<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    actors: Vec<Spanned<String>>,
    #[serde(default)]
    guards: Vec<Spanned<String>>,
    #[serde(default)]
    effects: Vec<Spanned<String>>,
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn at<T>(&mut self, spanned: &Spanned<T>, message: String) {
        let line = Some(line_of(self.text, spanned.span().start));
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            message,
        });
    }

    fn whole(&mut self, message: String) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line: None,
            message,
        });
    }

    fn validate(mut self, raw: RawDefinition) -> Result<Definition, Problems> {
        if raw.name.get_ref().trim().is_empty() {
            self.at(&raw.name, "the definition has an empty name".into());
        }
        if *raw.version.get_ref() == 0 {
            self.at(&raw.version, "versions start at 1".into());
        }
        let kind = match raw.kind.get_ref().as_str() {
            "deputy_suggestion" => ProposalKind::DeputySuggestion,
            "cppcc_proposal" => ProposalKind::CppccProposal,
            other => {
                self.at(
                    &raw.kind,
                    format!("kind {other:?} is neither deputy_suggestion nor cppcc_proposal"),
                );
                ProposalKind::DeputySuggestion
            }
        };
        self.check_settings(&raw.settings);

        let mut deadlines = BTreeMap::new();
        for (name, rule) in &raw.deadlines {
            let r = rule.get_ref();
            if let Some(max) = r.max {
                if max.unit == r.duration.unit && max.amount < r.duration.amount {
                    self.at(
                        rule,
                        format!(
                            "deadline {name:?}: max {max} is shorter than its duration {}",
                            r.duration
                        ),
                    );
                }
            }
            deadlines.insert(
                name.clone(),
                DeadlineRule {
                    duration: r.duration,
                    from: r.from,
                    kind: r.kind,
                    max: r.max,
                },
            );
        }
        for required in REQUIRED_DEADLINES {
            if !deadlines.contains_key(*required) {
                self.whole(format!(
                    "deadline {required:?} is missing: add a [deadlines.{required}] table"
                ));
            }
        }

        let mut machines = BTreeMap::new();
        for (name, raw_machine) in raw.machines {
            let machine = match name.get_ref().as_str() {
                "proposal" => Machine::Proposal,
                "handler" => Machine::Handler,
                "co_handler" => Machine::CoHandler,
                other => {
                    self.at(
                        &name,
                        format!(
                            "machine {other:?} is unknown: use proposal, handler or co_handler"
                        ),
                    );
                    continue;
                }
            };
            let def = self.machine(machine, raw_machine, &deadlines);
            machines.insert(machine, def);
        }
        for machine in Machine::ALL {
            if !machines.contains_key(&machine) {
                self.whole(format!(
                    "machine {:?} is missing: add [machines.{}]",
                    machine.as_str(),
                    machine.as_str()
                ));
            }
        }

        let relayed = machines.values().any(|m| {
            m.transitions
                .iter()
                .any(|t| t.actors.contains(&Role::CongressOffice))
        });
        if relayed && raw.settings.congress_offices.is_empty() {
            self.whole(
                "settings.congress_offices is empty, but a transition is sent by the congress_office: name the offices (agency codes) that relay receipts for these proposals".into(),
            );
        }

        if !self.problems.is_empty() {
            return Err(Problems(self.problems));
        }
        Ok(Definition {
            name: raw.name.into_inner(),
            version: raw.version.into_inner(),
            title: raw.title,
            kind,
            settings: raw.settings,
            deadlines,
            reminders: raw.reminders,
            machines,
        })
    }

    fn check_settings(&mut self, settings: &Settings) {
        if settings.result_classes.is_empty() {
            self.whole(
                "settings.result_classes is empty: list the classes replies may take".into(),
            );
        }
        for class in &settings.follow_up_classes {
            if !settings.result_classes.contains(class) {
                self.whole(format!(
                    "settings.follow_up_classes names class {class:?}, which result_classes lacks"
                ));
            }
        }
    }

    fn call(
        &mut self,
        text: &Spanned<String>,
        kind: registry::Kind,
        deadlines: &BTreeMap<String, DeadlineRule>,
    ) -> Option<Call> {
        let call = match Call::parse(text.get_ref()) {
            Ok(call) => call,
            Err(message) => {
                self.at(text, message);
                return None;
            }
        };
        let Some(arg_kind) = registry::arg_kind(kind, &call.name) else {
            self.at(
                text,
                format!(
                    "{} {:?} is not in the registry; known: {}",
                    kind.as_str(),
                    call.name,
                    registry::names(kind).join(", ")
                ),
            );
            return None;
        };
        match (arg_kind, call.arg.as_deref()) {
            (ArgKind::None, None) => {}
            (ArgKind::None, Some(_)) => {
                self.at(
                    text,
                    format!("{} {:?} takes no argument", kind.as_str(), call.name),
                );
            }
            (_, None) => {
                self.at(
                    text,
                    format!("{} {:?} needs an argument", kind.as_str(), call.name),
                );
            }
            (ArgKind::Deadline, Some(arg)) => {
                if !deadlines.contains_key(arg) {
                    self.at(
                        text,
                        format!(
                            "{} {:?} names deadline {arg:?}, which is not defined",
                            kind.as_str(),
                            call.name
                        ),
                    );
                }
            }
            (ArgKind::Recipient, Some(arg)) => {
                if !registry::RECIPIENTS.contains(&arg) {
                    self.at(
                        text,
                        format!(
                            "recipient {arg:?} is unknown; known: {}",
                            registry::RECIPIENTS.join(", ")
                        ),
                    );
                }
            }
        }
        Some(call)
    }

    fn machine(
        &mut self,
        machine: Machine,
        raw: RawMachine,
        deadlines: &BTreeMap<String, DeadlineRule>,
    ) -> MachineDef {
        let m = machine.as_str();
        let mut states: Vec<StateDef> = Vec::new();
        for state in &raw.states {
            let name = state.name.get_ref();
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                self.at(
                    &state.name,
                    format!("machine {m}: {name:?} cannot name a state: use lower_snake_case letters and digits"),
                );
            } else if states.iter().any(|s| &s.name == name) {
                self.at(
                    &state.name,
                    format!("machine {m}: state {name:?} is declared twice"),
                );
            } else {
                states.push(StateDef {
                    name: name.clone(),
                    terminal: state.terminal,
                    description: state.description.clone(),
                });
            }
        }
        let known = |name: &str| states.iter().any(|s| s.name == name);
        let terminal = |name: &str| states.iter().any(|s| s.name == name && s.terminal);
        if !known(raw.initial.get_ref()) {
            self.at(
                &raw.initial,
                format!(
                    "machine {m}: initial state {:?} is not declared",
                    raw.initial.get_ref()
                ),
            );
        }

        let on_create: Vec<Call> = raw
            .on_create
            .iter()
            .filter_map(|c| self.call(c, registry::Kind::Effect, deadlines))
            .collect();
        for (text, call) in raw.on_create.iter().zip(&on_create) {
            if call.name == "start_deadline" {
                let arg = call.arg.as_deref().unwrap_or_default();
                if deadlines
                    .get(arg)
                    .is_some_and(|d| d.from == DeadlineBase::Receipt)
                {
                    self.at(
                        text,
                        format!("machine {m}: deadline {arg:?} counts from receipt, so it cannot start at creation, before the task is signed for"),
                    );
                }
            }
        }

        let mut transitions = Vec::new();
        for spanned in &raw.transitions {
            let line = line_of(self.text, spanned.span().start);
            let t = spanned.get_ref();
            let event = t.event.get_ref();
            let internal = INTERNAL_EVENTS.contains(&event.as_str());
            if !EVENT_NAMES.contains(&event.as_str()) && !internal {
                self.at(&t.event, format!("machine {m}: event {event:?} is unknown"));
            } else {
                let for_proposal = PROPOSAL_EVENTS.contains(&event.as_str()) || internal;
                if for_proposal != (machine == Machine::Proposal) {
                    let belongs = if for_proposal {
                        "the proposal machine"
                    } else {
                        "a task machine"
                    };
                    self.at(
                        &t.event,
                        format!("machine {m}: event {event:?} belongs to {belongs}"),
                    );
                }
            }
            let mut from = Vec::new();
            for state in &t.from {
                let name = state.get_ref();
                if name == ANY_STATE {
                    from.extend(
                        states
                            .iter()
                            .filter(|s| !s.terminal)
                            .map(|s| s.name.clone()),
                    );
                } else if known(name) {
                    from.push(name.clone());
                } else {
                    self.at(state, format!("machine {m}: transition on {event:?} leaves from unknown state {name:?}"));
                }
            }
            if t.from.is_empty() {
                self.at(
                    &t.event,
                    format!("machine {m}: transition on {event:?} has no `from` states"),
                );
            }
            let to = t.to.as_ref().map(|to| {
                if !known(to.get_ref()) {
                    self.at(
                        to,
                        format!(
                            "machine {m}: transition on {event:?} goes to unknown state {:?}",
                            to.get_ref()
                        ),
                    );
                }
                to.get_ref().clone()
            });
            for state in &t.from {
                if terminal(state.get_ref()) && to.as_ref().is_some_and(|to| to != state.get_ref())
                {
                    self.at(
                        state,
                        format!(
                            "machine {m}: terminal state {:?} cannot be left (event {event:?})",
                            state.get_ref()
                        ),
                    );
                }
            }
            let mut actors = Vec::new();
            for actor in &t.actors {
                match Role::ALL.iter().find(|r| r.as_str() == actor.get_ref()) {
                    Some(role) => actors.push(*role),
                    None => self.at(
                        actor,
                        format!(
                            "machine {m}: actor {:?} is unknown; known: {}",
                            actor.get_ref(),
                            Role::ALL.map(Role::as_str).join(", ")
                        ),
                    ),
                }
            }
            if t.actors.is_empty() && !internal {
                self.at(&t.event, format!("machine {m}: transition on {event:?} names no actors, so nobody may send it"));
            }
            let guards = t
                .guards
                .iter()
                .filter_map(|g| self.call(g, registry::Kind::Guard, deadlines))
                .collect();
            let effects = t
                .effects
                .iter()
                .filter_map(|e| self.call(e, registry::Kind::Effect, deadlines))
                .collect();
            transitions.push(Transition {
                event: event.clone(),
                from,
                to,
                actors,
                guards,
                effects,
                line,
            });
        }

        self.check_conflicts(m, &transitions);
        self.check_reachability(m, raw.initial.get_ref(), &states, &transitions);
        MachineDef {
            initial: raw.initial.into_inner(),
            states,
            transitions,
            on_create,
        }
    }

    /// Two transitions on the same event from the same state that no guard tells apart:
    /// the same target is a duplicate, another target a conflict.
    fn check_conflicts(&mut self, m: &str, transitions: &[Transition]) {
        for (i, a) in transitions.iter().enumerate() {
            for b in &transitions[i + 1..] {
                if a.event != b.event {
                    continue;
                }
                let ga: BTreeSet<&Call> = a.guards.iter().collect();
                let gb: BTreeSet<&Call> = b.guards.iter().collect();
                let shared_actor = a.actors.iter().any(|r| b.actors.contains(r));
                if ga != gb || !shared_actor {
                    continue;
                }
                if let Some(state) = a.from.iter().find(|s| b.from.contains(s)) {
                    let what = if a.to == b.to {
                        "duplicates"
                    } else {
                        "conflicts with"
                    };
                    self.problems.push(Problem {
                        file: self.file.to_owned(),
                        line: Some(b.line),
                        message: format!(
                            "machine {m}: the transition on {:?} from {state:?} {what} the one at line {}, with the same guards",
                            b.event, a.line
                        ),
                    });
                }
            }
        }
    }

    fn check_reachability(
        &mut self,
        m: &str,
        initial: &str,
        states: &[StateDef],
        transitions: &[Transition],
    ) {
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([initial]);
        while let Some(state) = queue.pop_front() {
            if !reached.insert(state) {
                continue;
            }
            for t in transitions
                .iter()
                .filter(|t| t.from.iter().any(|f| f == state))
            {
                if let Some(to) = &t.to {
                    queue.push_back(to);
                }
            }
        }
        for state in states {
            if !reached.contains(state.name.as_str()) {
                self.whole(format!(
                    "machine {m}: state {:?} cannot be reached from {initial:?}",
                    state.name
                ));
            }
            let way_out = transitions.iter().any(|t| {
                t.from.contains(&state.name) && t.to.as_ref().is_some_and(|to| to != &state.name)
            });
            if !state.terminal && !way_out {
                self.whole(format!(
                    "machine {m}: state {:?} is not terminal but no transition leaves it",
                    state.name
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The catalog.

/// Why a definition cannot join the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(Problems),
    #[error(
        "definition {0} is already loaded with different content; give the change a new version"
    )]
    VersionChanged(DefinitionRef),
    #[error("no definition {0} is loaded")]
    Unknown(String),
}

/// The definitions shipped with cohandle, as (file name, text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "chongqing-deputy-suggestion.toml",
        include_str!("../definitions/chongqing-deputy-suggestion.toml"),
    ),
    (
        "national-deputy-suggestion.toml",
        include_str!("../definitions/national-deputy-suggestion.toml"),
    ),
    (
        "cppcc-proposal.toml",
        include_str!("../definitions/cppcc-proposal.toml"),
    ),
];

/// Every definition version loaded, immutable once in: a running proposal keeps the exact
/// definition it started with, whatever is loaded later.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    versions: BTreeMap<DefinitionRef, Arc<Definition>>,
}

impl Catalog {
    /// The shipped definitions.
    pub fn shipped() -> Self {
        let mut catalog = Self::default();
        for (file, text) in SHIPPED {
            catalog
                .load(file, text)
                .expect("the shipped definitions are checked by the tests");
        }
        catalog
    }

    pub fn load(&mut self, file: &str, text: &str) -> Result<Arc<Definition>, CatalogError> {
        let definition = Definition::load(file, text).map_err(CatalogError::Invalid)?;
        self.insert(definition)
    }

    /// Adds a version. Loading the same version again with the same rules (whatever its
    /// comments and layout) is a no-op.
    pub fn insert(&mut self, definition: Definition) -> Result<Arc<Definition>, CatalogError> {
        let reference = definition.reference();
        if let Some(existing) = self.versions.get(&reference) {
            if existing.same_rules(&definition) {
                return Ok(existing.clone());
            }
            return Err(CatalogError::VersionChanged(reference));
        }
        let definition = Arc::new(definition);
        self.versions.insert(reference, definition.clone());
        Ok(definition)
    }

    pub fn get(&self, reference: &DefinitionRef) -> Result<Arc<Definition>, CatalogError> {
        self.versions
            .get(reference)
            .cloned()
            .ok_or_else(|| CatalogError::Unknown(reference.to_string()))
    }

    /// The newest version of a definition: what new proposals start under.
    pub fn latest(&self, name: &str) -> Result<Arc<Definition>, CatalogError> {
        self.versions
            .iter()
            .rev()
            .find(|(r, _)| r.name == name)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| CatalogError::Unknown(name.to_owned()))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.versions.values()
    }
}
