//! The fault campaign: proves, under crashes, restarts and hostile input, that no proposal
//! step is lost, doubled, or done by someone who may not do it — with an audit that does
//! not trust the engine's own bookkeeping.
//!
//! One run ([`run`]):
//! 1. [`infra`]: starts a PostgreSQL server and a RabbitMQ node of its own (temporary
//!    directories, free ports), so that restarting them disturbs nobody else; for the scale
//!    scenario ([`Profile::Scale`]), a primary with its replica and a three-node cluster;
//! 2. [`cohandle_testkit::children`]: starts the real `cohandle` binary as child processes
//!    — two workers (three in the scale scenario), the relay, two monitors and the API —
//!    configured by `COHANDLE__…` variables;
//! 3. [`workload`]: drives a steady mixed load over the bus and the API, every event's
//!    expected history predicted by the pure domain; [`hostile`]: hostile input, each with
//!    its expected outcome; meanwhile the faults: SIGKILLs, broker and database restarts
//!    (or [`scale`]'s, one of each kind in turn);
//! 4. drains, then [`audit`]s the [`ledger`] against the database and the dead letters,
//!    and prints one table ([`Report`]).
//!
//! This crate never changes the engine's data itself (beyond registering the agencies and
//! tokens a deployment would) and never judges by the engine's counters.

pub mod audit;
pub mod hostile;
pub mod infra;
pub mod ledger;
pub mod rng;
pub mod scale;
pub mod workload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cohandle_api::tokens::{self, NewToken};
use cohandle_api::Role as TokenRole;
use cohandle_store::agencies::{self, Agency, Known};
use cohandle_store::jurisdictions;
use cohandle_workflows::{AgencyCode, Calendar, Catalog};
use sea_orm::{ConnectionTrait, Database};

use crate::infra::{BrokerUser, Postgres, Rabbit};
use crate::ledger::{Door, Ledger};
use crate::rng::Rng;
use crate::workload::{Api, Bus, Drive, Progress, Watcher};
use cohandle_testkit::children::{Environment, Role};

/// How long and how hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// CI: about two to three minutes on two cores.
    Short,
    /// The long run recorded in RELIABILITY.md.
    Long,
    /// Scale-out and failover: a three-node RabbitMQ cluster, a PostgreSQL primary with a
    /// synchronous streaming replica, three workers; one fault of each kind in turn, each
    /// audited on its own (RELIABILITY.md, "The scale scenario").
    Scale,
}

/// The knobs of a profile.
#[derive(Debug, Clone)]
pub struct Plan {
    pub load: Duration,
    pub drivers: usize,
    pub worker_kills: u32,
    pub broker_restarts: u32,
    pub database_restarts: u32,
    pub relay_kills: u32,
    pub monitor_kills: u32,
    /// Pause between hostile inputs.
    pub hostile_every: Duration,
    /// How long the drain may take after the load.
    pub drain: Duration,
    /// Worker processes.
    pub workers: usize,
}

impl Profile {
    pub fn plan(self) -> Plan {
        match self {
            Profile::Short => Plan {
                load: Duration::from_secs(75),
                drivers: 16,
                worker_kills: 20,
                broker_restarts: 1,
                database_restarts: 1,
                relay_kills: 2,
                monitor_kills: 2,
                hostile_every: Duration::from_millis(250),
                drain: Duration::from_secs(60),
                workers: 2,
            },
            Profile::Long => Plan {
                load: Duration::from_secs(12 * 60),
                drivers: 24,
                worker_kills: 200,
                broker_restarts: 4,
                database_restarts: 4,
                relay_kills: 12,
                monitor_kills: 12,
                hostile_every: Duration::from_millis(250),
                drain: Duration::from_secs(180),
                workers: 2,
            },
            Profile::Scale => Plan {
                load: Duration::from_secs(300),
                drivers: 16,
                worker_kills: 0,
                broker_restarts: 0,
                database_restarts: 0,
                relay_kills: 0,
                monitor_kills: 0,
                hostile_every: Duration::from_millis(500),
                drain: Duration::from_secs(180),
                workers: 3,
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Short => "short",
            Profile::Long => "long",
            Profile::Scale => "scale",
        }
    }
}

/// A campaign run's settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub profile: Profile,
    /// The `cohandle` binary to run as the roles.
    pub binary: PathBuf,
    pub seed: u64,
    /// Overrides the profile's load duration (for quick trials).
    pub load: Option<Duration>,
}

