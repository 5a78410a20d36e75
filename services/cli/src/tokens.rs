//! `cohandle token create|revoke|list`: API bearer tokens from the shell. The secret is
//! printed once, at creation; only its hash is stored.

use std::process::ExitCode;

use clap::Subcommand;
use cohandle_api::tokens::{self, NewToken};
use cohandle_api::Role;
use cohandle_store::{Clock, SystemClock};
use cohandle_workflows::AgencyCode;
use sea_orm::DatabaseConnection;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for an agency and role; prints its secret once.
    Create {
        /// The agency the token acts for, e.g. cq-kjj.
        #[arg(long, value_parser = str::parse::<AgencyCode>)]
        agency: AgencyCode,
        /// assigner, agency, congress_office, supervisor or admin.
        #[arg(long, value_parser = str::parse::<Role>)]
        role: Role,
        /// A label for people (default: "<agency> <role>").
        #[arg(long)]
        name: Option<String>,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke a token by its id (see `token list`).
    Revoke { id: String },
    /// List tokens, never their secrets.
    List,
}

pub async fn run(db: &DatabaseConnection, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    match command {
        TokenCommand::Create {
            agency,
            role,
            name,
            expires_in_days,
        } => {
            let new = NewToken {
                agency,
                role,
                name,
                expires_in_days,
            };
            let issued = tokens::create(db, now, new).await?;
            let t = &issued.token;
            println!(
                "token {} for {} as {} ({}), expires {}",
                t.id,
                t.agency,
                t.role,
                t.name,
                t.expires_at
                    .map_or("never".to_owned(), |at| at.to_rfc3339())
            );
            println!("secret (shown this once; send as `Authorization: Bearer <secret>`):");
            println!("{}", issued.secret);
        }
        TokenCommand::Revoke { id } => {
            let t = tokens::revoke(db, now, &id).await?;
            println!(
                "token {} ({} as {}) revoked at {}",
                t.id,
                t.agency,
                t.role,
                t.revoked_at.map_or("?".to_owned(), |at| at.to_rfc3339())
            );
        }
        TokenCommand::List => {
            println!(
                "{:<21} {:<16} {:<15} {:<10} {:<26} name",
                "id", "agency", "role", "status", "expires"
            );
            let mut cursor = None;
            loop {
                let page =
                    tokens::list(db, cursor.as_ref(), cohandle_api::pagination::MAX_LIMIT).await?;
                for t in &page.items {
                    let status = match (t.revoked_at, t.expires_at) {
                        (Some(_), _) => "revoked",
                        (None, Some(at)) if at <= now => "expired",
                        _ => "active",
                    };
                    println!(
                        "{:<21} {:<16} {:<15} {:<10} {:<26} {}",
                        t.id,
                        t.agency,
                        t.role,
                        status,
                        t.expires_at
                            .map_or("never".to_owned(), |at| at.to_rfc3339()),
                        t.name
                    );
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(cohandle_api::pagination::Cursor::new(next)),
                    None => break,
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
