//! `cohandle worker`, `relay` and `monitor` as an operator runs them, scraped over HTTP on
//! `metrics.listen`: each test gives the role a PostgreSQL database and a RabbitMQ vhost of
//! its own, makes it work, and reads the series the dashboards and alerts use.

// A test that cannot set up its database or broker has nothing to say: it panics.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cohandle_bus::connect;
use cohandle_bus::publish::{publish_inbound, Inbound};
use cohandle_proto::ContentType;
use cohandle_store::{gauges, Engine, SystemClock};
use cohandle_workflows::{Calendar, Catalog, Event};
use lapin::options::ConfirmSelectOptions;
use sea_orm::{ConnectionTrait, Database};

const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn broker_host() -> String {
    std::env::var("COHANDLE_TEST_AMQP_HOST").unwrap_or_else(|_| "127.0.0.1:5672".to_owned())
}

/// A database and a vhost of the test's own, dropped at its end.
struct Scratch {
    name: String,
}

impl Scratch {
    async fn new() -> Self {
        let name = format!("cohandle_metrics_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let scratch = Self { name };
        scratch.vhost(reqwest::Method::PUT).await;
        let client = reqwest::Client::new();
        let granted = client
            .put(format!("{MANAGEMENT}/permissions/{}/guest", scratch.name))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}))
            .send()
            .await
            .unwrap();
        assert!(granted.status().is_success(), "{granted:?}");
        scratch
    }

    /// Creates (PUT) or deletes (DELETE) the vhost.
    async fn vhost(&self, method: reqwest::Method) {
        let response = reqwest::Client::new()
            .request(method, format!("{MANAGEMENT}/vhosts/{}", self.name))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success() || response.status() == 404,
            "{response:?}"
        );
    }

    fn database_url(&self) -> String {
        format!("{}/{}", postgres_server(), self.name)
    }

    fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/{}", broker_host(), self.name)
    }

    async fn engine(&self) -> Engine {
        let db = cohandle_store::connect::connect_and_migrate(&self.database_url())
            .await
            .unwrap();
        Engine::new(
            db,
            Arc::new(Catalog::shipped()),
            Arc::new(Calendar::china_official()),
            Arc::new(SystemClock),
        )
    }

    async fn drop_all(self) {
        self.vhost(reqwest::Method::DELETE).await;
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// A role running as a child process, killed when dropped.
struct Role {
    child: Child,
    address: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Role {
    fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        // A free port: bound, read, released for the role to take.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .to_string();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cohandle"));
        command
            .args(args)
            .env("COHANDLE__METRICS__LISTEN", &address)
            .env_remove("COHANDLE__AMQP__URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().expect("cohandle runs"),
            address,
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://{}{path}", self.address))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Scrapes `/metrics` until `done` holds for the page (at most 60 s); returns the page.
    async fn scrape_until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the role exited ({status}) while waiting for {what}");
            }
            if let Some((200, page)) = self.get("/metrics").await {
                if done(&page) {
                    return page;
                }
                last = page;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("waited in vain for {what}; last page:\n{last}");
    }

    /// Asks `/readyz` until it answers `status` (at most 30 s).
    async fn ready_becomes(&self, status: u16) {
        for _ in 0..150 {
            if self.get("/readyz").await.map(|(s, _)| s) == Some(status) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("/readyz never answered {status}");
    }
}

/// The value of the sample `series` (name and labels, as printed) on a metrics page.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Case 0942's assignment (assigned 2020-02-26: every deadline it sets is long past), sent
/// by `agency`.
fn assignment(agency: &str) -> Event {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/dev/bus/case-0942.json"
    );
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut envelope = case[0].clone();
    envelope["actorAgency"] = serde_json::Value::from(agency);
    cohandle_proto::decode(
        ContentType::Json.as_str(),
        &serde_json::to_vec(&envelope).unwrap(),
    )
    .unwrap()
}

async fn assign_in_process(engine: &Engine) {
    let outcome = engine
        .apply(assignment("cq-zfbgt"), cohandle_store::Source::Cli)
        .await
        .unwrap();
    assert!(outcome.is_applied(), "{outcome:?}");
}

#[tokio::test]
async fn the_worker_counts_what_it_decides_and_reads_its_partition_queues() {
    let scratch = Scratch::new().await;
    let mut worker = Role::start(
        &["worker"],
        &[
            ("COHANDLE__DATABASE__URL", scratch.database_url()),
            ("COHANDLE__AMQP__URL", scratch.amqp_url()),
            ("COHANDLE__AMQP__AGENCIES", "guest:assigner".to_owned()),
        ],
    );
    assert_eq!(
        worker.get("/healthz").await.map(|(s, _)| s).unwrap_or(200),
        200
    );
    // Once the worker has declared its queues, every partition's depth is read.
    worker
        .scrape_until("the partition queues", |page| {
            (0..4).all(|p| {
                value(
                    page,
                    &format!("cohandle_consumer_lag_messages{{partition=\"{p}\"}}"),
                )
                .is_some()
            })
        })
        .await;
    worker.ready_becomes(200).await;

    let connection = connect::connect_url(&scratch.amqp_url(), "test-publisher")
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    // The configured assigner serves Chongqing's congress, whose key the case carries.
    cohandle_store::jurisdictions::join(&scratch.engine().await, "cq", &["guest".to_owned()])
        .await
        .unwrap();
    let event = assignment("guest");
    publish_inbound(
        &channel,
        &Inbound::event(&event, ContentType::Json, "guest"),
    )
    .await
    .unwrap();
    let mut garbage = Inbound::event(&event, ContentType::Json, "guest");
    garbage.body = b"not an envelope".to_vec();
    garbage.message_id = Some("garbage-1".to_owned());
    publish_inbound(&channel, &garbage).await.unwrap();

    let page = worker
        .scrape_until("the applied assignment and the dead letter", |page| {
            value(
                page,
                r#"cohandle_events_applied_total{source="bus",event="assign"}"#,
            ) == Some(1.0)
                && value(page, r#"cohandle_dead_letters_total{reason="malformed"}"#) == Some(1.0)
        })
        .await;
    assert!(
        value(&page, "cohandle_batch_size_count").unwrap() >= 1.0,
        "{page}"
    );
    assert!(
        value(&page, "cohandle_batch_size_sum").unwrap() >= 1.0,
        "{page}"
    );
    let commits = value(&page, "cohandle_commit_duration_seconds_count").unwrap();
    assert!(commits >= 1.0, "{page}");
    assert!(value(&page, "cohandle_commit_duration_seconds_sum").unwrap() > 0.0);
    // Both deliveries were taken: nothing is left waiting in any partition.
    let page = worker
        .scrape_until("empty partition queues", |page| {
            (0..4).all(|p| {
                value(
                    page,
                    &format!("cohandle_consumer_lag_messages{{partition=\"{p}\"}}"),
                ) == Some(0.0)
            })
        })
        .await;
    assert!(!page.contains("cohandle_outbox_backlog"), "{page}");
    connect::close(connection, "done").await;
    drop(worker);
    scratch.drop_all().await;
}

#[tokio::test]
async fn the_relay_shows_its_backlog_until_it_is_published() {
    let scratch = Scratch::new().await;
    let engine = scratch.engine().await;
    assign_in_process(&engine).await;
    let waiting = gauges::outbox(&engine).await.unwrap();
    assert!(waiting.rows > 0 && waiting.oldest.is_some(), "{waiting:?}");

    // A broker it cannot reach: not ready, and the backlog stays where it is.
    let unreachable = format!(
        "amqp://guest:guest@{}/no-such-vhost-{}",
        broker_host(),
        scratch.name
    );
    let database = ("COHANDLE__DATABASE__URL", scratch.database_url());
    let mut relay = Role::start(
        &["relay"],
        &[database.clone(), ("COHANDLE__AMQP__URL", unreachable)],
    );
    let page = relay
        .scrape_until("the backlog", |page| {
            value(page, "cohandle_outbox_backlog") == Some(waiting.rows as f64)
        })
        .await;
    assert!(
        value(&page, "cohandle_outbox_oldest_age_seconds").unwrap() > 0.0,
        "{page}"
    );
    relay.ready_becomes(503).await;
    drop(relay);

    let mut relay = Role::start(
        &["relay"],
        &[database, ("COHANDLE__AMQP__URL", scratch.amqp_url())],
    );
    let page = relay
        .scrape_until("an empty outbox", |page| {
            value(page, "cohandle_outbox_backlog") == Some(0.0)
        })
        .await;
    assert_eq!(
        value(&page, "cohandle_outbox_oldest_age_seconds"),
        Some(0.0)
    );
    relay.ready_becomes(200).await;
    assert_eq!(gauges::outbox(&engine).await.unwrap().rows, 0);
    drop(relay);
    scratch.drop_all().await;
}

#[tokio::test]
async fn the_monitor_shows_how_late_it_fired_and_what_is_still_due() {
    let scratch = Scratch::new().await;
    let engine = scratch.engine().await;
    assign_in_process(&engine).await;
    let due = gauges::timers_due(&engine).await.unwrap();
    assert!(due > 0, "the assignment of 2020 leaves timers due");

    let mut monitor = Role::start(
        &["monitor", "--owner", "metrics-test"],
        &[("COHANDLE__DATABASE__URL", scratch.database_url())],
    );
    let page = monitor
        .scrape_until("timers fired", |page| {
            value(page, "cohandle_timer_lateness_seconds_count").unwrap_or(0.0) >= due as f64
        })
        .await;
    let count = value(&page, "cohandle_timer_lateness_seconds_count").unwrap();
    let sum = value(&page, "cohandle_timer_lateness_seconds_sum").unwrap();
    // Due in 2020, fired now: years late each.
    assert!(sum / count > 365.0 * 86_400.0, "{page}");
    assert_eq!(
        value(
            &page,
            r#"cohandle_timer_lateness_seconds_bucket{le="604800.0"}"#
        ),
        Some(0.0),
        "{page}"
    );
    let page = monitor
        .scrape_until("nothing due", |page| {
            value(page, "cohandle_timers_due") == Some(0.0)
        })
        .await;
    assert!(page.contains("# TYPE cohandle_timers_due gauge"), "{page}");
    monitor.ready_becomes(200).await;
    drop(monitor);
    scratch.drop_all().await;
}
