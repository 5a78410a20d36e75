//! `cohandle bench …`: benchmarks that print their figures and write them as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

/// `cohandle bench`: every benchmark of the suite in one run, or one of them.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    #[command(flatten)]
    pub all: AllArgs,
}

/// The whole suite: the API into SQLite, then the supervisors' queries with the raw
/// PostgreSQL limit; one table each, and one JSON file with every figure.
#[derive(Debug, clap::Args)]
pub struct AllArgs {
    /// PostgreSQL server (no database): scratch databases are created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Small sizes, for a smoke test.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value = "bench.json")]
    json: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The embedded default: the realistic workload through the HTTP API into SQLite,
    /// next to the same engine without HTTP.
    Api {
        #[arg(long, default_value_t = 2_000)]
        proposals: usize,
        /// Concurrent clients, each sending its proposals' steps in order.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Small sizes, for a smoke test.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-api.json")]
        json: PathBuf,
    },
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

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let Some(command) = args.command else {
        return all(args.all).await;
    };
    match command {
        BenchCommand::Api {
            proposals,
            clients,
            quick,
            json,
        } => {
            let proposals = if quick { 100 } else { proposals };
            let report = api(proposals, clients).await?;
            write_json(&json, &report)?;
            Ok(ExitCode::SUCCESS)
        }
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
            let figures = queries(&postgres, proposals, runs, raw_events).await?;
            write_json(&json, &figures)?;
            Ok(ExitCode::SUCCESS)
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

/// Every benchmark of the suite, one after another, with one JSON file of all figures.
async fn all(args: AllArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let (api_proposals, proposals, runs, raw_events) = if args.quick {
        (100, 10_000, 20, 500)
    } else {
        (2_000, 1_000_000, 200, 20_000)
    };
    println!("## The embedded default: SQLite through the API\n");
    let api = api(api_proposals, 16).await?;
    println!("\n## PostgreSQL: raw limit and the supervisors' queries\n");
    let queries = queries(&args.postgres, proposals, runs, raw_events).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("\nwhole suite: {seconds:.0} s");
    write_json(
        &args.json,
        &serde_json::json!({ "api_sqlite": api, "postgres": queries, "seconds": seconds }),
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn api(
    proposals: usize,
    clients: usize,
) -> anyhow::Result<cohandle_bench::api_sqlite::Report> {
    println!("{proposals} proposals of the campaign's mix, {clients} clients, SQLite file");
    let r = cohandle_bench::api_sqlite::run(proposals, clients).await?;
    println!("| measure | value |\n|---|---|");
    println!("| events | {} ({} refused) |", r.events, r.refused);
    println!("| through the API | {:.0} events/s |", r.events_per_second);
    println!(
        "| latency per request p50 / p99 / p99.9 | {:.1} / {:.1} / {:.1} ms |",
        r.p50_ms, r.p99_ms, r.p999_ms
    );
    println!(
        "| same engine, batches of 64, no HTTP | {:.0} events/s |",
        r.engine_events_per_second
    );
    println!("| API / engine | {:.2} |", r.ratio_to_engine);
    if r.refused > 0 {
        anyhow::bail!("{} steps were refused; the figures do not hold", r.refused);
    }
    Ok(r)
}

fn write_json(path: &Path, figures: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(figures)?)?;
    println!("figures written to {}", path.display());
    Ok(())
}

async fn queries(
    postgres: &str,
    proposals: u64,
    runs: usize,
    raw_events: u64,
) -> anyhow::Result<serde_json::Value> {
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
    Ok(serde_json::json!({ "postgres_raw": raw, "queries": queries }))
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
