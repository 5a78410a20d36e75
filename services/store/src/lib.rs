//! Persistence for cohandle and the engine's one path for every state change.
//!
//! - [`engine::Engine`]: `apply` / `apply_batch` — load, let the domain decide, write state,
//!   history, inbox, outbox and timers in one transaction; retried on a version conflict.
//! - [`entities`] and [`migration`]: the tables, on PostgreSQL and SQLite alike.
//! - [`idempotency`]: when a second event under a known id is a copy of the first.
//! - [`dead_letters`]: what a door could not take, kept for the operators with its reason.
//! - [`history`]: the hash chain over each proposal's history and its verification.
//! - [`statistics`]: the per-agency counters the one path keeps for the supervisors'
//!   statistics, and their recount from the rows.
//! - [`calendars`]: the holiday files loaded at run time, which every engine picks up.
//! - [`agencies`]: the registry of agencies, each with the kind of actor it is.
//! - [`audit`]: the access audit, one row per HTTP request, and its search.
//! - [`queries`]: the doors' reads (lists with the caller's scope, timelines, deadlines,
//!   statistics), each the function the API calls; [`tokens`]: the API's bearer tokens.
//! - [`handle`]: what those run on, an engine or a connection of one's own.
//! - [`connect`]: opening `database.url`; [`clock`]: the injected clock.
//!
//! This crate never talks to the broker or to HTTP clients, and never decides a transition
//! itself: every decision is `cohandle_workflows::apply`.

pub mod agencies;
pub mod audit;
mod bulk;
pub mod calendars;
pub mod clock;
pub mod connect;
pub mod dead_letters;
pub mod engine;
pub mod entities;
mod error;
pub mod handle;
pub mod history;
pub mod idempotency;
pub mod migration;
pub mod monitor;
pub mod queries;
pub mod relay;
pub mod statistics;
pub mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, Outcome, Source};
pub use error::Error;