/// Faults injected, by kind.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub worker_kills: u32,
    pub broker_restarts: u32,
    pub database_restarts: u32,
    pub relay_kills: u32,
    pub monitor_kills: u32,
    /// Role processes that ended without being killed (restarted by the campaign).
    pub unexpected_exits: u32,
    pub downtime: Duration,
}

impl Faults {
    pub fn total(&self) -> u32 {
        self.worker_kills
            + self.broker_restarts
            + self.database_restarts
            + self.relay_kills
            + self.monitor_kills
    }
}

/// What the campaign did and found.
#[derive(Debug, Clone)]
pub struct Report {
    pub profile: Profile,
    pub seed: u64,
    pub load_time: Duration,
    pub wall: Duration,
    pub proposals: usize,
    pub stalled: usize,
    pub events_applied: u64,
    pub over_bus: u64,
    pub over_api: u64,
    pub hostile_bus: usize,
    pub hostile_api: usize,
    /// Events that arrived before the step they depend on and were held, then applied or
    /// refused (from the roles' logs).
    pub held: Held,
    /// Steps sent over the bus without waiting for the decision of the step before.
    pub streamed: u64,
    pub faults: Faults,
    pub findings: audit::Findings,
    /// The scale scenario's faults, each with its own findings and recovery time.
    pub scale: Option<Vec<scale::Row>>,
    /// Hostile inputs tried, by kind.
    pub hostile_kinds: std::collections::BTreeMap<String, usize>,
}

impl Report {
    pub fn events_per_second(&self) -> f64 {
        self.events_applied as f64 / self.load_time.as_secs_f64().max(0.001)
    }

    /// Whether every must-be-0 figure is 0 and every chain verified.
    pub fn passed(&self) -> bool {
        !self.findings.failed()
    }

    /// The report table (Markdown).
    pub fn table(&self) -> String {
        let f = &self.findings;
        let x = &self.faults;
        let rows = [
            (
                "load held".to_owned(),
                format!(
                    "{:.1} events/s ({} workload events applied in {:.0} s: {} over the bus, {} over the API; {} proposals, {} timer events fired by the monitors)",
                    self.events_per_second(),
                    self.events_applied,
                    self.load_time.as_secs_f64(),
                    self.over_bus,
                    self.over_api,
                    self.proposals,
                    f.timer_events
                ),
            ),
            (
                "faults injected".to_owned(),
                match &self.scale {
                    Some(rows) => format!(
                        "{} of {} (below, by fault; {} skipped); unexpected role exits {}",
                        rows.iter().filter(|r| !r.detail.is_empty() && !r.skipped).count(),
                        scale::SCENARIO.len(),
                        rows.iter().filter(|r| r.skipped).count(),
                        x.unexpected_exits
                    ),
                    None => format!(
                        "{} (worker SIGKILL {}, RabbitMQ restarts {}, PostgreSQL crash-restarts {}, relay SIGKILL {}, monitor SIGKILL {}; {:.0} s of broker/database downtime; unexpected role exits {})",
                        x.total(),
                        x.worker_kills,
                        x.broker_restarts,
                        x.database_restarts,
                        x.relay_kills,
                        x.monitor_kills,
                        x.downtime.as_secs_f64(),
                        x.unexpected_exits
                    ),
                },
            ),
            (
                "events held until the step they depend on".to_owned(),
                format!(
                    "{} (then applied {}, refused {}); {} steps were sent over the bus without waiting for the step before",
                    self.held.applied + self.held.refused,
                    self.held.applied,
                    self.held.refused,
                    self.streamed
                ),
            ),
            (
                "hostile inputs tried".to_owned(),
                format!(
                    "{} ({} over the bus, {} over the API; {} dead letters, {} of them repeated copies)",
                    self.hostile_bus + self.hostile_api,
                    self.hostile_bus,
                    self.hostile_api,
                    f.dead_letters,
                    f.dead_letter_repeats
                ),
            ),
            ("events lost (must be 0)".to_owned(), f.lost.to_string()),
            ("events doubled (must be 0)".to_owned(), f.doubled.to_string()),
            (
                "unauthorised successes (must be 0)".to_owned(),
                f.unauthorised.to_string(),
            ),
            (
                "unexpected outcomes (must be 0)".to_owned(),
                f.unexpected.to_string(),
            ),
            (
                "proposals applied out of the order sent (must be 0)".to_owned(),
                f.out_of_order.to_string(),
            ),
            (
                "history gaps (must be 0)".to_owned(),
                f.gaps.to_string(),
            ),
            (
                "history chains verified".to_owned(),
                format!(
                    "{} of {} ({} rows){}",
                    f.chains_verified,
                    f.chains_total,
                    f.history_rows,
                    f.broken_chain
                        .as_ref()
                        .map_or(String::new(), |b| format!("; BROKEN: {b}"))
                ),
            ),
        ];
        let mut out = format!(
            "cohandle fault campaign ({}, seed {}, {:.0} s wall)\n\n| figure | value |\n| --- | --- |\n",
            self.profile.name(),
            self.seed,
            self.wall.as_secs_f64()
        );
        for (name, value) in rows {
            out.push_str(&format!("| {name} | {value} |\n"));
        }
        if let Some(rows) = &self.scale {
            out.push_str("\nBy fault (the inputs sent from 10 s before each fault to 10 s before the next):\n\n");
            out.push_str(&scale::table(rows));
        }
        out.push_str("\nHostile inputs by kind:\n");
        for (kind, n) in &self.hostile_kinds {
            out.push_str(&format!("- {kind}: {n}\n"));
        }
        if !f.details.is_empty() {
            out.push_str("\nFindings:\n");
            for d in &f.details {
                out.push_str(&format!("- {d}\n"));
            }
        }
        out
    }
}

