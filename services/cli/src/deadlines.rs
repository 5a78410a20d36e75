//! `cohandle monitor` and `cohandle calendar correct`: the deadline roles of the binary.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use cohandle_store::{monitor, Clock, Engine, SystemClock};
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

/// A long-running role's reminder, at its start and then once a day: from 1 November, while
/// next year's holiday arrangement is not loaded, a warning in the log.
pub async fn warn_daily(calendar: Arc<Calendar>) {
    loop {
        let today = cohandle_workflows::engine::china_date(SystemClock.now());
        if let Some(warning) = calendar.next_year_warning(today) {
            tracing::warn!(target: "cohandle::calendar", "{warning}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(24 * 60 * 60)).await;
    }
}

/// Applies a corrected or extended holiday file: every open deadline is computed again.
/// The file must name every festival of each year it covers, and agree with the statutory
/// holidays unless `force` (then the contradictions go into each move's history row).
pub async fn correct(engine: &Engine, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let text = crate::read(file)?;
    let year_file = Calendar::year_file(&file.display().to_string(), &text, force)?;
    let (first, last) = year_file.calendar.years();
    let corrected = Arc::new(engine.calendar().corrected_by(&year_file.calendar)?);
    let corrected_engine = engine.with_calendar(corrected);
    let version = &hex::encode(Sha256::digest(text.as_bytes()))[..16];
    let mut reason = format!(
        "holiday calendar {first}–{last} corrected from {}",
        file.display()
    );
    if !year_file.overridden.is_empty() {
        reason.push_str(&format!(
            " (forced against the statutory holidays: {})",
            year_file.overridden.join("; ")
        ));
        for problem in &year_file.overridden {
            println!("forced: {problem}");
        }
    }
    let report = monitor::recompute_all(&corrected_engine, version, &reason).await?;
    println!(
        "{} open proposal(s) checked, {} deadline(s) moved or confirmed, {} refused; each is in the history",
        report.proposals, report.deadlines_moved, report.refused
    );
    println!(
        "Set calendar.corrections = {:?} so that every role computes with it from now on.",
        file.display().to_string()
    );
    Ok(ExitCode::SUCCESS)
}
