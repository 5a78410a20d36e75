//! Integration tests of the HTTP API: a real server on port 0 per test, over its own
//! PostgreSQL database and its own SQLite file.

#![allow(clippy::unwrap_used)]

mod access;
mod audit;
mod case_0942;
mod errors;
mod group_commit;
mod jurisdictions;
mod lists;
mod openapi;
mod rate_limit;
mod reads;
mod replica;
mod statistics;
mod support;
mod tokens;
mod writes;