const WORKER_USER: &str = "cohandle";

/// Held events that ended, as the engine logged them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Held {
    pub applied: usize,
    pub refused: usize,
}

impl Held {
    /// Counts the ends the roles' logs in `dir` record.
    fn count(dir: &std::path::Path) -> Self {
        let mut held = Self::default();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(log) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            held.applied += log.matches("held event applied").count();
            held.refused += log.matches("held event refused").count();
        }
        held
    }
}

/// The campaign's broker: one node, or the scale scenario's cluster.
#[derive(Debug)]
enum Broker {
    Node(Rabbit),
    Cluster(infra::Cluster),
}

impl Broker {
    fn url(&self, user: &BrokerUser) -> String {
        match self {
            Broker::Node(node) => node.url(user),
            Broker::Cluster(cluster) => cluster.url(user),
        }
    }

    /// Every node as `host:port`.
    fn nodes(&self) -> Vec<String> {
        let at = |n: &Rabbit| format!("{}:{}", n.host, n.port);
        match self {
            Broker::Node(node) => vec![at(node)],
            Broker::Cluster(cluster) => cluster.nodes.iter().map(at).collect(),
        }
    }

    fn describe(&self) -> String {
        let nodes = self.nodes().join(", ");
        match self {
            Broker::Node(node) => format!("node {} on {nodes}", node.node),
            Broker::Cluster(cluster) => format!(
                "cluster of {} nodes on {nodes}{}",
                cluster.nodes.len(),
                cluster
                    .no_partitions
                    .as_ref()
                    .map_or(String::new(), |why| format!(" (no partitions: {why})"))
            ),
        }
    }
}

