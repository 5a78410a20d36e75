//! Integration tests of the workbench over HTTP: a real server (API and workbench) on port
//! 0 per test, over its own PostgreSQL database, driven like a browser (cookies, forms,
//! redirects).

#![allow(clippy::unwrap_used)]

mod board;
mod forms;
mod session;
mod support;
