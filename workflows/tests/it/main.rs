//! Integration tests of the domain: scenarios along every path of the shipped definitions,
//! every rejection, definition validation, and properties over random event sequences.

#![allow(clippy::unwrap_used)] // scenario helpers outside #[test] functions

mod case_0942;
mod clock;
mod definitions;
mod festivals;
mod properties;
mod rejections;
mod scenarios;
mod shipped_data;
mod support;