fn secret(rng: &mut Rng) -> String {
    rng.bytes(16).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one campaign and audits it. An error means the campaign itself could not run
/// (a service would not start); what the campaign found is in the [`Report`].
pub async fn run(options: Options) -> anyhow::Result<Report> {
    // On Ctrl-C or SIGTERM the campaign is dropped where it stands: the guards stop its
    // PostgreSQL, its RabbitMQ node and the role processes, so nothing outlives it.
    let interrupted = async {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    };
    tokio::select! {
        report = campaign(options) => report,
        () = interrupted => bail!("interrupted; the campaign's services and roles are stopped"),
    }
}

async fn campaign(options: Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let plan = options.profile.plan();
    let load = options.load.unwrap_or(plan.load);
    let mut rng = Rng::new(options.seed);
    let run_id = format!("{:04}", options.seed % 10_000);
    if !options.binary.exists() {
        bail!(
            "the cohandle binary {} does not exist (build it: cargo build -p cohandle-cli, or set COHANDLE_BIN)",
            options.binary.display()
        );
    }

    // --- the campaign's own services ----------------------------------------------------
    let mut passwords: HashMap<String, String> = HashMap::new();
    let mut users = vec![BrokerUser {
        name: WORKER_USER.to_owned(),
        password: secret(&mut rng),
        configure: r"^cohandle\.".to_owned(),
        write: r"^cohandle\.".to_owned(),
        read: r"^cohandle\.".to_owned(),
        inbound_keys: None,
    }];
    for (code, _) in workload::agencies() {
        let escaped = code.replace('.', r"\.");
        users.push(BrokerUser {
            name: code.to_owned(),
            password: secret(&mut rng),
            configure: "^$".to_owned(),
            write: r"^cohandle\.in$".to_owned(),
            read: format!(r"^cohandle\.agency\.{escaped}$"),
            inbound_keys: Some(format!(r"^{escaped}\.")),
        });
    }
    for u in &users {
        passwords.insert(u.name.clone(), u.password.clone());
    }
    let scale = options.profile == Profile::Scale;
    let broker_users = users.clone();
    let broker = tokio::task::spawn_blocking(move || {
        anyhow::Ok(if scale {
            Broker::Cluster(infra::Cluster::start(&broker_users, 3)?)
        } else {
            Broker::Node(Rabbit::start(&broker_users)?)
        })
    });
    let postgres = tokio::task::spawn_blocking(move || {
        let primary = Postgres::start()?;
        let replica = if scale {
            Some(primary.start_replica()?)
        } else {
            None
        };
        anyhow::Ok((primary, replica))
    });
    let (postgres, replica) = postgres
        .await?
        .context("starting the campaign's PostgreSQL")?;
    let broker = broker.await?.context("starting the campaign's RabbitMQ")?;
    eprintln!(
        "campaign: PostgreSQL on 127.0.0.1:{}{}, RabbitMQ {}",
        postgres.port,
        replica.as_ref().map_or(String::new(), |r| format!(
            " (synchronous replica on 127.0.0.1:{})",
            r.port
        )),
        broker.describe()
    );
    let admin = Database::connect(postgres.url("postgres")).await?;
    admin.execute_unprepared("CREATE DATABASE cohandle").await?;
    admin.close().await?;
    // With a replica, the roles (and the audit) name both servers and use the writable one.
    let database_url = match &replica {
        Some(replica) => format!("{},{}", postgres.url("cohandle"), replica.url("cohandle")),
        None => postgres.url("cohandle"),
    };
    let db = cohandle_store::connect::connect_and_migrate(&database_url).await?;
    let now = workload::now();
    let secrets = register(&db, now, "campaign", None).await?;
    // Issued three days ago for one day: expired two days ago.
    let expired = tokens::create(
        &db,
        now - chrono::Duration::days(3),
        token(workload::HANDLERS[0], TokenRole::Agency, Some(1))?,
    )
    .await?
    .secret;
    let revoked = tokens::create(
        &db,
        now,
        token(workload::HANDLERS[1], TokenRole::Agency, None)?,
    )
    .await?;
    tokens::revoke(&db, now, &revoked.token.id).await?;

    // --- the roles ----------------------------------------------------------------------
    let workdir = tempfile::Builder::new()
        .prefix("cohandle-campaign.")
        .tempdir()?;
    let api_port = infra::free_port()?;
    // Deadlines past the shipped holiday data are provisional, in the roles as in the
    // generator's model.
    let calendar = Calendar::china_official();
    let worker_url = broker.url(&users[0]);
    let mut env = Environment {
        binary: options.binary.clone(),
        workdir: workdir.path().to_path_buf(),
        vars: vec![
            ("COHANDLE__DATABASE__URL".into(), database_url.clone()),
            ("COHANDLE__AMQP__URL".into(), worker_url.clone()),
            (
                "COHANDLE__HTTP__LISTEN".into(),
                format!("127.0.0.1:{api_port}"),
            ),
            // The engine logs each held event's end at info: the report counts them.
            ("RUST_LOG".into(), "warn,cohandle_store::batch=info".into()),
            // Two workers and two monitors on one host: their endpoints' default ports clash.
            ("COHANDLE__METRICS__LISTEN".into(), "off".into()),
        ],
    };
    if let Some(replica) = &replica {
        // Supervisors' lists read the replica.
        env.vars.push((
            "COHANDLE__DATABASE__READ_URL".into(),
            replica.url("cohandle"),
        ));
    }
    let mut roles: Vec<Role> = (1..=plan.workers)
        .map(|n| Role::new(&format!("worker-{n}"), &["worker"], &env))
        .collect();
    roles.extend([
        Role::new("relay", &["relay"], &env),
        Role::new(
            "monitor-1",
            &["monitor", "--owner", "campaign-monitor-1"],
            &env,
        ),
        Role::new(
            "monitor-2",
            &["monitor", "--owner", "campaign-monitor-2"],
            &env,
        ),
        Role::new("api", &["api"], &env),
    ]);
    let roles = Arc::new(Mutex::new(roles));
    for role in lock(&roles).iter_mut() {
        role.start()?;
        // The first worker registers first, and so is the active consumer of each
        // partition; the others wait as standbys.
        if role.name == "worker-1" {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let api = Api {
        base: format!("http://127.0.0.1:{api_port}"),
        client: reqwest::Client::new(),
        tokens: Arc::new(secrets),
        server_errors: Arc::default(),
    };
    ready(&api, &worker_url).await?;
    eprintln!(
        "campaign: roles up (logs in {}); load for {:.0} s",
        workdir.path().display(),
        load.as_secs_f64()
    );

    // --- load, hostile input and faults at once -------------------------------------------
    let load_start = Instant::now();
    let load_end = load_start + load;
    let give_up = load_end + plan.drain;
    let ledger = Ledger::default();
    let progress = Arc::new(Progress::default());
    let bus = Arc::new(Bus::new(broker.nodes(), passwords));
    let watcher = Watcher::new(db.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watching = tokio::spawn(watcher.clone().run(stop_rx.clone()));
    let targets = Arc::new(Mutex::new(Vec::new()));
    let drive = Arc::new(Drive {
        bus: bus.clone(),
        api: api.clone(),
        watcher,
        ledger: ledger.clone(),
        progress: progress.clone(),
        targets: targets.clone(),
        give_up,
    });
    let catalog = Arc::new(Catalog::shipped());
    let calendar = Arc::new(calendar);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut drivers = tokio::task::JoinSet::new();
    for _ in 0..plan.drivers {
        let (drive, catalog, calendar, counter) = (
            drive.clone(),
            catalog.clone(),
            calendar.clone(),
            counter.clone(),
        );
        let mut rng = rng.fork();
        let run_id = run_id.clone();
        drivers.spawn(async move {
            while Instant::now() < load_end {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let plan = workload::plan(&mut rng, &run_id, n, &catalog, &calendar)?;
                drive.progress.proposals.fetch_add(1, Ordering::Relaxed);
                drive.run(plan, &mut rng).await;
            }
            anyhow::Ok(())
        });
    }
    let mut hostile = hostile::Hostile {
        bus: bus.clone(),
        api: api.clone(),
        ledger: ledger.clone(),
        targets,
        bad: hostile::BadTokens {
            expired,
            revoked: revoked.secret,
        },
        run: run_id.clone(),
        rng: rng.fork(),
        n: 0,
        give_up,
        catalog: catalog.clone(),
        calendar: calendar.clone(),
    };
    let hostile_every = plan.hostile_every;
    let hostile_task = tokio::spawn(async move {
        let mut kind = 0;
        // Let the first proposals be assigned, so that there is something to aim at.
        tokio::time::sleep(Duration::from_secs(3)).await;
        while Instant::now() < load_end {
            hostile.bus(kind).await;
            hostile.api(kind).await;
            kind += 1;
            tokio::time::sleep(hostile_every).await;
        }
    });
    let postgres = Arc::new(Mutex::new(postgres));
    let faults = Arc::new(Mutex::new(Faults::default()));
    let happened = Arc::new(Mutex::new(Vec::new()));
    // What the faults act on, kept until the services stop.
    let (fault_task, scaled, rabbit) = match (broker, replica) {
        (Broker::Cluster(cluster), Some(replica)) => {
            let cluster = Arc::new(Mutex::new(cluster));
            let targets = scale::Targets {
                roles: roles.clone(),
                cluster: cluster.clone(),
                primary: postgres.clone(),
                replica: Arc::new(Mutex::new(replica)),
            };
            let task = tokio::spawn(scale::inject(
                targets.clone(),
                load_start,
                load,
                happened.clone(),
            ));
            (task, Some(targets), None)
        }
        (Broker::Node(rabbit), _) => {
            let rabbit = Arc::new(Mutex::new(rabbit));
            let task = tokio::spawn(inject(
                schedule(&plan, load, &mut rng),
                load_start,
                roles.clone(),
                postgres.clone(),
                rabbit.clone(),
                faults.clone(),
                rng.fork(),
            ));
            (task, None, Some(rabbit))
        }
        (Broker::Cluster(_), None) => bail!("a cluster without a replica"),
    };
    let samples: Arc<Mutex<scale::Samples>> = Arc::default();
    let sampling = {
        let (samples, progress, mut stop) = (samples.clone(), progress.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                lock(&samples).push((Instant::now(), progress.decided.load(Ordering::Relaxed)));
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
        })
    };
    let supervisor = {
        let roles = roles.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
                for role in lock(&roles).iter_mut() {
                    if let Err(error) = role.check() {
                        tracing::error!(role = %role.name, %error, "cannot restart a role");
                    }
                }
            }
        })
    };

    while let Some(ended) = drivers.join_next().await {
        ended??;
    }
    let load_time = load_start.elapsed();
    hostile_task.await?;
    fault_task.await??;
    eprintln!(
        "campaign: load over after {:.0} s; draining",
        load_time.as_secs_f64()
    );
    drain(
        &db,
        &worker_url,
        give_up.max(Instant::now() + Duration::from_secs(15)),
    )
    .await;
    let _ = stop_tx.send(true);
    supervisor.await?;
    watching.await?;
    sampling.await?;
    let faults = {
        let mut f = lock(&faults).clone();
        f.unexpected_exits = lock(&roles).iter().map(|r| r.unexpected_exits).sum();
        f
    };
    // The roles finish their work in hand before the audit reads.
    let stopping = roles.clone();
    tokio::task::spawn_blocking(move || {
        for role in lock(&stopping).iter_mut() {
            role.terminate(Duration::from_secs(10));
        }
    })
    .await?;

    // --- audit ----------------------------------------------------------------------------
    let letters = audit::dead_letters(&db).await?;
    let sent = ledger.snapshot();
    let mut findings = audit::audit(&db, &sent, &letters, workload::now()).await?;
    let scale = scaled.is_some().then(|| {
        // Throughput is judged over the load only: the drivers stop at its end.
        let samples: scale::Samples = lock(&samples)
            .iter()
            .copied()
            .filter(|(t, _)| *t <= load_end)
            .collect();
        scale::rows(
            &lock(&happened),
            &findings,
            &ledger.times(),
            &samples,
            load_start,
        )
    });
    let server_errors = api.server_errors.load(Ordering::Relaxed);
    if server_errors > 0 {
        findings.unexpected += server_errors as usize;
        findings.details.push(format!(
            "{server_errors} answer(s) 5xx other than 503 to planned steps (retried with the same key)"
        ));
    }
    db.close().await?;
    let hostile_bus = sent
        .iter()
        .filter(|s| s.hostile && s.door == Door::Bus)
        .count();
    let hostile_api = sent
        .iter()
        .filter(|s| s.hostile && s.door == Door::Api)
        .count();
    let report = Report {
        profile: options.profile,
        seed: options.seed,
        load_time,
        wall: Duration::ZERO,
        proposals: progress.proposals.load(Ordering::Relaxed),
        stalled: progress.stalled.load(Ordering::Relaxed),
        events_applied: progress.decided.load(Ordering::Relaxed),
        over_bus: progress.over_bus.load(Ordering::Relaxed),
        over_api: progress.over_api.load(Ordering::Relaxed),
        hostile_bus,
        hostile_api,
        faults,
        findings,
        scale,
        held: Held::count(workdir.path()),
        streamed: progress.streamed.load(Ordering::Relaxed),
        hostile_kinds: sent.iter().filter(|s| s.hostile).fold(
            std::collections::BTreeMap::new(),
            |mut kinds, s| {
                let door = if s.door == Door::Bus { "bus" } else { "API" };
                *kinds.entry(format!("{door}: {}", s.what)).or_insert(0) += 1;
                kinds
            },
        ),
    };
    if report.findings.failed() {
        eprintln!(
            "campaign: the roles' logs are kept in {}",
            workdir.keep().display()
        );
    }
    // The services stop here (their guards), before the report is returned.
    tokio::task::spawn_blocking(move || {
        drop(scaled);
        drop(rabbit);
        drop(postgres);
    })
    .await?;
    Ok(Report {
        wall: started.elapsed(),
        ..report
    })
}

