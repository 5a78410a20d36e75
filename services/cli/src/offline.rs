//! Commands that need no database or broker: definition checks, graphs, deadline arithmetic.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use cohandle_store::{Clock, SystemClock};
use cohandle_workflows::calendar::{DurationSpec, YearStatus};
use cohandle_workflows::{graph, Calendar, Definition};

use crate::read;

pub fn check(files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in files {
        let name = path.display().to_string();
        match Definition::load(&name, &read(path)?) {
            Ok(def) => println!("{name}: OK ({} v{}, {})", def.name, def.version, def.title),
            Err(problems) => {
                failed = true;
                println!("{name}: {} problem(s)", problems.0.len());
                for problem in &problems.0 {
                    println!("  {problem}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn graph(path: &Path, dot: bool) -> anyhow::Result<ExitCode> {
    let name = path.display().to_string();
    let def = Definition::load(&name, &read(path)?).map_err(|p| anyhow::anyhow!("{p}"))?;
    print!(
        "{}",
        if dot {
            graph::dot(&def)
        } else {
            graph::mermaid(&def)
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn due(start: &str, duration: &str, calendar: Option<&Path>) -> anyhow::Result<ExitCode> {
    let start = NaiveDate::parse_from_str(start, "%Y-%m-%d")
        .with_context(|| format!("{start:?} is not a date like 2020-01-20"))?;
    let duration: DurationSpec = duration.parse()?;
    let cal = self::calendar(calendar)?;
    let due = cal.add(start, duration)?;
    if cal.is_provisional(due) {
        println!(
            "{due} (provisional: no official {} arrangement loaded)",
            due.year()
        );
    } else {
        println!("{due}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Each year from the first of the official data to the year after next: official or
/// provisional, and the warning the roles give from 1 November.
pub fn status(calendar: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cal = self::calendar(calendar)?;
    let today = cohandle_workflows::engine::china_date(SystemClock.now());
    let (first, last) = cal.years();
    let source = calendar.map_or("shipped".to_owned(), |p| {
        format!("shipped, corrected by {}", p.display())
    });
    println!("year  status       working days");
    for year in first..=(today.year() + 2).max(last) {
        let how = match cal.year_status(year) {
            YearStatus::Official => format!("the official arrangement ({source})"),
            YearStatus::Provisional => {
                "weekends and the statutory holidays only; no make-up working days".to_owned()
            }
            YearStatus::Unavailable => "cannot be counted".to_owned(),
        };
        println!("{year}  {:<11}  {how}", cal.year_status(year).to_string());
    }
    if let Some(warning) = cal.next_year_warning(today) {
        println!("\nwarning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The holiday file a command uses: the one named on its command line, or else the
/// configuration's `calendar.corrections`.
pub fn corrections(
    config: Option<&Path>,
    named: Option<PathBuf>,
) -> anyhow::Result<Option<PathBuf>> {
    match named {
        Some(path) => Ok(Some(path)),
        None => Ok(crate::settings::load(config)?.calendar.corrections),
    }
}

/// The shipped calendar, corrected or extended by a holiday file when one is given. The file
/// must name every festival of each year it covers; a contradiction of the statutory holidays
/// that `calendar correct --force` took is logged, not refused again.
pub fn calendar(corrections: Option<&Path>) -> anyhow::Result<Calendar> {
    let cal = Calendar::china_official();
    let Some(path) = corrections else {
        return Ok(cal);
    };
    let file = Calendar::year_file(&path.display().to_string(), &read(path)?, true)?;
    for problem in &file.overridden {
        tracing::warn!(file = %path.display(), "holiday file taken against the statutory rules: {problem}");
    }
    Ok(cal.corrected_by(&file.calendar)?)
}
