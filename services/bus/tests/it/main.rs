//! Integration tests of the bus against the real RabbitMQ (a vhost per test, through the
//! management API on 127.0.0.1:15672) and real PostgreSQL or SQLite (a database per test).
//! `deploy/dev/ensure-services.sh` starts both. No mocks.

#![allow(clippy::unwrap_used)]

mod case_0942;
mod contract;
mod crash;
mod delivery;
mod failover;
mod handover;
mod support;
mod topology;
