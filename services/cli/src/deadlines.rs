//! `cohandle monitor` and `cohandle calendar correct`: the deadline roles of the binary.

use std::path::Path;
use std::process::ExitCode;

use chrono::Datelike;
use cohandle_store::{calendars, cli_door, monitor, Engine};
use cohandle_telemetry::{Metrics, Role};
use cohandle_workflows::calendar::YearStatus;
use cohandle_workflows::Calendar;

use crate::observe::RoleProbe;
use crate::settings::Settings;

/// Fires due timers until SIGTERM or Ctrl-C.
pub async fn run_monitor(
    settings: &Settings,
    engine: Engine,
    owner: Option<String>,
) -> anyhow::Result<ExitCode> {
    let metrics = Metrics::new(&[Role::Monitor]);
    let probe = RoleProbe::new(&[Role::Monitor], &engine, None);
    crate::observe::start(settings, Role::Monitor, &metrics, probe).await?;
    let mut options = crate::observe::monitor_options(monitor::Options::default(), &metrics);
    if let Some(owner) = owner {
        options.owner = owner;
    }
    tracing::info!(owner = %options.owner, "deadline monitor started");
    monitor::run(engine, options, crate::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// A long-running role's reminder, at its start and then once a day: from 1 November, while
/// next year's holiday arrangement is not loaded, a warning in the log.
pub async fn warn_daily(engine: Engine) {
    loop {
        if let Err(error) = engine.refresh_calendar().await {
            tracing::warn!(target: "cohandle::calendar", %error, "could not read the loaded holiday files");
        }
        let today = cohandle_workflows::engine::china_date(engine.clock().now());
        if let Some(warning) = engine.calendar().next_year_warning(today) {
            tracing::warn!(target: "cohandle::calendar", "{warning}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(24 * 60 * 60)).await;
    }
}

/// Loads a corrected or extended holiday file (the State Council General Office's notice)
/// and recomputes every open deadline with it. The file must name every festival of each
/// year it covers, and agree with the statutory holidays unless `force` (then the
/// contradictions are kept with the file and go into each recomputation's history row). It
/// is kept in the database, so every role counts with it from its next batch on.
pub async fn correct(engine: &Engine, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let text = crate::read(file)?;
    let name = file.display().to_string();
    let year_file = Calendar::year_file(&name, &text, force)?;
    let (first, last) = year_file.calendar.years();
    // Refuse a file that would leave a year out before keeping it.
    engine.calendar().corrected_by(&year_file.calendar)?;
    let new = cli_door::record_calendar(engine, &name, &text, &year_file.overridden).await?;
    engine.refresh_calendar().await?;
    for problem in &year_file.overridden {
        println!("forced: {problem}");
    }
    let mut reason = format!("holiday calendar {first}–{last} corrected from {name}");
    if !year_file.overridden.is_empty() {
        reason.push_str(&format!(
            " (forced against the statutory holidays: {})",
            year_file.overridden.join("; ")
        ));
    }
    let version = &calendars::digest(&text)[..16];
    let report = monitor::recompute_all(engine, version, &reason).await?;
    println!(
        "{name}: {} ({first}–{last}); {} open proposal(s) checked, {} deadline(s) moved or confirmed, {} refused; each is in the history",
        if new { "loaded" } else { "already loaded" },
        report.proposals,
        report.deadlines_moved,
        report.refused
    );
    println!("Every role counts with it from now on (they look for new files every 30 s).");
    Ok(ExitCode::SUCCESS)
}

/// Each year from the first of the official data to the year after next: official or
/// provisional and from which source; the loaded files; the warning roles give.
pub async fn status(engine: &Engine, corrections: Option<&Path>) -> anyhow::Result<ExitCode> {
    let calendar = engine.calendar();
    let loaded = cli_door::loaded_calendars(engine).await?;
    let shipped = Calendar::china_official().years();
    let today = cohandle_workflows::engine::china_date(engine.clock().now());
    let (first, last) = calendar.years();
    println!("year  status       working days");
    for year in first..=(today.year() + 2).max(last) {
        let status = calendar.year_status(year);
        let how = match status {
            YearStatus::Official => {
                let file = loaded
                    .iter()
                    .rev()
                    .find(|f| (f.years.0..=f.years.1).contains(&year));
                match (file, corrections) {
                    (Some(file), _) => format!(
                        "official arrangement loaded from {} on {}",
                        file.name,
                        file.loaded_at.format("%Y-%m-%d %H:%M UTC")
                    ),
                    (None, Some(path)) if !(shipped.0..=shipped.1).contains(&year) => {
                        format!("official arrangement from {}", path.display())
                    }
                    (None, _) => "official arrangement (shipped)".to_owned(),
                }
            }
            YearStatus::Provisional => {
                "weekends and the statutory holidays only; no make-up working days".to_owned()
            }
            YearStatus::Unavailable => "cannot be counted".to_owned(),
        };
        println!("{year}  {:<11}  {how}", status.to_string());
    }
    for file in loaded.iter().filter(|f| !f.forced.is_empty()) {
        println!(
            "\n{} was forced past the statutory holidays:\n  {}",
            file.name,
            file.forced.join("\n  ")
        );
    }
    if let Some(warning) = calendar.next_year_warning(today) {
        println!("\nwarning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
