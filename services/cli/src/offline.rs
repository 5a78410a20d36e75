//! Commands that need no database or broker: definition checks, graphs, deadline arithmetic.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use cohandle_workflows::calendar::{DurationSpec, YearFile};
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

/// `start` + `duration` over `calendar` (tried with a holiday file on top when one is
/// given), marked when it lies in a provisional year.
pub fn due(
    calendar: &Calendar,
    start: &str,
    duration: &str,
    trial: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let start = NaiveDate::parse_from_str(start, "%Y-%m-%d")
        .with_context(|| format!("{start:?} is not a date like 2020-01-20"))?;
    let duration: DurationSpec = duration.parse()?;
    let cal = match trial {
        Some(path) => calendar.corrected_by(&year_file(path)?.calendar)?,
        None => calendar.clone(),
    };
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

/// A holiday file, checked as every year file is; a contradiction of the statutory holidays
/// that `calendar correct --force` took is logged, not refused again.
fn year_file(path: &Path) -> anyhow::Result<YearFile> {
    let file = Calendar::year_file(&path.display().to_string(), &read(path)?, true)?;
    for problem in &file.overridden {
        tracing::warn!(file = %path.display(), "holiday file taken against the statutory rules: {problem}");
    }
    Ok(file)
}

/// The shipped calendar, corrected or extended by `calendar.corrections` when set: the base
/// every engine adds the loaded holiday files to.
pub fn calendar(corrections: Option<&Path>) -> anyhow::Result<Calendar> {
    let cal = Calendar::china_official();
    Ok(match corrections {
        Some(path) => cal.corrected_by(&year_file(path)?.calendar)?,
        None => cal,
    })
}
