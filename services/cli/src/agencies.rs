//! `cohandle agency add|list`: the agencies the engine knows, each with the kind of actor it
//! signs in as. API tokens are issued only to registered agencies of the role's kind, and
//! the bus takes events only from registered senders.

use std::process::ExitCode;

use clap::Subcommand;
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::{Clock, SystemClock};
use cohandle_workflows::AgencyCode;
use sea_orm::DatabaseConnection;

/// The kinds an agency may be registered as.
pub const KINDS: [&str; 4] = ["assigner", "agency", "congress_office", "supervisor"];

#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Register an agency (or change its name and kind).
    Add {
        /// Its code, e.g. cq-kjj: a-z 0-9 - _ . (ASCII, lower case).
        #[arg(value_parser = str::parse::<AgencyCode>)]
        code: AgencyCode,
        /// assigner, agency, congress_office or supervisor.
        #[arg(long, value_parser = KINDS)]
        kind: String,
        /// Its name for people (default: the code).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the registered agencies.
    List,
}

pub async fn run(db: &DatabaseConnection, command: AgencyCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgencyCommand::Add { code, kind, name } => {
            let agency = Agency {
                code: code.to_string(),
                name: name.unwrap_or_else(|| code.to_string()),
                kind: kind.clone(),
                created_at: SystemClock.now(),
            };
            agencies::register(db, agency, Known::Update).await?;
            println!("agency {code} registered as {kind}");
        }
        AgencyCommand::List => {
            println!("{:<16} {:<16} name", "code", "kind");
            for row in agencies::list(db).await? {
                println!("{:<16} {:<16} {}", row.code, row.kind, row.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
