//! Each test gets its own RabbitMQ vhost (created through the management API, deleted after
//! it) and its own database (a fresh PostgreSQL database, or a SQLite file), so tests run in
//! parallel with each other and with every other crate's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use cohandle_bus::publish::{publish_inbound, Inbound};
use cohandle_bus::{connect, relay, topology, worker, Relay, Worker};
use cohandle_proto::ContentType;
use cohandle_store::entities::{agency, history, inbox, outbox};
use cohandle_store::{connect as db_connect, Engine, SystemClock};
use cohandle_workflows::{Calendar, Catalog, Event};
use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions};
use lapin::{Channel, Connection};
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, EntityTrait, PaginatorTrait};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The agencies of case 0942: (code, kind).
pub const AGENCIES: &[(&str, &str)] = &[
    ("cq-zfbgt", "assigner"),
    ("cq-rdgw", "congress_office"),
    ("cq-kjj", "agency"),
    ("cq-jw", "agency"),
    ("cq-czj", "agency"),
    ("cq-dc", "supervisor"),
];

const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

fn broker_host() -> String {
    std::env::var("COHANDLE_TEST_AMQP_HOST").unwrap_or_else(|_| "127.0.0.1:5672".to_owned())
}

fn postgres_server() -> String {
    std::env::var("COHANDLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// One management API call as guest (an administrator, loopback only). A server error is
/// tried again a few times (the management plugin answers 500 when, say, a connection it
/// was asked to close closed meanwhile); 404 counts as done.
pub async fn management(
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut request = http()
            .request(method.clone(), format!("{MANAGEMENT}{path}"))
            .basic_auth("guest", Some("guest"));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return response;
        }
        assert!(
            status.is_server_error() && attempt < 10,
            "{method} {path}: {status} {}",
            response.text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
    }
}

/// A vhost of the test's own, with the topology of `topology` declared in it.
pub struct Broker {
    pub vhost: String,
}

/// Logs to the test's captured output when `RUST_LOG` is set.
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl Broker {
    pub async fn new() -> Self {
        logs();
        let vhost = format!("cohandle-test-{}", uuid::Uuid::new_v4().simple());
        management(reqwest::Method::PUT, &format!("/vhosts/{vhost}"), None).await;
        management(
            reqwest::Method::PUT,
            &format!("/permissions/{vhost}/guest"),
            Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await;
        let broker = Self { vhost };
        for (code, _) in AGENCIES {
            broker.agency_user(code).await;
        }
        broker
    }

    /// The worker's and the operator's URL (guest).
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{}/{}", broker_host(), self.vhost)
    }

    /// An agency's RabbitMQ user, with the rights deploy/ gives it: publish to `cohandle.in`
    /// under its own keys only, read its own queue only, configure nothing. Users are
    /// broker-wide and named by agency code, so they are shared by parallel tests and kept.
    pub async fn agency_user(&self, code: &str) {
        management(
            reqwest::Method::PUT,
            &format!("/users/{code}"),
            Some(json!({"password": code, "tags": ""})),
        )
        .await;
        let escaped = code.replace('.', "\\.");
        management(
            reqwest::Method::PUT,
            &format!("/permissions/{}/{code}", self.vhost),
            Some(json!({
                "configure": "^$",
                "write": "^cohandle\\.in$",
                "read": format!("^cohandle\\.agency\\.{escaped}$"),
            })),
        )
        .await;
        management(
            reqwest::Method::PUT,
            &format!("/topic-permissions/{}/{code}", self.vhost),
            Some(
                json!({"exchange": "cohandle.in", "write": format!("^{escaped}\\."), "read": ".*"}),
            ),
        )
        .await;
    }

    /// Declares the topology (and the case agencies' queues) as the worker would.
    pub async fn declare(&self) {
        let connection = connect::connect_url(&self.url(), "test-setup")
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut items = topology::Topology::default().plan();
        for (code, kind) in AGENCIES {
            items.extend(topology::agency_plan(code, kind));
        }
        topology::declare(&channel, &items).await.unwrap();
        connection.close(200, "done").await.unwrap();
    }

    /// A confirm-mode channel on a connection as `code`'s user.
    pub async fn agency(&self, code: &str) -> Agency {
        let uri = connect::with_credentials(&self.url(), code, code).unwrap();
        let connection = connect::connect(uri, &format!("test-agency-{code}"))
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Agency {
            code: code.to_owned(),
            _connection: connection,
            channel,
        }
    }

    /// A guest channel (operator's tools, queue inspection).
    pub async fn operator(&self) -> (Connection, Channel) {
        let connection = connect::connect_url(&self.url(), "test-operator")
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        (connection, channel)
    }

    /// Closes, from the broker's side, every connection whose name starts with `prefix`,
    /// waiting for one to show up (the management API lists a new connection within a
    /// moment) when `wait`. Returns how many were closed.
    pub async fn drop_connections(&self, prefix: &str, wait: bool) -> usize {
        let mut closed = 0;
        for _ in 0..if wait { 100 } else { 1 } {
            let list: serde_json::Value = management(
                reqwest::Method::GET,
                &format!("/vhosts/{}/connections", self.vhost),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            for c in list.as_array().cloned().unwrap_or_default() {
                let client_name = c["client_properties"]["connection_name"]
                    .as_str()
                    .unwrap_or("");
                if client_name.starts_with(prefix) {
                    let name = c["name"].as_str().unwrap().to_owned();
                    let path = format!("/connections/{}", urlencode(&name));
                    management(reqwest::Method::DELETE, &path, None).await;
                    closed += 1;
                }
            }
            if closed > 0 {
                return closed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed
    }

    /// How many messages wait in `queue` (ready, not counting unacknowledged ones).
    pub async fn ready(&self, queue: &str) -> u32 {
        self.counts(queue).await.0
    }

    /// Waits until no consumer is left on any partition queue: a crashed worker's
    /// deliveries are then back in their queues, in their order.
    pub async fn wait_partitions_unconsumed(&self, partitions: u16) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for n in 0..partitions {
            let queue = topology::partition_queue(n);
            while self.counts(&queue).await.1 > 0 {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{queue} keeps its consumer"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// (ready messages, consumers) of `queue`, as the queue itself reports them.
    async fn counts(&self, queue: &str) -> (u32, u32) {
        let (connection, channel) = self.operator().await;
        let declared = channel
            .queue_declare(
                queue,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        connection.close(200, "done").await.unwrap();
        (declared.message_count(), declared.consumer_count())
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Broker {
    fn drop(&mut self) {
        let vhost = self.vhost.clone();
        // Deleting from a fresh runtime on another thread: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let _ = http()
                    .delete(format!("{MANAGEMENT}/vhosts/{vhost}"))
                    .basic_auth("guest", Some("guest"))
                    .send()
                    .await;
            });
        })
        .join();
    }
}

/// An agency's system: publishes as its own user, reads its own queue.
pub struct Agency {
    pub code: String,
    _connection: Connection,
    pub channel: Channel,
}

impl Agency {
    /// Publishes `event` as this agency (JSON), waiting for the broker's confirm.
    pub async fn send(&self, event: &Event) {
        publish_inbound(
            &self.channel,
            &Inbound::event(event, ContentType::Json, &self.code),
        )
        .await
        .unwrap();
    }

    /// Publishes raw bytes under this agency's key.
    pub async fn send_raw(&self, body: &[u8], proposal: Option<&str>) {
        let message = Inbound {
            routing_key: format!("{}.submit_opinion", self.code),
            proposal: proposal.map(str::to_owned),
            message_id: None,
            user_id: self.code.clone(),
            content_type: "application/json".to_owned(),
            body: body.to_vec(),
        };
        publish_inbound(&self.channel, &message).await.unwrap();
    }

    /// The next message in this agency's queue (acknowledged), waiting up to `within`.
    pub async fn receive(&self, within: Duration) -> Option<Received> {
        let queue = topology::agency_queue(&self.code);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(message) = self
                .channel
                .basic_get(&queue, BasicGetOptions { no_ack: false })
                .await
                .unwrap()
            {
                message
                    .delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .unwrap();
                let d = message.delivery;
                return Some(Received {
                    kind: d
                        .properties
                        .kind()
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    message_id: d
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    content_type: d
                        .properties
                        .content_type()
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    routing_key: d.routing_key.to_string(),
                    headers: d
                        .properties
                        .headers()
                        .as_ref()
                        .map(|table| {
                            table
                                .inner()
                                .iter()
                                .filter_map(|(k, v)| match v {
                                    lapin::types::AMQPValue::LongString(text) => Some((
                                        k.to_string(),
                                        String::from_utf8_lossy(text.as_bytes()).into_owned(),
                                    )),
                                    _ => None,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    body: d.data,
                });
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The next refusal in this agency's queue, skipping notifications.
    pub async fn expect_rejected(&self) -> (Received, cohandle_proto::Rejected) {
        while let Some(message) = self.receive(Duration::from_secs(20)).await {
            if message.kind == "cohandle.v1.Rejected" {
                let rejected =
                    cohandle_proto::decode_rejected(&message.content_type, &message.body).unwrap();
                return (message, rejected);
            }
        }
        panic!("{}: no Rejected arrived", self.code);
    }

    /// Publishes raw bytes with the properties a test chooses: the proposal header, the
    /// message id, and whether the user-id is set.
    pub async fn publish(
        &self,
        routing_key: &str,
        body: &[u8],
        proposal: Option<&str>,
        message_id: Option<&str>,
        with_user_id: bool,
    ) {
        let message = Inbound {
            routing_key: routing_key.to_owned(),
            proposal: proposal.map(str::to_owned),
            message_id: message_id.map(str::to_owned),
            user_id: self.code.clone(),
            content_type: "application/json".to_owned(),
            body: body.to_vec(),
        };
        let mut properties = message.properties();
        if !with_user_id {
            properties = lapin::BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_headers(properties.headers().clone().unwrap_or_default());
        }
        cohandle_bus::publish::publish_confirmed(
            &self.channel,
            "cohandle.in",
            routing_key,
            properties,
            body,
            false,
            "a test message",
        )
        .await
        .unwrap();
    }

    /// Waits for a notification about `event` (by name) in this agency's queue, skipping
    /// other messages; returns everything received on the way.
    pub async fn expect_notification(&self, event: &str) -> Vec<Received> {
        let mut seen = Vec::new();
        while let Some(message) = self.receive(Duration::from_secs(20)).await {
            let found = message.kind == "cohandle.v1.Notification"
                && cohandle_proto::decode_notification(&message.content_type, &message.body)
                    .unwrap()
                    .notification
                    .event
                    == event;
            seen.push(message);
            if found {
                return seen;
            }
        }
        panic!(
            "{}: no notification of {event} arrived; saw {:?}",
            self.code,
            seen.iter().map(|m| &m.routing_key).collect::<Vec<_>>()
        );
    }
}

/// A message taken from an agency queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub kind: String,
    pub message_id: String,
    pub content_type: String,
    pub routing_key: String,
    /// The text headers.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test, dropped (PostgreSQL) or deleted (SQLite) after it.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let name = format!("cohandle_bus_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = Database::connect(format!("{}/postgres", postgres_server()))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = format!("{}/{name}", postgres_server());
                Self {
                    url,
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// Cuts the database off (PostgreSQL): new connections are refused and the open ones
    /// are terminated, as when the server goes down. Other databases are untouched.
    pub async fn go_down(&self) {
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                self.name
            ))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .await
            .unwrap();
        admin.close().await.unwrap();
    }

    /// Lets connections in again.
    pub async fn come_back(&self) {
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                self.name
            ))
            .await
            .unwrap();
        admin.close().await.unwrap();
    }

    /// The engine on this database (real time: the case's 2020 events are in the past),
    /// with the case's agencies registered.
    pub async fn engine(&self) -> Engine {
        let db = db_connect::connect_and_migrate(&self.url).await.unwrap();
        let engine = Engine::new(
            db,
            Arc::new(Catalog::shipped()),
            Arc::new(Calendar::china_official()),
            Arc::new(SystemClock),
        );
        for (code, kind) in AGENCIES {
            register(&engine, code, kind).await;
        }
        engine
    }
}

/// Registers an agency (what `cohandle token`/an operator does before it may send).
pub async fn register(engine: &Engine, code: &str, kind: &str) {
    agency::Entity::insert(agency::ActiveModel {
        code: Set(code.to_owned()),
        name: Set(code.to_owned()),
        kind: Set(kind.to_owned()),
        created_at: Set(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()),
    })
    .exec(engine.db())
    .await
    .unwrap();
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Postgres {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let server = postgres_server();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
                        let _ = admin.execute_unprepared(&sql).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A role running as a task, stopped like the binary stops it (the shutdown future).
pub struct Running<S> {
    pub stats: S,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), cohandle_bus::Error>>,
}

impl<S> Running<S> {
    /// Graceful stop (SIGTERM): finish the batch, ack, close.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("stopped within 30 s")
            .unwrap()
            .unwrap();
    }

    /// A crash: the task is gone at once, mid-whatever, without acknowledging anything.
    pub fn abort(self) {
        self.task.abort();
    }
}

pub fn worker_options(broker: &Broker, name: &str) -> worker::Options {
    let mut options = worker::Options::new(broker.url());
    options.connection_name = name.to_owned();
    options.batch_size = 20;
    options.prefetch = 50;
    options
}

pub fn spawn_worker(engine: &Engine, options: worker::Options) -> Running<worker::Stats> {
    let worker = Worker::new(engine.clone(), options);
    let stats = worker.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    Running {
        stats,
        stop: Some(stop),
        task,
    }
}

pub fn spawn_relay(engine: &Engine, broker: &Broker) -> Running<relay::Stats> {
    let mut options = relay::Options::new(broker.url());
    options.connection_name = "test-relay".to_owned();
    options.idle = Duration::from_millis(50);
    let relay = Relay::new(engine.clone(), options);
    let stats = relay.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    Running {
        stats,
        stop: Some(stop),
        task,
    }
}

/// Waits until `check` holds, polling; panics with `what` after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn inbox_count(engine: &Engine) -> u64 {
    inbox::Entity::find().count(engine.db()).await.unwrap()
}

pub async fn history_count(engine: &Engine) -> u64 {
    history::Entity::find().count(engine.db()).await.unwrap()
}

pub async fn outbox_count(engine: &Engine) -> u64 {
    outbox::Entity::find().count(engine.db()).await.unwrap()
}

/// Case 0942's events.
pub fn case() -> Vec<Event> {
    cohandle_workflows::cases::case_0942()
}

/// Case 0942's events, moved to proposal `key` (ids prefixed by it), for many proposals.
pub fn case_for(key: &str) -> Vec<Event> {
    case()
        .into_iter()
        .map(|mut e| {
            e.proposal = cohandle_workflows::ProposalKey::parse(key).unwrap();
            e.id = cohandle_workflows::EventId::parse(format!("{key}:{}", e.id)).unwrap();
            e
        })
        .collect()
}
