//! What the engine answers for each event, and where an event came from: the types every
//! door reads, kept apart from the code that decides and writes.

use chrono::{DateTime, SubsecRound, Utc};
use cohandle_workflows::engine::Change;
use cohandle_workflows::{Event, Rejection};
use serde::{Deserialize, Serialize};

use crate::entities::inbox;

/// The door an event came through, kept in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Source {
    Bus,
    Api,
    Timer,
    Cli,
    Replay,
    /// Past cases brought in with their historical times (`cohandle demo`, imports): each
    /// event is decided at the time it gives, never later than the clock, and marked so in
    /// the inbox. No door that takes input from outside uses it.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The moment an event is decided and recorded at: the engine's clock, except for the
    /// engine's own timers (their scheduled moment, when the monitor runs late) and imports
    /// (the time they give). Either is capped by the clock.
    pub fn decided_at(self, event: &Event, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Timer | Self::Import => event.occurred_at.trunc_subsecs(6).min(now),
            Self::Bus | Self::Api | Self::Cli | Self::Replay => now,
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        version: i64,
        state: String,
        changes: Vec<Change>,
    },
    Rejected(Rejection),
    /// Held with its proposal: it does not fit yet (`why`), and may once an earlier step
    /// arrives. Tried again whenever the proposal changes; refused (and answered) if it
    /// still does not fit at `until`.
    Held {
        why: Rejection,
        until: DateTime<Utc>,
    },
    /// The event id was seen before; nothing changed. Carries the first outcome.
    Duplicate(Recorded),
}

impl Outcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }

    /// The outcome as the inbox keeps it, at the proposal's `version` after the event.
    pub(crate) fn recorded(&self, version: i64) -> Recorded {
        match self {
            Outcome::Applied { state, .. } => Recorded {
                applied: true,
                code: None,
                message: applied_message(state),
                version,
                same_request: true,
                held_until: None,
            },
            Outcome::Rejected(r) => Recorded {
                applied: false,
                code: Some(r.code.as_str().to_owned()),
                message: r.message.clone(),
                version,
                same_request: true,
                held_until: None,
            },
            Outcome::Held { why, until } => Recorded {
                applied: false,
                code: Some(why.code.as_str().to_owned()),
                message: why.message.clone(),
                version,
                same_request: true,
                held_until: Some(*until),
            },
            Outcome::Duplicate(first) => first.clone(),
        }
    }
}

/// The inbox's message for an applied event.
pub(crate) fn applied_message(state: &str) -> String {
    format!("applied; proposal is {state}")
}

/// An outcome as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub applied: bool,
    pub code: Option<String>,
    pub message: String,
    pub version: i64,
    /// Whether the copy is the same request as the first event with its id (see
    /// [`crate::idempotency::same_request`]). False: the id was reused for another event,
    /// which every door refuses (`idempotency_key_reused`, `event_id_reused`).
    pub same_request: bool,
    /// Set while the event is held (see [`Outcome::Held`]): when its window ends. `code` and
    /// `message` then say why it does not fit yet; its final outcome is still to come.
    #[serde(default)]
    pub held_until: Option<DateTime<Utc>>,
}

impl Recorded {
    /// Whether the event is held, its final outcome still to come.
    pub fn is_held(&self) -> bool {
        self.held_until.is_some()
    }
}

impl From<&inbox::Model> for Recorded {
    fn from(row: &inbox::Model) -> Self {
        Recorded {
            applied: row.outcome == "applied",
            code: row.code.clone(),
            message: row.message.clone(),
            version: row.version,
            same_request: true,
            // A held row read alone says only that it is held (its moment stands in); the
            // engine puts the window's end in, from the held event's row.
            held_until: (row.outcome == crate::held::HELD).then_some(row.recorded_at),
        }
    }
}
