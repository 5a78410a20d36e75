//! The RabbitMQ door end to end, in one run, on loopback, each phase in a vhost and a
//! database of its own:
//!
//! 1. the raw broker limit: the engine's topology, envelope-sized messages, publisher
//!    confirms pipelined, consumers with prefetch and `multiple` acks, no processing;
//! 2. the naive worker: per delivery decode, `Engine::apply` (one transaction), ack alone;
//! 3. the real `cohandle worker` process fed by agencies publishing the campaign's mix, one
//!    proposal's events in order: sustained rate, rate at half load, latency publish →
//!    decision, catch-up from a backlog, and the worker's peak RSS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use cohandle_bus::publish::{publish_inbound, settle, Inbound};
use cohandle_bus::{connect, topology, Topology};
use cohandle_proto::ContentType;
use cohandle_store::{Clock, Engine, Outcome, Source, SystemClock};
use cohandle_workflows::{Calendar, Catalog};
use futures::stream::{FuturesUnordered, StreamExt, TryStreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Serialize;

use cohandle_testkit::db::ScratchDb;
use cohandle_testkit::vhost::{Management, Vhost};

#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL server (no database): each phase gets a scratch database.
    pub postgres: String,
    /// RabbitMQ `host:port`; each phase gets a scratch vhost.
    pub amqp: String,
    /// RabbitMQ management API, e.g. `http://127.0.0.1:15672/api` (guest).
    pub management: String,
    /// The `cohandle` binary, run as the worker.
    pub binary: PathBuf,
    /// Proposals of the engine's phases (about 9 events each).
    pub proposals: usize,
    /// Proposals of the naive worker's phase.
    pub naive_proposals: usize,
    /// Messages of the raw broker phase.
    pub raw_messages: usize,
    /// Proposals being published at once.
    pub in_flight: usize,
    /// Unconfirmed publishes at most, in the raw phase.
    pub confirm_window: usize,
    /// Where the worker's logs go.
    pub workdir: PathBuf,
    /// Have PostgreSQL log every statement of the engine phases' databases with its
    /// duration (`log_min_duration_statement = 0`), to see where the time goes.
    pub log_statements: bool,
}

/// One phase of the engine over the bus.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phase {
    pub events: usize,
    /// Publishing rate asked for (events/s), when the publishers were held to one.
    pub offered_per_second: Option<f64>,
    pub seconds: f64,
    pub events_per_second: f64,
    /// Publish (generator's clock) → the inbox row's `recorded_at` (the engine's clock when
    /// it decided the batch, in the transaction that commits it).
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub applied: usize,
    pub rejected: usize,
    /// Published events with no inbox row at the end.
    pub undecided: usize,
    pub dead_letters: u32,
    /// The worker process's peak resident set (VmHWM).
    pub worker_peak_rss_mib: f64,
    /// CPU time (user + system) the worker process used in the phase.
    pub worker_cpu_seconds: f64,
    /// Events per worker transaction, from the inbox (rows recorded at the same instant).
    pub mean_batch: f64,
    /// What the phase wrote, table by table (PostgreSQL's own counts).
    pub writes: Vec<TableWrites>,
    /// Rows inserted, updated and deleted per event decided, every table.
    pub rows_per_event: f64,
    /// Index entries added per event decided: each insert and each update that is not HOT
    /// adds one entry to every index of its table (partial indexes counted as whole ones,
    /// so this is an upper bound).
    pub index_entries_per_event: f64,
}

/// The rows one table took in a phase, from `pg_stat_user_tables`, and its indexes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableWrites {
    pub table: String,
    pub inserted: i64,
    pub updated: i64,
    /// Updates that changed no indexed column and stayed on their page: no index entry.
    pub hot_updated: i64,
    pub deleted: i64,
    pub indexes: i64,
}

impl TableWrites {
    pub fn rows(&self) -> i64 {
        self.inserted + self.updated + self.deleted
    }

    pub fn index_entries(&self) -> i64 {
        (self.inserted + self.updated - self.hot_updated) * self.indexes
    }
}

