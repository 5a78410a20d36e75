//! `cohandle-tools bench …`: benchmarks that print their figures and write them as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

/// `cohandle-tools bench`: every benchmark of the suite in one run, or one of them.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    #[command(flatten)]
    pub all: AllArgs,
}

/// The whole suite: the RabbitMQ door end to end, the API into SQLite and into PostgreSQL,
/// then the supervisors' queries with the raw PostgreSQL limit; one table each, and one JSON file
/// with every figure.
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
    /// The realistic workload through the HTTP API into SQLite (next to the same engine
    /// without HTTP) and into PostgreSQL, each before and after group commit.
    Api {
        /// PostgreSQL server (no database): scratch databases are created and dropped.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        postgres: String,
        #[arg(long, default_value_t = 2_000)]
        proposals: usize,
        /// Concurrent clients, each sending its proposals' steps in order.
        #[arg(long, default_value_t = 64)]
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
    /// The RabbitMQ door end to end: the raw broker limit, a naive one-transaction-per-message
    /// worker, and the real `cohandle worker` (sustained, half load, catch-up, latency, RSS,
    /// CPU per event of the workers, broker nodes and database server).
    Bus {
        /// PostgreSQL server (no database): each phase gets a scratch database.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        postgres: String,
        /// RabbitMQ host:port, or the nodes of one cluster separated by commas; each phase
        /// gets a scratch vhost. The benchmark's own connections go to the first node, the
        /// workers are given them all.
        #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:5672")]
        amqp: Vec<String>,
        /// The management API (guest), to create and delete the vhosts and agency users.
        #[arg(long, default_value = "http://127.0.0.1:15672/api")]
        management: String,
        /// `cohandle worker` processes running at once in the engine phases.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        workers: u16,
        /// Proposals of each engine phase (about 9 events each).
        #[arg(long, default_value_t = 4_000)]
        proposals: usize,
        /// Proposals of the naive worker's phase.
        #[arg(long, default_value_t = 400)]
        naive_proposals: usize,
        /// Messages of the raw broker phase.
        #[arg(long, default_value_t = 100_000)]
        raw_messages: usize,
        /// Proposals being published at once.
        #[arg(long, default_value_t = 400)]
        in_flight: usize,
        /// Unconfirmed publishes at most in the raw phase.
        #[arg(long, default_value_t = 500)]
        confirm_window: usize,
        /// Have PostgreSQL log every statement of the engine phases (with its duration) in
        /// its server log, to see where the time goes.
        #[arg(long)]
        log_statements: bool,
        /// Small sizes, for a smoke test.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-bus.json")]
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
        /// Timers each monitor fires per transaction (default: the monitor's own).
        #[arg(long, default_value_t = cohandle_store::monitor::Options::default().page)]
        page: u64,
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
            postgres,
            proposals,
            clients,
            quick,
            json,
        } => {
            let proposals = if quick { 100 } else { proposals };
            let report = api(&postgres, proposals, clients).await?;
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
        BenchCommand::Bus {
            postgres,
            amqp,
            management,
            workers,
            proposals,
            naive_proposals,
            raw_messages,
            in_flight,
            confirm_window,
            log_statements,
            quick,
            json,
        } => {
            let (proposals, naive_proposals, raw_messages) = if quick {
                (60, 20, 2_000)
            } else {
                (proposals, naive_proposals, raw_messages)
            };
            let options = cohandle_bench::bus::Options {
                postgres,
                amqp,
                management,
                binary: crate::cohandle_binary(None)?,
                workers: usize::from(workers),
                proposals,
                naive_proposals,
                raw_messages,
                in_flight,
                confirm_window,
                workdir: bus_workdir(),
                log_statements,
            };
            let (report, complete) = bus(&options).await?;
            write_json(&json, &report)?;
            Ok(if complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        BenchCommand::Timers {
            postgres,
            pending,
            due,
            monitors,
            page,
            quick,
            json,
        } => {
            let (pending, due) = if quick {
                (20_000, 2_000)
            } else {
                (pending, due)
            };
            timers(&postgres, pending, due, monitors, page, &json).await
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
    let (bus_proposals, naive_proposals, raw_messages) = if args.quick {
        (60, 20, 2_000)
    } else {
        (4_000, 400, 100_000)
    };
    println!("## The RabbitMQ door end to end\n");
    let (bus_report, complete) = bus(&cohandle_bench::bus::Options {
        postgres: args.postgres.clone(),
        amqp: vec!["127.0.0.1:5672".to_owned()],
        management: "http://127.0.0.1:15672/api".to_owned(),
        binary: crate::cohandle_binary(None)?,
        workers: 1,
        proposals: bus_proposals,
        naive_proposals,
        raw_messages,
        in_flight: 400,
        confirm_window: 500,
        workdir: bus_workdir(),
        log_statements: false,
    })
    .await?;
    println!("\n## The HTTP door: SQLite and PostgreSQL through the API\n");
    let api = api(&args.postgres, api_proposals, 64).await?;
    println!("\n## PostgreSQL: raw limit and the supervisors' queries\n");
    let queries = queries(&args.postgres, proposals, runs, raw_events).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("\nwhole suite: {seconds:.0} s");
    write_json(
        &args.json,
        &serde_json::json!({
            "bus": bus_report,
            "api": api,
            "postgres": queries,
            "seconds": seconds,
        }),
    )?;
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where the bus benchmark keeps the worker's logs and configuration.
fn bus_workdir() -> PathBuf {
    std::env::temp_dir().join(format!("cohandle-bench-bus-{}", std::process::id()))
}

/// The HTTP door into SQLite, then into PostgreSQL, each before and after group commit.
async fn api(
    postgres: &str,
    proposals: usize,
    clients: usize,
) -> anyhow::Result<serde_json::Value> {
    println!("{proposals} proposals of the campaign's mix, {clients} clients");
    println!("\nSQLite file (the embedded default):");
    let sqlite = cohandle_bench::api_sqlite::run(proposals, clients).await?;
    print_api(&sqlite);
    if let (Some(engine), Some(ratio)) = (sqlite.engine_events_per_second, sqlite.ratio_to_engine) {
        println!("| same engine, batches of 64, no HTTP | {engine:.0} events/s |");
        println!("| API with group commit / engine | {ratio:.2} |");
    }
    println!("\nPostgreSQL:");
    let pg = cohandle_bench::api_postgres::run(postgres, proposals, clients).await?;
    print_api(&pg);
    for r in [&sqlite, &pg] {
        if !r.complete() {
            anyhow::bail!(
                "{}: not every step was taken once ({} and {} refused); the figures do not hold",
                r.database,
                r.before.refused,
                r.after.refused
            );
        }
    }
    Ok(serde_json::json!({ "sqlite": sqlite, "postgres": pg }))
}

fn print_api(r: &cohandle_bench::api_sqlite::Report) {
    let (b, a) = (&r.before, &r.after);
    println!(
        "| measure | one transaction per request | group commit ({} ms, ≤ {}) | target | ratio |",
        a.group_commit_window_ms, a.group_commit_max
    );
    println!("|---|---|---|---|---|");
    println!(
        "| steps ({} in all) applied, refused | {}, {} | {}, {} | | |",
        r.events, b.applied, b.refused, a.applied, a.refused
    );
    println!(
        "| steps/s | {:.0} | {:.0} | ≥ {:.0} | {:.2} |",
        b.steps_per_second, a.steps_per_second, r.target_steps_per_second, r.steps_ratio_to_target
    );
    println!(
        "| latency per request p50 / p99 / p99.9 | {:.1} / {:.1} / {:.1} ms | {:.1} / {:.1} / {:.1} ms | p99 ≤ {:.0} ms | {:.2} |",
        b.p50_ms, b.p99_ms, b.p999_ms, a.p50_ms, a.p99_ms, a.p999_ms, r.target_p99_ms, r.p99_ratio_to_target
    );
    println!(
        "| after / before | | {:.2} | | |",
        a.steps_per_second / b.steps_per_second
    );
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
    let scratch = cohandle_testkit::db::ScratchDb::create(postgres).await?;
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
        "\nsupervisor queries over {} proposals (seeded in {:.1} s, of which {:.2} s rebuilding the statistics counters from the seeded rows):",
        queries.proposals, queries.seed_seconds, queries.rebuild_seconds
    );
    println!("| query | runs | p50 ms | p99 ms | target p99 ms | p99 / target |\n|---|---|---|---|---|---|");
    for l in &queries.latencies {
        let ratio = l.p99_ms / l.target_p99_ms;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.2}{} |",
            l.query,
            l.runs,
            l.p50_ms,
            l.p99_ms,
            l.target_p99_ms,
            ratio,
            if ratio > 1.0 { " missed" } else { "" }
        );
    }
    Ok(serde_json::json!({ "postgres_raw": raw, "queries": queries }))
}

async fn timers(
    postgres: &str,
    pending: u64,
    due: u64,
    monitors: usize,
    page: u64,
    json: &Path,
) -> anyhow::Result<ExitCode> {
    println!(
        "timers: {pending} pending, {due} due at once, {monitors} monitors, {page} per transaction"
    );
    let report = cohandle_bench::timers::run(postgres, pending, due, monitors, page).await?;
    println!(
        "  {} monitors × {} claimers each, {} timers per transaction",
        report.monitors, report.claimers, report.page
    );
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

/// CPU time per event of each process of the engine phases: the workers (from their start),
/// the broker nodes, the database server and the benchmark (from the phase's start).
fn print_cpu(r: &cohandle_bench::bus::Report) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("\nCPU of the engine phases ({cores} cores here; workers from their start, the others from the phase's start, to the last event decided)");
    println!("| phase | process | partitions it consumed | CPU s | CPU ms per event |\n|---|---|---|---|---|");
    for (name, p) in [
        ("sustained", &r.sustained),
        ("half load", &r.half_load),
        ("catch-up", &r.catch_up),
    ] {
        let per_event = |seconds: f64| 1e3 * seconds / p.events.max(1) as f64;
        for (i, w) in p.workers.iter().enumerate() {
            let partitions: Vec<String> = w.partitions.iter().map(u16::to_string).collect();
            println!(
                "| {name} | worker {} (pid {}) | {} | {:.2} | {:.3} |",
                i + 1,
                w.pid,
                partitions.join(" "),
                w.cpu_seconds,
                per_event(w.cpu_seconds)
            );
        }
        for s in &p.servers {
            println!(
                "| {name} | {} (pid {}) | | {:.2} | {:.3} |",
                s.name,
                s.pid,
                s.cpu_seconds,
                per_event(s.cpu_seconds)
            );
        }
        let total = p.worker_cpu_seconds + p.servers.iter().map(|s| s.cpu_seconds).sum::<f64>();
        println!(
            "| {name} | all of the above ({:.1} s of wall time: {:.2} cores busy) | | {total:.2} | {:.3} |",
            p.seconds,
            total / p.seconds.max(1e-9),
            per_event(total)
        );
    }
    for (name, p) in [
        ("sustained", &r.sustained),
        ("half load", &r.half_load),
        ("catch-up", &r.catch_up),
    ] {
        println!(
            "leaders of the partition queues 0…{}, {name}: {}",
            p.partition_leaders.len().saturating_sub(1),
            p.partition_leaders.join(", ")
        );
    }
}

/// Runs the bus benchmark and prints it; the report, and whether every event was decided
/// and applied (the figures hold only then).
async fn bus(
    options: &cohandle_bench::bus::Options,
) -> anyhow::Result<(cohandle_bench::bus::Report, bool)> {
    println!(
        "bus: {} proposals per engine phase, {} for the naive worker, {} raw messages; {} worker process(es) on RabbitMQ {}; worker logs in {}",
        options.proposals,
        options.naive_proposals,
        options.raw_messages,
        options.workers,
        options.amqp.join(","),
        options.workdir.display()
    );
    let r = cohandle_bench::bus::run(options).await?;
    println!(
        "\n{} events ({} proposals), mean envelope {:.0} bytes",
        r.events, r.proposals, r.mean_message_bytes
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| raw broker ({} msgs, confirms pipelined, prefetch + multiple acks) | {:.0} msgs/s |",
        r.raw_messages, r.raw_msgs_per_second
    );
    println!(
        "| naive worker ({} events, 1 transaction + 1 ack per message) | {:.0} events/s |",
        r.naive_events, r.naive_events_per_second
    );
    for (name, p) in [
        ("engine sustained", &r.sustained),
        ("engine at half load", &r.half_load),
        ("engine catch-up from a backlog", &r.catch_up),
    ] {
        let offered = p
            .offered_per_second
            .map_or(String::new(), |o| format!(", offered {o:.0}/s"));
        println!(
            "| {name} ({} events{offered}) | {:.0} events/s in {:.1} s |",
            p.events, p.events_per_second, p.seconds
        );
    }
    for (name, p) in [("full load", &r.sustained), ("half load", &r.half_load)] {
        println!(
            "| latency publish → decision, {name} | p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms |",
            p.latency_p50_ms, p.latency_p99_ms, p.latency_p999_ms
        );
    }
    println!(
        "| worker peak RSS (VmHWM) | {:.1} MiB |",
        r.worker_peak_rss_mib
    );
    println!(
        "| engine sustained / raw broker | {:.3} |",
        r.sustained_to_raw
    );
    println!("| engine sustained / naive | {:.2} |", r.sustained_to_naive);
    println!("| engine catch-up / naive | {:.2} |", r.catch_up_to_naive);
    println!("\n| phase | published | applied | rejected | undecided | dead letters | events per transaction | worker VmHWM MiB | worker CPU s |\n|---|---|---|---|---|---|---|---|---|");
    for (name, p) in [
        ("sustained", &r.sustained),
        ("half load", &r.half_load),
        ("catch-up", &r.catch_up),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            p.events,
            p.applied,
            p.rejected,
            p.undecided,
            p.dead_letters,
            p.mean_batch,
            p.worker_peak_rss_mib,
            p.worker_cpu_seconds
        );
    }
    println!(
        "| naive | {} | {} | | | | 1 | | |",
        r.naive_events, r.naive_applied
    );
    print_cpu(&r);
    let p = &r.catch_up;
    let per = |n: i64| n as f64 / (p.applied + p.rejected).max(1) as f64;
    println!(
        "\nwrites of the catch-up phase per event decided: {:.2} rows, {:.2} index entries (an insert or a non-HOT update adds one to each index of its table), {:.0} bytes (tables with indexes at the end, dead rows included)",
        p.rows_per_event, p.index_entries_per_event, p.bytes_per_event
    );
    println!("| table | inserted | updated (HOT) | deleted | indexes | rows per event | index entries per event | bytes per event |\n|---|---|---|---|---|---|---|---|");
    for w in &p.writes {
        println!(
            "| {} | {} | {} ({}) | {} | {} | {:.2} | {:.2} | {:.0} |",
            w.table,
            w.inserted,
            w.updated,
            w.hot_updated,
            w.deleted,
            w.indexes,
            per(w.rows()),
            per(w.index_entries()),
            per(w.bytes)
        );
    }
    let complete = [&r.sustained, &r.half_load, &r.catch_up]
        .iter()
        .all(|p| p.undecided == 0 && p.rejected == 0 && p.dead_letters == 0)
        && r.naive_applied == r.naive_events;
    if !complete {
        println!("NOT every event was decided and applied: see the counts above");
    }
    Ok((r, complete))
}
