//! `cohandle bench …`: benchmarks that print their figures and write them as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The supervisors' queries with a million proposals stored (p50, p99), next to the raw
    /// PostgreSQL limit (one UPDATE + one INSERT per transaction, and 64 per transaction).
    Queries {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        postgres: String,
        #[arg(long, default_value_t = 1_000_000)]
        proposals: u64,
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Small sizes, for a smoke test.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-queries.json")]
        json: PathBuf,
    },
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
        BenchCommand::Queries {
            postgres,
            proposals,
            runs,
            quick,
            json,
        } => {
            let (proposals, runs, raw_events) = if quick {
                (10_000, 20, 500)
            } else {
                (proposals, runs, 20_000)
            };
            queries(&postgres, proposals, runs, raw_events, &json).await
        }
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
            timers(&postgres, pending, due, monitors, &json).await
        }
    }
}

async fn queries(
    postgres: &str,
    proposals: u64,
    runs: usize,
    raw_events: u64,
    json: &Path,
) -> anyhow::Result<ExitCode> {
    let scratch = cohandle_bench::scratch::ScratchDb::create(postgres).await?;
    let result = async {
        let db = cohandle_store::connect::connect_and_migrate(&scratch.url).await?;
        let raw = cohandle_bench::pg_raw::run(&db, raw_events).await?;
        let queries = cohandle_bench::queries::run(&db, proposals, runs).await?;
        anyhow::Ok((raw, queries))
    }
    .await;
    scratch.drop_now().await?;
    let (raw, queries) = result?;
    println!("| raw PostgreSQL | events/s |\n|---|---|");
    println!(
        "| 1 UPDATE + 1 INSERT per transaction | {:.0} |",
        raw.one_per_transaction_per_second
    );
    println!(
        "| 64 of them per transaction | {:.0} |",
        raw.sixty_four_per_transaction_per_second
    );
    println!(
        "\nsupervisor queries over {} proposals (seeded in {:.1} s):",
        queries.proposals, queries.seed_seconds
    );
    println!("| query | runs | p50 ms | p99 ms |\n|---|---|---|---|");
    for l in &queries.latencies {
        println!(
            "| {} | {} | {:.2} | {:.2} |",
            l.query, l.runs, l.p50_ms, l.p99_ms
        );
    }
    std::fs::write(
        json,
        serde_json::to_vec_pretty(&serde_json::json!({ "postgres_raw": raw, "queries": queries }))?,
    )?;
    println!("figures written to {}", json.display());
    Ok(ExitCode::SUCCESS)
}

async fn timers(
    postgres: &str,
    pending: u64,
    due: u64,
    monitors: usize,
    json: &Path,
) -> anyhow::Result<ExitCode> {
    println!("timers: {pending} pending, {due} due at once, {monitors} monitors");
    let report = cohandle_bench::timers::run(postgres, pending, due, monitors).await?;
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
    std::fs::write(json, serde_json::to_vec_pretty(&report)?)?;
    println!("figures written to {}", json.display());
    Ok(ExitCode::SUCCESS)
}