/// Every table's counts so far (those of ended sessions and of this one).
async fn table_writes(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, TableWrites>> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT t.relname::text AS name, t.n_tup_ins AS ins, t.n_tup_upd AS upd, \
             t.n_tup_hot_upd AS hot, t.n_tup_del AS del, \
             (SELECT COUNT(*) FROM pg_index i WHERE i.indrelid = t.relid) AS indexes \
             FROM pg_stat_user_tables t",
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            let table: String = row.try_get("", "name")?;
            Ok((
                table.clone(),
                TableWrites {
                    table,
                    inserted: row.try_get("", "ins")?,
                    updated: row.try_get("", "upd")?,
                    hot_updated: row.try_get("", "hot")?,
                    deleted: row.try_get("", "del")?,
                    indexes: row.try_get("", "indexes")?,
                },
            ))
        })
        .collect()
}

/// What was written between two readings of [`table_writes`], busiest table first.
fn written_between(
    before: &HashMap<String, TableWrites>,
    after: HashMap<String, TableWrites>,
) -> Vec<TableWrites> {
    let mut written: Vec<TableWrites> = after
        .into_values()
        .map(|a| {
            let b = before.get(&a.table).cloned().unwrap_or_default();
            TableWrites {
                inserted: a.inserted - b.inserted,
                updated: a.updated - b.updated,
                hot_updated: a.hot_updated - b.hot_updated,
                deleted: a.deleted - b.deleted,
                ..a
            }
        })
        .filter(|w| w.rows() > 0)
        .collect();
    written.sort_by(|a, b| b.rows().cmp(&a.rows()).then(a.table.cmp(&b.table)));
    written
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub proposals: usize,
    pub events: usize,
    pub mean_message_bytes: f64,
    pub raw_messages: usize,
    pub raw_msgs_per_second: f64,
    pub naive_events: usize,
    pub naive_events_per_second: f64,
    pub naive_applied: usize,
    pub sustained: Phase,
    pub half_load: Phase,
    pub catch_up: Phase,
    pub worker_peak_rss_mib: f64,
    pub sustained_to_raw: f64,
    pub sustained_to_naive: f64,
    pub catch_up_to_naive: f64,
}

/// Agencies (code, kind) publishing in the benchmark: the campaign's.
fn agencies() -> Vec<(&'static str, &'static str)> {
    cohandle_campaign::workload::agencies()
}

