//! What the integration tests, the benchmark and the fault campaign share, so that each
//! test gets its own database, vhost and processes the same way everywhere:
//!
//! - [`db`]: [`TestDb`], a PostgreSQL database or a SQLite file of the test's own, dropped
//!   after it; [`db::ScratchDb`], the same on a given server for the benchmark.
//! - [`vhost`]: a RabbitMQ vhost of the test's own, with agency users as deploy/ sets them.
//! - [`binary`]: the `cohandle` binary a test runs; [`children`]: its roles as child
//!   processes (started, killed with SIGKILL, stopped with SIGTERM, logged to files).
//! - [`agencies`]: registering the agencies a test's events come from.
//!
//! This crate is never a dependency of a production crate: only of tests (as a
//! dev-dependency), of the benchmark and of the fault campaign.

#![allow(clippy::unwrap_used)]

pub mod agencies;
pub mod binary;
pub mod children;
pub mod db;
pub mod vhost;

pub use db::{Backend, TestDb, BACKENDS};

/// Runs `cleanup` to its end from a fresh runtime on another thread: `Drop` cannot await,
/// and may run inside a runtime (where blocking on one is refused).
fn finish_in_drop(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(cleanup);
    })
    .join();
}
