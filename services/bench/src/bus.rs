//! The RabbitMQ door end to end, in one run, on loopback, each phase in a vhost and a
//! database of its own:
//!
//! 1. the raw broker limit: the engine's topology, envelope-sized messages, publisher
//!    confirms pipelined, consumers with prefetch and `multiple` acks, no processing;
//! 2. the naive worker: per delivery decode, `Engine::apply` (one transaction), ack alone;
//! 3. the real `cohandle worker` process (or several at once) fed by agencies publishing the
//!    campaign's mix, one proposal's events in order: sustained rate, rate at half load,
//!    latency publish → decision, catch-up from a backlog, the workers' peak RSS, and the
//!    CPU time of each worker, broker node and the database server per event.

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
use serde::{Deserialize, Serialize};

use cohandle_testkit::db::ScratchDb;
use cohandle_testkit::vhost::{Management, Vhost};

#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL server (no database): each phase gets a scratch database.
    pub postgres: String,
    /// RabbitMQ nodes of one broker or cluster, `host:port` each; each phase gets a scratch
    /// vhost. The benchmark's own connections go to the first; the workers are given every
    /// node (`amqp.url` of a cluster).
    pub amqp: Vec<String>,
    /// RabbitMQ management API, e.g. `http://127.0.0.1:15672/api` (guest).
    pub management: String,
    /// The `cohandle` binary, run as the worker.
    pub binary: PathBuf,
    /// `cohandle worker` processes running at once in the engine phases.
    pub workers: usize,
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
    /// The largest peak resident set (VmHWM) of the worker processes.
    pub worker_peak_rss_mib: f64,
    /// CPU time (user + system) the worker processes used, from their start to the last
    /// event decided, all together.
    pub worker_cpu_seconds: f64,
    /// Each worker process: the partitions it was the active consumer of, its CPU and RSS.
    pub workers: Vec<WorkerFigures>,
    /// CPU time of the broker nodes, the database server and the benchmark's own process
    /// from the phase's start to the last event decided, where they run on this machine.
    pub servers: Vec<ServerCpu>,
    /// The node leading each partition queue (`cohandle.in.0`, `.1`, …).
    pub partition_leaders: Vec<String>,
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
    /// Bytes of every table the phase wrote, with indexes, per event decided.
    pub bytes_per_event: f64,
}

/// One worker process in a phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerFigures {
    pub pid: u32,
    /// Partition queues it was the single active consumer of at the phase's end.
    pub partitions: Vec<u16>,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
}

/// CPU time of a server (the process listening on its port, with every process below it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerCpu {
    /// `RabbitMQ 127.0.0.1:5672`, `PostgreSQL 127.0.0.1:5432`, `benchmark`.
    pub name: String,
    pub pid: u32,
    pub cpu_seconds: f64,
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
    /// The table's size with its indexes and TOAST at the end (`pg_total_relation_size`,
    /// dead rows included).
    pub bytes: i64,
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
             (SELECT COUNT(*) FROM pg_index i WHERE i.indrelid = t.relid) AS indexes, \
             pg_total_relation_size(t.relid) AS bytes \
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
                    bytes: row.try_get("", "bytes")?,
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
    pub amqp: Vec<String>,
    pub workers: usize,
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
        amqp: options.amqp.clone(),
        workers: options.workers,
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
    let first = options.amqp.first().context("no RabbitMQ node given")?;
    Vhost::create(
        Management::new(&options.management),
        first,
        "cohandle-bench",
        &codes,
    )
    .await
}