pub async fn run(options: &Options) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&options.workdir)
        .with_context(|| format!("creating {}", options.workdir.display()))?;
    let catalog = Catalog::shipped();
    let calendar = Calendar::china_official();
    let corrections = None;
    let plans = |run: &str, n: usize| -> anyhow::Result<Vec<Vec<Inbound>>> {
        let mut rng = cohandle_campaign::rng::Rng::new(20261127);
        (0..n)
            .map(|i| {
                let events: Vec<_> =
                    cohandle_campaign::workload::plan(&mut rng, run, i, &catalog, &calendar)?
                        .steps
                        .into_iter()
                        .map(|step| step.event)
                        .collect();
                Ok(events
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        // Half of the publishers speak JSON, half protobuf, as in the campaign.
                        let content_type = if (i + j) % 2 == 0 {
                            ContentType::Json
                        } else {
                            ContentType::Protobuf
                        };
                        Inbound::event(e, content_type, e.actor.agency.as_str())
                    })
                    .collect())
            })
            .collect()
    };

    let sustained_plans = plans("s", options.proposals)?;
    let events: usize = sustained_plans.iter().map(Vec::len).sum();
    let bytes: usize = sustained_plans.iter().flatten().map(|m| m.body.len()).sum();
    let envelopes: Vec<Inbound> = sustained_plans.iter().flatten().cloned().collect();
    eprintln!(
        "  {} proposals, {events} events, mean envelope {:.0} bytes",
        options.proposals,
        bytes as f64 / events as f64
    );

    let raw_rate = raw(options, &envelopes).await.context("raw broker phase")?;
    eprintln!("  raw broker: {raw_rate:.0} msgs/s");

    let naive_plans = plans("n", options.naive_proposals)?;
    let naive_events: usize = naive_plans.iter().map(Vec::len).sum();
    let (naive_rate, naive_applied) = naive(options, naive_plans, &calendar)
        .await
        .context("naive worker phase")?;
    eprintln!(
        "  naive worker: {naive_rate:.0} events/s ({naive_applied} of {naive_events} applied)"
    );

    let sustained = engine_phase(
        options,
        corrections,
        "sustained",
        sustained_plans,
        Load::Full,
    )
    .await
    .context("sustained phase")?;
    eprintln!(
        "  engine sustained: {:.0} events/s",
        sustained.events_per_second
    );
    let half = sustained.events_per_second / 2.0;
    let half_load = engine_phase(
        options,
        corrections,
        "half",
        plans("h", options.proposals)?,
        Load::Paced(half),
    )
    .await
    .context("half-load phase")?;
    eprintln!(
        "  engine at half load: p99 {:.1} ms",
        half_load.latency_p99_ms
    );
    let catch_up = engine_phase(
        options,
        corrections,
        "catch-up",
        plans("c", options.proposals)?,
        Load::Backlog,
    )
    .await
    .context("catch-up phase")?;
    eprintln!(
        "  engine catch-up: {:.0} events/s",
        catch_up.events_per_second
    );

    let worker_peak_rss_mib = sustained
        .worker_peak_rss_mib
        .max(half_load.worker_peak_rss_mib)
        .max(catch_up.worker_peak_rss_mib);
    Ok(Report {
        proposals: options.proposals,
        events,
        mean_message_bytes: bytes as f64 / events.max(1) as f64,
        raw_messages: options.raw_messages,
        raw_msgs_per_second: raw_rate,
        naive_events,
        naive_events_per_second: naive_rate,
        naive_applied,
        sustained_to_raw: sustained.events_per_second / raw_rate,
        sustained_to_naive: sustained.events_per_second / naive_rate,
        catch_up_to_naive: catch_up.events_per_second / naive_rate,
        sustained,
        half_load,
        catch_up,
        worker_peak_rss_mib,
    })
}

/// A vhost of the phase's own, with the agencies' users allowed in as deploy/ allows them.
async fn create_vhost(options: &Options) -> anyhow::Result<Vhost> {
    let codes: Vec<&str> = agencies().into_iter().map(|(code, _)| code).collect();
    Vhost::create(
        Management::new(&options.management),
        &options.amqp,
        "cohandle-bench",
        &codes,
    )
    .await
}

/// The topology every phase runs over (what the worker declares at start).
async fn declare(vhost: &Vhost) -> anyhow::Result<()> {
    let connection = connect::connect_url(&vhost.url(), "bench-setup").await?;
    let channel = connection.create_channel().await?;
    let mut items = Topology::default().plan();
    for (code, kind) in agencies() {
        items.extend(topology::agency_plan(code, kind));
    }
    topology::declare(&channel, &items).await?;
    connect::close(connection, "declared").await;
    Ok(())
}

/// (messages, consumers) of `queue`.
async fn counts(channel: &Channel, queue: &str) -> anyhow::Result<(u32, u32)> {
    let q = channel
        .queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((q.message_count(), q.consumer_count()))
}

/// Raw broker limit: publish `total` envelopes with a window of unconfirmed publishes while
/// one consumer per partition takes them with prefetch and `multiple` acks.
async fn raw(options: &Options, envelopes: &[Inbound]) -> anyhow::Result<f64> {
    let vhost = create_vhost(options).await?;
    let result = raw_in(options, &vhost, envelopes).await;
    vhost.delete().await?;
    result
}

