//! `cohandle workflows deploy|list`: workflow definitions deployed at run time. A deployed
//! version is immutable and reaches every role without a build.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cohandle_store::definitions::{self, DeployError, Deployed};
use cohandle_store::{Clock, SystemClock};
use sea_orm::DatabaseConnection;

/// Checks each file and stores it as an immutable version: a new version is stored, the
/// same definition again changes nothing, another definition under a stored version is
/// refused. Every file is tried; the exit status is non-zero when any was refused.
pub async fn deploy(
    db: &DatabaseConnection,
    files: &[PathBuf],
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let by = by.unwrap_or_else(operator);
    let mut refused = 0;
    for path in files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        match definitions::deploy(db, &file, &text, &by, SystemClock.now()).await {
            Ok(Deployed::New { name, version }) => {
                println!("{}: deployed {name} version {version}", path.display());
            }
            Ok(Deployed::Unchanged { name, version }) => {
                println!(
                    "{}: {name} version {version} is already deployed; nothing changed",
                    path.display()
                );
            }
            Err(DeployError::Store(error)) => return Err(error.into()),
            Err(refusal) => {
                refused += 1;
                eprintln!("{}: refused: {refusal}", path.display());
            }
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every deployed version with how many proposals run on it.
pub async fn list(db: &DatabaseConnection) -> anyhow::Result<ExitCode> {
    println!(
        "{:<28} {:>7} {:>9} {:<12} {:<20} {:<16} title",
        "name", "version", "proposals", "sha256", "deployed at", "deployed by"
    );
    for row in definitions::list(db).await? {
        println!(
            "{:<28} {:>7} {:>9} {:<12} {:<20} {:<16} {}",
            row.name,
            row.version,
            row.proposals,
            &row.sha256[..12.min(row.sha256.len())],
            row.deployed_at.format("%Y-%m-%d %H:%M:%S"),
            row.deployed_by,
            row.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The operating-system user, for the record of who deployed.
fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".to_owned())
}
