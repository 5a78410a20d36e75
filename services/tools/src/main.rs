//! `cohandle-tools`: the benchmark suite and the fault campaign, in a binary of their own so
//! that no production install of `cohandle` carries a load generator or a fault injector.
//! Both run the real `cohandle` roles as child processes; this binary never serves anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod bench_cmd;
mod campaign_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "cohandle-tools",
    version,
    about = "The benchmark suite and the fault campaign against the `cohandle` binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmarks that print their figures against limits measured in the same run.
    Bench(bench_cmd::BenchArgs),
    /// The fault campaign: crashes, restarts and hostile input against the `cohandle` roles
    /// on services of its own, audited; exits non-zero when anything was lost or let in.
    Campaign(campaign_cmd::CampaignArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| {
            rt.block_on(async {
                match cli.command {
                    Command::Bench(args) => bench_cmd::run(args).await,
                    Command::Campaign(args) => campaign_cmd::run(args).await,
                }
            })
        });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The `cohandle` binary whose roles are measured or attacked: the one given, else
/// `$COHANDLE_BIN`, else the `cohandle` beside this binary (cargo builds both into one
/// directory).
fn cohandle_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(binary) = given.or_else(|| std::env::var_os("COHANDLE_BIN").map(PathBuf::from)) {
        return Ok(binary);
    }
    let this = std::env::current_exe().context("locating this binary")?;
    let beside = this.with_file_name(format!("cohandle{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        beside.exists(),
        "no cohandle binary beside {} (build it: cargo build -p cohandle-cli, or set COHANDLE_BIN)",
        this.display()
    );
    Ok(beside)
}
