//! `cohandle audit search`: the access audit, every HTTP request with its caller, route,
//! proposal, outcome and latency, for auditors.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use cohandle_store::audit::{self, Search};
use sea_orm::DatabaseConnection;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Requests that match every filter given, oldest first, one JSON object per line.
    Search {
        /// The caller's agency code.
        #[arg(long)]
        agency: Option<String>,
        /// The bearer token's id (see `token list`).
        #[arg(long)]
        token: Option<String>,
        /// The token's role: assigner, agency, congress_office, supervisor, admin.
        #[arg(long)]
        role: Option<String>,
        /// The proposal the request named.
        #[arg(long)]
        proposal: Option<String>,
        /// From this moment on (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Before this moment (RFC 3339).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Only refused requests (status 400 and above).
        #[arg(long)]
        refused: bool,
        /// At most this many lines.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
}

pub async fn run(db: &DatabaseConnection, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Search {
        agency,
        token,
        role,
        proposal,
        since,
        until,
        refused,
        limit,
    } = command;
    let search = Search {
        agency,
        token_id: token,
        role,
        proposal_key: proposal,
        since,
        until,
        refused,
        limit,
    };
    for entry in audit::search(db, &search).await? {
        println!("{}", audit::as_json(&entry));
    }
    Ok(ExitCode::SUCCESS)
}
