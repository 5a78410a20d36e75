//! The embedded default: the realistic workload through the HTTP API into SQLite.
//!
//! No broker and no server to install: `cohandle serve` with its SQLite file. The API runs
//! in this process on a loopback port (the same router, extractors, access checks and
//! `Service::submit` as `cohandle api`); clients send each proposal's steps in order, every
//! step with the bearer token of the agency that takes it and its event id as the
//! `Idempotency-Key`, many proposals at once. The limit set against it is the same
//! engine's `apply_batch` on the same SQLite file with no HTTP: what the door costs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cohandle_api::Service;
use cohandle_campaign::rng::Rng;
use cohandle_campaign::workload::{self, Plan};
use cohandle_store::{connect, Engine, Source, SystemClock};
use cohandle_workflows::{Calendar, Catalog, Event};
use serde::Serialize;

use crate::percentile;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub proposals: usize,
    pub events: usize,
    pub clients: usize,
    pub seconds: f64,
    pub events_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Answers other than 200/201 (each is a step the engine did not take).
    pub refused: usize,
    /// Inbox rows recorded as applied after the run: every step, once.
    pub applied: u64,
    /// The same kind of workload through `Engine::apply_batch` (batches of 64), no HTTP.
    pub engine_events_per_second: f64,
    /// API throughput / engine throughput on the same database.
    pub ratio_to_engine: f64,
}

/// `proposals` proposals of the campaign's mix (about ten steps each), sent by `clients`
/// concurrent clients.
pub async fn run(proposals: usize, clients: usize) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let catalog = Arc::new(Catalog::shipped());
    // Deadlines of proposals assigned today may run past the shipped holiday data.
    let calendar = Calendar::china_official();
    let calendar = Arc::new(calendar);
    let plans = plans(proposals, "api", &catalog, &calendar)?;
    let events = plans.iter().map(|p| p.steps.len()).sum::<usize>();

    // Through the API.
    let (engine, secrets) = open(&dir.path().join("api.db"), &catalog, &calendar).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cohandle_api::serve(
        listener,
        // The engine's capacity, not the per-token limit, is what this measures.
        Service::new(engine.clone()).with_rate_limit(None),
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

    // The same engine and the same kind of workload without HTTP.
    let direct = plans_events(proposals, "direct", &catalog, &calendar)?;
    let (engine, _) = open(&dir.path().join("direct.db"), &catalog, &calendar).await?;
    let started = Instant::now();
    for batch in in_step_order(direct).chunks(64) {
        engine.apply_batch(batch.to_vec(), Source::Cli).await?;
    }
    let engine_events_per_second = events as f64 / started.elapsed().as_secs_f64();

    latencies.sort_by(f64::total_cmp);
    let events_per_second = events as f64 / seconds;
    Ok(Report {
        proposals,
        events,
        clients,
        seconds,
        events_per_second,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        refused,
        applied,
        engine_events_per_second,
        ratio_to_engine: events_per_second / engine_events_per_second,
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

/// The engine on a new SQLite file, with the workload's agencies registered and a token
/// each: (engine, agency code → bearer secret).
async fn open(
    path: &std::path::Path,
    catalog: &Arc<Catalog>,
    calendar: &Arc<Calendar>,
) -> anyhow::Result<(Engine, Arc<HashMap<String, String>>)> {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = connect::connect_and_migrate(&url).await?;
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
