//! The API's Prometheus series: `cohandle_telemetry`'s, kept per service (not in a
//! process-wide registry) so that every test server counts on its own.

pub use cohandle_telemetry::Metrics;
