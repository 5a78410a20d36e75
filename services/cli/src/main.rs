//! `cohandle`: one binary that runs any role of the engine, or all of them in one process,
//! and the operator's tools around it. It never carries the benchmark or the fault campaign:
//! those are `cohandle-tools` (services/tools).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use cohandle_store::{connect, Engine, ManualClock, SystemClock};
use settings::Settings;

mod agencies;
mod audit_cmd;
mod bus_cmd;
mod deadlines;
mod demo;
mod jurisdictions_cmd;
mod observe;
mod offline;
mod serve;
mod settings;
mod tokens;
mod workflows_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "cohandle",
    version,
    about = "Routes deputies' suggestions and CPPCC proposals among co-handling agencies"
)]
struct Cli {
    /// Configuration file (default: ./cohandle.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay case 0942 end to end on the configured database and print its timeline.
    Demo,
    /// Create or update the database schema (idempotent).
    Migrate,
    /// Print the effective configuration (defaults, file, environment), passwords hidden.
    Config,
    /// The tamper-evident history.
    #[command(subcommand)]
    History(HistoryCommand),
    /// The per-agency counters behind the supervisors' statistics.
    #[command(subcommand)]
    Statistics(StatisticsCommand),
    /// Check, draw, deploy and list workflow definitions.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
    /// Deadline arithmetic over the official holiday calendar.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Serve the HTTP API and the web workbench alone on `http.listen` until SIGTERM or
    /// Ctrl-C.
    Api,
    /// Run every role in one process: the HTTP API with the web workbench and the deadline
    /// monitor (and the broker roles when `amqp.url` is set), until SIGTERM or Ctrl-C.
    Serve,
    /// Search the access audit: every HTTP request with its caller and outcome.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Register and list agencies (tokens are issued only to registered agencies).
    #[command(subcommand)]
    Agency(agencies::AgencyCommand),
    /// Register jurisdictions, the definitions they use and the agencies that serve them.
    #[command(subcommand)]
    Jurisdiction(jurisdictions_cmd::JurisdictionCommand),
    /// Manage the API's bearer tokens (per agency and role, stored hashed).
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Consume events from RabbitMQ (`amqp.url`) and apply them, until SIGTERM or Ctrl-C.
    Worker,
    /// Publish the outbox to RabbitMQ with confirms, until SIGTERM or Ctrl-C.
    Relay,
    /// Dead letters and refused out-of-order events: list them, replay them.
    #[command(subcommand)]
    Dlq(bus_cmd::DlqCommand),
    /// Publish events from a proto3-JSON file to `cohandle.in`, as an agency's RabbitMQ user.
    Emit(bus_cmd::EmitArgs),
    /// Fire due timers (reminders, overdue escalations, closing windows) until stopped.
    Monitor {
        /// Names this monitor in its claims; give each replica its own.
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum StatisticsCommand {
    /// Compare every counter with the rows it counts; lists each difference and exits
    /// non-zero on any.
    Check,
    /// Recompute every counter from the rows (after rows were written beside the engine).
    Rebuild,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Recompute every hash chain (or one proposal's) and report the first broken link.
    Verify {
        #[arg(long)]
        proposal: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum WorkflowsCommand {
    /// Validate definition files; lists every problem and exits non-zero on any.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a definition's state machines as Mermaid or Graphviz DOT.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Check definition files and store each as an immutable version in the database, where
    /// every role finds it without a restart; a changed file under a stored version is
    /// refused (give it a new version).
    Deploy {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Who deploys, for the record (default: the operating-system user).
        #[arg(long)]
        by: Option<String>,
    },
    /// List the deployed definitions: name, version, proposals running on it, hash, when
    /// and by whom it was deployed.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// Print the due date: START + DURATION (3m months, 10d days, 1w weeks, 20wd working days),
    /// over the calendar every role uses (shipped, `calendar.corrections`, loaded files).
    Due {
        start: String,
        duration: String,
        /// A holiday file (date, holiday|workday, festival) to try on top of it.
        #[arg(long)]
        calendar: Option<PathBuf>,
    },
    /// Apply a corrected or new year's holiday file (the State Council General Office's
    /// notice): recompute every open deadline, and record each move in the history.
    Correct {
        file: PathBuf,
        /// Take a file that contradicts the statutory holidays (e.g. a Spring Festival of one
        /// day); the contradictions are recorded with the correction.
        #[arg(long)]
        force: bool,
    },
    /// List each year as official (the notice is loaded) or provisional (weekends and
    /// statutory holidays only), the holiday files loaded, and the warning roles give from
    /// 1 November.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = settings::load(cli.config.as_deref()).and_then(|settings| run(settings, cli));
    match result {
        Ok(code) => code,
        // The reader of our output went away (`cohandle demo | head`): nothing is wrong.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command with the configuration, loaded and checked once for every command.
fn run(settings: Settings, cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Workflows(WorkflowsCommand::Check { files }) => offline::check(&files),
        Command::Workflows(WorkflowsCommand::Graph { file, format }) => {
            offline::graph(&file, matches!(format, GraphFormat::Dot))
        }
        Command::Emit(args) => {
            runtime().and_then(|rt| rt.block_on(bus_cmd::emit(&settings.amqp, args)))
        }
        Command::Config => {
            print!("{}", settings.describe());
            Ok(ExitCode::SUCCESS)
        }
        command => runtime().and_then(|rt| rt.block_on(online(settings, command))),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Commands that use the database (and, when configured, the broker).
async fn online(settings: Settings, command: Command) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let long_running = matches!(
        command,
        Command::Api | Command::Serve | Command::Worker | Command::Relay | Command::Monitor { .. }
    );
    let db = open_database(&settings.database.url, long_running).await?;
    let calendar = Arc::new(offline::calendar(settings.calendar.corrections.as_deref())?);
    let catalog = Arc::new(cohandle_store::definitions::catalog(&db).await?);
    if long_running {
        // Over the calendar the role counts with: the holiday files loaded into the database
        // included, not only the shipped arrangement.
        let watcher = Engine::new(
            db.clone(),
            catalog.clone(),
            calendar.clone(),
            Arc::new(SystemClock),
        );
        tokio::spawn(deadlines::warn_daily(watcher));
    }
    match command {
        Command::Workflows(WorkflowsCommand::Deploy { files, by }) => {
            workflows_cmd::deploy(&db, &files, by).await
        }
        Command::Workflows(WorkflowsCommand::List) => workflows_cmd::list(&db).await,
        Command::Migrate => {
            println!(
                "database schema is up to date ({})",
                settings::redact(&settings.database.url)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::History(HistoryCommand::Verify { proposal }) => {
            let report = cohandle_store::history::verify(&db, proposal.as_deref()).await?;
            match report.broken {
                None => {
                    println!(
                        "OK: {} history rows in {} proposal chain(s) verified",
                        report.rows, report.proposals
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(link) => {
                    println!(
                        "BROKEN: proposal {} row {}: {}",
                        link.proposal_key, link.seq, link.reason
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Statistics(StatisticsCommand::Check) => {
            let drift = cohandle_store::statistics::drift(&db).await?;
            if drift.is_empty() {
                println!("OK: every statistics counter equals its rows");
                return Ok(ExitCode::SUCCESS);
            }
            for d in &drift {
                println!(
                    "DIFFERS: {} {}: stored {}, the rows give {}",
                    d.table,
                    d.key.join(" "),
                    d.stored,
                    d.counted
                );
            }
            println!(
                "{} counter(s) differ; `cohandle statistics rebuild` recomputes them",
                drift.len()
            );
            Ok(ExitCode::FAILURE)
        }
        Command::Statistics(StatisticsCommand::Rebuild) => {
            cohandle_store::statistics::rebuild(&db).await?;
            println!("statistics counters recomputed from the rows");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let clock = Arc::new(ManualClock::new(cohandle_store::Clock::now(&SystemClock)));
            let engine = Engine::new(db, catalog, calendar, clock.clone());
            demo::run(&engine, &clock).await?;
            use std::io::Write as _;
            writeln!(
                std::io::stdout().lock(),
                "\nThe database is kept ({}); `cohandle serve` shows the case.",
                settings::redact(&settings.database.url)
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Monitor { owner } => {
            let engine = Engine::new(db, catalog, calendar, Arc::new(SystemClock));
            deadlines::run_monitor(&settings, engine, owner).await
        }
        Command::Api | Command::Serve => {
            let roles = match command {
                Command::Api => serve::Roles::Api,
                _ => serve::Roles::All,
            };
            let engine = Engine::new(db, catalog, calendar, Arc::new(SystemClock))
                .with_hold_window(settings.engine.hold_window());
            serve::run(&settings, engine, roles).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agency(command) => agencies::run(&db, command).await,
        Command::Jurisdiction(command) => jurisdictions_cmd::run(&db, command).await,
        Command::Audit(command) => audit_cmd::run(&db, command).await,
        Command::Token(token) => tokens::run(&db, token).await,
        Command::Worker | Command::Relay | Command::Dlq(_) => {
            let engine = Engine::new(db, catalog, calendar, Arc::new(SystemClock))
                .with_hold_window(settings.engine.hold_window());
            match command {
                Command::Worker => bus_cmd::worker(&settings, engine).await,
                Command::Relay => bus_cmd::relay(&settings, engine).await,
                Command::Dlq(dlq) => bus_cmd::dlq(&settings.amqp, engine, dlq).await,
                _ => unreachable!("matched above"),
            }
        }
        Command::Calendar(command) => {
            let engine = Engine::new(db, catalog, calendar, Arc::new(SystemClock));
            engine.refresh_calendar().await?;
            match command {
                CalendarCommand::Correct { file, force } => {
                    deadlines::correct(&engine, &file, force).await
                }
                CalendarCommand::Due {
                    start,
                    duration,
                    calendar,
                } => offline::due(&engine.calendar(), &start, &duration, calendar.as_deref()),
                CalendarCommand::Status => {
                    deadlines::status(&engine, settings.calendar.corrections.as_deref()).await
                }
            }
        }
        Command::Config | Command::Emit(_) | Command::Workflows(_) => {
            unreachable!("handled before")
        }
    }
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Completes on SIGTERM or Ctrl-C: every long-running role finishes its work in hand and stops.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(message = "Failed to listen for Ctrl-C", %error);
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(message = "Failed to listen for SIGTERM", %error);
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Opens and migrates the database. A long-running role started while the database is down
/// (a restart, a fresh deployment) waits for it, up to two minutes, instead of exiting; a
/// one-shot command reports at once.
async fn open_database(url: &str, wait: bool) -> anyhow::Result<sea_orm::DatabaseConnection> {
    use backon::Retryable;
    let open = || connect::connect_and_migrate(url);
    if !wait {
        return Ok(open().await?);
    }
    let patience =
        cohandle_store::retry::policy().with_total_delay(Some(std::time::Duration::from_secs(120)));
    Ok(open
        .retry(patience)
        .when(cohandle_store::Error::is_transient)
        .notify(|error, pause| {
            tracing::warn!(message = "Failed to open the database; retrying", %error, ?pause);
        })
        .await?)
}
