//! The HTTP door under load: the realistic workload through the API, into SQLite (the
//! embedded default, `cohandle serve` with its file) and into PostgreSQL ([`crate::api_postgres`]).
//!
//! The API runs in this process on a loopback port (the same router, extractors, access
//! checks and `Service::submit`, with its group commit, as `cohandle api`); clients send each
//! proposal's steps in order, every step with the bearer token of the agency that takes it
//! and its event id as the `Idempotency-Key`, many proposals at once. Each run takes the
//! workload twice, each time into a fresh database: with every write a transaction of its
//! own (`http.group_commit_window_ms = 0`, the door before group commit) and with the
//! default group commit. On SQLite the limit set against it is the same engine's
//! `apply_batch` on the same kind of file with no HTTP: what the door costs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cohandle_api::service::GroupCommit;
use cohandle_api::Service;
use cohandle_campaign::rng::Rng;
use cohandle_campaign::workload::{self, Plan};
use cohandle_store::{connect, Engine, Source, SystemClock};
use cohandle_testkit::db::ScratchDb;
use cohandle_workflows::{Calendar, Catalog, Event};
use serde::Serialize;

use crate::percentile;

/// The targets for the HTTP door with 64 concurrent clients.
pub const SQLITE_TARGET_STEPS_PER_SECOND: f64 = 2_000.0;
pub const POSTGRES_TARGET_STEPS_PER_SECOND: f64 = 5_000.0;
pub const TARGET_P99_MS: f64 = 50.0;

/// One pass of the workload through the API into a fresh database.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `http.group_commit_window_ms` (0: one transaction per request).
    pub group_commit_window_ms: u64,
    /// `http.group_commit_max`.
    pub group_commit_max: usize,
    pub seconds: f64,
    pub steps_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Answers other than 200/201 (each is a step the engine did not take).
    pub refused: usize,
    /// Inbox rows recorded as applied after the run: every step, once.
    pub applied: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    pub proposals: usize,
    pub events: usize,
    pub clients: usize,
    /// Every write a transaction of its own.
    pub before: Phase,
    /// The default group commit.
    pub after: Phase,
    pub target_steps_per_second: f64,
    /// after / target (≥ 1: met).
    pub steps_ratio_to_target: f64,
    pub target_p99_ms: f64,
    /// after's p99 / target (≤ 1: met).
    pub p99_ratio_to_target: f64,
    /// SQLite: the same kind of workload through `Engine::apply_batch` (batches of 64), no HTTP.
    pub engine_events_per_second: Option<f64>,
    /// SQLite: after / engine.
    pub ratio_to_engine: Option<f64>,
}

impl Report {
    /// Whether every step of both passes was taken once: the figures hold only then.
    pub fn complete(&self) -> bool {
        [&self.before, &self.after]
            .iter()
            .all(|p| p.refused == 0 && p.applied == self.events as u64)
    }
}

/// Where each pass gets its fresh database.
pub(crate) enum Databases<'a> {
    /// A new SQLite file in this directory.
    Sqlite(&'a std::path::Path),
    /// A scratch database on this PostgreSQL server (a URL without a database).
    Postgres(&'a str),
}

impl Databases<'_> {
    /// A fresh database's URL, and the scratch database to drop after the pass.
    async fn fresh(&self, pass: usize) -> anyhow::Result<(String, Option<ScratchDb>)> {
        match self {
            Self::Sqlite(dir) => Ok((
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(format!("api-{pass}.db")).display()
                ),
                None,
            )),
            Self::Postgres(server) => {
                let scratch = ScratchDb::create(server).await?;
                Ok((scratch.url.clone(), Some(scratch)))
            }
        }
    }
}

/// `proposals` proposals of the campaign's mix (about eight steps each), sent by `clients`
/// concurrent clients into SQLite files, before and after group commit.
pub async fn run(proposals: usize, clients: usize) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let mut report = compare(
        "sqlite",
        SQLITE_TARGET_STEPS_PER_SECOND,
        proposals,
        clients,
        Databases::Sqlite(dir.path()),
    )
    .await?;

    // The same engine and the same kind of workload without HTTP.
    let (catalog, calendar) = definitions();
    let direct = plans_events(proposals, "direct", &catalog, &calendar)?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("direct.db").display()
    );
    let (engine, _) = open(&url, &catalog, &calendar).await?;
    let started = Instant::now();
    for batch in in_step_order(direct).chunks(64) {
        engine.apply_batch(batch.to_vec(), Source::Cli).await?;
    }
    let engine_events_per_second = report.events as f64 / started.elapsed().as_secs_f64();
    report.engine_events_per_second = Some(engine_events_per_second);
    report.ratio_to_engine = Some(report.after.steps_per_second / engine_events_per_second);
    Ok(report)
}

fn definitions() -> (Arc<Catalog>, Arc<Calendar>) {
    // Deadlines of proposals assigned today may run past the shipped holiday data.
    (
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
    )
}

