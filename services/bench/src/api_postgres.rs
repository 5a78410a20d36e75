//! The HTTP door into PostgreSQL: the workload of [`crate::api_sqlite`] through the API,
//! 64 concurrent clients by default, before and after group commit, each pass in a scratch
//! database of its own on the server given.

use crate::api_sqlite::{compare, Databases, Report, POSTGRES_TARGET_STEPS_PER_SECOND};

/// `proposals` proposals of the campaign's mix sent by `clients` concurrent clients into
/// scratch databases on `server` (a URL without a database), before and after group commit.
pub async fn run(server: &str, proposals: usize, clients: usize) -> anyhow::Result<Report> {
    compare(
        "postgres",
        POSTGRES_TARGET_STEPS_PER_SECOND,
        proposals,
        clients,
        Databases::Postgres(server),
    )
    .await
}
