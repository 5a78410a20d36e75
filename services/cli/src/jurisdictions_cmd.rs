//! `cohandle jurisdiction add|allow|join|import|list|rabbitmq`: onboarding a congress or
//! CPPCC without a build. A jurisdiction's code is the prefix of its proposals' keys; its
//! agencies are registered and made to serve it from a file; its RabbitMQ users are printed
//! as `rabbitmqctl` lines for the broker's operator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::jurisdictions::{self, NewJurisdiction};
use cohandle_store::{Clock, SystemClock};
use cohandle_workflows::AgencyCode;
use sea_orm::DatabaseConnection;

use crate::agencies::KINDS;

#[derive(Debug, Subcommand)]
pub enum JurisdictionCommand {
    /// Register a jurisdiction: its code is the prefix of its proposals' keys
    /// (`<code>-<number>`). Adding the same one again changes nothing.
    Add {
        /// a-z, 0-9 and single hyphens, beginning with a letter: e.g. cq-yz.
        code: String,
        /// Its name for people, e.g. 重庆市渝中区人民代表大会.
        #[arg(long)]
        name: String,
        /// The jurisdiction whose supervisors also oversee this one.
        #[arg(long)]
        parent: Option<String>,
        /// national, provincial, municipal, district, county …
        #[arg(long, default_value = "district")]
        level: String,
        /// A definition it assigns under (repeat for several).
        #[arg(long = "definition")]
        definitions: Vec<String>,
    },
    /// Let a jurisdiction assign under more definitions (by name, every version).
    Allow {
        code: String,
        #[arg(required = true)]
        definitions: Vec<String>,
    },
    /// Make registered agencies serve a jurisdiction.
    Join {
        code: String,
        #[arg(required = true, value_parser = str::parse::<AgencyCode>)]
        agencies: Vec<AgencyCode>,
    },
    /// Register the agencies of a CSV file (`code,kind,name`, one header line) and make
    /// them serve the jurisdiction. Every line is checked before any is stored.
    Import { code: String, file: PathBuf },
    /// List the jurisdictions: code, parent, level, definitions, agencies, name.
    List,
    /// Print the `rabbitmqctl` lines that create the RabbitMQ user of each agency serving
    /// the jurisdiction, with the permissions the bus expects (each reads only its own
    /// queue and publishes only under its own routing keys).
    Rabbitmq {
        code: String,
        /// The virtual host.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
}

pub async fn run(
    db: &DatabaseConnection,
    command: JurisdictionCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        JurisdictionCommand::Add {
            code,
            name,
            parent,
            level,
            definitions,
        } => {
            let added = jurisdictions::add(
                db,
                NewJurisdiction {
                    code: code.clone(),
                    name,
                    parent,
                    level,
                    definitions,
                },
            )
            .await?;
            if added {
                println!("jurisdiction {code} registered; its proposals' keys begin with {code}-");
            } else {
                println!("jurisdiction {code} was registered already; nothing changed");
            }
        }
        JurisdictionCommand::Allow { code, definitions } => {
            known(db, &code).await?;
            jurisdictions::allow(db, &code, &definitions).await?;
            println!(
                "jurisdiction {code} may assign under {}",
                definitions.join(", ")
            );
        }
        JurisdictionCommand::Join { code, agencies } => {
            known(db, &code).await?;
            let codes: Vec<String> = agencies.iter().map(ToString::to_string).collect();
            let registered: BTreeSet<String> = agencies::list(db)
                .await?
                .into_iter()
                .map(|a| a.code)
                .collect();
            let missing: Vec<&String> = codes.iter().filter(|c| !registered.contains(*c)).collect();
            if !missing.is_empty() {
                bail!(
                    "not registered: {}; register them first (`cohandle agency add`) or use `cohandle jurisdiction import`",
                    missing.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            jurisdictions::join(db, &code, &codes).await?;
            println!("{} agencies serve {code}", codes.len());
        }
        JurisdictionCommand::Import { code, file } => {
            known(db, &code).await?;
            let rows = read_agencies(&file)?;
            let now = SystemClock.now();
            for (agency, kind, name) in &rows {
                agencies::register(
                    db,
                    Agency {
                        code: agency.clone(),
                        name: name.clone(),
                        kind: kind.clone(),
                        created_at: now,
                    },
                    Known::Update,
                )
                .await?;
            }
            let codes: Vec<String> = rows.into_iter().map(|(c, _, _)| c).collect();
            jurisdictions::join(db, &code, &codes).await?;
            println!(
                "{} agencies registered from {} and serving {code}",
                codes.len(),
                file.display()
            );
        }
        JurisdictionCommand::List => {
            let registry = jurisdictions::list(db).await?;
            println!(
                "{:<12} {:<12} {:<12} {:>8}  {:<40} name",
                "code", "parent", "level", "agencies", "definitions"
            );
            for j in registry.all() {
                let members = jurisdictions::members(db, &j.code).await?;
                println!(
                    "{:<12} {:<12} {:<12} {:>8}  {:<40} {}",
                    j.code,
                    j.parent.as_deref().unwrap_or("-"),
                    j.level,
                    members.len(),
                    j.definitions.iter().cloned().collect::<Vec<_>>().join(","),
                    j.name
                );
            }
        }
        JurisdictionCommand::Rabbitmq { code, vhost } => {
            known(db, &code).await?;
            let members = jurisdictions::members(db, &code).await?;
            if members.is_empty() {
                bail!("no agency serves {code} yet (`cohandle jurisdiction import`)");
            }
            print!("{}", rabbitmq_lines(&members, &vhost));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn known(db: &DatabaseConnection, code: &str) -> anyhow::Result<()> {
    if !jurisdictions::exists(db, code).await? {
        bail!("jurisdiction {code} is not registered (`cohandle jurisdiction add`)");
    }
    Ok(())
}

/// Reads `code,kind,name` lines after a header; every line is checked before any is used.
fn read_agencies(file: &Path) -> anyhow::Result<Vec<(String, String, String)>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.replace(' ', "") == "code,kind,name" => {}
        _ => bail!(
            "{}: the first line must be the header `code,kind,name`",
            file.display()
        ),
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in lines {
        let line_no = n + 1;
        let mut fields = line.splitn(3, ',').map(str::trim);
        let (Some(code), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            problems.push(format!("line {line_no}: expected code,kind,name"));
            continue;
        };
        if let Err(e) = code.parse::<AgencyCode>() {
            problems.push(format!("line {line_no}: {e}"));
        }
        if !KINDS.contains(&kind) {
            problems.push(format!(
                "line {line_no}: kind {kind:?} is not one of {}",
                KINDS.join(", ")
            ));
        }
        if name.is_empty() {
            problems.push(format!("line {line_no}: the name is empty"));
        }
        if !seen.insert(code.to_owned()) {
            problems.push(format!("line {line_no}: {code} appears twice"));
        }
        rows.push((
            code.to_owned(),
            kind.to_owned(),
            name.trim_matches('"').to_owned(),
        ));
    }
    if !problems.is_empty() {
        bail!(
            "{}: nothing imported:\n  {}",
            file.display(),
            problems.join("\n  ")
        );
    }
    if rows.is_empty() {
        bail!("{}: no agencies after the header", file.display());
    }
    Ok(rows)
}

/// One user per agency, named by its code (the bus checks `user-id` against it): it may
/// write to `cohandle.in` only under routing keys that begin with its code, and read only its
/// own queue.
fn rabbitmq_lines(agencies: &[String], vhost: &str) -> String {
    let mut out = String::from(
        "# Run on a broker node; replace each CHANGE-ME with the agency's own password.\n",
    );
    for code in agencies {
        let escaped = code.replace('.', "\\.");
        out.push_str(&format!(
            "rabbitmqctl add_user '{code}' 'CHANGE-ME'\n\
             rabbitmqctl set_permissions -p '{vhost}' '{code}' '^$' '^cohandle\\.in$' '^cohandle\\.agency\\.{escaped}$'\n\
             rabbitmqctl set_topic_permissions -p '{vhost}' '{code}' cohandle.in '^{escaped}\\.' '.*'\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agency_file_is_checked_whole() {
        let dir = std::env::temp_dir().join(format!("cohandle-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.csv");
        std::fs::write(
            &good,
            "\u{feff}code,kind,name\nyz-fgw,agency,渝中区发展改革委\nyz-zfb,assigner,渝中区政府办公室\n",
        )
        .unwrap();
        let rows = read_agencies(&good).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            (
                "yz-zfb".into(),
                "assigner".into(),
                "渝中区政府办公室".into()
            )
        );

        let bad = dir.join("bad.csv");
        std::fs::write(
            &bad,
            "code,kind,name\nYZ-FGW,agency,x\nyz-a,boss,y\nyz-b,agency,\nyz-c,agency,z\nyz-c,agency,z\n",
        )
        .unwrap();
        let error = read_agencies(&bad).unwrap_err().to_string();
        for expected in [
            "line 2", "line 3", "boss", "line 4", "empty", "line 6", "twice",
        ] {
            assert!(error.contains(expected), "{expected} missing in {error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_agency_may_publish_only_its_own_keys_and_read_only_its_queue() {
        let lines = rabbitmq_lines(&["yz-fgw".into()], "/");
        assert!(lines.contains("add_user 'yz-fgw'"));
        assert!(lines.contains("'^cohandle\\.agency\\.yz-fgw$'"));
        assert!(lines.contains("cohandle.in '^yz-fgw\\.' '.*'"));
    }
}
