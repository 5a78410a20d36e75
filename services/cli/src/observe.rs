//! The endpoints of the roles without an HTTP API: `cohandle worker`, `relay` and `monitor`
//! serve `/metrics`, `/healthz` and `/readyz` on `metrics.listen` (their own default port
//! each; `off`: none). What a role samples for its gauges at a scrape, and what makes it
//! ready, is its [`RoleProbe`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cohandle_bus::probe::Broker;
use cohandle_store::{gauges, held, monitor, Engine};
use cohandle_telemetry::endpoint::{self, Probe};
use cohandle_telemetry::{Metrics, Role};

use crate::settings::{Amqp, Settings};

/// Readiness and sampled gauges of one or more roles sharing a process.
#[derive(Debug, Clone)]
pub struct RoleProbe {
    roles: Vec<Role>,
    engine: Engine,
    /// The bus roles' broker (`amqp.url`), with the number of partition queues.
    broker: Option<(Arc<Broker>, u16)>,
}

impl RoleProbe {
    /// `amqp`: for roles that need the broker (their readiness includes it).
    pub fn new(roles: &[Role], engine: &Engine, amqp: Option<&Amqp>) -> Self {
        let name = format!("cohandle-probe-{}", std::process::id());
        Self {
            roles: roles.to_vec(),
            engine: engine.clone(),
            broker: amqp.and_then(|a| {
                let url = a.url.clone()?;
                Some((Arc::new(Broker::new(url, name)), a.partitions))
            }),
        }
    }
}

impl Probe for RoleProbe {
    async fn ready(&self) -> Result<(), String> {
        gauges::ping(&self.engine)
            .await
            .map_err(|error| format!("the database does not answer: {error}"))?;
        if let Some((broker, _)) = &self.broker {
            broker
                .check()
                .await
                .map_err(|error| format!("the broker does not answer: {error}"))?;
        }
        Ok(())
    }

    async fn collect(&self, metrics: &Metrics) {
        if let (true, Some((broker, partitions))) =
            (self.roles.contains(&Role::Worker), &self.broker)
        {
            match broker.partition_depths(*partitions).await {
                Ok(depths) => {
                    for (partition, ready) in depths {
                        metrics.consumer_lag(partition, ready);
                    }
                }
                Err(error) => {
                    tracing::warn!(message = "Failed to read the partition queues' depths", %error)
                }
            }
        }
        if self.roles.contains(&Role::Worker) || self.roles.contains(&Role::Monitor) {
            match held::count(&self.engine).await {
                Ok(held) => metrics.held_events(held),
                Err(error) => tracing::warn!(message = "Failed to count the held events", %error),
            }
        }
        if self.roles.contains(&Role::Relay) {
            match gauges::outbox(&self.engine).await {
                Ok(backlog) => {
                    let now = self.engine.clock().now();
                    let age = backlog
                        .oldest
                        .map(|at| (now - at).to_std().unwrap_or(Duration::ZERO));
                    metrics.outbox(backlog.rows, age);
                }
                Err(error) => tracing::warn!(message = "Failed to read the outbox backlog", %error),
            }
        }
        if self.roles.contains(&Role::Monitor) {
            match gauges::timers_due(&self.engine).await {
                Ok(due) => metrics.timers_due(due),
                Err(error) => tracing::warn!(message = "Failed to count the due timers", %error),
            }
        }
    }
}

/// Serves `role`'s endpoints on `metrics.listen` (or its default) for the rest of the
/// process; nothing for `off`. An address that cannot be bound stops the role at its start.
pub async fn start(
    settings: &Settings,
    role: Role,
    metrics: &Metrics,
    probe: RoleProbe,
) -> anyhow::Result<()> {
    let Some(address) = endpoint::listen_address(settings.metrics.listen.as_deref(), role) else {
        return Ok(());
    };
    let listener = endpoint::bind(&address)
        .await
        .with_context(|| format!("cohandle {}", role.as_str()))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    eprintln!(
        "cohandle {}: /metrics, /healthz and /readyz on http://{bound}",
        role.as_str()
    );
    let metrics = metrics.clone();
    tokio::spawn(async move {
        if let Err(error) = endpoint::serve(listener, metrics, probe, std::future::pending()).await
        {
            tracing::error!(message = "Failed to serve the metrics endpoint", %error);
        }
    });
    Ok(())
}

/// A monitor that counts how late each timer it fires is, into `metrics`.
pub fn monitor_options(mut options: monitor::Options, metrics: &Metrics) -> monitor::Options {
    let (passes, mut fired) = tokio::sync::mpsc::unbounded_channel::<monitor::Pass>();
    options.passes = Some(passes);
    let metrics = metrics.clone();
    tokio::spawn(async move {
        while let Some(pass) = fired.recv().await {
            for lateness in pass.lateness {
                metrics.timer_fired(lateness.to_std().unwrap_or(Duration::ZERO));
            }
        }
    });
    options
}

/// Refreshes the sampled gauges every `every`, for a process whose `/metrics` is the API's
/// (`cohandle serve`), which does not ask the probe at each scrape.
pub async fn sample(probe: RoleProbe, metrics: Metrics, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        probe.collect(&metrics).await;
    }
}