/// guest's URL into `vhost` on each of `nodes`, separated by commas: `amqp.url` of a
/// cluster.
fn cluster_url(nodes: &[String], vhost: &str) -> String {
    nodes
        .iter()
        .map(|node| format!("amqp://guest:guest@{node}/{vhost}"))
        .collect::<Vec<_>>()
        .join(",")
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

    /// User + system CPU time of the process so far.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        crate::cpu::process_seconds(self.child.id())
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM: the worker finishes its batches in hand.
    fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to end after [`WorkerProcess::terminate`]; SIGKILL at
    /// `deadline`.
    fn reap(mut self, deadline: Instant) {
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

/// The worker processes of a phase, all on the same database and broker.
struct Workers {
    processes: Vec<WorkerProcess>,
    /// Where their logs are, for messages.
    logs: String,
}

impl Workers {
    /// `options.workers` processes, started one right after the other; logs
    /// `worker-<phase>.log`, or `worker-<phase>-<n>.log` when there are several.
    fn start(
        options: &Options,
        corrections: Option<&Path>,
        db_url: &str,
        amqp_url: &str,
        phase: &str,
    ) -> anyhow::Result<Self> {
        let n = options.workers.max(1);
        let logs: Vec<PathBuf> = (1..=n)
            .map(|i| match n {
                1 => options.workdir.join(format!("worker-{phase}.log")),
                _ => options.workdir.join(format!("worker-{phase}-{i}.log")),
            })
            .collect();
        let processes = logs
            .iter()
            .map(|log| WorkerProcess::start(options, corrections, db_url, amqp_url, log))
            .collect::<anyhow::Result<_>>()?;
        let logs = logs
            .iter()
            .map(|l| l.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self { processes, logs })
    }

    fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|w| w.child.id()).collect()
    }

    fn all_running(&mut self) -> bool {
        self.processes.iter_mut().all(WorkerProcess::running)
    }

    /// SIGTERM to every worker at once, then SIGKILL to those still running 10 s later.
    fn stop(self) {
        for worker in &self.processes {
            worker.terminate();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for worker in self.processes {
            worker.reap(deadline);
        }
    }
}

/// A process whose CPU time the phases read: a server found by the port it listens on
/// (with every process below it), or the benchmark's own process.
#[derive(Debug, Clone)]
struct Watched {
    name: String,
    pid: u32,
    tree: bool,
}

impl Watched {
    fn cpu_seconds(&self) -> f64 {
        let seconds = match self.tree {
            true => crate::cpu::tree_seconds(self.pid),
            false => crate::cpu::process_seconds(self.pid),
        };
        seconds.unwrap_or(f64::NAN)
    }
}

/// The port of `host:port` when the host is this machine's loopback.
fn loopback_port(host: &str, port: Option<u16>) -> Option<u16> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    matches!(host, "127.0.0.1" | "localhost" | "::1").then_some(port?)
}

/// Every broker node and the database server that run on this machine and can be seen, the
/// database's streaming replicas on this machine, and the benchmark itself.
async fn watched(options: &Options, db: &DatabaseConnection) -> Vec<Watched> {
    let mut servers: Vec<(String, Option<u16>)> = options
        .amqp
        .iter()
        .map(|node| {
            let port = node
                .rsplit_once(':')
                .and_then(|(host, port)| loopback_port(host, port.parse().ok()));
            (format!("RabbitMQ {node}"), port)
        })
        .collect();
    if let Ok(url) = reqwest::Url::parse(&options.postgres) {
        let host = url.host_str().unwrap_or_default();
        let port = loopback_port(host, Some(url.port().unwrap_or(5432)));
        servers.push((
            format!("PostgreSQL {host}:{}", url.port().unwrap_or(5432)),
            port,
        ));
    }
    let mut watched: Vec<Watched> = servers
        .into_iter()
        .filter_map(|(name, port)| {
            Some(Watched {
                name,
                pid: crate::cpu::listening_pid(port?)?,
                tree: true,
            })
        })
        .collect();
    watched.extend(local_replicas(db).await.unwrap_or_default());
    watched.push(Watched {
        name: "benchmark".to_owned(),
        pid: std::process::id(),
        tree: false,
    });
    watched
}

/// The database server's streaming replicas that run on this machine, each found by its WAL
/// receiver's connection (`pg_stat_replication.client_port`) and watched as the postmaster
/// above that process.
async fn local_replicas(db: &DatabaseConnection) -> anyhow::Result<Vec<Watched>> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT application_name, client_port FROM pg_stat_replication \
             WHERE client_addr IN ('127.0.0.1', '::1')",
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let name: String = row.try_get("", "application_name").ok()?;
            let port: i32 = row.try_get("", "client_port").ok()?;
            let receiver = crate::cpu::connected_pid(u16::try_from(port).ok()?)?;
            Some(Watched {
                name: format!("PostgreSQL replica ({name})"),
                pid: crate::cpu::parent(receiver).ok()?,
                tree: true,
            })
        })
        .collect())
}

fn cpu_readings(watched: &[Watched]) -> Vec<f64> {
    watched.iter().map(Watched::cpu_seconds).collect()
}

/// A consumer as the management API lists it.
#[derive(Debug, Deserialize)]
struct ConsumerInfo {
    consumer_tag: String,
    queue: NameOnly,
    /// The single active consumer of its queue (or any consumer of a queue without).
    #[serde(default)]
    active: bool,
}

#[derive(Debug, Deserialize)]
struct NameOnly {
    name: String,
}

/// A queue as the management API lists it: a quorum queue names its leader.
#[derive(Debug, Deserialize)]
struct QueueInfo {
    name: String,
    #[serde(default)]
    leader: Option<String>,
}

/// The partition queue `name`'s number.
fn partition_of(name: &str) -> Option<u16> {
    name.strip_prefix(topology::INBOUND)?
        .strip_prefix('.')?
        .parse()
        .ok()
}

