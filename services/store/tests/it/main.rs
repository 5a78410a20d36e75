//! Integration tests of the store and the engine's one path, against real PostgreSQL (a
//! database per test) and SQLite (a file per test).

#![allow(clippy::unwrap_used)]

mod dead_letters;
mod definitions;
mod engine;
mod failover;
mod held;
mod monitor;
mod statistics;
mod support;
