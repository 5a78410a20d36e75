//! `cohandle monitor` and `cohandle calendar correct`: the deadline roles of the binary.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use cohandle_store::{monitor, Engine};
use cohandle_workflows::Calendar;
use sha2::{Digest, Sha256};

/// Fires due timers until SIGTERM or Ctrl-C.
pub async fn run_monitor(engine: Engine, owner: Option<String>) -> anyhow::Result<ExitCode> {
    let mut options = monitor::Options::default();
    if let Some(owner) = owner {
        options.owner = owner;
    }
    tracing::info!(owner = %options.owner, "deadline monitor started");
    monitor::run(engine, options, crate::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Applies a corrected or extended holiday file: every open deadline is computed again.
pub async fn correct(engine: &Engine, file: &Path) -> anyhow::Result<ExitCode> {
    let text = crate::read(file)?;
    let correction = Calendar::from_tsv(&file.display().to_string(), &text)?;
    let (first, last) = correction.years();
    let corrected = Arc::new(engine.calendar().corrected_by(&correction));
    let corrected_engine = engine.with_calendar(corrected);
    let version = &hex::encode(Sha256::digest(text.as_bytes()))[..16];
    let reason = format!(
        "holiday calendar {first}–{last} corrected from {}",
        file.display()
    );
    let report = monitor::recompute_all(&corrected_engine, version, &reason).await?;
    println!(
        "{} open proposal(s) checked, {} deadline(s) moved, {} refused; each move is in the history",
        report.proposals, report.deadlines_moved, report.refused
    );
    println!(
        "Set calendar.corrections = {:?} so that every role computes with it from now on.",
        file.display().to_string()
    );
    Ok(ExitCode::SUCCESS)
}