/// The worker (by its place in `pids`) and the partition of a consumer. A worker's consumer
/// tags are `cohandle-worker-<pid>/<queue>` (its connection name, then the queue).
fn worker_and_partition(consumer: &ConsumerInfo, pids: &[u32]) -> Option<(usize, u16)> {
    let (pid, _) = consumer
        .consumer_tag
        .strip_prefix("cohandle-worker-")?
        .split_once('/')?;
    let pid: u32 = pid.parse().ok()?;
    let slot = pids.iter().position(|p| *p == pid)?;
    Some((slot, partition_of(&consumer.queue.name)?))
}

/// The partitions each of `pids` is the active consumer of.
fn active_partitions(consumers: &[ConsumerInfo], pids: &[u32]) -> Vec<Vec<u16>> {
    let mut held = vec![Vec::new(); pids.len()];
    for (slot, partition) in consumers
        .iter()
        .filter(|c| c.active)
        .filter_map(|c| worker_and_partition(c, pids))
    {
        held[slot].push(partition);
    }
    for partitions in &mut held {
        partitions.sort_unstable();
    }
    held
}

/// Whether each of `pids` consumes each of the partitions, as active consumer or standby.
fn every_worker_consumes(consumers: &[ConsumerInfo], pids: &[u32], partitions: u16) -> bool {
    let subscribed: std::collections::HashSet<(usize, u16)> = consumers
        .iter()
        .filter_map(|c| worker_and_partition(c, pids))
        .filter(|(_, partition)| *partition < partitions)
        .collect();
    subscribed.len() == pids.len() * usize::from(partitions)
}

/// The consumers of `vhost`, from the management API.
async fn consumers(vhost: &Vhost) -> anyhow::Result<Vec<ConsumerInfo>> {
    Ok(vhost
        .management
        .call(
            reqwest::Method::GET,
            &format!("/consumers/{}", vhost.name),
            None,
        )
        .await?
        .json()
        .await?)
}

