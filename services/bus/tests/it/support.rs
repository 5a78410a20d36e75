//! Each test gets its own RabbitMQ vhost (created through the management API, deleted after
//! it) and its own database (a fresh PostgreSQL database, or a SQLite file), so tests run in
//! parallel with each other and with every other crate's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cohandle_bus::publish::{publish_inbound, Inbound};
use cohandle_bus::{connect, relay, topology, worker, Relay, Worker};
use cohandle_proto::ContentType;
use cohandle_store::{inspection, Engine, SystemClock};
pub use cohandle_testkit::agencies::{register, register_all, CASE_0942 as AGENCIES};
use cohandle_testkit::vhost::{Management, Vhost, LOCAL_MANAGEMENT};
pub use cohandle_testkit::Backend;
use cohandle_workflows::Event;
use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions};
use lapin::{Channel, Connection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One management API call as guest (an administrator, loopback only), as the tests'
/// vhosts make them.
pub async fn management(
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    Management::new(LOCAL_MANAGEMENT)
        .call(method, path, body)
        .await
        .unwrap()
}

/// A vhost of the test's own, with the topology of `topology` declared in it.
pub struct Broker {
    pub vhost: String,
    own: Vhost,
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
        let codes: Vec<&str> = AGENCIES.iter().map(|(code, _)| *code).collect();
        let own = Vhost::for_test(&codes).await;
        Self {
            vhost: own.name.clone(),
            own,
        }
    }

    /// The worker's and the operator's URL (guest).
    pub fn url(&self) -> String {
        self.own.url()
    }

    /// An agency's RabbitMQ user, with the rights deploy/ gives it: publish to `cohandle.in`
    /// under its own keys only, read its own queue only, configure nothing. Users are
    /// broker-wide and named by agency code, so they are shared by parallel tests and kept.
    pub async fn agency_user(&self, code: &str) {
        self.own.agency_user(code).await.unwrap();
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
        let uris = connect::with_credentials(&self.url(), code, code).unwrap();
        let connection = connect::connect_any(&uris, &format!("test-agency-{code}"))
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

    /// Waits until every partition queue has at least `consumers` consumers, the waiting
    /// ones included (with single active consumer the queue itself counts only the active
    /// one; the management API lists each with its activity status).
    pub async fn wait_partitions_consumed_by(&self, partitions: u16, consumers: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let listed: serde_json::Value = management(
                reqwest::Method::GET,
                &format!("/consumers/{}", urlencode(&self.vhost)),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            let on = |queue: &str| {
                listed.as_array().map_or(0, |all| {
                    all.iter().filter(|c| c["queue"]["name"] == queue).count()
                })
            };
            if (0..partitions).all(|n| on(&topology::partition_queue(n)) >= consumers) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a partition queue has fewer than {consumers} consumers: {listed}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
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
    spawn_relay_with(engine, relay_options(&broker.url()))
}

/// The test relay's options, on `url` (`amqp.url`: one node or several).
pub fn relay_options(url: &str) -> relay::Options {
    let mut options = relay::Options::new(url);
    options.connection_name = "test-relay".to_owned();
    options.idle = Duration::from_millis(50);
    options
}

pub fn spawn_relay_with(engine: &Engine, options: relay::Options) -> Running<relay::Stats> {
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
    inspection::counts(engine).await.unwrap().decisions
}

pub async fn history_count(engine: &Engine) -> u64 {
    inspection::counts(engine).await.unwrap().history
}

pub async fn outbox_count(engine: &Engine) -> u64 {
    inspection::counts(engine).await.unwrap().outbox
}

/// The database of a test of its own, and the engine on it as the bus tests use it: real
/// time (the case's 2020 events are in the past), the case's agencies registered.
pub struct TestDb(cohandle_testkit::TestDb);

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        Self(cohandle_testkit::TestDb::new(backend).await)
    }

    pub async fn engine(&self) -> Engine {
        let engine = self.0.engine(Arc::new(SystemClock)).await;
        register_all(&engine, AGENCIES).await;
        engine
    }

    /// Makes the engine's writers of `table` wait until the guard is released.
    pub async fn hold_writes(&self, table: &str) -> cohandle_testkit::db::WritesHeld {
        self.0.hold_writes(table).await
    }

    pub async fn go_down(&self) {
        self.0.go_down().await;
    }

    pub async fn come_back(&self) {
        self.0.come_back().await;
    }
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
