//! `cohandle agency add|list`: the agencies the engine knows, each with the kind of actor it
//! signs in as. API tokens are issued only to registered agencies of the role's kind, and
//! the bus takes events only from registered senders.

use std::process::ExitCode;

use clap::Subcommand;
use cohandle_store::entities::agency;
use cohandle_store::{Clock, SystemClock};
use cohandle_workflows::AgencyCode;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};

/// The kinds an agency may be registered as.
const KINDS: [&str; 4] = ["assigner", "agency", "congress_office", "supervisor"];

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
            let row = agency::ActiveModel {
                code: Set(code.to_string()),
                name: Set(name.unwrap_or_else(|| code.to_string())),
                kind: Set(kind.clone()),
                created_at: Set(SystemClock.now()),
            };
            agency::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(agency::Column::Code)
                        .update_columns([agency::Column::Name, agency::Column::Kind])
                        .to_owned(),
                )
                .exec(db)
                .await?;
            println!("agency {code} registered as {kind}");
        }
        AgencyCommand::List => {
            println!("{:<16} {:<16} name", "code", "kind");
            for row in agency::Entity::find()
                .order_by_asc(agency::Column::Code)
                .all(db)
                .await?
            {
                println!("{:<16} {:<16} {}", row.code, row.kind, row.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