/// Who consumes which partition and which node leads it, from the management API. Its list
/// of consumers can lag their subscription by a few seconds: asked again until every
/// partition has its active consumer there, for up to 10 s.
async fn holders_and_leaders(
    vhost: &Vhost,
    pids: &[u32],
) -> anyhow::Result<(Vec<Vec<u16>>, Vec<String>)> {
    let m = &vhost.management;
    let deadline = Instant::now() + Duration::from_secs(10);
    let partitions = usize::from(Topology::default().partitions);
    let held = loop {
        let held = active_partitions(&consumers(vhost).await?, pids);
        if held.iter().map(Vec::len).sum::<usize>() >= partitions || Instant::now() > deadline {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let queues: Vec<QueueInfo> = m
        .call(
            reqwest::Method::GET,
            &format!("/queues/{}?columns=name,leader", vhost.name),
            None,
        )
        .await?
        .json()
        .await?;
    let mut leaders: Vec<(u16, String)> = queues
        .into_iter()
        .filter_map(|q| Some((partition_of(&q.name)?, q.leader.unwrap_or_default())))
        .collect();
    leaders.sort();
    Ok((
        held,
        leaders.into_iter().map(|(_, leader)| leader).collect(),
    ))
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
    let worker_url = cluster_url(&options.amqp, &vhost.name);
    let start_workers = || Workers::start(options, corrections, &scratch.url, &worker_url, name);
    let watched = watched(options, &db).await;

    let (mut workers, started, cpu_before, stamps) = match load {
        Load::Backlog => {
            let stamps = publishers.publish(plans, options.in_flight, None).await?;
            let cpu_before = cpu_readings(&watched);
            let started = Instant::now();
            (start_workers()?, started, cpu_before, stamps)
        }
        Load::Full | Load::Paced(_) => {
            let mut workers = start_workers()?;
            wait_for_consumers(&inspect, vhost, &mut workers).await?;
            let pace = match load {
                Load::Paced(rate) => Some(rate),
                _ => None,
            };
            let cpu_before = cpu_readings(&watched);
            let started = Instant::now();
            let stamps = publishers.publish(plans, options.in_flight, pace).await?;
            (workers, started, cpu_before, stamps)
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
        } else if last.1.elapsed() > Duration::from_secs(30) || !workers.all_running() {
            eprintln!(
                "  {name}: the workers stopped at {decided} of {total} events (logs: {})",
                workers.logs
            );
            break last.1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seconds = finished.duration_since(started).as_secs_f64();
    let servers = watched
        .iter()
        .zip(cpu_before)
        .zip(cpu_readings(&watched))
        .map(|((w, before), after)| ServerCpu {
            name: w.name.clone(),
            pid: w.pid,
            cpu_seconds: after - before,
        })
        .collect();
    let (holders, partition_leaders) = holders_and_leaders(vhost, &workers.pids()).await?;
    let worker_figures: Vec<WorkerFigures> = workers
        .processes
        .iter()
        .zip(holders)
        .map(|(w, partitions)| WorkerFigures {
            pid: w.child.id(),
            partitions,
            cpu_seconds: w.cpu_seconds().unwrap_or(0.0),
            peak_rss_mib: w.peak_rss_mib().unwrap_or(0.0),
        })
        .collect();
    let dead_letters = u32::try_from(count(&db, "SELECT COUNT(*) FROM dead_letters").await?)?;
    connect::close(operator, "done").await;
    tokio::task::spawn_blocking(move || workers.stop()).await?;
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
        worker_peak_rss_mib: worker_figures
            .iter()
            .map(|w| w.peak_rss_mib)
            .fold(0.0, f64::max),
        worker_cpu_seconds: worker_figures.iter().map(|w| w.cpu_seconds).sum(),
        workers: worker_figures,
        servers,
        partition_leaders,
        mean_batch: (applied + rejected) as f64 / batches.len().max(1) as f64,
        rows_per_event: writes.iter().map(TableWrites::rows).sum::<i64>() as f64
            / (applied + rejected).max(1) as f64,
        index_entries_per_event: writes.iter().map(TableWrites::index_entries).sum::<i64>() as f64
            / (applied + rejected).max(1) as f64,
        bytes_per_event: writes.iter().map(|w| w.bytes).sum::<i64>() as f64
            / (applied + rejected).max(1) as f64,
        writes,
    })
}

/// Waits until every partition queue has its active consumer and, with several workers,
/// until every worker consumes every partition queue (the standbys, which the queue's own
/// consumer count leaves out, from the management API).
async fn wait_for_consumers(
    channel: &Channel,
    vhost: &Vhost,
    workers: &mut Workers,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let partitions = Topology::default().partitions;
    let waiting_for = |what: &str, workers: &mut Workers| {
        if !workers.all_running() {
            bail!("a worker exited at start (logs: {})", workers.logs);
        }
        if Instant::now() > deadline {
            bail!("{what} within 60 s (logs: {})", workers.logs);
        }
        Ok(())
    };
    for n in 0..partitions {
        let queue = topology::partition_queue(n);
        while counts(channel, &queue).await?.1 == 0 {
            waiting_for(&format!("no worker consumed {queue}"), workers)?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if workers.processes.len() > 1 {
        let pids = workers.pids();
        while !every_worker_consumes(&consumers(vhost).await?, &pids, partitions) {
            waiting_for("not every worker consumed every partition queue", workers)?;
            tokio::time::sleep(Duration::from_millis(200)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_are_given_every_node() {
        let nodes = ["127.0.0.1:5681".to_owned(), "127.0.0.1:5682".to_owned()];
        let url = cluster_url(&nodes, "cohandle-bench-x");
        assert_eq!(
            url,
            "amqp://guest:guest@127.0.0.1:5681/cohandle-bench-x,amqp://guest:guest@127.0.0.1:5682/cohandle-bench-x"
        );
        assert_eq!(connect::parse_urls(&url).unwrap().len(), 2);
    }

    #[test]
    fn active_consumers_are_counted_for_their_worker() {
        let consumer = |tag: &str, queue: &str, active: bool| ConsumerInfo {
            consumer_tag: tag.to_owned(),
            queue: NameOnly {
                name: queue.to_owned(),
            },
            active,
        };
        let consumers = [
            consumer("cohandle-worker-11/cohandle.in.2", "cohandle.in.2", true),
            consumer("cohandle-worker-11/cohandle.in.0", "cohandle.in.0", true),
            consumer("cohandle-worker-22/cohandle.in.0", "cohandle.in.0", false),
            consumer("cohandle-worker-22/cohandle.in.1", "cohandle.in.1", true),
            consumer("bench-raw-3", "cohandle.in.3", true),
            consumer("cohandle-worker-99/cohandle.in.3", "cohandle.in.3", true),
        ];
        assert_eq!(
            active_partitions(&consumers, &[11, 22, 33]),
            vec![vec![0, 2], vec![1], vec![]]
        );
        // The standby counts as consuming; 11 does not consume partition 1.
        assert!(every_worker_consumes(&consumers, &[11, 22], 1));
        assert!(!every_worker_consumes(&consumers, &[11, 22], 2));
        assert_eq!(partition_of("cohandle.in.12"), Some(12));
        assert_eq!(partition_of("cohandle.in.hash"), None);
        assert_eq!(partition_of("cohandle.agency.x"), None);
    }

    #[test]
    fn only_servers_on_the_loopback_are_watched() {
        assert_eq!(loopback_port("127.0.0.1", Some(5681)), Some(5681));
        assert_eq!(loopback_port("[::1]", Some(5432)), Some(5432));
        assert_eq!(loopback_port("mq1.example", Some(5672)), None);
        assert_eq!(loopback_port("localhost", None), None);
    }
}
