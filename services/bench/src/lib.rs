//! Benchmarks: each prints its figures and writes them as JSON, with ratios against limits
//! measured in the same run. Never assertions on time: CI runs them small, as smoke tests.
//!
//! Each benchmark works in a database of its own, created for the run and dropped after.

pub mod bus;
pub mod mix;
pub mod pg_raw;
pub mod queries;
pub mod scratch;
pub mod timers;
