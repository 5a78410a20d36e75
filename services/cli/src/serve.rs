//! `cohandle api` and `cohandle serve`: the HTTP API and the web workbench alone, or every
//! role in one process, sharing one engine and one shutdown signal (SIGTERM or Ctrl-C).
//! Each role finishes what it is doing before the process ends.

use anyhow::Context;
use cohandle_api::Service;
use cohandle_store::{monitor, Engine};
use tokio::sync::watch;
use tokio::task::JoinSet;

use cohandle_telemetry::{Metrics, Role};

use crate::observe::RoleProbe;
use crate::settings::Settings;

/// Every role `cohandle serve` runs: one registry for the process, on `http.listen`.
const ALL: [Role; 4] = [Role::Api, Role::Worker, Role::Relay, Role::Monitor];

/// How often `cohandle serve` samples the backlogs, queue depths and due timers.
const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Which roles run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// The HTTP API only (`cohandle api`).
    Api,
    /// The API, the deadline monitor and, when `amqp.url` is set, the broker roles
    /// (`cohandle serve`).
    All,
}

/// A running role's task: its name and how it ended.
pub type Running = JoinSet<(&'static str, anyhow::Result<()>)>;

/// Completes once shutdown is asked for; every role gets a clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub async fn wait(mut self) {
        // A dropped sender means the process is going away: stop as well.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

pub async fn run(settings: &Settings, engine: Engine, roles: Roles) -> anyhow::Result<()> {
    let (stop, receiver) = watch::channel(false);
    let shutdown = Shutdown(receiver);
    let listen = settings.http.listen.as_str();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (http.listen, COHANDLE__HTTP__LISTEN)")
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    let mut running = Running::new();
    let metrics = match roles {
        Roles::Api => Metrics::new(&[Role::Api]),
        Roles::All => Metrics::new(&ALL),
    };

    let mut service = Service::new(engine.clone())
        .with_rate_limit(settings.http.rate_limit()?)
        .with_group_commit(settings.http.group_commit()?)
        .with_metrics(metrics.clone());
    if let Some(url) = &settings.database.read_url {
        let replica = cohandle_store::connect::connect(url)
            .await
            .with_context(|| {
                format!(
                    "cannot open the replica database.read_url (COHANDLE__DATABASE__READ_URL) = {}",
                    crate::settings::redact(url)
                )
            })?;
        service = service.with_replica(cohandle_store::handle::Replica::new(replica));
    }
    let api_stop = shutdown.clone().wait();
    running.spawn(async move {
        let result = cohandle_web::serve(listener, service, api_stop)
            .await
            .context("serving the HTTP API and the workbench");
        ("api", result)
    });
    if roles == Roles::All {
        let monitor_stop = shutdown.clone().wait();
        let monitor_engine = engine.clone();
        let options = crate::observe::monitor_options(monitor::Options::default(), &metrics);
        running.spawn(async move {
            let result = monitor::run(monitor_engine, options, monitor_stop)
                .await
                .context("running the deadline monitor");
            ("monitor", result)
        });
        spawn_broker_roles(settings, &engine, &metrics, &shutdown, &mut running)?;
        // The API's `/metrics` does not sample: keep the sampled gauges fresh instead.
        let probe = RoleProbe::new(&ALL, &engine, Some(&settings.amqp));
        tokio::spawn(crate::observe::sample(probe, metrics.clone(), SAMPLE_EVERY));
    }
    println!("cohandle API on http://{address} (OpenAPI document at /openapi.json)");
    println!("workbench on http://{address}/ (sign in with a token from `cohandle token create`)");
    if roles == Roles::All {
        println!("deadline monitor running");
    }

    let mut failure = None;
    tokio::select! {
        () = crate::shutdown_signal() => tracing::info!("shutdown asked for; finishing work in progress"),
        Some(ended) = running.join_next() => failure = ended_early(ended),
    }
    let _ = stop.send(true);
    while let Some(ended) = running.join_next().await {
        if let Err(error) = finished(ended) {
            failure.get_or_insert(error);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The roles that talk to RabbitMQ (the bus worker and the outbox relay) join `serve` here
/// when `amqp.url` is set: each is spawned into `running` with the engine and a clone of
/// `shutdown`, like the monitor above.
fn spawn_broker_roles(
    settings: &Settings,
    engine: &Engine,
    metrics: &Metrics,
    shutdown: &Shutdown,
    running: &mut Running,
) -> anyhow::Result<()> {
    if settings.amqp.url.is_none() {
        return Ok(());
    }
    let amqp = &settings.amqp;
    let worker = cohandle_bus::Worker::new(engine.clone(), amqp.worker_options()?)
        .with_metrics(metrics.clone());
    let worker_stop = shutdown.clone().wait();
    running.spawn(async move {
        let result = worker
            .run(worker_stop)
            .await
            .context("running the bus worker");
        ("worker", result)
    });
    let relay = cohandle_bus::Relay::new(engine.clone(), amqp.relay_options()?)
        .with_metrics(metrics.clone());
    let relay_stop = shutdown.clone().wait();
    running.spawn(async move {
        let result = relay
            .run(relay_stop)
            .await
            .context("running the outbox relay");
        ("relay", result)
    });
    println!("bus worker and outbox relay running");
    Ok(())
}

/// A role that ended before shutdown was asked for is a failure, even when it says Ok.
fn ended_early(
    ended: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> Option<anyhow::Error> {
    let error = match ended {
        Ok((name, Ok(()))) => anyhow::anyhow!("the {name} role stopped on its own"),
        Ok((name, Err(error))) => error.context(format!("the {name} role failed")),
        Err(error) => anyhow::Error::new(error).context("a role panicked"),
    };
    tracing::error!(message = "A role ended early; shutting the others down", error = %format!("{error:#}"));
    Some(error)
}

fn finished(
    ended: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> anyhow::Result<()> {
    match ended {
        Ok((_, result)) => result,
        Err(error) => Err(anyhow::Error::new(error).context("a role panicked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_that_ends_before_shutdown_is_a_failure() {
        let early = ended_early(Ok(("monitor", Ok(())))).unwrap();
        assert!(format!("{early:#}").contains("monitor role stopped on its own"));
        assert!(finished(Ok(("api", Ok(())))).is_ok());
        let failed = finished(Ok(("api", Err(anyhow::anyhow!("port taken"))))).unwrap_err();
        assert!(format!("{failed:#}").contains("port taken"));
    }

    #[tokio::test]
    async fn shutdown_completes_for_every_clone_once_asked() {
        let (stop, receiver) = watch::channel(false);
        let shutdown = Shutdown(receiver);
        let waiters: Vec<_> = (0..3)
            .map(|_| tokio::spawn(shutdown.clone().wait()))
            .collect();
        stop.send(true).unwrap();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        // A dropped sender also stops the roles instead of leaving them running.
        let (stop, receiver) = watch::channel(false);
        drop(stop);
        Shutdown(receiver).wait().await;
    }
}