async fn raw_in(options: &Options, vhost: &Vhost, envelopes: &[Inbound]) -> anyhow::Result<f64> {
    anyhow::ensure!(!envelopes.is_empty(), "no envelopes to send");
    declare(vhost).await?;
    let total = options.raw_messages;
    let connection = connect::connect_url(&vhost.url(), "bench-raw-consumer").await?;
    let consumed = Arc::new(AtomicUsize::new(0));
    let mut consumers = Vec::new();
    for n in 0..Topology::default().partitions {
        let (channel, mut consumer) = consume_partition(&connection, n, "bench-raw").await?;
        let consumed = consumed.clone();
        consumers.push(tokio::spawn(async move {
            let mut unacked = 0usize;
            let mut last_tag = 0;
            while consumed.load(Ordering::Relaxed) < total {
                match tokio::time::timeout(Duration::from_millis(5), consumer.next()).await {
                    Ok(Some(delivery)) => {
                        last_tag = delivery?.delivery_tag;
                        unacked += 1;
                        if unacked < 100 {
                            continue;
                        }
                    }
                    Ok(None) => break,
                    Err(_) if unacked == 0 => continue,
                    Err(_) => {}
                }
                channel
                    .basic_ack(last_tag, BasicAckOptions { multiple: true })
                    .await?;
                consumed.fetch_add(unacked, Ordering::Relaxed);
                unacked = 0;
            }
            anyhow::Ok(())
        }));
    }

    let publisher = connect::connect_url(&vhost.url(), "bench-raw-publisher").await?;
    let channel = publisher.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    for i in 0..total {
        let mut message = envelopes[i % envelopes.len()].clone();
        message.user_id = "guest".to_owned();
        if pending.len() >= options.confirm_window {
            if let Some(confirm) = pending.next().await {
                settle(confirm?, "a raw message")?;
            }
        }
        pending.push(
            channel
                .basic_publish(
                    topology::INBOUND,
                    &message.routing_key,
                    BasicPublishOptions::default(),
                    &message.body,
                    message.properties(),
                )
                .await?,
        );
    }
    while let Some(confirm) = pending.next().await {
        settle(confirm?, "a raw message")?;
    }
    for consumer in consumers {
        consumer.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    connect::close(publisher, "done").await;
    connect::close(connection, "done").await;
    Ok(total as f64 / seconds.max(1e-9))
}

/// One confirm-mode channel per agency, each on a connection as that agency's user.
struct Publishers {
    connections: Vec<Connection>,
    channels: HashMap<String, Channel>,
}

impl Publishers {
    async fn open(vhost: &Vhost) -> anyhow::Result<Self> {
        let mut connections = Vec::new();
        let mut channels = HashMap::new();
        for (code, _) in agencies() {
            let uris = connect::with_credentials(&vhost.url(), code, code)?;
            let connection = connect::connect_any(&uris, &format!("bench-agency-{code}")).await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.insert(code.to_owned(), channel);
            connections.push(connection);
        }
        Ok(Self {
            connections,
            channels,
        })
    }

    async fn close(self) {
        for connection in self.connections {
            connect::close(connection, "done").await;
        }
    }

    /// Publishes every proposal's events, each after the previous one's confirm, with
    /// `in_flight` proposals at once; with `pace`, no faster than that many events a second.
    /// Returns each event id with the moment its publish began.
    async fn publish(
        &self,
        plans: Vec<Vec<Inbound>>,
        in_flight: usize,
        pace: Option<f64>,
    ) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
        let started = tokio::time::Instant::now();
        let slot = AtomicUsize::new(0);
        let stamps: Vec<Vec<(String, DateTime<Utc>)>> = futures::stream::iter(plans)
            .map(|plan| {
                let slot = &slot;
                async move {
                    let mut stamps = Vec::with_capacity(plan.len());
                    for message in plan {
                        if let Some(rate) = pace {
                            let n = slot.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep_until(
                                started + Duration::from_secs_f64(n as f64 / rate),
                            )
                            .await;
                        }
                        let channel = self
                            .channels
                            .get(&message.user_id)
                            .context("a publisher for every agency")?;
                        let id = message.message_id.clone().unwrap_or_default();
                        stamps.push((id, SystemClock.now()));
                        publish_inbound(channel, &message).await?;
                    }
                    anyhow::Ok(stamps)
                }
            })
            .buffer_unordered(in_flight.max(1))
            .try_collect()
            .await?;
        Ok(stamps.into_iter().flatten().collect())
    }
}

