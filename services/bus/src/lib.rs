//! The RabbitMQ door of cohandle: the lead agency's system and the partner agencies publish
//! events to `cohandle.in`; the [`worker::Worker`] applies them through the engine's one
//! path (`Engine::apply_batch`) and acknowledges them only after the commit; the
//! [`relay::Relay`] publishes the outbox to `cohandle.out`, one queue per agency.
//!
//! - [`topology`]: every exchange, queue and binding as data, declared at start and kept
//!   in `deploy/rabbitmq/definitions.json`.
//! - [`identity`]: the AMQP `user-id` (checked by RabbitMQ) names the sending agency.
//! - [`dead_letter`] and [`replay`]: what the worker cannot take is recorded in the
//!   database with its reason and applied later, once fixed; refused events whose cause
//!   can pass (out of order, above all) are replayable too.
//! - [`publish`]: the inbound contract for publishers (`cohandle emit` uses it).
//! - [`connect`]: lapin on tokio's executor and reactor; `retry`: how the roles wait out a
//!   lost broker or database, by the store's one retry policy.
//! - [`probe`]: the broker as the roles' `/readyz` and `/metrics` see it (partition depths).
//!
//! This crate never decides a transition and never writes the engine's tables itself:
//! every state change is the engine's; it only reads the agencies (`cohandle_store::agencies`),
//! publishes the outbox page by page (`cohandle_store::outbox_page`), and records and marks
//! dead letters and reads the inbox's decisions for replays (`cohandle_store::bus_door`).
//! It has no access to the tables themselves.

pub mod connect;
pub mod dead_letter;
mod error;
pub mod identity;
pub mod probe;
pub mod publish;
pub mod relay;
pub mod replay;
mod retry;
pub mod topology;
pub mod worker;

pub use error::Error;
pub use relay::Relay;
pub use topology::Topology;
pub use worker::Worker;