/// The workload through the API twice, each into a database `fresh` makes: one transaction
/// per request, then the default group commit.
pub(crate) async fn compare(
    database: &'static str,
    target_steps_per_second: f64,
    proposals: usize,
    clients: usize,
    databases: Databases<'_>,
) -> anyhow::Result<Report> {
    let (catalog, calendar) = definitions();
    let events = plans(proposals, "api", &catalog, &calendar)?
        .iter()
        .map(|p| p.steps.len())
        .sum::<usize>();
    let mut phases = Vec::new();
    for (pass, group) in [GroupCommit::OFF, GroupCommit::DEFAULT]
        .into_iter()
        .enumerate()
    {
        let plans = plans(proposals, "api", &catalog, &calendar)?;
        let (url, scratch) = databases.fresh(pass).await?;
        let phase = through_http(&url, &catalog, &calendar, plans, clients, group).await;
        if let Some(scratch) = scratch {
            scratch.drop_now().await?;
        }
        phases.push(phase?);
    }
    let after = phases.pop().expect("two phases");
    let before = phases.pop().expect("two phases");
    Ok(Report {
        database,
        proposals,
        events,
        clients,
        steps_ratio_to_target: after.steps_per_second / target_steps_per_second,
        target_steps_per_second,
        target_p99_ms: TARGET_P99_MS,
        p99_ratio_to_target: after.p99_ms / TARGET_P99_MS,
        before,
        after,
        engine_events_per_second: None,
        ratio_to_engine: None,
    })
}

/// Sends every step of `plans` through a server on `url` with `clients` concurrent clients.
async fn through_http(
    url: &str,
    catalog: &Arc<Catalog>,
    calendar: &Arc<Calendar>,
    plans: Vec<Plan>,
    clients: usize,
    group: GroupCommit,
) -> anyhow::Result<Phase> {
    let events = plans.iter().map(|p| p.steps.len()).sum::<usize>();
    let (engine, secrets) = open(url, catalog, calendar).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cohandle_api::serve(
        listener,
        // The engine's capacity, not the per-token limit, is what this measures.
        Service::new(engine.clone())
            .with_rate_limit(None)
            .with_group_commit(group),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let started = Instant::now();
    let mut shares: Vec<Vec<Plan>> = vec![Vec::new(); clients.max(1)];
    for (n, plan) in plans.into_iter().enumerate() {
        shares[n % clients.max(1)].push(plan);
    }
    let mut running = Vec::new();
    for share in shares {
        let client = client.clone();
        let base = base.clone();
        let secrets = Arc::clone(&secrets);
        running.push(tokio::spawn(async move {
            send_all(&client, &base, &secrets, share).await
        }));
    }
    let mut latencies = Vec::with_capacity(events);
    let mut refused = 0;
    for task in running {
        let (l, r) = task.await??;
        latencies.extend(l);
        refused += r;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    server.await??;
    let applied = cohandle_store::inspection::counts(&engine).await?.applied;
    latencies.sort_by(f64::total_cmp);
    Ok(Phase {
        group_commit_window_ms: u64::try_from(group.window.as_millis()).unwrap_or(u64::MAX),
        group_commit_max: group.max,
        seconds,
        steps_per_second: events as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        refused,
        applied,
    })
}

fn plans(
    proposals: usize,
    run: &str,
    catalog: &Catalog,
    calendar: &Calendar,
) -> anyhow::Result<Vec<Plan>> {
    let mut rng = Rng::new(0x00C0_4A4D);
    (0..proposals)
        .map(|n| workload::plan(&mut rng, run, n, catalog, calendar))
        .collect()
}

fn plans_events(
    proposals: usize,
    run: &str,
    catalog: &Catalog,
    calendar: &Calendar,
) -> anyhow::Result<Vec<Vec<Event>>> {
    Ok(plans(proposals, run, catalog, calendar)?
        .into_iter()
        .map(|p| p.steps.into_iter().map(|s| s.event).collect())
        .collect())
}

/// Every proposal's first step, then every proposal's second, …: each proposal's steps in
/// order, many proposals in every batch.
fn in_step_order(proposals: Vec<Vec<Event>>) -> Vec<Event> {
    let mut queues: Vec<std::vec::IntoIter<Event>> =
        proposals.into_iter().map(Vec::into_iter).collect();
    let mut ordered = Vec::new();
    loop {
        let before = ordered.len();
        ordered.extend(queues.iter_mut().filter_map(Iterator::next));
        if ordered.len() == before {
            return ordered;
        }
    }
}

/// The engine on a new database, with the workload's agencies registered and a token each:
/// (engine, agency code → bearer secret).
async fn open(
    url: &str,
    catalog: &Arc<Catalog>,
    calendar: &Arc<Calendar>,
) -> anyhow::Result<(Engine, Arc<HashMap<String, String>>)> {
    let db = connect::connect_and_migrate(url).await?;
    let secrets = cohandle_campaign::register(&db, workload::now(), "bench", Some(1)).await?;
    let engine = Engine::new(
        db,
        Arc::clone(catalog),
        Arc::clone(calendar),
        Arc::new(SystemClock),
    );
    Ok((engine, Arc::new(secrets)))
}

/// Sends every step of `plans`, one proposal after another; (latencies in ms, refusals).
async fn send_all(
    client: &reqwest::Client,
    base: &str,
    secrets: &HashMap<String, String>,
    plans: Vec<Plan>,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut latencies = Vec::new();
    let mut refused = 0;
    for plan in plans {
        for step in plan.steps {
            let (path, body) = workload::http_request(&step.event)?;
            let agency = step.event.actor.agency.as_str();
            let Some(secret) = secrets.get(agency) else {
                bail!("no token for {agency}");
            };
            let sent = Instant::now();
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(secret)
                .header("Idempotency-Key", step.event.id.as_str())
                .json(&body)
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .with_context(|| format!("POST {path}"))?;
            let status = response.status();
            let text = response.text().await?;
            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            if !(status == reqwest::StatusCode::OK || status == reqwest::StatusCode::CREATED) {
                refused += 1;
                tracing::warn!(%status, %path, body = %text, "a step was not taken");
            }
        }
    }
    Ok((latencies, refused))
}