/// The naive worker: one consumer per partition; per delivery: decode, check the sender,
/// `Engine::apply` in a transaction of its own, ack that delivery alone.
async fn naive(
    options: &Options,
    plans: Vec<Vec<Inbound>>,
    calendar: &Calendar,
) -> anyhow::Result<(f64, usize)> {
    let vhost = create_vhost(options).await?;
    let scratch = ScratchDb::create(&options.postgres).await?;
    let result = naive_in(&vhost, &scratch, plans, options.in_flight, calendar).await;
    scratch.drop_now().await?;
    vhost.delete().await?;
    result
}

async fn naive_in(
    vhost: &Vhost,
    scratch: &ScratchDb,
    plans: Vec<Vec<Inbound>>,
    in_flight: usize,
    calendar: &Calendar,
) -> anyhow::Result<(f64, usize)> {
    let db = cohandle_store::connect::connect_and_migrate(&scratch.url).await?;
    let engine = Engine::new(
        db,
        Arc::new(Catalog::shipped()),
        Arc::new(calendar.clone()),
        Arc::new(SystemClock),
    );
    declare(vhost).await?;
    let total: usize = plans.iter().map(Vec::len).sum();
    let publishers = Publishers::open(vhost).await?;
    publishers.publish(plans, in_flight, None).await?;
    publishers.close().await;

    let connection = connect::connect_url(&vhost.url(), "bench-naive").await?;
    let done = Arc::new(AtomicUsize::new(0));
    let applied = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut consumers = Vec::new();
    for n in 0..Topology::default().partitions {
        let (channel, mut consumer) = consume_partition(&connection, n, "bench-naive").await?;
        let (engine, done, applied) = (engine.clone(), done.clone(), applied.clone());
        consumers.push(tokio::spawn(async move {
            while done.load(Ordering::Relaxed) < total {
                let delivery =
                    match tokio::time::timeout(Duration::from_millis(20), consumer.next()).await {
                        Ok(Some(delivery)) => delivery?,
                        Ok(None) => break,
                        Err(_) => continue,
                    };
                let content_type = delivery
                    .properties
                    .content_type()
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                let event = cohandle_proto::decode(&content_type, &delivery.data)?;
                let sender = delivery.properties.user_id().as_ref().map(|u| u.as_str());
                anyhow::ensure!(
                    sender == Some(event.actor.agency.as_str()),
                    "a delivery from {sender:?} for {}",
                    event.actor.agency
                );
                if matches!(
                    engine.apply(event, Source::Bus).await?,
                    Outcome::Applied { .. }
                ) {
                    applied.fetch_add(1, Ordering::Relaxed);
                }
                channel
                    .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
                    .await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for consumer in consumers {
        consumer.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    connect::close(connection, "done").await;
    Ok((
        total as f64 / seconds.max(1e-9),
        applied.load(Ordering::Relaxed),
    ))
}

#[derive(Debug, Clone, Copy)]
enum Load {
    /// Publishing as fast as confirms come back, the worker running.
    Full,
    /// Publishing at this many events a second, the worker running.
    Paced(f64),
    /// Everything published first; then the worker starts.
    Backlog,
}

/// Makes the workload's agencies serve Chongqing's congress, whose keys (`cq-…`) it uses: an
/// assigner assigns only in the jurisdictions it serves.
async fn serve_chongqing(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let codes: Vec<String> = agencies()
        .iter()
        .map(|(code, _)| (*code).to_owned())
        .collect();
    cohandle_store::jurisdictions::join(db, "cq", &codes).await?;
    Ok(())
}

/// The real worker process, configured by `COHANDLE__…` variables only.
struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    fn start(
        options: &Options,
        corrections: Option<&Path>,
        db_url: &str,
        amqp_url: &str,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let log =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let agencies: Vec<String> = agencies()
            .iter()
            .map(|(code, kind)| format!("{code}:{kind}"))
            .collect();
        let mut command = Command::new(&options.binary);
        if let Some(file) = corrections {
            command.env("COHANDLE__CALENDAR__CORRECTIONS", file);
        }
        let child = command
            .arg("worker")
            .env("COHANDLE__DATABASE__URL", db_url)
            .env("COHANDLE__AMQP__URL", amqp_url)
            .env("COHANDLE__AMQP__AGENCIES", agencies.join(","))
            .env("COHANDLE__METRICS__LISTEN", "off")
            .env(
                "RUST_LOG",
                std::env::var("COHANDLE_BENCH_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // No stray cohandle.toml: the working directory is the benchmark's own.
            .current_dir(&options.workdir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} worker", options.binary.display()))?;
        Ok(Self { child })
    }

    /// VmHWM of the process, in MiB.
    fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmHWM in /proc/<pid>/status")?;
        Ok(kib / 1024.0)
    }

    /// User + system CPU time of the process so far (/proc/<pid>/stat, in clock ticks).
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')').context("/proc/<pid>/stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields
            .get(11..13)
            .context("utime and stime in /proc/<pid>/stat")?
            .iter()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .sum();
        let per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        Ok(ticks / per_second)
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM: the worker finishes its batches in hand; SIGKILL after 10 s.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn engine_phase(
    options: &Options,
    corrections: Option<&Path>,
    name: &str,
    plans: Vec<Vec<Inbound>>,
    load: Load,
) -> anyhow::Result<Phase> {
    let vhost = create_vhost(options).await?;
    let scratch = ScratchDb::create(&options.postgres).await?;
    let result = engine_phase_in(options, corrections, name, &vhost, &scratch, plans, load).await;
    scratch.drop_now().await?;
    vhost.delete().await?;
    result
}

async fn engine_phase_in(
    options: &Options,
    corrections: Option<&Path>,
    name: &str,
    vhost: &Vhost,
    scratch: &ScratchDb,
    plans: Vec<Vec<Inbound>>,
    load: Load,
) -> anyhow::Result<Phase> {
    let db = cohandle_store::connect::connect_and_migrate(&scratch.url).await?;
    serve_chongqing(&db).await?;
    if options.log_statements {
        // Sessions opened from now on (the worker's) take the setting.
        db.execute_unprepared(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET log_min_duration_statement = 0', current_database()); END $$",
        )
        .await?;
        eprintln!("  {name}: statements logged for database {}", scratch.url);
    }
    declare(vhost).await?;
    let written_before = table_writes(&db).await?;
    let total: usize = plans.iter().map(Vec::len).sum();
    let operator = connect::connect_url(&vhost.url(), "bench-operator").await?;
    let inspect = operator.create_channel().await?;
    let publishers = Publishers::open(vhost).await?;
    let log = options.workdir.join(format!("worker-{name}.log"));

    let (mut worker, started, stamps) = match load {
        Load::Backlog => {
            let stamps = publishers.publish(plans, options.in_flight, None).await?;
            let started = Instant::now();
            let worker =
                WorkerProcess::start(options, corrections, &scratch.url, &vhost.url(), &log)?;
            (worker, started, stamps)
        }
        Load::Full | Load::Paced(_) => {
            let mut worker =
                WorkerProcess::start(options, corrections, &scratch.url, &vhost.url(), &log)?;
            wait_for_consumers(&inspect, &mut worker, &log).await?;
            let pace = match load {
                Load::Paced(rate) => Some(rate),
                _ => None,
            };
            let started = Instant::now();
            let stamps = publishers.publish(plans, options.in_flight, pace).await?;
            (worker, started, stamps)
        }
    };
    publishers.close().await;

    // Decided when every event has its inbox row; a worker that stops making progress for
    // 30 s ends the wait (the missing events are then counted as undecided).
    let mut last = (0, Instant::now());
    let finished = loop {
        let decided = count(&db, "SELECT COUNT(*) FROM inbox").await?;
        if decided >= total as i64 {
            break Instant::now();
        }
        if decided > last.0 {
            last = (decided, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) || !worker.running() {
            eprintln!(
                "  {name}: the worker stopped at {decided} of {total} events (log: {})",
                log.display()
            );
            break last.1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seconds = finished.duration_since(started).as_secs_f64();
    let worker_peak_rss_mib = worker.peak_rss_mib().unwrap_or(0.0);
    let worker_cpu_seconds = worker.cpu_seconds().unwrap_or(0.0);
    let dead_letters = u32::try_from(count(&db, "SELECT COUNT(*) FROM dead_letters").await?)?;
    connect::close(operator, "done").await;
    tokio::task::spawn_blocking(move || worker.stop()).await?;
    // The worker's sessions have ended: their counts are in. The few rows read above
    // wrote nothing.
    db.execute_unprepared("SELECT pg_stat_clear_snapshot()")
        .await?;
    let writes = written_between(&written_before, table_writes(&db).await?);

    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_id, outcome, recorded_at FROM inbox",
        ))
        .await?;
    let mut applied = 0;
    let mut rejected = 0;
    let mut latencies = Vec::with_capacity(rows.len());
    let mut decided_ids = 0;
    let mut batches: HashMap<DateTime<Utc>, usize> = HashMap::new();
    for row in rows {
        let id: String = row.try_get("", "event_id")?;
        let outcome: String = row.try_get("", "outcome")?;
        let recorded_at: DateTime<Utc> = row.try_get("", "recorded_at")?;
        match outcome.as_str() {
            "applied" => applied += 1,
            _ => rejected += 1,
        }
        *batches.entry(recorded_at).or_default() += 1;
        if let Some(published) = stamps.get(&id) {
            decided_ids += 1;
            latencies.push((recorded_at - *published).num_microseconds().unwrap_or(0) as f64 / 1e3);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies[((latencies.len() - 1) as f64 * q).round() as usize]
    };
    let measured_latency = !matches!(load, Load::Backlog);
    let latency = |q: f64| {
        if measured_latency {
            quantile(q)
        } else {
            f64::NAN
        }
    };
    Ok(Phase {
        events: total,
        offered_per_second: match load {
            Load::Paced(rate) => Some(rate),
            _ => None,
        },
        seconds,
        events_per_second: total as f64 / seconds.max(1e-9),
        latency_p50_ms: latency(0.50),
        latency_p99_ms: latency(0.99),
        latency_p999_ms: latency(0.999),
        applied,
        rejected,
        undecided: total - decided_ids,
        dead_letters,
        worker_peak_rss_mib,
        worker_cpu_seconds,
        mean_batch: (applied + rejected) as f64 / batches.len().max(1) as f64,
        rows_per_event: writes.iter().map(TableWrites::rows).sum::<i64>() as f64
            / (applied + rejected).max(1) as f64,
        index_entries_per_event: writes.iter().map(TableWrites::index_entries).sum::<i64>() as f64
            / (applied + rejected).max(1) as f64,
        writes,
    })
}

async fn wait_for_consumers(
    channel: &Channel,
    worker: &mut WorkerProcess,
    log: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0..Topology::default().partitions {
        let queue = topology::partition_queue(n);
        while counts(channel, &queue).await?.1 == 0 {
            if !worker.running() {
                bail!("the worker exited at start (log: {})", log.display());
            }
            if Instant::now() > deadline {
                bail!(
                    "the worker did not consume {queue} within 60 s (log: {})",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("a count")?;
    Ok(row.try_get_by_index(0)?)
}

/// A channel with a prefetch of 200 consuming partition `n`, tagged `<tag>-<n>`.
async fn consume_partition(
    connection: &Connection,
    n: u16,
    tag: &str,
) -> anyhow::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    channel.basic_qos(200, BasicQosOptions::default()).await?;
    let consumer = channel
        .basic_consume(
            &topology::partition_queue(n),
            &format!("{tag}-{n}"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}