fn token(code: &str, role: TokenRole, days: Option<u32>) -> anyhow::Result<NewToken> {
    Ok(NewToken {
        agency: AgencyCode::parse(code)?,
        role,
        name: Some(format!("campaign {code}")),
        expires_in_days: days,
    })
}

/// Registers the workload's agencies and issues each a working token (named
/// `<label> <code>`, valid `days` or without end); agency code → bearer secret.
pub async fn register(
    db: &sea_orm::DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
    label: &str,
    days: Option<u32>,
) -> anyhow::Result<HashMap<String, String>> {
    let mut secrets = HashMap::new();
    for (code, kind) in workload::agencies() {
        agencies::register(
            db,
            Agency {
                code: code.to_owned(),
                name: code.to_owned(),
                kind: kind.to_owned(),
                created_at: now,
            },
            Known::Update,
        )
        .await?;
        // Every agency of the workload serves Chongqing's congress, whose keys it uses.
        jurisdictions::join(db, "cq", &[code.to_owned()]).await?;
        let role = match kind {
            "assigner" => TokenRole::Assigner,
            "congress_office" => TokenRole::CongressOffice,
            "supervisor" => TokenRole::Supervisor,
            _ => TokenRole::Agency,
        };
        let mut new = token(code, role, days)?;
        new.name = Some(format!("{label} {code}"));
        let issued = tokens::create(db, now, new).await?;
        secrets.insert(code.to_owned(), issued.secret);
    }
    Ok(secrets)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits until the API answers and the workers have declared the topology.
async fn ready(api: &Api, worker_url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let api_up = api
            .send(reqwest::Method::GET, "/readyz", None, None, None)
            .await
            .is_ok_and(|a| a.status == 200);
        let queues = async {
            let connection =
                cohandle_bus::connect::connect_url(worker_url, "campaign-ready").await?;
            let channel = connection.create_channel().await?;
            let declared = channel
                .queue_declare(
                    &cohandle_bus::topology::partition_queue(0),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await;
            let _ = connection.close(200, "ready").await;
            anyhow::Ok(declared.is_ok())
        };
        if api_up && queues.await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the roles did not come up within 60 s (see their logs)");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the partition and retry queues are empty and no due timer is pending, for a
/// few seconds in a row, or until `until`.
async fn drain(db: &sea_orm::DatabaseConnection, worker_url: &str, until: Instant) {
    let mut quiet = 0;
    while Instant::now() < until && quiet < 3 {
        let busy = async {
            let connection =
                cohandle_bus::connect::connect_url(worker_url, "campaign-drain").await?;
            let channel = connection.create_channel().await?;
            let mut waiting = 0;
            let mut queues: Vec<String> = (0..cohandle_bus::Topology::default().partitions)
                .map(cohandle_bus::topology::partition_queue)
                .collect();
            queues.push(cohandle_bus::topology::RETRY_QUEUE.to_owned());
            for queue in queues {
                let q = channel
                    .queue_declare(
                        &queue,
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        Default::default(),
                    )
                    .await?;
                waiting += q.message_count();
            }
            let _ = connection.close(200, "drained").await;
            let due = db
                .query_one(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT count(*) AS n FROM timers WHERE state = 'pending' AND fire_at <= now()",
                ))
                .await?
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()?
                .unwrap_or(0);
            anyhow::Ok(u64::from(waiting) + due as u64)
        };
        quiet = match busy.await {
            Ok(0) => quiet + 1,
            _ => 0,
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    KillWorker,
    RestartBroker { crash: bool },
    RestartDatabase,
    KillRelay,
    KillMonitor,
}

/// When each fault happens (offsets from the start of the load), spread over the load.
fn schedule(plan: &Plan, load: Duration, rng: &mut Rng) -> Vec<(Duration, Fault)> {
    let at = |fraction: f64| load.mul_f64(fraction);
    let mut faults = Vec::new();
    let spread = |n: u32, rng: &mut Rng, from: f64, to: f64| -> Vec<Duration> {
        (0..n)
            .map(|i| {
                let slot = (to - from) / f64::from(n.max(1));
                let jitter = (rng.below(1000) as f64 / 1000.0) * slot;
                at(from + slot * f64::from(i) + jitter)
            })
            .collect()
    };
    for t in spread(plan.worker_kills, rng, 0.05, 0.95) {
        faults.push((t, Fault::KillWorker));
    }
    for (i, t) in spread(plan.broker_restarts, rng, 0.2, 0.8)
        .into_iter()
        .enumerate()
    {
        faults.push((t, Fault::RestartBroker { crash: i % 2 == 1 }));
    }
    for t in spread(plan.database_restarts, rng, 0.3, 0.9) {
        faults.push((t, Fault::RestartDatabase));
    }
    for t in spread(plan.relay_kills, rng, 0.1, 0.9) {
        faults.push((t, Fault::KillRelay));
    }
    for t in spread(plan.monitor_kills, rng, 0.1, 0.9) {
        faults.push((t, Fault::KillMonitor));
    }
    faults.sort_by_key(|(t, _)| *t);
    faults
}

async fn inject(
    schedule: Vec<(Duration, Fault)>,
    start: Instant,
    roles: Arc<Mutex<Vec<Role>>>,
    postgres: Arc<Mutex<Postgres>>,
    rabbit: Arc<Mutex<Rabbit>>,
    faults: Arc<Mutex<Faults>>,
    mut rng: Rng,
) -> anyhow::Result<()> {
    for (at, fault) in schedule {
        tokio::time::sleep_until((start + at).into()).await;
        let (roles, postgres, rabbit, faults) = (
            roles.clone(),
            postgres.clone(),
            rabbit.clone(),
            faults.clone(),
        );
        let pause = Duration::from_millis(rng.below(400) as u64);
        let which = rng.below(2) + 1;
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let kill = |name: &str| -> anyhow::Result<()> {
                let mut roles = lock(&roles);
                if let Some(role) = roles.iter_mut().find(|r| r.name == name) {
                    role.kill();
                    std::thread::sleep(pause);
                    role.start()?;
                }
                Ok(())
            };
            match fault {
                Fault::KillWorker => {
                    kill(&format!("worker-{which}"))?;
                    lock(&faults).worker_kills += 1;
                }
                Fault::KillRelay => {
                    kill("relay")?;
                    lock(&faults).relay_kills += 1;
                }
                Fault::KillMonitor => {
                    kill(&format!("monitor-{which}"))?;
                    lock(&faults).monitor_kills += 1;
                }
                Fault::RestartBroker { crash } => {
                    eprintln!(
                        "campaign: restarting RabbitMQ ({})",
                        if crash { "SIGKILL" } else { "stop" }
                    );
                    let down = lock(&rabbit).restart(crash)?;
                    let mut f = lock(&faults);
                    f.broker_restarts += 1;
                    f.downtime += down;
                }
                Fault::RestartDatabase => {
                    eprintln!("campaign: crashing and restarting PostgreSQL");
                    let down = lock(&postgres).crash_and_restart()?;
                    let mut f = lock(&faults);
                    f.database_restarts += 1;
                    f.downtime += down;
                }
            }
            Ok(())
        })
        .await??;
    }
    Ok(())
}
