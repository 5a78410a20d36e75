//! The generator's own record of everything it sent, with the outcome it expects: the
//! audit compares the database and its dead letters with this, not with the engine's
//! bookkeeping.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One expected history row: (machine, task agency, from, to, event).
pub type ExpectedChange = (String, Option<String>, String, String, String);

/// The door an input went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Bus,
    Api,
}

/// What must become of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Applied once, with exactly these history rows (predicted by the pure domain).
    Applied(Vec<ExpectedChange>),
    /// Decided in the inbox as refused, with this code.
    Rejected(&'static str),
    /// A repeat of an event id already decided: no row of its own, nothing added.
    Duplicate,
    /// A dead letter with this code (and this dead-letter id), never in the inbox.
    DeadLetter { code: &'static str, id: String },
    /// The broker refuses the publish (no confirm): it never reaches the worker.
    BrokerRefuses,
    /// An HTTP request that must not succeed: any of these statuses, nothing applied.
    HttpRefused(Vec<u16>),
    /// An HTTP request that may succeed (a read within scope, an idempotent retry).
    HttpAllowed,
}

/// One input, as sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The event id (or Idempotency-Key); `None` for inputs that carry none.
    pub event_id: Option<String>,
    pub proposal: Option<String>,
    pub door: Door,
    pub hostile: bool,
    /// What it is, for the report's details.
    pub what: String,
    pub expected: Expected,
    /// For HTTP: the status answered; for the bus: whether the broker confirmed it.
    pub answer: Option<String>,
    /// A hostile input that succeeded where it must not, as seen when it was answered.
    pub breached: bool,
}

/// Every input sent, in the order recorded, with the moment it was recorded.
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<Inputs>>);

#[derive(Debug, Default)]
struct Inputs {
    sent: Vec<Sent>,
    at: Vec<Instant>,
}

impl Ledger {
    fn inputs(&self) -> std::sync::MutexGuard<'_, Inputs> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, sent: Sent) -> usize {
        let mut all = self.inputs();
        all.sent.push(sent);
        all.at.push(Instant::now());
        all.sent.len() - 1
    }

    pub fn answer(&self, index: usize, answer: String, breached: bool) {
        if let Some(sent) = self.inputs().sent.get_mut(index) {
            sent.answer = Some(answer);
            sent.breached |= breached;
        }
    }

    pub fn snapshot(&self) -> Vec<Sent> {
        self.inputs().sent.clone()
    }

    /// When each input was recorded, by ledger index.
    pub fn times(&self) -> Vec<Instant> {
        self.inputs().at.clone()
    }
}
