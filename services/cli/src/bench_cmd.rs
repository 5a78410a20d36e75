//! `cohandle bench …`: benchmarks that print their figures and write them as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Fire due timers: N pending, M of them due at once, two monitors.
    Timers {
        /// PostgreSQL server (no database): a scratch database is created and dropped.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        postgres: String,
        #[arg(long, default_value_t = 1_000_000)]
        pending: u64,
        #[arg(long, default_value_t = 100_000)]
        due: u64,
        #[arg(long, default_value_t = 2)]
        monitors: usize,
        /// Small sizes, for a smoke test.
        #[arg(long)]
        quick: bool,
        /// Where the figures go as JSON.
        #[arg(long, default_value = "bench-timers.json")]
        json: PathBuf,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Timers {
            postgres,
            pending,
            due,
            monitors,
            quick,
            json,
        } => {
            let (pending, due) = if quick {
                (20_000, 2_000)
            } else {
                (pending, due)
            };
            println!("timers: {pending} pending, {due} due at once, {monitors} monitors");
            let report = cohandle_bench::timers::run(&postgres, pending, due, monitors).await?;
            println!("| measure | value |\n|---|---|");
            println!("| pending timers | {} |", report.pending);
            println!("| due at once | {} |", report.due);
            println!("| time to fire all due | {:.2} s |", report.seconds);
            println!("| fired per second | {:.0} |", report.fired_per_second);
            println!(
                "| raw claim+mark per second (same DB, no engine) | {:.0} |",
                report.raw_claim_per_second
            );
            println!("| engine / raw | {:.3} |", report.ratio_to_raw);
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)?;
            println!("figures written to {}", json.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
