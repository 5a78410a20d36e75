//! Persistence for cohandle and the engine's one path for every state change.
//!
//! - [`engine::Engine::decide`]: the one entry for every state change — take the events
//!   (handed over, or claimed in the transaction, as the monitor's due timers), let the domain
//!   decide, write state, history, inbox, outbox and timers in one transaction; decided again
//!   on a version conflict. `apply` / `apply_batch` are that entry for handed-over events.
//!   Beside it: [`outcome`] (what it answers), `batch` (one transaction's decisions, in
//!   order), [`held`] (events that arrived before the step they depend on, held with their
//!   proposal and tried again), `write` and `rows` (what it writes), `bulk`
//!   (the set-based statements), [`outbox`] (the outbound messages), [`retry`] (the one
//!   retry policy).
//! - [`monitor`]: the claim on due timers, and the monitor's loop.
//! - [`entities`] and [`migration`]: the tables, on PostgreSQL and SQLite alike.
//! - [`idempotency`]: when a second event under a known id is a copy of the first.
//! - [`dead_letters`]: what a door could not take, kept for the operators with its reason.
//! - [`history`]: the hash chain over each proposal's history and its verification.
//! - [`statistics`]: the per-agency counters the one path keeps for the supervisors'
//!   statistics, and their recount from the rows.
//! - [`calendars`]: the holiday files loaded at run time, which every engine picks up.
//! - [`agencies`]: the registry of agencies, each with the kind of actor it is.
//! - [`retry`]: the one retry policy for transient failures.
//! - [`outbox_page`]: one page of the outbox as the relay publishes it; [`bus_door`]: the
//!   dead letters and the inbox's decisions as the bus's door reads and marks them;
//!   [`cli_door`]: what the operator's command line reads (timelines, deadlines, statistics);
//!   [`inspection`]: what tests, the benchmark and the campaign read to check the engine.
//! - [`audit`]: the access audit, one row per HTTP request, and its search.
//! - [`gauges`]: what waits (unsent outbox rows, due timers), for the roles' metrics.
//! - [`queries`]: the doors' reads (lists with the caller's scope, timelines, deadlines,
//!   statistics), each the function the API calls; [`tokens`]: the API's bearer tokens.
//! - [`handle`]: what those run on, an engine or a connection of one's own.
//! - [`connect`]: opening `database.url`; [`clock`]: the injected clock.
//!
//! This crate never talks to the broker or to HTTP clients, and never decides a transition
//! itself: every decision is `cohandle_workflows::apply`.

pub mod agencies;
pub mod audit;
mod batch;
mod bulk;
pub mod bus_door;
pub mod calendars;
pub mod cli_door;
pub mod clock;
pub mod connect;
pub mod dead_letters;
pub mod definitions;
pub mod engine;
#[cfg(not(feature = "test-internals"))]
mod entities;
#[cfg(feature = "test-internals")]
pub mod entities;
mod error;
pub mod gauges;
pub mod handle;
pub mod held;
pub mod history;
pub mod idempotency;
pub mod inspection;
pub mod jurisdictions;
pub mod migration;
pub mod monitor;
pub mod outbox;
pub mod outbox_page;
pub mod outcome;
pub mod queries;
pub mod relay;
pub mod retry;
mod rows;
pub mod statistics;
pub mod tokens;
mod write;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Claim, Engine, Given};
pub use error::Error;
pub use outcome::{Outcome, Recorded, Source};
