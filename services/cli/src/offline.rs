//! Commands that need no database or broker: definition checks, graphs, deadline arithmetic.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use cohandle_workflows::calendar::DurationSpec;
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
    println!("{due}");
    Ok(ExitCode::SUCCESS)
}

/// The shipped calendar, corrected or extended by a holiday file when one is given.
pub fn calendar(corrections: Option<&Path>) -> anyhow::Result<Calendar> {
    let cal = Calendar::china_official();
    Ok(match corrections {
        Some(path) => cal.corrected_by(&Calendar::from_tsv(
            &path.display().to_string(),
            &read(path)?,
        )?),
        None => cal,
    })
}
