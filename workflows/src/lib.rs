//! The pure domain of cohandle: how a deputy's suggestion or a CPPCC proposal moves among
//! co-handling agencies, decided by workflow definitions that are data.
//!
//! - [`definition`]: definitions loaded from TOML, validated (every problem at once) and kept
//!   per version in a [`definition::Catalog`]; [`registry`] holds the named guards and effects.
//! - [`engine::apply`]: one event against one proposal → new state, history changes and
//!   effects as data (timers to schedule or cancel, notifications), or a [`engine::Rejection`].
//! - [`calendar`]: calendar months, days and working days over the official holiday data.
//! - [`model`], [`event`], [`ids`]: the things, the events and the validated identifiers.
//! - [`graph`]: Mermaid and DOT renderings of a definition.
//!
//! This crate never does IO, never reads a clock and never spawns: callers pass the time and
//! carry out the effects. That is why it holds most of the tests.

pub mod calendar;
pub mod cases;
pub mod definition;
pub mod engine;
pub mod event;
pub mod graph;
pub mod ids;
pub mod model;
pub mod registry;

pub use calendar::Calendar;
pub use definition::{Catalog, Definition};
pub use engine::{apply, Decision, Effect, Rejection, RejectionCode};
pub use event::{Actor, ActorKind, Body, Event};
pub use ids::{AgencyCode, EventId, ProposalKey};
pub use model::Proposal;
