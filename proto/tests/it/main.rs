//! The wire contract from outside: every event round trips, hostile bytes are refused
//! without a panic, and the README's examples decode.

mod hostile;
mod notifications;
mod outbound;
mod readme;
mod round_trip;
mod samples;
mod strategies;
